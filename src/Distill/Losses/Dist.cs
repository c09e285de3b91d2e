using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// DIST (Huang, You, Wang, Qian &amp; Xu, NeurIPS 2022, "Knowledge Distillation from A Stronger Teacher", §3.2-3.3): match
/// relations rather than exact probabilities, so a much stronger teacher's scale does not hurt. With y = softmax(z/T)
/// and ρ the Pearson correlation, inter-class relation = 1 − mean over samples of ρ(y_s, y_t) (each row), intra-class
/// relation = the same over classes (each column); <c>L = T²·(β·inter + γ·intra)</c>. ρ(a, b) centres both vectors and
/// divides their dot product by ‖a‖‖b‖ + 1e-8.
/// </summary>
public static class Dist
{
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, double temperature, double beta, double gamma)
    {
        Logits2D("dist", studentLogits, teacherLogits);
        Kd.CheckTemperature("dist", temperature);
        InCatalogueRange("dist", DistMethod.Beta, beta);
        InCatalogueRange("dist", DistMethod.Gamma, gamma);
        // One sample (an epoch's last batch when the train size is one more than a multiple of the batch size) has no
        // intra-class relation: its centred columns are 0, so ρ = 0 through the authors' 1e-8 and the intra term is the
        // constant γ·T² with no gradient, as in their code. Refusing it stopped such runs in their first epoch.
        return SmallLogits.Fits(studentLogits) ? Managed(studentLogits, teacherLogits, temperature, beta, gamma) : Tensors(studentLogits, teacherLogits, temperature, beta, gamma);
    }

    /// <summary>The loss in tensor operations: on a GPU, and for logits past <see cref="SmallLogits"/>' limits.</summary>
    internal static Tensor Tensors(Tensor studentLogits, Tensor teacherLogits, double temperature, double beta, double gamma)
    {
        // float64 (B×C, cheap): a student near uniform has probabilities within 1e-4 of 1/C, which centring leaves as a
        // small difference of nearly equal numbers; float32's rounding of them, divided by their small norm, put the
        // gradient 1.2 off at logits of size 1e-3 (as PyTorch's float32).
        var ys = (studentLogits.to(ScalarType.Float64) / temperature).softmax(1);
        var yt = (teacherLogits.detach().to(ScalarType.Float64) / temperature).softmax(1);
        var inter = 1 - Pearson(ys, yt).mean();
        var intra = 1 - Pearson(ys.t(), yt.t()).mean();
        return AsDtypeOf((beta * inter + gamma * intra) * (temperature * temperature), studentLogits);
    }

    /// <summary>The same loss and its gradient in float64 managed code (<see cref="SmallLogits"/>).</summary>
    internal static Tensor Managed(Tensor studentLogits, Tensor teacherLogits, double temperature, double beta, double gamma)
    {
        int b = (int)studentLogits.shape[0], c = (int)studentLogits.shape[1];
        var (ys, yt) = (new double[b * c], new double[b * c]);
        SmallLogits.Softmax(SmallLogits.Read(studentLogits), b, c, temperature, ys);
        SmallLogits.Softmax(SmallLogits.Read(teacherLogits), b, c, temperature, yt);
        var dys = new double[b * c];
        var t2 = temperature * temperature;
        double inter = 0, intra = 0;
        for (var i = 0; i < b; i++) inter += Pearson(ys, yt, i * c, c, 1, dys, -beta * t2 / b);
        for (var j = 0; j < c; j++) intra += Pearson(ys, yt, j, b, c, dys, -gamma * t2 / c);
        var dz = new double[b * c];
        SmallLogits.SoftmaxBackward(ys, dys, b, c, temperature, dz);
        return SmallLogits.Scalar(studentLogits, t2 * (beta * (1 - inter / b) + gamma * (1 - intra / c)), dz);
    }

    /// <summary>ρ of the <paramref name="n"/> values of <paramref name="a"/> and <paramref name="b"/> from
    /// <paramref name="start"/> every <paramref name="stride"/>; adds <paramref name="scale"/>·∂ρ/∂a to
    /// <paramref name="da"/>. With a′, b′ centred, N = a′·b′ and D = ‖a′‖‖b′‖ + 1e-8: ∂ρ/∂a′ = b′/D − N‖b′‖a′/(‖a′‖D²)
    /// (the second part 0 where ‖a′‖ = 0, as autograd's norm gives), and ∂ρ/∂a is that less its mean (the centring).</summary>
    static double Pearson(double[] a, double[] b, int start, int n, int stride, double[] da, double scale)
    {
        double ma = 0, mb = 0;
        for (var k = 0; k < n; k++) { ma += a[start + k * stride]; mb += b[start + k * stride]; }
        (ma, mb) = (ma / n, mb / n);
        double dot = 0, aa = 0, bb = 0;
        for (var k = 0; k < n; k++)
        {
            var (x, y) = (a[start + k * stride] - ma, b[start + k * stride] - mb);
            dot += x * y; aa += x * x; bb += y * y;
        }
        var (na, nb) = (Math.Sqrt(aa), Math.Sqrt(bb));
        var d = na * nb + 1e-8;
        var (cb, ca) = (scale / d, na == 0 ? 0 : -scale * dot * nb / (na * d * d));
        double mean = 0;
        for (var k = 0; k < n; k++) mean += cb * (b[start + k * stride] - mb) + ca * (a[start + k * stride] - ma);
        mean /= n;
        for (var k = 0; k < n; k++) da[start + k * stride] += cb * (b[start + k * stride] - mb) + ca * (a[start + k * stride] - ma) - mean;
        return dot / d;
    }

    /// <summary>Pearson correlation of each row of <paramref name="a"/> with the same row of <paramref name="b"/>.</summary>
    static Tensor Pearson(Tensor a, Tensor b)
    {
        a = a - a.mean([1], keepdim: true);
        b = b - b.mean([1], keepdim: true);
        return (a * b).sum(1) / (a.norm(1) * b.norm(1) + 1e-8);
    }
}

