using System.Globalization;
using System.Text;

namespace Distill.Notebooks.Reports;

/// <summary>
/// <c>reports/index.html</c>: one offline page (no scripts, no CDN, inline CSS) with the environment, each notebook's
/// status, duration and links to its report, and the results table. Every piece of text is HTML-escaped; links are
/// relative to the page and percent-encoded, so the folder can be moved or zipped whole.
/// </summary>
public static class IndexPage
{
    public static void Write(ReproductionResult r)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(r.Files.Index)!);
        Distill.Training.AtomicFile.WriteAllText(r.Files.Index, Render(r));
    }

    /// <summary>Nothing fetched, no script run: the page is text, inline CSS and links.</summary>
    public const string Csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'";

    public static string Render(ReproductionResult r)
    {
        var root = Path.GetDirectoryName(r.Files.Index)!;
        var sb = new StringBuilder();
        void Line(string html) => sb.Append(html).Append('\n');
        // No script of any kind belongs on this page: a policy that allows none, as every notebook's report has one.
        Line("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"" + Csp + "\">");
        Line($"<title>distill reproduce · {Enc(r.Budget ?? "default budget")} · {Enc(r.Started.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))}</title>");
        Line($"<style>{Css}</style>\n</head>\n<body>\n<header>\n<h1>Reproduction report</h1>");
        var cls = r.ExitCode == 0 ? "ok" : "failed";
        Line($"<p class=\"status {cls}\">{Enc(r.Tally)} · total wall time {Enc(Reproduction.Seconds(r.Duration))}</p>");

        var e = r.Environment;
        Line("<table class=\"facts\">");
        void Fact(string k, string v) => Line($"<tr><th>{Enc(k)}</th><td>{Enc(v)}</td></tr>");
        Fact("date", r.Started.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture));
        Fact("git commit", e.CommitText);
        Fact("budget", r.Budget ?? "each notebook's default");
        Fact("parameters", r.Parameters.Count == 0 ? "none" : string.Join(", ", r.Parameters.Select(p => $"{p.Key} = {p.Value}")));
        Fact("seeds", r.Seeds.Count == 0 ? "not recorded" : string.Join("; ", r.Seeds));
        Fact("machine", $"{e.Machine} · {e.Os}");
        Fact("CPU", $"{e.Cpu} · {r.Cpu.Describe(e.Cores)} · {r.ThreadsText}");
        Fact("versions", $"{e.DotNet} · TorchSharp {e.TorchSharp} · libtorch {e.LibTorch}");
        Fact("notebooks", Path.GetFullPath(r.NotebooksDirectory));
        Line("</table>\n</header>\n<main>");

        Line("<h2>Notebooks</h2>\n<table class=\"grid notebooks\">\n<thead><tr><th>notebook</th><th>status</th><th>duration</th><th>results</th><th>files</th></tr></thead>\n<tbody>");
        foreach (var n in r.Notebooks)
        {
            var status = n.Status.ToString().ToLowerInvariant();
            var html = n.Run?.Files.Html;
            var title = html is not null && File.Exists(html) ? $"<a href=\"{Href(root, html)}\">{Enc(n.Name)}</a>" : Enc(n.Name);
            var files = new List<string>();
            if (n.Run is { } run)
            {
                files.Add(Link(root, run.Files.Notebook, ".ipynb"));
                files.Add(Link(root, run.Files.Manifest, "manifest"));
            }
            if (n.ResultsFile is not null) files.Add(Link(root, n.ResultsFile, Reproduction.ResultsFileName));
            if (n.KeptEarlier is not null && File.Exists(Path.Combine(n.KeptEarlier, n.Name + ".html")))
                files.Add(Link(root, Path.Combine(n.KeptEarlier, n.Name + ".html"), "last successful report"));
            var detail = n.Message is not null && n.Status is not (OutcomeStatus.Error or OutcomeStatus.NotRun) ? $"<div class=\"note\">{Enc(n.Message)}</div>" : "";
            Line($"<tr class=\"{status}\"><td>{title}</td><td class=\"status\">{Enc(n.StatusText)}{detail}</td>" +
                 $"<td class=\"num\">{(n.Status == OutcomeStatus.NotRun && n.Run is null ? "" : Enc(Reproduction.Seconds(n.Duration)))}</td>" +
                 $"<td class=\"num\">{(n.Rows.Count == 0 ? "" : n.Rows.Count.ToString(CultureInfo.InvariantCulture))}</td><td>{string.Join(" · ", files)}</td></tr>");
        }
        Line("</tbody>\n</table>");

        Line("<h2>Results</h2>");
        if (!r.Rows.Any())
            Line("<p class=\"empty\">No notebook recorded a result row (Distill.Reporting.Results.Record).</p>");
        else
        {
            Line("<table class=\"grid results\">\n<thead><tr><th>notebook</th><th>paper</th><th>claim</th><th>our setting</th><th>metric</th>" +
                 "<th>ours (mean ± std, seeds)</th><th>paper</th><th>verdict</th><th>budget</th></tr></thead>\n<tbody>");
            foreach (var (n, row) in r.Rows)
                Line($"<tr><td>{Enc(n.Name)}</td><td>{Enc(row.Paper)}</td><td>{Enc(row.Claim)}</td><td>{Enc(row.Setting)}</td><td>{Enc(row.Metric)}</td>" +
                     $"<td class=\"num\">{Enc(string.Create(CultureInfo.InvariantCulture, $"{row.Ours:F2} ± {row.OursStd:F2} ({row.Seeds})"))}</td>" +
                     $"<td>{Enc(row.PaperValue)}</td><td>{Enc(row.VerdictText)}</td><td>{Enc(row.Budget)}</td></tr>");
            Line("</tbody>\n</table>");
        }
        Line($"<p class=\"files\">Also: {Link(root, r.Files.ResultsMarkdown, "results.md")} · {Link(root, r.Files.ResultsJson, "results.json")}</p>");
        Line("</main>\n</body>\n</html>");
        return sb.ToString();
    }

    /// <summary>A relative link to <paramref name="path"/>.</summary>
    static string Link(string root, string path, string text) =>
        $"<a href=\"{Href(root, path)}\">{Enc(text)}</a>";

    /// <summary>Relative to the index page, each segment percent-encoded (names may hold spaces, #, %).</summary>
    static string Href(string root, string path) =>
        Enc(string.Join('/', Path.GetRelativePath(root, path).Split(Path.DirectorySeparatorChar).Select(Uri.EscapeDataString)));

    /// <summary>Escapes the five HTML-special characters only (WebUtility would also turn ± and · into entities), after
    /// dropping terminal sequences and control characters a failed cell's message may carry.</summary>
    static string Enc(string s) => TerminalText.Printable(s).Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&quot;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);

    const string Css = """

        body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #1f2328; }
        h1 { margin-bottom: .2em; }
        .status.ok { color: #1a7f37; font-weight: 600; } p.status.failed { color: #cf222e; font-weight: 600; }
        table.facts { border-collapse: collapse; font-size: 13px; margin-bottom: 1.5em; }
        table.facts th { text-align: left; padding: 2px 1em 2px 0; color: #59636e; font-weight: 500; vertical-align: top; }
        table.grid { border-collapse: collapse; font-size: 13px; width: 100%; }
        table.grid th, table.grid td { border: 1px solid #d1d9e0; padding: 3px 8px; text-align: left; vertical-align: top; }
        table.grid thead th { background: #f6f8fa; }
        td.num { text-align: right; white-space: nowrap; }
        table.results td:first-child { white-space: nowrap; }
        tr.failed td.status, tr.timedout td.status, tr.error td.status, tr.interrupted td.status { color: #cf222e; white-space: pre-wrap; word-break: break-word; }
        tr.ok td.status { color: #1a7f37; }
        tr.notrun { color: #59636e; }
        .note { color: #59636e; font-size: 12px; }
        .empty, .files { color: #59636e; }

        """;
}
