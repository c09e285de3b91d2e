namespace Distill.Notebooks.Tests;

/// <summary>The HTML report's Content-Security-Policy in a real browser: plotly.js and our charts run; a script in
/// markdown never runs; a script in an HTML output runs only with <c>--trusted</c>.</summary>
public class ReportTrustTests
{
    static string Notebook(string dir) => TestSupport.WriteNotebook(dir, "trust.ipynb",
        ($"#r \"{Path.Combine(TestSupport.RepoRoot, "artifacts", "bin", "Distill", "debug", "Distill.dll")}\"", null),
        ("Distill.Reporting.Charts.Bars(\"bars\", \"%\", [(\"a\", 1.0), (\"b\", 2.0)])", null),
        ("HTML(\"<p id='out'>output</p><script>document.title = 'output script ran';</script>\")", null));

    static async Task<(string Title, int Charts)> Open(bool trusted)
    {
        var dir = TestSupport.TempDir("trust");
        var nb = Notebook(dir);
        // A markdown cell with a script, appended to the written notebook.
        var json = TestSupport.ReadJson(nb);
        json["cells"]!.AsArray().Insert(0, System.Text.Json.Nodes.JsonNode.Parse(
            """{"cell_type": "markdown", "metadata": {}, "source": "# Trust\n\n<script>document.title = 'markdown script ran';</script>"}"""));
        File.WriteAllText(nb, json.ToJsonString());
        var r = TestSupport.Run(nb, Path.Combine(dir, "out"), new NotebookRunOptions { Trusted = trusted });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Contains("Content-Security-Policy", File.ReadAllText(r.Files.Html!));
        await using var browser = await OfflineBrowser.OpenAsync(r.Files.Html!);
        await browser.Page.WaitForFunctionAsync("() => document.querySelector('.distill-plotly svg.main-svg')", null, new() { Timeout = 30_000 });
        Assert.Empty(browser.Network);
        return (await browser.Page.TitleAsync(), await browser.Page.Locator(".distill-plotly .plot-container").CountAsync());
    }

    [Fact]
    public async Task Untrusted_output_and_markdown_scripts_do_not_run_and_charts_still_draw()
    {
        var (title, charts) = await Open(trusted: false);
        Assert.Equal("trust · distill run", title);
        Assert.Equal(1, charts);
    }

    [Fact]
    public async Task Trusted_output_scripts_run_and_markdown_scripts_still_do_not()
    {
        var (title, charts) = await Open(trusted: true);
        Assert.Equal("output script ran", title);
        Assert.Equal(1, charts);
    }
}
