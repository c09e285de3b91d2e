using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Multi-level logit distillation (Jin, Wang &amp; Lin, CVPR 2023, "Multi-Level Logit Distillation", §3): at each of
/// several temperatures T, with p = softmax(z/T),
/// instance level: KD at T (T²·batchmean KL);
/// batch level: <c>‖p_t p_tᵀ − p_s p_sᵀ‖²_F / B</c>, the B×B sample-similarity (Gram) matrices;
/// class level: <c>‖p_tᵀ p_t − p_sᵀ p_s‖²_F / C</c>, the C×C class-correlation matrices.
/// The authors' code sums the three over T ∈ {2, 3, 4, 5, 6}. It also trains on weak and strong augmentations of each
/// image and masks samples by the teacher's confidence; neither is done here (the trainer sees one view per image).
/// </summary>
public static class Mlkd
{
    public static Tensor BatchLoss(Tensor studentLogits, Tensor teacherLogits, double temperature)
    {
        var (ps, pt) = Probabilities("mlkd_batch", studentLogits, teacherLogits, temperature);
        return (pt.mm(pt.t()) - ps.mm(ps.t())).pow(2).sum() / studentLogits.shape[0];
    }

    public static Tensor ClassLoss(Tensor studentLogits, Tensor teacherLogits, double temperature)
    {
        var (ps, pt) = Probabilities("mlkd_class", studentLogits, teacherLogits, temperature);
        return (pt.t().mm(pt) - ps.t().mm(ps)).pow(2).sum() / studentLogits.shape[1];
    }

    /// <summary>Σ over the temperatures of instance + batch + class losses.</summary>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, IReadOnlyList<double> temperatures)
    {
        Tensor? sum = null;
        foreach (var t in temperatures)
        {
            var l = Kd.Loss(studentLogits, teacherLogits, t) + BatchLoss(studentLogits, teacherLogits, t) + ClassLoss(studentLogits, teacherLogits, t);
            sum = sum is null ? l : sum + l;
        }
        return sum ?? throw new ArgumentException("mlkd: give at least one temperature.");
    }

    static (Tensor Student, Tensor Teacher) Probabilities(string loss, Tensor s, Tensor t, double temperature)
    {
        Logits2D(loss, s, t);
        Kd.CheckTemperature(loss, temperature);
        return ((s / temperature).softmax(1), (t.detach() / temperature).softmax(1));
    }
}

public sealed class MlkdTerm(IReadOnlyList<double> temperatures, string name = "mlkd") : ILossTerm
{
    public string Name => name;
    public bool NeedsTeacher => true;

    public Tensor Compute(StepContext ctx) => Mlkd.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits, temperatures);
}

public sealed class MlkdMethod : Methods.Method
{
    public override string Name => "mlkd";
    public override string Summary => "multi-level: CE + Σ_T (instance KD + batch Gram + class correlation) over several temperatures";
    public override Methods.Paper Paper { get; } = new("Jin, Wang & Lin", 2023, "CVPR", "Multi-Level Logit Distillation");
    public override Methods.MethodKind Kind => Methods.MethodKind.Logit;
    public override string WeightNote => "one view per image and no confidence masking (the authors train on weak and strong augmentations and mask by the teacher's confidence)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("temperatures", "comma-separated temperatures (the authors' code: 2,3,4,5,6)", Text: "2,3,4,5,6"),
        new("weight", "weight of the summed distillation terms", 1, 0, double.PositiveInfinity),
        Methods.MethodParameter.Switch("standardize", "1 = logit standardization (Sun et al. CVPR 2024)"),
    ];

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        ILossTerm mlkd = new MlkdTerm(s.Numbers("temperatures"));
        if (s.Flag("standardize")) mlkd = new StandardizedTerm(mlkd);
        return new Objective().Add(new CrossEntropyTerm()).Add(mlkd, s["weight"]);
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["mlkd_batch"] = a => Mlkd.BatchLoss(a.Input("student_logits"), a.Input("teacher_logits"), a.Param("temperature")),
        ["mlkd_class"] = a => Mlkd.ClassLoss(a.Input("student_logits"), a.Input("teacher_logits"), a.Param("temperature")),
    };
}
