using Distill.Training;

namespace Distill.Tests.Training;

/// <summary>The training progress line is drawn only on a terminal: started from one, distill run's cells took the
/// process's stderr for their own (Console.IsErrorRedirected reads the process's stderr, not Console.Error) and got the
/// line's \r redraws as extra stderr outputs. The runner sets <see cref="ProgressLine.OffSwitch"/>; these check the
/// decision with a terminal simulated.</summary>
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

    [Fact]
    public void The_switch_distill_run_sets_is_the_one_Default_reads() =>
        // distill run's OutputSink sets it by name (Distill.Notebooks cannot see this internal class).
        Assert.Equal("Distill.Training.ProgressLine.Off", ProgressLine.OffSwitch);
}
