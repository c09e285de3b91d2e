using System.Diagnostics;
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

    /// <summary>Implementation names of the convolutions in one step of cnn-8 training plus its evaluation.</summary>
    static HashSet<string> ConvKernels(string cap, out string log)
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name; // debug | release
        var cli = Path.Combine(Repo.Root, "artifacts", "bin", "Distill.Cli", config, "Distill.Cli.dll");
        Assert.True(File.Exists(cli), $"{cli} missing: build src/Distill.Cli");
        var outDir = Directory.CreateTempSubdirectory("distill-onednn-").FullName;
        try
        {
            var psi = new ProcessStartInfo("dotnet", [cli, "train", "--model", "cnn-8", "--train-size", "128",
                "--test-size", "64", "--epochs", "1", "--seed", "0", "--out", outDir])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.Environment["ONEDNN_VERBOSE"] = "1";
            psi.Environment[OneDnnIsa.ControlVariable] = cap;
            psi.Environment.Remove(OneDnnIsa.Variable);
            psi.Environment.Remove(OneDnnIsa.LegacyVariable);
            psi.Environment["DISTILL_THREADS"] = "2";
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            log = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(120_000), "distill train hung");
            Assert.True(p.ExitCode == 0, $"distill train exited {p.ExitCode}: {stderr.Result}");
            // onednn_verbose,v1,primitive,exec,cpu,convolution,<implementation>,<prop_kind>,...
            return [.. log.Split('\n').Select(l => l.Split(','))
                .Where(f => f.Length > 7 && f[0] == "onednn_verbose" && f[3] == "exec" && f[5] == "convolution")
                .Select(f => f[6])];
        }
        finally { Directory.Delete(outDir, recursive: true); }
    }
}
