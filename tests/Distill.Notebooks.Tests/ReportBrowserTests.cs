namespace Distill.Notebooks.Tests;

/// <summary>Opens the HTML report of TestData/basics.ipynb in headless chromium with the network off, and checks what a
/// reader would see: every chart drawn as SVG, no errors, nothing fetched from the net.</summary>
public class ReportBrowserTests(BasicsRun run) : IClassFixture<BasicsRun>
{
    [Fact]
    public async Task Every_chart_renders_offline_without_page_errors()
    {
        await using var browser = await OfflineBrowser.OpenAsync(run.Result.Files.Html!);
        var page = browser.Page;
        int charts = await page.Locator(".distill-plotly").CountAsync();
        Assert.Equal(2, charts); // a returned chart and a display()ed one
        await page.WaitForFunctionAsync(
            "n => document.querySelectorAll('.distill-plotly svg.main-svg').length >= n && [...document.querySelectorAll('.distill-plotly')].every(d => d.querySelector('svg.main-svg .plot path, svg.main-svg .plot .point'))",
            charts, new() { Timeout = 30_000 });
        var traces = await page.EvaluateAsync<int[]>("() => [...document.querySelectorAll('.distill-plotly')].map(d => d.querySelectorAll('svg.main-svg .trace').length)");
        Assert.All(traces, t => Assert.Equal(1, t));
        Assert.Equal(1, await page.EvaluateAsync<int>("() => [...document.scripts].filter(s => s.text.includes('plotly.js v2.28.0')).length"));

        var shot = await browser.ScreenshotAsync("notebook-report.png");
        Assert.True(new FileInfo(shot).Length > 10_000);

        Assert.Empty(browser.Errors);
        Assert.Empty(browser.Network);
    }
}
