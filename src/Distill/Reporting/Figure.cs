using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

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

    /// <summary><c>{"data": [...], "layout": {...}}</c>, as plotly.js's <c>newPlot</c> takes it. In a figure of fixed
    /// width a title too long for one line is wrapped (<see cref="WrapTitle"/>); <see cref="Layout"/> keeps it as given.</summary>
    public string ToJson()
    {
        var layout = Layout.DeepClone().AsObject();
        WrapTitle(layout);
        return new JsonObject { ["data"] = new JsonArray([.. Traces.Select(t => t.DeepClone())]), ["layout"] = layout }.ToJsonString(JsonOptions);
    }

    /// <summary>plotly.js draws a title on one line centred on the figure whatever its length: in a figure of fixed
    /// <c>width</c>, a longer title lost both its ends (notebook 00's sample grid, 130 characters in 720 px, in the report
    /// and in VS Code). Such a title is broken with <c>&lt;br&gt;</c> between words into lines that fit, and from three
    /// lines on the top margin grows to hold them above the plot. A figure without a width takes its container's and is
    /// left alone.</summary>
    static void WrapTitle(JsonObject layout)
    {
        if (Number(layout["width"]) is not { } width) return;
        var title = layout["title"];
        var text = title is JsonObject o ? o["text"] : title;
        if (text is not JsonValue v || !v.TryGetValue<string>(out var given)) return;
        var lines = TitleLines(given, width - 2 * TitlePadding, TitleFontSize(layout));
        if (lines.Count <= 1 || string.Join("<br>", lines) == given) return;
        if (title is JsonObject t) t["text"] = string.Join("<br>", lines);
        else layout["title"] = string.Join("<br>", lines);
        // plotly.js puts a title's first line in the middle of the top margin (100 px unless set) and the others below:
        // two lines fit, a third reached the plot (and HeatmapRow's subplot titles just above it). A figure of fixed
        // height grows by what its margin grew, so its plot keeps its size.
        if (lines.Count >= 3)
        {
            var margin = layout["margin"] as JsonObject ?? [];
            var top = Number(margin["t"]) ?? 100;
            var needed = Math.Max(top, 60 + 44 * (lines.Count - 1));
            margin["t"] = needed;
            layout["margin"] = margin;
            if (Number(layout["height"]) is { } height) layout["height"] = height + needed - top;
        }
    }

    /// <summary>Space kept free on each side of a wrapped title, in px.</summary>
    const double TitlePadding = 20;

    /// <summary>The title's font size in px: its own, else 1.4 × the layout's font size (12 unless set), as plotly.js
    /// sizes it.</summary>
    static double TitleFontSize(JsonObject layout) =>
        Number((layout["title"] as JsonObject)?["font"]?["size"]) ?? Math.Round(1.4 * (Number(layout["font"]?["size"]) ?? 12));

    /// <summary>A JSON number as a double (however the node holds it: parsed, or a boxed int from Charts), else null.</summary>
    static double? Number(JsonNode? node) =>
        node is JsonValue v && double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x : null;

    /// <summary><paramref name="title"/> in lines of at most <paramref name="width"/> px at <paramref name="fontSize"/>,
    /// broken between words (a word longer than a line, between its characters); a <c>&lt;br&gt;</c> already in it
    /// stays a break. Widths are estimated (<see cref="EmWidth"/>), a little wider than DejaVu Sans, the widest of the
    /// fonts plotly.js asks for ("Open Sans", verdana, arial, sans-serif), so a line fits in any of them.</summary>
    internal static IReadOnlyList<string> TitleLines(string title, double width, double fontSize)
    {
        var em = Math.Max(width / fontSize, 1);
        var lines = new List<string>();
        foreach (var given in Regex.Split(title, "<br */?>", RegexOptions.IgnoreCase))
        {
            var line = "";
            foreach (var word in Words(given))
            {
                var joined = line.Length == 0 ? word : line + " " + word;
                if (EmWidth(joined) <= em) { line = joined; continue; }
                if (line.Length > 0) lines.Add(line);
                line = word;
                // A word wider than a line (a path, a long name) is cut where it must be: it would be clipped whole.
                while (EmWidth(line) > em && Cut(line, em) is var cut && cut < line.Length)
                {
                    lines.Add(line[..cut]);
                    line = line[cut..];
                }
            }
            lines.Add(line);
        }
        return lines;
    }

    /// <summary>The words of <paramref name="text"/>, split at spaces outside tags (plotly.js reads &lt;b&gt;,
    /// &lt;a href="..."&gt; and the like in a title).</summary>
    static IEnumerable<string> Words(string text)
    {
        var word = new StringBuilder();
        var inTag = false;
        foreach (var c in text)
        {
            inTag = c == '<' || (inTag && c != '>');
            if (c == ' ' && !inTag)
            {
                if (word.Length > 0) yield return word.ToString();
                word.Clear();
            }
            else word.Append(c);
        }
        if (word.Length > 0) yield return word.ToString();
    }

    /// <summary>The longest start of <paramref name="word"/> at most <paramref name="em"/> wide, outside a tag; at least
    /// one character.</summary>
    static int Cut(string word, double em)
    {
        var cut = 1;
        for (var i = 2; i < word.Length && EmWidth(word[..i]) <= em; i++)
            if (word.LastIndexOf('<', i - 1) <= word.LastIndexOf('>', i - 1)) cut = i;
        return cut;
    }

    /// <summary>The width of <paramref name="text"/> in em, tags left out: 0.4 for narrow characters (space, i, l, t,
    /// punctuation), 1.0 for m, w, M, W, @ and %, 0.8 for other capitals, symbols and anything beyond ASCII, 0.65 for
    /// the rest (DejaVu Sans measures 0.28-0.46, 0.82-1.0, 0.58-0.84 and 0.52-0.64).</summary>
    internal static double EmWidth(string text)
    {
        double em = 0;
        var inTag = false;
        foreach (var c in text)
        {
            if (c == '<') inTag = true;
            if (inTag) { inTag = c != '>'; continue; }
            em += c switch
            {
                ' ' or '!' or '"' or '\'' or '(' or ')' or ',' or '-' or '.' or '/' or ':' or ';' or '[' or '\\' or ']' or '`' or '|'
                    or 'f' or 'i' or 'j' or 'l' or 'r' or 't' or 'I' or 'J' => 0.4,
                'm' or 'w' or 'M' or 'W' or '@' or '%' => 1.0,
                >= 'A' and <= 'Z' or '#' or '+' or '=' or '>' or '^' or '~' or '&' or > '~' => 0.8,
                _ => 0.65,
            };
        }
        return em;
    }

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
    public static bool IsChartScript(string id, string script) => FigureJson(id, script) is not null;

    /// <summary>The <c>type</c> of each trace a chart script of <see cref="ToHtml"/> draws (its figure's <c>data</c>; the
    /// layout's template, where Plotly.NET lists a styled trace of every type, draws none); empty for any other script.</summary>
    public static IReadOnlyList<string> TraceTypes(string id, string script)
    {
        if (FigureJson(id, script) is not { } json) return [];
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array
            ? [.. data.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.Object && t.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                ? type.GetString()! : "scatter")] // plotly.js's default trace type
            : [];
    }

    /// <summary>The figure JSON of a chart script <see cref="ToHtml"/> writes, or null when the script is anything else.</summary>
    static string? FigureJson(string id, string script)
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
            if (json.Contains("</", StringComparison.Ordinal) || json.Contains("<!--", StringComparison.Ordinal)) return null;
            try
            {
                // Valid JSON is an inert JavaScript expression: data, never code.
                using var _ = JsonDocument.Parse(json);
                return json;
            }
            catch (JsonException) { return null; }
        }
        return null;
    }

    /// <summary>Restarts the element ids (each notebook run starts from 1, so reruns give identical outputs).</summary>
    public static void ResetIds() => Interlocked.Exchange(ref counter, 0);

    public override string ToString() => $"Plotly chart ({Traces.Count} traces)";

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };
}
