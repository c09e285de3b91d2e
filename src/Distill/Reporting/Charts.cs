using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Distill.Reporting;

/// <summary>One named line of a chart.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// The charts the notebooks draw, as plotly.js <see cref="Figure"/>s (displayed inline by the .NET kernel and by our
/// runner, inlined offline in reports). Small on purpose: a notebook cell should be one call.
/// </summary>
public static class Charts
{
    /// <summary>Line chart of several series (learning curves, loss curves).</summary>
    public static Figure Lines(string title, string xTitle, string yTitle, IEnumerable<Series> series) =>
        new(series.Select(s => Scatter(s.Name, s.X, s.Y, s.X.Count <= 30 ? "lines+markers" : "lines")), Layout(title, xTitle, yTitle));

    /// <summary>Mean over seeds as a line, each seed as a point: the spread stays visible (sweeps over T or alpha).</summary>
    public static Figure Sweep(string title, string xTitle, string yTitle,
        IEnumerable<(string Name, IReadOnlyList<(double X, double[] PerSeed)> Points)> groups)
    {
        var traces = new List<JsonObject>();
        foreach (var (name, points) in groups)
        {
            // A point with no seeds has no mean (Average threw "Sequence contains no elements"): a gap, as NaN is.
            traces.Add(Scatter($"{name} (mean)", [.. points.Select(p => p.X)], [.. points.Select(p => p.PerSeed.Length > 0 ? p.PerSeed.Average() : double.NaN)], "lines+markers"));
            var xs = points.SelectMany(p => p.PerSeed.Select(_ => p.X)).ToList();
            if (xs.Count > points.Count)
            {
                var seeds = Scatter($"{name} (seeds)", xs, [.. points.SelectMany(p => p.PerSeed)], "markers");
                seeds["opacity"] = 0.45;
                traces.Add(seeds);
            }
        }
        return new Figure(traces, Layout(title, xTitle, yTitle));
    }

