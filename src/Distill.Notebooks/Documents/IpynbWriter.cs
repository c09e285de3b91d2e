using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distill.Notebooks.Documents;

/// <summary>Writes a notebook as nbformat 4 JSON with its outputs and execution counts, keeping every metadata field it
/// was read with (tags, ids, Polyglot kernel names), so it opens in VS Code with its outputs.</summary>
public static class IpynbWriter
{
    // Plain UTF-8 with only the escapes JSON requires, as Jupyter and VS Code write notebooks: "<", quotes in HTML
    // outputs and "·" stay readable in diffs. The file is data, never inlined into a page (the HTML report is built apart).
    static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true, IndentSize = 1, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string ToJson(NotebookDocument doc)
    {
        var cells = new JsonArray();
        foreach (var cell in doc.Cells) cells.Add(CellJson(doc, cell));
        var root = new JsonObject
        {
            ["cells"] = cells,
            ["metadata"] = doc.Metadata.DeepClone(),
            ["nbformat"] = 4,
            ["nbformat_minor"] = doc.NbformatMinor,
        };
        return root.ToJsonString(Indented) + "\n";
    }

    public static void Write(NotebookDocument doc, string path)
    {
        // The shared atomic write: a temp name of its own that fits the file-name limit (NAME.tmp did not, for a name
        // near it, and two writers of one notebook shared it); UTF-8 without a BOM, as before.
        Distill.Training.AtomicFile.WriteAllText(path, ToJson(doc));
    }

    static JsonObject CellJson(NotebookDocument doc, NotebookCell cell)
    {
        var o = (JsonObject)cell.Raw.DeepClone();
        o["cell_type"] = cell.Kind switch { CellKind.Code => "code", CellKind.Markdown => "markdown", _ => "raw" };
        o["metadata"] = cell.Metadata.DeepClone();
        o["source"] = Lines(cell.Source);
        // nbformat 4.5 requires a cell id; earlier minors forbid it.
        if (doc.NbformatMinor >= 5) o["id"] ??= StableId(doc, cell);
        else o.Remove("id");
        if (cell.Kind == CellKind.Code)
        {
            o["execution_count"] = cell.ExecutionCount;
            var outputs = new JsonArray();
            foreach (var output in cell.Outputs) outputs.Add(OutputJson(output));
            o["outputs"] = outputs;
        }
        return o;
    }

    /// <summary>A deterministic id (same notebook and cell → same id), so re-running does not churn the file.</summary>
    static string StableId(NotebookDocument doc, NotebookCell cell)
    {
        var key = $"{doc.Name}|{doc.Cells.IndexOf(cell)}|{cell.Source}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..8];
    }

    public static JsonObject OutputJson(CellOutput output) => output switch
    {
        StreamOutput s => new JsonObject { ["name"] = s.Name, ["output_type"] = "stream", ["text"] = Lines(s.Text.ToString()) },
        DisplayOutput d when d.IsResult => new JsonObject
        {
            ["data"] = DataJson(d.Data), ["execution_count"] = d.ExecutionCount, ["metadata"] = new JsonObject(), ["output_type"] = "execute_result",
        },
        DisplayOutput d => new JsonObject { ["data"] = DataJson(d.Data), ["metadata"] = new JsonObject(), ["output_type"] = "display_data" },
        ErrorOutput e => new JsonObject
        {
            ["ename"] = e.EName, ["evalue"] = e.EValue, ["output_type"] = "error",
            ["traceback"] = new JsonArray(e.Traceback.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray()),
        },
        _ => throw new ArgumentException($"unknown output {output.GetType().Name}", nameof(output)),
    };

    static JsonObject DataJson(IReadOnlyDictionary<string, string> data)
    {
        var o = new JsonObject();
        foreach (var (mime, text) in data)
            o[mime] = mime.EndsWith("json", StringComparison.Ordinal) ? JsonNode.Parse(text) : Lines(text);
        return o;
    }

    /// <summary>nbformat's multi-line string: a list of lines, each but the last ending in "\n".</summary>
    public static JsonArray Lines(string text)
    {
        var a = new JsonArray();
        int start = 0;
        while (start < text.Length)
        {
            int nl = text.IndexOf('\n', start);
            int end = nl < 0 ? text.Length : nl + 1;
            a.Add(text[start..end]);
            start = end;
        }
        return a;
    }
}
