using TorchSharp.Modules;
using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Self-distillation, "Be Your Own Teacher" (Zhang, Song, Gao, Chen, Bao &amp; Ma, ICCV 2019, §3): auxiliary classifiers
/// on the network's shallower stages are taught by its deepest classifier. For each auxiliary head i with logits q_i
/// and pooled, projected feature F_i: <c>(1 − α)·CE(q_i, y) + α·T²·KL(softmax(q_C/T) ‖ softmax(q_i/T)) + λ·‖F_i − F_C‖²</c>,
/// q_C and F_C (the model's own logits and last feature) detached. The heads are trained with the network and dropped
/// at inference, so the deployed model is the plain network. Our heads are pool → linear (the paper uses bottleneck
/// conv blocks before the pool); no teacher is needed.
/// </summary>
public sealed class AuxiliaryHead : nn.Module<Tensor, (Tensor Logits, Tensor Feature)>
{
    readonly Linear project, classify;
    readonly long channels;

    public AuxiliaryHead(long channels, long featureDim, long classes) : base("aux")
    {
        this.channels = channels;
        project = nn.Linear(channels, featureDim);
        classify = nn.Linear(featureDim, classes);
        RegisterComponents();
    }

    /// <param name="x">A stage's feature: [B, C, H, W] or [B, C, L] (averaged over the positions) or [B, C].</param>
    public override (Tensor Logits, Tensor Feature) forward(Tensor x)
    {
        // Checked here: libtorch's own error for a wrong C, or for a [B, C, L] input flattened to C·L, was "mat1 and mat2
        // shapes cannot be multiplied (2x36 and 4x8)", naming neither the head nor the shape it expects.
        if (x.dim() is < 2 or > 4 || x.shape[1] != channels)
            throw new ArgumentException($"byot: an auxiliary head for {channels} channels takes [B, {channels}, H, W], [B, {channels}, L] or [B, {channels}] features, got {Shape(x)}.");
        var pooled = x.dim() switch
        {
            4 => nn.functional.adaptive_avg_pool2d(x, 1).flatten(1),
            3 => x.mean([2]),
            _ => x,
        };
        var f = project.call(pooled);
        return (classify.call(nn.functional.relu(f)), f);
    }
}

public sealed class SelfDistillationTerm(IReadOnlyList<(string Layer, AuxiliaryHead Head)> heads, string deepest, double alpha, double temperature,
    double lambda, string name = "self") : ILossTerm
{
    public string Name => name;
    public string Settings => TermSupport.Describe(("layers", heads.Select(h => h.Layer)), ("deepest", deepest), ("alpha", alpha), ("temperature", temperature), ("lambda", lambda));
    public bool NeedsTeacher => false;
    public IEnumerable<Parameter> Parameters() => heads.SelectMany(h => h.Head.parameters());
    public IEnumerable<nn.Module> Modules() => heads.Select(h => (nn.Module)h.Head);

    public Tensor Compute(StepContext ctx)
    {
        // Once for all heads: each has the model's classes (SelfDistillationMethod builds them with setup.NumClasses).
        Labels(name, ctx.Student.Logits, ctx.Labels);
        var teacherLogits = ctx.Student.Logits.detach();
        var teacherFeature = Feature(ctx.Student, deepest).detach().flatten(1);
        Tensor? sum = null;
        foreach (var (layer, head) in heads)
        {
            var (logits, feature) = head.call(Feature(ctx.Student, layer));
            var l = (1 - alpha) * nn.functional.cross_entropy(logits, ctx.Labels)
                    + alpha * Kd.Loss(logits, teacherLogits, temperature)
                    + lambda * (feature - teacherFeature).pow(2).sum(1).mean();
            sum = sum is null ? l : sum + l;
        }
        return sum ?? throw new InvalidOperationException($"{name}: no auxiliary heads.");
    }
}

public sealed class SelfDistillationMethod : Methods.Method
{
    public override string Name => "byot";
    public override string Summary => "self-distillation: auxiliary heads on the shallower stages, taught by the network's deepest classifier";
    public override Methods.Paper Paper { get; } = new("Zhang, Song, Gao, Chen, Bao & Ma", 2019, "ICCV", "Be Your Own Teacher: Improve the Performance of Convolutional Neural Networks via Self Distillation");
    public override Methods.MethodKind Kind => Methods.MethodKind.Logit;
    public override bool NeedsTeacher => false;
    public override bool InComparison => false;
    public override string WeightNote => "heads are pool → linear instead of bottleneck conv blocks; α, T and λ are ours (the paper tunes them per dataset)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("alpha", "weight α of the deepest classifier's soft targets for each head", 0.5, 0, 1),
        Methods.MethodParameter.Temperature("temperature", "temperature T", 3),
        new("lambda", "weight λ of the feature hint from the deepest feature", 0.03, 0, double.PositiveInfinity),
        new("weight", "weight of the summed auxiliary losses", 1, 0, double.PositiveInfinity),
        new("layers", "comma-separated shallower layers with heads; empty = every stage but the last", Text: ""),
    ];

    protected override void Check(Methods.MethodSettings s) => s.List("layers", distinct: true);

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        var features = setup.StudentFeatures;
        if (features.Count < 2) throw new ArgumentException($"byot: {setup.Student} has {features.Count} feature(s); self-distillation needs a shallower stage and a deepest feature.");
        var deepest = features[^1];
        var stages = features.Select(f => f.Name).Where(Methods.MethodSetup.IsStage).ToList();
        var shallower = features.Take(features.Count - 1).Select(f => f.Name).ToList();
        IReadOnlyList<string> names = s.List("layers", distinct: true) is { Length: > 0 } given
            ? given : stages.Count > 1 ? stages[..^1] : shallower;
        // A head on the deepest feature or the logits is taught by the very outputs it copies (its loss trained an
        // extra classifier beside the real one, and the hint compared the feature with itself).
        if (names.FirstOrDefault(n => n == "logits" || n == deepest.Name) is { } deep)
            throw new ArgumentException($"byot: layers={s.Text("layers")}: {deep} is {setup.Student}'s " + (deep == "logits" ? "output" : "deepest feature") +
                                        $", which teaches the heads; give shallower layers: {string.Join(", ", shallower)}.");
        var heads = names.Select(n => (n, new AuxiliaryHead(setup.StudentShape(n)[1], Methods.MethodSetup.Size(deepest.Shape), setup.NumClasses))).ToList();
        return new Objective().Add(new CrossEntropyTerm())
            .Add(new SelfDistillationTerm(heads, deepest.Name, s["alpha"], s["temperature"], s["lambda"]), s["weight"]);
    }
}
