using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Hinton et al. 2015 (§2, "weighted average of two objective functions"): soft targets plus the hard labels,
/// <c>L = α · T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α) · CE(s, y)</c>, α weighing the soft term (the form of most
/// reimplementations, e.g. RepDistiller's --alpha/--gamma with α + γ = 1).
/// </summary>
public static class KdHard
{
    /// <param name="labels">[B] int64 class indices.</param>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, Tensor labels, double temperature, double alpha)
    {
        Logits2D("kd_hard", studentLogits, teacherLogits, labels);
        Kd.CheckTemperature("kd_hard", temperature); // before Kd.Loss, which would name itself
        // The catalogue's range for kd's alpha: past 1 the cross-entropy's weight 1 − α is negative, and the loss falls
        // without bound as the student moves away from the labels (--alpha 5 took a run to 1.7 %).
        if (!(alpha is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha,
                $"kd_hard: alpha = {alpha.ToString(System.Globalization.CultureInfo.InvariantCulture)} is outside [0, 1]; it weighs the soft term and 1 − alpha the cross-entropy.");
        var soft = Kd.Loss(studentLogits, teacherLogits, temperature);
        var hard = nn.functional.cross_entropy(studentLogits, labels);
        return alpha * soft + (1 - alpha) * hard;
    }
}

/// <summary>The <see cref="KdHard"/> loss as one term (temperature and α may be scheduled). Equivalent to an objective
/// of <see cref="CrossEntropyTerm"/> weighted 1 − α plus <see cref="KdTerm"/> weighted α, which logs the parts apart.</summary>
public sealed class KdHardTerm(Schedule temperature, Schedule alpha, string name = "kd_hard") : ILossTerm
{
    public string Settings => TermSupport.Describe(("temperature", temperature), ("alpha", alpha));
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;

    public Tensor Compute(StepContext ctx) =>
        KdHard.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits, ctx.Labels, temperature.At(ctx.Progress), alpha.At(ctx.Progress));
}
