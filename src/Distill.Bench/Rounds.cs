namespace Distill.Bench;

/// <summary>One contender of a comparison (our case, its raw loop, the PyTorch peer), already built and ready to run
/// steps: <see cref="Run"/> runs that many steps and returns their times.</summary>
public interface IRoundSide : IDisposable
{
    string Name { get; }
    RoundTimes Run(int steps);

    /// <summary>One untimed step, run before a round's timed steps.</summary>
    void Warm() => Run(1);
}

/// <summary>The steps of one round of one side: wall and CPU ms per step (CPU empty when unknown), the change of
/// the live-tensor count over the round, and the process's minor page faults over the round (-1 when unknown).</summary>
public sealed record RoundTimes(IReadOnlyList<double> Ms, IReadOnlyList<double> CpuMs, long LiveDelta = 0, long PageFaults = -1)
{
    /// <summary>The round's time per step: the mean over its steps (the round's total over its step count).</summary>
    public double MeanMs => Ms.Average();
}

/// <summary>What a group of sides measured: for each side (in the order given) its rounds.</summary>
public sealed record RoundsResult(int StepsPerRound, IReadOnlyList<IReadOnlyList<RoundTimes>> Sides)
{
    /// <summary>Per-round ratio of side <paramref name="a"/>'s time per step over side <paramref name="b"/>'s.</summary>
    public IReadOnlyList<double> Ratios(int a, int b) =>
        [.. Sides[a].Zip(Sides[b], (x, y) => x.MeanMs / y.MeanMs)];

    public IReadOnlyList<double> RoundMeans(int side) => [.. Sides[side].Select(r => r.MeanMs)];
}

/// <summary>
/// Interleaved measurement: warm-up steps for every side, then <c>rounds</c> rounds in each of which every side runs
/// the same fixed number of steps, in an order shuffled from round to round (the first round in the order given). A
/// slow spell of the machine then lands on both sides of a round, and the per-round ratios cancel it; their median and
/// bootstrap interval (<see cref="RatioStats"/>) say how far the comparison holds.
/// </summary>
public static class Rounds
{
    /// <summary>Steps per round: the round's share of the budget's time at the slowest side's warm-up speed, bounded so
    /// that all rounds together run between the budget's minimum and maximum steps, and at least one step.</summary>
    public static int StepsPerRound(TimingBudget budget, double slowestWarmupMsPerStep)
    {
        ArgumentNullException.ThrowIfNull(budget);
        int rounds = budget.Rounds;
        int lo = Math.Max(1, (budget.MinSteps + rounds - 1) / rounds), hi = Math.Max(lo, budget.MaxSteps / rounds);
        if (budget.TargetSeconds <= 0 || slowestWarmupMsPerStep <= 0) return lo;
        double k = budget.TargetSeconds * 1000 / rounds / slowestWarmupMsPerStep;
        return (int)Math.Clamp(Math.Round(k), lo, hi);
    }

    /// <summary>Warms every side up, picks the steps per round from the warm-up times of the sides
    /// <paramref name="paced"/> says count (ours: the peer may be much slower on a case and still gets the same steps),
    /// then runs the rounds. A cancelled <paramref name="stop"/> ends it before the next side's steps
    /// (<see cref="OperationCanceledException"/>).</summary>
    public static RoundsResult Interleave(IReadOnlyList<IRoundSide> sides, TimingBudget budget, Func<int, bool>? paced = null,
        CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(sides);
        ArgumentNullException.ThrowIfNull(budget);
        double slowest = 0;
        for (int i = 0; i < sides.Count; i++)
        {
            if (budget.WarmupSteps <= 0) continue;
            stop.ThrowIfCancellationRequested();
            var warm = sides[i].Run(budget.WarmupSteps);
            // The median step: a raw loop's first step (its set-up) took most of the mean, and one step a round followed.
            if (paced?.Invoke(i) ?? true) slowest = Math.Max(slowest, RatioStats.Median(warm.Ms));
        }
        int k = StepsPerRound(budget, slowest);
        // Collect now so a GC caused by set-up or earlier groups does not land inside a round.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var times = sides.Select(_ => new List<RoundTimes>(budget.Rounds)).ToArray();
        // The order of the sides is shuffled every round (seeded, so runs are comparable): whichever side runs right
        // after the peer or after a bigger case finds the machine in the other's state (caches, idle cores), and with a
        // fixed order, or a rotation, which keeps each side's neighbours, that cost fell on one side in every round.
        var order = Enumerable.Range(0, sides.Count).ToArray();
        var shuffle = new Random(20261203);
        for (int r = 0; r < budget.Rounds; r++)
        {
            if (r > 0) shuffle.Shuffle(order);
            foreach (var i in order)
            {
                // One untimed step first, so each side's timed steps start from its own warm caches; skipped for
                // cases of one step a round, where it would double the bench's longest cases.
                stop.ThrowIfCancellationRequested();
                if (k > 1) sides[i].Warm();
                times[i].Add(sides[i].Run(k));
            }
        }
        return new RoundsResult(k, times);
    }
}
