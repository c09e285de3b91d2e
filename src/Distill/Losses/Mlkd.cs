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
        CheckBatchMemory("mlkd_batch", studentLogits, 1);
        return AsDtypeOf((pt.mm(pt.t()) - ps.mm(ps.t())).pow(2).sum() / studentLogits.shape[0], studentLogits);
    }

    public static Tensor ClassLoss(Tensor studentLogits, Tensor teacherLogits, double temperature)
    {
        var (ps, pt) = Probabilities("mlkd_class", studentLogits, teacherLogits, temperature);
        CheckClassMemory("mlkd_class", studentLogits, 1);
        return AsDtypeOf((pt.t().mm(pt) - ps.t().mm(ps)).pow(2).sum() / studentLogits.shape[1], studentLogits);
    }

    /// <summary>Σ over the temperatures of instance + batch + class losses, the class loss divided by B² (see
    /// <see cref="MlkdMethod.WeightNote"/>) unless <paramref name="paperClassScale"/>. All temperatures at once, as one
    /// [K, B, C] stack: a loop over five temperatures ran ~200 small kernels per step, which cost 80% of the MLP
    /// student's own step (bench: method-mlkd-mlp); the sums are the same up to float32 rounding.</summary>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, IReadOnlyList<double> temperatures, bool paperClassScale = false)
    {
        Logits2D("mlkd", studentLogits, teacherLogits);
        if (temperatures.Count == 0) throw new ArgumentException("mlkd: give at least one temperature.");
        foreach (var t in temperatures) Kd.CheckTemperature("mlkd", t);
        return SmallLogits.Fits(studentLogits, ManagedMaxClasses)
            ? Managed(studentLogits, teacherLogits, temperatures, paperClassScale)
            : Tensors(studentLogits, teacherLogits, temperatures, paperClassScale);
    }

    /// <summary>Past this many classes the managed code's C×C Grams (B·C² multiply-adds each, serial) cost more than
    /// libtorch's batched products.</summary>
    const long ManagedMaxClasses = 64;

    /// <summary>The loss in tensor operations: on a GPU, and for logits past <see cref="SmallLogits"/>' limits.</summary>
    internal static Tensor Tensors(Tensor studentLogits, Tensor teacherLogits, IReadOnlyList<double> temperatures, bool paperClassScale = false)
    {
        long b = studentLogits.shape[0], c = studentLogits.shape[1];
        // The [K, C, C] Grams, and with no more samples than classes the [K, B, B] products beside them (else the batch
        // level is expanded into C×C terms); in float64 when the logits are widened.
        var k = temperatures.Count;
        CheckMemory("mlkd", studentLogits, k * ((double)c * c + (b <= c ? (double)b * b : 0)), 10,
            () => $"{c} classes compare C² = {(double)c * c:N0} pairs", "use fewer classes", elementBytes: 8);
        using var scope = NewDisposeScope();
        var classScale = paperClassScale ? 1.0 : 1.0 / (b * (double)b);
        var temps = tensor(temperatures.Select(t => (float)t).ToArray(), device: studentLogits.device).view(-1, 1, 1);
        var (s, t) = Widened(studentLogits, teacherLogits.detach(), temperatures.Max(), lowestTemperature: temperatures.Min());
        var (zs, zt) = (s.unsqueeze(0) / temps, t.unsqueeze(0) / temps); // [K, B, C]
        var (logPs, logPt) = (zs.log_softmax(2), zt.log_softmax(2));
        var (ps, pt) = (logPs.exp(), logPt.exp());
        // Instance level: T²·batchmean KL(p_t ‖ p_s) at each temperature.
        var instance = ((pt * (FiniteLog(logPt) - logPs)).sum([1, 2]) * temps.view(-1).square()).sum() / b;
        var (gtt, gss) = (pt.transpose(1, 2).bmm(pt), ps.transpose(1, 2).bmm(ps)); // [K, C, C]
        var cls = (gtt - gss).square().sum() * (classScale / c);
        var batch = (b > c ? ExpandedBatch(ps, pt) : (pt.bmm(pt.transpose(1, 2)) - ps.bmm(ps.transpose(1, 2))).square().sum()) / b;
        return AsDtypeOf(instance + batch + cls, studentLogits).MoveToOuterDisposeScope();
    }

    /// <summary>The same loss and its gradient in float64 managed code (<see cref="SmallLogits"/>). At each temperature,
    /// with Gs = PsᵀPs, Gt = PtᵀPt and Gts = PtᵀPs (C×C, from columns of the probabilities), the gradient with respect to
    /// Ps is that of the class level, −4·Ps(Gt − Gs)·scale/C, plus the batch level's 4·(Ps·Gs − Pt·Gts)/B (the same for
    /// its B×B form, PsPsᵀPs = Ps·Gs); the instance level's gradient with respect to the logits is T·(ps·Σpt − pt)/B.</summary>
    internal static Tensor Managed(Tensor studentLogits, Tensor teacherLogits, IReadOnlyList<double> temperatures, bool paperClassScale = false)
    {
        int b = (int)studentLogits.shape[0], c = (int)studentLogits.shape[1];
        var classScale = (paperClassScale ? 1.0 : 1.0 / (b * (double)b)) / c;
        var (zs, zt) = (SmallLogits.Read(studentLogits), SmallLogits.Read(teacherLogits));
        if (!SmallLogits.AllFinite(zs)) return Tensors(studentLogits, teacherLogits, temperatures, paperClassScale);
        var (ps, pt, logPs, logPt) = (new double[b * c], new double[b * c], new double[b * c], new double[b * c]);
        var (psT, ptT, dpsT, dps) = (new double[b * c], new double[b * c], new double[b * c], new double[b * c]);
        var (gs, gt, gts, m, n) = (new double[c * c], new double[c * c], new double[c * c], new double[c * c], new double[c * c]);
        var dz = new double[b * c];
        double loss = 0;
        foreach (var temperature in temperatures)
        {
            SmallLogits.Softmax(zs, b, c, temperature, ps, logPs);
            SmallLogits.Softmax(zt, b, c, temperature, pt, logPt);
            // Instance level: T²·batchmean KL(p_t ‖ p_s).
            var t2 = temperature * temperature;
            loss += t2 * SmallLogits.Kl(zs, zt, ps, pt, logPs, logPt, b, c, temperature, t2 / b, dz).Kl / b;

            SmallLogits.Transpose(ps, psT, b, c);
            SmallLogits.Transpose(pt, ptT, b, c);
            SmallLogits.Products(psT, psT, c, b, gs);
            SmallLogits.Products(ptT, ptT, c, b, gt);
            SmallLogits.Products(ptT, psT, c, b, gts);
            double cls = 0, batch = 0;
            for (var k = 0; k < c * c; k++)
            {
                var d = gt[k] - gs[k];
                cls += d * d;
                batch += gt[k] * gt[k] - 2 * gts[k] * gts[k] + gs[k] * gs[k];
                m[k] = 4 * gs[k] / b - 4 * d * classScale; // ∂/∂Ps = Ps·m − Pt·(4·Gts/B)
            }
            loss += cls * classScale + (b > c ? batch : DirectBatch(ps, pt, b, c)) / b;

            for (var k = 0; k < c * c; k++) n[k] = -4 * gts[k] / b;
            SmallLogits.CombineRows(m, psT, n, ptT, c, b, dpsT); // ∂L/∂Ps, by columns
            SmallLogits.Transpose(dpsT, dps, c, b);
            SmallLogits.SoftmaxBackward(ps, dps, b, c, temperature, dz);
        }
        return SmallLogits.Scalar(studentLogits, loss, dz);
    }

    /// <summary>‖P_tP_tᵀ − P_sP_sᵀ‖²_F from [B, C] rows, for batches no larger than the class count, where the
    /// expanded form's three terms would be larger than the B×B products.</summary>
    static double DirectBatch(double[] ps, double[] pt, int b, int c)
    {
        var (kt, ks) = (new double[b * b], new double[b * b]);
        SmallLogits.Products(pt, pt, b, c, kt);
        SmallLogits.Products(ps, ps, b, c, ks);
        double sum = 0;
        for (var k = 0; k < b * b; k++) sum += (kt[k] - ks[k]) * (kt[k] - ks[k]);
        return sum;
    }

    /// <summary>The batch level's ‖P_tP_tᵀ − P_sP_sᵀ‖²_F summed over the [K, B, C] stack, with more samples than classes.
    /// Expanding the trace, it is ‖P_tᵀP_t‖²_F − 2‖P_sᵀP_t‖²_F + ‖P_sᵀP_s‖²_F, so no B×B matrix is formed (B·C²
    /// multiply-adds instead of B²·C): at B = 128, C = 10 the B×B form cost a quarter of the MLP student's step. The three
    /// terms are each about B²/C and cancel as the student nears its teacher, so they are taken in float64 (the C×C Grams
    /// are small): in float32 their rounding left the loss negative (−1.8e-4 for 1.0e-5 at B = 512, C = 2, T = 2-6).</summary>
    static Tensor ExpandedBatch(Tensor ps, Tensor pt)
    {
        var (s, t) = (ps.to(ScalarType.Float64), pt.to(ScalarType.Float64));
        var (tt, st, ss) = (t.transpose(1, 2).bmm(t), s.transpose(1, 2).bmm(t), s.transpose(1, 2).bmm(s));
        return AsDtypeOf(tt.square().sum() - 2 * st.square().sum() + ss.square().sum(), ps);
    }

    /// <summary>The batch level's B×B products per side and temperature, their difference, square and gradients.</summary>
    static void CheckBatchMemory(string loss, Tensor logits, int temperatures)
    {
        var b = (double)logits.shape[0];
        CheckMemory(loss, logits, temperatures * b * b, 10, () => $"a batch of {b:0} compares B² = {b * b:N0} pairs", "use a smaller batch");
    }

    /// <summary>The class level's C×C Grams per side and temperature, their difference, square and gradients.</summary>
    static void CheckClassMemory(string loss, Tensor logits, int temperatures)
    {
        var c = (double)logits.shape[1];
        CheckMemory(loss, logits, temperatures * c * c, 10, () => $"{c:0} classes compare C² = {c * c:N0} pairs", "use fewer classes");
    }

    static (Tensor Student, Tensor Teacher) Probabilities(string loss, Tensor s, Tensor t, double temperature)
    {
        Logits2D(loss, s, t);
        Kd.CheckTemperature(loss, temperature);
        var (ws, wt) = Widened(s, t.detach(), temperature);
        return ((ws / temperature).softmax(1), (wt / temperature).softmax(1));
    }
}

