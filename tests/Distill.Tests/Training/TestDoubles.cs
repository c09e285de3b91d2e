using Distill.Data;
using Distill.Losses;
using Distill.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Tests.Training;

/// <summary>Real Fashion-MNIST, cut to test budgets once per process (read-only; shared by the training tests).</summary>
static class TinyData
{
    static readonly Lazy<ImageDataset> Full = new(() => Datasets.FashionMnist());
    static readonly Lazy<ImageDataset> Small = new(() => Full.Value.Subset(train: 2000, test: 1000, seed: 0));

    /// <summary>The whole of Fashion-MNIST (recipes cut their own subsets from it).</summary>
    public static ImageDataset FashionMnist => Full.Value;

    /// <summary>2,000 training and 1,000 test images of Fashion-MNIST.</summary>
    public static ImageDataset FashionMnist2k => Small.Value;
}

/// <summary>The library's models and losses at test sizes.</summary>
static class Build
{
    /// <summary>MLP 784-64-10 with dropout 0.2, initialised from <paramref name="seed"/>.</summary>
    public static DistillModel Mlp(int seed, int width = 64)
    {
        using var g = manual_seed(seed);
        return ModelZoo.Create($"mlp-{width}", 1, 10, new ModelOptions { Dropout = 0.2 });
    }

    public static Objective Ce() => new Objective().Add(new CrossEntropyTerm());

    /// <summary>A term reading teacher features through a trainable regressor (FitNets-style): never cacheable.</summary>
    public static HintTerm Hint(int width = 64) => new("hidden1", "hidden1", HintRegressor.Linear(width, width));
}

/// <summary>Finite until global step <paramref name="at"/>, then NaN.</summary>
sealed class NanAtStepTerm(long at) : ILossTerm
{
    public string Name => "boom";
    public bool NeedsTeacher => false;
    public Tensor Compute(StepContext ctx) =>
        ctx.Step >= at ? ctx.Student.Logits.sum() * float.NaN : ctx.Student.Logits.mean() * 0;
}

/// <summary>A term whose weight is far too large (a method parameter of 1e30): finite itself, its update breaks the weights.</summary>
sealed class HugeTerm : ILossTerm
{
    public string Name => "huge";
    public bool NeedsTeacher => false;
    public Tensor Compute(StepContext ctx) => ctx.Student.Logits.square().mean() * 1e30f;
}

/// <summary>A term of 1e-4 times HugeTerm's: huge only under its weight.</summary>
sealed class SmallTerm : ILossTerm
{
    public string Name => "small";
    public bool NeedsTeacher => false;
    public Tensor Compute(StepContext ctx) => ctx.Student.Logits.square().mean() * 1e-4f;
}

static class TensorAssert
{
    /// <summary>Same shape and bit-identical values.</summary>
    public static bool SameAs(this Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
    }
}

/// <summary>Owns a parameter that only even steps' loss reaches: on odd steps it gets no gradient, and the trainer then
/// gives it a zero one (it had one before), so momentum and weight decay still move it.</summary>
sealed class EvenStepsTerm : ILossTerm
{
    public Parameter Weight { get; } = new(ones(4));
    public string Name => "even";
    public bool NeedsTeacher => false;
    public IEnumerable<Parameter> Parameters() => [Weight];
    public Tensor Compute(StepContext ctx) =>
        ctx.Step % 2 == 0 ? Weight.pow(2).sum() * 0.01 + ctx.Student.Logits.mean() * 0 : ctx.Student.Logits.mean() * 0;
}
