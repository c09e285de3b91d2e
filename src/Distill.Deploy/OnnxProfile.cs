namespace Distill.Deploy;

/// <summary>Where ONNX Runtime spends a batch-1 run, from its own profiler: time per operator type (the fused kernels
/// it actually ran, e.g. QLinearConv for a quantized convolution).</summary>
public static class OnnxProfile
{
    /// <summary>Total microseconds per operator type over <paramref name="runs"/> single-thread batch-1 runs, largest first.</summary>
    /// <param name="cancellation">Checked between runs; a stop throws <see cref="OperationCanceledException"/> (a profile
    /// of part of the runs would be divided by all of them).</param>
    public static IReadOnlyList<(string Op, long Microseconds, int Nodes)> ByOperator(string onnxPath, int runs = 50, CancellationToken cancellation = default)
    {
        string trace;
        using (var runner = new OnnxRunner(onnxPath, threads: 1, profile: true))
        {
            runner.CheckInputSize(1);
            var input = new float[runner.ImageShape.Aggregate(1L, (a, b) => a * b)];
            for (var i = 0; i < Warmup + runs && !cancellation.IsCancellationRequested; i++) runner.Run(input, 1);
            trace = runner.EndProfiling(); // also when stopped: the trace file is written either way, and deleted below
        }
        try
        {
            if (cancellation.IsCancellationRequested) throw new OperationCanceledException("stopped while profiling: no profile printed", cancellation);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(trace));
            var events = doc.RootElement.EnumerateArray().ToList();
            // The profiler records every run: the warm-up runs' nodes are left out by their start, as the timed runs
            // leave theirs out (Latency.Measure). Counted in, the first run's allocations doubled a one-run profile.
            var starts = events.Where(e => Category(e) == "Session" && e.TryGetProperty("name", out var n) && n.GetString() == "model_run")
                .Select(e => e.GetProperty("ts").GetInt64()).Order().ToList();
            var from = starts.Count > Warmup ? starts[Warmup] : long.MinValue;
            return [.. events
                .Where(e => Category(e) == "Node" && e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal) && e.GetProperty("ts").GetInt64() >= from)
                .Select(e => (Op: e.GetProperty("args").GetProperty("op_name").GetString()!, Dur: e.GetProperty("dur").GetInt64(), Node: e.GetProperty("name").GetString()!))
                .GroupBy(e => e.Op)
                .Select(grp => (grp.Key, grp.Sum(e => e.Dur), grp.Select(e => e.Node).Distinct().Count()))
                .OrderByDescending(t => t.Item2)];
        }
        finally
        {
            File.Delete(trace);
        }
    }

    /// <summary>Runs before the profiled ones, as <see cref="Latency.Measure"/> warms up before it times.</summary>
    const int Warmup = 5;

    static string? Category(System.Text.Json.JsonElement e) => e.TryGetProperty("cat", out var c) ? c.GetString() : null;
}
