using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Distill.Reporting;

namespace Distill.Notebooks.Reports;

/// <summary><c>reports/results.md</c> (the results table under the facts needed to trust it) and
/// <c>reports/results.json</c> (everything, machine-readable) of a <see cref="ReproductionResult"/>.</summary>
public static class ReproductionReport
{
    public static string Markdown(ReproductionResult r)
    {
        var e = r.Environment;
        var sb = new StringBuilder();
        sb.AppendLine("# Reproduction results").AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- date: {r.Started.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)}");
        // The full commit facts, as index.html and results.json give them: outside a checkout the library's build
        // commit (and whether it was dirty) is the only record of which code produced these numbers.
        sb.AppendLine(CultureInfo.InvariantCulture, $"- commit: {e.CommitText}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- machine: {e.Machine} · {e.Cpu} · {r.Cpu.Describe(e.Cores)} · {e.Os}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- versions: {e.DotNet} · TorchSharp {e.TorchSharp} · libtorch {e.LibTorch} · {r.ThreadsText}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- budget: {r.Budget ?? "each notebook's default"}");
        if (r.Parameters.Count > 0)
            sb.AppendLine(CultureInfo.InvariantCulture, $"- parameters: {string.Join(", ", r.Parameters.Select(p => $"{MarkdownText.Literal(p.Key)} = {MarkdownText.Literal(p.Value)}"))}");
        if (r.Seeds.Count > 0) sb.AppendLine(CultureInfo.InvariantCulture, $"- seeds: {string.Join("; ", r.Seeds)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- total wall time: {Reproduction.Seconds(r.Duration)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- notebooks: {r.Tally}");
        foreach (var n in r.Notebooks)
        {
            var time = n.Run is null ? "" : $" ({Reproduction.Seconds(n.Duration)}, {n.Run.Environment.TorchThreads} thread{(n.Run.Environment.TorchThreads == 1 ? "" : "s")})";
            sb.AppendLine(CultureInfo.InvariantCulture, $"  - {MarkdownText.Literal(n.Name)}: {MarkdownText.Literal(OneLine(n.StatusText))}{time}");
        }
        sb.AppendLine();
        if (r.Rows.Any()) sb.Append(Results.ToMarkdown(r.Rows.Select(x => x.Row)));
        else sb.AppendLine("No notebook recorded a result row.");
        return sb.ToString();
    }

    public static void WriteMarkdown(ReproductionResult r) => Distill.Training.AtomicFile.WriteAllText(r.Files.ResultsMarkdown, Markdown(r));

    public static JsonObject Json(ReproductionResult r)
    {
        var root = Path.GetDirectoryName(r.Files.ResultsJson)!;
        string? Rel(string? path) => path is null ? null : Path.GetRelativePath(root, path).Replace('\\', '/');
        var e = r.Environment;
        var parameters = new JsonObject();
        foreach (var (k, v) in r.Parameters) parameters[k] = v;
        return new JsonObject
        {
            ["started"] = r.Started.ToString("O", CultureInfo.InvariantCulture),
            ["durationSeconds"] = Math.Round(r.Duration.TotalSeconds, 3),
            ["exitCode"] = r.ExitCode,
            ["budget"] = r.Budget,
            ["parameters"] = parameters,
            ["jobs"] = r.Jobs,
            ["notebooksDirectory"] = Path.GetFullPath(r.NotebooksDirectory),
            ["git"] = new JsonObject
            {
                ["commit"] = e.GitCommit, ["dirty"] = e.GitDirty, ["notebookNotCommitted"] = e.NotebookNotCommitted,
                ["libraryCommit"] = e.LibraryCommit, ["libraryDirty"] = e.LibraryDirty, ["noCommit"] = e.NoCommit,
            },
            ["machine"] = new JsonObject
            {
                ["name"] = e.Machine, ["os"] = e.Os, ["cpu"] = e.Cpu, ["physicalCores"] = r.Cpu.PhysicalCores,
                ["hardwareThreads"] = r.Cpu.HardwareThreads, ["usableProcessors"] = e.Cores,
            },
            ["runtime"] = new JsonObject { ["dotnet"] = e.DotNet, ["torchsharp"] = e.TorchSharp, ["libtorch"] = e.LibTorch, ["torchThreads"] = e.TorchThreads, ["oneDnnIsa"] = e.OneDnnIsa, ["mklCbwr"] = e.MklCbwr, ["mklDispatch"] = e.MklDispatch },
            ["notebooks"] = new JsonArray([.. r.Notebooks.Select(n => (JsonNode)new JsonObject
            {
                ["name"] = n.Name,
                ["source"] = Path.GetFullPath(n.SourcePath), // as notebooksDirectory: a relative --notebooks gave one relative to the cwd
                ["status"] = n.Status.ToString().ToLowerInvariant(),
                ["statusText"] = n.StatusText,
                ["durationSeconds"] = n.Run is null ? null : Math.Round(n.Duration.TotalSeconds, 3),
                ["torchThreads"] = n.Run?.Environment.TorchThreads,
                ["failures"] = new JsonArray([.. (n.Run?.Failures ?? []).Select(f => (JsonNode)new JsonObject
                {
                    ["cell"] = f.Cell, ["line"] = f.Line, ["message"] = f.Message, ["text"] = f.ToString(),
                })]),
                ["parameters"] = n.Run is null ? null : new JsonObject([.. n.Run.Parameters.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))]),
                ["files"] = new JsonObject
                {
                    ["html"] = Rel(n.Run?.Files.Html), ["notebook"] = Rel(n.Run?.Files.Notebook), ["manifest"] = Rel(n.Run?.Files.Manifest),
                    ["results"] = Rel(n.ResultsFile),
                    ["keptEarlier"] = Rel(n.KeptEarlier),
                },
                ["rows"] = n.Rows.Count,
            })]),
            ["results"] = new JsonArray([.. r.Rows.Select(x =>
            {
                // The rows' own options: a diverged run's NaN threw here and lost results.json, index.html and results.md.
                var row = JsonSerializer.SerializeToNode(x.Row, Distill.Reporting.Results.RowJson)!.AsObject();
                row.Insert(0, "Notebook", x.Notebook.Name);
                return (JsonNode)row;
            })]),
        };
    }

    public static void WriteJson(ReproductionResult r) =>
        Distill.Training.AtomicFile.WriteAllText(r.Files.ResultsJson, Json(r).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    static string OneLine(string s) => s.Replace("\r", "", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
