
namespace Distill.Training;

/// <summary>One loss term's mean value over an epoch's training batches (unweighted).</summary>
public sealed record TermLoss(string Name, double Value);

/// <summary>What one epoch did. Accuracies are percentages (0-100); losses are means over the epoch's samples.</summary>
public sealed record EpochMetrics(
    int Epoch,
    double LearningRate,
    double TrainLoss,
    IReadOnlyList<TermLoss> TermLosses,
    double TrainAccuracy,
    double? ValidationAccuracy,
    double TestAccuracy,
    double Seconds,
    double SamplesPerSecond,
    string? Flag = null);

/// <summary>One training run: its per-epoch history and the summary numbers papers report.</summary>
public sealed class TrainResult
{
    public required string Name { get; init; }
    public required int Seed { get; init; }
    public required long Parameters { get; init; }
    public required IReadOnlyList<EpochMetrics> History { get; init; }
    public required TeacherSource Teacher { get; init; }
    /// <summary>SHA-256 of the student's final weights (<see cref="TensorDigest.Weights"/>).</summary>
    public string? WeightsSha256 { get; init; }

    /// <summary>Epoch (1-based) of the best accuracy: on validation when a validation split exists, else on test.</summary>
    public int BestEpoch => Best.Epoch;
    /// <summary>Test accuracy (%) at <see cref="BestEpoch"/>.</summary>
    public double BestAccuracy => Best.TestAccuracy;
    /// <summary>Test accuracy (%) after the last epoch.</summary>
    public double LastAccuracy => History[^1].TestAccuracy;

    EpochMetrics Best => History.MaxBy(m => m.ValidationAccuracy ?? m.TestAccuracy)!;

    /// <summary>The first warning raised while training (e.g. divergence), else null.</summary>
    public string? Warning => History.FirstOrDefault(m => m.Flag is not null)?.Flag;

    public RunRow Row => new(Name, Seed, BestAccuracy, LastAccuracy, BestEpoch, Parameters, Warning);

    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Name} seed {Seed}: best {BestAccuracy:F2}% (epoch {BestEpoch}), last {LastAccuracy:F2}%");
}

/// <summary>Loss-term columns of a history, shared by metrics.csv and the notebook tables.</summary>
static class MetricsTable
{
    public static IReadOnlyList<string> TermNames(IReadOnlyList<EpochMetrics> history) =>
        history.Count == 0 ? [] : [.. history[0].TermLosses.Select(t => t.Name)];

    public static double? TermValue(EpochMetrics m, string term) => m.TermLosses.FirstOrDefault(t => t.Name == term)?.Value;
}
