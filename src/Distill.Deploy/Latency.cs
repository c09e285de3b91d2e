using System.Diagnostics;
using System.Globalization;

namespace Distill.Deploy;

/// <summary>One latency measurement of an ONNX model in ONNX Runtime.</summary>
/// <param name="MicrojoulesPerImage">Package energy per image from powercap; null where it cannot be read.</param>
public sealed record LatencyResult(int Batch, int Threads, int Runs, double P50Ms, double P90Ms, double? MicrojoulesPerImage = null)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"batch {Batch,3}, {Threads} thread{(Threads == 1 ? " " : "s")}: p50 {P50Ms,8:F3} ms, p90 {P90Ms,8:F3} ms ({NumberText.Count(Runs, "run")})") +
        (MicrojoulesPerImage is { } uj ? string.Create(CultureInfo.InvariantCulture, $", {uj:F1} µJ/image (package)") : "");
}

/// <summary>Wall-clock latency of single Run calls on a fixed random input, after warm-up runs (the first runs pay for
/// memory planning and kernel selection).</summary>
public static class Latency
{
    /// <param name="cancellation">Checked between runs: a stop (Ctrl-C, SIGTERM) ends the timing at once, and the result
    /// is of the runs timed so far (its <see cref="LatencyResult.Runs"/>), without energy; stopped before the first timed
    /// run, it throws <see cref="OperationCanceledException"/>. A native Run cannot be interrupted, a run between checks can.</param>
    public static LatencyResult Measure(string onnxPath, int batch, int threads, int runs = 50, int warmup = 5, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        using var runner = new OnnxRunner(onnxPath, threads);
        runner.CheckInputSize(batch);
        var rng = new Random(0);
        var input = new float[batch * runner.ImageShape.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 2 - 1);
        for (var i = 0; i < warmup && !cancellation.IsCancellationRequested; i++) runner.Run(input, batch);
        // Grown as runs finish: a huge run count that is stopped early must not reserve memory for all of it first.
        var times = new List<double>();
        while (times.Count < runs && !cancellation.IsCancellationRequested)
        {
            var t = Stopwatch.GetTimestamp();
            runner.Run(input, batch);
            times.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
        if (times.Count == 0)
            throw new OperationCanceledException($"stopped before any run of batch {batch}, {threads} thread{(threads == 1 ? "" : "s")} was timed", cancellation);
        times.Sort();
        var energy = Energy.PerCall(() => runner.Run(input, batch), times.Count, cancellation: cancellation);
        return new LatencyResult(batch, threads, times.Count, Quantile(times, 0.5), Quantile(times, 0.9), energy / batch);
    }

    /// <summary>Linear interpolation between order statistics (NumPy's default).</summary>
    static double Quantile(List<double> sorted, double q)
    {
        var pos = q * (sorted.Count - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
