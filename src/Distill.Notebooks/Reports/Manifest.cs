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
            ["files"] = new JsonObject
            {
                ["notebook"] = Path.GetRelativePath(dir, r.Files.Notebook),
                ["html"] = r.Files.Html is null ? null : Path.GetRelativePath(dir, r.Files.Html),
            },
            ["git"] = new JsonObject { ["commit"] = env.GitCommit, ["dirty"] = env.GitDirty },
            ["machine"] = new JsonObject { ["name"] = env.Machine, ["os"] = env.Os, ["cpu"] = env.Cpu, ["cores"] = env.Cores },
            ["runtime"] = new JsonObject
            {
                ["dotnet"] = env.DotNet, ["torchsharp"] = env.TorchSharp, ["libtorch"] = env.LibTorch, ["torchThreads"] = env.TorchThreads,
                ["oneDnnIsa"] = env.OneDnnIsa,
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

    public static void Write(NotebookRunResult r, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, ToJson(r).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", new UTF8Encoding(false));
    }

}
