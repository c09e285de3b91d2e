using System.Text.Json.Nodes;
using Distill.Notebooks.Execution;

namespace Distill.Notebooks.Tests;

/// <summary>-p values as papermill injects them: after the parameters cell that declares them, typed by their default,
/// refused before anything runs when they cannot fit.</summary>
public class ParameterTests
{
    static List<JsonNode> Cells(NotebookRunResult r) => TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray().Select(c => c!).ToList();

    static bool Injected(JsonNode cell) => cell["metadata"]!["tags"]?.AsArray().Any(t => t!.GetValue<string>() == ParameterInjector.InjectedTag) == true;

    static NotebookRunResult Run(string nb, string outDir, params (string Name, string Value)[] values) =>
        TestSupport.Run(nb, outDir, new NotebookRunOptions { Parameters = [.. values.Select(v => new KeyValuePair<string, string>(v.Name, v.Value))] });

    /// <summary>The runner's log for a notebook of <paramref name="cells"/> run with <paramref name="values"/>, which
    /// must succeed (an undeclared value is injected anyway, with a warning).</summary>
    static string WarningsOf(string dirName, (string Source, string[]? Tags)[] cells, params KeyValuePair<string, string>[] values)
    {
        using var dir = new TempDir(dirName);
        var log = new StringWriter();
        var r = TestSupport.Run(TestSupport.WriteNotebook(dir.Path, "typo.ipynb", cells), Path.Combine(dir.Path, "out"), new NotebookRunOptions { Parameters = values, Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        return log.ToString();
    }

    /// <summary>-p epoch=5 beside a declared `epochs` ran with the default epochs and a warning that did not say why;
    /// injected anyway as documented (papermill's warning), with the declared name it is close to.</summary>
    [Fact]
    public void An_undeclared_parameter_close_to_a_declared_one_is_named_in_the_warning()
    {
        var log = WarningsOf("params-typo", [("int epochs = 3;\nstring budget = \"quick\";", ["parameters"]), ("Console.WriteLine(epochs);", null)], new("epoch", "5"), new("Budget", "smoke"));
        Assert.Contains("parameter 'epoch' is not declared in the parameters cell (epochs, budget); injecting it after cell 1 anyway. Did you mean -p epochs=5?", log, StringComparison.Ordinal);
        Assert.Contains("Did you mean -p budget=smoke?", log, StringComparison.Ordinal);
    }

    /// <summary>reproduce -p seeds=0,1 (for the notebooks that declare seeds) was offered to 00-data as "-p seed=0,1",
    /// which its int seed refuses: a name is suggested only when the value fits its declared type.</summary>
    [Fact]
    public void A_close_name_whose_type_refuses_the_value_is_not_suggested()
    {
        var log = WarningsOf("params-typo-type", [("var seed = 0;\nstring seedText = \"0\";", ["parameters"])], new("seeds", "0,1"), new("seedz", "7"));
        Assert.Contains("parameter 'seeds' is not declared in the parameters cell (seed, seedText); injecting it after cell 1 anyway\n", log.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("Did you mean -p seed=7?", log, StringComparison.Ordinal);
    }

    /// <summary>The suggestion repeated the user's value raw: a line break in it printed a line of its own in the log.</summary>
    [Fact]
    public void The_suggestion_shows_the_value_on_one_line()
    {
        var log = WarningsOf("params-typo-line", [("string budget = \"quick\";", ["parameters"])], new KeyValuePair<string, string>("Budget", "smoke\nerror: forged"));
        Assert.Contains("Did you mean -p budget=smoke ⏎ error: forged?", log, StringComparison.Ordinal);
        Assert.DoesNotContain("\nerror: forged", log, StringComparison.Ordinal);
    }

    /// <summary>A parameters cell that deconstructs (<c>var (lr, epochs) = (0.5, 3);</c>) declares both names: -p lr=...
    /// was warned of as "not declared", though it set the value.</summary>
    [Fact]
    public void Names_a_deconstruction_declares_are_parameters()
    {
        using var dir = new TempDir("params-deconstruct");
        var nb = TestSupport.WriteNotebook(dir.Path, "d.ipynb",
            ("var (lr, epochs) = (0.5, 3);\n(double momentum, var name) = (0.9, \"a\");", ["parameters"]),
            ("Console.WriteLine($\"{lr} {epochs} {momentum} {name}\");", null));
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"),
            new NotebookRunOptions { Parameters = [new("lr", "0.25"), new("epochs", "7"), new("name", "b")], Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.DoesNotContain("not declared", log.ToString(), StringComparison.Ordinal);
        Assert.Equal("0.25 7 0.9 b\n", TestSupport.Text(Cells(r)[2]["outputs"]![0]!["text"]));
    }

    [Fact]
    public void Each_parameters_cell_gets_the_values_it_declares_injected_right_after_it()
    {
        using var dir = new TempDir("params-two");
        var nb = TestSupport.WriteNotebook(dir.Path, "two.ipynb",
            ("int a = 1;", ["parameters"]),
            ("Console.WriteLine(a);", null),
            ("int b = 2;", ["parameters"]),
            ("Console.WriteLine($\"{a} {b} {c}\");", null));
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"),
            new NotebookRunOptions { Parameters = [new("a", "5"), new("b", "7"), new("c", "9")], Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var cells = Cells(r);
        Assert.Equal([false, true, false, false, true, false], cells.Select(Injected));
        // c is declared nowhere: it goes with the first parameters cell's values, with a warning; b is not warned about.
        Assert.Equal("int a = 5;\nint c = 9;\n", TestSupport.Text(cells[1]["source"]).Split('\n', 2)[1]);
        Assert.Equal("int b = 7;\n", TestSupport.Text(cells[4]["source"]).Split('\n', 2)[1]);
        Assert.Equal("5\n", TestSupport.Text(cells[2]["outputs"]![0]!["text"]));
        Assert.Equal("5 7 9\n", TestSupport.Text(cells[5]["outputs"]![0]!["text"]));
        Assert.Equal("7", r.Parameters["b"]);
        Assert.Contains("parameter 'c' is not declared in any parameters cell (a, b); injecting it after cell 1 anyway", log.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("'b' is not declared", log.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Did you mean", log.ToString(), StringComparison.Ordinal); // c is near no declared name
        // The second cell's declared type is checked before anything runs, as the first's.
        var e = Assert.Throws<ParameterException>(() => Run(nb, Path.Combine(dir.Path, "bad"), ("b", "abc")));
        Assert.Contains("-p b=abc: the notebook's default for 'b' is int, and 'abc' is not an int", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "bad", "two.ipynb")));
    }

    /// <summary>`--budget smoke` on a notebook holding an earlier run's injected cell replaced it, as papermill does, and
    /// its seed went back to the default without a word.</summary>
    [Fact]
    public void Replacing_an_earlier_injected_cell_names_the_values_it_drops()
    {
        using var dir = new TempDir("params-replaced");
        var nb = TestSupport.WriteNotebook(dir.Path, "again.ipynb",
            ("var budget = \"quick\";\nint seed = 0;\nvar seeds = \"\";", ["parameters"]),
            ("budget = \"full\"; seed = 3; seeds = \"1,2\";", [ParameterInjector.InjectedTag]),
            ("Console.WriteLine($\"{budget} {seed} {seeds}\");", null));
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Budget = "smoke", Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("smoke 0 \n", TestSupport.Text(Cells(r)[^1]["outputs"]![0]!["text"]));
        Assert.Contains($"  warning: {nb}: this run's values replace its injected-parameters cell, as papermill does, so seed = 3, seeds = \"1,2\" (an earlier run's) are dropped " +
                        "for the parameters cell's defaults; pass them again with -p to keep them", log.ToString(), StringComparison.Ordinal);
        var quiet = new StringWriter();
        TestSupport.Run(nb, Path.Combine(dir.Path, "all"), new NotebookRunOptions { Budget = "smoke", Parameters = [new("seed", "3"), new("seeds", "1,2")], Log = quiet });
        Assert.DoesNotContain("replace its injected-parameters cell", quiet.ToString(), StringComparison.Ordinal);
    }

    /// <summary>A type only running the parameters cell tells (here a List from a call) is checked after it ran, and a
    /// value for one -p cannot set is that injected cell's error, naming the type as C# writes it, not its CLR name.</summary>
    [Fact]
    public void A_type_known_once_the_cell_ran_is_named_in_CSharp_when_it_cannot_be_set()
    {
        using var dir = new TempDir("params-runtime-type");
        var nb = TestSupport.WriteNotebook(dir.Path, "runtime.ipynb",
            ("var seeds = Enumerable.Range(0, 2).ToList();\nvar when = DateTime.Now;", ["parameters"]), ("Console.WriteLine(seeds.Count);", null));
        foreach (var (name, type) in new[] { ("seeds", "List<int>"), ("when", "DateTime") })
        {
            var r = Run(nb, Path.Combine(dir.Path, name), (name, "1"));
            var failure = Assert.Single(r.Failures);
            Assert.Equal("injected-parameters cell", failure.Cell);
            // Not "/tmp/.../runtime.ipynb: -p ...": the failure line names the notebook already.
            Assert.StartsWith($"-p {name}=1: the notebook's default for '{name}' is {type}; -p supports string, bool, numbers and enums", failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("`", failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("System.", failure.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>nint, nuint and dynamic are names to the parser: they went unknown, the cells ran, and the injected cell
    /// failed naming IntPtr, UIntPtr or object. Refused before anything runs, named as written, as object is.</summary>
    [Fact]
    public void Nint_nuint_and_dynamic_parameters_are_refused_before_anything_runs()
    {
        using var dir = new TempDir("params-nint");
        var nb = TestSupport.WriteNotebook(dir.Path, "nint.ipynb", ("nint ni = 1;\nnuint nu = 1;\ndynamic dy = 1;", ["parameters"]),
            ("System.IO.File.WriteAllText(\"ran.txt\", \"ran\");", null));
        foreach (var (name, type) in new[] { ("ni", "nint"), ("nu", "nuint"), ("dy", "dynamic") })
        {
            var e = Assert.Throws<ParameterException>(() => Run(nb, Path.Combine(dir.Path, name), (name, "5")));
            Assert.StartsWith($"{nb}: -p {name}=5: the notebook's default for '{name}' is {type}; -p supports string, bool, numbers and enums", e.Message, StringComparison.Ordinal);
        }
        Assert.False(File.Exists(Path.Combine(dir.Path, "ran.txt")));
    }

    /// <summary>`--budget smoke` against `int budget = 1;` was reported as "-p budget=smoke: ...", an option the user had
    /// not typed. A value's error names the option it came from, before anything runs and once the cell ran alike.</summary>
    [Fact]
    public void A_budget_that_does_not_fit_is_named_as_the_budget_option_the_user_passed()
    {
        using var dir = new TempDir("params-budget");
        var nb = TestSupport.WriteNotebook(dir.Path, "budint.ipynb", ("int budget = 1;", ["parameters"]), ("Console.WriteLine(budget);", null));
        var e = Assert.Throws<ParameterException>(() => TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Budget = "smoke" }));
        Assert.Equal($"{nb}: --budget smoke: the notebook's default for 'budget' is int, and 'smoke' is not an int; pass a whole number like 3", e.Message);
        e = Assert.Throws<ParameterException>(() => Run(nb, Path.Combine(dir.Path, "out"), ("budget", "smoke")));
        Assert.StartsWith($"{nb}: -p budget=smoke: ", e.Message, StringComparison.Ordinal);

        var runtime = TestSupport.WriteNotebook(dir.Path, "budtime.ipynb", ("var budget = DateTime.Now;", ["parameters"]));
        var r = TestSupport.Run(runtime, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Budget = "quick" });
        Assert.StartsWith("--budget quick: the notebook's default for 'budget' is DateTime", Assert.Single(r.Failures).Message, StringComparison.Ordinal);
    }

    /// <summary>-p class=5 would inject `int class = 5;`, which does not compile: refused before anything runs, unless the
    /// parameters cell declares @class, which then gets the value.</summary>
    [Fact]
    public void A_keyword_as_a_name_is_refused_unless_the_parameters_cell_declares_it_verbatim()
    {
        using var dir = new TempDir("params-keyword");
        var plain = TestSupport.WriteNotebook(dir.Path, "plain.ipynb", ("int epochs = 1;", ["parameters"]), ("System.IO.File.WriteAllText(\"ran.txt\", \"ran\");", null));
        var e = Assert.Throws<ParameterException>(() => Run(plain, Path.Combine(dir.Path, "plain"), ("class", "5")));
        Assert.Equal($"{plain}: -p class=5: 'class' is a C# keyword, so no parameter has that name unless the parameters cell declares it as @class; " +
                     "declare @class there, or pass another name", e.Message);
        Assert.False(File.Exists(Path.Combine(dir.Path, "ran.txt")));

        var verbatim = TestSupport.WriteNotebook(dir.Path, "verbatim.ipynb", ("int @class = 1;\nvar @event = F();\nstring F() => \"x\";", ["parameters"]), ("Console.WriteLine($\"{@class} {@event}\");", null));
        var r = Run(verbatim, Path.Combine(dir.Path, "verbatim"), ("class", "5"), ("event", "y"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var cells = Cells(r);
        Assert.Equal("int @class = 5;\nstring @event = \"y\";\n", TestSupport.Text(cells[1]["source"]).Split('\n', 2)[1]);
        Assert.Equal("5 y\n", TestSupport.Text(cells[2]["outputs"]![0]!["text"]));
        Assert.Equal("5", r.Parameters["class"]);
    }

    /// <summary>A list default was recorded (manifest, report header) as its type's name, "System.Int32[]".</summary>
    [Fact]
    public void A_list_parameter_is_recorded_by_its_items()
    {
        using var dir = new TempDir("params-list");
        var nb = TestSupport.WriteNotebook(dir.Path, "list.ipynb", ("var seeds = new[] { 0, 1 };\nvar names = new List<string> { \"a\", \"b\" };\nvar rates = new[] { 0.5, 1e-3 };", ["parameters"]));
        var r = Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal(("[0, 1]", "[a, b]", "[0.5, 0.001]"), (r.Parameters["seeds"], r.Parameters["names"], r.Parameters["rates"]));
    }

    /// <summary>var defaults of unsigned literals (1u, 1UL, and 3000000000, which C# reads as a uint) were untyped: -p u=-1
    /// passed the check before the run and failed in the injected cell.</summary>
    [Fact]
    public void Unsigned_literal_defaults_are_typed_before_the_run()
    {
        var types = ParameterInjector.DeclaredTypes("var u = 1u;\nvar ul = 1UL;\nvar big = 3000000000;\nvar l = 1L;");
        Assert.Equal([typeof(uint), typeof(ulong), typeof(uint), typeof(long)], new[] { "u", "ul", "big", "l" }.Select(n => types[n].Type));
        string Source(string name, string value) => ParameterInjector.Source(new Dictionary<string, string> { [name] = value }, n => types.GetValueOrDefault(n), "nb.ipynb");
        Assert.Contains("the notebook's default for 'u' is uint, and '-1' is not in range (a uint is 0 to 4294967295)", Assert.Throws<ParameterException>(() => Source("u", "-1")).Message, StringComparison.Ordinal);
        Assert.Contains("is not in range (a ulong is 0 to 18446744073709551615)", Assert.Throws<ParameterException>(() => Source("ul", "-1")).Message, StringComparison.Ordinal);
        Assert.Contains("uint u = 7", Source("u", "7"), StringComparison.Ordinal);
    }

    /// <summary>A parameter declared nullable (float?, string?, or a Nullable&lt;T&gt; only the running cell shows) takes
    /// -p name=null as null, and keeps its nullable type for any value; a plain string keeps "null" as text.</summary>
    [Fact]
    public void Null_sets_a_nullable_parameter_and_is_text_for_a_plain_string()
    {
        var types = ParameterInjector.DeclaredTypes("float? temperature = null;\nstring? note = null;\nstring plain = \"x\";\nint count = 1;");
        Assert.Equal(new ParameterType(typeof(float), Nullable: true), types["temperature"]);
        Assert.Equal(new ParameterType(typeof(string), Nullable: true), types["note"]);
        Assert.Equal(new ParameterType(typeof(string)), types["plain"]);
        string Source(string name, string value) => ParameterInjector.Source(new Dictionary<string, string> { [name] = value }, n => types.GetValueOrDefault(n), "nb.ipynb");
        Assert.EndsWith("\nstring plain = \"null\";\n", Source("plain", "null"), StringComparison.Ordinal);
        Assert.Contains("'null' is not an int", Assert.Throws<ParameterException>(() => Source("count", "null")).Message, StringComparison.Ordinal);

        using var dir = new TempDir("params-nullable");
        var nb = TestSupport.WriteNotebook(dir.Path, "nullable.ipynb",
            ("float? temperature = 1.5f;\nstring? note = \"n\";\nint? F() => 3;\nvar maybe = F();\nstring plain = \"x\";", ["parameters"]),
            ("Console.WriteLine($\"{temperature?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? \"none\"} {note ?? \"none\"} {maybe?.ToString() ?? \"none\"} {plain}\");", null));
        var r = Run(nb, Path.Combine(dir.Path, "null"), ("temperature", "null"), ("note", "null"), ("maybe", "null"), ("plain", "null"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var cells = Cells(r);
        Assert.Equal("float? temperature = null;\nstring note = null;\nint? maybe = null;\nstring plain = \"null\";\n",
            TestSupport.Text(cells[1]["source"]).Split('\n', 2)[1]);
        Assert.Equal("none none none null\n", TestSupport.Text(cells[2]["outputs"]![0]!["text"]));
        // A value keeps the declared nullable type, so ?. in later cells still compiles.
        r = Run(nb, Path.Combine(dir.Path, "value"), ("temperature", "0.5"), ("maybe", "7"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("float? temperature = 0.5f;\nint? maybe = 7;\n", TestSupport.Text(Cells(r)[1]["source"]).Split('\n', 2)[1]);
        Assert.Equal("0.5 n 7 x\n", TestSupport.Text(Cells(r)[2]["outputs"]![0]!["text"]));
    }

    /// <summary>A const parameter was injected as a plain variable (int K = 8;), so a later `const int K2 = K * 2;`
    /// failed (CS0120); it is injected const, and later cells see the new constant.</summary>
    [Fact]
    public void A_const_parameter_is_injected_const_and_later_constants_use_the_value()
    {
        using var dir = new TempDir("params-const");
        var nb = TestSupport.WriteNotebook(dir.Path, "params_const.ipynb",
            ("const int K = 7;\nconst string Name = \"a\";", ["parameters"]),
            ("const int K2 = K * 2;\nswitch (Name) { case \"b\": Console.WriteLine($\"{K2} b\"); break; }", null));
        var r = Run(nb, Path.Combine(dir.Path, "out"), ("K", "8"), ("Name", "b"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var cells = Cells(r);
        Assert.Equal("const int K = 8;\nconst string Name = \"b\";\n", TestSupport.Text(cells[1]["source"]).Split('\n', 2)[1]);
        Assert.Equal("16 b\n", TestSupport.Text(cells[2]["outputs"]![0]!["text"]));
        Assert.Equal("8", r.Parameters["K"]);
    }
}
