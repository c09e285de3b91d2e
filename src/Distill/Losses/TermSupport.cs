using Distill.Models;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>Shared plumbing of the loss files: input checks, feature lookup, the teacher side, batch-mean KL.</summary>
static class TermSupport
{
    /// <summary>The name that selects a model's logits instead of a named feature (e.g. RKD or PKT on the logits).</summary>
    public const string Logits = "logits";

    public static Tensor Feature(ModelOutput output, string name) => name == Logits ? output.Logits : output.Feature(name);

    /// <summary>The teacher's output, or a message saying which term needed it.</summary>
    public static ModelOutput Teacher(StepContext ctx, string term) =>
        ctx.Teacher ?? throw new InvalidOperationException(
            $"Loss term '{term}' needs the teacher's output but the step has none; train with a teacher (or drop the term).");

    /// <summary>(1/B) Σ_b KL(P_b ‖ Q_b) from log-probabilities, rows summing to one: the "batchmean" KL that TorchSharp's
    /// kl_div lacks. exp(log p)·(log p − log q) stays finite for logits of any size (log_softmax never underflows to −∞
    /// for finite inputs; p = 0 contributes 0).</summary>
    public static Tensor BatchMeanKl(Tensor logP, Tensor logQ) => (logP.exp() * (logP - logQ)).sum() / logP.shape[0];

    public static void SameShape(string loss, Tensor student, Tensor teacher)
    {
        if (!student.shape.SequenceEqual(teacher.shape))
            throw new ArgumentException(
                $"{loss}: student {Shape(student)} and teacher {Shape(teacher)} must have the same shape.");
    }

    public static void SameBatch(string loss, Tensor student, Tensor teacher)
    {
        if (student.dim() < 1 || teacher.dim() < 1 || student.shape[0] != teacher.shape[0] || student.shape[0] == 0)
            throw new ArgumentException(
                $"{loss}: student {Shape(student)} and teacher {Shape(teacher)} must share a non-empty batch dimension.");
    }

    public static void Logits2D(string loss, Tensor student, Tensor teacher, Tensor? labels = null)
    {
        if (student.dim() != 2) throw new ArgumentException($"{loss}: logits must be [B, C], got {Shape(student)}.");
        if (student.shape[0] == 0 || student.shape[1] == 0)
            throw new ArgumentException($"{loss}: logits must hold at least one sample and one class, got {Shape(student)}.");
        SameShape(loss, student, teacher);
        if (labels is not null && (labels.dim() != 1 || labels.shape[0] != student.shape[0]))
            throw new ArgumentException($"{loss}: labels must be [B] = [{student.shape[0]}], got {Shape(labels)}.");
    }

    public static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";
}
