using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Relational knowledge distillation (Park, Kim, Lu &amp; Cho 2019, "Relational Knowledge Distillation", §3.2):
/// the student matches the teacher's structure among the batch's embeddings (inputs [B, …] are flattened to [B, D];
/// student and teacher D may differ), through the Huber loss l_δ with δ = 1 (smooth-L1).
/// Distance-wise (eqs. 5-6): ψ_D(t_i, t_j) = ‖t_i − t_j‖₂ / μ with μ the mean of the positive distances in the batch;
/// <see cref="DistanceLoss"/> = mean over all B² pairs of l_δ(ψ_D(s), ψ_D(t)).
/// Angle-wise (eqs. 7-8): ψ_A(t_i, t_j, t_k) = cos∠t_i t_j t_k = ⟨e_ij, e_kj⟩ with e_ij = (t_i − t_j)/‖t_i − t_j‖₂ (a zero
/// vector stays zero); <see cref="AngleLoss"/> = mean over all B³ triplets of l_δ(ψ_A(s), ψ_A(t)).
/// Memory is O(B²·D) for the pairwise differences, as in the authors' code.
/// </summary>
public static class Rkd
{
    const double Tiny = 1e-12;

    public static Tensor DistanceLoss(Tensor studentFeatures, Tensor teacherFeatures)
    {
        SameBatch("rkd_distance", studentFeatures, teacherFeatures);
        CheckDistanceMemory(studentFeatures, teacherFeatures);
        var (s, t) = Promoted(NormalizedDistances(studentFeatures), NormalizedDistances(teacherFeatures.detach()));
        return AsDtypeOf(nn.functional.smooth_l1_loss(s, t, beta: 1.0), studentFeatures);
    }

    public static Tensor AngleLoss(Tensor studentFeatures, Tensor teacherFeatures)
    {
        SameBatch("rkd_angle", studentFeatures, teacherFeatures);
        CheckAngleMemory(studentFeatures, teacherFeatures);
        var (s, t) = Promoted(Angles(studentFeatures), Angles(teacherFeatures.detach()));
        return AsDtypeOf(nn.functional.smooth_l1_loss(s, t, beta: 1.0), studentFeatures);
    }

    /// <summary>The angles are B³ numbers per side (a batch of 1500: 3.4e9, with their gradients some 100 GB): about
    /// ten B³ tensors live at once (angles, smooth-L1, their gradients), plus six of the B²·D differences and unit vectors.</summary>
    static void CheckAngleMemory(Tensor student, Tensor teacher)
    {
        double b = student.shape[0], d = Features(student, teacher);
        CheckMemory("rkd_angle", student, b * b * b + 0.6 * b * b * d, 10,
            () => $"a batch of {b:0} compares B³ = {b * b * b:N0} angles", "use a smaller batch (RKD's paper uses 64-128)");
    }

    /// <summary>The distances are B² numbers per side from B²·D differences: about four tensors of the differences
    /// (differences, squares and their gradients) and ten of the distances.</summary>
    static void CheckDistanceMemory(Tensor student, Tensor teacher)
    {
        double b = student.shape[0], d = Features(student, teacher);
        CheckMemory("rkd_distance", student, 4 * b * b * d + 10 * b * b, 1,
            () => $"a batch of {b:0} with {d:0} features a sample compares B²·D = {b * b * d:N0} differences", "use a smaller batch (RKD's paper uses 64-128)");
    }

    /// <summary>The larger side's features per sample.</summary>
    static double Features(Tensor student, Tensor teacher)
    {
        double b = Math.Max(student.shape[0], 1);
        return Math.Max(student.numel() / b, teacher.numel() / b);
    }

    /// <summary>[B, B, D]: entry (j, i) = e_i − e_j.</summary>
    static Tensor Differences(Tensor features)
    {
        var e = features.reshape(features.shape[0], -1);
        return e.unsqueeze(0) - e.unsqueeze(1);
    }

    static Tensor NormalizedDistances(Tensor features)
    {
        features = AtLeastFloat32(features);
        var sq = Differences(features).pow(2).sum(2);
        // float32 squares overflow from about 1e19 (the distances came out NaN, the student's angles 0): such features
        // are taken in float64, which holds them.
        if (Overflowed(sq)) sq = Differences(InFloat64(features)).pow(2).sum(2);
        var zero = sq == 0;
        // masked_fill after the clamp: the diagonal (and coincident points) are 0 with zero gradient, not sqrt'(0) = ∞.
        // The clamp is on the square, so it is Tiny² there: clamping it at Tiny would flatten every distance under 1e-6
        // (features of scale 1e-7) to one value, and the loss to a constant.
        var d = sq.clamp_min(Tiny * Tiny).sqrt().masked_fill(zero, 0);
        var mean = d.sum() / zero.logical_not().sum().clamp_min(1);
        return d / mean.clamp_min(Tiny);
    }

