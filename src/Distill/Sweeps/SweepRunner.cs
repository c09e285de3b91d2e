using System.Globalization;
using System.Text.Json;
using Distill.Data;
using Distill.Experiments;
using Distill.Methods;
using Distill.Native;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Sweeps;

/// <summary>What one finished run wrote to DIR/runs/INDEX/result.json.</summary>
public sealed record RunResult(int Index, string Label, IReadOnlyDictionary<string, string> Values, int Seed, double Best, double Last,
    int BestEpoch, long Parameters, int Threads, double Seconds, string? Warning, IReadOnlyList<double> TestAccuracy, string? Spec = null);

/// <summary>The run is held by another live process (its task lock): it is running elsewhere, which is not a failure.</summary>
public sealed class RunBusyException(int index, string holder)
    : InvalidOperationException($"run {index} is being run by another task (PID {holder}); it is not run twice.")
{
    public int Index { get; } = index;
    public string Holder { get; } = holder;
}

/// <summary>What a run that threw wrote to DIR/runs/INDEX/failed.json (removed when a later attempt finishes).</summary>
public sealed record RunFailure(int Index, string Label, string Error);

/// <summary>
/// A sweep's folder: spec.yaml and plan.json (what was asked), runs/INDEX/ (each run's training folder, result.json or
/// failed.json, log), teacher/KEY/ and teachers/ (each distinct teacher's training folder, KEY as in the teacher cache,
/// and the cache every task loads it from).
/// </summary>
public static class SweepFolder
{
    public const string ResultFile = "result.json", FailedFile = "failed.json", PlanFile = "plan.json", SpecFile = "spec.yaml";

    public static string Run(string dir, int index) => Path.Combine(dir, "runs", $"{index}");

    /// <summary>The lock a task holds while it runs run <paramref name="index"/>: two tasks never run one run.</summary>
    internal static string TaskLock(string dir, int index) => Path.Combine(Run(dir, index), "task.lock");

