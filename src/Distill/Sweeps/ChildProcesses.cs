using System.Diagnostics;
using System.Globalization;

namespace Distill.Sweeps;

/// <summary>One child process: the arguments after the CLI's own command line, the file its stdout and stderr are
/// appended to, and its libtorch threads (passed as $DISTILL_THREADS). <see cref="Environment"/> adds variables; a null
/// value removes one.</summary>
public sealed record ChildTask(string Name, IReadOnlyList<string> Arguments, string LogFile, int Threads)
{
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Also pass the child's stdout and stderr lines on to this process's, as they come.</summary>
    public bool Echo { get; init; }
}

/// <summary>
/// Runs child processes of this same CLI, <c>jobs</c> at a time, each with its own thread count: `sweep run --jobs`
/// (its workers, each running runs one after another) and `reproduce --jobs` (one notebook per child). Separate
/// processes because libtorch's thread pool and the global generator a trainer seeds are per process, so each child's
/// numbers are those of a run alone at its thread count. A stop (Ctrl-C, SIGTERM) starts nothing more and passes the
/// signal on to the running children, which write what they have and exit; <see cref="Run"/> returns when the last
/// one has.
/// </summary>
public sealed class ChildProcesses(IReadOnlyList<string> self, int jobs)
{
    /// <summary>How to start this same CLI again: its own executable, or `dotnet Distill.Cli.dll` when run through the host.</summary>
    public static IReadOnlyList<string> Self
    {
        get
        {
            var exe = System.Environment.ProcessPath ?? "dotnet";
            return Path.GetFileNameWithoutExtension(exe) == "dotnet"
                ? [exe, System.Reflection.Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("no entry assembly to start again")]
                : [exe];
        }
    }

    /// <summary>libtorch threads per child: <paramref name="given"/>, else $DISTILL_THREADS, else the cores divided by
    /// <paramref name="jobs"/> (at least 1).</summary>
    public static int ThreadsPerProcess(int? given, int jobs) =>
        given ?? Native.TorchRuntime.EnvironmentThreads() ?? Math.Max(1, System.Environment.ProcessorCount / jobs);

    /// <summary>Starts the <paramref name="tasks"/> in order, read lazily (one more only when a slot is free, so the caller
    /// can stop handing them out), and calls <paramref name="finished"/> with each one's exit code, on this thread, as it
    /// ends. When <paramref name="stop"/> is cancelled nothing more starts and every running child gets
    /// <paramref name="signal"/>() (TERM or INT).</summary>
    public void Run(IEnumerable<ChildTask> tasks, Action<ChildTask, int> finished, Func<string> signal, CancellationToken stop)
    {
        using var pending = tasks.GetEnumerator();
        var more = true;
        var running = new List<(ChildTask Task, Process Process)>();
        using var forward = stop.Register(() =>
        {
            lock (running)
                foreach (var (_, p) in running) Signal(p.Id, signal());
        });
        while (true)
        {
            lock (running)
                while (more && running.Count < jobs && !stop.IsCancellationRequested && (more = pending.MoveNext()))
                    running.Add((pending.Current, Start(pending.Current)));
            if (running.Count == 0) return;
            var done = running.FirstOrDefault(x => x.Process.HasExited);
            if (done.Process is null) { Thread.Sleep(200); continue; }
            lock (running) running.Remove(done);
            done.Process.WaitForExit(); // flushes the asynchronous readers into the log
            var code = done.Process.ExitCode;
            done.Process.Dispose();
            finished(done.Task, code);
        }
    }

    /// <summary>Names the PID of the process that started a child, for the child to watch (the CLI's CtrlC).</summary>
    public const string ParentVariable = "DISTILL_PARENT_PID";

    Process Start(ChildTask task)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(task.LogFile))!);
        var psi = new ProcessStartInfo(self[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in self.Skip(1).Concat(task.Arguments)) psi.ArgumentList.Add(a);
        foreach (var (name, value) in task.Environment)
            if (value is null) psi.Environment.Remove(name);
            else psi.Environment[name] = value;
        psi.Environment["DISTILL_THREADS"] = task.Threads.ToString(CultureInfo.InvariantCulture);
        // The child stops (as on SIGTERM) once this process is gone: killed outright, it passes no signal on.
        psi.Environment[ParentVariable] = System.Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var p = Process.Start(psi)!;
        var log = new StreamWriter(task.LogFile, append: true) { AutoFlush = true };
        var open = 2;
        void Line(string? text)
        {
            lock (log)
            {
                if (text is not null) log.WriteLine(text);
                else if (--open == 0) log.Dispose();
            }
        }
        // Echoed without terminal sequences: a notebook's process may write any (task.log keeps them as written).
        p.OutputDataReceived += (_, e) => { Line(e.Data); if (task.Echo && e.Data is not null) Console.Out.WriteLine(TerminalText.Printable(e.Data)); };
        p.ErrorDataReceived += (_, e) => { Line(e.Data); if (task.Echo && e.Data is not null) Console.Error.WriteLine(TerminalText.Printable(e.Data)); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        kill?.WaitForExit();
    }
}
