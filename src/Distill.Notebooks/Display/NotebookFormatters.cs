using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;
using TorchSharp;

namespace Distill.Notebooks.Display;

/// <summary>
/// The formatters a Polyglot user gets from Plotly.NET.Interactive and the DataFrame/TorchSharp extensions, written for
/// this runner: charts, DataFrames and tensors render as HTML (plus text/plain).
/// </summary>
public static class NotebookFormatters
{
    /// <summary>Rows of a DataFrame shown before "… N more rows".</summary>
    public const int DataFrameRows = 20;

    /// <summary>Marker class on every chart container; the HTML report inlines plotly.js once when it finds it.</summary>
    public const string PlotlyClass = "distill-plotly";

    /// <summary>Delimits the CDN fallback in chart outputs: VS Code (no plotly.js on the page) needs it, the offline
    /// HTML report (plotly.js inlined) strips it.</summary>
    public const string CdnFallbackStart = "/*distill:cdn-fallback*/";
    public const string CdnFallbackEnd = "/*distill:end-cdn-fallback*/";

    /// <summary>Where a page without plotly.js (VS Code's output view) loads it from: the version Plotly.NET embeds.</summary>
    public static readonly string CdnUrl = $"https://cdn.plot.ly/plotly-{Globals.PLOTLYJS_VERSION}.min.js";

    static int chartCounter;

    /// <summary>Resets the formatting library (a previous notebook's registrations must not leak) and registers ours.</summary>
    public static void Register()
    {
        Formatter.ResetToDefault();
        chartCounter = 0;
        Formatter.Register<GenericChart>((chart, w) => w.Write(ChartHtml(chart)), OutputSink.Html);
        Formatter.Register<GenericChart>((chart, w) => w.Write($"Plotly chart ({GenericChart.countTrace(chart)} traces)"), OutputSink.PlainText);
        Formatter.Register<DataFrame>((df, w) => w.Write(DataFrameHtml(df)), OutputSink.Html);
        Formatter.Register<DataFrame>((df, w) => w.Write(DataFrameText(df)), OutputSink.PlainText);
        Formatter.Register<torch.Tensor>((t, w) => w.Write(TensorHtml(t)), OutputSink.Html);
        Formatter.Register<torch.Tensor>((t, w) => w.Write(TensorText(t)), OutputSink.PlainText);
    }

    /// <summary>A light chart output: the figure JSON and a few lines of script. plotly.js itself is not embedded (3.5 MB
    /// per chart); the report inlines it once per page, and elsewhere the script loads it when the page lacks it.</summary>
    public static string ChartHtml(GenericChart chart)
    {
        var figure = GenericChart.toFigureJson(chart);
        // Deterministic (same notebook, same outputs → same file) and unique on a page.
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(figure)))[..8];
        var id = $"distill-plotly-{hash}-{Interlocked.Increment(ref chartCounter)}";
        var config = Newtonsoft.Json.JsonConvert.SerializeObject(GenericChart.getConfig(chart), Globals.JSON_CONFIG);
        // "</" inside JSON strings would end the script element early.
        figure = figure.Replace("</", "<\\/", StringComparison.Ordinal);
        config = config.Replace("</", "<\\/", StringComparison.Ordinal);
        return $$"""
            <div id="{{id}}" class="{{PlotlyClass}}"></div>
            <script type="text/javascript">
            (function () {
              var fig = {{figure}};
              var draw = function () { Plotly.newPlot('{{id}}', fig.data, fig.layout, {{config}}); };
              if (typeof Plotly !== 'undefined') { draw(); return; }
              {{CdnFallbackStart}}
              // One load per page however many charts; AMD loaders (require.js) are hidden so plotly.js sets window.Plotly.
              window.distillPlotly = window.distillPlotly || new Promise(function (ok, fail) {
                var amd = window.define; window.define = undefined;
                var s = document.createElement('script');
                s.src = '{{CdnUrl}}';
                s.onload = function () { window.define = amd; ok(); };
                s.onerror = function (e) { window.define = amd; fail(e); };
                document.head.appendChild(s);
              });
              window.distillPlotly.then(draw);
              {{CdnFallbackEnd}}
            })();
            </script>
            """;
    }

    public static string DataFrameHtml(DataFrame df)
    {
        var sb = new StringBuilder("<table class=\"distill-dataframe\"><thead><tr><th></th>");
        foreach (var c in df.Columns)
            sb.Append(CultureInfo.InvariantCulture, $"<th title=\"{Enc(c.DataType.Name)}\">{Enc(c.Name)}</th>");
        sb.Append("</tr></thead><tbody>");
        long shown = Math.Min(df.Rows.Count, DataFrameRows);
        for (long r = 0; r < shown; r++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td><i>{r}</i></td>");
            foreach (var c in df.Columns) sb.Append(CultureInfo.InvariantCulture, $"<td>{Enc(Cell(c[r]))}</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (df.Rows.Count > shown) sb.Append(CultureInfo.InvariantCulture, $"<p>… {df.Rows.Count - shown} more rows</p>");
        sb.Append(CultureInfo.InvariantCulture, $"<p class=\"distill-shape\">{df.Rows.Count} rows × {df.Columns.Count} columns</p>");
        return sb.ToString();
    }

    /// <summary>The DataFrame as aligned text (DataFrame.ToString pads to a fixed width, so long values run into the next
    /// column): each column as wide as its longest shown value, two spaces between columns, numbers right-aligned.</summary>
    public static string DataFrameText(DataFrame df)
    {
        long shown = Math.Min(df.Rows.Count, DataFrameRows);
        var columns = df.Columns.Select(c =>
        {
            var cells = new List<string> { c.Name };
            for (long r = 0; r < shown; r++) cells.Add(Cell(c[r]));
            return (Cells: cells, Width: cells.Max(x => x.Length), Right: c.DataType != typeof(string) && c.DataType != typeof(bool));
        }).ToList();
        var sb = new StringBuilder();
        for (var line = 0; line <= shown; line++)
        {
            sb.Append(string.Join("  ", columns.Select(c => c.Right ? c.Cells[line].PadLeft(c.Width) : c.Cells[line].PadRight(c.Width))).TrimEnd());
            sb.Append('\n');
        }
        if (df.Rows.Count > shown) sb.Append(CultureInfo.InvariantCulture, $"… {df.Rows.Count - shown} more rows\n");
        sb.Append(CultureInfo.InvariantCulture, $"{df.Rows.Count} rows × {df.Columns.Count} columns");
        return sb.ToString();
    }

    static string Cell(object? v) => v switch
    {
        null => "null",
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    public static string TensorHeader(torch.Tensor t) =>
        $"tensor shape [{string.Join(", ", t.shape)}], dtype {t.dtype}, device {t.device}" + (t.requires_grad ? ", requires_grad" : "");

    /// <summary>Values in numpy style; TorchSharp summarizes big tensors (edge items and "...") by itself.</summary>
    public static string TensorPreview(torch.Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var cpu = t.device_type == DeviceType.CPU ? t.detach() : t.detach().cpu();
        return cpu.ToString(TensorStringStyle.Numpy, "g4", 100, CultureInfo.InvariantCulture, "\n");
    }

    public static string TensorText(torch.Tensor t) => TensorHeader(t) + "\n" + TensorPreview(t);

    public static string TensorHtml(torch.Tensor t) =>
        $"<div class=\"distill-tensor\"><div><code>{Enc(TensorHeader(t))}</code></div><pre>{Enc(TensorPreview(t))}</pre></div>";

    static string Enc(string s) => WebUtility.HtmlEncode(s);
}
