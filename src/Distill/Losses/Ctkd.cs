using System.Globalization;
using TorchSharp.Modules;
using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Curriculum temperature KD (Li, Li, Yang, Shi, Wang &amp; Cao, AAAI 2023, "Curriculum Temperature for Knowledge
/// Distillation", §3): the temperature is a learnable parameter trained adversarially — it receives the KD loss's
/// gradient reversed and scaled by λ (a gradient-reversal layer, Ganin &amp; Lempitsky 2015), so it moves to make
/// distillation harder while the student makes it easier. λ follows an easy-to-hard curriculum, rising along a
/// half-cosine from λ_min to λ_max over the first part of training. T = T_min + T_range·σ(θ), which keeps it in
/// (T_min, T_min + T_range) as in the authors' global-temperature module.
/// </summary>
public static class Ctkd
{
    /// <summary>Identity forward; backward multiplies the gradient by −λ. x.detach() + (−λ)·(x − x.detach()) has the
    /// value of x exactly (the second part is an exact zero) and the gradient −λ.</summary>
    public static Tensor ReverseGradient(Tensor x, double lambda) => x.detach() + (x - x.detach()) * (-lambda);

    /// <summary>T²·batchmean KL(softmax(z_t/T) ‖ softmax(z_s/T)) at a temperature <paramref name="temperature"/> that is a
    /// one-element tensor on the graph, so the loss's gradient reaches it (the teacher's softmax included).</summary>
    /// <param name="loss">The name errors give (the term's name under the trainer).</param>
    public static Tensor Kd(Tensor studentLogits, Tensor teacherLogits, Tensor temperature, string loss = "ctkd")
    {
        // Checked here, not only in CtkdTerm: the managed path reads both buffers flat, so a [3, 11] teacher beside a
        // [3, 10] student gave a number from the wrong values, and a shorter one an IndexOutOfRangeException.
        Logits2D(loss, studentLogits, teacherLogits);
        if (temperature.numel() != 1 || !temperature.is_floating_point())
            throw new ArgumentException($"{loss}: the temperature must be a one-element floating tensor, got {temperature.dtype} {Shape(temperature)}.");
        return SmallLogits.Fits(studentLogits) && temperature.device_type == TorchSharp.DeviceType.CPU
            ? KdManaged(studentLogits, teacherLogits, temperature, loss) : KdTensors(studentLogits, teacherLogits, temperature, loss);
    }

    /// <summary>The temperature's value, read once: a learned T stays in (T_min, T_min + T_range), but a T given by hand
    /// at 0 or below, or infinite, gives NaN or a negative loss, and one above the catalogue's highest a wrong one (1e8:
    /// 1.03 where the limit is 1.08; 1e15 a negative KL). The catalogue's range, with a relative slack of 1e-6 for a
    /// learned T computed in float32 (T_min = 0.01 reads 0.0099999998). A NaN passes: a learned θ made NaN by a step is
    /// the trainer's to report (its non-finite check names the step and the term).</summary>
    static double Value(Tensor temperature, string loss)
    {
        var t = temperature.detach().to(ScalarType.Float64).item<double>();
        if (!double.IsNaN(t)) Losses.Kd.CheckTemperature(loss, t, slack: 1e-6);
        return t;
    }

    /// <summary>The loss in tensor operations: on a GPU, and for logits past <see cref="SmallLogits"/>' limits.</summary>
    internal static Tensor KdTensors(Tensor studentLogits, Tensor teacherLogits, Tensor temperature, string loss = "ctkd")
    {
        // Widened as KD's KL is, at the temperature's current value (one read): the learned range reaches 1000, and in
        // float32 [8, 10000] logits at T = 100 were 2e-3 off, [70, 1000] near their teacher at T = 500 negative.
        var (s, teacher) = Widened(studentLogits, teacherLogits.detach(), Value(temperature, loss));
        temperature = temperature.to(s.dtype);
        var logQ = (s / temperature).log_softmax(1);
        // The teacher's side is on T's graph, so a class it masks (−∞ logit, p = 0) must give T's gradient nothing, as
        // in KdManaged: z/T's backward would send it 0·∞ = NaN, and BatchMeanKl's log p raised to the dtype's lowest
        // value, times T²/B, overflows to ∞ there. So a stand-in 0 is divided and −∞ restored after, and the KL's
        // log p is 0 at the class, where p = 0 makes the term 0 anyway.
        var masked = teacher.isneginf();
        var logP = (teacher.masked_fill(masked, 0) / temperature).masked_fill(masked, double.NegativeInfinity).log_softmax(1);
        var kl = (logP.exp() * (logP.masked_fill(masked, 0) - logQ)).sum() / logP.shape[0];
        return AsDtypeOf(kl * temperature.square().squeeze(), studentLogits);
    }

    /// <summary>The same in float64 managed code (<see cref="SmallLogits"/>). With L = T²·KL/B and u = 1/T,
    /// ∂L/∂T = (2T·KL − ∂KL/∂u)/B.</summary>
    internal static Tensor KdManaged(Tensor studentLogits, Tensor teacherLogits, Tensor temperature, string loss = "ctkd")
    {
        int b = (int)studentLogits.shape[0], c = (int)studentLogits.shape[1];
        var t = Value(temperature, loss);
        var (zs, zt) = (SmallLogits.Read(studentLogits), SmallLogits.Read(teacherLogits));
        if (!SmallLogits.AllFinite(zs)) return KdTensors(studentLogits, teacherLogits, temperature, loss);
        var (ps, pt, logPs, logPt, dz) = (new double[b * c], new double[b * c], new double[b * c], new double[b * c], new double[b * c]);
        SmallLogits.Softmax(zs, b, c, t, ps, logPs);
        SmallLogits.Softmax(zt, b, c, t, pt, logPt);
        var (kl, byInverse) = SmallLogits.Kl(zs, zt, ps, pt, logPs, logPt, b, c, t, t * t / b, dz);
        return SmallLogits.Scalar(studentLogits, t * t * kl / b, dz, (temperature, (2 * t * kl - byInverse) / b));
    }
}

/// <summary>The learnable global temperature: one parameter θ, T = T_min + T_range·σ(θ).</summary>
public sealed class LearnableTemperature : nn.Module
{
    readonly Parameter theta;

    public LearnableTemperature(double initial, double min, double range) : base("temperature")
    {
        // The catalogue's bounds (CtkdMethod checks them for its settings): a learned T above the highest gives wrong
        // numbers, and Kd refuses it at the first step, after the set-up.
        if (!(min >= Methods.MethodParameter.MinTemperature && range > 0 && min + range <= Methods.MethodParameter.MaxTemperature))
            throw new ArgumentOutOfRangeException(nameof(range), range, string.Create(CultureInfo.InvariantCulture,
                $"ctkd: the learned temperature's range ({min}, {min + range}) must lie within [{Methods.MethodParameter.MinTemperature}, {Methods.MethodParameter.MaxTemperature}], the temperatures the method catalogue accepts, and be wider than 0."));
        if (!(initial > min && initial < min + range))
            throw new ArgumentOutOfRangeException(nameof(initial), initial, string.Create(CultureInfo.InvariantCulture, $"ctkd: the initial temperature must lie in ({min}, {min + range})."));
        if (Saturated(initial, min, range) is { } edge)
            throw new ArgumentOutOfRangeException(nameof(initial), initial, SaturatedText(initial, min, range, edge));
        (Initial, Min, Range) = (initial, min, range);
        var p = (initial - min) / range;
        theta = new Parameter(tensor(new[] { (float)Math.Log(p / (1 - p)) }));
        register_parameter("theta", theta);
    }

    /// <summary>The edge of (min, min + range) that <paramref name="initial"/> is too close to for the temperature to
    /// move, or null: the sigmoid behind it is 0 or 1 in float32 there, with a gradient of 0, so T stayed at the edge
    /// for the whole run (initial=20.99999999 in (1, 21) trained at exactly 21).</summary>
    internal static double? Saturated(double initial, double min, double range)
    {
        var p = (initial - min) / range;
        // float32's sigmoid is 1 from θ ≈ 16.6 on (p within 6e-8 of 1) and its gradient s·(1 − s) underflows before
        // that: 1e-6 of the range keeps a gradient of at least ~1e-6.
        return p < MinShare ? min : p > 1 - MinShare ? min + range : null;
    }

    const double MinShare = 1e-6;

    internal static string SaturatedText(double initial, double min, double range, double edge) => string.Create(CultureInfo.InvariantCulture,
        $"ctkd: initial={initial} is within {MinShare * range:G2} of the learned temperature's edge {edge}, where its sigmoid is saturated in float32 and it would never move; " +
        $"choose initial at least {MinShare * range:G2} inside ({min}, {min + range}).");

    public double Initial { get; }
    public double Min { get; }
    public double Range { get; }
    public Parameter Theta => theta;

    public Tensor Value() => Min + Range * theta.sigmoid();
}

/// <summary>KD at the learnable temperature, behind the gradient-reversal layer. Also reports the temperature as a
/// zero-weight term (<see cref="TemperatureTerm"/>), so metrics.csv and the history chart its course.</summary>
public sealed class CtkdTerm : ILossTerm
{
    readonly LearnableTemperature temperature;
    readonly Schedule lambda;

    public CtkdTerm(LearnableTemperature temperature, Schedule lambda, string name = "ctkd")
    {
        (this.temperature, this.lambda, Name) = (temperature, lambda, name);
        TemperatureTerm = new TemperatureReport(temperature);
    }

    public string Name { get; }
    public bool NeedsTeacher => true;
    public bool LogitsOnly => true;
    public LearnableTemperature Temperature => temperature;
    public string Settings => TermSupport.Describe(("initial", temperature.Initial), ("t_min", temperature.Min), ("t_range", temperature.Range), ("lambda", lambda));
    public ILossTerm TemperatureTerm { get; }
    public IEnumerable<Parameter> Parameters() => temperature.parameters();
    public IEnumerable<nn.Module> Modules() => [temperature];

    public Tensor Compute(StepContext ctx) => Loss(ctx.Student.Logits, Teacher(ctx, Name).Logits, lambda.At(ctx.Progress));

    /// <summary>T²·KL at T = the learnable temperature seen through the reversal layer with strength λ.</summary>
    public Tensor Loss(Tensor studentLogits, Tensor teacherLogits, double lambda)
        => Ctkd.Kd(studentLogits, teacherLogits, Ctkd.ReverseGradient(temperature.Value(), lambda), Name);

    sealed class TemperatureReport(LearnableTemperature temperature) : ILossTerm
    {
        public string Name => "temperature";
        public bool NeedsTeacher => false;
        public bool LogitsOnly => true;
        public Tensor Compute(StepContext ctx) => temperature.Value().detach().squeeze();
    }
}

public sealed class CtkdMethod : Methods.Method
{
    public override string Name => "ctkd";
    public override string Summary => "curriculum temperature: (1 − α)·CE + α·KD at a learnable, adversarial temperature";
    public override Methods.Paper Paper { get; } = new("Li, Li, Yang, Shi, Wang & Cao", 2023, "AAAI", "Curriculum Temperature for Knowledge Distillation");
    public override Methods.MethodKind Kind => Methods.MethodKind.Logit;
    public override string WeightNote => "λ reaches its maximum over the first 20% of training instead of the authors' first 10 of 240 epochs, as our runs are short; the temperature shares the student's optimizer (weight decay included)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("alpha", "weight α of the soft term; the cross-entropy gets 1 − α", 0.9, 0, 1),
        // The ranges each can take given the others: initial lies strictly inside (t_min, t_min + t_range), and t_min is
        // at least the lowest temperature, so the listed ends were ones no setting could be given (initial=0.01, 1000;
        // t_range=1000).
        new("initial", "initial temperature", 4, Methods.MethodParameter.MinTemperature, Methods.MethodParameter.MaxTemperature, MinOpen: true, MaxOpen: true),
        Methods.MethodParameter.Temperature("t_min", "lowest temperature T_min", 1),
        new("t_range", "temperature range: T ∈ (T_min, T_min + T_range)", 20, 0, Methods.MethodParameter.MaxTemperature - Methods.MethodParameter.MinTemperature, MinOpen: true),
        new("lambda_min", "λ at the start of the curriculum", 0, 0, double.PositiveInfinity),
        new("lambda_max", "λ at its end", 1, 0, double.PositiveInfinity),
        new("curriculum", "fraction of training over which λ rises (half-cosine)", 0.2, 0, 1, MinOpen: true),
    ];

    // α weights the soft term; the cross-entropy's 1 − α is replaced by the spec's ce (MethodCatalogue.Combine).
    public override IReadOnlyList<string> TermWeights { get; } = ["alpha"];

    /// <summary>The learned temperature stays in (t_min, t_min + t_range), which must lie within the catalogue's
    /// temperatures (t_min=900, t_range=1000 trained at 1000.14, where the KL's float32 breaks down), and must hold
    /// the initial one (t_min=1000 asked for an initial above 1000, which no setting allows, without saying so).</summary>
    protected override void Check(Methods.MethodSettings s)
    {
        double min = s["t_min"], range = s["t_range"], initial = s["initial"], max = Methods.MethodParameter.MaxTemperature;
        if (min + range > max)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"ctkd: t_min + t_range = {min + range} is above {max}, the highest temperature the catalogue allows; ") +
                                        (max - min > 0 ? string.Create(CultureInfo.InvariantCulture, $"lower t_range to at most {max - min} (or t_min).") : string.Create(CultureInfo.InvariantCulture, $"lower t_min below {max}, to leave the temperature room to move.")));
        if (!(initial > min && initial < min + range))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"ctkd: initial={initial} is outside ({min}, {min + range}), the range t_min={min} and t_range={range} give the learned temperature; " +
                                        $"choose initial inside it, or move t_min below {initial}{(initial >= min + range ? string.Create(CultureInfo.InvariantCulture, $" or raise t_range above {initial - min}") : "")}."));
        if (LearnableTemperature.Saturated(initial, min, range) is { } edge) throw new ArgumentException(LearnableTemperature.SaturatedText(initial, min, range, edge));
    }

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        if (s["lambda_min"] > s["lambda_max"])
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"ctkd: lambda_min={s["lambda_min"]} is above lambda_max={s["lambda_max"]}; the curriculum raises λ from lambda_min to lambda_max (easy to hard)."));
        var term = new CtkdTerm(new LearnableTemperature(s["initial"], s["t_min"], s["t_range"]),
            Schedule.Cosine(s["lambda_min"], s["lambda_max"], 0, s["curriculum"]));
        var alpha = s["alpha"];
        return new Objective().Add(new CrossEntropyTerm(), 1 - alpha).Add(term, alpha).Add(term.TemperatureTerm, 0);
    }
}
