using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Distill.Notebooks.Documents;

/// <summary>Reads a Jupyter notebook (nbformat 4) as VS Code Polyglot Notebooks writes it.</summary>
public static partial class IpynbReader
{
    public static NotebookDocument Read(string path, string json)
    {
        // System.Text.Json parses such an escape and throws when the string is read, later, with a message that names
        // neither the notebook nor the place ("Cannot read incomplete UTF-16 JSON text ...").
        if (json.Contains("\\u", StringComparison.Ordinal) && LoneSurrogate().Match(json) is { Success: true } lone)
            throw new NotebookFormatException(path, $"line {json.AsSpan(0, lone.Index).Count('\n') + 1}: the escape {lone.Groups["esc"].Value} is half of a UTF-16 surrogate pair, not a character",
                "delete it, or write the character itself (a notebook is UTF-8 text)");
        JsonObject root;
        try
        {
            // Duplicate keys refused here: JsonObject would otherwise throw a bare ArgumentException at the first lookup.
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = IpynbWriter.MaxDepth }) as JsonObject
                ?? throw new NotebookFormatException(path, "the file is not a JSON object", "open and save it in VS Code, or check that it is a notebook");
        }
        catch (JsonException e)
        {
            if (DuplicateKey(json) is { } duplicate)
                throw new NotebookFormatException(path, duplicate, "delete one of the two (a JSON object holds each key once), or re-save the notebook from VS Code or Jupyter");
            // Valid JSON nested past the depth the writer can write back: said as that, not as "not valid JSON".
            if (e.Message.Contains("maximum configured depth", StringComparison.Ordinal))
                throw new NotebookFormatException(path, $"its JSON is nested more than {IpynbWriter.MaxDepth} levels deep (line {e.LineNumber + 1}), more than the runner reads and writes back",
                    "flatten that value (a notebook's cells, outputs and metadata are a few levels deep), or remove it");
            throw new NotebookFormatException(path, $"not valid JSON (line {e.LineNumber + 1}: {e.Message.Split('.')[0]})",
                "fix the JSON, or re-save the notebook from VS Code");
        }
        Check(path, root);
        int major = root["nbformat"]!.GetValue<int>();
        if (major != 4)
            throw new NotebookFormatException(path, $"nbformat {major} is not supported (only nbformat 4)",
                "convert it with `jupyter nbconvert --to notebook --nbformat 4`, or re-save it from VS Code");
        var meta = root["metadata"] as JsonObject ?? [];
        var doc = new NotebookDocument { Path = path, Metadata = (JsonObject)meta.DeepClone(), NbformatMinor = root["nbformat_minor"]?.GetValue<int>() ?? 0 };
        doc.DefaultKernel = DefaultFromSpec(meta);
        if (root.TryGetPropertyValue("metadata", out var nullMeta) && nullMeta is null) doc.Repairs.Add("the notebook's \"metadata\" is null; written as {}");
        if (!root.ContainsKey("metadata")) doc.Repairs.Add("the notebook has no \"metadata\"; written as {}");
        // Fields nbformat requires where these objects are given: without them the executed .ipynb failed validation.
        // Filled in (the kernel this runner is, the language it runs), and said.
        foreach (var (obj, field, value) in new[] { ("kernelspec", "name", ".net-csharp"), ("kernelspec", "display_name", null), ("language_info", "name", "C#") })
            if (doc.Metadata[obj] is JsonObject o && !o.ContainsKey(field))
            {
                var written = value ?? o["name"]?.GetValue<string>() ?? ".NET (C#)";
                o[field] = written;
                doc.Repairs.Add($"\"metadata.{obj}\" has no \"{field}\", which nbformat requires; written as \"{written}\"");
            }
        KernelNames.ApplyKernelInfo(doc, meta["polyglot_notebook"]?["kernelInfo"] as JsonObject);

        if (root["cells"] is { } notCells and not JsonArray)
            throw new NotebookFormatException(path, $"\"cells\" is {Shown(notCells)}, expected a list of cells", Fix);
        if (root["cells"] is not JsonArray cells)
            throw new NotebookFormatException(path, "no \"cells\" array", "check that the file is a Jupyter notebook");
        var ids = new HashSet<string>(StringComparer.Ordinal);
        int number = 0, idsBefore45 = 0;
        foreach (var node in cells)
        {
            number++;
            if (node is not JsonObject c)
                throw new NotebookFormatException(path, $"cell {number} is not a JSON object", "re-save the notebook from VS Code");
            var kind = c["cell_type"]?.GetValue<string>() switch
            {
                "code" => CellKind.Code,
                "markdown" => CellKind.Markdown,
                "raw" => CellKind.Raw,
                var t => throw new NotebookFormatException(path, $"cell {number} has unknown cell_type '{t}'", "use code, markdown or raw"),
            };
            var raw = (JsonObject)c.DeepClone();
            raw.Remove("outputs");
            raw.Remove("execution_count");
            // A code cell's own, removed above for this run's; on a markdown or raw cell they are no keys nbformat 4 has,
            // and went without a word.
            if (kind != CellKind.Code)
                foreach (var key in new[] { "outputs", "execution_count" }.Where(c.ContainsKey))
                    doc.Repairs.Add($"cell {number}: \"{key}\", {Shown(c[key])}, is not a key of an nbformat 4 {kind.ToString().ToLowerInvariant()} cell; dropped");
            if (c.TryGetPropertyValue("metadata", out var cellMeta) && cellMeta is null) doc.Repairs.Add($"cell {number}: \"metadata\" is null; written as {{}}");
            // Keys nbformat requires, absent: nothing is lost when they are written (the runner writes every one of them).
            if (!c.ContainsKey("metadata")) doc.Repairs.Add($"cell {number}: no \"metadata\"; written as {{}}");
            if (!c.ContainsKey("source")) doc.Repairs.Add($"cell {number}: no \"source\"; written as \"\" (an empty cell)");
            if (kind == CellKind.Code && !c.ContainsKey("outputs")) doc.Repairs.Add($"cell {number}: no \"outputs\" (a code cell needs them); written with this run's outputs");
            // null or no list: nbformat refuses it as it refuses a missing one, and it went without a word.
            else if (kind == CellKind.Code && c["outputs"] is not JsonArray) doc.Repairs.Add($"cell {number}: \"outputs\" is {(c["outputs"] is { } o ? Shown(o) : "null")}, not a list; written with this run's outputs");
            if (kind == CellKind.Code && !c.ContainsKey("execution_count")) doc.Repairs.Add($"cell {number}: no \"execution_count\" (a code cell needs one); written as this run's count");
            if (c["execution_count"] is { } count && !(count.GetValueKind() == JsonValueKind.Number && count.AsValue().TryGetValue<int>(out _)))
                doc.Repairs.Add($"cell {number}: \"execution_count\" is {Shown(count)}, not a whole number; written as this run's count");
            // nbformat 4.5 requires an id, unique, of 1-64 letters, digits, - and _; earlier minors have none (the writer drops it).
            if (doc.NbformatMinor < 5 && raw.ContainsKey("id")) idsBefore45++;
            if (doc.NbformatMinor >= 5 && raw.TryGetPropertyValue("id", out var id))
            {
                var text = id?.GetValueKind() == JsonValueKind.String ? id.GetValue<string>() : null;
                var why = text is null || !CellId().IsMatch(text) ? "is not an nbformat 4.5 cell id (1 to 64 letters, digits, - or _)"
                    : !ids.Add(text) ? "is an earlier cell's id too (ids are unique)" : null;
                if (why is not null)
                {
                    // Deterministic, so a re-run does not churn the file; the counter only matters for a clash.
                    string fresh;
                    for (int k = 0; !ids.Add(fresh = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                             Encoding.UTF8.GetBytes($"{doc.Name}|{number}|{k}")))[..8]); k++) { }
                    raw["id"] = fresh;
                    doc.Repairs.Add($"cell {number}: \"id\" {Shown(id)} {why}; written as \"{fresh}\"");
                }
            }
            // nbformat 4's cells allow no other keys (nbformat 3's prompt_number, collapsed at the top level): kept, the
            // executed notebook failed validation without a word. Dropped as nbformat's own normalize does, and said.
            foreach (var key in raw.Select(kv => kv.Key).Where(k => !(kind == CellKind.Code ? CodeCellKeys : TextCellKeys).Contains(k)).ToList())
            {
                doc.Repairs.Add($"cell {number}: \"{key}\", {Shown(raw[key])}, is not a key of an nbformat 4 {kind.ToString().ToLowerInvariant()} cell; dropped");
                raw.Remove(key);
            }
            var cell = new NotebookCell(kind, JoinSource(c["source"]), raw) { SourceNumber = number };
            cell.Kernel = KernelNames.Resolve(doc, cell);
            if (kind == CellKind.Code) cell.BodyStart = KernelNames.SelectorLine(doc, cell) + 1;
            doc.Cells.Add(cell);
        }
        // Ids came with nbformat 4.5 and earlier minors forbid them: the writer drops them, which was not said. Once for
        // the notebook, not once per cell.
        if (idsBefore45 > 0)
            doc.Repairs.Add($"{NumberText.Count(idsBefore45, "cell")} carry an \"id\", which nbformat 4.{doc.NbformatMinor} does not allow (ids came with 4.5); " +
                            "dropped: set \"nbformat_minor\": 5 in the file to keep them");
        return doc;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[a-zA-Z0-9_-]{1,64}\z")]
    private static partial System.Text.RegularExpressions.Regex CellId();

    const string Fix = "fix that field in the file, or re-save the notebook from VS Code or Jupyter";

    /// <summary>The keys nbformat 4's schema allows in a cell (outputs and execution_count are the run's own).</summary>
    static readonly HashSet<string> CodeCellKeys = ["id", "cell_type", "metadata", "source", "outputs", "execution_count"];
    static readonly HashSet<string> TextCellKeys = ["id", "cell_type", "metadata", "source", "attachments"];

    /// <summary>
    /// Every field the reader uses has the type nbformat gives it, so reading cannot fail half-way with a bare JSON
    /// library message: a misfit is one error naming the notebook, the cell, the field, what it holds and what it must.
    /// </summary>
    static void Check(string path, JsonObject root)
    {
        void Bad(string where, string field, JsonNode? found, string expected) =>
            throw new NotebookFormatException(path, $"{where}\"{field}\" is {Shown(found)}, expected {expected}", Fix);
        bool IsInt(JsonNode? n) => n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out _);
        // nullable: false where nbformat's schema allows no null (a kernelspec's fields, a cell's tags): null there was
        // read as absent and written as it was, so the executed .ipynb failed nbformat's validation.
        void String(JsonObject o, string where, string field, string prefix = "", bool nullable = true)
        {
            if (o.TryGetPropertyValue(field, out var n) && (n is null ? !nullable : n.GetValueKind() != JsonValueKind.String))
                Bad(where, prefix + field, n, "a string");
        }
        JsonObject? Object(JsonObject o, string where, string field, string prefix = "")
        {
            if (!o.TryGetPropertyValue(field, out var n) || n is null) return null;
            if (n is not JsonObject obj) { Bad(where, prefix + field, n, "an object"); return null; }
            return obj;
        }
        void Strings(JsonObject o, string where, string field, string prefix = "", bool nullable = true, bool distinct = false)
        {
            if (!o.TryGetPropertyValue(field, out var n) || (n is null && nullable)) return;
            if (n is not JsonArray a || a.Any(x => x?.GetValueKind() != JsonValueKind.String)) Bad(where, prefix + field, n, "a list of strings");
            else if (distinct && a.Select(x => x!.GetValue<string>()).Distinct(StringComparer.Ordinal).Count() != a.Count)
                Bad(where, prefix + field, n, "a list of distinct strings (nbformat's tags are unique)");
        }
        // The fields nbformat's schema types in a cell's metadata beside those the reader uses: written back as they
        // were, a misfit made the executed .ipynb fail validation.
        void Bool(JsonObject o, string where, string field, string prefix, params string[] alsoText)
        {
            if (o.TryGetPropertyValue(field, out var n) && n?.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)
                && !(n?.GetValueKind() == JsonValueKind.String && alsoText.Contains(n.GetValue<string>())))
                Bad(where, prefix + field, n, alsoText.Length == 0 ? "true or false" : $"true, false or \"{string.Join("\", \"", alsoText)}\"");
        }

        if (!root.TryGetPropertyValue("nbformat", out var nbformat))
            throw new NotebookFormatException(path, "no \"nbformat\" field (a Jupyter notebook has \"nbformat\": 4)", Fix);
        if (!IsInt(nbformat)) Bad("", "nbformat", nbformat, "the whole number 4");
        // nbformat's schema has a minimum of 0: -1 was run and written, and the executed .ipynb failed validation.
        if (root.TryGetPropertyValue("nbformat_minor", out var minor) && !(IsInt(minor) && minor!.GetValue<int>() >= 0))
            Bad("", "nbformat_minor", minor, "a whole number, 0 or more");
        if (Object(root, "", "metadata") is { } meta)
        {
            if (Object(meta, "", "kernelspec", "metadata.") is { } spec)
                foreach (var f in new[] { "name", "language", "display_name" }) String(spec, "", f, "metadata.kernelspec.", nullable: false);
            if (Object(meta, "", "language_info", "metadata.") is { } info) String(info, "", "name", "metadata.language_info.", nullable: false);
            if (Object(meta, "", "polyglot_notebook", "metadata.") is { } pn && Object(pn, "", "kernelInfo", "metadata.polyglot_notebook.") is { } ki)
            {
                String(ki, "", "defaultKernelName", "metadata.polyglot_notebook.kernelInfo.");
                if (ki.TryGetPropertyValue("items", out var items) && items is not null)
                {
                    if (items is not JsonArray list) { Bad("", "metadata.polyglot_notebook.kernelInfo.items", items, "a list of objects"); return; }
                    foreach (var item in list)
                    {
                        if (item is not JsonObject o) { Bad("", "metadata.polyglot_notebook.kernelInfo.items", items, "a list of objects"); return; }
                        String(o, "", "name", "metadata.polyglot_notebook.kernelInfo.items[].");
                        Strings(o, "", "aliases", "metadata.polyglot_notebook.kernelInfo.items[].");
                    }
                }
            }
        }
        if (root["cells"] is not JsonArray cells) return; // said by the caller
        for (int i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not JsonObject c) continue; // said by the caller, with the cell's number
            var where = $"cell {i + 1}: ";
            if (!c.TryGetPropertyValue("cell_type", out var type) || type?.GetValueKind() != JsonValueKind.String)
                Bad(where, "cell_type", type, "\"code\", \"markdown\" or \"raw\"");
            if (c.TryGetPropertyValue("source", out var source) && source is not null &&
                source.GetValueKind() != JsonValueKind.String &&
                (source is not JsonArray lines || lines.Any(l => l?.GetValueKind() != JsonValueKind.String)))
                Bad(where, "source", source, "a string or a list of strings");
            // A markdown or raw cell's attachments (a code cell's are dropped as a repair) are nbformat's object of named
            // MIME bundles: "" or a list was written back as it was, and the executed .ipynb failed validation.
            if (type?.GetValue<string>() is "markdown" or "raw" && c.TryGetPropertyValue("attachments", out var attachments))
            {
                const string named = "an object of named images, each an object of MIME type to base64 text (nbformat 4's attachments)";
                if (attachments is not JsonObject files) Bad(where, "attachments", attachments, named);
                else
                    foreach (var (name, bundle) in files)
                        if (bundle is not JsonObject mimes || mimes.Any(kv => !JsonMime().IsMatch(kv.Key) && kv.Value?.GetValueKind() != JsonValueKind.String &&
                                                                                 (kv.Value is not JsonArray parts || parts.Any(x => x?.GetValueKind() != JsonValueKind.String))))
                            Bad(where, $"attachments.{name}", bundle, "an object of MIME type to base64 text (a string or a list of strings)");
            }
            if (Object(c, where, "metadata") is not { } cm) continue;
            Strings(cm, where, "tags", "metadata.", nullable: false, distinct: true);
            String(cm, where, "name", "metadata.", nullable: false);
            if (type?.GetValue<string>() == "code")
            {
                Bool(cm, where, "collapsed", "metadata.");
                Bool(cm, where, "scrolled", "metadata.", "auto");
                if (Object(cm, where, "execution", "metadata.") is { } ex)
                    foreach (var (key, _) in ex) String(ex, where, key, "metadata.execution.", nullable: false); // its schema: every value a string
            }
            if (Object(cm, where, "jupyter", "metadata.") is { } ju)
                foreach (var f in new[] { "source_hidden", "outputs_hidden" }) Bool(ju, where, f, "metadata.jupyter.");
            if (Object(cm, where, "polyglot_notebook", "metadata.") is { } pn) String(pn, where, "kernelName", "metadata.polyglot_notebook.");
            if (Object(cm, where, "dotnet_interactive", "metadata.") is { } di) String(di, where, "language", "metadata.dotnet_interactive.");
        }
    }

    /// <summary>The MIME types nbformat keeps as JSON in a bundle (any value); the others hold text.</summary>
    [GeneratedRegex(@"^application/(.*\+)?json$")]
    private static partial Regex JsonMime();

    /// <summary>Where the first key that appears twice in one object is, as a message: which cell, which field, which line.
    /// The parser's own exception says only the key's name. Null when there is none (the JSON is broken otherwise).</summary>
    static string? DuplicateKey(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(bytes);
        // Per open object its keys so far (per open array null); the path holds the key or the index leading to each.
        var keys = new Stack<HashSet<string>?>();
        var path = new List<object>();
        try
        {
            while (reader.Read())
            {
                if (keys.TryPeek(out var top) && top is null && reader.TokenType != JsonTokenType.EndArray) path[^1] = (int)path[^1] + 1;
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject: keys.Push([]); path.Add(""); break;
                    case JsonTokenType.StartArray: keys.Push(null); path.Add(-1); break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray: keys.Pop(); path.RemoveAt(path.Count - 1); break;
                    case JsonTokenType.PropertyName:
                        var key = reader.GetString()!;
                        path[^1] = key;
                        if (keys.Peek()!.Add(key)) break;
                        var line = bytes.AsSpan(0, (int)reader.TokenStartIndex).Count((byte)'\n') + 1;
                        var cell = path is ["cells", int i, ..] ? $"cell {i + 1}: " : "";
                        var under = string.Join(".", path.Skip(cell.Length > 0 ? 2 : 0).SkipLast(1).OfType<string>());
                        return $"{cell}the key \"{key}\" appears twice in {(under.Length > 0 ? $"\"{under}\"" : cell.Length > 0 ? "the cell" : "the top-level object")} (the second at line {line})";
                }
            }
        }
        catch (JsonException) { }
        return null;
    }

    static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A JSON value as an error message shows it: its kind, and the value itself when short.</summary>
    static string Shown(JsonNode? n)
    {
        if (n is null) return "missing or null";
        // Unescaped (a + is +, an é is é), as the file has it; control characters stay escaped, for the terminal.
        var text = n.ToJsonString(Relaxed);
        if (text.Length > 40) text = text[..(char.IsHighSurrogate(text[36]) ? 36 : 37)] + "...";
        return n.GetValueKind() switch
        {
            JsonValueKind.String => $"the string {text}",
            JsonValueKind.Number => $"the number {text}",
            JsonValueKind.True or JsonValueKind.False => $"the boolean {text}",
            JsonValueKind.Array => $"a list ({text})",
            _ => $"an object ({text})",
        };
    }

    /// <summary>nbformat stores multi-line strings either as one string or as a list of lines; both mean the same.</summary>
    public static string JoinSource(JsonNode? node) => node switch
    {
        JsonArray a => string.Concat(a.Select(l => l?.GetValue<string>() ?? "")),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };

    static string DefaultFromSpec(JsonObject meta)
    {
        var spec = meta["kernelspec"]?["name"]?.GetValue<string>();
        return spec switch
        {
            ".net-fsharp" => "fsharp",
            ".net-pwsh" or ".net-powershell" => "pwsh",
            _ => KernelNames.CSharp,
        };
    }

    /// <summary>A \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one, or the second without the first; an escape
    /// only after an even number of backslashes (\\uD800 is a backslash and text).</summary>
    [GeneratedRegex(@"(?<=(?:^|[^\\])(?:\\\\)*)(?<esc>\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})")]
    private static partial Regex LoneSurrogate();
}
