using System.Runtime.InteropServices;

namespace Distill.Native;

/// <summary>
/// Pins glibc malloc's thresholds for this process. By default glibc serves large blocks with fresh <c>mmap</c>s and
/// raises its mmap and trim thresholds as the process frees large blocks, so whether a training step's tensors come
/// from reused heap or from freshly faulted pages depends on what ran before: measured here, the same bench case cost
/// up to 2x more CPU in one position than in another, and page faults (a hypervisor round trip each on this VM) were
/// a fifth of a conv step's samples (docs/performance.md). Fixed values make step costs independent of history and
/// halve the page faults, without the memory cost of keeping everything: blocks up to 32 MiB (glibc's own ceiling for
/// the dynamic threshold) come from the heap, and a heap top beyond 128 MiB is still given back to the system.
/// Variables the user set (<c>MALLOC_MMAP_THRESHOLD_</c>, <c>MALLOC_TRIM_THRESHOLD_</c>, <c>MALLOC_TOP_PAD_</c>,
/// <c>GLIBC_TUNABLES</c>) win; <c>DISTILL_MALLOC_PIN=0</c> keeps glibc's dynamic behaviour. Allocation placement does
/// not change results: libtorch aligns every tensor itself.
/// </summary>
public static class MallocThresholds
{
    public const string Variable = "DISTILL_MALLOC_PIN";

    public const long MmapThreshold = 32L << 20, TrimThreshold = 128L << 20, TopPad = 16L << 20;

    /// <summary>The variables glibc reads at start-up for the same settings; the bench passes them to the PyTorch peer
    /// so both sides allocate alike.</summary>
    public static IReadOnlyDictionary<string, string> AsEnvironment { get; } = new Dictionary<string, string>
    {
        ["MALLOC_MMAP_THRESHOLD_"] = $"{MmapThreshold}",
        ["MALLOC_TRIM_THRESHOLD_"] = $"{TrimThreshold}",
        ["MALLOC_TOP_PAD_"] = $"{TopPad}",
    };

    /// <summary>What <see cref="Apply"/> decided, for doctor and the bench report.</summary>
    public static string Status { get; private set; } = "not applied yet";

    static bool applied;

    /// <summary>True when this process's thresholds are the pinned ones (set here or by the same variables).</summary>
    public static bool Pinned { get; private set; }

    const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;

    /// <summary>What to do on this OS with these variables: pin, or why not. <paramref name="env"/> reads a variable.</summary>
    public static (bool Pin, string Reason) Decide(bool linux, Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (!linux) return (false, "not applied: not Linux");
        if (env(Variable) is { } opt && NativeEnvironment.IsOff(opt))
            return (false, $"not applied: {Variable}={opt} (glibc's dynamic thresholds)");
        var userSet = AsEnvironment.Keys.Append("GLIBC_TUNABLES").Where(k => !string.IsNullOrEmpty(env(k))).ToList();
        if (userSet.Count > 0) return (false, $"not applied: {string.Join(", ", userSet)} set in the environment (those apply)");
        return (true, $"pinned: mmap threshold {MmapThreshold >> 20} MiB, trim threshold {TrimThreshold >> 20} MiB, " +
                      $"top pad {TopPad >> 20} MiB (DISTILL_MALLOC_PIN=0 to leave glibc's dynamic ones)");
    }

    /// <summary>Idempotent; called by <see cref="TorchRuntime.Initialize"/> before libtorch allocates anything.</summary>
    public static void Apply()
    {
        if (applied) return;
        applied = true;
        var (pin, reason) = Decide(OperatingSystem.IsLinux(), Environment.GetEnvironmentVariable);
        // The same values given as variables count as pinned (the bench's peer then needs nothing more).
        Pinned = AsEnvironment.All(kv => Environment.GetEnvironmentVariable(kv.Key) == kv.Value);
        Status = reason;
        if (!pin) return;
        try
        {
            // mallopt returns 1 on success; glibc refuses an mmap threshold above 32 MiB, which ours is not.
            Pinned = mallopt(M_MMAP_THRESHOLD, (int)MmapThreshold) == 1
                     & mallopt(M_TRIM_THRESHOLD, (int)TrimThreshold) == 1
                     & mallopt(M_TOP_PAD, (int)TopPad) == 1;
            if (!Pinned) Status = "not applied: mallopt refused a value";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Status = "not applied: no glibc (" + e.GetType().Name + ")";
        }
    }

    [DllImport("libc.so.6")] static extern int mallopt(int param, int value);
}
