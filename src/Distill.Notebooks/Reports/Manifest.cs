using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distill.Notebooks.Reports;

/// <summary>The run manifest (<c>NAME.manifest.json</c>): the report header's facts plus per-cell status and timings,
/// in a form scripts (and <c>distill reproduce</c>) can read.</summary>
public static class Manifest
{
    public static JsonObject ToJson(NotebookRunResult r)
    {
        var dir = Path.GetDirectoryName(r.Files.Manifest)!;
        var env = r.Environment;
        var parameters = new JsonObject();
        foreach (var (k, v) in r.Parameters) parameters[k] = v;
        return new JsonObject
        {
            ["notebook"] = r.SourcePath,
            ["status"] = r.Status.ToString().ToLowerInvariant(),
            ["started"] = r.Started.ToString("O"),
            ["durationSeconds"] = Math.Round(r.Duration.TotalSeconds, 3),
            ["budget"] = r.Budget,
            ["parameters"] = parameters,
            ["failures"] = new JsonArray(r.Failures.Select(f => (JsonNode)new JsonObject
            {
                ["cell"] = f.Cell, ["line"] = f.Line, ["message"] = f.Message, ["text"] = f.ToString(),
            }).ToArray()),
            // Only what is on disk as the manifest is written (null for the others): after a full disk it listed the
            // executed notebook and report that could not be written (and were deleted as half-written).
            ["files"] = new JsonObject
            {
                ["notebook"] = File.Exists(r.Files.Notebook) ? Path.GetRelativePath(dir, r.Files.Notebook) : null,
                ["html"] = r.Files.Html is { } html && File.Exists(html) ? Path.GetRelativePath(dir, html) : null,
            },
            ["git"] = new JsonObject
            {
                ["commit"] = env.GitCommit, ["dirty"] = env.GitDirty, ["notebookNotCommitted"] = env.NotebookNotCommitted,
                ["libraryCommit"] = env.LibraryCommit, ["libraryDirty"] = env.LibraryDirty, ["noCommit"] = env.NoCommit,
            },
            ["machine"] = new JsonObject { ["name"] = env.Machine, ["os"] = env.Os, ["cpu"] = env.Cpu, ["cores"] = env.Cores },
            ["runtime"] = new JsonObject
            {
                ["dotnet"] = env.DotNet, ["torchsharp"] = env.TorchSharp, ["libtorch"] = env.LibTorch, ["torchThreads"] = env.TorchThreads,
                ["oneDnnIsa"] = env.OneDnnIsa, ["mklCbwr"] = env.MklCbwr, ["mklDispatch"] = env.MklDispatch,
            },
            // Which copy of each dataset the cells read: the same name can be found in several folders.
            ["datasets"] = new JsonObject(Distill.Data.Datasets.Read.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
            ["cells"] = new JsonArray(r.Cells.Select(c => (JsonNode)new JsonObject
            {
                ["cell"] = c.Cell.SourceNumber,
                ["label"] = c.Cell.Label,
                ["kind"] = c.Cell.Kind.ToString().ToLowerInvariant(),
                ["kernel"] = c.Cell.Kernel,
                ["tags"] = new JsonArray(c.Cell.Tags.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
                ["executionCount"] = c.ExecutionCount,
                ["status"] = c.Status.ToString().ToLowerInvariant(),
                ["seconds"] = Math.Round(c.Duration.TotalSeconds, 4),
                ["outputs"] = c.Outputs.Count,
            }).ToArray()),
        };
    }

    /// <summary>A run read back from its manifest and executed notebook: what <c>reproduce --jobs</c> knows of a notebook
    /// that ran in another process. The per-cell results stay in the manifest (<see cref="NotebookRunResult.Cells"/> is
    /// empty); everything the index and results files show is here.</summary>
    public static NotebookRunResult Read(string path)
    {
        var m = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new InvalidDataException($"{path}: empty manifest");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        JsonNode N(JsonNode? n) => n ?? throw new InvalidDataException($"{path}: a field is missing; is it a manifest of `distill run`?");
        string S(JsonNode? n) => N(n).GetValue<string>();
        var source = S(m["notebook"]);
        var files = N(m["files"]);
        if (files is JsonObject listed && listed.TryGetPropertyValue("notebook", out var written) && written is null)
            // The write failure is the last one recorded (a cell's failure before it named the wrong cause).
            throw new InvalidDataException($"{path}: the run wrote no executed notebook ({(m["failures"] as JsonArray is { Count: > 0 } failures ? failures[^1]?["text"]?.GetValue<string>() : null) ?? "see its failures"})");
        var notebook = Path.Combine(dir, S(files["notebook"]));
        var (git, machine, runtime) = (N(m["git"]), N(m["machine"]), N(m["runtime"]));
        return new NotebookRunResult
        {
            SourcePath = source,
            Notebook = Documents.NotebookDocument.Load(notebook),
            Status = Enum.Parse<RunStatus>(S(m["status"]), ignoreCase: true),
            Cells = [],
            Failures = [.. N(m["failures"]).AsArray().Select(f => new CellFailure(Path.GetFileName(source), S(N(f)["cell"]), f!["line"]?.GetValue<int>(), S(f["message"])))],
            Started = DateTimeOffset.Parse(S(m["started"]), System.Globalization.CultureInfo.InvariantCulture),
            Duration = TimeSpan.FromSeconds(N(m["durationSeconds"]).GetValue<double>()),
            Budget = m["budget"]?.GetValue<string>(),
            Parameters = N(m["parameters"]).AsObject().ToDictionary(p => p.Key, p => S(p.Value)),
            Environment = new RunEnvironment(git["commit"]?.GetValue<string>(), git["dirty"]?.GetValue<bool>(), S(machine["name"]), S(machine["os"]),
                S(machine["cpu"]), N(machine["cores"]).GetValue<int>(), N(runtime["torchThreads"]).GetValue<int>(), S(runtime["dotnet"]),
                S(runtime["torchsharp"]), S(runtime["libtorch"]), S(runtime["oneDnnIsa"]), git["libraryCommit"]?.GetValue<string>(), git["libraryDirty"]?.GetValue<bool>(),
                git["notebookNotCommitted"]?.GetValue<string>(), runtime["mklCbwr"]?.GetValue<string>(), runtime["mklDispatch"]?.GetValue<string>(),
                git["noCommit"]?.GetValue<string>()),
            Files = new RunFiles(notebook, files["html"]?.GetValue<string>() is { } html ? Path.Combine(dir, html) : null, Path.GetFullPath(path)),
        };
    }

    /// <summary>The outputs a run listed in its manifest at <paramref name="path"/> (full paths: the executed notebook and the
    /// report), or null when that file is not a manifest of <c>distill run</c> (missing, not JSON, or without its fields).</summary>
    public static IReadOnlyList<string>? Outputs(string path)
    {
        try
        {
            if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject m || m["status"] is not JsonValue || m["cells"] is not JsonArray
                || m["files"] is not JsonObject files || !files.TryGetPropertyValue("notebook", out var notebook) || notebook is not (null or JsonValue)) return null;
            var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
            // A null notebook is one the run could not write (a full disk): still that run's manifest.
            return [.. new[] { notebook, files["html"] }.OfType<JsonValue>().Select(f => Path.GetFullPath(Path.Combine(dir, f.GetValue<string>())))];
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Whether the manifest at <paramref name="path"/> records a run that succeeded (status "succeeded", as <see cref="ToJson"/>
    /// writes it); false for any other status or a file that is no readable manifest.</summary>
    public static bool Succeeded(string path)
    {
        try { return JsonNode.Parse(File.ReadAllText(path))?["status"]?.GetValue<string>() == "succeeded"; }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException) { return false; }
    }

    /// <summary>
    /// The first of a run's output files that exists but that no earlier run wrote, else null: the manifest when it is
    /// not one of <c>distill run</c>, the executed notebook or the report when the manifest beside them does not list
    /// them. Such a file is the user's (foo.ipynb beside foo.dib, a page of their own), and a run would overwrite it.
    /// </summary>
    public static string? NotARunsOutput(RunFiles files)
    {
        var earlier = Outputs(files.Manifest);
        if (earlier is null && File.Exists(files.Manifest)) return files.Manifest;
        return new[] { files.Notebook, files.Html }.FirstOrDefault(f => f is not null && File.Exists(f) && earlier?.Contains(f) != true);
    }

    /// <summary>Indented, and characters as they are (é, +, &lt;) rather than \u escapes: the manifest is read by people
    /// and scripts, never embedded in a page, where the default escaping would matter.</summary>
    static readonly JsonSerializerOptions Options = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Write(NotebookRunResult r, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, ToJson(r).ToJsonString(Options) + "\n", new UTF8Encoding(false));
    }

}
