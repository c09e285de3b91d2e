using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Distill.Native;
using TorchSharp;

namespace Distill.Bench;

/// <summary>What to run. <see cref="Only"/> keeps cases whose name contains any of the strings (empty: all).</summary>
public sealed record BenchOptions
{
    public TimingBudget Budget { get; init; } = TimingBudget.Full;
    public int? Threads { get; init; }
    public IReadOnlyList<string> Only { get; init; } = [];
    public PeerOptions? Peer { get; init; }
    /// <summary>Epochs of the memory run; 0 skips it.</summary>
    public int MemoryEpochs { get; init; } = 20;
    public int MemorySamples { get; init; } = 4096;
    public string Command { get; init; } = "distill bench";
    /// <summary>Cases from outside the library (e.g. the notebook runner's, added by the CLI), run last.</summary>
    public IReadOnlyList<BenchCase> ExtraCases { get; init; } = [];
}

/// <summary>
/// Runs the cases in one process: first the GEMM limit, then each case (warm-up, timed steps, live-tensor count),
/// then the memory run, then the PyTorch peer on the same cases with the same thread count. See docs/performance.md.
/// </summary>
public static class BenchRunner
{
    /// <summary>Every case, in run order: the GEMM limit first (its time defines the limit), then fixed-batch raw
    /// steps, the training cases, loading.</summary>
    public static IReadOnlyList<BenchCase> Cases(BenchData data) =>
    [
        StandardCases.Gemm(),
        StandardCases.RawMlp(784, 1200, 1200, 10),
        StandardCases.RawMlp(784, 800, 800, 10),
        .. TrainingCases.All(data),
        .. StandardCases.FashionMnistAvailable() ? [StandardCases.FashionMnistLoad()] : Array.Empty<BenchCase>(),
    ];

    public static BenchReport Run(BenchOptions o, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(log);
        var wall = Stopwatch.StartNew();
        TorchRuntime.Initialize(o.Threads);
        int threads = TorchRuntime.Threads;
        using var data = new BenchData();
        var all = Cases(data).Concat(o.ExtraCases).ToList();
        var gemm = all[0];
        // A filter that matches nothing is a typo, not a request for the GEMM limit alone.
        if (o.Only.FirstOrDefault(s => !all.Any(c => c.Name.Contains(s, StringComparison.OrdinalIgnoreCase))) is { } unmatched)
            throw new InvalidOperationException($"--only {unmatched}: no bench case matches; the cases are {string.Join(", ", all.Select(c => c.Name))}.");
        var selected = all.Where(c => c == gemm || o.Only.Count == 0 || o.Only.Any(s => c.Name.Contains(s, StringComparison.OrdinalIgnoreCase))).ToList();
        log.WriteLine($"distill bench: {selected.Count} cases, {threads} threads, MKL dispatch {MklCpuDispatch.Status}");

        var timings = new Dictionary<string, Timing>();
        foreach (var c in selected)
        {
            log.Write($"  {c.Name,-40}");
            var t = c.Measure(o.Budget);
            timings[c.Name] = t;
            log.WriteLine($" {t.MedianMs,9:F2} ms ({t.P10Ms:F2}-{t.P90Ms:F2}, {t.Steps} steps; cpu {t.CpuMs:F2} ms)");
        }
        double limit = gemm.FlopsPerStep!.Value / (timings[gemm.Name].MedianMs * 1e6);

        MemoryResult? memory = null;
        if (o.MemoryEpochs > 0)
        {
            log.Write($"  {"memory run (" + o.MemoryEpochs + " epochs)",-40}");
            memory = MemoryProbe.Run(o.MemoryEpochs, o.MemorySamples);
            log.WriteLine($" RSS {memory.RssMbPerEpoch[1]:F0} → {memory.RssMbPerEpoch[^1]:F0} MB ({memory.GrowthPct:+0.0;-0.0} %), leaked tensors {memory.LeakedTensors}");
        }

        PeerResult? peer = null;
        if (o.Peer is not null)
        {
            log.WriteLine($"  peer: {o.Peer.Python} {o.Peer.Script}");
            if (TorchRuntime.OmpWaitPolicy.Equals("ACTIVE", StringComparison.OrdinalIgnoreCase))
                log.WriteLine("  warning: OMP_WAIT_POLICY=ACTIVE keeps this process's idle OpenMP threads spinning while the peer runs, " +
                              "which slows the peer; compare with the default (PASSIVE).");
            peer = Peer.Run(o.Peer, threads, o.Budget, selected.Select(c => c.Name), log);
        }

        var results = selected.Select(c => Result(c, timings, limit, peer)).ToList();
        // The trainer's overhead: trainer cases against their raw loops (not KD against the student alone).
        var overheads = results.Where(r => r.VsBaselinePct is not null && r.Baseline!.EndsWith("-loop", StringComparison.Ordinal))
            .Select(r => r.VsBaselinePct!.Value).ToList();
        double? peerLimit = peer is not null && peer.Cases.TryGetValue(gemm.Name, out var pg) ? gemm.FlopsPerStep.Value / (pg.MedianMs * 1e6) : null;
        return new BenchReport(
            DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture), o.Command,
            Machine(peer), threads, limit, peerLimit, results,
            overheads.Count > 0 ? overheads.Max() : null, memory?.GrowthPct, memory?.LeakedTensors,
            StandardCases.PeakRssMb(), wall.Elapsed.TotalSeconds);
    }

    static BenchCaseResult Result(BenchCase c, Dictionary<string, Timing> timings, double limit, PeerResult? peer)
    {
        var t = timings[c.Name];
        double? gflops = c.FlopsPerStep / (t.MedianMs * 1e6);
        double? peerMs = peer is not null && peer.Cases.TryGetValue(c.Name, out var p) ? p.MedianMs : null;
        double? vsBaseline = c.Baseline is not null && timings.TryGetValue(c.Baseline, out var baseline)
            ? (t.MedianMs / baseline.MedianMs - 1) * 100 : null;
        return new BenchCaseResult(c.Name, c.Description, t.MedianMs, t.P10Ms, t.P90Ms, t.Steps, t.CpuMs, c.Samples / (t.MedianMs / 1000),
            gflops, gflops / limit * 100, t.LivePerStep, peerMs, t.MedianMs / peerMs, c.Baseline, vsBaseline);
    }

    static MachineInfo Machine(PeerResult? peer) => new(
        CpuInfo.ModelName(), Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
        TorchRuntime.TorchSharpVersion, torch.__version__, MklCpuDispatch.Status, OneDnnIsa.Status, TorchRuntime.OmpWaitPolicy, peer?.Version);
}
