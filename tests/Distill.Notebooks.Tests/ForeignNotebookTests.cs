using System.Text.Json.Nodes;
using Distill.Notebooks.Documents;
using Distill.Notebooks.Execution;
using Distill.Notebooks.Packages;

namespace Distill.Notebooks.Tests;

/// <summary>Notebooks the C# runner must not execute are refused before anything runs, naming the notebook and why;
/// a pinned package that cannot be had in this process names both versions.</summary>
public class ForeignNotebookTests
{
    /// <summary>A notebook whose only cell would succeed as C#, so a refusal cannot come from compiling it.</summary>
    static string Write(string dir, string name, JsonObject metadata, string source = "System.IO.File.WriteAllText(\"ran.txt\", \"compiled as C#\");")
    {
        var nb = new JsonObject
        {
            ["nbformat"] = 4, ["nbformat_minor"] = 5, ["metadata"] = metadata,
            ["cells"] = new JsonArray(new JsonObject
            {
                ["cell_type"] = "code", ["metadata"] = new JsonObject(), ["outputs"] = new JsonArray(), ["execution_count"] = null,
                ["source"] = source,
            }),
        };
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, nb.ToJsonString());
        return path;
    }

    public static TheoryData<string, string, string> Foreign() => new()
    {
        { "python.ipynb", """{"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}""", "its kernel is 'python3' (python)" },
        { "r.ipynb", """{"language_info": {"name": "R"}}""", "its language is 'R'" },
        { "fsharp.ipynb", """{"kernelspec": {"name": ".net-fsharp", "language": "F#", "display_name": ".NET (F#)"}}""", "its default kernel is 'fsharp'" },
        { "polyglot-fsharp.ipynb", """{"kernelspec": {"name": ".net-csharp", "language": "C#", "display_name": ".NET (C#)"}, "polyglot_notebook": {"kernelInfo": {"defaultKernelName": "fsharp", "items": [{"name": "fsharp", "aliases": []}]}}}""", "its default kernel is 'fsharp'" },
        // Saved by Jupyter on the F# kernel with VS Code's metadata left: Jupyter runs it as F#; it was compiled as C#.
        { "jupyter-fsharp.ipynb", """{"kernelspec": {"name": ".net-fsharp", "language": "F#"}, "language_info": {"name": "F#"}, "polyglot_notebook": {"kernelInfo": {"defaultKernelName": "csharp"}}}""",
          "metadata.kernelspec.name is '.net-fsharp', but metadata.polyglot_notebook.kernelInfo.defaultKernelName is 'csharp'" },
        { "info-fsharp.ipynb", """{"kernelspec": {"name": ".net-csharp", "language": "C#"}, "language_info": {"name": "F#"}, "polyglot_notebook": {"kernelInfo": {"defaultKernelName": "csharp"}}}""",
          "metadata.language_info.name is 'F#', but metadata.polyglot_notebook.kernelInfo.defaultKernelName is 'csharp'" },
    };

    [Theory]
    [MemberData(nameof(Foreign))]
    public void A_notebook_for_another_kernel_is_refused_with_the_reason_and_never_compiled(string name, string metadata, string reason)
    {
        using var dir = new TempDir("foreign");
        var path = Write(dir.Path, name, JsonNode.Parse(metadata)!.AsObject());
        var e = Assert.Throws<NotebookFormatException>(() => TestSupport.Run(path, Path.Combine(dir.Path, "out")));
        Assert.StartsWith(path + ": not a C# notebook: " + reason, e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "ran.txt")));
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "out")));
    }

    /// <summary>An F# notebook whose every code cell says #!csharp was refused for its default kernel, which reaches no
    /// cell (the F# kernel runs them in its C# subkernel); a cell that takes the default still gets it refused.</summary>
    [Fact]
    public void A_notebook_whose_every_cell_names_csharp_runs_whatever_its_default()
    {
        using var dir = new TempDir("fsharp-csharp-cells");
        var fsharp = JsonNode.Parse(FSharpMetadata)!.AsObject();
        var path = Write(dir.Path, "cs-cells.ipynb", fsharp, "#!csharp\nSystem.IO.File.WriteAllText(\"ran.txt\", \"compiled as C#\");");
        Assert.True(TestSupport.Run(path, Path.Combine(dir.Path, "out")).Succeeded);
        Assert.True(File.Exists(Path.Combine(dir.Path, "ran.txt")));
        var unmarked = Write(dir.Path, "default-cell.ipynb", JsonNode.Parse(FSharpMetadata)!.AsObject());
        var e = Assert.Throws<NotebookFormatException>(() => TestSupport.Run(unmarked, Path.Combine(dir.Path, "out2")));
        Assert.StartsWith(unmarked + ": not a C# notebook: its default kernel is 'fsharp'", e.Message, StringComparison.Ordinal);
        // Markdown and HTML cells that say so run the same under an F# default (the F# kernel runs all three): refused.
        var mixed = Write(dir.Path, "mixed.ipynb", JsonNode.Parse(FSharpMetadata)!.AsObject(), "#!csharp\nvar x = 1;");
        var json = TestSupport.ReadJson(mixed);
        foreach (var source in new[] { "\n#!markdown\n# h", "#!html\n<b>b</b>" })
            json["cells"]!.AsArray().Add(new JsonObject { ["cell_type"] = "code", ["metadata"] = new JsonObject(), ["outputs"] = new JsonArray(), ["execution_count"] = null, ["source"] = source });
        File.WriteAllText(mixed, json.ToJsonString());
        Assert.True(TestSupport.Run(mixed, Path.Combine(dir.Path, "out3")).Succeeded);
    }

    /// <summary>The injected parameters cell of an F# notebook says #!csharp, as every other cell must: Jupyter's kernel
    /// never sees the cell metadata that names C#, so it ran the cell as F# (FS0010 on "int a = 7;"). A C# notebook's
    /// injected cell has no selector line; both run again (a report re-run with other values).</summary>
    [Fact]
    public void The_injected_cell_of_an_fsharp_notebook_names_csharp_and_runs_again()
    {
        using var dir = new TempDir("fsharp-parameters");
        var written = Path.Combine(dir.Path, "a.txt"); // the second run's notebook lies in the first run's folder
        foreach (var (name, metadata, selector) in new[] { ("fs.ipynb", FSharpMetadata, true), ("cs.ipynb", """{"kernelspec": {"name": ".net-csharp", "language": "C#"}}""", false) })
        {
            var path = Write(dir.Path, name, JsonNode.Parse(metadata)!.AsObject(), "#!csharp\nint a = 1;");
            var json = TestSupport.ReadJson(path);
            json["cells"]![0]!["metadata"] = new JsonObject { ["tags"] = new JsonArray("parameters") };
            json["cells"]!.AsArray().Add(new JsonObject { ["cell_type"] = "code", ["metadata"] = new JsonObject(), ["outputs"] = new JsonArray(), ["execution_count"] = null,
                ["source"] = $"#!csharp\nSystem.IO.File.WriteAllText(@\"{written}\", a.ToString());" });
            File.WriteAllText(path, json.ToJsonString());
            var first = TestSupport.Run(path, Path.Combine(dir.Path, name + "-1"), new NotebookRunOptions { Parameters = [new("a", "7")] });
            Assert.True(first.Succeeded, string.Join("\n", first.Failures));
            Assert.Equal("7", File.ReadAllText(written));
            var injected = NotebookDocument.Load(first.Files.Notebook).Cells.Single(c => c.HasTag(ParameterInjector.InjectedTag));
            Assert.Equal(selector, injected.Source.StartsWith("#!csharp\n", StringComparison.Ordinal));
            Assert.Contains("a = 7;", injected.Source, StringComparison.Ordinal);
            var second = TestSupport.Run(first.Files.Notebook, Path.Combine(dir.Path, name + "-2"), new NotebookRunOptions { Parameters = [new("a", "9")] });
            Assert.True(second.Succeeded, string.Join("\n", second.Failures));
            Assert.Equal("9", File.ReadAllText(written));
            Assert.Single(NotebookDocument.Load(second.Files.Notebook).Cells, c => c.HasTag(ParameterInjector.InjectedTag));
        }
    }

    const string FSharpMetadata = """{"kernelspec": {"name": ".net-fsharp", "language": "F#"}, "polyglot_notebook": {"kernelInfo": {"defaultKernelName": "fsharp"}}}""";

    [Fact]
    public void A_csharp_notebook_still_runs()
    {
        using var dir = new TempDir("csharp");
        var path = Write(dir.Path, "cs.ipynb", JsonNode.Parse("""{"kernelspec": {"name": ".net-csharp", "language": "C#"}, "language_info": {"name": "polyglot-notebook"}, "polyglot_notebook": {"kernelInfo": {"defaultKernelName": "csharp"}}}""")!.AsObject());
        Assert.True(TestSupport.Run(path, Path.Combine(dir.Path, "out")).Succeeded);
        Assert.True(File.Exists(Path.Combine(dir.Path, "ran.txt")));
    }

    [Fact]
    public void A_pinned_version_newer_than_the_loaded_one_names_both_versions()
    {
        using var dir = new TempDir("pin");
        var nb = TestSupport.WriteNotebook(dir.Path, "pin.ipynb", ("#r \"nuget: Microsoft.Data.Analysis, 99.0.0\"", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        var f = Assert.Single(r.Failures);
        Assert.Contains("Microsoft.Data.Analysis, 99.0.0", f.Message, StringComparison.Ordinal);
        Assert.Contains("Microsoft.Data.Analysis 0.23.1 is already loaded", f.Message, StringComparison.Ordinal);
    }

    /// <summary>An older pin of a package the runner carries binds to the runner's copy; another major version (YamlDotNet
    /// 16 against the runner's 18) is a terminal warning too, not only a note in "Installed Packages": the kernel would
    /// restore the version pinned.</summary>
    [Fact]
    public void An_older_pin_of_another_major_version_binds_to_the_runners_copy_with_a_warning()
    {
        using var dir = new TempDir("pin-major");
        var nb = TestSupport.WriteNotebook(dir.Path, "major.ipynb",
            ("#r \"nuget: YamlDotNet, 16.0.0\"\ntypeof(YamlDotNet.Serialization.Deserializer).Assembly.GetName().Version!.Major", null));
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Contains("warning: major.ipynb: cell 1: #r \"nuget: YamlDotNet, 16.0.0\" binds to the runner's own YamlDotNet ", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("another major version: what the notebook does with it may differ from the kernel, which restores 16.0.0", log.ToString(), StringComparison.Ordinal);
    }

    /// <summary>As in the kernel: once a cell added a package (TorchSharp-cpu 0.107.0 brings TorchSharp 0.107.0), a later
    /// #r of another version of it, or of a dependency the runner knows of, is refused naming both versions. It was
    /// bound to the loaded copy with a note, so a notebook that fails in the kernel passed headless. A first pin of an
    /// older version (nothing added yet) still binds to the runner's copy with its note.</summary>
    [Fact]
    public void A_different_version_of_a_package_added_earlier_is_refused_as_in_the_kernel()
    {
        using var dir = new TempDir("pin-again");
        var nb = TestSupport.WriteNotebook(dir.Path, "again.ipynb",
            ("#r \"nuget: Newtonsoft.Json, 13.0.3\"", null),
            ("#r \"nuget: TorchSharp-cpu, 0.107.0\"\n#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"", null),
            ("#r \"nuget: TorchSharp, 0.105.0\"", null),
            ("#r \"nuget: Microsoft.Data.Analysis, 0.22.0\"", null),
            // The version as restored (0.107.0): the kernel compares the text, so 0.107 would be refused there.
            ("#r \"nuget: TorchSharp, 0.107.0\"\n#r \"nuget: TorchSharp-cpu\"\n#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"\n#r \"nuget: Newtonsoft.Json, 13.0.3\"", null),
            ("#r \"nuget: Newtonsoft.Json, 13.0.4\"", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal([CellStatus.Succeeded, CellStatus.Succeeded, CellStatus.Failed, CellStatus.Failed, CellStatus.Succeeded, CellStatus.Failed],
            r.Cells.Select(c => c.Status));
        Assert.Contains("(the runner's copy; the notebook asked for Newtonsoft.Json, 13.0.3)",
            r.Cells[0].Outputs.OfType<DisplayOutput>().Single().Data["text/plain"], StringComparison.Ordinal);
        Assert.Equal(3, r.Failures.Count);
        Assert.Contains("TorchSharp version 0.105.0 cannot be added because version 0.107.0 was added previously.", r.Failures[0].Message, StringComparison.Ordinal);
        Assert.Contains("Microsoft.Data.Analysis version 0.22.0 cannot be added because version 0.23.1 was added previously.", r.Failures[1].Message, StringComparison.Ordinal);
        Assert.Contains("Newtonsoft.Json version 13.0.4 cannot be added because version 13.0.3 was added previously.", r.Failures[2].Message, StringComparison.Ordinal);
    }

    /// <summary>A carried package's dependencies count at the versions its nuspec asks for, which the kernel's restore
    /// resolves, not at the runner's own: TorchSharp 0.107.0 asks for SkiaSharp 2.88.6 and SharpZipLib 1.4.0, and
    /// Directory.Packages.props raises them to 2.88.9 and 1.4.2. So after TorchSharp-cpu 0.107.0 a pin of SkiaSharp
    /// 2.88.6 is accepted (it was refused against 2.88.9) and one of SharpZipLib 1.4.2 is refused (it was accepted),
    /// as in the kernel.</summary>
    [Fact]
    public void A_carried_packages_dependencies_count_at_the_versions_its_nuspec_asks_for()
    {
        using var dir = new TempDir("pin-dependency");
        var nb = TestSupport.WriteNotebook(dir.Path, "dependency.ipynb",
            ("#r \"nuget: TorchSharp-cpu, 0.107.0\"", null),
            ("#r \"nuget: SkiaSharp, 2.88.6\"", null),
            ("#r \"nuget: SharpZipLib, 1.4.2\"", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal([CellStatus.Succeeded, CellStatus.Succeeded, CellStatus.Failed], r.Cells.Select(c => c.Status));
        Assert.Contains("SharpZipLib version 1.4.2 cannot be added because version 1.4.0 was added previously.",
            Assert.Single(r.Failures).Message, StringComparison.Ordinal);
    }

    /// <summary>The nuspec walk behind the test above, on a packages folder of its own: the group nearest net10.0, a
    /// range's lowest version, only packages the host carries, and nothing past a nuspec the cache does not hold.</summary>
    [Fact]
    public void A_restore_adds_the_carried_dependencies_its_nuspecs_ask_for()
    {
        using var folder = new TempDir("nuspecs");
        static void Nuspec(string folder, string id, string version, string dependencies)
        {
            var dir = Directory.CreateDirectory(Path.Combine(folder, id.ToLowerInvariant(), version)).FullName;
            File.WriteAllText(Path.Combine(dir, id.ToLowerInvariant() + ".nuspec"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
                  <metadata><id>{id}</id><version>{version}</version><dependencies>{dependencies}</dependencies></metadata>
                </package>
                """);
        }
        Nuspec(folder.Path, "Fake.Parent", "1.0.0", """
            <group targetFramework=".NETStandard2.0"><dependency id="SkiaSharp" version="1.0.0" /></group>
            <group targetFramework="net8.0"><dependency id="SkiaSharp" version="[2.88.6, 3.0)" /><dependency id="TorchSharp" version="0.105" /><dependency id="Not.Carried.Anywhere" version="1.0.0" /></group>
            <group targetFramework="net8.0-android"><dependency id="SkiaSharp" version="2.88.1" /></group>
            """);
        Nuspec(folder.Path, "TorchSharp", "0.105.0", """<group targetFramework="net8.0"><dependency id="SharpZipLib" version="1.3.3" /><dependency id="SkiaSharp" version="2.88.7" /></group>""");
        Assert.Equal([("Fake.Parent", "1.0"), ("SkiaSharp", "2.88.7"), ("TorchSharp", "0.105"), ("SharpZipLib", "1.3.3")],
            CarriedPackages.Host.AddedByRestoreOf("Fake.Parent", "1.0", folder.Path));
        // SkiaSharp 2.88.7's nuspec is not in this folder, so what it would add is left out rather than guessed.
        Assert.Equal([("SkiaSharp", "2.88.7")], CarriedPackages.Host.AddedByRestoreOf("SkiaSharp", "2.88.7", folder.Path));
    }

    [Theory]
    [InlineData("1.0.0", "1.0.0", 0)]
    [InlineData("13.0.3", "13.0.4", -1)]
    [InlineData("0.107.0", "0.23.1", 1)]
    [InlineData("1.0.0-beta.2", "1.0.0", -1)]
    [InlineData("1.0.0", "1.0.0-beta.2", 1)]
    [InlineData("1.0.0-beta.26120.1", "1.0.0-beta.23562.1", 1)]
    [InlineData("1.0.0-Beta", "1.0.0-beta", 0)]
    [InlineData("1.0.0-RC.1", "1.0.0-rc.1", 0)]
    [InlineData("1.0.0-beta.10", "1.0.0-beta.2", 1)]
    [InlineData("1.0.0-beta", "1.0.0-beta.1", -1)]
    [InlineData("1.0.0-alpha.1", "1.0.0-alpha.beta", -1)]
    [InlineData("1.0.0+build.5", "1.0.0", 0)]
    public void Versions_compare_in_nuget_order(string a, string b, int expected) =>
        Assert.Equal(expected, PackageResolver.CompareVersions(a, b));
}
