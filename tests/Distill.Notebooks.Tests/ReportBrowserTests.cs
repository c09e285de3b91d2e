namespace Distill.Notebooks.Tests;

/// <summary>Opens the HTML report of TestData/basics.ipynb in headless chromium with the network off, and checks what a
/// reader would see: every chart drawn as SVG, no errors, nothing fetched from the net.</summary>
public class ReportBrowserTests(BasicsRun run) : IClassFixture<BasicsRun>
{
    const string ChartsDrawn =
        "n => document.querySelectorAll('.distill-plotly svg.main-svg').length >= n && [...document.querySelectorAll('.distill-plotly')].every(d => d.querySelector('svg.main-svg .plot path, svg.main-svg .plot .point'))";

    [Fact]
    public async Task Every_chart_renders_offline_without_page_errors()
    {
        await using var browser = await OfflineBrowser.OpenAsync(run.Result.Files.Html!);
        var page = browser.Page;
        int charts = await page.Locator(".distill-plotly").CountAsync();
        Assert.Equal(2, charts); // a returned chart and a display()ed one
        await page.WaitForFunctionAsync(ChartsDrawn, charts, new() { Timeout = 30_000 });
        var traces = await page.EvaluateAsync<int[]>("() => [...document.querySelectorAll('.distill-plotly')].map(d => d.querySelectorAll('svg.main-svg .trace').length)");
        Assert.All(traces, t => Assert.Equal(1, t));
        Assert.Equal(1, await page.EvaluateAsync<int>("() => [...document.scripts].filter(s => s.text.includes('plotly.js v2.28.0')).length"));

        var shot = await browser.ScreenshotAsync("notebook-report.png");
        Assert.True(new FileInfo(shot).Length > 10_000);

        Assert.Empty(browser.Errors);
        Assert.Empty(browser.Network);
    }

    /// <summary>The executed notebook's chart outputs on a page without plotly.js (as in VS Code's output view; here with
    /// an AMD loader present, as in Jupyter): they load plotly.js once from its CDN URL (answered locally with
    /// Plotly.NET's copy) and draw.</summary>
    [Fact]
    public async Task Notebook_chart_outputs_load_plotly_once_where_the_page_lacks_it()
    {
        var charts = run.Result.Cells.SelectMany(c => c.Outputs).OfType<Documents.DisplayOutput>()
            .Select(o => o.Data.GetValueOrDefault("text/html"))
            .Where(h => h?.Contains(Distill.Reporting.Figure.PlotlyClass, StringComparison.Ordinal) == true).ToList();
        Assert.Equal(2, charts.Count);
        var page = Path.Combine(run.OutDir, "outputs-only.html");
        File.WriteAllText(page, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script>window.define = function () {}; window.define.amd = {};</script></head><body>"
            + string.Join("\n", charts) + "</body></html>");
        var asm = typeof(Plotly.NET.GenericChart).Assembly;
        using var js = asm.GetManifestResourceStream(asm.GetManifestResourceNames().Single(n => n.EndsWith("plotly-2.28.0.min.js", StringComparison.Ordinal)))!;
        using var plotly = new MemoryStream();
        js.CopyTo(plotly);

        await using var browser = await OfflineBrowser.OpenAsync(page, new Dictionary<string, byte[]> { [Distill.Reporting.Figure.CdnUrl] = plotly.ToArray() });
        await browser.Page.WaitForFunctionAsync(ChartsDrawn, 2, new() { Timeout = 30_000 });
        Assert.Equal([Distill.Reporting.Figure.CdnUrl], browser.Served);
        Assert.Empty(browser.Network);
        Assert.Empty(browser.Errors);
    }
}
