using System.Runtime.InteropServices;

namespace Distill.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM (what `timeout`, Slurm, Kubernetes and CI cancellation send) for commands that write
/// what has run so far: the first signal cancels <see cref="Token"/> (the command then stops at its next safe point and
/// finishes its reports); a second one, a second or more later, ends the process the usual way. Dispose to unhook.
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
            if (cts.IsCancellationRequested) { e.Cancel = Echo(); return; }
            e.Cancel = true;
            Stop(log, "Interrupted", InterruptedExitCode);
        };
        Console.CancelKeyPress += handler;
        if (!OperatingSystem.IsWindows())
            term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                // A second signal takes the default action, the process ends now; unless it is an echo of the first.
                if (cts.IsCancellationRequested) { ctx.Cancel = Echo(); return; }
                ctx.Cancel = true;
                Stop(log, "Terminated (SIGTERM)", TerminatedExitCode);
            });
    }

    long firstSignal;

    /// <summary>
    /// A repeat within a second of the first signal is the same stop arriving twice, not a request to abort: Ctrl-C in a
    /// terminal and Slurm's job-wide SIGTERM reach a whole process group, and the parent (`sweep run --jobs`,
    /// `reproduce --jobs`) passes the signal on to its children as well. Without this a child would take the second
    /// copy as "abort" and skip its checkpoint.
    /// </summary>
    bool Echo() => System.Diagnostics.Stopwatch.GetElapsedTime(firstSignal) < TimeSpan.FromSeconds(1);

    void Stop(TextWriter log, string what, int exitCode)
    {
        firstSignal = System.Diagnostics.Stopwatch.GetTimestamp();
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
