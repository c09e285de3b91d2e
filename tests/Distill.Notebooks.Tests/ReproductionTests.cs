using System.Net;
using System.Text.RegularExpressions;
using Distill.Reporting;

namespace Distill.Notebooks.Tests;

/// <summary>Three tiny notebooks: one records a result row, one fails (with HTML-special characters in its message),
/// one comes after the failure. Written once, reproduced once; the tests below read what was written.</summary>
public sealed class ReproductionRun : IDisposable
{
    public const string Sentinel = "/nowhere/set-by-the-test.jsonl";
    public const string FailureMessage = "bad <b>value</b> & \"quotes\"";

    readonly TempDir root = new("reproduce");

    public ReproductionRun()
    {
        Notebooks = Path.Combine(Root, "notebooks");
        Directory.CreateDirectory(Notebooks);
        var distill = typeof(ResultRow).Assembly.Location;
        TestSupport.WriteNotebook(Notebooks, "00-records.ipynb",
            ($"#r \"{distill}\"\nusing Distill.Reporting;", null),
            ("var budget = \"quick\";\nvar seed = 7;", ["parameters"]),
            ("Results.Record(new ResultRow(\"Hinton et al. 2015\", \"soft targets <help> & more\", \"MLP | tiny\", \"test acc %\", 97.5, 0.25, 3, \"99.26\", \"reproduced\", budget));\nConsole.WriteLine(\"recorded\");", null));
        TestSupport.WriteNotebook(Notebooks, "01-fails.ipynb",
            ("Console.WriteLine(\"before\");", null),
            ($"var x = 1;\nthrow new InvalidOperationException({Quote(FailureMessage)});", null),
            ("Console.WriteLine(\"never\");", null));
        TestSupport.WriteNotebook(Notebooks, "02-after.ipynb", ("Console.WriteLine($\"after {budget}\");", null));
        File.WriteAllText(Path.Combine(Notebooks, "README.txt"), "not a notebook");

        Out = Path.Combine(Root, "reports");
        Environment.SetEnvironmentVariable(Results.FileVariable, Sentinel);
        try { Result = new Reproduction(Options(Notebooks, Out)).RunAsync().GetAwaiter().GetResult(); }
        finally { VariableAfter = Environment.GetEnvironmentVariable(Results.FileVariable); Environment.SetEnvironmentVariable(Results.FileVariable, null); }
    }

    public static ReproductionOptions Options(string notebooks, string output) => new()
    {
        NotebooksDirectory = notebooks, OutputDirectory = output, Budget = "smoke", PackageCacheDirectory = TestSupport.PackageCache,
    };

    static string Quote(string s) => "\"" + s.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    public string Root => root.Path;
    public string Notebooks { get; }
    public string Out { get; }
    public ReproductionResult Result { get; }
    public string? VariableAfter { get; }
    public string Index => File.ReadAllText(Result.Files.Index);

    public void Dispose() => root.Dispose();
}

public partial class ReproductionTests(ReproductionRun run) : IClassFixture<ReproductionRun>
{
    [Fact]
    public void Every_notebook_runs_in_name_order_and_a_failure_makes_the_exit_code_nonzero()
    {
        var r = run.Result;
        Assert.Equal(["00-records", "01-fails", "02-after"], r.Notebooks.Select(n => n.Name));
        Assert.Equal([OutcomeStatus.Ok, OutcomeStatus.Failed, OutcomeStatus.Ok], r.Notebooks.Select(n => n.Status));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("2 ok, 1 failed", r.Tally);
        // The one-line message names notebook, cell and line, as `distill run` prints it.
        Assert.StartsWith($"✘ 01-fails.ipynb: cell 2, line 2: System.InvalidOperationException: {ReproductionRun.FailureMessage} (", r.Notebooks[1].SummaryLine, StringComparison.Ordinal);
        Assert.Matches(@"^✔ 00-records: ok \(\d+\.\d s\), 1 result row$", r.Notebooks[0].SummaryLine);
        Assert.Equal(["seed = 7"], r.Seeds);
        Assert.Equal("seeds = each notebook's budget default", ReproductionResult.SeedText("seeds", ""));
        Assert.Equal("seeds = each notebook's budget default", ReproductionResult.SeedText("seeds", "\"\""));
        Assert.Equal("seeds = 0,1,2", ReproductionResult.SeedText("seeds", "0,1,2"));
        Assert.Equal(ReproductionRun.Sentinel, run.VariableAfter); // the caller's $DISTILL_RESULTS is restored
    }

