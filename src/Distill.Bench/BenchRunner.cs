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
/// Runs the cases in one process. Cases are measured in groups: a case, the cases whose baseline it is (a trainer case
/// and its raw loop, KD and the student alone), and the PyTorch peer's version of each, all built once and then run in
/// interleaved rounds of a fixed number of steps (<see cref="Rounds"/>), so every ratio is a median of per-round
/// ratios with a bootstrap interval (<see cref="RatioStats"/>). The GEMM limit is measured first, the memory run last.
/// See docs/performance.md.
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

    /// <summary>The selected cases grouped for interleaved rounds: each case joins the group of its baseline (followed
    /// to the root) when that baseline is selected too; the root comes first; groups keep the order of the cases.</summary>
    public static IReadOnlyList<IReadOnlyList<BenchCase>> Groups(IReadOnlyList<BenchCase> selected)
    {
        ArgumentNullException.ThrowIfNull(selected);
        var byName = selected.ToDictionary(c => c.Name);
        var groups = new List<List<BenchCase>>();
        var byRoot = new Dictionary<string, List<BenchCase>>();
        foreach (var c in selected)
        {
            var root = c;
            for (int hops = 0; root.Baseline is { } b && byName.TryGetValue(b, out var next) && hops < selected.Count; hops++) root = next;
            if (!byRoot.TryGetValue(root.Name, out var g)) groups.Add(byRoot[root.Name] = g = []);
            if (c == root) g.Insert(0, c);
            else g.Add(c);
        }
        return groups;
    }

    public static BenchReport Run(BenchOptions o, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(log);
        var wall = Stopwatch.StartNew();
        var load = LoadAverage();
        TorchRuntime.Initialize(o.Threads);
        int threads = TorchRuntime.Threads;
        using var data = new BenchData();
        var all = Cases(data).Concat(o.ExtraCases).ToList();
        var gemm = all[0];
        // A filter that matches nothing is a typo, not a request for the GEMM limit alone.
        if (o.Only.FirstOrDefault(s => !all.Any(c => c.Name.Contains(s, StringComparison.OrdinalIgnoreCase))) is { } unmatched)
            throw new InvalidOperationException($"--only {unmatched}: no bench case matches; the cases are {string.Join(", ", all.Select(c => c.Name))}.");
        var selected = all.Where(c => c == gemm || o.Only.Count == 0 || o.Only.Any(s => c.Name.Contains(s, StringComparison.OrdinalIgnoreCase))).ToList();
        log.WriteLine($"distill bench: {selected.Count} cases, {NumberText.Count(threads, "thread")}, MKL dispatch {MklCpuDispatch.Status}; load average {load ?? "?"}");

        using var peer = o.Peer is null ? null : StartPeer(o.Peer, threads, log);
        var measured = new Dictionary<string, Measured>();
        foreach (var group in Groups(selected))
            foreach (var m in RunGroup(group, o.Budget, peer, log))
                measured[m.Case.Name] = m;
        if (peer is not null)
            log.WriteLine($"  peer: waited {peer.IdleWait.TotalSeconds:F1} s in all for its threads to go idle after its rounds (OpenBLAS spins ~0.1 s after a call)");
        double limit = gemm.FlopsPerStep!.Value / (measured[gemm.Name].Ours.MedianMs * 1e6);

        MemoryResult? memory = null;
        if (o.MemoryEpochs > 0)
        {
            log.Write($"  {"memory run (" + o.MemoryEpochs + " epochs)",-40}");
            memory = MemoryProbe.Run(o.MemoryEpochs, o.MemorySamples);
            log.WriteLine($" RSS {memory.RssMbPerEpoch[1]:F0} → {memory.RssMbPerEpoch[^1]:F0} MB ({memory.GrowthPct:+0.0;-0.0} %), leaked tensors {memory.LeakedTensors}");
        }

        var results = selected.Select(c => Result(measured[c.Name], limit)).ToList();
        // The trainer's overhead: trainer cases against their raw loops (not KD against the student alone).
        var overheads = results.Where(r => r.VsBaselinePct is not null && r.Baseline!.EndsWith("-loop", StringComparison.Ordinal))
            .Select(r => r.VsBaselinePct!.Value).ToList();
        double? peerLimit = measured[gemm.Name].PeerMs is double pg ? gemm.FlopsPerStep.Value / (pg * 1e6) : null;
        return new BenchReport(
            DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture), o.Command,
            Machine(peer?.Info, load), threads, limit, peerLimit, results,
            overheads.Count > 0 ? overheads.Max() : null, memory?.GrowthPct, memory?.LeakedTensors,
            StandardCases.PeakRssMb(), wall.Elapsed.TotalSeconds);
    }

    static PeerProcess StartPeer(PeerOptions o, int threads, TextWriter log)
    {
        log.WriteLine($"  peer: {o.Python} {o.Script}");
        if (TorchRuntime.OmpWaitPolicy.Equals("ACTIVE", StringComparison.OrdinalIgnoreCase))
            log.WriteLine("  warning: OMP_WAIT_POLICY=ACTIVE keeps this process's idle OpenMP threads spinning while the peer runs, " +
                          "which slows the peer; compare with the default (PASSIVE).");
        var peer = Peer.Start(o, threads, log);
        log.WriteLine($"  peer: {peer.Info.Summary}");
        return peer;
    }

    /// <summary>One case's rounds: ours, and the peer's (null when the peer has no such case or did not run).</summary>
    sealed record Measured(BenchCase Case, Timing Ours, IReadOnlyList<double> RoundMs, int StepsPerRound, double? PeerMs,
        IReadOnlyList<double>? PeerRoundMs, RatioInterval? VsPeer, RatioInterval? VsBaseline);

    static List<Measured> RunGroup(IReadOnlyList<BenchCase> group, TimingBudget budget, PeerProcess? peer, TextWriter log)
    {
        if (group.FirstOrDefault(c => c.Budget is not null)?.Budget is { } own) budget = own;
        else if (group.Any(c => c.Few)) budget = budget.Few;
        var ours = new List<IRoundSide>();
        var peers = new List<PeerSide>();
        var peerOf = new int?[group.Count];
        RoundsResult r;
        try
        {
            foreach (var c in group) ours.Add(c.Open());
            if (peer is not null)
                for (int i = 0; i < group.Count; i++)
                {
                    if (peer.Setup(group[i].Name) is not { } key) continue;
                    int j = peers.FindIndex(p => p.Key == key);
                    if (j < 0) { peers.Add(new PeerSide(peer, key)); j = peers.Count - 1; }
                    peerOf[i] = ours.Count + j;
                }
            r = Rounds.Interleave([.. ours, .. peers], budget, i => i < ours.Count);
        }
        finally
        {
            foreach (var side in peers.Cast<IRoundSide>().Concat(ours).Reverse()) side.Dispose();
        }

        var list = new List<Measured>();
        for (int i = 0; i < group.Count; i++)
        {
            var c = group[i];
            var rounds = r.Sides[i];
            var ms = rounds.SelectMany(x => x.Ms).ToList();
            var cpu = rounds.SelectMany(x => x.CpuMs).ToList();
            var t = Timing.From(ms) with
            {
                CpuMs = cpu.Count > 0 ? RatioStats.Median(cpu) : 0,
                LivePerStep = rounds.Sum(x => x.LiveDelta) / (double)ms.Count,
                FaultsPerStep = rounds.Count > 0 && rounds.All(x => x.PageFaults >= 0) ? rounds.Sum(x => x.PageFaults) / (double)ms.Count : null,
            };
            double? peerMs = peerOf[i] is int p ? RatioStats.Median([.. r.Sides[p].SelectMany(x => x.Ms)]) : null;
            var vsPeer = peerOf[i] is int q ? RatioStats.Bootstrap(r.Ratios(i, q)) : null;
            int b = c.Baseline is null ? -1 : group.ToList().FindIndex(x => x.Name == c.Baseline);
            var vsBaseline = b >= 0 && b != i ? RatioStats.Bootstrap(r.Ratios(i, b)) : null;
            var m = new Measured(c, t, r.RoundMeans(i), r.StepsPerRound, peerMs, peerOf[i] is int pr ? r.RoundMeans(pr) : null, vsPeer, vsBaseline);
            list.Add(m);
            log.WriteLine($"  {c.Name,-40} {t.MedianMs,9:F2} ms ({t.P10Ms:F2}-{t.P90Ms:F2}, {budget.Rounds}x{r.StepsPerRound} steps; cpu {t.CpuMs:F2} ms)" +
                          (vsPeer is null ? "" : $"; peer {peerMs:F2} ms, ours/peer {vsPeer}") +
                          (vsBaseline is null ? "" : $"; vs {c.Baseline} {vsBaseline}"));
        }
        return list;
    }

    static BenchCaseResult Result(Measured m, double limit)
    {
        var (c, t) = (m.Case, m.Ours);
        double? gflops = c.FlopsPerStep / (t.MedianMs * 1e6);
        Verdict? peerVerdict = m.VsPeer is { } vp && c.PeerTarget is { } pt ? pt.Judge(vp) : null;
        Verdict? baselineVerdict = m.VsBaseline is { } vb && c.BaselineTarget is { } bt ? bt.Judge(vb) : null;
        var result = new BenchCaseResult(c.Name, c.Description, t.MedianMs, t.P10Ms, t.P90Ms, t.Steps, t.CpuMs, c.Samples / (t.MedianMs / 1000),
            gflops, gflops / limit * 100, t.LivePerStep, m.PeerMs, m.VsPeer?.Median, m.VsBaseline is null ? null : c.Baseline,
            m.VsBaseline is { } vbm ? (vbm.Median - 1) * 100 : null)
        {
            Rounds = m.RoundMs.Count,
            StepsPerRound = m.StepsPerRound,
            RoundMs = m.RoundMs,
            PeerRoundMs = m.PeerRoundMs,
            RatioLow = m.VsPeer?.Low,
            RatioHigh = m.VsPeer?.High,
            RatioNoisy = m.VsPeer?.Noisy,
            PeerTarget = m.VsPeer is null ? null : c.PeerTarget?.Text,
            PeerVerdict = peerVerdict is { } pv ? BenchReport.Text(pv) : null,
            VsBaselineLowPct = m.VsBaseline is { } l ? (l.Low - 1) * 100 : null,
            VsBaselineHighPct = m.VsBaseline is { } h ? (h.High - 1) * 100 : null,
            VsBaselineNoisy = m.VsBaseline?.Noisy,
            BaselineTarget = m.VsBaseline is null ? null : c.BaselineTarget?.Text,
            BaselineVerdict = baselineVerdict is { } bv ? BenchReport.Text(bv) : null,
            PageFaultsPerStep = t.FaultsPerStep,
        };
        return peerVerdict == Verdict.NotMet || baselineVerdict == Verdict.NotMet
            ? result with { Why = BenchReport.Evidence(result, TorchRuntime.Threads) }
            : result;
    }

    static string? LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    static MachineInfo Machine(PeerInfo? peer, string? load) => new(
        CpuInfo.ModelName(), Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
        TorchRuntime.TorchSharpVersion, torch.__version__, MklCpuDispatch.Status, OneDnnIsa.Status, TorchRuntime.OmpWaitPolicy, peer, load, MallocSettings());

    /// <summary>The glibc malloc tunables set in the environment (both sides get them: the peer inherits ours), or
    /// what <see cref="MallocThresholds"/> pinned in-process (the peer gets the same values as variables).</summary>
    static string MallocSettings()
    {
        var set = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) || k.StartsWith("GLIBC_TUNABLES", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}").ToList();
        return set.Count > 0 ? string.Join(' ', set) : MallocThresholds.Status;
    }
}
