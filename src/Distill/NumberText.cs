using System.Globalization;

namespace Distill;

/// <summary>Numbers in settings given as text (grid values, method parameters) in one spelling: run labels, run records
/// and cache keys compare them as text, so 0.80, 8e-1 and 0.8, or 1, 1.0 and 1e0, must come out the same.</summary>
static class NumberText
{
    /// <summary><paramref name="text"/> as the shortest round-trip spelling of its number (invariant culture), or the
    /// text unchanged when it is not a number.</summary>
    public static string Canonical(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x.ToString("R", CultureInfo.InvariantCulture) : text;
}
