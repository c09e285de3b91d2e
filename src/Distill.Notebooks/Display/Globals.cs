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
/// Members every cell sees unqualified, as the Polyglot C# kernel provides them: <c>display(x)</c>, <c>HTML("...")</c>,
/// <c>CSS("...")</c>, <c>Javascript("...")</c>. Lowercase names on purpose: notebooks call them exactly so.
/// </summary>
#pragma warning disable IDE1006, CA1822 // kernel-compatible lowercase names; instance members so Roslyn exposes them as globals
public class NotebookGlobals
{
    public DisplayedValue display(object? value, params string[] mimeTypes) => Displays.Show(value, mimeTypes);

    public IHtmlContent HTML(string html) => new HtmlString(html);

    /// <summary>As the kernel's: a script that adds the style sheet to the page, shown like <see cref="Javascript"/>
    /// (the same text, with \n where the kernel's Windows build writes \r\n, as for every output here).</summary>
    public void CSS(string content) => Javascript($$"""
        var css = `{{content}}`,
        head = document.head || document.getElementsByTagName('head')[0],
        style = document.createElement('style');

        head.appendChild(style);

        style.type = 'text/css';
        if (style.styleSheet) {
          style.styleSheet.cssText = css;
        } else {
          style.appendChild(document.createTextNode(css));
        }
        """);

    /// <summary>As the kernel's: a display of the script, as text/html only and as written (not escaped); void, so a
    /// cell ending in it shows no value.</summary>
    public void Javascript(string scriptContent) =>
        Displays.ShowAs($"<script type=\"text/javascript\">{scriptContent}</script>", [OutputSink.Html]);
}
#pragma warning restore IDE1006, CA1822

static class Displays
{
    static OutputSink Sink => OutputSink.Current
        ?? throw new InvalidOperationException("display() was called outside a running notebook cell");

    public static DisplayedValue Show(object? value, string[] mimeTypes)
    {
        var sink = Sink;
        var mimes = mimeTypes.Length > 0 ? mimeTypes : null;
        return new DisplayedValue(sink.Display(value, mimes), mimes, sink.MaxChars);
    }

    /// <summary>Shows <paramref name="content"/> as it is under each MIME type, unformatted, as the kernel's
    /// <c>DisplayAs</c>; an <c>Update</c> formats its value for those types.</summary>
    public static DisplayedValue ShowAs(string content, string[] mimeTypes)
    {
        var sink = Sink;
        return new DisplayedValue(sink.Display(mimeTypes.Distinct().ToDictionary(m => m, _ => content)), mimeTypes, sink.MaxChars);
    }
}
