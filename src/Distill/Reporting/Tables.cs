using Distill.Experiments;
using Distill.Training;
using Microsoft.Data.Analysis;

namespace Distill.Reporting;

/// <summary>
/// The notebook tables (DataFrames) of training and experiment results. They live here, with the charts, so Training
/// and Experiments hold results and Reporting decides how they look; notebooks call them as before
/// (<c>result.SummaryFrame()</c>, <c>comparison.Table()</c>) through <c>using Distill.Reporting;</c>.
/// </summary>
public static class Tables
{
    /// <summary>One row per run; a "warning" column appears when a run raised one (a diverged run must not pass for a
    /// merely bad one).</summary>
    public static DataFrame ToDataFrame(this RunTable table)
    {
        var rows = table.Rows;
        var df = new DataFrame(
            new StringDataFrameColumn("name", rows.Select(r => r.Name)),
            new Int32DataFrameColumn("seed", rows.Select(r => r.Seed)),
            new DoubleDataFrameColumn("best_acc", rows.Select(r => r.BestAccuracy)),
            new DoubleDataFrameColumn("last_acc", rows.Select(r => r.LastAccuracy)),
            new Int32DataFrameColumn("best_epoch", rows.Select(r => r.BestEpoch)),
            new Int64DataFrameColumn("params", rows.Select(r => r.Parameters)));
        if (rows.Any(r => r.Warning is not null)) df.Columns.Add(new StringDataFrameColumn("warning", rows.Select(r => r.Warning ?? "")));
        return df;
    }

    /// <summary>Mean ± std per run name.</summary>
    public static DataFrame SummaryFrame(this RunTable table)
    {
        var s = table.Summary();
        return new DataFrame(
            new StringDataFrameColumn("name", s.Select(r => r.Name)),
            new Int32DataFrameColumn("seeds", s.Select(r => r.Runs)),
            new DoubleDataFrameColumn("best_mean", s.Select(r => r.BestMean)),
            new DoubleDataFrameColumn("best_std", s.Select(r => r.BestStd)),
            new DoubleDataFrameColumn("last_mean", s.Select(r => r.LastMean)),
            new DoubleDataFrameColumn("last_std", s.Select(r => r.LastStd)),
            new Int64DataFrameColumn("params", s.Select(r => r.Parameters)));
    }

    /// <summary>One row per run.</summary>
    public static DataFrame ToDataFrame(this ExperimentResult result) => result.Runs.ToDataFrame();

    /// <summary>Mean ± std per run name.</summary>
    public static DataFrame SummaryFrame(this ExperimentResult result) => result.Runs.SummaryFrame();

    /// <summary>One row per method: accuracy mean ± std over seeds, parameters, CPU latency per image.</summary>
    public static DataFrame Table(this ComparisonResult result)
    {
        var s = result.Runs.Summary();
        return new DataFrame(
            new StringDataFrameColumn("method", s.Select(r => r.Name)),
            new Int32DataFrameColumn("seeds", s.Select(r => r.Runs)),
            new StringDataFrameColumn("best acc % (mean ± std)", s.Select(r => r.Best)),
            new Int64DataFrameColumn("params", s.Select(r => r.Parameters)),
            new DoubleDataFrameColumn("CPU ms / image", s.Select(r => result.LatencyMs.TryGetValue(r.Name, out var ms) ? Math.Round(ms, 3) : (double?)null)));
    }

    /// <summary>The per-epoch history as a table (one row per epoch, one column per loss term).</summary>
    public static DataFrame ToDataFrame(this TrainResult result)
    {
        var history = result.History;
        var columns = new List<DataFrameColumn>
        {
            new Int32DataFrameColumn("epoch", history.Select(m => m.Epoch)),
            new DoubleDataFrameColumn("lr", history.Select(m => m.LearningRate)),
            new DoubleDataFrameColumn("train_loss", history.Select(m => m.TrainLoss)),
        };
        foreach (var term in MetricsTable.TermNames(history))
            columns.Add(new DoubleDataFrameColumn($"loss_{term}", history.Select(m => MetricsTable.TermValue(m, term))));
        columns.Add(new DoubleDataFrameColumn("train_acc", history.Select(m => m.TrainAccuracy)));
        if (history.Any(m => m.ValidationAccuracy is not null))
            columns.Add(new DoubleDataFrameColumn("val_acc", history.Select(m => m.ValidationAccuracy)));
        columns.Add(new DoubleDataFrameColumn("test_acc", history.Select(m => m.TestAccuracy)));
        columns.Add(new DoubleDataFrameColumn("seconds", history.Select(m => m.Seconds)));
        columns.Add(new DoubleDataFrameColumn("samples_per_s", history.Select(m => m.SamplesPerSecond)));
        return new DataFrame(columns);
    }
}
