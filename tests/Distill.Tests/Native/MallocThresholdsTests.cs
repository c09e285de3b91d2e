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

    /// <summary>A switch that is neither on nor off (DISTILL_MKL_AMD_FIX=abc, DISTILL_MALLOC_PIN=banana,
    /// DISTILL_ONEDNN_PADDED=maybe) kept its default and doctor showed it as if chosen ("on", "pinned"), exit 0: now a
    /// problem naming the variable, its value and the spellings, exit 1. The spellings of on and off are no problem.</summary>
    [Theory]
    [InlineData("DISTILL_MKL_AMD_FIX", "abc")]
    [InlineData("DISTILL_MALLOC_PIN", "banana")]
    [InlineData("DISTILL_ONEDNN_PADDED", "maybe")]
    public void Doctor_names_a_switch_that_is_neither_on_nor_off(string name, string value)
    {
        var (code, stdout, stderr) = Repo.RunCli(["doctor"], env => env[name] = value);
        Assert.True(code == 1, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains($"problem       {name}={value} is neither on nor off, so the default applies; give 1, on, true or yes to turn it on, or 0, off, false or no to turn it off",
            stdout, StringComparison.Ordinal);
        foreach (var accepted in new[] { "1", "on", "True", " yes ", "0", "off", "FALSE", "no", "" })
            Assert.Null(NativeEnvironment.SwitchProblem(name, accepted));
    }

    /// <summary>Probed: DISTILL_ONEDNN_CAP=abc was decided as auto and said only inside the oneDNN line, exit 0, where the
    /// on/off switches beside it count as problems.</summary>
    [Fact]
    public void Doctor_names_a_onednn_cap_that_is_no_isa()
    {
        var (code, stdout, stderr) = Repo.RunCli(["doctor"], env => env[OneDnnIsa.ControlVariable] = "avx2x");
        Assert.True(code == 1, $"exit {code}\n{stdout}{stderr}");
        Assert.Contains("problem       DISTILL_ONEDNN_CAP=avx2x is not an ISA oneDNN knows, so the cap is decided as auto; give auto, off or one of SSE41, AVX, AVX2,",
            stdout, StringComparison.Ordinal);
        foreach (var accepted in new[] { "auto", "AUTO", "off", "0", "avx2", " AVX512_CORE ", "", null })
            Assert.Null(OneDnnIsa.ControlProblem(accepted));
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
