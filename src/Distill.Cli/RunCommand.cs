using System.CommandLine;
using System.Globalization;
using Distill.Notebooks;
using Distill.Notebooks.Documents;
using Distill.Notebooks.Execution;

namespace Distill.Cli;

/// <summary><c>distill run NOTEBOOK...</c>: executes Polyglot notebooks headless and writes, per notebook, the executed
/// .ipynb, an offline .html report and a .manifest.json. Its exit codes are in <see cref="Help"/>, which --help shows.</summary>
static class RunCommand
{
    const string Help = """
        Exit codes: 0 every notebook succeeded; 1 a cell failed or timed out, a cell ended the process (Environment.Exit,
        or an exception unhandled on a thread it started), or an output file could not be written (a full disk); 2 bad
        input, found before that notebook's cells run (a missing or unreadable notebook, a -p or --budget value that does
        not fit, an --out that cannot be made or holds a file no earlier run wrote, --max-output or --cell-timeout out of
        range); 130 Ctrl-C and 143 SIGTERM (what has run is written first). A stack overflow aborts the runtime (134) and
        kill -9 ends it (137): the record written before the running cell is what is left.
        """;

    public static Command Create()
    {
        var notebooks = new Argument<string[]>("NOTEBOOK") { Description = "Polyglot notebooks (.ipynb or .dib) to run, in order", Arity = ArgumentArity.OneOrMore };
        var budget = new Option<string?>("--budget") { Description = "smoke | quick | full: injected as the parameter `budget`" };
        NotebookArgs.OnlyBudgets(budget);
        var parameters = new Option<string[]>("--parameter", "-p") { Description = "name=value, typed by the default in the cell tagged `parameters` (repeatable)" };
        var output = new Option<string>("--out") { Description = "folder for the executed .ipynb, .html and .manifest.json", DefaultValueFactory = _ => "reports" };
        var continueOnError = new Option<bool>("--continue-on-error") { Description = "run the remaining cells after a failing one (the exit code is still 1)" };
        var timeout = new Option<double?>("--cell-timeout") { Description = "abandon a cell that has run this many seconds (its compile, #r restores and run; not the runner's start-up) and stop the run" };
        var maxOutput = new Option<int>("--max-output")
        {
            Description = "characters one output keeps in the .ipynb and .html; the rest is cut with a line saying how much",
            DefaultValueFactory = _ => NotebookRunOptions.DefaultMaxOutputChars,
        };
        var trusted = new Option<bool>("--trusted") { Description = "keep the notebook's raw HTML as is and let its outputs' scripts run in the HTML report (by default its HTML is sanitised and only plotly.js and the library's charts run)" };
        var cmd = new Command("run", "Execute notebooks headless, as VS Code's Polyglot C# kernel would, into .ipynb + .html + manifest.\n" + Help)
        {
            notebooks, budget, parameters, output, continueOnError, timeout, maxOutput, trusted,
        };
        cmd.SetAction(parse => Run(
            parse.GetValue(notebooks) ?? [], parse.GetValue(budget), parse.GetValue(parameters) ?? [], parse.GetValue(output) ?? "reports",
            parse.GetValue(continueOnError), parse.GetValue(timeout), parse.GetValue(maxOutput), parse.GetValue(trusted)));
        return cmd;
    }

