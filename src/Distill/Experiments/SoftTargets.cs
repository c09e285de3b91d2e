using Distill.Data;
using Distill.Models;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Experiments;

/// <summary>
/// Settings of <see cref="SoftTargets"/>. Defaults follow the KD calibration measured on this machine's budget: a small
/// CNN teacher (≈93 % on Fashion-MNIST) and an unregularised MLP 784-800-800-10 student (Hinton et al.'s student) on a
/// 2,000-image transfer set, where soft targets are worth more than two points; on the full 60k set the gain at CPU
/// budgets is a few tenths.
/// </summary>
public sealed record SoftTargetsConfig : RecipeConfig
{
    /// <summary>Temperature and soft weight α of the main KD run: (1 − α)·CE + α·T²·KL.</summary>
    public double Temperature { get; init; } = 4;
    public double Alpha { get; init; } = 0.9;
    /// <summary>Temperatures tried at α = <see cref="Alpha"/> (empty: no sweep).</summary>
    public IReadOnlyList<double> Temperatures { get; init; } = [];
    /// <summary>Soft weights tried at T = <see cref="Temperature"/> (empty: no sweep).</summary>
    public IReadOnlyList<double> Alphas { get; init; } = [];
    /// <summary>Class removed from the transfer set for the omitted-class experiment (null: skip it).</summary>
    public int? OmittedClass { get; init; }

    public override IEnumerable<(string Key, string Message)> Problems() =>
        base.Problems().Concat(KdProblems([("temperature", Temperature), .. Each("temperatures", Temperatures)], [("alpha", Alpha), .. Each("alphas", Alphas)]))
            .Concat(Repeats("temperatures", Temperatures, NumberText.Short)).Concat(Repeats("alphas", Alphas, NumberText.Short))
            .Concat(OmittedClassProblems());

    // The omitted-class run comes last: a class the dataset lacks failed only after every other run had trained.
    IEnumerable<(string Key, string Message)> OmittedClassProblems()
    {
        if (OmittedClass is not { } omitted) yield break;
        if (Catalogued(() => DatasetCatalog.Get(Dataset)).Value?.Classes is int classes && (omitted < 0 || omitted >= classes))
            yield return ("omitted_class", $"omitted_class = {omitted}: {Dataset} has classes 0 to {classes - 1}; give one of them, or ~ to skip the experiment.");
        else if (omitted < 0)
            yield return ("omitted_class", $"omitted_class = {omitted}: classes are numbered from 0; give one, or ~ to skip the experiment.");
    }

    /// <summary>The recipe at <paramref name="budget"/>: the settings of experiments/recipes/01-soft-targets.yaml (built in).</summary>
    public static SoftTargetsConfig For(Budget budget) => RecipeFile.Load("01-soft-targets", budget, new SoftTargetsConfig());
}

/// <summary>One point of a sweep: the setting and its mean ± std over seeds.</summary>
public sealed record SweepPoint(double Temperature, double Alpha, RunSummary Summary);

/// <summary>
/// Hinton et al. 2015 §3: the distilled model with a class missing from its transfer set. Counts are on the test split;
/// the bias added to the omitted class's logit is the one that maximises overall test accuracy, as in the paper
/// ("increased by 3.5, which optimizes overall performance on the test set").
/// </summary>
public sealed record OmittedClassRow(int Seed, int ClassIndex, string ClassName, long ClassCount, long TestCount,
    long ErrorsBefore, long ClassErrorsBefore, double Bias, long ErrorsAfter, long ClassErrorsAfter)
{
    public double AccuracyBefore => 100.0 * (TestCount - ErrorsBefore) / TestCount;
    public double AccuracyAfter => 100.0 * (TestCount - ErrorsAfter) / TestCount;
    public double ClassAccuracyBefore => 100.0 * (ClassCount - ClassErrorsBefore) / ClassCount;
    public double ClassAccuracyAfter => 100.0 * (ClassCount - ClassErrorsAfter) / ClassCount;
    public override string ToString() =>
        $"'{ClassName}' omitted, seed {Seed}: {ErrorsBefore} test errors ({ClassErrorsBefore} of {ClassCount} on '{ClassName}'); " +
        $"bias +{Recipe.Format(Bias)} → {ErrorsAfter} errors ({ClassErrorsAfter} on '{ClassName}')";
}

