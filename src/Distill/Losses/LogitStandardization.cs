using Distill.Models;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Logit standardization (Sun, Ren, Li, Wang &amp; Cao, CVPR 2024, "Logit Standardization in Knowledge Distillation",
/// §3.2-3.3): each row of logits is z-scored, <c>(z − mean) / (std + 1e-7)</c> with the unbiased (n − 1) std, before the
/// temperature is applied, so the student matches the teacher's logit relations rather than their magnitude. It is a
/// pre-processing of the logits, so it wraps any logit term: KD, DKD and MLKD take it as <c>standardize=1</c>.
/// </summary>
public static class LogitStandardization
{
    public static Tensor Standardize(Tensor logits) =>
        (logits - logits.mean([1], keepdim: true)) / (logits.std(1, unbiased: true, keepdim: true) + 1e-7);

    /// <summary>Reference form (<c>kd_ls</c>): KD at T on standardized student and teacher logits.</summary>
    public static Tensor Kd(Tensor studentLogits, Tensor teacherLogits, double temperature)
    {
        TermSupport.Logits2D("kd_ls", studentLogits, teacherLogits);
        if (studentLogits.shape[1] < 2) throw new ArgumentException("kd_ls: standardizing needs at least two classes.");
        Losses.Kd.CheckTemperature("kd_ls", temperature); // before Losses.Kd.Loss, which would name itself
        return Losses.Kd.Loss(Standardize(studentLogits), Standardize(teacherLogits.detach()), temperature);
    }
}

/// <summary>Runs <paramref name="inner"/> on standardized student and teacher logits (features untouched).</summary>
public sealed class StandardizedTerm(ILossTerm inner) : ILossTerm
{
    public string Name => inner.Name;
    public bool NeedsTeacher => inner.NeedsTeacher;
    public bool NeedsTeacherFeatures => inner.NeedsTeacherFeatures;
    public bool LogitsOnly => inner.LogitsOnly;
    public IEnumerable<TorchSharp.Modules.Parameter> Parameters() => inner.Parameters();
    public IEnumerable<nn.Module> Modules() => inner.Modules();

    public Tensor Compute(StepContext ctx) => inner.Compute(ctx with
    {
        Student = Standardized(ctx.Student)!,
        Teacher = Standardized(ctx.Teacher),
    });

    static ModelOutput? Standardized(ModelOutput? o) => o is null ? null : o with { Logits = LogitStandardization.Standardize(o.Logits) };
}
