namespace Distill.Bench;

/// <summary>
/// One benchmark: <see cref="Create"/> builds its state (model, optimizer, data) and returns the step to time.
/// <see cref="Samples"/> per step gives samples/s; <see cref="FlopsPerStep"/> (when known) gives achieved GFLOP/s.
/// <see cref="Name"/> is also the case name the PyTorch peer script runs.
/// </summary>
public sealed record BenchCase(string Name, string Description, int Samples, double? FlopsPerStep, Func<BenchStep> Create)
{
    /// <summary>The raw-TorchSharp case this one's trainer overhead is measured against, if any.</summary>
    public string? RawBaseline { get; init; }

    /// <summary>Budget override (e.g. whole epochs are timed a couple of times, not for seconds).</summary>
    public Budget? Budget { get; init; }
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
