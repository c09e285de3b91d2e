using Distill.Notebooks.Documents;
using Microsoft.AspNetCore.Html;

namespace Distill.Notebooks.Display;

/// <summary>A displayed value; <see cref="Update"/> replaces it in place (the executed notebook keeps the last value),
/// like the kernel's <c>DisplayedValue</c>.</summary>
public sealed class DisplayedValue
{
    readonly DisplayOutput output;
    readonly IReadOnlyList<string>? mimeTypes;
    readonly int maxChars;

    internal DisplayedValue(DisplayOutput output, IReadOnlyList<string>? mimeTypes, int maxChars)
    {
        this.output = output;
        this.mimeTypes = mimeTypes;
        this.maxChars = maxChars;
    }

    public void Update(object? value) => output.Data = OutputSink.Cap(OutputSink.Format(value, mimeTypes), maxChars);
}

/// <summary>
/// Members every cell sees unqualified, as the Polyglot C# kernel provides them: <c>display(x)</c>, <c>HTML("...")</c>.
/// Lowercase names on purpose: notebooks call them exactly so.
/// </summary>
#pragma warning disable IDE1006, CA1822 // kernel-compatible lowercase names; instance members so Roslyn exposes them as globals
public class NotebookGlobals
{
    public DisplayedValue display(object? value, params string[] mimeTypes) => Displays.Show(value, mimeTypes);

    public IHtmlContent HTML(string html) => new HtmlString(html);
}
#pragma warning restore IDE1006, CA1822

static class Displays
{
    public static DisplayedValue Show(object? value, string[] mimeTypes)
    {
        var sink = OutputSink.Current
            ?? throw new InvalidOperationException("display() was called outside a running notebook cell");
        var mimes = mimeTypes.Length > 0 ? mimeTypes : null;
        return new DisplayedValue(sink.Display(value, mimes), mimes, sink.MaxChars);
    }
}
