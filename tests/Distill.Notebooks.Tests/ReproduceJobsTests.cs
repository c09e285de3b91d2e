using System.Text.Json.Nodes;
using Distill.Reporting;

namespace Distill.Notebooks.Tests;

/// <summary><c>distill reproduce --jobs</c>: notebooks in their own processes, side by side, through the CLI as users call it.</summary>
public class ReproduceJobsTests
{
    /// <summary>Two notebooks that train for real and share one teacher (so one process trains it under the teacher
    /// cache's lock while the other waits for it); each records rows whose numbers come from the training.</summary>
    static string TwoTrainingNotebooks(string root)
    {
        var notebooks = Path.Combine(root, "notebooks");
        Directory.CreateDirectory(notebooks);
        var distill = typeof(ResultRow).Assembly.Location;
        foreach (var (name, temperature) in new[] { ("00-kd-t2", 2), ("01-kd-t4", 4) })
            TestSupport.WriteNotebook(notebooks, name + ".ipynb",
                ($"#r \"{distill}\"\nusing Distill.Experiments;\nusing Distill.Reporting;", null),
                ("var budget = \"quick\";", ["parameters"]),
                ("var config = SoftTargetsConfig.For(Budgets.Parse(budget)) with { Teacher = \"mlp-32\", Student = \"mlp-32\", TeacherTrainSize = 2000, " +
                 $"TransferSize = 500, TestSize = 500, TeacherEpochs = 2, StudentEpochs = 2, Temperature = {temperature}, Temperatures = [], Alphas = [], OmittedClass = null, Seeds = [0, 1], Log = Console.Out }};\n" +
                 "var result = SoftTargets.Run(config.LoadData(), config);", null),
                ("var setting = $\"T={config.Temperature}, {Distill.Native.TorchRuntime.Threads} threads\";\n" +
                 "Results.Record(new ResultRow(\"test\", \"teacher\", setting, \"best %\", result[\"teacher\"].BestMean, result[\"teacher\"].BestStd, result[\"teacher\"].Runs, \"-\", \"-\", budget));\n" +
                 "var kd = result[SoftTargets.KdName(config.Temperature, config.Alpha)];\n" +
                 "Results.Record(new ResultRow(\"test\", \"kd\", setting, \"best %\", kd.BestMean, kd.BestStd, kd.Runs, \"-\", \"-\", budget));", null));
        return notebooks;
    }

    static (int Exit, string Out, string Err) Reproduce(string notebooks, string reports, string teachers, params string[] more)
    {
        var psi = DistillProcess.Start(["reproduce", "--notebooks", notebooks, "--out", reports, "--budget", "smoke", .. more]);
        psi.Environment["DISTILL_TEACHER_CACHE"] = teachers; // a fresh cache per run: each trains its teacher
        using var running = new DistillProcess.Running(psi);
        var exit = running.Exit(TimeSpan.FromMinutes(10));
        return (exit, running.Output, "");
    }

    /// <summary>In its own process (the CLI's way) too, a failed re-run keeps the last successful report, its task.log
    /// included, and says where.</summary>
    [Fact]
    public void A_failed_rerun_in_its_own_process_keeps_the_last_successful_report()
    {
        using var dir = new TempDir("reproduce-keep-cli");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        var reports = Path.Combine(dir.Path, "reports");
        TestSupport.WriteNotebook(notebooks, "00-note.ipynb", ("Console.WriteLine(\"good\");", null));
        var first = Reproduce(notebooks, reports, Path.Combine(dir.Path, "teachers"));
        Assert.True(first.Exit == 0, first.Out);
        TestSupport.WriteNotebook(notebooks, "00-note.ipynb", ("throw new Exception(\"broken\");", null));
        var second = Reproduce(notebooks, reports, Path.Combine(dir.Path, "teachers"));
        Assert.Equal(1, second.Exit);
        var kept = Path.Combine(reports, "00-note", Distill.Notebooks.Reproduction.PreviousRunFolder);
        Assert.Contains($"; its last successful report is kept in {kept}", second.Out, StringComparison.Ordinal);
        Assert.Contains("good", File.ReadAllText(Path.Combine(kept, "00-note.ipynb")), StringComparison.Ordinal);
        Assert.StartsWith(Distill.Notebooks.Reproduction.TaskLogHeader, File.ReadAllText(Path.Combine(kept, "task.log")), StringComparison.Ordinal);
        Assert.Contains("broken", File.ReadAllText(Path.Combine(reports, "00-note", "00-note.ipynb")), StringComparison.Ordinal);
    }

