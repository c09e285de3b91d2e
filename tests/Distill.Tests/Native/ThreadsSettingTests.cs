using Distill.Native;
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
    [InlineData("99999")]
    public void Doctor_names_a_thread_count_it_cannot_use_and_fails(string threads)
    {
        var (code, output) = Doctor(threads);
        Assert.Equal(1, code);
        Assert.Contains($"problem       DISTILL_THREADS={threads} is not a thread count in [1, {4 * Environment.ProcessorCount}]", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("99999")]
    public void A_command_refuses_a_thread_count_it_cannot_use_instead_of_ignoring_it_or_starting_that_many_threads(string threads)
    {
        // sweep run reads it to give each worker (ChildProcesses.ThreadsPerProcess), which ignored garbage and took any
        // number; TorchRuntime read it on its own. Both now go through TorchRuntime.EnvironmentThreads.
        var spec = Repo.PathOf("experiments/tiny.yaml");
        var dir = Directory.CreateTempSubdirectory("distill-threads-").FullName;
        try
        {
            var (code, _, stderr) = Repo.RunCli(["sweep", "run", spec, "--out", dir, "--jobs", "2"], env => env["DISTILL_THREADS"] = threads);
            Assert.Equal((1, $"error: DISTILL_THREADS={threads} is not a thread count in [1, {4 * Environment.ProcessorCount}] (at most 4 × the {Environment.ProcessorCount} cores: more only wait for each other); give one in that range."),
                (code, stderr.Trim()));
            (code, _, stderr) = Repo.RunCli(["sweep", "run", spec, "--out", dir, "--threads", "99999"]);
            Assert.Equal(1, code);
            Assert.StartsWith("error: --threads 99999 is not a thread count in [1, ", stderr.Trim(), StringComparison.Ordinal);
            // Read deep inside `run` (when libtorch loads): still bad input, one line, not an unexpected failure.
            var nb = Path.Combine(dir, "t.ipynb");
            File.WriteAllText(nb, """{"cells":[{"cell_type":"code","metadata":{},"source":"1","outputs":[],"execution_count":null}],"metadata":{},"nbformat":4,"nbformat_minor":5}""");
            (code, _, stderr) = Repo.RunCli(["run", nb, "--out", Path.Combine(dir, "out")], env => env["DISTILL_THREADS"] = threads);
            Assert.Equal((2, $"error: DISTILL_THREADS={threads} is not a thread count in [1, {4 * Environment.ProcessorCount}] (at most 4 × the {Environment.ProcessorCount} cores: more only wait for each other); give one in that range."),
                (code, stderr.Trim()));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_usable_thread_count_is_no_problem_and_more_than_the_cores_is_a_note()
    {
        Assert.DoesNotContain("DISTILL_THREADS", Doctor("1").Output, StringComparison.Ordinal);
        var (_, output) = Doctor($"{Environment.ProcessorCount + 1}");
        Assert.Contains($"note: DISTILL_THREADS={Environment.ProcessorCount + 1} is more than the {Environment.ProcessorCount} cores", output, StringComparison.Ordinal);
    }

    /// <summary>A count passed in code (<c>Notebook.Start(threads: 0)</c>) went to libtorch unchecked: 0 aborted the
    /// process with a c10::Error (the kernel died), 40 on 2 cores was taken. It is refused as $DISTILL_THREADS is, and
    /// the count in use stays.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(100_000)]
    public void A_thread_count_passed_in_code_is_checked_like_the_variable(int threads)
    {
        TorchRuntime.Initialize();
        var before = TorchRuntime.Threads;
        var e = Assert.Throws<ThreadCountException>(() => Distill.Notebook.Start(threads: threads));
        Assert.StartsWith($"threads: {threads} is not a thread count in [1, {TorchRuntime.MaxThreads}]", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, TorchRuntime.Threads);
        Assert.Equal(before, TorchSharp.torch.get_num_threads());
    }
}
