using TorchSharp.Modules;
using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// FitNets hint loss (Romero et al. 2015, "FitNets: Hints for Thin Deep Nets", §2.2, eq. 3):
/// <c>L_HT = ½ ‖u_h(x) − r(v_g(x))‖²</c>, the teacher's hint layer u_h regressed from the student's guided layer v_g
/// through a regressor r. Here mean-reduced over all elements (as in RepDistiller's HintLoss): <c>mean((s − t)²)</c>,
/// where s is already r(v_g). The paper's ½ and sum are a constant factor for the weight to absorb.
/// </summary>
public static class Hint
{
    /// <param name="studentFeatures">the guided layer after the regressor, same shape as the teacher's hint.</param>
    public static Tensor Loss(Tensor studentFeatures, Tensor teacherFeatures)
    {
        if (!studentFeatures.shape.SequenceEqual(teacherFeatures.shape))
            throw new ArgumentException(
                $"hint: student {Shape(studentFeatures)} and teacher {Shape(teacherFeatures)} must have the same shape; " +
                "map the student's feature with a HintRegressor (HintRegressor.Conv or .Linear).");
        SameBatch("hint", studentFeatures, teacherFeatures);
        return nn.functional.mse_loss(studentFeatures, teacherFeatures.detach());
    }
}

/// <summary>
/// The FitNets regressor r (Romero et al. 2015, §2.2): maps the student's guided layer to the teacher's hint layer.
/// <see cref="Conv"/> is the convolutional regressor the paper recommends (here 1×1, as spatial sizes match in our models;
/// with BatchNorm and ReLU as RepDistiller's ConvReg); <see cref="Linear"/> the fully connected one for flat features.
/// The paper asks r to end in the same non-linearity as the teacher's hint layer: keep <c>relu</c> when the hint is a
/// post-ReLU feature, turn it off for pre-activation features (which can be negative).
/// </summary>
public sealed class HintRegressor : nn.Module<Tensor, Tensor>
{
    readonly Sequential body;
    readonly bool isConv;

    public long InFeatures { get; }
    public long OutFeatures { get; }

    HintRegressor(string name, bool isConv, long inFeatures, long outFeatures, Sequential body) : base(name)
    {
        (this.isConv, InFeatures, OutFeatures, this.body) = (isConv, inFeatures, outFeatures, body);
        RegisterComponents();
    }

    /// <summary>1×1 convolution [B, Cs, H, W] → [B, Ct, H, W], then BatchNorm and ReLU when asked.</summary>
    public static HintRegressor Conv(long studentChannels, long teacherChannels, bool batchNorm = true, bool relu = true)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)> { ("conv", nn.Conv2d(studentChannels, teacherChannels, 1, bias: !batchNorm)) };
        if (batchNorm) layers.Add(("bn", nn.BatchNorm2d(teacherChannels)));
        if (relu) layers.Add(("relu", nn.ReLU()));
        var regressor = new HintRegressor("hint_conv_regressor", true, studentChannels, teacherChannels, nn.Sequential(layers));
        Native.OneDnnConvGuard.Apply(regressor); // from a narrow student, oneDNN would pad its channels: issue 12
        return regressor;
    }

    /// <summary>Fully connected [B, Ds] → [B, Dt] (inputs with more dimensions are flattened), then ReLU when asked.</summary>
    public static HintRegressor Linear(long studentFeatures, long teacherFeatures, bool relu = false)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)> { ("linear", nn.Linear(studentFeatures, teacherFeatures)) };
        if (relu) layers.Add(("relu", nn.ReLU()));
        return new HintRegressor("hint_linear_regressor", false, studentFeatures, teacherFeatures, nn.Sequential(layers));
    }

    public override Tensor forward(Tensor x)
    {
        if (isConv ? x.dim() != 4 || x.shape[1] != InFeatures : x.dim() < 2 || x.flatten(1).shape[1] != InFeatures)
            throw new ArgumentException(
                $"{GetName()}: expected {(isConv ? $"[B, {InFeatures}, H, W]" : $"[B, {InFeatures}]")}, got {Shape(x)}; " +
                "build the regressor with the student feature's channel count.");
        InputDtype(GetName(), x, parameters().First());
        return body.call(isConv ? x : x.flatten(1));
    }
}

