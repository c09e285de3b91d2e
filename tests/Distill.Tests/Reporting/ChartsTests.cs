using Distill.Native;
using Distill.Data;
using Distill.Reporting;
using Distill.Tests.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Reporting;

public class ChartsTests
{
    public ChartsTests() => TorchRuntime.Initialize();

    static string Json(Figure c) => c.ToJson();

    [Fact]
    public void Lines_carries_every_series_with_its_values()
    {
        var chart = Charts.Lines("acc", "epoch", "%", [new Series("teacher", [1, 2], [80.5, 90.25]), new Series("student", [1, 2], [70, 75])]);
        var html = Json(chart);
        Assert.Equal(2, chart.Traces.Count);
        Assert.Contains("teacher", html);
        Assert.Contains("90.25", html);
    }

    /// <summary>Empty input: an empty figure or an error naming the argument, not TorchSharp's "startingIndex", a
    /// DivideByZeroException or "Sequence contains no elements".</summary>
    [Fact]
    public void Empty_or_zero_input_gives_an_empty_figure_or_names_the_argument()
    {
        Assert.Single(Charts.Heatmap("empty", zeros(0, 0)).Traces);
        Assert.Equal("images", Assert.Throws<ArgumentException>(() => Charts.ImageGrid("none", zeros(0, 1, 28, 28))).ParamName);
        Assert.Equal("columns", Assert.Throws<ArgumentOutOfRangeException>(() => Charts.ImageGrid("x", zeros(2, 1, 4, 4), columns: 0)).ParamName);
        var sweep = Charts.Sweep("s", "T", "%", [("kd", [(1.0, Array.Empty<double>()), (4.0, [85.0])])]);
        Assert.Contains("null", Json(sweep)); // the point without seeds is a gap
    }

    /// <summary>One row per class: a class with fewer images than perClass (or none, left out) moved every later class
    /// up a row, under the wrong name.</summary>
    [Fact]
    public void Samples_keep_each_class_on_its_own_row_when_one_is_short()
    {
        using var data = TinyData.FashionMnist2k.WithoutClass(3);
        var grid = DatasetViews.Samples(data, perClass: 4);
        var z = grid.Traces[0]["z"]!.AsArray();
        Assert.Equal(10 * 29, z.Count); // 10 rows of 28 pixels and a separator
        // Class 3's row is empty: every image cell (the one-pixel separators after each image are 0) is a gap.
        Assert.All(z.Skip(3 * 29).Take(28), row => Assert.All(row!.AsArray().Where((_, i) => i % 29 != 28), v => Assert.Null(v)));
        Assert.Contains(z.Skip(4 * 29).Take(28), row => row!.AsArray().Any(v => v is not null)); // class 4 is in its own row
    }

