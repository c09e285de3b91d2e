using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Neuron selectivity transfer (Huang &amp; Wang 2017, "Like What You Like: Knowledge Distill via Neuron Selectivity
/// Transfer", §3, polynomial kernel k(a, b) = (aᵀb + c)^d with d = 2, c = 0): each channel's spatial map [H·W] is
/// L2-normalised per sample, and the squared MMD between the student's and the teacher's channel distributions is
/// <c>mean k(t, t) + mean k(s, s) − 2·mean k(s, t)</c>, means over the batch and every channel pair. Student and
/// teacher may differ in channels but must share H·W.
/// </summary>
public static class Nst
{
    public static Tensor Loss(Tensor studentFeatures, Tensor teacherFeatures)
    {
        SameBatch("nst", studentFeatures, teacherFeatures);
        if (studentFeatures.dim() != 4 || teacherFeatures.dim() != 4 || !studentFeatures.shape.Skip(2).SequenceEqual(teacherFeatures.shape.Skip(2)))
            throw new ArgumentException($"nst: features must be [B, C, H, W] with the same H, W; got student {Shape(studentFeatures)}, teacher {Shape(teacherFeatures)}.");
        // [B, C, C] kernels over channels: the teacher's (no gradient), the cross term's Cs×Ct and the student's, each
        // with its square and, on the student's side, their gradients.
        double b = studentFeatures.shape[0], cs = studentFeatures.shape[1], ct = teacherFeatures.shape[1], c = Math.Max(cs, ct);
        CheckMemory("nst", studentFeatures, b * (2 * ct * ct + 5 * cs * ct + 5 * cs * cs), 1,
            () => $"a batch of {b:0} with {c:0} channels compares B·C² = {b * c * c:N0} channel pairs", "use a smaller batch or a layer with fewer channels");
        var s = Rows(studentFeatures);
        var t = Rows(teacherFeatures.detach());
        return Kernel(t, t).mean() + Kernel(s, s).mean() - 2 * Kernel(s, t).mean();
    }

    static Tensor Rows(Tensor f) => Normalized(f.flatten(2), 2);

    static Tensor Kernel(Tensor a, Tensor b) => a.bmm(b.transpose(1, 2)).pow(2);
}

public sealed class NstTerm(IReadOnlyList<string> layers, string name = "nst") : ILossTerm
{
    public string Settings => TermSupport.Describe(("layers", layers));
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool NeedsTeacherFeatures => true;

    public Tensor Compute(StepContext ctx)
    {
        var teacher = Teacher(ctx, name);
        Tensor? sum = null;
        foreach (var l in layers)
        {
            var v = Nst.Loss(Feature(ctx.Student, l), Feature(teacher, l));
            sum = sum is null ? v : sum + v;
        }
        return sum ?? throw new InvalidOperationException("nst: give at least one layer.");
    }
}

public sealed class NstMethod : Methods.Method
{
    public override string Name => "nst";
    public override string Summary => "neuron selectivity: CE + w·MMD² (polynomial kernel) between channel maps, every shared stage";
    public override Methods.Paper Paper { get; } = new("Huang & Wang", 2017, "arXiv:1707.01219", "Like What You Like: Knowledge Distill via Neuron Selectivity Transfer");
    public override Methods.MethodKind Kind => Methods.MethodKind.Feature;
    public override string PaperResult => "Huang 2017; CIFAR-100 resnet32x4→resnet8x4: 73.30 (CRD paper, Table 1)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("weight", "weight of the MMD term (RepDistiller: 50)", 50, 0, double.PositiveInfinity),
        new("layers", "comma-separated layers; empty = every stage both models have", Text: ""),
    ];

    // Empty and repeated items refused when chosen (MethodSetup.Layers would drop the one and count the other twice).
    protected override void Check(Methods.MethodSettings s) => s.List("layers", distinct: true);

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        var layers = setup.Layers(s.Text("layers"), setup.SharedStages);
        foreach (var layer in layers) setup.CheckSameMap(Name, "layers", layer);
        return new Objective().Add(new CrossEntropyTerm()).Add(new NstTerm(layers), s["weight"]);
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["nst"] = a => Nst.Loss(a.Input("student_features"), a.Input("teacher_features")),
    };
}
