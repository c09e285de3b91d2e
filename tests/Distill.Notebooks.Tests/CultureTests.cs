using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Distill.Notebooks.Tests;

/// <summary>The user's locale (here German, where 0.5 prints as "0,5"): notebook cells see it, with ICU's cultures, as
/// in the .NET Interactive kernel; nothing distill itself parses or writes depends on it.</summary>
public class CultureTests
{
    static (int Exit, string Out, string Err) Run(string locale, params string[] args)
    {
        var psi = DistillProcess.Start(args);
        // LC_ALL outranks LANG in .NET as in glibc: set both so an LC_ALL in the test's own environment cannot win.
        psi.Environment["LANG"] = locale;
        psi.Environment["LC_ALL"] = locale;
        psi.Environment["DISTILL_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), $"distill {string.Join(' ', args)} hung");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Before, the CLI ran in invariant-globalization mode: ordinal sorting (A,B,a,b), string.Compare("a","B")
    /// = 31, no normalization, and CultureInfo("de-DE") threw "Only the invariant culture is supported".</summary>
    [Fact]
    public void Cells_get_the_kernels_cultures_and_the_users_locale()
    {
        using var dir = new TempDir("culture-cells");
        var nb = TestSupport.WriteNotebook(dir.Path, "c.ipynb",
            ("double x = 1.0;", ["parameters"]),
            ("Console.WriteLine(string.Join(\",\", new[] { \"b\", \"A\", \"a\", \"B\" }.OrderBy(s => s)));\n" +
             "Console.WriteLine(Math.Sign(string.Compare(\"a\", \"B\")));\n" +
             "Console.WriteLine(\"e\\u0301\".Normalize() == \"\\u00e9\");\n" +
             "Console.WriteLine(new System.Globalization.CultureInfo(\"fr-FR\").NumberFormat.NumberDecimalSeparator);\n" +
             "Console.WriteLine(System.Globalization.CultureInfo.CurrentCulture.Name);\n" +
             "Console.WriteLine(0.5.ToString());\n" +
             "Console.WriteLine(x == 0.5);", null));
        var outDir = Path.Combine(dir.Path, "out");
        var (exit, _, err) = Run("de_DE.UTF-8", "run", nb, "--out", outDir, "-p", "x=0.5", "--cell-timeout", "120.5");
        Assert.True(exit == 0, err);
        var printed = string.Concat(TestSupport.ReadJson(Path.Combine(outDir, "c.ipynb"))["cells"]!.AsArray()
            .SelectMany(c => c!["outputs"]?.AsArray() ?? []).Select(o => TestSupport.Text(o!["text"])));
        // -p x=0.5 is one half (read invariantly), whatever the locale, and the cell prints it the user's way.
        Assert.Equal("a,A,b,B\n-1\nTrue\n,\nde-DE\n0,5\nTrue\n", printed);
        // The manifest is JSON (numbers with a point) and the console's durations keep their point.
        Assert.NotNull(JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "c.manifest.json"))));
        Assert.DoesNotMatch(@"\d,\d", err);
    }

    /// <summary>Probed against the .net-csharp kernel under Jupyter: its console writers format numbers with the culture
    /// the cell started with (made for each cell), so a cell that sets the invariant culture under a German locale still
    /// prints Console.WriteLine(0.5) as "0,5", and its next cell, after DefaultThreadCurrentCulture, once more; the
    /// cell's own ToString and interpolation follow what it set. Here they followed it, green only here.</summary>
    [Fact]
    public void Console_writes_format_with_the_culture_the_cell_started_with_as_the_kernels_do()
    {
        using var dir = new TempDir("culture-writer");
        var nb = TestSupport.WriteNotebook(dir.Path, "w.ipynb",
            ("using System.Globalization;\nCultureInfo.CurrentCulture = CultureInfo.InvariantCulture;\n" +
             "Console.WriteLine(0.5);\nConsole.WriteLine(0.5.ToString());\nConsole.WriteLine($\"{0.5}\");\nConsole.WriteLine(\"{0}\", 0.5);\n" +
             "Console.Error.WriteLine(0.25);", null),
            ("CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;\nConsole.WriteLine(0.5);", null),
            ("Console.WriteLine(0.5); Console.WriteLine(0.5.ToString());", null));
        var outDir = Path.Combine(dir.Path, "out");
        var (exit, _, err) = Run("de_DE.UTF-8", "run", nb, "--out", outDir);
        Assert.True(exit == 0, err);
        var cells = TestSupport.ReadJson(Path.Combine(outDir, "w.ipynb"))["cells"]!.AsArray()
            .Select(c => string.Concat((c!["outputs"]?.AsArray() ?? []).Select(o => $"{o!["name"]}:{TestSupport.Text(o["text"])}"))).ToList();
        // What the kernel printed for these cells (Jupyter, LANG=de_DE.UTF-8, dotnet-interactive 1.0.712001).
        Assert.Equal(["stdout:0,5\n0.5\n0.5\n0,5\nstderr:0,25\n", "stdout:0,5\n", "stdout:0.5\n0.5\n"], cells);
    }

    /// <summary>A training's files under a comma-decimal locale are those of the invariant culture: the same columns,
    /// every number with a point, and the same values where the run is deterministic (all but the timings).</summary>
    [Fact]
    public void A_training_writes_the_same_files_under_a_comma_decimal_locale()
    {
        using var dir = new TempDir("culture-train");
        string[] Train(string outDir) => ["train", "--model", "mlp-32", "--train-size", "2000", "--test-size", "500", "--epochs", "1", "--seed", "3", "--out", outDir];
        var plain = Run("C.UTF-8", Train(Path.Combine(dir.Path, "c")));
        Assert.True(plain.Exit == 0, plain.Err);
        var german = Run("de_DE.UTF-8", Train(Path.Combine(dir.Path, "de")));
        Assert.True(german.Exit == 0, german.Err);

        string[][] Csv(string d) => [.. File.ReadAllLines(Path.Combine(dir.Path, d, "metrics.csv")).Select(l => l.Split(','))];
        var (c, de) = (Csv("c"), Csv("de"));
        Assert.Equal(c[0], de[0]);
        Assert.Equal(c.Length, de.Length);
        var timings = new[] { "seconds", "samples_per_s" };
        for (var row = 1; row < de.Length; row++)
        {
            Assert.Equal(de[0].Length, de[row].Length);
            for (var col = 0; col < de[0].Length; col++)
            {
                Assert.True(double.TryParse(de[row][col], NumberStyles.Float, CultureInfo.InvariantCulture, out _), $"{de[0][col]} = '{de[row][col]}'");
                if (!timings.Contains(de[0][col])) Assert.Equal(c[row][col], de[row][col]);
            }
        }
        // run.json: the run's settings as text (the optimizer's rates, the objective's weights), compared on resume.
        JsonObject Record(string d)
        {
            var r = TestSupport.ReadJson(Path.Combine(dir.Path, d, "run.json"));
            r.Remove("started");
            return r;
        }
        Assert.Equal(Record("c").ToJsonString(), Record("de").ToJsonString());
        Assert.Contains("lr=0.05", Record("de")["optimizer"]!.GetValue<string>(), StringComparison.Ordinal);
        // The console: the same text with every number in the same spelling (digits masked: timings differ).
        static string Shape(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\d+", "0");
        Assert.Equal(Shape(plain.Out + plain.Err), Shape(german.Out + german.Err));
    }
}
