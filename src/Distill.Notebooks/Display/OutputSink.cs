using System.Text;
using Distill.Notebooks.Documents;
using Microsoft.DotNet.Interactive.Formatting;

namespace Distill.Notebooks.Display;

/// <summary>
/// Collects one cell's outputs in the order they happen: console writes (consecutive writes to the same stream merge
/// into one <c>stream</c> output, as in VS Code) interleaved with displays. The runner points <see cref="Current"/> at
/// the running cell; console writers and <c>display()</c> write through it.
/// </summary>
public sealed partial class OutputSink
{
    readonly Lock gate = new();
    readonly List<CellOutput> outputs;

    readonly Dictionary<StreamOutput, long> cut = [];

    public OutputSink(List<CellOutput> outputs, int maxChars = NotebookRunOptions.DefaultMaxOutputChars)
    {
        this.outputs = outputs;
        MaxChars = maxChars;
    }

    /// <summary>Most characters one output keeps (<see cref="NotebookRunOptions.MaxOutputChars"/>).</summary>
    public int MaxChars { get; }

    /// <summary>The culture the cell's Console.Out and Console.Error format numbers with (Console.WriteLine(0.5),
    /// WriteLine("{0}", x)): the cell thread's when the cell starts, as the kernel's writers, which are made for each
    /// cell, do. A cell that sets CultureInfo.CurrentCulture changes its own ToString and interpolation, not that.</summary>
    public IFormatProvider? Culture { get; set; }

    /// <summary>Most characters all of a cell's streams and displays keep together: many outputs each under
    /// <see cref="MaxChars"/> (a loop printing to stdout and stderr in turn, or displaying each step) would otherwise
    /// still fill the .ipynb and .html without bound.</summary>
    public long CellMaxChars => 4L * MaxChars;

    long kept, droppedChars, droppedOutputs;
    StreamOutput? cellNote;

    /// <summary>True when the cell is over <see cref="CellMaxChars"/>: the output is counted in the cell's note, not kept.</summary>
    bool OverCell(long chars)
    {
        if (chars == 0 && cellNote is null) return false;
        if (cellNote is null && kept + chars <= CellMaxChars)
        {
            kept += chars;
            return false;
        }
        droppedChars += chars;
        droppedOutputs++;
        if (cellNote is null) outputs.Add(cellNote = new StreamOutput("stderr"));
        cellNote.Text.Clear().Append($"\n… this cell's outputs reached {CellMaxChars:N0} characters (4 × distill run --max-output): " +
                                     $"{droppedOutputs:N0} more writes and displays ({droppedChars:N0} characters) not kept\n");
        return true;
    }

    /// <summary>
    /// Flows with the execution context, not process-wide: a thread or task a cell starts keeps writing to that cell's
    /// sink, never to whichever cell (or next notebook) happens to run when it writes. The cell thread sets it for the
    /// cell it runs.
    /// </summary>
    static readonly AsyncLocal<OutputSink?> current = new();

    /// <summary>The sink of the cell whose execution this code runs in (directly, or in a thread or task the cell
    /// started); null outside any cell (writes then go to the runner's own console).</summary>
    public static OutputSink? Current
    {
        get => current.Value;
        set => current.Value = value;
    }

    bool closed;

    /// <summary>After this, writes are dropped: an abandoned (timed-out) cell, or a thread a cell started, may still run
    /// in the background while the outputs are written to disk and after its notebook has ended.</summary>
    public void Close()
    {
        lock (gate) closed = true;
    }

    /// <summary>
    /// Runs <paramref name="read"/> while none of <paramref name="sinks"/> changes its outputs. A thread a cell started
    /// keeps writing into that cell while later cells run, and the notebook so far is saved before each cell: read
    /// meanwhile, a cell's output list threw "Collection was modified" and the run was lost. The gates are taken one
    /// after another; a write holds one gate only, so it cannot deadlock with this.
    /// </summary>
    public static void Holding(IReadOnlyList<OutputSink> sinks, Action read)
    {
        void Hold(int i)
        {
            if (i == sinks.Count) read();
            else lock (sinks[i].gate) Hold(i + 1);
        }
        Hold(0);
    }

