using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Distill.Notebooks.Documents;

/// <summary>Writes a notebook as nbformat 4 JSON with its outputs and execution counts, keeping every metadata field it
/// was read with (tags, ids, Polyglot kernel names), so it opens in VS Code with its outputs.</summary>
public static partial class IpynbWriter
{
    // Plain UTF-8 with only the escapes JSON requires, as Jupyter and VS Code write notebooks: "<", quotes in HTML
    // outputs and "·" stay readable in diffs. The file is data, never inlined into a page (the HTML report is built apart).
    static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true, IndentSize = 1, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = MaxDepth,
    };

    /// <summary>How deep a notebook's JSON may nest, written and read: an output's JSON may be as deep as the parser takes
    /// by default (64 levels), and it sits 6 levels down in the notebook. At System.Text.Json's default of 64, such an
    /// output failed the whole write, and a notebook holding one could not be read.</summary>
    internal const int MaxDepth = 128;

    /// <summary>The notebook as nbformat 4 JSON. <paramref name="warn"/> hears of each output written otherwise than it
    /// was shown (<see cref="DataJson"/>), naming the cell.</summary>
    public static string ToJson(NotebookDocument doc, Action<string>? warn = null)
    {
        var cells = new JsonArray();
        foreach (var cell in doc.Cells) cells.Add(CellJson(doc, cell, warn));
        var root = new JsonObject
        {
            ["cells"] = cells,
            ["metadata"] = doc.Metadata.DeepClone(),
            ["nbformat"] = 4,
            ["nbformat_minor"] = doc.NbformatMinor,
        };
        return root.ToJsonString(Indented) + "\n";
    }

    public static void Write(NotebookDocument doc, string path, Action<string>? warn = null)
    {
        // The shared atomic write: a temp name of its own that fits the file-name limit (NAME.tmp did not, for a name
        // near it, and two writers of one notebook shared it); UTF-8 without a BOM, as before.
        Distill.Training.AtomicFile.WriteAllText(path, ToJson(doc, warn));
    }

    static JsonObject CellJson(NotebookDocument doc, NotebookCell cell, Action<string>? warn)
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
            foreach (var output in cell.Outputs) outputs.Add(OutputJson(output, w => warn?.Invoke($"{cell.Label}: {w}")));
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

    public static JsonObject OutputJson(CellOutput output, Action<string>? warn = null) => output switch
    {
        StreamOutput s => new JsonObject { ["name"] = s.Name, ["output_type"] = "stream", ["text"] = Lines(s.Text.ToString()) },
        DisplayOutput d when d.IsResult => new JsonObject
        {
            ["data"] = DataJson(d.Data, warn), ["execution_count"] = d.ExecutionCount, ["metadata"] = new JsonObject(), ["output_type"] = "execute_result",
        },
        DisplayOutput d => new JsonObject { ["data"] = DataJson(d.Data, warn), ["metadata"] = new JsonObject(), ["output_type"] = "display_data" },
        ErrorOutput e => new JsonObject
        {
            ["ename"] = e.EName, ["evalue"] = e.EValue, ["output_type"] = "error",
            ["traceback"] = new JsonArray(e.Traceback.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray()),
        },
        _ => throw new ArgumentException($"unknown output {output.GetType().Name}", nameof(output)),
    };

    /// <summary>The MIME types whose data nbformat stores as JSON itself (its schema's pattern); every other type's
    /// data is a multi-line string, even one ending in "json" (application/x-ndjson, text/json).</summary>
    [GeneratedRegex(@"^application/(.*\+)?json$")]
    private static partial Regex JsonMime();

    /// <summary>
    /// A display's data as nbformat keeps it. JSON data is text the cell produced (<c>"x".DisplayAs("application/json")</c>,
    /// or JSON cut at --max-output): when it does not parse, it is written as text/plain, which nbformat allows for any
    /// text, with a warning, rather than failing the notebook's whole write and with it the run's report. When the
    /// display has a text/plain already, that one is kept and the warning says the JSON was left out.
    /// </summary>
    static JsonObject DataJson(IReadOnlyDictionary<string, string> data, Action<string>? warn)
    {
        var o = new JsonObject();
        foreach (var (mime, text) in data)
        {
            if (!JsonMime().IsMatch(mime)) { o[mime] = Lines(text); continue; }
            // Half a surrogate pair (a string cut inside an emoji) parses, but no UTF-8 can hold it: the notebook's write
            // then failed and took the run down after the cell had succeeded. It becomes U+FFFD, as in any other output.
            try { o[mime] = JsonNode.Parse(WellFormed(text)); }
            catch (JsonException e)
            {
                var plain = !data.ContainsKey("text/plain") && !o.ContainsKey("text/plain");
                if (plain) o["text/plain"] = Lines(text);
                warn?.Invoke($"a display's {mime} is not valid JSON ({ErrorText.Json(e)}); " +
                             (plain ? "its text is kept as text/plain" : "it is left out, and the output's text/plain is kept") +
                             " in the executed notebook. Display valid JSON under a JSON MIME type, and other text as text/plain");
            }
        }
        return o;
    }

    /// <summary><paramref name="text"/> with each lone surrogate (half of a pair) replaced by U+FFFD.</summary>
    static string WellFormed(string text)
    {
        if (!text.Any(char.IsSurrogate)) return text;
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        return new string(chars);
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
