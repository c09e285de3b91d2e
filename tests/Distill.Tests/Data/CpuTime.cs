using System.Runtime.InteropServices;

namespace Distill.Tests.Data;

/// <summary>CPU time of the calling thread (Linux CLOCK_THREAD_CPUTIME_ID): a speed bound that holds on a busy machine.</summary>
static class CpuTime
{
    [StructLayout(LayoutKind.Sequential)]
    struct Timespec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out Timespec ts);

    public static TimeSpan OfThisThread()
    {
        if (ClockGetTime(3, out var ts) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return TimeSpan.FromTicks(ts.Seconds * TimeSpan.TicksPerSecond + ts.Nanoseconds / 100);
    }
}
