using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distill.Reporting;

/// <summary>
/// A plotly.js figure (traces + layout) held as JSON, with no F# anywhere. The .NET Interactive kernel (VS Code's
/// Polyglot, Jupyter's <c>.net-csharp</c>) loads its own FSharp.Core 10.0 at start-up, and Plotly.NET 6 needs 10.1, so
/// every Plotly.NET chart fails there; a figure built here renders the same in the kernel, in <c>distill run</c> and in
/// the offline reports. The schema is plotly.js's own (https://plotly.com/javascript/reference/).
/// </summary>
public sealed class Figure
{
    /// <summary>The plotly.js version the chart outputs load where the page has none (the one Plotly.NET 6 embeds,
    /// which the offline reports inline).</summary>
    public const string PlotlyJsVersion = "2.28.0";

    /// <summary>Where a page without plotly.js (VS Code's or Jupyter's output view) loads it from.</summary>
    public static readonly string CdnUrl = $"https://cdn.plot.ly/plotly-{PlotlyJsVersion}.min.js";

    /// <summary>Marker class on every chart container; the HTML report inlines plotly.js once when an output is a chart.</summary>
    public const string PlotlyClass = "distill-plotly";

    /// <summary>Delimit the CDN fallback in chart outputs: live notebooks need it, the offline report (plotly.js inlined)
    /// strips it.</summary>
    public const string CdnFallbackStart = "/*distill:cdn-fallback*/";
    public const string CdnFallbackEnd = "/*distill:end-cdn-fallback*/";

    static int counter;

    /// <summary>A figure from plotly.js JSON (<c>{"data": [...], "layout": {...}}</c>), as Plotly.NET's
    /// <c>GenericChart.toFigureJson</c> writes it: its charts render through the same path as ours.</summary>
    public static Figure FromPlotlyJson(string json)
    {
        var figure = JsonNode.Parse(json)!.AsObject();
        return new Figure(figure["data"]?.AsArray().Select(t => t!.DeepClone().AsObject()) ?? [], figure["layout"]?.DeepClone().AsObject());
    }

    public Figure(IEnumerable<JsonObject> traces, JsonObject? layout = null)
    {
        Traces = [.. traces];
        Layout = layout ?? [];
    }

    public IReadOnlyList<JsonObject> Traces { get; }
    public JsonObject Layout { get; }

    /// <summary><c>{"data": [...], "layout": {...}}</c>, as plotly.js's <c>newPlot</c> takes it.</summary>
    public string ToJson() =>
        new JsonObject { ["data"] = new JsonArray([.. Traces.Select(t => t.DeepClone())]), ["layout"] = Layout.DeepClone() }
            .ToJsonString(JsonOptions);

    /// <summary>A light HTML output: the figure JSON and a few lines of script. plotly.js itself is not embedded (3.5 MB
    /// per chart); the report inlines it once per page, and elsewhere the script loads it when the page lacks it.</summary>
    public string ToHtml()
    {
        var json = ToJson();
        // Deterministic (same notebook, same outputs → same file) and unique on a page (Jupyter shows every output of a
        // session in one document).
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..8];
        var id = $"distill-plotly-{hash}-{Interlocked.Increment(ref counter)}";
        // "</" inside a JSON string would end the script early, and "<!--" would change how the browser finds its end;
        // both are escaped, so IsChartScript can refuse any chart that carries them.
        json = json.Replace("</", "<\\/", StringComparison.Ordinal).Replace("<!--", "\\u003C!--", StringComparison.Ordinal);
        return $"<div id=\"{id}\" class=\"{PlotlyClass}\"></div>\n<script type=\"text/javascript\">{Script(id, json)}</script>";
    }

    /// <summary>The body of a chart's script element: draw <paramref name="json"/> into the element <paramref name="id"/>.</summary>
    static string Script(string id, string json) => $$"""

        (function () {
          var fig = {{json}};
          var draw = function () { Plotly.newPlot('{{id}}', fig.data, fig.layout, {"responsive": true}); };
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

        """;

    /// <summary>The chart outputs without their CDN fallback, for a page that inlines plotly.js.</summary>
    public static string WithoutCdnFallback(string html)
    {
        var (start, end) = (html.IndexOf(CdnFallbackStart, StringComparison.Ordinal), 0);
        if (start < 0) return html;
        var sb = new StringBuilder();
        for (; start >= 0; start = html.IndexOf(CdnFallbackStart, end, StringComparison.Ordinal))
        {
            var stop = html.IndexOf(CdnFallbackEnd, start, StringComparison.Ordinal);
            if (stop < 0) break;
            sb.Append(html, end, start - end);
            end = stop + CdnFallbackEnd.Length;
        }
        return sb.Append(html, end, html.Length - end).ToString();
    }

    /// <summary>
    /// Whether <paramref name="script"/> is exactly a chart script <see cref="ToHtml"/> writes for the element
    /// <paramref name="id"/> (with or without its CDN fallback) around one valid JSON value. Such a script only draws a
    /// chart, so a report may let it run in a notebook nobody has trusted; a script that merely looks like one is not it.
    /// </summary>
    public static bool IsChartScript(string id, string script)
    {
        const string Hole = "\u0000";
        foreach (var template in new[] { Script(id, Hole), WithoutCdnFallback(Script(id, Hole)) })
        {
            var at = template.IndexOf(Hole, StringComparison.Ordinal);
            var (before, after) = (template[..at], template[(at + 1)..]);
            if (script.Length <= before.Length + after.Length || !script.StartsWith(before, StringComparison.Ordinal) ||
                !script.EndsWith(after, StringComparison.Ordinal)) continue;
            var json = script[before.Length..^after.Length];
            // A browser ends a script at the first "</script" in any case ("</SCRIPT>", "</script x>"), and "<!--" changes
            // where that is: either inside the JSON would let what follows it out as HTML. ToHtml never writes them.
            if (json.Contains("</", StringComparison.Ordinal) || json.Contains("<!--", StringComparison.Ordinal)) return false;
            try
            {
                // Valid JSON is an inert JavaScript expression: data, never code.
                using var _ = JsonDocument.Parse(json);
                return true;
            }
            catch (JsonException) { return false; }
        }
        return false;
    }

    /// <summary>Restarts the element ids (each notebook run starts from 1, so reruns give identical outputs).</summary>
    public static void ResetIds() => Interlocked.Exchange(ref counter, 0);

    public override string ToString() => $"Plotly chart ({Traces.Count} traces)";

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };
}
