using System.Diagnostics;
using System.Globalization;

namespace Distill.Bench;

/// <summary>
/// Issue 16's performance case: the same 4-run sweep (<see cref="Spec"/>) run by this CLI as `sweep run --jobs 2
/// --threads 1` (two single-threaded processes side by side) and as `sweep run --threads 2` (one after another, two
/// threads each). One step is one whole sweep in a fresh folder, teacher included. The two are measured in alternating
/// order (A B, then B A in a full run), so a change of the machine's load falls on both; <see cref="BenchReport.SweepRatio"/>
/// is the ratio of their median wall times. CPU time is that of the sweep's processes (children of this one).
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

    /// <summary>The two cases; <paramref name="cli"/> starts this CLI (<see cref="Sweeps.ChildProcesses.Self"/>).</summary>
    public static IReadOnlyList<BenchCase> Create(IReadOnlyList<string> cli)
    {
        (Timing Sequential, Timing Parallel)? measured = null;
        (Timing, Timing) Measure(TimingBudget budget) => measured ??= MeasurePairs(cli, budget.WarmupSteps >= 10 ? 2 : 1);
        return
        [
            new(Sequential, "sweep run of 4 runs one after another, 2 threads each (bench-sweep-4: KD into cnn-8)", 4, null, b => Measure(b).Item1),
            new(Parallel, "the same 4 runs with --jobs 2, 1 thread each", 4, null, b => Measure(b).Item2) { Baseline = Sequential },
        ];
    }

    static (Timing, Timing) MeasurePairs(IReadOnlyList<string> cli, int pairs)
    {
        var dir = Directory.CreateTempSubdirectory("distill-bench-sweep-");
        try
        {
            var spec = Path.Combine(dir.FullName, "sweep-4.yaml");
            File.WriteAllText(spec, Spec);
            var (seqMs, seqCpu, parMs, parCpu) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
            for (int i = 0; i < pairs; i++)
                foreach (var parallel in i % 2 == 0 ? new[] { false, true } : [true, false])
                {
                    string[] args = parallel ? ["--jobs", "2", "--threads", "1"] : ["--threads", "2"];
                    var (ms, cpu) = Sweep(cli, spec, Path.Combine(dir.FullName, $"{(parallel ? "jobs2" : "sequential")}-{i}"), args);
                    (parallel ? parMs : seqMs).Add(ms);
                    (parallel ? parCpu : seqCpu).Add(cpu);
                }
            return (Timing.From(seqMs) with { CpuMs = Timing.From(seqCpu).MedianMs }, Timing.From(parMs) with { CpuMs = Timing.From(parCpu).MedianMs });
        }
        finally
        {
            try { dir.Delete(recursive: true); }
            catch (IOException) { }
        }
    }

    /// <summary>One whole sweep: wall ms, and CPU ms of the processes it ran.</summary>
    static (double Ms, double CpuMs) Sweep(IReadOnlyList<string> cli, string spec, string outDir, string[] args)
    {
        var psi = new ProcessStartInfo(cli[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in cli.Skip(1).Concat(["sweep", "run", spec, "--out", outDir]).Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment.Remove("DISTILL_THREADS");
        var cpu0 = ChildrenCpuMs();
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        var ms = clock.Elapsed.TotalMilliseconds;
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"the bench sweep ({string.Join(' ', args)}) exited {p.ExitCode}: " +
                                                $"{(stderr.Result.Trim().Split('\n').LastOrDefault() is { Length: > 0 } e ? e : stdout.Result.Trim().Split('\n').LastOrDefault())}");
        return (ms, ChildrenCpuMs() - cpu0);
    }

    /// <summary>CPU time of this process's waited-for children and theirs (cutime + cstime of /proc/self/stat); 0
    /// where there is no /proc.</summary>
    static double ChildrenCpuMs()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from the 3rd (state) on
            double ticks = long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            return ticks * 10; // USER_HZ is 100 on Linux
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { return 0; }
    }
}
