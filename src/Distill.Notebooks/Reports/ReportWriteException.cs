namespace Distill.Notebooks.Reports;

/// <summary>An output file of a run (the executed notebook, the report, the manifest) that could not be written: a
/// full disk above all. It stops the run, since what the cells compute next could not be kept, and the CLI says it as
/// one line naming the file and the fix, with exit code 1 (an I/O failure, not bad input).</summary>
public sealed class ReportWriteException(string file, Exception inner)
    : IOException(IoError.DiskProblem(inner, file) ?? $"'{file}' cannot be written ({TerminalText.Line(inner.Message).TrimEnd('.')}): check that folder's permissions, or give another --out", inner)
{
    public string File { get; } = file;
}