    /// <summary>plotly.js centres a title on one line: notebook 00's sample grid title (130 characters, 720 px wide) lost
    /// both its ends. A title too long for a fixed-width figure is broken between words into lines that fit; the words
    /// stay as given, and so does the figure's own Layout.</summary>
    [Fact]
    public void A_long_title_of_a_fixed_width_chart_wraps_between_words_to_fit_its_width()
    {
        var grid = DatasetViews.Samples(TinyData.FashionMnist2k, perClass: 10);
        const string Given = "fashion-mnist: 10 training images per class (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot)";
        Assert.Equal(Given, (string)grid.Layout["title"]!["text"]!);
        var layout = System.Text.Json.Nodes.JsonNode.Parse(grid.ToJson())!["layout"]!;
        Assert.Equal(720, (int)layout["width"]!);
        var lines = ((string)layout["title"]!["text"]!).Split("<br>");
        Assert.Equal(["fashion-mnist: 10 training images per class (T-shirt/top, Trouser,", "Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot)"], lines);
        // 17 px, plotly.js's title size; 20 px kept free on each side.
        Assert.All(lines, l => Assert.InRange(Figure.EmWidth(l) * 17, 0, 720 - 40));
        Assert.Null(layout["margin"]); // two lines fit in plotly.js's top margin

        // Longer: the top margin grows to hold every line above the plot (and HeatmapRow's subplot titles).
        var title = string.Join(" ", Enumerable.Repeat("Attention maps at stage1 for test image 0,", 6));
        var row = System.Text.Json.Nodes.JsonNode.Parse(Charts.HeatmapRow(title, [("a", zeros(3, 3)), ("b", ones(3, 3))]).ToJson())!["layout"]!;
        var rowLines = ((string)row["title"]!["text"]!).Split("<br>");
        Assert.True(rowLines.Length >= 3, string.Join("|", rowLines));
        Assert.Equal(title, string.Join(" ", rowLines));
        Assert.All(rowLines, l => Assert.InRange(Figure.EmWidth(l) * 17, 0, 600 - 40));
        Assert.Equal(60 + 44 * (rowLines.Length - 1), (double)row["margin"]!["t"]!);
        Assert.Equal(340 + 60 + 44 * (rowLines.Length - 1) - 100, (double)row["height"]!); // the plot keeps its 340 - 100 px

        // A word wider than the figure is cut; a break already in the title stays; a short title is left as it is.
        var path = "/home/someone/" + new string('x', 200) + ".ipynb";
        var cut = ((string)System.Text.Json.Nodes.JsonNode.Parse(Charts.ImageGrid("samples of " + path + "<br>second", zeros(2, 1, 4, 4), columns: 2).ToJson())!["layout"]!["title"]!["text"]!).Split("<br>");
        Assert.Equal("samples of " + path, cut[0] + " " + string.Concat(cut[1..^1]));
        Assert.Equal("second", cut[^1]);
        Assert.All(cut, l => Assert.InRange(Figure.EmWidth(l) * 17, 0, 240 - 40));
        Assert.Equal("samples", (string)System.Text.Json.Nodes.JsonNode.Parse(Charts.ImageGrid("samples", zeros(2, 1, 4, 4)).ToJson())!["layout"]!["title"]!["text"]!);
        // Without a width plotly.js sizes the figure to its container: nothing to fit to.
        Assert.Equal(Given, (string)System.Text.Json.Nodes.JsonNode.Parse(Charts.Bars(Given, "%", [("a", 1)]).ToJson())!["layout"]!["title"]!["text"]!);
    }

    [Fact]
    public void Sweep_draws_mean_and_the_seeds()
    {
        var chart = Charts.Sweep("T sweep", "T", "%", [("kd", [(1.0, [80.0, 82.0]), (4.0, [85.0, 87.0])])]);
        var html = Json(chart);
        Assert.Equal(2, chart.Traces.Count);
        Assert.Contains("81", html); // mean of 80 and 82
    }

    /// <summary>A point without seeds beside one with two: the count of all seeds equalled the count of points, and
    /// the seeds' trace was left out.</summary>
    [Fact]
    public void Sweep_draws_every_seed_when_a_point_has_none()
    {
        var chart = Charts.Sweep("s", "T", "%", [("kd", [(1.0, Array.Empty<double>()), (2.0, [80.0, 82.0])])]);
        Assert.Equal(2, chart.Traces.Count);
        Assert.Equal("[80,82]", chart.Traces[1]["y"]!.ToJsonString());
        // One seed per point: the mean's marker is that seed, as before.
        Assert.Single(Charts.Sweep("s", "T", "%", [("kd", [(1.0, [80.0]), (2.0, [81.0])])]).Traces);
    }

    /// <summary>Data plotly.js would drop or mislabel without a word is refused, naming what is wrong.</summary>
    [Fact]
    public void Charts_refuse_data_they_would_drop_or_mislabel()
    {
        Assert.Contains("5 x values and 2 y values", Assert.Throws<ArgumentException>(() => new Series("a", [1, 2, 3, 4, 5], [1, 2])).Message);
        // `with` skips the constructor: Lines checks again.
        var copied = new Series("c", [1, 2], [1, 2]) with { X = [1, 2, 3] };
        Assert.Contains("series 'c' has 3 x values and 2 y values", Assert.Throws<ArgumentException>(() => Charts.Lines("l", "x", "y", [copied])).Message);
        Assert.Contains("'b'", Assert.Throws<ArgumentException>(() => Charts.GroupedBars("g", "%", ["x", "y", "z"], [("a", [1.0, 2, 3]), ("b", [1.0, 2, 3, 4])])).Message);
        Assert.Equal("xLabels", Assert.Throws<ArgumentException>(() => Charts.Heatmap("h", zeros(2, 3), ["a", "b"], ["r", "s"])).ParamName);
        Assert.Equal("yLabels", Assert.Throws<ArgumentException>(() => Charts.Heatmap("h", zeros(2, 3), yLabels: ["r"])).ParamName);
        Assert.Contains("'tiny'", Assert.Throws<ArgumentException>(() => Charts.Points("p", "x", "y", [("big", 10, 1), ("tiny", 0, 2)], logX: true)).Message);
        Assert.Single(Charts.Points("p", "x", "y", [("zero", 0, 1)]).Traces); // a linear axis shows it
        Assert.Contains("'kd'", Assert.Throws<ArgumentException>(() => Charts.Bars("b", "%", [("kd", 1.0), ("dkd", 2.0), ("kd", 3.0)])).Message);
    }

