using System.Text.Json;
using Distill.Deploy;
using Distill.Experiments;
using Distill.Reporting;

namespace Distill.Tests.Deploy;

/// <summary>07-deployment's choices and verdicts, on made-up rows (the notebook smoke test runs the real thing).</summary>
public class DeploymentTests
{
    static ResultRow Gain(string method, double gain, string verdict, string budget = "quick") =>
        new("comparison", $"{method} beats training from scratch", "setting", "gain (pts)", gain, 0.5, 3, "paper", verdict, budget);

    static void Write(string path, params ResultRow[] rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(r)));
    }

    [Fact]
    public void The_best_method_of_05_is_the_largest_gain_beyond_noise_in_this_reproductions_rows()
    {
        using var dir = new TempDir();
        Write(Path.Combine(dir.Path, "05-comparison", "results.jsonl"),
            Gain("kd", -2, "not reproduced at this budget"),
            Gain("rkd", 3, "partly: same direction, within seed noise"), // larger, but within noise
            Gain("pkt", 1.2, "reproduced: the gain stands beyond seed noise"),
            Gain("dkd", 1.7, "reproduced: the gain stands beyond seed noise"),
            Gain("sp", 9, "reproduced: the gain stands beyond seed noise", budget: "smoke")); // another budget
        var (method, reason) = DeploymentConfig.BestOf05(Budget.Quick, Path.Combine(dir.Path, "07-deployment", "results.jsonl"));
        Assert.Equal("dkd", method);
        Assert.Contains("this reproduction's 05-comparison rows", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_this_runs_rows_the_committed_quick_record_decides()
    {
        using var dir = new TempDir();
        var (method, reason) = DeploymentConfig.BestOf05(Budget.Smoke, Path.Combine(dir.Path, "07-deployment", "results.jsonl"));
        // docs/runs/quick-05-comparison.results.jsonl: SP +1.91 and DKD +1.44 stand beyond noise.
        Assert.Equal("sp", method);
        Assert.Contains("quick-05-comparison.results.jsonl", reason, StringComparison.Ordinal);
    }

    static DeployRow Row(string name, double[] acc, double latencyMs) =>
        new(name, "cnn", "float32", acc, 1000, 1000, 4000, "x.onnx", [latencyMs, latencyMs], latencyMs, null);

    static DeploymentResult Result(params DeployRow[] rows)
    {
        var config = new DeploymentConfig { Pair = ComparisonConfig.For(Budget.Smoke), BestMethod = ("dkd", "test") };
        var r = new DeploymentResult { Config = config, Training = new ComparisonResult { Config = config.Pair } };
        r.Rows.AddRange(rows);
        return r;
    }

    [Fact]
    public void A_faster_student_within_accuracy_noise_is_the_better_point_and_a_slower_less_accurate_one_is_not()
    {
        var r = Result(
            Row(Deployment.Kd, [85.0, 85.4, 84.6], 0.05),
            Row(Deployment.Int8Teacher, [85.2, 84.8, 85.0], 0.30),
            Row("teacher, 50% channels pruned", [88.0, 88.2, 87.8], 0.04));
        Assert.StartsWith("yes: the student is as accurate (within noise)", Deployment.Against(r, Deployment.Kd, Deployment.Int8Teacher).Verdict, StringComparison.Ordinal);
        var (gap, _, verdict) = Deployment.Against(r, Deployment.Kd, "teacher, 50% channels pruned");
        Assert.Equal(-3, gap, 9);
        Assert.StartsWith("no: the compressed teacher is more accurate", verdict, StringComparison.Ordinal);
        Assert.Equal(new[] { Deployment.Int8Teacher, "teacher, 50% channels pruned" }, Deployment.CompressedTeachers(r));
    }

    [Fact]
    public void The_int8_cost_is_paired_per_seed_against_the_teachers()
    {
        var r = Result(
            Row(Deployment.Teacher, [90.0], 0.3),
            Row(Deployment.Int8Teacher, [89.9, 89.8, 90.0], 0.2),  // drops 0.1, 0.2, 0.0
            Row(Deployment.Kd, [85.0, 84.0, 86.0], 0.05),
            Row(Deployment.Int8Kd, [84.0, 82.9, 85.1], 0.04));     // drops 1.0, 1.1, 0.9
        var (extra, _, verdict) = Deployment.Int8Cost(r);
        Assert.Equal(0.9, extra, 9);
        Assert.StartsWith("yes, beyond seed noise", verdict, StringComparison.Ordinal);
        Assert.Equal(0.2 / 0.3, Deployment.Int8LatencyRatio(r), 9);
    }
}
