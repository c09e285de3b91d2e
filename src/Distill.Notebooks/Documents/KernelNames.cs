using System.Text.Json.Nodes;

namespace Distill.Notebooks.Documents;

/// <summary>Polyglot kernel names and how a cell's kernel is resolved (as VS Code Polyglot Notebooks does): a first line
/// <c>#!name</c> naming a kernel wins, then <c>metadata.polyglot_notebook.kernelName</c>, then the legacy
/// <c>metadata.dotnet_interactive.language</c>, then the notebook's default kernel.</summary>
public static class KernelNames
{
    public const string CSharp = "csharp";
    public const string Markdown = "markdown";
    public const string Html = "html";

    /// <summary>Every kernel a stock Polyglot install knows, with its aliases (case as Polyglot writes them).</summary>
    public static Dictionary<string, string> WellKnownAliases() => new(StringComparer.OrdinalIgnoreCase)
    {
        ["csharp"] = CSharp, ["c#"] = CSharp,
        ["fsharp"] = "fsharp", ["f#"] = "fsharp",
        ["pwsh"] = "pwsh", ["powershell"] = "pwsh",
        ["javascript"] = "javascript", ["js"] = "javascript",
        ["html"] = Html, ["sql"] = "sql", ["kql"] = "kql", ["mermaid"] = "mermaid", ["http"] = "http",
        ["value"] = "value", ["python"] = "python", ["r"] = "r",
        ["markdown"] = Markdown, ["md"] = Markdown,
    };

    /// <summary>Reads <c>kernelInfo {defaultKernelName, items[{name, aliases}]}</c> into the document.</summary>
    public static void ApplyKernelInfo(NotebookDocument doc, JsonObject? kernelInfo)
    {
        if (kernelInfo is null) return;
        if (kernelInfo["items"] is JsonArray items)
            foreach (var item in items.OfType<JsonObject>())
            {
                if (item["name"]?.GetValue<string>() is not { Length: > 0 } name) continue;
                var canonical = doc.KernelAliases.TryGetValue(name, out var known) ? known : name;
                doc.KernelAliases[name] = canonical;
                if (item["aliases"] is JsonArray aliases)
                    foreach (var a in aliases)
                        if (a?.GetValue<string>() is { Length: > 0 } alias) doc.KernelAliases[alias.TrimStart('#', '!')] = canonical;
            }
        if (kernelInfo["defaultKernelName"]?.GetValue<string>() is { Length: > 0 } def)
            doc.DefaultKernel = doc.KernelAliases.TryGetValue(def, out var k) ? k : def;
    }

    /// <summary>The kernel named by a <c>#!name</c> line, or null when the line is not a kernel selector
    /// (e.g. <c>#!time</c>, or an indented <c>#!fsharp</c>).</summary>
    public static string? Selector(NotebookDocument doc, string line)
    {
        // Only at the start of the line, as the kernel reads magics (and its .dib reader, line.StartsWith("#!")): an
        // indented ` #!fsharp` made a C# cell an F# one here, where the kernel's C# compiler gets it (CS1040).
        var t = line.TrimEnd();
        // `#! html` is no selector: the kernel reads the magic '#!' there (DNI101, "Unknown magic command '#!'").
        if (!t.StartsWith("#!", StringComparison.Ordinal) || (t.Length > 2 && char.IsWhiteSpace(t[2]))) return null;
        var name = t[2..].Trim();
        return name.Length > 0 && !name.Contains(' ', StringComparison.Ordinal) && doc.KernelAliases.TryGetValue(name, out var k)
               && (doc.KernelAliases.Keys.Contains(name, StringComparer.Ordinal) || UpperCaseAliases.Contains(name)) ? k : null;
    }

    /// <summary>A <c>#!name</c> line names a kernel in its exact spelling, as the kernel matches it: <c>#!CSharp</c> and
    /// <c>#!MD</c> are unknown magics there (DNI101), which ran here as C# and markdown. The kernel's own aliases in upper
    /// case; a notebook's metadata may spell names in any case (looked up as they are, ignoring it).</summary>
    static readonly HashSet<string> UpperCaseAliases = new(StringComparer.Ordinal) { "C#", "F#" };

    /// <summary>The 0-based line of a code cell's kernel selector, or -1 when it has none: its first line that is not
    /// blank, if that names a kernel. The kernel splits a cell at a selector, and a part above it of blank lines alone
    /// runs nothing: a cell of a blank line and then <c>#!html</c> is an HTML cell there.</summary>
    public static int SelectorLine(NotebookDocument doc, NotebookCell cell)
    {
        var lines = cell.Source.Split('\n');
        var first = Array.FindIndex(lines, l => !string.IsNullOrWhiteSpace(l));
        return first >= 0 && Selector(doc, lines[first]) is not null ? first : -1;
    }

    public static string Resolve(NotebookDocument doc, NotebookCell cell) =>
        cell.Kind == CellKind.Markdown ? Markdown : Named(doc, cell) ?? doc.DefaultKernel;

    /// <summary>The kernel a code cell names itself (a selector as its first line, or its cell metadata), or null when it
    /// takes the notebook's default.</summary>
    public static string? Named(NotebookDocument doc, NotebookCell cell)
    {
        if (SelectorLine(doc, cell) is int at and >= 0) return Selector(doc, cell.Source.Split('\n')[at]);
        var fromMeta = cell.Metadata["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
            ?? cell.Metadata["dotnet_interactive"]?["language"]?.GetValue<string>();
        return fromMeta is { Length: > 0 } ? doc.KernelAliases.TryGetValue(fromMeta, out var k) ? k : fromMeta : null;
    }
}
