using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Distill.Notebooks.Documents;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Distill.Notebooks.Execution;

/// <summary>A value passed with <c>-p name=value</c> or <c>--budget</c> that does not fit the notebook's default.</summary>
public sealed class ParameterException(string message) : Exception(message);

/// <summary>
/// Papermill's convention for C# notebooks: the cell tagged <c>parameters</c> holds defaults; the runner inserts a cell
/// tagged <c>injected-parameters</c> right after it (at the top when there is none) that redeclares the passed values.
/// A value is typed by its default's type, read from the script state once the parameters cell has run.
/// </summary>
public static class ParameterInjector
{
    public const string ParametersTag = "parameters";
    public const string InjectedTag = "injected-parameters";

    /// <summary>Names declared in a parameters cell (top-level <c>var x = ...;</c> / <c>int x = ...;</c>).</summary>
    public static IReadOnlyList<string> DeclaredNames(string code)
    {
        var tree = CSharpSyntaxTree.ParseText(code, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script));
        return tree.GetRoot().DescendantNodes()
            .OfType<VariableDeclaratorSyntax>()
            .Where(v => v.Parent?.Parent is FieldDeclarationSyntax or LocalDeclarationStatementSyntax { Parent: GlobalStatementSyntax })
            .Select(v => v.Identifier.ValueText).ToList();
    }

    /// <summary>The injected cell's source. <paramref name="typeOf"/> gives the declared type of a default (null when the
    /// notebook declares no such parameter: the value's own type is inferred, as papermill does).</summary>
    public static string Source(IReadOnlyDictionary<string, string> values, Func<string, Type?> typeOf, string notebook)
    {
        var sb = new StringBuilder("// Parameters injected by `distill run`.\n");
        foreach (var (name, text) in values)
        {
            if (!SyntaxFacts.IsValidIdentifier(name))
                throw new ParameterException($"{notebook}: -p {name}=...: '{name}' is not a C# identifier; use the variable's name from the parameters cell");
            var type = typeOf(name);
            if (type is not null && Nullable.GetUnderlyingType(type) is { } inner) type = inner;
            var (decl, literal) = type is null ? Infer(text) : Convert(name, text, type, notebook);
            sb.Append(CultureInfo.InvariantCulture, $"{decl} {name} = {literal};\n");
        }
        return sb.ToString();
    }

    static (string, string) Infer(string text)
    {
        if (bool.TryParse(text, out var b)) return ("bool", b ? "true" : "false");
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)) return ("int", i.ToString(CultureInfo.InvariantCulture));
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return ("double", DoubleLiteral(d));
        return ("string", SymbolDisplay.FormatLiteral(text, quote: true));
    }

    static (string, string) Convert(string name, string text, Type type, string notebook)
    {
        ParameterException Bad(string what) => new(
            $"{notebook}: -p {name}={text}: the notebook's default for '{name}' is {TypeName(type)}, and '{text}' is not {what}; pass {Example(type)}");
        var inv = CultureInfo.InvariantCulture;
        if (type == typeof(string)) return ("string", SymbolDisplay.FormatLiteral(text, quote: true));
        if (type == typeof(bool)) return bool.TryParse(text, out var b) ? ("bool", b ? "true" : "false") : throw Bad("true or false");
        if (type == typeof(int)) return int.TryParse(text, NumberStyles.Integer, inv, out var i) ? ("int", i.ToString(inv)) : throw Bad("an int");
        if (type == typeof(long)) return long.TryParse(text, NumberStyles.Integer, inv, out var l) ? ("long", l.ToString(inv) + "L") : throw Bad("a long");
        if (type == typeof(double)) return double.TryParse(text, NumberStyles.Float, inv, out var d) ? ("double", DoubleLiteral(d)) : throw Bad("a number");
        if (type == typeof(float)) return float.TryParse(text, NumberStyles.Float, inv, out var f) ? ("float", f.ToString("R", inv) + "f") : throw Bad("a number");
        if (type == typeof(decimal)) return decimal.TryParse(text, NumberStyles.Float, inv, out var m) ? ("decimal", m.ToString(inv) + "m") : throw Bad("a number");
        if (type.IsEnum)
        {
            var member = Enum.GetNames(type).FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase))
                ?? throw Bad($"one of {string.Join(", ", Enum.GetNames(type))}");
            return ("var", $"{TypeName(type)}.{member}");
        }
        throw new ParameterException(
            $"{notebook}: -p {name}=...: the notebook's default for '{name}' is {TypeName(type)}; -p supports string, bool, numbers and enums. Make the parameter one of those");
    }

    static string DoubleLiteral(double d)
    {
        if (double.IsNaN(d)) return "double.NaN";
        if (double.IsInfinity(d)) return d > 0 ? "double.PositiveInfinity" : "double.NegativeInfinity";
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.', StringComparison.Ordinal) || s.Contains('E', StringComparison.Ordinal) ? s : s + ".0";
    }

    static string Example(Type t) => t.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(t))}" : t == typeof(bool) ? "true or false" : "a number like 3 or 0.5";

    /// <summary>A type name the cell can compile: keywords for primitives, and the dotted full name otherwise (script
    /// types, whose full name starts with "Submission#", by their simple name).</summary>
    public static string TypeName(Type t)
    {
        if (t == typeof(string)) return "string";
        if (t == typeof(bool)) return "bool";
        if (t == typeof(int)) return "int";
        if (t == typeof(long)) return "long";
        if (t == typeof(double)) return "double";
        if (t == typeof(float)) return "float";
        if (t == typeof(decimal)) return "decimal";
        if (t.FullName is null || t.FullName.StartsWith("Submission#", StringComparison.Ordinal)) return t.Name;
        return "global::" + t.FullName.Replace('+', '.');
    }

    /// <summary>Builds the injected cell (code, tagged, with Polyglot kernel metadata).</summary>
    public static NotebookCell Cell(string source) => new(CellKind.Code, source, new JsonObject
    {
        ["metadata"] = new JsonObject
        {
            ["tags"] = new JsonArray(InjectedTag),
            ["dotnet_interactive"] = new JsonObject { ["language"] = KernelNames.CSharp },
            ["polyglot_notebook"] = new JsonObject { ["kernelName"] = KernelNames.CSharp },
        },
    }) { Kernel = KernelNames.CSharp };
}
