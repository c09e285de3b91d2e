using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Cross-entropy with the hard labels, mean over the batch; optional label smoothing (Szegedy et al. 2016,
/// "Rethinking the Inception Architecture", §7: targets (1 − ε)·onehot + ε/C).
/// </summary>
public sealed class CrossEntropyTerm : ILossTerm
{
    public CrossEntropyTerm(double labelSmoothing = 0, string name = "ce")
    {
        if (labelSmoothing is < 0 or >= 1 || double.IsNaN(labelSmoothing))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing must be in [0, 1).");
        LabelSmoothing = labelSmoothing;
        Name = name;
    }

    public string Name { get; }
    public double LabelSmoothing { get; }
    public string Settings => TermSupport.Describe(("label_smoothing", LabelSmoothing));
    public bool NeedsTeacher => false;
    public bool LogitsOnly => true;

    public Tensor Compute(StepContext ctx)
    {
        TermSupport.Labels(Name, ctx.Student.Logits, ctx.Labels);
        return nn.functional.cross_entropy(ctx.Student.Logits, ctx.Labels, label_smoothing: LabelSmoothing);
    }
}

/// <summary>The baseline every method is judged against: the student alone, cross-entropy with the labels.</summary>
public sealed class ScratchMethod : Methods.Method
{
    public override string Name => "scratch";
    public override string Summary => "the student alone: cross-entropy with the labels";
    public override Methods.Paper? Paper => null;
    public override Methods.MethodKind Kind => Methods.MethodKind.Baseline;
    public override bool NeedsTeacher => false;
    public override string PaperResult => "scratch baseline: resnet8x4 72.50 (RepDistiller)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
        [new("label_smoothing", "label smoothing ε of the cross-entropy", 0, 0, 0.999)];

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup) =>
        new Objective().Add(new CrossEntropyTerm(s["label_smoothing"]));
}
