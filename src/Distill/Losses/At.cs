using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Attention transfer (Zagoruyko &amp; Komodakis 2017, "Paying More Attention to Attention", §3.1). The spatial attention
/// map of activations A ∈ [B, C, H, W] is F(A) = mean_c |A_c|^p (eq. 1 with F_sum^p; mean and sum differ by a constant
/// the normalisation removes), flattened and L2-normalised per sample: q(A) = vec F(A) / ‖vec F(A)‖₂.
/// Eq. 2: <c>L = L_CE + β/2 · Σ_j ‖ q(S_j) − q(T_j) ‖_p</c> over chosen groups j, β = 1000, p = 2.
/// Two forms are provided: <see cref="Loss"/> is the authors' released code (mean over all elements of the squared
/// difference, <c>at_loss</c> in szagoruyko/attention-transfer), <see cref="PaperLoss"/> the norm written in eq. 2.
/// Student and teacher may differ in channels but must share H·W.
/// </summary>
public static class At
{
    /// <summary>q(A): [B, H·W], each row unit-norm.</summary>
    public static Tensor Map(Tensor features, double p = 2)
    {
        if (features.dim() < 3 || !features.is_floating_point() || features.shape[0] == 0)
            throw new ArgumentException($"at: features must be floating [B, C, H, W] (or [B, C, L]) with B ≥ 1, got {features.dtype} {Shape(features)}.");
        InCatalogueRange("at", AtMethod.P, p);
        var map = Powered(features, p);
        // F(A)^p overflows float32 for features past about 1.8e19^(2/p); q(A) is the same for any positive scale of a
        // sample's features, so then each sample is divided by its largest |value| first.
        if (Overflowed(map))
            map = Powered(features / features.detach().abs().flatten(1).amax([1]).clamp_min(float.Epsilon)
                .reshape([features.shape[0], .. Enumerable.Repeat(1L, (int)features.dim() - 1)]), p);
        return Normalized(map, 1);
    }

    /// <summary>F(A) = mean_c |A_c|^p, flattened: [B, H·W]. The channels are moved last and the mean taken there. Why:
    /// on channels-last features (the ResNets', <see cref="Models.DistillModel.ChannelsLast"/>) that measured faster
    /// than the mean over dimension 1, in the backward pass: attention transfer resnet20 → resnet8, batch 128, 2 threads,
    /// 179 against 191 ms a step (medians of 48 interleaved steps). On NCHW features both forms give the same bits,
    /// forward and gradient (checked on 7 shapes, 5 seeds each; LossPropertyTests), so NCHW models' runs do not move.</summary>
    static Tensor Powered(Tensor features, double p)
    {
        var last = features.movedim([1], [-1]);
        return (p == 2 ? last.square() : last.abs().pow(p)).mean([-1]).reshape(features.shape[0], -1);
    }

    /// <summary>Released-code form: <c>mean((q(s) − q(t))²)</c>; the term multiplies by β/2.</summary>
    public static Tensor Loss(Tensor studentFeatures, Tensor teacherFeatures, double p = 2) =>
        Diff(studentFeatures, teacherFeatures, p).pow(2).mean();

    /// <summary>Paper form (eq. 2): <c>(1/B) Σ_b ‖q(s)_b − q(t)_b‖₂</c>; the term multiplies by β/2.</summary>
    public static Tensor PaperLoss(Tensor studentFeatures, Tensor teacherFeatures, double p = 2) =>
        Diff(studentFeatures, teacherFeatures, p).norm(1, false, 2.0f).mean();

    static Tensor Diff(Tensor s, Tensor t, double p)
    {
        SameBatch("at", s, t);
        if (s.dim() != t.dim() || !s.shape.Skip(2).SequenceEqual(t.shape.Skip(2)))
            throw new ArgumentException(
                $"at: student {Shape(s)} and teacher {Shape(t)} must have the same spatial size; pool the larger one (adaptive_avg_pool2d) first.");
        return Map(s, p) - Map(t.detach(), p);
    }
}

