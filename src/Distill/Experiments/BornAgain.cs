using System.Globalization;
using Distill.Data;
using Distill.Losses;
using Distill.Models;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Experiments;

/// <summary>
/// Settings of <see cref="BornAgain"/>. Every generation has the architecture <see cref="RecipeConfig.Student"/> and
/// trains on the transfer set for <see cref="RecipeConfig.StudentEpochs"/>; the teacher settings of the base record
/// are not used (generation 0 is the teacher). Default: MLP 784-800-800-10 on 2,000 Fashion-MNIST images.
/// </summary>
public sealed record BornAgainConfig : RecipeConfig
{
    /// <summary>Generation 0 is a student trained from scratch: no teacher run, so its epochs bound no schedule.</summary>
    internal override bool TrainsTeacher => false;

    internal override (IReadOnlyList<string> Keys, string Why) NotUsed =>
        (["teacher", "teacher_model", "teacher_train_size", "teacher_epochs", "teacher_optimizer"],
         "born-again has no separate teacher (generation 0, the student's architecture trained from scratch, teaches generation 1); remove it");

    /// <summary>Born-again generations after generation 0 (the paper goes up to 3 or more).</summary>
    public int Generations { get; init; } = 3;
    /// <summary>Add the cross-entropy with the labels to the born-again loss (the paper's BAN uses the teacher's outputs alone).</summary>
    public bool WithLabels { get; init; }
    /// <summary>Also train the CWTM and DKPP variants from generation 0.</summary>
    public bool Variants { get; init; } = true;

    // Checked with the file, so `spec check` refuses it too (a run refused it only after the checks).
    public override IEnumerable<(string Key, string Message)> Problems() =>
        base.Problems().Concat(Generations >= 1 ? [] : [("generations", $"generations = {Generations}: give at least 1 born-again generation after generation 0.")]);

    /// <summary>The recipe at <paramref name="budget"/>: the settings of experiments/recipes/04-born-again.yaml (built in).</summary>
    public static BornAgainConfig For(Budget budget) => RecipeFile.Load("04-born-again", budget, new BornAgainConfig());
}

public sealed class BornAgainResult : ExperimentResult
{
    public required BornAgainConfig Config { get; init; }
}

/// <summary>
/// Furlanello et al. 2018, "Born-Again Neural Networks": generation 0 learns from the labels; generation k, a fresh
/// model of the same architecture, learns from generation k − 1's outputs (<see cref="SoftCeTerm"/>, §3). "bane 1-k"
/// is the ensemble of generations 1..k (mean of their softmax outputs, §3.1). The §3.2 controls, taught by generation
/// 0: "cwtm" (labels, each sample weighted by the teacher's confidence) and "dkpp" (the teacher's non-argmax
/// probabilities permuted). Rows: "gen0", "ban gen1".."ban genG", "bane 1-2".., "cwtm gen1", "dkpp gen1".
/// </summary>
public static class BornAgain
{
    public static BornAgainResult Run(ImageDataset data, BornAgainConfig? config = null)
    {
        var c = Recipe.Checked(data, config ?? BornAgainConfig.For(Budget.Quick));
        var result = new BornAgainResult { Config = c };
        // Every notebook takes a teacher seed (reproduce -p seed=N passes it to all): here it reaches nothing, so say so
        // rather than record a seed that changed no number.
        if (c.TeacherSeed != 0)
            c.Log?.WriteLine($"note: born-again networks have no separate teacher (each seed's gen0 teaches its gen1), so the teacher seed {c.TeacherSeed} changes nothing here; the seeds are the students', [{string.Join(", ", c.Seeds)}]");
        using var transfer = Recipe.TransferSet(data, c);
        foreach (var seed in c.Seeds)
        {
            // Each generation starts from its own initialisation; rows keep the experiment seed.
            DistillModel Fresh(int generation) => Recipe.Model(c.Student, transfer, seed * 1000 + generation, c.StudentDropout);
            var previous = Fresh(0);
            result.Keep(Trainer.Train(previous, transfer, Recipe.Ce(), Recipe.Options(c, "gen0", seed, c.StudentEpochs, c.StudentOptimizer)));
            var gen0 = previous;
            if (c.Variants)
            {
                Taught(c, result, transfer, "cwtm gen1", seed, Fresh(1), new Objective().Add(new CwtmTerm()), gen0).Dispose();
                Taught(c, result, transfer, "dkpp gen1", seed, Fresh(1), new Objective().Add(new DkppTerm()), gen0).Dispose();
            }
            var probabilities = new List<Tensor>();
            try
            {
                for (var g = 1; g <= c.Generations; g++)
                {
                    var objective = new Objective().Add(new SoftCeTerm());
                    if (c.WithLabels) objective.Add(new CrossEntropyTerm());
                    var student = Taught(c, result, transfer, $"ban gen{g}", seed, Fresh(g), objective, previous);
                    previous.Dispose();
                    previous = student;
                    using (var logits = Evaluation.Logits(student, transfer, transfer.Test, c.Device))
                        probabilities.Add(logits.softmax(1));
                    if (g >= 2)
                    {
                        using var mean = stack(probabilities).mean([0]);
                        var acc = Evaluation.Accuracy(mean, transfer.Test.Labels);
                        result.Runs.Add(new RunRow($"bane 1-{g}", seed, acc, acc, c.StudentEpochs, student.ParameterCount * g));
                        c.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bane 1-{g} seed {seed}: {acc:F2}%"));
                    }
                }
            }
            finally
            {
                previous.Dispose();
                foreach (var p in probabilities) p.Dispose();
            }
        }
        return result;
    }

    static DistillModel Taught(BornAgainConfig c, BornAgainResult result, ImageDataset transfer, string run, int seed,
        DistillModel student, Objective objective, DistillModel teacher)
    {
        result.Keep(Trainer.Train(student, transfer, objective, Recipe.Options(c, run, seed, c.StudentEpochs, c.StudentOptimizer), teacher));
        return student;
    }
}