    /// <summary>Bar per label (e.g. method → accuracy), the value written on each bar.</summary>
    public static Figure Bars(string title, string yTitle, IEnumerable<(string Label, double Value)> bars)
    {
        var list = bars.ToList();
        var trace = Bar(null, list.Select(b => b.Label), list.Select(b => b.Value));
        trace["text"] = Strings(list.Select(b => b.Value.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)));
        return new Figure([trace], Layout(title, "", yTitle));
    }

    /// <summary>Grouped bars: one trace per group over the same labels (class balance, probabilities per temperature).</summary>
    public static Figure GroupedBars(string title, string yTitle, IReadOnlyList<string> labels, IEnumerable<(string Name, IEnumerable<double> Values)> groups) =>
        new(groups.Select(g => Bar(g.Name, labels, g.Values)), Layout(title, "", yTitle, ("barmode", "group")));

    /// <summary>Scatter of labelled points (e.g. parameters vs accuracy).</summary>
    public static Figure Points(string title, string xTitle, string yTitle, IEnumerable<(string Label, double X, double Y)> points, bool logX = false)
    {
        var list = points.ToList();
        var trace = Scatter(yTitle, [.. list.Select(p => p.X)], [.. list.Select(p => p.Y)], "markers+text");
        trace["text"] = Strings(list.Select(p => p.Label));
        trace["textposition"] = "top center";
        var layout = Layout(title, xTitle, yTitle);
        if (logX) layout["xaxis"]!["type"] = "log";
        return new Figure([trace], layout);
    }

    /// <summary>Heatmap of a 2-D tensor (an attention map, a confusion matrix); row 0 drawn at the top.</summary>
    public static Figure Heatmap(string title, Tensor map2d, IReadOnlyList<string>? xLabels = null, IReadOnlyList<string>? yLabels = null)
    {
        var trace = HeatmapTrace(map2d, showScale: true);
        if (xLabels is not null && yLabels is not null)
        {
            trace["x"] = Strings(xLabels);
            trace["y"] = Strings(yLabels);
        }
        var layout = Layout(title);
        layout["yaxis"] = Reversed();
        return new Figure([trace], layout);
    }

    /// <summary>Several heatmaps side by side, sharing nothing but a title row (e.g. teacher vs student attention).</summary>
    public static Figure HeatmapRow(string title, IEnumerable<(string Name, Tensor Map)> maps)
    {
        var list = maps.ToList();
        var layout = Layout(title, ("width", Math.Min(1100, 260 * list.Count + 80)), ("height", 340));
        layout["grid"] = new JsonObject { ["rows"] = 1, ["columns"] = list.Count, ["pattern"] = "independent" };
        var titles = new JsonArray();
        var traces = new List<JsonObject>();
        for (int i = 0; i < list.Count; i++)
        {
            var suffix = i == 0 ? "" : (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var trace = HeatmapTrace(list[i].Map, showScale: false);
            trace["name"] = list[i].Name;
            trace["xaxis"] = "x" + suffix;
            trace["yaxis"] = "y" + suffix;
            traces.Add(trace);
            // Square pixels: each map keeps its aspect ratio inside its column.
            layout["xaxis" + suffix] = new JsonObject { ["constrain"] = "domain" };
            var y = Reversed();
            y["scaleanchor"] = "x" + suffix;
            layout["yaxis" + suffix] = y;
            // Subplot titles as plotly.js draws them: paper-anchored annotations over each column's centre.
            titles.Add(new JsonObject
            {
                ["text"] = list[i].Name, ["showarrow"] = false, ["xref"] = "paper", ["yref"] = "paper",
                ["x"] = (i + 0.5) / list.Count, ["y"] = 1.0, ["xanchor"] = "center", ["yanchor"] = "bottom",
            });
        }
        layout["annotations"] = titles;
        return new Figure(traces, layout);
    }

    /// <summary>A mosaic of grey images [N, 1, H, W] (uint8 or float) as one heatmap, <paramref name="columns"/> per row.</summary>
    public static Figure ImageGrid(string title, Tensor images, int columns = 10)
    {
        // Divided by below (DivideByZeroException); no images left TorchSharp's accessor to throw from inside.
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() is not (3 or 4) || images.shape[0] == 0)
            throw new ArgumentException($"ImageGrid needs at least one image, [N, 1, H, W] or [N, H, W]; got shape [{string.Join(", ", images.shape)}].", nameof(images));
        using var scope = NewDisposeScope();
        var x = images.to(ScalarType.Float32).cpu();
        if (x.dim() == 4) x = x[.., 0];
        long n = x.shape[0], h = x.shape[1], w = x.shape[2];
        int rows = (int)((n + columns - 1) / columns);
        var canvas = zeros(rows * (h + 1), columns * (w + 1));
        for (int i = 0; i < n; i++)
        {
            long r = i / columns * (h + 1), c = i % columns * (w + 1);
            canvas[TensorIndex.Slice(r, r + h), TensorIndex.Slice(c, c + w)] = x[i];
        }
        var trace = HeatmapTrace(canvas, showScale: false);
        trace["colorscale"] = "Greys";
        trace["reversescale"] = true;
        var layout = Layout(title, ("width", Math.Min(1000, columns * 60 + 120)), ("height", Math.Min(900, rows * 60 + 120)));
        layout["yaxis"] = Reversed();
        return new Figure([trace], layout);
    }

    static JsonObject Scatter(string name, IReadOnlyList<double> x, IReadOnlyList<double> y, string mode) =>
        new() { ["type"] = "scatter", ["name"] = name, ["mode"] = mode, ["x"] = Numbers(x), ["y"] = Numbers(y) };

    static JsonObject Bar(string? name, IEnumerable<string> labels, IEnumerable<double> values)
    {
        var trace = new JsonObject { ["type"] = "bar", ["x"] = Strings(labels), ["y"] = Numbers(values) };
        if (name is not null) trace["name"] = name;
        return trace;
    }

    static JsonObject HeatmapTrace(Tensor map2d, bool showScale)
    {
        using var t = map2d.detach().to(ScalarType.Float64).cpu().contiguous();
        if (t.dim() != 2) throw new ArgumentException($"Expected a 2-D tensor, got shape [{string.Join(", ", t.shape)}].", nameof(map2d));
        // An empty map has no cells to draw (TorchSharp's accessor threw on it): an empty heatmap.
        if (t.numel() == 0) return new JsonObject { ["type"] = "heatmap", ["z"] = new JsonArray(), ["showscale"] = showScale };
        var flat = t.data<double>().ToArray();
        int cols = (int)t.shape[1];
        var z = new JsonArray([.. Enumerable.Range(0, (int)t.shape[0]).Select(r => (JsonNode)Numbers(flat.AsSpan(r * cols, cols).ToArray()))]);
        return new JsonObject { ["type"] = "heatmap", ["z"] = z, ["showscale"] = showScale };
    }

    static JsonObject Layout(string title, params (string Key, object Value)[] extra) => Layout(title, null, null, extra);

    static JsonObject Layout(string title, string? xTitle, string? yTitle, params (string Key, object Value)[] extra)
    {
        var layout = new JsonObject { ["title"] = new JsonObject { ["text"] = title } };
        if (xTitle is not null) layout["xaxis"] = new JsonObject { ["title"] = new JsonObject { ["text"] = xTitle } };
        if (yTitle is not null) layout["yaxis"] = new JsonObject { ["title"] = new JsonObject { ["text"] = yTitle } };
        foreach (var (key, value) in extra) layout[key] = JsonValue.Create(value);
        return layout;
    }

    static JsonObject Reversed() => new() { ["autorange"] = "reversed" };

    /// <summary>Non-finite values become null, which plotly.js draws as a gap (JSON has no NaN).</summary>
    static JsonArray Numbers(IEnumerable<double> values) =>
        new([.. values.Select(v => double.IsFinite(v) ? JsonValue.Create(v) : null)]);

    static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);
}
