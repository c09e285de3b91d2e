using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Distill.Native;
using Distill.Notebooks.Documents;
using Distill.Notebooks.Execution;
using Distill.Notebooks.Reports;
using Distill.Reporting;

namespace Distill.Notebooks;

/// <summary>Options of <c>distill reproduce</c>; the CLI maps its flags onto these.</summary>
public sealed record ReproductionOptions
{
    /// <summary>The folder whose notebooks (<c>*.ipynb</c>, <c>*.dib</c>; top level only) are run in name order.</summary>
    public string NotebooksDirectory { get; init; } = "notebooks";
    /// <summary>Receives <c>NAME/</c> per notebook, <c>index.html</c>, <c>results.md</c> and <c>results.json</c>.</summary>
    public string OutputDirectory { get; init; } = "reports";
    /// <summary>smoke | quick | full, injected into every notebook; null: each notebook's default.</summary>
    public string? Budget { get; init; }
    /// <summary><c>-p name=value</c> pairs, injected into every notebook.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; init; } = [];
    /// <summary>Within a notebook, run the remaining cells after a failing one.</summary>
    public bool ContinueOnError { get; init; }
    /// <summary>Stop after the first notebook that does not succeed (the rest are listed as not run).</summary>
    public bool FailFast { get; init; }
    /// <summary>Run only notebooks whose name matches one of these (see <see cref="Reproduction.Matches"/>); empty: all.</summary>
    public IReadOnlyList<string> Only { get; init; } = [];
    public TimeSpan? CellTimeout { get; init; }
    public string? PackageCacheDirectory { get; init; }
    /// <summary>Notebooks at a time, each in its own process (`distill run`, started with <see cref="Command"/>),
    /// <see cref="Threads"/> libtorch threads each; 1 without a <see cref="Command"/>: one after another in this process.</summary>
    public int Jobs { get; init; } = 1;
    /// <summary>libtorch threads per notebook; null: $DISTILL_THREADS, else the cores divided by <see cref="Jobs"/>.</summary>
    public int? Threads { get; init; }
    /// <summary>How to start the distill CLI (<see cref="Sweeps.ChildProcesses.Self"/>); needed when <see cref="Jobs"/> &gt; 1.
    /// Null (a library caller without the CLI): with one job the notebooks run in this process, and a cell that kills it
    /// (a stack overflow) ends the reproduction; a timed-out cell keeps running beside the notebooks after it.</summary>
    public IReadOnlyList<string>? Command { get; init; }
    /// <summary>The signal a stop passes on to the notebooks' processes: TERM after SIGTERM, INT after Ctrl-C.</summary>
    public Func<string> StopSignal { get; init; } = () => "INT";
    /// <summary>Progress: one line per cell and per notebook; null: quiet.</summary>
    public TextWriter? Log { get; init; }
}

/// <summary>Bad input to the whole reproduction (no notebooks folder, nothing selected, conflicting parameters).</summary>
public sealed class ReproductionException(string message) : Exception(message);

public enum OutcomeStatus { Ok, Failed, TimedOut, Interrupted, Error, NotRun }

/// <summary>What happened to one notebook of a reproduction. <see cref="OutcomeStatus.Error"/>: it could not start (bad
/// file, libtorch not loading; <paramref name="Run"/> is null) or it ran but wrote a malformed result row.</summary>
public sealed record NotebookOutcome(
    string Name, string SourcePath, string Directory, OutcomeStatus Status, string? Message, NotebookRunResult? Run,
    IReadOnlyList<ResultRow> Rows, string? ResultsFile)
{
    public TimeSpan Duration => Run?.Duration ?? TimeSpan.Zero;

    /// <summary>The folder holding this notebook's last successful report, when this run did not succeed and an earlier
    /// one had (<see cref="Reproduction.PreviousRunFolder"/>); null otherwise.</summary>
    public string? KeptEarlier { get; init; }

    /// <summary>"ok", "failed at cell 4, line 2: System.Exception: ...", "not run: ...".</summary>
    public string StatusText => Status switch
    {
        OutcomeStatus.Ok => "ok",
        OutcomeStatus.Failed => "failed at " + Where(Run!.Failures[0]),
        OutcomeStatus.TimedOut => "timed out at " + Where(Run!.Failures[^1]),
        OutcomeStatus.Interrupted => "interrupted (Ctrl-C or SIGTERM)" + (Run?.Failures.Count > 0 ? " at " + Run.Failures[^1].Cell : ""),
        OutcomeStatus.Error => "error: " + Message,
        _ => "not run: " + Message,
    };

    /// <summary>The one line <c>distill reproduce</c> prints for this notebook.</summary>
    public string SummaryLine
    {
        get
        {
            var mark = Status switch { OutcomeStatus.Ok => "✔", OutcomeStatus.NotRun => "·", _ => "✘" };
            var time = Status == OutcomeStatus.NotRun ? "" : string.Create(CultureInfo.InvariantCulture, $" ({Reproduction.Seconds(Duration)})");
            var rows = Rows.Count == 0 ? "" : $", {Rows.Count} result row{(Rows.Count == 1 ? "" : "s")}";
            // Failures name the notebook file, the cell and the line, as `distill run` prints them.
            var text = Status is OutcomeStatus.Failed or OutcomeStatus.TimedOut ? (Status == OutcomeStatus.Failed ? Run!.Failures[0] : Run!.Failures[^1]).ToString()
                : $"{Name}: {StatusText}";
            var kept = KeptEarlier is null ? "" : $"; its last successful report is kept in {KeptEarlier}";
            return TerminalText.Line($"{mark} {text}{time}{rows}{kept}"); // a notebook's message, on the terminal
        }
    }

    static string Where(CellFailure f) => $"{f.Cell}{(f.Line is int l ? $", line {l}" : "")}: {f.Message}";
}

