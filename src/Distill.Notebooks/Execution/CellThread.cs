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
        // Started without the caller's execution context: the CLI runs its own code under the invariant culture (an
        // AsyncLocal that would flow into this thread), and cells must see the process's culture, the user's locale
        // or a DefaultThreadCurrentCulture a cell set, as in the kernel. The output sink is set on this thread.
        using (ExecutionContext.SuppressFlow()) t.Start();
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