    [Fact]
    public void Heatmap_honours_x_labels_alone_and_bars_leave_non_finite_values_unlabelled()
    {
        var h = Charts.Heatmap("h", zeros(2, 3), xLabels: ["a", "b", "c"]);
        Assert.Equal("[\"a\",\"b\",\"c\"]", h.Traces[0]["x"]!.ToJsonString());
        Assert.Null(h.Traces[0]["y"]);
        var bars = Charts.Bars("b", "%", [("a", double.NaN), ("b", 1.5)]);
        Assert.Equal("[null,1.5]", bars.Traces[0]["y"]!.ToJsonString());
        Assert.Equal("[\"\",\"1.5\"]", bars.Traces[0]["text"]!.ToJsonString());
    }

    [Fact]
    public void Null_arguments_are_named_by_their_parameter()
    {
        Assert.Equal("map2d", Assert.Throws<ArgumentNullException>(() => Charts.Heatmap("t", null!)).ParamName);
        Assert.Equal("X", Assert.Throws<ArgumentNullException>(() => new Series("a", null!, null!)).ParamName);
        Assert.Equal("Y", Assert.Throws<ArgumentNullException>(() => new Series("a", [1], null!)).ParamName);
        Assert.Equal("series", Assert.Throws<ArgumentNullException>(() => Charts.Lines("t", "x", "y", null!)).ParamName);
        Assert.Equal("bars", Assert.Throws<ArgumentNullException>(() => Charts.Bars("t", "y", null!)).ParamName);
        Assert.Equal("points", Assert.Throws<ArgumentNullException>(() => Charts.Points("t", "x", "y", null!)).ParamName);
        Assert.Equal("groups", Assert.Throws<ArgumentNullException>(() => Charts.Sweep("t", "x", "y", null!)).ParamName);
    }

    [Fact]
    public void Heatmap_and_image_grid_take_tensors_and_reject_wrong_ranks()
    {
        var h = Charts.Heatmap("att", arange(6, dtype: ScalarType.Float32).view(2, 3));
        Assert.Contains("heatmap", Json(h));
        var grid = Charts.ImageGrid("samples", randint(0, 255, [12, 1, 4, 4], dtype: ScalarType.Byte), columns: 5);
        Assert.Contains("heatmap", Json(grid));
        Assert.Throws<ArgumentException>(() => Charts.Heatmap("bad", zeros(2, 2, 2)));
        var row = Charts.HeatmapRow("row", [("a", zeros(3, 3)), ("b", ones(3, 3))]);
        Assert.Equal(2, row.Traces.Count);
        Assert.Contains("xaxis2", Json(row)); // laid out side by side
    }

    [Fact]
    public void Figures_are_plain_plotly_json_with_gaps_for_non_finite_values_and_html_that_draws_them()
    {
        var chart = Charts.Lines("loss", "epoch", "loss", [new Series("a</script>", [1, 2, 3], [1.5, double.NaN, double.PositiveInfinity])]);
        var json = System.Text.Json.Nodes.JsonNode.Parse(chart.ToJson())!;
        Assert.Equal("scatter", (string)json["data"]![0]!["type"]!);
        Assert.Equal("[1.5,null,null]", json["data"]![0]!["y"]!.ToJsonString());
        Assert.Equal("loss", (string)json["layout"]!["title"]!["text"]!);
        var html = chart.ToHtml();
        Assert.Contains("Plotly.newPlot(", html);
        Assert.Contains(Figure.PlotlyClass, html);
        Assert.DoesNotContain("a</script>", html); // a name cannot end the script element early
        // No F# on the kernel side: the library must not reference FSharp.Core or Plotly.NET (the .NET kernel loads
        // FSharp.Core 10.0 and Plotly.NET 6 needs 10.1).
        var refs = typeof(Figure).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain("FSharp.Core", refs);
        Assert.DoesNotContain(refs, r => r!.StartsWith("Plotly", StringComparison.Ordinal));
    }
}

