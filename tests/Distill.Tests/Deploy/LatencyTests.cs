using System.Diagnostics;
using Distill.Deploy;

namespace Distill.Tests.Deploy;

/// <summary>`deploy bench --runs 100000000` ignored Ctrl-C and SIGTERM until it was force-ended 30 s later: the
/// timing loop never looked at the stop.</summary>
public class LatencyTests
{
    [Fact]
    public void A_stop_ends_the_timing_between_runs_with_what_was_timed()
    {
        using var dir = new TempDir();
        var model = DeployCliTests.Foreign(dir.File("flatten.onnx"), null);
        using (var stopped = new CancellationTokenSource())
        {
            stopped.Cancel();
            var e = Assert.Throws<OperationCanceledException>(() => Latency.Measure(model, batch: 1, threads: 1, runs: 1000, cancellation: stopped.Token));
            Assert.Equal("stopped before any run of batch 1, 1 thread was timed", e.Message);
        }

        using var later = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();
        var timed = Latency.Measure(model, batch: 1, threads: 1, runs: int.MaxValue, cancellation: later.Token);
        Assert.InRange(clock.Elapsed.TotalSeconds, 1, 10); // at the stop, not after int.MaxValue runs
        Assert.InRange(timed.Runs, 1, int.MaxValue - 1);
        Assert.True(timed.P50Ms > 0 && timed.P90Ms >= timed.P50Ms, timed.ToString());
        Assert.Null(timed.MicrojoulesPerImage); // not measured after a stop
    }

    /// <summary>`deploy bench --runs 1` printed "(1 runs)"; a count is in the invariant thousands format of every message.</summary>
    [Fact]
    public void A_result_line_counts_its_runs_in_words()
    {
        Assert.EndsWith("ms (1 run)", new LatencyResult(1, 1, 1, 0.5, 0.5).ToString(), StringComparison.Ordinal);
        Assert.EndsWith("ms (12,345 runs)", new LatencyResult(64, 2, 12345, 0.5, 0.6).ToString(), StringComparison.Ordinal);
    }
}
