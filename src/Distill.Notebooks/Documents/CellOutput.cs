using System.Text;

namespace Distill.Notebooks.Documents;

/// <summary>One Jupyter output. Mutable on purpose: consecutive console writes are merged into one stream output, and a
/// display handle's <c>Update</c> replaces its data in place, as VS Code does.</summary>
public abstract class CellOutput;

/// <summary><c>stream</c>: console text, <see cref="Name"/> is <c>stdout</c> or <c>stderr</c>.</summary>
public sealed class StreamOutput(string name) : CellOutput
{
    public string Name { get; } = name;
    public StringBuilder Text { get; } = new();
}

/// <summary><c>display_data</c> (from <c>display(x)</c>) or <c>execute_result</c> (a cell's last expression).</summary>
public sealed class DisplayOutput(IReadOnlyDictionary<string, string> data, bool isResult, int? executionCount = null) : CellOutput
{
    /// <summary>MIME type → formatted text, e.g. <c>text/html</c> and <c>text/plain</c>.</summary>
    public IReadOnlyDictionary<string, string> Data { get; set; } = data;
    public bool IsResult { get; } = isResult;
    public int? ExecutionCount { get; } = executionCount;
}

/// <summary><c>error</c>: a compile error, an exception, a rejected magic or a timeout.</summary>
public sealed class ErrorOutput(string ename, string evalue, IReadOnlyList<string> traceback) : CellOutput
{
    public string EName { get; } = ename;
    public string EValue { get; } = evalue;
    public IReadOnlyList<string> Traceback { get; } = traceback;
}
