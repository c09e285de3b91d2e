using System.Text.RegularExpressions;
using Distill.Notebooks.Documents;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Distill.Notebooks.Execution;

/// <summary>A <c>#r "nuget: Name, Version"</c> request; no version means latest stable, like the kernel.</summary>
public sealed record PackageRequest(string Name, string? Version)
{
    public bool IsFloating => Version is null || Version.Contains('*', StringComparison.Ordinal);
    public override string ToString() => Version is null ? Name : $"{Name}, {Version}";
}

/// <summary>A magic the runner rejects, with the cell-relative line and an error name shown in the output.</summary>
public sealed record MagicError(int Line, string EName, string Message);

/// <summary>A C# cell after its magic lines were taken out. <see cref="Code"/> keeps one line per source line (magic lines
/// become blank) so compiler and stack-trace line numbers stay cell-relative.</summary>
public sealed class ParsedCell
{
    public string Code { get; set; } = "";
    public List<(PackageRequest Package, int Line)> Packages { get; } = [];
    public List<(string Path, int Line)> AssemblyPaths { get; } = [];
    public List<string> Sources { get; } = [];
    /// <summary>Each of <see cref="Sources"/> as written after "nuget:" (spaces included), as the kernel lists them.</summary>
    public List<string> WrittenSources { get; } = [];
    public bool Time { get; set; }
    public List<MagicError> Errors { get; } = [];
    /// <summary>The 0-based lines of C# selectors (#!csharp, #!c#) below code: the kernel runs what follows each as a
    /// submission of its own, each with its own value.</summary>
    public List<int> Splits { get; } = [];

    /// <summary><see cref="Code"/> as the kernel submits it: one piece per <see cref="Splits"/> part, each padded with the
    /// lines above it left blank, so compiler and exception line numbers stay the cell's.</summary>
    public IEnumerable<string> Submissions()
    {
        var lines = Code.Split('\n');
        var bounds = Splits.Prepend(0).Append(lines.Length).ToList();
        for (int k = 0; k + 1 < bounds.Count; k++)
            yield return new string('\n', bounds[k]) + string.Join('\n', lines[bounds[k]..bounds[k + 1]]);
    }
}

/// <summary>Polyglot's magic commands as users write them: <c>#r "nuget: ..."</c>, <c>#r "path.dll"</c>,
/// <c>#i "nuget: source"</c>, <c>#!time</c>; a kernel selector as first line; <c>#load "file.csx"</c> (Roslyn's, checked here). Everything else beginning with <c>#!</c> fails
/// the cell before it runs (DNI101 in the real kernel).</summary>
public static partial class Magics
{
    /// <summary>Real .NET Interactive magics that need the kernel's infrastructure, each with what to do instead; refused
    /// with that (docs/notebook-runner.md lists them).</summary>
    static readonly Dictionary<string, string> KernelOnly = new(StringComparer.OrdinalIgnoreCase)
    {
        ["set"] = "#!set takes a value from another kernel or from user input; assign the variable in C# instead (a run's input comes in as a parameter, -p name=value)",
        ["share"] = "#!share copies a variable from another kernel, and distill run has only the C# one; compute the value in C# instead",
        ["value"] = "#!value keeps text for other kernels; put the text in a C# string (a raw string literal \"\"\"...\"\"\") instead",
        ["import"] = "#!import runs another notebook or file in the kernel; copy its cells into this notebook, or load C# code with #load \"file.csx\"",
        ["who"] = "#!who and #!whos only list the kernel's variables; remove the line (print what you need with Console.WriteLine)",
        ["whos"] = "#!who and #!whos only list the kernel's variables; remove the line (print what you need with Console.WriteLine)",
        ["lsmagic"] = "#!lsmagic and #!about only show the kernel's own help; remove the cell",
        ["about"] = "#!lsmagic and #!about only show the kernel's own help; remove the cell",
        ["kernels"] = "#!kernels only lists the kernel's subkernels; remove the line",
        ["connect"] = "#!connect attaches another kernel (SQL, Kusto, Jupyter, a remote .NET kernel), and distill run has only the C# one; reach that service from C# (its client library by #r \"nuget: ...\") instead",
        ["log"] = "#!log only turns on the kernel's own diagnostic log; remove the line",
        ["!"] = "#!! is the kernel's own command, not C#; remove the line, or do what it does in C#",
    };

    /// <summary>The magics distill run supports, as the unknown-magic error lists them (docs/notebook-runner.md, "Magics").</summary>
    public const string Known = "#!csharp (#!c#) anywhere, #!markdown (#!md) and #!html as a cell's first line, #!time, #r \"nuget: Name, Version\", " +
                                "#r \"path/to.dll\", #i \"nuget: source\" and #load \"file.csx\"";

