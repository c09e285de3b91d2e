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
    public bool NeedsTeacher => false;

    public Tensor Compute(StepContext ctx) =>
        nn.functional.cross_entropy(ctx.Student.Logits, ctx.Labels, label_smoothing: LabelSmoothing);
}
