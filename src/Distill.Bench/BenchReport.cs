using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Distill.Bench;

/// <summary>Where and with what the numbers were taken (the peer's torch build and OpenBLAS kernel in
/// <see cref="Peer"/>), the machine's load average at the start, and the glibc malloc settings in force
/// (<c>MALLOC_*</c> variables, which the peer inherits: they change step times by up to 2x, docs/performance.md), and
/// the commit the library was built from, with whether that build had uncommitted changes (null: not known).</summary>
public sealed record MachineInfo(string Cpu, int Cores, string Os, string Dotnet, string TorchSharp, string Libtorch,
    string MklDispatch, string OneDnnIsa, string OmpWaitPolicy, PeerInfo? Peer, string? LoadAverage = null, string? Malloc = null,
    string? Commit = null, bool? Dirty = null);

/// <summary>
/// One case: our step time over all its rounds (median, p10-p90), throughput, achieved GFLOP/s and its share of the
/// GEMM limit, tensors left alive per step; against the peer, <see cref="Ratio"/> = the median of the per-round
/// ratios ours/peer with its 95 % bootstrap interval (<see cref="RatioLow"/>-<see cref="RatioHigh"/>); against
/// <see cref="Baseline"/>, run in the same rounds, <see cref="VsBaselinePct"/> (+12 = 12 % slower than the baseline)
/// with its interval. A noisy ratio (interval beyond ±10 % of its median) gets no verdict against its target.
/// </summary>
public sealed record BenchCaseResult(string Name, string Description, double OursMs, double OursP10Ms, double OursP90Ms,
    int Steps, double CpuMs, double SamplesPerS, double? Gflops, double? PctOfLimit, double LeakedTensorsPerStep,
    double? PeerMs, double? Ratio, string? Baseline, double? VsBaselinePct)
{
    public int Rounds { get; init; }
    public int StepsPerRound { get; init; }
    /// <summary>Our time per step in each round (the round's mean), in round order.</summary>
    public IReadOnlyList<double> RoundMs { get; init; } = [];
    public IReadOnlyList<double>? PeerRoundMs { get; init; }
    public double? RatioLow { get; init; }
    public double? RatioHigh { get; init; }
    public bool? RatioNoisy { get; init; }
    public string? PeerTarget { get; init; }
    public string? PeerVerdict { get; init; }
    public double? VsBaselineLowPct { get; init; }
    public double? VsBaselineHighPct { get; init; }
    public bool? VsBaselineNoisy { get; init; }
    public string? BaselineTarget { get; init; }
    public string? BaselineVerdict { get; init; }
    /// <summary>Minor page faults of the whole process per step (first touches of fresh memory); null when unknown.</summary>
    public double? PageFaultsPerStep { get; init; }
    /// <summary>True for a case that is its baseline's floor (<see cref="BenchCase.Floor"/>).</summary>
    public bool Floor { get; init; }
    /// <summary>For a case that misses a target: what its own measurement shows about where the time went
    /// (<see cref="BenchReport.Evidence"/>); null otherwise.</summary>
    public string? Why { get; init; }
}

/// <summary>A case (or the memory run) that failed, and why; its group's numbers are missing from the report.</summary>
public sealed record BenchFailure(string Case, string Error);

