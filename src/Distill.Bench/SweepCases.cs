using System.Diagnostics;

namespace Distill.Bench;

/// <summary>
/// Issue 16's performance case: the same 4-run sweep (<see cref="Spec"/>) run by this CLI as `sweep run --jobs 2
/// --threads 1` (two single-threaded processes side by side) and as `sweep run --threads 2` (one after another, two
/// threads each). One step is one whole sweep in a fresh folder, teacher included. The two are measured in interleaved
/// rounds (<see cref="Rounds"/>: one sweep of each per round), so a change of the machine's load falls on both; <see cref="BenchReport.SweepRatio"/>
/// is the ratio of their median wall times.
/// </summary>
public static class SweepCases
{
    public const string Sequential = "sweep-4-runs-sequential-2t", Parallel = "sweep-4-runs-jobs2-1t";

    /// <summary>KD into the notebooks' small student (the CNN of width 8 of 02-06), 4 runs of a few seconds to tens of
    /// seconds on one core: long enough that a process's start (runtime, libtorch, dataset: about 3 s) is a small part.</summary>
    public const string Spec = """
        name: bench-sweep-4
        dataset:
          name: fashion-mnist
          train_size: 3000
          teacher_train_size: 1000
          test_size: 1000
        teacher:
          model: mlp-32
          epochs: 1
        student:
          model: cnn-8
        epochs: 4
        batch_size: 64
        loss:
          ce: 0.1
          kd:
            temperature: 4
        grid:
          loss.kd.temperature: [2, 4]
          seed: [0, 1]
        """;

    /// <summary>The two cases; <paramref name="cli"/> starts this CLI (<see cref="Sweeps.ChildProcesses.Self"/>). They are
    /// measured as one group, in rounds of one sweep each (sequential, then --jobs 2), with no warm-up sweep. A cancelled
    /// <paramref name="stop"/> kills a running sweep at once (with its workers), so its folder can go too.</summary>
    public static IReadOnlyList<BenchCase> Create(IReadOnlyList<string> cli, bool full, CancellationToken stop = default)
    {
        var budget = new TimingBudget(0, 0, 1, 1) { Rounds = full ? 4 : 2 };
        return
        [
            new(Sequential, "sweep run of 4 runs one after another, 2 threads each (bench-sweep-4: KD into cnn-8)", 4, null,
                clock => RunSweeps(clock, cli, parallel: false, stop)) { Budget = budget },
            new(Parallel, "the same 4 runs with --jobs 2, 1 thread each", 4, null,
                clock => RunSweeps(clock, cli, parallel: true, stop)) { Baseline = Sequential, Budget = budget },
        ];
    }

    /// <summary>A case's body: one whole sweep in a fresh folder per step. (The CPU column is this process's time, which
    /// is near zero here: the work is in the sweep's processes.)</summary>
    static void RunSweeps(SideClock clock, IReadOnlyList<string> cli, bool parallel, CancellationToken stop)
    {
        var dir = Directory.CreateTempSubdirectory("distill-bench-sweep-");
        try
        {
            var spec = Path.Combine(dir.FullName, "sweep-4.yaml");
            File.WriteAllText(spec, Spec);
            string[] args = parallel ? ["--jobs", "2", "--threads", "1"] : ["--threads", "2"];
            clock.Ready();
            for (int i = 0; ; i++)
            {
                Sweep(cli, spec, Path.Combine(dir.FullName, $"{(parallel ? "jobs2" : "sequential")}-{i}"), args, stop);
                clock.StepEnd();
            }
        }
        finally
        {
            try { dir.Delete(recursive: true); }
            catch (IOException) { }
        }
    }

    /// <summary>One whole sweep; a failed sweep fails the case with its last line of output.</summary>
    static void Sweep(IReadOnlyList<string> cli, string spec, string outDir, string[] args, CancellationToken stop)
    {
        stop.ThrowIfCancellationRequested();
        var psi = new ProcessStartInfo(cli[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in cli.Skip(1).Concat(["sweep", "run", spec, "--out", outDir]).Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment.Remove("DISTILL_THREADS");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = p.StandardError.ReadToEndAsync(CancellationToken.None);
        // A sweep takes minutes, too long to wait for on a stop; its results are thrown away anyway. Left running, it
        // outlived the bench (re-parented to init), and its folder with it.
        using (stop.Register(() =>
               {
                   try { p.Kill(entireProcessTree: true); }
                   catch (InvalidOperationException) { } // already ended
               }))
            p.WaitForExit();
        stop.ThrowIfCancellationRequested();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"the bench sweep ({string.Join(' ', args)}) exited {p.ExitCode}: " +
                                                $"{(stderr.Result.Trim().Split('\n').LastOrDefault() is { Length: > 0 } e ? e : stdout.Result.Trim().Split('\n').LastOrDefault())}");
    }
}
