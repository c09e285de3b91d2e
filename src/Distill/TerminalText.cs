using System.Text.RegularExpressions;

namespace Distill;

/// <summary>Text a notebook wrote (an exception's message, a cell's output, its HTML), made safe to show: on a page, or
/// on the terminal of whoever runs it, where an escape sequence could clear the screen, set the window title or forge a
/// hyperlink.</summary>
public static partial class TerminalText
{
    /// <summary>Terminal control sequences a cell's text may carry (a progress bar's colours, a hyperlink): CSI
    /// (<c>ESC [ ... final</c>), OSC (<c>ESC ] ... BEL</c> or <c>ESC \</c>, or cut short by the end of the text), the
    /// DCS/SOS/PM/APC strings (ended by <c>ESC \</c>), the nF escapes (<c>ESC ( B</c>, which `tput sgr0` writes: its B
    /// was left behind) and the other two-byte escapes. They are dropped and the text around
    /// them (a link's text, the coloured words) is kept.</summary>
    [GeneratedRegex(@"\x1B\[[0-?]*[ -/]*[@-~]|\x1B\][^\x07\x1B]*(?:\x07|\x1B\\|$)|\x1B[PX^_][^\x1B]*?\x1B\\|\x1B[ -/]+[0-~]|\x1B[ -~]?")]
    private static partial Regex Ansi();

    /// <summary>Control characters but tab, newline and carriage return: NUL, the rest of C0, DEL and C1 (whose 0x9B and
    /// 0x9D some terminals read as CSI and OSC). HTML does not allow them in text either: browsers show them as
    /// replacement boxes or drop them unpredictably.</summary>
    [GeneratedRegex(@"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]")]
    private static partial Regex Controls();

    /// <summary>The text without terminal sequences and control characters (<see cref="Ansi"/>, <see cref="Controls"/>):
    /// for any page or terminal line that shows what a notebook wrote.</summary>
    public static string Printable(string s) => Controls().Replace(Ansi().Replace(s, ""), "");

    /// <summary><see cref="Printable"/> text made one line, its own line breaks shown as ⏎: for a one-line message on the
    /// terminal, where a carriage return or line feed from the notebook (its kernel's name, an exception's message) could
    /// overwrite the line's start or print a forged line of its own beneath it.</summary>
    public static string Line(string s) => Printable(s.Trim()).ReplaceLineEndings(" ⏎ ");

    /// <summary><see cref="Line"/>, and past <paramref name="max"/> characters its middle left out, keeping its start (what
    /// failed, where) and its end (the fix): a 900 KB value in a spec, or an exception's 3 MB message, made one line of
    /// that size on the terminal.</summary>
    public static string ShortLine(string s, int max = 1000)
    {
        var line = Line(s);
        if (line.Length <= max) return line;
        int head = max / 2, tail = line.Length - max / 2;
        if (char.IsHighSurrogate(line[head - 1])) head--; // never half an emoji
        if (char.IsLowSurrogate(line[tail])) tail++;
        return $"{line[..head]} … ({NumberText.Count(tail - head, "character")} left out) … {line[tail..]}";
    }
}
