using Distill.Native;
using Distill.Reporting;
using static TorchSharp.torch;

namespace Distill.Notebooks.Tests;

/// <summary>Every kind of chart the library draws, as plain plotly.js JSON (no Plotly.NET), drawn by plotly.js itself in
/// headless chromium, offline: the figure is valid for plotly.js (traces drawn, subplots laid out), with no page
/// errors. This is what the .NET kernel shows, so the schema is checked by the real consumer.</summary>
public class FigureBrowserTests
{
    [Fact]
    public async Task Each_library_chart_draws_in_plotly_js_with_its_traces_and_subplots()
    {
        TorchRuntime.Initialize();
        Figure.ResetIds();
        var figures = new (Figure Figure, int Traces, int Subplots)[]
        {
            (Charts.Lines("lines", "epoch", "%", [new Series("a", [1, 2, 3], [1, double.NaN, 3]), new Series("b", [1, 2], [2, 1])]), 2, 1),
            (Charts.Sweep("sweep", "T", "%", [("kd", [(1.0, [80.0, 82.0]), (4.0, [85.0, 87.0])])]), 2, 1),
            (Charts.Bars("bars", "%", [("scratch", 80.1), ("kd", 82.5)]), 1, 1),
            (Charts.GroupedBars("grouped", "p", ["x", "y", "z"], [("T = 1", [0.7, 0.2, 0.1]), ("T = 4", [0.4, 0.3, 0.3])]), 2, 1),
            (Charts.Points("params", "parameters", "%", [("mlp", 1e5, 80), ("cnn", 1e6, 90)], logX: true), 1, 1),
            (Charts.Heatmap("map", arange(6, dtype: ScalarType.Float32).view(2, 3), ["a", "b", "c"], ["r1", "r2"]), 1, 1),
            (Charts.HeatmapRow("row", [("image", rand(8, 8)), ("teacher", rand(4, 4)), ("student", rand(4, 4))]), 3, 3),
            (Charts.ImageGrid("grid", randint(0, 255, [12, 1, 4, 4], dtype: ScalarType.Byte), columns: 5), 1, 1),
        };
        using var dir = new TempDir("figures");
        var page = Path.Combine(dir.Path, "figures.html");
        File.WriteAllText(page, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script>" + PlotlyJs() + "</script></head><body>"
            + string.Join("\n", figures.Select(f => f.Figure.ToHtml())) + "</body></html>");

        await using var browser = await OfflineBrowser.OpenAsync(page);
        await browser.Page.WaitForFunctionAsync(
            "n => [...document.querySelectorAll('.distill-plotly')].filter(d => d._fullLayout && d.querySelector('svg.main-svg')).length === n",
            figures.Length, new() { Timeout = 30_000 });
        var drawn = await browser.Page.EvaluateAsync<int[][]>(
            "() => [...document.querySelectorAll('.distill-plotly')].map(d => [d._fullData.length, Object.keys(d._fullLayout._plots).length])");
        Assert.Equal(figures.Select(f => new[] { f.Traces, f.Subplots }), drawn);
        Assert.Empty(browser.Errors);
        Assert.Empty(browser.Network);
    }

    /// <summary>A fixed-width figure's long title, wrapped by <see cref="Figure.ToJson"/>, as plotly.js draws it in
    /// chromium (its fallback font, DejaVu Sans, is the widest plotly.js may get): every line inside the figure, none
    /// clipped at either end, and the lines above the plot and above HeatmapRow's subplot titles.</summary>
    [Fact]
    public async Task Long_titles_of_fixed_width_charts_are_drawn_whole_above_the_plot()
    {
        TorchRuntime.Initialize();
        var samples = "Fashion-MNIST: 10 training images per class (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot)";
        var figures = new[]
        {
            Charts.ImageGrid(samples, randint(0, 255, [100, 1, 28, 28], dtype: ScalarType.Byte), columns: 10),
            Charts.HeatmapRow(string.Join(" ", Enumerable.Repeat("WWW Attention maps at stage1 for test image 0 (a 'T-shirt/top'),", 4)),
                [("image", rand(8, 8)), ("teacher", rand(4, 4))]),
            Charts.ImageGrid("WIDE CAPITALS AND A WORD LONGER THAN A LINE: " + new string('W', 30), randint(0, 255, [4, 1, 8, 8], dtype: ScalarType.Byte), columns: 2),
        };
        using var dir = new TempDir("titles");
        var page = Path.Combine(dir.Path, "titles.html");
        File.WriteAllText(page, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script>" + PlotlyJs() + "</script></head><body>"
            + string.Join("\n", figures.Select(f => f.ToHtml())) + "</body></html>");

        await using var browser = await OfflineBrowser.OpenAsync(page);
        await browser.Page.WaitForFunctionAsync("n => document.querySelectorAll('.distill-plotly .gtitle').length === n", figures.Length, new() { Timeout = 30_000 });
        // Per figure: its width, the title's box (left, right, top, bottom) and line count, and the highest top of the
        // plot areas and subplot titles, all relative to the figure.
        var drawn = await browser.Page.EvaluateAsync<double[][]>("""
            () => [...document.querySelectorAll('.distill-plotly')].map(d => {
              const svg = d.querySelector('svg.main-svg').getBoundingClientRect();
              const title = d.querySelector('.gtitle');
              const t = title.getBoundingClientRect();
              const below = [...d.querySelectorAll('.nsewdrag, .annotation')].map(e => e.getBoundingClientRect().top - svg.top);
              return [svg.width, t.left - svg.left, t.right - svg.left, t.top - svg.top, t.bottom - svg.top,
                      Math.max(1, title.querySelectorAll('tspan.line').length), Math.min(...below)];
            })
            """);
        Assert.All(drawn, d => Assert.True(d[5] >= 2, $"{d[5]} title line(s)"));
        foreach (var (d, i) in drawn.Select((d, i) => (d, i)))
        {
            var (width, left, right, top, bottom, below) = (d[0], d[1], d[2], d[3], d[4], d[6]);
            Assert.True(left >= 0 && right <= width, $"figure {i}: title spans {left:F0}..{right:F0} px of {width:F0}");
            Assert.True(top >= 0 && bottom <= below, $"figure {i}: title spans {top:F0}..{bottom:F0} px down, the plot starts at {below:F0}");
        }
        Assert.Empty(browser.Errors);
    }

    /// <summary>plotly.js as the reports inline it: Plotly.NET's embedded copy, whose version the chart outputs name.</summary>
    static string PlotlyJs()
    {
        Assert.Equal(global::Globals.PLOTLYJS_VERSION, Figure.PlotlyJsVersion);
        var asm = typeof(Plotly.NET.GenericChart).Assembly;
        using var js = asm.GetManifestResourceStream(asm.GetManifestResourceNames().Single(n => n.EndsWith($"plotly-{Figure.PlotlyJsVersion}.min.js", StringComparison.Ordinal)))!;
        return new StreamReader(js).ReadToEnd();
    }
}
