using System.Text;
using System.Text.Json.Nodes;
using Distill.Notebooks.Execution;

namespace Distill.Notebooks.Documents;

public enum CellKind { Markdown, Code, Raw }

/// <summary>One cell as read from a notebook, plus what running it produced. <see cref="Raw"/> keeps the original JSON so
/// that everything we do not interpret (ids, attachments, unknown metadata) round-trips into the executed notebook.</summary>
public sealed class NotebookCell
{
    public NotebookCell(CellKind kind, string source, JsonObject? raw = null)
    {
        Kind = kind;
        Source = source;
        Raw = raw ?? [];
        Metadata = Raw["metadata"] as JsonObject ?? [];
    }

    public CellKind Kind { get; }
    public string Source { get; set; }
    public JsonObject Raw { get; }
    public JsonObject Metadata { get; }
    /// <summary>Kernel name after resolution (<c>csharp</c>, <c>fsharp</c>, <c>markdown</c>, ...); see <see cref="KernelNames"/>.</summary>
    public string Kernel { get; set; } = KernelNames.CSharp;
    /// <summary>Lines before the text the cell's kernel is given: its kernel selector and any blank lines above it (0 when
    /// no line names the kernel: cell metadata, or a .dib cell, whose selector is its separator). See
    /// <see cref="KernelNames.SelectorLine"/>.</summary>
    public int BodyStart { get; set; }
    /// <summary>1-based position in the source file; null for a cell the runner inserted (injected parameters).</summary>
    public int? SourceNumber { get; init; }
    public List<CellOutput> Outputs { get; } = [];
    public int? ExecutionCount { get; set; }

    public IReadOnlyList<string> Tags =>
        Metadata["tags"] is JsonArray a ? a.Select(t => t?.GetValue<string>() ?? "").ToList() : [];

    public bool HasTag(string tag) => Tags.Contains(tag, StringComparer.Ordinal);

    /// <summary>How messages name the cell: its number in the source file, or its role when the runner inserted it.</summary>
    public string Label => SourceNumber is int n ? $"cell {n}" : HasTag(ParameterInjector.InjectedTag) ? "injected-parameters cell" : "inserted cell";
}

/// <summary>A notebook in memory: .ipynb (nbformat 4) or .dib, normalized to the ipynb shape.</summary>
public sealed class NotebookDocument
{
    public required string Path { get; init; }
    public JsonObject Metadata { get; init; } = [];
    public int NbformatMinor { get; set; } = 5;
    public List<NotebookCell> Cells { get; } = [];

