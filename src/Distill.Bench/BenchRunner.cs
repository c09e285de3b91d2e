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
        StandardCases.MlpGemms(784, 1200, 1200, 10),
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

    /// <summary>Runs the selected cases. A group that fails is reported in <see cref="BenchReport.Failed"/> and the run
    /// goes on; when the peer has died the rest (that group again first) runs without it. When <paramref name="stop"/>
    /// is cancelled the run ends at the next step or round boundary and the report holds what was measured
    /// (<see cref="BenchReport.Partial"/>).</summary>
    public static BenchReport Run(BenchOptions o, TextWriter log, CancellationToken stop = default)
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

        var peer = o.Peer is null ? null : StartPeer(o.Peer, threads, log);
        var peerInfo = peer?.Info;
        var measured = new Dictionary<string, Measured>();
        var failed = new List<BenchFailure>();
        try
        {
            foreach (var group in Groups(selected))
            {
                if (stop.IsCancellationRequested) break;
                foreach (var m in Attempt(group)) measured[m.Case.Name] = m;
            }
            if (peer is not null)
                log.WriteLine($"  peer: waited {peer.IdleWait.TotalSeconds:F1} s in all for its threads to go idle after its rounds (OpenBLAS spins ~0.1 s after a call)");
        }
        finally { peer?.Dispose(); }

        // One group's failure costs that group only: the others' numbers are the point of the run.
        List<Measured> Attempt(IReadOnlyList<BenchCase> group)
        {
            try { return RunGroup(group, o.Budget, peer, log, stop); }
            catch (Exception e) when (stop.IsCancellationRequested && e is InvalidOperationException or OperationCanceledException) { return []; }
            catch (InvalidOperationException e) when (peer is { HasExited: true })
            {
                log.WriteLine($"  {e.Message} The remaining cases run without the peer, this group again first.");
                peer.Dispose();
                peer = null;
                return Attempt(group);
            }
            // Any failure but a stop: a case fails in ways no list foresees (libtorch's ExternalException, an
            // ArgumentException of a model), and one case's failure must not cost the others.
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.WriteLine($"  {group[0].Name,-40} FAILED: {e.Message}");
                failed.AddRange(group.Select(c => new BenchFailure(c.Name, e.Message)));
                return [];
            }
        }

        double? limit = measured.TryGetValue(gemm.Name, out var g) ? gemm.FlopsPerStep!.Value / (g.Ours.MedianMs * 1e6) : null;
        MemoryResult? memory = o.MemoryEpochs > 0 && !stop.IsCancellationRequested ? Memory(o, log, failed, stop) : null;

        bool referenceBlas = peerInfo?.ReferenceBlas == true;
        var results = selected.Where(c => measured.ContainsKey(c.Name)).Select(c => Result(measured[c.Name], limit, referenceBlas)).ToList();
        results = BenchReport.WithFloors(results);
        // The trainer's overhead: trainer cases against their raw loops (not KD against the student alone).
        var overheads = results.Where(r => r.VsBaselinePct is not null && r.Baseline!.EndsWith("-loop", StringComparison.Ordinal))
            .Select(r => r.VsBaselinePct!.Value).ToList();
        double? peerLimit = g?.PeerMs is double pg ? gemm.FlopsPerStep!.Value / (pg * 1e6) : null;
        return new BenchReport(
            DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture), o.Command,
            Machine(peerInfo, load), threads, limit, peerLimit, results,
            overheads.Count > 0 ? overheads.Max() : null, memory?.GrowthPct, memory?.LeakedTensors,
            StandardCases.PeakRssMb(), wall.Elapsed.TotalSeconds)
        { Failed = failed, Partial = stop.IsCancellationRequested, Data = data.FashionSource };
    }

    static MemoryResult? Memory(BenchOptions o, TextWriter log, List<BenchFailure> failed, CancellationToken stop)
    {
        log.Write($"  {"memory run (" + o.MemoryEpochs + " epochs)",-40}");
        try
        {
            var memory = MemoryProbe.Run(o.MemoryEpochs, o.MemorySamples, stop);
            log.WriteLine($" RSS {memory.RssMbPerEpoch[1]:F0} → {memory.RssMbPerEpoch[^1]:F0} MB ({memory.GrowthPct:+0.0;-0.0;0.0} %), leaked tensors {memory.LeakedTensors}");
            return memory;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            log.WriteLine(" interrupted");
            return null;
        }
        // A damaged Fashion-MNIST too (the run reads it): it ended the bench after every case was measured, with no table.
        catch (Exception e) when (e is InvalidOperationException or IOException or Distill.Data.DatasetException)
        {
            log.WriteLine($" FAILED: {e.Message}");
            failed.Add(new BenchFailure(MemoryRun, e.Message));
            return null;
        }
    }

    /// <summary>The memory run's name where it fails (<see cref="BenchReport.Failed"/>).</summary>
    public const string MemoryRun = "memory-run";

    static PeerProcess StartPeer(PeerOptions o, int threads, TextWriter log)
    {
        log.WriteLine($"  peer: {o.Python} {o.Script}");
        if (TorchRuntime.OmpWaitPolicy.Equals("ACTIVE", StringComparison.OrdinalIgnoreCase))
            log.WriteLine("  warning: OMP_WAIT_POLICY=ACTIVE keeps this process's idle OpenMP threads spinning while the peer runs, " +
                          "which slows the peer; compare with the default (PASSIVE).");
        var peer = Peer.Start(o, threads, log);
        log.WriteLine($"  peer: {peer.Info.Summary}");
        if (peer.Info.ReferenceBlas)
            log.WriteLine($"  warning: the peer's torch runs on the reference BLAS ({peer.Info.Blas}), ~50x slower at GEMM than with OpenBLAS: " +
                          "its times judge nothing, so no target gets a verdict against it; install libopenblas0-pthread (docs/performance.md, the PyTorch peer).");
        return peer;
    }

    /// <summary>One case's rounds: ours, and the peer's (null when the peer has no such case or did not run).</summary>
    sealed record Measured(BenchCase Case, Timing Ours, IReadOnlyList<double> RoundMs, int StepsPerRound, double? PeerMs,
        IReadOnlyList<double>? PeerRoundMs, RatioInterval? VsPeer, RatioInterval? VsBaseline);

    static List<Measured> RunGroup(IReadOnlyList<BenchCase> group, TimingBudget budget, PeerProcess? peer, TextWriter log, CancellationToken stop)
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
            r = Rounds.Interleave([.. ours, .. peers], budget, i => i < ours.Count, stop);
        }
        finally
        {
            // Every side is closed even when one cannot be (a dead peer cannot drop its case): our cases' threads must end.
            foreach (var side in peers.Cast<IRoundSide>().Concat(ours).Reverse())
                try { side.Dispose(); }
                catch (InvalidOperationException) { }
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

    static BenchCaseResult Result(Measured m, double? limit, bool referenceBlas)
    {
        var (c, t) = (m.Case, m.Ours);
        double? gflops = c.FlopsPerStep / (t.MedianMs * 1e6);
        Verdict? peerVerdict = m.VsPeer is { } vp && c.PeerTarget is { } pt && !referenceBlas ? pt.Judge(vp) : null;
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
            PeerVerdict = peerVerdict is { } pv ? BenchReport.Text(pv) : m.VsPeer is not null && c.PeerTarget is not null ? NoVerdictOnReferenceBlas : null,
            VsBaselineLowPct = m.VsBaseline is { } l ? (l.Low - 1) * 100 : null,
            VsBaselineHighPct = m.VsBaseline is { } h ? (h.High - 1) * 100 : null,
            VsBaselineNoisy = m.VsBaseline?.Noisy,
            BaselineTarget = m.VsBaseline is null ? null : c.BaselineTarget?.Text,
            BaselineVerdict = baselineVerdict is { } bv ? BenchReport.Text(bv) : null,
            PageFaultsPerStep = t.FaultsPerStep,
            Floor = c.Floor,
        };
        return peerVerdict == Verdict.NotMet || baselineVerdict == Verdict.NotMet
            ? result with { Why = BenchReport.Evidence(result, TorchRuntime.Threads) }
            : result;
    }

    /// <summary>A peer on the reference BLAS is ~50x slower at GEMM than it would be: beating it says nothing.</summary>
    public const string NoVerdictOnReferenceBlas = "no verdict: the peer runs on the reference BLAS (apt-get install libopenblas0-pthread)";

    static string? LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    static MachineInfo Machine(PeerInfo? peer, string? load) => new(
        CpuInfo.ModelName(), Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
        TorchRuntime.TorchSharpVersion, torch.__version__, MklCpuDispatch.Status, OneDnnIsa.Status, TorchRuntime.OmpWaitPolicy, peer, load, MallocSettings(),
        Git.BuildCommit, Git.BuildDirty);

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