public sealed class DistTerm(double temperature, double beta, double gamma, string name = "dist") : ILossTerm
{
    public string Settings => TermSupport.Describe(("temperature", temperature), ("beta", beta), ("gamma", gamma));
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;

    public Tensor Compute(StepContext ctx) => Dist.Loss(ctx.Student.Logits, Teacher(ctx, name).Logits, temperature, beta, gamma);
}

public sealed class DistMethod : Methods.Method
{
    public override string Name => "dist";
    public override string Summary => "relations: CE + T²·(β·inter-class + γ·intra-class Pearson distance)";
    public override Methods.Paper Paper { get; } = new("Huang, You, Wang, Qian & Xu", 2022, "NeurIPS", "Knowledge Distillation from A Stronger Teacher");
    public override Methods.MethodKind Kind => Methods.MethodKind.Logit;

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        Methods.MethodParameter.Temperature("temperature", "temperature τ (the authors' default)", 1),
        Beta,
        Gamma,
    ];

    internal static readonly Methods.MethodParameter Beta = new("beta", "weight β of the inter-class relation", 1, 0, double.PositiveInfinity),
        Gamma = new("gamma", "weight γ of the intra-class relation", 1, 0, double.PositiveInfinity);

    /// <summary>The inter- and intra-class relations' weights, applied inside the term.</summary>
    public override IReadOnlyList<string> TermWeights { get; } = ["beta", "gamma"];

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        // The intra-class relation correlates each class's probabilities across the batch: one sample has no spread,
        // and with β = 0 it is the whole term (the inter-class relation works within each sample, at any batch).
        if (s["beta"] == 0)
            setup.RequireBatch(Name, 2, "with beta 0 matches only the intra-class relation, across the samples of a batch", "its term would be a constant, with no gradient");
        return new Objective().Add(new CrossEntropyTerm()).Add(new DistTerm(s["temperature"], s["beta"], s["gamma"]));
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["dist"] = a => Dist.Loss(a.Input("student_logits"), a.Input("teacher_logits"), a.Param("temperature"), a.Param("beta"), a.Param("gamma")),
    };
}
