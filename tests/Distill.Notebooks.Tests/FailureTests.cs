using System.Text.Json.Nodes;

namespace Distill.Notebooks.Tests;

/// <summary>Errors stop the run (or not, with continue-on-error), name notebook, cell and line, and the executed notebook
/// is still written and valid.</summary>
public class FailureTests
{
    static List<JsonNode> Cells(NotebookRunResult r) => TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray().Select(c => c!).ToList();

    [Fact]
    public void An_exception_stops_the_run_and_names_cell_and_line()
    {
        using var dir = new TempDir("error");
        var r = TestSupport.Run(TestSupport.TestData("error.ipynb"), dir.Path);
        Assert.Equal(RunStatus.Failed, r.Status);
        var f = Assert.Single(r.Failures);
        Assert.Equal("error.ipynb: cell 2, line 2: System.ArgumentOutOfRangeException: Index was out of range. Must be non-negative and less than the size of the collection. (Parameter 'index')", f.ToString());
        var cells = Cells(r);
        var err = cells[1]["outputs"]!.AsArray().Last()!;
        Assert.Equal("error", err["output_type"]!.GetValue<string>());
        Assert.Equal("System.ArgumentOutOfRangeException", err["ename"]!.GetValue<string>());
        Assert.Contains(err["traceback"]!.AsArray(), l => l!.GetValue<string>().EndsWith("error.ipynb cell 2:line 2", StringComparison.Ordinal));
        Assert.Equal("about to fail\n", TestSupport.Text(cells[1]["outputs"]![0]!["text"])); // output before the throw is kept
        Assert.Null(cells[2]["execution_count"]);  // not run
        Assert.Empty(cells[2]["outputs"]!.AsArray());
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
        Assert.Equal("failed", TestSupport.ReadJson(r.Files.Manifest)["status"]!.GetValue<string>());
        Assert.Contains("failed: error.ipynb: cell 2, line 2", File.ReadAllText(r.Files.Html!));
    }

