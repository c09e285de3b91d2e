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
        var diff = Gram(studentFeatures) - Gram(teacherFeatures.detach());
        return diff.pow(2).sum() / (b * b);
    }

    static Tensor Gram(Tensor f)
    {
        var a = f.reshape(f.shape[0], -1);
        var g = a.mm(a.t());
        // A A^T overflows float32 for features of size 1e19 / sqrt(their count); the normalised rows are the same for
        // any positive scale of A, so then A is divided by its largest |value| first (Normalized handles the rows' norms).
        if (Overflowed(g))
        {
            a = a / a.detach().abs().max().clamp_min(float.Epsilon);
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
        new("weight", "γ (RepDistiller: 3000)", 3000, 0, double.PositiveInfinity),
        new("layers", "comma-separated layers; empty = the last stage both models have", Text: ""),
    ];

    // Empty and repeated items refused when chosen (MethodSetup.Layers would drop the one and count the other twice).
    protected override void Check(Methods.MethodSettings s) => s.List("layers", distinct: true);

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        setup.RequireBatch(Name, 2, "matches the similarities between the samples of a batch");
        return new Objective().Add(new CrossEntropyTerm())
            .Add(new SpTerm(setup.Layers(s.Text("layers"), () => [setup.SharedStages()[^1]]).Select(l => (l, l))), s["weight"]);
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["sp"] = a => Sp.Loss(a.Input("student_features"), a.Input("teacher_features")),
    };
}
