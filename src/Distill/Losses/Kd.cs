using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Knowledge distillation with soft targets (Hinton, Vinyals &amp; Dean 2015, "Distilling the Knowledge in a Neural
/// Network", §2): the student matches the teacher's temperature-softened distribution,
/// <c>L = T² · (1/B) Σ_b KL( softmax(t_b/T) ‖ softmax(s_b/T) )</c>. The T² keeps the gradient scale comparable across
/// temperatures (∂L/∂s ≈ (1/B)(s − t)/… shrinks as 1/T² otherwise, §2.1).
/// </summary>
public static class Kd
{
    /// <param name="studentLogits">[B, C]</param>
    /// <param name="teacherLogits">[B, C]; detached here, never receives gradients.</param>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, double temperature)
    {
        Logits2D("kd", studentLogits, teacherLogits);
        CheckTemperature("kd", temperature);
        var logQ = (studentLogits / temperature).log_softmax(1);
        var logP = (teacherLogits.detach() / temperature).log_softmax(1);
        return BatchMeanKl(logP, logQ) * (temperature * temperature);
    }

    internal static void CheckTemperature(string loss, double temperature)
    {
        if (!(temperature > 0) || !double.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, $"{loss}: the temperature must be a positive finite number.");
    }
}

/// <summary>The <see cref="Kd"/> loss on the student's and teacher's logits; the temperature may be scheduled
/// (e.g. <see cref="Schedule.TemperatureAnnealing"/>). Weight it against cross-entropy in the <see cref="Objective"/>.</summary>
public sealed class KdTerm(Schedule temperature, string name = "kd") : ILossTerm
{
    public string Name => name;
    public bool NeedsTeacher => true;
    public Schedule Temperature => temperature;

    public Tensor Compute(StepContext ctx) =>
        Kd.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits, temperature.At(ctx.Progress));
}