    /// <summary>An exception from inside <c>display(x)</c> (here an enumerable that throws while the formatter lists it;
    /// the kernel fails that cell too) passes through the runner's display code: its frames are plumbing and are left
    /// out, the user's and the formatter's stay.</summary>
    [Fact]
    public void A_traceback_through_display_shows_no_runner_frames()
    {
        using var dir = new TempDir("error-display");
        var nb = TestSupport.WriteNotebook(dir.Path, "display-throws.ipynb",
            ("IEnumerable<int> Bad() { yield return 1; throw new InvalidOperationException(\"enum boom\"); }\ndisplay(Bad());", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.Equal("display-throws.ipynb: cell 1, line 1: System.InvalidOperationException: enum boom", Assert.Single(r.Failures).ToString());
        var traceback = Cells(r)[0]["outputs"]!.AsArray().Last()!["traceback"]!.AsArray().Select(l => l!.GetValue<string>()).ToList();
        Assert.Contains(traceback, l => l.Contains("at Submission#1.<Bad>", StringComparison.Ordinal)); // #0: the runner's warm-up
        Assert.Contains(traceback, l => l.Contains("Microsoft.DotNet.Interactive.Formatting", StringComparison.Ordinal));
        Assert.Contains(traceback, l => l.EndsWith("display-throws.ipynb cell 1:line 1", StringComparison.Ordinal));
        Assert.DoesNotContain(traceback, l => l.Contains("Distill.Notebooks", StringComparison.Ordinal));
    }

    /// <summary>An exception whose Message getter throws (so its ToString does too) is still the cell's own error: its
    /// type, a message naming what the getter threw, and the cell's frames, without the runner's. It was reported as
    /// the runner's trouble ("RunnerError: distill run could not run this cell", with NotebookRunner's frames).</summary>
    [Fact]
    public void An_exception_whose_Message_throws_is_the_cells_error()
    {
        using var dir = new TempDir("error-message-getter");
        var nb = TestSupport.WriteNotebook(dir.Path, "message-throws.ipynb",
            ("class E1 : Exception { public override string Message => throw new InvalidOperationException(\"msg getter\"); }", null),
            ("var x = 1;\nthrow new E1();", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        var f = Assert.Single(r.Failures);
        Assert.Equal("cell 2", f.Cell);
        Assert.Equal(2, f.Line);
        Assert.Equal("Submission#1+E1: (its Message getter threw System.InvalidOperationException: msg getter)", f.Message);
        var err = Cells(r)[1]["outputs"]!.AsArray().Last()!;
        Assert.Equal("Submission#1+E1", err["ename"]!.GetValue<string>());
        Assert.Equal("(its Message getter threw System.InvalidOperationException: msg getter)", err["evalue"]!.GetValue<string>());
        var traceback = err["traceback"]!.AsArray().Select(l => l!.GetValue<string>()).ToList();
        Assert.Equal("Submission#1+E1: (its Message getter threw System.InvalidOperationException: msg getter)", traceback[0]);
        Assert.EndsWith("message-throws.ipynb cell 2:line 2", traceback[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(traceback, l => l.Contains("Distill.Notebooks", StringComparison.Ordinal) || l.Contains("Microsoft.CodeAnalysis", StringComparison.Ordinal));
    }

    /// <summary>--max-output caps an error as it caps other outputs: a 200,000-character message was kept whole in the
    /// evalue, the traceback and the manifest, and printed whole on the failure line.</summary>
    [Fact]
    public void An_errors_message_is_cut_at_max_output()
    {
        using var dir = new TempDir("error-huge-message");
        var nb = TestSupport.WriteNotebook(dir.Path, "huge.ipynb", ("throw new Exception(new string('x', 200_000));", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { MaxOutputChars = 2000 });
        var f = Assert.Single(r.Failures);
        Assert.InRange(f.Message.Length, 2000, 2300);
        Assert.InRange(f.ToString().Length, 900, 1100); // the terminal's failure line is shorter still (TerminalText.ShortLine)
        Assert.Contains("… output cut here: 198,018 more characters not kept (distill run --max-output)", f.Message, StringComparison.Ordinal);
        var err = Assert.IsType<Documents.ErrorOutput>(Assert.Single(r.Cells[0].Outputs));
        Assert.StartsWith(new string('x', 2000) + "\n… output cut here: 198,000 more characters not kept", err.EValue, StringComparison.Ordinal);
        Assert.InRange(err.EValue.Length, 2000, 2200);
        Assert.InRange(err.Traceback.Sum(l => l.Length), 2000, 2300);
        Assert.Contains(err.Traceback, l => l.Contains("output cut here", StringComparison.Ordinal));
        Assert.True(new FileInfo(r.Files.Notebook).Length < 20_000, $"{r.Files.Notebook}: {new FileInfo(r.Files.Notebook).Length} bytes");
        Assert.True(new FileInfo(r.Files.Manifest).Length < 20_000, $"{r.Files.Manifest}: {new FileInfo(r.Files.Manifest).Length} bytes");
    }

    [Fact]
    public void Continue_on_error_runs_the_rest_and_reports_compile_errors_with_their_line()
    {
        using var dir = new TempDir("error-continue");
        var r = TestSupport.Run(TestSupport.TestData("error.ipynb"), dir.Path, new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal(RunStatus.Failed, r.Status);
        Assert.Equal(2, r.Failures.Count);
        Assert.Equal("error.ipynb: cell 4, line 2: error CS0029: Cannot implicitly convert type 'string' to 'int'", r.Failures[1].ToString());
        var cells = Cells(r);
        Assert.Equal("after\n", TestSupport.Text(cells[2]["outputs"]![0]!["text"]));
        Assert.Equal("CompilationError", cells[3]["outputs"]![0]!["ename"]!.GetValue<string>());
        Assert.Equal([1, 2, 3, 4], cells.Select(c => c["execution_count"]!.GetValue<int>()));
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
    }

    [Fact]
    public void A_cell_in_another_kernel_is_an_error_naming_the_cell()
    {
        using var dir = new TempDir("kernels");
        var r = TestSupport.Run(TestSupport.TestData("kernels.ipynb"), dir.Path);
        var f = Assert.Single(r.Failures);
        Assert.Equal("kernels.ipynb: cell 2: cell 2 is a fsharp cell; distill run executes C# cells only. Port it to C# or move it out of the notebook", f.ToString());
        Assert.Equal("UnsupportedKernel", Cells(r)[1]["outputs"]![0]!["ename"]!.GetValue<string>());
        Assert.Equal(CellStatus.NotRun, r.Cells[2].Status);
    }

    [Fact]
    public void An_unknown_magic_fails_the_cell_before_it_runs()
    {
        using var dir = new TempDir("magic");
        var r = TestSupport.Run(TestSupport.TestData("magic.ipynb"), dir.Path);
        var f = Assert.Single(r.Failures);
        Assert.Equal(1, f.Line);
        var outs = Cells(r)[1]["outputs"]!.AsArray();
        Assert.Equal("DNI101", Assert.Single(outs)!["ename"]!.GetValue<string>()); // "never" was not printed
        Assert.Contains("Unknown magic command '#!unknown-magic'", f.Message);
    }

    /// <summary>A missing #load file failed the cell with a bare "CS1504: Source file 'nope.csx' could not be opened"; a
    /// file that is there still loads (the line is Roslyn's).</summary>
    [Fact]
    public void A_missing_load_file_is_named_with_the_path_it_was_looked_for_at()
    {
        using var dir = new TempDir("load");
        File.WriteAllText(Path.Combine(dir.Path, "helper.csx"), "int Twice(int x) => 2 * x;");
        var nb = TestSupport.WriteNotebook(dir.Path, "load.ipynb", ("#load \"helper.csx\"\nConsole.WriteLine(Twice(21));", null), ("#load \"nope.csx\"", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.Equal("42\n", TestSupport.Text(Cells(r)[0]["outputs"]![0]!["text"]));
        Assert.Equal($"load.ipynb: cell 2, line 1: #load \"nope.csx\" (line 1): {Path.Combine(dir.Path, "nope.csx")} does not exist; relative paths are taken from the current directory, {dir.Path} (the notebook's folder unless a cell changed it, as in the kernel)",
            Assert.Single(r.Failures).ToString());
    }

    /// <summary>Probed against the kernel (Jupyter, .net-csharp): after a cell changes the current directory, a relative
    /// #load or #r is taken from there. Here it was taken from the notebook's folder: green here, CS1504 there.</summary>
    [Fact]
    public void Relative_load_paths_are_taken_from_the_current_directory_as_in_the_kernel()
    {
        using var dir = new TempDir("load-cwd");
        Directory.CreateDirectory(Path.Combine(dir.Path, "sub"));
        File.WriteAllText(Path.Combine(dir.Path, "top.csx"), "Console.WriteLine(\"notebook's folder\");");
        File.WriteAllText(Path.Combine(dir.Path, "sub", "inner.csx"), "Console.WriteLine(\"sub\");");
        var nb = TestSupport.WriteNotebook(dir.Path, "cwd.ipynb", ("#load \"top.csx\"", null),
            ("System.IO.Directory.SetCurrentDirectory(\"sub\");", null), ("#load \"inner.csx\"", null), ("#load \"top.csx\"", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.Equal(["notebook's folder\n", "", "sub\n"], Cells(r).Take(3).Select(c => string.Concat(c["outputs"]!.AsArray().Select(o => TestSupport.Text(o!["text"])))));
        Assert.Equal($"cwd.ipynb: cell 4, line 1: #load \"top.csx\" (line 1): {Path.Combine(dir.Path, "sub", "top.csx")} does not exist; relative paths are taken " +
                     $"from the current directory, {Path.Combine(dir.Path, "sub")} (the notebook's folder unless a cell changed it, as in the kernel)",
            Assert.Single(r.Failures).ToString());
    }

    /// <summary>Review: reading the current directory throws once a cell has deleted it (a temporary folder it moved
    /// into), and every later cell failed as a runner error; they run, with paths taken from the notebook's folder.</summary>
    [Fact]
    public void Cells_after_one_that_deleted_the_current_directory_still_run()
    {
        using var dir = new TempDir("cwd-gone");
        File.WriteAllText(Path.Combine(dir.Path, "top.csx"), "Console.WriteLine(\"loaded\");");
        var nb = TestSupport.WriteNotebook(dir.Path, "gone.ipynb",
            ("var d = System.IO.Directory.CreateTempSubdirectory(\"gone\");\nSystem.IO.Directory.SetCurrentDirectory(d.FullName);\nd.Delete(true);", null),
            ("Console.WriteLine(1 + 1);", null), ("#load \"top.csx\"", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.Empty(r.Failures);
        Assert.Equal(["", "2\n", "loaded\n"], Cells(r).Select(c => string.Concat(c["outputs"]!.AsArray().Select(o => TestSupport.Text(o!["text"])))));
    }

    [Fact]
    public void A_cell_over_its_timeout_is_abandoned_and_the_run_is_still_written()
    {
        using var dir = new TempDir("timeout");
        var nb = TestSupport.WriteNotebook(dir.Path, "slow.ipynb",
            ("Console.WriteLine(\"quick\");", null),
            ("Console.WriteLine(\"starting\");\nSystem.Threading.Thread.Sleep(30_000);", null),
            ("Console.WriteLine(\"never\");", null));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { CellTimeout = TimeSpan.FromSeconds(3) });
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(25), $"took {clock.Elapsed}");
        Assert.Equal(RunStatus.TimedOut, r.Status);
        Assert.Equal([CellStatus.Succeeded, CellStatus.TimedOut, CellStatus.NotRun], r.Cells.Select(c => c.Status));
        var cells = Cells(r);
        var outs = cells[1]["outputs"]!.AsArray();
        Assert.Equal("starting\n", TestSupport.Text(outs[0]!["text"]));
        Assert.Equal("CellTimeout", outs[1]!["ename"]!.GetValue<string>());
        Assert.Contains("--cell-timeout 3 s", r.Failures.Single().Message);
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
    }

    /// <summary>A thread cell 1 started writes and displays into cell 1 while the later cells run, and the notebook so
    /// far is saved before each of them: enumerating cell 1's outputs as the thread added one threw "Collection was
    /// modified", and the run ended with that error, its report unwritten.</summary>
    [Fact]
    public void A_cell_s_thread_writing_while_the_notebook_so_far_is_saved_does_not_end_the_run()
    {
        using var dir = new TempDir("writing-thread");
        var nb = TestSupport.WriteNotebook(dir.Path, "busy.ipynb",
        [
            ("var stop = false;\nnew System.Threading.Thread(() => { for (var i = 0; !stop; i++) { Console.Write(\"tick\\n\"); display(i); System.Threading.Thread.Sleep(1); } }) { IsBackground = true }.Start();", null),
            .. Enumerable.Range(0, 100).Select(i => ($"var v{i} = {i};", (string[]?)null)),
            ("stop = true;", null),
        ]);
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.True(File.Exists(r.Files.Html));
        Assert.Contains(Cells(r)[0]["outputs"]!.AsArray(), o => TestSupport.Text(o!["text"]).StartsWith("tick\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Output_of_a_cell_s_threads_stays_in_that_cell_and_never_reaches_the_next_notebook()
    {
        using var dir = new TempDir("leak");
        // Cell 1 starts a thread that keeps printing; cell 3 is abandoned by the timeout and keeps printing too.
        var a = TestSupport.WriteNotebook(dir.Path, "a.ipynb",
            ("new System.Threading.Thread(() => { for (int i = 0; i < 100; i++) { Console.WriteLine($\"BG {i}\"); System.Threading.Thread.Sleep(100); } }) { IsBackground = true }.Start();\nSystem.Threading.Thread.Sleep(300);", null),
            ("System.Threading.Thread.Sleep(600);\nConsole.WriteLine(\"A2\");", null),
            ("for (int i = 0; i < 100; i++) { Console.WriteLine($\"ABANDONED {i}\"); System.Threading.Thread.Sleep(100); }", null));
        var b = TestSupport.WriteNotebook(dir.Path, "b.ipynb", ("Console.WriteLine(\"B1\");\nSystem.Threading.Thread.Sleep(1500);\nConsole.WriteLine(\"B1 end\");", null));
        var ra = TestSupport.Run(a, Path.Combine(dir.Path, "out"), new NotebookRunOptions { CellTimeout = TimeSpan.FromSeconds(3) });
        Assert.Equal(RunStatus.TimedOut, ra.Status);
        var rb = TestSupport.Run(b, Path.Combine(dir.Path, "out"));
        Assert.True(rb.Succeeded, string.Join("\n", rb.Failures));
        var cells = Cells(ra);
        Assert.StartsWith("BG 0\n", TestSupport.Text(cells[0]["outputs"]![0]!["text"]), StringComparison.Ordinal);
        Assert.Equal("A2\n", TestSupport.Text(Assert.Single(cells[1]["outputs"]!.AsArray())!["text"]));
        Assert.DoesNotContain("BG", TestSupport.Text(cells[2]["outputs"]![0]!["text"]), StringComparison.Ordinal);
        Assert.Equal("B1\nB1 end\n", TestSupport.Text(Assert.Single(Cells(rb)[0]["outputs"]!.AsArray())!["text"]));
    }

    [Fact]
    public void New_parameters_replace_the_injected_cell_of_an_earlier_run_and_a_notebook_without_a_parameters_cell_gets_a_warning()
    {
        using var dir = new TempDir("reinject");
        var nb = TestSupport.WriteNotebook(dir.Path, "p.ipynb", ("var a = 1;", ["parameters"]), ("Console.WriteLine($\"a={a}\");", null));
        var first = TestSupport.Run(nb, Path.Combine(dir.Path, "first"), new NotebookRunOptions { Parameters = [new("a", "42")] });
        // The executed notebook, with its injected cell, run again with a new value: the new one counts, once.
        var second = TestSupport.Run(first.Files.Notebook, Path.Combine(dir.Path, "second"), new NotebookRunOptions { Parameters = [new("a", "7")] });
        Assert.True(second.Succeeded, string.Join("\n", second.Failures));
        var cells = Cells(second);
        Assert.Single(cells, c => c["metadata"]!["tags"]?.AsArray().Any(t => t!.GetValue<string>() == "injected-parameters") == true);
        Assert.Equal("a=7\n", TestSupport.Text(cells[^1]["outputs"]![0]!["text"]));

        var plain = TestSupport.WriteNotebook(dir.Path, "plain.ipynb", ("var a = 1;", null), ("Console.WriteLine($\"a={a}\");", null));
        var log = new StringWriter();
        var r = TestSupport.Run(plain, Path.Combine(dir.Path, "plain"), new NotebookRunOptions { Parameters = [new("a", "7")], Log = log });
        Assert.Equal("a=1\n", TestSupport.Text(Cells(r)[^1]["outputs"]![0]!["text"])); // the notebook's own assignment wins, as in papermill
        Assert.Contains($"warning: {plain}: no cell is tagged 'parameters', so the values of a were injected in a cell at the top", log.ToString(), StringComparison.Ordinal);

        // A markdown cell tagged 'parameters' is named as what it is, not as missing.
        var md = TestSupport.WriteNotebook(dir.Path, "md.ipynb", ("# Parameters", ["parameters"]), ("Console.WriteLine($\"a={a}\");", null));
        var json = TestSupport.ReadJson(md);
        json["cells"]![0]!["cell_type"] = "markdown";
        File.WriteAllText(md, json.ToJsonString());
        log = new StringWriter();
        r = TestSupport.Run(md, Path.Combine(dir.Path, "md"), new NotebookRunOptions { Parameters = [new("a", "7")], Log = log });
        Assert.Equal("a=7\n", TestSupport.Text(Cells(r)[^1]["outputs"]![0]!["text"]));
        Assert.Contains($"warning: {md}: cell 1 is tagged 'parameters' but is a markdown cell, not a code cell, so the values of a were injected in a cell at the top",
            log.ToString(), StringComparison.Ordinal);
    }

    /// <summary>With --continue-on-error the cells after a failing parameters cell run on, so the -p values are injected
    /// after it all the same (as papermill does): they ran with the defaults the values were given to replace, silently.</summary>
    [Fact]
    public void A_failing_parameters_cell_still_gets_its_values_when_the_run_continues_on_error()
    {
        using var dir = new TempDir("reinject-failed");
        var nb = TestSupport.WriteNotebook(dir.Path, "p.ipynb", ("int epochs = 3; string name = \"a\"; var data = System.IO.File.ReadAllText(\"missing.txt\");", ["parameters"]),
            ("Console.WriteLine($\"epochs={epochs} name={name}\");", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true, Parameters = [new("epochs", "50"), new("name", "zz")] });
        Assert.Contains("FileNotFoundException", Assert.Single(r.Failures).ToString(), StringComparison.Ordinal);
        Assert.Equal("epochs=50 name=zz\n", TestSupport.Text(Cells(r)[^1]["outputs"]![0]!["text"]));
        Assert.Equal(("50", "zz"), (r.Parameters["epochs"], r.Parameters["name"]));
    }

    [Fact]
    public async Task Cancelling_writes_what_has_run_so_far()
    {
        using var dir = new TempDir("interrupt");
        var nb = TestSupport.WriteNotebook(dir.Path, "long.ipynb",
            ("var done = 1;\nConsole.WriteLine(\"cell one\");", null),
            ("Console.WriteLine(\"training...\");\nSystem.Threading.Thread.Sleep(30_000);", null),
            ("Console.WriteLine(\"never\");", null));
        using var cts = new CancellationTokenSource();
        using var log = new SignalWriter("cell 1 ");
        var runner = new NotebookRunner(new NotebookRunOptions { OutputDirectory = Path.Combine(dir.Path, "out"), PackageCacheDirectory = TestSupport.PackageCache, Log = log });
        var task = runner.RunAsync(nb, cts.Token);
        Assert.True(log.Seen.Wait(TimeSpan.FromSeconds(60)), "the first cell never finished");
        Thread.Sleep(500); // Ctrl-C while the long cell runs
        cts.Cancel();
        var r = await task;
        Assert.Equal(RunStatus.Interrupted, r.Status);
        Assert.Equal([CellStatus.Succeeded, CellStatus.Interrupted, CellStatus.NotRun], r.Cells.Select(c => c.Status));
        var cells = Cells(r);
        Assert.Equal("cell one\n", TestSupport.Text(cells[0]["outputs"]![0]!["text"]));
        Assert.Equal("Interrupted", cells[1]["outputs"]!.AsArray().Last()!["ename"]!.GetValue<string>());
        Assert.Equal("interrupted", TestSupport.ReadJson(r.Files.Manifest)["status"]!.GetValue<string>());
    }
}

public class OutputCapTests
{
    /// <summary>A cut whose last kept character was half of an emoji wrote that half as U+FFFD into the notebook and
    /// the report; the cut moves back to the pair's start. Later writes to the cut stream keep the count right.</summary>
    [Fact]
    public void A_cut_never_splits_an_emoji()
    {
        using var dir = new TempDir("cap-emoji");
        var nb = TestSupport.WriteNotebook(dir.Path, "emoji.ipynb",
            ("Console.Write(new string('x', 1999) + \"😀😀\"); Console.Write(\"more\");", null),
            ("throw new Exception(new string('y', 1999) + \"😀😀\");", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { MaxOutputChars = 2000, ContinueOnError = true });
        var cells = TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray();
        var stream = TestSupport.Text(cells[0]!["outputs"]![0]!["text"]);
        Assert.StartsWith(new string('x', 1999) + "\n… output cut here: 8 more characters not kept", stream);
        var error = cells[1]!["outputs"]![0]!["evalue"]!.GetValue<string>();
        Assert.StartsWith(new string('y', 1999) + "\n… output cut here: 4 more characters not kept", error);
        Assert.DoesNotContain('\uFFFD', File.ReadAllText(r.Files.Notebook) + File.ReadAllText(r.Files.Html!));
    }

    [Fact]
    public void A_huge_output_is_cut_at_the_cap_with_a_line_saying_how_much_in_the_notebook_and_the_report()
    {
        using var dir = new TempDir("cap");
        var nb = TestSupport.WriteNotebook(dir.Path, "big.ipynb",
            ("for (int i = 0; i < 100; i++) Console.Write(new string('x', 1000));", null),
            ("HTML(\"<p>\" + new string('y', 5000) + \"</p>\")", null),
            ("Console.WriteLine(\"small\");", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { MaxOutputChars = 2000 });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var cells = TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray();
        var stream = TestSupport.Text(cells[0]!["outputs"]![0]!["text"]);
        Assert.StartsWith(new string('x', 2000) + "\n… output cut here: 98,000 more characters not kept", stream);
        Assert.True(stream.Length < 2200);
        // HTML over the cap is not cut mid-markup: the output's text form shows instead, saying why.
        var data = cells[1]!["outputs"]![0]!["data"]!.AsObject();
        Assert.False(data.ContainsKey("text/html"));
        var text = TestSupport.Text(data["text/plain"]);
        Assert.Contains("its HTML form (5,007 characters) was over distill run --max-output and not kept; this is its text form", text, StringComparison.Ordinal);
        Assert.True(text.Length < 2300, $"{text.Length} characters");
        Assert.Equal("small\n", TestSupport.Text(cells[2]!["outputs"]![0]!["text"]));
        Assert.True(new FileInfo(r.Files.Html!).Length < 60_000);
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
    }

    /// <summary>HTML over the cap was replaced by the note alone, though the output's text form was kept beside it: the
    /// report showed the note and hid the text. The HTML is dropped and the text shows, saying why.</summary>
    [Fact]
    public void Html_over_the_cap_gives_way_to_the_outputs_text_form()
    {
        var html = "<p>" + new string('y', 5000) + "</p>";
        var capped = Distill.Notebooks.Display.OutputSink.Cap(new Dictionary<string, string> { ["text/html"] = html, ["text/plain"] = "the table as text\n" }, 2000);
        Assert.False(capped.ContainsKey("text/html"));
        Assert.Equal("the table as text\n… its HTML form (5,007 characters) was over distill run --max-output and not kept; this is its text form\n", capped["text/plain"]);
        // Without a text form the note stands in for the HTML, as before.
        Assert.Contains("output cut here: 5,007 more characters", Distill.Notebooks.Display.OutputSink.Cap(new Dictionary<string, string> { ["text/html"] = html }, 2000)["text/html"], StringComparison.Ordinal);
    }

    [Fact]
    public void Many_outputs_each_under_the_cap_are_bounded_per_cell_with_a_line_saying_how_many()
    {
        using var dir = new TempDir("cellcap");
        var nb = TestSupport.WriteNotebook(dir.Path, "many.ipynb",
            ("for (int i = 0; i < 1000; i++) { Console.Out.Write(new string('o', 100)); Console.Error.Write(new string('e', 100)); }\nfor (int i = 0; i < 500; i++) display(i);", null),
            ("Console.WriteLine(\"next cell\");", null),
            ("Console.Write(new string('z', 100_000));", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { MaxOutputChars = 2000 });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var cells = TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray();
        var outputs = cells[0]!["outputs"]!.AsArray();
        Assert.True(outputs.Count <= 81, $"{outputs.Count} outputs"); // 8,000 characters of 100-character writes, and the note
        var note = TestSupport.Text(outputs[^1]!["text"]);
        Assert.Contains("this cell's outputs reached 8,000 characters (4 × distill run --max-output): 2,420 more writes and displays (", note, StringComparison.Ordinal);
        Assert.Equal("next cell\n", TestSupport.Text(cells[1]!["outputs"]![0]!["text"])); // a new cell has its own budget
        // One write over the cap keeps what one output may (the budget is charged what is kept, not what was written).
        var big = Assert.Single(cells[2]!["outputs"]!.AsArray());
        Assert.StartsWith(new string('z', 2000) + "\n… output cut here: 98,000 more characters not kept", TestSupport.Text(big!["text"]), StringComparison.Ordinal);
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
    }
}