    [Fact]
    public void The_successful_notebooks_outputs_are_intact()
    {
        var dir = Path.Combine(run.Out, "00-records");
        var nb = TestSupport.ReadJson(Path.Combine(dir, "00-records.ipynb"));
        Assert.Equal("", TestSupport.NbformatErrors(Path.Combine(dir, "00-records.ipynb")));
        var cells = nb["cells"]!.AsArray();
        Assert.Equal("recorded\n", TestSupport.Text(cells.Last()!["outputs"]![0]!["text"]));
        Assert.True(File.Exists(Path.Combine(dir, "00-records.html")));
        Assert.Equal("succeeded", TestSupport.ReadJson(Path.Combine(dir, "00-records.manifest.json"))["status"]!.GetValue<string>());
        var row = Assert.Single(Results.Read(Path.Combine(dir, Reproduction.ResultsFileName)));
        Assert.Equal("smoke", row.Budget); // the budget reached the notebook's parameters
        // The notebook after the failure ran too, with the injected budget.
        var after = TestSupport.ReadJson(Path.Combine(run.Out, "02-after", "02-after.ipynb"))["cells"]!.AsArray();
        Assert.Equal("after smoke\n", TestSupport.Text(after.Last()!["outputs"]![0]!["text"]));
        Assert.False(File.Exists(Path.Combine(run.Out, "02-after", Reproduction.ResultsFileName)));
        // The failing one is written up to its failure.
        Assert.Equal("failed", TestSupport.ReadJson(Path.Combine(run.Out, "01-fails", "01-fails.manifest.json"))["status"]!.GetValue<string>());
    }

