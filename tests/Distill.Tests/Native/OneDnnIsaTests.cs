using Distill.Native;
using Distill.Tests.Onboarding;

namespace Distill.Tests.Native;

public sealed class OneDnnIsaTests
{
    // Zen 4 and Zen 5 expose the same AVX-512 F/BW/DQ/VL bits, so oneDNN runs the same kernels on both.
    static readonly CpuFacts Zen5 = new(LinuxX64: true, "AuthenticAMD", Avx2: true, Fma: true,
        Avx512F: true, Avx512BW: true, Avx512DQ: true, Avx512VL: true);
    static readonly CpuFacts Zen3 = Zen5 with { Avx512F = false, Avx512BW = false, Avx512DQ = false, Avx512VL = false };
    static readonly CpuFacts Xeon = Zen5 with { Vendor = "GenuineIntel" };

    [Fact]
    public void Amd_with_avx512_is_capped_at_avx2()
    {
        Assert.Equal("AVX2", OneDnnIsa.Decide(Zen5, null, null).Cap);
        Assert.Equal("AVX2", OneDnnIsa.Decide(Zen5, " ", "auto").Cap);
    }

    [Fact]
    public void Cpus_where_the_avx512_kernels_never_run_or_were_not_seen_failing_are_left_alone()
    {
        Assert.Null(OneDnnIsa.Decide(Zen3, null, null).Cap);
        Assert.Null(OneDnnIsa.Decide(Xeon, null, null).Cap);
        Assert.Null(OneDnnIsa.Decide(Zen5 with { LinuxX64 = false }, null, null).Cap);
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("on")]
    [InlineData("AVX3")]
    public void A_value_oneDNN_does_not_know_is_ignored_rather_than_turning_the_cap_off(string control)
    {
        var d = OneDnnIsa.Decide(Zen5, null, control);
        Assert.Equal("AVX2", d.Cap);
        Assert.StartsWith($"{OneDnnIsa.ControlVariable}={control} ignored (not an ISA oneDNN knows", d.Reason, StringComparison.Ordinal);
        Assert.Null(OneDnnIsa.Decide(Xeon, null, control).Cap);
        Assert.Equal("AVX512_CORE", OneDnnIsa.Decide(Xeon, null, "avx512_core").Cap);
    }

    [Theory]
    [InlineData("off")]
    [InlineData("0")]
    [InlineData(" FALSE ")]
    public void Opt_out_leaves_oneDNN_alone_even_on_the_affected_cpu(string control)
    {
        var d = OneDnnIsa.Decide(Zen5, null, control);
        Assert.Null(d.Cap);
        Assert.Contains(OneDnnIsa.ControlVariable, d.Reason);
    }

    [Fact]
    public void An_isa_name_forces_that_cap_on_any_cpu()
    {
        Assert.Equal("SSE41", OneDnnIsa.Decide(Zen3, null, "sse41").Cap);
        Assert.Equal("AVX512_CORE", OneDnnIsa.Decide(Xeon, null, "avx512_core").Cap);
    }

    [Fact]
    public void The_users_own_ONEDNN_MAX_CPU_ISA_wins_over_everything()
    {
        var d = OneDnnIsa.Decide(Zen5, "AVX512_CORE", "sse41");
        Assert.Null(d.Cap);
        Assert.Contains("AVX512_CORE", d.Reason);
    }