/// <summary>
/// The hint term of FitNets stage 1: <see cref="Hint"/> between r(student[<c>studentFeature</c>]) and
/// teacher[<c>teacherFeature</c>]. The term owns the regressor; its parameters come out of <see cref="Parameters"/> so the
/// trainer optimises them with the student. Without a regressor the features must already have the same shape.
/// </summary>
public sealed class HintTerm(string studentFeature, string teacherFeature, HintRegressor? regressor = null, string name = "hint") : ILossTerm
{
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool NeedsTeacherFeatures => teacherFeature != TermSupport.Logits;
    public HintRegressor? Regressor => regressor;
    public string Settings => TermSupport.Describe(("features", (studentFeature, teacherFeature)),
        ("regressor", regressor is null ? "none" : $"{regressor.GetName()} {regressor.InFeatures}->{regressor.OutFeatures}"));

    public Tensor Compute(StepContext ctx)
    {
        var s = Feature(ctx.Student, studentFeature);
        var t = Feature(Teacher(ctx, name), teacherFeature);
        if (regressor is not null) s = regressor.call(s);
        // A linear regressor's [B, D] output may stand for a [B, C, H, W] hint with C·H·W = D.
        return Hint.Loss(s.dim() != t.dim() && s.numel() == t.numel() ? s.reshape(t.shape) : s, t);
    }

    public IEnumerable<Parameter> Parameters() => regressor?.parameters() ?? [];
    public IEnumerable<nn.Module> Modules() => regressor is null ? [] : [regressor];
}

