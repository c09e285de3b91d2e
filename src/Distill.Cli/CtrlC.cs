using System.Runtime.InteropServices;

namespace Distill.Cli;

/// <summary>
/// Ctrl-C (SIGINT), SIGTERM (what `timeout`, Slurm, Kubernetes and CI cancellation send), SIGHUP (a closed terminal,
/// handled as SIGTERM) and the loss of the distill process that started this one (handled as SIGTERM) for commands that
/// write what has run so far: the first signal cancels <see cref="Token"/> (the command then stops at its next safe point and
/// finishes its reports); a second one, a second or more later, ends the process the usual way. A command that has not
/// stopped <see cref="Grace"/> after the first signal is ended then, with the same exit code: it is blocked where no
/// safe point comes (a read from a FIFO or a hung network mount), and `timeout`, like a user who does not know to send
/// the signal again, sends it once. Dispose to unhook.
/// </summary>
sealed class CtrlC : IDisposable
{
    readonly CancellationTokenSource cts = new();
    readonly ConsoleCancelEventHandler handler;
    readonly PosixSignalRegistration? term, hangUp;
    readonly Timer? parentWatch;
    readonly bool exitHandlers;

    /// <param name="exitHandlers">Whether the watchdog's end runs the process's exit handlers: `run` and `reproduce`
    /// write the report of what has run from them. The other commands' work is libtorch calls on the blocked thread,
    /// and a normal exit's C++ cleanup crashed under it (deploy export's watchdog ended in an aten::kthvalue assert and a
    /// native trace, not its exit code), so they end at once (<see cref="Distill.Notebooks.NotebookRunner.EndProcess"/>).</param>
    public CtrlC(TextWriter log, bool exitHandlers = false)
    {
        this.exitHandlers = exitHandlers;
        handler = (_, e) =>
        {
            if (Interlocked.Exchange(ref stopping, 1) == 1) { e.Cancel = Echo(); return; }
            e.Cancel = true;
            Stop(log, "Interrupted", InterruptedExitCode);
        };
        Console.CancelKeyPress += handler;
        if (!OperatingSystem.IsWindows())
        {
            term = OnSignal(PosixSignal.SIGTERM, log, "Terminated (SIGTERM)");
            // A closed terminal or ssh session (SIGHUP) ended the process at once, with no report and its children
            // orphaned: it is a request to stop like SIGTERM, and ends as one (143), which reproduce passes on to its
            // notebooks. The terminal is gone, so output that went there goes nowhere from now on (its writes would fail).
            hangUp = OnSignal(PosixSignal.SIGHUP, log, "Hung up (SIGHUP)", Distill.Notebooks.NotebookRunner.DetachTerminalOutput);
        }
        // A parent killed outright (kill -9, the OOM killer) passes no signal on: its `distill run` went on alone and later
        // wrote its report over a newer run's. Checked every second; a parent already gone at the start counts too.
        if (Parent is { } parent)
            parentWatch = new Timer(_ =>
            {
                if (Volatile.Read(ref disposed) || ParentId() == parent || Interlocked.Exchange(ref stopping, 1) == 1) return;
                Stop(log, $"The process that started this one (PID {parent}, ${ParentVariable}) is gone; if you set ${ParentVariable} yourself, unset it", TerminatedExitCode, again: false);
            }, null, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    /// <summary>A request to stop (SIGTERM, SIGHUP) that ends as SIGTERM does (143). A second signal takes the default
    /// action, the process ends now; unless it is an echo of the first.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    PosixSignalRegistration OnSignal(PosixSignal signal, TextWriter log, string message, Action? first = null) =>
        PosixSignalRegistration.Create(signal, ctx =>
        {
            first?.Invoke();
            if (Interlocked.Exchange(ref stopping, 1) == 1) { ctx.Cancel = Echo(); return; }
            ctx.Cancel = true;
            Stop(log, message, TerminatedExitCode);
        });

    bool disposed;

    /// <summary>The environment variable through which <see cref="Distill.Sweeps.ChildProcesses"/> tells a child its
    /// parent's PID.</summary>
    public const string ParentVariable = Distill.Sweeps.ChildProcesses.ParentVariable;

    /// <summary>The PID of the distill process that started this one (reproduce or sweep run --jobs), taken from the
    /// environment once and removed from it: a process this one starts (a cell's) has another parent.</summary>
    static int? Parent { get; set; }

    /// <summary>Takes <see cref="Parent"/> from the environment; called first thing, before anything starts a process.</summary>
    public static void TakeParent()
    {
        if (Environment.GetEnvironmentVariable(ParentVariable) is { } value)
        {
            Environment.SetEnvironmentVariable(ParentVariable, null);
            // A process of that PID alive that is not this one's parent means the variable leaked (exported in a shell,
            // copied from a child's environment): a parent alive is always the parent. Then there is nothing to watch.
            if (OperatingSystem.IsLinux() && int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) && pid > 1
                && (ParentId() == pid || !Directory.Exists($"/proc/{pid}")))
                Parent = pid;
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code; a plain DllImport of one libc call is enough.
    [DllImport("libc.so.6", EntryPoint = "getppid")]
    static extern int GetParentId();
#pragma warning restore SYSLIB1054

    /// <summary>This process's parent (Linux; 0 elsewhere, where a lost parent is not noticed).</summary>
    public static int ParentId() => OperatingSystem.IsLinux() ? GetParentId() : 0;

    /// <summary>1 once a signal has started the stop. Handlers run on their own threads, so two signals 50 ms apart both
    /// found the token not yet cancelled and both stopped: the message twice, and two watchdogs.</summary>
    int stopping;

    long firstSignal;

    /// <summary>
    /// A repeat within a second of the first signal is the same stop arriving twice, not a request to abort: Ctrl-C in a
    /// terminal and Slurm's job-wide SIGTERM reach a whole process group, and the parent (`sweep run --jobs`,
    /// `reproduce --jobs`) passes the signal on to its children as well. Without this a child would take the second
    /// copy as "abort" and skip its checkpoint. A stop whose time is not yet set is being started on another thread at
    /// this moment: an echo too.
    /// </summary>
    bool Echo() => Interlocked.Read(ref firstSignal) is var first && (first == 0 || System.Diagnostics.Stopwatch.GetElapsedTime(first) < TimeSpan.FromSeconds(1));

    void Stop(TextWriter log, string what, int exitCode, bool again = true)
    {
        Interlocked.Exchange(ref firstSignal, System.Diagnostics.Stopwatch.GetTimestamp());
        ExitCode = exitCode;
        // Said where it can be: a write that fails (a terminal gone) must not keep the stop from happening.
        try { log.WriteLine($"{what}: writing what has run so far{(again ? " (send it again to abort)" : "")}..."); }
        catch (IOException) { }
        var grace = Grace;
        watchdog = new Timer(_ =>
        {
            try
            {
                log.WriteLine($"{what}: still running {grace.TotalSeconds:0.###} s after the signal (blocked where it cannot stop, e.g. reading a FIFO); ending now");
                log.Flush();
            }
            catch (IOException) { }
            if (exitHandlers) Environment.Exit(exitCode);
            Distill.Notebooks.NotebookRunner.EndProcess(exitCode);
        }, null, grace, Timeout.InfiniteTimeSpan);
        try { cts.Cancel(); }
        catch (ObjectDisposedException) { } // the command ended (and disposed this) while the stop was being started
    }

    Timer? watchdog;

    /// <summary>How long a command may take to reach its safe point after the first signal: 30 s, what Slurm (KillWait)
    /// and Kubernetes (terminationGracePeriodSeconds) allow by default before they kill anyway; a training step and a
    /// checkpoint take far less. DISTILL_STOP_GRACE (seconds) sets it.</summary>
    static TimeSpan Grace =>
        double.TryParse(Environment.GetEnvironmentVariable("DISTILL_STOP_GRACE"), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 && double.IsFinite(s) ? TimeSpan.FromSeconds(Math.Min(s, 86_400)) : TimeSpan.FromSeconds(30);

    public CancellationToken Token => cts.Token;

    const int InterruptedExitCode = 130, TerminatedExitCode = 143; // 128 + the signal, as shells report them

    /// <summary>What a command that stopped on a signal exits with: 130 after Ctrl-C, else 143 (SIGTERM, SIGHUP, a lost parent).</summary>
    public int ExitCode { get; private set; } = InterruptedExitCode;

    /// <summary>The signal to pass on to child processes: INT after Ctrl-C, TERM for every other stop.</summary>
    public string Signal() => ExitCode == InterruptedExitCode ? "INT" : "TERM";

    public void Dispose()
    {
        Volatile.Write(ref disposed, true);
        watchdog?.Dispose();
        parentWatch?.Dispose();
        hangUp?.Dispose();
        Console.CancelKeyPress -= handler;
        term?.Dispose();
        cts.Dispose();
    }
}
