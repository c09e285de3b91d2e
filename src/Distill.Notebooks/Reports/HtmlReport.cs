using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using Distill.Notebooks.Documents;
using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using static Distill.TerminalText;

namespace Distill.Notebooks.Reports;

/// <summary>
/// The single-file HTML report of a run: a header with the facts needed to trust it (notebook, date, duration, budget,
/// parameters, git commit and dirty flag, machine, .NET / TorchSharp / libtorch versions), rendered markdown, code cells
/// with timings and their outputs. It works offline: plotly.js (from Plotly.NET's embedded resource) is inlined once,
/// and only when an output is one of the library's charts. Text outputs are HTML-escaped; only formatter HTML (text/html) goes in raw.
/// </summary>
public static partial class HtmlReport
{
    static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseAdvancedExtensions().Build();

    /// <summary>Writes the report; <paramref name="warn"/> hears of each markdown image it did not embed (<see cref="InlineImage"/>).</summary>
    public static void Write(NotebookRunResult r, string path, bool trusted = false, Action<string>? warn = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, Render(r, trusted, warn), new UTF8Encoding(false));
    }

    [GeneratedRegex(@"<div id=""(?<id>distill-plotly-[0-9a-f]{8}-\d+)"" class=""distill-plotly""></div>\s*<script type=""text/javascript"">(?<js>.*?)(?i:</script)>", RegexOptions.Singleline)]
    private static partial Regex ChartScript();

    /// <summary>The charts in <paramref name="html"/> whose script is the library's own (<see cref="Distill.Reporting.Figure.IsChartScript"/>).</summary>
    static IEnumerable<Match> Charts(string html) =>
        ChartScript().Matches(html).Where(m => Distill.Reporting.Figure.IsChartScript(m.Groups["id"].Value, m.Groups["js"].Value));

    /// <summary>
    /// Raw HTML from a notebook nobody has trusted (its markdown, its HTML outputs), made inert: scripts, event handlers,
    /// frames, forms, <c>javascript:</c> URLs and the like are removed by a whitelist sanitiser; only the library's own
    /// charts are kept whole. The CSP would stop their scripts anyway: this is the second wall, and it also stops what a
    /// CSP does not (a form posting away, a meta refresh).
    /// </summary>
    static string Sanitise(string html)
    {
        var sb = new StringBuilder();
        int at = 0;
        foreach (var chart in Charts(html))
        {
            sb.Append(Sanitiser.Value.Sanitize(html[at..chart.Index])).Append(chart.Value);
            at = chart.Index + chart.Length;
        }
        return sb.Append(Sanitiser.Value.Sanitize(html[at..])).ToString();
    }

    /// <summary>Removed tags whose content is for a program, not a reader: dropped with it, not shown as text.</summary>
    static readonly HashSet<string> DroppedWhole = ["script", "style", "template", "noscript", "iframe", "frame", "frameset", "object", "embed", "applet",
        "title", "head", "textarea", "select", "option", "optgroup", "datalist", "noembed", "noframes", "xmp", "plaintext", "canvas",
        // A drawing's text (an inline chart's tick labels) as loose words would be noise: an untrusted SVG shows as an <img> instead.
        "svg", "math"];

    static readonly Lazy<Ganss.Xss.HtmlSanitizer> Sanitiser = new(() =>
    {
        // A removed tag keeps its text, as Jupyter's sanitiser does: `List<int>` in a markdown cell is an unknown <int>
        // element to the parser, and everything after it in the paragraph went with it ("use List<int> for ..." showed
        // "use List"). What a removed tag holds only for a program (a script's code, a style sheet, a frame's fallback)
        // goes with it.
        var s = new Ganss.Xss.HtmlSanitizer { KeepChildNodes = true };
        s.RemovingTag += (_, e) =>
        {
            if (e.Tag.Parent is null) { e.Cancel = true; return; } // a child of a tag already dropped whole (its own children are detached with it)
            var name = e.Tag.LocalName.ToLowerInvariant();
            if (DroppedWhole.Contains(name)) { e.Tag.TextContent = ""; return; }
            // Markdig's task list items: a disabled checkbox is state, not a form; shown as the character.
            if (name == "input" && string.Equals(e.Tag.GetAttribute("type"), "checkbox", StringComparison.OrdinalIgnoreCase))
            {
                e.Tag.Replace(e.Tag.Owner!.CreateTextNode(e.Tag.HasAttribute("checked") ? "☑" : "☐"));
                e.Cancel = true;
            }
        };
        foreach (var tag in new[] { "form", "input", "button", "select", "textarea", "option", "optgroup", "fieldset", "legend", "label" })
            s.AllowedTags.Remove(tag);
        s.AllowedSchemes.Add("data"); // inline images; a data: URL cannot navigate the page
        s.AllowedAttributes.Add("class");
        s.AllowedAttributes.Add("id");
        // An output must stay in its cell: positioned or stacked over the page, it could cover the report's own status
        // header ("all succeeded") with its own. What CSS is left (a negative margin, an opacity that stacks it over what
        // came before) is held in the cell's box by the page's style: every cell and output paints inside its own box
        // (`contain: paint`, which also clips fixed and absolute descendants, and `isolation`), see Css.
        foreach (var property in new[] { "position", "z-index", "transform", "translate" }) s.AllowedCssProperties.Remove(property);
        return s;
    });

    [GeneratedRegex(@"<script\b[^>]*>(?<js>.*?)</script>", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex AnyScript();

    /// <summary>A script element as a browser ends it: at "&lt;/script" followed by a space, / or &gt; (`&lt;/script &gt;`
    /// ends one too), or at the end of the text when it is never closed.</summary>
    [GeneratedRegex(@"<script\b[^>]*>.*?(?:</script[\t\n\f\r />][^>]*>?|\z)", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex ScriptElement();

    /// <summary>
    /// The page's Content-Security-Policy: nothing is fetched, and the only scripts that run are the ones listed by hash:
    /// the inlined plotly.js and the library's own chart scripts (<see cref="Charts"/>); with <paramref name="trusted"/>,
    /// also every other script in the cells' outputs. Scripts in markdown never run; an untrusted notebook's other
    /// scripts are also sanitised away (<see cref="Sanitise"/>), as Jupyter shows an untrusted notebook's HTML but runs
    /// none of its scripts.
    /// </summary>
    static string Csp(bool plotlyInlined, bool trusted, string outputs)
    {
        var allowed = new List<string>();
        if (plotlyInlined) allowed.Add(PlotlyJs.Value);
        if (trusted) allowed.AddRange(AnyScript().Matches(outputs).Select(m => m.Groups["js"].Value));
        else allowed.AddRange(Charts(outputs).Select(m => m.Groups["js"].Value));
        var hashes = allowed.Distinct().Select(js => $"'sha256-{Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(js)))}'");
        return "default-src 'none'; img-src data: blob:; font-src data:; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; script-src " +
               (allowed.Count == 0 ? "'none'" : string.Join(" ", hashes));
    }

    public static string Render(NotebookRunResult r, bool trusted = false, Action<string>? warn = null)
    {
        // Each cell rendered once; the code cells' part is kept apart for the CSP (markdown's scripts never run, and a
        // #!markdown code cell is markdown too).
        var body = new StringBuilder();
        var outputs = new StringBuilder();
        var folder = Path.GetDirectoryName(Path.GetFullPath(r.SourcePath))!;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in r.Cells)
        {
            var cell = new StringBuilder();
            RenderCell(cell, c, trusted, folder, warn, ids);
            body.Append(cell);
            if (c.Cell.Kind == CellKind.Code && c.Cell.Kernel != KernelNames.Markdown) outputs.Append(cell);
        }
        var html = body.ToString();
        // plotly.js (3.5 MB) only for the outputs that are charts: the class name in markdown, code or a stream's text is
        // not one.
        bool charts = Charts(outputs.ToString()).Any();
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"CSP_PLACEHOLDER\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<title>{Enc(r.Notebook.Name)} · distill run</title>\n<style>{Css}</style>\n");
        if (charts) sb.Append("<script type=\"text/javascript\">").Append(PlotlyJs.Value).Append("</script>\n");
        sb.Append("</head>\n<body>\n");
        RenderHeader(sb, r);
        sb.Append("<main>\n").Append(html).Append("</main>\n</body>\n</html>\n");
        var page = sb.ToString();
        // The placeholder is in the page's own head, before any cell, so the first occurrence is ours.
        var i = page.IndexOf("CSP_PLACEHOLDER", StringComparison.Ordinal);
        return page[..i] + Enc(Csp(charts, trusted, outputs.ToString())) + page[(i + "CSP_PLACEHOLDER".Length)..];
    }

    /// <summary>CommonMark with pipe tables and nothing else: the page's text comes from specs and run errors, and the
    /// advanced extensions made links of https:// and www. in it, and style attributes of {style=...}.</summary>
    static readonly MarkdownPipeline SafeMarkdown = new MarkdownPipelineBuilder().UsePipeTables().DisableHtml().Build();

    /// <summary>
    /// A standalone offline page from markdown (raw HTML in it is shown as text: it may quote file contents and error
    /// messages) and figures, with the notebook report's style, CSP and inlined plotly.js: sweep reports.
    /// </summary>
    public static string Page(string title, string markdown, IEnumerable<Distill.Reporting.Figure> figures)
    {
        var charts = string.Concat(figures.Select(f => Distill.Reporting.Figure.WithoutCdnFallback(f.ToHtml())));
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<meta http-equiv=\"Content-Security-Policy\" content=\"{Enc(Csp(charts.Length > 0, false, charts))}\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<title>{Enc(title)}</title>\n<style>{Css}</style>\n");
        if (charts.Length > 0) sb.Append("<script type=\"text/javascript\">").Append(PlotlyJs.Value).Append("</script>\n");
        sb.Append("</head>\n<body>\n<main>\n").Append(Markdig.Markdown.ToHtml(markdown, SafeMarkdown)).Append(charts).Append("</main>\n</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>plotly.js as shipped inside Plotly.NET (no CDN, no npm copy). "&lt;/script" cannot appear inside a script
    /// element, so it is escaped.</summary>
    static readonly Lazy<string> PlotlyJs = new(() =>
    {
        var asm = typeof(Plotly.NET.GenericChart).Assembly;
        var name = asm.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith(".min.js", StringComparison.Ordinal) && n.Contains("plotly", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"{asm.GetName().Name} {asm.GetName().Version} carries no plotly.js resource; charts cannot be inlined");
        using var s = asm.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(s, Encoding.UTF8);
        return reader.ReadToEnd().Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase);
    });

    static void RenderHeader(StringBuilder sb, NotebookRunResult r)
    {
        var e = r.Environment;
        var status = r.Status switch
        {
            RunStatus.Succeeded => "succeeded",
            RunStatus.Failed => $"failed: {r.Failures[0]}",
            RunStatus.TimedOut => $"timed out: {r.Failures[^1]}",
            RunStatus.Died => $"died: {r.Failures[^1]}",
            _ => "interrupted (Ctrl-C or SIGTERM): partial results",
        };
        sb.Append(CultureInfo.InvariantCulture, $"<header>\n<h1>{Enc(r.Notebook.Name)}</h1>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<p class=\"status {r.Status.ToString().ToLowerInvariant()}\">{Enc(status)}</p>\n<table class=\"facts\">\n");
        void Row(string k, string v) => sb.Append(CultureInfo.InvariantCulture, $"<tr><th>{Enc(k)}</th><td>{Enc(v)}</td></tr>\n");
        Row("notebook", r.SourcePath);
        Row("date", r.Started.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture));
        Row("duration", string.Create(CultureInfo.InvariantCulture, $"{r.Duration.TotalSeconds:0.0} s"));
        Row("budget", r.Budget ?? "notebook default");
        Row("parameters", r.Parameters.Count == 0 ? "none" : string.Join(", ", r.Parameters.Select(p => $"{p.Key} = {p.Value}")));
        Row("git commit", e.CommitText);
        Row("machine", $"{e.Machine} · {e.Cpu} · {e.Cores} cores · {e.Os}");
        Row("versions", $"{e.DotNet} · TorchSharp {e.TorchSharp} · libtorch {e.LibTorch} · {NumberText.Count(e.TorchThreads, "torch thread")}");
        sb.Append("</table>\n</header>\n");
    }

    static void RenderCell(StringBuilder sb, CellRunResult c, bool trusted, string folder, Action<string>? warn, HashSet<string> ids)
    {
        var cell = c.Cell;
        if (cell.Kind == CellKind.Markdown || cell.Kernel == KernelNames.Markdown)
        {
            // A #!markdown code cell's output is this same markdown rendered (KernelMarkdown): shown once, here, sanitised.
            var text = cell.Kind == CellKind.Markdown ? cell.Source : KernelCellText(cell);
            var html = UniqueIds(MarkdownHtml(text, trusted, url => InlineImage(url, cell, folder, warn)), ids);
            sb.Append("<section class=\"cell markdown\">\n").Append(html).Append("</section>\n");
            return;
        }
        if (cell.Kind == CellKind.Raw)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<section class=\"cell raw\"><pre>{Enc(cell.Source)}</pre></section>\n");
            return;
        }
        var cls = c.Status switch
        {
            CellStatus.Failed or CellStatus.TimedOut or CellStatus.Interrupted => " failed",
            CellStatus.NotRun => " not-run",
            _ => "",
        };
        var timing = c.Status switch
        {
            CellStatus.NotRun => "not run",
            CellStatus.Skipped => "",
            _ => string.Create(CultureInfo.InvariantCulture, $"{c.Duration.TotalSeconds:0.00} s"),
        };
        var tags = cell.Tags.Count == 0 ? "" : " · " + string.Join(" ", cell.Tags.Select(t => $"#{t}"));
        sb.Append(CultureInfo.InvariantCulture, $"<section class=\"cell code{cls}\">\n<div class=\"prompt\">[{cell.ExecutionCount?.ToString(CultureInfo.InvariantCulture) ?? " "}] {Enc(cell.Label)}{Enc(tags)} <span class=\"time\">{timing}</span></div>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<pre class=\"source\"><code class=\"language-csharp\">{Enc(cell.Source)}</code></pre>\n");
        if (cell.Outputs.Count > 0)
        {
            sb.Append("<div class=\"outputs\">\n");
            foreach (var o in cell.Outputs) RenderOutput(sb, o, trusted, w => warn?.Invoke($"{cell.Label}: {w}"));
            sb.Append("</div>\n");
        }
        sb.Append("</section>\n");
    }

    /// <summary>Markdig makes a cell's heading and footnote ids unique within the cell; on one page two cells' "## Results"
    /// or [^1] had one id, and the second cell's links went to the first's. An id seen in an earlier cell gets a suffix
    /// (results-1), and this cell's links to it follow.</summary>
    static string UniqueIds(string html, HashSet<string> used)
    {
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        html = IdAttribute().Replace(html, m =>
        {
            var id = m.Groups["id"].Value;
            var unique = id;
            for (var n = 1; !used.Add(unique); n++) unique = $"{id}-{n}";
            if (unique == id) return m.Value;
            renamed[id] = unique;
            return $" id=\"{unique}\"";
        });
        return renamed.Count == 0 ? html : AnchorLink().Replace(html, m => renamed.TryGetValue(m.Groups["id"].Value, out var to) ? $" href=\"#{to}\"" : m.Value);
    }

    // Inside a tag only: the sanitiser writes text with literal quotes, so prose or code reading id="x" is not an id.
    [GeneratedRegex(@"(?<=<[A-Za-z][^<>]*) id=""(?<id>[^""<>]*)""")]
    private static partial Regex IdAttribute();

    [GeneratedRegex(@"(?<=<[A-Za-z][^<>]*) href=""#(?<id>[^""<>]*)""")]
    private static partial Regex AnchorLink();

    /// <summary>A code cell's text below its kernel selector (<c>#!markdown</c>, <c>#!html</c>; <see cref="NotebookCell.BodyStart"/>):
    /// what the kernel it names is given. A cell without one (its kernel from metadata, a .dib cell) is given whole.</summary>
    internal static string KernelCellText(NotebookCell cell) => string.Join('\n', cell.Source.Split('\n').Skip(cell.BodyStart));

    /// <summary>What the kernel's markdown kernel shows for a <c>#!markdown</c> code cell: the markdown as HTML, with this
    /// report's pipeline (e.g. <c># hi</c> gives <c>&lt;h1 id="hi"&gt;hi&lt;/h1&gt;</c>, as in the kernel). Goes into the
    /// .ipynb unchanged; the report shows the cell as its markdown instead (<see cref="RenderCell"/>).</summary>
    internal static string KernelMarkdown(string markdown) => Markdig.Markdown.ToHtml(markdown, Markdown);

    static string MarkdownHtml(string markdown, bool trusted, Func<string, string?>? image = null)
    {
        var document = Markdig.Markdown.Parse(Printable(markdown), Markdown);
        // Each URL's answer, data: URL or null, so that an image linked twice is looked at (and warned of) once.
        var done = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (image is not null)
            foreach (var link in document.Descendants<LinkInline>().Where(l => l.IsImage && l.Url is not null))
            {
                if (!done.TryGetValue(link.Url!, out var data)) done[link.Url!] = data = image(link.Url!);
                if (data is not null) link.Url = data;
            }
        // Markdig's math (kept on so that `_` and `*` inside $…$ are not read as emphasis) writes \(…\) and \[…\] for a
        // script to typeset; the report is offline and has none, so the TeX shows as the author wrote it.
        foreach (var math in document.Descendants<Markdig.Extensions.Mathematics.MathInline>().ToList())
        {
            var fence = new string(math.Delimiter, math.DelimiterCount);
            math.ReplaceBy(new LiteralInline(fence + math.Content.ToString() + fence));
        }
        var html = MathBlock().Replace(document.ToHtml(Markdown), m => m.Groups["open"].Value + "$$" + m.Groups["tex"].Value + "$$" + m.Groups["close"].Value);
        if (image is not null) html = HtmlImages(html, done, image);
        // Trusted or not, markdown's scripts never run: a trusted run lists its outputs' scripts in the CSP by hash, and a
        // markdown copy of one of them ran with it.
        return trusted ? ScriptElement().Replace(html, "") : Sanitise(html);
    }

    /// <summary>The author's own HTML images (<c>&lt;img src="x.png" width=50&gt;</c>, how Jupyter users size one) through
    /// the same <paramref name="image"/> as markdown's: they showed broken (the page shows data: images only), with no
    /// warning. A URL markdown gave already (<paramref name="done"/>, as written or escaped) takes its answer again,
    /// not a second warning: it was skipped, and an HTML image of a path a markdown image also used stayed a broken
    /// link. Text in code is escaped by then (&amp;lt;img), so only real tags match.</summary>
    static string HtmlImages(string html, Dictionary<string, string?> done, Func<string, string?> image) =>
        ImageSource().Replace(html, m =>
        {
            var url = System.Net.WebUtility.HtmlDecode(m.Groups["url"].Value);
            if (!done.TryGetValue(url, out var data) && !done.TryGetValue(Uri.UnescapeDataString(url), out data)) done[url] = data = image(url);
            if (data is null) return m.Value;
            var src = m.Groups["src"];
            return string.Concat(m.Value.AsSpan(0, src.Index - m.Index), $"src=\"{data}\"", m.Value.AsSpan(src.Index + src.Length - m.Index));
        });

    [GeneratedRegex(@"<img\b[^>]*?(?<src>\bsrc\s*=\s*(?:""(?<url>[^""]*)""|'(?<url>[^']*)'|(?<url>[^\s""'>]+)))", RegexOptions.IgnoreCase)]
    private static partial Regex ImageSource();

    [GeneratedRegex(@"(?<open><div class=""math"">\s*)\\\[(?<tex>.*?)\\\](?<close>\s*</div>)", RegexOptions.Singleline)]
    private static partial Regex MathBlock();

    /// <summary>Largest image file inlined from beside the notebook: the report is one file, and a photo would swell it.</summary>
    const long MaxInlineImage = 5 << 20;

    /// <summary>
    /// A markdown image as a data: URL, since the page shows only those (offline, and its CSP fetches nothing): a cell
    /// attachment (<c>attachment:NAME</c>, how VS Code and Jupyter keep a pasted image) or an image file at a relative
    /// path from the notebook's folder, as Jupyter and VS Code resolve it. A file is embedded only when, links resolved,
    /// it lies in the notebook's folder or below, and its first bytes are those of the type its extension claims: else a
    /// markdown link (or a link named like an image) would copy any file the runner can read (../secrets, /etc/shadow)
    /// into a report that gets shared. Null leaves the URL as written (a data: URL already is one); every other image
    /// left so shows broken in the report, so <paramref name="warn"/> is told why (a missing file, a remote URL, ...).
    /// </summary>
    static string? InlineImage(string url, NotebookCell cell, string folder, Action<string>? warn)
    {
        string? Refuse(string why)
        {
            warn?.Invoke($"{cell.Label}: image '{url}' is not embedded in the report (its link is kept): {why}");
            return null;
        }
        const string scheme = "attachment:";
        if (url.StartsWith(scheme, StringComparison.Ordinal))
        {
            var name = Uri.UnescapeDataString(url[scheme.Length..]);
            // nbformat 4 keeps attachments as an object of named bundles; a list or text there (another tool's notebook)
            // threw from the indexer after every cell had run, and the report was never written.
            if (cell.Raw["attachments"] is { } attachments && attachments is not JsonObject)
                return Refuse($"the cell's \"attachments\" is {attachments.GetValueKind().ToString().ToLowerInvariant()}, not the object of named images nbformat 4 keeps; paste the image into this cell again");
            return cell.Raw["attachments"]?[name] is JsonObject bundle
                && bundle.Select(kv => (Mime: kv.Key, Data: Base64(kv.Value))).FirstOrDefault(x => x.Mime.StartsWith("image/", StringComparison.Ordinal) && x.Data is not null) is { Data: { } data } found
                ? $"data:{found.Mime};base64,{string.Concat(data.Where(ch => !char.IsWhiteSpace(ch)))}"
                : Refuse($"the cell has no image attachment named '{name}'; paste the image into this cell again");
        }
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase)) return null;
        if (url.Contains(':', StringComparison.Ordinal) || url.StartsWith("//", StringComparison.Ordinal))
            return Refuse("the report loads nothing from a URL (it works offline: its Content-Security-Policy allows data: images only); " +
                          "save the image in the notebook's folder and link it by its relative path");
        if (url.StartsWith('/'))
            return Refuse("an absolute path; images are embedded from a path relative to the notebook's folder: copy it into that folder or below and link it so");
        if (url.StartsWith('#')) return Refuse("a link within the page, not an image file");
        var path = Path.GetFullPath(Path.Combine(folder, Uri.UnescapeDataString(url.Split('?', '#')[0])));
        if (!File.Exists(path))
            return Refuse(Directory.Exists(path) ? $"{path} is a folder" : $"there is no file {path} (links are relative to the notebook's folder); check the name and its extension");
        var type = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => "image/png", ".jpg" or ".jpeg" => "image/jpeg", ".gif" => "image/gif", ".svg" => "image/svg+xml", ".webp" => "image/webp",
            _ => null,
        };
        if (type is null)
            return Refuse($"'{Path.GetExtension(path)}' is not the extension of an image the report embeds (.png, .jpg, .jpeg, .gif, .webp, .svg)");
        if (!FilePaths.IsOrIsInside(path, folder))
            return Refuse($"it is {FilePaths.Canonical(path)}, outside the notebook's folder {FilePaths.Canonical(folder)} (links resolved); copy the image into that folder or below");
        var length = new FileInfo(path).Length;
        if (length == 0) return Refuse("the file is empty");
        if (length > MaxInlineImage)
            return Refuse(string.Create(CultureInfo.InvariantCulture,
                $"it is {length / (double)(1 << 20):0.0} MiB, over the {MaxInlineImage >> 20} MiB the report embeds per image; save it smaller (at the size it is shown)"));
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Refuse($"it cannot be read ({e.Message.TrimEnd('.')}); check the file's permissions");
        }
        if (!LooksLike(type, bytes))
            return Refuse($"its first bytes are not those of an {type} file, as its extension claims; save it as that type, or give it the extension of its type");
        return $"data:{type};base64,{Convert.ToBase64String(bytes)}";
    }

    /// <summary>Whether <paramref name="bytes"/> start as a file of <paramref name="type"/> does: the signature of each
    /// type <see cref="InlineImage"/> embeds; an SVG is text that starts with &lt;svg, an XML declaration, an SVG doctype or a comment.</summary>
    static bool LooksLike(string type, byte[] bytes)
    {
        var b = bytes.AsSpan();
        return type switch
        {
            "image/png" => b.StartsWith<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]),
            "image/jpeg" => b.StartsWith<byte>([0xFF, 0xD8, 0xFF]),
            "image/gif" => b.StartsWith("GIF87a"u8) || b.StartsWith("GIF89a"u8),
            "image/webp" => b.Length >= 12 && b.StartsWith("RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8),
            "image/svg+xml" => SvgStart(b),
            _ => false,
        };
    }

    static bool SvgStart(ReadOnlySpan<byte> b)
    {
        if (b.StartsWith<byte>([0xEF, 0xBB, 0xBF])) b = b[3..]; // a UTF-8 byte-order mark
        while (b.Length > 0 && b[0] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') b = b[1..];
        // Editors also start one with a doctype or a comment; shown through <img>, an SVG runs no script either way.
        return b.StartsWith("<svg"u8) || b.StartsWith("<?xml"u8) || b.StartsWith("<!DOCTYPE svg"u8) || b.StartsWith("<!--"u8);
    }

    /// <summary>An attachment's data: a string, or a list of strings as nbformat allows for any multi-line value.</summary>
    static string? Base64(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonArray a when a.All(x => x is JsonValue xv && xv.TryGetValue<string>(out _)) => string.Concat(a.Select(x => x!.GetValue<string>())),
        _ => null,
    };

    static void RenderOutput(StringBuilder sb, CellOutput o, bool trusted, Action<string> warn)
    {
        switch (o)
        {
            case StreamOutput s:
                sb.Append(CultureInfo.InvariantCulture, $"<pre class=\"stream {Enc(s.Name)}\">{Enc(s.Text.ToString())}</pre>\n");
                break;
            case ErrorOutput e:
                var tb = string.Join("\n", e.Traceback.Select(Printable));
                sb.Append(CultureInfo.InvariantCulture, $"<pre class=\"error\"><b>{Enc(e.EName)}</b>: {Enc(e.EValue)}");
                if (tb.Length > 0 && tb != e.EValue) sb.Append("\n\n").Append(Enc(tb));
                sb.Append("</pre>\n");
                break;
            case DisplayOutput d:
                sb.Append("<div class=\"display\">");
                if (d.Data.TryGetValue("text/html", out var html))
                {
                    // Without terminal sequences and control characters, as a stream's text (TerminalText.Printable).
                    html = Printable(Distill.Reporting.Figure.WithoutCdnFallback(html));
                    sb.Append(trusted ? html : Sanitise(html));
                    // The figure's own traces: Plotly.NET's default layout template lists a styled choropleth (and every
                    // other type) in every chart, which warned of a blank map under each bar chart.
                    if (Charts(html).SelectMany(c => Distill.Reporting.Figure.TraceTypes(c.Groups["id"].Value, c.Groups["js"].Value)).FirstOrDefault(MapTraces.Contains) is { } map)
                        warn($"a {map} chart draws its map from data plotly.js fetches from the network (topojson from cdn.plot.ly, or map " +
                             "tiles), which this offline report does not load, so its map stays blank; the .ipynb shows it in Jupyter or VS Code, online");
                }
                // An untrusted SVG is shown as an image: an <img> never runs the scripts or handlers an SVG may hold.
                else if (d.Data.TryGetValue("image/svg+xml", out var svg))
                    sb.Append(trusted ? Printable(svg) : $"<img src=\"data:image/svg+xml;base64,{Convert.ToBase64String(Encoding.UTF8.GetBytes(svg))}\">");
                else if (d.Data.TryGetValue("image/png", out var png)) sb.Append(CultureInfo.InvariantCulture, $"<img src=\"data:image/png;base64,{Enc(png.Trim())}\">");
                else if (d.Data.TryGetValue("image/jpeg", out var jpg)) sb.Append(CultureInfo.InvariantCulture, $"<img src=\"data:image/jpeg;base64,{Enc(jpg.Trim())}\">");
                else if (d.Data.TryGetValue("text/markdown", out var md)) sb.Append(MarkdownHtml(md, trusted));
                else if (d.Data.TryGetValue("text/plain", out var text)) sb.Append(CultureInfo.InvariantCulture, $"<pre>{Enc(text)}</pre>");
                // Other text (application/json, text/latex, text/csv, ...) as the text it is; it showed as an empty box.
                else if (d.Data.Keys.FirstOrDefault(IsText) is { } mime) sb.Append(CultureInfo.InvariantCulture, $"<pre title=\"{Enc(mime)}\">{Enc(d.Data[mime])}</pre>");
                else if (d.Data.Count > 0) sb.Append(CultureInfo.InvariantCulture, $"<p class=\"not-shown\">(an output of type {Enc(string.Join(", ", d.Data.Keys))}, which this report does not show)</p>");
                sb.Append("</div>\n");
                break;
        }
    }

    static bool IsText(string mime) =>
        mime.StartsWith("text/", StringComparison.OrdinalIgnoreCase) || mime.EndsWith("json", StringComparison.OrdinalIgnoreCase) || mime.EndsWith("+xml", StringComparison.OrdinalIgnoreCase);

    /// <summary>A plotly trace that needs map data: plotly.js fetches its topojson from cdn.plot.ly, which the page's CSP
    /// (and an offline reader) refuses.</summary>
    static readonly HashSet<string> MapTraces = ["scattergeo", "choropleth", "scattermapbox", "choroplethmapbox", "densitymapbox", "scattermap", "choroplethmap", "densitymap"];

    /// <summary>Escaped text, without terminal sequences or control characters (<see cref="TerminalText.Printable"/>).</summary>
    static string Enc(string s) => WebUtility.HtmlEncode(Printable(s));

    const string Css = """

        body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #1f2328; }
        header h1 { margin-bottom: .2em; }
        .status { font-weight: 600; } .status.succeeded { color: #1a7f37; } .status.failed, .status.timedout, .status.interrupted { color: #cf222e; }
        table.facts { border-collapse: collapse; font-size: 13px; margin-bottom: 2em; }
        table.facts th { text-align: left; padding: 2px 1em 2px 0; color: #59636e; font-weight: 500; vertical-align: top; }
        .cell { margin: 1em 0; }
        .cell, .display { contain: paint; isolation: isolate; } /* a cell, and each output, paints only inside its own box */
        .display, .cell.markdown { overflow-x: auto; } /* held in its box, a wide table scrolls there (the .outputs scroller cannot reach it) */
        .cell.code { border-left: 3px solid #d1d9e0; padding-left: .8em; }
        .cell.code.failed { border-left-color: #cf222e; }
        .cell.code.not-run { opacity: .55; }
        .prompt { font: 12px ui-monospace, monospace; color: #59636e; }
        .prompt .time { float: right; }
        pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre-wrap; word-break: break-word; margin: .3em 0; }
        pre.source { background: #f6f8fa; padding: .6em .8em; border-radius: 6px; }
        pre.stream.stderr { background: #fff5f5; }
        pre.error { background: #ffebe9; color: #82071e; padding: .6em .8em; border-radius: 6px; }
        .outputs { padding: .2em 0; overflow-x: auto; }
        table.distill-dataframe { border-collapse: collapse; font-size: 13px; }
        table.distill-dataframe th, table.distill-dataframe td { border: 1px solid #d1d9e0; padding: 2px 8px; text-align: right; }
        .distill-shape { color: #59636e; font-size: 12px; }

        """;
}
