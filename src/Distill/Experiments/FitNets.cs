using Distill.Data;
using Distill.Losses;
using Distill.Models;
using Distill.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Experiments;

/// <summary>
/// Settings of <see cref="FitNets"/>: a thin student guided at <see cref="GuidedLayer"/> by the teacher's
/// <see cref="HintLayer"/>. Defaults: CNN teacher (width 32) and a CNN student of width 8 on Fashion-MNIST, hint and
/// guided layers both the first stage (14×14), a 1×1 convolutional regressor.
/// </summary>
public sealed record FitNetsConfig : RecipeConfig
{
    public FitNetsConfig()
    {
        Student = "cnn-8";
        StudentOptimizer = OptimizerSpec.Sgd(0.05);
    }

    /// <summary>Teacher feature whose output is the hint (Romero et al.: the teacher's middle layer).</summary>
    public string HintLayer { get; init; } = "stage1";
    /// <summary>Student feature that is guided (Romero et al.: the student's middle layer).</summary>
    public string GuidedLayer { get; init; } = "stage1";
    /// <summary>Epochs of stage 1 (hint training of the layers up to the guided one).</summary>
    public int HintEpochs { get; init; } = 5;
    /// <summary>Softmax temperature τ of stage 2 (the paper uses 3).</summary>
    public double Temperature { get; init; } = 3;
    /// <summary>The KD weight λ of stage 2, annealed linearly from <see cref="LambdaStart"/> to <see cref="LambdaEnd"/> (4 → 1 in the paper).</summary>
    public double LambdaStart { get; init; } = 4;
    public double LambdaEnd { get; init; } = 1;

    // A hint stage of 0 epochs failed after the teacher and two students trained ("Epochs must be at least 1"), and a
    // negative λ trained the student away from the teacher: refused with the file's line, as the catalogue refuses them.
    public override IEnumerable<(string Key, string Message)> Problems() =>
        base.Problems().Concat(KdProblems([("temperature", Temperature)], []))
            .Concat(HintEpochs >= 1 ? [] : [("hint_epochs", $"hint_epochs = {HintEpochs}: stage 1 (the hint training) needs at least 1 epoch.")])
            .Concat(new[] { ("lambda_start", LambdaStart), ("lambda_end", LambdaEnd) }.Where(l => l.Item2 < 0)
                .Select(l => (l.Item1, $"{l.Item1} = {NumberText.Short(l.Item2)}: the KD weight λ is 0 or more (a negative one trains the student away from the teacher).")));

    /// <summary>The recipe at <paramref name="budget"/>: the settings of experiments/recipes/02-fitnets.yaml (built in).</summary>
    public static FitNetsConfig For(Budget budget) => RecipeFile.Load("02-fitnets", budget, new FitNetsConfig());
}

public sealed class FitNetsResult : ExperimentResult
{
    public required FitNetsConfig Config { get; init; }
    /// <summary>Stage 1 of each seed (the hint loss curve; its accuracy is meaningless, the classifier is untrained).</summary>
    public List<TrainResult> HintStages { get; } = [];
}

/// <summary>
/// Romero et al. 2015, "FitNets: Hints for Thin Deep Nets" (§2.2–2.3). Stage 1 trains the student's layers up to the
/// guided layer to predict the teacher's hint layer through a regressor (<see cref="HintTerm"/>, eq. 3); stage 2
/// trains the whole student with KD, <c>L = H(y, P_S) + λ·H(P_T^τ, P_S^τ)</c>, λ annealed linearly from 4 to 1.
/// Runs per seed: "scratch" (cross-entropy), "kd" (stage 2 alone, from scratch), "fitnet" (stage 1 then stage 2).
/// </summary>
public static class FitNets
{
    public static FitNetsResult Run(ImageDataset data, FitNetsConfig? config = null, DistillModel? teacher = null)
    {
        var c = Recipe.Checked(data, config ?? FitNetsConfig.For(Budget.Quick));
        var result = new FitNetsResult { Config = c };
        CheckLayers(data, c, teacher);
        var t = Recipe.Teacher(data, c, result, teacher);
        using var transfer = Recipe.TransferSet(data, c);
        foreach (var seed in c.Seeds)
        {
            Recipe.Student(transfer, c, result, "scratch", seed, Recipe.Ce(), null);
            Recipe.Student(transfer, c, result, "kd", seed, StageTwo(c), t);

            using var student = Recipe.Model(c.Student, transfer, seed, c.StudentDropout);
            var (hint, guided) = HintStage(student, t, transfer, c, seed);
            result.HintStages.Add(Trainer.Train(student, transfer, new Objective().Add(hint),
                Recipe.Options(c, "fitnet-hint", seed, c.HintEpochs, c.StudentOptimizer) with { StudentParameters = m => Named(m, guided) }, t));
            var r = Trainer.Train(student, transfer, StageTwo(c), Recipe.Options(c, "fitnet", seed, c.StudentEpochs, c.StudentOptimizer), t);
            result.Keep(r);
        }
        return result;
    }