    public void Write(string stream, string text)
    {
        if (text.Length == 0) return;
        lock (gate)
        {
            if (closed) return;
            var same = outputs.Count > 0 && outputs[^1] is StreamOutput last && last.Name == stream ? last : null;
            // A cut stream keeps nothing more, so there is no line of it to overwrite.
            text = Overwrite(same is not null && !cut.ContainsKey(same) ? same.Text : new StringBuilder(), text);
            // The cell's budget is charged what the stream keeps: a write beyond MaxChars is cut (and counted) by the
            // stream's own note, so only the part within MaxChars counts, and nothing once the stream is cut.
            var keeps = same is not null && cut.ContainsKey(same) ? 0 : Math.Min(text.Length, Math.Max(0, MaxChars - (same?.Text.Length ?? 0)));
            if (OverCell(keeps)) return;
            if (outputs.Count == 0 || outputs[^1] is not StreamOutput s || s.Name != stream)
                outputs.Add(s = new StreamOutput(stream));
            var room = MaxChars - s.Text.Length;
            if (text.Length <= room && !cut.ContainsKey(s)) { s.Text.Append(text); return; }
            // Over the cap: keep what fits, count the rest, and say so in one trailing line (rewritten as it grows).
            if (!cut.TryGetValue(s, out var dropped))
            {
                var keep = Whole(text, Math.Max(0, room));
                s.Text.Append(text.AsSpan(0, keep));
                dropped = 0;
                text = text[keep..];
            }
            else s.Text.Length -= CutNote(dropped).Length; // the note is always last
            cut[s] = dropped + text.Length;
            s.Text.Append(CutNote(cut[s]));
        }
    }

    /// <summary>
    /// nbconvert's rule for <c>\r</c> in a stream (<c>coalesce_streams</c>, which <c>jupyter nbconvert --execute</c> runs
    /// on every saved notebook): on each line, the text up to the last <c>\r</c> that has a character after it other
    /// than <c>\n</c> is dropped, so a <c>\r</c> progress bar keeps its final state and <c>\r\n</c> stays a newline.
    /// Applied as writes arrive, so the <c>--max-output</c> caps count what is kept, not the overwritten history.
    /// </summary>
    [System.Text.RegularExpressions.GeneratedRegex(@".*\r(?=[^\n])")]
    private static partial System.Text.RegularExpressions.Regex CarriageReturned();

    /// <summary>Applies <see cref="CarriageReturned"/> to the stream's open last line and <paramref name="text"/>: the
    /// text kept so far is collapsed already, so only that line can change. Removes the line from
    /// <paramref name="streamText"/> (and the cell's count) when <paramref name="text"/> overwrites it and returns what is
    /// left to append.</summary>
    string Overwrite(StringBuilder streamText, string text)
    {
        if (!text.Contains('\r', StringComparison.Ordinal) && (streamText.Length == 0 || streamText[^1] != '\r')) return text;
        var lineStart = streamText.Length;
        while (lineStart > 0 && streamText[lineStart - 1] != '\n') lineStart--;
        var line = streamText.ToString(lineStart, streamText.Length - lineStart);
        var collapsed = CarriageReturned().Replace(line + text, "");
        if (collapsed.StartsWith(line, StringComparison.Ordinal)) return collapsed[line.Length..];
        streamText.Length = lineStart;
        kept -= line.Length;
        return collapsed;
    }

    /// <summary>Called with each value the cell shows (its result, <c>display(x)</c>) before it is formatted: the runner's
    /// checks of what the kernel would show differently.</summary>
    public Action<object?>? Displaying { get; init; }

    public DisplayOutput Display(object? value, IReadOnlyList<string>? mimeTypes, bool isResult = false, int? executionCount = null)
    {
        Displaying?.Invoke(value);
        return Display(Format(value, mimeTypes), isResult, executionCount);
    }

