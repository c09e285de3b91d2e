using System.Text;
using System.Text.Json;
using Microsoft.Data.Analysis;

namespace Distill.Reporting;

/// <summary>
/// One line of the reproduction table: our number beside the paper's, with an honest verdict.
/// <paramref name="Ours"/> and <paramref name="OursStd"/> are in the unit of <paramref name="Metric"/> (e.g. "test acc %").
/// </summary>
public sealed record ResultRow(
    string Paper,
    string Claim,
    string Setting,
    string Metric,
    double Ours,
    double OursStd,
    int Seeds,
    string PaperValue,
    string Verdict,
    string Budget,
    string? Warning = null)
{
    /// <summary>The verdict as tables show it: with the training warning behind the number, when there is one.</summary>
    [System.Text.Json.Serialization.JsonIgnore] // derived: the files keep Verdict and Warning apart
    public string VerdictText => Warning is null ? Verdict : $"{Verdict} (warning: {Warning})";
}

/// <summary>
/// Collects <see cref="ResultRow"/>s. A notebook calls <see cref="Record"/>; when it runs under <c>distill run</c> or
/// <c>distill reproduce</c>, the runner points $DISTILL_RESULTS at a JSON-lines file and the rows land there, so the
/// results table is built from what the notebooks actually printed, never typed by hand.
/// </summary>
public static class Results
{
    public const string FileVariable = "DISTILL_RESULTS";

    /// <summary>A row's numbers may be NaN or infinite (a diverged run's accuracy): written as "NaN", "Infinity", and
    /// read back, where the default options refused to write the row at all.</summary>
    public static readonly JsonSerializerOptions RowJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Writes the row; a run of this notebook that raised a training warning (a divergence) is attached to it,
    /// so a number from a diverged run never stands in the results table unmarked.</summary>
    public static ResultRow Record(ResultRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        // A null text (any string? in a notebook compiles here) was written as null, read back, and then failed every
        // table built from the rows (reproduce's results.md with a NullReferenceException).
        if (NullField(row) is { } field)
            throw new ArgumentException($"result '{row.Claim ?? row.Paper ?? "?"}': {field} is null; give a text (\"-\" when there is none).", nameof(row));
        // NaN stays accepted (a diverged run's spread); a negative spread or count is a caller's mistake in the table.
        if (row.OursStd < 0)
            throw new ArgumentException($"result '{row.Claim}': OursStd = {row.OursStd.ToString(System.Globalization.CultureInfo.InvariantCulture)} is negative; a standard deviation is 0 or more (NaN when unknown).", nameof(row));
        if (row.Seeds < 0)
            throw new ArgumentException($"result '{row.Claim}': Seeds = {row.Seeds} is negative; give the number of seeds behind the number.", nameof(row));
        if (row.Warning is null && Training.TrainingWarnings.Since() is { Count: > 0 } warnings)
            row = row with { Warning = string.Join("; ", warnings) };
        var path = Environment.GetEnvironmentVariable(FileVariable);
        if (!string.IsNullOrEmpty(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.AppendAllText(path, JsonSerializer.Serialize(row, RowJson) + "\n");
        }
        return row;
    }

    /// <summary>Reads a JSON-lines file written by <see cref="Record"/>; a malformed line is an error naming file and line.</summary>
    public static IReadOnlyList<ResultRow> Read(string path)
    {
        var rows = new List<ResultRow>();
        int n = 0;
        foreach (var line in File.ReadLines(path))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var row = JsonSerializer.Deserialize<ResultRow>(line, RowJson) ?? throw new JsonException("null row");
                rows.Add(NullField(row) is { } field ? throw new JsonException($"its {field} is missing or null") : row);
            }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{n}: not a result row ({e.Message}). Delete the file and re-run the notebook.", e); }
        }
        return rows;
    }

    /// <summary>The first of a row's texts that is null (the record's types say none may be), or null.</summary>
    static string? NullField(ResultRow r) =>
        new (string Name, string? Value)[] { ("Paper", r.Paper), ("Claim", r.Claim), ("Setting", r.Setting), ("Metric", r.Metric), ("PaperValue", r.PaperValue),
                                             ("Verdict", r.Verdict), ("Budget", r.Budget) }.FirstOrDefault(f => f.Value is null).Name;

    /// <summary>A Markdown table: paper, claim, setting, ours (mean ± std, seeds), paper, verdict.</summary>
    public static string ToMarkdown(IEnumerable<ResultRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| paper | claim | our setting | metric | ours (mean ± std, seeds) | paper | verdict |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"| {Cell(r.Paper)} | {Cell(r.Claim)} | {Cell(r.Setting)} | {Cell(r.Metric)} | {r.Ours:F2} ± {r.OursStd:F2} ({r.Seeds}) | {Cell(r.PaperValue)} | {Cell(r.VerdictText)} |");
        return sb.ToString();
    }

    /// <summary>The rows as a table for notebooks: claim, ours (mean ± std), seeds, paper, verdict.</summary>
    public static DataFrame ToDataFrame(IEnumerable<ResultRow> rows)
    {
        var list = rows.ToList();
        return new DataFrame(
            new StringDataFrameColumn("claim", list.Select(r => r.Claim)),
            new StringDataFrameColumn("metric", list.Select(r => r.Metric)),
            new StringDataFrameColumn("ours", list.Select(r => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{r.Ours:F2} ± {r.OursStd:F2}"))),
            new Int32DataFrameColumn("seeds", list.Select(r => r.Seeds)),
            new StringDataFrameColumn("paper", list.Select(r => r.PaperValue)),
            new StringDataFrameColumn("verdict", list.Select(r => r.VerdictText)));
    }

    /// <summary>A table cell's text as markdown shows it: a pipe ends the cell, and "acc &lt;90%" or List&lt;int&gt; read as an
    /// HTML tag and vanished when rendered; a line break ends the row; other control characters are named.</summary>
    static string Cell(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length);
        foreach (var c in s.Replace("\r\n", "\n", StringComparison.Ordinal))
            if (c is '\n' or '\r') sb.Append(' ');
            else if (char.IsControl(c)) sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"U+{(int)c:X4}");
            else if ("\\<>&|`".Contains(c, StringComparison.Ordinal)) sb.Append('\\').Append(c);
            else sb.Append(c);
        return sb.ToString();
    }
}
