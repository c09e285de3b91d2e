using Distill.Native;
using Distill.Tests.Onboarding;

namespace Distill.Tests.Native;

public sealed class MallocThresholdsTests
{
    static Func<string, string?> Env(params (string Key, string Value)[] set) =>
        k => set.FirstOrDefault(s => s.Key == k).Value;

    [Fact]
    public void Linux_with_nothing_set_pins_the_thresholds()
    {
        var (pin, reason) = MallocThresholds.Decide(linux: true, Env());
        Assert.True(pin);
        Assert.StartsWith("pinned", reason);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("off")]
    [InlineData(" False ")]
    public void The_opt_out_leaves_glibcs_dynamic_thresholds(string value)
    {
        var (pin, reason) = MallocThresholds.Decide(linux: true, Env(("DISTILL_MALLOC_PIN", value)));
        Assert.False(pin);
        Assert.Contains("DISTILL_MALLOC_PIN", reason);
    }

    [Theory]
    [InlineData("MALLOC_TRIM_THRESHOLD_", "1073741824")]
    [InlineData("MALLOC_MMAP_THRESHOLD_", "65536")]
    [InlineData("GLIBC_TUNABLES", "glibc.malloc.top_pad=0")]
    public void The_users_own_malloc_variables_win_and_are_named(string key, string value)
    {
        var (pin, reason) = MallocThresholds.Decide(linux: true, Env((key, value)));
        Assert.False(pin);
        Assert.Contains(key, reason);
    }

    [Fact]
    public void Other_systems_are_left_alone() =>
        Assert.False(MallocThresholds.Decide(linux: false, Env()).Pin);

    [Fact]
    public void This_process_is_pinned_as_decided()
    {
        TorchRuntime.Initialize();
        var (pin, reason) = MallocThresholds.Decide(OperatingSystem.IsLinux(), Environment.GetEnvironmentVariable);
        Assert.Equal(reason, MallocThresholds.Status);
        if (pin) Assert.True(MallocThresholds.Pinned);
    }

    /// <summary>End to end, in fresh processes: doctor reports the pin, and the opt-out reaches the CLI.</summary>
    [Fact]
    public void Doctor_reports_the_pin_and_the_opt_out()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.Contains("malloc        pinned: mmap threshold 32 MiB", Doctor(null));
        Assert.Contains("malloc        not applied: DISTILL_MALLOC_PIN=0", Doctor("0"));
    }

    static string Doctor(string? pin)
    {
        var (_, stdout, stderr) = Repo.RunCli(["doctor"], env =>
        {
            foreach (var k in MallocThresholds.AsEnvironment.Keys.Append("GLIBC_TUNABLES")) env.Remove(k);
            if (pin is null) env.Remove("DISTILL_MALLOC_PIN");
            else env["DISTILL_MALLOC_PIN"] = pin;
        });
        return stdout + stderr;
    }
}
