namespace Distill.Notebooks.Tests;

/// <summary>The HTML report in a real browser: plotly.js and our charts run; a script in markdown never runs; a script
/// in an HTML output runs only with <c>--trusted</c>; an untrusted notebook's other ways to run code or leave the page
/// (handlers, <c>javascript:</c> links, frames, forms, a meta refresh, a forged chart) are sanitised away.</summary>
public class ReportTrustTests
{
    /// <summary>The notebook; the untrusted one also carries <see cref="Attacks"/> (trusted, they would be let run: a
    /// meta refresh would leave the page). Its last output would cover the page's header from its place, if it could.</summary>
    static string Notebook(string dir, bool trusted) => TestSupport.WriteNotebook(dir, "trust.ipynb",
        ($"#r \"{Path.Combine(TestSupport.RepoRoot, "artifacts", "bin", "Distill", "debug", "Distill.dll")}\"", null),
        ("Distill.Reporting.Charts.Bars(\"bars\", \"%\", [(\"a\", 1.0), (\"b\", 2.0)])", null),
        ("HTML(\"<p id='out'>output</p><script>document.title = 'output script ran';</script>\")", null),
        ("HTML(" + (trusted ? "\"\"" : Attacks) + ")", null),
        ("HTML(\"<div style='opacity: .99; margin-top: -6000px; min-height: 7000px; background: #fff'><p class='status succeeded'>output says succeeded</p></div>\")", null));

    /// <summary>Each would change the title, leave the page or fetch, if it ran; a forged chart has the id and shape of
    /// ours but a body of its own.</summary>
    const string Attacks = """
        "<img id='img' src='data:,' onerror=\"document.title = 'handler ran'\">" +
        "<a id='js' href='javascript:document.title = &quot;link ran&quot;'>link</a>" +
        "<iframe srcdoc='<script>parent.document.title = &quot;frame ran&quot;</script>'></iframe>" +
        "<svg><animate onbegin=\"document.title = 'svg ran'\" attributeName='x' dur='1s'/></svg>" +
        "<form id='form' action='https://example.invalid/'><button id='submit'>send</button></form>" +
        "<meta http-equiv='refresh' content='0; url=https://example.invalid/'>" +
        "<div id='spoof' style='position: fixed; top: 0; left: 0; z-index: 9999; transform: translateY(-500px); color: red'>all succeeded</div>" +
        "<div id=\"distill-plotly-0123abcd-99\" class=\"distill-plotly\"></div>\n<script type=\"text/javascript\">document.title = 'forged chart ran';</script>"
        """;

