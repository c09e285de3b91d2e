using Distill.Reporting;
using Microsoft.AspNetCore.Html;

namespace Distill.Notebooks.Display;

/// <summary><see cref="Distill.Notebook.Host"/> for notebooks run by this runner: a display in the running cell, updated
/// in place (the executed notebook keeps its last state), as the kernel does it.</summary>
sealed class RunnerLiveOutput : ILiveOutput
{
    public object? CurrentCell => OutputSink.Current;

    public Action<string> Show(string html)
    {
        var shown = Displays.Show(new HtmlString(html), [OutputSink.Html]);
        return h => shown.Update(new HtmlString(h));
    }
}
