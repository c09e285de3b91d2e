using Distill.Bench;

namespace Distill.Tests.Bench;

/// <summary>The statistics and the round structure of the bench, on known data (no timing).</summary>
public sealed class RoundsTests
{
    [Fact]
    public void Bootstrap_interval_of_the_median_is_the_exact_order_statistics()
    {
        // For 11 distinct values, the median of a resample is at most the j-th smallest with probability
        // P(Binomial(11, j/11) >= 6): 0.0072 for j = 2, 0.0512 for j = 3, 0.9488 for j = 8, 0.9928 for j = 9.
        // So the 2.5 % and 97.5 % quantiles of 2000 resampled medians are the 3rd and 9th smallest values.
        double[] ratios = [1.07, 0.93, 1.10, 0.95, 1.02, 1.00, 0.90, 1.05, 0.97, 1.12, 0.98];
        var r = RatioStats.Bootstrap(ratios);
        Assert.Equal(1.00, r.Median);
        Assert.Equal(0.95, r.Low);
        Assert.Equal(1.07, r.High);
        Assert.Equal(11, r.Rounds);
        Assert.False(r.Noisy);
        Assert.Equal(r, RatioStats.Bootstrap(ratios));            // seeded: the same data, the same interval
        Assert.Equal(new RatioInterval(2, 2, 2, 4), RatioStats.Bootstrap([2.0, 2.0, 2.0, 2.0]));
    }

    [Fact]
    public void Spread_rounds_make_a_noisy_ratio()
    {
        var r = RatioStats.Bootstrap([0.6, 1.0, 1.4, 0.7, 1.3, 0.8, 1.2, 0.9, 1.1, 1.0, 1.05]);
        Assert.True(r.Low < 0.9 * r.Median);
        Assert.True(r.Noisy);
    }

    [Theory]
    [InlineData(0.91, 1.09, false)]
    [InlineData(0.90, 1.10, false)]
    [InlineData(0.89, 1.00, true)]
    [InlineData(1.00, 1.11, true)]
    public void Noisy_means_the_interval_reaches_beyond_ten_percent_of_the_median(double low, double high, bool noisy) =>
        Assert.Equal(noisy, new RatioInterval(1.0, low, high, 10).Noisy);

    [Fact]
    public void A_verdict_needs_the_whole_interval_on_one_side_and_a_quiet_ratio()
    {
        var fivePercent = new RatioTarget(1.05, "≤ 5 %");
        Assert.Equal(Verdict.Met, fivePercent.Judge(new RatioInterval(1.00, 0.97, 1.03, 10)));
        Assert.Equal(Verdict.NotMet, fivePercent.Judge(new RatioInterval(1.20, 1.15, 1.25, 10)));
        Assert.Equal(Verdict.Undecided, fivePercent.Judge(new RatioInterval(1.04, 1.00, 1.08, 10)));
        // Far below the target, but noisy: no verdict.
        Assert.Equal(Verdict.Noisy, fivePercent.Judge(new RatioInterval(0.50, 0.30, 0.60, 10)));
    }

    sealed class FakeSide(string name, double ms, List<string> calls) : IRoundSide
    {
        public string Name => name;
        public RoundTimes Run(int steps)
        {
            calls.Add($"{name}{steps}");
            return new RoundTimes([.. Enumerable.Repeat(ms, steps)], []);
        }
        public void Dispose() { }
    }