    /// <summary>The PID of the process running run <paramref name="index"/> now (holding its task lock), or null when
    /// none does. A free lock is taken for an instant to see that it is free; a task starting then asks again
    /// (<see cref="SweepRunner.Run"/>). A folder this user cannot write (another user's sweep) says nothing: null.</summary>
    public static string? RunningBy(string dir, int index)
    {
        var path = TaskLock(dir, index);
        if (!File.Exists(path)) return null;
        try
        {
            using var free = FolderLock.TryTake(path);
            return free is null ? FolderLock.Holder(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Run <paramref name="index"/>'s folder, made when missing; a file in its place is named (it was the
    /// runtime's "already exists").</summary>
    internal static string MakeRun(string dir, int index)
    {
        var runDir = Run(dir, index);
        if (File.Exists(runDir)) throw new InvalidOperationException(RunIsFile(runDir));
        Directory.CreateDirectory(runDir);
        return runDir;
    }

    public static string RunIsFile(string runDir) => $"{runDir} is a file where the run's folder goes; move it away, and `sweep run` again";

    /// <summary>Whether run <paramref name="index"/> finished: its result.json (written last, atomically) holds a whole
    /// result of this run of this spec. A damaged one (not JSON, fields missing) or another spec's is not done: the
    /// run is run again.</summary>
    public static bool Done(string dir, ExperimentSpec spec, int index) =>
        ReadResult(dir, index, spec.Hash, spec.Runs[index].Values.ToDictionary(), spec.Runs[index].Experiment.Seed, spec.Runs[index].Experiment.Epochs).Result is not null;

    /// <summary>Run <paramref name="index"/>'s result; null without one, and with <c>Damage</c> saying what is wrong
    /// with a result.json that does not hold a whole result of this run: of spec <paramref name="specHash"/>, with
    /// the grid <paramref name="values"/> the plan gives the run, trained from <paramref name="seed"/> (its grid value,
    /// or the spec's seed), over <paramref name="epochs"/> epochs.</summary>
    public static (RunResult? Result, string? Damage) ReadResult(string dir, int index, string specHash, IReadOnlyDictionary<string, string> values, int seed, int epochs)
    {
        var gridKeys = values.Keys.ToList();
        var (found, r, damage, fields) = ReadRecord<RunResult>(Path.Combine(Run(dir, index), ResultFile), "a result");
        if (!found || damage is not null) return (null, damage);
        // The deserializer leaves absent fields at their defaults: a record without them is not a finished run. An
        // absent index or seed reads as 0, which passed for run 0 and called any other run's result another run's.
        var missing = r is null ? "everything"
            : r.Label is null ? "label" : r.Values is null ? "values" : r.TestAccuracy is null || r.TestAccuracy.Count == 0 ? "test_accuracy"
            : new[] { "index", "seed" }.FirstOrDefault(f => fields?.Contains(f) != true) is { } absent ? absent
            : gridKeys.FirstOrDefault(k => !r.Values.ContainsKey(k)) is { } key ? $"value for {key}" : null;
        if (missing is not null) return (null, $"not a whole result (no {missing})");
        // A result copied from another run's folder: its index is there, just not this run's.
        if (r!.Index != index) return (null, $"foreign: another run's result (index {r.Index}; this run's is {index})");
        // Another spec's result (a second sweep that wrote into this folder) must not count as this run's: it would
        // be "done already" and mix into collect. Results written before they named their spec are checked by values.
        if (r!.Spec is { } other && other != specHash) return (null, $"foreign: another spec's result (spec {other}; this sweep's is {specHash})");
        if (gridKeys.FirstOrDefault(k => r.Values![k] != values[k]) is { } differs)
            return (null, $"foreign: another run's result ({differs}={r.Values![differs]}; this run's is {values[differs]})");
        // The seed is not among the values when the grid has no seed key, and collect's seeds come from this field:
        // one that contradicts the run (an edited file) must not count as this run's.
        if (r.Seed != seed) return (null, $"foreign: another run's result (seed {r.Seed}; this run's is {seed})");
        // The reader takes 1e999 as infinity; no run writes one (accuracies are percentages), and the tables' JSON cannot hold it.
        var numbers = new[] { ("best", r!.Best), ("last", r.Last), ("seconds", r.Seconds) }.Concat(r.TestAccuracy!.Select(a => ("test_accuracy", a)));
        if (numbers.FirstOrDefault(n => !double.IsFinite(n.Item2)) is ({ } field, var x))
            return (null, $"not a whole result ({field} is {x.ToString(System.Globalization.CultureInfo.InvariantCulture)}, not a finite number)");
        // Accuracies are percentages: a 1e9 came from an edited file, and would pass into the table as a mean.
        if (numbers.FirstOrDefault(n => n.Item1 == "seconds" ? n.Item2 < 0 : n.Item2 is < 0 or > 100) is ({ } bad, var y))
            return (null, $"not a whole result ({bad} is {y.ToString(System.Globalization.CultureInfo.InvariantCulture)}, outside {(bad == "seconds" ? "[0, ∞)" : "[0, 100] %")})");
        // One accuracy per epoch of the run: a file cut to its first epochs (consistent in itself) went into the table
        // as the run's result, and was "done already".
        if (r.TestAccuracy!.Count != epochs)
            return (null, $"not a whole result ({NumberText.Count(r.TestAccuracy.Count, "test_accuracy value")} for a run of {NumberText.Count(epochs, "epoch")})");
        if (r.Threads < 1) return (null, $"not a whole result (threads is {r.Threads}, not a thread count)");
        // The summary comes from the per-epoch accuracies: a best of 99 over accuracies of [10] (an edited file) went
        // into the table as 99.
        if (r.BestEpoch < 1 || r.BestEpoch > r.TestAccuracy!.Count || r.TestAccuracy[r.BestEpoch - 1] != r.Best || r.TestAccuracy[^1] != r.Last)
            return (null, $"not a whole result (best {r.Best.ToString(System.Globalization.CultureInfo.InvariantCulture)} at epoch {r.BestEpoch} and last " +
                          $"{r.Last.ToString(System.Globalization.CultureInfo.InvariantCulture)} disagree with its {r.TestAccuracy!.Count} test_accuracy values)");
        return (r, null);
    }

    /// <summary>Run <paramref name="index"/>'s failure record; null without one, and with <c>Damage</c> saying what is
    /// wrong with a failed.json that does not hold one. A damaged one does not block the run: `sweep run` keeps it aside
    /// (failed.damaged-TIME.json) and runs the run again.</summary>
    public static (RunFailure? Failure, string? Damage) ReadFailure(string dir, int index)
    {
        var (found, f, damage, _) = ReadRecord<RunFailure>(Path.Combine(Run(dir, index), FailedFile), "a failure record");
        if (!found || damage is not null) return (null, damage);
        if (f?.Error is null) return (null, "not a failure record (no error)");
        return (f, null);
    }

    /// <summary>A run's JSON record as read, before its own checks: <c>Found</c> false when there is none, else the
    /// value (null for a file holding JSON null) or what is wrong (<paramref name="what"/> names the kind in "not a ..."),
    /// and the names of the fields the file holds (null unless it holds an object): the deserializer reads an absent
    /// number as 0, which only they tell from a written 0.</summary>
    static (bool Found, T? Value, string? Damage, IReadOnlySet<string>? Fields) ReadRecord<T>(string path, string what) where T : class
    {
        // A folder in the file's place (File.Exists is false for one) is damage: taken as "not run yet", the run's
        // result then failed to be written there with a raw "Is a directory".
        if (Directory.Exists(path)) return (true, null, "a folder, not a file", null);
        if (!File.Exists(path)) return (false, null, null, null);
        if (NotRegular(path) is { } damage) return (true, null, damage, null);
        try
        {
            var json = JsonSerializer.Deserialize<JsonElement>(File.ReadAllText(path));
            var fields = json.ValueKind == JsonValueKind.Object ? json.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal) : null;
            return (true, json.Deserialize<T>(Json), null, fields);
        }
        catch (JsonException e) { return (true, null, $"not {what} ({e.Message.Split(". ")[0]})", null); }
        catch (IOException e) { return (true, null, $"unreadable ({e.Message})", null); }
    }

    /// <summary>What is wrong with a run's file that has nothing to read, or null. Checked before opening: a FIFO (or
    /// device) in its place would block the read until someone writes, stopping collect and `sweep run` at that run;
    /// refused by its size, it is damaged like any other unreadable record.</summary>
    static string? NotRegular(string path) => FilePaths.NothingToRead(path) ? "empty (or not a regular file, e.g. a FIFO)" : null;

    /// <summary>Claims run folder <paramref name="runDir"/> for one `sweep run --jobs` (<paramref name="claim"/> names it):
    /// true for the first of its workers to ask, false for the others, so no run is tried twice in one sweep run. The
    /// task lock, not the claim, keeps two processes off one folder.</summary>
    public static bool Claim(string runDir, string claim)
    {
        Directory.CreateDirectory(runDir);
        try
        {
            using var _ = new FileStream(Path.Combine(runDir, $"claim-{claim}"), FileMode.CreateNew, FileAccess.Write);
            return true;
        }
        catch (IOException) when (File.Exists(Path.Combine(runDir, $"claim-{claim}"))) { return false; }
    }

    public static void Unclaim(string runDir, string claim)
    {
        if (Directory.Exists(runDir)) File.Delete(Path.Combine(runDir, $"claim-{claim}")); // a run no worker reached has no folder
    }

    /// <summary>Removes the claims of `sweep run --jobs` processes that no longer run (killed outright, so their own
    /// clean-up never ran; a claim is named PID-TICKS). They block nothing, since each sweep run claims under its own
    /// name, but would pile up in the run folders. Claims of live processes (another sweep run into this folder) stay.
    /// Returns how many were removed.</summary>
    public static int RemoveStaleClaims(string dir)
    {
        var runs = Path.Combine(dir, "runs");
        if (!Directory.Exists(runs)) return 0;
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(runs, "claim-*", SearchOption.AllDirectories))
        {
            var id = Path.GetFileName(file)["claim-".Length..].Split('-')[0];
            if (!int.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) || Alive(pid)) continue;
            try { File.Delete(file); removed++; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // left for the next sweep run
        }
        return removed;
    }

    static bool Alive(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>The spec hash a run's record (run.json) or result (result.json) names, or null when it names none or
    /// cannot be read.</summary>
    static string? RecordedSpec(string record)
    {
        if (FilePaths.NothingToRead(record)) return null; // never open a FIFO: it would block; the trainer names the record when it runs
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(record));
            return json.RootElement is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("spec", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The libtorch thread count run <paramref name="index"/> was started with (its run.json's "threads"),
    /// or null when it has not started, or the record names no usable count (the trainer then names what is wrong).</summary>
    public static int? StartedThreads(string dir, int index)
    {
        var record = Path.Combine(Run(dir, index), RunFolder.SettingsFile);
        if (!File.Exists(record) || FilePaths.NothingToRead(record)) return null; // never open a FIFO: it would block
        try
        {
            var threads = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(record))?.GetValueOrDefault("threads");
            return threads is { ValueKind: JsonValueKind.String } t
                && int.TryParse(t.GetString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
                && TorchRuntime.ThreadsError(n, "") is null ? n : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>What collect reads to know the sweep without the original spec file: its name, grid and every run.</summary>
    public sealed record Plan(string Name, string SpecHash, IReadOnlyList<string> GridKeys, IReadOnlyList<PlanEntry> Runs);

    public sealed record PlanEntry(int Index, string Label, IReadOnlyDictionary<string, string> Values);

    /// <summary>Records the spec in <paramref name="dir"/>; a folder that holds another spec's sweep is refused (its runs
    /// would mix with this one's in collect). Returns a note for the user when the folder's spec.yaml was another text
    /// and was rewritten (<see cref="SameSpec"/>), else null.</summary>
    public static string? Prepare(ExperimentSpec spec, string dir)
    {
        if (File.Exists(dir)) throw new ArgumentException($"--out {dir}: this is a file; give a folder (it is created when missing).");
        // A sweep writes plan.json, spec.yaml, runs/ and teachers/ into its folder: `--out /` wrote them at the root.
        if (Path.GetFullPath(dir) is var full && full == Path.GetPathRoot(full))
            throw new ArgumentException($"--out {dir}: the file system's root; give a folder of its own for the sweep (e.g. sweeps/{spec.Name}), where it writes its plan, runs and teachers.");
        if (Training.RunFolder.InsideRunError(dir) is { } inside) throw new InvalidOperationException(inside);
        // A new sweep only, before anything is written: a folder planned already (by an earlier build that did not
        // check this) still runs.
        if (!File.Exists(Path.Combine(dir, PlanFile)) && !Directory.Exists(Path.Combine(dir, PlanFile))) spec.RefuseIdleKey();
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--out {dir}: cannot create this folder ({e.Message}); give a folder you can write to.", e);
        }
        // A `train` run (a plain run's own files, a distillation's teacher/ and student/, a recipe's RUN/seedN) is not a
        // sweep: planned over, its folder held both, and a later `train --resume` there met the sweep's files. The
        // sweep's own runs/INDEX and teacher/KEY are skipped.
        if (!File.Exists(Path.Combine(dir, PlanFile)) &&
            Training.RunFolder.OtherRuns(dir, rel => rel == "runs" || rel.StartsWith("runs" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                                                     || rel.StartsWith("teacher" + Path.DirectorySeparatorChar, StringComparison.Ordinal)) is { Count: > 0 } train)
            throw new InvalidOperationException($"--out {dir} holds a `train` run ({(train[0].Length == 0 ? dir : Path.Combine(dir, train[0]))}), not a sweep; " +
                                                "give the sweep another folder, or move that run away.");
        // The sweep's own folders: a file in the place of one failed later with the runtime's "already exists" (every
        // run of them), the folder claimed by then.
        foreach (var sub in new[] { "runs", "teacher", "teachers", "slurm", "workers" })
            if (File.Exists(Path.Combine(dir, sub)))
                throw new ArgumentException($"--out {dir}: {Path.Combine(dir, sub)} is a file where the sweep keeps its {sub} folder; move it away, or give another --out.");
        // Checked and claimed under one lock: checking for a plan and then writing one let two sweeps of different
        // specs started together both take the folder (File.Move without overwrite only checks first, too).
        using var claim = LockPlan(dir);
        var planPath = Path.Combine(dir, PlanFile);
        // A folder in its place is a damaged plan (ReadPlan says so), not a missing one to write over: that failed with a raw "Is a directory".
        if (File.Exists(planPath) || Directory.Exists(planPath))
        {
            return SameSpec(spec, dir);
        }
        // No plan (deleted as damaged, say), but runs: each run's record and result names its spec. Another spec's
        // runs would count as this one's ("done already") and mix into collect; with only their results and
        // checkpoints left, every run failed on the checkpoint, another run's.
        var runs = Path.Combine(dir, "runs");
        if (Directory.Exists(runs))
            foreach (var record in Directory.EnumerateFiles(runs, "*.json", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) is RunFolder.SettingsFile or ResultFile))
                if (RecordedSpec(record) is { } other && other != spec.Hash)
                    throw new InvalidOperationException($"--out {dir} has no {PlanFile}, and its runs were made by another spec ({other}, in {record}; this one is {spec.Hash}). " +
                                                        "Give another folder, or move that one away.");
        // A spec.yaml already there with no plan beside it is not this sweep's copy (a user's own notes or spec, or
        // another spec's): writing the copy would overwrite it. This spec's own text (or the same spec, comments
        // aside) is the copy a plan-less folder may keep, and stays.
        var specCopy = Path.Combine(dir, SpecFile);
        if ((File.Exists(specCopy) || Directory.Exists(specCopy)) && !CopyHolds(specCopy, spec))
            throw new InvalidOperationException($"--out {dir} has no {PlanFile}, and its {SpecFile} is not this spec (spec {spec.Hash}); the sweep writes its own copy there, " +
                                                $"which would overwrite it. Give another folder, or move {specCopy} away.");
        var plan = new Plan(spec.Name, spec.Hash, spec.GridKeys,
            [.. spec.Runs.Select(r => new PlanEntry(r.Index, r.Label, r.Values.ToDictionary()))]);
        AtomicFile.WriteAllText(planPath, JsonSerializer.Serialize(plan, Json));
        if (!File.Exists(specCopy)) AtomicFile.WriteAllText(specCopy, spec.Text);
        return null;
    }

    /// <summary>The folder's plan lock (.plan.lock, a flock the kernel releases with its process), waited for: another
    /// sweep holds it only while it checks and writes the plan, a fraction of a second.</summary>
    static FolderLock LockPlan(string dir)
    {
        var path = Path.Combine(dir, ".plan.lock");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            // The lock is the first thing written into the folder, so a folder this user may not write to (a finished
            // sweep's as much as a new one's) fails here: said as such, not as the runtime's bare "Access denied".
            FolderLock? held;
            try { held = FolderLock.TryTake(path); }
            // /proc and other file systems that take no new files fail with "Could not find file" (an IOException).
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                throw new ArgumentException($"--out {dir}: cannot write there ({e.Message}); give a folder you can write to.", e);
            }
            if (held is not null) return held;
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
                throw new InvalidOperationException($"--out {dir}: {path} has been held for a minute by PID {FolderLock.Holder(path)}; wait for that sweep to start, or give another folder.");
            Thread.Sleep(20);
        }
    }

    /// <summary>For a folder that has a plan: refuses another spec's; for this spec's, writes the spec's copy again when
    /// it is missing or no longer this spec, and returns a note when there was a copy to replace.</summary>
    static string? SameSpec(ExperimentSpec spec, string dir)
    {
        var old = ReadPlan(dir);
        if (old.SpecHash != spec.Hash)
            // The spec run is the folder's own copy (what every array task and pod runs): it was edited after the plan, and
            // "another folder" was the wrong way out of it.
            throw new InvalidOperationException(FilePaths.SameFile(spec.File, Path.Combine(dir, SpecFile))
                ? $"{spec.File} was edited after {dir} was planned (the plan is of spec {old.SpecHash}; the copy is now {spec.Hash}), and every task runs this copy; " +
                  "put the spec back (`distill sweep slurm SPEC --out DIR`, or `sweep run SPEC --out DIR`, with the original SPEC, writes it again), or plan the edited spec in another folder."
                : $"--out {dir} holds a sweep of another spec ({old.Name}, spec {old.SpecHash}; this one is {spec.Hash}). " +
                  "Give another folder, or move that one away.");
        CheckPlan(old, spec, dir);
        // Same spec: every task of an array calls this; nothing to rewrite but the spec's copy, which the tasks
        // (Slurm, k8s, --jobs workers) read: deleted, or no longer this spec (garbage, another spec's values), it
        // is written again from the spec given. A copy that differs only in comments is this spec and stays.
        var copy = Path.Combine(dir, SpecFile);
        if (CopyHolds(copy, spec)) return null;
        string? note = null;
        // An edited copy (the user's own change, made where the tasks read it) was overwritten without a word: it is
        // kept beside the new one, as a damaged result is, and the user told.
        if (File.Exists(copy) || Directory.Exists(copy))
            note = $"note: {copy} is not this sweep's spec (spec {spec.Hash}); rewritten from {spec.File}, the edited copy kept as {KeepEdited(copy)}";
        // Replaced in one atomic write after the copy was kept: a task that reads it without the plan lock (an array task
        // starting) never finds it missing.
        AtomicFile.WriteAllText(copy, spec.Text);
        return note;
    }

    /// <summary>Keeps the folder's own file at <paramref name="path"/>, which is about to be rewritten (an edited spec copy
    /// or sbatch script), beside it as NAME.edited-TIME.EXT; returns that file name. Copied, so the file is never missing
    /// for a reader until its rewrite; a folder in its place is no file anyone reads, and is moved.</summary>
    public static string KeepEdited(string path)
    {
        var kept = Path.Combine(Path.GetDirectoryName(path)!, string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileNameWithoutExtension(path)}.edited-{DateTime.UtcNow:yyyyMMddTHHmmssfff}{Path.GetExtension(path)}"));
        if (Directory.Exists(path)) Directory.Move(path, kept);
        else File.Copy(path, kept);
        return Path.GetFileName(kept);
    }

    static bool CopyHolds(string path, ExperimentSpec spec)
    {
        if (!File.Exists(path) || FilePaths.NothingToRead(path)) return false; // never open a FIFO: it would block
        try
        {
            var text = ExperimentSpec.ReadText(path);
            return text == spec.Text || ExperimentSpec.Parse(text, path).Hash == spec.Hash;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The name of the sweep planned in <paramref name="dir"/>, or null when it has no readable plan (then
    /// the spec's own name stands, and Prepare judges the folder).</summary>
    public static string? PlannedName(string dir)
    {
        try { return File.Exists(Path.Combine(dir, PlanFile)) ? ReadPlan(dir).Name : null; }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or InvalidOperationException) { return null; }
    }

    public static Plan ReadPlan(string dir)
    {
        var path = Path.Combine(dir, PlanFile);
        // File.Exists is false for a folder: it was reported as no plan at all, with the advice to write one there.
        if (Directory.Exists(path)) throw DamagedPlan(path, dir, "a folder, not a file");
        if (!File.Exists(path))
        {
            // A sweep folder whose plan was deleted or lost in a copy: "not a sweep folder" sent the user elsewhere,
            // while the spec kept beside the runs writes the plan again and the finished runs are skipped.
            var spec = Path.Combine(dir, SpecFile);
            var hasSpec = File.Exists(spec);
            if (hasSpec || Directory.Exists(Path.Combine(dir, "runs")))
                throw new FileNotFoundException($"{dir}: no {PlanFile}, though it holds a sweep's " + (hasSpec ? SpecFile : "runs/") +
                                                $"; write the plan again with `sweep run {(hasSpec ? spec : "SPEC")} --out {dir}` (runs already done are skipped).");
            throw new FileNotFoundException($"{dir}: no {PlanFile}; this is not a sweep folder (sweep run, slurm and k8s write it).");
        }
        // Never opened when it has nothing to read: a FIFO in its place would block collect and `sweep run` until someone writes.
        if (FilePaths.NothingToRead(path)) throw DamagedPlan(path, dir, "empty, or not a regular file, e.g. a FIFO");
        Plan plan;
        try { plan = JsonSerializer.Deserialize<Plan>(File.ReadAllText(path), Json) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw DamagedPlan(path, dir, $"not a plan: {e.Message.Split(". ")[0]}"); }
        // Absent fields deserialize as null: name the one missing rather than fail later on a null.
        var missing = plan.Name is null ? "name" : plan.SpecHash is null ? "spec_hash" : plan.GridKeys is null ? "grid_keys" : plan.Runs is null ? "runs"
            : plan.Runs.FirstOrDefault(r => r is null || r.Label is null || r.Values is null || plan.GridKeys.Any(k => !r.Values.ContainsKey(k))) is { } bad
                ? $"the grid values of run {bad?.Index}" : null;
        if (missing is not null) throw DamagedPlan(path, dir, $"no {missing}");
        // An index listed twice (an edited or merged file) would have its run counted twice in collect's table.
        if (plan.Runs!.GroupBy(r => r.Index).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw DamagedPlan(path, dir, $"run {twice.Key} is listed {twice.Count()} times");
        return plan;
    }

    /// <summary>Refuses a plan that does not list <paramref name="spec"/>'s runs (an edited or truncated plan.json):
    /// trusted, a run it leaves out was never run, and collect called the sweep complete without it.</summary>
    public static void CheckPlan(Plan plan, ExperimentSpec spec, string dir)
    {
        var path = Path.Combine(dir, PlanFile);
        if (plan.Runs.Count != spec.Runs.Count)
            throw DamagedPlan(path, dir, $"it lists {plan.Runs.Count} runs, but its spec (spec {spec.Hash}) has {spec.Runs.Count}");
        if (plan.Runs.Select((r, i) => (r, Difference(r, spec.Runs[i]))).FirstOrDefault(x => x.Item2 is not null) is ({ } bad, { } difference))
            throw DamagedPlan(path, dir, $"its run {bad.Index} {difference}");
    }

    /// <summary>How plan entry <paramref name="entry"/> differs from the spec's run at its place, or null. Names the
    /// field that differs: both labels in full read alike when only the values were edited (the label is text of its own).</summary>
    static string? Difference(PlanEntry entry, PlannedRun run)
    {
        if (entry.Index != run.Index) return $"is listed where the spec has run {run.Index}";
        var planned = run.Values.ToDictionary();
        if (entry.Values.Keys.Concat(planned.Keys).Distinct().Order(StringComparer.Ordinal)
                .FirstOrDefault(k => entry.Values.GetValueOrDefault(k) != planned.GetValueOrDefault(k)) is { } key)
            return $"has {Value(entry.Values, key)}, but the spec's run {run.Index} has {Value(planned, key)}";
        return entry.Label != run.Label ? $"is labelled '{entry.Label}', but the spec's run {run.Index} is '{run.Label}'" : null;

        static string Value(IReadOnlyDictionary<string, string> values, string key) => values.TryGetValue(key, out var v) ? $"{key}={v}" : $"no value for {key}";
    }

    /// <summary>Names the folder's copy of the spec only when it is there (a copy-less folder was pointed at a file it lacks).</summary>
    static InvalidDataException DamagedPlan(string path, string dir, string problem) =>
        new($"{path}: damaged ({problem}); move it away and run `sweep run SPEC --out {dir}` with the sweep's spec" +
            (File.Exists(Path.Combine(dir, SpecFile)) ? $" ({Path.Combine(dir, SpecFile)})" : "") + " to write it again.");

    internal static readonly JsonSerializerOptions Json = new(SpecSchema.Indented) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}

/// <summary>
/// Runs one run of a sweep into DIR/runs/INDEX/: a run with a result is skipped (without loading libtorch), a killed one
/// resumes from its checkpoint (the trainer's run folder checks that the settings, spec hash included, are the same),
/// and a task lock keeps two tasks off one folder. The teacher is trained by the first task that needs it, under the
/// teacher cache's lock (<see cref="TeacherStore.Hold(string?, RecipeConfig)"/>), and loaded from DIR/teachers by every other.
/// </summary>
public static class SweepRunner
{
    sealed record SweepConfig : RecipeConfig
    {
        internal override bool HasBudget => false; // a spec names its epochs and sizes itself
    }

    sealed class TeacherOnly : ExperimentResult;

    /// <summary>The run's result, and whether it was done already (then nothing ran). A run another process holds is a
    /// <see cref="RunBusyException"/>, or with <paramref name="wait"/> waited for: then it is done already, or (when that
    /// process stopped) resumed here.</summary>
    public static (RunResult Result, bool Skipped) Run(ExperimentSpec spec, int index, string dir, TextWriter log, CancellationToken cancellation, bool wait = false)
    {
        if (index < 0 || index >= spec.Runs.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"--index {index} is out of range: {spec.Name} has runs 0 to {spec.Runs.Count - 1}.");
        var planned = spec.Runs[index];
        var runDir = SweepFolder.MakeRun(dir, index);
        var lockPath = SweepFolder.TaskLock(dir, index);
        var task = FolderLock.TryTake(lockPath);
        // Asked once more before the run counts as held: `sweep collect` takes a free lock for an instant to see whether
        // a run is running, and a task starting in that instant would otherwise leave its run to nobody.
        if (task is null && !wait) { Thread.Sleep(200); task = FolderLock.TryTake(lockPath); }
        if (task is null && !wait) throw new RunBusyException(index, FolderLock.Holder(lockPath));
        if (task is null) log.WriteLine($"run {index}: running elsewhere (PID {FolderLock.Holder(lockPath)}); waiting for it");
        while (task is null)
        {
            cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
            // Nothing of the run started here, so there is no run's line to print: the sweep's stop says it all (the
            // runtime's own "The operation was canceled." came out between the stop notice and the summary).
            if (cancellation.IsCancellationRequested) throw Stopped(spec, cancellation);
            task = FolderLock.TryTake(lockPath);
        }
        using var _ = task;
        var resultPath = Path.Combine(runDir, SweepFolder.ResultFile);
        var (done, damage) = SweepFolder.ReadResult(dir, index, spec.Hash, planned.Values.ToDictionary(), planned.Experiment.Seed, planned.Experiment.Epochs);
        if (done is not null) return (done, true);
        // Kept, not deleted (it may be the only copy of something); the run resumes from its checkpoint. A damaged
        // failure record is kept aside too, so that neither a success (which removes failed.json) nor a new failure
        // (which writes it) destroys it.
        if (damage is not null) KeepAside(runDir, SweepFolder.ResultFile, "result", damage, index, log);
        if (SweepFolder.ReadFailure(dir, index).Damage is { } failureDamage) KeepAside(runDir, SweepFolder.FailedFile, "failed", failureDamage, index, log);
        try
        {
            var result = Train(spec, planned, dir, runDir, log, cancellation);
            AtomicFile.WriteAllText(resultPath, JsonSerializer.Serialize(result, SweepFolder.Json));
            File.Delete(Path.Combine(runDir, SweepFolder.FailedFile));
            return (result, false);
        }
        // Not a failed write of standard output (redirected to a full disk): that is no fault of the run, which resumes
        // from its checkpoint once the output can be written.
        catch (Exception e) when (e is not OperationCanceledException && !IoError.FromConsole(e))
        {
            AtomicFile.WriteAllText(Path.Combine(runDir, SweepFolder.FailedFile),
                JsonSerializer.Serialize(new RunFailure(index, planned.Label, e.Message.Split('\n')[0]), SweepFolder.Json));
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="runs"/> in order with <paramref name="runOne"/> (its second argument: wait for a run held
    /// elsewhere), then, with <paramref name="keepGoing"/>, the ones another process held (<paramref name="busy"/> was told),
    /// waited for. With <paramref name="keepGoing"/> a run's failure (any exception but a stop) goes to
    /// <paramref name="failed"/> and the others still run; without it, it propagates. Returns the failed indices. A stop
    /// requested before every run was run is a <see cref="OperationCanceledException"/> naming the sweep, never a
    /// return: a sweep that skipped its runs because of a signal (even one that came before the first run started) must
    /// not exit as done, or a cluster would mark its task finished for good.
    /// </summary>
    public static List<int> RunEach(ExperimentSpec spec, IEnumerable<PlannedRun> runs, bool keepGoing, Action<PlannedRun, bool> runOne,
        Action<PlannedRun, RunBusyException> busy, Action<PlannedRun, Exception> failed, CancellationToken cancellation)
    {
        var failures = new List<int>();
        var elsewhere = new List<PlannedRun>();
        foreach (var (run, wait) in runs.Select(r => (r, false)).Concat(Later()))
        {
            if (cancellation.IsCancellationRequested) throw Stopped(spec, cancellation);
            try { runOne(run, wait); }
            // The run's line says where it stopped; the sweep's, as `sweep run --jobs` prints it, how to go on.
            catch (OperationCanceledException e) when (cancellation.IsCancellationRequested && e is not SweepStoppedException)
            {
                throw new OperationCanceledException($"{e.Message}\n{Stopped(spec, cancellation).Message}", e, cancellation);
            }
            catch (RunBusyException e) when (keepGoing)
            {
                busy(run, e);
                elsewhere.Add(run);
            }
            // A failed write of standard output ends the sweep once (every run would fail on it), not as each run's failure.
            catch (Exception e) when (keepGoing && e is not OperationCanceledException && !IoError.FromConsole(e))
            {
                failed(run, e);
                failures.Add(run.Index);
            }
        }
        return failures;

        // Evaluated after the first pass: the runs held elsewhere, now waited for (done there, or resumed here).
        IEnumerable<(PlannedRun, bool)> Later() { foreach (var run in elsewhere) yield return (run, true); }
    }

    /// <summary>What a sweep stopped by a signal before its runs were all run throws.</summary>
    public static OperationCanceledException Stopped(ExperimentSpec spec, CancellationToken cancellation) =>
        new SweepStoppedException($"sweep {spec.Name}: stopped; `sweep run` again resumes the unfinished runs from their checkpoints", cancellation);

    /// <summary>The sweep's own stop (<see cref="Stopped"/>), told from a run's: it is printed once, not after itself.</summary>
    sealed class SweepStoppedException(string message, CancellationToken cancellation) : OperationCanceledException(message, cancellation);

    /// <summary>Moves a run's damaged <paramref name="file"/> to STEM.damaged-TIME.json beside it and says so.</summary>
    static void KeepAside(string runDir, string file, string stem, string damage, int index, TextWriter log)
    {
        var kept = Path.Combine(runDir, string.Create(CultureInfo.InvariantCulture, $"{stem}.damaged-{DateTime.UtcNow:yyyyMMddTHHmmssfff}.json"));
        var damaged = Path.Combine(runDir, file);
        if (Directory.Exists(damaged)) Directory.Move(damaged, kept);
        else File.Move(damaged, kept);
        log.WriteLine($"run {index}: its {file} was {damage}; kept as {Path.GetFileName(kept)}, running it again");
    }

    static RunResult Train(ExperimentSpec spec, PlannedRun planned, string dir, string runDir, TextWriter log, CancellationToken cancellation)
    {
        var e = planned.Experiment;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TorchRuntime.Initialize();
        using var data = Datasets.Load(e.Dataset);
        if (data.Warning is { } warning) log.WriteLine($"run {planned.Index}: warning: {warning}");
        var c = new SweepConfig
        {
            Dataset = e.Dataset, Teacher = e.Teacher?.Model ?? "none", TeacherSeed = e.Teacher?.Seed ?? 0, TeacherEpochs = e.Teacher?.Epochs ?? 1,
            TeacherOptimizer = e.Teacher?.Optimizer ?? e.Optimizer, Student = e.Student, StudentDropout = e.StudentDropout,
            TeacherTrainSize = e.TeacherTrainSize, TransferSize = e.TrainSize, TestSize = e.TestSize, DataSeed = e.DataSeed,
            StudentEpochs = e.Epochs, BatchSize = e.BatchSize, StudentOptimizer = e.Optimizer, Schedule = e.Schedule, Augment = e.Augment,
            Seeds = [e.Seed], OutDir = dir, Resume = true, Cancellation = cancellation, Log = log, Progress = false,
            TeacherCache = Path.Combine(dir, "teachers"),
            ResumeAdvice = "`sweep run` again", // its teacher's stop too: both resume by running the sweep again
        };
        var needsTeacher = e.Methods.Any(m => m.Choice.Method.NeedsTeacher);
        // One training folder per distinct teacher, keyed as its cache entry is (every teacher setting, the thread count,
        // the build): a grid over a teacher setting, or a task at another thread count, trains its own teacher beside
        // the others instead of trying to resume one that was started with other settings.
        var teacherConfig = c with { OutDir = Path.Combine(dir, "teacher", TeacherStore.Key(data, c)), SharedTeacherFolder = true };
        using var transfer = Recipe.TransferSet(data, c);
        // A method's layer names (fitnet: {layer: stage9}) depend on the built models, which a spec's load does not build
        // (it loads no libtorch): build the objective once here, before the teacher trains (minutes), so a wrong name
        // fails at once. It draws nothing the run's numbers depend on: the teacher and the objective below are seeded anew.
        var checkSetup = new MethodSetup(e.Student, e.Teacher?.Model, transfer, e.BatchSize) { Seed = e.Seed, Epochs = e.Epochs };
        using (NewDisposeScope()) MethodCatalogue.Combine(e.CeWeight, e.Methods, checkSetup);
        foreach (var m in e.Methods)
            if (m.Choice.Method.Caution(m.Choice.Settings, checkSetup) is { } caution) log.WriteLine(FormattableString.Invariant($"run {planned.Index}: warning: {caution}"));
        using var teacher = needsTeacher ? Recipe.Teacher(data, teacherConfig, new TeacherOnly(), null) : null; // one task trains it, the others wait for the cache
        using (manual_seed(e.Seed)) { } // a method's own modules (a regressor) are initialised from the seed, as in Comparison
        var objective = MethodCatalogue.Combine(e.CeWeight, e.Methods, new MethodSetup(e.Student, e.Teacher?.Model, transfer, e.BatchSize) { Seed = e.Seed, Epochs = e.Epochs });
        using var student = Recipe.Model(e.Student, transfer, e.Seed, e.StudentDropout);
        var options = Recipe.Options(c, $"{spec.Name}[{planned.Index}]", e.Seed, e.Epochs, e.Optimizer) with
        {
            OutDir = runDir,
            // A spec has no gradient clipping and no --lr: the advice names what it can change.
            NonFiniteAdvice = "Lower optimizer.lr in the spec, or check that term's settings in its loss section.",
            StartOverAdvice = $"remove {runDir} to start this run over",
            Settings = new Dictionary<string, string>(planned.Values.Select(v => KeyValuePair.Create($"grid.{v.Key}", v.Value))) { ["spec"] = spec.Hash, ["loss"] = e.Loss, ["teacher_model"] = e.Teacher?.ToString() ?? "none" },
        };
        var r = Trainer.Train(student, transfer, objective, options, needsTeacher ? teacher : null);
        return new RunResult(planned.Index, planned.Label, planned.Values.ToDictionary(), e.Seed, r.BestAccuracy, r.LastAccuracy, r.BestEpoch,
            r.Parameters, TorchRuntime.Threads, Math.Round(clock.Elapsed.TotalSeconds, 2), r.Warning, [.. r.History.Select(h => h.TestAccuracy)], spec.Hash);
    }
}
