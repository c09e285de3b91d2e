using Distill.Reporting;
using Microsoft.DotNet.Interactive.Formatting;

namespace Distill.Notebooks.Display;

/// <summary>
/// The runner's formatters: the library's (charts, DataFrames, tensors, Plotly.NET charts, exactly as the kernel shows
/// them after <c>Distill.Notebook.Start()</c>).
/// </summary>
public static class NotebookFormatters
{
    /// <summary>Resets the formatting library (a previous notebook's registrations must not leak) and registers ours.</summary>
    public static void Register()
    {
        Formatter.ResetToDefault();
        Figure.ResetIds();
        Distill.Reporting.NotebookFormatters.Register();
    }
}
