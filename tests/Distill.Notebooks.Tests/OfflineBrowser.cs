using Microsoft.Playwright;

namespace Distill.Notebooks.Tests;

/// <summary>A local HTML file opened in Debian's chromium (headless, network off) through Playwright, recording what a
/// reader would notice: console errors and warnings, page errors, and any attempt to fetch from the network.</summary>
sealed class OfflineBrowser : IAsyncDisposable
{
    const string Chromium = "/usr/bin/chromium";

    IPlaywright playwright = null!;
    IBrowser browser = null!;

    public IPage Page { get; private set; } = null!;
    public List<string> Errors { get; } = [];
    public List<string> Network { get; } = [];
    /// <summary>Requests answered from <c>served</c> instead of the network.</summary>
    public List<string> Served { get; } = [];

    /// <summary>Opens <paramref name="file"/>; <paramref name="served"/> maps URLs to bodies answered locally (e.g. a CDN
    /// script), every other non-file request is refused and recorded in <see cref="Network"/>.</summary>
    public static async Task<OfflineBrowser> OpenAsync(string file, IReadOnlyDictionary<string, byte[]>? served = null)
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (setup.sh does)");
        var b = new OfflineBrowser();
        b.playwright = await Playwright.CreateAsync();
        b.browser = await b.playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var context = await b.browser.NewContextAsync(new() { Offline = true, ViewportSize = new() { Width = 1200, Height = 900 } });
        // Network off: anything but local files is refused and recorded.
        await context.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith("file://", StringComparison.Ordinal)) await route.ContinueAsync();
            else if (served?.TryGetValue(route.Request.Url, out var body) == true)
            {
                lock (b.Served) b.Served.Add(route.Request.Url);
                await route.FulfillAsync(new() { Status = 200, BodyBytes = body });
            }
            else
            {
                b.Network.Add(route.Request.Url);
                await route.AbortAsync();
            }
        });
        b.Page = await context.NewPageAsync();
        b.Page.Console += (_, msg) => { if (msg.Type is "error" or "warning") b.Errors.Add($"console {msg.Type}: {msg.Text}"); };
        b.Page.PageError += (_, e) => b.Errors.Add($"page error: {e}");
        await b.Page.GotoAsync(new Uri(file).AbsoluteUri, new() { WaitUntil = WaitUntilState.Load });
        return b;
    }

    /// <summary>A full-page screenshot into artifacts/screenshots/ (for a person to look at); returns its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var shots = Path.Combine(TestSupport.RepoRoot, "artifacts", "screenshots");
        Directory.CreateDirectory(shots);
        var shot = Path.Combine(shots, name);
        await Page.ScreenshotAsync(new() { Path = shot, FullPage = true });
        return shot;
    }

    public async ValueTask DisposeAsync()
    {
        await browser.DisposeAsync();
        playwright.Dispose();
    }
}