/// <summary>FitNets' hints as RepDistiller runs them (CE + weight·hint through a 1×1 conv regressor, a linear one for flat
/// features, over the whole run), or staged: <c>hint_fraction</c> &lt; 1 trains the hints alone first and the
/// cross-entropy after (FitNets' two stages), and <c>progressive=1</c> trains one layer's hint after another, each in
/// its own equal share of the hint phase, shallowest first (stage k's hint after stage k − 1's). The original two-stage
/// recipe with KD in stage 2 is the fitnets recipe (02-fitnets).</summary>
public sealed class FitNetMethod : Methods.Method
{
    public override string Name => "fitnet";
    public override string Summary => "hints: CE + w·MSE(regressor(student layer), teacher layer); optionally two-stage and layer by layer";
    public override Methods.Paper Paper { get; } = new("Romero, Ballas, Kahou, Chassang, Gatta & Bengio", 2015, "ICLR", "FitNets: Hints for Thin Deep Nets");
    public override Methods.MethodKind Kind => Methods.MethodKind.Feature;
    public override string PaperResult => "Romero 2015; CIFAR-100 resnet32x4→resnet8x4: 73.50 (RepDistiller)";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("weight", $"weight of each hint term (RepDistiller: 100, for conv hints; a flat hint needs one given, e.g. {FlatWeight})", 100, 0, double.PositiveInfinity),
        new("layer", "comma-separated layers, each the guided (student) and the hint (teacher) layer of that name, e.g. stage2 or stage1,stage2", Text: "stage2"),
        new("hint_fraction", "fraction of training with hints; below 1, hints alone first, then the cross-entropy alone (two stages)", 1, 0, 1, MinOpen: true),
        Methods.MethodParameter.Switch("progressive", "1 = one layer's hint after another, shallowest first, in equal shares of the hint phase"),
    ];

    /// <summary>The layer names; whether the models have them is checked in <see cref="Build"/>, which has the models.</summary>
    static string[] Layers(Methods.MethodSettings s) => s.List("layer", distinct: true) is { Length: > 0 } layers ? layers
        : throw new ArgumentException("fitnet: layer is empty; name at least one layer (e.g. stage2).");

    protected override void Check(Methods.MethodSettings s)
    {
        // One layer has no "after another": the run trained as plain fitnet while its name claimed progressive hints.
        if (Layers(s).Length < 2 && s.Flag("progressive"))
            throw new ArgumentException($"fitnet: progressive=1 trains one layer's hint after another, and layer={string.Join(",", Layers(s))} names one; name two or more (e.g. layer=stage1,stage2), or leave progressive out.");
        // The hint phase has the cross-entropy off: with the hints off too, its steps had nothing to differentiate.
        if (s["weight"] == 0 && s["hint_fraction"] < 1)
            throw new ArgumentException($"fitnet: weight=0 switches the hints off, and hint_fraction={s.Text("hint_fraction")} trains nothing but them first (the cross-entropy waits for the rest), " +
                                        "so that phase would train nothing; give weight above 0, or leave hint_fraction out (1).");
    }

    /// <summary>The weight suggested for a flat hint. On the pairs the default diverged on it trains to within a point of
    /// scratch (3 epochs of 2,000 images: cnn-4 from the logits of mlp-64, cnn-8 and resnet8 73.2, 73.7 and 73.3% against
    /// 73.8%; mlp-32 from mlp-64's hidden1 76.7% against 76.1%); at 1 the logits hints still fell to 2-18%, at 10 to ∞.</summary>
    const string FlatWeight = "weight=0.1";

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        var layers = Layers(s);
        double weight = s["weight"], phase = s["hint_fraction"];
        var progressive = s.Flag("progressive");
        // A flat layer's advice carries the weight it needs, unless one was given.
        var flatNeeds = s.Given("weight") ? null : FlatWeight;
        foreach (var layer in layers) setup.CheckSameMap(Name, "layer", layer, flatToo: true, flatNeeds);
        // The default is RepDistiller's for a conv hint, regressed by a 1×1 conv ending in BatchNorm, whose output is on
        // the scale of the teacher's BatchNorm'd maps. A flat hint (logits, a hidden layer) is regressed by a plain
        // linear layer from unnormalised features: at 100 its squared error grows without bound within a few steps
        // (cnn-4 from mlp-64's logits: loss 1e21; mlp-32 from mlp-64's hidden1: 2.8e8), so it is not applied unasked.
        setup.RefuseDefaultWeightOnFlat(Name, s, layers, "hint", $", regressed by a linear layer, and the default weight {s.Text("weight")} is RepDistiller's for conv hints, " +
                                                                 "whose regressor ends in BatchNorm: a flat hint diverges at it", FlatWeight);
        var objective = new Objective().Add(new CrossEntropyTerm(), phase < 1 ? Schedule.Steps(0, (phase, 1)) : 1);
        for (var k = 0; k < layers.Length; k++)
        {
            var layer = layers[k];
            long[] st = setup.StudentShape(layer), te = setup.TeacherShape(layer);
            var regressor = st.Length == 4 ? HintRegressor.Conv(st[1], te[1]) : HintRegressor.Linear(st[1], te[1]);
            var (from, to) = progressive ? (phase * k / layers.Length, phase * (k + 1) / layers.Length) : (0, phase);
            objective.Add(new HintTerm(layer, layer, regressor, layers.Length == 1 ? "hint" : $"hint_{layer}"), Window(weight, from, to));
        }
        if (progressive) CheckHintSteps(s, setup, layers, objective);
        return objective;
    }

    /// <summary>Progressive hints share the hint phase's steps out, one layer after another: with fewer steps than layers
    /// the later layers' shares held no step, and their hints were never applied while the run's name said they were.
    /// Counted as the trainer counts steps and reads the schedules, before anything trains.</summary>
    static void CheckHintSteps(Methods.MethodSettings s, Methods.MethodSetup setup, string[] layers, Objective objective)
    {
        if (setup.Epochs is not int epochs || setup.TotalSteps is not long total) return;
        double phase = s["hint_fraction"];
        int n = layers.Length;
        // Layer k's hint is on from progress phase·k/n (Build's window): its first step, if it has one, is the first
        // step from there on.
        bool Hinted(int k, long steps) => FirstStep(objective.Terms[k + 1].Weight, phase * k / n, steps) is not null;
        var idle = layers.Where((_, k) => !Hinted(k, total)).ToList();
        if (idle.Count == 0) return;
        long perEpoch = total / epochs;
        // The hint phase: the steps before the cross-entropy's first (all of them when the hints last the whole run).
        var hintSteps = phase < 1 ? FirstStep(objective.Terms[0].Weight, phase, total) ?? total : total;
        // Every share holds a step exactly when the phase has a step per layer: the steps before progress = phase are
        // those s < phase·(total − 1), so it takes total > (n − 1)/phase + 1 steps (total ≥ n at phase 1).
        var need = phase < 1 ? Math.Floor((n - 1) / phase + 1) + 1 : n;
        var epochsNeeded = Math.Ceiling(need / perEpoch);
        string? more = null;
        if (epochsNeeded < int.MaxValue)
        {
            var e = (int)epochsNeeded;
            while (Enumerable.Range(0, n).Any(k => !Hinted(k, perEpoch * e))) e++; // a share's edge rounded past a step
            more = $"--epochs {e} or more, ";
        }
        // The least hint_fraction that does it at these steps: just above (n − 1)/(total − 1), in hundredths.
        string? fraction = null;
        if (phase < 1 && total >= n)
        {
            var f = Math.Min(1, Math.Floor((n - 1) / (double)(total - 1) * 100 + 1) / 100);
            fraction = f >= 1 ? "hint_fraction=1, " : $"hint_fraction={Methods.MethodParameter.Format(f)} or more, ";
        }
        throw new ArgumentException($"fitnet: progressive=1 gives each of the {n} layers of layer={string.Join(",", layers)} its own share of the hint phase, " +
                                    $"and {(phase < 1 ? $"hint_fraction={s.Text("hint_fraction")} of" : "all")} this run's {NumberText.Count(total, "step")} " +
                                    $"({NumberText.Count(epochs, "epoch")} of {perEpoch} batch{(perEpoch == 1 ? "" : "es")}) {(hintSteps == 1 ? "is" : "are")} {NumberText.Count(hintSteps, "step")}: " +
                                    $"{string.Join(" and ", idle)} would never be hinted. Give the hint phase a step per layer: {more}{fraction}or fewer layers.");
    }

    /// <summary>The first of <paramref name="total"/> steps at which <paramref name="weight"/>, on over one window of
    /// progress from <paramref name="from"/> on, is not 0; null when the window holds no step. The steps progress as
    /// the trainer's do (<see cref="Schedule.Progress"/>): the first at or past <paramref name="from"/> is near
    /// from·(total − 1), one off either way by rounding, and if it is not on, no later step is.</summary>
    static long? FirstStep(Schedule weight, double from, long total)
    {
        var c = (long)Math.Ceiling(from * (total - 1));
        for (var step = Math.Max(0, c - 1); step <= Math.Min(total - 1, c + 1); step++)
            if (weight.At(Schedule.Progress(step, total)) != 0) return step;
        return null;
    }

    /// <summary><paramref name="weight"/> inside [from, to) of training, 0 outside.</summary>
    static Schedule Window(double weight, double from, double to) =>
        (from, to) switch
        {
            (0, 1) => weight,
            (0, _) => Schedule.Steps(weight, (to, 0)),
            (_, 1) => Schedule.Steps(0, (from, weight)),
            _ => Schedule.Steps(0, (from, weight), (to, 0)),
        };

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["hint"] = a => Hint.Loss(a.Input("student_features"), a.Input("teacher_features")),
    };
}