    [GeneratedRegex("""^#r\s+"nuget:\s*(?<name>[^,"\s]+)\s*(?:,\s*(?<version>[^"\s]*)\s*)?"\s*$""")]
    private static partial Regex NuGetRef();

    [GeneratedRegex("""^#r\s+"(?<path>[^"]+)"\s*$""")]
    private static partial Regex PathRef();

    /// <summary>What NuGet reads as a version and the kernel restores: 1-4 numeric parts (the last may float, *), an
    /// optional prerelease label and build metadata, or an exact version in brackets ([1.2.3]). Anything else would be
    /// taken as some other version silently. A range with a comma ([1.0,2.0), (,3.0]) is NuGet's, but the kernel's
    /// restore of it fails (MSB4181, checked with nbconvert on the .net-csharp kernel): refused before this is asked,
    /// with its own message.</summary>
    [GeneratedRegex(@"^(?:\*(?:-\*)?|\d+(?:\.\d+){0,3}(?:\.\*)?(?:-[0-9A-Za-z.*-]+)?(?:\+[0-9A-Za-z.-]+)?|[\[(][^\[\](),]*[\])])$")]
    private static partial Regex NuGetVersion();

    [GeneratedRegex("""^#load\s+"(?<path>[^"]+)"\s*$""")]
    private static partial Regex LoadRef();

    static string RelativeTo(string folder) =>
        $"relative paths are taken from the current directory, {folder} (the notebook's folder unless a cell changed it, as in the kernel)";

    [GeneratedRegex("""^#i\s+"nuget:\s*(?<source>[^"]+?)\s*"\s*$""")]
    private static partial Regex SourceRef();

