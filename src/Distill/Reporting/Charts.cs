using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Distill.Reporting;

/// <summary>One named line of a chart.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    public IReadOnlyList<double> X { get; init; } = X ?? throw new ArgumentNullException(nameof(X));
    // plotly.js pairs x and y by index and drops the rest silently.
    public IReadOnlyList<double> Y { get; init; } = Y is null ? throw new ArgumentNullException(nameof(Y))
        : Y.Count == X.Count ? Y : throw new ArgumentException($"series '{Name}' has {X.Count} x values and {Y.Count} y values; give one y per x.", nameof(Y));
}

/// <summary>
/// The charts the notebooks draw, as plotly.js <see cref="Figure"/>s (displayed inline by the .NET kernel and by our
/// runner, inlined offline in reports). Small on purpose: a notebook cell should be one call.
/// </summary>
public static class Charts
{
    /// <summary>Line chart of several series (learning curves, loss curves).</summary>
    public static Figure Lines(string title, string xTitle, string yTitle, IEnumerable<Series> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        return new(series.Select(s => Scatter(s.Name, s.X, Paired(s), s.X.Count <= 30 ? "lines+markers" : "lines")), Layout(title, xTitle, yTitle));
    }

    // The constructor checks the lengths, but `series with { X = longer }` does not pass through it.
    static IReadOnlyList<double> Paired(Series s) =>
        s.X is null || s.Y is null ? throw new ArgumentNullException(nameof(s), $"series '{s.Name}' has no {(s.X is null ? "x" : "y")} values.")
        : s.Y.Count == s.X.Count ? s.Y
        : throw new ArgumentException($"series '{s.Name}' has {s.X.Count} x values and {s.Y.Count} y values; give one y per x.", nameof(s));

    /// <summary>Mean over seeds as a line, each seed as a point: the spread stays visible (sweeps over T or alpha).</summary>
    public static Figure Sweep(string title, string xTitle, string yTitle,
        IEnumerable<(string Name, IReadOnlyList<(double X, double[] PerSeed)> Points)> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var traces = new List<JsonObject>();
        foreach (var (name, points) in groups)
        {
            // A point with no seeds has no mean (Average threw "Sequence contains no elements"): a gap, as NaN is.
            traces.Add(Scatter($"{name} (mean)", [.. points.Select(p => p.X)], [.. points.Select(p => p.PerSeed.Length > 0 ? p.PerSeed.Average() : double.NaN)], "lines+markers"));
            var xs = points.SelectMany(p => p.PerSeed.Select(_ => p.X)).ToList();
            // One seed per point is the mean's own marker; any point with more needs its seeds drawn (a point without
            // seeds made a count of all of them hide the others).
            if (points.Any(p => p.PerSeed.Length > 1))
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
        ArgumentNullException.ThrowIfNull(bars);
        var list = bars.ToList();
        // plotly.js stacks bars of one label into one category, so the second value hid behind the first.
        if (list.GroupBy(b => b.Label).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"bar label '{twice.Key}' is given {twice.Count()} times; give each label once.", nameof(bars));
        var trace = Bar(null, list.Select(b => b.Label), list.Select(b => b.Value));
        // A non-finite value is a gap (see Numbers), so it has no number to write either.
        trace["text"] = Strings(list.Select(b => double.IsFinite(b.Value) ? b.Value.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) : ""));
        return new Figure([trace], Layout(title, "", yTitle));
    }

    /// <summary>Grouped bars: one trace per group over the same labels (class balance, probabilities per temperature).</summary>
    public static Figure GroupedBars(string title, string yTitle, IReadOnlyList<string> labels, IEnumerable<(string Name, IEnumerable<double> Values)> groups)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(groups);
        var traces = new List<JsonObject>();
        foreach (var (name, values) in groups)
        {
            var list = values?.ToList() ?? throw new ArgumentNullException(nameof(groups), $"group '{name}' has no values.");
            if (list.Count != labels.Count)
                throw new ArgumentException($"group '{name}' has {list.Count} values for {labels.Count} labels; give one value per label.", nameof(groups));
            traces.Add(Bar(name, labels, list));
        }
        return new(traces, Layout(title, "", yTitle, ("barmode", "group")));
    }

    /// <summary>Scatter of labelled points (e.g. parameters vs accuracy).</summary>
    public static Figure Points(string title, string xTitle, string yTitle, IEnumerable<(string Label, double X, double Y)> points, bool logX = false)
    {
        ArgumentNullException.ThrowIfNull(points);
        var list = points.ToList();
        // A log axis has no place for x <= 0: plotly.js left such a point out without a word.
        if (logX && list.FindIndex(p => p.X <= 0) is var i and >= 0)
            throw new ArgumentException($"point '{list[i].Label}' has x = {list[i].X.ToString(System.Globalization.CultureInfo.InvariantCulture)}, which a log x axis cannot show; give x > 0 or logX: false.", nameof(points));
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
        ArgumentNullException.ThrowIfNull(map2d);
        var trace = HeatmapTrace(map2d, showScale: true);
        foreach (var (labels, axis, dim, name) in new[] { (xLabels, "x", 1, nameof(xLabels)), (yLabels, "y", 0, nameof(yLabels)) })
        {
            if (labels is null) continue;
            // plotly.js draws as many cells as labels, so a wrong count dropped cells or named them wrongly.
            if (labels.Count != map2d.shape[dim])
                throw new ArgumentException($"{name} has {labels.Count} labels for the map's {map2d.shape[dim]} {(dim == 1 ? "columns" : "rows")}; give one per {(dim == 1 ? "column" : "row")}.", name);
            trace[axis] = Strings(labels);
        }
        var layout = Layout(title);
        layout["yaxis"] = Reversed();
        return new Figure([trace], layout);
    }

    /// <summary>Several heatmaps side by side, sharing nothing but a title row (e.g. teacher vs student attention).</summary>
    public static Figure HeatmapRow(string title, IEnumerable<(string Name, Tensor Map)> maps)
    {
        ArgumentNullException.ThrowIfNull(maps);
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
