using TorchSharp;

namespace Distill.Bench;

/// <summary>
/// One benchmark: <see cref="Measure"/> builds its state, runs it under the given budget and returns per-step timings.
/// <see cref="Samples"/> per step gives samples/s; <see cref="FlopsPerStep"/> (when known) gives achieved GFLOP/s.
/// <see cref="Name"/> is also the case name the PyTorch peer script runs.
/// </summary>
public sealed record BenchCase(string Name, string Description, int Samples, double? FlopsPerStep, Func<TimingBudget, Timing> Measure)
{
    /// <summary>The case this one is compared with (<see cref="BenchCaseResult.VsBaselinePct"/>): the raw loop for a
    /// trainer case (its overhead), the student alone for a KD case.</summary>
    public string? Baseline { get; init; }

    /// <summary>A case whose state is built once and whose step is timed by <see cref="StepTimer"/>.</summary>
    public static BenchCase Stepped(string name, string description, int samples, double? flops, Func<BenchStep> create,
        Func<TimingBudget, TimingBudget>? budget = null) =>
        new(name, description, samples, flops, b =>
        {
            using var state = create();
            return StepTimer.Measure(state.Step, budget?.Invoke(b) ?? b, LiveTensors);
        });

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
