using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distill.Notebooks.Documents;

/// <summary>Reads a Jupyter notebook (nbformat 4) as VS Code Polyglot Notebooks writes it.</summary>
public static class IpynbReader
{
    public static NotebookDocument Read(string path, string json)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }) as JsonObject
                ?? throw new NotebookFormatException(path, "the file is not a JSON object", "open and save it in VS Code, or check that it is a notebook");
        }
        catch (JsonException e)
        {
            throw new NotebookFormatException(path, $"not valid JSON (line {e.LineNumber + 1}: {e.Message.Split('.')[0]})",
                "fix the JSON, or re-save the notebook from VS Code");
        }
        int major = root["nbformat"]?.GetValue<int>() ?? 0;
        if (major != 4)
            throw new NotebookFormatException(path, $"nbformat {major} is not supported (only nbformat 4)",
                "convert it with `jupyter nbconvert --to notebook --nbformat 4`, or re-save it from VS Code");
        var meta = root["metadata"] as JsonObject ?? [];
        var doc = new NotebookDocument { Path = path, Metadata = (JsonObject)meta.DeepClone(), NbformatMinor = root["nbformat_minor"]?.GetValue<int>() ?? 0 };
        doc.DefaultKernel = DefaultFromSpec(meta);
        KernelNames.ApplyKernelInfo(doc, meta["polyglot_notebook"]?["kernelInfo"] as JsonObject);

        if (root["cells"] is not JsonArray cells)
            throw new NotebookFormatException(path, "no \"cells\" array", "check that the file is a Jupyter notebook");
        int number = 0;
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
            var cell = new NotebookCell(kind, JoinSource(c["source"]), raw) { SourceNumber = number };
            cell.Kernel = KernelNames.Resolve(doc, cell);
            doc.Cells.Add(cell);
        }
        return doc;
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
}
