using System.CommandLine;
using Distill.Bench;
using Distill.Native;

namespace Distill.Cli;

static class BenchCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "Short budget: 10 rounds per case, 7-10 minutes with --peer on 2 cores (numbers are noisier)." };
        var json = new Option<string?>("--json") { Description = "Also write the report as JSON to this file (schema: docs/performance.md)." };
        var peer = new Option<bool>("--peer") { Description = "Run the same cases in PyTorch (bench/peer/bench_peer.py) and print ours/peer ratios." };
        var python = new Option<string?>("--python") { Description = "Python with torch for --peer (default: $DISTILL_PEER_PYTHON, else /usr/bin/python3)." };
        var threads = new Option<int?>("--threads") { Description = "Threads for both sides (default: $DISTILL_THREADS, else all cores).", CustomParser = ThreadCount };
        var only = new Option<string[]>("--only") { Description = "Run only cases whose name contains one of these, given apart or comma-separated (the GEMM limit always runs).", AllowMultipleArgumentsPerToken = true };
        var smoke = new Option<bool>("--smoke") { Description = "1 warm-up + 2 steps per case and a 3-epoch memory run: checks the harness, measures nothing.", Hidden = true };
        var save = new Option<string?>("--save-numerics") { Description = "Write a seeded GEMM and MLP training result to this file (compare runs, e.g. with DISTILL_MKL_AMD_FIX=0)." };
        var memoryEpochs = new Option<int?>("--memory-epochs") { Description = "Epochs of the memory run (default 20; 0 skips it)." };
        var compare = new Option<string?>("--compare-numerics") { Description = "Compare this run's GEMM and MLP training result with a file from --save-numerics." };
        var cmd = new Command("bench", "Benchmark training steps against the machine's GEMM limit and (with --peer) PyTorch; table and --json.");
        foreach (var o in new Option[] { quick, json, peer, python, threads, only, memoryEpochs, smoke, save, compare }) cmd.Options.Add(o);
        cmd.SetAction(r => Run(r.GetValue(quick), r.GetValue(smoke), r.GetValue(json), r.GetValue(peer), r.GetValue(python),
            r.GetValue(threads), r.GetValue(only) ?? [], r.GetValue(memoryEpochs), r.GetValue(save), r.GetValue(compare)));
        return cmd;
    }

    /// <summary>--threads in the range it has (1 to 4 × the cores): the parser's own error for a number beyond int gave
    /// int's range, which is not the one to pick from.</summary>
    static int? ThreadCount(System.CommandLine.Parsing.ArgumentResult r)
    {
        var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        int n = int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        if (TorchRuntime.ThreadsError(n, $"--threads {text}") is not { } error) return n;
        r.AddError(error);
        return null;
    }

    static int Run(bool quick, bool smoke, string? json, bool peer, string? python, int? threads, string[] only,
        int? memoryEpochs, string? save, string? compare)
    {
        if (memoryEpochs is < 0 or 1 or 2) return Fail($"--memory-epochs {memoryEpochs}: give 0 (skip) or at least 3 (growth is measured from epoch 2).");
        if (save is not null || compare is not null)
        {
            var numerics = save is not null ? "--save-numerics" : "--compare-numerics";
            var ignored = new (bool Given, string Name)[]
            {
                (json is not null, "--json"), (peer, "--peer"), (python is not null, "--python"), (only.Length > 0, "--only"),
                (quick, "--quick"), (smoke, "--smoke"), (memoryEpochs is not null, "--memory-epochs"),
            }.Where(o => o.Given).Select(o => o.Name).ToList();
            if (ignored.Count > 0)
                return Fail($"{numerics} runs no benchmark, so {string.Join(", ", ignored)} would be ignored; run the numerics alone (with --threads at most) and the benchmark as a second command.");
            if (save is not null && OutputFileError("--save-numerics", save, "numerics.bin", Numerics.IsNumericsFile, "a file of --save-numerics") is { } badSave) return Fail(badSave);
            if (compare is not null && InputFileError(compare) is { } badCompare) return Fail(badCompare);
            return RunNumerics(threads, save, compare);
        }
        // Read only with --peer: without it the Python was dropped silently and a full benchmark ran without the peer.
        if (python is not null && !peer)
            return Fail($"--python {python} is the peer's Python, and without --peer no peer runs; add --peer to compare with PyTorch, or drop --python.");
        if (NotebookArgs.List("--only", only, "gemm,notebook") is not { } cases) return 2;
        // Checked before anything runs: a bad --json path found after the run cost the whole benchmark.
        if (json is not null && OutputFileError("--json", json, "bench.json", BenchReport.IsReportFile, "a report of bench --json") is { } badJson) return Fail(badJson);

        PeerOptions? peerOptions = null;
        if (peer)
        {
            var script = Peer.FindScript();
            if (script is null)
                return Fail($"--peer: bench/peer/{Peer.ScriptName} not found above {Directory.GetCurrentDirectory()}; run from the repository.");
            peerOptions = new PeerOptions(python ?? Peer.DefaultPython(), script, null);
            if (Peer.Check(peerOptions.Python) is string problem) return Fail(problem);
        }
        using var ctrlC = new CtrlC(Console.Error);
        var options = new BenchOptions
        {
            Budget = smoke ? TimingBudget.Smoke : quick ? TimingBudget.Quick : TimingBudget.Full,
            Threads = threads,
            Only = cases,
            Peer = peerOptions,
            MemoryEpochs = memoryEpochs ?? (smoke ? 3 : 20),
            MemorySamples = smoke ? 512 : 4096,
            Command = "distill bench " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).SkipWhile(a => a != "bench").Skip(1)),
            ExtraCases = [NotebookCase(), .. SweepCases.Create(Sweeps.ChildProcesses.Self, full: !smoke && !quick, ctrlC.Token)],
        };
        BenchReport report;
        try { report = BenchRunner.Run(options, Console.Out, ctrlC.Token); }
        catch (InvalidOperationException e) { return Fail(e.Message); }
        catch (IOException e) { return Fail(e.Message); }
        Console.WriteLine();
        Console.Write(report.ToTable());
        int exit = json is null || WriteJson(json, report) ? 0 : 1;
        if (report.Partial)
        {
            Console.Error.WriteLine($"bench interrupted: measured {(report.Cases.Count == 0 ? "nothing" : string.Join(", ", report.Cases.Select(c => c.Name)))}; " +
                                    $"the table above{(json is null ? "" : " and " + json + " (\"partial\": true)")} {(json is null ? "holds" : "hold")} those.");
            return ctrlC.ExitCode;
        }
        if (report.Failed.Count > 0)
        {
            Console.Error.WriteLine($"error: bench cases failed: {string.Join(", ", report.Failed.Select(f => f.Case))} (the errors are under the table); the others were measured.");
            return 1;
        }
        return exit;
    }

    /// <summary>Writes the JSON report; a failure is said with the fix, after the table, which is then already out.</summary>
    static bool WriteJson(string json, BenchReport report)
    {
        try
        {
            File.WriteAllText(json, report.ToJson());
            Console.WriteLine($"wrote {json}");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: --json {json}: could not write the report ({e.Message}); the table above holds the results, give a writable file to keep them as JSON next time.");
            return false;
        }
    }

    static int RunNumerics(int? threads, string? save, string? compare)
    {
        TorchRuntime.Initialize(threads);
        Console.WriteLine($"MKL dispatch  {MklCpuDispatch.Status}");
        Console.WriteLine($"oneDNN ISA    {OneDnnIsa.Status}");
        var values = Numerics.Compute();
        if (save is not null)
        {
            try { Numerics.Save(save, values); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"error: --save-numerics {save}: could not write ({e.Message}); give a file in a folder you can write to.");
                return 1;
            }
            Console.WriteLine($"wrote {values.Length:N0} values to {save}");
        }
        if (compare is not null)
        {
            try
            {
                var saved = Numerics.Load(compare, values.Length);
                Console.WriteLine($"vs {compare}:");
                foreach (var (part, abs, rel) in Numerics.Compare(saved, values))
                    Console.WriteLine($"  {part,-30} max |diff| {abs:G3}, relative L2 error {rel:G3}");
            }
            catch (InvalidDataException e) { return Fail($"--compare-numerics {e.Message}"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Fail($"--compare-numerics {compare}: cannot be read ({e.Message}); give a file written by --save-numerics."); }
        }
        return 0;
    }

    /// <summary>Null when a file can be written at <paramref name="path"/>, else the error with the fix (e.g. a folder, a
    /// missing folder, no permission).</summary>
    static string? OutputFileError(string option, string path, string example, Func<string, bool> ours, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) return $"{option}: the file name is empty; give a file to write, e.g. {option} {example}.";
        if (Directory.Exists(path)) return $"{option} {path}: is a folder; give a file in it, e.g. {option} {Path.Combine(path, example)}.";
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (FilePaths.FileAncestor(path) is { } file) return $"{option} {path}: {file} is a file, not a folder; give a file in a folder.";
        if (!Directory.Exists(folder)) return $"{option} {path}: the folder {folder} does not exist; create it or give a file in an existing folder.";
        // A folder that takes no file (/proc, a read-only mount) let an existing file there (/proc/version) pass the
        // probe below, and the report was lost at the end of the run.
        if (FilePaths.Unwritable(path, folder, option) is { } unwritable) return unwritable + ".";
        bool existed = File.Exists(path);
        try
        {
            // Only a file of its own kind is replaced: `--json reports/results.json` replaced reproduce's summary (and
            // --json on a notebook the notebook) without a word.
            if (existed && HoldsContent(path) && !ours(path))
                return $"{option} {path}: exists and is not {what}, so bench will not overwrite it; give another file, or move that one away.";
            using (new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write)) { }
            // The probe leaves no empty file behind if the run later fails.
            if (!existed) File.Delete(path);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{option} {path}: cannot be written ({e.Message}); give a file in a folder you can write to.";
        }
    }

    /// <summary>Whether <paramref name="path"/> leads to a file with bytes in it, which --json or --save-numerics must not
    /// replace unless it is its own kind. A link is judged by its final target (its own length is its target's name):
    /// /dev/stdout leads through /proc/self/fd/1 to a pipe or terminal, which reading would block on; devices and
    /// /proc are never a user's file.</summary>
    static bool HoldsContent(string path)
    {
        var file = new FileInfo(path);
        try { if (file.LinkTarget is not null) file = file.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? file; }
        catch (IOException) { return false; } // a looping link: the write reports it
        var full = file.FullName;
        return file.Exists && file.Length > 0 && !full.StartsWith("/dev/", StringComparison.Ordinal) && !full.StartsWith("/proc/", StringComparison.Ordinal);
    }

    /// <summary>Null when --compare-numerics names an existing file, else the error with the fix.</summary>
    static string? InputFileError(string path) =>
        string.IsNullOrWhiteSpace(path) ? "--compare-numerics: the file name is empty; give a file written by --save-numerics."
        : Directory.Exists(path) ? $"--compare-numerics {path}: is a folder; give a file written by --save-numerics."
        : !File.Exists(path) ? $"--compare-numerics {path}: file not found; write it first with --save-numerics."
        : null;

    /// <summary>The notebook runner's own cost: a fresh C# session running 10 trivial cells (one touches torch) and
    /// writing the executed .ipynb, HTML and manifest. One step = one whole notebook run.</summary>
    static BenchCase NotebookCase() =>
        BenchCase.Stepped("notebook-10-cells", "notebook runner: 10 trivial cells, .ipynb + HTML + manifest", 10, null, () =>
        {
            var dir = Directory.CreateTempSubdirectory("distill-bench-nb-");
            var cells = Enumerable.Range(1, 10).Select(i => i switch
            {
                // The runner, like the .NET kernel, resolves TorchSharp only from a #r, as the notebooks' first cells do.
                1 => $"#r \"nuget: TorchSharp-cpu, {TorchRuntime.TorchSharpVersion}\"\nusing TorchSharp;\nvar x = 1;",
                5 => "TorchSharp.torch.get_num_threads()",
                _ => $"x += {i};\nx",
            });
            var path = Path.Combine(dir.FullName, "ten.dib");
            File.WriteAllText(path, string.Concat(cells.Select(c => $"#!csharp\n\n{c}\n\n")));
            var runner = new Distill.Notebooks.NotebookRunner(new Distill.Notebooks.NotebookRunOptions { OutputDirectory = Path.Combine(dir.FullName, "out") });
            return new BenchStep(() =>
            {
                var result = runner.RunAsync(path).GetAwaiter().GetResult();
                if (result.Status != Distill.Notebooks.RunStatus.Succeeded)
                    throw new InvalidOperationException($"the benchmark notebook failed: {string.Join("; ", result.Failures)}");
            }, new TempDir(dir));
        }, few: true);

    sealed class TempDir(DirectoryInfo dir) : IDisposable
    {
        public void Dispose()
        {
            try { dir.Delete(recursive: true); }
            catch (IOException) { }
        }
    }

    static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 2;
    }
}
