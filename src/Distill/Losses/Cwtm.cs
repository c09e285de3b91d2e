using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Confidence-Weighted by Teacher Max (Furlanello et al. 2018, "Born-Again Neural Networks", §3.2, CWTM): the
/// student learns from the hard labels only, each sample weighted by the teacher's confidence in it,
/// <c>L = Σ_b w_b · CE(s_b, y_b) / Σ_b w_b</c> with <c>w_b = max_c softmax(t_b)_c</c>. The paper writes the gradient
/// Σ_s [max p_{·,s} / Σ_u max p_{·,u}] (q_{*,s} − y_{*,s}); this is the loss whose gradient that is. It tests whether
/// born-again gains come from importance weighting of samples rather than from the non-argmax "dark knowledge".
/// </summary>
public static class Cwtm
{
    /// <param name="labels">[B] int64 class indices.</param>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, Tensor labels)
    {
        Logits2D("cwtm", studentLogits, teacherLogits, labels);
        var weights = teacherLogits.detach().softmax(1).max(1).values;
        var ce = nn.functional.cross_entropy(studentLogits, labels, reduction: nn.Reduction.None);
        return (weights * ce).sum() / weights.sum();
    }
}

/// <summary>The <see cref="Cwtm"/> loss on the logits (a born-again variant; uses only teacher logits, so cacheable).</summary>
public sealed class CwtmTerm(string name = "cwtm") : ILossTerm
{
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;
    public Tensor Compute(StepContext ctx) => Cwtm.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits, ctx.Labels);
}