    /// <summary>07-deployment copied outside the checkout (its #r pointing at the checkout's build) said no record of 05
    /// existed and deployed DKD, where from notebooks/ it reads the committed record: 5 of its 9 rows changed with the
    /// folder it ran from. The checkout is found from the library too.</summary>
    [Fact]
    public void The_best_method_of_05_is_the_same_from_a_notebook_outside_the_checkout()
    {
        using var dir = new TempDir("outside-checkout");
        var deploy = typeof(Distill.Deploy.DeploymentConfig).Assembly.Location;
        var nb = TestSupport.WriteNotebook(dir.Path, "best.ipynb",
            ($"#r \"{typeof(ResultRow).Assembly.Location}\"\n#r \"{deploy}\"\n" +
             "Console.WriteLine(\"best: \" + Distill.Deploy.DeploymentConfig.BestOf05(Distill.Experiments.Budget.Smoke).Reason);", null));
        var psi = DistillProcess.Start("run", nb, "--out", Path.Combine(dir.Path, "out"));
        psi.WorkingDirectory = dir.Path;
        psi.Environment.Remove(Results.FileVariable);
        var r = DistillProcess.Run(psi);
        Assert.True(r.Exit == 0, r.Err);
        var printed = TestSupport.Text(TestSupport.ReadJson(Path.Combine(dir.Path, "out", "best.ipynb"))["cells"]![0]!["outputs"]![0]!["text"]);
        Assert.Contains("quick-05-comparison.results.jsonl", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("no 05-comparison record found", printed, StringComparison.Ordinal);
    }

    /// <summary>A notebook's folder is reproduce's, but a user's task.log, result rows or reports there were replaced or deleted
    /// without a word; refused before anything runs, like the summary files. Reproduce's own, from an earlier run, are
    /// rewritten as before.</summary>
    [Fact]
    public void A_users_task_log_or_rows_in_a_notebooks_folder_are_refused_and_reproduces_own_are_rewritten()
    {
        using var dir = new TempDir("reproduce-own");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "01-a.ipynb", ("Console.WriteLine(\"ran\");", null));
        var reports = Path.Combine(dir.Path, "out");
        var folder = Path.Combine(reports, "01-a");
        Directory.CreateDirectory(folder);
        // Its reports too: a user's 01-a.html was found only when 01-a's turn came (after the notebooks before it ran).
        const string NotAnOutput = "is not an output of an earlier run (no manifest of one lists it)";
        foreach (var (file, why) in new[] { ("task.log", "is not the log of an earlier reproduce"), (Distill.Notebooks.Reproduction.ResultsFileName, "does not hold result rows"),
                     ("01-a.html", NotAnOutput), ("01-a.ipynb", NotAnOutput), ("01-a.manifest.json", "is not the manifest of an earlier distill run") })
        {
            File.WriteAllText(Path.Combine(folder, file), "mine\n");
            var refused = Reproduce(notebooks, reports, Path.Combine(dir.Path, "teachers"));
            Assert.Equal(2, refused.Exit);
            Assert.Contains($"error: --out {reports}: {Path.Combine(folder, file)} {why}", refused.Out);
            Assert.Contains(", and reproduce rewrites it; move it away, or give another --out", refused.Out);
            Assert.Equal("mine\n", File.ReadAllText(Path.Combine(folder, file)));
            File.Delete(Path.Combine(folder, file));
        }
        Assert.Equal(0, Reproduce(notebooks, reports, Path.Combine(dir.Path, "teachers")).Exit);
        Assert.StartsWith(Distill.Notebooks.Reproduction.TaskLogHeader + " 01-a, started ", File.ReadAllText(Path.Combine(folder, "task.log")), StringComparison.Ordinal);
        // Its own files, and an earlier build's log (no header) beside that run's manifest, are rewritten.
        File.WriteAllText(Path.Combine(folder, "task.log"), "an earlier build's log\n");
        // A row a notebook wrote badly (or a kill cut short) beside reproduce's manifest is reproduce's own: rewritten.
        File.WriteAllText(Path.Combine(folder, Distill.Notebooks.Reproduction.ResultsFileName), "{\"Paper\": \"x\"");
        Assert.Equal(0, Reproduce(notebooks, reports, Path.Combine(dir.Path, "teachers")).Exit);
        Assert.StartsWith(Distill.Notebooks.Reproduction.TaskLogHeader, File.ReadAllText(Path.Combine(folder, "task.log")), StringComparison.Ordinal);
    }

