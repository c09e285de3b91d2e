using System.Diagnostics;
using System.Globalization;
using Distill.Native;
using Distill.Notebooks.Display;
using Distill.Notebooks.Documents;
using Distill.Notebooks.Execution;
using Distill.Notebooks.Packages;
using Distill.Notebooks.Reports;
using Microsoft.CodeAnalysis;

namespace Distill.Notebooks;

/// <summary>
/// Runs a Polyglot notebook headless, the way VS Code's C# kernel would, and writes the executed notebook, an offline
/// HTML report and a manifest. One notebook at a time per process (console capture and the working directory are
/// process-wide); each notebook gets a fresh C# session.
/// </summary>
public sealed class NotebookRunner(NotebookRunOptions options)
{
    /// <summary>The executed notebook's top-level metadata key for the run's facts (commit, budget, parameters, thread
    /// count, versions); nbformat keeps unknown keys, so Jupyter and VS Code open the file as before.</summary>
    public const string RunMetadataKey = "distill_run";

    static readonly SemaphoreSlim OneAtATime = new(1, 1);
    static int handling;

    /// <summary>True while a notebook's run handles exceptions nobody catches on its cells' threads (its report then
    /// blames the running cell). A host's own handler leaves them to it then, and reports those that come later.</summary>
    public static bool HandlesUnhandledExceptions => Volatile.Read(ref handling) > 0;

    static int abandonedCells;

    /// <summary>True once a cell was abandoned (--cell-timeout, a stop signal) with its thread still running. That thread
    /// may be inside libtorch, whose exit-time cleanup (C++ static destructors, run by a normal exit) then crashes the
    /// process under it: a timed-out run ended with signal 11 or 134 and a C++ trace after its reports were written, not
    /// with its exit code. A host ends such a process with <see cref="EndProcess"/>, which skips that cleanup.</summary>
    public static bool AbandonedACell => Volatile.Read(ref abandonedCells) > 0;

    /// <summary>Ends the process with <paramref name="code"/> from an unhandled-exception handler, once what it had to
    /// say is written. Environment.Exit there loses the code when Main has already returned (the runtime is then waiting
    /// for the throwing foreground thread, and a second exit keeps Main's 0), so the console is flushed and libc's _exit
    /// ends it.</summary>
    public static void EndProcess(int code)
    {
        Environment.ExitCode = code;
        Console.Out.Flush();
        Console.Error.Flush();
        if (OperatingSystem.IsLinux()) ExitImmediately(code);
        Environment.Exit(code);
    }

    /// <summary>
    /// Makes /dev/null the process's stdin (file descriptor 0), so that a cell can never wait for input: Console.In reads
    /// as empty already, but <c>Console.ReadKey()</c> reads the terminal itself and, started from one, waited for a key
    /// (a hung run). With stdin not a terminal it throws InvalidOperationException, as with stdin piped and as in the
    /// kernel. .NET decides once whether stdin is redirected, when the console is first used, so a host calls this before
    /// anything touches the console (the CLI, first thing in <c>distill run</c>).
    /// </summary>
    public static void DetachConsoleInput()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Read);
        if (Dup2((int)devNull.DangerousGetHandle(), 0) < 0)
            throw new IOException($"cannot make /dev/null the standard input (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
    }

    /// <summary>After a hang-up (SIGHUP from a closed terminal or ssh session) every write to the terminal fails with
    /// EIO, which .NET's console throws: the stop's own messages and a trainer's progress line then ended the process with
    /// an unhandled IOException (SIGABRT) instead of the checkpoint and reports. Standard output and error that are a
    /// terminal become /dev/null; redirected to a file (nohup, `&gt; log`) they are kept.</summary>
    public static void DetachTerminalOutput()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
        foreach (var fd in new[] { 1, 2 })
            // A failed dup2 leaves the terminal's descriptor: its writes fail as before, which the stop tolerates.
            if (IsATerminal(fd) == 1) _ = Dup2((int)devNull.DangerousGetHandle(), fd);
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code; a plain DllImport of one libc call is enough.
    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "isatty")]
    static extern int IsATerminal(int fd);

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "_exit")]
    static extern void ExitImmediately(int status);

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "dup2", SetLastError = true)]
    static extern int Dup2(int oldFd, int newFd);
#pragma warning restore SYSLIB1054

    /// <summary>An exception nobody caught on a background thread after the work that started it ended (a thread a
    /// cell started, throwing after its notebook's report was written): where it was thrown, from the first frame with a
    /// source line (a cell's file and line), and the fix.</summary>
    public static string BackgroundFailure(object exception)
    {
        if (exception is not Exception e) return $"a background thread threw {exception}; it ends the process.";
        var frame = new StackTrace(e, fNeedFileInfo: true).GetFrames().FirstOrDefault(f => f.GetFileName() is not null);
        var where = frame is null ? "" : $", thrown at {frame.GetFileName()}, line {frame.GetFileLineNumber()}";
        return $"{e.GetType().Name}: {TerminalText.Line(ErrorText.Line(e))}{where}, on a background thread after the work that started it had finished: it ends the process " +
               "(in the .NET kernel it kills the kernel). What was written before it stands. Catch exceptions inside the thread, or use Task.Run and await the task.";
    }

    public NotebookRunOptions Options { get; } = options;

    /// <summary>Runs <paramref name="path"/> (.ipynb or .dib). Cancelling <paramref name="ct"/> (Ctrl-C) stops at once
    /// and still writes what has run. Throws <see cref="NotebookFormatException"/> / <see cref="ParameterException"/> for
    /// bad input before anything runs; cell failures are reported in the result, not thrown.</summary>
    public async Task<NotebookRunResult> RunAsync(string path, CancellationToken ct = default)
    {
        var doc = NotebookDocument.Load(path);
        if (doc.ForeignKernel() is { } foreign)
            throw new NotebookFormatException(path, $"not a C# notebook: {foreign}",
                "distill run executes C# notebooks for the .NET Interactive kernel (kernelspec .net-csharp); run this one with its own kernel, or switch its kernel to .NET (C#)");
        foreach (var repair in doc.Repairs)
            Options.Log?.WriteLine($"  warning: {path}: {TerminalText.Line(repair)} (the file as it is fails nbformat validation, which Jupyter applies; the executed notebook is written repaired)");
        var outDir = Path.GetFullPath(Options.OutputDirectory);
        var files = new RunFiles(Path.Combine(outDir, doc.Name + ".ipynb"), Options.WriteHtml ? Path.Combine(outDir, doc.Name + ".html") : null,
            Path.Combine(outDir, doc.Name + ".manifest.json"));
        if (string.Equals(Path.GetFullPath(path), files.Notebook, StringComparison.Ordinal) || FilePaths.SameFile(path, files.Notebook))
            throw new ParameterException($"{path}: the executed notebook would overwrite the source; pass another --out folder");
        // Checked before any cell runs: a report that cannot be written loses the run.
        foreach (var file in new[] { files.Notebook, files.Html, files.Manifest })
            if (file is not null && Directory.Exists(file))
                throw new ParameterException($"--out {Options.OutputDirectory}: {file} is a folder, where this run's {Path.GetExtension(file)} file goes; move it away or pass another --out folder");
        // Only an earlier run's outputs are overwritten (those its manifest lists): `distill run foo.dib --out .` beside
        // the user's own foo.ipynb replaced it with the executed .dib, and the first record before a cell deleted a foo.html.
        if (Manifest.NotARunsOutput(files) is { } theirs)
            throw new ParameterException($"{path}: {theirs} exists and is not an output of an earlier distill run (no {Path.GetFileName(files.Manifest)} " +
                                         "of a run lists it), so this run will not overwrite it; pass another --out folder, or move that file away");
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ParameterException($"--out {Options.OutputDirectory}: cannot create this folder ({e.Message.TrimEnd('.')}); pass a folder you can write to");
        }
        var values = ParameterValues();
        CheckParameters(doc, values, path, PassedAs);
        await OneAtATime.WaitAsync(ct);
        try
        {
            try { TorchRuntime.Initialize(); }
            catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
            {
                throw new InvalidOperationException(
                    $"libtorch could not be loaded ({(e.InnerException ?? e).Message.Split('\n')[0]}); run `distill doctor` for the fix", e);
            }
            return await new Run(this, doc, path, values, files).ExecuteAsync(ct);
        }
        finally { OneAtATime.Release(); }
    }

    /// <summary>The -p and --budget check <see cref="RunAsync"/> makes before anything runs, alone: reproduce makes it for
    /// every selected notebook before it touches --out, where each notebook's process made it only after its earlier
    /// report had been cleared (`-p seed=abc` deleted every report of the last full run). Throws
    /// <see cref="ParameterException"/>; a notebook that cannot be read is its own run's to report.</summary>
    public void CheckParameters(string path)
    {
        NotebookDocument doc;
        try { doc = NotebookDocument.Load(path); }
        catch (Exception e) when (e is NotebookFormatException or IOException or UnauthorizedAccessException) { return; }
        if (doc.ForeignKernel() is null) CheckParameters(doc, ParameterValues(), path, PassedAs);
    }

    /// <summary>-p values, then --budget as the parameter <c>budget</c> (a -p budget=... that disagrees is an error).</summary>
    List<KeyValuePair<string, string>> ParameterValues()
    {
        var values = new List<KeyValuePair<string, string>>();
        foreach (var (k, v) in Options.Parameters)
        {
            values.RemoveAll(p => p.Key == k);
            values.Add(new(k, v));
        }
        if (Options.Budget is { } b)
        {
            if (values.FirstOrDefault(p => p.Key == "budget").Value is { } other && other != b)
                throw new ParameterException($"--budget {b} and -p budget={other} disagree; pass one of them");
            values.RemoveAll(p => p.Key == "budget");
            values.Add(new("budget", b));
        }
        return values;
    }

    /// <summary>
    /// A -p value that does not fit its default is refused before anything runs, wherever the default's type can be read
    /// from the text of the parameters cell declaring it (<see cref="ParameterInjector.DeclaredTypes(IEnumerable{NotebookCell})"/>);
    /// the others (enums, computed defaults) are checked when the injected cell is built, after that parameters cell ran.
    /// </summary>
    static void CheckParameters(NotebookDocument doc, List<KeyValuePair<string, string>> values, string path, Func<string, string?> passedAs)
    {
        if (values.Count == 0) return;
        var types = ParameterInjector.DeclaredTypes(ParameterInjector.ParametersCells(doc));
        ParameterInjector.Source(values.ToDictionary(p => p.Key, p => p.Value), n => types.GetValueOrDefault(n), path, passedAs);
    }

    /// <summary>The option a value came from, for messages, when it is not <c>-p</c>: the budget is --budget's
    /// (a -p budget=... beside it must agree).</summary>
    string? PassedAs(string name) => name == "budget" && Options.Budget is { } b ? $"--budget {b}" : null;

    /// <summary>One execution of one notebook.</summary>
