using System.Net;
using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Html;

namespace Distill.Reporting;

/// <summary>Where a notebook shows an output that updates in place: the .NET kernel's display (found by
/// <see cref="Notebook.Start"/>) or <c>distill run</c>'s.</summary>
public interface ILiveOutput
{
    /// <summary>The running cell, by identity only: a new cell gets a new display. Null outside a cell.</summary>
    object? CurrentCell { get; }

    /// <summary>Shows <paramref name="html"/> in the running cell; the returned action replaces it.</summary>
    Action<string> Show(string html);
}

/// <summary>
/// A recipe's per-epoch lines as one output per cell, updated in place as training goes (what a notebook user expects
/// from a progress display), instead of a growing stream of console lines. Without a notebook host, or outside a cell,
/// lines go to the fallback writer.
/// </summary>
public sealed class LiveLog(ILiveOutput host, TextWriter fallback) : TextWriter
{
    readonly Lock gate = new();
    readonly List<string> lines = [];
    readonly StringBuilder partial = new();
    object? cell;
    Action<string>? update;

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (gate)
        {
            if (value == '\n') { Line(partial.ToString()); partial.Clear(); }
            else if (value != '\r') partial.Append(value);
        }
    }

    public override void Write(string? value)
    {
        if (value is null) return;
        foreach (var c in value) Write(c);
    }

    public override void WriteLine(string? value) => Write(value + "\n");

    /// <summary>Shows a pending partial line (text written without a newline): it was kept until the next '\n', so a
    /// Flush or Dispose lost it, where any TextWriter shows what it was given.</summary>
    public override void Flush()
    {
        lock (gate)
        {
            if (partial.Length == 0) return;
            Line(partial.ToString());
            partial.Clear();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Flush();
        base.Dispose(disposing);
    }

    void Line(string line)
    {
        var current = host.CurrentCell;
        if (current is null) { fallback.WriteLine(line); return; }
        if (!ReferenceEquals(current, cell))
        {
            cell = current;
            lines.Clear();
            update = null;
        }
        lines.Add(line);
        var html = $"<pre class=\"distill-log\">{WebUtility.HtmlEncode(string.Join("\n", lines))}</pre>";
        if (update is null) update = host.Show(html);
        else update(html);
    }
}

/// <summary>
/// The .NET Interactive kernel's display, reached by reflection: the library must not reference the kernel's assembly
/// (it is not there in <c>distill run</c>, the CLI or tests). The members used are public API of the last kernel
/// (1.0.712001, deprecated and frozen): <c>KernelInvocationContext.Current</c>,
/// <c>KernelInvocationContextExtensions.Display(context, value, mimeTypes)</c> and <c>DisplayedValue.Update(value)</c>.
/// </summary>
sealed class KernelLiveOutput : ILiveOutput
{
    readonly PropertyInfo current;
    readonly MethodInfo display;

    KernelLiveOutput(PropertyInfo current, MethodInfo display)
    {
        this.current = current;
        this.display = display;
    }

    /// <summary>Null when this process is not the kernel.</summary>
    public static KernelLiveOutput? TryCreate()
    {
        var kernel = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "Microsoft.DotNet.Interactive");
        var context = kernel?.GetType("Microsoft.DotNet.Interactive.KernelInvocationContext");
        var current = context?.GetProperty("Current", BindingFlags.Public | BindingFlags.Static);
        var display = kernel?.GetType("Microsoft.DotNet.Interactive.KernelInvocationContextExtensions")
            ?.GetMethod("Display", BindingFlags.Public | BindingFlags.Static, [context!, typeof(object), typeof(string[])]);
        return current is null || display is null ? null : new KernelLiveOutput(current, display);
    }

    public object? CurrentCell => current.GetValue(null);

    public Action<string> Show(string html)
    {
        var shown = display.Invoke(null, [CurrentCell, new HtmlString(html), new[] { "text/html" }])!;
        var updateMethod = shown.GetType().GetMethod("Update", [typeof(object)])!;
        return h => updateMethod.Invoke(shown, [new HtmlString(h)]);
    }
}
