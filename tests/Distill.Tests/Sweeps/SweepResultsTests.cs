using System.Text.Json;
using Distill.Sweeps;

namespace Distill.Tests.Sweeps;

/// <summary>collect and `sweep run` on a sweep folder whose files were damaged: what counts as done, what is listed.</summary>
public sealed class SweepResultsTests : IDisposable
{
    const string Spec = """
        name: t
        dataset: {name: fashion-mnist, train_size: 300}
        student: {model: mlp-32}
        epochs: 2
        loss: {ce: 1}
        grid:
          seed: [0, 1, 2, 3]
        """;

    readonly string dir = Directory.CreateTempSubdirectory("distill-sweep-results-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(int index, string file, string text)
    {
        var path = Path.Combine(SweepFolder.Run(dir, index), file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    static string Result(int index, int seed, string? spec = null) => JsonSerializer.Serialize(new RunResult(index, $"seed={seed}", new Dictionary<string, string> { ["seed"] = $"{seed}" },
        seed, 50 + seed, 40 + seed, 1, 100, 1, 1.5, null, [50.0 + seed, 40.0 + seed], spec), SweepFolder.Json);

    /// <summary>A `sweep run --jobs` killed outright leaves its claims; the next one removes them, and only them.</summary>
    [Fact]
    public void Claims_of_sweep_runs_that_no_longer_run_are_removed_and_live_ones_kept()
    {
        using var gone = System.Diagnostics.Process.Start("true")!;
        gone.WaitForExit();
        var dead = Write(0, $"claim-{gone.Id}-638000000000000000", "");
        var deadToo = Write(1, $"claim-{gone.Id}-638000000000000001", "");
        var live = Write(1, $"claim-{Environment.ProcessId}-638000000000000002", "");
        var other = Write(2, "claim-notes.txt", "a user's file whose name only looks like a claim");
        Assert.Equal(2, SweepFolder.RemoveStaleClaims(dir));
        Assert.False(File.Exists(dead));
        Assert.False(File.Exists(deadToo));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(other));
        Assert.Equal(0, SweepFolder.RemoveStaleClaims(Path.Combine(dir, "nothing-here")));
    }

    /// <summary>collect listed a run another process was training (a cluster's task) as "not run", as if nobody had
    /// started it: it is "running" with that process's PID while the run's task lock is held, and "not run" again once
    /// it is released without a result (the task killed); collect leaves the lock free.</summary>
    [Fact]
    public void A_run_another_process_is_running_is_listed_as_running_not_as_not_run()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0));
        Directory.CreateDirectory(SweepFolder.Run(dir, 2));
        using (var task = Distill.Training.FolderLock.TryTake(SweepFolder.TaskLock(dir, 2)))
        {
            Assert.NotNull(task);
            var results = SweepResults.Read(dir);
            Assert.Equal([new RunInProgress(2, "seed=2", $"{Environment.ProcessId}")], results.Running);
            Assert.Equal([1, 3], results.Missing);
            Assert.False(results.Complete);
            Assert.Equal("incomplete: 1 of 4 runs finished, 0 failed, 1 running, 2 not run", results.Status);
            Assert.Contains($"## Running now\n\n`sweep collect` again once they finish.\n\n- run 2 (seed=2): PID {Environment.ProcessId}\n", results.Markdown(), StringComparison.Ordinal);
            using var json = JsonDocument.Parse(results.Json());
            Assert.Equal(2, json.RootElement.GetProperty("running")[0].GetProperty("index").GetInt32());
        }
        var after = SweepResults.Read(dir);
        Assert.Empty(after.Running);
        Assert.Equal([1, 2, 3], after.Missing);
        using var next = Distill.Training.FolderLock.TryTake(SweepFolder.TaskLock(dir, 2));
        Assert.NotNull(next);
    }

    /// <summary>Numbers no run writes (infinity, which the reader takes 1e999 as; an accuracy outside [0, 100] %, from an
    /// edited file) make a result damaged: listed, the run not done, and the table of the rest still written.</summary>
    [Theory]
    [InlineData("\"best\": 1e999", "\"last\": 42", "\"last\": -1e999", "best is Infinity, not a finite number", "last is -Infinity, not a finite number")]
    [InlineData("\"best\": 1e9", "\"best\": 52", "\"best\": -0.5", "best is 1000000000, outside [0, 100] %", "best is -0.5, outside [0, 100] %")]
    public void A_result_with_a_number_no_run_writes_is_damaged_not_done_and_collect_still_writes(string one, string twoWas, string two, string errorOne, string errorTwo)
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0));
        Write(1, SweepFolder.ResultFile, Result(1, 1).Replace("\"best\": 51", one, StringComparison.Ordinal));
        Write(2, SweepFolder.ResultFile, Result(2, 2).Replace(twoWas, two, StringComparison.Ordinal));
        Assert.False(SweepFolder.Done(dir, spec, 1));
        var results = SweepResults.Read(dir);
        Assert.Equal([$"runs/1/result.json is not a whole result ({errorOne})", $"runs/2/result.json is not a whole result ({errorTwo})"],
            results.Damaged.Select(d => d.Error));
        results.Write(dir); // the table of the rest, not the JSON writer's "not allowed" on infinity
    }

    /// <summary>A best or last that its own test_accuracy list contradicts (an edited file) was tabulated as given; so
    /// were a result cut to fewer epochs than its run has, and a thread count no run has.</summary>
    [Theory]
    [InlineData("\"test_accuracy\": [\n    51,\n    41\n  ]", "\"test_accuracy\": [\n    51\n  ]", "1 test_accuracy value for a run of 2 epochs")]
    [InlineData("\"threads\": 1", "\"threads\": -5", "threads is -5, not a thread count")]
    [InlineData("\"best\": 51", "\"best\": 99", "best 99 at epoch 1 and last 41 disagree with its 2 test_accuracy values")]
    [InlineData("\"last\": 41", "\"last\": 42", "best 51 at epoch 1 and last 42 disagree with its 2 test_accuracy values")]
    [InlineData("\"best_epoch\": 1", "\"best_epoch\": 3", "best 51 at epoch 3 and last 41 disagree with its 2 test_accuracy values")]
    public void A_result_whose_summary_contradicts_its_accuracies_is_damaged(string was, string edited, string error)
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        var text = Result(1, 1);
        Assert.Contains(was, text, StringComparison.Ordinal);
        Write(1, SweepFolder.ResultFile, text.Replace(was, edited, StringComparison.Ordinal));
        Assert.False(SweepFolder.Done(dir, spec, 1));
        Assert.Equal([$"runs/1/result.json is not a whole result ({error})"], SweepResults.Read(dir).Damaged.Select(d => d.Error));
    }

    [Fact]
    public void A_damaged_or_partial_result_is_listed_as_damaged_not_done_and_the_table_of_the_rest_is_written_incomplete()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0));
        Write(1, SweepFolder.ResultFile, "{not json");
        Write(2, SweepFolder.ResultFile, "{}");
        Write(3, SweepFolder.ResultFile, Result(3, 3).Replace("\"seed\": \"3\"", "", StringComparison.Ordinal)); // "values": {}

        Assert.True(SweepFolder.Done(dir, spec, 0));
        Assert.All(new[] { 1, 2, 3 }, i => Assert.False(SweepFolder.Done(dir, spec, i), $"run {i} counts as done"));
        var results = SweepResults.Read(dir);
        Assert.Equal([0], results.Runs.Select(r => r.Index));
        Assert.Equal([1, 2, 3], results.Damaged.Select(d => d.Index));
        Assert.Contains("runs/1/result.json is not a result (", results.Damaged[0].Error, StringComparison.Ordinal);
        Assert.Equal("runs/2/result.json is not a whole result (no label)", results.Damaged[1].Error);
        Assert.Equal("runs/3/result.json is not a whole result (no value for seed)", results.Damaged[2].Error);
        Assert.False(results.Complete);
        Assert.Equal("incomplete: 1 of 4 runs finished, 0 failed, 3 damaged, 0 not run", results.Status);
        var md = results.Markdown();
        Assert.Contains("| all | 1 | 50.00 ± — | 40.00 ± — |", md, StringComparison.Ordinal);
        Assert.Contains("## Damaged results", md, StringComparison.Ordinal);
        Assert.Contains("- run 2 (seed=2): runs/2/result.json is not a whole result (no label)", md, StringComparison.Ordinal);
        results.Write(dir);

        // A damaged failed.json is listed too, not thrown, and said to be run again like the rest (it said "delete it to
        // run that part again" under a header saying `sweep run` runs it again and keeps the file).
        File.Delete(Path.Combine(SweepFolder.Run(dir, 1), SweepFolder.ResultFile));
        Write(1, SweepFolder.FailedFile, "[");
        results = SweepResults.Read(dir);
        Assert.StartsWith("runs/1/failed.json is not a failure record (", Assert.Single(results.Damaged, d => d.Index == 1).Error, StringComparison.Ordinal);
        Assert.DoesNotContain("delete it", results.Markdown(), StringComparison.Ordinal);
        Write(1, SweepFolder.FailedFile, "{}");
        Assert.Equal("runs/1/failed.json is not a failure record (no error)", Assert.Single(SweepResults.Read(dir).Damaged, d => d.Index == 1).Error);
        Assert.Equal((null, "not a failure record (no error)"), SweepFolder.ReadFailure(dir, 1));
    }

    /// <summary>Two sweeps of different specs started together into one new folder: exactly one claims it, the other
    /// is refused (checking for plan.json and then writing it let both in, about half the time).</summary>
    [Fact]
    public async Task Two_specs_preparing_one_new_folder_at_once_one_is_refused()
    {
        var a = ExperimentSpec.Parse(Spec, "t.yaml");
        var b = ExperimentSpec.Parse(Spec.Replace("name: t", "name: u", StringComparison.Ordinal), "u.yaml");
        for (var trial = 0; trial < 50; trial++)
        {
            var folder = Path.Combine(dir, $"{trial}");
            using var start = new Barrier(2);
            var outcomes = new[] { a, b }.Select(s => Task.Run(() =>
            {
                start.SignalAndWait();
                try { SweepFolder.Prepare(s, folder); return "ok"; }
                catch (InvalidOperationException e) { return e.Message; }
            })).ToArray();
            var said = await Task.WhenAll(outcomes);
            Assert.Single(said, o => o == "ok");
            Assert.Single(said, o => o.Contains("holds a sweep of another spec", StringComparison.Ordinal));
        }
    }

    /// <summary>A result.json another spec wrote (or another run's values) is not this run's: not done, and listed by
    /// collect as foreign, never counted in the table.</summary>
    [Fact]
    public void Another_specs_result_is_not_done_and_collect_lists_it_as_foreign()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0, "0123456789abcdef"));
        Write(1, SweepFolder.ResultFile, Result(1, 1).Replace("\"seed\": \"1\"", "\"seed\": \"7\"", StringComparison.Ordinal));
        Write(2, SweepFolder.ResultFile, Result(2, 2, spec.Hash));
        Assert.False(SweepFolder.Done(dir, spec, 0));
        Assert.False(SweepFolder.Done(dir, spec, 1));
        Assert.True(SweepFolder.Done(dir, spec, 2));
        var results = SweepResults.Read(dir);
        Assert.Equal([2], results.Runs.Select(r => r.Index));
        Assert.Equal($"runs/0/result.json is foreign: another spec's result (spec 0123456789abcdef; this sweep's is {spec.Hash})", results.Damaged[0].Error);
        Assert.Equal("runs/1/result.json is foreign: another run's result (seed=7; this run's is 1)", results.Damaged[1].Error);
    }

    [Fact]
    public void Without_its_plan_a_folder_whose_runs_another_spec_made_is_refused()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        File.Delete(Path.Combine(dir, SweepFolder.PlanFile));
        var record = Write(0, "run.json", JsonSerializer.Serialize(new Dictionary<string, string> { ["spec"] = spec.Hash }));
        SweepFolder.Prepare(spec, dir); // its own runs: the plan is written again
        Assert.True(File.Exists(Path.Combine(dir, SweepFolder.PlanFile)));

        File.Delete(Path.Combine(dir, SweepFolder.PlanFile));
        File.WriteAllText(record, JsonSerializer.Serialize(new Dictionary<string, string> { ["spec"] = "0123456789abcdef" }));
        var e = Assert.Throws<InvalidOperationException>(() => SweepFolder.Prepare(spec, dir));
        Assert.Contains("its runs were made by another spec (0123456789abcdef", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, SweepFolder.PlanFile)));
    }

    /// <summary>An --out this user may not write to (another user's folder, new or finished) was the runtime's "Access to
    /// the path '.plan.lock' is denied" under the catch-all line. Root writes anywhere, so the denial is made portably:
    /// a folder in the lock file's place, which opening for writing refuses the same way (EISDIR, as EACCES, is an
    /// UnauthorizedAccessException); the CLI prints this message as its one error line.</summary>
    [Fact]
    public void An_out_folder_that_cannot_be_written_is_named_with_the_fix()
    {
        Directory.CreateDirectory(Path.Combine(dir, ".plan.lock"));
        var e = Assert.Throws<ArgumentException>(() => SweepFolder.Prepare(ExperimentSpec.Parse(Spec, "t.yaml"), dir));
        Assert.Matches($@"^--out {System.Text.RegularExpressions.Regex.Escape(dir)}: cannot write there \(.*\.plan\.lock.*\); give a folder you can write to\.$", e.Message);
        Assert.False(File.Exists(Path.Combine(dir, SweepFolder.PlanFile)));
    }

    /// <summary>A result with another run's index was "not a whole result (no index (it says 0))".</summary>
    [Fact]
    public void A_result_with_another_runs_index_is_named_foreign()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(1, SweepFolder.ResultFile, Result(0, 1, spec.Hash));
        Assert.Equal("runs/1/result.json is foreign: another run's result (index 0; this run's is 1)", Assert.Single(SweepResults.Read(dir).Damaged).Error);
    }

    /// <summary>A result whose seed contradicts its run (an edited file) was counted, and collect's seeds said "0, 99".
    /// Checked against the grid's seed, and for a spec without a seed key against the spec's seed.</summary>
    [Fact]
    public void A_result_whose_seed_is_not_its_runs_is_named_foreign()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0, spec.Hash));
        Write(2, SweepFolder.ResultFile, Result(2, 2, spec.Hash).Replace("\"seed\": 2,", "\"seed\": 99,", StringComparison.Ordinal));
        Assert.False(SweepFolder.Done(dir, spec, 2));
        var results = SweepResults.Read(dir);
        Assert.Equal("runs/2/result.json is foreign: another run's result (seed 99; this run's is 2)", Assert.Single(results.Damaged).Error);
        Assert.Equal("0", Assert.Single(results.Provenance["seeds"]).Value);
    }

    [Fact]
    public void Without_a_seed_grid_key_a_result_whose_seed_is_not_the_specs_is_named_foreign()
    {
        var noGrid = Spec.Replace("grid:\n  seed: [0, 1, 2, 3]", "seed: 3\ngrid:\n  epochs: [1, 2]", StringComparison.Ordinal);
        Assert.NotEqual(Spec, noGrid);
        var other = ExperimentSpec.Parse(noGrid, "t.yaml");
        var folder = dir;
        SweepFolder.Prepare(other, folder);
        string Of(int index, int seed) => JsonSerializer.Serialize(new RunResult(index, $"epochs={index + 1}", new Dictionary<string, string> { ["epochs"] = $"{index + 1}" },
            seed, 50, index == 0 ? 50 : 40, 1, 100, 1, 1.5, null, index == 0 ? [50.0] : [50.0, 40.0], other.Hash), SweepFolder.Json);
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(SweepFolder.Run(folder, 0)).FullName, SweepFolder.ResultFile), Of(0, 3));
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(SweepFolder.Run(folder, 1)).FullName, SweepFolder.ResultFile), Of(1, 0));
        Assert.True(SweepFolder.Done(folder, other, 0));
        Assert.Equal("runs/1/result.json is foreign: another run's result (seed 0; this run's is 3)", Assert.Single(SweepResults.Read(folder).Damaged).Error);
    }

    /// <summary>A result without "index" (or "seed") read it as 0: another run's for run 3, and run 0's own for run 0.</summary>
    [Theory]
    [InlineData(3, "index")]
    [InlineData(0, "index")]
    [InlineData(0, "seed")]
    public void A_result_without_its_index_or_seed_is_not_whole(int index, string field)
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        var result = System.Text.Json.Nodes.JsonNode.Parse(Result(index, index, spec.Hash))!.AsObject();
        Assert.True(result.Remove(field));
        Write(index, SweepFolder.ResultFile, result.ToJsonString());
        Assert.False(SweepFolder.Done(dir, spec, index));
        Assert.Equal($"runs/{index}/result.json is not a whole result (no {field})", Assert.Single(SweepResults.Read(dir).Damaged).Error);
    }

    /// <summary>A folder in place of plan.json was "no plan.json ...; write the plan again", which `sweep run` then
    /// failed to do ("Is a directory"): it is a damaged plan, for collect and `sweep run` alike.</summary>
    [Fact]
    public void A_folder_in_place_of_the_plan_is_damaged()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        var plan = Path.Combine(dir, SweepFolder.PlanFile);
        File.Delete(plan);
        Directory.CreateDirectory(plan);
        var message = $"{plan}: damaged (a folder, not a file); move it away and run `sweep run SPEC --out {dir}`";
        Assert.StartsWith(message, Assert.Throws<InvalidDataException>(() => SweepResults.Read(dir)).Message, StringComparison.Ordinal);
        Assert.StartsWith(message, Assert.Throws<InvalidDataException>(() => SweepFolder.Prepare(spec, dir)).Message, StringComparison.Ordinal);
        Assert.Null(SweepFolder.PlannedName(dir));
    }

    /// <summary>With its plan, spec copy and run records deleted, a folder's results and checkpoints were taken over by
    /// another spec (every run then failed on the other run's checkpoint): each result names its spec too.</summary>
    [Fact]
    public void Without_plan_or_records_a_folder_whose_results_another_spec_made_is_refused()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0, "0123456789abcdef"));
        File.Delete(Path.Combine(dir, SweepFolder.PlanFile));
        File.Delete(Path.Combine(dir, SweepFolder.SpecFile));
        var e = Assert.Throws<InvalidOperationException>(() => SweepFolder.Prepare(spec, dir));
        Assert.Contains($"its runs were made by another spec (0123456789abcdef, in {Path.Combine(SweepFolder.Run(dir, 0), SweepFolder.ResultFile)}", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A spec.yaml of the user's own in a folder with no plan yet (notes, another spec) was overwritten by the
    /// sweep's copy; it is refused, and the folder left as it was. The same spec's text (or the same spec with other
    /// comments) is the sweep's own copy and is kept.</summary>
    [Fact]
    public void Without_a_plan_a_spec_yaml_that_is_not_this_spec_is_refused_not_overwritten()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        var copy = Path.Combine(dir, SweepFolder.SpecFile);
        foreach (var theirs in new[] { "notes\n", Spec.Replace("train_size: 300", "train_size: 400", StringComparison.Ordinal) })
        {
            File.WriteAllText(copy, theirs);
            var e = Assert.Throws<InvalidOperationException>(() => SweepFolder.Prepare(spec, dir));
            Assert.Contains($"has no {SweepFolder.PlanFile}, and its {SweepFolder.SpecFile} is not this spec", e.Message, StringComparison.Ordinal);
            Assert.Equal(theirs, File.ReadAllText(copy));
            Assert.False(File.Exists(Path.Combine(dir, SweepFolder.PlanFile)));
        }
        File.WriteAllText(copy, "# mine\n" + Spec);
        SweepFolder.Prepare(spec, dir);
        Assert.Equal("# mine\n" + Spec, File.ReadAllText(copy));
        Assert.True(File.Exists(Path.Combine(dir, SweepFolder.PlanFile)));
    }

    /// <summary>A group of one run has no spread: its std was shown as "± 0.00" and written as 0, which reads as seeds
    /// that agree exactly; it is "—" in results.md (and the page) and null in results.json.</summary>
    [Fact]
    public void A_group_of_one_run_has_no_std_a_dash_in_the_table_and_null_in_the_json()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(2, SweepFolder.ResultFile, Result(2, 2, spec.Hash));
        var results = SweepResults.Read(dir);
        var g = Assert.Single(results.Groups);
        Assert.Equal((1, (double?)null, (double?)null), (g.N, g.BestStd, g.LastStd));
        Assert.Contains("| all | 1 | 52.00 ± — | 42.00 ± — |", results.Markdown(), StringComparison.Ordinal);
        Assert.DoesNotContain("± 0.00", results.Markdown(), StringComparison.Ordinal);
        var json = JsonDocument.Parse(results.Json()).RootElement.GetProperty("groups")[0];
        Assert.Equal(JsonValueKind.Null, json.GetProperty("best_std").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("last_std").ValueKind);

        Write(3, SweepFolder.ResultFile, Result(3, 3, spec.Hash)); // two runs: a std again
        var two = Assert.Single(SweepResults.Read(dir).Groups);
        Assert.Equal(0.71, two.BestStd!.Value, 2);
        Assert.Contains("| all | 2 | 52.50 ± 0.71 |", SweepResults.Read(dir).Markdown(), StringComparison.Ordinal);
    }

    /// <summary>The summary names what its runs were made with (commit, dirty build, versions, threads, seeds), from their
    /// run records: results.md, the page and results.json said nothing of it. Runs made otherwise are named by index, each
    /// value with its field's label (only the first had it: "libtorch not recorded (run 0); 2.10.0.0 (runs 1, 2, 3)"). A
    /// record there but damaged was read as absent without a word: it is named.</summary>
    [Fact]
    public void The_summary_records_what_its_runs_were_made_with()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        string Record(string commit) => JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["name"] = "t", ["seed"] = "0", ["commit"] = commit, ["dirty"] = "false", ["torchsharp"] = "0.107.0", ["libtorch"] = "2.10.0.0", ["dotnet"] = ".NET 10.0.12", ["threads"] = "2",
        });
        foreach (var (index, commit) in new[] { (1, "aaa"), (2, "bbb"), (3, "aaa") })
        {
            Write(index, SweepFolder.ResultFile, Result(index, index, spec.Hash));
            Write(index, "run.json", Record(commit));
        }
        Write(0, SweepFolder.ResultFile, Result(0, 0, spec.Hash)); // a run whose record is gone
        var results = SweepResults.Read(dir);
        Assert.Contains("Runs made with: commit not recorded (run 0); commit aaa (runs 1, 3); commit bbb (run 2) (dirty build: not recorded (run 0); dirty build: false (runs 1, 2, 3)), " +
                        "TorchSharp not recorded (run 0); TorchSharp 0.107.0 (runs 1, 2, 3), libtorch not recorded (run 0); libtorch 2.10.0.0 (runs 1, 2, 3), " +
                        ".NET not recorded (run 0); .NET 10.0.12 (runs 1, 2, 3), threads not recorded (run 0); threads 2 (runs 1, 2, 3); seeds 0, 1, 2, 3.",
                        results.Markdown(), StringComparison.Ordinal);
        Assert.Empty(results.DamagedRecords); // gone is not damaged: older runs have none
        Write(0, "run.json", "{\"garbage");
        var damaged = SweepResults.Read(dir);
        Assert.True(damaged.Complete); // the result stands
        Assert.Equal(["runs/0/run.json"], damaged.DamagedRecords);
        Assert.Contains("**Damaged run records:** runs/0/run.json cannot be read as a run record (damaged or written by something else): those runs' results stand, " +
                        "but their provenance is unknown (it reads 'not recorded').", damaged.Markdown(), StringComparison.Ordinal);
        Assert.Equal("runs/0/run.json", JsonDocument.Parse(damaged.Json()).RootElement.GetProperty("damaged_records")[0].GetString());
        File.Delete(Path.Combine(SweepFolder.Run(dir, 0), SweepFolder.ResultFile));
        var three = SweepResults.Read(dir);
        Assert.Contains("Runs made with: commit aaa (runs 1, 3); commit bbb (run 2) (dirty build: false), TorchSharp 0.107.0, libtorch 2.10.0.0, .NET 10.0.12, threads 2; seeds 1, 2, 3.",
                        three.Markdown(), StringComparison.Ordinal);
        var json = JsonDocument.Parse(three.Json()).RootElement.GetProperty("provenance");
        Assert.Equal("2", json.GetProperty("threads").GetString());
        Assert.Equal("1, 2, 3", json.GetProperty("seeds").GetString());
    }

    /// <summary>A | in a grid value (or key) ended its cell and shifted the row's columns in results.md: it is escaped.</summary>
    [Fact]
    public void A_pipe_in_a_table_cell_is_escaped()
    {
        var plan = new SweepFolder.Plan("t", "0123456789abcdef", ["a|b"], [new SweepFolder.PlanEntry(0, "a|b=x|y", new Dictionary<string, string> { ["a|b"] = "x|y" })]);
        var results = new SweepResults
        {
            Plan = plan, GroupKeys = ["a|b"], Runs = [], Failed = [], Missing = [], Damaged = [], Provenance = new Dictionary<string, IReadOnlyList<ProvenanceValue>>(),
            Groups = [new SweepGroup(new Dictionary<string, string> { ["a|b"] = "x|y\\" }, 2, 50, 1, 40, 1, [49, 51], [39, 41])],
        };
        var lines = results.Markdown().Split('\n');
        Assert.Contains("| a\\|b | n | best | last |", lines);
        Assert.Contains("| x\\|y\\\\ | 2 | 50.00 ± 1.00 | 40.00 ± 1.00 |", lines);
    }

    /// <summary>A spec's name and values and a run's error are text from outside: a `[click](javascript:...)` value, a
    /// hand-written failed.json or a name with a link became links and headings in results.html. They are literal text.</summary>
    [Fact]
    public void Names_values_and_errors_are_literal_text_in_the_table()
    {
        var value = "[a](javascript:alert(3))";
        var plan = new SweepFolder.Plan("[click](https://evil.example) **bold**", "0123456789abcdef", ["loss.fitnet.layer"],
            [new SweepFolder.PlanEntry(0, $"loss.fitnet.layer={value}", new Dictionary<string, string> { ["loss.fitnet.layer"] = value })]);
        var results = new SweepResults
        {
            Plan = plan, GroupKeys = ["loss.fitnet.layer"], Runs = [], Missing = [], Damaged = [], Provenance = new Dictionary<string, IReadOnlyList<ProvenanceValue>>(),
            Failed = [new RunFailure(1, $"loss.fitnet.layer={value}", "x\n# Heading <img src=//evil.example/a.png>")],
            Groups = [new SweepGroup(new Dictionary<string, string> { ["loss.fitnet.layer"] = value }, 1, 50, null, 40, null, [50], [40])],
        };
        var md = results.Markdown();
        Assert.StartsWith("# \\[click\\](https://evil.example) \\*\\*bold\\*\\*: sweep results", md, StringComparison.Ordinal);
        Assert.Contains("| \\[a\\](javascript:alert(3)) | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("- run 1 (loss.fitnet.layer=\\[a\\](javascript:alert(3))): xU+000A\\# Heading \\<img src=//evil.example/a.png\\>\n", md, StringComparison.Ordinal);
        Assert.DoesNotContain("\n#", md.Replace("\n## ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    /// <summary>Slurm, k8s and --jobs tasks read DIR/spec.yaml: a copy deleted or replaced was left so, and every task
    /// failed. Written again, a replaced (edited) copy was lost without a word: it is kept beside it, and a note says so.</summary>
    [Fact]
    public void The_specs_copy_deleted_or_replaced_is_written_again_from_the_spec_given_and_an_edited_one_kept()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        Assert.Null(SweepFolder.Prepare(spec, dir));
        var copy = Path.Combine(dir, SweepFolder.SpecFile);
        Assert.Equal(Spec, File.ReadAllText(copy));
        foreach (var damage in new[] { "garbage: [", "", Spec.Replace("train_size: 300", "train_size: 400", StringComparison.Ordinal) })
        {
            File.WriteAllText(copy, damage);
            var note = SweepFolder.Prepare(spec, dir);
            Assert.Equal(Spec, File.ReadAllText(copy));
            var kept = Assert.Single(Directory.GetFiles(dir, "spec.edited-*.yaml"));
            Assert.Equal(damage, File.ReadAllText(kept));
            Assert.Equal($"note: {copy} is not this sweep's spec (spec {spec.Hash}); rewritten from t.yaml, the edited copy kept as {Path.GetFileName(kept)}", note);
            File.Delete(kept);
        }
        File.Delete(copy);
        Assert.Null(SweepFolder.Prepare(spec, dir)); // nothing was lost
        Assert.Equal(Spec, File.ReadAllText(copy));
        // Comments do not change the spec: such a copy is kept as it is.
        File.WriteAllText(copy, "# annotated\n" + Spec);
        Assert.Null(SweepFolder.Prepare(spec, dir));
        Assert.Equal("# annotated\n" + Spec, File.ReadAllText(copy));
        Assert.Empty(Directory.GetFiles(dir, "spec.edited-*.yaml"));
    }

    string Fifo(int index, string file)
    {
        var path = Path.Combine(SweepFolder.Run(dir, index), file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [path])!) mk.WaitForExit();
        Assert.True(File.Exists(path), $"mkfifo made no {path}");
        return path;
    }

    /// <summary><paramref name="read"/> on a thread of its own, failed when it takes longer than a read of a few small
    /// files can: blocked on a FIFO. The FIFOs are then opened and closed as a writer (O_RDWR never blocks), which
    /// ends the blocked read, so a failing test fails instead of hanging the test run.</summary>
    static T Promptly<T>(Func<T> read, params string[] fifos)
    {
        var task = Task.Factory.StartNew(read, TaskCreationOptions.LongRunning);
        var prompt = task.Wait(TimeSpan.FromSeconds(20));
        for (var tries = 0; !task.IsCompleted && tries < 100; tries++, Thread.Sleep(50))
            foreach (var fifo in fifos.Where(File.Exists)) // `sweep run` may have moved it aside
                using (new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite)) { }
        Assert.True(prompt, "still reading after 20 s: blocked on a FIFO");
        return task.Result;
    }

    /// <summary>A FIFO in place of a run's result.json or failed.json blocked collect (until someone wrote to it, or
    /// forever): it is damaged like any unreadable record, named, and the table of the other runs is written.</summary>
    [Fact]
    public void A_FIFO_in_place_of_a_runs_result_or_failure_record_is_damaged_and_collect_does_not_block()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0));
        var result = Fifo(1, SweepFolder.ResultFile);
        var failure = Fifo(2, SweepFolder.FailedFile);
        var results = Promptly(() => SweepResults.Read(dir), result, failure);
        Assert.Equal([0], results.Runs.Select(r => r.Index));
        Assert.Equal(["runs/1/result.json is empty (or not a regular file, e.g. a FIFO)", "runs/2/failed.json is empty (or not a regular file, e.g. a FIFO)"],
            results.Damaged.Select(d => d.Error));
        Assert.Equal([3], results.Missing);
        Assert.Contains("- run 1 (seed=1): runs/1/result.json is empty (or not a regular file, e.g. a FIFO)", results.Markdown(), StringComparison.Ordinal);
        Assert.False(Promptly(() => SweepFolder.Done(dir, spec, 1), result));

        // `sweep run` without its plan reads each run's record for its spec: a FIFO there names no spec, and blocks nothing.
        File.Delete(Path.Combine(dir, SweepFolder.PlanFile));
        var record = Fifo(3, "run.json");
        Promptly(() => { SweepFolder.Prepare(spec, dir); return 0; }, record);
        Assert.True(File.Exists(Path.Combine(dir, SweepFolder.PlanFile)));
    }

    /// <summary>A folder in place of result.json read as "not run yet", and the run then failed writing its result
    /// there with a raw "Is a directory": it is damaged, named by collect, and not a finished run.</summary>
    [Fact]
    public void A_folder_in_place_of_a_runs_result_is_damaged()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0));
        Directory.CreateDirectory(Path.Combine(dir, "runs", "1", SweepFolder.ResultFile));
        var results = SweepResults.Read(dir);
        Assert.Equal([0], results.Runs.Select(r => r.Index));
        Assert.Equal(["runs/1/result.json is a folder, not a file"], results.Damaged.Select(d => d.Error));
        Assert.False(SweepFolder.Done(dir, spec, 1));
    }

    /// <summary>A plan listing a run twice made collect count that run's result twice (n 5 of a 4-run sweep): it is damaged.</summary>
    [Fact]
    public void A_plan_listing_a_run_twice_is_damaged_not_counted_twice()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0));
        var path = Path.Combine(dir, SweepFolder.PlanFile);
        var plan = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        var runs = plan["runs"]!.AsArray();
        runs.Add(runs[0]!.DeepClone());
        File.WriteAllText(path, plan.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => SweepResults.Read(dir));
        Assert.StartsWith($"{path}: damaged (run 0 is listed 2 times); move it away and run `sweep run SPEC --out {dir}`", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A plan cut to fewer runs (or with a run's values edited) was trusted: `sweep run` said "4 of 4 runs
    /// done" and collect "complete: 3 of 3 runs" without run 3. Checked against the spec given, and in collect against
    /// the folder's copy of the spec.
    /// The problem names what differs: both labels in full read alike when only a value was edited.</summary>
    [Theory]
    [InlineData("cut", "it lists 3 runs, but its spec (spec {0}) has 4")]
    [InlineData("both", "its run 1 has seed=7, but the spec's run 1 has seed=1")]
    [InlineData("value", "its run 1 has seed=5, but the spec's run 1 has seed=1")]
    [InlineData("label", "its run 1 is labelled 'seed=7', but the spec's run 1 is 'seed=1'")]
    [InlineData("key", "its run 1 has extra=1, but the spec's run 1 has no value for extra")]
    [InlineData("index", "its run 2 is listed where the spec has run 1")]
    public void A_plan_that_does_not_list_the_specs_runs_is_damaged(string edit, string problem)
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        for (var i = 0; i < 4; i++) Write(i, SweepFolder.ResultFile, Result(i, i, spec.Hash));
        var path = Path.Combine(dir, SweepFolder.PlanFile);
        var plan = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        var run = plan["runs"]![1]!;
        switch (edit)
        {
            case "cut": plan["runs"]!.AsArray().RemoveAt(3); break;
            case "both": run["label"] = "seed=7"; run["values"]!["seed"] = "7"; break;
            case "value": run["values"]!["seed"] = "5"; break;
            case "label": run["label"] = "seed=7"; break;
            case "key": run["values"]!["extra"] = "1"; break;
            case "index": run["index"] = 2; plan["runs"]![2]!["index"] = 1; break;
        }
        File.WriteAllText(path, plan.ToJsonString());
        var expected = $"{path}: damaged ({string.Format(System.Globalization.CultureInfo.InvariantCulture, problem, spec.Hash)}); move it away and run `sweep run SPEC --out {dir}`";
        Assert.StartsWith(expected, Assert.Throws<InvalidDataException>(() => SweepResults.Read(dir)).Message, StringComparison.Ordinal);
        Assert.StartsWith(expected, Assert.Throws<InvalidDataException>(() => SweepFolder.Prepare(spec, dir)).Message, StringComparison.Ordinal);
    }

    /// <summary>collect checks the plan against the folder's spec.yaml; with that copy missing, damaged or another spec's,
    /// the check was skipped and a plan cut to 3 of 4 runs read "complete: 3 of 3 runs". The copy is named instead.</summary>
    [Theory]
    [InlineData(null, "missing")]
    [InlineData("", "empty, or not a regular file, e.g. a FIFO")]
    [InlineData("garbage: [", "not a spec this build can read (")]
    [InlineData("other", "not this sweep's spec (spec ")]
    [InlineData("folder", "a folder, not a file")]
    public void A_plan_is_not_trusted_without_the_sweeps_spec_copy_to_check_it(string? copy, string problem)
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        for (var i = 0; i < 4; i++) Write(i, SweepFolder.ResultFile, Result(i, i, spec.Hash));
        var path = Path.Combine(dir, SweepFolder.PlanFile);
        var plan = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        plan["runs"]!.AsArray().RemoveAt(3);
        File.WriteAllText(path, plan.ToJsonString());
        var specCopy = Path.Combine(dir, SweepFolder.SpecFile);
        File.Delete(specCopy);
        if (copy == "other") File.WriteAllText(specCopy, Spec.Replace("[0, 1, 2, 3]", "[0, 1, 2, 3, 4]", StringComparison.Ordinal));
        else if (copy == "folder") Directory.CreateDirectory(specCopy);
        else if (copy is not null) File.WriteAllText(specCopy, copy);
        var e = Assert.Throws<InvalidDataException>(() => SweepResults.Read(dir));
        Assert.StartsWith($"{specCopy}: {problem}", e.Message, StringComparison.Ordinal);
        Assert.EndsWith($"; collect checks plan.json against it; run `sweep run SPEC --out {dir}` with the sweep's spec (spec {spec.Hash}) to write it again (runs already done are skipped).",
            e.Message, StringComparison.Ordinal);
        if (copy == "other") Assert.Contains($"plan.json and the runs are spec {spec.Hash})", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A FIFO in place of plan.json is a damaged plan, one error, for collect and `sweep run` alike; it blocked both.</summary>
    [Fact]
    public void A_FIFO_in_place_of_the_plan_is_damaged_and_does_not_block()
    {
        var spec = ExperimentSpec.Parse(Spec, "t.yaml");
        var plan = Path.Combine(dir, SweepFolder.PlanFile);
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [plan])!) mk.WaitForExit();
        var message = $"{plan}: damaged (empty, or not a regular file, e.g. a FIFO); move it away and run `sweep run SPEC --out {dir}` with the sweep's spec";
        Assert.StartsWith(message, Promptly(() => Assert.Throws<InvalidDataException>(() => SweepResults.Read(dir)), plan).Message, StringComparison.Ordinal);
        Assert.StartsWith(message, Promptly(() => Assert.Throws<InvalidDataException>(() => SweepFolder.Prepare(spec, dir)), plan).Message, StringComparison.Ordinal);
    }

    /// <summary>`sweep run` moves a FIFO result.json and failed.json aside (renaming does not open them) and runs the run.</summary>
    [Fact]
    public void Sweep_run_keeps_a_FIFO_result_and_failure_record_aside_and_runs_the_run()
    {
        var spec = ExperimentSpec.Parse(Spec.Replace("train_size: 300}", "train_size: 300, test_size: 200}", StringComparison.Ordinal).Replace("epochs: 2", "epochs: 1", StringComparison.Ordinal), "t.yaml");
        SweepFolder.Prepare(spec, dir);
        var result = Fifo(1, SweepFolder.ResultFile);
        var failure = Fifo(1, SweepFolder.FailedFile);
        var log = new StringWriter();
        var (run, skipped) = Promptly(() => SweepRunner.Run(spec, 1, dir, log, CancellationToken.None), result, failure);
        Assert.False(skipped);
        Assert.Equal(1, run.Index);
        Assert.Contains("run 1: its result.json was empty (or not a regular file, e.g. a FIFO); kept as result.damaged-", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("run 1: its failed.json was empty (or not a regular file, e.g. a FIFO); kept as failed.damaged-", log.ToString(), StringComparison.Ordinal);
        var runDir = SweepFolder.Run(dir, 1);
        Assert.Single(Directory.GetFiles(runDir, "result.damaged-*.json"));
        Assert.Single(Directory.GetFiles(runDir, "failed.damaged-*.json"));
        Assert.True(SweepFolder.Done(dir, spec, 1));
    }

    /// <summary>A method's caution (<see cref="Distill.Methods.Method.Caution"/>) reaches the run's log, as train prints it:
    /// CRD's 4096 negatives from a bank of 300 images.</summary>
    [Fact]
    public void A_run_logs_its_methods_caution()
    {
        var spec = ExperimentSpec.Parse("""
            name: t
            dataset: {name: fashion-mnist, train_size: 300, test_size: 200}
            teacher: {model: mlp-64, epochs: 1}
            student: {model: mlp-32}
            epochs: 1
            loss: {ce: 1, crd: {weight: 0.8}}
            """, "t.yaml");
        SweepFolder.Prepare(spec, dir);
        var log = new StringWriter();
        SweepRunner.Run(spec, 0, dir, log, CancellationToken.None);
        Assert.Contains("run 0: warning: crd: negatives=4,096 from a memory bank of 300 training samples draws each sample about 13.7 times a step", log.ToString(), StringComparison.Ordinal);
        Assert.True(SweepFolder.Done(dir, spec, 0));
    }

    [Fact]
    public void A_plan_without_its_fields_is_one_error_naming_the_file_and_the_fix()
    {
        SweepFolder.Prepare(ExperimentSpec.Parse(Spec, "t.yaml"), dir);
        File.WriteAllText(Path.Combine(dir, SweepFolder.PlanFile), "{}");
        var e = Assert.Throws<InvalidDataException>(() => SweepResults.Read(dir));
        Assert.Equal($"{Path.Combine(dir, "plan.json")}: damaged (no name); move it away and run `sweep run SPEC --out {dir}` with the sweep's spec " +
                     $"({Path.Combine(dir, "spec.yaml")}) to write it again.", e.Message);
        // Without the folder's copy of the spec the message named a file that was not there.
        File.Delete(Path.Combine(dir, "spec.yaml"));
        Assert.Equal($"{Path.Combine(dir, "plan.json")}: damaged (no name); move it away and run `sweep run SPEC --out {dir}` with the sweep's spec to write it again.",
                     Assert.Throws<InvalidDataException>(() => SweepResults.Read(dir)).Message);
    }

    /// <summary>A file in the runs folder's place hid every run, and collect listed each as "not run" with exit 0.</summary>
    [Fact]
    public void A_file_where_the_runs_folder_goes_is_named()
    {
        SweepFolder.Prepare(ExperimentSpec.Parse(Spec, "t.yaml"), dir);
        Write(0, SweepFolder.ResultFile, Result(0, 0, ExperimentSpec.Parse(Spec, "t.yaml").Hash));
        Directory.Move(Path.Combine(dir, "runs"), Path.Combine(dir, "kept"));
        File.WriteAllText(Path.Combine(dir, "runs"), "");
        var e = Assert.Throws<InvalidDataException>(() => SweepResults.Read(dir));
        Assert.Equal($"{Path.Combine(dir, "runs")} is a file where the sweep keeps its runs folder; move it away (the runs' results were in that folder), then `sweep run` the spec again.", e.Message);
    }
}
