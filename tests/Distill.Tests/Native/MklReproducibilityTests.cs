using Distill.Tests.Onboarding;

namespace Distill.Tests.Native;

/// <summary>oneMKL's strict reproducibility is the product's default, not only the test process's: a user's run and
/// the kernel's must not round by where their buffers happened to lie.</summary>
public sealed class MklReproducibilityTests
{
    [Theory]
    [InlineData(null, "AUTO,STRICT")]
    [InlineData("", "AUTO,STRICT")] // set but empty: no mode, and replaced where oneMKL reads it (it kept "" there)
    [InlineData("COMPATIBLE", "COMPATIBLE")]
    public void A_fresh_process_runs_with_strict_reproducibility_unless_the_user_chose_a_mode(string? given, string shown)
    {
        var (_, stdout, stderr) = Repo.RunCli(["doctor"], env =>
        {
            if (given is null) env.Remove("MKL_CBWR");
            else env["MKL_CBWR"] = given;
        });
        Assert.Contains($"oneMKL CBWR   {shown}\n", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_mode_is_part_of_the_kernels_that_key_cached_models()
    {
        Distill.Native.TorchRuntime.Initialize();
        Assert.Contains($"oneMKL CBWR {Environment.GetEnvironmentVariable("MKL_CBWR")}", Distill.Native.TorchRuntime.KernelIdentity, StringComparison.Ordinal);
        Assert.NotEqual("unset", Distill.Native.TorchRuntime.MklReproducibility);
    }
}
