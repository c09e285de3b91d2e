using System.Globalization;
using Distill.Reporting;
using Distill.Sweeps;

namespace Distill.Notebooks.Reports;

/// <summary>
/// The offline page of <c>distill sweep collect</c>: the results table and a chart of the main metric (best test
/// accuracy) against the first grid key other than seed, one line per combination of the remaining keys, each seed a
/// point. A non-numeric first key (method names, models) gets one bar per value instead.
/// </summary>
public static class SweepPage
{
    /// <summary>The page <see cref="Write"/> puts in the sweep folder.</summary>
    public const string FileName = "results.html";

    public static string Write(SweepResults results, string dir)
    {
        var path = Path.Combine(dir, FileName);
        Distill.Training.AtomicFile.WriteAllText(path, HtmlReport.Page($"{results.Plan.Name} · distill sweep", results.Markdown(), Chart(results) is { } f ? [f] : []));
        return path;
    }

    public static Figure? Chart(SweepResults r)
    {
        if (r.Groups.Count == 0) return null;
        const string y = "best test accuracy (%)";
        if (r.GroupKeys.Count == 0)
            return Charts.Bars($"{r.Plan.Name}: {y}", y, [("all runs", r.Groups[0].BestMean)]);
        var x = r.GroupKeys[0];
        var rest = r.GroupKeys.Skip(1).ToList();
        if (!r.Groups.All(g => double.TryParse(g.Values[x], NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            return Charts.Bars($"{r.Plan.Name}: {y} by {x}", y, r.Groups.Select(g => (Label(r.GroupKeys, g), g.BestMean)));
        var lines = r.Groups.GroupBy(g => rest.Count == 0 ? r.Plan.Name : Label(rest, g)).Select(line =>
            (line.Key, (IReadOnlyList<(double X, double[] PerSeed)>)[.. line.Select(g => (double.Parse(g.Values[x], CultureInfo.InvariantCulture), g.Best.ToArray()))
                .OrderBy(p => p.Item1)]));
        return Charts.Sweep($"{r.Plan.Name}: {y} against {x}", x, y, lines);
    }

    static string Label(IEnumerable<string> keys, SweepGroup g) => string.Join(" ", keys.Select(k => $"{k}={g.Values[k]}"));
}
