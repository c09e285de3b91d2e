using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Distill.Bench;

/// <summary>Where and with what the numbers were taken.</summary>
public sealed record MachineInfo(string Cpu, int Cores, string Os, string Dotnet, string TorchSharp, string Libtorch,
    string MklDispatch, string OneDnnIsa, string OmpWaitPolicy, string? Peer);

/// <summary>One case: our median step time with its p10-p90 spread, throughput, achieved GFLOP/s and its share of
/// the GEMM limit, tensors left alive per step, the peer's median when it ran (<see cref="Ratio"/> = ours/peer), and
/// the time against <see cref="Baseline"/> (+12 = 12 % slower than the baseline case).</summary>
public sealed record BenchCaseResult(string Name, string Description, double OursMs, double OursP10Ms, double OursP90Ms,
    int Steps, double CpuMs, double SamplesPerS, double? Gflops, double? PctOfLimit, double LeakedTensorsPerStep,
    double? PeerMs, double? Ratio, string? Baseline, double? VsBaselinePct);

/// <summary>A whole run; <see cref="ToJson"/> writes the schema of docs/performance.md.</summary>
public sealed record BenchReport(string Date, string Command, MachineInfo Machine, int Threads, double MatmulGflops,
    double? PeerMatmulGflops, IReadOnlyList<BenchCaseResult> Cases, double? OverheadPct, double? RssGrowthPct,
    long? LeakedTensors, double PeakRssMb, double WallSeconds)
{
    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Wall time of the 4-run sweep with --jobs 2 at 1 thread each over the same runs one after another at 2
    /// threads each (<see cref="SweepCases"/>); issue 16's target is at most 0.65. Null when the cases did not run.</summary>
    public double? SweepRatio =>
        Cases.FirstOrDefault(c => c.Name == SweepCases.Parallel) is { } p && Cases.FirstOrDefault(c => c.Name == SweepCases.Sequential) is { } q
            ? p.OursMs / q.OursMs : null;

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static BenchReport FromJson(string json) =>
        JsonSerializer.Deserialize<BenchReport>(json, Json) ?? throw new JsonException("empty benchmark report");

    /// <summary>A Markdown table (readable in a terminal too).</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine(($"{Machine.Cpu}, {Threads} threads; GEMM limit {MatmulGflops:F0} GFLOP/s" +
                          (PeerMatmulGflops is double p ? ($" (peer {p:F0})") : "")));
        sb.AppendLine("| case | ours ms (p10-p90) | cpu ms | samples/s | GFLOP/s | % of limit | leak/step | peer ms | ours/peer | vs baseline |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var c in Cases)
            sb.AppendLine(($"| {c.Name} | {c.OursMs:F2} ({c.OursP10Ms:F2}-{c.OursP90Ms:F2}) | {c.CpuMs:F2} | {c.SamplesPerS:F0} | " +
                              $"{Opt(c.Gflops, "F0")} | {Opt(c.PctOfLimit, "F0")} | {c.LeakedTensorsPerStep:0.##} | " +
                              $"{Opt(c.PeerMs, "F2")} | {Opt(c.Ratio, "F2")} | " +
                              (c.VsBaselinePct is double v ? $"{v:+0.0;-0.0} % vs {c.Baseline}" : "") + " |"));
        sb.AppendLine(($"trainer overhead vs raw loop: {Opt(OverheadPct, "F1")} %; RSS growth epoch 2→last: " +
                          $"{Opt(RssGrowthPct, "F1")} %; tensors leaked: {(LeakedTensors?.ToString(CultureInfo.InvariantCulture) ?? "-")}; " +
                          $"peak RSS {PeakRssMb:F0} MB; {WallSeconds:F0} s"));
        if (SweepRatio is double r)
            sb.AppendLine(CultureInfo.InvariantCulture, $"sweep of 4 runs, --jobs 2 × 1 thread / one after another × 2 threads: {r:F2}× wall time (target ≤ 0.65×)");
        return sb.ToString();
    }

    static string Opt(double? v, string format) => v is double d ? d.ToString(format, CultureInfo.InvariantCulture) : "-";
}