    /// <summary>[B·B·B]: entry (j, i, k) = cos of the angle at e_j between e_i and e_k.</summary>
    static Tensor Angles(Tensor features)
    {
        var v = Differences(AtLeastFloat32(features));
        var norm = v.norm(2, true, 2.0f);
        if (Overflowed(norm))
        {
            v = Differences(InFloat64(features));
            norm = v.norm(2, true, 2.0f);
        }
        var unit = (v / norm.clamp_min(Tiny)).masked_fill(norm == 0, 0);
        return unit.bmm(unit.transpose(1, 2)).reshape(-1);
    }
}

/// <summary>
/// RKD on one (student, teacher) feature pair (use "logits" for the logits): λ_D·distance + λ_A·angle, with the paper's
/// λ_D = 25 and λ_A = 50 by default (Park et al. 2019, §4.1).
/// </summary>
public sealed class RkdTerm(string studentFeature, string teacherFeature, double distanceWeight = 25, double angleWeight = 50, string name = "rkd") : ILossTerm
{
    readonly double distanceWeight = double.IsFinite(distanceWeight) ? distanceWeight
        : throw new ArgumentOutOfRangeException(nameof(distanceWeight), distanceWeight, $"{name}: the distance weight λ_D must be finite.");
    readonly double angleWeight = double.IsFinite(angleWeight) ? angleWeight
        : throw new ArgumentOutOfRangeException(nameof(angleWeight), angleWeight, $"{name}: the angle weight λ_A must be finite.");

    public string Settings => TermSupport.Describe(("features", (studentFeature, teacherFeature)), ("distance", distanceWeight), ("angle", angleWeight));
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool NeedsTeacherFeatures => teacherFeature != TermSupport.Logits;

    public Tensor Compute(StepContext ctx)
    {
        var s = Feature(ctx.Student, studentFeature);
        var t = Feature(Teacher(ctx, name), teacherFeature);
        // A part weighted 0 is not computed: the angles cost B³ (angle=0 was refused at a large batch for the memory of
        // angles it did not use, and ran 90× slower than the distances alone), and 0·NaN would still make the sum NaN.
        if (angleWeight == 0) return distanceWeight * Rkd.DistanceLoss(s, t);
        if (distanceWeight == 0) return angleWeight * Rkd.AngleLoss(s, t);
        return distanceWeight * Rkd.DistanceLoss(s, t) + angleWeight * Rkd.AngleLoss(s, t);
    }
}

/// <summary>RKD on each model's embedding (its last feature, before the classifier), or on the layer named.</summary>
public sealed class RkdMethod : Methods.Method
{
    public override string Name => "rkd";
    public override string Summary => "relational: CE + λ_D·distance + λ_A·angle between the batch's embeddings";
    public override Methods.Paper Paper { get; } = new("Park, Kim, Lu & Cho", 2019, "CVPR", "Relational Knowledge Distillation");
    public override Methods.MethodKind Kind => Methods.MethodKind.Relation;
    public override string PaperResult => "Park 2019; CIFAR-100 resnet32x4→resnet8x4: 71.90 (RepDistiller)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("distance", "λ_D (paper: 25)", 25, 0, double.PositiveInfinity),
        new("angle", "λ_A (paper: 50)", 50, 0, double.PositiveInfinity),
        new("layer", "the layer on both models; empty = each model's last feature (its embedding)", Text: ""),
    ];

    /// <summary>λ_D and λ_A, applied inside the term.</summary>
    public override IReadOnlyList<string> TermWeights { get; } = ["distance", "angle"];

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        // Both need three samples: at two, every angle is between a vector and itself or zero, and the one distance,
        // divided by the mean distance (itself), is 1 for the student and the teacher alike.
        setup.RequireBatch(Name, 3, s["angle"] > 0 ? "matches the angles between three samples of a batch" : "matches the distances between the samples of a batch, each divided by their mean");
        var (student, teacher) = setup.Embeddings(s.Text("layer"));
        return new Objective().Add(new CrossEntropyTerm()).Add(new RkdTerm(student, teacher, s["distance"], s["angle"]));
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["rkd_distance"] = a => Rkd.DistanceLoss(a.Input("student_features"), a.Input("teacher_features")),
        ["rkd_angle"] = a => Rkd.AngleLoss(a.Input("student_features"), a.Input("teacher_features")),
    };
}
