using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Similarity-preserving distillation (Tung &amp; Mori 2019, "Similarity-Preserving Knowledge Distillation", eqs. 2-4):
/// with A = f flattened to [B, −1], G = A Aᵀ and G̃ its rows L2-normalised (eq. 2),
/// <c>L = (1/B²) · ‖G̃_S − G̃_T‖²_F</c> (eq. 3); the paper weights it by γ (3000 on CIFAR-10) in eq. 4.
/// Only the batch size has to match: G is B×B whatever the feature shapes.
/// </summary>
public static class Sp
{
    public static Tensor Loss(Tensor studentFeatures, Tensor teacherFeatures)
    {
        SameBatch("sp", studentFeatures, teacherFeatures);
        var b = studentFeatures.shape[0];
        // Per side a B×B Gram and its normalised rows, then their difference and square, and the gradients of each.
        CheckMemory("sp", studentFeatures, (double)b * b, 12, () => $"a batch of {b} compares B² = {(double)b * b:N0} pairs", "use a smaller batch");
        var (gs, gt) = Promoted(Gram(studentFeatures), Gram(teacherFeatures.detach()));
        return AsDtypeOf((gs - gt).pow(2).sum() / (b * b), studentFeatures);
    }

    static Tensor Gram(Tensor f)
    {
        var a = f.reshape(f.shape[0], -1);
        var g = a.mm(a.t());
        // A A^T overflows float32 for features of size 1e19 / sqrt(their count): then it is taken in float64, which holds
        // it (Normalized handles the rows' norms). Mixed signs overflow to ∞ − ∞ = NaN as well as to ∞ (1e26 × randn):
        // Overflowed counts both.
        if (Overflowed(g))
        {
            a = InFloat64(a);
            g = a.mm(a.t());
        }
        return Normalized(g, 1);
    }
}

/// <summary>The <see cref="Sp"/> loss summed over (student, teacher) feature pairs; weight it (γ) in the objective.</summary>
public sealed class SpTerm(IEnumerable<(string Student, string Teacher)> pairs, string name = "sp") : ILossTerm
{
    readonly (string Student, string Teacher)[] pairs = [.. pairs];
    public string Settings => TermSupport.Describe(("pairs", this.pairs));

    public string Name => name;
    public bool NeedsTeacher => true;
    public bool NeedsTeacherFeatures => true;

    public Tensor Compute(StepContext ctx)
    {
        if (pairs.Length == 0) throw new InvalidOperationException("sp: give at least one (student, teacher) feature pair.");
        var teacher = Teacher(ctx, name);
        Tensor? sum = null;
        foreach (var (s, t) in pairs)
        {
            var l = Sp.Loss(Feature(ctx.Student, s), Feature(teacher, t));
            sum = sum is null ? l : sum + l;
        }
        return sum!;
    }
}

/// <summary>Similarity preservation at the last stage both models have (RepDistiller's choice), or at the layers named.</summary>
public sealed class SpMethod : Methods.Method
{
    public override string Name => "sp";
    public override string Summary => "similarity-preserving: CE + γ·‖G_S − G_T‖² of the batch's normalised Gram matrices";
    public override Methods.Paper Paper { get; } = new("Tung & Mori", 2019, "ICCV", "Similarity-Preserving Knowledge Distillation");
    public override Methods.MethodKind Kind => Methods.MethodKind.Relation;
    public override string PaperResult => "Tung 2019; CIFAR-100 resnet32x4→resnet8x4: 72.94 (RepDistiller)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("weight", $"γ (RepDistiller: 3000, for feature maps; flat layers need one given, e.g. {FlatWeight})", 3000, 0, double.PositiveInfinity),
        new("layers", "comma-separated layers; empty = the last stage both models have", Text: ""),
    ];

    // Empty and repeated items refused when chosen (MethodSetup.Layers would drop the one and count the other twice).
    protected override void Check(Methods.MethodSettings s) => s.List("layers", distinct: true);

    /// <summary>The weight suggested for flat layers (logits, an MLP's hidden layer, a CNN's fc), where the default's term
    /// outweighed the cross-entropy (<see cref="Build"/>). At 30 each trains as scratch does or better (3 epochs of 2,000
    /// images: cnn-4 from cnn-8 on logits 74.2%, fc 74.0%, logits,fc,stage1 74.6% against 73.8%; mlp-32 from mlp-64 on
    /// hidden1 76.3%, logits 75.9% against 76.1%); at 300 logits still fell to 62%.</summary>
    const string FlatWeight = "weight=30";

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        setup.RequireBatch(Name, 2, "matches the similarities between the samples of a batch");
        var layers = setup.Layers(s.Text("layers"), () => [LastStage(s, setup)]);
        // γ = 3000 is the paper's (and RepDistiller's) for the last stage's feature maps, thousands of mostly positive
        // values per sample whose batch similarities are alike in student and teacher (sp ≈ 2e-4 on cnn-4 from cnn-8).
        // A flat layer of tens of values is 5 to 70 times further apart (fc 1.4e-3, logits 1.5e-2): at 3000 its term
        // outweighed the cross-entropy and wrecked the student (cnn-4 from cnn-8 on logits: test 10%; mlp-32 from mlp-64
        // on hidden1: 66% against scratch's 76%), so it is not applied to them unasked.
        setup.RefuseDefaultWeightOnFlat(Name, s, layers, "layer", $", and the default weight {s.Text("weight")} is the paper's for feature maps: " +
                                                                  "on a flat layer the term outweighs the cross-entropy and wrecks the student", FlatWeight);
        return new Objective().Add(new CrossEntropyTerm()).Add(new SpTerm(layers.Select(l => (l, l))), s["weight"]);
    }

    /// <summary>The default layer: the last stage both models have. Models with none (MLPs) were sent to convolutional
    /// models, though sp compares any layer both have: it names those, with the weight a flat one needs.</summary>
    static string LastStage(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        var shared = setup.SharedFeatures().Select(f => f.Name).ToList();
        if (shared.LastOrDefault(Methods.MethodSetup.IsStage) is { } last) return last;
        shared.Add(TermSupport.Logits);
        var weight = s.Given("weight") ? "" : $" and {FlatWeight}";
        throw new ArgumentException($"sp: {setup.Student} and {setup.Teacher} share no stage, the default layer (the last stage both have); name a layer both have: " +
                                    $"{string.Join(", ", shared)} (e.g. layers={shared[0]}{(setup.IsFlat(shared[0]) ? weight : "")}).");
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["sp"] = a => Sp.Loss(a.Input("student_features"), a.Input("teacher_features")),
    };
}
