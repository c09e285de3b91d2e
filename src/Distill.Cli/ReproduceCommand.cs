using System.CommandLine;
using Distill.Notebooks;

namespace Distill.Cli;

/// <summary><c>distill reproduce</c>: the main job. Runs every notebook in notebooks/ (name order) through the notebook
/// runner into reports/NAME/, then writes reports/index.html, results.md and results.json (<see cref="Reproduction"/>).</summary>
static class ReproduceCommand
{
    const string Help = """
        Run every notebook in notebooks/ (in name order: 00-data, 01-soft-targets, ...) headless and write, per notebook,
        OUT/NAME/ (executed .ipynb, .html report, manifest, the result rows it recorded), then OUT/index.html (links,
        status, durations, the results table, the environment), OUT/results.md and OUT/results.json.
        Each notebook runs in its own process (`distill run`, its output in OUT/NAME/task.log; a crash ends only it).
        --jobs N runs N notebooks at a time with --threads libtorch threads each (default: the cores divided by N); the
        thread count changes the numbers and is recorded in each notebook's manifest. Notebooks sharing a teacher train
        it once (the teacher cache is locked per teacher).
        A failing notebook does not stop the others (unless --fail-fast); its report still shows the cells that ran.
        Exit codes: 0 every notebook succeeded; 1 at least one failed, timed out or could not be read (one line each
        names notebook, cell and line); 2 bad input, said before --out is touched (no notebooks folder, --only matches
        nothing, a -p that is not name=value, a -p value a selected notebook's parameters cell cannot take, a -p budget=
        that --budget does not take, --out in use by another reproduce); 130 Ctrl-C (the running notebook's partial
        report and the index are still written); 143 SIGTERM (the same).
        """;

    public static Command Create()
    {
        var budget = new Option<string>("--budget") { Description = "smoke | quick | full, injected into every notebook as `budget`", DefaultValueFactory = _ => "quick" };
        NotebookArgs.OnlyBudgets(budget);
        var output = new Option<string>("--out") { Description = "folder for NAME/ per notebook, index.html, results.md, results.json", DefaultValueFactory = _ => "reports" };
        var notebooks = new Option<string>("--notebooks") { Description = "folder of the notebooks to run", DefaultValueFactory = _ => "notebooks" };
        var parameters = new Option<string[]>("--parameter", "-p") { Description = "name=value injected into every notebook, typed by its parameters cell (repeatable)" };
        var continueOnError = new Option<bool>("--continue-on-error") { Description = "within a notebook, run the remaining cells after a failing one (still counts as failed)" };
        var failFast = new Option<bool>("--fail-fast") { Description = "stop after the first notebook that fails; the rest are listed as not run" };
        var only = new Option<string[]>("--only") { Description = "run only notebooks whose name contains this text (e.g. 01) or matches it as a glob with * and ? (e.g. '0?-*'); repeatable, or a comma-separated list" };
        var timeout = new Option<double?>("--cell-timeout") { Description = "abandon a cell that has run this many seconds (its compile, #r restores and run; not the runner's start-up); its notebook fails" };
        var jobs = new Option<int>("--jobs", "-j") { Description = "notebooks at a time, each in its own process", DefaultValueFactory = _ => 1 };
        var threads = new Option<int?>("--threads") { Description = "libtorch threads per notebook (default: $DISTILL_THREADS, else the cores divided by --jobs)" };
        var cmd = new Command("reproduce", "The main job: run every notebook into reports/ with index.html and results.md.\n" + Help)
        {
            budget, output, notebooks, parameters, continueOnError, failFast, only, timeout, jobs, threads,
        };
        // The default budget is no choice of the user's: -p budget=smoke alone was refused as disagreeing with "--budget quick".
        cmd.SetAction(parse => Run(new Args(parse.GetResult(budget) is { Implicit: false } ? parse.GetValue(budget) : null, parse.GetValue(output) ?? "reports", parse.GetValue(notebooks) ?? "notebooks",
            parse.GetValue(parameters) ?? [], parse.GetValue(continueOnError), parse.GetValue(failFast), parse.GetValue(only) ?? [], parse.GetValue(timeout),
            parse.GetValue(jobs), parse.GetValue(threads))));
        return cmd;
    }

    sealed record Args(string? Budget, string Output, string Notebooks, string[] Parameters, bool ContinueOnError, bool FailFast, string[] Only, double? Timeout, int Jobs, int? Threads);

    static int Run(Args a)
    {
        if (NotebookArgs.Parameters(a.Parameters) is not { } pairs || !NotebookArgs.CellTimeout(a.Timeout, out var cellTimeout) ||
            NotebookArgs.List("--only", a.Only, "01,02") is not { } only) return 2;
        var badThreads = a.Threads is int t ? Native.TorchRuntime.ThreadsError(t, $"--threads {t}") : null;
        if (a.Jobs < 1 || badThreads is not null)
        {
            Console.Error.WriteLine(a.Jobs < 1 ? $"error: --jobs {a.Jobs}: give at least 1" : $"error: {badThreads}");
            return 2;
        }
        var log = Console.Error;
        using var ctrlC = new CtrlC(log, exitHandlers: true);
        var reproduction = new Reproduction(new ReproductionOptions
        {
            NotebooksDirectory = a.Notebooks,
            OutputDirectory = a.Output,
            Budget = a.Budget ?? (pairs.Any(p => p.Key == "budget") ? pairs.Last(p => p.Key == "budget").Value : "quick"),
            Parameters = pairs,
            ContinueOnError = a.ContinueOnError,
            FailFast = a.FailFast,
            Only = only,
            CellTimeout = cellTimeout,
            Jobs = a.Jobs,
            Threads = a.Threads,
            Command = Sweeps.ChildProcesses.Self,
            StopSignal = ctrlC.Signal,
            Log = log,
        });
        ReproductionResult r;
        try { r = reproduction.RunAsync(ctrlC.Token).GetAwaiter().GetResult(); }
        catch (ReproductionException e)
        {
            Console.Error.WriteLine($"error: {Unhandled.Line(e)}");
            return 2;
        }
        // The summary goes to stdout (progress went to stderr), so `distill reproduce > summary.txt` keeps just this.
        Console.WriteLine();
        foreach (var n in r.Notebooks) Console.WriteLine(n.SummaryLine);
        Console.WriteLine($"{r.Tally}; total wall time {Reproduction.Seconds(r.Duration)} (budget {r.Budget})");
        Console.WriteLine($"wrote {r.Files.Index}, {r.Files.ResultsMarkdown}, {r.Files.ResultsJson}");
        return r.ExitCode;
    }
}