    /// <summary>Shows data formatted already (MIME type → text).</summary>
    public DisplayOutput Display(IReadOnlyDictionary<string, string> formatted, bool isResult = false, int? executionCount = null)
    {
        var data = Cap(formatted, MaxChars);
        var output = new DisplayOutput(data, isResult, executionCount);
        lock (gate)
            if (!closed && !OverCell(data.Values.Sum(v => (long)v.Length))) outputs.Add(output);
        return output;
    }

    public void Add(CellOutput output)
    {
        lock (gate)
            if (!closed) outputs.Add(output);
    }

    /// <summary>Formats like the kernel: the type's preferred MIME types (text/html for most, text/plain for strings),
    /// with text/plain beside text/html so plain-text consumers get something readable. That text/plain is the runner's
    /// own addition (the kernel sends Jupyter text/html only), so when it throws (a ToString that throws) it is left out:
    /// the kernel shows such a value green, its HTML tree view naming the exception, and the runner failed the cell.</summary>
    public static IReadOnlyDictionary<string, string> Format(object? value, IReadOnlyList<string>? mimeTypes = null)
    {
        // The kernel shows null (a bare `null`, `return;`) as text/html, <pre>&lt;null&gt;</pre>, like any other value.
        if (value is null)
            return new Dictionary<string, string>
            {
                [Html] = Formatter.ToDisplayString((object?)null, Html).Replace("\r\n", "\n", StringComparison.Ordinal),
                [PlainText] = Formatter.NullString,
            };
        var mimes = mimeTypes is { Count: > 0 } ? mimeTypes.ToList() : Formatter.GetPreferredMimeTypesFor(value.GetType()).ToList();
        var addedPlain = mimeTypes is not { Count: > 0 } && mimes.Contains(Html) && !mimes.Contains(PlainText);
        var data = new Dictionary<string, string>();
        // The formatters' own templates' \r\n (the kernel's Windows build) as \n, as for every output here; a string is the
        // user's text, whose \r\n the kernel keeps (a CSV, an HTTP body).
        string Text(string m) => value is string s && m == PlainText ? Formatter.ToDisplayString(s, m) : Formatter.ToDisplayString(value, m).Replace("\r\n", "\n", StringComparison.Ordinal);
        foreach (var m in mimes) data[m] = Text(m);
        if (addedPlain)
        {
            try { data[PlainText] = Text(PlainText); }
            catch (Exception e) when (e is not OperationCanceledException) { }
        }
        return data;
    }

    public const string Html = "text/html";
    public const string PlainText = "text/plain";

    /// <summary><paramref name="n"/>, or one less when the first <paramref name="n"/> characters would end inside a
    /// surrogate pair (an emoji): cut there, the kept half is written as U+FFFD.</summary>
    static int Whole(string text, int n) => n > 0 && n < text.Length && char.IsHighSurrogate(text[n - 1]) ? n - 1 : n;

    static string CutNote(long chars) => $"\n… output cut here: {chars:N0} more characters not kept (distill run --max-output)\n";

    /// <summary>An error's value or one-line failure within <paramref name="maxChars"/>, cut as a stream is, saying so.</summary>
    public static string CapText(string text, int maxChars)
    {
        if (text.Length <= maxChars) return text;
        var keep = Whole(text, maxChars);
        return text[..keep] + CutNote(text.Length - keep);
    }

    /// <summary>An error's traceback within <paramref name="maxChars"/> characters in all: the lines that fit, the one that
    /// crosses the limit cut, then one line saying how much was left out.</summary>
    public static IReadOnlyList<string> CapLines(IReadOnlyList<string> lines, int maxChars)
    {
        var total = lines.Sum(l => (long)l.Length);
        if (total <= maxChars) return lines;
        var kept = new List<string>();
        long room = maxChars;
        foreach (var l in lines)
        {
            if (room <= 0) break;
            kept.Add(l.Length <= room ? l : l[..Whole(l, (int)room)]);
            room -= l.Length;
        }
        kept.Add(CutNote(total - maxChars).Trim());
        return kept;
    }