    [Fact]
    public void Index_links_resolve_and_the_failure_message_is_escaped()
    {
        var html = run.Index;
        var hrefs = Href().Matches(html).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
        foreach (var n in new[] { "00-records", "01-fails", "02-after" }) Assert.Contains($"{n}/{n}.html", hrefs);
        Assert.Contains("00-records/results.jsonl", hrefs);
        foreach (var h in hrefs)
            Assert.True(File.Exists(Path.Combine(run.Out, Uri.UnescapeDataString(h))), $"index.html links to {h}, which does not exist");
        Assert.Contains("failed at cell 2, line 2: System.InvalidOperationException: bad &lt;b&gt;value&lt;/b&gt; &amp; &quot;quotes&quot;", html);
        Assert.DoesNotContain("<b>value</b>", html);
        Assert.Contains("soft targets &lt;help&gt; &amp; more", html);
        Assert.Contains("97.50 ± 0.25 (3)", html);
        Assert.Contains("<th>budget</th><td>smoke</td>", html);
        Assert.Contains(run.Result.Environment.GitCommit is null ? "not a git checkout" : run.Result.Environment.GitCommit, html);
        Assert.Contains("TorchSharp 0.107", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("http", html.Replace("http-equiv=\"Content-Security-Policy\"", "", StringComparison.Ordinal)); // nothing from the network, not even a CDN link
    }

    [Fact]
    public void A_notebook_page_counts_its_torch_threads_in_words_that_agree()
    {
        var nb = run.Result.Notebooks.First(n => n.Run is not null).Run!;
        string Versions(int threads) => Distill.Notebooks.Reports.HtmlReport.Render(nb with { Environment = nb.Environment with { TorchThreads = threads } });
        Assert.Contains(" 1 torch thread</td>", Versions(1), StringComparison.Ordinal); // was "1 torch threads"
        Assert.Contains(" 2 torch threads</td>", Versions(2), StringComparison.Ordinal);
    }

    [Fact]
    public void Results_markdown_holds_the_recorded_row_under_the_run_facts()
    {
        var md = File.ReadAllText(run.Result.Files.ResultsMarkdown);
        // Text that reads as HTML is escaped: "<help>" vanished when the table was rendered.
        Assert.Contains("| Hinton et al. 2015 | soft targets \\<help\\> \\& more | MLP \\| tiny | test acc % | 97.50 ± 0.25 (3) | 99.26 | reproduced |", md);
        Assert.Single(md.Split('\n'), l => l.StartsWith("| Hinton", StringComparison.Ordinal));
        foreach (var fact in new[] { "- date: ", "- commit: ", "- machine: ", "- budget: smoke", "- total wall time: ", "- notebooks: 2 ok, 1 failed" })
            Assert.Contains("\n" + fact, md);
        Assert.Contains("  - 01-fails: failed at cell 2, line 2: System.InvalidOperationException: bad \\<b\\>value\\</b\\>", md);
        // Outside a checkout the library's build commit is what says which code ran (it was dropped here, kept in index.html).
        var library = new string('a', 40);
        var outside = run.Result with { Environment = run.Result.Environment with { GitCommit = null, GitDirty = null, LibraryCommit = library, LibraryDirty = true } };
        Assert.Contains($"\n- commit: not a git checkout; the library ran was built from {library} with uncommitted changes\n",
            Distill.Notebooks.Reports.ReproductionReport.Markdown(outside).ReplaceLineEndings("\n"));

        // A notebook's name is a file's: one with HTML was live in results.md, one with a line break ended its list item.
        var odd = run.Result with { Notebooks = [.. run.Result.Notebooks.Select((n, i) => i switch
        {
            0 => n with { Name = "<img src=x onerror=alert(1)>" },
            1 => n with { Name = "a\nb | `c` *d* _e_ [f] & \\g" },
            _ => n,
        })] };
        var oddMd = Distill.Notebooks.Reports.ReproductionReport.Markdown(odd).ReplaceLineEndings("\n");
        Assert.Contains("\n  - \\<img src=x onerror=alert(1)\\>: ", oddMd, StringComparison.Ordinal);
        Assert.Contains("\n  - aU+000Ab \\| \\`c\\` \\*d\\* \\_e\\_ \\[f\\] \\& \\\\g: ", oddMd, StringComparison.Ordinal);

        // A diverged run's NaN: results.json (written first) threw on it, and the index and results.md were lost too.
        var diverged = run.Result with { Notebooks = [.. run.Result.Notebooks.Select(n => n with { Rows = [.. n.Rows.Select(r => r with { Ours = double.NaN })] })] };
        Assert.Equal("NaN", Distill.Notebooks.Reports.ReproductionReport.Json(diverged)["results"]![0]!["Ours"]!.GetValue<string>());

        var json = TestSupport.ReadJson(run.Result.Files.ResultsJson);
        Assert.Equal(1, json["exitCode"]!.GetValue<int>());
        Assert.Equal("00-records", json["results"]![0]!["Notebook"]!.GetValue<string>());
        Assert.Equal(97.5, json["results"]![0]!["Ours"]!.GetValue<double>());
        var fails = json["notebooks"]![1]!;
        Assert.Equal("failed", fails["status"]!.GetValue<string>());
        Assert.Equal(2, fails["failures"]![0]!["line"]!.GetValue<int>());
        Assert.Equal("01-fails/01-fails.html", fails["files"]!["html"]!.GetValue<string>());
    }

    [Fact]
    public async Task Index_loads_offline_in_chromium_without_errors()
    {
        // No script belongs on the page, and its policy says so (each notebook's report has one too).
        Assert.Contains($"<meta http-equiv=\"Content-Security-Policy\" content=\"{Distill.Notebooks.Reports.IndexPage.Csp}\">", run.Index, StringComparison.Ordinal);
        await using var browser = await OfflineBrowser.OpenAsync(run.Result.Files.Index);
        Assert.Equal(3, await browser.Page.Locator("table.notebooks tbody tr").CountAsync());
        Assert.Equal(1, await browser.Page.Locator("table.results tbody tr").CountAsync());
        Assert.Contains(ReproductionRun.FailureMessage, await browser.Page.Locator("tr.failed td.status").InnerTextAsync(), StringComparison.Ordinal);
        await browser.ScreenshotAsync("reproduce-index.png");
        Assert.Empty(browser.Errors);
        Assert.Empty(browser.Network);
    }

    [Fact]
    public async Task Fail_fast_and_only_select_and_stop()
    {
        var o = ReproductionRun.Options(run.Notebooks, Path.Combine(run.Root, "fail-fast")) with { FailFast = true, Only = ["fails", "0?-aft*"] };
        var r = await new Reproduction(o).RunAsync();
        Assert.Equal([OutcomeStatus.NotRun, OutcomeStatus.Failed, OutcomeStatus.NotRun], r.Notebooks.Select(n => n.Status));
        Assert.Equal("not run: not selected by --only", r.Notebooks[0].StatusText);
        Assert.Equal("not run: --fail-fast: 01-fails did not succeed", r.Notebooks[2].StatusText);
        Assert.Equal(1, r.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(run.Root, "fail-fast", "02-after")));
        Assert.Contains("not selected by --only", File.ReadAllText(r.Files.Index));

        // Again into the same folder, 01 alone: 00's report from before stays, and the summary says it is not its own.
        Directory.CreateDirectory(Path.Combine(run.Root, "fail-fast", "00-records"));
        var again = await new Reproduction(o with { FailFast = false, Only = ["fails"] }).RunAsync();
        Assert.Equal($"not run: not selected by --only; {Path.Combine(run.Root, "fail-fast", "00-records")} holds an earlier run's report, which this summary does not include",
            again.Notebooks[0].StatusText);
    }