/// <summary>Where the summary files went.</summary>
public sealed record ReproductionFiles(string Index, string ResultsMarkdown, string ResultsJson);

/// <summary>Everything one <c>distill reproduce</c> did; <see cref="IndexPage"/> and <see cref="ReproductionReport"/>
/// render it.</summary>
public sealed record ReproductionResult
{
    public required DateTimeOffset Started { get; init; }
    public required TimeSpan Duration { get; init; }
    public required string? Budget { get; init; }
    public required IReadOnlyList<KeyValuePair<string, string>> Parameters { get; init; }
    public required RunEnvironment Environment { get; init; }
    public required CpuTopology Cpu { get; init; }
    public required string NotebooksDirectory { get; init; }
    public required IReadOnlyList<NotebookOutcome> Notebooks { get; init; }
    public required ReproductionFiles Files { get; init; }
    /// <summary>Notebooks that ran at a time, each in its own process when more than 1.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>"2 torch threads", or with --jobs "1 torch thread per notebook, 2 notebooks at a time": the thread counts the
    /// notebooks ran at (each notebook's manifest records its own).</summary>
    public string ThreadsText
    {
        get
        {
            var counts = Notebooks.Where(n => n.Run is not null).Select(n => n.Run!.Environment.TorchThreads).Distinct().Order().ToList();
            if (counts.Count == 0) counts = [Environment.TorchThreads];
            var text = $"{string.Join(" or ", counts)} torch thread{(counts is [1] ? "" : "s")}";
            return Jobs > 1 ? $"{text} per notebook, {Jobs} notebooks at a time" : text;
        }
    }

    /// <summary>A stop (Ctrl-C, SIGTERM) came before every selected notebook had run, even before the first started: the
    /// notebooks it kept from starting are NotRun, yet the reproduction did not finish.</summary>
    public bool StoppedEarly { get; init; }

    /// <summary>What a stop exits with: 143 after SIGTERM, 130 after Ctrl-C (the signal <see cref="ReproductionOptions.StopSignal"/> names).</summary>
    public int StopExitCode { get; init; } = 130;

    public bool Interrupted => StoppedEarly || Notebooks.Any(n => n.Status == OutcomeStatus.Interrupted);

    /// <summary>0: every selected notebook succeeded; 1: at least one failed, timed out or could not be read;
    /// <see cref="StopExitCode"/>: interrupted.</summary>
    public int ExitCode => Interrupted ? StopExitCode : Notebooks.Any(n => n.Status is OutcomeStatus.Failed or OutcomeStatus.TimedOut or OutcomeStatus.Error) ? 1 : 0;

    /// <summary>Every recorded row, in notebook order.</summary>
    public IEnumerable<(NotebookOutcome Notebook, ResultRow Row)> Rows => Notebooks.SelectMany(n => n.Rows.Select(r => (n, r)));

    /// <summary>Distinct values of the notebooks' <c>seed</c>/<c>seeds</c> parameters, as they ran.</summary>
    public IReadOnlyList<string> Seeds => [.. Notebooks.Where(n => n.Run is not null)
        .SelectMany(n => n.Run!.Parameters.Where(p => p.Key is "seed" or "seeds").Select(p => SeedText(p.Key, p.Value))).Distinct()];

    /// <summary>"seeds = 0,1,2"; an empty value is the notebooks' convention for "the budget's seeds", and says so
    /// instead of printing "seeds = ".</summary>
    public static string SeedText(string name, string value) =>
        value.Trim().Trim('"').Length == 0 ? $"{name} = each notebook's budget default" : $"{name} = {value}";

