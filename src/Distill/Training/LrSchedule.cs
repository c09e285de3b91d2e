namespace Distill.Training;

/// <summary>
/// Learning-rate multiplier as a function of the global step. Step and multi-step decays change at epoch boundaries,
/// as PyTorch's StepLR/MultiStepLR stepped once per epoch; cosine decays every step (Loshchilov &amp; Hutter 2017, SGDR
/// without restarts: η = η_min + ½(η₀ − η_min)(1 + cos(π t / T))). Warmup is separate: see <see cref="TrainOptions.WarmupEpochs"/>.
/// A schedule is a pure function of the step, so resuming from a checkpoint needs only the step count.
/// </summary>
public abstract record LrSchedule
{
    /// <summary>Multiplier of the base learning rate at global step <paramref name="step"/> (0-based).</summary>
    public abstract double Factor(long step, long stepsPerEpoch, long totalSteps);

    /// <summary>The fewest epochs a run needs for every change this schedule describes to take effect (step:10 lowers
    /// the rate first at the start of epoch 11); 1 for schedules that change from the first step.</summary>
    public virtual int EpochsNeeded => 1;

    public static LrSchedule Constant { get; } = new ConstantLr();

    /// <summary>Multiply by <paramref name="gamma"/> every <paramref name="everyEpochs"/> epochs.</summary>
    public static LrSchedule Step(int everyEpochs, double gamma = 0.1) =>
        everyEpochs > 0 ? new StepLr(everyEpochs, gamma) : throw new ArgumentOutOfRangeException(nameof(everyEpochs), "Step schedule: everyEpochs must be positive.");

    /// <summary>Multiply by <paramref name="gamma"/> at each milestone epoch (e.g. 150, 225 for WRN-style CIFAR runs).</summary>
    public static LrSchedule MultiStep(IReadOnlyList<int> milestones, double gamma = 0.1) => new MultiStepLr([.. milestones.Order()], gamma);

    /// <summary>Cosine from 1 to <paramref name="minFactor"/> over the whole run.</summary>
    public static LrSchedule Cosine(double minFactor = 0) => new CosineLr(minFactor);

    /// <summary>Parses "constant", "cosine", "step:30:0.1", "multistep:150,225:0.1" (CLI form). A bad value is an
    /// <see cref="ArgumentException"/> quoting the value as written (callers prefix the flag or key it came from).</summary>
    public static LrSchedule Parse(string spec)
    {
        var parts = spec.Trim().ToLowerInvariant().Split(':');
        const string forms = "expected constant, cosine, step:EVERY[:GAMMA] (e.g. step:30:0.1) or multistep:E1,E2[:GAMMA] (e.g. multistep:150,225)";
        ArgumentException Bad(string why) => new($"'{spec}': {why}; {forms}.");
        int Epochs(string text, string what) =>
            int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 1
                ? n : throw Bad($"{what} '{text}' must be a whole number of epochs, at least 1");
        double Gamma()
        {
            if (parts.Length > 3) throw Bad("too many ':'-separated parts");
            if (parts.Length < 3) return 0.1;
            return double.TryParse(parts[2], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var g) && double.IsFinite(g) && g > 0
                ? g : throw Bad($"the factor GAMMA '{parts[2]}' must be a number above 0");
        }
        return parts[0] switch
        {
            // "cosine:0.1" read as a floor it is not (the suffix was dropped and the run decayed to 0 anyway).
            "constant" or "cosine" when parts.Length > 1 => throw Bad($"{parts[0]} takes no ':' parts"),
            "constant" => Constant,
            "cosine" => Cosine(),
            "step" when parts.Length >= 2 => Step(Epochs(parts[1], "EVERY"), Gamma()),
            "multistep" when parts.Length >= 2 => MultiStep([.. parts[1].Split(',').Select(m => Epochs(m, "the milestone"))], Gamma()),
            _ => throw Bad("an unknown schedule"),
        };
    }

    sealed record ConstantLr : LrSchedule
    {
        public override double Factor(long step, long stepsPerEpoch, long totalSteps) => 1;
        public override string ToString() => "constant";
    }

    sealed record StepLr(int EveryEpochs, double Gamma) : LrSchedule
    {
        public override double Factor(long step, long stepsPerEpoch, long totalSteps) => Math.Pow(Gamma, step / stepsPerEpoch / EveryEpochs);
        // Invariant: the text is the CLI form Parse reads back, and run.json compares it on resume, whatever the locale.
        public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"step:{EveryEpochs}:{Gamma}");
        public override int EpochsNeeded => EveryEpochs + 1;
    }

    sealed record MultiStepLr(int[] Milestones, double Gamma) : LrSchedule
    {
        public override double Factor(long step, long stepsPerEpoch, long totalSteps)
        {
            var epoch = step / stepsPerEpoch;
            return Math.Pow(Gamma, Milestones.Count(m => epoch >= m));
        }
        public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"multistep:{string.Join(',', Milestones)}:{Gamma}");
        public override int EpochsNeeded => Milestones.Length == 0 ? 1 : Milestones[^1] + 1;
    }

    sealed record CosineLr(double MinFactor) : LrSchedule
    {
        public override double Factor(long step, long stepsPerEpoch, long totalSteps) =>
            MinFactor + 0.5 * (1 - MinFactor) * (1 + Math.Cos(Math.PI * step / Math.Max(1, totalSteps)));
        public override string ToString() => "cosine";
    }
}
