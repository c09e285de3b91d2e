using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Born-again networks (Furlanello et al. 2018, "Born-Again Neural Networks", §3): the student of generation k is
/// trained on the cross-entropy to the previous generation's output at T = 1,
/// <c>L = −(1/B) Σ_b Σ_c softmax(t_b)_c · log_softmax(s_b)_c</c>. Differs from KD at T = 1 only by the teacher's
/// entropy (constant for the student), so the gradients match; the value does not.
/// </summary>
public static class SoftCe
{
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits)
    {
        Logits2D("soft_ce", studentLogits, teacherLogits);
        var (s, t) = Widened(studentLogits, teacherLogits.detach(), 1);
        return AsDtypeOf(-(t.softmax(1) * s.log_softmax(1)).sum() / studentLogits.shape[0], studentLogits);
    }
}

/// <summary>The <see cref="SoftCe"/> loss on the logits (born-again generations).</summary>
public sealed class SoftCeTerm(string name = "soft_ce") : ILossTerm
{
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;

    public Tensor Compute(StepContext ctx) => SoftCe.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits);
}
