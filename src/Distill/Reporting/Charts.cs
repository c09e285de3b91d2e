using Plotly.NET;
using static TorchSharp.torch;
using PChart = Plotly.NET.CSharp.Chart;

namespace Distill.Reporting;

/// <summary>One named line of a chart.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// The charts the notebooks draw, as Plotly.NET <see cref="GenericChart"/>s (displayed inline by Polyglot Notebooks and
/// by our runner, inlined offline in reports). Small on purpose: a notebook cell should be one call.
/// </summary>
public static class Charts
{
    /// <summary>Line chart of several series (learning curves, loss curves).</summary>
    public static GenericChart Lines(string title, string xTitle, string yTitle, IEnumerable<Series> series) =>
        Styled(PChart.Combine(series.Select(s =>
            PChart.Line<double, double, string>(s.X, s.Y, Name: s.Name, ShowMarkers: s.X.Count <= 30))), title, xTitle, yTitle);

    /// <summary>Mean over seeds as a line, each seed as a point: the spread stays visible (sweeps over T or alpha).</summary>
    public static GenericChart Sweep(string title, string xTitle, string yTitle,
        IEnumerable<(string Name, IReadOnlyList<(double X, double[] PerSeed)> Points)> groups)
    {
        var traces = new List<GenericChart>();
        foreach (var (name, points) in groups)
        {
            traces.Add(PChart.Line<double, double, string>(points.Select(p => p.X), points.Select(p => p.PerSeed.Average()),
                Name: $"{name} (mean)", ShowMarkers: true));
            var xs = points.SelectMany(p => p.PerSeed.Select(_ => p.X)).ToList();
            if (xs.Count > points.Count)
                traces.Add(PChart.Point<double, double, string>(xs, points.SelectMany(p => p.PerSeed), Name: $"{name} (seeds)", Opacity: 0.45));
        }
        return Styled(PChart.Combine(traces), title, xTitle, yTitle);
    }

    /// <summary>Bar per label (e.g. method → accuracy).</summary>
    public static GenericChart Bars(string title, string yTitle, IEnumerable<(string Label, double Value)> bars)
    {
        var list = bars.ToList();
        return Styled(PChart.Column<double, string, string>(list.Select(b => b.Value), Keys: Opt(list.Select(b => b.Label)),
            MultiText: Opt(list.Select(b => b.Value.ToString("0.##")))), title, "", yTitle);
    }

    /// <summary>Scatter of labelled points (e.g. parameters vs accuracy).</summary>
    public static GenericChart Points(string title, string xTitle, string yTitle, IEnumerable<(string Label, double X, double Y)> points, bool logX = false)
    {
        var list = points.ToList();
        var chart = PChart.Point<double, double, string>(list.Select(p => p.X), list.Select(p => p.Y),
            MultiText: Opt(list.Select(p => p.Label)), TextPosition: StyleParam.TextPosition.TopCenter, Name: yTitle);
        chart = Styled(chart, title, xTitle, yTitle);
        return logX ? Plotly.NET.CSharp.GenericChartExtensions.WithXAxisStyle<double, double, string>(chart, AxisType: StyleParam.AxisType.Log, TitleText: xTitle) : chart;
    }

    /// <summary>Heatmap of a 2-D tensor (an attention map, a confusion matrix); row 0 drawn at the top.</summary>
    public static GenericChart Heatmap(string title, Tensor map2d, IReadOnlyList<string>? xLabels = null, IReadOnlyList<string>? yLabels = null)
    {
        var z = Rows(map2d);
        var chart = xLabels is null || yLabels is null
            ? PChart.Heatmap<double, int, int, string>(z, ReverseYAxis: true, ShowScale: true)
            : PChart.Heatmap<double, string, string, string>(z, X: Opt<string>(xLabels), Y: Opt<string>(yLabels), ReverseYAxis: true, ShowScale: true);
        return Titled(chart, title);
    }

    /// <summary>Several heatmaps side by side, sharing nothing but a title row (e.g. teacher vs student attention).</summary>
    public static GenericChart HeatmapRow(string title, IEnumerable<(string Name, Tensor Map)> maps)
    {
        var list = maps.ToList();
        var charts = list.Select(m => PChart.Heatmap<double, int, int, string>(Rows(m.Map), ReverseYAxis: true, ShowScale: false, Name: m.Name));
        var grid = PChart.Grid(charts, 1, list.Count, SubPlotTitles: Opt(list.Select(m => m.Name)));
        return Plotly.NET.CSharp.GenericChartExtensions.WithSize(Titled(grid, title),
            Width: Math.Min(1100, 260 * list.Count + 80), Height: 340);
    }

    /// <summary>A mosaic of grey images [N, 1, H, W] (uint8 or float) as one heatmap, <paramref name="columns"/> per row.</summary>
    public static GenericChart ImageGrid(string title, Tensor images, int columns = 10)
    {
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
        var chart = PChart.Heatmap<double, int, int, string>(Rows(canvas), ReverseYAxis: true, ShowScale: false,
            ColorScale: StyleParam.Colorscale.Greys, ReverseScale: true);
        return Plotly.NET.CSharp.GenericChartExtensions.WithSize(Titled(chart, title),
            Width: Math.Min(1000, columns * 60 + 120), Height: Math.Min(900, rows * 60 + 120));
    }

    static double[][] Rows(Tensor map2d)
    {
        using var t = map2d.detach().to(ScalarType.Float64).cpu().contiguous();
        if (t.dim() != 2) throw new ArgumentException($"Expected a 2-D tensor, got shape [{string.Join(", ", t.shape)}].", nameof(map2d));
        var flat = t.data<double>().ToArray();
        int cols = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }

    static Plotly.NET.CSharp.Optional<IEnumerable<T>> Opt<T>(IEnumerable<T> values) => new(values, true);

    static GenericChart Titled(GenericChart chart, string title) => Plotly.NET.Chart.withTitle(title, null).Invoke(chart);

    static GenericChart Styled(GenericChart chart, string title, string xTitle, string yTitle)
    {
        chart = Titled(chart, title);
        chart = Plotly.NET.CSharp.GenericChartExtensions.WithXAxisStyle<double, double, string>(chart, TitleText: xTitle);
        return Plotly.NET.CSharp.GenericChartExtensions.WithYAxisStyle<double, double, string>(chart, TitleText: yTitle);
    }
}
