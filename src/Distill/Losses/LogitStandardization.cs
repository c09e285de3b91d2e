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
    public static Tensor Standardize(Tensor logits)
    {
        // One class has no spread (std 0 gave NaN rows); an integer tensor or a 1-D one failed inside libtorch.
        if (!logits.is_floating_point() || logits.dim() != 2 || logits.shape[1] < 2)
            throw new ArgumentException($"kd_ls: logit standardization needs floating logits [B, C] with C ≥ 2 classes (a row's spread), got {logits.dtype} {TermSupport.Shape(logits)}.", nameof(logits));
        var (mean, std) = (logits.mean([1], keepdim: true), logits.std(1, unbiased: true, keepdim: true));
        // float32's std of rows far from zero relative to their spread loses digits (logits 3e5 ± 1 gave KD at T = 4
        // 3e-4 off PyTorch's float64, 1e6 ± 1 5e-3), and a row near float32's limit overflows its mean: such rows are
        // standardized in float64, which returns values of size 1. The check reads one number per call; trained
        // networks' logits (a mean within a few spreads of zero) keep their float32 bits.
        if (TermSupport.IsNarrow(logits) && !(TermSupport.LargestMagnitude(mean / std) <= Float32MaxOffset))
            return TermSupport.AsDtypeOf(Standardize(logits.to(ScalarType.Float64)), logits);
        return (logits - mean) / (std + 1e-7);
    }

    /// <summary>The largest |row mean| / row std that <see cref="Standardize"/> takes in float32 (3e5 was 3e-4 off).</summary>
    const double Float32MaxOffset = 1e3;

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
    public string Settings => inner.Settings is { } s ? $"standardized, {s}" : "standardized";
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
