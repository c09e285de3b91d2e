using Distill.Notebooks.Documents;

namespace Distill.Notebooks;

/// <summary>How a run ended. <see cref="Died"/> is only ever read from disk: the record written before each cell, left
/// when the process died in that cell (stack overflow, out of memory, kill -9) and could write nothing more.</summary>
public enum RunStatus { Succeeded, Failed, TimedOut, Interrupted, Died }

public enum CellStatus { NotRun, Succeeded, Failed, TimedOut, Interrupted, Skipped }

/// <summary>Options of one <see cref="NotebookRunner"/>; the CLI maps its flags onto these.</summary>
public sealed record NotebookRunOptions
{
    /// <summary>Where the executed .ipynb, the .html report and the .manifest.json go (default <c>reports</c>).</summary>
    public string OutputDirectory { get; init; } = "reports";
    /// <summary>smoke | quick | full; injected as the parameter <c>budget</c>. Null: the notebook's default.</summary>
    public string? Budget { get; init; }
    /// <summary><c>-p name=value</c> pairs, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; init; } = [];
    public bool ContinueOnError { get; init; }
    /// <summary>Wall-time limit per cell; null: none.</summary>
    public TimeSpan? CellTimeout { get; init; }
    /// <summary>Where restored NuGet packages are cached; default ~/.cache/distill/nuget.</summary>
    public string? PackageCacheDirectory { get; init; }
    /// <summary>Progress lines (one per cell); null: quiet.</summary>
    public TextWriter? Log { get; init; }
    public bool WriteHtml { get; init; } = true;
    /// <summary>Most characters one output keeps (a stream, or one MIME type of a display); the rest is cut with a line
    /// saying how much. A 50 MB print would otherwise be copied whole into the .ipynb and the HTML.</summary>
    public int MaxOutputChars { get; init; } = DefaultMaxOutputChars;
    /// <summary>Let every script in the cells' outputs run in the HTML report (the notebook is yours); otherwise only
    /// plotly.js and our chart scripts run there (docs/notebook-runner.md, "Trust").</summary>
    public bool Trusted { get; init; }
    /// <summary>Called when a cell ends the process (<c>Environment.Exit</c>) after the partial report is written, on the
    /// exiting thread; the process then exits with 1. The CLI says there which notebooks were not run.</summary>
    public Action<NotebookRunResult>? ProcessEnded { get; init; }
    public const int DefaultMaxOutputChars = 1 << 20;
}

/// <summary>The error that stopped (or, with continue-on-error, marked) a run, with the line inside the cell when known.</summary>
public sealed record CellFailure(string Notebook, string Cell, int? Line, string Message)
{
    /// <summary>One line (the summaries print one per failure), at most 1,000 characters (a 3 MB exception message filled
    /// the terminal; the report keeps it): a message's own line breaks show as ⏎; its terminal sequences and control
    /// characters are dropped, as the line goes to the terminal of whoever runs the notebook.</summary>
    public override string ToString() => TerminalText.ShortLine($"{Notebook}: {Cell}{(Line is int l ? $", line {l}" : "")}: {Message.Trim()}");
}

/// <summary>One cell's run: status, wall time, outputs (shared with <see cref="NotebookRunResult.Notebook"/>).</summary>
public sealed record CellRunResult(NotebookCell Cell, CellStatus Status, TimeSpan Duration, CellFailure? Failure)
{
    public int? ExecutionCount => Cell.ExecutionCount;
    public IReadOnlyList<CellOutput> Outputs => Cell.Outputs;
}

/// <summary>The files a run wrote (the .ipynb always; the others when enabled).</summary>
public sealed record RunFiles(string Notebook, string? Html, string Manifest);

/// <summary>Everything known about one executed notebook; <c>distill reproduce</c> builds its index from these.</summary>
public sealed record NotebookRunResult
{
    public required string SourcePath { get; init; }
    public required NotebookDocument Notebook { get; init; }
    public required RunStatus Status { get; init; }
    public required IReadOnlyList<CellRunResult> Cells { get; init; }
    /// <summary>Every failure (several only with continue-on-error); the first one stopped the run otherwise.</summary>
    public required IReadOnlyList<CellFailure> Failures { get; init; }
    public required DateTimeOffset Started { get; init; }
    public required TimeSpan Duration { get; init; }
    public required string? Budget { get; init; }
    /// <summary>Effective parameter values after injection (the parameters cell's variables and injected ones).</summary>
    public required IReadOnlyDictionary<string, string> Parameters { get; init; }
    public required RunEnvironment Environment { get; init; }
    public required RunFiles Files { get; init; }

    public bool Succeeded => Status == RunStatus.Succeeded;
}