    /// <summary>What the reader put right that nbformat's validation (and so Jupyter) refuses, one line each naming the
    /// cell: the executed notebook is written repaired, so it validates, and the runner warns of each.</summary>
    public List<string> Repairs { get; } = [];
    /// <summary>Kernel of a cell that names none (Polyglot's <c>defaultKernelName</c>).</summary>
    public string DefaultKernel { get; set; } = KernelNames.CSharp;
    /// <summary>Alias → kernel name, from the notebook's <c>kernelInfo</c> plus the well-known Polyglot names.</summary>
    public Dictionary<string, string> KernelAliases { get; } = KernelNames.WellKnownAliases();

    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);

    /// <summary>Why this notebook is not one the C# runner executes (a Python or R kernelspec, an F# or PowerShell default
    /// kernel), else null. Such a notebook is refused before anything runs: its cells are never compiled as C#.</summary>
    public string? ForeignKernel()
    {
        var spec = Metadata["kernelspec"]?["name"]?.GetValue<string>();
        var language = Metadata["kernelspec"]?["language"]?.GetValue<string>() ?? Metadata["language_info"]?["name"]?.GetValue<string>();
        if (spec is { Length: > 0 } && !spec.StartsWith(".net-", StringComparison.OrdinalIgnoreCase))
            return $"its kernel is '{spec}'{(language is { Length: > 0 } ? $" ({language})" : "")}, not the .NET C# kernel";
        if (spec is null && language is { Length: > 0 } && !IsDotNetLanguage(language))
            return $"its language is '{language}', not C#";
        // A .NET notebook whose every code cell says C# (#!csharp, or its cell metadata) runs as C# whatever its default
        // (the F# kernel runs those cells in its C# subkernel, under Jupyter and in VS Code): the default reaches no cell.
        // Named by the cell itself: a cell that takes the default is F# to an F# kernel, whatever VS Code's metadata says.
        // Markdown and HTML cells that say so run the same under any default kernel.
        if (Cells.Where(c => c.Kind == CellKind.Code && !string.IsNullOrWhiteSpace(c.Source)).All(c => KernelNames.Named(this, c) is KernelNames.CSharp or KernelNames.Markdown or KernelNames.Html))
            return null;
        if (DefaultKernel != KernelNames.CSharp)
            return $"its default kernel is '{DefaultKernel}', not C#";
        // Jupyter starts the kernelspec's kernel and VS Code the Polyglot default: saved by one with the other's metadata
        // left, the notebook is F# to Jupyter and was compiled here as C# (CS1002). Which one was meant is a guess.
        if (Metadata["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"]?.GetValue<string>() is { } polyglot &&
            NotCSharp(spec, language, Metadata["language_info"]?["name"]?.GetValue<string>()) is { } other)
            return $"{other}, but metadata.polyglot_notebook.kernelInfo.defaultKernelName is '{polyglot}': Jupyter follows the first, VS Code the second";
        return null;
    }

    static string? NotCSharp(string? spec, string? specLanguage, string? infoName) =>
        spec is { Length: > 0 } && !spec.Equals(".net-csharp", StringComparison.OrdinalIgnoreCase) ? $"metadata.kernelspec.name is '{spec}'"
        : specLanguage is { Length: > 0 } && !IsDotNetLanguage(specLanguage) ? $"metadata.kernelspec.language is '{specLanguage}'"
        : infoName is { Length: > 0 } && !IsDotNetLanguage(infoName) ? $"metadata.language_info.name is '{infoName}'"
        : null;

    static bool IsDotNetLanguage(string language) =>
        language.ToLowerInvariant() is "c#" or "csharp" or "polyglot-notebook" or "dotnet-interactive.csharp";

    public static NotebookDocument Load(string path)
    {
        if (FilePaths.NotAFile(path) is { } what)
            throw new NotebookFormatException(path, $"this is {what}", "pass the path of a Polyglot notebook file (.ipynb or .dib)");
        if (!File.Exists(path))
            throw new NotebookFormatException(path, "file not found", "check the path (relative paths are taken from the current directory)");
        if (FilePaths.NothingToRead(path))
            throw new NotebookFormatException(path, "the file is empty (or not a regular file, e.g. a FIFO)", "pass a saved Polyglot notebook (.ipynb or .dib)");
        return System.IO.Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".ipynb" => IpynbReader.Read(path, ReadUtf8(path)),
            ".dib" => DibReader.Read(path, ReadUtf8(path)),
            var ext => throw new NotebookFormatException(path, $"unknown notebook extension '{ext}'", "pass a Polyglot notebook (.ipynb or .dib)"),
        };
    }

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The file's text, decoded strictly: nbformat and .dib are UTF-8, and a byte that is not (a Latin-1 é, a
    /// UTF-16 file) would otherwise become U+FFFD silently and run as such. A UTF-8 byte-order mark is dropped.</summary>
    static string ReadUtf8(string path)
    {
        byte[] bytes;
        // As the data loader says it: .NET's "Access to the path is denied" alone names no fix.
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new NotebookFormatException(path, $"cannot be read ({e.Message.TrimEnd('.')})", "check the file's permissions");
        }
        try { return StrictUtf8.GetString(bytes).TrimStart('\uFEFF'); }
        catch (DecoderFallbackException e)
        {
            var at = Math.Max(e.Index, 0);
            var line = bytes.AsSpan(0, at).Count((byte)'\n') + 1;
            var utf16 = bytes is [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..] ? " (the file starts with a UTF-16 byte-order mark)" : "";
            throw new NotebookFormatException(path, $"byte 0x{bytes[at]:X2} at offset {at} (line {line}) is not UTF-8{utf16}",
                "save the file as UTF-8 (VS Code: \"Save with Encoding\", UTF-8; Notepad: \"Save as\", encoding UTF-8)");
        }
    }
}

/// <summary>A notebook file that cannot be read: names the file, the problem and the fix.</summary>
public sealed class NotebookFormatException(string path, string problem, string fix)
    : Exception($"{path}: {problem}; {fix}.")
{
    public string NotebookPath { get; } = path;
}
