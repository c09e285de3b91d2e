namespace Distill.Notebooks.Tests;

/// <summary>A cnn-8 trained by the CLI for one epoch on 1,000 images: the run folder the `deploy` stop tests start from.</summary>
public sealed class TinyCnnRun : IDisposable
{
    readonly TempDir dir = new("deploy-stop-run");

    public string Folder => Path.Combine(dir.Path, "run");

    public TinyCnnRun()
    {
        var (exit, output, err) = DistillProcess.Run("train", "--model", "cnn-8", "--epochs", "1", "--train-size", "1000", "--out", Folder);
        Assert.True(exit == 0, $"exit {exit}:\n{output}{err}");
    }

    public void Dispose() => dir.Dispose();
}

/// <summary>`distill deploy` stopped by Ctrl-C or SIGTERM, as `distill train` and `deploy bench` are: at once, with the
/// signal's exit code and one line, and nothing left behind.</summary>
public class DeployStopTests(TinyCnnRun run) : IClassFixture<TinyCnnRun>
{
    /// <summary>Each command writes a temp file under TMPDIR once it is in its long part: the signal is sent then.</summary>
    static (int Exit, string Output, TimeSpan Took) StopWhenTempFileAppears(string signal, string tmp, string pattern, params string[] args)
    {
        var psi = DistillProcess.Start(args);
        psi.Environment["TMPDIR"] = tmp;
        using var running = new DistillProcess.Running(psi);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Directory.GetFiles(tmp, pattern).Length == 0)
        {
            if (running.Process.HasExited) Assert.Fail($"exited ({running.Process.ExitCode}) before it wrote {pattern}:\n{running.Output}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"no {pattern} after 2 minutes:\n{running.Output}");
            Thread.Sleep(20);
        }
        running.Signal(signal);
        clock.Restart();
        var exit = running.Exit(TimeSpan.FromSeconds(60));
        return (exit, running.Output, clock.Elapsed);
    }

    /// <summary>Ctrl-C during an int8 export was ignored (the file written, exit 0); SIGTERM ran on until the watchdog
    /// ended it 30 s later, mid-kthvalue (a libtorch assert on the way out). The calibration now stops between batches.</summary>
    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public void A_signal_stops_an_int8_export_before_it_writes(string signal, int code)
    {
        using var dir = new TempDir("deploy-stop-export");
        var onnx = Path.Combine(dir.Path, "term.onnx");
        var (exit, output, took) = StopWhenTempFileAppears(signal, dir.Path, "distill-calibrate-*",
            "deploy", "export", run.Folder, "--int8", "--calibrate", "20000", "--out", onnx);
        Assert.True(exit == code, $"exit {exit}:\n{output}");
        Assert.True(took < TimeSpan.FromSeconds(20), $"took {took} to stop:\n{output}");
        Assert.Contains($"export stopped while calibrating int8 ranges (", output, StringComparison.Ordinal);
        Assert.Contains($"{onnx} was not written", output, StringComparison.Ordinal);
        Assert.DoesNotContain("error:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("INTERNAL ASSERT", output, StringComparison.Ordinal);
        Assert.False(File.Exists(onnx));
        Assert.Empty(Directory.GetFiles(dir.Path, "distill-calibrate-*"));
    }

    /// <summary>deploy check ran to the watchdog (31 s) and left its temporary export behind; it now stops between
    /// batches and removes it.</summary>
    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public void A_signal_stops_a_check_and_removes_its_temporary_export(string signal, int code)
    {
        using var dir = new TempDir("deploy-stop-check");
        var (exit, output, took) = StopWhenTempFileAppears(signal, dir.Path, "distill-check-*.onnx", "deploy", "check", run.Folder, "--images", "10000");
        Assert.True(exit == code, $"exit {exit}:\n{output}");
        Assert.True(took < TimeSpan.FromSeconds(20), $"took {took} to stop:\n{output}");
        Assert.Contains("check stopped ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("error:", output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path, "distill-check-*"));
    }
}
