using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Dark Knowledge with Permuted Predictions (Furlanello et al. 2018, "Born-Again Neural Networks", §3.2, DKPP): the
/// teacher's distribution keeps its maximum where it is, and every other probability is moved to a randomly chosen
/// other non-argmax class, <c>L = −(1/B) Σ_b Σ_c φ_b(softmax(t_b))_c · log softmax(s_b)_c</c>. The permutation φ_b
/// destroys the covariance between the output classes while keeping the moments of the distribution, so a gain that
/// survives it is not due to the teacher's knowledge of class similarities. A new permutation per sample and per
/// step, drawn from the global generator (seeded, and saved in checkpoints by the trainer). Whole-batch: two random
/// orders of the classes, each with the argmax forced first, map permuted values onto permuted positions.
/// </summary>
public static class Dkpp
{
    /// <summary>Probabilities [B, C] with the non-argmax entries of each row permuted at random.</summary>
    public static Tensor Permute(Tensor probabilities)
    {
        if (!probabilities.is_floating_point() || probabilities.dim() != 2)
            throw new ArgumentException($"dkpp: probabilities must be floating [B, C], got {probabilities.dtype} {TermSupport.Shape(probabilities)}.", nameof(probabilities));
        using var scope = NewDisposeScope();
        var (b, c) = (probabilities.shape[0], probabilities.shape[1]);
        var top = probabilities.argmax(1, keepdim: true);
        Tensor Order()
        {
            var keys = rand(b, c, device: probabilities.device).scatter_(1, top, full(b, 1, -1f, device: probabilities.device));
            return keys.argsort(1);
        }
        var from = Order(); // the argmax comes first in both orders, so it maps onto itself
        var to = Order();
        return zeros_like(probabilities).scatter_(1, to, probabilities.gather(1, from)).MoveToOuterDisposeScope();
    }

    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits)
    {
        Logits2D("dkpp", studentLogits, teacherLogits);
        var p = Permute(teacherLogits.detach().softmax(1));
        return -(p * studentLogits.log_softmax(1)).sum() / studentLogits.shape[0];
    }
}

/// <summary>The <see cref="Dkpp"/> loss on the logits (a born-again variant; uses only teacher logits, so cacheable:
/// the permutation is drawn afresh inside the term at every step).</summary>
public sealed class DkppTerm(string name = "dkpp") : ILossTerm
{
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;
    public Tensor Compute(StepContext ctx) => Dkpp.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits);
}