    [Fact]
    public void Rounds_warm_up_then_run_every_side_once_a_round_in_a_shuffled_order_each_after_one_untimed_step()
    {
        var calls = new List<string>();
        var budget = new TimingBudget(2, 0, 6, 6) { Rounds = 3 };
        var r = Rounds.Interleave([new FakeSide("A", 2, calls), new FakeSide("B", 1, calls)], budget);
        Assert.Equal(["A2", "B2", "A1", "A2", "B1", "B2"], calls.Take(6));
        var rounds = calls.Skip(2).Chunk(4).ToList();
        Assert.Equal(3, rounds.Count);
        foreach (var round in rounds)
        {
            Assert.Equal(round[0][0], round[1][0]);           // a side's untimed step, then its timed steps
            Assert.Equal(["1", "2"], new[] { round[0][1..], round[1][1..] });
            Assert.Equal(["A", "B"], new[] { round[0][..1], round[2][..1] }.Order());
        }
        Assert.Equal(2, r.StepsPerRound);
        Assert.Equal([2.0, 2.0, 2.0], r.Ratios(0, 1));
        Assert.Equal(3, r.Sides[1].Count);
        Assert.All(r.Sides.SelectMany(s => s), round => Assert.Equal(2, round.Ms.Count));
    }

    [Fact]
    public void Over_many_rounds_each_side_runs_first_and_each_follows_every_other()
    {
        var calls = new List<string>();
        var budget = new TimingBudget(0, 0, 30, 30) { Rounds = 30 };
        Rounds.Interleave([new FakeSide("A", 1, calls), new FakeSide("B", 1, calls), new FakeSide("C", 1, calls)], budget);
        var rounds = calls.Chunk(3).Select(c => string.Concat(c.Select(x => x[0]))).ToList();
        Assert.Equal("ABC", rounds[0]);                           // one step a round: no untimed step
        Assert.All(rounds, o => Assert.Equal("ABC", string.Concat(o.Order())));
        Assert.Equal(3, rounds.Select(o => o[0]).Distinct().Count());
        var pairs = rounds.SelectMany(o => new[] { o[..2], o[1..] }).Distinct().Count();
        Assert.Equal(6, pairs);
    }

    /// <summary>A side whose first step is its set-up (a raw loop building its model): the steps per round come from
    /// the median warm-up step, not the mean, which that first step made 30 times the steady one (K = 1 followed).</summary>
    sealed class SlowFirstStep : IRoundSide
    {
        bool first = true;
        public string Name => "slow-first";
        public RoundTimes Run(int steps)
        {
            var ms = Enumerable.Repeat(10.0, steps).ToArray();
            if (first) ms[0] = 1000;
            first = false;
            return new RoundTimes(ms, []);
        }
        public void Dispose() { }
    }

    [Fact]
    public void Steps_per_round_come_from_the_median_warm_up_step_not_one_slow_first_step()
    {
        var r = Rounds.Interleave([new SlowFirstStep()], TimingBudget.Quick with { WarmupSteps = 3, Rounds = 2 });
        Assert.Equal(Rounds.StepsPerRound(TimingBudget.Quick with { WarmupSteps = 3, Rounds = 2 }, 10), r.StepsPerRound);
        Assert.True(r.StepsPerRound > 1, $"{r.StepsPerRound}");
    }

    [Fact]
    public void Steps_per_round_split_the_budget_over_the_rounds_within_its_bounds()
    {
        var quick = TimingBudget.Quick;                             // 1.5 s, 10-200 steps, 10 rounds
        Assert.Equal(15, Rounds.StepsPerRound(quick, 10));         // 150 ms per round at 10 ms a step
        Assert.Equal(1, Rounds.StepsPerRound(quick, 1000));        // at least one step
        Assert.Equal(20, Rounds.StepsPerRound(quick, 0.1));        // at most 200 steps in all
        Assert.Equal(1, Rounds.StepsPerRound(TimingBudget.Smoke, 5));
    }

    [Fact]
    public void Cases_join_their_baselines_group_root_first()
    {
        static BenchCase C(string name, string? baseline = null) => new(name, "", 1, null, _ => { }) { Baseline = baseline };
        var groups = BenchRunner.Groups([C("gemm"), C("kd", "student"), C("student"), C("loop"), C("trainer", "loop"), C("orphan", "missing")]);
        Assert.Equal([["gemm"], ["student", "kd"], ["loop", "trainer"], ["orphan"]], groups.Select(g => g.Select(c => c.Name).ToArray()).ToArray());
    }
}
