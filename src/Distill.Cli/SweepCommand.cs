using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Distill.Native;
using Distill.Notebooks.Reports;
using Distill.Sweeps;

namespace Distill.Cli;

/// <summary>
/// `distill sweep plan|run|collect|slurm|k8s`: a spec's grid as runs, run here (N processes at a time) or as one run per
/// cluster task (Slurm array, Kubernetes Indexed Job), collected into one table. Layout of the folder: <see cref="SweepFolder"/>.
/// </summary>
static class SweepCommand
{
    /// <summary>Where a cluster says which run a task is, in the order they are looked for.</summary>
    static readonly string[] IndexVariables = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

    static Argument<string> Spec() => new("SPEC") { Description = "Experiment spec file (YAML; see experiments/)." };

    static Option<string> Out(bool required = true) => new("--out") { Description = "Sweep folder (runs/INDEX/ per run, results).", Required = required };

    /// <summary>The sweep folder given with --out, as a full path; an empty one is an error naming the option (it was
    /// the runtime's "The value cannot be an empty string.", which names neither).</summary>
    static string OutFolder(string given) => given.Length == 0
        ? throw new ArgumentException("--out \"\": give the sweep folder's name (it is created when missing), e.g. --out sweeps/tiny.")
        : Path.GetFullPath(given);

    public static Command Create()
    {
        var cmd = new Command("sweep", "Run a spec's grid: here, on Slurm or on Kubernetes; one run per index; collect the results.");
        cmd.Subcommands.Add(Plan());
        cmd.Subcommands.Add(Run());
        cmd.Subcommands.Add(Collect());
        cmd.Subcommands.Add(Slurm());
        cmd.Subcommands.Add(KubernetesCommand.Create(Spec()));
        return cmd;
    }

    static Command Plan()
    {
        var spec = Spec();
        var cmd = new Command("plan", "Print each run's index and settings.") { spec };
        cmd.SetAction(r => TrainCommand.Guard(_ => () =>
        {
            var s = ExperimentSpec.Load(r.GetValue(spec)!).RefuseIdleKey();
            Console.WriteLine($"{s.Name}: {NumberText.Count(s.Runs.Count, "run")} (spec {s.Hash})");
            foreach (var run in s.Runs) Console.WriteLine($"{run.Index,4}  {run.Label}  |  {run.Experiment.Student}, {NumberText.Count(run.Experiment.Epochs, "epoch")}, loss {run.Experiment.Loss}, seed {run.Experiment.Seed}");
            return 0;
        }));
        return cmd;
    }