/// <summary>
/// Attention transfer on pairs of (student, teacher) features: <c>β/2 · Σ_pairs at(s, t)</c> (β = 1000 in the paper and
/// code). The β/2 is inside the term, so its objective weight is 1 unless scheduled.
/// </summary>
public sealed class AtTerm : ILossTerm
{
    readonly (string Student, string Teacher)[] pairs;

    public AtTerm(IEnumerable<(string Student, string Teacher)> pairs, double beta = 1000, double p = 2, bool paperForm = false, string name = "at")
    {
        this.pairs = [.. pairs];
        if (this.pairs.Length == 0) throw new ArgumentException("at: give at least one (student, teacher) feature pair.", nameof(pairs));
        (Beta, P, PaperForm, Name) = (beta, p, paperForm, name);
    }

    /// <summary>Same feature names on both sides (e.g. the three groups of two WRNs).</summary>
    public AtTerm(IEnumerable<string> features, double beta = 1000, double p = 2, bool paperForm = false, string name = "at")
        : this(features.Select(f => (f, f)), beta, p, paperForm, name) { }

    public string Name { get; }
    public double Beta { get; }
    public double P { get; }
    public bool PaperForm { get; }
    public IReadOnlyList<(string Student, string Teacher)> Pairs => pairs;
    public string Settings => TermSupport.Describe(("pairs", pairs), ("beta", Beta), ("p", P), ("paper_form", PaperForm));
    public bool NeedsTeacher => true;
    public bool NeedsTeacherFeatures => true;

    public Tensor Compute(StepContext ctx)
    {
        var teacher = Teacher(ctx, Name);
        Tensor? sum = null;
        foreach (var (s, t) in pairs)
        {
            var sf = Feature(ctx.Student, s);
            var tf = Feature(teacher, t);
            var l = PaperForm ? At.PaperLoss(sf, tf, P) : At.Loss(sf, tf, P);
            sum = sum is null ? l : sum + l;
        }
        return sum! * (Beta / 2);
    }
}

/// <summary>Attention transfer at every stage both models have (as RepDistiller), or at the layers named.</summary>
public sealed class AtMethod : Methods.Method
{
    public override string Name => "at";
    public override string Summary => "attention maps: CE + β/2·Σ ‖q(S) − q(T)‖² over stages";
    public override Methods.Paper Paper { get; } = new("Zagoruyko & Komodakis", 2017, "ICLR", "Paying More Attention to Attention");
    public override Methods.MethodKind Kind => Methods.MethodKind.Feature;
    public override string PaperResult => "Zagoruyko 2017; CIFAR-100 resnet32x4→resnet8x4: 73.44 (RepDistiller)";

    /// <summary>Also <see cref="At.Map"/>'s range. Below 1, |A|^p has an infinite slope at the zeros ReLU leaves (NaN
    /// gradients), and near 0 every map is flat; far above the paper's 1-4 the map is one-hot at each sample's
    /// largest activation: either way the term gave no gradient and the run silently trained without it (p=1e30).</summary>
    internal static readonly Methods.MethodParameter P = new("p", "power p of the attention map", 2, 1, 16);

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("beta", "β of β/2·AT (paper and code: 1000)", 1000, 0, double.PositiveInfinity),
        P,
        new("layers", "comma-separated layers; empty = every stage both models have", Text: ""),
    ];

    // Empty and repeated items refused when chosen (MethodSetup.Layers would drop the one and count the other twice).
    protected override void Check(Methods.MethodSettings s) => s.List("layers", distinct: true);

    /// <summary>β weights the term inside it (its objective weight is 1).</summary>
    public override IReadOnlyList<string> TermWeights { get; } = ["beta"];

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        var layers = setup.Layers(s.Text("layers"), setup.SharedStages);
        foreach (var layer in layers) setup.CheckSameMap(Name, "layers", layer);
        return new Objective().Add(new CrossEntropyTerm()).Add(new AtTerm(layers, s["beta"], s["p"]));
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["at"] = a => At.Loss(a.Input("student_features"), a.Input("teacher_features"), a.Param("p", 2)),
        ["at_paper"] = a => At.PaperLoss(a.Input("student_features"), a.Input("teacher_features"), a.Param("p", 2)),
    };
}
