using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using Distill.Notebooks.Display;
using Microsoft.AspNetCore.Html;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.CodeAnalysis.Scripting.Hosting;
using Microsoft.DotNet.Interactive.Formatting;

namespace Distill.Notebooks.Execution;

/// <summary>How one submission ended.</summary>
public sealed record SubmissionResult(bool HasValue, object? Value, Exception? Exception, ImmutableArray<Diagnostic> CompileErrors)
{
    public bool Failed => Exception is not null || !CompileErrors.IsEmpty;
}

/// <summary>
/// The C# kernel's state for one notebook: cells are Roslyn script submissions chained with
/// <c>ScriptState.ContinueWithAsync</c>, so variables, usings and types carry from cell to cell. Options follow the
/// Polyglot kernel: latest language version, its default usings, <c>display</c>/<c>HTML</c> in scope, and each cell
/// compiled under its own file name so compiler errors and stack traces carry cell-relative line numbers.
/// </summary>
public sealed class ScriptSession : IDisposable
{
    /// <summary>The kernel's (1.0.712001) default usings. Not Microsoft.DotNet.Interactive.Formatting: there an
    /// unqualified <c>Formatter</c> is CS0103, so a notebook must say <c>using Microsoft.DotNet.Interactive.Formatting;</c>
    /// itself, and one that runs here must run there.</summary>
    static readonly string[] DefaultImports =
    [
        "System", "System.Text", "System.Collections", "System.Collections.Generic", "System.Threading.Tasks", "System.Linq",
    ];

    /// <summary>The C# version of the kernel's compiler (Microsoft.dotnet-interactive 1.0.712001: Roslyn 5.0, C# 14).</summary>
    public const LanguageVersion KernelLanguageVersion = LanguageVersion.CSharp14;

    readonly NotebookGlobals globals = new();
    readonly HashSet<string> besideReferencedDlls = new(StringComparer.OrdinalIgnoreCase);
    readonly InteractiveAssemblyLoader loader = new();
    ScriptOptions options;
    ScriptState<object>? state;

    public ScriptSession(string notebookFolder)
    {
        options = ScriptOptions.Default
            // The kernel (1.0.712001) compiles with Roslyn 5.0, whose latest is C# 14; this Roslyn's latest is newer, and a
            // notebook using C# 15 (`[with(capacity: 8), 1]`) would run here and fail there with CS0103.
            .WithLanguageVersion(KernelLanguageVersion)
            .WithImports(DefaultImports)
            .AddReferences(typeof(NotebookGlobals).Assembly, typeof(Formatter).Assembly, typeof(IHtmlContent).Assembly)
            .AddReferences(KernelLikeResolver.ReferencedByTheKernel())
            .WithMetadataResolver(new KernelLikeResolver(ScriptMetadataResolver.Default.WithBaseDirectory(notebookFolder), besideReferencedDlls.Contains))
            .WithSourceResolver(ScriptSourceResolver.Default.WithBaseDirectory(notebookFolder))
            .WithEmitDebugInformation(true)
            .WithFileEncoding(Encoding.UTF8);
    }

    readonly HashSet<string> referenced = new(StringComparer.OrdinalIgnoreCase);

    public void AddReferences(IEnumerable<string> paths)
    {
        var list = paths.ToList();
        referenced.UnionWith(list.Select(Path.GetFileNameWithoutExtension)!);
        options = options.AddReferences(list.Select(p => MetadataReference.CreateFromFile(p)));
    }