    [Fact]
    public async Task Ctrl_C_stops_the_running_notebook_skips_the_rest_and_still_writes_the_index()
    {
        using var dir = new TempDir("reproduce-cancel");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-long.ipynb", ("Console.WriteLine(\"started\");", null), ("System.Threading.Thread.Sleep(30_000);", null));
        TestSupport.WriteNotebook(notebooks, "01-next.ipynb", ("1 + 1", null));
        using var cts = new CancellationTokenSource();
        using var log = new SignalWriter("cell 1 ");
        var task = new Reproduction(ReproductionRun.Options(notebooks, Path.Combine(dir.Path, "reports")) with { Log = log }).RunAsync(cts.Token);
        Assert.True(log.Seen.Wait(TimeSpan.FromSeconds(60)), "the first cell never finished");
        await Task.Delay(500); // Ctrl-C while the long cell runs
        cts.Cancel();
        var r = await task;
        Assert.Equal([OutcomeStatus.Interrupted, OutcomeStatus.NotRun], r.Notebooks.Select(n => n.Status));
        Assert.Equal(130, r.ExitCode);
        Assert.Equal("interrupted (Ctrl-C or SIGTERM) at cell 2", r.Notebooks[0].StatusText);
        Assert.Equal("not run: interrupted (Ctrl-C or SIGTERM) before it started", r.Notebooks[1].StatusText);
        Assert.Contains("interrupted (Ctrl-C or SIGTERM) at cell 2", File.ReadAllText(r.Files.Index));
        Assert.Equal("interrupted", TestSupport.ReadJson(Path.Combine(dir.Path, "reports", "00-long", "00-long.manifest.json"))["status"]!.GetValue<string>());
    }

    /// <summary>A stop that came before the first notebook started (the signal handler was installed, nothing ran yet)
    /// is a stop, exit 130/143: it exited 0 with every notebook "not run", which a cluster takes as a task done.</summary>
    [Fact]
    public async Task A_stop_before_the_first_notebook_starts_is_a_stop_not_a_success()
    {
        using var dir = new TempDir("reproduce-early-stop");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-one.ipynb", ("1 + 1", null));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var r = await new Reproduction(ReproductionRun.Options(notebooks, Path.Combine(dir.Path, "reports"))).RunAsync(cts.Token);
        Assert.Equal([OutcomeStatus.NotRun], r.Notebooks.Select(n => n.Status));
        Assert.True(r.Interrupted);
        Assert.Equal(130, r.ExitCode);
    }

    /// <summary>results.json said 130 after SIGTERM while the process exited 143.</summary>
    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public async Task The_summary_records_the_exit_code_of_the_signal_that_stopped_it(string signal, int exit)
    {
        using var dir = new TempDir("reproduce-stop-code");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-one.ipynb", ("1 + 1", null));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var r = await new Reproduction(ReproductionRun.Options(notebooks, Path.Combine(dir.Path, "reports")) with { StopSignal = () => signal }).RunAsync(cts.Token);
        Assert.Equal(exit, r.ExitCode);
        Assert.Equal(exit, TestSupport.ReadJson(r.Files.ResultsJson)["exitCode"]!.GetValue<int>());
    }

    /// <summary>--fail-fast stopped the rest; a Ctrl-C that comes after (here, as the failure's line is printed) is not
    /// what stopped them: the exit is the failure's 1, not 130.</summary>
    [Fact]
    public async Task A_stop_after_fail_fast_has_stopped_the_rest_leaves_the_exit_at_1()
    {
        using var dir = new TempDir("reproduce-fail-fast-then-stop");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-fails.ipynb", ("throw new Exception(\"no\");", null));
        TestSupport.WriteNotebook(notebooks, "01-after.ipynb", ("1 + 1", null));
        using var cts = new CancellationTokenSource();
        var o = ReproductionRun.Options(notebooks, Path.Combine(dir.Path, "reports")) with { FailFast = true, Log = new CancelOnLine(cts, "✘") };
        var r = await new Reproduction(o).RunAsync(cts.Token);
        Assert.True(cts.IsCancellationRequested);
        Assert.Equal([OutcomeStatus.Failed, OutcomeStatus.NotRun], r.Notebooks.Select(n => n.Status));
        Assert.Equal("not run: --fail-fast: 00-fails did not succeed", r.Notebooks[1].StatusText);
        Assert.False(r.Interrupted);
        Assert.Equal(1, r.ExitCode);
    }

    /// <summary>A log that asks for a stop when a line starting with <paramref name="prefix"/> is written.</summary>
    sealed class CancelOnLine(CancellationTokenSource cts, string prefix) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.StartsWith(prefix, StringComparison.Ordinal) == true) cts.Cancel();
        }
    }

    /// <summary>A folder named like a notebook was skipped unseen; it is listed and fails as a notebook that cannot be
    /// read does (an error naming it, exit 1), and the others still run.</summary>
    [Fact]
    public async Task A_folder_named_like_a_notebook_is_an_error_naming_it_not_skipped()
    {
        using var dir = new TempDir("reproduce-folder");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "03-ok.ipynb", ("1 + 1", null));
        var folder = Directory.CreateDirectory(Path.Combine(notebooks, "04-dir.ipynb")).FullName;
        var r = await new Reproduction(ReproductionRun.Options(notebooks, Path.Combine(dir.Path, "reports"))).RunAsync();
        Assert.Equal([("03-ok", OutcomeStatus.Ok), ("04-dir", OutcomeStatus.Error)], r.Notebooks.Select(n => (n.Name, n.Status)));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"✘ 04-dir: error: {folder}: this is a folder, not a file; pass the path of a Polyglot notebook file (.ipynb or .dib). (0.0 s)", r.Notebooks[1].SummaryLine);
    }

    /// <summary>A notebook that cannot be read (a key twice) stopped the whole reproduction with an exception: later
    /// notebooks never ran and an earlier index.html stayed. (A file where a notebook's report folder goes is refused
    /// before anything runs: see A_file_where_a_notebooks_report_folder_goes_is_refused_before_anything_runs.)</summary>
    [Fact]
    public async Task A_notebook_that_throws_is_that_notebook_s_error_the_others_run_and_the_index_is_written()
    {
        using var dir = new TempDir("reproduce-throws");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-ok.ipynb", ("1 + 1", null));
        var twice = TestSupport.WriteNotebook(notebooks, "01-twice.ipynb", ("1 + 1", null));
        File.WriteAllText(twice, File.ReadAllText(twice).Replace("\"nbformat\":4", "\"nbformat\":4,\"nbformat\":4", StringComparison.Ordinal));
        TestSupport.WriteNotebook(notebooks, "02-blocked.ipynb", ("1 + 1", null));
        TestSupport.WriteNotebook(notebooks, "03-last.ipynb", ("Console.WriteLine(\"last ran\");", null));
        var reports = Path.Combine(dir.Path, "reports");
        Directory.CreateDirectory(reports);
        File.WriteAllText(Path.Combine(reports, "index.html"), "an earlier run's index");
        File.WriteAllText(Path.Combine(reports, "results.json"), "{\"started\": \"2026-12-01T00:00:00+00:00\", \"notebooks\": []}");
        var r = await new Reproduction(ReproductionRun.Options(notebooks, reports)).RunAsync();
        Assert.Equal([OutcomeStatus.Ok, OutcomeStatus.Error, OutcomeStatus.Ok, OutcomeStatus.Ok], r.Notebooks.Select(n => n.Status));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"✘ 01-twice: error: {twice}: the key \"nbformat\" appears twice in the top-level object (the second at line 1); " +
                     "delete one of the two (a JSON object holds each key once), or re-save the notebook from VS Code or Jupyter. (0.0 s)", r.Notebooks[1].SummaryLine);
        var index = File.ReadAllText(r.Files.Index);
        Assert.DoesNotContain("an earlier run's index", index, StringComparison.Ordinal);
        Assert.Contains("01-twice", index, StringComparison.Ordinal);
        Assert.Contains("appears twice", index, StringComparison.Ordinal);
        Assert.True(File.Exists(r.Files.ResultsMarkdown) && File.Exists(r.Files.ResultsJson));
    }

    /// <summary>A notebook whose report folder would be a summary file (results.md.ipynb → OUT/results.md/) is refused
    /// before anything runs: it ran, and the summary then failed with "access denied" on that folder.</summary>
    [Theory]
    [InlineData("results.md.ipynb")]
    [InlineData("index.html.ipynb")]
    [InlineData("results.json.dib")]
    public async Task A_notebook_named_like_a_summary_file_is_refused_before_anything_runs(string name)
    {
        using var dir = new TempDir("reproduce-summary-name");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-ok.ipynb", ("1 + 1", null));
        var clash = Path.Combine(notebooks, name);
        File.Copy(Path.Combine(notebooks, "00-ok.ipynb"), clash);
        var reports = Path.Combine(dir.Path, "reports");
        var e = await Assert.ThrowsAsync<ReproductionException>(() => new Reproduction(ReproductionRun.Options(notebooks, reports)).RunAsync());
        Assert.Equal($"{clash}: it would report into {Path.GetFileNameWithoutExtension(name)}/, the name of a summary file reproduce writes (index.html, results.md, results.json); rename the notebook", e.Message);
        Assert.False(Directory.Exists(reports));
    }

    /// <summary>The summary files replace an earlier reproduction's (its results.json is the mark), never a user's own
    /// page: refused before anything runs, naming the file, and nothing in the folder changes.</summary>
    [Theory]
    [InlineData("index.html", "<html>my site</html>", "was not written by reproduce (no results.json of an earlier reproduce beside it)")]
    [InlineData("results.md", "# my results", "was not written by reproduce (no results.json of an earlier reproduce beside it)")]
    [InlineData("results.json", "{\"accuracy\": 0.9}", "is not the results.json of an earlier reproduce")]
    [InlineData("results.json", "{not json", "is not the results.json of an earlier reproduce")]
    public async Task Summary_files_no_reproduction_wrote_are_refused_before_anything_runs(string file, string content, string why)
    {
        using var dir = new TempDir("reproduce-foreign");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-ok.ipynb", ("1 + 1", null));
        var reports = Path.Combine(dir.Path, "site");
        Directory.CreateDirectory(reports);
        var path = Path.Combine(reports, file);
        File.WriteAllText(path, content);
        var e = await Assert.ThrowsAsync<ReproductionException>(() => new Reproduction(ReproductionRun.Options(notebooks, reports)).RunAsync());
        Assert.Equal($"--out {reports}: {path} {why}, and reproduce writes its summary there; move it away, or give another --out", e.Message);
        Assert.Equal(content, File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(reports));
    }

    /// <summary>A file where a notebook's report folder goes (OUT/NAME) failed that notebook with an IOException
    /// (exit 1, no summary): it is refused before anything runs, naming the file, and the file is kept.</summary>
    [Fact]
    public async Task A_file_where_a_notebooks_report_folder_goes_is_refused_before_anything_runs()
    {
        using var dir = new TempDir("reproduce-report-file");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-data.ipynb", ("1 + 1", null));
        var reports = Path.Combine(dir.Path, "oex");
        Directory.CreateDirectory(reports);
        var path = Path.Combine(reports, "00-data");
        File.WriteAllText(path, "mine\n");
        var e = await Assert.ThrowsAsync<ReproductionException>(() => new Reproduction(ReproductionRun.Options(notebooks, reports)).RunAsync());
        Assert.Equal($"--out {reports}: {path} is a file, and reproduce writes the notebook 00-data's report into a folder of that name; move it away, or give another --out", e.Message);
        Assert.Equal("mine\n", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(reports));
    }

    /// <summary>Two reproductions into one --out both reported success over each other's reports and summary: the second
    /// is refused while the first holds the folder, naming its PID, and runs once it has finished.</summary>
    [Fact]
    public async Task A_second_reproduce_into_a_folder_in_use_is_refused_naming_the_first()
    {
        using var dir = new TempDir("reproduce-busy");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-ok.ipynb", ("1 + 1", null));
        var reports = Path.Combine(dir.Path, "reports");
        Directory.CreateDirectory(reports);
        var lockPath = Path.Combine(reports, ".reproduce.lock");
        using (Distill.Training.FolderLock.TryTake(lockPath))
        {
            var e = await Assert.ThrowsAsync<ReproductionException>(() => new Reproduction(ReproductionRun.Options(notebooks, reports)).RunAsync());
            Assert.Equal($"--out {reports} is in use by another reproduce (PID {Environment.ProcessId}); wait for it to finish, or give another folder", e.Message);
            Assert.False(Directory.Exists(Path.Combine(reports, "00-ok")));
        }
        Assert.Equal(0, (await new Reproduction(ReproductionRun.Options(notebooks, reports)).RunAsync()).ExitCode);
    }

    [Fact]
    public async Task A_malformed_result_row_makes_the_notebook_an_error_naming_file_and_line()
    {
        using var dir = new TempDir("reproduce-garbage");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        // The variable is visible to cell code, and whatever lands in the file is checked.
        TestSupport.WriteNotebook(notebooks, "00-garbage.ipynb", ("System.IO.File.AppendAllText(Environment.GetEnvironmentVariable(\"DISTILL_RESULTS\")!, \"{not json\\n\");", null));
        var r = await new Reproduction(ReproductionRun.Options(notebooks, Path.Combine(dir.Path, "reports"))).RunAsync();
        var n = Assert.Single(r.Notebooks);
        Assert.Equal(OutcomeStatus.Error, n.Status);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"error: {Path.Combine(dir.Path, "reports", "00-garbage", Reproduction.ResultsFileName)}:1: not a result row", n.StatusText, StringComparison.Ordinal);
    }

    /// <summary>A re-run deleted the notebook's earlier report before it started: one that then failed, or was stopped,
    /// left only its own partial report, and the last good one (10 minutes of training at the quick budget) was gone.
    /// It is kept in previous-run/ until a re-run succeeds, through any number of failures.</summary>
    [Fact]
    public async Task A_rerun_that_fails_keeps_the_last_successful_report_until_one_succeeds()
    {
        using var dir = new TempDir("reproduce-keep");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        var reports = Path.Combine(dir.Path, "reports");
        var (folder, kept) = (Path.Combine(reports, "00-note"), Path.Combine(reports, "00-note", Reproduction.PreviousRunFolder));
        var distill = typeof(ResultRow).Assembly.Location;
        void Write(string body) => TestSupport.WriteNotebook(notebooks, "00-note.ipynb", ($"#r \"{distill}\"\nusing Distill.Reporting;", null), (body, null));
        Task<ReproductionResult> Reproduce() => new Reproduction(ReproductionRun.Options(notebooks, reports)).RunAsync();
        string[] Files(string d) => [.. Directory.GetFiles(d).Select(Path.GetFileName).Order()!];

        Write("Results.Record(new ResultRow(\"p\", \"m\", \"s\", \"acc\", 1.5, 0, 1, \"-\", \"-\", \"smoke\"));");
        Assert.Equal(0, (await Reproduce()).ExitCode);
        var good = File.ReadAllText(Path.Combine(folder, "00-note.ipynb"));
        Assert.False(Directory.Exists(kept));
        Write("throw new Exception(\"broken\");");
        foreach (var attempt in new[] { 1, 2 })
        {
            var failed = Assert.Single((await Reproduce()).Notebooks);
            Assert.Equal(OutcomeStatus.Failed, failed.Status);
            Assert.Equal(kept, failed.KeptEarlier);
            Assert.EndsWith($"; its last successful report is kept in {kept}", failed.SummaryLine, StringComparison.Ordinal);
            Assert.Equal(["00-note.html", "00-note.ipynb", "00-note.manifest.json", Reproduction.ResultsFileName], Files(kept));
            Assert.Equal(good, File.ReadAllText(Path.Combine(kept, "00-note.ipynb")));
            Assert.Contains("broken", File.ReadAllText(Path.Combine(folder, "00-note.ipynb")), StringComparison.Ordinal); // the failure's own report beside it
            Assert.Contains("previous-run/00-note.html\">last successful report", File.ReadAllText(Path.Combine(reports, "index.html")), StringComparison.Ordinal);
            Assert.Equal("00-note/previous-run", TestSupport.ReadJson(Path.Combine(reports, "results.json"))["notebooks"]![0]!["files"]!["keptEarlier"]!.GetValue<string>());
        }
        Write("Console.WriteLine(\"fixed\");");
        var fixedRun = Assert.Single((await Reproduce()).Notebooks);
        Assert.Equal(OutcomeStatus.Ok, fixedRun.Status);
        Assert.Null(fixedRun.KeptEarlier);
        Assert.False(Directory.Exists(kept));
    }

    [Fact]
    public async Task Bad_input_names_the_folder_and_the_fix()
    {
        var missing = await Assert.ThrowsAsync<ReproductionException>(() => new Reproduction(ReproductionRun.Options("no/such/dir", run.Root)).RunAsync());
        Assert.Equal("no/such/dir: notebooks folder not found; run from the repository root or pass --notebooks DIR", missing.Message);
        var none = await Assert.ThrowsAsync<ReproductionException>(() =>
            new Reproduction(ReproductionRun.Options(run.Notebooks, run.Root) with { Only = ["zz"] }).RunAsync());
        Assert.Equal("--only zz: matches none of 00-records, 01-fails, 02-after", none.Message);
        // A typo beside a match is named too: its notebook was dropped unseen.
        var typo = await Assert.ThrowsAsync<ReproductionException>(() =>
            new Reproduction(ReproductionRun.Options(run.Notebooks, run.Root) with { Only = ["00", "O2"] }).RunAsync());
        Assert.Equal("--only O2: matches none of 00-records, 01-fails, 02-after", typo.Message);
        // A folder's trailing slash (tab completion) left an empty name, which every notebook's name contains: all ran.
        var slash = await Assert.ThrowsAsync<ReproductionException>(() =>
            new Reproduction(ReproductionRun.Options(run.Notebooks, run.Root) with { Only = ["notebooks/"] }).RunAsync());
        Assert.Equal("--only notebooks/: matches none of 00-records, 01-fails, 02-after", slash.Message);
        Assert.True(Reproduction.Matches("01-fails", "reports/01-fails/") && !Reproduction.Matches("00-records", "reports/01-fails/"));
        var clash = await Assert.ThrowsAsync<ReproductionException>(() =>
            new Reproduction(ReproductionRun.Options(run.Notebooks, run.Root) with { Parameters = [new("budget", "full")] }).RunAsync());
        Assert.Contains("--budget smoke and -p budget=full disagree", clash.Message, StringComparison.Ordinal);
        // A -p value a notebook's parameters cell refuses is refused before --out is touched: each notebook's process
        // checked it only after clearing that notebook's earlier report, so one typo deleted the last run's reports.
        var before = Directory.GetFiles(run.Out, "*", SearchOption.AllDirectories).Order().Select(f => (f, File.GetLastWriteTimeUtc(f))).ToList();
        var typed = await Assert.ThrowsAsync<ReproductionException>(() =>
            new Reproduction(ReproductionRun.Options(run.Notebooks, run.Out) with { Parameters = [new("seed", "abc")] }).RunAsync());
        Assert.Equal($"{Path.Combine(run.Notebooks, "00-records.ipynb")}: -p seed=abc: the notebook's default for 'seed' is int, and 'abc' is not an int; pass a whole number like 3",
                     typed.Message);
        Assert.Equal(before, Directory.GetFiles(run.Out, "*", SearchOption.AllDirectories).Order().Select(f => (f, File.GetLastWriteTimeUtc(f))));
        // An --out that is a file, or goes through one, is bad input too, not an IOException when the folder is made.
        using var dir = new TempDir("reproduce-out-file");
        var file = Path.Combine(dir.Path, "reports");
        File.WriteAllText(file, "mine");
        var isFile = await Assert.ThrowsAsync<ReproductionException>(() => new Reproduction(ReproductionRun.Options(run.Notebooks, file)).RunAsync());
        Assert.Equal($"--out {file}: this is a file; give a folder (it is created when missing)", isFile.Message);
        var inside = Path.Combine(file, "sub");
        var throughFile = await Assert.ThrowsAsync<ReproductionException>(() => new Reproduction(ReproductionRun.Options(run.Notebooks, inside)).RunAsync());
        Assert.Equal($"--out {inside}: {file} is a file, not a folder; give a folder path that does not go through a file", throughFile.Message);
        Assert.Equal("mine", File.ReadAllText(file));
    }

    [Theory]
    [InlineData("01", "01-soft-targets", true)]
    [InlineData("SOFT", "01-soft-targets", true)]
    [InlineData("0?-*", "01-soft-targets", true)]
    [InlineData("0?-*", "10-extra", false)]
    [InlineData("*fit*", "02-fitnets", true)]
    [InlineData("fit*", "02-fitnets", false)] // a glob matches the whole name
    [InlineData("0.", "01-x", false)]         // no regex
    [InlineData("01-soft-targets.ipynb", "01-soft-targets", true)] // as the shell completes it
    [InlineData("notebooks/02-fitnets.ipynb", "02-fitnets", true)]
    [InlineData("02-fitnets.dib", "02-fitnets", true)]
    [InlineData("notebooks/02-fitnets.ipynb", "01-soft-targets", false)]
    public void Only_is_a_substring_or_a_whole_name_glob(string pattern, string name, bool expected) =>
        Assert.Equal(expected, Reproduction.Matches(name, pattern));

    [Fact]
    public void Cpu_topology_counts_cores_and_threads()
    {
        var f = Path.Combine(run.Root, "cpuinfo");
        File.WriteAllText(f, string.Join("\n\n", Enumerable.Range(0, 4).Select(i => $"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i / 2}\nmodel name\t: X")));
        Assert.Equal(new CpuTopology(2, 4), CpuTopology.Read(f));
        Assert.Equal(new CpuTopology(null, null), CpuTopology.Read(Path.Combine(run.Root, "missing")));
    }

    [GeneratedRegex("href=\"([^\"]*)\"")]
    private static partial Regex Href();
}
