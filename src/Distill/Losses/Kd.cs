using System.Globalization;
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
        var (s, t) = Widened(studentLogits, teacherLogits.detach(), temperature);
        var logQ = (s / temperature).log_softmax(1);
        var logP = (t / temperature).log_softmax(1);
        return AsDtypeOf(BatchMeanKl(logP, logQ) * (temperature * temperature), studentLogits);
    }

    /// <summary>The catalogue's range, [<see cref="Methods.MethodParameter.MinTemperature"/>,
    /// <see cref="Methods.MethodParameter.MaxTemperature"/>], for every loss that takes a temperature. Above it float32
    /// breaks down: the T²-scaled KL sums products of nearly equal log-probabilities, whose rounding error grows as T²
    /// relative to it (KD is 7 % off at T = 1e4, negative at 1e5, NaN from 1e20). Above T = 20 the KL family computes in
    /// float64 (<see cref="TermSupport.Float32MaxTemperature"/>), which keeps T = 1000 within 1e-6.</summary>
    internal static void CheckTemperature(string loss, double temperature, double slack = 1e-12)
    {
        const double min = Methods.MethodParameter.MinTemperature, max = Methods.MethodParameter.MaxTemperature;
        // A relative slack of 1e-12 for a schedule's rounding: annealing to temperature_end=0.01, the lowest, reached
        // 0.009999999999999787 in the last epoch and stopped the run there (and its resume), on a value nobody chose.
        if (!(temperature >= min * (1 - slack) && temperature <= max * (1 + slack)))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature,
                string.Create(CultureInfo.InvariantCulture, $"{loss}: temperature = {temperature} is outside [{min}, {max}], the temperatures the method catalogue accepts."));
    }
}

/// <summary>The <see cref="Kd"/> loss on the student's and teacher's logits; the temperature may be scheduled
/// (e.g. <see cref="Schedule.TemperatureAnnealing"/>). Weight it against cross-entropy in the <see cref="Objective"/>.</summary>
public sealed class KdTerm(Schedule temperature, string name = "kd") : ILossTerm
{
    public string Settings => TermSupport.Describe(("temperature", temperature));
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;
    public Schedule Temperature => temperature;

    public Tensor Compute(StepContext ctx) =>
        Kd.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits, temperature.At(ctx.Progress));
}

/// <summary>Hinton et al.'s soft targets: (1 − α)·CE + α·KD at T; optionally annealed in temperature over training and on
/// standardized logits.</summary>
public sealed class KdMethod : Methods.Method
{
    public override string Name => "kd";
    public override string Summary => "soft targets: (1 − α)·CE + α·T²·KL(teacher ‖ student) at temperature T";
    public override Methods.Paper Paper { get; } = new("Hinton, Vinyals & Dean", 2015, "NeurIPS DL workshop", "Distilling the Knowledge in a Neural Network");
    public override Methods.MethodKind Kind => Methods.MethodKind.Logit;
    public override string PaperResult => "Hinton 2015; CIFAR-100 resnet32x4→resnet8x4: 72.50 → 73.33 (RepDistiller)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        Methods.MethodParameter.Temperature("temperature", "distillation temperature T (the start of the annealing when temperature_end is set)", 4),
        new("alpha", "weight α of the soft term; the cross-entropy gets 1 − α", 0.9, 0, 1),
        new("temperature_end", "anneal T along a half-cosine to this value over training (high to low or the reverse); 0 = constant T", 0,
            Methods.MethodParameter.MinTemperature, Methods.MethodParameter.MaxTemperature, ZeroOff: true),
        Methods.MethodParameter.Switch("standardize", "1 = logit standardization (Sun et al. CVPR 2024): z-score the logits before the temperature"),
    ];

    // α weights the soft term; the cross-entropy's 1 − α is replaced by the spec's ce (MethodCatalogue.Combine).
    public override IReadOnlyList<string> TermWeights { get; } = ["alpha"];

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        double t = s["temperature"], end = s["temperature_end"], alpha = s["alpha"];
        ILossTerm kd = new KdTerm(end > 0 ? Schedule.TemperatureAnnealing(t, end) : t);
        if (s.Flag("standardize")) kd = new StandardizedTerm(kd);
        return new Objective().Add(new CrossEntropyTerm(), 1 - alpha).Add(kd, alpha);
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["kd"] = a => Kd.Loss(a.Input("student_logits"), a.Input("teacher_logits"), a.Param("temperature")),
        ["kd_hard"] = a => KdHard.Loss(a.Input("student_logits"), a.Input("teacher_logits"), a.Input("labels"), a.Param("temperature"), a.Param("alpha")),
        // Born-again's soft cross-entropy is KD at T = 1 up to the teacher's entropy.
        ["soft_ce"] = a => SoftCe.Loss(a.Input("student_logits"), a.Input("teacher_logits")),
        ["kd_ls"] = a => LogitStandardization.Kd(a.Input("student_logits"), a.Input("teacher_logits"), a.Param("temperature")),
    };
}