    /// <summary>"4 ok, 1 failed, 1 not run".</summary>
    public string Tally => string.Join(", ", Notebooks.GroupBy(n => n.Status).OrderBy(g => g.Key)
        .Select(g => $"{g.Count()} {g.Key switch { OutcomeStatus.Ok => "ok", OutcomeStatus.TimedOut => "timed out", OutcomeStatus.NotRun => "not run", _ => g.Key.ToString().ToLowerInvariant() }}"));
}

/// <summary>
/// The main job, <c>distill reproduce</c>: runs every notebook of a folder through <see cref="NotebookRunner"/> in name
/// order (00-data, 01-soft-targets, ...), each into <c>OUT/NAME/</c> (executed .ipynb, .html, manifest, and the result rows
/// it recorded in <c>results.jsonl</c>), then writes <c>OUT/index.html</c>, <c>OUT/results.md</c> and <c>OUT/results.json</c>.
/// Result rows come from the notebooks themselves: before each notebook, <see cref="Results.FileVariable"/> is pointed at
/// its <c>results.jsonl</c>, so <see cref="Results.Record"/> in a cell (cells run in this process) lands there.
/// A failing notebook does not stop the others unless <see cref="ReproductionOptions.FailFast"/>.
/// With <see cref="ReproductionOptions.Jobs"/> &gt; 1 the notebooks run side by side, each as `distill run` in its own
/// process (<see cref="Sweeps.ChildProcesses"/>, the pool of `sweep run --jobs`), and are read back from their manifests:
/// the same summary files, each notebook's numbers those of its thread count.
/// </summary>
public sealed class Reproduction(ReproductionOptions options)
{
    public ReproductionOptions Options { get; } = options;

    public const string ResultsFileName = "results.jsonl";

    /// <summary>The files reproduce writes into its --out beside the notebooks' folders.</summary>
    const string IndexFile = "index.html", MarkdownFile = "results.md", JsonFile = "results.json";
    static readonly string[] SummaryFiles = [IndexFile, MarkdownFile, JsonFile];

    /// <summary>Notebooks of <paramref name="folder"/> (top level, .ipynb and .dib), sorted by file name (ordinal).</summary>
    public static IReadOnlyList<string> FindNotebooks(string folder)
    {
        if (File.Exists(folder))
            throw new ReproductionException($"{folder}: this is a file, not a folder; pass --notebooks DIR, the folder holding the notebooks (run one notebook with `distill run {folder}`)");
        if (!Directory.Exists(folder))
            throw new ReproductionException($"{folder}: notebooks folder not found; run from the repository root or pass --notebooks DIR");
        // Folders too: one named like a notebook (04-x.ipynb) is listed and fails as "a folder, not a file", as any
        // notebook that cannot be read does, instead of being skipped unseen.
        var found = Directory.EnumerateFileSystemEntries(folder)
            .Where(f => f.EndsWith(".ipynb", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".dib", StringComparison.OrdinalIgnoreCase))
            .Where(f => !Path.GetFileName(f).StartsWith('.'))
            .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal)
            .ToList();
        if (found.Count == 0)
            throw new ReproductionException($"{folder}: no notebooks (*.ipynb, *.dib) in this folder; pass --notebooks DIR");
        // Its report folder would be the summary file reproduce writes at the end, which then failed after every notebook ran.
        if (found.FirstOrDefault(f => SummaryFiles.Contains(Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal)) is { } clash)
            throw new ReproductionException($"{clash}: it would report into {Path.GetFileNameWithoutExtension(clash)}/, the name of a summary file reproduce writes ({string.Join(", ", SummaryFiles)}); rename the notebook");
        var twice = found.GroupBy(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new ReproductionException($"{folder}: {string.Join(" and ", twice.Select(Path.GetFileName))} would both report into {twice.Key}/; rename or remove one");
        return found;
    }

