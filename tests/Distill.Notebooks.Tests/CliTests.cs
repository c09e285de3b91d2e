using System.Diagnostics;

namespace Distill.Notebooks.Tests;

/// <summary>`distill run` as users call it: exit codes, messages naming notebook/cell/line, files written.</summary>
public class CliTests
{
    static ProcessStartInfo Cli(params string[] args) => DistillProcess.Start(args);

    static (int Exit, string Out, string Err) Distill(params string[] args) => DistillProcess.Run(args);

    [Fact]
    public void A_failing_notebook_exits_nonzero_and_the_others_still_run()
    {
        using var outDir = new TempDir("cli");
        var (exit, _, err) = Distill("run", TestSupport.TestData("error.ipynb"), TestSupport.TestData("sample.dib"), "--out", outDir.Path, "--budget", "smoke");
        Assert.Equal(1, exit);
        Assert.Contains("✘ error.ipynb: cell 2, line 2: System.ArgumentOutOfRangeException", err);
        Assert.Contains("✔ " + TestSupport.TestData("sample.dib"), err);
        foreach (var f in new[] { "error.ipynb", "error.html", "error.manifest.json", "sample.ipynb", "sample.html", "sample.manifest.json" })
            Assert.True(File.Exists(Path.Combine(outDir.Path, f)), f);
        Assert.Equal("", TestSupport.NbformatErrors(Path.Combine(outDir.Path, "error.ipynb")));
        // No parameters cell: --budget is injected at the top, as papermill does.
        var first = TestSupport.ReadJson(Path.Combine(outDir.Path, "error.ipynb"))["cells"]![0]!;
        Assert.Equal("string budget = \"smoke\";\n", TestSupport.Text(first["source"]).Split('\n', 2)[1]);
    }

    /// <summary>A cell's exception message reaches the terminal of whoever runs the notebook (the failure line of
    /// `distill run`, the per-notebook line of `distill reproduce` and its echo of the notebook's process): without its
    /// terminal sequences and control characters, which could clear the screen, set the title or forge a link.</summary>
    [Fact]
    public void A_cells_error_message_reaches_the_terminal_without_escape_sequences()
    {
        using var dir = new TempDir("cli-escapes");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        var nb = TestSupport.WriteNotebook(notebooks, "esc.ipynb",
            ("""throw new Exception("<b>x</b>\u001b[31m red\u001b]0;title\u0007\u001b]8;;https://example.invalid/\u001b\\ link\u009d\u0007\u001b[2J end");""", null));
        static void Clean(string text) =>
            Assert.DoesNotContain(text, c => c is < ' ' and not ('\t' or '\n' or '\r') or >= '\x7f' and <= '\x9f');
        const string Line = "✘ esc.ipynb: cell 1, line 1: System.Exception: <b>x</b> red link end";

        var run = Distill("run", nb, "--out", Path.Combine(dir.Path, "run"));
        Assert.Equal(1, run.Exit);
        Assert.Contains(Line + "\n", run.Err, StringComparison.Ordinal);
        Clean(run.Out);
        Clean(run.Err);

        var reproduce = Distill("reproduce", "--notebooks", notebooks, "--out", Path.Combine(dir.Path, "reproduce"), "--budget", "smoke");
        Assert.Equal(1, reproduce.Exit);
        Assert.Contains(Line + " (", reproduce.Out, StringComparison.Ordinal);
        Clean(reproduce.Out);
        Clean(reproduce.Err);
    }