public class DatasetViewsTests
{
    public DatasetViewsTests() => TorchRuntime.Initialize();

    [Fact]
    public void Views_of_real_fashion_mnist_count_every_image_and_normalise_to_zero_mean_unit_std()
    {
        using var data = Distill.Data.Datasets.FashionMnist();
        var counts = DatasetViews.ClassCounts(data);
        Assert.Equal(10, counts.Rows.Count);
        Assert.All(Enumerable.Range(0, 10), i => Assert.Equal(6000L, counts["train"][i]));
        var summary = DatasetViews.Summary(data);
        Assert.InRange((double)summary["normalised mean"][0]!, -0.01, 0.01);
        Assert.InRange((double)summary["normalised std"][0]!, 0.99, 1.01);
        Assert.Equal("0..255", summary["pixel range"][0]);
        Assert.Contains("heatmap", DatasetViews.Samples(data, 3).ToJson());
        Assert.Equal(2, DatasetViews.ClassBalance(data).Traces.Count);
    }

    [Fact]
    public void Only_the_library_s_own_chart_script_around_valid_json_counts_as_a_chart()
    {
        var html = Charts.Bars("bars", "%", [("a</script>", 1.0), ("b", 2.0)]).ToHtml();
        var m = System.Text.RegularExpressions.Regex.Match(html, @"<div id=""(?<id>[^""]+)"".*?<script type=""text/javascript"">(?<js>.*)</script>$",
            System.Text.RegularExpressions.RegexOptions.Singleline);
        var (id, js) = (m.Groups["id"].Value, m.Groups["js"].Value);
        Assert.True(Figure.IsChartScript(id, js));
        Assert.True(Figure.IsChartScript(id, Figure.WithoutCdnFallback(js)));
        Assert.DoesNotContain(Figure.CdnFallbackStart, Figure.WithoutCdnFallback(js), StringComparison.Ordinal);
        // Another element's id, code in place of the JSON, or one more statement: not ours.
        Assert.False(Figure.IsChartScript("distill-plotly-00000000-1", js));
        var fig = js.IndexOf("var fig = ", StringComparison.Ordinal) + "var fig = ".Length;
        Assert.False(Figure.IsChartScript(id, js[..fig] + "alert(1) || " + js[fig..]));
        Assert.False(Figure.IsChartScript(id, js + "alert(1);"));
        Assert.False(Figure.IsChartScript(id, ""));
    }
    [Fact]
    public void A_chart_whose_json_could_end_its_script_is_not_a_chart()
    {
        var html = Charts.Bars("<!--<script>", "%", [("a</SCRIPT>", 1.0)]).ToHtml();
        var m = System.Text.RegularExpressions.Regex.Match(html, @"<div id=""(?<id>[^""]+)"".*?<script type=""text/javascript"">(?<js>.*)</script>$",
            System.Text.RegularExpressions.RegexOptions.Singleline);
        var (id, js) = (m.Groups["id"].Value, m.Groups["js"].Value);
        // The library's own chart escapes both, so a title or label holding them is still a chart.
        Assert.True(Figure.IsChartScript(id, js));
        Assert.DoesNotContain("<!--", js, StringComparison.Ordinal);
        Assert.DoesNotContain("</", js, StringComparison.Ordinal);
        // Valid JSON, but a browser ends the script at "</SCRIPT>" (any case, any attributes) and lets the rest out as HTML.
        var fig = js.IndexOf("var fig = ", StringComparison.Ordinal) + "var fig = ".Length;
        var end = js.IndexOf(";\n", fig, StringComparison.Ordinal);
        foreach (var evil in new[]
                 {
                     "{\"x\":\"</SCRIPT><meta http-equiv='refresh' content='0;url=https://example.invalid/'><SCRIPT>\"}",
                     "{\"x\":\"</script x><img src=x onerror='alert(1)'><script>\"}",
                     "{\"x\":\"<!--<script>\"}",
                 })
            Assert.False(Figure.IsChartScript(id, js[..fig] + evil + js[end..]), evil);
    }
}