    static Command Run()
    {
        var spec = Spec();
        var outDir = Out();
        // A long, so 99999999999 gets the range of this spec's runs, not the parser's "which runs from -2147483648".
        var index = new Option<long?>("--index") { Description = $"Run only this index (default: ${IndexVariables[0]} or ${IndexVariables[1]} when set, else every run)." };
        var jobs = new Option<int>("--jobs") { Description = "Runs at a time, in that many worker processes.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int?>("--threads") { Description = "libtorch threads per run (default: $DISTILL_THREADS, else the cores divided by --jobs)." };
        // Internal: one of the processes `--jobs` starts; the value names that `sweep run` so its workers share claims.
        var worker = new Option<string?>("--worker") { Hidden = true };
        var cmd = new Command("run", "Run a sweep's runs into DIR/runs/INDEX/: done runs are skipped, killed ones resume from their checkpoint.")
            { spec, outDir, index, jobs, threads, worker };
        cmd.SetAction(r => TrainCommand.Guard(signals => () =>
        {
            var dir = OutFolder(r.GetValue(outDir)!);
            // A nameless spec is named after its file, and the folder's copy (spec.yaml, which --jobs workers, Slurm
            // tasks and pods run) after "spec": the sweep's name from its plan, so every process names the runs alike
            // (the name is a compared setting: a run started by one was refused to the other as "other settings").
            var s = ExperimentSpec.Load(r.GetValue(spec)!, SweepFolder.PlannedName(dir));
            var n = r.GetValue(jobs);
            if (n < 1) throw new ArgumentException($"--jobs {n}: give at least 1.");
            if (r.GetValue(threads) is int t) TorchRuntime.CheckThreads(t, $"--threads {t}");
            var (given, source) = r.GetValue(index) is long l ? (l, "--index") : FromEnvironment(s);
            if (given is long one && (one < 0 || one >= s.Runs.Count))
                throw new ArgumentException($"{source} {one} is out of range: {s.Name} has {s.Runs.Count} runs, 0 to {s.Runs.Count - 1}.");
            // An index from the environment (an array task's, or one left exported in an interactive job) ran one run
            // of the sweep without a word: said, with how to run them all.
            if (r.GetValue(index) is null && given is long fromEnvironment)
                Console.WriteLine($"note: running run {fromEnvironment} alone, as {source} says; unset it to run the whole sweep.");
            if (given is not null && n > 1) throw new ArgumentException($"--jobs runs the whole sweep; with {source} there is one run: drop --jobs.");
            var i = (int?)given; // within the spec's runs: checked above
            // Every option checked before the folder is claimed: a refused sweep leaves it free.
            var perRun = ChildProcesses.ThreadsPerProcess(r.GetValue(threads), n);
            if (SweepFolder.Prepare(s, dir) is { } note) Console.WriteLine(note);
            if (r.GetValue(worker) is { } claim) return Worker(s, dir, perRun, claim, signals.Token);
            // The children read the folder's copy of the spec: editing the original mid-sweep cannot change a queued run.
            if (n > 1) return Parallel(s, Path.Combine(dir, SweepFolder.SpecFile), dir, n, perRun, signals);
            var clock = Stopwatch.StartNew();
            IEnumerable<PlannedRun> runs = i is int k ? [s.Runs[k]] : s.Runs;
            // A signal before a run starts (even before the first) is a stop, not a sweep done: RunEach throws.
            var failed = SweepRunner.RunEach(s, runs, keepGoing: i is null, (run, wait) => RunOne(s, run, dir, perRun, Console.Out, signals.Token, wait),
                (run, busy) => Console.WriteLine($"run {run.Index} ({run.Label}): running elsewhere (PID {busy.Holder}); back to it at the end"), // another `sweep run` into this folder: not failed
                (run, ex) => Console.Error.WriteLine($"error: run {run.Index}: {ex.Message.Split('\n')[0]}"), // in runs/INDEX/failed.json for collect; the others still run
                signals.Token);
            return i is null ? Summary(s, dir, failed, clock) : failed.Count == 0 ? 0 : 1;
        }));
        return cmd;
    }

    /// <summary>Whether an exception from one run is that run's failure (recorded in its failed.json), after which the
    /// sweep goes on with its other runs: any but a stop (Ctrl-C, SIGTERM). Not an allow-list of kinds: a run fails in
    /// ways no list foresees (libtorch's ExternalException, say), and one run's failure must not end the others.</summary>
    static bool IsRunFailure(Exception e) => e is not OperationCanceledException;

    static void RunOne(ExperimentSpec s, PlannedRun run, string dir, int threads, TextWriter log, CancellationToken token, bool wait = false)
    {
        // A started run resumes at the thread count it was started with: its numbers are bit-identical only at that
        // count, and the trainer refuses a resume at another (advising --resume, which a sweep has no use for). Set
        // before anything trains, so its teacher too is the one trained at that count.
        if (SweepFolder.StartedThreads(dir, run.Index) is int started && started != threads && !SweepFolder.Done(dir, s, run.Index))
        {
            var note = $"note: run {run.Index} ({run.Label}): resuming at {started} thread{(started == 1 ? "" : "s")}, the count it was started with (not {threads}): a run's numbers are the same only at its own thread count";
            if (log != Console.Out) log.WriteLine(note);
            Console.WriteLine(note);
            threads = started;
        }
        TorchRuntime.Initialize(threads);
        var (result, skipped) = SweepRunner.Run(s, run.Index, dir, log, token, wait);
        var line = $"run {run.Index} ({run.Label}): {(skipped ? "done already; " : "")}best {result.Best:F2}% last {result.Last:F2}% " +
                   $"({result.Threads} thread{(result.Threads == 1 ? "" : "s")}, {result.Seconds:F1} s)";
        if (log != Console.Out) log.WriteLine(line);
        Console.WriteLine(line);
    }

    /// <summary>
    /// One process of `sweep run --jobs`: takes the runs in index order, each one that is not done and that no other
    /// worker of the same `sweep run` has claimed (<see cref="SweepFolder.Claim"/>), and runs it into runs/INDEX/ with
    /// its log in runs/INDEX/task.log, until none is left. A process per worker, not per run, pays the runtime's,
    /// libtorch's and the dataset's start-up (about 2 s of CPU) once per worker; the runs' numbers are the same as in a
    /// process of their own (a run seeds everything it draws from).
    /// </summary>
    static int Worker(ExperimentSpec s, string dir, int threads, string claim, CancellationToken token)
    {
        var failed = 0;
        // The claim starts with the PID of the `sweep run` that started this worker: a parent killed while this process
        // was still starting (a second or two of runtime and libtorch) had already left it to init, so the parent read
        // here was never going to change, and the worker ran the whole sweep unseen.
        var parent = OperatingSystem.IsLinux() && int.TryParse(claim.Split('-')[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var starter)
            ? starter : ParentId();
        // Checked every second as well, not only between runs: a run waiting for another process's lock (or training)
        // stops too, with its checkpoint, instead of going on unseen for hours.
        using var orphaned = CancellationTokenSource.CreateLinkedTokenSource(token);
        using var watch = new Timer(_ => { if (ParentId() != parent) orphaned.Cancel(); }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        token = orphaned.Token;
        var elsewhere = new List<PlannedRun>();
        foreach (var (run, wait) in s.Runs.Select(r => (r, false)).Concat(Later()))
        {
            if (token.IsCancellationRequested) throw SweepRunner.Stopped(s, token);
            // A parent killed outright (SIGKILL, the OOM killer) passes nothing on: stop rather than run the rest of
            // its sweep unseen, holding run locks the next `sweep run` would stumble on.
            if (ParentId() != parent) throw new InvalidOperationException("sweep worker: the `sweep run` that started it is gone; stopping.");
            var runDir = SweepFolder.Run(dir, run.Index);
            // A file where the run's folder goes: said once, by the `sweep run` that started the workers.
            if (File.Exists(runDir)) continue;
            // A run this worker came back to is still claimed by it.
            if (!wait && (SweepFolder.Done(dir, s, run.Index) || !SweepFolder.Claim(runDir, claim))) continue;
            using var log = new StreamWriter(Path.Combine(runDir, "task.log"), append: true) { AutoFlush = true };
            try { RunOne(s, run, dir, threads, log, token, wait); }
            catch (RunBusyException busy)
            {
                // Held by a process outside this `sweep run` (another one into this folder): not failed. The claim
                // stays, so this worker alone comes back to it once its own pass is over.
                Console.WriteLine($"run {run.Index} ({run.Label}): running elsewhere (PID {busy.Holder}); back to it at the end");
                elsewhere.Add(run);
            }
            // The worker goes on with the other runs (failed.json says why).
            catch (Exception ex) when (IsRunFailure(ex))
            {
                var error = $"error: run {run.Index}: {ex.Message.Split('\n')[0]}";
                log.WriteLine(error);
                Console.Error.WriteLine(error);
                failed++;
            }
        }
        return failed == 0 ? 0 : 1;

        // Evaluated after the first pass: the runs held elsewhere, now waited for (done there, or resumed here).
        IEnumerable<(PlannedRun, bool)> Later() { foreach (var run in elsewhere) yield return (run, true); }
    }

    static int ParentId() => CtrlC.ParentId();

    /// <summary>The index an array task was given, or null outside one.</summary>
    static (long? Index, string Source) FromEnvironment(ExperimentSpec s)
    {
        // A Slurm job inside a pod (or a variable left exported) sets both: the first is taken, which the user is told,
        // since the other may have been the one meant.
        if (IndexVariables.Select(v => (v, Value: Environment.GetEnvironmentVariable(v))).Where(v => v.Value is { Length: > 0 }).ToList() is [var first, _, ..] set)
            Console.Error.WriteLine($"warning: {string.Join(" and ", set.Select(v => $"${v.v}={v.Value}"))} are both set; taking the run index from ${first.v}; " +
                                    "unset the other, or pass --index.");
        foreach (var name in IndexVariables)
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } value)
                return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? (i, $"${name}")
                    : throw new ArgumentException($"${name}='{value}' is not a run index (0 to {s.Runs.Count - 1}); unset it, or pass --index.");
        return (null, "");
    }

    /// <summary>
    /// <paramref name="jobs"/> worker processes (<see cref="Worker"/>, at most one per pending run), each with
    /// <paramref name="threads"/> libtorch threads, that share the pending runs between them; their lines are passed
    /// on here as they come and kept in workers/K.log. A signal is passed on to the workers, whose running runs
    /// checkpoint and exit. A pending run with failed.json at the end failed (it says why); one a worker that died left
    /// unfinished is run once more by a new round of workers, and reported as not run if it is left again.
    /// </summary>
    static int Parallel(ExperimentSpec s, string specPath, string dir, int jobs, int threads, CtrlC signals)
    {
        var clock = Stopwatch.StartNew();
        SweepFolder.RemoveStaleClaims(dir);
        var pending = s.Runs.Where(r => !SweepFolder.Done(dir, s, r.Index)).ToList();
        // The workers skip these (each would say so): said once here, and counted failed in the summary.
        foreach (var r in pending.Where(r => File.Exists(SweepFolder.Run(dir, r.Index))))
            Console.Error.WriteLine($"error: run {r.Index}: {SweepFolder.RunIsFile(SweepFolder.Run(dir, r.Index))}");
        var workers = Math.Min(jobs, pending.Count);
        Console.WriteLine($"sweep {s.Name}: {NumberText.Count(s.Runs.Count, "run")}, {s.Runs.Count - pending.Count} done already" +
                          (workers == 0 ? "" : $"; {workers} process{(workers == 1 ? "" : "es")} × {threads} thread{(threads == 1 ? "" : "s")}"));
        // A child must not take its index from the array task this command may itself be running in.
        var environment = IndexVariables.ToDictionary(v => v, string? (_) => null);
        var claim = $"{Environment.ProcessId}-{DateTime.UtcNow.Ticks}";
        var todo = pending;
        List<int> notRun = [];
        var died = new List<string>();
        // A worker that dies (killed, out of memory) leaves the run it had claimed to no one: its siblings skip a claimed
        // run. So the runs it left get one more round of workers (each resumes from its checkpoint); a second death is
        // reported, not retried, as the run may be what kills its worker. The first round's other claims (done and failed
        // runs) are kept through the second, so its workers take only the runs left, not a failed run again.
        void Unclaim(IEnumerable<PlannedRun> runs)
        {
            foreach (var run in runs)
                try { SweepFolder.Unclaim(SweepFolder.Run(dir, run.Index), claim); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // a stale claim blocks nothing: its ID is this run's
        }
        try
        {
            for (var round = 0; round < 2 && todo.Count > 0; round++)
            {
                var processes = Math.Min(jobs, todo.Count);
                if (round > 0)
                {
                    Unclaim(todo);
                    Console.Error.WriteLine($"note: {(todo.Count == 1 ? "run" : "runs")} {string.Join(", ", todo.Select(r => r.Index))} of {string.Join(" and ", died)}, " +
                                            $"which stopped before finishing {(todo.Count == 1 ? "it" : "them")}: running {(todo.Count == 1 ? "it" : "them")} again " +
                                            $"({processes} process{(processes == 1 ? "" : "es")})");
                }
                died.Clear();
                // The second round's workers are numbered after the first's, so their logs are kept beside them.
                var tasks = Enumerable.Range(round == 0 ? 0 : workers, processes).Select(k => new ChildTask($"worker {k}",
                    ["sweep", "run", specPath, "--out", dir, "--worker", claim, "--threads", $"{threads}"],
                    Path.Combine(dir, "workers", $"{k}.log"), threads) { Environment = environment, Echo = true });
                new ChildProcesses(ChildProcesses.Self, jobs).Run(tasks, (task, code) =>
                {
                    // 1 is "a run failed", already reported in the run's own error line; anything else is the worker's.
                    if (code <= 1 || signals.Token.IsCancellationRequested) return;
                    Console.Error.WriteLine($"{task.Name} exited {code} (log: {task.LogFile})");
                    lock (died) died.Add(task.Name);
                }, signals.Signal, signals.Token);
                if (signals.Token.IsCancellationRequested) break;
                // A run whose folder is a file was reported by its worker and is no run a worker skipped; one with failed.json failed.
                notRun = [.. todo.Where(r => !SweepFolder.Done(dir, s, r.Index) && SweepFolder.Run(dir, r.Index) is var run && !File.Exists(run)
                                             && !File.Exists(Path.Combine(run, SweepFolder.FailedFile))).Select(r => r.Index)];
                if (died.Count == 0) break;
                todo = [.. todo.Where(r => notRun.Contains(r.Index))];
            }
        }
        finally { Unclaim(pending); }
        if (signals.Token.IsCancellationRequested) throw SweepRunner.Stopped(s, signals.Token);
        if (notRun.Count > 0)
            Console.Error.WriteLine($"error: not run: {string.Join(", ", notRun)} (" +
                                    (died.Count > 0 ? $"{string.Join(" and ", died)} stopped before finishing them" : "the workers left them: another task may be running them") +
                                    $"; see {Path.Combine(dir, "workers")}); `sweep run` again runs them");
        var unfinished = pending.Where(r => !SweepFolder.Done(dir, s, r.Index)).Select(r => r.Index).ToList();
        return Summary(s, dir, [.. unfinished.Except(notRun)], clock, notRun);
    }

    /// <summary>The last line of a whole-sweep run, and its exit code: 1 when any run failed.</summary>
    static int Summary(ExperimentSpec s, string dir, List<int> failed, Stopwatch clock, List<int>? notRun = null)
    {
        notRun ??= [];
        Console.WriteLine($"sweep {s.Name}: {s.Runs.Count - failed.Count - notRun.Count} of {s.Runs.Count} runs done in {clock.Elapsed.TotalSeconds:F1} s" +
                          (failed.Count == 0 ? "" : $"; failed runs: {string.Join(", ", failed)} (see `distill sweep collect {dir}`)") +
                          (notRun.Count == 0 ? "" : $"; not run: {string.Join(", ", notRun)}"));
        return failed.Count + notRun.Count == 0 ? 0 : 1;
    }

    static Command Collect()
    {
        var dir = new Argument<string>("DIR") { Description = "Sweep folder (the --out of sweep run, slurm or k8s)." };
        var cmd = new Command("collect", "One table of a sweep's runs, grouped by every grid key but seed: results.md, results.json, results.html.") { dir };
        cmd.SetAction(r => TrainCommand.Guard(_ => () =>
        {
            var d = r.GetValue(dir)!;
            if (!Directory.Exists(d))
                throw new ArgumentException(File.Exists(d) ? $"{d}: this is a file; give the --out folder of a sweep (the folder that holds plan.json and runs/)."
                                                           : $"{d}: no such folder; give the --out folder of a sweep.");
            // Read first (it only reads): a folder that is no sweep is said as such, not as a table in the way.
            var results = SweepResults.Read(d);
            // Only tables an earlier collect wrote are replaced: a user's own results.md in the folder was overwritten.
            foreach (var name in new[] { SweepResults.MarkdownFile, SweepResults.JsonFile, SweepPage.FileName })
                if (Path.Combine(d, name) is var path && File.Exists(path) && !Collected(path))
                    throw new ArgumentException($"{path} exists and is not a table that `sweep collect` wrote; collecting would replace it. Move it away, and collect again.");
            IEnumerable<string> files;
            // Collect writes its tables beside the runs: a folder it may only read (another user's sweep) was the
            // runtime's "Access to the path '.results.md.NNN.tmp' is denied".
            try { files = [.. results.Write(d), SweepPage.Write(results, d)]; }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                // A folder where a table goes has its own fix; anything else (permissions, a read-only or full file
                // system, which .NET reports as IOException) is the folder's.
                var inTheWay = new[] { SweepResults.MarkdownFile, SweepResults.JsonFile, SweepPage.FileName }.Select(f => Path.Combine(d, f)).FirstOrDefault(Directory.Exists);
                throw new ArgumentException($"{d}: cannot write there ({e.Message}); collect writes results.md, results.json and results.html into the sweep folder: " +
                                            (inTheWay is not null ? $"{inTheWay} is a folder where a table goes: move it away, and collect again."
                                                                  : "make it writable (or free space on its file system), or copy the folder somewhere you can write and collect the copy."), e);
            }
            Console.Write(results.Markdown(forTerminal: true));
            Console.WriteLine();
            Console.WriteLine($"wrote {string.Join(", ", files)}");
            if (!results.Complete) Console.Error.WriteLine($"warning: {results.Status}");
            if (results.DamagedRecordsNote is { } damagedRecords) Console.Error.WriteLine($"warning: {damagedRecords}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Whether <paramref name="path"/> holds what collect writes there (read from its head: a table of a large
    /// sweep is megabytes): results.md's title line, results.json's first keys, results.html's title.</summary>
    static bool Collected(string path)
    {
        string head;
        try
        {
            using var reader = new StreamReader(path);
            var buffer = new char[64 * 1024];
            head = new string(buffer, 0, reader.ReadBlock(buffer));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        // Empty: a write cut short (the page is not written atomically), nothing of anyone's to keep.
        if (head.Length == 0) return true;
        return Path.GetFileName(path) switch
        {
            // Its first line, whatever the line ending (an editor or git's autocrlf may have made it CRLF).
            SweepResults.MarkdownFile => head.StartsWith("# ", StringComparison.Ordinal) && head.Split('\n')[0].TrimEnd('\r').EndsWith(": sweep results", StringComparison.Ordinal),
            SweepResults.JsonFile => System.Text.RegularExpressions.Regex.IsMatch(head, @"^\s*\{\s*""name""\s*:\s*""(?:[^""\\]|\\.)*""\s*,\s*""spec""\s*:"),
            _ => head.Contains(" &#183; distill sweep</title>", StringComparison.Ordinal), // the page title, "NAME · distill sweep", HTML-encoded
        };
    }

    static Command Slurm()
    {
        var spec = Spec();
        var outDir = Out();
        var concurrent = new Option<int>("--concurrent") { Description = "Array tasks running at once (the %K of --array).", DefaultValueFactory = _ => 4 };
        var cpus = new Option<int>("--cpus-per-task") { Description = "CPUs (and libtorch threads) per task.", DefaultValueFactory = _ => 1 };
        var partition = new Option<string?>("--partition") { Description = "Slurm partition (default: the cluster's)." };
        var time = new Option<string?>("--time") { Description = "Time limit per task, e.g. 02:00:00." };
        var submit = new Option<bool>("--submit") { Description = "Also submit it with sbatch; prints the job id." };
        var extra = new Option<string[]>("--sbatch")
        {
            Description = "An sbatch option the cluster needs, written as an #SBATCH line (repeatable): --sbatch=--account=myproj --sbatch=--mem=4G.",
            AllowMultipleArgumentsPerToken = false,
        };
        var cmd = new Command("slurm", "Write DIR/sweep.sbatch, a Slurm job array with one run per task (and submit it with --submit).")
            { spec, outDir, concurrent, cpus, partition, time, extra, submit };
        cmd.SetAction(r => TrainCommand.Guard(signals => () =>
        {
            var s = ExperimentSpec.Load(r.GetValue(spec)!);
            var dir = OutFolder(r.GetValue(outDir)!);
            if (r.GetValue(concurrent) < 1) throw new ArgumentException($"--concurrent {r.GetValue(concurrent)}: give at least 1.");
            // The node is not this machine, so its cores are not known here; 1024 is beyond any node's, and each run then
            // asks libtorch for that many threads, which a node refuses when they pass 4 × its cores.
            if (r.GetValue(cpus) is < 1 or > 1024) throw new ArgumentException($"--cpus-per-task {r.GetValue(cpus)}: give 1 to 1024 (the CPUs of one node that one run uses).");
            // The spec kept where this writes its own files (DIR/sweep.sbatch, DIR/plan.json) would be overwritten.
            foreach (var written in new[] { "sweep.sbatch", SweepFolder.PlanFile })
                if (FilePaths.SameFile(Path.Combine(dir, written), r.GetValue(spec)!))
                    throw new ArgumentException($"--out {dir}: the spec {r.GetValue(spec)} is this folder's {written}, which `sweep slurm` writes; move the spec elsewhere, or give another --out.");
            // Rendered (which checks --partition, --time and the folder's name) before the folder is claimed: a refused
            // option must leave nothing behind, or the folder would refuse a later sweep of another spec.
            var text = SlurmScript.Render(s, dir, ChildProcesses.Self, r.GetValue(concurrent), r.GetValue(cpus), r.GetValue(partition), r.GetValue(time), r.GetValue(extra) ?? []);
            if (SlurmScript.TimeWarning(r.GetValue(time)) is { } short_) Console.Error.WriteLine($"warning: {short_}");
            var script = Path.Combine(dir, "sweep.sbatch");
            // Only a script this command wrote is replaced: a user's own sweep.sbatch there was silently overwritten.
            // Checked before the folder is claimed, so a refusal leaves nothing behind.
            if (Directory.Exists(script) || (File.Exists(script) && !SlurmScript.IsScript(script)))
                throw new ArgumentException($"--out {dir}: {script} exists and is not a script that `sweep slurm` wrote; writing would replace it. " +
                                            "Give another --out, or move it away first.");
            if (SweepFolder.Prepare(s, dir) is { } note) Console.WriteLine(note);
            Directory.CreateDirectory(Path.Combine(dir, "slurm"));
            // A script this command wrote and the user then edited (an #SBATCH --account or --mem the cluster needs) was
            // replaced without a word when `sweep slurm` ran again: kept beside the new one, as an edited spec copy is.
            if (File.Exists(script) && File.ReadAllText(script) != text)
                Console.WriteLine($"note: {script} differs from what this command writes (edited, or written with other options); the old one is kept as {SweepFolder.KeepEdited(script)}. " +
                                  "Give the cluster's own #SBATCH options with --sbatch (e.g. --sbatch=--account=myproj --sbatch=--mem=4G) so they are written each time.");
            // Atomic: a failed write (disk full) must not leave half a script for sbatch to run.
            Distill.Training.AtomicFile.WriteAllText(script, text);
            Console.WriteLine($"wrote {script}: {NumberText.Count(s.Runs.Count, "array task")}");
            if (SlurmScript.ArraySizeWarning(s.Runs.Count) is { } warning) Console.Error.WriteLine($"warning: {warning}");
            if (!r.GetValue(submit)) return 0;
            var psi = new ProcessStartInfo("sbatch", ["--parsable", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
            Process p;
            try { p = Process.Start(psi)!; }
            catch (System.ComponentModel.Win32Exception)
            {
                throw new InvalidOperationException("--submit: no sbatch on PATH; run this on a Slurm login node, or submit the script there with `sbatch " + script + "`.");
            }
            using (p)
            {
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                // A hung sbatch (an unreachable controller) held the command past SIGTERM, and a second signal left it
                // running, so the job could still be submitted after distill had said it stopped.
                try { p.WaitForExitAsync(signals.Token).GetAwaiter().GetResult(); }
                // A signal as sbatch finished: its answer is read (the job is submitted), not called unknown.
                catch (OperationCanceledException) when (!(p.HasExited && p.ExitCode == 0))
                {
                    try { p.Kill(entireProcessTree: true); }
                    catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { } // it ended meanwhile, or is ending
                    throw new OperationCanceledException($"sbatch was stopped before it answered: whether {script} was submitted is not known; " +
                                                         "look with `squeue --me` before you submit it again.", signals.Token);
                }
                var said = TerminalText.Printable(stderr.GetAwaiter().GetResult()).Trim();
                if (p.ExitCode != 0)
                    throw new InvalidOperationException($"sbatch refused {script} (exit code {p.ExitCode}): " +
                        (said.Length == 0 ? "it said nothing" : string.Join(" ", said.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Take(3))) +
                        "; check that the cluster answers (`sinfo`, `scontrol ping`; SLURM_CONF names its slurm.conf), or submit the script by hand with `sbatch " + script + "`.");
                // --parsable prints "JOBID" or "JOBID;CLUSTER", on the last line (a site's wrapper may print a banner first).
                var answer = stdout.GetAwaiter().GetResult().Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
                var job = answer.Split(';')[0];
                if (job.Length == 0 || !job.All(char.IsAsciiDigit))
                    throw new InvalidOperationException($"sbatch answered '{TerminalText.Line(answer)}', not a job id: whether {script} was submitted is not known; look with `squeue --me`.");
                Console.WriteLine($"submitted job {job}; then: distill sweep collect {dir}");
            }
            return 0;
        }));
        return cmd;
    }
}