/// <summary>A whole run; <see cref="ToJson"/> writes the schema of docs/performance.md. <see cref="MatmulGflops"/> is null
/// when the GEMM limit was not measured (it failed, or the run was interrupted first).</summary>
public sealed record BenchReport(string Date, string Command, MachineInfo Machine, int Threads, double? MatmulGflops,
    double? PeerMatmulGflops, IReadOnlyList<BenchCaseResult> Cases, double? OverheadPct, double? RssGrowthPct,
    long? LeakedTensors, double PeakRssMb, double WallSeconds)
{
    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new FiniteOrNull() },
    };

    /// <summary>Cases whose group failed (the others were measured), with the error.</summary>
    public IReadOnlyList<BenchFailure> Failed { get; init; } = [];

    /// <summary>The run was interrupted (SIGINT, SIGTERM): the report holds the cases measured before.</summary>
    public bool Partial { get; init; }

    /// <summary>What the Fashion-MNIST cases read (<see cref="BenchData.FashionSource"/>); null when none ran.</summary>
    public string? Data { get; init; }

    /// <summary>A NaN or infinity (a ratio over a zero time) is written as null: readers of the documented schema take
    /// numbers, and "NaN" strings broke them.</summary>
    sealed class FiniteOrNull : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }

    /// <summary>Wall time of the 4-run sweep with --jobs 2 at 1 thread each over the same runs one after another at 2
    /// threads each (<see cref="SweepCases"/>); issue 16's target is at most 0.65. Null when the cases did not run.</summary>
    public double? SweepRatio =>
        Cases.FirstOrDefault(c => c.Name == SweepCases.Parallel) is { } p && Cases.FirstOrDefault(c => c.Name == SweepCases.Sequential) is { } q
            ? p.OursMs / q.OursMs : null;

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Whether <paramref name="path"/> begins as a report of <see cref="ToJson"/> does (its first fields, "date"
    /// and "command"): what --json may overwrite. Its head alone, so a report cut short by a failed write is still one,
    /// and a large file of another kind is not read whole to be refused.</summary>
    public static bool IsReportFile(string path)
    {
        var head = new char[2048];
        using var reader = new StreamReader(path);
        var text = new string(head, 0, reader.ReadBlock(head, 0, head.Length)).TrimStart();
        return text.StartsWith('{') && text.Contains("\"date\"", StringComparison.Ordinal) && text.Contains("\"command\"", StringComparison.Ordinal);
    }

    public static BenchReport FromJson(string json) =>
        JsonSerializer.Deserialize<BenchReport>(json, Json) ?? throw new JsonException("empty benchmark report");

    /// <summary>A Markdown table (readable in a terminal too).</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine(($"{Machine.Cpu}, {Threads} threads; GEMM limit {Opt(MatmulGflops, "F0")} GFLOP/s" +
                       (PeerMatmulGflops is double p ? $" (peer {p:F0})" : "") +
                       (Machine.LoadAverage is { } load ? $"; load average at the start {load}" : "") +
                       (Machine.Malloc is { } malloc ? $"; malloc: {malloc}" : "")));
        sb.AppendLine($"TorchSharp {Machine.TorchSharp}, libtorch {Machine.Libtorch}, {Machine.Dotnet}; commit {Machine.Commit ?? "unknown"}" +
                      (Machine.Dirty switch { true => " (dirty build)", false => " (clean build)", null => "" }));
        if (Machine.Peer is { } peer) sb.AppendLine($"peer: {peer.Summary}");
        if (Data is { } data) sb.AppendLine($"data: {data}");
        sb.AppendLine("| case | ours ms (p10-p90) | rounds×steps | cpu ms | GFLOP/s | % of limit | leak/step | peer ms | ours/peer [95 %] | vs peer target | vs baseline [95 %] | vs baseline target |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var c in Cases)
            sb.AppendLine(($"| {c.Name} | {c.OursMs:F2} ({c.OursP10Ms:F2}-{c.OursP90Ms:F2}) | {c.Rounds}×{c.StepsPerRound} | {c.CpuMs:F2} | " +
                           $"{Opt(c.Gflops, "F0")} | {Opt(c.PctOfLimit, "F0")} | {c.LeakedTensorsPerStep:0.##} | {Opt(c.PeerMs, "F2")} | " +
                           (c.Ratio is double r ? $"{r:F2} [{c.RatioLow:F2}-{c.RatioHigh:F2}]{(c.RatioNoisy == true ? " noisy" : "")}" : "-") + " | " +
                           (c.PeerTarget is null ? "" : $"{c.PeerTarget}: {c.PeerVerdict}") + " | " +
                           (c.VsBaselinePct is double v ? $"{v:+0.0;-0.0;0.0} % [{c.VsBaselineLowPct:+0.0;-0.0;0.0}, {c.VsBaselineHighPct:+0.0;-0.0;0.0}]{(c.VsBaselineNoisy == true ? " noisy" : "")} vs {c.Baseline}" : "") + " | " +
                           (c.BaselineTarget is null ? "" : $"{c.BaselineTarget}: {c.BaselineVerdict}") + " |"));
        sb.AppendLine(($"trainer overhead vs raw loop (largest median): {Opt(OverheadPct, "F1")} %; RSS growth epoch 2→last: " +
                       $"{Opt(RssGrowthPct, "F1")} %; tensors leaked: {(LeakedTensors?.ToString(CultureInfo.InvariantCulture) ?? "-")}; " +
                       $"peak RSS {PeakRssMb:F0} MB; {WallSeconds:F0} s"));
        foreach (var c in Cases.Where(c => c.Why is not null))
            sb.AppendLine(CultureInfo.InvariantCulture, $"why {c.Name} misses its target: {c.Why}");
        foreach (var f in Failed)
            sb.AppendLine(CultureInfo.InvariantCulture, $"FAILED {f.Case}: {f.Error}");
        if (Partial)
            sb.AppendLine("partial: the run was interrupted; the cases above are those measured before");
        if (SweepRatio is double sweep)
            sb.AppendLine(CultureInfo.InvariantCulture, $"sweep of 4 runs, --jobs 2 × 1 thread / one after another × 2 threads: {sweep:F2}× wall time (target ≤ 0.65×)");
        return sb.ToString();
    }

    /// <summary>
    /// The case's own profile, for a missed target: how many of the threads were busy (CPU over wall: below the thread
    /// count means waiting, on the machine or on serial work between parallel ops), how much of the GEMM limit its
    /// FLOPs reached, and how much fresh memory it touched per step (page faults × 4 KiB: each fault is a kernel entry,
    /// and allocation churn, not arithmetic, was what decided the conv cases here; docs/performance.md).
    /// </summary>
    public static string Evidence(BenchCaseResult c, int threadsUsed)
    {
        ArgumentNullException.ThrowIfNull(c);
        var parts = new List<string>();
        if (c.OursMs > 0 && c.CpuMs > 0)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{c.CpuMs / c.OursMs:F2} of {threadsUsed} threads busy (cpu {c.CpuMs:F1} ms over wall {c.OursMs:F1} ms)"));
        if (c.PctOfLimit is double pct)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{pct:F0} % of the GEMM limit"));
        if (c.PageFaultsPerStep is double f)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{f:F0} page faults a step ({f * 4096 / (1 << 20):F1} MiB of fresh memory)"));
        if (c.Ratio is double r && c.PeerMs is double peer)
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"the peer's step {peer:F1} ms against ours {c.OursMs:F1} ms (ours/peer {r:F2})"));
        return parts.Count > 0 ? string.Join("; ", parts) : "no profile recorded for this case";
    }

    /// <summary>The cases, each that misses its target (has a <see cref="BenchCaseResult.Why"/>) with how close it is to
    /// its floor (<see cref="Floor"/>) appended, when the floor ran beside it.</summary>
    public static List<BenchCaseResult> WithFloors(IReadOnlyList<BenchCaseResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        return results.Select(r => r.Why is not null && results.FirstOrDefault(f => f.Floor && f.Baseline == r.Name) is { } floor
            ? r with { Why = $"{r.Why}; {Floor(r, floor)}" } : r).ToList();
    }

    /// <summary>How close a case that misses its target is to its floor (the same step's GEMMs alone), and the ratio
    /// against the peer it would have if everything but the GEMMs were free: when that ratio itself misses the target,
    /// no change outside the BLAS can meet it.</summary>
    public static string Floor(BenchCaseResult c, BenchCaseResult floor)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(floor);
        var text = string.Create(CultureInfo.InvariantCulture,
            $"its GEMMs alone ({floor.Name}: the same shapes back to back, nothing else) take {floor.OursMs:F2} ms, {floor.OursMs / c.OursMs * 100:F0} % of its step");
        return c.PeerMs is double peer
            ? text + string.Create(CultureInfo.InvariantCulture, $", so with every other op free ours/peer would still be {floor.OursMs / peer:F2}")
            : text;
    }

    /// <summary>How a verdict reads in the report.</summary>
    public static string Text(Verdict v) => v switch
    {
        Verdict.Met => "met",
        Verdict.NotMet => "NOT met",
        Verdict.Undecided => "undecided (interval holds the target)",
        _ => "noisy: no verdict",
    };

    static string Opt(double? v, string format) => v is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "-";
}
