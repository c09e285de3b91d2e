using Microsoft.Playwright;

namespace Distill.Notebooks.Tests;

/// <summary>Opens the HTML report of TestData/basics.ipynb in Debian's chromium (headless, network off) through
/// Playwright, and checks what a reader would see: every chart drawn as SVG, no errors, nothing fetched from the net.</summary>
public class ReportBrowserTests(BasicsRun run) : IClassFixture<BasicsRun>
{
    const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task Every_chart_renders_offline_without_page_errors()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (setup.sh does)");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var context = await browser.NewContextAsync(new() { Offline = true, ViewportSize = new() { Width = 1200, Height = 900 } });
        var errors = new List<string>();
        var network = new List<string>();
        // Network off: anything but the report file itself is refused and recorded.
        await context.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith("file://", StringComparison.Ordinal)) await route.ContinueAsync();
            else
            {
                network.Add(route.Request.Url);
                await route.AbortAsync();
            }
        });
        var page = await context.NewPageAsync();
        page.Console += (_, msg) => { if (msg.Type is "error" or "warning") errors.Add($"console {msg.Type}: {msg.Text}"); };
        page.PageError += (_, e) => errors.Add($"page error: {e}");

        await page.GotoAsync(new Uri(run.Result.Files.Html!).AbsoluteUri, new() { WaitUntil = WaitUntilState.Load });
        int charts = await page.Locator(".distill-plotly").CountAsync();
        Assert.Equal(2, charts); // a returned chart and a display()ed one
        await page.WaitForFunctionAsync(
            "n => document.querySelectorAll('.distill-plotly svg.main-svg').length >= n && [...document.querySelectorAll('.distill-plotly')].every(d => d.querySelector('svg.main-svg .plot path, svg.main-svg .plot .point'))",
            charts, new() { Timeout = 30_000 });
        var traces = await page.EvaluateAsync<int[]>("() => [...document.querySelectorAll('.distill-plotly')].map(d => d.querySelectorAll('svg.main-svg .trace').length)");
        Assert.All(traces, t => Assert.Equal(1, t));
        Assert.Equal(1, await page.EvaluateAsync<int>("() => [...document.scripts].filter(s => s.text.includes('plotly.js v2.28.0')).length"));

        var shots = Path.Combine(TestSupport.RepoRoot, "artifacts", "screenshots");
        Directory.CreateDirectory(shots);
        var shot = Path.Combine(shots, "notebook-report.png");
        await page.ScreenshotAsync(new() { Path = shot, FullPage = true });
        Assert.True(new FileInfo(shot).Length > 10_000);

        Assert.Empty(errors);
        Assert.Empty(network);
    }
}
