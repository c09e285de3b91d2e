using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Distill.Tests.Onboarding;

/// <summary>Notebooks reference the built library with a path relative to the notebook (as the Polyglot kernel resolves
/// it); after the README's build every such path must exist, or the first cell fails in VS Code.</summary>
public partial class NotebookReferenceTests
{
    /// <summary>The library every notebook references, relative to the repository root (artifacts output, Debug).</summary>
    public const string LibraryPath = "artifacts/bin/Distill/debug/Distill.dll";

    [Fact]
    public void The_built_library_is_where_notebooks_look_for_it()
    {
        var path = Repo.PathOf(LibraryPath);
        Assert.True(File.Exists(path), $"{LibraryPath} is missing after the build: notebooks' #r would fail. Check UseArtifactsOutput in Directory.Build.props.");
        // The same assembly these tests run against, not a stale copy from elsewhere.
        Assert.Equal(typeof(Distill.Native.TorchRuntime).Assembly.GetName().Name, System.Reflection.AssemblyName.GetAssemblyName(path).Name);
    }

    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        var dir = Repo.PathOf("notebooks");
        if (Directory.Exists(dir))
            foreach (var nb in Directory.EnumerateFiles(dir, "*.ipynb").Order()) data.Add(Path.GetFileName(nb));
        return data; // empty fails the theory ("no data"): notebooks/ must hold notebooks

    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Every_hash_r_path_resolves_and_the_library_is_referenced(string notebook)
    {
        var nbPath = Path.Combine(Repo.PathOf("notebooks"), notebook);
        var refs = DllReferences(File.ReadAllText(nbPath), nbPath).ToList();
        var missing = refs.Where(r => !File.Exists(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(nbPath)!, r)))).ToList();
        Assert.True(missing.Count == 0, $"notebooks/{notebook}: #r paths that do not exist after the build: {string.Join(", ", missing)}");
        var library = Path.GetFullPath(Repo.PathOf(LibraryPath));
        Assert.True(refs.Any(r => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(nbPath)!, r)) == library),
            $"notebooks/{notebook}: no #r \"../{LibraryPath}\"; its first code cell must reference the built library.");
    }

    /// <summary>A notebook's <c>#r "nuget: X, V"</c> must ask for the version the library was built against (central
    /// package versions), or VS Code loads a second, different version beside the one Distill.dll expects.</summary>
    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Nuget_references_use_the_central_package_versions(string notebook)
    {
        var central = CentralVersions();
        var nbPath = Path.Combine(Repo.PathOf("notebooks"), notebook);
        foreach (var (name, version) in NugetReferences(File.ReadAllText(nbPath), nbPath))
            if (central.TryGetValue(name, out var expected))
                Assert.True(version == expected, $"notebooks/{notebook}: #r \"nuget: {name}, {version ?? "(no version)"}\" but Directory.Packages.props has {expected}; use {expected}.");
    }

    static Dictionary<string, string> CentralVersions()
    {
        var doc = XDocument.Parse(Repo.Read("Directory.Packages.props"));
        var props = doc.Descendants("PropertyGroup").Elements().ToDictionary(e => e.Name.LocalName, e => e.Value.Trim());
        return doc.Descendants("PackageVersion").ToDictionary(
            e => (string)e.Attribute("Include")!,
            e => MsBuildProperty().Replace((string)e.Attribute("Version")!, m => props[m.Groups[1].Value]),
            StringComparer.OrdinalIgnoreCase);
    }

    static IEnumerable<(string Name, string? Version)> NugetReferences(string json, string path) =>
        HashRArguments(json, path).Where(a => a.StartsWith("nuget:", StringComparison.OrdinalIgnoreCase)).Select(a =>
        {
            var parts = a["nuget:".Length..].Split(',', StringSplitOptions.TrimEntries);
            return (parts[0], parts.Length > 1 ? parts[1] : (string?)null);
        });

    [Fact]
    public void Central_versions_resolve_msbuild_properties()
    {
        var central = CentralVersions();
        Assert.Equal("0.107.0", central["TorchSharp-cpu"]);
        Assert.DoesNotContain(central.Values, v => v.Contains("$(", StringComparison.Ordinal));
    }

    [Fact]
    public void Reference_reader_takes_dll_paths_from_code_cells_and_skips_nuget_and_markdown()
    {
        const string nb = """
            {"cells": [
              {"cell_type": "markdown", "source": ["#r \"not-code.dll\""]},
              {"cell_type": "code", "source": ["#r \"../artifacts/bin/Distill/debug/Distill.dll\"\n", "#r \"nuget: Plotly.NET, 6.0.0\"\n", "var x = 1;"]},
              {"cell_type": "code", "source": "  #r \"other.dll\"\nConsole.WriteLine();"}
            ]}
            """;
        Assert.Equal(["../artifacts/bin/Distill/debug/Distill.dll", "other.dll"], DllReferences(nb, "test.ipynb"));
    }

    static IEnumerable<string> DllReferences(string json, string path) =>
        HashRArguments(json, path).Where(a => !a.StartsWith("nuget:", StringComparison.OrdinalIgnoreCase));

    static IEnumerable<string> HashRArguments(string json, string path)
    {
        JsonElement cells;
        try { cells = JsonDocument.Parse(json).RootElement.GetProperty("cells"); }
        catch (Exception e) when (e is JsonException or KeyNotFoundException)
        {
            throw new InvalidOperationException($"{path}: not a notebook (.ipynb JSON with a 'cells' array): {e.Message}", e);
        }
        foreach (var cell in cells.EnumerateArray())
        {
            if (cell.GetProperty("cell_type").GetString() != "code") continue;
            var src = cell.GetProperty("source");
            var text = src.ValueKind == JsonValueKind.Array ? string.Concat(src.EnumerateArray().Select(s => s.GetString())) : src.GetString() ?? "";
            foreach (Match m in HashR().Matches(text)) yield return m.Groups[1].Value;
        }
    }

    [GeneratedRegex(@"\$\((\w+)\)")]
    private static partial Regex MsBuildProperty();

    [GeneratedRegex(@"^\s*#r\s+""([^""]+)""", RegexOptions.Multiline)]
    private static partial Regex HashR();
}
