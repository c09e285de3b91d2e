using System.Globalization;
namespace Distill.Losses;

/// <summary>A weight or temperature that may change over training, as a function of training progress p ∈ [0, 1]
/// (0 = first step, 1 = last); outside its window a schedule holds its end values. A plain number converts to a
/// constant schedule. The factories below are the shapes the recipes use.</summary>
public abstract record Schedule
{
    public abstract double At(double progress);

    /// <summary>The progress a schedule reads at <paramref name="step"/> (from 0) of a run of <paramref name="totalSteps"/>
    /// steps: 0 at the first, 1 at the last (and at the only one).</summary>
    public static double Progress(long step, long totalSteps) => totalSteps > 1 ? step / (double)(totalSteps - 1) : 1.0;

    public static implicit operator Schedule(double value) => new ConstantSchedule(value);

    public static Schedule Constant(double value) => new ConstantSchedule(value);

    /// <summary>Linear from <paramref name="start"/> (at progress <paramref name="from"/>) to <paramref name="end"/> (at <paramref name="to"/>).</summary>
    public static Schedule Linear(double start, double end, double from = 0, double to = 1) => new LinearSchedule(start, end, from, to);

    /// <summary>Half-cosine from <paramref name="start"/> to <paramref name="end"/> (SGDR-style, Loshchilov &amp; Hutter 2017).</summary>
    public static Schedule Cosine(double start, double end, double from = 0, double to = 1) => new CosineSchedule(start, end, from, to);

    /// <summary>Piecewise constant: <paramref name="initial"/>, then each value from its progress on.
    /// E.g. <c>Schedule.Steps(1.0, (0.5, 0.1), (0.75, 0.01))</c>.</summary>
    public static Schedule Steps(double initial, params (double Progress, double Value)[] steps) => new StepSchedule(initial, steps);

    /// <summary>
    /// FitNets' annealing of the KD weight λ in stage 2 (Romero et al. 2015, §2.3 and the released configs: λ starts at 4
    /// and decays linearly to 1; <c>TeacherDecayOverEpoch</c> in adri-romsor/FitNets). The paper's stage-2 loss is
    /// L = H(y, P_S) + λ·H(P_T^τ, P_S^τ) with τ = 3, with no τ² factor. <see cref="KdTerm"/> already multiplies its
    /// KL by τ² (Hinton et al.), so as KdTerm's weight this gives λ·τ² times the paper's soft term: divide by τ²
    /// (<c>FitNetsLambda(4 / 9.0, 1 / 9.0)</c> at τ = 3) for the paper's exact weighting.
    /// </summary>
    public static Schedule FitNetsLambda(double start = 4, double end = 1) => new LinearSchedule(start, end, 0, 1);

    /// <summary>
    /// Temperature annealing: the distillation temperature falls from a high value (very soft targets, mostly dark
    /// knowledge) to the final one over training, e.g. <c>new KdTerm(Schedule.TemperatureAnnealing(10, 1))</c>
    /// (cf. Jafari et al. 2021, "Annealing Knowledge Distillation"). Cosine by default, linear on request.
    /// </summary>
    public static Schedule TemperatureAnnealing(double start, double end, bool cosine = true) =>
        cosine ? new CosineSchedule(start, end, 0, 1) : new LinearSchedule(start, end, 0, 1);

    static protected double Window(double progress, double from, double to) => Math.Clamp((progress - from) / (to - from), 0.0, 1.0);

    static protected void CheckWindow(double start, double end, double from, double to)
    {
        if (!double.IsFinite(start) || !double.IsFinite(end))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Schedule values must be finite (got start {start}, end {end})."));
        if (!(from >= 0 && to <= 1 && to > from))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Schedule window must satisfy 0 <= from < to <= 1 in training progress (got from {from}, to {to})."));
    }
}

/// <summary>From <see cref="Start"/> (at progress <see cref="From"/>) to <see cref="End"/> (at <see cref="To"/>) along
/// <see cref="Shape"/>, which maps the window's own progress t ∈ [0, 1] to the fraction of the way gone.</summary>
public abstract record WindowedSchedule : Schedule
{
    protected WindowedSchedule(double start, double end, double from, double to)
    {
        CheckWindow(start, end, from, to);
        (Start, End, From, To) = (start, end, from, to);
    }

    public double Start { get; }
    public double End { get; }
    public double From { get; }
    public double To { get; }

    protected abstract double Shape(double t);

    public override double At(double progress) => Start + (End - Start) * Shape(Window(progress, From, To));
}

public sealed record ConstantSchedule : Schedule
{
    /// <summary>A constant weight or temperature; NaN or ±∞ is refused here, as the other schedules refuse theirs: it
    /// trained until the first step's loss was NaN, and the trainer's advice then (lower the learning rate) was wrong.</summary>
    public ConstantSchedule(double value)
    {
        if (!double.IsFinite(value))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Schedule values must be finite (got {value})."), nameof(value));
        Value = value;
    }

    public double Value { get; }

    public override double At(double progress) => Value;
}

public sealed record LinearSchedule : WindowedSchedule
{
    public LinearSchedule(double start, double end, double from = 0, double to = 1) : base(start, end, from, to) { }

    protected override double Shape(double t) => t;
}

/// <summary>Half-cosine: slow at both ends of the window.</summary>
public sealed record CosineSchedule : WindowedSchedule
{
    public CosineSchedule(double start, double end, double from = 0, double to = 1) : base(start, end, from, to) { }

    protected override double Shape(double t) => 0.5 * (1 - Math.Cos(Math.PI * t));
}

public sealed record StepSchedule : Schedule
{
    readonly (double Progress, double Value)[] steps;

    public StepSchedule(double initial, IEnumerable<(double Progress, double Value)> steps)
    {
        this.steps = [.. steps];
        if (!double.IsFinite(initial) || this.steps.Any(s => !double.IsFinite(s.Value)))
            throw new ArgumentException("Step schedule values must be finite.");
        for (int i = 0; i < this.steps.Length; i++)
            if (this.steps[i].Progress is < 0 or > 1 || (i > 0 && this.steps[i].Progress <= this.steps[i - 1].Progress))
                throw new ArgumentException(
                    $"Step schedule boundaries must increase strictly within [0, 1] (got {string.Join(", ", this.steps.Select(s => s.Progress.ToString(CultureInfo.InvariantCulture)))}).");
        Initial = initial;
    }

    public double Initial { get; }
    public IReadOnlyList<(double Progress, double Value)> Boundaries => steps;

    /// <summary>Prints the boundaries themselves: a record prints a list member as its type's name, so run records of two
    /// different step schedules read alike and a resume with other boundaries went unnoticed.</summary>
    protected override bool PrintMembers(System.Text.StringBuilder builder)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        builder.Append(inv, $"Initial = {Initial}, Boundaries = [{string.Join(", ", steps.Select(s => string.Create(inv, $"({s.Progress}, {s.Value})")))}]");
        return true;
    }

    public override double At(double progress)
    {
        var value = Initial;
        foreach (var (at, v) in steps)
            if (progress >= at) value = v;
        return value;
    }
}

/// <summary><see cref="Inner"/> times a constant, e.g. a method's own weight schedule scaled by the weight an experiment
/// gives that method.</summary>
public sealed record ScaledSchedule(Schedule Inner, double Factor) : Schedule
{
    public double Factor { get; } = double.IsFinite(Factor) ? Factor
        : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"A schedule's factor must be finite (got {Factor})."), nameof(Factor));

    public override double At(double progress) => Factor * Inner.At(progress);
}
