using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Distill.Notebooks.Documents;

/// <summary>Reads a Polyglot <c>.dib</c> file: optional <c>#!meta</c> + one JSON line with <c>kernelInfo</c>; a line
/// <c>#!kernel</c> naming a known kernel starts a cell; other <c>#!</c> lines (<c>#!time</c>) stay in the cell; text
/// before the first selector belongs to the default kernel; blank edges are trimmed and empty cells dropped.</summary>
public static class DibReader
{
    public static NotebookDocument Read(string path, string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var doc = new NotebookDocument { Path = path, NbformatMinor = 5 };
        int i = 0;
        while (i < lines.Length && lines[i].Trim().Length == 0) i++;
        JsonObject? kernelInfo = null;
        if (i < lines.Length && lines[i].Trim() == "#!meta")
        {
            var json = new StringBuilder();
            for (i++; i < lines.Length && !lines[i].TrimStart().StartsWith("#!", StringComparison.Ordinal); i++) json.Append(lines[i]).Append('\n');
            // A key twice is refused here, not by a bare ArgumentException at the first lookup.
            try { kernelInfo = JsonNode.Parse(json.ToString(), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false })?["kernelInfo"] as JsonObject; }
            catch (JsonException e)
            {
                throw new NotebookFormatException(path, $"the #!meta block is not valid JSON ({e.Message.Split('.')[0]})", "fix or delete the #!meta block");
            }
            // Valid JSON of the wrong shape (an array; a number where a kernel name goes): the JSON nodes say so with an
            // InvalidOperationException that names neither the file nor the block.
            catch (InvalidOperationException e)
            {
                throw new NotebookFormatException(path, $"the #!meta block is not a JSON object with kernelInfo ({e.Message.TrimEnd('.')})", "fix or delete the #!meta block");
            }
            try { KernelNames.ApplyKernelInfo(doc, kernelInfo); }
            catch (InvalidOperationException e)
            {
                throw new NotebookFormatException(path, $"the #!meta block's kernelInfo has a value of the wrong type ({e.Message.TrimEnd('.')}): kernel names and aliases are strings", "fix or delete the #!meta block");
            }
        }
        var defaultKernel = doc.DefaultKernel;
        string kernel = defaultKernel;
        var body = new List<string>();
        int number = 0;
        void Flush()
        {
            int start = 0, end = body.Count;
            while (start < end && body[start].Trim().Length == 0) start++;
            while (end > start && body[end - 1].Trim().Length == 0) end--;
            if (end > start)
            {
                var source = string.Join("\n", body.Skip(start).Take(end - start));
                var isMd = kernel == KernelNames.Markdown;
                var raw = new JsonObject { ["metadata"] = isMd ? new JsonObject() : KernelMetadata(kernel) };
                doc.Cells.Add(new NotebookCell(isMd ? CellKind.Markdown : CellKind.Code, source, raw) { SourceNumber = ++number, Kernel = kernel });
            }
            body.Clear();
        }
        for (; i < lines.Length; i++)
        {
            if (KernelNames.Selector(doc, lines[i]) is { } k) { Flush(); kernel = k; continue; }
            body.Add(lines[i]);
        }
        Flush();
        doc.Metadata["kernelspec"] = new JsonObject { ["name"] = ".net-csharp", ["language"] = "C#", ["display_name"] = ".NET (C#)" };
        doc.Metadata["language_info"] = new JsonObject { ["name"] = "polyglot-notebook" };
        doc.Metadata["polyglot_notebook"] = new JsonObject
        {
            ["kernelInfo"] = kernelInfo?.DeepClone() ?? new JsonObject
            {
                ["defaultKernelName"] = defaultKernel,
                ["items"] = new JsonArray(new JsonObject { ["name"] = KernelNames.CSharp, ["aliases"] = new JsonArray() }),
            },
        };
        return doc;
    }

    /// <summary>Cell metadata as VS Code writes it for a code cell of <paramref name="kernel"/>.</summary>
    public static JsonObject KernelMetadata(string kernel) => new()
    {
        ["dotnet_interactive"] = new JsonObject { ["language"] = kernel },
        ["polyglot_notebook"] = new JsonObject { ["kernelName"] = kernel },
    };
}