    static int Run(string[] notebooks, string? budget, string[] parameters, string output, bool continueOnError, double? timeout, int maxOutput, bool trusted)
    {
        if (maxOutput < 1000)
        {
            Console.Error.WriteLine($"error: --max-output {maxOutput}: keep at least 1000 characters per output");
            return 2;
        }
        if (NotebookArgs.Parameters(parameters) is not { } pairs || !NotebookArgs.CellTimeout(timeout, out var cellTimeout)) return 2;
        Native.TorchRuntime.EnvironmentThreads(); // a bad DISTILL_THREADS is refused (ThreadCountException) before anything runs
        // Checked before anything runs: a notebook's outputs must never be computed only to be thrown away.
        if (FilePaths.CreateOutFolder(output) is { } outProblem)
        {
            Console.Error.WriteLine($"error: {outProblem}");
            return 2;
        }
        // A folder (or a link to nothing) is named as what it is: "file not found" would send the user looking for it.
        var missing = notebooks.Where(n => !File.Exists(n) || FilePaths.NotAFile(n) is not null).ToList();
        if (missing.Count > 0)
        {
            foreach (var m in missing)
                Console.Error.WriteLine(FilePaths.NotAFile(m) is { } what ? $"error: {FilePaths.Shown(m)}: this is {what}; pass the path of a .ipynb or .dib notebook file"
                                                                         : $"error: {m}: file not found; " + (Suggest(m) is { Count: > 0 } near
                                                                             ? $"did you mean {string.Join(" or ", near)}?" : "pass the path of a .ipynb or .dib notebook"));
            return 2;
        }
        // Reports are named after the notebook: two of one name would overwrite each other's.
        // Ignoring case: on macOS and Windows A.ipynb and a.ipynb write one file.
        if (notebooks.GroupBy(n => Path.GetFileNameWithoutExtension(n), StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } same)
        {
            Console.Error.WriteLine($"error: {string.Join(" and ", same)} would write the same report ({Path.Combine(output, same.Key)}.*); run them with different --out folders");
            return 2;
        }
        var log = Console.Error;
        var current = 0;
        var runner = new NotebookRunner(new NotebookRunOptions
        {
            // A cell ended the process: its report is written and the exit code is 1; say what did not run.
            ProcessEnded = r =>
            {
                Report(log, notebooks[current], r);
                foreach (var nb in notebooks.Skip(current + 1)) log.WriteLine($"✘ {nb}: not run: the process ended in {notebooks[current]}");
            },
            OutputDirectory = output,
            Budget = budget,
            Parameters = pairs,
            ContinueOnError = continueOnError,
            CellTimeout = cellTimeout,
            MaxOutputChars = maxOutput,
            Trusted = trusted,
            Log = log,
        });
        using var ctrlC = new CtrlC(log, exitHandlers: true);
        int exit = 0;
        for (; current < notebooks.Length; current++)
        {
            var nb = notebooks[current];
            if (ctrlC.Token.IsCancellationRequested)
            {
                // A signal before this notebook started is a stop, not a run finished: exit as one (130/143).
                log.WriteLine($"stopped before {nb}: interrupted (Ctrl-C or SIGTERM)");
                exit = ctrlC.ExitCode;
                break;
            }
            log.WriteLine($"▶ {nb}");
            NotebookRunResult r;
            try { r = runner.RunAsync(nb, ctrlC.Token).GetAwaiter().GetResult(); }
            catch (Distill.Notebooks.Reports.ReportWriteException e)
            {
                // An I/O failure (a full disk), not bad input: 1. The notebooks after it would meet the same disk.
                log.WriteLine($"error: {nb}: {e.Message}");
                exit = Math.Max(exit, 1);
                foreach (var later in notebooks.Skip(current + 1)) log.WriteLine($"✘ {later}: not run: the outputs of {nb} could not be written");
                break;
            }
            catch (Exception e) when (e is NotebookFormatException or ParameterException or InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                log.WriteLine($"error: {TerminalText.Line(e.Message)}"); // may quote the notebook (its kernel's name)
                exit = Math.Max(exit, 2);
                continue;
            }
            catch (OperationCanceledException) { exit = ctrlC.ExitCode; break; }
            Report(log, nb, r);
            exit = r.Status switch
            {
                RunStatus.Interrupted => ctrlC.ExitCode,
                RunStatus.Succeeded => exit,
                _ => exit is 130 or 143 ? exit : Math.Max(exit, 1),
            };
            if (r.Status == RunStatus.Interrupted) break;
            // The timed-out cell cannot be aborted: it keeps running in this process and could change the settings and
            // the speed of any notebook after it (the kernel would have been restarted).
            if (r.Status == RunStatus.TimedOut && current + 1 < notebooks.Length)
            {
                foreach (var later in notebooks.Skip(current + 1))
                    log.WriteLine($"✘ {later}: not run: a cell of {nb} timed out and still runs in this process; run it in a `distill run` of its own");
                break;
            }
        }
        return exit;
    }

    /// <summary>The notebooks a missing <paramref name="path"/> was likely meant for (`01-soft-targets`, `notebooks/00-data`):
    /// those in its folder, or in notebooks/ when it names none, whose name it matches as `reproduce --only` does.</summary>
    static List<string> Suggest(string path)
    {
        var name = Path.GetExtension(path).ToLowerInvariant() is ".ipynb" or ".dib" ? Path.GetFileNameWithoutExtension(path) : Path.GetFileName(path);
        var folder = Path.GetDirectoryName(path);
        string[] folders = string.IsNullOrEmpty(folder) ? [".", "notebooks"] : [folder];
        if (name.Length == 0) return [];
        var matches = folders.Where(Directory.Exists).SelectMany(f =>
        {
            try { return Reproduction.FindNotebooks(f).Select(nb => f == "." ? Path.GetFileName(nb) : nb); } // as the user would type it
            // No notebooks there, or one that reproduce would refuse, or a folder that cannot be read: no suggestion, and
            // the plain "file not found" stays (an unreadable folder replaced it with an unhandled-error line).
            catch (Exception e) when (e is ReproductionException or IOException or UnauthorizedAccessException) { return []; }
        }).Where(nb => Reproduction.Matches(Path.GetFileNameWithoutExtension(nb), name));
        // A short name matches many (`distill run 0` named every notebook): the few that start with it first, at most 3.
        return [.. matches.OrderBy(nb => Path.GetFileName(nb).StartsWith(name, StringComparison.OrdinalIgnoreCase) ? 0 : 1).Take(3)];
    }

    static void Report(TextWriter log, string nb, NotebookRunResult r)
    {
        var secs = r.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
        if (r.Succeeded) log.WriteLine($"✔ {nb} ({secs} s)");
        else foreach (var f in r.Failures) log.WriteLine($"✘ {f}");
        log.WriteLine($"  wrote {r.Files.Notebook}{(r.Files.Html is null ? "" : ", " + r.Files.Html)}, {r.Files.Manifest}");
    }
}
