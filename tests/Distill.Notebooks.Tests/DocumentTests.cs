using System.Text;
using System.Text.Json.Nodes;
using Distill.Notebooks.Documents;
using Distill.Notebooks.Execution;

namespace Distill.Notebooks.Tests;

/// <summary>Reading notebooks and magics, without running anything.</summary>
public class DocumentTests
{
    [Fact]
    public void Cell_kernel_resolution_follows_polyglot_order()
    {
        var json = """
            {"nbformat": 4, "nbformat_minor": 2,
             "metadata": {"kernelspec": {"name": ".net-csharp"},
                          "polyglot_notebook": {"kernelInfo": {"defaultKernelName": "csharp",
                             "items": [{"name": "csharp", "aliases": ["c#"]}, {"name": "fsharp", "aliases": ["f#"]}]}}},
             "cells": [
               {"cell_type": "code", "metadata": {"polyglot_notebook": {"kernelName": "csharp"}}, "source": ["#!fsharp\n", "1 + 1"]},
               {"cell_type": "code", "metadata": {"polyglot_notebook": {"kernelName": "fsharp"}, "dotnet_interactive": {"language": "csharp"}}, "source": "1"},
               {"cell_type": "code", "metadata": {"dotnet_interactive": {"language": "pwsh"}}, "source": "1"},
               {"cell_type": "code", "metadata": {}, "source": "1"},
               {"cell_type": "code", "metadata": {"polyglot_notebook": {"kernelName": "fsharp"}}, "source": "#!c#\n1"},
               {"cell_type": "markdown", "metadata": {}, "source": "# title"}
             ]}
            """;
        var doc = IpynbReader.Read("k.ipynb", json);
        Assert.Equal(["fsharp", "fsharp", "pwsh", "csharp", "csharp", "markdown"], doc.Cells.Select(c => c.Kernel));
        Assert.Equal([1, 2, 3, 4, 5, 6], doc.Cells.Select(c => c.SourceNumber!.Value));
    }

    /// <summary>docs/notebook-runner.md: an indented <c>#!</c> line reaches the compiler, as in the kernel. As a cell's
    /// first line, ` #!fsharp` still chose the F# kernel (the line was trimmed), so a C# cell was refused as F#; in a
    /// .dib it started a new cell. Only an unindented <c>#!name</c> selects a kernel now.</summary>
    [Fact]
    public void An_indented_kernel_selector_is_code_not_a_selector()
    {
        var json = """
            {"nbformat": 4, "nbformat_minor": 2, "metadata": {"kernelspec": {"name": ".net-csharp"}},
             "cells": [
               {"cell_type": "code", "metadata": {}, "source": " #!fsharp\n1"},
               {"cell_type": "code", "metadata": {}, "source": "\t#!fsharp\n1"},
               {"cell_type": "code", "metadata": {}, "source": "#!fsharp\r\n1"}
             ]}
            """;
        var doc = IpynbReader.Read("k.ipynb", json);
        Assert.Equal(["csharp", "csharp", "fsharp"], doc.Cells.Select(c => c.Kernel));
        using var dir = new TempDir("indented-selector");
        var parsed = Magics.Parse(doc, doc.Cells[0].Source, dir.Path);
        Assert.Empty(parsed.Errors); // left in the code, for the compiler to refuse as the kernel's does
        var dib = DibReader.Read("x.dib", "#!csharp\nvar a = 1;\n  #!fsharp\nvar b = 2;\n#!fsharp\nlet c = 3\n");
        Assert.Equal(["csharp", "fsharp"], dib.Cells.Select(c => c.Kernel));
        Assert.Equal("var a = 1;\n  #!fsharp\nvar b = 2;", dib.Cells[0].Source);
    }

    [Fact]
    public void Bad_notebooks_are_rejected_with_file_problem_and_fix()
    {
        var e = Assert.Throws<NotebookFormatException>(() => IpynbReader.Read("old.ipynb", """{"nbformat": 3, "cells": []}"""));
        Assert.Contains("old.ipynb", e.Message);
        Assert.Contains("nbformat 3", e.Message);
        Assert.Contains("nbconvert", e.Message);
        var j = Assert.Throws<NotebookFormatException>(() => IpynbReader.Read("broken.ipynb", "{\"cells\": [ }"));
        Assert.Contains("not valid JSON", j.Message);
        var missing = Assert.Throws<NotebookFormatException>(() => NotebookDocument.Load("/nonexistent/x.ipynb"));
        Assert.Contains("file not found", missing.Message);
    }