    /// <summary>Whether a notebook named <paramref name="name"/> (no extension) is selected by <paramref name="pattern"/>:
    /// a glob (<c>*</c>, <c>?</c>) must match the whole name, anything else is a substring; case-insensitive. A file name
    /// or path as the shell completes it (notebooks/00-data.ipynb) means its notebook: it matched nothing.</summary>
    public static bool Matches(string name, string pattern)
    {
        // A tab-completed folder ends in a slash (`--only reports/01-soft-targets/`): its last name is the pattern, not
        // the empty name after the slash, which every notebook's name contains.
        pattern = Path.GetFileName(Path.TrimEndingDirectorySeparator(pattern));
        if (pattern.Length == 0) return false;
        foreach (var extension in new[] { ".ipynb", ".dib" })
            if (pattern.EndsWith(extension, StringComparison.OrdinalIgnoreCase)) pattern = pattern[..^extension.Length];
        if (pattern.IndexOfAny(['*', '?']) < 0) return name.Contains(pattern, StringComparison.OrdinalIgnoreCase);
        var regex = "^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$";
        return Regex.IsMatch(name, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    /// <summary>Runs the selected notebooks and writes the summary files. Throws <see cref="ReproductionException"/> for
    /// bad input before anything runs; notebook failures are in the result. Cancelling <paramref name="ct"/> (Ctrl-C)
    /// stops the current notebook (its partial report is written), skips the rest and still writes the summary.</summary>
    public async Task<ReproductionResult> RunAsync(CancellationToken ct = default)
    {
        var o = Options;
        var all = FindNotebooks(o.NotebooksDirectory);
        var selected = all.Where(p => o.Only.Count == 0 || o.Only.Any(pat => Matches(Path.GetFileNameWithoutExtension(p), pat))).ToList();
        // Each pattern on its own: with "--only 01,O2" (a typo beside a match) the typo's notebook was dropped unseen.
        if (o.Only.FirstOrDefault(pat => !all.Any(p => Matches(Path.GetFileNameWithoutExtension(p), pat))) is { } unmatched)
            throw new ReproductionException($"--only {unmatched}: matches none of {string.Join(", ", all.Select(Path.GetFileNameWithoutExtension))}");
        if (o.Budget is { } b && o.Parameters.LastOrDefault(p => p.Key == "budget").Value is { } other && other != b)
            throw new ReproductionException($"--budget {b} and -p budget={other} disagree; pass one of them");

        // A -p value a notebook's parameters cell refuses is bad input like the others: said before --out is touched.
        var check = new NotebookRunner(new NotebookRunOptions { OutputDirectory = o.OutputDirectory, Budget = o.Budget, Parameters = o.Parameters });
        foreach (var path in selected)
        {
            try { check.CheckParameters(path); }
            catch (ParameterException e) { throw new ReproductionException(e.Message); }
        }
        if (o.Jobs > 1 && o.Command is null) throw new ReproductionException("--jobs: no command to start the notebooks' processes with");
        // Bad input like the others (exit 2), said before anything runs: not an IOException from creating the folder,
        // which the CLI would report as unexpected, with the exit code of a failed notebook.
        if (FilePaths.CreateOutFolder(o.OutputDirectory) is { } outProblem) throw new ReproductionException(outProblem);
        var outDir = Path.GetFullPath(o.OutputDirectory);
        if (ForeignSummary(outDir) is { } foreign) throw new ReproductionException(foreign);
        // Each notebook reports into OUT/NAME/: a file there failed that notebook with an IOException once it started
        // (exit 1, no summary), where it is bad input to be named before anything runs.
        if (selected.Select(p => Path.Combine(outDir, Path.GetFileNameWithoutExtension(p))).FirstOrDefault(File.Exists) is { } blocked)
            throw new ReproductionException($"--out {outDir}: {blocked} is a file, and reproduce writes the notebook {Path.GetFileName(blocked)}'s report " +
                                            "into a folder of that name; move it away, or give another --out");
        // A notebook's folder is reproduce's, but a file of the user's there (notes kept as task.log, rows of their own)
        // was replaced without a word: refused like the summary files.
        if (selected.Select(p => ForeignNotebookFile(Path.Combine(outDir, Path.GetFileNameWithoutExtension(p)), Path.GetFileNameWithoutExtension(p))).FirstOrDefault(f => f is not null) is { } theirs)
            throw new ReproductionException(theirs);
        // Two reproductions into one folder both reported success over each other's reports, summary and task.log. Taken
        // after the checks, which leave the folder as it was.
        var lockPath = Path.Combine(outDir, ".reproduce.lock");
        using var held = Training.FolderLock.TryTake(lockPath)
            ?? throw new ReproductionException($"--out {outDir} is in use by another reproduce (PID {Training.FolderLock.Holder(lockPath)}); wait for it to finish, or give another folder");
        var threads = Sweeps.ChildProcesses.ThreadsPerProcess(o.Threads, o.Jobs);
        // With a command to start them (the CLI's), every notebook runs in a process of its own, --jobs 1 too: a cell that
        // kills its process (a stack overflow, Environment.FailFast, the OOM killer) then takes only its notebook with it,
        // and no library static or process setting a notebook changed reaches the next one. In-process only without one.
        var inProcess = o.Jobs == 1 && o.Command is null;
        // Before anything reads the thread count (the environment captured below does): in-process it is the notebooks',
        // with processes the count each gets, so --threads wins over a bad $DISTILL_THREADS here too, as it does there.
        TorchRuntime.Initialize(threads);
        var started = DateTimeOffset.Now;
        var clock = Stopwatch.StartNew();
        // A notebook that runs and is not committed makes the reproduction dirty.
        var environment = RunEnvironment.Capture(Path.GetFullPath(o.NotebooksDirectory), selected);
        var outcomes = new Dictionary<string, NotebookOutcome>();
        string? stopReason = null;
        // Whether a signal is what stopped the notebooks still to run: a Ctrl-C that comes after --fail-fast had already
        // stopped them (while the summary is written) leaves the exit at 1, not 130.
        var interrupted = false;
        void Interrupt() => (stopReason, interrupted) = ("interrupted (Ctrl-C or SIGTERM) before it started", true);
        void Finished(NotebookOutcome outcome)
        {
            outcomes[outcome.SourcePath] = outcome;
            o.Log?.WriteLine(outcome.SummaryLine);
            if (outcome.Status == OutcomeStatus.Interrupted) Interrupt();
            else if (o.FailFast && outcome.Status != OutcomeStatus.Ok) stopReason ??= $"--fail-fast: {outcome.Name} did not succeed";
        }
        // The notebooks to start, in name order, for as long as nothing stopped the reproduction.
        IEnumerable<(string Path, string Name, string Dir)> ToStart()
        {
            foreach (var path in selected)
            {
                if (stopReason is null && ct.IsCancellationRequested) Interrupt();
                if (stopReason is not null) yield break;
                var name = Path.GetFileNameWithoutExtension(path);
                yield return (path, name, Path.Combine(outDir, name));
            }
        }
        // A cell that ends this process (Environment.Exit, an exception unhandled on a thread it started) takes the
        // reproduction with it: that notebook's report is written by the runner, the rest are listed as not run, and the
        // summary files are written before the process exits with 1.
        void ProcessEnded(NotebookOutcome outcome)
        {
            Finished(Settled(outcome));
            stopReason = $"the process ended in {outcome.Name}";
            var ended = Summarize();
            o.Log?.WriteLine($"{ended.Tally}; wrote {ended.Files.Index}, {ended.Files.ResultsMarkdown}, {ended.Files.ResultsJson}");
        }
        if (inProcess)
            foreach (var (path, name, dir) in ToStart())
            {
                o.Log?.WriteLine($"▶ {name}");
                Finished(Settled(await RunOneAsync(path, name, dir, ProcessEnded, ct)));
            }
        else
            new Sweeps.ChildProcesses(o.Command!, o.Jobs).Run(ToStart().Select(n => StartInProcess(n.Path, n.Name, n.Dir, threads)),
                (task, code) => Finished(Settled(ReadBack(task, code, ct))), o.StopSignal, ct);
        return Summarize();

        ReproductionResult Summarize()
        {
            var outcomesInOrder = all.Select(path =>
            {
                var name = Path.GetFileNameWithoutExtension(path);
                return outcomes.TryGetValue(path, out var done) ? done
                    : new NotebookOutcome(name, path, Path.Combine(outDir, name), OutcomeStatus.NotRun,
                        selected.Contains(path) ? stopReason ?? "interrupted (Ctrl-C or SIGTERM) before it started"
                        // A report an earlier reproduce left in --out stays, but is not this summary's: said, so its
                        // folder beside this run's is not read as part of it.
                        : Directory.Exists(Path.Combine(outDir, name)) ? $"not selected by --only; {Path.Combine(outDir, name)} holds an earlier run's report, which this summary does not include"
                        : "not selected by --only", null, [], null);
            }).ToList();

            var result = new ReproductionResult
            {
                Started = started,
                Duration = clock.Elapsed,
                Budget = o.Budget ?? o.Parameters.LastOrDefault(p => p.Key == "budget").Value,
                Parameters = o.Parameters,
                Environment = environment,
                Cpu = CpuTopology.Read(),
                NotebooksDirectory = o.NotebooksDirectory,
                Notebooks = outcomesInOrder,
                // Nothing else stopped them (--fail-fast, a process that ended) and a stop was asked for: that is what did.
                StoppedEarly = selected.Any(p => !outcomes.ContainsKey(p)) && (interrupted || stopReason is null && ct.IsCancellationRequested),
                Jobs = o.Jobs,
                StopExitCode = o.StopSignal() == "TERM" ? 143 : 130,
                Files = new(Path.Combine(outDir, IndexFile), Path.Combine(outDir, MarkdownFile), Path.Combine(outDir, JsonFile)),
            };
            // results.json first: it is what marks the other two as a reproduction's (ForeignSummary), so a kill between
            // the writes never leaves an index.html the next run would refuse.
            ReproductionReport.WriteJson(result);
            IndexPage.Write(result);
            ReproductionReport.WriteMarkdown(result);
            return result;
        }
    }

    /// <summary>The first line of a notebook's task.log, which marks the file as reproduce's.</summary>
    public const string TaskLogHeader = "# distill reproduce:";

    /// <summary>Why a file reproduce rewrites in a notebook's folder <paramref name="dir"/> (its reports, task.log, the result rows) is
    /// not one it wrote; null when each is, or is absent. A task.log without the header is an earlier build's when its
    /// notebook's manifest is beside it.</summary>
    static string? ForeignNotebookFile(string dir, string name)
    {
        string Refusal(string file, string why) => $"--out {Path.GetDirectoryName(dir)}: {file} {why}, and reproduce rewrites it; move it away, or give another --out";
        var log = Path.Combine(dir, "task.log");
        // Reproduce's folder when its notebook's manifest is there, or its task.log starts with the header (or is empty:
        // the header's write failed): then the rows are its own too, a notebook's bad row or one cut short by a kill
        // included, which that notebook's outcome already named.
        // The notebook's reports, as its runner checks them when its turn comes: a user's 05-comparison.html was found
        // only after 00-04 ran (20 minutes at the quick budget), and failed that notebook alone.
        var reports = new RunFiles(Path.Combine(dir, name + ".ipynb"), Path.Combine(dir, name + ".html"), Path.Combine(dir, name + ".manifest.json"));
        if (Reports.Manifest.NotARunsOutput(reports) is { } report)
            return Refusal(report, report == reports.Manifest ? "is not the manifest of an earlier distill run" : "is not an output of an earlier run (no manifest of one lists it)");
        if (Reports.Manifest.Outputs(reports.Manifest) is not null) return null;
        if (File.Exists(log))
        {
            string? first;
            try { first = File.ReadLines(log).FirstOrDefault(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Refusal(log, $"cannot be read ({e.Message})"); }
            if (first is null || first.StartsWith(TaskLogHeader, StringComparison.Ordinal)) return null;
            return Refusal(log, "is not the log of an earlier reproduce");
        }
        var results = Path.Combine(dir, ResultsFileName);
        if (File.Exists(results))
        {
            try { Results.Read(results); }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                return Refusal(results, $"does not hold result rows ({ErrorText.Line(e).Split(" (")[0].Replace(results + ":", "line ", StringComparison.Ordinal)})");
            }
        }
        return null;
    }

    /// <summary>Why the summary files reproduce writes into <paramref name="outDir"/> (index.html, results.md,
    /// results.json) would replace files no reproduction wrote, or null. The notebooks' own folders are guarded by their
    /// manifests (the runner's); for these three an earlier reproduction's results.json is the mark: a folder of the
    /// user's own pages (an --out given as ~/site) lost its index.html at the end of an hour's run.</summary>
    static string? ForeignSummary(string outDir)
    {
        string index = Path.Combine(outDir, IndexFile), markdown = Path.Combine(outDir, MarkdownFile), json = Path.Combine(outDir, JsonFile);
        string Refusal(string file, string why) =>
            $"--out {outDir}: {file} {why}, and reproduce writes its summary there; move it away, or give another --out";
        if (Directory.Exists(json) || Directory.Exists(index) || Directory.Exists(markdown))
            return Refusal(new[] { json, index, markdown }.First(Directory.Exists), "is a folder");
        if (File.Exists(json))
        {
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
                if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("notebooks", out var nb) &&
                    nb.ValueKind == System.Text.Json.JsonValueKind.Array && doc.RootElement.TryGetProperty("started", out _))
                    return null;
            }
            catch (System.Text.Json.JsonException) { }
            catch (IOException e) { return Refusal(json, $"cannot be read ({e.Message})"); }
            catch (UnauthorizedAccessException) { return Refusal(json, "cannot be read (permission denied)"); }
            return Refusal(json, "is not the results.json of an earlier reproduce");
        }
        return new[] { index, markdown }.FirstOrDefault(File.Exists) is { } other
            ? Refusal(other, "was not written by reproduce (no results.json of an earlier reproduce beside it)")
            : null;
    }

    async Task<NotebookOutcome> RunOneAsync(string path, string name, string dir, Action<NotebookOutcome> processEnded, CancellationToken ct)
    {
        var o = Options;
        var resultsFile = Path.Combine(dir, ResultsFileName);
        var runner = new NotebookRunner(new NotebookRunOptions
        {
            OutputDirectory = dir,
            Budget = o.Budget,
            Parameters = o.Parameters,
            ContinueOnError = o.ContinueOnError,
            CellTimeout = o.CellTimeout,
            PackageCacheDirectory = o.PackageCacheDirectory,
            Log = o.Log,
            ProcessEnded = run => processEnded(Outcome(path, name, dir, run, resultsFile)),
        });
        // Cells run in this process (on the runner's cell thread), so the variable is what Results.Record sees.
        var previous = Environment.GetEnvironmentVariable(Results.FileVariable);
        Environment.SetEnvironmentVariable(Results.FileVariable, resultsFile);
        try
        {
            Directory.CreateDirectory(dir);
            SetAsideEarlier(dir, name);
            File.Delete(resultsFile); // rows of an earlier run must not pass for this one's
            var run = await runner.RunAsync(path, ct);
            return Outcome(path, name, dir, run, resultsFile);
        }
        catch (OperationCanceledException)
        {
            return new(name, path, dir, OutcomeStatus.Interrupted, "interrupted (Ctrl-C or SIGTERM) before it started", null, [], null);
        }
        // Whatever else escapes is this notebook's failure, not the reproduction's: the others still run and the summary
        // files are still written (an index left from an earlier run would otherwise pass for this one).
        catch (Exception e)
        {
            var message = e is NotebookFormatException or ParameterException or InvalidOperationException ? e.Message : $"{e.Message} ({e.GetType().Name})";
            return new(name, path, dir, OutcomeStatus.Error, message, null, [], null);
        }
        finally { Environment.SetEnvironmentVariable(Results.FileVariable, previous); }
    }

    /// <summary>A notebook run in its own process: `distill run NOTEBOOK --out DIR` with the reproduction's settings, its
    /// result rows pointed at DIR/results.jsonl, its output in DIR/task.log.</summary>
    Sweeps.ChildTask StartInProcess(string path, string name, string dir, int threads)
    {
        var o = Options;
        var resultsFile = Path.Combine(dir, ResultsFileName);
        Directory.CreateDirectory(dir);
        SetAsideEarlier(dir, name);
        File.Delete(resultsFile);
        // An earlier run's manifest must not pass for this one's. The files it lists go with it: without it, the run would
        // refuse to overwrite them as files no run wrote. A file there that is no run's manifest is left for the run to refuse.
        var manifest = Path.Combine(dir, name + ".manifest.json");
        if (Reports.Manifest.Outputs(manifest) is { } earlier)
        {
            foreach (var file in new[] { ".ipynb", ".html" }.Select(ext => Path.GetFullPath(Path.Combine(dir, name + ext))).Where(earlier.Contains))
                File.Delete(file);
            File.Delete(manifest);
        }
        var log = Path.Combine(dir, "task.log");
        File.WriteAllText(log, $"{TaskLogHeader} {name}, started {DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)}\n");
        List<string> args = ["run", Path.GetFullPath(path), "--out", dir];
        if (o.Budget is { } b) args.AddRange(["--budget", b]);
        foreach (var (k, v) in o.Parameters) args.AddRange(["-p", $"{k}={v}"]);
        if (o.ContinueOnError) args.Add("--continue-on-error");
        if (o.CellTimeout is { } t) args.AddRange(["--cell-timeout", t.TotalSeconds.ToString("R", CultureInfo.InvariantCulture)]);
        var environment = new Dictionary<string, string?> { [Results.FileVariable] = resultsFile };
        if (o.PackageCacheDirectory is { } cache) environment["DISTILL_NUGET_CACHE"] = cache;
        o.Log?.WriteLine($"▶ {name} (own process, {threads} thread{(threads == 1 ? "" : "s")}; output in {log})");
        // One at a time, its output is the reproduction's progress, as in-process: on the terminal as well as in task.log.
        return new(path, args, log, threads) { Environment = environment, Echo = o.Jobs == 1 };
    }

    /// <summary>The folder in a notebook's report folder that holds its last successful report while a re-run has not
    /// succeeded.</summary>
    public const string PreviousRunFolder = "previous-run";

    /// <summary>Before a notebook's run: an earlier run's report in <paramref name="dir"/> that succeeded (manifest,
    /// executed notebook, page, result rows, task.log) is moved to <see cref="PreviousRunFolder"/>, replacing what an
    /// older run left there. A re-run that fails or is stopped then loses nothing: a quick reproduce of 05 is 10 minutes
    /// of training, and its report went the moment the re-run started. An earlier run that did not succeed is left for
    /// this one to replace, so the folder keeps the last success, however many failures came after it.</summary>
    static void SetAsideEarlier(string dir, string name)
    {
        var manifest = Path.Combine(dir, name + ".manifest.json");
        if (Reports.Manifest.Outputs(manifest) is not { } outputs || !Reports.Manifest.Succeeded(manifest)) return;
        var kept = Path.Combine(dir, PreviousRunFolder);
        if (Directory.Exists(kept)) Directory.Delete(kept, recursive: true);
        Directory.CreateDirectory(kept);
        var here = Path.GetFullPath(dir);
        foreach (var file in outputs.Where(f => Path.GetDirectoryName(f) == here)
                     .Concat([Path.Combine(dir, ResultsFileName), Path.Combine(dir, "task.log"), manifest]).Where(File.Exists))
            File.Move(file, Path.Combine(kept, Path.GetFileName(file)));
    }

    /// <summary>A finished notebook's outcome, with the earlier report set aside for it settled: dropped when this run
    /// succeeded, named when it did not.</summary>
    static NotebookOutcome Settled(NotebookOutcome outcome)
    {
        var kept = Path.Combine(outcome.Directory, PreviousRunFolder);
        if (!Directory.Exists(kept)) return outcome;
        if (outcome.Status != OutcomeStatus.Ok) return outcome with { KeptEarlier = kept };
        Directory.Delete(kept, recursive: true);
        return outcome;
    }

    /// <summary>What a notebook's process left: its manifest, executed notebook and result rows.</summary>
    NotebookOutcome ReadBack(Sweeps.ChildTask task, int exitCode, CancellationToken ct)
    {
        var path = task.Name;
        var name = Path.GetFileNameWithoutExtension(path);
        var dir = Path.GetDirectoryName(task.LogFile)!;
        var manifest = Path.Combine(dir, name + ".manifest.json");
        if (!File.Exists(manifest))
        {
            if (ct.IsCancellationRequested) return new(name, path, dir, OutcomeStatus.Interrupted, "interrupted (Ctrl-C or SIGTERM) before it started", null, [], null);
            var error = File.Exists(task.LogFile) ? File.ReadLines(task.LogFile).LastOrDefault(l => l.StartsWith("error: ", StringComparison.Ordinal)) : null;
            return new(name, path, dir, OutcomeStatus.Error,
                error?["error: ".Length..] ?? $"its process exited {exitCode} without a manifest; see {task.LogFile}", null, [], null);
        }
        NotebookRunResult run;
        try { run = Reports.Manifest.Read(manifest); }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or NotebookFormatException or IOException
                                      or ArgumentException or InvalidOperationException or FormatException)
        {
            return new(name, path, dir, OutcomeStatus.Error, $"{manifest}: unreadable ({e.Message.Split('\n')[0]})", null, [], null);
        }
        return Outcome(path, name, dir, run, Path.Combine(dir, ResultsFileName));
    }