    /// <summary>A child of a distill process that capped oneDNN (reproduce's `distill run`) inherits the cap, and its
    /// manifest said "user's choice ... (left as set)" where the parent's results.json gave the real reason.</summary>
    [Fact]
    public void A_cap_set_by_a_parent_distill_is_distills_with_its_reason_and_a_changed_one_is_the_users()
    {
        var own = OneDnnIsa.Decide(Zen5, null, null);
        Assert.Equal(own, OneDnnIsa.Decide(Zen5, "AVX2", null, setByDistill: "AVX2"));
        Assert.Equal(own, OneDnnIsa.Decide(Zen5, " avx2", "auto", setByDistill: "AVX2"));
        // Changed after distill set it, or not what distill would set here: the user's.
        Assert.StartsWith("user's choice: ONEDNN_MAX_CPU_ISA=SSE41", OneDnnIsa.Decide(Zen5, "SSE41", null, setByDistill: "AVX2").Reason, StringComparison.Ordinal);
        Assert.StartsWith("user's choice", OneDnnIsa.Decide(Xeon, "AVX2", null, setByDistill: "AVX2").Reason, StringComparison.Ordinal);
        Assert.StartsWith("user's choice", OneDnnIsa.Decide(Zen5, "AVX2", null, setByDistill: null).Reason, StringComparison.Ordinal);

        // This process set the marker with its cap, so its children know; a child given both says distill's reason.
        TorchRuntime.Initialize();
        Assert.Equal(OneDnnIsa.Cap, Environment.GetEnvironmentVariable(OneDnnIsa.SetByDistillVariable));
        var expected = OneDnnIsa.Decide(CpuFacts.Detect(), null, null);
        var (code, stdout, stderr) = Repo.RunCli(["doctor"], env =>
        {
            env[OneDnnIsa.Variable] = env[OneDnnIsa.LegacyVariable] = env[OneDnnIsa.SetByDistillVariable] = "AVX2";
            env.Remove(OneDnnIsa.ControlVariable);
            env["DISTILL_THREADS"] = "1";
        }, TimeSpan.FromMinutes(2));
        var line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("oneDNN ISA", StringComparison.Ordinal)) ?? throw new Xunit.Sdk.XunitException($"doctor exited {code}: {stdout}{stderr}");
        if (expected.Cap == "AVX2") Assert.Contains($"ONEDNN_MAX_CPU_ISA=AVX2: {expected.Reason}", line, StringComparison.Ordinal);
        else Assert.Contains("user's choice: ONEDNN_MAX_CPU_ISA=AVX2", line, StringComparison.Ordinal); // this CPU is not capped: it was the user's
    }

    [Fact]
    public void Status_in_this_process_matches_the_decision()
    {
        TorchRuntime.Initialize();
        var user = Environment.GetEnvironmentVariable(OneDnnIsa.Variable);
        var d = OneDnnIsa.Decide(CpuFacts.Detect(), OneDnnIsa.Cap is null ? user : null,
            Environment.GetEnvironmentVariable(OneDnnIsa.ControlVariable));
        Assert.Contains(d.Reason, OneDnnIsa.Status);
    }

    /// <summary>The cap set inside the process (not in the parent's environment) reaches oneDNN: with SSE41 forced,
    /// oneDNN's verbose log reports SSE4.1 as its ISA and no convolution runs an AVX kernel; with the cap off the
    /// same run uses wider kernels (AVX2 here, AVX-512 on such CPUs), so the check can fail.</summary>
    [Fact]
    public void Cap_set_in_process_changes_the_convolution_kernels_oneDNN_runs()
    {
        var capped = ConvKernels("sse41", out var cappedLog);
        var free = ConvKernels("off", out var freeLog);
        Assert.Contains("isa:Intel SSE4.1", cappedLog);
        Assert.DoesNotContain("isa:Intel SSE4.1", freeLog);
        Assert.NotEmpty(capped);
        Assert.All(capped, k => Assert.DoesNotContain("avx", k, StringComparison.Ordinal));
        Assert.Contains(capped, k => k.Contains("sse41", StringComparison.Ordinal));
        Assert.Contains(free, k => k.Contains("avx", StringComparison.Ordinal));
    }

    /// <summary>Layers whose channels oneDNN would pad to its block run on ATen's convolution, forward and backward:
    /// cnn-4 under the AVX2 cap (block 8) runs no oneDNN convolution, while cnn-8 (whole blocks) keeps oneDNN; with
    /// the guard turned off, cnn-4 runs oneDNN again. (On this machine, unguarded cnn-4 at 2 threads gave NaN in 2 of 12
    /// runs under load, guarded 0 of 12 with identical weights: issue 12.)</summary>
    [Fact]
    public void Convolutions_oneDNN_would_pad_run_on_aten_and_the_others_on_oneDNN()
    {
        Assert.True(OneDnnConvGuard.Padded(1, 4, 1, 8));
        Assert.False(OneDnnConvGuard.Padded(1, 8, 1, 8));
        Assert.True(OneDnnConvGuard.Padded(4, 8, 1, 8));
        Assert.False(OneDnnConvGuard.Padded(8, 16, 1, 8));
        Assert.True(OneDnnConvGuard.Padded(8, 16, 1, 16));
        Assert.False(OneDnnConvGuard.Padded(3, 16, 1, 16));
        Assert.Empty(ConvKernels("avx2", out _, "cnn-4", guard: true));
        Assert.NotEmpty(ConvKernels("avx2", out _, "cnn-8", guard: true));
        Assert.NotEmpty(ConvKernels("avx2", out _, "cnn-4", guard: false));
    }

    /// <summary>Implementation names of the convolutions in one step of training plus its evaluation; the padded-layer
    /// guard (<see cref="OneDnnConvGuard"/>) is off unless asked, so every layer shows the ISA's kernels.</summary>
    static HashSet<string> ConvKernels(string cap, out string log, string model = "cnn-8", bool guard = false)
    {
        var outDir = Directory.CreateTempSubdirectory("distill-onednn-").FullName;
        try
        {
            var (code, stdout, stderr) = Repo.RunCli(["train", "--model", model, "--train-size", "128",
                "--test-size", "64", "--epochs", "1", "--seed", "0", "--out", outDir], env =>
            {
                env["ONEDNN_VERBOSE"] = "1";
                env[OneDnnIsa.ControlVariable] = cap;
                env.Remove(OneDnnIsa.Variable);
                env.Remove(OneDnnIsa.LegacyVariable);
                env["DISTILL_THREADS"] = "2";
                if (guard) env.Remove(OneDnnConvGuard.ControlVariable);
                else env[OneDnnConvGuard.ControlVariable] = "on";
            }, TimeSpan.FromMinutes(2));
            log = stdout;
            Assert.True(code == 0, $"distill train exited {code}: {stderr}");
            // onednn_verbose,v1,primitive,exec,cpu,convolution,<implementation>,<prop_kind>,...
            return [.. log.Split('\n').Select(l => l.Split(','))
                .Where(f => f.Length > 7 && f[0] == "onednn_verbose" && f[3] == "exec" && f[5] == "convolution")
                .Select(f => f[6])];
        }
        finally { Directory.Delete(outDir, recursive: true); }
    }
}
