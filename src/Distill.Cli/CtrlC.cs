namespace Distill.Cli;

/// <summary>
/// Ctrl-C for commands that write what has run so far: the first press cancels <see cref="Token"/> (the command then
/// finishes its reports); a second one ends the process the usual way. Dispose to unhook.
/// </summary>
sealed class CtrlC : IDisposable
{
    readonly CancellationTokenSource cts = new();
    readonly ConsoleCancelEventHandler handler;

    public CtrlC(TextWriter log)
    {
        handler = (_, e) =>
        {
            if (cts.IsCancellationRequested) return;
            e.Cancel = true;
            log.WriteLine("Interrupted: writing what has run so far (Ctrl-C again to abort)...");
            cts.Cancel();
        };
        Console.CancelKeyPress += handler;
    }

    public CancellationToken Token => cts.Token;

    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        cts.Dispose();
    }
}