    /// <summary>Started from a terminal, a cell's Console.ReadKey() waited for a key, so `distill run` hung (docs: a
    /// headless run never waits for input). Now the run's stdin is /dev/null whatever it was started with, and ReadKey
    /// throws as it does with stdin piped, and in the kernel: the cell's error, exit 1. `script` (util-linux) gives the
    /// process a terminal; `timeout` ends a hang with 124.</summary>
    [Fact]
    public async Task A_cell_reading_a_key_fails_instead_of_waiting_when_run_from_a_terminal()
    {
        using var dir = new TempDir("cli-readkey");
        var nb = TestSupport.WriteNotebook(dir.Path, "readkey.ipynb", ("Console.ReadKey()", null));
        var cli = Cli("run", nb, "--out", Path.Combine(dir.Path, "out"));
        string[] words = [cli.FileName, .. cli.ArgumentList];
        var command = string.Join(' ', words.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        var psi = new ProcessStartInfo("timeout", ["90", "script", "-qfec", command, "/dev/null"]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var (k, v) in cli.Environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 1, $"exit {p.ExitCode} (124: it waited for a key):\n{output}{await error}");
        Assert.Contains("✘ readkey.ipynb: cell 1, line 1: System.InvalidOperationException: Cannot read keys when either application does not have a console or when console input has been redirected", output, StringComparison.Ordinal);
    }

    /// <summary>A ProcessExit handler a cell adds runs when distill exits, after the notebook ended: its writes went to
    /// distill's own stdout, and one that threw turned a succeeded run into an `error:` line and exit 1 while the manifest
    /// said succeeded. Its writes are dropped now, as every write after a notebook ends, and what it throws is one warning.</summary>
    [Fact]
    public void A_cells_ProcessExit_handler_neither_writes_to_distills_console_nor_fails_the_run()
    {
        using var dir = new TempDir("cli-process-exit");
        var nb = TestSupport.WriteNotebook(dir.Path, "exit-handlers.ipynb",
            ("AppDomain.CurrentDomain.ProcessExit += (s, e) => Console.WriteLine(\"written at exit\");", null),
            ("AppDomain.CurrentDomain.ProcessExit += (s, e) => throw new InvalidOperationException(\"exit handler threw\");", null));
        var (exit, output, err) = Distill("run", nb, "--out", Path.Combine(dir.Path, "out"));
        Assert.True(exit == 0, $"exit {exit}:\n{output}{err}");
        Assert.DoesNotContain("written at exit", output + err, StringComparison.Ordinal);
        Assert.DoesNotContain("error:", err, StringComparison.Ordinal);
        Assert.Contains("warning: exit-handlers.ipynb: a ProcessExit handler added by the notebook threw System.InvalidOperationException: exit handler threw", err, StringComparison.Ordinal);
        Assert.Equal("succeeded", TestSupport.ReadJson(Path.Combine(dir.Path, "out", "exit-handlers.manifest.json"))["status"]!.GetValue<string>());
    }

    /// <summary>A cell that left a foreground thread running (IsBackground = false, never ending) kept `distill run`
    /// alive after it printed its result and wrote its reports: returning from Main waits for foreground threads. A
    /// ProcessExit handler that never returns held the exit the same way; it is waited for 5 s, with a warning.</summary>
    [Fact]
    public void Run_exits_with_its_code_when_a_cell_left_a_foreground_thread_or_a_blocking_exit_handler()
    {
        using var dir = new TempDir("cli-foreground");
        var thread = TestSupport.WriteNotebook(dir.Path, "foreground.ipynb",
            ("new System.Threading.Thread(() => { while (true) System.Threading.Thread.Sleep(100); }) { IsBackground = false }.Start(); 1", null));
        var handler = TestSupport.WriteNotebook(dir.Path, "exit-blocks.ipynb",
            ("AppDomain.CurrentDomain.ProcessExit += (s, e) => System.Threading.Thread.Sleep(System.Threading.Timeout.Infinite);", null));
        foreach (var (nb, name) in new[] { (thread, "foreground"), (handler, "exit-blocks") })
        {
            using var run = new DistillProcess.Running(Cli("run", nb, "--out", Path.Combine(dir.Path, "out")));
            var exit = run.Exit(TimeSpan.FromSeconds(90)); // fails (and kills it) if it hangs
            Assert.True(exit == 0, $"exit {exit}:\n{run.Output}");
            Assert.Contains($"✔ {nb} (", run.Output, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(dir.Path, "out", name + ".html")), run.Output);
            Assert.Equal("succeeded", TestSupport.ReadJson(Path.Combine(dir.Path, "out", name + ".manifest.json"))["status"]!.GetValue<string>());
            if (nb == handler) Assert.Contains("warning: exit-blocks.ipynb: a ProcessExit handler added by the notebook had not returned 5 s after", run.Output, StringComparison.Ordinal);
            else Assert.Contains("warning: a thread a cell started was still running 10 s after the run ended; the process ends without it.", run.Output, StringComparison.Ordinal);
        }
        using var failing = new DistillProcess.Running(Cli("run", TestSupport.WriteNotebook(dir.Path, "fails.ipynb",
            ("new System.Threading.Thread(() => { while (true) System.Threading.Thread.Sleep(100); }) { IsBackground = false }.Start();", null),
            ("throw new Exception(\"boom\");", null)), "--out", Path.Combine(dir.Path, "out")));
        Assert.Equal(1, failing.Exit(TimeSpan.FromSeconds(90))); // the run's own code, not 0
    }

    /// <summary>The kernel runs each notebook in a fresh process; `distill run A B` runs them in one. Settings A changes
    /// process-wide (libtorch's threads and default dtype, environment variables, the default culture) must not reach
    /// B: they changed B's numbers, or made it fail on a float32/float64 mismatch.</summary>
    [Fact]
    public void A_notebook_does_not_inherit_the_settings_the_one_before_it_changed()
    {
        using var dir = new TempDir("cli-leak");
        const string torchRef = "#r \"nuget: TorchSharp-cpu, 0.107.0\"\nusing TorchSharp;\n";
        var a = TestSupport.WriteNotebook(dir.Path, "a.ipynb", (torchRef +
            "torch.set_num_threads(1); torch.set_default_dtype(torch.float64);\n" +
            "Environment.SetEnvironmentVariable(\"LEAK_TEST\", \"from a\");\n" +
            "var comma = (System.Globalization.CultureInfo)System.Globalization.CultureInfo.InvariantCulture.Clone();\n" +
            "comma.NumberFormat.NumberDecimalSeparator = \",\"; System.Globalization.CultureInfo.DefaultThreadCurrentCulture = comma;", null));
        const string report = torchRef + "Console.WriteLine($\"settings: {torch.get_num_threads()} {torch.get_default_dtype()} " +
            "{Environment.GetEnvironmentVariable(\"LEAK_TEST\") ?? \"unset\"} {1.5} {(torch.ones(2, 2).mm(torch.ones(2, 2, dtype: torch.float32))).dtype}\");";
        var b = TestSupport.WriteNotebook(dir.Path, "b.ipynb", (report, null));
        string Settings(string outDir) => string.Concat(TestSupport.ReadJson(Path.Combine(outDir, "b.ipynb"))["cells"]![0]!["outputs"]!.AsArray()
            .Select(o => TestSupport.Text(o!["text"])));
        var alone = Distill("run", b, "--out", Path.Combine(dir.Path, "alone"));
        Assert.True(alone.Exit == 0, alone.Err);
        var after = Distill("run", a, b, "--out", Path.Combine(dir.Path, "after"));
        Assert.True(after.Exit == 0, after.Err);
        Assert.EndsWith(" Float32 unset 1.5 Float32\n", Settings(Path.Combine(dir.Path, "alone")), StringComparison.Ordinal);
        Assert.DoesNotMatch("^settings: 1 ", Settings(Path.Combine(dir.Path, "alone"))); // the threads a would leave (1) would show
        Assert.Equal(Settings(Path.Combine(dir.Path, "alone")), Settings(Path.Combine(dir.Path, "after")));
    }

