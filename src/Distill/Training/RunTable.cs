using Microsoft.Data.Analysis;

namespace Distill.Training;

/// <summary>One run's summary: a row of a results table. Accuracies in percent.</summary>
public sealed record RunRow(string Name, int Seed, double BestAccuracy, double LastAccuracy, int BestEpoch, long Parameters, string? Warning = null);

/// <summary>Mean ± sample standard deviation (n − 1) of a group of runs with the same name.</summary>
public sealed record RunSummary(string Name, int Runs, double BestMean, double BestStd, double LastMean, double LastStd, long Parameters)
{
    public string Best => $"{BestMean:F2} ± {BestStd:F2}";
    public string Last => $"{LastMean:F2} ± {LastStd:F2}";
    public override string ToString() => $"{Name}: best {Best}, last {Last} ({Runs} seed{(Runs == 1 ? "" : "s")})";
}

/// <summary>
/// Per-run rows of an experiment (one per name and seed), kept in full, plus mean ± std per name. Use
/// <see cref="ToDataFrame"/> / <see cref="SummaryFrame"/> in notebooks.
/// </summary>
public sealed class RunTable
{
    readonly List<RunRow> rows = [];

    public IReadOnlyList<RunRow> Rows => rows;

    public RunTable Add(RunRow row) { rows.Add(row); return this; }
    public RunTable Add(TrainResult result) => Add(result.Row);
    public RunTable AddRange(IEnumerable<RunRow> more) { rows.AddRange(more); return this; }

    /// <summary>Runs <paramref name="run"/> once per seed and keeps every row.</summary>
    public static RunTable OverSeeds(IEnumerable<int> seeds, Func<int, TrainResult> run)
    {
        var table = new RunTable();
        foreach (var seed in seeds) table.Add(run(seed));
        return table;
    }

    /// <summary>Per name, in first-appearance order.</summary>
    public IReadOnlyList<RunSummary> Summary() =>
        [.. rows.GroupBy(r => r.Name).Select(g =>
        {
            var best = g.Select(r => r.BestAccuracy).ToArray();
            var last = g.Select(r => r.LastAccuracy).ToArray();
            return new RunSummary(g.Key, best.Length, best.Average(), Std(best), last.Average(), Std(last), g.First().Parameters);
        })];

    public RunSummary this[string name] => Summary().FirstOrDefault(s => s.Name == name)
        ?? throw new KeyNotFoundException($"No runs named '{name}'; the table has: {string.Join(", ", rows.Select(r => r.Name).Distinct())}.");

    /// <summary>Sample standard deviation (n − 1); 0 for a single run.</summary>
    public static double Std(IReadOnlyList<double> xs)
    {
        if (xs.Count < 2) return 0;
        var mean = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1));
    }

    public DataFrame ToDataFrame()
    {
        var df = new DataFrame(
            new StringDataFrameColumn("name", rows.Select(r => r.Name)),
            new Int32DataFrameColumn("seed", rows.Select(r => r.Seed)),
            new DoubleDataFrameColumn("best_acc", rows.Select(r => r.BestAccuracy)),
            new DoubleDataFrameColumn("last_acc", rows.Select(r => r.LastAccuracy)),
            new Int32DataFrameColumn("best_epoch", rows.Select(r => r.BestEpoch)),
            new Int64DataFrameColumn("params", rows.Select(r => r.Parameters)));
        // Only when a run raised one: a diverged run must not pass for a merely bad one.
        if (rows.Any(r => r.Warning is not null)) df.Columns.Add(new StringDataFrameColumn("warning", rows.Select(r => r.Warning ?? "")));
        return df;
    }

    public DataFrame SummaryFrame()
    {
        var s = Summary();
        return new DataFrame(
            new StringDataFrameColumn("name", s.Select(r => r.Name)),
            new Int32DataFrameColumn("seeds", s.Select(r => r.Runs)),
            new DoubleDataFrameColumn("best_mean", s.Select(r => r.BestMean)),
            new DoubleDataFrameColumn("best_std", s.Select(r => r.BestStd)),
            new DoubleDataFrameColumn("last_mean", s.Select(r => r.LastMean)),
            new DoubleDataFrameColumn("last_std", s.Select(r => r.LastStd)),
            new Int64DataFrameColumn("params", s.Select(r => r.Parameters)));
    }

    public override string ToString() => string.Join(Environment.NewLine, Summary());
}
