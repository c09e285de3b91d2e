using System.Globalization;
using System.Text;

namespace Distill.Reporting;

/// <summary>Text from outside (a notebook's file name, a spec's name and grid values, a run's error) as literal
/// Markdown: raw, `&lt;img src=x onerror=...&gt;.ipynb` was live HTML in reproduce's results.md, and a sweep's
/// `[click](javascript:...)` layer name or `# Heading` after a line break became a link and a heading in collect's
/// results.html.</summary>
public static class MarkdownText
{
    /// <summary>Markdown- and HTML-significant characters backslash-escaped (CommonMark reads "\&lt;" as a literal
    /// "&lt;"); a control character, which no escape shows, written as its code point (U+000A), so a line break cannot
    /// end a list item or start a heading.</summary>
    public static string Literal(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            if (char.IsControl(c)) sb.Append(CultureInfo.InvariantCulture, $"U+{(int)c:X4}");
            else if ("\\<>&|`*_[]#!".Contains(c, StringComparison.Ordinal)) sb.Append('\\').Append(c);
            else sb.Append(c);
        }
        return sb.ToString();
    }
}
