using Distill.Deploy;

namespace Distill.Tests.Deploy;

public class EnergyTests
{
    [Fact]
    public void Energy_per_call_follows_the_counter_across_its_wrap()
    {
        using var dir = new TempDir();
        var zone = Path.Combine(dir.Path, "intel-rapl:0");
        Directory.CreateDirectory(zone);
        File.WriteAllText(Path.Combine(zone, "max_energy_range_uj"), "5000\n");
        File.WriteAllText(Path.Combine(zone, "energy_uj"), "4900\n");
        Assert.Null(Energy.Unavailable(zone));
        // Two calls; the counter wraps from 4900 past 5000 to 100: 200 µJ in all.
        var calls = 0;
        var perCall = Energy.PerCall(() => { if (++calls == 2) File.WriteAllText(Path.Combine(zone, "energy_uj"), "100\n"); }, 2, zone);
        Assert.Equal(100, perCall);
    }

    [Fact]
    public void Without_powercap_energy_is_unknown_and_says_why()
    {
        using var dir = new TempDir();
        var zone = Path.Combine(dir.Path, "powercap", "intel-rapl:0");
        Assert.Contains("does not exist", Energy.Unavailable(zone), StringComparison.Ordinal);
        Assert.Null(Energy.PerCall(() => { }, 1, zone));
    }
}