    static NotebookOutcome Outcome(string path, string name, string dir, NotebookRunResult run, string resultsFile)
    {
        IReadOnlyList<ResultRow> rows = [];
        string? message = null;
        var status = run.Status switch
        {
            RunStatus.Succeeded => OutcomeStatus.Ok,
            RunStatus.Failed => OutcomeStatus.Failed,
            RunStatus.TimedOut => OutcomeStatus.TimedOut,
            RunStatus.Died => OutcomeStatus.Failed,
            _ => OutcomeStatus.Interrupted,
        };
        if (File.Exists(resultsFile))
        {
            try { rows = Results.Read(resultsFile); }
            catch (InvalidDataException e) when (status == OutcomeStatus.Ok)
            {
                // A notebook that wrote a malformed row has not produced its results: count it as failed.
                (status, message) = (OutcomeStatus.Error, e.Message);
            }
            catch (InvalidDataException e) { message = e.Message; }
        }
        return new(name, path, dir, status, message, run, rows, File.Exists(resultsFile) ? resultsFile : null);
    }

    /// <summary>"12.3 s", "4 min 05 s", "1 h 02 min".</summary>
    public static string Seconds(TimeSpan t) => t.TotalSeconds switch
    {
        < 60 => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.0} s"),
        < 3600 => string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalMinutes} min {t.Seconds:00} s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours} h {t.Minutes:00} min"),
    };
}

/// <summary>Physical cores and hardware threads from /proc/cpuinfo (what a reader comparing wall times needs; .NET's
/// ProcessorCount is only the threads this process may use).</summary>
public sealed record CpuTopology(int? PhysicalCores, int? HardwareThreads)
{
    public static CpuTopology Read(string cpuinfo = "/proc/cpuinfo")
    {
        try
        {
            var cores = new HashSet<(string, string)>();
            int threads = 0;
            string physical = "0";
            foreach (var line in File.ReadLines(cpuinfo))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon < 0) continue;
                var (key, value) = (line[..colon].Trim(), line[(colon + 1)..].Trim());
                if (key == "processor") threads++;
                else if (key == "physical id") physical = value;
                else if (key == "core id") cores.Add((physical, value));
            }
            return new(cores.Count > 0 ? cores.Count : null, threads > 0 ? threads : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return new(null, null); }
    }

    /// <summary>"2 cores / 4 threads" (or what is known).</summary>
    public string Describe(int usable) =>
        $"{(PhysicalCores is int c ? $"{c} cores" : "cores unknown")} / {(HardwareThreads is int t ? $"{t} threads" : "threads unknown")}, {usable} usable by .NET";
}
