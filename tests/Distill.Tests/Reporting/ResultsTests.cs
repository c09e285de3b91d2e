using Distill.Reporting;

namespace Distill.Tests.Reporting;

[Collection("environment")] // sets a process-wide environment variable
public class ResultsTests
{
    static ResultRow Row(double ours) => new("Hinton 2015", "KD helps a small student", "FMNIST 2k", "test acc %", ours, 0.1, 3, "146 → 74 errors", "reproduced", "smoke");

    /// <summary>A diverged run's number is NaN: the row threw ("cannot be written as valid JSON") and was lost.</summary>
    [Fact]
    public void A_row_with_a_nan_or_infinite_number_is_recorded_and_read_back()
    {
        using var dir = new TempDir("results");
        var file = dir.File("results.jsonl");
        Environment.SetEnvironmentVariable(Results.FileVariable, file);
        try { Results.Record(Row(double.NaN) with { OursStd = double.PositiveInfinity }); }
        finally { Environment.SetEnvironmentVariable(Results.FileVariable, null); }
        var row = Assert.Single(Results.Read(file));
        Assert.True(double.IsNaN(row.Ours));
        Assert.Equal(double.PositiveInfinity, row.OursStd);
    }

    /// <summary>A negative spread or seed count was written into the results table as given.</summary>
    [Fact]
    public void A_negative_std_or_seed_count_is_refused_and_nan_is_not()
    {
        Assert.Contains("OursStd = -0.5 is negative", Assert.Throws<ArgumentException>(() => Results.Record(Row(80) with { OursStd = -0.5 })).Message);
        Assert.Contains("Seeds = -1 is negative", Assert.Throws<ArgumentException>(() => Results.Record(Row(80) with { Seeds = -1 })).Message);
        Assert.Equal("row", Assert.Throws<ArgumentNullException>(() => Results.Record(null!)).ParamName);
        Assert.True(double.IsNaN(Results.Record(Row(80) with { OursStd = double.NaN }).OursStd));
        // A null text (a string? variable in a notebook) was written, read back, and broke every table built from it.
        Assert.EndsWith("Claim is null; give a text (\"-\" when there is none).", Assert.Throws<ArgumentException>(() => Results.Record(Row(80) with { Claim = null! })).Message.Split(" (Parameter")[0], StringComparison.Ordinal);
        Assert.Contains("Budget is null", Assert.Throws<ArgumentException>(() => Results.Record(Row(80) with { Budget = null! })).Message, StringComparison.Ordinal);
        using var dir = new TempDir("results-null");
        var file = dir.File("results.jsonl");
        File.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(Row(80) with { Verdict = null! }, Results.RowJson) + "\n");
        Assert.Equal($"{file}:1: not a result row (its Verdict is missing or null). Delete the file and re-run the notebook.", Assert.Throws<InvalidDataException>(() => Results.Read(file)).Message);
    }

    /// <summary>The table's numbers are invariant, as the records are: under a comma-decimal culture it showed "84,50 ± 0,10".</summary>
    [Fact]
    public void Tables_spell_numbers_the_same_under_any_culture()
    {
        UnderCommaDecimals(() =>
        {
            Assert.Equal("84.50 ± 0.10", Results.ToDataFrame([Row(84.5)]).Columns["ours"][0]);
            Assert.Equal("80.00 ± 1.41", new Distill.Training.RunSummary("kd", 2, 80, Math.Sqrt(2), 79, 1, 10).Best);
        });
    }

    /// <summary>Runs <paramref name="check"/> under a culture that writes decimals with a comma (a kernel under de_DE).</summary>
    static void UnderCommaDecimals(Action check)
    {
        var comma = (System.Globalization.CultureInfo)System.Globalization.CultureInfo.InvariantCulture.Clone();
        comma.NumberFormat.NumberDecimalSeparator = ",";
        var callers = System.Globalization.CultureInfo.CurrentCulture;
        System.Globalization.CultureInfo.CurrentCulture = comma;
        try { check(); }
        finally { System.Globalization.CultureInfo.CurrentCulture = callers; }
    }

    [Fact]
    public void Record_appends_rows_to_the_file_named_by_the_variable_and_Read_returns_them()
    {
        using var dir = new TempDir("results");
        var file = Path.Combine(dir.Path, "r", "results.jsonl");
        Environment.SetEnvironmentVariable(Results.FileVariable, file);
        try
        {
            Results.Record(Row(84.5));
            Results.Record(Row(85.25) with { Claim = "a | b", Setting = "acc <90% & List<int>\nnext\u0000", Paper = "<script>x</script>" });
        }
        finally { Environment.SetEnvironmentVariable(Results.FileVariable, null); }
        var rows = Results.Read(file);
        Assert.Equal([84.5, 85.25], rows.Select(r => r.Ours));
        var md = Results.ToMarkdown(rows);
        Assert.Contains("| 85.25 ± 0.10 (3) |", md);
        Assert.Contains("a \\| b", md);
        // Text that reads as HTML vanished when the table was rendered; a line break ended the row.
        Assert.Contains("| acc \\<90% \\& List\\<int\\> nextU+0000 |", md);
        Assert.Contains("| \\<script\\>x\\</script\\> |", md);
        Assert.Equal(4, md.Trim().Split('\n').Length);
    }

    /// <summary>results.md is a file: under a kernel's comma-decimal locale it said "85,25 ± 0,10"; now as everywhere.</summary>
    [Fact]
    public void The_markdown_table_does_not_follow_the_current_culture()
    {
        UnderCommaDecimals(() => Assert.Contains("| 85.25 ± 0.10 (3) |", Results.ToMarkdown([Row(85.25)]), StringComparison.Ordinal));
    }

    [Fact]
    public void A_corrupt_results_file_names_file_and_line()
    {
        using var dir = new TempDir("results");
        var file = dir.File("results.jsonl");
        File.WriteAllText(file, "{\"Paper\":\"x\"}\n{not json\n");
        var e = Assert.Throws<InvalidDataException>(() => Results.Read(file));
        Assert.Contains($"{file}:", e.Message);
    }
}
