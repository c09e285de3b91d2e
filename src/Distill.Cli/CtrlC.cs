using System.Runtime.InteropServices;

namespace Distill.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM (what `timeout`, Slurm, Kubernetes and CI cancellation send) for commands that write
/// what has run so far: the first signal cancels <see cref="Token"/> (the command then stops at its next safe point and
/// finishes its reports); a second one ends the process the usual way. Dispose to unhook.
/// </summary>
sealed class CtrlC : IDisposable
{
    readonly CancellationTokenSource cts = new();
    readonly ConsoleCancelEventHandler handler;
    readonly PosixSignalRegistration? term;

    public CtrlC(TextWriter log)
    {
        handler = (_, e) =>
        {
            if (cts.IsCancellationRequested) return;
            e.Cancel = true;
            Stop(log, "Interrupted", InterruptedExitCode);
        };
        Console.CancelKeyPress += handler;
        if (!OperatingSystem.IsWindows())
            term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                if (cts.IsCancellationRequested) return; // second signal: default action, the process ends now
                ctx.Cancel = true;
                Stop(log, "Terminated (SIGTERM)", TerminatedExitCode);
            });
    }

    void Stop(TextWriter log, string what, int exitCode)
    {
        ExitCode = exitCode;
        log.WriteLine($"{what}: writing what has run so far (send it again to abort)...");
        cts.Cancel();
    }

    public CancellationToken Token => cts.Token;

    const int InterruptedExitCode = 130, TerminatedExitCode = 143; // 128 + the signal, as shells report them

    /// <summary>What a command that stopped on a signal exits with: 143 after SIGTERM, else 130 (Ctrl-C).</summary>
    public int ExitCode { get; private set; } = InterruptedExitCode;

    /// <summary>The signal to pass on to child processes: the one this process got.</summary>
    public string Signal() => ExitCode == TerminatedExitCode ? "TERM" : "INT";

    public void Dispose()
    {
        Console.CancelKeyPress -= handler;
        term?.Dispose();
        cts.Dispose();
    }
}
