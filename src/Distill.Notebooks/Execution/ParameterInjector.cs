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

    /// <summary>The code cells tagged <c>parameters</c>, in order. Each is a declaration cell: a notebook may keep its
    /// defaults in more than one (e.g. data settings near the top, training settings further down).</summary>
    public static List<NotebookCell> ParametersCells(NotebookDocument doc) =>
        [.. doc.Cells.Where(c => c.Kind == CellKind.Code && c.HasTag(ParametersTag))];

    /// <summary>
    /// Which parameters cell each value is injected after: the last one that declares its name (a declaration after the
    /// injection would reset the value), else the first one (the name is declared nowhere: injected anyway, with a
    /// warning). One injected cell per parameters cell that gets values, as papermill injects after its parameters cell.
    /// </summary>
    public static Dictionary<NotebookCell, Dictionary<string, string>> Placement(IReadOnlyList<NotebookCell> parametersCells,
        IEnumerable<KeyValuePair<string, string>> values)
    {
        var declaredIn = new Dictionary<string, NotebookCell>();
        foreach (var cell in parametersCells)
            foreach (var name in DeclaredNames(cell.Source)) declaredIn[name] = cell;
        var placement = new Dictionary<NotebookCell, Dictionary<string, string>>();
        foreach (var (name, value) in values)
        {
            var cell = declaredIn.GetValueOrDefault(name) ?? parametersCells[0];
            if (!placement.TryGetValue(cell, out var at)) placement[cell] = at = [];
            at[name] = value;
        }
        return placement;
    }

    /// <summary><see cref="DeclaredTypes(string)"/> over several parameters cells: a name takes the type of its last
    /// declaration, the one its value is injected after.</summary>
    public static IReadOnlyDictionary<string, Type> DeclaredTypes(IEnumerable<NotebookCell> parametersCells)
    {
        var types = new Dictionary<string, Type>();
        foreach (var cell in parametersCells)
        {
            var here = DeclaredTypes(cell.Source);
            foreach (var name in DeclaredNames(cell.Source))
                if (here.TryGetValue(name, out var t)) types[name] = t;
                else types.Remove(name);
        }
        return types;
    }

    /// <summary>Names declared in a parameters cell (top-level <c>var x = ...;</c> / <c>int x = ...;</c>).</summary>
    public static IReadOnlyList<string> DeclaredNames(string code)
    {
        var tree = CSharpSyntaxTree.ParseText(code, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script));
        return tree.GetRoot().DescendantNodes()
            .OfType<VariableDeclaratorSyntax>()
            .Where(v => v.Parent?.Parent is FieldDeclarationSyntax or LocalDeclarationStatementSyntax { Parent: GlobalStatementSyntax })
            .Select(v => v.Identifier.ValueText).ToList();
    }

    /// <summary>
    /// The types of the parameters cell's variables that can be read from its text alone: a keyword type
    /// (<c>int epochs = 3;</c>, <c>float? lr = null;</c>) or <c>var</c> with a literal (<c>var lr = 0.1f;</c>). A name
    /// whose type needs the cell to run (an enum, <c>var x = F();</c>) is missing; it is checked once the cell ran.
    /// </summary>
    public static IReadOnlyDictionary<string, Type> DeclaredTypes(string code)
    {
        var tree = CSharpSyntaxTree.ParseText(code, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script));
        var types = new Dictionary<string, Type>();
        foreach (var decl in tree.GetRoot().DescendantNodes().OfType<VariableDeclarationSyntax>()
                     .Where(d => d.Parent is FieldDeclarationSyntax or LocalDeclarationStatementSyntax { Parent: GlobalStatementSyntax }))
            foreach (var v in decl.Variables)
            {
                var type = decl.Type is { IsVar: true } ? LiteralType(v.Initializer?.Value) : KeywordType(decl.Type);
                if (type is null) types.Remove(v.Identifier.ValueText); // a later declaration wins: unknown again
                else types[v.Identifier.ValueText] = type;
            }
        return types;
    }

    static Type? KeywordType(TypeSyntax t) => t switch
    {
        NullableTypeSyntax n => KeywordType(n.ElementType),
        PredefinedTypeSyntax p => p.Keyword.Kind() switch
        {
            SyntaxKind.StringKeyword => typeof(string),
            SyntaxKind.BoolKeyword => typeof(bool),
            SyntaxKind.IntKeyword => typeof(int),
            SyntaxKind.LongKeyword => typeof(long),
            SyntaxKind.DoubleKeyword => typeof(double),
            SyntaxKind.FloatKeyword => typeof(float),
            SyntaxKind.DecimalKeyword => typeof(decimal),
            // Types -p does not fill: known from the text, so the value is refused before anything runs.
            SyntaxKind.CharKeyword => typeof(char),
            SyntaxKind.ByteKeyword => typeof(byte),
            SyntaxKind.SByteKeyword => typeof(sbyte),
            SyntaxKind.ShortKeyword => typeof(short),
            SyntaxKind.UShortKeyword => typeof(ushort),
            SyntaxKind.UIntKeyword => typeof(uint),
            SyntaxKind.ULongKeyword => typeof(ulong),
            SyntaxKind.ObjectKeyword => typeof(object),
            _ => null,
        },
        _ => null,
    };

    static Type? LiteralType(ExpressionSyntax? e) => e switch
    {
        PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.UnaryMinusExpression } u => LiteralType(u.Operand),
        LiteralExpressionSyntax l when l.IsKind(SyntaxKind.TrueLiteralExpression) || l.IsKind(SyntaxKind.FalseLiteralExpression) => typeof(bool),
        LiteralExpressionSyntax l => l.Token.Value?.GetType() is { } t && (t == typeof(string) || t == typeof(int) || t == typeof(long) ||
            t == typeof(double) || t == typeof(float) || t == typeof(decimal)) ? t : null,
        _ => null,
    };

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
            var (decl, literal) = type is null ? Infer(name, text, notebook) : Convert(name, text, type, notebook);
            sb.Append(CultureInfo.InvariantCulture, $"{decl} {name} = {literal};\n");
        }
        return sb.ToString();
    }

    /// <summary>A value with no declared default takes the narrowest type that holds it: bool, int, long, double, else
    /// string. A number no double holds is refused rather than turned into infinity (.NET parses it so).</summary>
    static (string, string) Infer(string name, string text, string notebook)
    {
        var inv = CultureInfo.InvariantCulture;
        if (bool.TryParse(text, out var b)) return ("bool", b ? "true" : "false");
        if (int.TryParse(text, NumberStyles.Integer, inv, out var i)) return ("int", i.ToString(inv));
        if (long.TryParse(text, NumberStyles.Integer, inv, out var l)) return ("long", l.ToString(inv) + "L");
        if (double.TryParse(text, NumberStyles.Float, inv, out var d))
            return !double.IsInfinity(d) || NamesInfinity(text) ? ("double", DoubleLiteral(d))
                : throw new ParameterException($"{notebook}: -p {name}={text}: '{text}' is not in range (a double is at most about 1.8e308), " +
                                               $"and the notebook declares no '{name}' to say which type it wants; pass a smaller number, or declare '{name}' in the parameters cell");
        return ("string", SymbolDisplay.FormatLiteral(text, quote: true));
    }

    static (string, string) Convert(string name, string text, Type type, string notebook)
    {
        ParameterException Bad(string what) => new(
            $"{notebook}: -p {name}={text}: the notebook's default for '{name}' is {TypeName(type)}, and '{text}' is not {what}; pass {Example(type)}");
        var inv = CultureInfo.InvariantCulture;
        if (type == typeof(string)) return ("string", SymbolDisplay.FormatLiteral(text, quote: true));
        if (type == typeof(bool)) return bool.TryParse(text, out var b) ? ("bool", b ? "true" : "false") : throw Bad("true or false");
        if (type == typeof(int))
            return int.TryParse(text, NumberStyles.Integer, inv, out var i) ? ("int", i.ToString(inv))
                : long.TryParse(text, NumberStyles.Integer, inv, out _) || IsBigInteger(text) ? throw Bad($"in range (an int is {int.MinValue} to {int.MaxValue})") : throw Bad("an int");
        if (type == typeof(long))
            return long.TryParse(text, NumberStyles.Integer, inv, out var l) ? ("long", l.ToString(inv) + "L")
                : IsBigInteger(text) ? throw Bad($"in range (a long is {long.MinValue} to {long.MaxValue})") : throw Bad("a long");
        // .NET parses an overflowing number as infinity: only the words NaN and Infinity may give a non-finite value.
        if (type == typeof(double))
            return !double.TryParse(text, NumberStyles.Float, inv, out var d) ? throw Bad("a number")
                : double.IsInfinity(d) && !NamesInfinity(text) ? throw Bad("in range (a double is at most about 1.8e308)") : ("double", DoubleLiteral(d));
        if (type == typeof(float))
            return !float.TryParse(text, NumberStyles.Float, inv, out var f) ? throw Bad("a number")
                : float.IsInfinity(f) && !NamesInfinity(text) ? throw Bad("in range (a float is at most about 3.4e38)") : ("float", FloatLiteral(f));
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

    static bool IsBigInteger(string text) => System.Numerics.BigInteger.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);

    static bool NamesInfinity(string text) => text.Trim().TrimStart('+', '-').Equals("Infinity", StringComparison.OrdinalIgnoreCase) ||
                                              text.Trim().TrimStart('+', '-') == "∞";

    static string FloatLiteral(float f)
    {
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsInfinity(f)) return f > 0 ? "float.PositiveInfinity" : "float.NegativeInfinity";
        return f.ToString("R", CultureInfo.InvariantCulture) + "f";
    }

    static string DoubleLiteral(double d)
    {
        if (double.IsNaN(d)) return "double.NaN";
        if (double.IsInfinity(d)) return d > 0 ? "double.PositiveInfinity" : "double.NegativeInfinity";
        var s = d.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.', StringComparison.Ordinal) || s.Contains('E', StringComparison.Ordinal) ? s : s + ".0";
    }

    static string Example(Type t) => t.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(t))}" : t == typeof(bool) ? "true or false"
        : t == typeof(int) || t == typeof(long) ? "a whole number like 3" : "a number like 3 or 0.5";

    /// <summary>A type name the cell can compile: keywords for primitives, and the dotted full name otherwise (script
    /// types, whose full name starts with "Submission#", by their simple name).</summary>
    static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(string)] = "string", [typeof(bool)] = "bool", [typeof(int)] = "int", [typeof(long)] = "long", [typeof(double)] = "double",
        [typeof(float)] = "float", [typeof(decimal)] = "decimal", [typeof(char)] = "char", [typeof(byte)] = "byte", [typeof(sbyte)] = "sbyte",
        [typeof(short)] = "short", [typeof(ushort)] = "ushort", [typeof(uint)] = "uint", [typeof(ulong)] = "ulong", [typeof(object)] = "object",
    };

    public static string TypeName(Type t)
    {
        if (Keywords.TryGetValue(t, out var keyword)) return keyword;
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
