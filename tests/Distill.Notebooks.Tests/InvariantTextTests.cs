using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Distill.Notebooks.Tests;

/// <summary>
/// The libraries' text is the same in every locale. Notebook cells run under the user's culture (see CultureTests), and
/// the library code they call wrote "reused the teacher (77,55%)" under fr_FR next to invariant epoch lines. CA1305 does
/// not see an interpolated string, so this reads the sources with the compiler: every number formatted into text by the
/// libraries a notebook calls (src/Distill, src/Distill.Deploy) goes through the invariant culture.
/// </summary>
public class InvariantTextTests
{
    [Fact]
    public void The_libraries_format_numbers_into_text_with_the_invariant_culture()
    {
        var distill = Compile("Distill", []);
        var deploy = Compile("Distill.Deploy", [distill.ToMetadataReference()]);
        var found = new[] { distill, deploy }.SelectMany(CultureDependentText).ToList();
        Assert.True(found.Count == 0, $"{found.Count} numbers formatted with the current culture (wrap the text in string.Create(CultureInfo.InvariantCulture, $\"...\") or pass CultureInfo.InvariantCulture):\n" + string.Join("\n", found));
    }

    /// <summary>The compiler's own check: each rule finds its case in a sample, and passes the invariant spellings.</summary>
    [Fact]
    public void The_check_finds_each_kind_of_culture_dependent_text()
    {
        var sample = CSharpCompilation.Create("Sample", [CSharpSyntaxTree.ParseText("""
            using System;
            using System.Globalization;
            using System.Linq;
            using System.Text;
            static class S
            {
                static object[] Bad(double x, long n, double[] xs, StringBuilder sb, bool b) =>
                [
                    $"hole {x}", $"{n:N0}", "concat " + x, x.ToString("F2"), string.Join(", ", xs), string.Format("{0}", n), sb.Append(x),
                    double.Parse("1.5"), string.Create(CultureInfo.InvariantCulture, $"{(b ? $"nested {x}" : "")}"),
                ];
                static object[] Good(double x, long n, double[] xs, StringBuilder sb, System.IO.BinaryWriter w) =>
                [
                    string.Create(CultureInfo.InvariantCulture, $"hole {x} {n:N0} {n} {n:x8}"), FormattableString.Invariant($"{x}"), $"{n}", "n " + n,
                    x.ToString("F2", CultureInfo.InvariantCulture), string.Join(", ", xs.Select(v => v.ToString(CultureInfo.InvariantCulture))),
                    string.Join(", ", new[] { n }), sb.Append(CultureInfo.InvariantCulture, $"{x}"), double.Parse("1.5", CultureInfo.InvariantCulture),
                    string.Create(CultureInfo.InvariantCulture, $"{x}" + $" and {n:N0}"), Write(w, x),
                ];
                static int Write(System.IO.BinaryWriter w, double x) { w.Write(x); return 0; }
            }
            """, path: "S.cs")], References(), new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var found = CultureDependentText(sample).Select(f => f[(f.IndexOf(": ", StringComparison.Ordinal) + 2)..]).ToList();
        Assert.Equal(["{x}", "{n:N0}", "\"concat \" + x", "x.ToString(\"F2\")", "string.Join(\", \", xs)", "string.Format(\"{0}\", n)", "sb.Append(x)",
                      "double.Parse(\"1.5\")", "{x}"], found);
    }

    /// <summary>A project's sources as its build compiles them: its own files and the ones the build generated
    /// (global usings, the ONNX protobuf classes) under artifacts/obj.</summary>
    static CSharpCompilation Compile(string project, IEnumerable<MetadataReference> more)
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name; // debug | release
        var obj = Path.Combine(TestSupport.RepoRoot, "artifacts", "obj", project, config);
        var files = Directory.EnumerateFiles(Path.Combine(TestSupport.RepoRoot, "src", project), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Intersect(["bin", "obj"]).Any())
            .Concat(Directory.EnumerateFiles(obj, "*.cs", SearchOption.AllDirectories));
        var options = new CSharpParseOptions(LanguageVersion.Latest);
        return CSharpCompilation.Create(project, files.Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), options, f)),
            References().Concat(more), new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
    }

    /// <summary>The running framework and the packages beside the tests, the libraries' own builds left out.</summary>
    static IEnumerable<MetadataReference> References() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => !Path.GetFileName(p).StartsWith("Distill.", StringComparison.Ordinal) || Path.GetFileName(p) == "Distill.Elf.dll")
            .Select(p => MetadataReference.CreateFromFile(p));

    /// <summary>"file(line): code" for each number turned into text under the current culture.</summary>
    static IEnumerable<string> CultureDependentText(CSharpCompilation compilation)
    {
        foreach (var tree in compilation.SyntaxTrees)
        {
            var model = compilation.GetSemanticModel(tree);
            // Source generators do not run here: [GeneratedRegex] and [LibraryImport] methods have no body (CS8795). Any
            // other error would leave types unknown, and their numbers unchecked.
            var errors = model.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795").ToList();
            Assert.True(errors.Count == 0, $"{compilation.AssemblyName} does not compile here:\n{string.Join("\n", errors.Take(10))}");
            foreach (var node in tree.GetRoot().DescendantNodes().Where(n => n is InterpolationSyntax or BinaryExpressionSyntax or InvocationExpressionSyntax))
            {
                var why = model.GetOperation(node) switch
                {
                    IInterpolationOperation i when CultureSensitive(i.Expression.Type, (i.FormatString as ILiteralOperation)?.ConstantValue.Value as string)
                                                   && !Invariant(i) => i.Syntax.ToString(),
                    IBinaryOperation { OperatorKind: BinaryOperatorKind.Add, Type.SpecialType: SpecialType.System_String } b
                        when new[] { b.LeftOperand, b.RightOperand }.Any(o => CultureSensitive(Unconverted(o).Type, null)) => b.Syntax.ToString(),
                    IInvocationOperation c when CurrentCultureCall(c) => c.Syntax.ToString(),
                    _ => null,
                };
                if (why is not null)
                    yield return $"{Path.GetRelativePath(TestSupport.RepoRoot, tree.FilePath)}({node.GetLocation().GetLineSpan().StartLinePosition.Line + 1}): {why}";
            }
        }
    }

    /// <summary>Whether text of a value of <paramref name="type"/> in <paramref name="format"/> depends on the culture: any
    /// floating-point, decimal or date/time value; an integer only with a format that groups digits or places a point (N0,
    /// F2; not a hex one): plain integers differ in nothing but the minus sign, and every count and index here is ≥ 0.</summary>
    static bool CultureSensitive(ITypeSymbol? type, string? format)
    {
        if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable) type = nullable.TypeArguments[0];
        if (type is null || type.TypeKind == TypeKind.Enum || !type.AllInterfaces.Any(i => i.ToDisplayString() == "System.IFormattable")) return false;
        if (type.SpecialType is SpecialType.System_Char or SpecialType.System_Enum || type.ToDisplayString() is "System.Guid" or "System.Uri" or "System.Version") return false;
        var integer = type.SpecialType is >= SpecialType.System_SByte and <= SpecialType.System_UInt64 or SpecialType.System_IntPtr or SpecialType.System_UIntPtr;
        return !integer || format is not (null or "" or ['x' or 'X' or 'D' or 'd', ..]);
    }

    static IOperation Unconverted(IOperation o) => o is IConversionOperation c ? Unconverted(c.Operand) : o;

    static bool TakesProvider(IMethodSymbol m) => m.Parameters.Any(p => p.Type.ToDisplayString().TrimEnd('?') == "System.IFormatProvider");

    /// <summary>Whether the interpolated string holding <paramref name="hole"/> is formatted invariantly: passed to a method
    /// that takes a format provider (string.Create, StringBuilder.Append), to FormattableString.Invariant, or kept as a
    /// FormattableString. A string nested in another's hole is formatted on its own, under the current culture.</summary>
    static bool Invariant(IInterpolationOperation hole)
    {
        var p = hole.Parent;
        while (p is not null and not IInterpolatedStringOperation) p = p.Parent;
        for (p = p?.Parent; p is not null; p = p.Parent)
            switch (p)
            {
                case IInvocationOperation call:
                    return TakesProvider(call.TargetMethod) || call.TargetMethod is { Name: "Invariant", ContainingType.Name: "FormattableString" };
                case IConversionOperation { Type.Name: "FormattableString" or "IFormattable" }:
                    return true;
                case IConversionOperation or IInterpolatedStringHandlerCreationOperation or IArgumentOperation or IInterpolatedStringAdditionOperation or IParenthesizedOperation:
                    continue;
                default:
                    return false;
            }
        return false;
    }

    /// <summary>A StringBuilder or a TextWriter (Console.Out, a log), not a BinaryWriter or a stream.</summary>
    static bool IsText(INamedTypeSymbol? type) =>
        type is not null && (type.ToDisplayString() is "System.Text.StringBuilder" or "System.IO.TextWriter" || IsText(type.BaseType));

    /// <summary>A call that turns a culture-sensitive number into text (or reads one) with the current culture:
    /// ToString, string.Format, string.Join/Concat of such numbers, StringBuilder.Append and TextWriter.Write of one,
    /// and Parse/TryParse, each without a format provider.</summary>
    static bool CurrentCultureCall(IInvocationOperation call)
    {
        var m = call.TargetMethod;
        if (TakesProvider(m)) return false;
        var format = call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "format")?.Value.ConstantValue.Value as string;
        return m.Name switch
        {
            "ToString" => call.Instance is { } x && CultureSensitive(x.Type, format),
            "Format" => m.ContainingType.SpecialType == SpecialType.System_String,
            "Join" or "Concat" => m.ContainingType.SpecialType == SpecialType.System_String && m.IsGenericMethod && CultureSensitive(m.TypeArguments[0], null),
            "Append" or "AppendLine" or "Write" or "WriteLine" => IsText(m.ContainingType) && call.Arguments.Any(a => CultureSensitive(Unconverted(a.Value).Type, null)),
            "Parse" or "TryParse" => CultureSensitive(m.ContainingType, null),
            _ => false,
        };
    }
}
