using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Distill.Bench;

/// <summary>Per-step wall times after warm-up: median and the 10th-90th percentile spread.</summary>
public sealed record Timing(double MedianMs, double P10Ms, double P90Ms, int Steps)
{
    /// <summary>Median CPU time of the whole process per step (all threads, including OpenMP spin-waits). With one
    /// thread it is the step's compute time even on a loaded machine, where wall time is not.</summary>
    public double CpuMs { get; init; }

    /// <summary>Change of the live-object count over the timed steps, per step (0 when no counter was given).</summary>
    public double LivePerStep { get; init; }

    public static Timing From(IReadOnlyList<double> ms)
    {
        if (ms.Count == 0) throw new ArgumentException("No timed steps.", nameof(ms));
        var s = ms.Order().ToArray();
        return new Timing(Quantile(s, 0.5), Quantile(s, 0.1), Quantile(s, 0.9), s.Length);
    }

    static double Quantile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}

/// <summary>How long to measure: warm-up steps, then as many steps as fit in <see cref="TargetSeconds"/>, bounded.</summary>
public sealed record TimingBudget(int WarmupSteps, double TargetSeconds, int MinSteps, int MaxSteps)
{
    public static readonly TimingBudget Quick = new(3, 1.5, 5, 200);
    public static readonly TimingBudget Full = new(10, 8, 20, 2000);
    /// <summary>For tests of the harness itself: proves the plumbing, measures nothing.</summary>
    public static readonly TimingBudget Smoke = new(1, 0, 2, 2);

    /// <summary>For cases whose step is long (a whole epoch, a dataset load): 1 warm-up (optimizer state, caches) and
    /// 3 timed steps in a full run, 1 otherwise. The peer script applies the same rule.</summary>
    public TimingBudget Few => WarmupSteps >= 10 ? new(1, 0, 3, 3) : new(1, 0, 1, 1);
}

public static class StepTimer
{
    /// <summary>Runs <paramref name="step"/> warm-up times untimed, then times each further step.
    /// <paramref name="liveCount"/> (e.g. live tensors) is read before the first and after the last timed step.</summary>
    public static Timing Measure(Action step, TimingBudget budget, Func<long>? liveCount = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(budget);
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < budget.WarmupSteps; i++) step();
        double perStep = budget.WarmupSteps > 0 ? warm.Elapsed.TotalSeconds / budget.WarmupSteps : 0;
        int steps = perStep > 0
            ? (int)Math.Clamp(budget.TargetSeconds / perStep, budget.MinSteps, budget.MaxSteps)
            : budget.MinSteps;
        // Collect now so a GC triggered by earlier cases does not land inside this one.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var ms = new double[steps];
        var cpu = new double[steps];
        long live0 = liveCount?.Invoke() ?? 0;
        for (int i = 0; i < steps; i++)
        {
            double c0 = CpuClock.ProcessMs();
            long t0 = Stopwatch.GetTimestamp();
            step();
            ms[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            cpu[i] = CpuClock.ProcessMs() - c0;
        }
        long live1 = liveCount?.Invoke() ?? 0;
        return Timing.From(ms) with { LivePerStep = (live1 - live0) / (double)steps, CpuMs = Timing.From(cpu).MedianMs };
    }
}

/// <summary>Process CPU time with nanosecond resolution (clock_gettime(CLOCK_PROCESS_CPUTIME_ID)) where available;
/// <see cref="Process.TotalProcessorTime"/> (clock-tick resolution) elsewhere.</summary>
static class CpuClock
{
    [StructLayout(LayoutKind.Sequential)]
    struct Timespec { public long Sec; public long Nsec; }

    [DllImport("libc.so.6", EntryPoint = "clock_gettime")]
    static extern int ClockGettime(int clock, out Timespec ts);

    const int ClockProcessCputimeId = 2;
    static bool useLibc = OperatingSystem.IsLinux();

    public static double ProcessMs()
    {
        if (useLibc)
        {
            try
            {
                if (ClockGettime(ClockProcessCputimeId, out var ts) == 0) return ts.Sec * 1e3 + ts.Nsec / 1e6;
            }
            catch (DllNotFoundException) { }
            catch (EntryPointNotFoundException) { }
            useLibc = false;
        }
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalMilliseconds;
    }
}
