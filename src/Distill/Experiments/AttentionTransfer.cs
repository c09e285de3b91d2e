using Distill.Data;
using Distill.Losses;
using Distill.Models;

namespace Distill.Experiments;

/// <summary>
/// Settings of <see cref="AttentionTransfer"/>. Defaults: CNN teacher (width 32), CNN student of width 8, attention
/// transferred at both stages ("stage1" 14×14, "stage2" 7×7). For the paper's CIFAR setting use e.g.
/// <c>Teacher = "wrn-16-2", Student = "wrn-16-1", Groups = ["stage1", "stage2", "stage3"], Augment = Augmentation.Cifar</c>.
/// </summary>
public sealed record AttentionTransferConfig : RecipeConfig
{
    public AttentionTransferConfig() => Student = "cnn-8";

    /// <summary>Feature names (the same on both sides) whose attention maps are matched.</summary>
    public IReadOnlyList<string> Groups { get; init; } = ["stage1", "stage2"];
    /// <summary>β of eq. 2 (the paper: 1000); the term applies β/2.</summary>
    public double Beta { get; init; } = 1000;
    /// <summary>KD settings of the "kd" and "at+kd" runs (the paper combines AT with KD at T = 4, α = 0.9).</summary>
    public double Temperature { get; init; } = 4;
    public double Alpha { get; init; } = 0.9;

    // No groups failed after scratch trained, and a negative β made the loss negative: refused with the file's line.
    public override IEnumerable<(string Key, string Message)> Problems() =>
        base.Problems().Concat(KdProblems([("temperature", Temperature)], [("alpha", Alpha)])).Concat(Repeats("groups", Groups, g => g))
            .Concat(Groups.Count > 0 ? [] : [("groups", "groups is empty: give at least one feature whose attention maps are matched (e.g. [stage1, stage2]).")])
            .Concat(Beta >= 0 ? [] : [("beta", $"beta = {NumberText.Short(Beta)}: β weighs the attention term and is 0 or more (a negative one makes the student's maps differ from the teacher's).")]);

    /// <summary>The recipe at <paramref name="budget"/>: the settings of experiments/recipes/03-attention-transfer.yaml (built in).</summary>
    public static AttentionTransferConfig For(Budget budget) => RecipeFile.Load("03-attention-transfer", budget, new AttentionTransferConfig());
}

public sealed class AttentionTransferResult : ExperimentResult
{
    public required AttentionTransferConfig Config { get; init; }
}

/// <summary>
/// Zagoruyko &amp; Komodakis 2017, "Paying More Attention to Attention" (eq. 2): the student matches the teacher's
/// normalised spatial attention maps at the chosen groups, β = 1000, alone and together with KD. Runs per seed:
/// "scratch", "at" (CE + AT), "kd" ((1 − α)·CE + α·KD), "at+kd". AT reads teacher features, so the teacher runs live.
/// </summary>
public static class AttentionTransfer
{
    public static AttentionTransferResult Run(ImageDataset data, AttentionTransferConfig? config = null, DistillModel? teacher = null)
    {
        var c = Recipe.Checked(data, config ?? AttentionTransferConfig.For(Budget.Quick));
        var result = new AttentionTransferResult { Config = c };
        CheckGroups(data, c, teacher);
        var t = Recipe.Teacher(data, c, result, teacher);
        using var transfer = Recipe.TransferSet(data, c);
        foreach (var seed in c.Seeds)
        {
            Recipe.Student(transfer, c, result, "scratch", seed, Recipe.Ce(), null);
            Recipe.Student(transfer, c, result, "at", seed, Recipe.Ce().Add(At(c)), t);
            Recipe.Student(transfer, c, result, "kd", seed, Recipe.KdHard(c.Temperature, c.Alpha), t);
            Recipe.Student(transfer, c, result, "at+kd", seed, Recipe.KdHard(c.Temperature, c.Alpha).Add(At(c)), t);
        }
        return result;
    }

    /// <summary>The groups, checked on fresh models of the two architectures before the teacher trains: the attention
    /// term found a student without them (an MLP has no 'stage1') only after the teacher and the "scratch" runs.</summary>
    static void CheckGroups(ImageDataset data, AttentionTransferConfig c, DistillModel? teacher)
    {
        // A given teacher built outside the zoo has no name to build a probe from; the term checks it when it runs.
        if (teacher is not null && teacher.ZooName is null) return;
        var setup = new Methods.MethodSetup(c.Student, teacher?.ZooName ?? c.Teacher, data, c.BatchSize);
        try
        {
            foreach (var g in c.Groups) setup.CheckSameMap("attention transfer", "groups", g);
        }
        catch (ArgumentException e)
        {
            var what = e.Message.StartsWith("attention transfer: ", StringComparison.Ordinal) ? e.Message : $"attention transfer: {e.Message}";
            throw new ArgumentException($"{what} The recipe matches attention maps at {string.Join(", ", c.Groups)} on both models; " +
                                        $"give a student and teacher that have them (the default pair is {new AttentionTransferConfig().Student} and {new AttentionTransferConfig().Teacher}).", e);
        }
    }

    static AtTerm At(AttentionTransferConfig c) => new(c.Groups, beta: c.Beta);
}
