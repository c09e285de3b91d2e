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

    /// <summary>One row per method: what it is, the settings it ran with, where they differ from the reference
    /// implementation and why, and its training cost per step (median over its epochs and seeds, at the config's batch size).</summary>
    public static DataFrame Methods(this ComparisonResult result)
    {
        var c = result.Config;
        var choices = c.Methods.Select(m => Comparison.Choice(m, c)).ToList();
        double? MsPerStep(string run)
        {
            var rates = result.Trainings.Where(t => t.Name == run).SelectMany(t => t.History).Select(h => h.SamplesPerSecond).Where(r => r > 0).Order().ToList();
            return rates.Count == 0 ? null : Math.Round(1000.0 * c.BatchSize / rates[rates.Count / 2], 2);
        }
        return new DataFrame(
            new StringDataFrameColumn("method", choices.Select(x => x.Method.Name)),
            new StringDataFrameColumn("kind", choices.Select(x => x.Method.Kind.ToString().ToLowerInvariant())),
            new StringDataFrameColumn("paper", choices.Select(x => x.Method.Paper?.ToString() ?? "")),
            new StringDataFrameColumn("settings", choices.Select(x => string.Join(", ", x.Settings.All.Where(kv => kv.Value.Length > 0).Select(kv => $"{kv.Key}={kv.Value}")))),
            new StringDataFrameColumn("differs from the reference code", choices.Select(x => x.Method.WeightNote ?? "")),
            new DoubleDataFrameColumn("train ms / step", choices.Select(x => MsPerStep(x.Method.Name))));
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