    /// <summary>The hint and guided layers, checked on fresh models of the two architectures before the teacher trains:
    /// found by <see cref="HintStage"/> only after the teacher and the first students had trained, a student without
    /// the guided layer (an MLP has no 'stage1') failed minutes into the run.</summary>
    static void CheckLayers(ImageDataset data, FitNetsConfig c, DistillModel? teacher)
    {
        var setup = new Methods.MethodSetup(c.Student, teacher is null ? c.Teacher : teacher.ZooName, data, c.BatchSize);
        try
        {
            var s = setup.StudentShape(c.GuidedLayer);
            // A given teacher built outside the zoo has no name to build a probe from; HintStage checks it.
            if (setup.Teacher is null) return;
            var t = setup.TeacherShape(c.HintLayer);
            if (s.Length == 4 && t.Length == 4 && (s[2] != t[2] || s[3] != t[3]))
                throw new ArgumentException($"the guided layer '{c.GuidedLayer}' of {c.Student} is {s[2]}×{s[3]} and the hint layer '{c.HintLayer}' of {setup.Teacher} " +
                                            $"{t[2]}×{t[3]}; choose layers of equal resolution.");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"FitNets: {e.Message} The recipe guides the student's '{c.GuidedLayer}' by the teacher's '{c.HintLayer}'; " +
                                        $"give a student and teacher that have them (the default pair is {new FitNetsConfig().Student} and {new FitNetsConfig().Teacher}).", e);
        }
    }

    /// <summary>Stage 2: CE + λ·KD(τ), λ linear from LambdaStart to LambdaEnd. <see cref="KdTerm"/> carries τ², so its
    /// weight is λ/τ² to match the paper's λ·H(P_T^τ, P_S^τ) (the teacher's entropy, a constant, aside).</summary>
    public static Objective StageTwo(FitNetsConfig c)
    {
        var t2 = c.Temperature * c.Temperature;
        return new Objective().Add(new CrossEntropyTerm()).Add(new KdTerm(c.Temperature), Schedule.Linear(c.LambdaStart / t2, c.LambdaEnd / t2));
    }

    /// <summary>The stage-1 hint term (with a regressor sized from one probe batch) and the student parameters it trains.</summary>
    public static (HintTerm Hint, IReadOnlySet<string> Guided) HintStage(DistillModel student, DistillModel teacher, ImageDataset data, FitNetsConfig c, int seed)
    {
        using var scope = NewDisposeScope();
        var x = data.Normalize(data.Train.Images.narrow(0, 0, 2));
        long[] s, t;
        using (no_grad()) t = Probe(teacher, x, c.HintLayer).shape;
        using (no_grad()) s = Probe(student, x, c.GuidedLayer).shape;
        HintRegressor regressor;
        using (manual_seed(seed))
        {
            if (s.Length == 4 && t.Length == 4)
            {
                if (s[2] != t[2] || s[3] != t[3])
                    throw new ArgumentException($"FitNets: the guided layer '{c.GuidedLayer}' [{string.Join(", ", s)}] and the hint layer '{c.HintLayer}' " +
                        $"[{string.Join(", ", t)}] differ in spatial size; choose layers of equal resolution.");
                regressor = HintRegressor.Conv(s[1], t[1]);
            }
            else regressor = HintRegressor.Linear(s[1..].Aggregate(1L, (a, b) => a * b), t[1..].Aggregate(1L, (a, b) => a * b));
        }
        return (new HintTerm(c.GuidedLayer, c.HintLayer, regressor), GuidedParameters(student, c.GuidedLayer, x));
    }

    /// <summary>Names of the parameters the feature <paramref name="feature"/> depends on ("the layers up to the guided
    /// layer"), found by back-propagating from it once: works for any model without knowing its module names. Names,
    /// not objects, because moving a model to a device replaces its parameter objects.</summary>
    public static IReadOnlySet<string> GuidedParameters(DistillModel model, string feature, Tensor probe)
    {
        using var scope = NewDisposeScope();
        model.zero_grad(set_to_none: true);
        Probe(model, probe.to(model.parameters().First().device), feature).sum().backward();
        var guided = model.named_parameters().Where(p => p.parameter.grad is not null).Select(p => p.name).ToHashSet();
        model.zero_grad(set_to_none: true);
        if (guided.Count == 0) throw new ArgumentException($"FitNets: no parameter feeds the feature '{feature}'.");
        return guided;
    }

    /// <summary>The model's parameters whose names are in <paramref name="names"/>.</summary>
    public static IEnumerable<Parameter> Named(DistillModel model, IReadOnlySet<string> names) =>
        model.named_parameters().Where(p => names.Contains(p.name)).Select(p => p.parameter);

    /// <summary>A feature for <paramref name="x"/> in eval mode (no batch-norm statistics touched), on the model's device.</summary>
    static Tensor Probe(DistillModel model, Tensor x, string feature)
    {
        var wasTraining = model.training;
        model.eval();
        try { return model.call(x.to(model.parameters().First().device)).Feature(feature); }
        finally { model.train(wasTraining); }
    }
}