    /// <summary>Trailing commas ran without a word, while Python's json, nbformat and Jupyter refuse the file.</summary>
    [Fact]
    public void A_notebook_with_trailing_commas_is_not_valid_JSON()
    {
        var e = Assert.Throws<NotebookFormatException>(() => IpynbReader.Read("commas.ipynb",
            """{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "source": "1", "outputs": [], "execution_count": null},],}"""));
        Assert.StartsWith("commas.ipynb: not valid JSON (line 1: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dib_cells_split_on_kernel_selectors_and_keep_other_magics()
    {
        var doc = NotebookDocument.Load(TestSupport.TestData("sample.dib"));
        Assert.Equal([CellKind.Markdown, CellKind.Code, CellKind.Code], doc.Cells.Select(c => c.Kind));
        Assert.StartsWith("# A .dib notebook", doc.Cells[0].Source);
        Assert.StartsWith("#!time\nvar xs", doc.Cells[1].Source);            // #!time stays in its cell
        Assert.Equal("Console.WriteLine(string.Join(\",\", xs));", doc.Cells[2].Source); // the blank cell was dropped
        Assert.Equal("csharp", doc.Cells[2].Metadata["polyglot_notebook"]!["kernelName"]!.GetValue<string>());
    }

    /// <summary>The kernel matches a #!name line in its exact spelling: #!CSharp and #!MD are unknown magics there (DNI101),
    /// which ran here as C# and markdown. Its aliases C# and F# are kernels in either case.</summary>
    [Fact]
    public void Kernel_selectors_are_matched_in_their_exact_case()
    {
        var doc = new NotebookDocument { Path = "n.ipynb" };
        Assert.Equal([KernelNames.CSharp, KernelNames.CSharp, KernelNames.CSharp, "fsharp", "fsharp", KernelNames.Markdown],
            new[] { "#!csharp", "#!c#", "#!C#", "#!f#", "#!F#", "#!md" }.Select(l => KernelNames.Selector(doc, l)));
        Assert.All(new[] { "#!CSharp", "#!CSHARP", "#!MD", "#!Markdown", "#!FSharp" }, l => Assert.Null(KernelNames.Selector(doc, l)));
        Assert.Equal(["DNI101"], Magics.Parse(doc, "#!CSharp\n1 + 1", ".").Errors.Select(e => e.EName));
    }

    /// <summary>An exception's 3 MB message made a 1 MB failure line on the terminal: the line keeps its start (notebook,
    /// cell, line) and its end, the middle left out; the report keeps the whole message.</summary>
    [Fact]
    public void A_failure_line_is_at_most_about_1000_characters()
    {
        var line = new CellFailure("n.ipynb", "cell 5", 1, "System.Exception: " + new string('M', 3_000_000) + " the end").ToString();
        Assert.True(line.Length < 1100, $"{line.Length} characters");
        Assert.StartsWith("n.ipynb: cell 5, line 1: System.Exception: MMM", line, StringComparison.Ordinal);
        Assert.Contains("characters left out) …", line, StringComparison.Ordinal);
        Assert.EndsWith("MMM the end", line, StringComparison.Ordinal);
        Assert.Equal("n.ipynb: cell 1: short ⏎ two", new CellFailure("n.ipynb", "cell 1", null, "short\ntwo").ToString());
    }

    [Fact]
    public void Magics_are_taken_out_keeping_line_numbers()
    {
        using var dir = new TempDir("magics");
        File.WriteAllText(Path.Combine(dir.Path, "lib.dll"), "");
        var doc = new NotebookDocument { Path = Path.Combine(dir.Path, "n.ipynb") };
        var p = Magics.Parse(doc, "#!csharp\n#r \"nuget: Humanizer.Core, 2.14.1\"\n#r \"nuget:Plotly.NET\"\n#r \"lib.dll\"\n#i \"nuget: https://example.org/v3/index.json\"\n#!time\nvar x = 1;", dir.Path);
        Assert.Empty(p.Errors);
        Assert.Equal([new PackageRequest("Humanizer.Core", "2.14.1"), new PackageRequest("Plotly.NET", null)], p.Packages.Select(x => x.Package));
        Assert.Equal(Path.Combine(dir.Path, "lib.dll"), p.AssemblyPaths.Single().Path);
        Assert.Equal("https://example.org/v3/index.json", p.Sources.Single());
        Assert.True(p.Time);
        Assert.Equal(7, p.Code.Split('\n').Length);
        Assert.Equal("var x = 1;", p.Code.Split('\n')[6]);

        var bad = Magics.Parse(doc, "var y = 2;\n#!whatever\n#!fsharp\n#r \"missing/x.dll\"\n#load \"nope.csx\"", dir.Path);
        Assert.Equal(["DNI101", "UnsupportedKernel", "AssemblyNotFound", "SourceFileNotFound"], bad.Errors.Select(e => e.EName));
        Assert.Equal([2, 3, 4, 5], bad.Errors.Select(e => e.Line));
        Assert.Contains(Path.Combine(dir.Path, "missing", "x.dll"), bad.Errors[2].Message);
        // #load is Roslyn's, whose CS1504 named the file only as written: the path it was looked for at, as #r says it.
        Assert.Equal($"#load \"nope.csx\" (line 5): {Path.Combine(dir.Path, "nope.csx")} does not exist; relative paths are taken from the current directory, {dir.Path} (the notebook's folder unless a cell changed it, as in the kernel)", bad.Errors[3].Message);

        string[] versions = ["1", "1.2.3", "1.2.3.4", "1.*", "1.2.*-*", "*", "*-*", "1.0.0-beta.1", "1.0.0+sha.abc", "[1.0]", "[1.2.3-beta.1]"];
        var ok = Magics.Parse(doc, string.Join("\n", versions.Select(v => $"#r \"nuget: P{v.Length}{Array.IndexOf(versions, v)}, {v}\"")), dir.Path);
        Assert.Empty(ok.Errors);
        var notVersion = Magics.Parse(doc, "#r \"nuget: Microsoft.Data.Analysis, not-a-version\"", dir.Path);
        Assert.Equal("InvalidPackageReference", Assert.Single(notVersion.Errors).EName);
        Assert.StartsWith("'not-a-version' in '#r \"nuget: Microsoft.Data.Analysis, not-a-version\"' (line 1) is not a NuGet version", notVersion.Errors[0].Message, StringComparison.Ordinal);
        // NuGet's ranges with a comma: the kernel's restore fails on them (MSB4181), so a notebook using one ran green only here.
        foreach (var range in new[] { "[2.14.1,3)", "(,3.0]", "[1.0,2.0]" })
        {
            var r = Magics.Parse(doc, $"#r \"nuget: Humanizer.Core, {range}\"", dir.Path);
            Assert.Equal($"'{range}' in '#r \"nuget: Humanizer.Core, {range}\"' (line 1) is a version range with a comma, which the .NET kernel cannot restore " +
                         "(its restore fails with MSB4181); give the lowest version you accept (1.2.3 means that or higher) or an exact one ([1.2.3])", Assert.Single(r.Errors).Message);
        }
    }

    /// <summary>A notebook showing how to write a magic (in a comment, a raw or verbatim string, code an #if leaves out):
    /// #load "missing.csx" there failed the cell though the compiler never reads it, and a #!time line in a raw string
    /// was blanked, changing the string without a word (the kernel splits the cell there and fails it). A missing
    /// local #i feed was skipped by NuGet unsaid; the kernel fails the cell.</summary>
    [Fact]
    public void Magics_inside_strings_and_comments_are_the_compilers_or_refused_and_a_missing_feed_is_named()
    {
        using var dir = new TempDir("magics-text");
        var doc = new NotebookDocument { Path = Path.Combine(dir.Path, "n.ipynb") };
        var compilers = "/*\n#load \"helpers.csx\"\n#r \"lib/x.dll\"\n*/\nvar usage = \"\"\"\n#load \"helpers.csx\"\n\"\"\";\nvar v = @\"\n#load \"h.csx\"\";\n#if NEVER\n#load \"nope.csx\"\n#endif\nvar x = $\"\"\"\n  {1}\n#r \"y.dll\"\n  \"\"\";";
        var p = Magics.Parse(doc, compilers, dir.Path);
        Assert.Empty(p.Errors);
        Assert.Equal(compilers, p.Code); // left to the compiler, unchanged
        Assert.Empty(p.AssemblyPaths);
        foreach (var (text, magic) in new[] { ("var s = \"\"\"\n#!time\nx\n\"\"\";", "#!time"), ("/*\n#i \"nuget: https://example.org/v3/index.json\"\n*/", "#i \"nuget: https://example.org/v3/index.json\""),
                     ("var s = @\"\n#r \"nuget: Humanizer.Core\"\n\";", "#r \"nuget: Humanizer.Core\"") })
        {
            var inText = Magics.Parse(doc, text, dir.Path);
            var e = Assert.Single(inText.Errors);
            Assert.Equal(("MagicInText", 2), (e.EName, e.Line));
            Assert.StartsWith($"'{magic}' (line 2) starts a line inside a ", e.Message, StringComparison.Ordinal);
            Assert.Contains("the .NET kernel reads it as a magic command all the same and splits the cell there", e.Message, StringComparison.Ordinal);
            Assert.Equal(text, inText.Code);
            Assert.False(inText.Time);
            Assert.Empty(inText.Packages);
            Assert.Empty(inText.Sources);
        }
        // After a magic line, as without one: the lines a magic blanked or a #load lengthened moved where later lines were
        // looked for, so a #!csharp in a string was blanked unsaid and a second #!time was refused as inside text.
        File.WriteAllText(Path.Combine(dir.Path, "h.csx"), "var h = 1;");
        foreach (var above in new[] { "#!time\n", "#load \"h.csx\"\n" })
        {
            var inString = Magics.Parse(doc, above + "var s = @\"\n#!csharp\nend\";", dir.Path);
            Assert.Equal(("MagicInText", 3), (Assert.Single(inString.Errors).EName, inString.Errors[0].Line));
            var twice = Magics.Parse(doc, above + "Console.WriteLine(\"t1\");\n#!time\nvar s4 = \"abcdefghijkl\";\n#r \"nuget: Humanizer.Core, 2.14.1\"", dir.Path);
            Assert.Empty(twice.Errors);
            Assert.True(twice.Time);
            Assert.Single(twice.Packages);
        }
        // A folder where a file is meant is named as one (it was said not to exist).
        Directory.CreateDirectory(Path.Combine(dir.Path, "srcdir"));
        Assert.Equal($"#load \"srcdir\" (line 1): {Path.Combine(dir.Path, "srcdir")} is a folder; give the path of the .csx file in it",
                     Assert.Single(Magics.Parse(doc, "#load \"srcdir\"", dir.Path).Errors).Message);
        Assert.Equal($"#r \"./srcdir\" (line 1): {Path.Combine(dir.Path, "srcdir")} is a folder; give the path of the .dll file in it",
                     Assert.Single(Magics.Parse(doc, "#r \"./srcdir\"", dir.Path).Errors).Message);
        // Outside any text they are magics as before.
        Assert.True(Magics.Parse(doc, "var s = \"\"\"\nx\n\"\"\";\n#!time", dir.Path).Time);
        var nowhere = Path.Combine(dir.Path, "nowhere");
        var feed = Assert.Single(Magics.Parse(doc, $"#i \"nuget: {nowhere}\"", dir.Path).Errors);
        Assert.Equal(("SourceNotFound", $"#i \"nuget: {nowhere}\" (line 1): the folder {nowhere} does not exist; a local package source is a folder of .nupkg files"), (feed.EName, feed.Message));
        Directory.CreateDirectory(nowhere);
        Assert.Equal(nowhere, Assert.Single(Magics.Parse(doc, $"#i \"nuget: {nowhere}\"", dir.Path).Sources));
        // A relative folder, which the kernel's restore cannot use (Invalid URI there), even when it exists.
        var relative = Assert.Single(Magics.Parse(doc, "#i \"nuget: nowhere\"", dir.Path).Errors);
        Assert.Equal(("InvalidSource", "#i \"nuget: nowhere\" (line 1): a relative folder, which the .NET kernel cannot use (\"Invalid URI: The format of the URI could not be determined.\"); " +
                                       $"give its full path (#i \"nuget: {nowhere}\") or a URL"), (relative.EName, relative.Message));
    }

    /// <summary>The unknown-magic error listed "#!time, #r and #i", leaving out #load and the kernel selectors the runner
    /// takes. It lists each, and each one listed is taken.</summary>
    [Fact]
    public void The_unknown_magic_error_lists_every_magic_the_runner_takes()
    {
        using var dir = new TempDir("magics-known");
        File.WriteAllText(Path.Combine(dir.Path, "lib.dll"), "");
        File.WriteAllText(Path.Combine(dir.Path, "file.csx"), "var loaded = 1;");
        var doc = new NotebookDocument { Path = Path.Combine(dir.Path, "n.ipynb") };
        var unknown = Assert.Single(Magics.Parse(doc, "#!foo", dir.Path).Errors);
        Assert.Equal("Unknown magic command '#!foo' (line 1); distill run knows #!csharp (#!c#) anywhere, #!markdown (#!md) and #!html as a cell's first line, " +
                     "#!time, #r \"nuget: Name, Version\", #r \"path/to.dll\", #i \"nuget: source\" and #load \"file.csx\"", unknown.Message);
        Assert.Empty(Magics.Parse(doc, "#!csharp\n#!c#\n#!time\n#r \"nuget: Name, 1.0.0\"\n#r \"lib.dll\"\n#i \"nuget: https://example.org/v3/index.json\"\n#load \"file.csx\"", dir.Path).Errors);
        foreach (var markdown in new[] { "#!markdown", "#!md" })
            Assert.Equal(KernelNames.Markdown, KernelNames.Resolve(doc, new NotebookCell(CellKind.Code, markdown + "\n# A title")));
    }

    /// <summary>Each refused kernel magic says what to do instead; "compute the value in C#" was nonsense for #!lsmagic,
    /// #!about, #!who(s), #!connect, #!log, #!kernels.</summary>
    [Fact]
    public void Refused_kernel_magics_each_say_what_to_do_instead()
    {
        using var dir = new TempDir("magics-refused");
        var doc = new NotebookDocument { Path = Path.Combine(dir.Path, "n.ipynb") };
        string[] magics = ["#!lsmagic", "#!about", "#!who", "#!whos", "#!connect mssql --kernel-name db \"x\"", "#!log", "#!kernels", "#!set --name x --value 1", "#!share x --from fsharp", "#!value --name t", "#!import other.ipynb", "#!!"];
        var p = Magics.Parse(doc, string.Join("\n", magics), dir.Path);
        Assert.Equal(magics.Length, p.Errors.Count);
        Assert.All(p.Errors, e => Assert.Equal("UnsupportedMagicCommand", e.EName));
        Assert.Equal(Enumerable.Range(1, magics.Length), p.Errors.Select(e => e.Line));
        Assert.Equal("'#!lsmagic' (line 1) is a .NET Interactive magic command that distill run does not support: #!lsmagic and #!about only show the kernel's own help; remove the cell", p.Errors[0].Message);
        Assert.EndsWith("only show the kernel's own help; remove the cell", p.Errors[1].Message, StringComparison.Ordinal);
        Assert.Contains("only list the kernel's variables; remove the line", p.Errors[3].Message, StringComparison.Ordinal);
        Assert.Contains("#!connect attaches another kernel", p.Errors[4].Message, StringComparison.Ordinal);
        Assert.Contains("diagnostic log; remove the line", p.Errors[5].Message, StringComparison.Ordinal);
        Assert.Contains("assign the variable in C#", p.Errors[7].Message, StringComparison.Ordinal);
        Assert.Contains("#load", p.Errors[10].Message, StringComparison.Ordinal);
        Assert.All(p.Errors.Take(7), e => Assert.DoesNotContain("compute the value in C#", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Parameters_are_typed_by_the_defaults_type()
    {
        Assert.Equal(["budget", "epochs", "lr", "on"],
            ParameterInjector.DeclaredNames("var budget = \"quick\";\nint epochs = 3;\ndouble lr = 0.1;\nbool on = false;\nConsole.WriteLine(epochs);"));
        var types = new Dictionary<string, ParameterType>
        {
            ["epochs"] = new(typeof(int)), ["lr"] = new(typeof(double)), ["on"] = new(typeof(bool)), ["name"] = new(typeof(string)), ["mode"] = new(typeof(DayOfWeek)),
        };
        var src = ParameterInjector.Source(
            new Dictionary<string, string> { ["epochs"] = "5", ["lr"] = "1e-3", ["on"] = "True", ["name"] = "a \"b\"", ["mode"] = "friday", ["extra"] = "2.5" },
            n => types.GetValueOrDefault(n), "nb.ipynb");
        Assert.Contains("int epochs = 5;", src);
        Assert.Contains("double lr = 0.001;", src);
        Assert.Contains("bool on = true;", src);
        Assert.Contains("string name = \"a \\\"b\\\"\";", src);
        Assert.Contains("var mode = global::System.DayOfWeek.Friday;", src);
        Assert.Contains("double extra = 2.5;", src); // undeclared: inferred from the value, as papermill does
        string Undeclared(string value) => ParameterInjector.Source(new Dictionary<string, string> { ["u"] = value }, _ => null, "nb.ipynb");
        Assert.Contains("long u = 3000000000L;", Undeclared("3000000000")); // past int: a long, not a double
        Assert.Contains("double u = 1E+20;", Undeclared("99999999999999999999"));
        Assert.Contains("double u = double.PositiveInfinity;", Undeclared("Infinity"));
        Assert.Contains("string u = \"1e400x\";", Undeclared("1e400x"));
        var far = Assert.Throws<ParameterException>(() => Undeclared("1e400")); // not silently infinity
        Assert.StartsWith("nb.ipynb: -p u=1e400: '1e400' is not in range (a double is at most about 1.8e308)", far.Message, StringComparison.Ordinal);
        var e = Assert.Throws<ParameterException>(() => ParameterInjector.Source(new Dictionary<string, string> { ["epochs"] = "abc" }, n => types.GetValueOrDefault(n), "nb.ipynb"));
        Assert.Contains("nb.ipynb", e.Message);
        Assert.Contains("'abc' is not an int", e.Message);
    }

    /// <summary>uint, ulong, short, ushort, byte and sbyte defaults take -p values in their range: -p u=-1 for a uint was
    /// refused as "-p supports string, bool, numbers and enums", as if a uint were not a number.</summary>
    [Fact]
    public void The_other_whole_number_types_take_values_in_their_range()
    {
        var types = ParameterInjector.DeclaredTypes("uint u = 1;\nulong big = 2;\nbyte b = 3;\nsbyte sb = -4;\nshort s = 5;\nushort us = 6;\nconst uint K = 7;");
        string Source(string name, string value) =>
            ParameterInjector.Source(new Dictionary<string, string> { [name] = value }, n => types.GetValueOrDefault(n), "nb.ipynb").Split('\n', 2)[1];
        Assert.Equal("uint u = 4294967295;\n", Source("u", "4294967295"));
        Assert.Equal("ulong big = 18446744073709551615;\n", Source("big", "18446744073709551615"));
        Assert.Equal("byte b = 255;\n", Source("b", "255"));
        Assert.Equal("sbyte sb = -128;\n", Source("sb", "-128"));
        Assert.Equal("short s = -7;\n", Source("s", "-7"));
        Assert.Equal("ushort us = 0;\n", Source("us", "0"));
        Assert.Equal("const uint K = 8;\n", Source("K", "8"));
        foreach (var (name, value, says) in new[]
                 {
                     ("u", "-1", "-p u=-1: the notebook's default for 'u' is uint, and '-1' is not in range (a uint is 0 to 4294967295); pass a whole number like 3"),
                     ("b", "256", "'256' is not in range (a byte is 0 to 255)"),
                     ("sb", "-129", "'-129' is not in range (an sbyte is -128 to 127)"),
                     ("us", "1.5", "'1.5' is not a whole number"),
                 })
            Assert.Contains(says, Assert.Throws<ParameterException>(() => Source(name, value)).Message, StringComparison.Ordinal);
    }

    /// <summary>A nonzero float or double too small for its type parsed as 0 and was injected as 0 (-p lr=1e-50 for a
    /// float, -p eps=1e-400 for a double): refused as out of the type's range now, like 1e39 for a float. Zero written
    /// any way, and the smallest values each type holds, still pass.</summary>
    [Fact]
    public void A_nonzero_float_or_double_that_would_be_zero_is_refused_as_out_of_range()
    {
        var types = ParameterInjector.DeclaredTypes("float lr = 0.1f;\ndouble eps = 1e-8;");
        string Source(string name, string value) =>
            ParameterInjector.Source(new Dictionary<string, string> { [name] = value }, n => types.GetValueOrDefault(n), "nb.ipynb").Split('\n', 2)[1];
        Assert.Equal("float lr = 0f;\n", Source("lr", "0.0e-50"));
        Assert.Equal("float lr = 1E-45f;\n", Source("lr", "1.4e-45"));
        Assert.Equal("double eps = 5E-324;\n", Source("eps", "5e-324"));
        Assert.Equal("double eps = 0.0;\n", Source("eps", "0"));
        foreach (var (name, value, says) in new[]
                 {
                     ("lr", "1e-50", "-p lr=1e-50: the notebook's default for 'lr' is float, and '1e-50' is not in range (the smallest nonzero float is about 1.4e-45; this one would be 0); pass a number"),
                     ("lr", "-1e-50", "'-1e-50' is not in range (the smallest nonzero float"),
                     ("eps", "1e-400", "-p eps=1e-400: the notebook's default for 'eps' is double, and '1e-400' is not in range (the smallest nonzero double is about 4.9e-324; this one would be 0)"),
                 })
            Assert.Contains(says, Assert.Throws<ParameterException>(() => Source(name, value)).Message, StringComparison.Ordinal);
        var undeclared = Assert.Throws<ParameterException>(() => ParameterInjector.Source(new Dictionary<string, string> { ["u"] = "1e-400" }, _ => null, "nb.ipynb"));
        Assert.StartsWith("nb.ipynb: -p u=1e-400: '1e-400' is not in range (the smallest nonzero double is about 4.9e-324; this one would be 0)", undeclared.Message, StringComparison.Ordinal);
    }

    /// <summary>-p fee=1e29 for a decimal said "is not a number" (decimal.TryParse fails on overflow), where every other
    /// number type says "not in range"; and a nonzero decimal too small for the type was injected as 0. Both are refused
    /// as out of range now; zero and the smallest decimal still pass.</summary>
    [Fact]
    public void A_decimal_out_of_its_range_is_refused_as_such()
    {
        var types = ParameterInjector.DeclaredTypes("decimal fee = 0.5m;");
        string Source(string value) =>
            ParameterInjector.Source(new Dictionary<string, string> { ["fee"] = value }, n => types.GetValueOrDefault(n), "nb.ipynb").Split('\n', 2)[1];
        Assert.Equal("decimal fee = 0.0000000000000000000000000001m;\n", Source("1e-28"));
        Assert.Equal("decimal fee = 0m;\n", Source("0e5"));
        foreach (var (value, says) in new[]
                 {
                     ("1e29", "-p fee=1e29: the notebook's default for 'fee' is decimal, and '1e29' is not in range (a decimal is at most about 7.9e28); pass a number"),
                     ("-1e29", "'-1e29' is not in range (a decimal is at most about 7.9e28)"),
                     ("1e-50", "'1e-50' is not in range (the smallest nonzero decimal is 1e-28; this one would be 0)"),
                     ("abc", "'abc' is not a number"),
                     ("NaN", "'NaN' is not a number"),
                 })
            Assert.Contains(says, Assert.Throws<ParameterException>(() => Source(value)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parameter_types_are_read_from_the_parameters_cell_s_text_and_values_that_do_not_fit_are_refused()
    {
        var types = ParameterInjector.DeclaredTypes(
            "var seed = 0;\nint epochs = 3;\ndouble lr = 0.1;\nfloat f = 1.5f;\nvar g = -2.5f;\nint? maybe = null;\nvar name = \"x\";\n" +
            "DayOfWeek day = DayOfWeek.Monday;\nvar list = new List<int>();\nconst long K = 4;\nchar ch = 'a';\nvar f2 = F();\n" +
            "int[] widths = new[] { 64, 32 };\nvar seeds = new List<int> { 0, 1 };\nDateTime start = DateTime.Now;\nvar w = new[] { 1 };\nvar m = new float[2];\n" +
            "Dictionary<string, int> d = new();\nSystem.TimeSpan span = default;\nvar c2 = 'x';\nInt32 n32 = 1;");
        Assert.Equal(typeof(int), types["seed"].Type);
        Assert.Equal(typeof(int), types["epochs"].Type);
        Assert.Equal(typeof(double), types["lr"].Type);
        Assert.Equal(typeof(float), types["f"].Type);
        Assert.Equal(typeof(float), types["g"].Type);
        Assert.Equal(typeof(int), types["maybe"].Type);
        Assert.Equal(typeof(string), types["name"].Type);
        Assert.Equal(typeof(long), types["K"].Type);
        Assert.Equal(typeof(int), types["n32"].Type);
        Assert.Equal(typeof(char), types["c2"].Type);
        Assert.Equal(new ParameterType(null), types["day"]); // needs the cell to run: checked after it
        Assert.Equal(new ParameterType(null), types["f2"]);
        // Types -p cannot set, in C# as the cell writes them: refused before anything runs.
        foreach (var (name, type) in new[] { ("list", "List<int>"), ("widths", "int[]"), ("seeds", "List<int>"), ("start", "DateTime"), ("w", "an array"),
                     ("m", "float[]"), ("d", "Dictionary<string, int>"), ("span", "System.TimeSpan") })
            Assert.Equal(new ParameterType(null, type), types[name]);

        string Source(string name, string value) =>
            ParameterInjector.Source(new Dictionary<string, string> { [name] = value }, n => types.GetValueOrDefault(n), "nb.ipynb");
        Assert.Contains("float f = float.NaN;", Source("f", "NaN"));
        Assert.Contains("float f = float.PositiveInfinity;", Source("f", "Infinity"));
        Assert.Contains("float f = float.NegativeInfinity;", Source("f", "-Infinity"));
        Assert.Contains("double lr = double.NaN;", Source("lr", "NaN"));
        foreach (var (name, value, says) in new[]
                 {
                     ("seed", "abc", "'abc' is not an int; pass a whole number like 3"),
                     ("lr", "0,5", "'0,5' is not a number"),
                     ("epochs", "99999999999", "'99999999999' is not in range (an int is -2147483648 to 2147483647)"),
                     ("K", "99999999999999999999", "is not in range (a long is"),
                     ("f", "1e39", "'1e39' is not in range (a float is at most about 3.4e38)"),
                     ("lr", "1e400", "'1e400' is not in range (a double is at most about 1.8e308)"),
                     ("ch", "b", "the notebook's default for 'ch' is char; -p supports string, bool, numbers and enums"),
                     ("seeds", "0,1", "the notebook's default for 'seeds' is List<int>; -p supports string, bool, numbers and enums. Make the parameter one of those (for a list, e.g. a string \"0,1\" that the notebook splits), or set 'seeds' in the notebook"),
                     ("widths", "1", "the notebook's default for 'widths' is int[]; -p supports"),
                     ("start", "2020-01-01", "the notebook's default for 'start' is DateTime; -p supports string, bool, numbers and enums. Make the parameter one of those, or set 'start' in the notebook"),
                 })
        {
            var e = Assert.Throws<ParameterException>(() => Source(name, value));
            Assert.Contains($"nb.ipynb: -p {name}=", e.Message, StringComparison.Ordinal);
            Assert.Contains(says, e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("\"source\":42", "m.ipynb: cell 1: \"source\" is the number 42, expected a string or a list of strings; fix that field")]
    [InlineData("\"source\":[\"a\",5,null]", "m.ipynb: cell 1: \"source\" is a list ([\"a\",5,null]), expected a string or a list of strings;")]
    [InlineData("\"source\":[\"1+\",2]", "m.ipynb: cell 1: \"source\" is a list ([\"1+\",2]), expected a string or a list of strings;")]
    [InlineData("\"source\":[\"café <b>'x'&\",2]", "m.ipynb: cell 1: \"source\" is a list ([\"café <b>'x'&\",2]), expected a string or a list of strings;")]
    [InlineData("\"cells\":{\"a\":1}", "m.ipynb: \"cells\" is an object ({\"a\":1}), expected a list of cells;")]
    [InlineData("\"cell_type\":5", "m.ipynb: cell 1: \"cell_type\" is the number 5, expected \"code\", \"markdown\" or \"raw\";")]
    [InlineData("\"metadata\":{\"tags\":[1,null]}", "m.ipynb: cell 1: \"metadata.tags\" is a list ([1,null]), expected a list of strings;")]
    [InlineData("\"metadata\":{\"polyglot_notebook\":{\"kernelName\":5}}", "m.ipynb: cell 1: \"metadata.polyglot_notebook.kernelName\" is the number 5, expected a string;")]
    [InlineData("\"kernelspec\":\"csharp\"", "m.ipynb: \"metadata.kernelspec\" is the string \"csharp\", expected an object;")]
    [InlineData("\"nbformat\":\"4\"", "m.ipynb: \"nbformat\" is the string \"4\", expected the whole number 4;")]
    [InlineData("no nbformat", "m.ipynb: no \"nbformat\" field (a Jupyter notebook has \"nbformat\": 4);")]
    public void A_field_of_the_wrong_type_is_named_with_its_cell_what_it_holds_and_what_it_must(string change, string message)
    {
        var cell = new JsonObject { ["cell_type"] = "code", ["metadata"] = new JsonObject(), ["source"] = "1", ["outputs"] = new JsonArray(), ["execution_count"] = null };
        var nb = new JsonObject { ["nbformat"] = 4, ["nbformat_minor"] = 5, ["metadata"] = new JsonObject(), ["cells"] = new JsonArray(cell) };
        if (change == "no nbformat") nb.Remove("nbformat");
        else
        {
            var (key, value) = (change[1..change.IndexOf('"', 1)], JsonNode.Parse(change[(change.IndexOf(':') + 1)..]));
            var target = key switch { "kernelspec" => (JsonObject)nb["metadata"]!, "nbformat" or "cells" => nb, _ => cell };
            target[key] = value;
        }
        var e = Assert.Throws<NotebookFormatException>(() => IpynbReader.Read("m.ipynb", nb.ToJsonString()));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    /// <summary>Fields nbformat's schema refuses were read as absent (null), or not looked at, and written back as they
    /// were: the executed .ipynb, which docs/notebook-runner.md promises always validates, did not. Each is refused
    /// before anything runs (exit 2), naming the notebook, the cell and the field.</summary>
    [Theory]
    [InlineData("markdown", "\"attachments\":\"\"", "m.ipynb: cell 1: \"attachments\" is the string \"\", expected an object of named images, each an object of MIME type to base64 text (nbformat 4's attachments); fix that field")]
    [InlineData("raw", "\"attachments\":[]", "m.ipynb: cell 1: \"attachments\" is a list ([]), expected an object of named images")]
    [InlineData("markdown", "\"attachments\":null", "m.ipynb: cell 1: \"attachments\" is missing or null, expected an object of named images")]
    [InlineData("markdown", "\"attachments\":{\"a.png\":\"iVBO\"}", "m.ipynb: cell 1: \"attachments.a.png\" is the string \"iVBO\", expected an object of MIME type to base64 text")]
    [InlineData("markdown", "\"attachments\":{\"a.png\":{\"image/png\":5}}", "m.ipynb: cell 1: \"attachments.a.png\" is an object ({\"image/png\":5}), expected an object of MIME type")]
    [InlineData("code", "\"metadata\":{\"tags\":null}", "m.ipynb: cell 1: \"metadata.tags\" is missing or null, expected a list of strings;")]
    [InlineData("code", "\"nbformat_minor\":-1", "m.ipynb: \"nbformat_minor\" is the number -1, expected a whole number, 0 or more;")]
    [InlineData("code", "\"kernelspec\":{\"name\":null,\"display_name\":\".NET (C#)\"}", "m.ipynb: \"metadata.kernelspec.name\" is missing or null, expected a string;")]
    [InlineData("code", "\"kernelspec\":{\"name\":\".net-csharp\",\"display_name\":null}", "m.ipynb: \"metadata.kernelspec.display_name\" is missing or null, expected a string;")]
    [InlineData("markdown", "\"metadata\":{\"tags\":[\"a\",\"a\"]}", "m.ipynb: cell 1: \"metadata.tags\" is a list ([\"a\",\"a\"]), expected a list of distinct strings (nbformat's tags are unique);")]
    [InlineData("code", "\"metadata\":{\"collapsed\":\"x\"}", "m.ipynb: cell 1: \"metadata.collapsed\" is the string \"x\", expected true or false;")]
    [InlineData("code", "\"metadata\":{\"scrolled\":\"yes\"}", "m.ipynb: cell 1: \"metadata.scrolled\" is the string \"yes\", expected true, false or \"auto\";")]
    [InlineData("code", "\"metadata\":{\"execution\":{\"iopub.execute_input\":5}}", "m.ipynb: cell 1: \"metadata.execution.iopub.execute_input\" is the number 5, expected a string;")]
    [InlineData("code", "\"metadata\":{\"execution\":{\"other\":true}}", "m.ipynb: cell 1: \"metadata.execution.other\" is the boolean true, expected a string;")]
    [InlineData("raw", "\"metadata\":{\"name\":5}", "m.ipynb: cell 1: \"metadata.name\" is the number 5, expected a string;")]
    [InlineData("markdown", "\"metadata\":{\"jupyter\":{\"source_hidden\":1}}", "m.ipynb: cell 1: \"metadata.jupyter.source_hidden\" is the number 1, expected true or false;")]
    public void A_field_nbformat_refuses_is_refused_instead_of_written_into_an_invalid_notebook(string cellType, string change, string message)
    {
        var cell = new JsonObject { ["cell_type"] = cellType, ["metadata"] = new JsonObject(), ["source"] = "1" };
        if (cellType == "code") { cell["outputs"] = new JsonArray(); cell["execution_count"] = null; }
        var nb = new JsonObject { ["nbformat"] = 4, ["nbformat_minor"] = 5, ["metadata"] = new JsonObject(), ["cells"] = new JsonArray(cell) };
        var (key, value) = (change[1..change.IndexOf('"', 1)], JsonNode.Parse(change[(change.IndexOf(':') + 1)..]));
        var target = key switch { "kernelspec" => (JsonObject)nb["metadata"]!, "nbformat_minor" => nb, _ => cell };
        target[key] = value;
        var e = Assert.Throws<NotebookFormatException>(() => IpynbReader.Read("m.ipynb", nb.ToJsonString()));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    /// <summary>A kernelspec without its display_name (or name), or language_info without its name, was written back as
    /// it was and the executed .ipynb failed nbformat's validation: each is filled in and said. Valid cell metadata nbformat
    /// types (collapsed, scrolled "auto", execution times, a markdown cell's own keys) still reads.</summary>
    [Fact]
    public void Required_kernelspec_and_language_info_fields_are_filled_in_and_said()
    {
        var doc = IpynbReader.Read("m.ipynb", """{"nbformat":4,"nbformat_minor":5,"metadata":{"kernelspec":{"name":".net-csharp"},"language_info":{}},"cells":[{"cell_type":"code","id":"a","metadata":{"collapsed":true,"scrolled":"auto","execution":{"iopub.execute_input":"2026-01-01T00:00:00Z","other":"x"}},"source":"1","outputs":[],"execution_count":null},{"cell_type":"markdown","id":"b","metadata":{"collapsed":"anything"},"source":"m"}]}""");
        Assert.Equal(["\"metadata.kernelspec\" has no \"display_name\", which nbformat requires; written as \".net-csharp\"",
                      "\"metadata.language_info\" has no \"name\", which nbformat requires; written as \"C#\""], doc.Repairs);
        using var dir = new TempDir("writer-spec");
        var file = Path.Combine(dir.Path, "m.ipynb");
        IpynbWriter.Write(doc, file, _ => { });
        Assert.Equal("", TestSupport.NbformatErrors(file));
        Assert.Equal(["\"metadata.kernelspec\" has no \"name\", which nbformat requires; written as \".net-csharp\""],
                     IpynbReader.Read("n.ipynb", """{"nbformat":4,"nbformat_minor":5,"metadata":{"kernelspec":{"display_name":"C#"}},"cells":[]}""").Repairs);
    }

    /// <summary>What nbformat accepts still reads: a markdown cell's attachments as nbformat keeps them (a bundle's text
    /// as one string or a list, JSON under a JSON MIME type), and a code cell's attachments, which are dropped (repaired).</summary>
    [Fact]
    public void Valid_attachments_read_and_a_code_cells_attachments_are_dropped()
    {
        var json = """
            {"nbformat":4,"nbformat_minor":5,"metadata":{"kernelspec":{"name":".net-csharp","display_name":".NET (C#)"}},"cells":[
             {"cell_type":"markdown","id":"a","metadata":{"tags":[]},"source":"![p](attachment:a.png)",
              "attachments":{"a.png":{"image/png":"iVBO","text/plain":["a", "b"]},"b.json":{"application/vnd.x+json":{"k":1}}}},
             {"cell_type":"code","id":"b","metadata":{},"source":"1","outputs":[],"execution_count":null,"attachments":""}]}
            """;
        var doc = IpynbReader.Read("m.ipynb", json);
        Assert.Equal(2, doc.Cells.Count);
        Assert.Contains(doc.Repairs, r => r.StartsWith("cell 2: \"attachments\", the string \"\", is not a key of an nbformat 4 code cell; dropped", StringComparison.Ordinal));
    }

    /// <summary>Through `distill run`: exit 2, one error line naming the notebook, the cell and the field, and nothing
    /// written.</summary>
    [Fact]
    public void A_null_tags_field_is_refused_by_distill_run_with_exit_2()
    {
        using var dir = new TempDir("doc-null-tags");
        var nb = TestSupport.WriteNotebook(dir.Path, "tags.ipynb", ("System.IO.File.WriteAllText(\"ran.txt\", \"ran\");", null));
        var json = TestSupport.ReadJson(nb);
        json["cells"]![0]!["metadata"]!["tags"] = null;
        File.WriteAllText(nb, json.ToJsonString());
        var (exit, _, err) = DistillProcess.Run("run", nb, "--out", Path.Combine(dir.Path, "out"));
        Assert.Equal(2, exit);
        Assert.Contains($"error: {nb}: cell 1: \"metadata.tags\" is missing or null, expected a list of strings; fix that field", err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "ran.txt")), "a cell ran");
        Assert.False(File.Exists(Path.Combine(dir.Path, "out", "tags.ipynb")));
    }

    /// <summary>Bytes that are not UTF-8 became U+FFFD silently ("caf�" ran and was printed); now the file is refused,
    /// naming the byte, where it is and the fix. A UTF-16 .dib was decoded as UTF-16, which neither VS Code nor Jupyter writes.</summary>
    [Fact]
    public void A_notebook_that_is_not_utf8_is_refused_naming_the_byte_its_line_and_the_fix()
    {
        using var dir = new TempDir("encoding");
        var ipynb = Path.Combine(dir.Path, "latin1.ipynb");
        var head = "{\"nbformat\":4,\"metadata\":{},\"cells\":[\n{\"cell_type\":\"code\",\"source\":\"Console.WriteLine(\\\"caf";
        File.WriteAllBytes(ipynb, [.. Encoding.UTF8.GetBytes(head), 0xE9, .. Encoding.UTF8.GetBytes("\\\");\"}]}")]);
        var e = Assert.Throws<NotebookFormatException>(() => NotebookDocument.Load(ipynb));
        Assert.Equal($"{ipynb}: byte 0xE9 at offset {head.Length} (line 2) is not UTF-8; save the file as UTF-8 " +
                     "(VS Code: \"Save with Encoding\", UTF-8; Notepad: \"Save as\", encoding UTF-8).", e.Message);
        var dib = Path.Combine(dir.Path, "utf16.dib");
        File.WriteAllText(dib, "#!csharp\n1 + 1\n", Encoding.Unicode);
        var u = Assert.Throws<NotebookFormatException>(() => NotebookDocument.Load(dib));
        Assert.StartsWith($"{dib}: byte 0xFF at offset 0 (line 1) is not UTF-8 (the file starts with a UTF-16 byte-order mark); save the file as UTF-8", u.Message, StringComparison.Ordinal);
        // A UTF-8 byte-order mark is UTF-8: read as before, without the mark.
        var bom = Path.Combine(dir.Path, "bom.dib");
        File.WriteAllText(bom, "#!csharp\nvar s = \"café\";\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        Assert.Equal("var s = \"café\";", Assert.Single(NotebookDocument.Load(bom).Cells).Source);
    }

    /// <summary>Half a surrogate pair as an escape parses, then threw "Cannot read incomplete UTF-16 JSON text" when read,
    /// naming no notebook; a whole pair, and a backslash followed by text, are fine.</summary>
    [Theory]
    [InlineData("\\ud800", "\\ud800")]
    [InlineData("x\\uDBFFy", "\\uDBFF")]
    [InlineData("\\udc00", "\\udc00")]
    [InlineData("\\\\\\ud800", "\\ud800")]
    public void Half_a_surrogate_pair_is_named_with_its_line(string text, string escape)
    {
        var json = "{\"nbformat\":4,\"metadata\":{},\n\"cells\":[{\"cell_type\":\"code\",\"source\":\"" + text + "\"}]}";
        var e = Assert.Throws<NotebookFormatException>(() => IpynbReader.Read("d.ipynb", json));
        Assert.StartsWith($"d.ipynb: line 2: the escape {escape} is half of a UTF-16 surrogate pair, not a character; delete it, or write the character itself", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\\ud83d\\ude00", "\U0001F600")]
    [InlineData("\\\\ud800", "\\ud800")]
    public void A_whole_surrogate_pair_or_an_escaped_backslash_is_text(string text, string source) =>
        Assert.Equal(source, Assert.Single(IpynbReader.Read("d.ipynb", "{\"nbformat\":4,\"metadata\":{},\"cells\":[{\"cell_type\":\"code\",\"source\":\"" + text + "\"}]}").Cells).Source);

    [Theory]
    [InlineData("{\"nbformat\":4,\n\"nbformat\":4,\"metadata\":{},\"cells\":[]}", "d.ipynb: the key \"nbformat\" appears twice in the top-level object (the second at line 2); delete one of the two")]
    [InlineData("{\"nbformat\":4,\"metadata\":{},\"cells\":[{\"cell_type\":\"code\",\"source\":\"1\"},\n{\"cell_type\":\"code\",\"source\":\"a\",\n\"source\":\"b\"}]}",
        "d.ipynb: cell 2: the key \"source\" appears twice in the cell (the second at line 3); delete one of the two")]
    [InlineData("{\"nbformat\":4,\"metadata\":{},\"cells\":[{\"cell_type\":\"code\",\"metadata\":{\"tags\":[],\"tags\":[]},\"source\":\"a\"}]}",
        "d.ipynb: cell 1: the key \"tags\" appears twice in \"metadata\" (the second at line 1); delete one of the two")]
    [InlineData("{\"nbformat\":4,\"metadata\":{\"kernelspec\":{\"name\":\"a\",\"name\":\"b\"}},\"cells\":[]}",
        "d.ipynb: the key \"name\" appears twice in \"metadata.kernelspec\" (the second at line 1); delete one of the two")]
    public void A_key_twice_in_one_object_is_named_with_its_cell_and_line(string json, string message)
    {
        var e = Assert.Throws<NotebookFormatException>(() => IpynbReader.Read("d.ipynb", json));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
        var dib = Assert.Throws<NotebookFormatException>(() => DibReader.Read("x.dib", "#!meta\n{\"kernelInfo\":{},\"kernelInfo\":{}}\n#!csharp\n1\n"));
        Assert.StartsWith("x.dib: the #!meta block is not valid JSON (Duplicate property 'kernelInfo'", dib.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"kernelInfo\":{\"defaultKernelName\":5}}", "x.dib: the #!meta block's kernelInfo has a value of the wrong type (")]
    [InlineData("{\"kernelInfo\":{\"items\":[{\"name\":\"csharp\",\"aliases\":[7]}]}}", "x.dib: the #!meta block's kernelInfo has a value of the wrong type (")]
    [InlineData("[1,2]", "x.dib: the #!meta block is not a JSON object with kernelInfo (")]
    [InlineData("{\"kernelInfo\":", "x.dib: the #!meta block is not valid JSON (")]
    public void A_dib_meta_block_of_the_wrong_shape_is_named_with_the_file_and_the_fix(string meta, string message)
    {
        var e = Assert.Throws<NotebookFormatException>(() => DibReader.Read("x.dib", $"#!meta\n{meta}\n#!csharp\n1\n"));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
        Assert.EndsWith("fix or delete the #!meta block.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Multiline_strings_are_split_after_newlines()
    {
        Assert.Equal(["a\n", "b\n", "c"], IpynbWriter.Lines("a\nb\nc").Select(n => n!.GetValue<string>()));
        Assert.Empty(IpynbWriter.Lines(""));
        var doc = IpynbReader.Read("x.ipynb", """{"nbformat":4,"nbformat_minor":4,"metadata":{},"cells":[{"cell_type":"code","id":"abc","metadata":{"tags":["keep"]},"source":"x","outputs":[],"execution_count":null}]}""");
        var written = JsonNode.Parse(IpynbWriter.ToJson(doc))!;
        Assert.Null(written["cells"]![0]!["id"]); // ids are not allowed before nbformat 4.5
        Assert.Equal("keep", written["cells"]![0]!["metadata"]!["tags"]![0]!.GetValue<string>());
    }

    /// <summary>Metadata nested 200 deep is valid JSON; it was reported as "not valid JSON".</summary>
    [Fact]
    public void Json_nested_past_the_depth_the_runner_writes_is_named_as_that()
    {
        var deep = new string('[', 200) + new string(']', 200);
        var e = Assert.Throws<NotebookFormatException>(() => IpynbReader.Read("x.ipynb", $$$"""{"nbformat":4,"nbformat_minor":5,"metadata":{"deep":{{{deep}}}},"cells":[]}"""));
        Assert.StartsWith("x.ipynb: its JSON is nested more than 128 levels deep (line 1), more than the runner reads and writes back", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Cell keys nbformat 4 does not allow (nbformat 3's prompt_number and top-level collapsed, nbformat 3's
    /// heading level) were kept, and the executed notebook failed validation without a word: each is dropped and named.</summary>
    [Fact]
    public void Cell_keys_nbformat_4_does_not_allow_are_dropped_and_named()
    {
        // Outputs on a markdown cell (another tool's, or nbformat 3's) went without a word too.
        var doc = IpynbReader.Read("x.ipynb", """{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[{"cell_type":"code","id":"a","metadata":{},"source":"x","outputs":[],"execution_count":null,"collapsed":false,"prompt_number":3},{"cell_type":"markdown","id":"b","metadata":{},"source":"# m","level":[1],"attachments":{},"outputs":[],"execution_count":2}]}""");
        Assert.Equal(["cell 1: \"collapsed\", the boolean false, is not a key of an nbformat 4 code cell; dropped",
                      "cell 1: \"prompt_number\", the number 3, is not a key of an nbformat 4 code cell; dropped",
                      "cell 2: \"outputs\", a list ([]), is not a key of an nbformat 4 markdown cell; dropped",
                      "cell 2: \"execution_count\", the number 2, is not a key of an nbformat 4 markdown cell; dropped",
                      "cell 2: \"level\", a list ([1]), is not a key of an nbformat 4 markdown cell; dropped"], doc.Repairs);
        using var dir = new TempDir("writer-keys");
        var file = Path.Combine(dir.Path, "x.ipynb");
        IpynbWriter.Write(doc, file, _ => { });
        Assert.Equal("", TestSupport.NbformatErrors(file));
        Assert.NotNull(TestSupport.ReadJson(file)["cells"]![1]!["attachments"]);
    }

    /// <summary>Cell ids in an nbformat 4.0-4.4 notebook (which forbid them) were dropped by the writer without a word:
    /// one repair says so for the notebook, and the file written validates.</summary>
    [Fact]
    public void Ids_before_nbformat_4_5_are_dropped_and_said_once()
    {
        var doc = IpynbReader.Read("x.ipynb", """{"nbformat":4,"nbformat_minor":2,"metadata":{},"cells":[{"cell_type":"code","id":"a","metadata":{},"source":"x","outputs":[],"execution_count":null},{"cell_type":"markdown","id":"b","metadata":{},"source":"# m"}]}""");
        Assert.Equal(["2 cells carry an \"id\", which nbformat 4.2 does not allow (ids came with 4.5); dropped: set \"nbformat_minor\": 5 in the file to keep them"], doc.Repairs);
        using var dir = new TempDir("writer-ids");
        var file = Path.Combine(dir.Path, "x.ipynb");
        IpynbWriter.Write(doc, file, _ => { });
        Assert.Equal("", TestSupport.NbformatErrors(file));
        Assert.Empty(IpynbReader.Read("y.ipynb", """{"nbformat":4,"nbformat_minor":2,"metadata":{},"cells":[{"cell_type":"markdown","metadata":{},"source":"# m"}]}""").Repairs);
    }

    /// <summary>JSON data that does not parse (DisplayAs of any text, JSON cut at --max-output) threw out of the writer
    /// and lost the run's report; JSON nested 60 deep passed the parser and failed the writer's depth limit; and data of
    /// a type merely ending in "json" was written as an object, which nbformat refuses. Each output is now written as
    /// nbformat's schema wants it, the invalid JSON as text/plain with a warning naming the cell and the MIME type.</summary>
    [Fact]
    public void Display_data_that_is_not_valid_json_is_written_as_text_and_the_notebook_validates()
    {
        var doc = IpynbReader.Read("x.ipynb", """{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[{"cell_type":"code","id":"a","metadata":{},"source":"x","outputs":[],"execution_count":1}]}""");
        var deep = new string('[', 60) + new string(']', 60);
        Dictionary<string, string>[] shown =
        [
            new() { ["application/json"] = "x" },
            new() { ["application/json"] = "" },
            new() { ["application/json"] = "{\"a\": 1", ["text/plain"] = "kept" },
            new() { ["application/vnd.custom+json"] = deep },
            new() { ["application/x-ndjson"] = "{\"a\": 1}\n{\"b\": 2}\n", ["text/json"] = "[1]" },
            // Half an emoji ("😀"[..1]) in a JSON string: it parsed, and the write then failed, taking the run down.
            new() { ["application/json"] = "{\"n\": \"\ud83d x\", \"e\": \"\ud83d\ude00\"}" },
        ];
        doc.Cells[0].Outputs.AddRange(shown.Select(d => new DisplayOutput(d, isResult: false)));
        var warnings = new List<string>();
        using var dir = new TempDir("writer-json");
        var file = Path.Combine(dir.Path, "x.ipynb");
        IpynbWriter.Write(doc, file, warnings.Add);
        Assert.Equal("", TestSupport.NbformatErrors(file));
        var read = Assert.Single(NotebookDocument.Load(file).Cells); // the runner reads back what it wrote (reproduce --jobs)
        Assert.Equal("x", read.Source);
        var data = JsonNode.Parse(File.ReadAllText(file), documentOptions: new() { MaxDepth = 128 })!["cells"]![0]!["outputs"]!.AsArray()
            .Select(o => o!["data"]!.AsObject()).ToList();
        Assert.Equal("x", TestSupport.Text(data[0]["text/plain"]));
        Assert.Null(data[0]["application/json"]);
        Assert.Equal("", TestSupport.Text(data[1]["text/plain"]));
        Assert.Equal(("kept", false), (TestSupport.Text(data[2]["text/plain"]), data[2].ContainsKey("application/json")));
        Assert.Equal(deep, data[3]["application/vnd.custom+json"]!.ToJsonString());
        Assert.Equal("{\"a\": 1}\n{\"b\": 2}\n", TestSupport.Text(data[4]["application/x-ndjson"]));
        Assert.Equal("[1]", TestSupport.Text(data[4]["text/json"]));
        Assert.Equal(("\uFFFD x", "😀"), (data[5]["application/json"]!["n"]!.GetValue<string>(), data[5]["application/json"]!["e"]!.GetValue<string>()));
        Assert.Equal(3, warnings.Count);
        Assert.StartsWith("cell 1: a display's application/json is not valid JSON ('x' is an invalid start of a value); its text is kept as text/plain", warnings[0], StringComparison.Ordinal);
        Assert.StartsWith("cell 1: a display's application/json is not valid JSON (", warnings[1], StringComparison.Ordinal);
        Assert.Contains("it is left out, and the output's text/plain is kept", warnings[2], StringComparison.Ordinal);
    }

    [Fact]
    public void The_written_notebook_is_plain_utf8_as_jupyter_writes_it()
    {
        var doc = IpynbReader.Read("x.ipynb", """{"nbformat":4,"nbformat_minor":4,"metadata":{},"cells":[{"cell_type":"markdown","metadata":{},"source":"# 00 · <b>\"data\"</b> & more\ttab"}]}""");
        var json = IpynbWriter.ToJson(doc);
        Assert.Contains("# 00 · <b>\\\"data\\\"</b> & more\\ttab", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u00", json, StringComparison.Ordinal);
        Assert.Equal("# 00 · <b>\"data\"</b> & more\ttab", JsonNode.Parse(json)!["cells"]![0]!["source"]!.AsArray().Single()!.GetValue<string>());
    }
}
