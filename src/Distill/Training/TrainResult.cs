using Microsoft.Data.Analysis;

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

    /// <summary>The per-epoch history as a table (one row per epoch, one column per loss term).</summary>
    public DataFrame ToDataFrame() => MetricsTable.History(History);

    public override string ToString() => $"{Name} seed {Seed}: best {BestAccuracy:F2}% (epoch {BestEpoch}), last {LastAccuracy:F2}%";
}

static class MetricsTable
{
    public static DataFrame History(IReadOnlyList<EpochMetrics> history)
    {
        var columns = new List<DataFrameColumn>
        {
            new Int32DataFrameColumn("epoch", history.Select(m => m.Epoch)),
            new DoubleDataFrameColumn("lr", history.Select(m => m.LearningRate)),
            new DoubleDataFrameColumn("train_loss", history.Select(m => m.TrainLoss)),
        };
        foreach (var term in TermNames(history))
            columns.Add(new DoubleDataFrameColumn($"loss_{term}", history.Select(m => TermValue(m, term))));
        columns.Add(new DoubleDataFrameColumn("train_acc", history.Select(m => m.TrainAccuracy)));
        if (history.Any(m => m.ValidationAccuracy is not null))
            columns.Add(new DoubleDataFrameColumn("val_acc", history.Select(m => m.ValidationAccuracy)));
        columns.Add(new DoubleDataFrameColumn("test_acc", history.Select(m => m.TestAccuracy)));
        columns.Add(new DoubleDataFrameColumn("seconds", history.Select(m => m.Seconds)));
        columns.Add(new DoubleDataFrameColumn("samples_per_s", history.Select(m => m.SamplesPerSecond)));
        return new DataFrame(columns);
    }

    public static IReadOnlyList<string> TermNames(IReadOnlyList<EpochMetrics> history) =>
        history.Count == 0 ? [] : [.. history[0].TermLosses.Select(t => t.Name)];

    public static double? TermValue(EpochMetrics m, string term) => m.TermLosses.FirstOrDefault(t => t.Name == term)?.Value;
}
