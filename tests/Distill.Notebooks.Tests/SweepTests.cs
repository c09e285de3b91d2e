using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Distill.Sweeps;

namespace Distill.Notebooks.Tests;

/// <summary>
/// `distill sweep` through the real CLI on real data: runs land in DIR/runs/INDEX, a finished sweep is not run again,
/// processes side by side give the same numbers as one after another, SIGTERM checkpoints and the retry resumes,
/// collect lists failures and marks the table incomplete, and the Kubernetes manifest is a valid Indexed Job (there is no
/// cluster here: it is checked against the API's models). The Slurm path: <see cref="SlurmSweepTests"/>.
/// </summary>
public class SweepTests
{
    internal static string Tiny => Path.Combine(TestSupport.RepoRoot, "experiments", "tiny.yaml");

    internal static (int Exit, string Out, string Err) Distill(params string[] args)
    {
        var r = DistillProcess.Run(args);
        Assert.DoesNotContain("   at ", r.Err); // never a stack trace
        return r;
    }

    /// <summary>The table of results.json, without timings: what must be equal bit for bit between engines.</summary>
    internal static string Groups(string dir) => TestSupport.ReadJson(Path.Combine(dir, "results.json"))["groups"]!.ToJsonString();

    internal static string[] Runs(string dir) =>
        [.. ((JsonArray)TestSupport.ReadJson(Path.Combine(dir, "results.json"))["runs"]!).Select(r => $"{r!["index"]} {r["best"]} {r["last"]} {r["threads"]}")];

    /// <summary>The tiny sweep run and collected in a new folder, the caller's to dispose.</summary>
    internal static TempDir LocalTiny()
    {
        var dir = new TempDir("sweep-local");
        var r = Distill("sweep", "run", Tiny, "--out", dir.Path, "--threads", "1");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Equal(0, Distill("sweep", "collect", dir.Path).Exit);
        return dir;
    }

