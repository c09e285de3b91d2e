using System.Collections.Concurrent;

namespace Distill.Notebooks.Execution;

/// <summary>
/// Runs every cell of a notebook on one dedicated thread, so thread-static state (TorchSharp dispose scopes and no-grad
/// mode are per thread) carries from cell to cell as in one kernel, while the caller can stop waiting on a cell that
/// overruns its timeout or is interrupted. A thread cannot be aborted in .NET: an abandoned cell keeps running in the
/// background (the thread does not keep the process alive), and the session is not used again.
/// </summary>
sealed class CellThread : IDisposable
{
    readonly BlockingCollection<Action> work = [];

    public CellThread()
    {
        var t = new Thread(() => { foreach (var a in work.GetConsumingEnumerable()) a(); })
        {
            IsBackground = true,
            Name = "distill-notebook-cells",
        };
        t.Start();
    }

    public Task<T> Run<T>(Func<T> f)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        work.Add(() =>
        {
            try { tcs.SetResult(f()); }
            catch (Exception e) { tcs.SetException(e); }
        });
        return tcs.Task;
    }

    public void Dispose() => work.CompleteAdding();
}