    static async Task<(string Title, int Charts, string Html, OfflineBrowser Browser)> Open(TempDir dir, bool trusted)
    {
        var nb = Notebook(dir.Path, trusted);
        // A markdown cell with a script, and one that tries to cover the status header.
        TestSupport.PrependMarkdown(nb, "# Trust\n\n<script>document.title = 'markdown script ran';</script>\n\n<div style='opacity: .99; margin-top: -400px; min-height: 400px; background: #fff'><h1>trust</h1><p class='status succeeded'>markdown says succeeded</p></div>");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Trusted = trusted });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.Contains("Content-Security-Policy", html);
        var browser = await OfflineBrowser.OpenAsync(r.Files.Html!);
        await browser.Page.WaitForFunctionAsync("() => document.querySelector('.distill-plotly svg.main-svg')", null, new() { Timeout = 30_000 });
        return (await browser.Page.TitleAsync(), await browser.Page.Locator(".distill-plotly .plot-container").CountAsync(), html, browser);
    }

    [Fact]
    public async Task Untrusted_output_and_markdown_scripts_do_not_run_and_charts_still_draw()
    {
        using var dir = new TempDir("trust");
        var (title, charts, html, browser) = await Open(dir, trusted: false);
        await using var _ = browser;
        Assert.Equal("trust · distill run", title);
        Assert.Equal(1, charts);
        // The handler, the frame, the form and the refresh are gone from the page; the link is left without its URL.
        var page = browser.Page;
        Assert.Equal(0, await page.Locator("iframe, form, body meta, #img[onerror]").CountAsync());
        Assert.DoesNotContain("javascript:", await page.Locator("#js").GetAttributeAsync("href") ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("document.title = 'forged chart ran'", html, StringComparison.Ordinal); // only the cell's escaped source
        // An output stays in its cell: it cannot be placed over the report's status header (its colour is kept).
        Assert.Equal("static", await page.Locator("#spoof").EvaluateAsync<string>("e => getComputedStyle(e).position"));
        Assert.Equal("none", await page.Locator("#spoof").EvaluateAsync<string>("e => getComputedStyle(e).transform"));
        Assert.Equal("rgb(255, 0, 0)", await page.Locator("#spoof").EvaluateAsync<string>("e => getComputedStyle(e).color"));
        // Nor drawn over it from its own place (a negative margin, with an opacity that stacks it above the header), from
        // markdown or an output: the header's own elements are what the browser finds at their centres.
        Assert.Empty(await page.EvaluateAsync<string[]>(HeaderCovered));
        await page.Locator("#js").ClickAsync();
        await page.WaitForTimeoutAsync(1500);
        Assert.Equal("trust · distill run", await page.TitleAsync());
        Assert.StartsWith("file://", page.Url, StringComparison.Ordinal);
        Assert.Empty(browser.Network);
    }

    /// <summary>The header's elements that something else is painted over, at their centres (empty when none is).</summary>
    const string HeaderCovered = """
        () => [...document.querySelectorAll('header h1, header .status, header th, header td')].filter(e => {
            const r = e.getBoundingClientRect();
            return !e.contains(document.elementFromPoint(r.left + Math.min(r.width / 2, 20), r.top + r.height / 2));
        }).map(e => e.textContent)
        """;

    [Fact]
    public async Task Trusted_output_scripts_run_and_markdown_scripts_still_do_not()
    {
        using var dir = new TempDir("trust");
        var (title, charts, _, browser) = await Open(dir, trusted: true);
        await using var __ = browser;
        Assert.Equal(1, charts);
        Assert.Equal("output script ran", title);
        Assert.Empty(await browser.Page.EvaluateAsync<string[]>(HeaderCovered)); // raw HTML, still painted in its cell
    }
    /// <summary>Held in its cell, an output or a markdown cell wider than the page still scrolls sideways inside it: the last
    /// column of a wide table can be brought into view and is what the browser finds there.</summary>
    [Fact]
    public async Task Wide_outputs_and_markdown_scroll_inside_their_cell()
    {
        using var dir = new TempDir("report-wide");
        var columns = string.Concat(Enumerable.Range(0, 80).Select(i => $"<td>column {i}</td>"));
        var nb = TestSupport.WriteNotebook(dir.Path, "wide.ipynb", ($"display(HTML(\"<table><tr>{columns}<td id='last-out'>last</td></tr></table>\"));", null));
        TestSupport.PrependMarkdown(nb, $"<table><tr>{columns}<td id='last-md'>last</td></tr></table>");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        await using var browser = await OfflineBrowser.OpenAsync(r.Files.Html!);
        foreach (var id in new[] { "last-out", "last-md" })
            Assert.True(await browser.Page.Locator("#" + id).EvaluateAsync<bool>(
                "e => { e.scrollIntoView(); const r = e.getBoundingClientRect(); return e.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); }"), id);
    }

    /// <summary>The script-src hashes of the report's CSP.</summary>
    static string CspOf(string html) => System.Net.WebUtility.HtmlDecode(
        System.Text.RegularExpressions.Regex.Match(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"([^\"]*)\"").Groups[1].Value);

    static string Sha256(string js) => $"'sha256-{Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(js)))}'";

    [Fact]
    public void A_chart_whose_json_ends_its_script_early_is_sanitised()
    {
        // The library's chart with its JSON swapped for a valid JSON string that a browser reads as "</SCRIPT>" then HTML.
        var chart = Distill.Reporting.Charts.Bars("t", "", [("a", 1.0)]).ToHtml();
        var fig = chart.IndexOf("var fig = ", StringComparison.Ordinal) + "var fig = ".Length;
        var end = chart.IndexOf(";\n", fig, StringComparison.Ordinal);
        var forged = chart[..fig] + "{\"x\":\"</SCRIPT><meta http-equiv='refresh' content='0;url=https://example.invalid/'><img src=x onerror='alert(1)'><SCRIPT>\"}" + chart[end..];
        using var dir = new TempDir("trust-forged");
        var nb = TestSupport.WriteNotebook(dir.Path, "forged.ipynb", ($"display(HTML({System.Text.Json.JsonSerializer.Serialize(forged)}));", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.DoesNotContain("<meta http-equiv='refresh'", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("onerror='alert(1)'", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("</SCRIPT>", html, StringComparison.Ordinal);
        // At most plotly.js's own hash (the sanitised container keeps its class): the forged chart's script is not let run.
        Assert.True(CspOf(html).Split("'sha256-").Length <= 2, CspOf(html));
    }

    /// <summary>plotly.js (3.5 MB) is inlined for charts only: the class name of a chart's container written in markdown,
    /// code, a stream or an HTML output that is no chart brings neither the library nor its hash.</summary>
    [Fact]
    public void A_chart_free_notebook_naming_the_chart_class_gets_no_plotly()
    {
        using var dir = new TempDir("report-no-plotly");
        var nb = TestSupport.WriteNotebook(dir.Path, "noplotly.ipynb",
            ("""Console.WriteLine("distill-plotly in a stream"); // and in code""", null),
            ("""HTML("<div class='distill-plotly'>an output, not a chart</div>")""", null));
        TestSupport.PrependMarkdown(nb, "Our charts use the class distill-plotly.");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.Contains("Our charts use the class distill-plotly.", html, StringComparison.Ordinal);
        Assert.DoesNotContain("plotly.js v", html, StringComparison.Ordinal);
        Assert.True(html.Length < 100_000, $"{html.Length} characters");
        Assert.EndsWith("script-src 'none'", CspOf(html), StringComparison.Ordinal);
    }

    /// <summary>HTML outputs and markdown cells lose their terminal sequences and control characters as a
    /// stream's text does (Printable): a page would show them as stray bytes.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Html_and_markdown_lose_control_characters_and_terminal_sequences(bool trusted)
    {
        using var dir = new TempDir("report-controls");
        var nb = TestSupport.WriteNotebook(dir.Path, "controls.ipynb",
            ("""display(HTML("<p>html ctrl \u0001\u001b[31m red\u007f\u0085\u001b]0;title\u0007 end</p>"));""", null));
        TestSupport.PrependMarkdown(nb, "md cell \u0003\u001b[32m green");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Trusted = trusted });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.Contains("<p>html ctrl  red end</p>", html, StringComparison.Ordinal);
        Assert.Contains("md cell  green", html, StringComparison.Ordinal);
        Assert.DoesNotContain(html, c => c is < ' ' and not ('\t' or '\n' or '\r') or >= '\x7f' and <= '\x9f');
    }

    /// <summary>The kernel runs a <c>#!markdown</c> code cell: an execution count and a text/html display of the rendered
    /// markdown (the runner skipped it, so every later count was one off). The report shows it once, sanitised.</summary>
    [Fact]
    public void A_markdown_code_cell_runs_as_in_the_kernel_and_shows_once_sanitised()
    {
        using var dir = new TempDir("trust-mdrun");
        var nb = TestSupport.WriteNotebook(dir.Path, "mdrun.ipynb",
            ("#!markdown\n# hi\nmd body q7x <img src=\"x.png\" onerror=\"alert(1)\">", null),
            ("1+1", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal([1, 2], r.Cells.Select(c => c.ExecutionCount));
        var shown = Assert.IsType<Documents.DisplayOutput>(Assert.Single(r.Cells[0].Outputs));
        Assert.False(shown.IsResult);
        Assert.Equal(["text/html"], shown.Data.Keys);
        Assert.StartsWith("<h1 id=\"hi\">hi</h1>\n<p>md body q7x", shown.Data["text/html"], StringComparison.Ordinal);
        var written = TestSupport.ReadJson(r.Files.Notebook)["cells"]![0]!;
        Assert.Equal(1, written["execution_count"]!.GetValue<int>());
        Assert.Equal("display_data", written["outputs"]![0]!["output_type"]!.GetValue<string>());
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(html, "md body q7x"));
        Assert.DoesNotContain("onerror", html, StringComparison.Ordinal);
        Assert.DoesNotContain("#!markdown", html, StringComparison.Ordinal);
    }

    /// <summary>A <c>#!html</c> cell runs as the kernel's html kernel runs it (checked with nbconvert on the .net-csharp
    /// kernel): an execution count and its text, trimmed, as a text/html display; an empty one shows nothing. The runner
    /// failed every such cell as "a html cell" it could not run. A kernel switch inside fails that cell alone, naming the
    /// line, in either direction.</summary>
    [Fact]
    public void An_html_cell_shows_its_html_as_in_the_kernel()
    {
        using var dir = new TempDir("trust-htmlcell");
        var nb = TestSupport.WriteNotebook(dir.Path, "htmlcell.ipynb",
            ("#!html\n\n<b>bold q9z</b> <img src=\"x.png\" onerror=\"alert(1)\">\nsecond line\n\n", null),
            ("#!html\n", null),
            ("1+1", null),
            ("#!html\n<p>a</p>\n#!csharp\n2+2", null),
            ("var z = 3;\n#!html\n<p>b</p>", null),
            // Blank lines above the selector run nothing in the kernel: an HTML cell there too.
            ("\n#!html\n<i>after a blank line</i>", null),
            // No selector: the kernel reads the magic '#!' (DNI101).
            ("#! html\n<b>x</b>", null),
            // A magic inside, which the kernel runs or fails, was shown as HTML.
            ("#!html\n<p>t</p>\n#!time", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], r.Cells.Select(c => c.ExecutionCount));
        Assert.Equal([CellStatus.Succeeded, CellStatus.Succeeded, CellStatus.Succeeded, CellStatus.Failed, CellStatus.Failed, CellStatus.Succeeded, CellStatus.Failed, CellStatus.Failed],
            r.Cells.Select(c => c.Status));
        Assert.Equal("<i>after a blank line</i>", Assert.IsType<Documents.DisplayOutput>(Assert.Single(r.Cells[5].Outputs)).Data["text/html"]);
        var shown = Assert.IsType<Documents.DisplayOutput>(Assert.Single(r.Cells[0].Outputs));
        Assert.False(shown.IsResult);
        Assert.Equal(["text/html"], shown.Data.Keys);
        Assert.Equal("<b>bold q9z</b> <img src=\"x.png\" onerror=\"alert(1)\">\nsecond line", shown.Data["text/html"]);
        Assert.Empty(r.Cells[1].Outputs);
        const string inside = "is a magic command inside a #!html cell, where the kernel splits the cell or fails; distill run shows a #!html cell whole: put the line in a cell of its own";
        var failures = r.Failures.Select(f => f.ToString()).ToList();
        Assert.Equal(4, failures.Count);
        Assert.Equal($"htmlcell.ipynb: cell 4, line 3: '#!csharp' (line 3) {inside}", failures[0]);
        Assert.Equal("htmlcell.ipynb: cell 5, line 2: line 2 switches to the html kernel ('#!html'); distill run shows HTML from a #!html cell of its own: move the lines from here into one", failures[1]);
        Assert.StartsWith("htmlcell.ipynb: cell 7, line 1: Unknown magic command '#! html' (line 1)", failures[2], StringComparison.Ordinal);
        Assert.Equal($"htmlcell.ipynb: cell 8, line 3: '#!time' (line 3) {inside}", failures[3]);
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.Contains("<b>bold q9z</b>", html, StringComparison.Ordinal); // the output, beside the cell's escaped source
        Assert.DoesNotContain("onerror=\"", html, StringComparison.Ordinal);

        // A .dib HTML cell (its selector is the separator, not its text) is shown whole: its first line was dropped when
        // it began with #!, a magic shown as nothing.
        var dib = Path.Combine(dir.Path, "htmlcell.dib");
        File.WriteAllText(dib, "#!html\n\n#!time\n<i>t</i>\n\n#!html\n\n<u>kept whole</u>\n");
        var d = TestSupport.Run(dib, Path.Combine(dir.Path, "dib"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal([$"htmlcell.dib: cell 1, line 1: '#!time' (line 1) {inside}"], d.Failures.Select(f => f.ToString()));
        Assert.Equal("<u>kept whole</u>", Assert.IsType<Documents.DisplayOutput>(Assert.Single(d.Cells[1].Outputs)).Data["text/html"]);

        // Within --max-output, as any output: a 3 MB HTML cell (or #!markdown cell) was kept whole.
        var big = TestSupport.WriteNotebook(dir.Path, "big.ipynb", ("#!html\n" + new string('x', 3000), null), ("#!markdown\n" + new string('y', 3000), null));
        var capped = TestSupport.Run(big, Path.Combine(dir.Path, "big"), new NotebookRunOptions { MaxOutputChars = 1000 });
        Assert.All(capped.Cells, c => Assert.StartsWith("<pre>… output cut here: ",
            Assert.IsType<Documents.DisplayOutput>(Assert.Single(c.Outputs)).Data["text/html"], StringComparison.Ordinal));
    }

    [Fact]
    public void A_markdown_code_cell_s_script_does_not_run_even_trusted()
    {
        using var dir = new TempDir("trust-mdcell");
        var nb = TestSupport.WriteNotebook(dir.Path, "mdcell.ipynb",
            ("#!markdown\n# md in a code cell\n<script>document.title = 'markdown cell ran';</script>", null),
            ("HTML(\"<script>document.title = 'output ran';</script>\")", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Trusted = true });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var csp = CspOf(File.ReadAllText(r.Files.Html!));
        Assert.DoesNotContain(Sha256("document.title = 'markdown cell ran';"), csp, StringComparison.Ordinal);
        Assert.Contains(Sha256("document.title = 'output ran';"), csp, StringComparison.Ordinal); // the output's script is trusted
    }

    /// <summary>What a sanitiser removes keeps its text, as Jupyter's does: a C# generic in prose (`List&lt;int&gt;`) is an unknown
    /// tag to the HTML parser, and the rest of its paragraph was dropped with it. A script's code and a style sheet go
    /// whole; a task list's checkboxes show as characters; two cells' ids stay apart, each cell's links with its own.</summary>
    [Fact]
    public void Sanitising_keeps_the_text_of_removed_tags_task_boxes_and_one_id_per_heading_across_cells()
    {
        using var dir = new TempDir("report-keep-text");
        var nb = TestSupport.WriteNotebook(dir.Path, "keep.ipynb",
            ("display(HTML(\"<p>Returns Task<int> and List<string> values: TAIL-TEXT</p><style>p { color: red }</style>\"));", null),
            ("\"{\\\"a\\\": 1}\".DisplayAs(\"application/json\")", null));
        TestSupport.PrependMarkdown(nb, "## Results\n\nsecond[^1], and `<div id=\"results\">` as code\n\n[^1]: second note");
        TestSupport.PrependMarkdown(nb, "## Results<T> of the run\n\nuse List<int> for numbers; END-OF-PROSE\n\n- [x] done task\n- [ ] open task\n\n" +
                                        "<script>var secret = 'SCRIPT-BODY';</script>\n\nfirst[^1]\n\n[^1]: first note");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.Contains("use List for numbers; END-OF-PROSE", html, StringComparison.Ordinal);
        Assert.Contains("Returns Task and List values: TAIL-TEXT", html, StringComparison.Ordinal);
        Assert.Contains(">Results of the run</h2>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("SCRIPT-BODY", html.Replace("&#39;SCRIPT-BODY&#39;", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("TAIL-TEXT</p>p { color: red }", html, StringComparison.Ordinal); // not shown as text (the cell's source has it, escaped)
        Assert.DoesNotContain("<style>p { color: red }", html, StringComparison.Ordinal);
        Assert.Matches("☑ ?done task", html);
        Assert.Matches("☐ ?open task", html);
        // Other text types show as text (application/json was an empty box).
        Assert.Contains("{&quot;a&quot;: 1}", html, StringComparison.Ordinal);
        // One id per element on the page; the second cell's footnote link goes to its own note.
        var ids = System.Text.RegularExpressions.Regex.Matches(html, "(?<=<[A-Za-z][^<>]*) id=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Contains("id=\"results\"&gt;</code> as code", html, StringComparison.Ordinal); // text that reads id="..." is not an id
        var second = html[html.IndexOf("second", StringComparison.Ordinal)..];
        var link = System.Text.RegularExpressions.Regex.Match(second, "href=\"#(fn:1[^\"]*)\"").Groups[1].Value;
        Assert.NotEqual("fn:1", link);
        Assert.Contains($" id=\"{link}\">", second, StringComparison.Ordinal);
    }

    /// <summary>A trusted run lists its outputs' scripts in the CSP by hash: a markdown copy of one of them ran too.</summary>
    [Fact]
    public void A_markdown_script_identical_to_a_trusted_outputs_script_is_not_on_the_page()
    {
        using var dir = new TempDir("trust-md-copy");
        var nb = TestSupport.WriteNotebook(dir.Path, "copy.ipynb", ("HTML(\"<script>document.title = 'same script';</script>\")", null));
        // `</script >` ends a script in a browser too.
        TestSupport.PrependMarkdown(nb, "# Copy\n\n<script>document.title = 'same script';</script>\n\nafter\n\n<script>document.title = 'same script';</script >\n\nend");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Trusted = true });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        var markdown = html[html.IndexOf("<section class=\"cell markdown\">", StringComparison.Ordinal)..];
        markdown = markdown[..markdown.IndexOf("</section>", StringComparison.Ordinal)];
        Assert.DoesNotContain("<script", markdown, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("after", markdown, StringComparison.Ordinal);
        Assert.Contains("end", markdown, StringComparison.Ordinal);
        Assert.Contains(Sha256("document.title = 'same script';"), CspOf(html), StringComparison.Ordinal); // the output's still runs
    }

    /// <summary>plotly.js fetches a map trace's topojson from cdn.plot.ly, which the offline page refuses: said, not blank.</summary>
    [Fact]
    public void A_map_chart_output_is_warned_of_as_blank_offline()
    {
        using var dir = new TempDir("report-map");
        var nb = TestSupport.WriteNotebook(dir.Path, "map.ipynb",
            ($"#r \"{Path.Combine(TestSupport.RepoRoot, "artifacts", "bin", "Distill", "debug", "Distill.dll")}\"", null),
            ("new Distill.Reporting.Figure([new System.Text.Json.Nodes.JsonObject { [\"type\"] = \"scattergeo\", [\"lat\"] = new System.Text.Json.Nodes.JsonArray(1.0), [\"lon\"] = new System.Text.Json.Nodes.JsonArray(2.0) }])", null),
            // The same words in plain HTML are no chart: no warning for them.
            ("display(HTML(\"<div>{\\\"type\\\":\\\"choropleth\\\"}</div>\"));", null),
            // Nor in a layout's template, where Plotly.NET's default lists a styled trace of every type in every chart:
            // each of its bar charts was warned of as a blank choropleth.
            ("Distill.Reporting.Figure.FromPlotlyJson(\"{\\\"data\\\":[{\\\"type\\\":\\\"bar\\\",\\\"y\\\":[1,2]}],\\\"layout\\\":{\\\"template\\\":{\\\"data\\\":{\\\"choropleth\\\":[{\\\"type\\\":\\\"choropleth\\\"}]}}}}\")", null));
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Contains("map.ipynb: cell 2: a scattergeo chart draws its map from data plotly.js fetches from the network", log.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("choropleth chart", log.ToString(), StringComparison.Ordinal);
        Assert.Contains(Distill.Reporting.Figure.PlotlyClass, TestSupport.ReadJson(Path.Combine(dir.Path, "out", "map.ipynb"))["cells"]![3]!["outputs"]!.ToJsonString(), StringComparison.Ordinal);
    }

    /// <summary>The sweep page renders collect's Markdown, whose text comes from specs and run errors (escaped as
    /// literal Markdown): the advanced extensions still made links of https:// and www. in it, and a style attribute of
    /// {style=...}. It is CommonMark with pipe tables only.</summary>
    [Fact]
    public void The_sweep_page_makes_no_link_or_attribute_of_a_specs_text()
    {
        var md = "# " + Distill.Reporting.MarkdownText.Literal("x{style=\"position:fixed\"} https://evil.example www.evil.example $x$ ~~y~~") +
                 ": sweep results\n\n| a | n |\n|---|---|\n| b | 1 |\n";
        var html = Distill.Notebooks.Reports.HtmlReport.Page("t", md, []);
        var main = html[html.IndexOf("<main>", StringComparison.Ordinal)..];
        Assert.DoesNotContain("<a ", main, StringComparison.Ordinal);
        Assert.DoesNotContain("style=\"", main, StringComparison.Ordinal); // as text it is style=&quot;
        Assert.DoesNotContain("<del>", main, StringComparison.Ordinal);
        Assert.DoesNotContain("math", main, StringComparison.Ordinal);
        Assert.Contains("<table>", main, StringComparison.Ordinal);
        Assert.Contains("https://evil.example www.evil.example", main, StringComparison.Ordinal);
    }
}
