using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Decoupled knowledge distillation (Zhao, Cui, Song, Qiu &amp; Liang 2022, "Decoupled Knowledge Distillation", §3, eq. 6):
/// KD = TCKD + (1 − p_t^T)·NCKD, decoupled into <c>L = α·TCKD + β·NCKD</c> (α = 1, β = 8 on CIFAR-100, T = 4).
/// TCKD = T²·batchmean KL(b_T ‖ b_S) between the binary (target, non-target) probabilities b = [p_t, 1 − p_t] at T;
/// NCKD = T²·batchmean KL(p̂_T ‖ p̂_S) between the softmaxes over the non-target classes only (eq. 2).
/// Computed in log space throughout (log p_t = z_t/T − logsumexp(z/T), log(1 − p_t) = logsumexp(z_¬t/T) − logsumexp(z/T)),
/// so it stays finite for any logits; the authors' code takes log of probabilities and masks with −1000·onehot instead.
/// The paper warms the DKD weight up linearly over the first 20 epochs: weight it with <c>Schedule.Linear(0, 1, 0, w)</c>.
/// </summary>
public static class Dkd
{
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, Tensor labels, double alpha, double beta, double temperature)
    {
        Logits2D("dkd", studentLogits, teacherLogits, labels);
        Kd.CheckTemperature("dkd", temperature);
        InCatalogueRange("dkd", DkdMethod.Alpha, alpha);
        InCatalogueRange("dkd", DkdMethod.Beta, beta);
        if (studentLogits.shape[1] < 2) throw new ArgumentException("dkd: needs at least two classes.");
        var nonTarget = nn.functional.one_hot(labels, studentLogits.shape[1]).@bool().logical_not();
        // α + β: the rounding of both KLs adds up in the loss (β = 8 lifts NCKD's eightfold).
        var (s, t) = Widened(studentLogits, teacherLogits.detach(), temperature, alpha + beta, Float32MaxScaledLogit);
        var (sBinary, sOther) = Parts(s / temperature, labels, nonTarget);
        var (tBinary, tOther) = Parts(t / temperature, labels, nonTarget);
        var t2 = temperature * temperature;
        var tckd = BatchMeanKl(tBinary, sBinary) * t2;
        var nckd = BatchMeanKl(tOther, sOther) * t2;
        return AsDtypeOf(alpha * tckd + beta * nckd, studentLogits);
    }

    /// <summary>DKD's log-probabilities are differences of logsumexps near max |z|/T, so in float32 they keep about
    /// ulp(max |z|/T) of absolute error: 2.7e-4 relative in the loss for logits 5,000 ± 3 at T = 1, 1.7e-4 for ±80 at
    /// T = 0.01 (a tester's PyTorch float64 reference; log_softmax, which KD uses, subtracts the max first and is exact
    /// there, but DKD's split needs the logsumexp of all classes and of the non-target ones). Past this scaled logit
    /// (ulp 7.6e-6 at 64) both sides go to float64. It reads one number per call; logits within it (every notebook's,
    /// near 10 at T = 4) keep their float32 numbers bit for bit.</summary>
    internal const double Float32MaxScaledLogit = 64;

    /// <summary>Log of the binary (target, non-target) probabilities [B, 2] and log-softmax over the non-target classes [B, C−1].</summary>
    static (Tensor Binary, Tensor Other) Parts(Tensor z, Tensor labels, Tensor nonTarget)
    {
        var all = z.logsumexp(1, keepdim: true);
        var target = z.gather(1, labels.unsqueeze(1));
        var others = z.masked_select(nonTarget).reshape(z.shape[0], z.shape[1] - 1);
        var rest = others.logsumexp(1, keepdim: true);
        return (cat([target - all, rest - all], 1), others - rest);
    }
}

/// <summary>The <see cref="Dkd"/> loss on the logits, with the paper's CIFAR defaults (α = 1, β = 8, T = 4).</summary>
public sealed class DkdTerm(double alpha = 1, double beta = 8, double temperature = 4, string name = "dkd") : ILossTerm
{
    public string Settings => TermSupport.Describe(("alpha", alpha), ("beta", beta), ("temperature", temperature));
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;

    public Tensor Compute(StepContext ctx) =>
        Dkd.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits, ctx.Labels, alpha, beta, temperature);
}

/// <summary>DKD with a linear warm-up of its weight; optionally on standardized logits.</summary>
public sealed class DkdMethod : Methods.Method
{
    public override string Name => "dkd";
    public override string Summary => "decoupled KD: CE + α·TCKD + β·NCKD, weight warmed up linearly";
    public override Methods.Paper Paper { get; } = new("Zhao, Cui, Song, Qiu & Liang", 2022, "CVPR", "Decoupled Knowledge Distillation");
    public override Methods.MethodKind Kind => Methods.MethodKind.Logit;
    public override string PaperResult => "Zhao 2022; CIFAR-100 resnet32x4→resnet8x4: 76.32 (mdistiller)";
    public override string WeightNote =>
        "β = 1 instead of CIFAR-100's 8: β = 8 and 2 collapsed the width-8 CNN student on Fashion-MNIST (seed 0: 18% and 74% vs 83% " +
        "from scratch); warm-up over 30% of training instead of 20 of 240 epochs, as our runs are short";

    /// <summary>Also <see cref="Dkd.Loss"/>'s ranges.</summary>
    internal static readonly Methods.MethodParameter Alpha = new("alpha", "weight α of TCKD (target vs non-target)", 1, 0, double.PositiveInfinity),
        Beta = new("beta", "weight β of NCKD (among the non-target classes); mdistiller: 8 on CIFAR-100, 0.5 on ImageNet", 1, 0, double.PositiveInfinity);

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        Alpha,
        Beta,
        Methods.MethodParameter.Temperature("temperature", "temperature T", 4),
        new("warmup", "fraction of training over which DKD's weight rises linearly from 0 to 1 (mdistiller: 20 of 240 epochs; 0 = none)", 0.3, 0, 1),
        Methods.MethodParameter.Switch("standardize", "1 = logit standardization (Sun et al. CVPR 2024)"),
    ];

    /// <summary>TCKD's and NCKD's weights, applied inside the term.</summary>
    public override IReadOnlyList<string> TermWeights { get; } = ["alpha", "beta"];

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        ILossTerm dkd = new DkdTerm(s["alpha"], s["beta"], s["temperature"]);
        if (s.Flag("standardize")) dkd = new StandardizedTerm(dkd);
        // 0 is no warm-up, as mlkd's: full weight from the first step (a ramp of length 0 is no ramp).
        return new Objective().Add(new CrossEntropyTerm()).Add(dkd, s["warmup"] > 0 ? Schedule.Linear(0, 1, 0, s["warmup"]) : 1);
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["dkd"] = a => Dkd.Loss(a.Input("student_logits"), a.Input("teacher_logits"), a.Input("labels"), a.Param("alpha"), a.Param("beta"), a.Param("temperature")),
    };
}
