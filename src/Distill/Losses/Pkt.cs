using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Probabilistic knowledge transfer (Passalis &amp; Tefas 2018, "Learning Deep Representations with Probabilistic
/// Knowledge Transfer", §3, eqs. 9-12 with the cosine kernel): rows of [B, D] features are L2-normalised
/// (x / (‖x‖ + ε), ε = 1e-7), the cosine similarities mapped to [0, 1] by (K + 1)/2 and normalised per row into
/// conditional probabilities P; <c>L = (1/B) Σ_b Σ_j P_t log((P_t + ε)/(P_s + ε))</c>, a KL per sample averaged over
/// the batch. Student and teacher dimensions may differ.
/// </summary>
public static class Pkt
{
    const double Eps = 1e-7;

    public static Tensor Loss(Tensor studentFeatures, Tensor teacherFeatures)
    {
        SameBatch("pkt", studentFeatures, teacherFeatures);
        // B×B kernels and conditionals per side, in float64, their log-ratio and the gradients of each.
        var b = (double)studentFeatures.shape[0];
        CheckMemory("pkt", studentFeatures, b * b, 20, () => $"a batch of {b:0} compares B² = {b * b:N0} pairs", "use a smaller batch", elementBytes: 8);
        var ps = Conditional(studentFeatures);
        var pt = Conditional(teacherFeatures.detach());
        return AsDtypeOf((pt * ((pt + Eps) / (ps + Eps)).log()).sum() / studentFeatures.shape[0], studentFeatures);
    }

    /// <summary>P in float64 (B×B, cheap): an antipodal pair, and every pair of 1-D embeddings, has a cosine of −1 and
    /// so a kernel of about ε/‖x‖ ≈ 1e-7, the size of the ε beside P in the log; float32's rounding of a cosine near
    /// −1 is as large, and left the loss 1e-2 off (as in PyTorch's float32).</summary>
    static Tensor Conditional(Tensor features)
    {
        var x = features.reshape(features.shape[0], -1).to(ScalarType.Float64);
        x = x / (x.norm(1, true, 2.0f) + Eps); // norm, not sqrt(Σx²): its gradient at a zero row is 0, not ∞
        var k = (x.mm(x.t()) + 1) / 2;
        return k / k.sum(1, keepdim: true);
    }
}

/// <summary>The <see cref="Pkt"/> loss on one (student, teacher) feature pair (use "logits" for the logits).</summary>
public sealed class PktTerm(string studentFeature, string teacherFeature, string name = "pkt") : ILossTerm
{
    public string Settings => TermSupport.Describe(("features", (studentFeature, teacherFeature)));
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool NeedsTeacherFeatures => teacherFeature != TermSupport.Logits;

    public Tensor Compute(StepContext ctx) =>
        Pkt.Loss(Feature(ctx.Student, studentFeature), Feature(Teacher(ctx, name), teacherFeature));
}

/// <summary>PKT on each model's embedding, or on the layer named.</summary>
public sealed class PktMethod : Methods.Method
{
    public override string Name => "pkt";
    public override string Summary => "probabilistic: CE + w·KL between the batch's cosine-similarity distributions";
    public override Methods.Paper Paper { get; } = new("Passalis & Tefas", 2018, "ECCV", "Learning Deep Representations with Probabilistic Knowledge Transfer");
    public override Methods.MethodKind Kind => Methods.MethodKind.Relation;
    public override string PaperResult => "Passalis 2018; CIFAR-100 resnet32x4→resnet8x4: 73.64 (RepDistiller)";
    public override string WeightNote => $"RepDistiller's 30000 divided by the batch size: it averages over all B² pairs, we sum each sample's KL; left to its default below RepDistiller's batch of {ReferenceBatch}, refused";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("weight", $"RepDistiller's weight (30000, for its batches of {ReferenceBatch}; smaller batches need one given); the term is weighted by it over the batch size", 30000, 0, double.PositiveInfinity),
        new("layer", "the layer on both models; empty = each model's last feature (its embedding)", Text: ""),
    ];

    /// <summary>RepDistiller's batch size, which its weight of 30000 is set for.</summary>
    public const int ReferenceBatch = 64;

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        setup.RequireBatch(Name, 2, "compares each sample's similarities to the others in its batch");
        // RepDistiller's term is β · mean over the batch's B² pairs of P_t log(P_t / P_s): β / B times the KL per sample
        // averaged over the batch (Pkt.Loss), so the weight over the batch is exactly its term, at any batch. Against the
        // cross-entropy, also a mean over the batch, each sample's KL is weighed β / B: 469 at its batch of 64, 234 at our
        // 128, but 938 at 32 and 10,000 at 3. β = 30000 is set for 64 only. Below it the default wrecked the student
        // (cnn-4 from cnn-8, 3 epochs: at 32, 66.6% against scratch's 79.2% on 3,000 images and chance on 512; at 3, 4
        // and 8 loss 4e4, 1e12, 1e20), and holding the pull at 64's (β / 64) still left batches of 4 at chance: no
        // rescaling of the default made small batches train, so it is refused below 64 rather than applied; a weight
        // given is the user's.
        if (!s.Given("weight") && setup.EffectiveBatch < ReferenceBatch)
            throw new ArgumentException($"pkt: the default weight {s.Text("weight")} is RepDistiller's for its batches of {ReferenceBatch}: the term weighs each sample's KL by the weight over the batch size, " +
                                        $"{Methods.MethodParameter.Format(Math.Round(s["weight"] / ReferenceBatch))} there but {Methods.MethodParameter.Format(Math.Round(s["weight"] / setup.EffectiveBatch))} at batches of {setup.EffectiveBatch}, " +
                                        $"where it outweighs the cross-entropy and wrecks the student. {char.ToUpperInvariant(setup.BatchFix(ReferenceBatch)[0])}{setup.BatchFix(ReferenceBatch)[1..]}; or give the weight, which is then taken as given.");
        var (student, teacher) = setup.Embeddings(s.Text("layer"));
        return new Objective().Add(new CrossEntropyTerm()).Add(new PktTerm(student, teacher), s["weight"] / setup.EffectiveBatch);
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["pkt"] = a => Pkt.Loss(a.Input("student_features"), a.Input("teacher_features")),
    };
}