    [Fact]
    public void Sweep_run_writes_every_run_a_second_run_skips_them_and_two_processes_give_the_same_numbers()
    {
        using var dir = LocalTiny();
        for (var i = 0; i < 4; i++)
        {
            var result = TestSupport.ReadJson(Path.Combine(dir.Path, "runs", $"{i}", "result.json"));
            Assert.Equal(i, (int)result["index"]!);
            Assert.Equal(1, (int)result["threads"]!);
            Assert.True(File.Exists(Path.Combine(dir.Path, "runs", $"{i}", "run.json")), "the trainer's run record");
        }
        var clock = Stopwatch.StartNew();
        var again = Distill("sweep", "run", Tiny, "--out", dir.Path, "--threads", "1");
        Assert.Equal(0, again.Exit);
        Assert.Equal(4, again.Out.Split('\n').Count(l => l.Contains("done already", StringComparison.Ordinal)));
        Assert.DoesNotContain("epoch", again.Out, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"a finished sweep took {clock.Elapsed} to skip");

        // A damaged result is not a finished run: it is kept aside and the run resumes from its checkpoint, to the same numbers.
        var result1 = Path.Combine(dir.Path, "runs", "1", "result.json");
        var before = TestSupport.ReadJson(result1)["test_accuracy"]!.ToJsonString();
        File.WriteAllText(result1, "{not json");
        // A damaged failure record does not block its run either, and is kept, as collect's "Damaged results" says (it
        // was deleted by the run's success).
        var run2 = Path.Combine(dir.Path, "runs", "2");
        File.Delete(Path.Combine(run2, "result.json"));
        File.WriteAllText(Path.Combine(run2, "failed.json"), "[");
        var rerun = Distill("sweep", "run", Tiny, "--out", dir.Path, "--threads", "1");
        Assert.True(rerun.Exit == 0, rerun.Out + rerun.Err);
        Assert.Contains("run 1: its result.json was not a result (", rerun.Out, StringComparison.Ordinal);
        Assert.Contains("run 2: its failed.json was not a failure record (", rerun.Out, StringComparison.Ordinal);
        Assert.Equal(2, rerun.Out.Split('\n').Count(l => l.Contains("done already", StringComparison.Ordinal)));
        Assert.Equal("[", File.ReadAllText(Assert.Single(Directory.GetFiles(run2, "failed.damaged-*.json"))));
        Assert.False(File.Exists(Path.Combine(run2, "failed.json")));
        Assert.True(File.Exists(Path.Combine(run2, "result.json")));
        Assert.Equal(before, TestSupport.ReadJson(result1)["test_accuracy"]!.ToJsonString());
        Assert.Equal("{not json", File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "runs", "1"), "result.damaged-*.json"))));

        using var parallel = new TempDir("sweep-jobs");
        var r = Distill("sweep", "run", Tiny, "--out", parallel.Path, "--jobs", "2", "--threads", "1");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Contains("2 processes × 1 thread", r.Out, StringComparison.Ordinal);
        // Two worker processes shared the four runs: each run's line came through, and no claim is left behind.
        Assert.Equal(4, r.Out.Split('\n').Count(l => l.StartsWith("run ", StringComparison.Ordinal) && l.Contains("best", StringComparison.Ordinal)));
        Assert.Equal(["0.log", "1.log"], Directory.GetFiles(Path.Combine(parallel.Path, "workers")).Select(Path.GetFileName).Order());
        Assert.Empty(Directory.GetFiles(Path.Combine(parallel.Path, "runs"), "claim-*", SearchOption.AllDirectories));
        // The teacher is trained once, under its lock, and every other run loads it from the sweep's cache.
        var logs = Enumerable.Range(0, 4).Select(i => File.ReadAllText(Path.Combine(parallel.Path, "runs", $"{i}", "task.log"))).ToList();
        Assert.Single(logs, l => l.Contains("starting teacher afresh", StringComparison.Ordinal));
        Assert.Equal(3, logs.Count(l => l.Contains("from the teacher cache", StringComparison.Ordinal)));
        Assert.Equal(0, Distill("sweep", "collect", parallel.Path).Exit);
        Assert.Equal(Runs(dir.Path), Runs(parallel.Path));
        Assert.Equal(Groups(dir.Path), Groups(parallel.Path));

        var md = File.ReadAllText(Path.Combine(dir.Path, "results.md"));
        Assert.Contains("complete: 4 of 4 runs", md, StringComparison.Ordinal);
        Assert.Contains("| loss.kd.temperature | n | best | last |", md, StringComparison.Ordinal);
        Assert.Matches(@"\| 4 \| 2 \| \d+\.\d\d ± \d+\.\d\d \|", md);
        var html = File.ReadAllText(Path.Combine(dir.Path, "results.html"));
        Assert.Contains("distill-plotly", html, StringComparison.Ordinal);
        Assert.Contains("against loss.kd.temperature", html, StringComparison.Ordinal);
        // Offline: plotly.js inlined, not the notebook outputs' CDN fallback, and a CSP that fetches nothing.
        Assert.DoesNotContain(Reporting.Figure.CdnUrl, html, StringComparison.Ordinal);
        Assert.Contains("default-src &#39;none&#39;", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Collect_lists_failed_runs_and_marks_the_table_of_the_rest_incomplete()
    {
        using var specDir = new TempDir("sweep-fail");
        var spec = Path.Combine(specDir.Path, "models.yaml");
        // Run 1's learning rate makes its loss overflow: a run that fails in training (names are checked at load).
        File.WriteAllText(spec, File.ReadAllText(Tiny).Replace("batch_size: 64\n", "batch_size: 64\noptimizer: {name: sgd, lr: 0.05}\n", StringComparison.Ordinal)
            .Replace("  loss.kd.temperature: [1, 4]\n  seed: [0, 1]", "  optimizer.lr: [0.05, 1e30, 0.01]", StringComparison.Ordinal));
        using var dir = new TempDir("sweep-fail-out");
        Assert.Equal(0, Distill("sweep", "run", spec, "--out", dir.Path, "--index", "0", "--threads", "1").Exit);
        var failed = Distill("sweep", "run", spec, "--out", dir.Path, "--index", "1", "--threads", "1");
        Assert.Equal(1, failed.Exit);
        Assert.StartsWith("error: ", failed.Err.Trim(), StringComparison.Ordinal);
        Assert.Contains("loss", failed.Err, StringComparison.Ordinal);

        var collect = Distill("sweep", "collect", dir.Path);
        Assert.Equal(0, collect.Exit);
        Assert.Contains("warning: incomplete: 1 of 3 runs finished, 1 failed, 1 not run", collect.Err, StringComparison.Ordinal);
        var md = File.ReadAllText(Path.Combine(dir.Path, "results.md"));
        Assert.Contains("**Incomplete:**", md, StringComparison.Ordinal);
        Assert.Contains("| 0.05 | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("- run 1 (optimizer.lr=1e30): ", md, StringComparison.Ordinal);
        Assert.Contains("## Not run yet\n\nrun 2", md, StringComparison.Ordinal);
        var json = TestSupport.ReadJson(Path.Combine(dir.Path, "results.json"));
        Assert.False((bool)json["complete"]!);
        Assert.Equal(2, (int)json["missing"]![0]!);

        // The same sweep finished by two worker processes: the failing run is tried once, the others still run.
        var jobs = Distill("sweep", "run", spec, "--out", dir.Path, "--jobs", "2", "--threads", "1");
        Assert.Equal(1, jobs.Exit);
        Assert.Contains("2 processes × 1 thread", jobs.Out, StringComparison.Ordinal);
        Assert.Contains("run 2 (optimizer.lr=0.01): best", jobs.Out, StringComparison.Ordinal);
        Assert.Single(jobs.Err.Split('\n'), l => l.StartsWith("error: run 1: ", StringComparison.Ordinal));
        Assert.Contains("3 runs, 1 done already", jobs.Out, StringComparison.Ordinal);
        Assert.Contains("2 of 3 runs done", jobs.Out, StringComparison.Ordinal);
        Assert.Contains("failed runs: 1 ", jobs.Out, StringComparison.Ordinal); // indexes, not a count
    }

    /// <summary>Standard output redirected to a full disk (a Slurm task's --output file system) failed every run in turn,
    /// each recorded in failed.json as "No space left on device" though the sweep's own disk had room. It is one error
    /// naming standard output; no run is marked failed, and the next sweep run (output writable) runs them.</summary>
    [Fact]
    public void Standard_output_on_a_full_disk_is_one_error_and_fails_no_run()
    {
        using var dir = new TempDir("sweep-stdout-full");
        var (exit, _, err) = DistillProcess.Run(Shell("exec \"$@\" > /dev/full", "sweep", "run", Tiny, "--out", dir.Path, "--threads", "1"));
        Assert.Equal(1, exit);
        Assert.Equal("error: cannot write to standard output: no space left on the device it is redirected to", err.Trim());
        Assert.Empty(Directory.GetFiles(dir.Path, "failed.json", SearchOption.AllDirectories));

        var r = Distill("sweep", "run", Tiny, "--out", dir.Path, "--index", "0", "--threads", "1");
        Assert.Equal(0, r.Exit);
        Assert.Contains("run 0 (", r.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir.Path, "runs", "0", "result.json")));
    }

    /// <summary>A standard output or error closed at start (<c>&gt;&amp;-</c>) is a pipe of the runtime's by the time distill
    /// writes: every run was recorded as failed ("Access to the path is denied"), and with standard error closed the
    /// first error line aborted the process (134). Output to a closed stream is discarded; the work goes on.</summary>
    [Fact]
    public void A_closed_standard_output_or_error_loses_no_run()
    {
        using var dir = new TempDir("sweep-stdout-closed");
        var (exit, _, err) = DistillProcess.Run(Shell("exec \"$@\" >&-", "sweep", "run", Tiny, "--out", dir.Path, "--threads", "1"));
        Assert.True(exit == 0, err);
        Assert.Equal("warning: standard output is closed: distill's output is discarded (its files are still written)", err.Trim());
        Assert.Empty(Directory.GetFiles(dir.Path, "failed.json", SearchOption.AllDirectories));
        Assert.Equal(4, Directory.GetFiles(Path.Combine(dir.Path, "runs"), "result.json", SearchOption.AllDirectories).Length);
        var closedErr = DistillProcess.Run(Shell("exec \"$@\" 2>&-", "sweep", "run", Tiny, "--out", dir.Path, "--index", "4"));
        Assert.Equal(1, closedErr.Exit); // the out-of-range error, not the abort (134)
        Assert.Equal("", closedErr.Out);
    }

    /// <summary>`--out /` wrote plan.json, spec.yaml, runs/ and teachers/ at the file system's root.</summary>
    [Fact]
    public void The_root_folder_is_refused_as_a_sweep_folder()
    {
        var r = Distill("sweep", "run", Tiny, "--out", "/", "--threads", "1");
        Assert.Equal((1, "error: --out /: the file system's root; give a folder of its own for the sweep (e.g. sweeps/tiny), where it writes its plan, runs and teachers."), (r.Exit, r.Err.Trim()));
        Assert.False(File.Exists("/plan.json"));
    }

    /// <summary>The CLI started by <c>sh -c SCRIPT</c>, which execs it with the shell's redirections.</summary>
    static System.Diagnostics.ProcessStartInfo Shell(string script, params string[] args)
    {
        var psi = DistillProcess.Start(args);
        psi.ArgumentList.Insert(0, psi.FileName);
        psi.ArgumentList.Insert(0, "sh");
        psi.ArgumentList.Insert(0, script);
        psi.ArgumentList.Insert(0, "-c");
        psi.FileName = "/bin/sh";
        return psi;
    }

    [Fact]
    public void A_run_that_fails_in_libtorch_is_that_runs_failure_and_a_serial_sweep_goes_on()
    {
        // Run 0's loss has no term left once its hints stop halfway (ce: 0): libtorch's backward throws an
        // ExternalException ("does not require grad"), a kind no allow-list of failures foresaw. Run 1 must still run.
        using var specDir = new TempDir("sweep-libtorch");
        var spec = Path.Combine(specDir.Path, "nograd.yaml");
        File.WriteAllText(spec, File.ReadAllText(Tiny).Replace("epochs: 1\nbatch_size", "epochs: 2\nbatch_size", StringComparison.Ordinal)
            .Replace("  ce: 0.1 ", "  ce: 0\n  fitnet: {layer: logits, weight: 0.01}\n ", StringComparison.Ordinal).Replace("  kd:\n", "  kd:\n    weight: 0\n", StringComparison.Ordinal)
            .Replace("  loss.kd.temperature: [1, 4]\n  seed: [0, 1]", "  loss.fitnet.hint_fraction: [0.5, 1]", StringComparison.Ordinal));
        using var dir = new TempDir("sweep-libtorch-out");
        var r = Distill("sweep", "run", spec, "--out", dir.Path, "--threads", "1");
        Assert.Equal(1, r.Exit);
        Assert.Single(r.Err.Split('\n'), l => l.StartsWith("error: run 0: ", StringComparison.Ordinal) && l.Contains("does not require grad", StringComparison.Ordinal));
        Assert.Contains("run 1 (loss.fitnet.hint_fraction=1): best", r.Out, StringComparison.Ordinal);
        Assert.Contains("1 of 2 runs done", r.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir.Path, "runs", "0", "failed.json")));
    }

    [Fact]
    public void A_layer_the_models_do_not_have_fails_the_run_before_its_teacher_trains()
    {
        // Layer names depend on the built models, so the spec's load passes them; the run finds them before the teacher.
        using var specDir = new TempDir("sweep-layer");
        var spec = Path.Combine(specDir.Path, "layer.yaml");
        File.WriteAllText(spec, File.ReadAllText(Tiny).Replace("  kd:\n", "  fitnet: {layer: nosuch}\n  kd:\n", StringComparison.Ordinal));
        using var dir = new TempDir("sweep-layer-out");
        var r = Distill("sweep", "run", spec, "--out", dir.Path, "--index", "0", "--threads", "1");
        Assert.Equal(1, r.Exit);
        Assert.StartsWith("error: mlp-32 has no feature 'nosuch'; its features are ", r.Err.Trim(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "teacher")), "the teacher was trained before the layer was checked");
    }

    [Fact]
    public void Each_teacher_setting_and_thread_count_trains_its_own_teacher_in_its_own_folder()
    {
        // A grid over a teacher setting: the second teacher is trained beside the first, not resumed from its folder.
        using var specDir = new TempDir("sweep-teachers");
        var spec = Path.Combine(specDir.Path, "teachers.yaml");
        File.WriteAllText(spec, File.ReadAllText(Tiny).Replace("  loss.kd.temperature: [1, 4]\n  seed: [0, 1]", "  teacher.epochs: [1, 2]", StringComparison.Ordinal));
        using var dir = new TempDir("sweep-teachers-out");
        var r = Distill("sweep", "run", spec, "--out", dir.Path, "--threads", "1");
        Assert.True(r.Exit == 0, r.Out + r.Err);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(dir.Path, "teacher")).Length);

        // One task at 1 thread, the next at 2 (the docs: the teacher is retrained, its cache key holds the thread count).
        using var threads = new TempDir("sweep-teacher-threads");
        Assert.Equal(0, Distill("sweep", "run", Tiny, "--out", threads.Path, "--index", "0", "--threads", "1").Exit);
        var two = Distill("sweep", "run", Tiny, "--out", threads.Path, "--index", "1", "--threads", "2");
        Assert.True(two.Exit == 0, two.Out + two.Err);
        Assert.Contains("(2 threads,", two.Out, StringComparison.Ordinal);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(threads.Path, "teacher")).Length);
    }

    [Fact]
    public void Bad_input_is_one_error_line()
    {
        // An unknown student is refused at load, by every command, before any teacher is trained.
        using var specDir = new TempDir("sweep-bad-model");
        var badModel = Path.Combine(specDir.Path, "models.yaml");
        File.WriteAllText(badModel, File.ReadAllText(Tiny).Replace("  loss.kd.temperature: [1, 4]\n  seed: [0, 1]", "  student.model: [mlp-32, no-such-model]", StringComparison.Ordinal));
        using var outDir = new TempDir("sweep-bad-model-out");
        foreach (var command in new[] { new[] { "spec", "check", badModel }, ["sweep", "plan", badModel], ["sweep", "run", badModel, "--out", outDir.Path] })
        {
            var r = Distill(command);
            Assert.Equal(1, r.Exit);
            Assert.StartsWith($"error: {badModel} line 22: run 1 of the grid (student.model=no-such-model): student.model: Unknown model 'no-such-model'. Known models: ",
                r.Err.Trim(), StringComparison.Ordinal);
        }

        using var dir = new TempDir("sweep-bad");
        var range = Distill("sweep", "run", Tiny, "--out", dir.Path, "--index", "4");
        Assert.Equal((1, "error: --index 4 is out of range: tiny has 4 runs, 0 to 3."), (range.Exit, range.Err.Trim()));
        // Past int32 too: the spec's range, not the parser's "which runs from -2147483648 to 2147483647".
        var huge = Distill("sweep", "run", Tiny, "--out", dir.Path, "--index", "99999999999");
        Assert.Equal((1, "error: --index 99999999999 is out of range: tiny has 4 runs, 0 to 3."), (huge.Exit, huge.Err.Trim()));
        var psi = DistillProcess.Start("sweep", "run", Tiny, "--out", dir.Path);
        psi.Environment["SLURM_ARRAY_TASK_ID"] = "7";
        using (var p = Process.Start(psi)!)
        {
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.Equal((1, "error: $SLURM_ARRAY_TASK_ID 7 is out of range: tiny has 4 runs, 0 to 3."), (p.ExitCode, err.Trim()));
        }
        // Refused before the note that would say it runs alone.
        var hugeTask = DistillProcess.Start("sweep", "run", Tiny, "--out", dir.Path);
        hugeTask.Environment["SLURM_ARRAY_TASK_ID"] = "99999999999";
        var refused = DistillProcess.Run(hugeTask);
        Assert.Equal((1, "error: $SLURM_ARRAY_TASK_ID 99999999999 is out of range: tiny has 4 runs, 0 to 3.", ""), (refused.Exit, refused.Err.Trim(), refused.Out.Trim()));
        // An index from the environment (one left exported in an interactive job) ran one run without a word. (--jobs 2
        // is refused after the note, so nothing trains.)
        var fromEnvironment = DistillProcess.Start("sweep", "run", Tiny, "--out", dir.Path, "--jobs", "2");
        fromEnvironment.Environment["SLURM_ARRAY_TASK_ID"] = "1";
        var noted = DistillProcess.Run(fromEnvironment);
        Assert.Equal(1, noted.Exit);
        Assert.Contains("note: running run 1 alone, as $SLURM_ARRAY_TASK_ID says; unset it to run the whole sweep.", noted.Out, StringComparison.Ordinal);
        var spec = Path.Combine(dir.Path, "bad.yaml");
        File.WriteAllText(spec, File.ReadAllText(Tiny).Replace("epochs: 1\nbatch_size", "epochs: one\nbatch_size", StringComparison.Ordinal));
        foreach (var command in new[] { new[] { "spec", "check", spec }, ["sweep", "plan", spec], ["sweep", "run", spec, "--out", dir.Path] })
        {
            var r = Distill(command);
            Assert.Equal(1, r.Exit);
            Assert.Equal($"error: {spec} line 15: epochs must be a whole number, not 'one'.", r.Err.Trim());
        }
        // Several files: every one is checked and each bad one reported, not only the first.
        var missing = Path.Combine(dir.Path, "missing.yaml");
        var several = Distill("spec", "check", spec, Tiny, missing, badModel);
        Assert.Equal(1, several.Exit);
        Assert.Contains($"ok: {Tiny}: tiny, 4 runs", several.Out, StringComparison.Ordinal);
        Assert.Equal([$"error: {spec} line 15: epochs must be a whole number, not 'one'.",
                      $"error: spec {missing}: no such file; give the path of a .yaml spec (examples in experiments/).",
                      $"error: {badModel} line 22: run 1 of the grid (student.model=no-such-model): student.model: Unknown model 'no-such-model'."],
            several.Err.Trim().Split('\n').Select(l => l.StartsWith($"error: {badModel}", StringComparison.Ordinal) ? l[..l.IndexOf("'.", StringComparison.Ordinal)] + "'." : l));
        var file = Distill("sweep", "run", Tiny, "--out", spec);
        Assert.Equal((1, $"error: --out {spec}: this is a file; give a folder (it is created when missing)."), (file.Exit, file.Err.Trim()));
        // A file where a folder is expected, and the other way round, is said as such (not "no such folder/file").
        var collectFile = Distill("sweep", "collect", spec);
        Assert.Equal((1, $"error: {spec}: this is a file; give the --out folder of a sweep (the folder that holds plan.json and runs/)."), (collectFile.Exit, collectFile.Err.Trim()));
        var planFolder = Distill("sweep", "plan", dir.Path);
        Assert.Equal((1, $"error: spec {dir.Path}: this is a folder; give the path of a .yaml spec (examples in experiments/)."), (planFolder.Exit, planFolder.Err.Trim()));
        var notSweep = Distill("sweep", "collect", dir.Path);
        Assert.Equal((1, $"error: {dir.Path}: no plan.json; this is not a sweep folder (sweep run, slurm and k8s write it)."), (notSweep.Exit, notSweep.Err.Trim()));
        Directory.CreateDirectory(Path.Combine(dir.Path, "runs"));
        File.WriteAllText(Path.Combine(dir.Path, "spec.yaml"), "");
        var lostPlan = Distill("sweep", "collect", dir.Path);
        Assert.Equal((1, $"error: {dir.Path}: no plan.json, though it holds a sweep's spec.yaml; write the plan again with `sweep run {Path.Combine(dir.Path, "spec.yaml")} --out {dir.Path}` (runs already done are skipped)."),
                     (lostPlan.Exit, lostPlan.Err.Trim()));
        var plan = Distill("sweep", "plan", Tiny);
        Assert.Equal(0, plan.Exit);
        Assert.Contains("   3  loss.kd.temperature=4 seed=1  |", plan.Out, StringComparison.Ordinal);
    }

    /// <summary>Long enough (about 10 s on 2 cores, as in RunFolderTests) to be signalled mid-run; no teacher.</summary>
    const string LongSpec = """
        name: long
        dataset: {name: fashion-mnist, train_size: 20000, test_size: 256}
        student: {model: mlp-32}
        epochs: 30
        loss: {ce: 1}

        """;

    /// <summary>Run <paramref name="i"/> was stopped by a signal: checkpointed, neither finished nor failed.</summary>
    static void AssertStopped(string dir, int i)
    {
        Assert.True(File.Exists(Path.Combine(dir, "runs", $"{i}", "last.ckpt")), $"run {i} has no checkpoint");
        Assert.False(File.Exists(Path.Combine(dir, "runs", $"{i}", "result.json")));
        Assert.False(File.Exists(Path.Combine(dir, "runs", $"{i}", "failed.json")), "a stopped run is not a failed one");
    }

    static bool LogHas(string path, string text)
    {
        if (!File.Exists(path)) return false;
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        return reader.ReadToEnd().Contains(text, StringComparison.Ordinal);
    }

    [Fact]
    public void SIGTERM_to_sweep_run_with_jobs_checkpoints_every_running_run_and_the_next_sweep_run_resumes_them()
    {
        using var root = new TempDir("sweep-term-jobs");
        var (spec, dir, args) = TwoLongRuns(root);
        string Log(int i) => Path.Combine(dir, "runs", $"{i}", "task.log");
        using (var first = BothRunsStarted(args, dir))
        {
            // Both workers are mid-run: the parent passes the signal on to each.
            first.Signal("TERM");
            Assert.Equal(143, first.Exit(TimeSpan.FromSeconds(60)));
            Assert.Contains("`sweep run` again resumes the unfinished runs", first.Output, StringComparison.Ordinal);
        }
        AssertStopped(dir, 0);
        AssertStopped(dir, 1);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "runs"), "claim-*", SearchOption.AllDirectories));

        var resumed = Distill(args);
        Assert.True(resumed.Exit == 0, resumed.Out + resumed.Err);
        Assert.All(new[] { 0, 1 }, i => Assert.True(LogHas(Log(i), $"resuming long[{i}]"), $"run {i} did not resume"));
        var whole = Path.Combine(root.Path, "whole");
        Assert.Equal(0, Distill("sweep", "run", spec, "--out", whole, "--threads", "1").Exit);
        Assert.Equal(0, Distill("sweep", "collect", whole).Exit);
        Assert.Equal(0, Distill("sweep", "collect", dir).Exit);
        Assert.Equal(Runs(whole), Runs(dir));
    }

    /// <summary>Probed: one `--jobs` worker killed outright (kill -9, as the OOM killer does) left the run it had
    /// claimed to no one, since its siblings skip a claimed run; the sweep ended with it "not run (every worker stopped
    /// before them)" while the other worker had gone on, and counted it as failed too. The run now gets a second round
    /// of workers, and resumes from its checkpoint.</summary>
    [Fact]
    public void A_worker_killed_outright_has_its_run_taken_up_again_from_its_checkpoint()
    {
        using var root = new TempDir("sweep-worker-killed");
        var (_, dir, args) = TwoLongRuns(root);
        string Log(int i) => Path.Combine(dir, "runs", $"{i}", "task.log");
        using var sweep = BothRunsStarted(args, dir);
        var worker = ChildrenOf(sweep.Process.Id).First();
        using (var kill = Process.Start("kill", ["-9", $"{worker}"])!) kill.WaitForExit();

        Assert.Equal(0, sweep.Exit(TimeSpan.FromMinutes(3)));
        var note = System.Text.RegularExpressions.Regex.Match(sweep.Output, @"note: run (\d) of worker \d, which stopped before finishing it: running it again \(1 process\)");
        Assert.True(note.Success, sweep.Output);
        var retried = int.Parse(note.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(LogHas(Log(retried), $"resuming long[{retried}]"), $"run {retried} did not resume from its checkpoint");
        Assert.Contains("sweep long: 2 of 2 runs done in ", sweep.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("not run", sweep.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "runs"), "claim-*", SearchOption.AllDirectories));
    }

    /// <summary>The second round takes only the runs a dead worker left: a run that failed in the first (lr 1e30: the
    /// loss is NaN at once) keeps its claim through it, and is not trained and failed a second time (review).</summary>
    [Fact]
    public void The_second_round_after_a_dead_worker_does_not_run_a_failed_run_again()
    {
        using var root = new TempDir("sweep-worker-killed-failed");
        var spec = Path.Combine(root.Path, "long4.yaml");
        File.WriteAllText(spec, LongSpec.Replace("loss: {ce: 1}", "optimizer: {name: sgd, lr: 0.05}\nloss: {ce: 1}", StringComparison.Ordinal) +
                                "grid:\n  optimizer.lr: [1e30, 0.05]\n  seed: [0, 1]\n");
        var dir = Path.Combine(root.Path, "out");
        using var sweep = new DistillProcess.Running(DistillProcess.Start(["sweep", "run", spec, "--out", dir, "--jobs", "2", "--threads", "1"]));
        var clock = Stopwatch.StartNew();
        while (!(LogHas(Path.Combine(dir, "runs", "2", "task.log"), "epoch   2/30") && LogHas(Path.Combine(dir, "runs", "3", "task.log"), "epoch   2/30")))
        {
            Assert.False(sweep.Process.HasExited, $"the sweep ended before both long runs were under way\n{sweep.Output}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), sweep.Output);
            Thread.Sleep(100);
        }
        using (var kill = Process.Start("kill", ["-9", $"{ChildrenOf(sweep.Process.Id).First()}"])!) kill.WaitForExit();

        Assert.Equal(1, sweep.Exit(TimeSpan.FromMinutes(3)));
        Assert.Matches(@"note: run [23] of worker \d, which stopped before finishing it: running it again \(1 process\)", sweep.Output);
        foreach (var failed in new[] { 0, 1 })
            Assert.Single(sweep.Output.Split('\n'), l => l.StartsWith($"error: run {failed}: ", StringComparison.Ordinal));
        Assert.Contains("sweep long: 2 of 4 runs done in ", sweep.Output, StringComparison.Ordinal);
        Assert.Contains("; failed runs: 0, 1 (see ", sweep.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("not run", sweep.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "runs"), "claim-*", SearchOption.AllDirectories));
    }

    /// <summary>LongSpec over seeds 0 and 1 in ROOT/long2.yaml, its sweep folder ROOT/out, and `sweep run` of it with two
    /// one-thread workers.</summary>
    static (string Spec, string Dir, string[] Args) TwoLongRuns(TempDir root)
    {
        var spec = Path.Combine(root.Path, "long2.yaml");
        File.WriteAllText(spec, LongSpec + "grid:\n  seed: [0, 1]\n");
        var dir = Path.Combine(root.Path, "out");
        return (spec, dir, ["sweep", "run", spec, "--out", dir, "--jobs", "2", "--threads", "1"]);
    }

    /// <summary>`distill ARGS` started and waited on until both runs of <see cref="TwoLongRuns"/> are past their first epoch.</summary>
    static DistillProcess.Running BothRunsStarted(string[] args, string dir)
    {
        var sweep = new DistillProcess.Running(DistillProcess.Start(args));
        var clock = Stopwatch.StartNew();
        while (!(LogHas(Path.Combine(dir, "runs", "0", "task.log"), "epoch   2/30") && LogHas(Path.Combine(dir, "runs", "1", "task.log"), "epoch   2/30")))
        {
            Assert.False(sweep.Process.HasExited, $"the sweep ended before both runs were under way: make it longer\n{sweep.Output}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), sweep.Output);
            Thread.Sleep(100);
        }
        return sweep;
    }

    /// <summary>The processes whose parent is <paramref name="pid"/>, from /proc/PID/stat ("pid (comm) state ppid ...").</summary>
    static IEnumerable<int> ChildrenOf(int pid)
    {
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var child)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(entry, "stat")); }
            catch (IOException) { continue; } // exited meanwhile
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == pid) yield return child;
        }
    }

    /// <summary>A run started at 2 threads and stopped before its result resumes at 2 threads when the sweep is run
    /// again at 1 (a note says so), to the numbers of an uninterrupted run; it was refused ("started with other
    /// settings (threads: 2 → 1)", advising --resume, which a sweep has not) after the teacher was trained again.</summary>
    [Fact]
    public void A_started_run_resumes_at_the_thread_count_it_was_started_with()
    {
        using var dir = new TempDir("sweep-threads");
        var first = Distill("sweep", "run", Tiny, "--out", dir.Path, "--index", "0", "--threads", "2");
        Assert.True(first.Exit == 0, first.Out + first.Err);
        var result = Path.Combine(dir.Path, "runs", "0", "result.json");
        var before = TestSupport.ReadJson(result)["test_accuracy"]!.ToJsonString();
        File.Delete(result); // as if killed after its last checkpoint
        var again = Distill("sweep", "run", Tiny, "--out", dir.Path, "--index", "0", "--threads", "1");
        Assert.True(again.Exit == 0, again.Out + again.Err);
        Assert.Contains("note: run 0 (loss.kd.temperature=1 seed=0): resuming at 2 threads, the count it was started with (not 1)", again.Out, StringComparison.Ordinal);
        Assert.Equal(2, (int)TestSupport.ReadJson(result)["threads"]!);
        Assert.Equal(before, TestSupport.ReadJson(result)["test_accuracy"]!.ToJsonString());
    }

    [Fact]
    public void Two_sweep_runs_into_one_folder_wait_for_each_others_runs_instead_of_failing_them()
    {
        using var root = new TempDir("sweep-two");
        var spec = Path.Combine(root.Path, "two.yaml");
        // Run 0 is long (held by the first process), run 1 short.
        File.WriteAllText(spec, LongSpec + "grid:\n  dataset.train_size: [20000, 300]\n");
        var dir = Path.Combine(root.Path, "out");
        using var first = new DistillProcess.Running(DistillProcess.Start("sweep", "run", spec, "--out", dir, "--index", "0", "--threads", "1"));
        first.WaitFor("epoch   2/30", TimeSpan.FromMinutes(2));
        // A whole-sweep run with workers and one without, side by side with it: run 0 is running elsewhere, not failed.
        using var jobs = new DistillProcess.Running(DistillProcess.Start("sweep", "run", spec, "--out", dir, "--jobs", "2", "--threads", "1"));
        var alone = Distill("sweep", "run", spec, "--out", dir, "--threads", "1");
        Assert.True(alone.Exit == 0, alone.Out + alone.Err);
        Assert.Contains($"run 0 (dataset.train_size=20000): running elsewhere (PID {first.Process.Id}); back to it at the end", alone.Out, StringComparison.Ordinal);
        Assert.Contains("run 0 (dataset.train_size=20000): done already; best", alone.Out, StringComparison.Ordinal);
        Assert.Contains("2 of 2 runs done", alone.Out, StringComparison.Ordinal);
        Assert.Equal(0, jobs.Exit(TimeSpan.FromMinutes(2)));
        Assert.Contains("running elsewhere", jobs.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("error", jobs.Output, StringComparison.Ordinal);
        Assert.Contains("2 of 2 runs done", jobs.Output, StringComparison.Ordinal);
        Assert.Equal(0, first.Exit(TimeSpan.FromMinutes(1)));
    }

    /// <summary>`sweep slurm --submit` with an sbatch of <paramref name="body"/> first on PATH.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    static System.Diagnostics.ProcessStartInfo SubmitWith(TempDir root, string body)
    {
        var bin = Directory.CreateDirectory(Path.Combine(root.Path, "bin")).FullName;
        var sbatch = Path.Combine(bin, "sbatch");
        File.WriteAllText(sbatch, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(sbatch, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var psi = DistillProcess.Start("sweep", "slurm", Tiny, "--out", Path.Combine(root.Path, "out"), "--submit");
        psi.Environment["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH");
        return psi;
    }

    /// <summary>sbatch's refusal was its first stderr line with no fix (empty when it was killed), and an answer that
    /// is no job id was printed as one with exit 0.</summary>
    [Theory]
    [InlineData("echo 'sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host' >&2; echo 'sbatch: error: fatal' >&2; exit 1",
                "(exit code 1): sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host sbatch: error: fatal; check that the cluster answers (`sinfo`, `scontrol ping`; SLURM_CONF names its slurm.conf)")]
    [InlineData("kill -9 $$", "(exit code 137): it said nothing; check that the cluster answers")]
    [InlineData("echo 'Submitted batch job notanumber'", "sbatch answered 'Submitted batch job notanumber', not a job id: whether ")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_refused_or_unreadable_submission_is_an_error_with_the_fix(string body, string said)
    {
        using var root = new TempDir("slurm-submit");
        var (exit, stdout, err) = DistillProcess.Run(SubmitWith(root, body));
        Assert.Equal(1, exit);
        Assert.DoesNotContain("submitted job", stdout, StringComparison.Ordinal);
        Assert.Contains(said, Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    /// <summary>A hung sbatch held `sweep slurm --submit` past SIGTERM, and a second signal left sbatch running (it could
    /// still submit after distill said it stopped). The first signal stops sbatch and says the submission is unknown.</summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void SIGTERM_while_sbatch_hangs_stops_sbatch_and_says_the_submission_is_unknown()
    {
        using var root = new TempDir("slurm-hang");
        var pidFile = Path.Combine(root.Path, "sbatch.pid");
        using var submit = new DistillProcess.Running(SubmitWith(root, $"echo $$ > '{pidFile}.tmp'; mv '{pidFile}.tmp' '{pidFile}'; exec sleep 1000"));
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !File.Exists(pidFile); Thread.Sleep(100))
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1) && !submit.Process.HasExited, "sbatch was not started:\n" + submit.Output);
        var sbatch = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        submit.Signal("TERM");
        Assert.Equal(143, submit.Exit(TimeSpan.FromSeconds(30)));
        Assert.Contains("sbatch was stopped before it answered: whether ", submit.Output, StringComparison.Ordinal);
        Assert.Contains("was submitted is not known; look with `squeue --me`", submit.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/proc/{sbatch}") && !File.ReadAllText($"/proc/{sbatch}/stat").Contains(") Z ", StringComparison.Ordinal), "sbatch still runs");
    }

    [Fact]
    public void SIGTERM_checkpoints_and_exits_and_the_retried_task_resumes_to_the_uninterrupted_result()
    {
        using var root = new TempDir("sweep-term");
        var spec = Path.Combine(root.Path, "long.yaml");
        File.WriteAllText(spec, LongSpec);
        var dir = Path.Combine(root.Path, "out");
        var args = new[] { "sweep", "run", spec, "--out", dir, "--threads", "1" };
        using (var first = new DistillProcess.Running(DistillProcess.Start(args)))
        {
            first.WaitFor("epoch   2/30", TimeSpan.FromMinutes(2));
            var second = Distill([.. args, "--index", "0"]);
            Assert.Equal(1, second.Exit);
            Assert.Contains($"error: run 0 is being run by another task (PID {first.Process.Id})", second.Err, StringComparison.Ordinal);
            Assert.False(first.Process.HasExited, "the run finished before it could be signalled: make it longer");
            first.Signal("TERM");
            Assert.Equal(143, first.Exit(TimeSpan.FromSeconds(60)));
        }
        AssertStopped(dir, 0);

        var resumed = Distill(args);
        Assert.Equal(0, resumed.Exit);
        Assert.Contains("resuming long[0]", resumed.Out, StringComparison.Ordinal);
        var whole = Path.Combine(root.Path, "whole");
        Assert.Equal(0, Distill("sweep", "run", spec, "--out", whole, "--threads", "1").Exit);
        string Result(string d) => TestSupport.ReadJson(Path.Combine(d, "runs", "0", "result.json"))["test_accuracy"]!.ToJsonString();
        Assert.Equal(Result(whole), Result(dir));
    }

    [Theory]
    [InlineData("--memory", "lots", "error: --memory lots: not a memory size; give a positive Kubernetes quantity, e.g. 4Gi or 512Mi.")]
    [InlineData("--memory", "-4Gi", "error: --memory -4Gi: not a memory size;")]
    [InlineData("--memory", "0Gi", "error: --memory 0Gi: not a memory size;")]
    [InlineData("--image", "", "error: --image '': not an image name;")]
    // Written as the image, each left the pod in InvalidImageName and the Job waiting forever.
    [InlineData("--image", "x\"y", "error: --image 'x\"y': not an image name: the path part 'x\"y' is not lower-case letters and digits separated by '.', '_', '__' or '-'; give the container image")]
    [InlineData("--image", "$(id)", "error: --image '$(id)': not an image name: the path part '$(id)' is not")]
    [InlineData("--image", "-rf", "error: --image '-rf': not an image name: the path part '-rf' is not")]
    [InlineData("--image", "UPPER/Case:Tag", "error: --image 'UPPER/Case:Tag': not an image name: the path part 'Case' is not")]
    [InlineData("--image", "r/d:-1", "error: --image 'r/d:-1': not an image name: the tag '-1' is not 1 to 128 letters")]
    [InlineData("--image", "r/d@sha256:abc", "error: --image 'r/d@sha256:abc': not an image name: the digest 'sha256:abc' is not")]
    [InlineData("--image", "bad_host.example/d", "error: --image 'bad_host.example/d': not an image name: the registry 'bad_host.example' is not a host name")]
    [InlineData("--cpus", "100000", "error: --cpus 100000: give 1 to 1024 (the CPUs of one node that one pod uses).")]
    [InlineData("--memory", "1", "error: --memory 1: under 64Mi, too little for distill to start")]
    [InlineData("--memory", "63Mi", "error: --memory 63Mi: under 64Mi,")]
    [InlineData("--memory", "0.001Gi", "error: --memory 0.001Gi: under 64Mi,")]
    // Past 2^63 bytes Kubernetes' quantity was written as 9223372036854775807 without a word.
    [InlineData("--memory", "8Ei", "error: --memory 8Ei: more than Kubernetes can hold (under 8Ei, 2^63 bytes)")]
    [InlineData("--memory", "100000000000000000000000000000000", "error: --memory 100000000000000000000000000000000: more than Kubernetes can hold")]
    [InlineData("--output-claim", "Bad_Claim", "error: --output-claim Bad_Claim: not a PersistentVolumeClaim name; give a DNS-1123 name")]
    [InlineData("--data-claim", "-data", "error: --data-claim -data: not a PersistentVolumeClaim name;")]
    public void A_Kubernetes_option_the_cluster_would_refuse_is_one_error_naming_it(string option, string value, string error)
    {
        var r = Distill(option == "--image" ? ["sweep", "k8s", Tiny, "--image", value] : ["sweep", "k8s", Tiny, "--image", "x", option, value]);
        Assert.Equal(1, r.Exit);
        Assert.StartsWith(error, r.Err.Trim(), StringComparison.Ordinal);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    /// <summary>Image references of every form the grammar allows (registry with port, upper-case host, nested path,
    /// separators, tag, digest), and the smallest memory, are written as given.</summary>
    [Theory]
    [InlineData("distill", "64Mi")]
    [InlineData("localhost:5000/team/distill_cli__x.y-z:v1.2_rc-3", "67108864")]
    [InlineData("Registry.Example:443/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "0.0625Gi")]
    public void A_valid_image_and_memory_are_written_as_given(string image, string memory)
    {
        using var dir = new TempDir("sweep-k8s-image");
        var file = Path.Combine(dir.Path, "job.yaml");
        var r = Distill("sweep", "k8s", Tiny, "--image", image, "--memory", memory, "--cpus", "1024", "--out", file);
        Assert.True(r.Exit == 0, r.Err);
        var c = ((V1Job)KubernetesYaml.LoadAllFromString(File.ReadAllText(file), strict: true)[1]).Spec.Template.Spec.Containers.Single();
        Assert.Equal((image, 64m * 1024 * 1024), (c.Image, c.Resources.Limits["memory"].ToDecimal()));
    }

    [Fact]
    public void The_Kubernetes_manifest_is_an_Indexed_Job_with_the_spec_the_output_and_the_dataset_volumes()
    {
        using var dir = new TempDir("sweep-k8s");
        var file = Path.Combine(dir.Path, "job.yaml");
        var r = Distill("sweep", "k8s", Tiny, "--image", "registry.example/distill:1", "--parallelism", "3", "--cpus", "2", "--out", file);
        Assert.True(r.Exit == 0, r.Err);
        // strict: a field the API's models do not know is an error, not ignored.
        var objects = KubernetesYaml.LoadAllFromString(File.ReadAllText(file), strict: true);
        var map = Assert.IsType<V1ConfigMap>(objects[0]);
        var job = Assert.IsType<V1Job>(objects[1]);
        Assert.Equal(("batch/v1", "Job"), (job.ApiVersion, job.Kind));
        Assert.Equal(File.ReadAllText(Tiny), map.Data["spec.yaml"]);
        var spec = job.Spec;
        Assert.Equal(("Indexed", 4, 3), (spec.CompletionMode, spec.Completions, spec.Parallelism));
        Assert.Equal(3, spec.BackoffLimitPerIndex);
        var rules = spec.PodFailurePolicy.Rules;
        Assert.Equal(("Ignore", "DisruptionTarget"), (rules[0].Action, rules[0].OnPodConditions.Single().Type)); // preemption: free retry
        Assert.Equal(("FailIndex", "In", 1), (rules[1].Action, rules[1].OnExitCodes.OperatorProperty, rules[1].OnExitCodes.Values.Single()));
        var pod = spec.Template.Spec;
        Assert.Equal("Never", pod.RestartPolicy); // required with per-index backoff; a retried index gets a new pod
        var c = Assert.Single(pod.Containers);
        Assert.Equal("registry.example/distill:1", c.Image);
        Assert.Equal(["distill", "sweep", "run", "/spec/spec.yaml", "--out", $"/sweep/{job.Metadata.Name}"], c.Command.Concat(c.Args));
        Assert.Contains(c.Env, e => e.Name == "DISTILL_THREADS" && e.Value == "2");
        Assert.Contains(c.Env, e => e.Name == "DISTILL_DATA" && e.Value == "/data");
        Assert.Equal("2", c.Resources.Limits["cpu"].ToString());
        var volumes = pod.Volumes.ToDictionary(v => v.Name);
        Assert.Equal(map.Metadata.Name, volumes["spec"].ConfigMap.Name);
        Assert.Equal("distill-sweeps", volumes["sweep"].PersistentVolumeClaim.ClaimName);
        Assert.Equal(("distill-datasets", true), (volumes["datasets"].PersistentVolumeClaim.ClaimName, volumes["datasets"].PersistentVolumeClaim.ReadOnlyProperty));
        Assert.Equal(["/spec", "/sweep", "/data"], c.VolumeMounts.Select(m => m.MountPath));
        Assert.All(c.VolumeMounts, m => Assert.True(volumes.ContainsKey(m.Name)));
        Assert.True(c.VolumeMounts.Single(m => m.Name == "datasets").ReadOnlyProperty);

        // A long spec name is cut so that the names (and an index pod's hostname, NAME-INDEX) stay DNS-1123 labels of at
        // most 63 characters; the spec hash stays, so two specs still differ.
        var longSpec = Path.Combine(Path.GetDirectoryName(file)!, "long.yaml");
        File.WriteAllText(longSpec, File.ReadAllText(Tiny).Replace("name: tiny", $"name: A_{new string('x', 70)}_temperature sweep", StringComparison.Ordinal));
        var longFile = Path.Combine(Path.GetDirectoryName(file)!, "long-job.yaml");
        Assert.Equal(0, Distill("sweep", "k8s", longSpec, "--image", "x", "--out", longFile).Exit);
        var longJob = (V1Job)KubernetesYaml.LoadAllFromString(File.ReadAllText(longFile), strict: true)[1];
        var longName = longJob.Metadata.Name;
        Assert.True($"{longName}-3".Length <= 63, longName);
        Assert.Matches("^distill-a-x+-[0-9a-f]{8}$", longName);
        Assert.Equal(longName, longJob.Metadata.Labels["distill/sweep"]);
        Assert.NotEqual(job.Metadata.Name, longName);

        // An --out that cannot be written is one error line (was UnauthorizedAccessException, DirectoryNotFoundException).
        var folder = Path.GetDirectoryName(file)!;
        var toFolder = Distill("sweep", "k8s", Tiny, "--image", "x", "--out", folder);
        Assert.Equal((1, $"error: --out {folder}: this is a folder; give the manifest's file name, e.g. {Path.Combine(folder, "job.yaml")}."), (toFolder.Exit, toFolder.Err.Trim()));
        var nowhere = Path.Combine(folder, "no", "such", "job.yaml");
        var toNowhere = Distill("sweep", "k8s", Tiny, "--image", "x", "--out", nowhere);
        Assert.Equal((1, $"error: --out {nowhere}: there is no folder {Path.GetDirectoryName(nowhere)}; create it first, or give a file in a folder that exists."),
            (toNowhere.Exit, toNowhere.Err.Trim()));
    }

    /// <summary>A nameless spec's Job was named after its file (noname), but its pods ran the ConfigMap's copy as
    /// /spec/spec.yaml and so named the sweep "spec" in plan.json, run labels and results. The pod's spec is rebuilt here
    /// from the manifest (the ConfigMap's data mounted as its volume says) and planned as the pod would: same name, same hash.</summary>
    [Fact]
    public void A_nameless_specs_pods_name_the_sweep_as_its_file_does()
    {
        using var root = new TempDir("sweep-k8s-nameless");
        var spec = Path.Combine(root.Path, "noname.yaml");
        File.WriteAllText(spec, File.ReadAllText(Tiny).Replace("name: tiny\n", "", StringComparison.Ordinal));
        var file = Path.Combine(root.Path, "job.yaml");
        Assert.Equal(0, Distill("sweep", "k8s", spec, "--image", "x", "--out", file).Exit);
        var objects = KubernetesYaml.LoadAllFromString(File.ReadAllText(file), strict: true);
        var (map, pod) = ((V1ConfigMap)objects[0], ((V1Job)objects[1]).Spec.Template.Spec);
        var mount = Path.Combine(root.Path, "pod-spec");
        Directory.CreateDirectory(mount);
        foreach (var item in pod.Volumes.Single(v => v.Name == "spec").ConfigMap.Items ?? [new V1KeyToPath { Key = "spec.yaml", Path = "spec.yaml" }])
            File.WriteAllText(Path.Combine(mount, item.Path), map.Data[item.Key]);
        var args = pod.Containers.Single().Args;
        Assert.StartsWith("/spec/", args[2], StringComparison.Ordinal);
        var inPod = Distill("sweep", "plan", Path.Combine(mount, args[2]["/spec/".Length..]));
        var local = Distill("sweep", "plan", spec);
        Assert.StartsWith("noname: 4 runs", local.Out, StringComparison.Ordinal);
        Assert.Equal((0, local.Out.Split('\n')[0]), (inPod.Exit, inPod.Out.Split('\n')[0]));

        // Kubernetes refuses a ConfigMap item path starting with "..": refused here, nothing written.
        var dotted = Path.Combine(root.Path, "..x.yaml");
        File.Copy(spec, dotted);
        File.Delete(file);
        var refused = Distill("sweep", "k8s", dotted, "--image", "x", "--out", file);
        Assert.Equal((1, $"error: spec {dotted} has no name: line, so the pods read it under its file name, and Kubernetes refuses a ConfigMap item path " +
                         "that starts with '..' (..x.yaml); add a name: line to the spec, or rename the file."), (refused.Exit, refused.Err.Trim()));
        Assert.False(File.Exists(file));
    }

    /// <summary>A spec too large for `kubectl apply` (which records the ConfigMap as JSON in an annotation, 256 KiB at
    /// most; a ConfigMap itself may hold 1 MiB) was refused only by the cluster, after the manifest was written and
    /// handed on: it is one error naming the size and the limit, and nothing is written. A spec just under it is written.</summary>
    [Fact]
    public void A_spec_too_large_for_kubectl_apply_is_refused_naming_the_size_and_the_limit()
    {
        using var root = new TempDir("sweep-k8s-large");
        var (spec, file) = (Path.Combine(root.Path, "large.yaml"), Path.Combine(root.Path, "job.yaml"));
        File.WriteAllText(spec, File.ReadAllText(Tiny) + "# " + new string('x', 300 * 1024) + "\n"); // under 1 MiB, over 256 KiB
        var r = Distill("sweep", "k8s", spec, "--image", "x", "--out", file);
        var m = System.Text.RegularExpressions.Regex.Match(r.Err.Trim(),
            @"^error: spec (.+): its ConfigMap takes ([0-9,]+) bytes as JSON, which `kubectl apply` records in an annotation, over Kubernetes' limit of 262,144 bytes \(256 KiB\) " +
            @"for annotations, so the cluster would refuse it; make the spec smaller \(comments count too\), or run the sweep with `sweep slurm` or `sweep run`\.$");
        Assert.True(r.Exit == 1 && m.Success, $"exit {r.Exit}: {r.Err}");
        Assert.Equal(spec, m.Groups[1].Value);
        Assert.InRange(long.Parse(m.Groups[2].Value, System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture), 300 * 1024, 320 * 1024);
        Assert.False(File.Exists(file));
        File.WriteAllText(spec, File.ReadAllText(Tiny) + "# " + new string('x', 250 * 1024) + "\n");
        Assert.Equal(0, Distill("sweep", "k8s", spec, "--image", "x", "--out", file).Exit);
        Assert.True(File.Exists(file));
    }

    /// <summary>`--out ''` said only "The value cannot be an empty string.", naming neither the option nor the fix.</summary>
    [Theory]
    [InlineData("run")]
    [InlineData("slurm")]
    public void An_empty_out_is_an_error_naming_the_option(string command)
    {
        var r = Distill("sweep", command, Tiny, "--out", "");
        Assert.Equal((1, "error: --out \"\": give the sweep folder's name (it is created when missing), e.g. --out sweeps/tiny."), (r.Exit, r.Err.Trim()));
    }

    /// <summary>`sweep k8s SPEC --out SPEC` overwrote the spec with the manifest (through a link or another spelling of
    /// its path too); `sweep slurm` with the spec kept as the folder's sweep.sbatch overwrote it with the script.</summary>
    [Fact]
    public void An_out_that_is_the_spec_itself_is_refused_and_the_spec_kept()
    {
        using var root = new TempDir("sweep-out-spec");
        var spec = Path.Combine(root.Path, "s.yaml");
        File.Copy(Tiny, spec);
        var link = Path.Combine(root.Path, "link.yaml");
        File.CreateSymbolicLink(link, spec);
        foreach (var given in new[] { spec, link, Path.Combine(root.Path, ".", "s.yaml") })
        {
            var r = Distill("sweep", "k8s", spec, "--image", "x", "--out", given);
            Assert.Equal((1, $"error: --out {given}: this is the spec {spec} itself, which the manifest would overwrite; give another file, e.g. job.yaml."), (r.Exit, r.Err.Trim()));
            Assert.Equal(File.ReadAllText(Tiny), File.ReadAllText(spec));
        }
        var script = Path.Combine(root.Path, "sweep.sbatch");
        File.Copy(Tiny, script);
        var slurm = Distill("sweep", "slurm", script, "--out", root.Path);
        Assert.Equal((1, $"error: --out {root.Path}: the spec {script} is this folder's sweep.sbatch, which `sweep slurm` writes; move the spec elsewhere, or give another --out."), (slurm.Exit, slurm.Err.Trim()));
        Assert.Equal(File.ReadAllText(Tiny), File.ReadAllText(script));
    }

    /// <summary>`sweep k8s --out` overwrote any file (a sweep's plan.json, an ONNX export) and `sweep slurm` a user's own
    /// DIR/sweep.sbatch: each replaces only what it wrote itself (recognised by content), else refuses naming the file
    /// and keeps it.</summary>
    [Fact]
    public void Sweep_k8s_and_slurm_replace_only_a_file_they_wrote()
    {
        using var root = new TempDir("sweep-out-foreign");
        var job = Path.Combine(root.Path, "job.yaml");
        Assert.Equal(0, Distill("sweep", "k8s", Tiny, "--image", "x", "--out", job).Exit);
        var again = Distill("sweep", "k8s", Tiny, "--image", "registry.example/distill:2", "--out", job); // its own manifest: replaced
        Assert.True(again.Exit == 0, again.Err);
        Assert.Contains("image: registry.example/distill:2", File.ReadAllText(job), StringComparison.Ordinal);
        var foreign = Path.Combine(root.Path, "victim.onnx");
        var other = Path.Combine(root.Path, "other.yaml");
        File.WriteAllBytes(foreign, [0x08, 0x07, 0x12, 0x00, 0xff]);
        File.WriteAllText(other, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n"); // Kubernetes, but not distill's
        foreach (var path in new[] { foreign, other })
        {
            var before = File.ReadAllBytes(path);
            var r = Distill("sweep", "k8s", Tiny, "--image", "x", "--out", path);
            Assert.Equal((1, $"error: --out {path} exists and is not a manifest that `sweep k8s` wrote; writing would replace it. Give another --out, or move it away first."),
                (r.Exit, r.Err.Trim()));
            Assert.Equal(before, File.ReadAllBytes(path));
        }

        var dir = Path.Combine(root.Path, "slurm-sweep");
        Directory.CreateDirectory(dir);
        var script = Path.Combine(dir, "sweep.sbatch");
        File.WriteAllText(script, "#!/bin/bash\nsrun my-own-job\n");
        var refused = Distill("sweep", "slurm", Tiny, "--out", dir);
        Assert.Equal((1, $"error: --out {dir}: {script} exists and is not a script that `sweep slurm` wrote; writing would replace it. Give another --out, or move it away first."),
            (refused.Exit, refused.Err.Trim()));
        Assert.Equal("#!/bin/bash\nsrun my-own-job\n", File.ReadAllText(script));
        Assert.Equal([script], Directory.GetFileSystemEntries(dir)); // refused before the folder was claimed
        File.Delete(script);
        Assert.Equal(0, Distill("sweep", "slurm", Tiny, "--out", dir).Exit);
        var written = File.ReadAllText(script);
        var rewritten = Distill("sweep", "slurm", Tiny, "--out", dir, "--concurrent", "2"); // its own script: replaced
        Assert.True(rewritten.Exit == 0, rewritten.Err);
        Assert.NotEqual(written, File.ReadAllText(script));
        Assert.Contains("%2", File.ReadAllText(script), StringComparison.Ordinal);
        // A script edited by hand (the cluster's account) was replaced without a word: kept beside the new one, and the
        // option given with --sbatch is written each time.
        File.WriteAllText(script, File.ReadAllText(script).Replace("#SBATCH --ntasks=1\n", "#SBATCH --ntasks=1\n#SBATCH --account=mine\n", StringComparison.Ordinal));
        var withAccount = Distill("sweep", "slurm", Tiny, "--out", dir, "--concurrent", "2", "--sbatch=--account=myproj", "--sbatch=--mem=4G");
        Assert.True(withAccount.Exit == 0, withAccount.Err);
        Assert.Contains($"note: {script} differs from what this command writes", withAccount.Out, StringComparison.Ordinal);
        var kept = Assert.Single(Directory.GetFiles(dir, "sweep.edited-*.sbatch"), f => File.ReadAllText(f).Contains("--account=mine", StringComparison.Ordinal));
        Assert.Contains($"kept as {Path.GetFileName(kept)}", withAccount.Out, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --account=myproj\n#SBATCH --mem=4G\n", File.ReadAllText(script), StringComparison.Ordinal);
        Assert.Contains("#SBATCH --open-mode=append\n", File.ReadAllText(script), StringComparison.Ordinal);
    }

    /// <summary>Probed: a nameless spec's runs were named after the file ("long[0]") by a plain `sweep run` and after the
    /// folder's copy ("spec[0]") by --jobs workers, Slurm tasks and pods, and each refused to resume the other's runs; a
    /// grid value rewritten as 1.0 kept the spec's hash but set the finished "1" runs aside and failed them; a bad
    /// DISTILL_THREADS claimed the folder before it was refused.</summary>
    [Fact]
    public void A_nameless_spec_and_a_respelled_number_are_the_same_sweep_in_every_process_and_a_refused_run_claims_nothing()
    {
        using var root = new TempDir("sweep-nameless");
        var spec = Path.Combine(root.Path, "long.yaml");
        File.WriteAllText(spec, File.ReadAllText(Tiny).Replace("name: tiny\n", "", StringComparison.Ordinal)
            .Replace("seed: [0, 1]", "seed: [0]", StringComparison.Ordinal));
        var dir = Path.Combine(root.Path, "out");

        var withBadThreads = DistillProcess.Start("sweep", "run", spec, "--out", dir, "--jobs", "2");
        withBadThreads.Environment["DISTILL_THREADS"] = "abc";
        var refused = DistillProcess.Run(withBadThreads);
        Assert.Equal(1, refused.Exit);
        Assert.False(Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any(), "the refused sweep claimed --out");

        // Run 0 as a task does, from the folder's copy; then the whole sweep from the original file.
        Assert.Equal(0, Distill("sweep", "slurm", spec, "--out", dir).Exit);
        var task = Distill("sweep", "run", Path.Combine(dir, "spec.yaml"), "--out", dir, "--index", "0", "--threads", "1");
        Assert.True(task.Exit == 0, task.Out + task.Err);
        Assert.Contains("long[0]", task.Out, StringComparison.Ordinal);
        var local = Distill("sweep", "run", spec, "--out", dir, "--threads", "1");
        Assert.True(local.Exit == 0, local.Out + local.Err);
        Assert.Contains("run 0 (loss.kd.temperature=1 seed=0): done already", local.Out, StringComparison.Ordinal);

        // 1 written as 1.0: the same spec (its hash), so the same runs, done already.
        File.WriteAllText(spec, File.ReadAllText(spec).Replace("[1, 4]", "[1.0, 4]", StringComparison.Ordinal));
        var respelled = Distill("sweep", "run", spec, "--out", dir, "--threads", "1");
        Assert.True(respelled.Exit == 0, respelled.Out + respelled.Err);
        Assert.Equal(2, respelled.Out.Split('\n').Count(l => l.Contains("done already", StringComparison.Ordinal)));
    }

    /// <summary>collect over a folder it may not write to failed on its temp file (".results.md.NNN.tmp") with the
    /// catch-all line. Root writes anywhere, so a failed write is made portably: a folder in results.md's place, which a
    /// file cannot be renamed over (an IOException), named with its own fix.</summary>
    [Fact]
    public void Collect_into_a_folder_it_cannot_write_names_the_folder_and_what_it_writes()
    {
        using var dir = new TempDir("sweep-collect-denied");
        Assert.Equal(0, Distill("sweep", "slurm", Tiny, "--out", dir.Path).Exit); // the plan, no training
        Directory.CreateDirectory(Path.Combine(dir.Path, "results.md"));
        var r = Distill("sweep", "collect", dir.Path);
        Assert.Equal(1, r.Exit);
        Assert.Matches($@"^error: {System.Text.RegularExpressions.Regex.Escape(dir.Path)}: cannot write there \(.+\); collect writes results\.md, results\.json and " +
                       $@"results\.html into the sweep folder: {System.Text.RegularExpressions.Regex.Escape(Path.Combine(dir.Path, "results.md"))} is a folder where a table goes: move it away, and collect again\.$", r.Err.Trim());
    }

    /// <summary>A user's own results.md in the sweep folder was replaced by collect without a word; a table collect wrote
    /// is replaced as before.</summary>
    [Fact]
    public void Collect_keeps_a_users_own_file_where_a_table_goes()
    {
        using var dir = new TempDir("sweep-collect-own");
        Assert.Equal(0, Distill("sweep", "slurm", Tiny, "--out", dir.Path).Exit); // the plan, no training
        Assert.Equal(0, Distill("sweep", "collect", dir.Path).Exit);
        Assert.Equal(0, Distill("sweep", "collect", dir.Path).Exit); // its own tables are replaced
        foreach (var name in new[] { "results.md", "results.json", "results.html" })
        {
            var path = Path.Combine(dir.Path, name);
            var ours = File.ReadAllText(path);
            File.WriteAllText(path, "my notes\n");
            var r = Distill("sweep", "collect", dir.Path);
            Assert.Equal((1, $"error: {path} exists and is not a table that `sweep collect` wrote; collecting would replace it. Move it away, and collect again."), (r.Exit, r.Err.Trim()));
            Assert.Equal("my notes\n", File.ReadAllText(path));
            // Its own table with CRLF line endings (an editor, git's autocrlf), or cut to nothing, is still its own.
            File.WriteAllText(path, ours.ReplaceLineEndings("\r\n"));
            Assert.Equal(0, Distill("sweep", "collect", dir.Path).Exit);
            File.WriteAllText(path, "");
            Assert.Equal(0, Distill("sweep", "collect", dir.Path).Exit);
        }
        // A folder that is no sweep is said as such, not as a table in the way.
        using var plain = new TempDir("sweep-collect-plain");
        File.WriteAllText(Path.Combine(plain.Path, "results.md"), "mine");
        Assert.DoesNotContain("is not a table", Distill("sweep", "collect", plain.Path).Err, StringComparison.Ordinal);
    }

    static readonly System.Text.Json.JsonSerializerOptions PlanJson = new() { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>An earlier build planned sweeps without refusing an idle grid key (a temperature of a kd term with alpha
    /// 0): such a folder still collects and resumes, while a new sweep of that spec is refused before --out is touched.</summary>
    [Fact]
    public void A_folder_planned_before_the_idle_key_check_still_collects_and_resumes()
    {
        using var root = new TempDir("sweep-idle-legacy");
        var spec = Path.Combine(root.Path, "idle.yaml");
        File.WriteAllText(spec, File.ReadAllText(Tiny).Replace("    temperature: 4 #", "    alpha: 0\n    temperature: 4 #", StringComparison.Ordinal)
            .Replace("  seed: [0, 1]", "  seed: [0]", StringComparison.Ordinal));
        var fresh = Path.Combine(root.Path, "fresh");
        var refused = Distill("sweep", "run", spec, "--out", fresh);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("grid key 'loss.kd.temperature': its values (1, 4) train the same model in every run", refused.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(fresh));
        // The folder as the earlier build left it: its plan and its copy of the spec.
        var parsed = ExperimentSpec.Load(spec);
        var dir = Path.Combine(root.Path, "legacy");
        Directory.CreateDirectory(dir);
        File.Copy(spec, Path.Combine(dir, SweepFolder.SpecFile));
        File.WriteAllText(Path.Combine(dir, SweepFolder.PlanFile), System.Text.Json.JsonSerializer.Serialize(new SweepFolder.Plan(parsed.Name, parsed.Hash, parsed.GridKeys,
            [.. parsed.Runs.Select(r => new SweepFolder.PlanEntry(r.Index, r.Label, r.Values.ToDictionary()))]),
            PlanJson));
        var run = Distill("sweep", "run", spec, "--out", dir, "--index", "0", "--threads", "1");
        Assert.True(run.Exit == 0, run.Out + run.Err);
        var collected = Distill("sweep", "collect", dir);
        Assert.True(collected.Exit == 0, collected.Out + collected.Err);
        Assert.Contains("1 of 2 runs", collected.Err, StringComparison.Ordinal);
    }

    /// <summary>A file where the sweep keeps a folder (runs, slurm, workers, teachers) failed with the runtime's "already
    /// exists" after the plan was written; a file in a run's folder's place was one such line per run, and "not run" in
    /// collect.</summary>
    [Fact]
    public void A_file_where_a_sweep_folder_goes_is_named_before_the_folder_is_claimed()
    {
        using var root = new TempDir("sweep-file-in-the-way");
        foreach (var (sub, command) in new[] { ("slurm", "slurm"), ("runs", "slurm"), ("teachers", "run"), ("workers", "run") })
        {
            var dir = Path.Combine(root.Path, sub + command);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, sub), "mine");
            var r = command == "slurm" ? Distill("sweep", "slurm", Tiny, "--out", dir) : Distill("sweep", "run", Tiny, "--out", dir, "--jobs", "2");
            Assert.Equal((1, $"error: --out {dir}: {Path.Combine(dir, sub)} is a file where the sweep keeps its {sub} folder; move it away, or give another --out."), (r.Exit, r.Err.Trim()));
            Assert.Equal([Path.Combine(dir, sub)], Directory.GetFileSystemEntries(dir)); // nothing claimed
        }
        var planned = Path.Combine(root.Path, "planned");
        Assert.Equal(0, Distill("sweep", "slurm", Tiny, "--out", planned).Exit);
        Directory.CreateDirectory(Path.Combine(planned, "runs"));
        File.WriteAllText(Path.Combine(planned, "runs", "1"), "mine");
        var collected = Distill("sweep", "collect", planned);
        Assert.Contains("- run 1 (loss.kd.temperature=1 seed=1): runs/1 is a file where the run's folder goes; move it away, and `sweep run` again", collected.Out, StringComparison.Ordinal);
        // With workers, said once (each worker walks every run), and counted failed.
        var jobs = Distill("sweep", "run", Tiny, "--out", planned, "--jobs", "2", "--threads", "1");
        Assert.Equal(1, jobs.Exit);
        Assert.Single(jobs.Err.Split('\n'), l => l.Contains("runs/1 is a file", StringComparison.Ordinal) || l.Contains($"{Path.Combine("runs", "1")} is a file", StringComparison.Ordinal));
        Assert.DoesNotContain("not run:", jobs.Err, StringComparison.Ordinal);
        Assert.Contains("failed runs: 1", jobs.Out, StringComparison.Ordinal);
        var one = Distill("sweep", "run", Tiny, "--out", planned, "--index", "1");
        Assert.Equal((1, $"error: {Path.Combine(planned, "runs", "1")} is a file where the run's folder goes; move it away, and `sweep run` again"), (one.Exit, one.Err.Trim()));
    }

    /// <summary>With both $SLURM_ARRAY_TASK_ID and $JOB_COMPLETION_INDEX set, one was taken without a word. (--jobs makes
    /// the command refuse after the index is read, so nothing trains.)</summary>
    [Fact]
    public void Both_index_variables_set_is_a_warning_naming_the_one_taken()
    {
        using var dir = new TempDir("sweep-two-indexes");
        var psi = DistillProcess.Start("sweep", "run", Tiny, "--out", dir.Path, "--jobs", "2");
        psi.Environment["SLURM_ARRAY_TASK_ID"] = "1";
        psi.Environment["JOB_COMPLETION_INDEX"] = "2";
        var r = DistillProcess.Run(psi);
        Assert.Equal((1, "warning: $SLURM_ARRAY_TASK_ID=1 and $JOB_COMPLETION_INDEX=2 are both set; taking the run index from $SLURM_ARRAY_TASK_ID; unset the other, or pass --index.\n" +
                         "error: --jobs runs the whole sweep; with $SLURM_ARRAY_TASK_ID there is one run: drop --jobs."), (r.Exit, r.Err.Trim()));
    }

    /// <summary>`--cpus 1000` was written without a word: a pod requesting it is scheduled only on a node with 1000 CPUs
    /// free, so on any usual cluster the Job's pods stay Pending. It is written, with a warning; 256 is not warned of.</summary>
    [Fact]
    public void Cpus_beyond_usual_nodes_are_written_with_a_warning()
    {
        using var root = new TempDir("sweep-k8s-cpus");
        var large = Distill("sweep", "k8s", Tiny, "--image", "x", "--cpus", "1000", "--out", Path.Combine(root.Path, "large.yaml"));
        Assert.Equal((0, "warning: --cpus 1000: each pod requests 1000 CPUs and is scheduled only on a node with that many free (few have more than 256); " +
                         "on smaller nodes the pods stay Pending. Give the CPUs one run should use on one of your nodes."), (large.Exit, large.Err.Trim()));
        var usual = Distill("sweep", "k8s", Tiny, "--image", "x", "--cpus", "256", "--out", Path.Combine(root.Path, "usual.yaml"));
        Assert.Equal((0, ""), (usual.Exit, usual.Err));
    }

    /// <summary>A refused `sweep slurm` option wrote plan.json, spec.yaml and slurm/ first, so the folder then refused a
    /// sweep of another spec; the options are now checked before the folder is claimed.</summary>
    [Fact]
    public void A_refused_slurm_option_leaves_the_out_folder_unclaimed()
    {
        using var root = new TempDir("sweep-slurm-refused");
        var dir = Path.Combine(root.Path, "out");
        var refused = Distill("sweep", "slurm", Tiny, "--out", dir, "--partition", "a\"b");
        Assert.Equal(1, refused.Exit);
        Assert.StartsWith("error: --partition", refused.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any(), "the refused sweep wrote into --out");
        var other = Path.Combine(root.Path, "other.yaml");
        File.WriteAllText(other, File.ReadAllText(Tiny).Replace("epochs: 1\nbatch_size", "epochs: 2\nbatch_size", StringComparison.Ordinal));
        var r = Distill("sweep", "slurm", other, "--out", dir);
        Assert.True(r.Exit == 0, r.Out + r.Err);
    }

    /// <summary>A folder holding a `train` run (its own files, or a distillation's student/) is no sweep's --out: the
    /// sweep planned over it and the two runs' files mixed.</summary>
    [Fact]
    public void A_folder_holding_a_train_run_is_refused_as_a_sweep_out()
    {
        using var root = new TempDir("sweep-over-train");
        var plain = Path.Combine(root.Path, "plain");
        Assert.Equal(0, Distill("train", "--model", "mlp-32", "--train-size", "256", "--test-size", "200", "--epochs", "1", "--out", plain).Exit);
        var nested = Path.Combine(root.Path, "nested");
        Directory.CreateDirectory(Path.Combine(nested, "student"));
        File.Copy(Path.Combine(plain, "run.json"), Path.Combine(nested, "student", "run.json"));
        foreach (var (dir, held) in new[] { (plain, plain), (nested, Path.Combine(nested, "student")) })
        {
            var before = Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order().ToList();
            var refused = Distill("sweep", "slurm", Tiny, "--out", dir);
            Assert.Equal((1, $"error: --out {dir} holds a `train` run ({held}), not a sweep; give the sweep another folder, or move that run away."), (refused.Exit, refused.Err.Trim()));
            Assert.Equal(before, Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order().ToList());
        }
    }

    /// <summary>A worker whose `sweep run` was killed outright while the worker was still starting had already been
    /// re-parented when it first looked, and ran the whole sweep unseen; its claim names the PID that started it.</summary>
    [Fact]
    public void A_worker_whose_sweep_run_is_gone_before_it_starts_stops_without_running()
    {
        using var root = new TempDir("sweep-orphan");
        var dir = Path.Combine(root.Path, "out");
        var r = Distill("sweep", "run", Tiny, "--out", dir, "--worker", "999999999-1", "--threads", "1");
        Assert.NotEqual(0, r.Exit);
        Assert.Contains("sweep worker: the `sweep run` that started it is gone; stopping.", r.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "runs")) && Directory.EnumerateFiles(Path.Combine(dir, "runs"), "result.json", SearchOption.AllDirectories).Any());
    }

    /// <summary>A CPU count no node has (each run would ask libtorch for that many threads) is refused with the range.</summary>
    [Theory]
    [InlineData("0")]
    [InlineData("1025")]
    [InlineData("2147483647")]
    public void A_cpus_per_task_outside_one_node_is_refused_before_the_folder_is_claimed(string cpus)
    {
        using var root = new TempDir("sweep-slurm-cpus");
        var dir = Path.Combine(root.Path, "out");
        var refused = Distill("sweep", "slurm", Tiny, "--out", dir, "--cpus-per-task", cpus);
        Assert.Equal((1, $"error: --cpus-per-task {cpus}: give 1 to 1024 (the CPUs of one node that one run uses)."), (refused.Exit, refused.Err.Trim()));
        Assert.False(Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any(), "the refused sweep wrote into --out");
    }
}