public sealed class MlkdTerm(IReadOnlyList<double> temperatures, bool paperClassScale = false, string name = "mlkd") : ILossTerm
{
    public string Settings => TermSupport.Describe(("temperatures", temperatures), ("paper_class_scale", paperClassScale));
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;

    public Tensor Compute(StepContext ctx) => Mlkd.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits, temperatures, paperClassScale);
}

public sealed class MlkdMethod : Methods.Method
{
    public override string Name => "mlkd";
    public override string Summary => "multi-level: CE + Σ_T (instance KD + batch Gram + class correlation) over several temperatures";
    public override Methods.Paper Paper { get; } = new("Jin, Wang & Lin", 2023, "CVPR", "Multi-Level Logit Distillation");
    public override Methods.MethodKind Kind => Methods.MethodKind.Logit;
    public override string WeightNote =>
        "weight 0.2, the mean over the five temperatures instead of the authors' sum (weight 1 took the width-8 CNN student to chance at " +
        "lr 0.05); the class-level term is divided by B² (Gram matrices of class co-occurrence frequencies): unnormalised it grows as (B/C)², " +
        "about 400× its size in the authors' CIFAR-100 runs (B = 64, C = 100) at B = 128, C = 10, and took the width-8 CNN student to chance " +
        "(10.5% at smoke; paper_class_scale=1 restores it); one view per image and no confidence masking (the authors train on weak and " +
        "strong augmentations and mask by the teacher's confidence)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("temperatures", "comma-separated temperatures (the authors' code: 2,3,4,5,6)", Text: "2,3,4,5,6"),
        new("weight", "weight of the distillation terms summed over the temperatures (0.2: their mean over the default five)", 0.2, 0, double.PositiveInfinity),
        new("warmup", "fraction of training over which the weight rises linearly from 0 (0 = none)", 0, 0, 1),
        Methods.MethodParameter.Switch("standardize", "1 = logit standardization (Sun et al. CVPR 2024)"),
        Methods.MethodParameter.Switch("paper_class_scale", "1 = the authors' unnormalised class-level term (grows with the batch size squared)"),
    ];

    static double[] Temperatures(Methods.MethodSettings s) =>
        s.Numbers("temperatures", Methods.MethodParameter.MinTemperature, Methods.MethodParameter.MaxTemperature, distinct: true);

    protected override void Check(Methods.MethodSettings s) => Temperatures(s);

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        ILossTerm mlkd = new MlkdTerm(Temperatures(s), s.Flag("paper_class_scale"));
        if (s.Flag("standardize")) mlkd = new StandardizedTerm(mlkd);
        var warmup = s["warmup"];
        return new Objective().Add(new CrossEntropyTerm()).Add(mlkd, warmup > 0 ? Schedule.Linear(0, s["weight"], 0, warmup) : s["weight"]);
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["mlkd_batch"] = a => Mlkd.BatchLoss(a.Input("student_logits"), a.Input("teacher_logits"), a.Param("temperature")),
        ["mlkd_class"] = a => Mlkd.ClassLoss(a.Input("student_logits"), a.Input("teacher_logits"), a.Param("temperature")),
    };
}
