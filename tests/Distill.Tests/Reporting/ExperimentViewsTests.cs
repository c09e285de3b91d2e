using Distill.Experiments;
using Distill.Reporting;
using Distill.Training;

namespace Distill.Tests.Reporting;

public class ExperimentViewsTests
{
    static SoftTargetsResult With(params (string Name, int Seed)[] runs)
    {
        var result = new SoftTargetsResult { Config = new SoftTargetsConfig() };
        foreach (var (name, seed) in runs)
            result.Trainings.Add(new TrainResult
            {
                Name = name, Seed = seed, Parameters = 1, Teacher = TeacherSource.None,
                History = [new EpochMetrics(1, 0.1, 0.5, [], 70, null, 80 + seed, 1, 1)],
            });
        return result;
    }

    /// <summary>The teacher's seed 0 picked the seed: students on seed 5 alone were all left out.</summary>
    [Fact]
    public void Learning_curves_pick_the_lowest_seed_of_the_named_runs()
    {
        var chart = ExperimentViews.LearningCurves(With(("teacher", 0), ("scratch", 5), ("kd", 5), ("kd", 6)), ["scratch", "kd"]);
        Assert.Equal(["scratch", "kd"], chart.Traces.Select(t => (string)t["name"]!));
        Assert.Contains("(seed 5)", chart.ToJson());
        // The default seeds: seed 0 of each named run, as before.
        var usual = ExperimentViews.LearningCurves(With(("teacher", 0), ("scratch", 0), ("scratch", 1), ("kd", 0), ("kd", 1)), ["scratch", "kd"]);
        Assert.Equal(2, usual.Traces.Count);
        Assert.Contains("(seed 0)", usual.ToJson());
        Assert.Equal(3, ExperimentViews.LearningCurves(With(("teacher", 0), ("scratch", 5), ("kd", 5))).Traces.Count);
    }

    [Fact]
    public void Learning_curves_of_an_unknown_run_list_the_runs_present()
    {
        var e = Assert.Throws<ArgumentException>(() => ExperimentViews.LearningCurves(With(("teacher", 0), ("scratch", 0)), ["nope"]));
        Assert.Equal("runs", e.ParamName);
        Assert.Contains("'nope'", e.Message);
        Assert.Contains("'teacher', 'scratch'", e.Message);
    }

    /// <summary>A sweep point naming no run (a typed "a" for "α") drew an empty line, and a seed no run trained drew the
    /// teacher alone, both without a word.</summary>
    [Fact]
    public void A_sweep_point_or_a_seed_no_run_has_is_named()
    {
        var result = With();
        foreach (var name in new[] { "scratch", "kd T=4 α=0.9" })
            result.Keep(new TrainResult { Name = name, Seed = 0, Parameters = 1, Teacher = TeacherSource.None, History = [new EpochMetrics(1, 0.1, 0.5, [], 70, null, 80, 1, 1)] });
        var e = Assert.Throws<ArgumentException>(() => ExperimentViews.Sweep(result, "t", "T", [(2.0, "kd T=4 α=0.9"), (4.0, "kd T=4 a=0.9")]));
        Assert.Equal(("points", "no run named 'kd T=4 a=0.9' in this result; its runs are 'scratch', 'kd T=4 α=0.9'."), (e.ParamName, e.Message.Split(" (Parameter")[0]));
        Assert.Equal(2, ExperimentViews.Sweep(result, "t", "T", [(4.0, "kd T=4 α=0.9")]).Traces.Count); // KD and scratch
        var seed = Assert.Throws<ArgumentException>(() => ExperimentViews.LearningCurves(With(("teacher", 0), ("scratch", 0), ("scratch", 1)), seed: 7));
        Assert.Equal("no run of seed 7 in this result; its seeds are 0, 1.", seed.Message.Split(" (Parameter")[0]);
    }
}
