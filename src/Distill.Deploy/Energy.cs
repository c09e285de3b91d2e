using System.Globalization;

namespace Distill.Deploy;

/// <summary>
/// Package energy from Linux powercap (Intel RAPL, also exposed for AMD Zen by the intel-rapl driver): a counter in
/// microjoules that wraps at max_energy_range_uj. VMs usually have no powercap at all, and then energy is unknown
/// rather than guessed.
/// </summary>
public static class Energy
{
    const string Zone = "/sys/class/powercap/intel-rapl:0";

    /// <summary>Why energy cannot be read here, or null when it can.</summary>
    public static string? Unavailable(string zone = Zone) =>
        !Directory.Exists(Path.GetDirectoryName(zone)) ? $"power is not measurable here: {Path.GetDirectoryName(zone)} does not exist (no RAPL counters, e.g. in a VM)"
        : !File.Exists(Path.Combine(zone, "energy_uj")) ? $"power is not measurable here: {zone}/energy_uj does not exist"
        : Read(zone) is null ? $"power is not measurable here: {zone}/energy_uj is not readable (run as root, or make it readable)"
        : null;

    /// <summary>Microjoules per call of <paramref name="action"/>, over <paramref name="calls"/> calls; null without
    /// powercap, or when <paramref name="cancellation"/> stops the calls (checked between them: a part of the calls
    /// would still give a number, but the caller asked to stop, not to wait for a measurement).</summary>
    public static double? PerCall(Action action, int calls, string zone = Zone, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (Unavailable(zone) is not null) return null;
        var before = Read(zone)!.Value;
        for (var i = 0; i < calls; i++)
        {
            if (cancellation.IsCancellationRequested) return null;
            action();
        }
        var after = Read(zone)!.Value;
        var range = long.TryParse(File.ReadAllText(Path.Combine(zone, "max_energy_range_uj")).Trim(), CultureInfo.InvariantCulture, out var r) ? r : long.MaxValue;
        return (after >= before ? after - before : after + range - before) / (double)calls;
    }

    static long? Read(string zone)
    {
        try { return long.Parse(File.ReadAllText(Path.Combine(zone, "energy_uj")).Trim(), CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }
}