    /// <param name="folder">Where relative #r and #load paths are taken from: the current directory when the cell
    /// starts, as in the kernel (the notebook's folder unless a cell changed it).</param>
    public static ParsedCell Parse(NotebookDocument doc, string source, string folder)
    {
        // Split on \n only: a CRLF line keeps its \r, so the joined code is the source unchanged (a verbatim or raw string
        // spanning a CRLF keeps both characters, as in the kernel) and line numbers stay cell-relative. Trim drops the \r
        // where magic lines are read; a magic line is blanked whole.
        var lines = source.Split('\n');
        var parsed = new ParsedCell();
        SyntaxNode? root = null;
        // Where each line starts in the source, from the lines as given: a line blanked or rewritten below (a magic, a
        // #load's full path) moved every later line's start, and after a #!time the check below looked at the wrong place,
        // blanking a #!csharp inside a string unsaid and refusing a second #!time as inside one.
        var starts = new int[lines.Length];
        for (int i = 1; i < lines.Length; i++) starts[i] = starts[i - 1] + lines[i - 1].Length + 1;
        var codeAbove = false; // a line the compiler reads, above this one
        for (int i = 0; i < lines.Length; codeAbove |= lines[i].Trim().Length > 0, i++)
        {
            var start = starts[i];
            var t = lines[i].Trim();
            int line = i + 1;
            // The kernel reads #!, #r "nuget:" and #i only at the start of a line; indented, they reach the compiler, which
            // refuses them (CS1040, CS0006, CS1024), so they are left in the code to fail here as there. An indented
            // #r "path.dll" is the compiler's own directive, which the kernel's compiler loads: it stays a reference.
            bool atStart = lines[i].StartsWith('#');
            if (!atStart && !t.StartsWith("#r ", StringComparison.Ordinal)) continue;
            if (!atStart && t.Contains("\"nuget:", StringComparison.Ordinal)) continue;
            // A line inside a multi-line string or comment (a notebook that shows how to write a magic): the compiler
            // never reads #load or #r "path" there, so they stay text, as in the kernel. The kernel's own magics (#!, #r
            // "nuget:", #i) it reads line by line all the same and splits the cell there; blanked here, the string lost
            // the line without a word. Said instead.
            if (i > 0 && InsideText(root ??= CSharpSyntaxTree.ParseText(source, TextOptions).GetRoot(), start) is { } inside)
            {
                if (t.StartsWith("#!", StringComparison.Ordinal) || t.StartsWith("#i ", StringComparison.Ordinal) || t.Contains("\"nuget:", StringComparison.Ordinal))
                    parsed.Errors.Add(new(line, "MagicInText",
                        $"'{t}' (line {line}) starts a line inside {inside}; the .NET kernel reads it as a magic command all the same and splits the cell there. " +
                        $"Write that line another way (e.g. \"#\" + \"{t[1..].Replace("\"", "\\\"", StringComparison.Ordinal)}\")"));
                continue;
            }
            if (t.StartsWith("#!", StringComparison.Ordinal))
            {
                var name = t[2..].Split(' ', 2)[0];
                var kernel = KernelNames.Selector(doc, t);
                if (name == "time") parsed.Time = true;
                // Below code, the kernel splits the cell there (checked with nbconvert on the .net-csharp kernel:
                // "1 + 1\n#!csharp\n2 + 2" shows 2 and 4); joined, it failed here with CS1002.
                else if (kernel == KernelNames.CSharp) { if (codeAbove) parsed.Splits.Add(i); }
                else if (kernel == KernelNames.Html)
                    parsed.Errors.Add(new(line, "UnsupportedKernel",
                        $"line {line} switches to the html kernel ('{t}'); distill run shows HTML from a #!html cell of its own: move the lines from here into one"));
                else if (kernel is not null)
                    parsed.Errors.Add(new(line, "UnsupportedKernel",
                        $"line {line} switches to the {kernel} kernel ('{t}'); distill run executes C# only: port that part to C# or move it out of the notebook"));
                else if (KernelOnly.TryGetValue(name, out var instead))
                    parsed.Errors.Add(new(line, "UnsupportedMagicCommand",
                        $"'{t}' (line {line}) is a .NET Interactive magic command that distill run does not support: {instead}"));
                else
                    parsed.Errors.Add(new(line, "DNI101", $"Unknown magic command '{t}' (line {line}); distill run knows {Known}"));
                lines[i] = "";
            }
            else if (t.StartsWith("#r ", StringComparison.Ordinal) && t.Contains("\"nuget:", StringComparison.Ordinal))
            {
                var m = NuGetRef().Match(t);
                if (m.Success && m.Groups["version"].Value is { Length: > 0 } range && range.Contains(',', StringComparison.Ordinal))
                    parsed.Errors.Add(new(line, "InvalidPackageReference",
                        $"'{range}' in '{t}' (line {line}) is a version range with a comma, which the .NET kernel cannot restore (its restore fails with MSB4181); " +
                        "give the lowest version you accept (1.2.3 means that or higher) or an exact one ([1.2.3])"));
                else if (m.Success && m.Groups["version"].Value is { Length: > 0 } bad && !NuGetVersion().IsMatch(bad))
                    parsed.Errors.Add(new(line, "InvalidPackageReference",
                        $"'{bad}' in '{t}' (line {line}) is not a NuGet version; write one like 1.2.3, 1.2.3-beta.1, 1.* or [1.2.3]"));
                else if (m.Success)
                    parsed.Packages.Add((new PackageRequest(m.Groups["name"].Value, m.Groups["version"].Value is { Length: > 0 } v ? v : null), line));
                else
                    parsed.Errors.Add(new(line, "InvalidPackageReference",
                        $"cannot read '{t}' (line {line}); write it as #r \"nuget: Name, Version\" (version optional)"));
                lines[i] = "";
            }
            else if (t.StartsWith("#r ", StringComparison.Ordinal) && PathRef().Match(t) is { Success: true } pm && LooksLikePath(pm.Groups["path"].Value))
            {
                var path = pm.Groups["path"].Value;
                var full = Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(folder, path));
                if (File.Exists(full)) parsed.AssemblyPaths.Add((full, line));
                else if (Directory.Exists(full))
                    parsed.Errors.Add(new(line, "AssemblyNotFound", $"#r \"{path}\" (line {line}): {full} is a folder; give the path of the .dll file in it"));
                else
                    parsed.Errors.Add(new(line, "AssemblyNotFound",
                        $"#r \"{path}\" (line {line}): {full} does not exist; {RelativeTo(folder)}: build the project first " +
                        "(`dotnet build`), or, for a notebook copied out of notebooks/, write the path to the checkout's artifacts/ in full (README)"));
                lines[i] = "";
            }
            else if (LoadRef().Match(t) is { Success: true } lm)
            {
                // Roslyn loads the file (the line stays), but a missing one is a bare CS1504 naming it as written, not
                // where it was looked for: said here as for #r.
                var path = lm.Groups["path"].Value;
                var full = Path.GetFullPath(Path.Combine(folder, path));
                if (Directory.Exists(full))
                    parsed.Errors.Add(new(line, "SourceFileNotFound", $"#load \"{path}\" (line {line}): {full} is a folder; give the path of the .csx file in it"));
                else if (!File.Exists(full))
                    parsed.Errors.Add(new(line, "SourceFileNotFound",
                        $"#load \"{path}\" (line {line}): {full} does not exist; {RelativeTo(folder)}"));
                // Roslyn's own resolver takes a relative path from the notebook's folder: after a cell moved the current
                // directory it is given the file found here (a path with a quote cannot be written in the directive).
                else if (!full.Contains('"', StringComparison.Ordinal)) lines[i] = lines[i].Replace($"\"{path}\"", $"\"{full}\"", StringComparison.Ordinal);
            }
            else if (t.StartsWith("#i ", StringComparison.Ordinal))
            {
                var m = SourceRef().Match(t);
                if (m.Success)
                {
                    var src = m.Groups["source"].Value;
                    var local = !src.Contains("://", StringComparison.Ordinal);
                    // The kernel takes a source as a URI: a relative folder fails its restores there (checked with nbconvert on
                    // the .net-csharp kernel), and was taken here relative to the notebook, so the notebook ran green only here.
                    if (local && !Path.IsPathRooted(src))
                        parsed.Errors.Add(new(line, "InvalidSource",
                            $"#i \"nuget: {src}\" (line {line}): a relative folder, which the .NET kernel cannot use (\"Invalid URI: The format of the URI could not be determined.\"); " +
                            $"give its full path (#i \"nuget: {Path.GetFullPath(src.StartsWith('~') ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + src[1..] : Path.Combine(folder, src))}\") or a URL"));
                    // NuGet skips a missing local source without a word (a typo was never reported); the kernel fails the cell.
                    else if (local && !Directory.Exists(src))
                        parsed.Errors.Add(new(line, "SourceNotFound",
                            $"#i \"nuget: {src}\" (line {line}): the folder {src} does not exist; a local package source is a folder of .nupkg files"));
                    else
                    {
                        parsed.Sources.Add(src);
                        parsed.WrittenSources.Add(t[(t.IndexOf("nuget:", StringComparison.Ordinal) + "nuget:".Length)..t.LastIndexOf('"')]);
                    }
                }
                else
                    parsed.Errors.Add(new(line, "InvalidSource",
                        $"cannot read '{t}' (line {line}); distill run supports #i \"nuget: <source url or folder>\""));
                lines[i] = "";
            }
        }
        parsed.Code = string.Join("\n", lines);
        return parsed;
    }

    static readonly CSharpParseOptions TextOptions = CSharpParseOptions.Default.WithKind(SourceCodeKind.Script).WithLanguageVersion(ScriptSession.KernelLanguageVersion);

    /// <summary>What the line starting at <paramref name="position"/> lies inside, when it is text the compiler reads as no
    /// directive: "a string literal" (verbatim, raw, interpolated), "a comment", or "code an #if leaves out"; else null.</summary>
    static string? InsideText(SyntaxNode root, int position)
    {
        var token = root.FindToken(position);
        if (token.SpanStart < position && position < token.Span.End
            && (token.IsKind(SyntaxKind.StringLiteralToken) || token.IsKind(SyntaxKind.MultiLineRawStringLiteralToken) || token.IsKind(SyntaxKind.InterpolatedStringTextToken)
                || token.IsKind(SyntaxKind.Utf8StringLiteralToken) || token.IsKind(SyntaxKind.Utf8MultiLineRawStringLiteralToken)))
            return "a string literal";
        var trivia = root.FindTrivia(position);
        if (trivia.SpanStart < position && position < trivia.Span.End
            && (trivia.IsKind(SyntaxKind.MultiLineCommentTrivia) || trivia.IsKind(SyntaxKind.MultiLineDocumentationCommentTrivia)))
            return "a comment";
        // Directives in an #if left out are still parsed (to find its #endif), as inactive ones; other lines there are
        // disabled text.
        var leftOut = trivia.SpanStart <= position && position < trivia.Span.End
                      && (trivia.IsKind(SyntaxKind.DisabledTextTrivia) || trivia.GetStructure() is Microsoft.CodeAnalysis.CSharp.Syntax.DirectiveTriviaSyntax { IsActive: false });
        return leftOut ? "code an #if leaves out" : null;
    }

    /// <summary><c>#r "System.Net.Http"</c> names a framework assembly (Roslyn resolves it); anything with a folder or
    /// a .dll/.exe extension is a file.</summary>
    static bool LooksLikePath(string s) =>
        s.Contains('/', StringComparison.Ordinal) || s.Contains('\\', StringComparison.Ordinal)
        || s.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || s.EndsWith(".exe", StringComparison.OrdinalIgnoreCase);
}
