using System.Globalization;

namespace Distill;

/// <summary>Numbers as text: settings given as text (grid values, method parameters) in one spelling, and counts in
/// words that agree with them.</summary>
public static class NumberText
{
    /// <summary>Run labels, run records and cache keys compare numbers as text, so 0.80, 8e-1 and 0.8, or 1, 1.0 and 1e0,
    /// must come out the same: <paramref name="text"/> as the shortest round-trip spelling of its number (invariant culture), or the
    /// text unchanged when it is not a number. −0 is 0 (alpha=-0 was another run than alpha=0).</summary>
    public static string Canonical(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? (x + 0.0).ToString("R", CultureInfo.InvariantCulture) : text;

    /// <summary><paramref name="x"/> for a message or label: at most six decimals, no trailing zeros, invariant culture
    /// (0.1, 5e-4 as 0.0005).</summary>
    public static string Short(double x) =>
        x.ToString("0.######", CultureInfo.InvariantCulture) is var text && (x == 0 || text is not ("0" or "-0"))
            ? text
            // A value too small for six decimals is not zero: a message refusing alpha = -1e-9 read "alpha = -0".
            : x.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>Whether <paramref name="text"/> is a number other than zero that parses as 0 (1e-400, below the smallest
    /// double): read as 0 it switched a term off (dkd beta=1e-400) where 1e-320 is refused as beyond float32.</summary>
    public static bool Underflows(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x == 0
        && text.TakeWhile(c => c is not ('e' or 'E')).Any(c => c is >= '1' and <= '9');

    /// <summary>"1 thread", "2 threads", "60,001 images": <paramref name="count"/> in the invariant thousands format every
    /// message uses, and its noun (a regular plural), as a user reads it.</summary>
    public static string Count(long count, string noun) =>
        string.Create(CultureInfo.InvariantCulture, $"{count:N0} {noun}{(count == 1 ? "" : "s")}");
}