    /// <summary>A timed-out cell cannot be aborted and keeps running in its process. `distill run` then does not start
    /// the next notebook beside it (it says so, exit 1); `reproduce` runs every notebook in a process of its own, so the
    /// ones after it still run, untouched by it. (8 s: the first cell of a new process compiles for a few seconds under load.)</summary>
    [Fact]
    public void Notebooks_after_a_timed_out_cell_do_not_share_its_process()
    {
        using var dir = new TempDir("cli-timeout");
        var nbs = Directory.CreateDirectory(Path.Combine(dir.Path, "nbs")).FullName;
        var loop = TestSupport.WriteNotebook(nbs, "a-loop.ipynb", ("while (true) { }", null));
        var after = TestSupport.WriteNotebook(nbs, "b-after.ipynb", ("Console.WriteLine(Environment.ProcessId);", null));

        var run = Distill("run", loop, after, "--out", Path.Combine(dir.Path, "run"), "--cell-timeout", "8");
        Assert.Equal(1, run.Exit);
        Assert.Contains($"✘ {after}: not run: a cell of {loop} timed out and still runs in this process", run.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "run", "b-after.ipynb")));

        var reproduce = Distill("reproduce", "--notebooks", nbs, "--out", Path.Combine(dir.Path, "reproduce"), "--cell-timeout", "8");
        Assert.Equal(1, reproduce.Exit);
        Assert.Equal("timedout", ((string?)TestSupport.ReadJson(Path.Combine(dir.Path, "reproduce", "a-loop", "a-loop.manifest.json"))["status"])?.ToLowerInvariant());
        var manifest = TestSupport.ReadJson(Path.Combine(dir.Path, "reproduce", "b-after", "b-after.manifest.json"));
        Assert.Equal("succeeded", ((string?)manifest["status"])?.ToLowerInvariant());
    }

    /// <summary>A cell stopped inside libtorch (--cell-timeout, SIGTERM) keeps calling it on its thread, and a normal
    /// exit's C++ cleanup crashed under it: signal 11 or an abort with a C++ trace (139, 134) after the reports were
    /// written, in place of the documented 1 and 143.</summary>
    [Fact]
    public void A_cell_stopped_inside_libtorch_ends_the_run_with_its_documented_code()
    {
        using var dir = new TempDir("cli-torch-stop");
        var nb = TestSupport.WriteNotebook(dir.Path, "mm-loop.ipynb", ("#r \"nuget: TorchSharp-cpu, 0.107.0\"\nusing TorchSharp;\n" +
            "var a = torch.randn(256, 256);\nSystem.IO.File.WriteAllText(\"looping\", \"\");\nwhile (true) { using var b = a.matmul(a); }", null));
        var looping = Path.Combine(dir.Path, "looping"); // written in the notebook's folder, its working directory
        using (var timedOut = new DistillProcess.Running(Cli("run", nb, "--out", Path.Combine(dir.Path, "timeout"), "--cell-timeout", "8")))
        {
            Assert.True(timedOut.Exit(TimeSpan.FromSeconds(120)) == 1, timedOut.Output);
            Assert.DoesNotContain("terminate called", timedOut.Output, StringComparison.Ordinal);
        }
        File.Delete(looping);
        using var stopped = new DistillProcess.Running(Cli("run", nb, "--out", Path.Combine(dir.Path, "term")));
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !File.Exists(looping); Thread.Sleep(100))
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90) && !stopped.Process.HasExited, $"the cell never started its loop:\n{stopped.Output}");
        stopped.Signal("TERM");
        Assert.True(stopped.Exit(TimeSpan.FromSeconds(90)) == 143, stopped.Output);
        Assert.DoesNotContain("terminate called", stopped.Output, StringComparison.Ordinal);
        Assert.Equal("interrupted", ((string?)TestSupport.ReadJson(Path.Combine(dir.Path, "term", "mm-loop.manifest.json"))["status"])?.ToLowerInvariant());
    }

    /// <summary>A stack overflow cannot be caught: it aborts its process. In `reproduce` that is the notebook's own
    /// process, so its report says where it died, the notebooks after it run, and the index is written (exit 1).</summary>
    [Fact]
    public void A_stack_overflow_in_a_notebook_does_not_stop_reproduce()
    {
        using var dir = new TempDir("cli-overflow");
        var nbs = Directory.CreateDirectory(Path.Combine(dir.Path, "nbs")).FullName;
        TestSupport.WriteNotebook(nbs, "a-ok.ipynb", ("1 + 1", null));
        TestSupport.WriteNotebook(nbs, "b-overflow.ipynb", ("void F() => F();\nF();", null));
        TestSupport.WriteNotebook(nbs, "c-after.ipynb", ("2 + 2", null));
        var reproduce = Distill("reproduce", "--notebooks", nbs, "--out", Path.Combine(dir.Path, "out"));
        Assert.Equal(1, reproduce.Exit);
        Assert.Contains("b-overflow", reproduce.Out, StringComparison.Ordinal);
        Assert.Contains("the process died while this cell ran (a stack overflow", reproduce.Out, StringComparison.Ordinal);
        string Status(string name) => ((string?)TestSupport.ReadJson(Path.Combine(dir.Path, "out", name, name + ".manifest.json"))["status"])!.ToLowerInvariant();
        Assert.Equal("succeeded", Status("a-ok"));
        Assert.Equal("died", Status("b-overflow"));
        Assert.Equal("succeeded", Status("c-after"));
        Assert.True(File.Exists(Path.Combine(dir.Path, "out", "index.html")));
    }

    [Fact]
    public void Reproduce_only_takes_a_comma_separated_list()
    {
        using var dir = new TempDir("cli-only-list");
        var nbs = Directory.CreateDirectory(Path.Combine(dir.Path, "nbs")).FullName;
        foreach (var name in new[] { "00-a.ipynb", "01-b.ipynb", "02-c.ipynb" }) TestSupport.WriteNotebook(nbs, name, ("1 + 1", null));
        var reproduce = Distill("reproduce", "--notebooks", nbs, "--out", Path.Combine(dir.Path, "out"), "--only", "00, 02");
        Assert.Equal(0, reproduce.Exit);
        Assert.True(Directory.Exists(Path.Combine(dir.Path, "out", "00-a")));
        Assert.True(Directory.Exists(Path.Combine(dir.Path, "out", "02-c")));
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "out", "01-b")));
        Assert.Contains("01-b: not run: not selected by --only", reproduce.Out, StringComparison.Ordinal);
        Assert.Contains("2 ok, 1 not run", reproduce.Out, StringComparison.Ordinal);
    }

    /// <summary>A notebook is a library caller even under `distill run` (its cells run in the CLI's process): its errors
    /// keep naming the library's settings ("Force = true in TrainOptions"), which the CLI's own errors leave out.</summary>
    [Fact]
    public void Notebooks_run_by_the_cli_keep_the_library_wording_of_errors()
    {
        using var dir = new TempDir("cli-api-words");
        var dll = Path.Combine(TestSupport.RepoRoot, "artifacts", "bin", "Distill", new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name, "Distill.dll");
        var nb = TestSupport.WriteNotebook(dir.Path, "api.ipynb", ($"#r \"{dll}\"\nConsole.Write(\"[\" + Distill.ErrorText.Api(\"Force = true in TrainOptions\") + \"]\");", null));
        var r = Distill("run", nb, "--out", Path.Combine(dir.Path, "out"));
        Assert.True(r.Exit == 0, r.Err);
        var output = TestSupport.ReadJson(Path.Combine(dir.Path, "out", "api.ipynb"))["cells"]![0]!["outputs"]![0]!["text"];
        Assert.Equal("[ (Force = true in TrainOptions)]", TestSupport.Text(output));
    }

    /// <summary>`distill run 01-soft-targets` (a name, no folder or extension) said only "file not found": the notebook it
    /// matches (by name or prefix, here or in notebooks/) is named.</summary>
    [Fact]
    public void A_missing_notebook_suggests_the_notebooks_its_name_matches()
    {
        using var dir = new TempDir("cli-suggest");
        var nbs = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(nbs);
        foreach (var nb in new[] { "00-data.ipynb", "01-soft-targets.ipynb" }) TestSupport.WriteNotebook(nbs, nb, ("1 + 1", null));
        (int Exit, string Out, string Err) In(params string[] args)
        {
            var psi = Cli(args);
            psi.WorkingDirectory = dir.Path;
            return DistillProcess.Run(psi);
        }
        var name = In("run", "01-soft-targets");
        Assert.Equal((2, "error: 01-soft-targets: file not found; did you mean notebooks/01-soft-targets.ipynb?"), (name.Exit, name.Err.Trim()));
        var prefix = In("run", "notebooks/00-data");
        Assert.Equal((2, "error: notebooks/00-data: file not found; did you mean notebooks/00-data.ipynb?"), (prefix.Exit, prefix.Err.Trim()));
        var none = In("run", "nosuch");
        Assert.Equal((2, "error: nosuch: file not found; pass the path of a .ipynb or .dib notebook"), (none.Exit, none.Err.Trim()));
        // `distill run 0` named every notebook whose name holds a 0: at most 3, those starting with it first.
        foreach (var nb in new[] { "10-later.ipynb", "02-fitnets.ipynb", "03-attention.ipynb" }) TestSupport.WriteNotebook(nbs, nb, ("1 + 1", null));
        var many = In("run", "0");
        Assert.Equal((2, "error: 0: file not found; did you mean notebooks/00-data.ipynb or notebooks/01-soft-targets.ipynb or notebooks/02-fitnets.ipynb?"), (many.Exit, many.Err.Trim()));
    }

    /// <summary>A relative DISTILL_DATA or DISTILL_TEACHER_CACHE means the folder distill was started in, for the cells
    /// too (they run in the notebook's folder, where DISTILL_DATA=dd named notebooks/dd while `doctor` had read ./dd);
    /// off stays off.</summary>
    [Fact]
    public void Relative_folders_in_the_environment_are_the_callers_for_the_notebooks_cells()
    {
        using var dir = new TempDir("cli-relative-env");
        var nbs = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(nbs);
        TestSupport.WriteNotebook(nbs, "env.ipynb",
            ("Console.WriteLine(Environment.GetEnvironmentVariable(\"DISTILL_DATA\") + \"|\" + Environment.GetEnvironmentVariable(\"DISTILL_TEACHER_CACHE\") + \"|\" + Environment.GetEnvironmentVariable(\"DISTILL_SYSTEM_DATA\"));", null));
        string Printed(string cache)
        {
            var psi = Cli("run", "notebooks/env.ipynb", "--out", "out");
            psi.WorkingDirectory = dir.Path;
            (psi.Environment["DISTILL_DATA"], psi.Environment["DISTILL_TEACHER_CACHE"], psi.Environment["DISTILL_SYSTEM_DATA"]) = ("dd", cache, "../sys");
            var r = DistillProcess.Run(psi);
            Assert.True(r.Exit == 0, r.Err);
            return TestSupport.Text(TestSupport.ReadJson(Path.Combine(dir.Path, "out", "env.ipynb"))["cells"]![0]!["outputs"]![0]!["text"]).Trim();
        }
        Assert.Equal($"{Path.Combine(dir.Path, "dd")}|{Path.Combine(dir.Path, "tc")}|{Path.Combine(Path.GetDirectoryName(dir.Path)!, "sys")}", Printed("tc"));
        Assert.EndsWith("|off|" + Path.Combine(Path.GetDirectoryName(dir.Path)!, "sys"), Printed("off"), StringComparison.Ordinal);
    }

    /// <summary>--threads is what $DISTILL_THREADS only defaults: with both, reproduce refused the bad variable that
    /// --threads overrides (the environment it records had read it), where bench and each notebook's run took --threads.</summary>
    [Fact]
    public void Reproduce_threads_wins_over_a_bad_DISTILL_THREADS()
    {
        using var dir = new TempDir("cli-threads-env");
        var nbs = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(nbs);
        TestSupport.WriteNotebook(nbs, "00-one.ipynb", ("1 + 1", null));
        var psi = Cli("reproduce", "--notebooks", nbs, "--out", Path.Combine(dir.Path, "out"), "--budget", "smoke", "--threads", "1");
        psi.Environment["DISTILL_THREADS"] = "abc";
        var r = DistillProcess.Run(psi);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal(1, TestSupport.ReadJson(Path.Combine(dir.Path, "out", "results.json"))["notebooks"]![0]!["torchThreads"]!.GetValue<int>());
        psi.ArgumentList.RemoveAt(psi.ArgumentList.Count - 1);
        psi.ArgumentList.RemoveAt(psi.ArgumentList.Count - 1);
        var without = DistillProcess.Run(psi);
        Assert.Equal((2, "error: DISTILL_THREADS=abc is not a thread count"), (without.Exit, without.Err.Trim()[.."error: DISTILL_THREADS=abc is not a thread count".Length]));
    }

    [Fact]
    public void Bad_input_exits_2_with_the_fix()
    {
        var missing = Distill("run", "no/such/notebook.ipynb");
        Assert.Equal(2, missing.Exit);
        Assert.Contains("no/such/notebook.ipynb: file not found", missing.Err);
        // An empty path crashed in Path.GetFullPath (ArgumentException, "Nothing in this command expected it").
        var emptyNotebook = Distill("run", "");
        Assert.Equal((2, "error: '': this is an empty path, not a file; pass the path of a .ipynb or .dib notebook file"), (emptyNotebook.Exit, emptyNotebook.Err.Trim()));
        var badParam = Distill("run", TestSupport.TestData("basics.ipynb"), "-p", "epochs");
        Assert.Equal(2, badParam.Exit);
        Assert.Contains("-p epochs: expected name=value", badParam.Err);
        // A name given twice: one value ran, the summary listed both.
        using var twiceOut = new TempDir("cli-twice");
        var twice = Distill("reproduce", "--budget", "smoke", "-p", "seed=1", "-p", "seed=2", "--out", twiceOut.Path);
        Assert.Equal((2, "error: -p seed is given twice (seed=1, seed=2); give each name once."), (twice.Exit, twice.Err.Trim()));
        // -p budget alone is the budget: it was refused as disagreeing with the default --budget quick.
        using var budgetOut = new TempDir("cli-p-budget");
        var french = DistillProcess.Start("reproduce", "--notebooks", Path.Combine(TestSupport.RepoRoot, "notebooks"), "-p", "budget=smoke", "--only", "00", "--out", budgetOut.Path);
        (french.Environment["LANG"], french.Environment["LC_ALL"]) = ("fr_FR.UTF-8", "fr_FR.UTF-8");
        var pBudget = DistillProcess.Run(french);
        Assert.True(pBudget.Exit == 0, pBudget.Err);
        Assert.Contains("(budget smoke)", pBudget.Out);
        // Run under a French locale, which its cells get: 00 printed "mean 0,2860, std 0,3530" there.
        var printed = string.Concat(TestSupport.ReadJson(Path.Combine(budgetOut.Path, "00-data", "00-data.ipynb"))["cells"]!.AsArray()
            .SelectMany(c => c!["outputs"]?.AsArray() ?? []).Select(o => TestSupport.Text(o!["text"])));
        Assert.Contains("; mean 0.2860, std 0.3530\n", printed, StringComparison.Ordinal);
        // Two notebooks of one name would overwrite each other's report: refused before either runs.
        using var outDir = new TempDir("cli-same");
        using var src = new TempDir("cli-same-src");
        var copy = Path.Combine(src.Path, "basics.ipynb");
        File.Copy(TestSupport.TestData("basics.ipynb"), copy);
        var same = Distill("run", TestSupport.TestData("basics.ipynb"), copy, "--out", outDir.Path);
        Assert.Equal(2, same.Exit);
        Assert.Contains($"would write the same report ({Path.Combine(outDir.Path, "basics")}.*)", same.Err);
        Assert.Empty(Directory.GetFiles(outDir.Path));
        // --out naming an existing file: bad input (2), said as such, for run and reproduce alike; the file stays.
        var file = Path.Combine(outDir.Path, "a-file");
        File.WriteAllText(file, "mine");
        var runToFile = Distill("run", TestSupport.TestData("basics.ipynb"), "--out", file);
        Assert.Equal((2, $"error: --out {file}: this is a file; give a folder (it is created when missing)"), (runToFile.Exit, runToFile.Err.Trim()));
        using var notebooks = new TempDir("cli-out-file-notebooks");
        TestSupport.WriteNotebook(notebooks.Path, "00-ran.ipynb", ("System.IO.File.WriteAllText(\"ran.txt\", \"ran\");", null));
        var reproduceToFile = Distill("reproduce", "--notebooks", notebooks.Path, "--out", file);
        Assert.Equal((2, $"error: --out {file}: this is a file; give a folder (it is created when missing)"), (reproduceToFile.Exit, reproduceToFile.Err.Trim()));
        Assert.Equal("mine", File.ReadAllText(file));
        Assert.False(File.Exists(Path.Combine(notebooks.Path, "ran.txt")), "a notebook ran");
        // An empty --out was Path.GetFullPath's ArgumentException, reported as an unexpected crash (exit 1).
        foreach (var args in new[] { new[] { "run", TestSupport.TestData("basics.ipynb"), "--out", "" }, ["reproduce", "--notebooks", notebooks.Path, "--out", ""] })
        {
            var empty = Distill(args);
            Assert.Equal((2, "error: --out '': an empty path; give a folder (it is created when missing)"), (empty.Exit, empty.Err.Trim()));
        }
        Assert.False(File.Exists(Path.Combine(notebooks.Path, "ran.txt")), "a notebook ran");
        // A folder given as a notebook, and a notebook given as the folder of notebooks: said as such, not "not found".
        var folder = Directory.CreateDirectory(Path.Combine(notebooks.Path, "dir.ipynb")).FullName;
        var runFolder = Distill("run", folder, "--out", outDir.Path);
        Assert.Equal((2, $"error: {folder}: this is a folder, not a file; pass the path of a .ipynb or .dib notebook file"), (runFolder.Exit, runFolder.Err.Trim()));
        var notebook = Path.Combine(notebooks.Path, "00-ran.ipynb");
        var reproduceFile = Distill("reproduce", "--notebooks", notebook, "--out", outDir.Path);
        Assert.Equal((2, $"error: {notebook}: this is a file, not a folder; pass --notebooks DIR, the folder holding the notebooks (run one notebook with `distill run {notebook}`)"),
            (reproduceFile.Exit, reproduceFile.Err.Trim()));
    }

    [Fact]
    public void A_cell_that_ends_the_process_leaves_its_report_and_exits_1()
    {
        using var dir = new TempDir("cli-exit");
        var exits = TestSupport.WriteNotebook(dir.Path, "exits.ipynb",
            ("Console.WriteLine(\"before exit\");", null), ("Environment.Exit(0);", null), ("Console.WriteLine(\"after exit\");", null));
        var next = TestSupport.WriteNotebook(dir.Path, "next.ipynb", ("1 + 1", null));
        var outDir = Path.Combine(dir.Path, "out");
        var (exit, _, err) = Distill("run", exits, next, "--out", outDir);
        Assert.Equal(1, exit);
        Assert.Contains("✘ exits.ipynb: cell 2: the process was ended while this cell ran (Environment.Exit(0)", err, StringComparison.Ordinal);
        Assert.Matches(@"\n  cell 2 +\[2\] Failed +\d+\.\d\d s\n", err.ReplaceLineEndings("\n")); // its row, as every other end of a cell has
        Assert.Contains($"✘ {next}: not run: the process ended in {exits}", err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(outDir, "next.ipynb")));
        var cells = TestSupport.ReadJson(Path.Combine(outDir, "exits.ipynb"))["cells"]!.AsArray();
        Assert.Equal("before exit\n", TestSupport.Text(cells[0]!["outputs"]![0]!["text"]));
        Assert.Equal("ProcessExited", cells[1]!["outputs"]![0]!["ename"]!.GetValue<string>());
        Assert.Empty(cells[2]!["outputs"]!.AsArray());
        Assert.Equal("", TestSupport.NbformatErrors(Path.Combine(outDir, "exits.ipynb")));
        var manifest = TestSupport.ReadJson(Path.Combine(outDir, "exits.manifest.json"));
        Assert.Equal("failed", manifest["status"]!.GetValue<string>());
        Assert.Equal(["succeeded", "failed", "notrun"], manifest["cells"]!.AsArray().Select(c => c!["status"]!.GetValue<string>()));
        Assert.Contains("the process was ended while this cell ran", File.ReadAllText(Path.Combine(outDir, "exits.html")), StringComparison.Ordinal);
    }

    /// <summary>The kernel dies on an exception nobody catches on a thread; the runner reports that exception as the
    /// cell's error (not the "process died" record written before the cell) and exits 1, as for Environment.Exit.</summary>
    [Fact]
    public void An_exception_unhandled_on_a_background_thread_is_that_cells_error_and_exits_1()
    {
        using var dir = new TempDir("cli-unhandled");
        var bg = TestSupport.WriteNotebook(dir.Path, "bg.ipynb",
            ("Console.WriteLine(\"before\");", null),
            ("Console.WriteLine(\"starting\");\nnew System.Threading.Thread(() => throw new InvalidOperationException(\"bg boom\")).Start();\nSystem.Threading.Thread.Sleep(10000);", null),
            ("Console.WriteLine(\"after\");", null));
        var next = TestSupport.WriteNotebook(dir.Path, "next.ipynb", ("1 + 1", null));
        var outDir = Path.Combine(dir.Path, "out");
        var (exit, _, err) = Distill("run", bg, next, "--out", outDir);
        Assert.Equal(1, exit);
        Assert.Contains("✘ bg.ipynb: cell 2, line 2: System.InvalidOperationException: bg boom (unhandled on a background thread", err, StringComparison.Ordinal);
        Assert.Matches(@"\n  cell 2 +\[2\] Failed +\d+\.\d\d s\n", err.ReplaceLineEndings("\n"));
        Assert.Contains($"✘ {next}: not run: the process ended in {bg}", err, StringComparison.Ordinal);
        var cells = TestSupport.ReadJson(Path.Combine(outDir, "bg.ipynb"))["cells"]!.AsArray();
        var error = cells[1]!["outputs"]!.AsArray().Single(o => o!["output_type"]!.GetValue<string>() == "error")!;
        Assert.Equal("System.InvalidOperationException", error["ename"]!.GetValue<string>());
        Assert.Equal("bg boom", error["evalue"]!.GetValue<string>());
        Assert.Empty(cells[2]!["outputs"]!.AsArray());
        Assert.Equal("", TestSupport.NbformatErrors(Path.Combine(outDir, "bg.ipynb")));
        var manifest = TestSupport.ReadJson(Path.Combine(outDir, "bg.manifest.json"));
        Assert.Equal("failed", manifest["status"]!.GetValue<string>());
        Assert.Equal(["succeeded", "failed", "notrun"], manifest["cells"]!.AsArray().Select(c => c!["status"]!.GetValue<string>()));
        var html = File.ReadAllText(Path.Combine(outDir, "bg.html"));
        Assert.Contains("bg boom", html, StringComparison.Ordinal);
        Assert.DoesNotContain("ProcessDied", File.ReadAllText(Path.Combine(outDir, "bg.ipynb")), StringComparison.Ordinal);
    }

    /// <summary>A cell's thread that throws after the last cell, once the report is written: one error line naming the
    /// cell's line and exit 1, not the runtime's trace and abort (134); the report stands. Thrown at the moments around
    /// the notebook's end (during the next cells, between them, while the report is written, after), the run always
    /// ends with 1, one line and a report, never a stack trace or a hang.</summary>
    [Fact]
    public void An_exception_on_a_cells_thread_after_the_notebook_ended_is_one_line_and_exit_1()
    {
        using var dir = new TempDir("cli-unhandled-late");
        string Notebook(int delayMs) => TestSupport.WriteNotebook(dir.Path, $"late{delayMs}.ipynb",
            ($"new System.Threading.Thread(() => {{ System.Threading.Thread.Sleep({delayMs}); throw new InvalidOperationException(\"late boom\"); }}).Start();", null),
            ("System.Threading.Thread.Sleep(100);", null),
            ("2 + 2", null));
        var outDir = Path.Combine(dir.Path, "out");
        var (exit, _, err) = Distill("run", Notebook(2500), "--out", outDir);
        Assert.Equal(1, exit);
        Assert.Contains($"error: InvalidOperationException: late boom, thrown at {Path.Combine(dir.Path, "late2500.ipynb")} cell 1, line 1, on a background thread after the work", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.Equal("succeeded", TestSupport.ReadJson(Path.Combine(outDir, "late2500.manifest.json"))["status"]!.GetValue<string>());

        foreach (var delay in new[] { 150, 250, 350, 450, 600 })
        {
            var (code, _, stderr) = Distill("run", Notebook(delay), "--out", outDir);
            var what = $"thrown after {delay} ms → {code}\n{stderr}";
            Assert.True(code == 1, what);
            Assert.Contains("late boom", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(outDir, $"late{delay}.manifest.json")), what);
        }
    }

    /// <summary>An async void method that throws ends the process the same way; under `reproduce` that is the notebook's
    /// own process: its report says why, and the notebooks after it still run.</summary>
    [Fact]
    public void An_async_void_exception_under_reproduce_writes_the_summary_and_exits_1()
    {
        using var dir = new TempDir("cli-unhandled-reproduce");
        var notebooks = Directory.CreateDirectory(Path.Combine(dir.Path, "notebooks")).FullName;
        TestSupport.WriteNotebook(notebooks, "01-async.ipynb",
            ("async void Boom() { await Task.Yield(); throw new ArgumentException(\"async boom\"); }\nBoom();\nSystem.Threading.Thread.Sleep(10000);", null));
        TestSupport.WriteNotebook(notebooks, "02-next.ipynb", ("1 + 1", null));
        var reports = Path.Combine(dir.Path, "reports");
        var (exit, _, err) = Distill("reproduce", "--notebooks", notebooks, "--out", reports, "--budget", "smoke");
        Assert.Equal(1, exit);
        Assert.Contains("✘ 01-async.ipynb: cell 1, line 1: System.ArgumentException: async boom", err, StringComparison.Ordinal);
        var cells = TestSupport.ReadJson(Path.Combine(reports, "01-async", "01-async.ipynb"))["cells"]!.AsArray();
        Assert.Contains(cells, c => c!["outputs"]!.AsArray().Any(o => o!["ename"]?.GetValue<string>() == "System.ArgumentException"));
        var summary = File.ReadAllText(Path.Combine(reports, "results.md"));
        Assert.Contains("01-async: failed at cell 1, line 1: System.ArgumentException: async boom", summary, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(reports, "index.html")));
        Assert.Equal("succeeded", ((string?)TestSupport.ReadJson(Path.Combine(reports, "02-next", "02-next.manifest.json"))["status"])?.ToLowerInvariant());
    }

    /// <summary>The first compile JIT-compiles Roslyn (2-3 s on 2 cores): counted as the first cell's, it timed out a
    /// cell printing 2 under --cell-timeout 1. The warm-up before the first cell's clock is the runner's start-up; the
    /// test needs a process of its own, as a test process has compiled cells already.</summary>
    [Fact]
    public void The_runners_start_up_is_not_charged_to_the_first_cell_s_timeout()
    {
        using var dir = new TempDir("cli-timeout-first");
        var nb = TestSupport.WriteNotebook(dir.Path, "first.ipynb", ("Console.WriteLine(1 + 1);", null));
        var (exit, _, err) = Distill("run", nb, "--out", Path.Combine(dir.Path, "out"), "--cell-timeout", "1");
        Assert.True(exit == 0, err);
        var cell = TestSupport.ReadJson(Path.Combine(dir.Path, "out", "first.manifest.json"))["cells"]![0]!;
        Assert.Equal("succeeded", cell["status"]!.GetValue<string>());
        Assert.True(cell["seconds"]!.GetValue<double>() < 1, $"{cell["seconds"]} s");
    }

    /// <summary>reproduce passed -p budget=Smoke on as --budget Smoke, which every notebook's process refused (and the
    /// summary recorded as the budget); run injected it as a string.</summary>
    [Fact]
    public void A_p_budget_that_budget_does_not_take_is_refused_before_anything_runs()
    {
        using var dir = new TempDir("cli-p-budget-bad");
        var nbs = Directory.CreateDirectory(Path.Combine(dir.Path, "nbs")).FullName;
        var nb = TestSupport.WriteNotebook(nbs, "00-a.ipynb", ("string budget = \"quick\";", ["parameters"]), ("System.IO.File.WriteAllText(\"ran.txt\", budget);", null));
        foreach (var value in new[] { "Smoke", "bogus" })
            foreach (var args in new[] { new[] { "run", nb, "--out", Path.Combine(dir.Path, "run") }, ["reproduce", "--notebooks", nbs, "--out", Path.Combine(dir.Path, "reproduce")] })
            {
                var r = Distill([.. args, "-p", $"budget={value}"]);
                Assert.Equal((2, $"error: -p budget={value}: the budget is one of smoke, quick, full, as --budget takes it (e.g. -p budget=smoke)"), (r.Exit, r.Err.Trim()));
            }
        Assert.False(File.Exists(Path.Combine(nbs, "ran.txt")), "a cell ran");
        Assert.False(File.Exists(Path.Combine(dir.Path, "reproduce", "results.json")));
    }

    /// <summary>An option that takes a value, repeated without one, was dropped silently (exit 0); alone it was refused.</summary>
    [Fact]
    public void A_repeated_option_without_a_value_is_refused()
    {
        using var dir = new TempDir("cli-bare-repeat");
        var nbs = Directory.CreateDirectory(Path.Combine(dir.Path, "nbs")).FullName;
        var nb = TestSupport.WriteNotebook(nbs, "00-a.ipynb", ("int seed = 0;", ["parameters"]), ("System.IO.File.WriteAllText(\"ran.txt\", \"ran\");", null));
        foreach (var (args, option) in new[]
                 {
                     (new[] { "run", nb, "--out", Path.Combine(dir.Path, "a"), "--out" }, "--out"),
                     (["run", nb, "--out", Path.Combine(dir.Path, "a"), "-p", "seed=1", "-p"], "-p"),
                     (["reproduce", "--notebooks", nbs, "--out", Path.Combine(dir.Path, "r"), "--only", "00", "--only"], "--only"),
                 })
        {
            var r = Distill(args);
            Assert.Equal(2, r.Exit);
            Assert.Contains($"error: {option} is given 2 times, 1 of them without a value; give each one a value, or leave the bare one out", r.Err, StringComparison.Ordinal);
        }
        Assert.False(File.Exists(Path.Combine(nbs, "ran.txt")), "a cell ran");
    }

    /// <summary>-p @class=5 was read as a response file ('class=5' not found).</summary>
    [Fact]
    public void A_verbatim_parameter_name_is_the_parameter_not_a_response_file()
    {
        using var dir = new TempDir("cli-verbatim");
        var nb = TestSupport.WriteNotebook(dir.Path, "verbatim.ipynb", ("int @class = 1;", ["parameters"]), ("System.IO.File.WriteAllText(\"class.txt\", @class.ToString());", null));
        var r = Distill("run", nb, "--out", Path.Combine(dir.Path, "out"), "-p", "@class=5");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal("5", File.ReadAllText(Path.Combine(dir.Path, "class.txt")));
    }

    /// <summary>With a relative --notebooks, results.json gave each notebook's source relative to the cwd, beside
    /// absolute paths everywhere else.</summary>
    [Fact]
    public void Results_json_gives_each_notebooks_source_as_an_absolute_path()
    {
        using var dir = new TempDir("cli-relative-source");
        var nb = TestSupport.WriteNotebook(Directory.CreateDirectory(Path.Combine(dir.Path, "nbs")).FullName, "00-a.ipynb", ("1 + 1", null));
        var psi = DistillProcess.Start("reproduce", "--notebooks", "nbs", "--out", "out");
        psi.WorkingDirectory = dir.Path;
        var r = DistillProcess.Run(psi);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal(nb, TestSupport.ReadJson(Path.Combine(dir.Path, "out", "results.json"))["notebooks"]![0]!["source"]!.GetValue<string>());
    }

    [Fact]
    public void A_parameter_value_that_does_not_fit_its_default_is_refused_before_anything_runs()
    {
        using var dir = new TempDir("cli-param");
        var nb = TestSupport.WriteNotebook(dir.Path, "params.ipynb",
            ("int epochs = 3;\nfloat f = 1.5f;\nvar seeds = new List<int> { 0, 1 };\nint[] widths = new[] { 64, 32 };", ["parameters"]),
            ("System.IO.File.WriteAllText(\"ran.txt\", \"ran\");", null));
        var outDir = Path.Combine(dir.Path, "out");
        foreach (var (p, says) in new[]
                 {
                     ("epochs=abc", "'abc' is not an int"), ("epochs=99999999999", "is not in range"), ("f=1e39", "is not in range"), ("f=1e-50", "is not in range"),
                     ("seeds=0,1", "the notebook's default for 'seeds' is List<int>; -p supports string, bool, numbers and enums"),
                     ("widths=8", "the notebook's default for 'widths' is int[]; -p supports string, bool, numbers and enums"),
                     ("class=5", "'class' is a C# keyword, so no parameter has that name unless the parameters cell declares it as @class"),
                 })
        {
            var (exit, _, err) = Distill("run", nb, "--out", outDir, "-p", p);
            Assert.Equal(2, exit);
            Assert.Contains($"error: {nb}: -p {p}: ", err, StringComparison.Ordinal);
            Assert.Contains(says, err, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir.Path, "ran.txt")), "a cell ran");
            Assert.False(File.Exists(Path.Combine(outDir, "params.ipynb")));
        }
    }

    [Fact]
    public void Reproduce_prints_a_line_per_notebook_and_the_total_and_fails_when_one_did()
    {
        using var dir = new TempDir("cli-reproduce");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-ok.ipynb", ("Console.WriteLine(budget);", null));
        TestSupport.WriteNotebook(notebooks, "01-bad.ipynb", ("int x = \"no\";", null));
        var reports = Path.Combine(dir.Path, "reports");
        var (exit, stdout, _) = Distill("reproduce", "--notebooks", notebooks, "--out", reports, "--budget", "smoke");
        Assert.Equal(1, exit);
        Assert.Matches(@"\n✔ 00-ok: ok \(\d+\.\d s\)\n✘ 01-bad\.ipynb: cell 1, line 1: error CS0029: Cannot implicitly convert type 'string' to 'int' \(\d+\.\d s\)\n", stdout);
        Assert.Matches(@"1 ok, 1 failed; total wall time \d+\.\d s \(budget smoke\)", stdout);
        Assert.Contains($"wrote {Path.Combine(reports, "index.html")}", stdout);
        foreach (var f in new[] { "index.html", "results.md", "results.json", "00-ok/00-ok.html", "01-bad/01-bad.ipynb" })
            Assert.True(File.Exists(Path.Combine(reports, f)), f);
        // Again into the same folder: each notebook's process replaces the outputs the earlier one wrote (they are not
        // files of the user's, which `distill run` refuses to overwrite).
        var again = Distill("reproduce", "--notebooks", notebooks, "--out", reports, "--budget", "smoke");
        Assert.Equal(1, again.Exit);
        Assert.Matches(@"1 ok, 1 failed; total wall time", again.Out);

        var missing = Distill("reproduce", "--notebooks", "no/such");
        Assert.Equal(2, missing.Exit);
        Assert.Contains("error: no/such: notebooks folder not found", missing.Err);
    }

    /// <summary>`reproduce --help` listed its exit codes, `run --help` did not.</summary>
    [Fact]
    public void Run_help_lists_the_exit_codes()
    {
        var (exit, stdout, _) = Distill("run", "--help");
        Assert.Equal(0, exit);
        var help = System.Text.RegularExpressions.Regex.Replace(stdout, @"\s+", " ");
        foreach (var code in new[] { "Exit codes: 0 every notebook succeeded;", "; 1 a cell failed or timed out,", "; 2 bad input, found before that notebook's cells run",
                                     "holds a file no earlier run wrote", "; 130 Ctrl-C and 143 SIGTERM", "(134)", "(137)" })
            Assert.Contains(code, help, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_recipe_at_full_budget_loads_the_papers_dataset_and_bad_seeds_are_named()
    {
        // The full comparison is CIFAR-100 (absent here): it stops before training with the install command.
        var (exit, _, err) = Distill("train", "--recipe", "comparison", "--budget", "full");
        Assert.NotEqual(0, exit);
        Assert.Contains("CIFAR-100", err, StringComparison.Ordinal);
        Assert.Contains("distill data install cifar100", err, StringComparison.Ordinal);

        (exit, _, err) = Distill("train", "--recipe", "fitnets", "--budget", "smoke", "--seeds", "0;1");
        Assert.NotEqual(0, exit);
        Assert.Contains("seeds \"0;1\" is not a comma-separated list of integers", err, StringComparison.Ordinal);
    }
}
