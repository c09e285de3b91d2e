using Distill.Native;

namespace Distill.Tests.Training;

/// <summary>Runs a class's tests at 2 torch threads, this machine's default and the count where a thread split shows
/// (oneDNN's nondeterminism, the one-thread objective), and restores the count before it afterwards.</summary>
public abstract class AtTwoThreads : IDisposable
{
    readonly int threadsBefore;

    protected AtTwoThreads()
    {
        TorchRuntime.Initialize();
        threadsBefore = TorchRuntime.Threads;
        TorchRuntime.Initialize(threads: 2);
    }

    public void Dispose()
    {
        TorchRuntime.Initialize(threads: threadsBefore);
        GC.SuppressFinalize(this);
    }
}