    /// <summary>Each MIME type's text within <paramref name="maxChars"/>. HTML over it is not cut (a cut in the middle of
    /// markup would break the page): dropped when the output has a text/plain form, which then shows in its place (in
    /// Jupyter, VS Code and the report, which showed only the note and hid the text kept beside it) with a line saying
    /// so; else replaced whole by the note.</summary>
    public static IReadOnlyDictionary<string, string> Cap(IReadOnlyDictionary<string, string> data, int maxChars)
    {
        if (data.Values.All(v => v.Length <= maxChars)) return data;
        var capped = data.ToDictionary(kv => kv.Key, kv => kv.Value.Length <= maxChars || kv.Key == Html ? kv.Value : CapText(kv.Value, maxChars));
        if (capped.TryGetValue(Html, out var html) && html.Length > maxChars)
        {
            if (capped.TryGetValue(PlainText, out var plain))
            {
                capped.Remove(Html);
                capped[PlainText] = plain.TrimEnd('\n') + $"\n… its HTML form ({html.Length:N0} characters) was over distill run --max-output and not kept; this is its text form\n";
            }
            else capped[Html] = $"<pre>{System.Net.WebUtility.HtmlEncode(CutNote(html.Length).Trim())}</pre>";
        }
        return capped;
    }
}

/// <summary>Console.Out / Console.Error replacement that forwards to the running cell, or to the runner's console
/// when no cell runs.</summary>
sealed class CellConsoleWriter(string stream, TextWriter fallback) : TextWriter
{
    static readonly Lock Gate = new();
    static TextWriter? installedOut, installedError;

    /// <summary>
    /// Puts the writers in place for the rest of the process, not just for one notebook: a thread a cell started can
    /// outlive its notebook, and it carries that notebook's (closed) sink, so its writes are dropped instead of reaching
    /// the runner's console between or after notebooks. The runner's own writes (no sink) pass through. Stdin reads
    /// as empty: a headless run has no one to type, and a cell waiting for a line would hang the run.
    /// </summary>
    public static void Install()
    {
        lock (Gate)
        {
            // Re-installed when someone (a test host) replaced them since.
            if (!ReferenceEquals(Console.Out, installedOut))
            {
                Console.SetOut(new CellConsoleWriter("stdout", Console.Out));
                installedOut = Console.Out;
            }
            if (!ReferenceEquals(Console.Error, installedError))
            {
                Console.SetError(new CellConsoleWriter("stderr", Console.Error));
                installedError = Console.Error;
            }
            Console.SetIn(TextReader.Null);
            // Console.Error is now the cell's stderr output, but Console.IsErrorRedirected still reads the process's stderr:
            // started from a terminal, the library's training progress line took that for a terminal and drew its \r
            // redraws into the cell. The kernel's stderr is a pipe, so it is off there.
            AppContext.SetSwitch(Distill.Training.TrainOptions.ProgressOffSwitch, true);
        }
    }

    /// <summary>Puts back the writers <see cref="Install"/> put in place when a cell replaced them
    /// (<c>Console.SetOut(new StringWriter())</c>, <c>TextWriter.Null</c>): the kernel redirects the console again for
    /// every cell, so a later cell's writes show there, and must here.</summary>
    public static void Restore()
    {
        lock (Gate)
        {
            // SetOut keeps an already synchronized writer as it is, so Console.Out is installedOut again.
            if (installedOut is not null && !ReferenceEquals(Console.Out, installedOut)) Console.SetOut(installedOut);
            if (installedError is not null && !ReferenceEquals(Console.Error, installedError)) Console.SetError(installedError);
        }
    }

    public override Encoding Encoding => Encoding.UTF8;
    public override IFormatProvider FormatProvider => OutputSink.Current?.Culture ?? base.FormatProvider;
    public override void Write(char value) => Write(value.ToString());
    public override void Write(string? value)
    {
        if (value is null) return;
        if (OutputSink.Current is { } sink) sink.Write(stream, value);
        else fallback.Write(value);
    }
    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));
    public override void WriteLine(string? value) => Write(value + "\n");
    public override void WriteLine() => Write("\n");
}