public sealed class SoftTargetsResult : ExperimentResult
{
    public required SoftTargetsConfig Config { get; init; }
    public List<SweepPoint> TemperatureSweep { get; } = [];
    public List<SweepPoint> AlphaSweep { get; } = [];
    public List<OmittedClassRow> OmittedClass { get; } = [];
}

/// <summary>
/// Hinton, Vinyals &amp; Dean 2015, "Distilling the Knowledge in a Neural Network": a teacher, the student from scratch,
/// the student with soft targets (kd_hard: (1 − α)·CE + α·T²·KL), temperature and α sweeps, and the omitted-class
/// transfer experiment with its bias correction (§3). One call: <c>SoftTargets.Run(data, SoftTargetsConfig.For(Budget.Quick))</c>.
/// </summary>
public static class SoftTargets
{
    public static string KdName(double t, double alpha) => $"kd T={Recipe.Format(t)} α={Recipe.Format(alpha)}";

    public static SoftTargetsResult Run(ImageDataset data, SoftTargetsConfig? config = null, DistillModel? teacher = null)
    {
        var c = Recipe.Checked(data, config ?? SoftTargetsConfig.For(Budget.Quick));
        var result = new SoftTargetsResult { Config = c };
        var t = Recipe.Teacher(data, c, result, teacher);
        using var transfer = Recipe.TransferSet(data, c);

        var settings = new List<(double T, double A)> { (c.Temperature, c.Alpha) };
        settings.AddRange(c.Temperatures.Select(x => (x, c.Alpha)));
        settings.AddRange(c.Alphas.Select(a => (c.Temperature, a)));
        settings = [.. settings.Distinct()];
        foreach (var seed in c.Seeds)
        {
            Recipe.Student(transfer, c, result, "scratch", seed, Recipe.Ce(), null);
            foreach (var (temp, alpha) in settings)
                Recipe.Student(transfer, c, result, KdName(temp, alpha), seed, Recipe.KdHard(temp, alpha), t);
        }
        result.TemperatureSweep.AddRange(c.Temperatures.Select(x => new SweepPoint(x, c.Alpha, result.Runs[KdName(x, c.Alpha)])));
        result.AlphaSweep.AddRange(c.Alphas.Select(a => new SweepPoint(c.Temperature, a, result.Runs[KdName(c.Temperature, a)])));

        if (c.OmittedClass is int omitted)
        {
            using var without = transfer.WithoutClass(omitted);
            foreach (var seed in c.Seeds)
            {
                var name = $"kd without '{data.Classes[omitted]}'";
                using var student = Recipe.Model(c.Student, without, seed, c.StudentDropout);
                var r = Trainer.Train(student, without, Recipe.KdHard(c.Temperature, c.Alpha),
                    Recipe.Options(c, name, seed, c.StudentEpochs, c.StudentOptimizer), t);
                result.Keep(r);
                var row = BiasCorrection(student, without, omitted, seed, c.Device);
                result.OmittedClass.Add(row);
                result.Runs.Add(new RunRow(name + " +bias", seed, row.AccuracyAfter, row.AccuracyAfter, r.BestEpoch, r.Parameters));
                c.Log?.WriteLine(row);
            }
        }
        return result;
    }

    /// <summary>Test errors of <paramref name="student"/> before and after adding the best bias (0 to 10 in steps of
    /// 0.1) to the logit of class <paramref name="omitted"/>.</summary>
    public static OmittedClassRow BiasCorrection(DistillModel student, ImageDataset data, int omitted, int seed = 0, string device = "auto")
    {
        using var scope = NewDisposeScope();
        var logits = Evaluation.Logits(student, data, data.Test, device);
        var labels = data.Test.Labels;
        var isClass = labels.eq(omitted);
        long Errors(Tensor l, Tensor? mask = null)
        {
            var wrong = l.argmax(1).ne(labels);
            return (mask is null ? wrong : wrong.logical_and(mask)).sum().item<long>();
        }
        var shift = zeros(data.NumClasses);
        shift[omitted] = tensor(1f);
        var (bias, errors) = Enumerable.Range(0, 101).Select(i => i / 10.0)
            .Select(b => (b, Errors(logits + shift * b))).MinBy(x => x.Item2);
        var corrected = logits + shift * bias;
        return new OmittedClassRow(seed, omitted, data.Classes[omitted], isClass.sum().item<long>(), labels.shape[0],
            Errors(logits), Errors(logits, isClass), bias, errors, Errors(corrected, isClass));
    }
}
