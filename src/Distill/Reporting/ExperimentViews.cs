using System.Globalization;
using Distill.Data;
using Distill.Experiments;
using Distill.Models;
using Distill.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Reporting;

/// <summary>The charts and verdicts the reproduction notebooks share, built from experiment results.</summary>
public static class ExperimentViews
{
    /// <summary>Test accuracy per epoch of the runs whose names are given (all when null), for one seed.</summary>
    public static Figure LearningCurves(ExperimentResult result, IEnumerable<string>? runs = null, int? seed = null, string title = "Test accuracy per epoch")
    {
        ArgumentNullException.ThrowIfNull(result);
        var wanted = runs?.ToHashSet();
        var present = result.Trainings.Select(t => t.Name).Distinct().ToList();
        if (wanted?.FirstOrDefault(n => !present.Contains(n)) is { } missing)
            throw new ArgumentException($"no run named '{missing}' in this result; its runs are {string.Join(", ", present.Select(n => $"'{n}'"))}.", nameof(runs));
        var named = result.Trainings.Where(t => wanted is null || wanted.Contains(t.Name)).ToList();
        // The teacher is drawn whatever its seed, so its seed (0) must not pick the students' one: students on seed 5
        // alone were all left out.
        var pick = seed ?? named.Where(t => t.Name != "teacher").Select(t => t.Seed).DefaultIfEmpty(named.Select(t => t.Seed).DefaultIfEmpty(0).Min()).Min();
        // A seed no run trained drew the teacher alone under "(seed 7)".
        var seeds = named.Where(t => t.Name != "teacher").Select(t => t.Seed).Distinct().Order().ToList();
        if (seed is int asked && seeds.Count > 0 && !seeds.Contains(asked))
            throw new ArgumentException($"no run of seed {asked} in this result; its seeds are {string.Join(", ", seeds)}.", nameof(seed));
        var series = named
            .Where(t => t.Name == "teacher" || t.Seed == pick)
            .Select(t => new Series(t.Name, [.. t.History.Select(h => (double)h.Epoch)], [.. t.History.Select(h => h.TestAccuracy)]));
        return Charts.Lines($"{title} (seed {pick})", "epoch", "test accuracy (%)", series);
    }

    /// <summary>Mean training loss of one term per epoch (e.g. the FitNets hint stage).</summary>
    public static Figure LossCurves(IEnumerable<TrainResult> trainings, string term, string title)
    {
        var series = trainings.Select(t => new Series($"{t.Name} seed {t.Seed}", [.. t.History.Select(h => (double)h.Epoch)],
            [.. t.History.Select(h => h.TermLosses.FirstOrDefault(l => l.Name == term)?.Value ?? double.NaN)]));
        return Charts.Lines(title, "epoch", $"{term} loss", series);
    }

    /// <summary>Best test accuracy of each run name, every seed shown, against the x given for that name.</summary>
    public static Figure Sweep(ExperimentResult result, string title, string xTitle, IEnumerable<(double X, string Run)> points, string group = "KD")
    {
        var pts = points.Select(p => (p.X, Best: result.Runs.Rows.Where(r => r.Name == p.Run).Select(r => r.BestAccuracy).ToArray(), p.Run)).ToList();
        // A name no run has (a typed "a" for "α") drew an empty line without a word.
        if (pts.Where(p => p.Best.Length == 0).Select(p => p.Run).FirstOrDefault() is { } missing)
            throw new ArgumentException($"no run named '{missing}' in this result; its runs are {string.Join(", ", result.Runs.Rows.Select(r => r.Name).Distinct().Select(n => $"'{n}'"))}.", nameof(points));
        var groups = new List<(string, IReadOnlyList<(double, double[])>)> { (group, [.. pts.Select(p => (p.X, p.Best))]) };
        if (result.Runs.Rows.Any(r => r.Name == "scratch"))
        {
            var scratch = result.Runs.Rows.Where(r => r.Name == "scratch").Select(r => r.BestAccuracy).ToArray();
            groups.Add(("from scratch", [.. pts.Select(p => (p.X, scratch))]));
        }
        return Charts.Sweep(title, xTitle, "best test accuracy (%)", groups);
    }

    /// <summary>Mean best accuracy per run name as bars, in the table's order.</summary>
    public static Figure Bars(ExperimentResult result, string title, IEnumerable<string>? runs = null)
    {
        var summary = result.Runs.Summary().Where(s => runs is null || runs.Contains(s.Name));
        return Charts.Bars(title, "best test accuracy (%), mean over seeds", summary.Select(s => (s.Name, Math.Round(s.BestMean, 2))));
    }

