
namespace Distill.Training;

/// <summary>One run's summary: a row of a results table. Accuracies in percent.</summary>
public sealed record RunRow(string Name, int Seed, double BestAccuracy, double LastAccuracy, int BestEpoch, long Parameters, string? Warning = null);

/// <summary>Mean ± sample standard deviation (n − 1) of a group of runs with the same name.</summary>
public sealed record RunSummary(string Name, int Runs, double BestMean, double BestStd, double LastMean, double LastStd, long Parameters)
{
    // Invariant, as the records, charts and formatters are: under LANG=de_DE a table showed "72,40 ± 1,25" beside "70.5".
    public string Best => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{BestMean:F2} ± {BestStd:F2}");
    public string Last => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{LastMean:F2} ± {LastStd:F2}");
    public override string ToString() => $"{Name}: best {Best}, last {Last} ({Runs} seed{(Runs == 1 ? "" : "s")})";
}

/// <summary>
/// Per-run rows of an experiment (one per name and seed), kept in full, plus mean ± std per name. Use
/// <c>ToDataFrame()</c> / <c>SummaryFrame()</c> in notebooks (Reporting.Tables).
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

    public override string ToString() => string.Join(Environment.NewLine, Summary());
}