    [Fact]
    public void Jobs_2_gives_the_rows_of_a_sequential_run_at_the_same_thread_count_and_the_manifests_record_the_threads()
    {
        using var root = new TempDir("reproduce-jobs");
        var notebooks = TwoTrainingNotebooks(root.Path);
        var sequential = Reproduce(notebooks, Path.Combine(root.Path, "sequential"), Path.Combine(root.Path, "teachers-1"), "--threads", "1");
        Assert.True(sequential.Exit == 0, sequential.Out);
        var parallel = Reproduce(notebooks, Path.Combine(root.Path, "parallel"), Path.Combine(root.Path, "teachers-2"), "--jobs", "2", "--threads", "1");
        Assert.True(parallel.Exit == 0, parallel.Out);
        Assert.Contains("▶ 00-kd-t2 (own process, 1 thread", parallel.Out, StringComparison.Ordinal);
        Assert.Matches(@"2 ok; total wall time", parallel.Out);

        JsonObject Results(string run) => TestSupport.ReadJson(Path.Combine(root.Path, run, "results.json"));
        var (seq, par) = (Results("sequential"), Results("parallel"));
        // The same rows, bit for bit: the numbers do not depend on which process trained the teacher or ran beside which.
        Assert.Equal(4, par["results"]!.AsArray().Count);
        Assert.Equal(seq["results"]!.ToJsonString(), par["results"]!.ToJsonString());
        Assert.Contains("1 threads", par["results"]![0]!["Setting"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(2, par["jobs"]!.GetValue<int>());
        Assert.Equal(1, seq["jobs"]!.GetValue<int>());
        foreach (var n in par["notebooks"]!.AsArray())
        {
            Assert.Equal("ok", n!["status"]!.GetValue<string>());
            Assert.Equal(1, n["torchThreads"]!.GetValue<int>());
            var name = n["name"]!.GetValue<string>();
            var manifest = TestSupport.ReadJson(Path.Combine(root.Path, "parallel", name, name + ".manifest.json"));
            Assert.Equal(1, manifest["runtime"]!["torchThreads"]!.GetValue<int>());
            Assert.Equal("smoke", manifest["budget"]!.GetValue<string>());
            Assert.True(File.Exists(Path.Combine(root.Path, "parallel", name, name + ".html")), name);
            Assert.True(File.Exists(Path.Combine(root.Path, "parallel", name, "task.log")), name);
        }
        // The teacher was trained once, by one of the two processes; the other waited and loaded it.
        Assert.Single(Directory.GetFiles(Path.Combine(root.Path, "teachers-2"), "*.bin"));
        var outputs = new[] { "00-kd-t2", "01-kd-t4" }.Select(n => File.ReadAllText(Path.Combine(root.Path, "parallel", n, n + ".ipynb"))).ToList();
        Assert.Single(outputs, o => o.Contains("teacher: reused", StringComparison.Ordinal));
        Assert.Contains("1 torch thread per notebook, 2 notebooks at a time", File.ReadAllText(Path.Combine(root.Path, "parallel", "results.md")), StringComparison.Ordinal);
        Assert.Contains("1 torch thread per notebook, 2 notebooks at a time", File.ReadAllText(Path.Combine(root.Path, "parallel", "index.html")), StringComparison.Ordinal);
        Assert.Contains("1 torch thread", File.ReadAllText(Path.Combine(root.Path, "sequential", "results.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void Sigterm_stops_every_notebook_process_and_still_writes_the_index_with_exit_143()
    {
        using var root = new TempDir("reproduce-jobs-term");
        var notebooks = Path.Combine(root.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        foreach (var name in new[] { "00-long", "01-long", "02-never" })
            TestSupport.WriteNotebook(notebooks, name + ".ipynb", ("Console.WriteLine(\"started\");", null), ("System.Threading.Thread.Sleep(60_000);", null));
        var reports = Path.Combine(root.Path, "reports");
        using (var running = new DistillProcess.Running(DistillProcess.Start("reproduce", "--notebooks", notebooks, "--out", reports, "--budget", "smoke", "--jobs", "2")))
        {
            running.WaitFor("▶ 01-long", TimeSpan.FromMinutes(1));
            // Both processes are in their long cell: their logs show the first cell done.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!new[] { "00-long", "01-long" }.All(n => File.Exists(Path.Combine(reports, n, "task.log")) &&
                                                         File.ReadAllText(Path.Combine(reports, n, "task.log")).Contains("cell 1 ", StringComparison.Ordinal)))
            {
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), running.Output);
                Thread.Sleep(200);
            }
            running.Signal("TERM");
            Assert.Equal(143, running.Exit(TimeSpan.FromSeconds(60)));
        }
        var results = TestSupport.ReadJson(Path.Combine(reports, "results.json"));
        Assert.Equal(["interrupted", "interrupted", "notrun"], results["notebooks"]!.AsArray().Select(n => n!["status"]!.GetValue<string>()));
        Assert.Equal("interrupted", TestSupport.ReadJson(Path.Combine(reports, "01-long", "01-long.manifest.json"))["status"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(reports, "index.html")));
        Assert.False(Directory.Exists(Path.Combine(reports, "02-never")));
    }
}