#pragma warning disable CA1001 // the session is disposed at the end of ExecuteAsync, or deliberately leaked when a cell was abandoned
    sealed class Run(NotebookRunner runner, NotebookDocument doc, string path, List<KeyValuePair<string, string>> values, RunFiles files)
    {
        readonly NotebookRunOptions o = runner.Options;
        /// <summary>Taken before the cells run in the notebook's folder, where a relative path (notebooks/x.ipynb) names
        /// another file: git was asked about notebooks/notebooks/x.ipynb, knew nothing, and an untracked notebook
        /// was recorded as clean.</summary>
        readonly string fullPath = Path.GetFullPath(path);
        readonly string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        readonly string fileName = Path.GetFileName(path);
        readonly List<CellRunResult> results = [];
        readonly List<CellFailure> failures = [];
        /// <summary>Every cell's sink, closed when the notebook ends: threads its cells started may outlive it.</summary>
        readonly List<OutputSink> sinks = [];
        ScriptSession session = null!;
        PackageResolver resolver = null!;
        int executionCount;
        // The #i sources added so far, as written: the kernel lists them all under every later #i and #r cell.
        readonly HashSet<string> restoreSources = new(StringComparer.Ordinal);
        bool abandoned, interrupted, timedOut;
        DateTimeOffset started;
        readonly Stopwatch runClock = new();
        Dictionary<string, string> injectedValues = [];
        List<string> parameterNames = [];
        /// <summary>The parameters cells' declarations as their text shows them.</summary>
        IReadOnlyDictionary<string, ParameterType> declaredTypes = new Dictionary<string, ParameterType>();

        /// <summary>Held while the report is written, by the run or by <see cref="OnProcessExit"/>; whichever comes second
        /// finds <see cref="written"/> set.</summary>
        readonly Lock finishGate = new();
        bool written;
        Exception? lateException; // thrown on a cell's thread while no cell ran (between cells): reported by the run's own thread
        /// <summary>The cell executing now (under <see cref="finishGate"/>), with its index in the document.</summary>
        (NotebookCell Cell, int Index, OutputSink Sink, Stopwatch Clock)? running;

        public async Task<NotebookRunResult> ExecuteAsync(CancellationToken ct)
        {
            NotebookFormatters.Register();
            Distill.Notebook.Host = new RunnerLiveOutput();
            Distill.Data.Datasets.ClearRead();
            Distill.Training.TrainingWarnings.Clear();
            started = DateTimeOffset.Now;
            runClock.Start();
            injectedValues = values.ToDictionary(p => p.Key, p => p.Value);
            // As papermill: new values replace the injected cell of an earlier run (an executed report run again), which
            // would otherwise run after the new one and win. What they do not set goes back to its default: said, as
            // `--budget smoke` alone silently undid an earlier run's seed.
            if (values.Count > 0)
            {
                var dropped = doc.Cells.Where(c => c.HasTag(ParameterInjector.InjectedTag)).SelectMany(c => ParameterInjector.Assignments(c.Source))
                    .Where(a => !injectedValues.ContainsKey(a.Name)).Select(a => a.Text).ToList();
                if (dropped.Count > 0)
                    o.Log?.WriteLine($"  warning: {path}: this run's values replace its {ParameterInjector.InjectedTag} cell, as papermill does, so " +
                                     TerminalText.Line($"{string.Join(", ", dropped)} (an earlier run's) {(dropped.Count == 1 ? "is" : "are")} dropped for the parameters cell's defaults; pass them again with -p to keep them"));
                doc.Cells.RemoveAll(c => c.HasTag(ParameterInjector.InjectedTag));
            }
            var parametersCells = ParameterInjector.ParametersCells(doc);
            parameterNames = [.. parametersCells.SelectMany(c => ParameterInjector.DeclaredNames(c.Source)).Distinct()];
            declaredTypes = ParameterInjector.DeclaredTypes(parametersCells);
            var injectAfter = values.Count > 0 && parametersCells.Count > 0 ? ParameterInjector.Placement(parametersCells, values) : [];
            if (values.Count > 0 && parametersCells.Count == 0)
            {
                doc.Cells.Insert(0, ParameterInjector.Cell(ParameterInjector.Source(injectedValues, _ => null, path, runner.PassedAs), doc));
                // A tagged markdown or raw cell holds no declarations: say so, not that no cell is tagged.
                var tagged = doc.Cells.FirstOrDefault(c => c.HasTag(ParameterInjector.ParametersTag));
                var why = tagged is null ? $"no cell is tagged '{ParameterInjector.ParametersTag}'"
                    : $"{tagged.Label} is tagged '{ParameterInjector.ParametersTag}' but is a {tagged.Kind.ToString().ToLowerInvariant()} cell, not a code cell";
                o.Log?.WriteLine($"  warning: {path}: {why}, so the values of {string.Join(", ", values.Select(p => p.Key))} " +
                                 $"were injected in a cell at the top; an assignment later in the notebook overrides them. Tag the code cell that sets the defaults '{ParameterInjector.ParametersTag}'");
            }
            foreach (var unknown in values.Select(p => p.Key).Where(k => parametersCells.Count > 0 && !parameterNames.Contains(k)))
                o.Log?.WriteLine($"  warning: {path}: parameter '{unknown}' is not declared in {(parametersCells.Count == 1 ? "the parameters cell" : "any parameters cell")} " +
                                 $"({string.Join(", ", parameterNames)}); injecting it after {parametersCells[0].Label} anyway" +
                                 // The value is the user's, as typed: a line break in it would print a line of its own.
                                 (ParameterInjector.Closest(unknown, parameterNames.Where(n => ParameterInjector.Takes(declaredTypes.GetValueOrDefault(n), injectedValues[unknown]))) is { } near ? $". Did you mean -p {near}={TerminalText.Line(injectedValues[unknown])}?" : ""));

            var cwd = Environment.CurrentDirectory;
            var processState = ProcessState.Capture();
            CellConsoleWriter.Install();
            Environment.CurrentDirectory = folder; // the kernel runs in the notebook's folder
            session = new ScriptSession(folder);
            var carried = CarriedPackages.Host;
            resolver = new PackageResolver(carried, new NuGetRestorer(o.PackageCacheDirectory ?? NuGetRestorer.DefaultCacheRoot(), carried));
            var thread = new CellThread();
            var exitHandlersBefore = ProcessExitHandlers();
            AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;
            Interlocked.Increment(ref handling);
            foreach (var c in doc.Cells)
            {
                c.Outputs.Clear();
                c.ExecutionCount = null;
            }
            try
            {
                bool stopped = false;
                for (int i = 0; i < doc.Cells.Count; i++)
                {
                    var cell = doc.Cells[i];
                    if (!stopped && ct.IsCancellationRequested) { interrupted = stopped = true; }
                    lock (finishGate) if (lateException is not null) stopped = true;
                    if (stopped) { results.Add(new(cell, CellStatus.NotRun, TimeSpan.Zero, null)); continue; }
                    if (cell.Kind == CellKind.Code && cell.Kernel == KernelNames.Markdown)
                    {
                        // The kernel runs a #!markdown code cell: it takes an execution count and shows its markdown as HTML.
                        cell.ExecutionCount = ++executionCount;
                        cell.Outputs.Add(new DisplayOutput(OutputSink.Cap(new Dictionary<string, string> { ["text/html"] = HtmlReport.KernelMarkdown(HtmlReport.KernelCellText(cell)) }, o.MaxOutputChars), isResult: false));
                        results.Add(new(cell, CellStatus.Succeeded, TimeSpan.Zero, null));
                        continue;
                    }
                    if (cell.Kind != CellKind.Code || string.IsNullOrWhiteSpace(cell.Source))
                    {
                        results.Add(new(cell, CellStatus.Skipped, TimeSpan.Zero, null));
                        continue;
                    }
                    WarnIfTorchBeforeStart(cell);
                    try { WriteDiedRecord(cell, i); }
                    catch (ReportWriteException e)
                    {
                        // The record of what ran cannot be written (a full disk): what the cells compute from here could
                        // not be kept either, so none runs. Finish writes what it can and throws this.
                        writeFailure = e;
                        failures.Add(WriteFailure(e));
                        stopped = true;
                        results.Add(new(cell, CellStatus.NotRun, TimeSpan.Zero, null));
                        continue;
                    }
                    var cellResult = await RunCellAsync(cell, i, thread, ct);
                    results.Add(cellResult);
                    LogRow(cellResult);
                    if (cellResult.Failure is { } f) failures.Add(f);
                    if (abandoned || (cellResult.Failure is not null && !o.ContinueOnError)) { stopped = true; continue; }
                    // After a parameters cell that failed too (--continue-on-error goes on): its declarations before the
                    // throw stand, and the cells after it ran with the defaults the -p values were given to replace.
                    if (injectAfter.TryGetValue(cell, out var here) && cellResult.Status is CellStatus.Succeeded or CellStatus.Failed)
                        doc.Cells.Insert(i + 1, InjectedCell(here));
                }
            }
            finally
            {
                // Writes from threads this notebook's cells started are dropped from here on: they belong to no cell
                // that is still open, and must not change outputs while they are written out.
                lock (finishGate) foreach (var sink in sinks) sink.Close();
                QuietenExitHandlers(exitHandlersBefore);
                // Else the next notebook's capture would wrap a writer the last cell set, and pass the runner's own lines into it.
                CellConsoleWriter.Restore();
                Environment.CurrentDirectory = cwd;
                thread.Dispose();
                if (!abandoned) session.Dispose();
            }

            NotebookRunResult? finished = null;
            lock (finishGate)
            {
                // Else the process is ending (a cell called Environment.Exit from another thread, or its thread threw,
                // and this one finished): the report of that is written and the process exits when the handler returns.
                if (!written)
                {
                    if (lateException is { } late) ReportLate(late);
                    // After the report: an Exit from a cell's leftover thread while it is written still finds it whole.
                    try { finished = Finish(); }
                    finally
                    {
                        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
                        AppDomain.CurrentDomain.UnhandledException -= OnUnhandledException;
                        Interlocked.Decrement(ref handling);
                        // After the manifest, which records the thread count the cells ran with: the next notebook in this
                        // process starts from the settings this one found, as in the kernel's fresh process.
                        processState.Restore();
                    }
                }
            }
            // Outside the gate, which Exit's ProcessExit handler takes: sleeping while holding it hung the process when a
            // cell's thread threw just as its cell ended.
            if (finished is null) { Thread.Sleep(Timeout.Infinite); return null!; }
            if (lateException is null) return finished;
            // The exception that a cell's thread threw between cells ends the process, as it kills the kernel (its handler
            // waits for this): the report is written, the host says so, and the exit code is 1. Outside the gate, which
            // Exit's ProcessExit handlers take.
            o.ProcessEnded?.Invoke(finished);
            Environment.Exit(1);
            return finished;
        }

        /// <summary>How long the process, exiting, waits for each ProcessExit handler a cell added.</summary>
        static readonly TimeSpan ExitHandlerLimit = TimeSpan.FromSeconds(5);

        /// <summary>The ProcessExit handlers registered now. The event's delegate is read by reflection (the public
        /// event has no getter); if this runtime names it otherwise, nothing is listed and the handlers stay as they are.</summary>
        static Delegate[] ProcessExitHandlers()
        {
            var field = typeof(AppDomain).GetField("ProcessExit", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Instance);
            var value = field?.GetValue(field.IsStatic ? null : AppDomain.CurrentDomain) as Delegate;
            return value?.GetInvocationList() ?? [];
        }

        /// <summary>
        /// A ProcessExit handler a cell added runs when the process exits, after the notebook ended: there its writes
        /// reached distill's own console, and an exception from it ended a succeeded run with an `error:` line and exit 1.
        /// Each is replaced by one that runs it with its writes dropped (as every write after a notebook ends) and says
        /// in one warning line what it threw; in the kernel it runs at the kernel's shutdown, where nobody sees it.
        /// </summary>
        void QuietenExitHandlers(Delegate[] before)
        {
            foreach (var added in ProcessExitHandlers().Except(before))
            {
                if (added is not EventHandler handler || added.Equals((EventHandler)OnProcessExit)) continue;
                var dropped = new OutputSink([]);
                dropped.Close();
                var log = o.Log;
                AppDomain.CurrentDomain.ProcessExit -= handler;
                AppDomain.CurrentDomain.ProcessExit += (sender, e) =>
                {
                    // On a thread of its own, waited for a while: a handler that never returned (a Thread.Sleep(Infinite),
                    // a lock held by a cell's thread) kept `distill run` from exiting after its reports were written.
                    var thread = new Thread(() =>
                    {
                        OutputSink.Current = dropped;
                        try { handler(sender, e); }
                        catch (Exception ex)
                        {
                            OutputSink.Current = null;
                            log?.WriteLine($"  warning: {fileName}: a ProcessExit handler added by the notebook threw {ex.GetType().FullName}: {TerminalText.Line(ScriptSession.MessageOf(ex).Split('\n')[0])} " +
                                           "as the process exited, after the notebook ended; ignored (the run's result stands). Catch exceptions inside the handler");
                        }
                    }) { IsBackground = true, Name = "notebook ProcessExit handler" };
                    thread.Start();
                    if (!thread.Join(ExitHandlerLimit))
                        log?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  warning: {fileName}: a ProcessExit handler added by the notebook had not returned {ExitHandlerLimit.TotalSeconds:0} s after the process began to exit; not waited for (the run's result stands). Make the handler return promptly"));
                };
            }
        }

        readonly int startCallsBefore = Distill.Notebook.StartCalls;
        bool warnedTorchBeforeStart, warnedFigureBeforeStart, warnedPlotly, warnedKernelMisses;
        readonly HashSet<string> referencedExtensions = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>In the kernel, the first <c>#r</c> of a package with a display extension loads it, and the extension's
        /// formatter replaces the one <c>Distill.Notebook.Start()</c> registered: after Start, a DataFrame shows every row
        /// as HTML there (80 KB for 500 rows) and 20 rows here; a Plotly.NET chart loads require.js and plotly.js from a
        /// CDN (blank offline) where ours draws it offline. Said once per package, before the cell runs.</summary>
        void WarnIfDisplayExtensionAfterStart(NotebookCell cell, IEnumerable<string> packages)
        {
            foreach (var (package, effect) in DisplayExtensions)
            {
                if (!packages.Contains(package, StringComparer.OrdinalIgnoreCase) || !referencedExtensions.Add(package)) continue;
                if (Distill.Notebook.StartCalls == startCallsBefore) continue;
                o.Log?.WriteLine($"  warning: {fileName}: {cell.Label} references {package} after Distill.Notebook.Start() has run. " +
                                 $"In the .NET kernel (VS Code, Jupyter) its display extension then replaces distill's formatter, and {effect}; " +
                                 "reference it before Start() (in the cell that calls it)" +
                                 (package == "Microsoft.Data.Analysis" ? ", or call Distill.Notebook.Start() again after this cell" : ", or not at all: distill draws Plotly.NET's charts"));
            }
        }

        static readonly (string Package, string Effect)[] DisplayExtensions =
        [
            ("Microsoft.Data.Analysis", "a DataFrame shows all its rows (80 KB of HTML for 500) instead of the first 20"),
            ("Plotly.NET.Interactive", "a chart loads require.js and plotly.js from a CDN, so it stays blank offline and in the HTML report"),
        ];

        /// <summary>Headless, libtorch is loaded before the first cell, so a cell that uses TorchSharp before
        /// <c>Distill.Notebook.Start()</c> runs here; in the kernel it fails (TypeInitializationException naming
        /// libtorch-cpu-linux-x64) and leaves TorchSharp broken for the session. Said once per notebook, from the cell's
        /// text (code lines, not #r/#! lines), before it runs.</summary>
        void WarnIfTorchBeforeStart(NotebookCell cell)
        {
            if (warnedTorchBeforeStart || Distill.Notebook.StartCalls > startCallsBefore) return;
            var code = CodeLines(cell.Source);
            // TorchSharp itself, or the library (which builds tensors) other than Start.
            var torch = System.Text.RegularExpressions.Regex.Match(code, @"\btorch\s*\.|\bTorchSharp\s*\.|\bDistill\s*\.(?!Notebook\s*\.\s*Start\b)");
            if (!torch.Success) return;
            var start = code.IndexOf("Notebook.Start(", StringComparison.Ordinal);
            if (start >= 0 && start < torch.Index) return;
            warnedTorchBeforeStart = true;
            o.Log?.WriteLine($"  warning: {fileName}: {cell.Label} uses TorchSharp before Distill.Notebook.Start() has run. It works here, " +
                             "but in the .NET kernel (VS Code, Jupyter) TorchSharp then loads without it: on Debian 12 it fails and stays broken for the session, " +
                             "elsewhere the thread count and the oneMKL fix are not applied; " +
                             "call Distill.Notebook.Start() first (after the #r of Distill.dll), at the end of the first cell");
        }

        /// <summary>Code lines only: not #r/#! lines, usings (they run nothing) or what follows a //.</summary>
        static string CodeLines(string source) => string.Join("\n", source.Split('\n')
            .Where(l => !l.TrimStart().StartsWith('#') && !l.TrimStart().StartsWith("using ", StringComparison.Ordinal))
            .Select(l => l.IndexOf("//", StringComparison.Ordinal) is var c and >= 0 ? l[..c] : l));

        /// <summary>The library's charts (<c>Distill.Reporting.Figure</c>, what <c>Charts.*</c> return) get their formatter
        /// from <c>Distill.Notebook.Start()</c> in the kernel: shown before it, a chart is the kernel's generic tree view of
        /// the object there, while the runner, which registers the formatter itself, draws it. Said once per notebook,
        /// when the cell shows one.</summary>
        void WarnIfFigureBeforeStart(NotebookCell cell, object? value)
        {
            if (value is not Distill.Reporting.Figure || Distill.Notebook.StartCalls > startCallsBefore) return;
            lock (finishGate)
            {
                if (warnedFigureBeforeStart) return;
                warnedFigureBeforeStart = true;
            }
            o.Log?.WriteLine($"  warning: {fileName}: {cell.Label} shows a chart (Distill.Reporting.Figure) before Distill.Notebook.Start() has run. It draws here, " +
                             "but in the .NET kernel (VS Code, Jupyter) the chart formatter is registered by Start(), so the chart shows as a tree view of the object's properties; " +
                             "call Distill.Notebook.Start() first (after the #r of Distill.dll), at the end of the first cell");
        }

        /// <summary>A DLL referenced by path whose own references the kernel cannot find (TorchSharp, when a notebook has
        /// <c>#r "Distill.dll"</c> without <c>#r "nuget: TorchSharp-cpu"</c>): here distill's copies stand in, there the
        /// first call that needs them fails. Said once per notebook, after the cell's own #r lines.</summary>
        void WarnIfTheKernelMissesDependencies(NotebookCell cell, IEnumerable<string> dlls)
        {
            if (warnedKernelMisses) return;
            foreach (var dll in dlls)
            {
                if (session.MissingInTheKernel(dll) is not { Count: > 0 } missing) continue;
                warnedKernelMisses = true;
                o.Log?.WriteLine($"  warning: {fileName}: {cell.Label} references {Path.GetFileName(dll)} by path, which needs {string.Join(", ", missing)}: " +
                                 $"not beside it and not referenced by a #r in this cell or before. It runs here, where distill carries its own copies, " +
                                 $"but in the .NET kernel (VS Code, Jupyter) code that needs one fails (FileNotFoundException: Could not load file or assembly '{missing[0]}'); " +
                                 $"add #r \"nuget: PACKAGE, VERSION\" for the package that ships it (for TorchSharp: TorchSharp-cpu) in this cell");
                return;
            }
        }

        /// <summary>A libtorch error's message carries the C++ frames it was raised from (about 3 KB, "Exception raised from
        /// ... frame #0: ..."): the cell's output keeps them, the one-line failure stops before them.</summary>
        static string WithoutNativeFrames(string message) =>
            message.IndexOf("\nException raised from ", StringComparison.Ordinal) is var at and >= 0 ? message[..at] : message;

        /// <summary>An exception from a cell's thread while no cell ran, as that of the cell whose code threw it (else the
        /// last that ran): an error output on it and a failure of the run, the cells after it marked not run.</summary>
        void ReportLate(Exception ex)
        {
            var ran = results.Where(x => x.Status is CellStatus.Succeeded or CellStatus.Failed).Select(x => x.Cell).ToList();
            var cell = ran.FirstOrDefault(c => ScriptSession.LineOf(ex, $"{fileName} {c.Label}") is not null) ?? ran.LastOrDefault();
            if (cell is null) return;
            int? line = ScriptSession.LineOf(ex, $"{fileName} {cell.Label}");
            var note = $"unhandled on a background thread this cell started, after the cell ended (such as a Thread's body or an async void method): " +
                       "it ends the process, as it kills the kernel; the cells after it did not run. Catch exceptions inside the thread, or use Task.Run and await the task";
            var failure = FailWithBackgroundError(cell, ex, line, note);
            int at = results.FindIndex(x => x.Cell == cell);
            results[at] = results[at] with { Status = CellStatus.Failed, Failure = failure };
        }

        /// <summary>An exception nobody caught on a cell's thread, as <paramref name="cell"/>'s error output (its traceback,
        /// then <paramref name="note"/>: what it did and the fix) and as a failure of the run, which is returned.</summary>
        CellFailure FailWithBackgroundError(NotebookCell cell, object exception, int? line, string note)
        {
            var ex = exception as Exception;
            var type = (ex?.GetType() ?? exception.GetType()).FullName ?? "Exception";
            // Capped as a cell's own error is (--max-output), the note kept whole after it.
            var evalue = OutputSink.CapText((ex is null ? exception.ToString() : ScriptSession.MessageOf(ex)) ?? "", o.MaxOutputChars);
            cell.Outputs.Add(new ErrorOutput(type, evalue, [.. ex is null ? [] : OutputSink.CapLines(ScriptSession.Traceback(ex), o.MaxOutputChars), note]));
            var failure = new CellFailure(fileName, cell.Label, line, $"{type}: {evalue} ({note})");
            failures.Add(failure);
            return failure;
        }

        /// <summary>Set when the record before a cell could not be written: the run stopped there, and Finish throws it.</summary>
        ReportWriteException? writeFailure;

        /// <summary>Writes the executed notebook, the report and the manifest of what has run (under <see cref="finishGate"/>).
        /// Throws <see cref="ReportWriteException"/> when one cannot be written (or the run stopped for that), once a
        /// manifest that says so is written, if it can be.</summary>
        NotebookRunResult Finish()
        {
            written = true;
            var parameters = abandoned ? injectedValues : EffectiveParameters(parameterNames, injectedValues.Keys);
            NotebookRunResult Record(IReadOnlyList<CellFailure> fails) => Result(
                interrupted ? RunStatus.Interrupted : timedOut ? RunStatus.TimedOut : fails.Count > 0 ? RunStatus.Failed : RunStatus.Succeeded,
                results, fails, parameters, CurrentEnvironment());
            var result = Record(failures);
            // The executed notebook is a report too, often the only file shared: it names the run's facts, as the
            // manifest and the HTML report do (it held the source's metadata alone).
            doc.Metadata[RunMetadataKey] = RunMetadata(result);
            try
            {
                Save(files.Notebook, () => IpynbWriter.Write(doc, files.Notebook, WarnOnce));
                if (files.Html is not null) Save(files.Html, () => HtmlReport.Write(result, files.Html, o.Trusted, w => o.Log?.WriteLine($"  warning: {path}: {TerminalText.Line(w)}")));
            }
            catch (ReportWriteException e)
            {
                // The manifest on disk is the record written before the last cell, which says the process died in it: it
                // is replaced by one that names the file that could not be written (small, it often still fits). A run
                // stopped by a write failure has it among its failures already: the same disk, said once.
                try { Save(files.Manifest, () => Manifest.Write(Record(writeFailure is null ? [.. failures, WriteFailure(e)] : failures), files.Manifest)); }
                catch (ReportWriteException) { } // deleted by Save: no record rather than a false one
                throw;
            }
            Save(files.Manifest, () => Manifest.Write(result, files.Manifest));
            if (writeFailure is not null) throw writeFailure;
            return result;
        }

        readonly HashSet<string> warned = [];

        /// <summary>A warning about the executed notebook, said once: it is written before every cell and at the end.</summary>
        void WarnOnce(string warning)
        {
            lock (warned) if (!warned.Add(warning)) return;
            o.Log?.WriteLine($"  warning: {path}: {TerminalText.Line(warning)}");
        }

        /// <summary>An output file that could not be written as the run's failure: under the file's name, as no cell is at fault.</summary>
        CellFailure WriteFailure(ReportWriteException e) => new(fileName, Path.GetFileName(e.File), null, e.Message);

        /// <summary>Writes <paramref name="file"/>, or deletes it and throws <see cref="ReportWriteException"/>: what is
        /// left there (a half-written file, or the record from before a cell, which says the process died in it) would
        /// pass for this run's.</summary>
        static void Save(string file, Action write)
        {
            try { write(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                try { File.Delete(file); }
                catch (Exception gone) when (gone is IOException or UnauthorizedAccessException) { } // the error below says what to do
                throw new ReportWriteException(file, e);
            }
        }

        static System.Text.Json.Nodes.JsonObject RunMetadata(NotebookRunResult r) => new()
        {
            ["commit"] = r.Environment.CommitText, ["budget"] = r.Budget,
            ["parameters"] = new System.Text.Json.Nodes.JsonObject(r.Parameters.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (System.Text.Json.Nodes.JsonNode?)kv.Value))),
            ["torch_threads"] = r.Environment.TorchThreads, ["dotnet"] = r.Environment.DotNet, ["torchsharp"] = r.Environment.TorchSharp,
            ["libtorch"] = r.Environment.LibTorch, ["started"] = r.Started.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };

        NotebookRunResult Result(RunStatus status, IReadOnlyList<CellRunResult> cells, IReadOnlyList<CellFailure> fails, Dictionary<string, string> parameters,
            RunEnvironment environment) => new()
        {
            SourcePath = path,
            Notebook = doc,
            Status = status,
            Cells = cells,
            Failures = fails,
            Started = started,
            Duration = runClock.Elapsed,
            Budget = o.Budget ?? parameters.GetValueOrDefault("budget"),
            Parameters = parameters,
            Environment = environment,
            Files = files,
        };

        RunEnvironment? environmentAtStart;

        /// <summary>The run's environment, captured once, before the first code cell (git is two processes, and the
        /// versions are read from disk), and reused by every record of the run: its git facts are thus the checkout the notebook
        /// started from, as <see cref="RunEnvironment.GitCommit"/> means, even when a cell commits or writes a tracked
        /// file. The torch thread count alone is read again: a cell may change it (<c>TorchRuntime.Initialize(n)</c>),
        /// and the record says the count the cells ran with last, as it did when the whole capture was taken at the end.</summary>
        RunEnvironment CurrentEnvironment() => (environmentAtStart ??= RunEnvironment.Capture(folder, fullPath)) with { TorchThreads = TorchRuntime.Threads };

        /// <summary>
        /// Before a cell runs: the executed notebook so far and a manifest saying the process died in this cell. Some ends
        /// leave no chance to write anything (a stack overflow aborts the runtime, the kernel's OOM killer and kill -9 give
        /// no signal), so the record of what ran is on disk before each cell, and the cell's own end replaces it. The HTML
        /// report is written only at the end (rendering it before every cell would cost more than small cells do); a
        /// previous run's report is removed with the first record, so it cannot pass for this run's.
        /// </summary>
        void WriteDiedRecord(NotebookCell cell, int index)
        {
            if (environmentAtStart is null && File.Exists(files.Html)) File.Delete(files.Html);
            var environment = CurrentEnvironment();
            // TorchSharp 0.107 lets a few libtorch errors through its native glue (THSTensor_matmul has no catch), and C++ then
            // aborts the process: matmul of shapes that do not fit ends a notebook as a stack overflow does.
            const string msg = "the process died while this cell ran (a stack overflow, running out of memory, kill -9, or a libtorch error that " +
                               "TorchSharp lets through, such as matmul of shapes that do not fit: libtorch's message is on stderr); the cells after it did not run";
            var failure = new CellFailure(fileName, cell.Label, null, msg);
            var cells = results.Append(new(cell, CellStatus.Failed, TimeSpan.Zero, failure))
                .Concat(doc.Cells.Skip(index + 1).Select(c => new CellRunResult(c, CellStatus.NotRun, TimeSpan.Zero, null))).ToList();
            // The cell has no outputs yet: the error shows in the notebook on disk, and is gone before the cell writes any.
            var error = new ErrorOutput("ProcessDied", msg, [msg]);
            cell.Outputs.Add(error);
            try { Save(files.Notebook, () => OutputSink.Holding(sinks, () => IpynbWriter.Write(doc, files.Notebook, WarnOnce))); }
            finally { cell.Outputs.Remove(error); }
            Save(files.Manifest, () => Manifest.Write(Result(RunStatus.Died, cells, [.. failures, failure], injectedValues, environment), files.Manifest));
        }

        /// <summary>
        /// A cell ended the process (<c>Environment.Exit</c>, which a cell may call from any thread): like a dead kernel,
        /// that cell is the run's error, the cells after it are not run, the report of what ran is written, and the
        /// process exits with 1 rather than the code the cell gave (setting the exit code here is what <c>Exit</c> uses).
        /// </summary>
        void OnProcessExit(object? sender, EventArgs e)
        {
            lock (finishGate)
            {
                if (written || running is not { } r) return;
                var code = Environment.ExitCode;
                // Every cell's threads keep running until the process is gone: no output may change while it is written.
                foreach (var sink in sinks) sink.Close();
                abandoned = true; // the session is mid-cell: report the injected values, not the variables
                var msg = string.Create(CultureInfo.InvariantCulture,
                    $"the process was ended while this cell ran (Environment.Exit({code}) or a second stop signal); the cells after it did not run. Throw an exception instead of exiting to stop a notebook");
                r.Cell.Outputs.Add(new ErrorOutput("ProcessExited", msg, [msg]));
                var failure = new CellFailure(fileName, r.Cell.Label, null, msg);
                failures.Add(failure);
                results.Add(new(r.Cell, CellStatus.Failed, r.Clock.Elapsed, failure));
                LogRow(results[^1]); // the row every other end of a cell gets
                results.AddRange(doc.Cells.Skip(r.Index + 1).Select(c => new CellRunResult(c, CellStatus.NotRun, TimeSpan.Zero, null)));
                Environment.ExitCode = 1;
                if (FinishAtExit() is { } result) o.ProcessEnded?.Invoke(result);
            }
        }

        void LogRow(CellRunResult r) => o.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {r.Cell.Label,-26} [{r.Cell.ExecutionCount}] {r.Status,-11} {r.Duration.TotalSeconds,7:0.00} s"));

        /// <summary><see cref="Finish"/> as the process ends: a file that cannot be written (a full disk) is one error
        /// line, as in a run's own write failure, instead of an exception out of the runtime's handler (its trace, abort).</summary>
        NotebookRunResult? FinishAtExit()
        {
            try { return Finish(); }
            catch (ReportWriteException e)
            {
                o.Log?.WriteLine($"error: {fileName}: {e.Message}");
                return null;
            }
        }

        /// <summary>
        /// An exception nobody catches on a thread a cell started (a <c>new Thread</c> body, an <c>async void</c> method)
        /// ends the process once this handler returns, as it kills the kernel. Handled like <see cref="OnProcessExit"/>:
        /// the running cell gets the exception as its error (with the cell-relative line when its code threw it), the
        /// cells after it are not run, the report of what ran is written, and the process exits with 1. Without this the
        /// runtime aborts (exit 134) and the record written before the cell blames a stack overflow.
        /// </summary>
        void OnUnhandledException(object? sender, UnhandledExceptionEventArgs e)
        {
            bool reported;
            lock (finishGate)
            {
                reported = written;
                // Between cells (a cell's thread threw after its cell ended): the run's own thread starts no more cells,
                // writes the report with this failure in it and ends the process; this thread waits for that.
                if (!reported && running is null)
                    lateException ??= e.ExceptionObject as Exception ?? new InvalidOperationException(e.ExceptionObject.ToString());
            }
            if (reported)
            {
                // The report is out (the last cell ended, or the process is ending): one line, not the runtime's trace
                // and abort (exit 134).
                o.Log?.WriteLine($"error: {BackgroundFailure(e.ExceptionObject)}");
                EndProcess(1);
            }
            if (lateException is not null) Thread.Sleep(Timeout.Infinite);
            lock (finishGate)
            {
                if (written || running is not { } r) return;
                foreach (var sink in sinks) sink.Close();
                abandoned = true; // the session is mid-cell: report the injected values, not the variables
                var ex = e.ExceptionObject as Exception;
                // The thread may have been started by an earlier cell: its line counts only in the cell whose code threw.
                int? line = ex is null ? null : ScriptSession.LineOf(ex, $"{fileName} {r.Cell.Label}");
                var origin = ex is null || line is not null ? "" : doc.Cells.Where(c => c != r.Cell)
                    .Select(c => ScriptSession.LineOf(ex, $"{fileName} {c.Label}") is int l ? $", thrown by code of {c.Label}, line {l}," : null)
                    .FirstOrDefault(t => t is not null) ?? "";
                var note = $"unhandled on a background thread{origin} such as a Thread's body or an async void method: it ends the process, as it kills the kernel; " +
                           "the cells after it did not run. Catch exceptions inside the thread, or use Task.Run and await the task";
                var failure = FailWithBackgroundError(r.Cell, e.ExceptionObject, line, note);
                results.Add(new(r.Cell, CellStatus.Failed, r.Clock.Elapsed, failure));
                LogRow(results[^1]); // the row every other end of a cell gets
                results.AddRange(doc.Cells.Skip(r.Index + 1).Select(c => new CellRunResult(c, CellStatus.NotRun, TimeSpan.Zero, null)));
                if (FinishAtExit() is { } result) o.ProcessEnded?.Invoke(result);
            }
            // Outside the gate: Exit runs the ProcessExit handlers on another thread, and OnProcessExit takes the gate (it
            // then finds the report written). The run's own thread writes nothing more: the cell is marked abandoned.
            Environment.Exit(1);
        }

        /// <summary>The injected cell, with values typed by the defaults the parameters cell just declared. A value that does
        /// not fit becomes the cell's error (the run stops there, like any failing cell).</summary>
        NotebookCell InjectedCell(Dictionary<string, string> injected)
        {
            // The script state knows the type but not whether a reference type was declared with ? (string? note), nor
            // whether it was const: the text does.
            ParameterType? TypeOf(string n) => session.VariableType(n) is { } t
                ? new ParameterType(t, Nullable: declaredTypes.GetValueOrDefault(n)?.Nullable == true, Const: declaredTypes.GetValueOrDefault(n)?.Const == true)
                : null;
            try { return ParameterInjector.Cell(ParameterInjector.Source(injected, TypeOf, path, runner.PassedAs), doc); }
            catch (ParameterException e)
            {
                // The failure line names the notebook already (✘ m.ipynb: injected-parameters cell: ...).
                var message = e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message;
                var cell = ParameterInjector.Cell("// Parameters could not be injected: see the error below.\n", doc);
                cell.Outputs.Add(new ErrorOutput("ParameterError", message, [message]));
                return cell;
            }
        }

        bool warmedUp;

        async Task<CellRunResult> RunCellAsync(NotebookCell cell, int index, CellThread thread, CancellationToken ct)
        {
            // Before the first cell's clock starts: the runner's start-up is not the cell's time (--cell-timeout, its seconds).
            if (!warmedUp)
            {
                warmedUp = true;
                await thread.Run(() => { session.WarmUp(); return true; });
            }
            var clock = Stopwatch.StartNew();
            var preset = cell.Outputs.OfType<ErrorOutput>().FirstOrDefault();
            executionCount++;
            cell.ExecutionCount = executionCount;
            if (preset is not null)
                return new(cell, CellStatus.Failed, clock.Elapsed, new CellFailure(fileName, cell.Label, null, preset.EValue));
            if (cell.Kernel == KernelNames.Html) return ShowHtml(cell, fileName, clock.Elapsed, o.MaxOutputChars);
            if (cell.Kernel != KernelNames.CSharp)
            {
                var msg = $"{cell.Label} is a {cell.Kernel} cell; distill run executes C# cells only. Port it to C# or move it out of the notebook";
                cell.Outputs.Add(new ErrorOutput("UnsupportedKernel", msg, [msg]));
                return new(cell, CellStatus.Failed, clock.Elapsed, new CellFailure(fileName, cell.Label, null, msg));
            }
            var sink = new OutputSink(cell.Outputs, o.MaxOutputChars) { Displaying = value => WarnIfFigureBeforeStart(cell, value) };
            lock (finishGate) sinks.Add(sink); // read by OnProcessExit, on another thread
            lock (finishGate)
            {
                // A cell's thread threw since the last cell ended: the run stops here (see OnUnhandledException).
                if (lateException is not null) { cell.ExecutionCount = null; executionCount--; return new(cell, CellStatus.NotRun, TimeSpan.Zero, null); }
                running = (cell, index, sink, clock);
            }
            // The cell's own token, cancelled when it is abandoned for --cell-timeout as well as on Ctrl-C: a `dotnet
            // restore` its #r started was killed only on Ctrl-C, and after a timeout outlived the runner.
            var cellStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var task = thread.Run(() => Execute(cell, sink, cellStop.Token));
            try
            {
                var failure = await task.WaitAsync(o.CellTimeout ?? Timeout.InfiniteTimeSpan, ct);
                cellStop.Dispose(); // the cell is over: nothing reads its token any more
                return new(cell, failure is null ? CellStatus.Succeeded : CellStatus.Failed, clock.Elapsed, failure);
            }
            catch (TimeoutException)
            {
                // Not disposed: the abandoned cell's thread may still read the token.
                cellStop.Cancel();
                abandoned = timedOut = true;
                var msg = string.Create(CultureInfo.InvariantCulture,
                    $"the cell ran longer than --cell-timeout {o.CellTimeout!.Value.TotalSeconds:G4} s and was abandoned; the run stops here");
                return Abandon(cell, sink, clock, CellStatus.TimedOut, "CellTimeout", msg);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                abandoned = interrupted = true;
                var msg = string.Create(CultureInfo.InvariantCulture, $"interrupted (Ctrl-C or SIGTERM) after {clock.Elapsed.TotalSeconds:0.0} s; the outputs so far were kept");
                return Abandon(cell, sink, clock, CellStatus.Interrupted, "Interrupted", msg);
            }
            finally
            {
                lock (finishGate) running = null;
            }
        }

        // A cell that deleted the current directory (a temporary folder it moved into) makes reading it throw; the
        // notebook's folder is then where relative paths are taken from, and the cells after it run.
        static string CurrentDirectory(string fallback)
        {
            try { return Environment.CurrentDirectory; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return fallback; }
        }

        CellRunResult Abandon(NotebookCell cell, OutputSink sink, Stopwatch clock, CellStatus status, string ename, string msg)
        {
            Interlocked.Increment(ref abandonedCells);
            sink.Close();
            cell.Outputs.Add(new ErrorOutput(ename, msg, [msg]));
            return new(cell, status, clock.Elapsed, new CellFailure(fileName, cell.Label, null, msg));
        }

        /// <summary>Runs on the cell thread: magics, references, the submission, its value; returns the failure, if any.</summary>
        CellFailure? Execute(NotebookCell cell, OutputSink sink, CancellationToken ct)
        {
            CellConsoleWriter.Restore(); // an earlier cell may have replaced Console.Out or Console.Error
            // Set on the cell thread, so threads and tasks the cell starts carry this sink with them (AsyncLocal).
            OutputSink.Current = sink;
            sink.Culture = CultureInfo.CurrentCulture;
            var clock = Stopwatch.StartNew();
            var cellFile = $"{fileName} {cell.Label}";
            bool plotlyBeforeOwnStart = false;
            CellFailure Fail(string ename, string evalue, IReadOnlyList<string> traceback, int? line, string message)
            {
                // An error is an output like the others: --max-output caps it, or a huge exception message fills the
                // .ipynb, the report, the manifest and the terminal's failure line.
                sink.Add(new ErrorOutput(ename, OutputSink.CapText(evalue, sink.MaxChars), OutputSink.CapLines(traceback, sink.MaxChars)));
                return new CellFailure(fileName, cell.Label, line, OutputSink.CapText(message, sink.MaxChars));
            }
            try
            {
                // Relative #r and #load paths from the current directory, as the kernel takes them: the notebook's folder
                // unless an earlier cell changed it (they were taken from the notebook's folder always, green here only).
                var parsed = Magics.Parse(doc, cell.Source, CurrentDirectory(folder));
                if (parsed.Errors.Count > 0)
                {
                    var e = parsed.Errors[0];
                    return Fail(e.EName, e.Message, [.. parsed.Errors.Select(x => x.Message)], e.Line, e.Message);
                }
                var refs = new List<string>();
                foreach (var (asmPath, line) in parsed.AssemblyPaths)
                {
                    try { refs.AddRange(resolver.ResolveAssemblyPath(asmPath)); session.AllowBeside(asmPath); }
                    catch (PackageRestoreException e) { return Fail("AssemblyLoadError", e.Message, [e.Message], line, e.Message); }
                }
                // By package or by a DLL's path: the kernel loads the same FSharp.Core 10.1-built assembly either way.
                // Before Start (in an earlier cell, or in this one's code) the kernel has nothing to bind FSharp.Core 10.1 to.
                if (parsed.Packages.Any(p => p.Package.Name.StartsWith("Plotly.NET", StringComparison.OrdinalIgnoreCase))
                    || parsed.AssemblyPaths.Any(a => Path.GetFileName(a.Path).StartsWith("Plotly.NET", StringComparison.OrdinalIgnoreCase)))
                {
                    // A Start() in this cell's own code counts once it has run: a cell that failed before it (a compile
                    // error) left the later charts green here and failing in the kernel, without a word.
                    if (CodeLines(cell.Source).Contains("Notebook.Start(", StringComparison.Ordinal)) plotlyBeforeOwnStart = true;
                    else WarnPlotlyBeforeStart(cell);
                }
                WarnIfDisplayExtensionAfterStart(cell, parsed.Packages.Select(p => p.Package.Name));
                if (parsed.Packages.Count > 0 || parsed.Sources.Count > 0)
                {
                    // Added before the restore, as the kernel adds them: a restore that fails still lists them, here and
                    // under every later #i and #r cell (the resolver keeps using them too).
                    restoreSources.UnionWith(parsed.WrittenSources);
                    void ShowRestore(IReadOnlyList<string> installed) => sink.Add(new DisplayOutput(new Dictionary<string, string>
                    {
                        ["text/html"] = PackageResolver.RestoreHtml(restoreSources, installed),
                        [OutputSink.PlainText] = PackageResolver.RestoreText(restoreSources, installed),
                    }, false));
                    try
                    {
                        var resolved = resolver.ResolvePackages([.. parsed.Packages.Select(p => p.Package)], parsed.Sources, ct);
                        refs.AddRange(resolved.References);
                        foreach (var warning in resolved.Warnings) o.Log?.WriteLine($"  warning: {fileName}: {cell.Label}: {warning}");
                        if (resolved.Installed.Count > 0 || parsed.Sources.Count > 0) ShowRestore(resolved.Installed);
                    }
                    catch (PackageRestoreException e)
                    {
                        if (restoreSources.Count > 0) ShowRestore([]);
                        return Fail("PackageRestoreError", e.Message, [e.Message], parsed.Packages.FirstOrDefault().Line, e.Message);
                    }
                }
                session.AddReferences(refs);
                WarnIfTheKernelMissesDependencies(cell, parsed.AssemblyPaths.Select(a => a.Path));
                foreach (var code in parsed.Submissions().Where(c => !string.IsNullOrWhiteSpace(c)))
                {
                    var r = session.Run(code, cellFile, ct);
                    if (!r.CompileErrors.IsEmpty)
                    {
                        var lines = r.CompileErrors.Select(DiagnosticText).ToList();
                        var first = r.CompileErrors[0].Location.GetLineSpan().StartLinePosition.Line + 1;
                        if (r.CompileErrors.Select(KernelApiNote).FirstOrDefault(n => n is not null) is { } note)
                            return Fail("CompilationError", string.Join("\n", [.. lines, note]), [.. lines, note], first, note);
                        return Fail("CompilationError", string.Join("\n", lines), lines, first, lines[0][(lines[0].IndexOf(": ", StringComparison.Ordinal) + 2)..]);
                    }
                    // MessageOf: the cell's exception type may override Message with a getter that throws; that is still
                    // the cell's error, not the runner's.
                    CellFailure Thrown(Exception ex)
                    {
                        var message = ScriptSession.MessageOf(ex); // read once: a user's getter may run code
                        // Formatting reaches the user's code by reflection (an enumerable that throws while it is shown):
                        // the wrapper is the error, as in the kernel, but the failure line names its cause and the cause's line.
                        var cause = ex;
                        while (cause is System.Reflection.TargetInvocationException { InnerException: { } inner }) cause = inner;
                        var summary = $"{ex.GetType().FullName}: {WithoutNativeFrames(message)}" +
                                      (cause == ex ? "" : $" ---> {cause.GetType().FullName}: {WithoutNativeFrames(ScriptSession.MessageOf(cause))}");
                        return Fail(ex.GetType().FullName ?? ex.GetType().Name, message, ScriptSession.Traceback(ex),
                            ScriptSession.LineOf(cause, cellFile) ?? ScriptSession.LineOf(ex, cellFile), summary);
                    }
                    if (r.Exception is { } thrown) return Thrown(thrown);
                    // Formatting the value runs the user's objects' code (a disposed tensor's shape throws): as in the
                    // kernel, what it throws is the cell's exception, not the runner's trouble.
                    // A cell ending in display(x), x.Display() or DisplayAs(...) without a semicolon returns the display's
                    // handle: the kernel shows the display only, not the handle as the cell's value.
                    try { if (r.HasValue && r.Value is not DisplayedValue) sink.Display(r.Value, null, isResult: true, executionCount: cell.ExecutionCount); }
                    catch (Exception ex) when (ex is not OperationCanceledException) { return Thrown(ex); }
                }
                if (parsed.Time)
                    sink.Add(new DisplayOutput(new Dictionary<string, string>
                    {
                        [OutputSink.PlainText] = string.Create(CultureInfo.InvariantCulture, $"Wall time: {clock.Elapsed.TotalMilliseconds:0.###}ms"),
                    }, false));
                return null;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The runner's own trouble (disk full while restoring, a corrupt package...): still the cell's error, with the reason.
                var msg = $"distill run could not run this cell: {e.GetType().Name}: {e.Message}";
                return Fail("RunnerError", msg, [msg, .. e.ToString().Split('\n')], null, msg);
            }
            finally
            {
                if (plotlyBeforeOwnStart) WarnPlotlyBeforeStart(cell);
                if (OutputSink.Current == sink) OutputSink.Current = null;
            }
        }

        /// <summary>Warns once that <paramref name="cell"/> references Plotly.NET while Start() has not run.</summary>
        void WarnPlotlyBeforeStart(NotebookCell cell)
        {
            if (warnedPlotly || Distill.Notebook.StartCalls != startCallsBefore) return;
            warnedPlotly = true;
            o.Log?.WriteLine($"  warning: {fileName}: {cell.Label} references Plotly.NET before Distill.Notebook.Start() has run. Its charts work here, but in the .NET kernel " +
                             "1.0.712001 (VS Code, Jupyter) Plotly.NET 6 needs FSharp.Core 10.1 and the kernel has loaded its own 10.0: a chart fails " +
                             "until Start() has run (it binds the request to 10.0, and draws the charts as it draws its own); call Distill.Notebook.Start() before the first chart");
        }

        /// <summary>The kernel's own objects (<c>Kernel.Current</c>, <c>KernelInvocationContext.Current</c>, with
        /// <c>using Microsoft.DotNet.Interactive;</c>) exist only inside the .NET Interactive kernel, which distill run does
        /// not host: a bare "CS0103: The name 'Kernel' does not exist" would read as a missing using. Null for other errors.</summary>
        static string? KernelApiNote(Diagnostic d)
        {
            if (d.Id is not ("CS0103" or "CS0246" or "CS0234")) return null;
            var message = d.GetMessage(CultureInfo.InvariantCulture);
            if (KernelApi.FirstOrDefault(n => message.Contains($"'{n}'", StringComparison.Ordinal)) is not { } name) return null;
            var line = d.Location.GetLineSpan().StartLinePosition.Line + 1;
            return $"'{name}' (line {line}) is the .NET Interactive kernel's own API (Microsoft.DotNet.Interactive), which distill run " +
                   "does not have: it runs cells on Roslyn scripting without the kernel. Leave it out of notebooks run headless, " +
                   "or run this one in VS Code or Jupyter";
        }

        static readonly string[] KernelApi = ["Kernel", "KernelInvocationContext"];

        static string DiagnosticText(Diagnostic d)
        {
            var pos = d.Location.GetLineSpan().StartLinePosition;
            // An indented #! line (a magic only at the start of a line) reaches the compiler. This Roslyn calls it CS9378 (a
            // file-based program's #! not at the start of the file); the kernel's Roslyn 5.0 says CS1040, and the cell
            // shows what the kernel shows.
            if (d.Id == "CS9378")
                return $"({pos.Line + 1},{pos.Character + 1}): error CS1040: Preprocessor directives must appear as the first non-whitespace character on a line";
            return $"({pos.Line + 1},{pos.Character + 1}): error {d.Id}: {d.GetMessage(CultureInfo.InvariantCulture)}";
        }

        /// <summary>Values of the parameters cell's variables and the injected ones, as the notebook saw them at the end.</summary>
        Dictionary<string, string> EffectiveParameters(IEnumerable<string> declared, IEnumerable<string> injected)
        {
            var d = new Dictionary<string, string>();
            foreach (var name in declared.Concat(injected).Distinct())
            {
                if (session.VariableType(name) is null) continue;
                d[name] = Shown(session.VariableValue(name));
            }
            return d;
        }

        /// <summary>A <c>#!html</c> cell, as the kernel's html kernel runs it (checked with nbconvert on the .net-csharp
        /// kernel): its text, trimmed, shown as text/html (within --max-output), nothing for an empty one. A magic line in
        /// it (a kernel selector, where the kernel splits the cell; #!time; #r and #i, which the html kernel fails) fails
        /// the cell naming the line: the runner shows a cell's HTML whole, never such a line as HTML.</summary>
        static CellRunResult ShowHtml(NotebookCell cell, string fileName, TimeSpan took, int maxChars)
        {
            var lines = cell.Source.Split('\n');
            for (int i = cell.BodyStart; i < lines.Length; i++)
                if (lines[i].StartsWith("#!", StringComparison.Ordinal) || lines[i].StartsWith("#r ", StringComparison.Ordinal) || lines[i].StartsWith("#i ", StringComparison.Ordinal))
                {
                    var msg = $"'{lines[i].Trim()}' (line {i + 1}) is a magic command inside a #!html cell, where the kernel splits the cell or fails; distill run shows a #!html cell whole: put the line in a cell of its own";
                    cell.Outputs.Add(new ErrorOutput("UnsupportedKernel", msg, [msg]));
                    return new(cell, CellStatus.Failed, took, new CellFailure(fileName, cell.Label, i + 1, msg));
                }
            if (HtmlReport.KernelCellText(cell).Trim() is { Length: > 0 } html)
                cell.Outputs.Add(new DisplayOutput(OutputSink.Cap(new Dictionary<string, string> { ["text/html"] = html }, maxChars), isResult: false));
            return new(cell, CellStatus.Succeeded, took, null);
        }

        // A list as its items ("[0, 1]"): its ToString() is its type's name (System.Int32[]), which says nothing of the run.
        static string Shown(object? value) => value switch
        {
            null => "null",
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            string s => s,
            // Read once, 101 items at most: a generator may not give the same items twice, or may not end.
            System.Collections.IEnumerable items => items.Cast<object?>().Take(101).ToList() is var first
                ? $"[{string.Join(", ", first.Take(100).Select(Shown))}{(first.Count > 100 ? ", ..." : "")}]" : "",
            var v => v.ToString() ?? "",
        };
    }
#pragma warning restore CA1001
}