    /// <summary>The assemblies <paramref name="dll"/> (referenced by path) needs that the kernel would not find: not in
    /// the framework or the kernel's own folder, not beside a DLL referenced by path, not referenced by a #r so far. Here
    /// distill's own copies stand in for them; in the kernel, loading the first one fails (FileNotFoundException) as soon
    /// as code needs it.</summary>
    public IReadOnlyList<string> MissingInTheKernel(string dll)
    {
        try
        {
            using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(dll));
            var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
            return [.. md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name))
                .Where(n => !KernelLikeResolver.KernelHas(n) && !besideReferencedDlls.Contains(n) && !referenced.Contains(n)).Order(StringComparer.Ordinal)];
        }
        catch (Exception e) when (e is IOException or BadImageFormatException or InvalidOperationException or UnauthorizedAccessException)
        {
            return []; // not readable as metadata: the #r itself reports that
        }
    }

    /// <summary>A cell referenced <paramref name="dll"/> by path: the assemblies beside it resolve when it needs them,
    /// as the kernel finds them there (<see cref="KernelLikeResolver"/>).</summary>
    public void AllowBeside(string dll)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(dll)) is { } folder && Directory.Exists(folder))
            besideReferencedDlls.UnionWith(Directory.EnumerateFiles(folder, "*.dll").Select(Path.GetFileNameWithoutExtension)!);
    }

    /// <summary>The declared type of the newest script variable named <paramref name="name"/>, if any.</summary>
    public Type? VariableType(string name) => state?.GetVariable(name)?.Type;

    public object? VariableValue(string name) => state?.GetVariable(name)?.Value;

    /// <summary>
    /// Starts the cells' chain with a submission of its own, before the first cell: the first compile JIT-compiles
    /// Roslyn and binds the references (2-3 s on a 2-core machine), which is the runner's start-up, not the first cell's
    /// work, and made <c>--cell-timeout 1</c> fail a cell that prints 2. In the chain, not apart, since a chain's first
    /// compile binds what its later ones reuse (a cell after a warm-up apart still took 0.5 s, after this one 0.1 s). It
    /// binds a call and a conversion, as nearly every cell does, and declares nothing; the cells' submissions are thus
    /// numbered from 1 (<c>Submission#1</c> in the first cell's type names), as in the kernel, whose own set-up
    /// submissions come first too.
    /// </summary>
    public void WarmUp()
    {
        if (state is not null) return;
        try { state = CSharpScript.Create("System.Math.Max(1, 2).ToString()", options.WithFilePath("warm-up"), typeof(NotebookGlobals), loader).RunAsync(globals).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is not OperationCanceledException) { } // the first cell meets the same trouble and reports it as its error
    }

    /// <summary>Compiles and runs one cell synchronously on the calling thread. <paramref name="fileName"/> names the
    /// cell in diagnostics and stack traces.</summary>
    public SubmissionResult Run(string code, string fileName, CancellationToken ct)
    {
        var opts = options.WithFilePath(fileName);
        try
        {
            state = state is null
                ? CSharpScript.Create(code, opts, typeof(NotebookGlobals), loader).RunAsync(globals, _ => true, ct).GetAwaiter().GetResult()
                : state.ContinueWithAsync(code, opts, _ => true, ct).GetAwaiter().GetResult();
        }
        catch (CompilationErrorException e)
        {
            return new SubmissionResult(false, null, null, [.. e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)]);
        }
        if (state.Exception is { } ex) return new SubmissionResult(false, null, Unwrap(ex), []);
        return new SubmissionResult(HasValue(state.Script.GetCompilation()), state.ReturnValue, null, []);
    }

    /// <summary>The kernel shows a cell's value when its last statement is a non-void expression without a semicolon, or
    /// when the cell has a top-level <c>return</c> (<c>return;</c> shows <c>&lt;null&gt;</c>): Roslyn's rule for a
    /// submission's result, which the kernel asks for (it is internal, so it is mirrored here). Returns inside lambdas
    /// do not count; as in Roslyn, those inside a local function's block do.</summary>
    static bool HasValue(Compilation compilation)
    {
        var tree = compilation.SyntaxTrees.LastOrDefault();
        if (tree?.GetRoot() is not CompilationUnitSyntax root) return false;
        if (root.DescendantNodes(n => n is CompilationUnitSyntax or GlobalStatementSyntax or StatementSyntax).OfType<ReturnStatementSyntax>().Any())
            return true;
        if (root.Members.LastOrDefault() is not GlobalStatementSyntax { Statement: ExpressionStatementSyntax { SemicolonToken.IsMissing: true } stmt })
            return false;
        // Any value but void's, as Roslyn's own rule: a bare `null` has no type of its own, and the kernel shows <null>.
        var type = compilation.GetSemanticModel(tree).GetTypeInfo(stmt.Expression).Type;
        return type is null || type.SpecialType != SpecialType.System_Void;
    }

    /// <summary>The cell's own exception: reflection's wrapper is the runner's plumbing, dropped. An AggregateException is
    /// kept, as the kernel keeps it: it is what the cell threw (<c>.Wait()</c>, <c>.Result</c>), and a <c>catch</c> of its
    /// inner type does not catch it, which the unwrapped name hid.</summary>
    static Exception Unwrap(Exception e) => e is TargetInvocationException { InnerException: { } i } ? Unwrap(i) : e;

    /// <summary>The cell-relative line of the innermost stack frame inside the cell named <paramref name="fileName"/>
    /// (Roslyn roots the name at the notebook's folder).</summary>
    public static int? LineOf(Exception e, string fileName) =>
        new StackTrace(e, fNeedFileInfo: true).GetFrames()
            .Where(f => f.GetFileName() is { } n && n.EndsWith(fileName, StringComparison.Ordinal) && f.GetFileLineNumber() > 0)
            .Select(f => (int?)f.GetFileLineNumber()).FirstOrDefault();

    /// <summary>The exception's text without the runner's plumbing: Roslyn's script execution and the runner's own frames
    /// (a cell's <c>display(x)</c> whose formatting threw passes through them) are dropped; the user's and the
    /// libraries' frames, and every inner exception, stay.</summary>
    public static IReadOnlyList<string> Traceback(Exception e)
    {
        var text = SafeToString(e);
        // Frames are dropped one by one, not cut after the last cell frame: an AggregateException lists its inner
        // exceptions after its own trace, and each must stay.
        static bool Plumbing(string l) => l.TrimStart() is var t &&
            (t.StartsWith("at Microsoft.CodeAnalysis.Scripting", StringComparison.Ordinal) || t.StartsWith("at Distill.Notebooks.", StringComparison.Ordinal));
        var kept = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => !Plumbing(l)).ToList();
        // A "--- End of stack trace ---" marker whose frames were all plumbing separates nothing.
        for (int i = kept.Count - 1; i >= 0; i--)
            if (kept[i].TrimStart().StartsWith("--- End of", StringComparison.Ordinal) && (i + 1 == kept.Count || !kept[i + 1].TrimStart().StartsWith("at ", StringComparison.Ordinal)))
                kept.RemoveAt(i);
        return kept;
    }

    /// <summary>The exception's message; when its <c>Message</c> getter throws (user code can override it), what the
    /// getter threw, so that the cell still reports its own exception rather than the runner failing on it.</summary>
    public static string MessageOf(Exception e)
    {
        try { return e.Message; }
        catch (Exception getter)
        {
            string inner;
            try { inner = getter.Message; }
            catch (Exception) { inner = "(its message cannot be read either)"; }
            return $"(its Message getter threw {getter.GetType().FullName}: {inner})";
        }
    }

    /// <summary><c>e.ToString()</c>, or, when that throws (an overridden Message, ToString or StackTrace), the same layout
    /// built from what can be read: type, <see cref="MessageOf"/>, inner exceptions and the frames of the stack trace.</summary>
    static string SafeToString(Exception e)
    {
        try { return e.ToString(); }
        catch (Exception)
        {
            var sb = new StringBuilder($"{e.GetType().FullName}: {MessageOf(e)}");
            if (e.InnerException is { } inner) sb.Append("\n ---> ").Append(SafeToString(inner)).Append("\n   --- End of inner exception stack trace ---");
            // StackTrace(Exception) reads the runtime's record of the frames, not the overridable StackTrace property.
            var frames = new StackTrace(e, fNeedFileInfo: true).ToString().TrimEnd();
            if (frames.Length > 0) sb.Append('\n').Append(frames);
            return sb.ToString();
        }
    }

    public void Dispose() => loader.Dispose();
}