    /// <summary>
    /// The teacher's class probabilities for one test image at several temperatures (Hinton et al.'s "dark knowledge":
    /// higher T reveals which wrong classes the teacher finds similar).
    /// </summary>
    public static Figure TeacherProbabilities(DistillModel teacher, ImageDataset data, int testIndex, IEnumerable<double> temperatures, string device = "auto")
    {
        using var scope = NewDisposeScope();
        using var one = data.Test.Select(tensor(new long[] { testIndex }));
        using var single = new ImageDataset(data.Name, data.Train, one, data.Classes, data.Mean, data.Std, data.Source);
        var logits = Evaluation.Logits(teacher, single, one, device).cpu()[0];
        var label = data.Classes[(int)one.Labels[0].item<long>()];
        return Charts.GroupedBars($"Teacher's probabilities for test image {testIndex} (a '{label}') at several temperatures", "probability",
            data.Classes, [.. temperatures.Select(t => (string.Create(CultureInfo.InvariantCulture, $"T = {t:0.##}"), (IEnumerable<double>)(logits / t).softmax(0).to(ScalarType.Float64).data<double>().ToArray()))]);
    }

    /// <summary>
    /// Attention maps (Zagoruyko &amp; Komodakis eq. 1: Σ_c |A_c|², L2-normalised) of the teacher and of each kept
    /// student on one test image, at one group: does the student look where the teacher looks?
    /// </summary>
    public static Figure AttentionMaps(ExperimentResult result, ImageDataset data, int testIndex, string group, IEnumerable<string>? runs = null, string device = "auto")
    {
        using var scope = NewDisposeScope();
        var dev = Native.TorchRuntime.ResolveDevice(device);
        var x = data.Normalize(data.Test.Images.narrow(0, testIndex, 1)).to(dev);
        var models = new List<(string, DistillModel)>();
        if (result.TeacherModel is not null) models.Add(("teacher", result.TeacherModel));
        models.AddRange((runs ?? result.Students.Keys).Where(result.Students.ContainsKey).Select(r => (r, result.Students[r])));
        var maps = new List<(string, Tensor)> { ("image", data.Test.Images[testIndex, 0].to(ScalarType.Float32)) };
        using (no_grad())
        {
            foreach (var (name, model) in models)
            {
                model.to(dev).eval();
                var feature = model.call(x).Feature(group);
                var h = feature.shape[2];
                maps.Add((name, Losses.At.Map(feature)[0].view(h, -1).cpu()));
            }
        }
        return Charts.HeatmapRow($"Attention maps at {group} for test image {testIndex} (a '{data.Classes[(int)data.Test.Labels[testIndex].item<long>()]}')", maps);
    }

    /// <summary>
    /// An honest verdict on a claimed improvement of <paramref name="method"/> over <paramref name="baseline"/>: the gain
    /// in points and whether it stands beyond seed noise (gain &gt; 2 standard errors of the difference).
    /// </summary>
    public static (double Gain, double Std, string Verdict) Compare(ExperimentResult result, string method, string baseline)
    {
        double[] Acc(string n) => [.. result.Runs.Rows.Where(r => r.Name == n).Select(r => r.BestAccuracy)];
        var a = Acc(method);
        var b = Acc(baseline);
        if (a.Length == 0 || b.Length == 0) throw new KeyNotFoundException($"No runs named '{(a.Length == 0 ? method : baseline)}' in this result.");
        var gain = a.Average() - b.Average();
        var se = Math.Sqrt(Var(a) / a.Length + Var(b) / b.Length);
        var std = Math.Sqrt(Var(a) + Var(b));
        string verdict = (a.Length, b.Length) switch
        {
            _ when a.Length < 2 || b.Length < 2 => gain > 0 ? "same direction as the paper (one seed: not conclusive)" : "not seen (one seed: not conclusive)",
            _ when gain > 2 * se => "reproduced: the gain stands beyond seed noise",
            _ when gain > 0 => "partly: same direction, within seed noise",
            _ => "not reproduced at this budget",
        };
        return (gain, std, verdict);
    }

    static double Var(double[] xs) => xs.Length < 2 ? 0 : RunTable.Std(xs) * RunTable.Std(xs);
}
