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

    /// <summary>Minor page faults of the whole process per timed step; null when unknown.</summary>
    public double? FaultsPerStep { get; init; }

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

/// <summary>How long to measure: warm-up steps, then <see cref="Rounds"/> rounds of a fixed number of steps per side
/// (<see cref="Distill.Bench.Rounds"/>), together about <see cref="TargetSeconds"/> per side, bounded by
/// <see cref="MinSteps"/> and <see cref="MaxSteps"/> steps in all.</summary>
public sealed record TimingBudget(int WarmupSteps, double TargetSeconds, int MinSteps, int MaxSteps)
{
    public int Rounds { get; init; } = 10;

    public static readonly TimingBudget Quick = new(3, 1.5, 10, 200) { Rounds = 10 };
    public static readonly TimingBudget Full = new(10, 8, 30, 2000) { Rounds = 30 };
    /// <summary>For tests of the harness itself: proves the plumbing, measures nothing.</summary>
    public static readonly TimingBudget Smoke = new(1, 0, 2, 2) { Rounds = 2 };

    /// <summary>For cases whose step is long (a whole epoch, a dataset load): 1 warm-up (optimizer state, caches) and
    /// one step per round, 5 rounds in a full run, 3 in a quick one, 2 in a smoke run.</summary>
    public TimingBudget Few => WarmupSteps >= 10 ? new(1, 0, 5, 5) { Rounds = 5 }
        : TargetSeconds > 0 ? new(1, 0, 3, 3) { Rounds = 3 }
        : new(1, 0, 2, 2) { Rounds = 2 };
}

/// <summary>The process's minor page faults so far (/proc/self/stat), -1 where there is no procfs. Each one is a
/// first touch of fresh memory, and on a paravirtualised VM a round trip to the hypervisor: the evidence a bench case
/// gives when it misses its target (docs/performance.md, "What the profiles show").</summary>
public static class PageFaults
{
    public static long Minor()
    {
        try { return MinorFrom(File.ReadAllText("/proc/self/stat")); }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }

    /// <summary>Field 10 of a /proc/PID/stat line; the command name (field 2) may hold spaces and parentheses, so the
    /// fields are counted from the last ')'.</summary>
    public static long MinorFrom(string stat)
    {
        ArgumentNullException.ThrowIfNull(stat);
        int close = stat.LastIndexOf(')');
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // After ')': state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) minflt(10).
        return close > 0 && fields.Length > 7 && long.TryParse(fields[7], out var v) ? v : -1;
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
