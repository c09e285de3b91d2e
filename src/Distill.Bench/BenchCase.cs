using TorchSharp;

namespace Distill.Bench;

/// <summary>
/// One benchmark. <see cref="Body"/> runs on the case's own thread (<see cref="OursSide"/>): it builds the case's state,
/// runs steps and reports each to the <see cref="SideClock"/>, which pauses it between rounds. <see cref="Samples"/> per
/// step gives samples/s; <see cref="FlopsPerStep"/> (when known) gives achieved GFLOP/s. <see cref="Name"/> is also the
/// case name the PyTorch peer script runs.
/// </summary>
public sealed record BenchCase(string Name, string Description, int Samples, double? FlopsPerStep, Action<SideClock> Body)
{
    /// <summary>The case this one is compared with, in the same rounds (<see cref="BenchCaseResult.VsBaselinePct"/>):
    /// the raw loop for a trainer case (its overhead), the student alone for a KD case.</summary>
    public string? Baseline { get; init; }

    /// <summary>This case is the least its baseline's step can take (its GEMMs alone): a baseline that misses its
    /// target says how close to this floor it is (<see cref="BenchReport.Floor"/>).</summary>
    public bool Floor { get; init; }

    /// <summary>Long steps (a whole epoch, a dataset load): measured with <see cref="TimingBudget.Few"/>.</summary>
    public bool Few { get; init; }

    /// <summary>A budget of its own, for steps so long (a whole sweep) that even <see cref="TimingBudget.Few"/> would
    /// take too long; it overrides the run's budget for the case's group.</summary>
    public TimingBudget? Budget { get; init; }

    /// <summary>The target on our time over the peer's, judged by the interval of the per-round ratios.</summary>
    public RatioTarget? PeerTarget { get; init; }

    /// <summary>The target on our time over <see cref="Baseline"/>'s.</summary>
    public RatioTarget? BaselineTarget { get; init; }

    /// <summary>Builds the case on its own thread and returns once it is ready for its first round.</summary>
    public IRoundSide Open() => new OursSide(Name, Body);

    /// <summary>A case whose state is built once and whose step is timed from call to call.</summary>
    public static BenchCase Stepped(string name, string description, int samples, double? flops, Func<BenchStep> create, bool few = false) =>
        new(name, description, samples, flops, clock =>
        {
            using var state = create();
            clock.Ready();
            while (true)
            {
                state.Step();
                clock.StepEnd();
            }
        }) { Few = few };

    /// <summary>Tensors alive in the process (TorchSharp's count of undisposed tensor objects).</summary>
    public static long LiveTensors() => torch.Tensor.TotalCount;
}

/// <summary>The step to time and everything it owns (disposed after the case).</summary>
public sealed class BenchStep(Action step, params IDisposable[] owned) : IDisposable
{
    public Action Step { get; } = step;

    public void Dispose()
    {
        foreach (var d in owned) d.Dispose();
    }
}
