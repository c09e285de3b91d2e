using System.Text.Json.Nodes;
using Distill.Reporting;
using Microsoft.DotNet.Interactive.Formatting;
using GenericChart = Plotly.NET.GenericChart;

namespace Distill.Notebooks.Display;

/// <summary>
/// The runner's formatters: the library's (charts, DataFrames, tensors, exactly as the kernel shows them after
/// <c>Distill.Notebook.Start()</c>), plus Plotly.NET charts a user's own notebook draws (the runner's process has the
/// FSharp.Core Plotly.NET needs; the kernel does not).
/// </summary>
public static class NotebookFormatters
{
    /// <summary>Resets the formatting library (a previous notebook's registrations must not leak) and registers ours.</summary>
    public static void Register()
    {
        Formatter.ResetToDefault();
        Figure.ResetIds();
        Distill.Reporting.NotebookFormatters.Register();
        Formatter.Register<GenericChart>((chart, w) => w.Write(ToFigure(chart).ToHtml()), OutputSink.Html);
        Formatter.Register<GenericChart>((chart, w) => w.Write(ToFigure(chart).ToString()), OutputSink.PlainText);
    }

    /// <summary>A Plotly.NET chart as our <see cref="Figure"/>, so both kinds render through one path.</summary>
    public static Figure ToFigure(GenericChart chart)
    {
        var json = JsonNode.Parse(GenericChart.toFigureJson(chart))!.AsObject();
        var traces = json["data"]?.AsArray().Select(t => t!.DeepClone().AsObject()) ?? [];
        return new Figure(traces, json["layout"]?.DeepClone().AsObject());
    }
}
