using System.Diagnostics;
using System.Text.Json.Nodes;

// Notebook runs redirect Console and the working directory process-wide: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Distill.Notebooks.Tests;

static class TestSupport
{
    public static string TestData(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    public static string RepoRoot
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "Research.sln"))) d = d.Parent;
            return d?.FullName ?? throw new InvalidOperationException("Research.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The package cache the tests share, inside the repo's artifacts (a real restore the first time).</summary>
    public static string PackageCache => Path.Combine(RepoRoot, "artifacts", "test-nuget-cache");

    public static NotebookRunResult Run(string notebook, string outDir, NotebookRunOptions? options = null, CancellationToken ct = default)
    {
        var o = (options ?? new NotebookRunOptions()) with { OutputDirectory = outDir, PackageCacheDirectory = options?.PackageCacheDirectory ?? PackageCache };
        return new NotebookRunner(o).RunAsync(notebook, ct).GetAwaiter().GetResult();
    }

    /// <summary>Validates with Debian's python3-nbformat (the reference validator); returns its error text, or "" when valid.</summary>
    public static string NbformatErrors(string ipynb)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3",
            ["-c", "import nbformat,sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))", ipynb])
        { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? "" : err.Trim().Length > 0 ? err : $"exit {p.ExitCode}";
    }

    public static JsonObject ReadJson(string path) => (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;

    /// <summary>Joins an nbformat multi-line string (list of lines).</summary>
    public static string Text(JsonNode? node) => node switch
    {
        JsonArray a => string.Concat(a.Select(x => x!.GetValue<string>())),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };

    /// <summary>Puts a markdown cell with <paramref name="source"/> first in the notebook at <paramref name="path"/>
    /// (<see cref="WriteNotebook"/> writes code cells only).</summary>
    public static void PrependMarkdown(string path, string source)
    {
        var json = ReadJson(path);
        json["cells"]!.AsArray().Insert(0, new JsonObject { ["cell_type"] = "markdown", ["metadata"] = new JsonObject(), ["source"] = source });
        File.WriteAllText(path, json.ToJsonString());
    }

    /// <summary>Writes a one-off Polyglot notebook with the given C# cells (tags optional) into <paramref name="dir"/>.</summary>
    public static string WriteNotebook(string dir, string name, params (string Source, string[]? Tags)[] cells)
    {
        var arr = new JsonArray();
        foreach (var (src, tags) in cells)
        {
            var meta = new JsonObject { ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" } };
            if (tags is not null) meta["tags"] = new JsonArray(tags.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray());
            arr.Add(new JsonObject
            {
                ["cell_type"] = "code", ["execution_count"] = null, ["metadata"] = meta, ["outputs"] = new JsonArray(), ["source"] = src,
            });
        }
        var nb = new JsonObject
        {
            ["cells"] = arr,
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["name"] = ".net-csharp", ["language"] = "C#", ["display_name"] = ".NET (C#)" },
                ["polyglot_notebook"] = new JsonObject { ["kernelInfo"] = new JsonObject { ["defaultKernelName"] = "csharp" } },
            },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
        };
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, nb.ToJsonString());
        return path;
    }
}
