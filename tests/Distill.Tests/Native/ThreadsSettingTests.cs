using Distill.Tests.Onboarding;

namespace Distill.Tests.Native;

/// <summary>DISTILL_THREADS decides the thread count, and with it the numbers: a value that cannot be used is said.</summary>
public class ThreadsSettingTests
{
    static (int Code, string Output) Doctor(string threads)
    {
        var (code, stdout, stderr) = Repo.RunCli(["doctor"], env => env["DISTILL_THREADS"] = threads);
        return (code, stdout + stderr);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("2.5")]
    public void Doctor_names_a_thread_count_it_ignored_and_fails(string threads)
    {
        var (code, output) = Doctor(threads);
        Assert.Equal(1, code);
        Assert.Contains($"problem: DISTILL_THREADS={threads} is not a positive whole number, so it was ignored", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_usable_thread_count_is_no_problem_and_more_than_the_cores_is_a_note()
    {
        Assert.DoesNotContain("DISTILL_THREADS", Doctor("1").Output, StringComparison.Ordinal);
        var (_, output) = Doctor($"{Environment.ProcessorCount + 1}");
        Assert.Contains($"note: DISTILL_THREADS={Environment.ProcessorCount + 1} is more than the {Environment.ProcessorCount} cores", output, StringComparison.Ordinal);
    }
}
