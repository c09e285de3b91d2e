using Distill.Training;

namespace Distill.Tests.Training;

/// <summary>The training progress line is drawn only on a terminal: started from one, distill run's cells took the
/// process's stderr for their own (Console.IsErrorRedirected reads the process's stderr, not Console.Error) and got the
/// line's \r redraws as extra stderr outputs. The runner sets <see cref="TrainOptions.ProgressOffSwitch"/> (Distill.Notebooks.Tests'
/// RunnerEdgeTests check that its cells run with it set); these check the decision with a terminal simulated.</summary>
public class ProgressLineTests
{
    [Theory]
    [InlineData(false, "xterm", false, true)]
    [InlineData(false, "xterm", true, false)]
    [InlineData(true, "xterm", false, false)]
    [InlineData(false, "dumb", false, false)]
    [InlineData(false, null, false, false)]
    public void The_line_is_on_only_on_an_uncaptured_terminal(bool redirected, string? term, bool captured, bool expected) =>
        Assert.Equal(expected, ProgressLine.Decide(redirected, term, captured));

    /// <summary>Default decides with the switch the runner sets: one constant, TrainOptions.ProgressOffSwitch, which
    /// distill run's OutputSink sets too (a literal copy there could drift unseen).</summary>
    [Fact]
    public void Default_reads_the_switch_distill_run_sets()
    {
        AppContext.TryGetSwitch(TrainOptions.ProgressOffSwitch, out var before);
        try
        {
            AppContext.SetSwitch(TrainOptions.ProgressOffSwitch, false);
            Assert.False(ProgressLine.Captured);
            AppContext.SetSwitch(TrainOptions.ProgressOffSwitch, true);
            Assert.True(ProgressLine.Captured);
        }
        finally { AppContext.SetSwitch(TrainOptions.ProgressOffSwitch, before); }
    }
}
