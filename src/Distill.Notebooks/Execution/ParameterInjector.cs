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

/// <summary>What is known of a declared parameter's type. <see cref="Type"/>: its .NET type (read from the parameters
/// cell's text, or from the script state once that cell ran). <see cref="Unsupported"/>: the C# type the text names
/// when it is one -p cannot set (<c>List&lt;int&gt;</c>, <c>int[]</c>, <c>DateTime</c>). Neither: declared, but only
/// running the cell tells its type. <see cref="Nullable"/>: declared with <c>?</c> (<c>float?</c>, <c>string?</c>) or
/// of a <see cref="System.Nullable{T}"/> type, so <c>-p name=null</c> sets null. <see cref="Const"/>: declared
/// <c>const</c>, so later cells may use it where C# wants a constant, and the injected value must be one too.</summary>
public sealed record ParameterType(Type? Type, string? Unsupported = null, bool Nullable = false, bool Const = false);

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
    public static IReadOnlyDictionary<string, ParameterType> DeclaredTypes(IEnumerable<NotebookCell> parametersCells)
    {
        var types = new Dictionary<string, ParameterType>();
        foreach (var cell in parametersCells)
            foreach (var (name, type) in DeclaredTypes(cell.Source)) types[name] = type;
        return types;
    }

    /// <summary>The declared name <paramref name="given"/> is most likely a typo of (<c>epoch</c> for <c>epochs</c>,
    /// <c>Budget</c> for <c>budget</c>), or null: case aside, at most one edit per three letters of the longer name, so
    /// that short names (<c>c</c> beside <c>a</c>) are not taken for each other.</summary>
    public static string? Closest(string given, IEnumerable<string> declared) =>
        declared.Select(d => (Name: d, Edits: Edits(given.ToLowerInvariant(), d.ToLowerInvariant())))
                .Where(d => d.Edits * 3 <= Math.Max(given.Length, d.Name.Length)).OrderBy(d => d.Edits).Select(d => d.Name).FirstOrDefault();

    /// <summary>Whether -p can give <paramref name="text"/> to a parameter declared as <paramref name="declared"/>: a
    /// did-you-mean the next run would refuse for its type misleads (reproduce's -p seeds=0,1, meant for the notebooks
    /// that declare seeds, was offered to 00-data as its int seed).</summary>
    public static bool Takes(ParameterType? declared, string text)
    {
        if (declared?.Type is not { } type) return declared?.Unsupported is null;
        if (Nullable.GetUnderlyingType(type) is { } inner) (type, declared) = (inner, declared with { Nullable = true });
        if (declared.Nullable && text == "null") return true;
        try { Convert("", text, type, ""); return true; }
        catch (ParameterException) { return false; }
    }

    /// <summary>Levenshtein distance: insertions, deletions and substitutions turning <paramref name="a"/> into <paramref name="b"/>.</summary>
    static int Edits(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
                (diagonal, row[j]) = (row[j], Math.Min(Math.Min(row[j], row[j - 1]) + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)));
        }
        return row[b.Length];
    }

    /// <summary>Names declared in a parameters cell (top-level <c>var x = ...;</c> / <c>int x = ...;</c>, and the names a
    /// top-level deconstruction declares: <c>var (lr, epochs) = (0.1, 3);</c> declares both, so -p sets them).</summary>
    public static IReadOnlyList<string> DeclaredNames(string code)
    {
        var tree = CSharpSyntaxTree.ParseText(code, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script));
        return [.. tree.GetRoot().DescendantNodes().SelectMany(n => n switch
        {
            VariableDeclaratorSyntax { Parent.Parent: FieldDeclarationSyntax or LocalDeclarationStatementSyntax { Parent: GlobalStatementSyntax } } v => [v.Identifier.ValueText],
            ExpressionStatementSyntax { Parent: GlobalStatementSyntax, Expression: AssignmentExpressionSyntax { Left: var left } } =>
                left.DescendantNodesAndSelf().OfType<SingleVariableDesignationSyntax>().Select(d => d.Identifier.ValueText),
            _ => [],
        })];
    }

    /// <summary>The top-level values a cell sets, as written (<c>seed = 3</c> for <c>int seed = 3;</c> or <c>seed = 3;</c>).</summary>
    public static IReadOnlyList<(string Name, string Text)> Assignments(string code)
    {
        var tree = CSharpSyntaxTree.ParseText(code, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script));
        return [.. tree.GetRoot().DescendantNodes().Select(n => n switch
        {
            VariableDeclaratorSyntax { Initializer: { } init, Parent.Parent: FieldDeclarationSyntax or LocalDeclarationStatementSyntax { Parent: GlobalStatementSyntax } } v =>
                (v.Identifier.ValueText, $"{v.Identifier.ValueText} = {init.Value}"),
            ExpressionStatementSyntax { Parent: GlobalStatementSyntax, Expression: AssignmentExpressionSyntax { Left: IdentifierNameSyntax left } a } when a.IsKind(SyntaxKind.SimpleAssignmentExpression) =>
                (left.Identifier.ValueText, $"{left.Identifier.ValueText} = {a.Right}"),
            _ => default,
        }).Where(a => a.Item1 is not null)];
    }

    /// <summary>
    /// Every variable the parameters cell declares, with its type as far as the text alone shows it: a keyword type
    /// (<c>int epochs = 3;</c>, <c>float? lr = null;</c>) or <c>var</c> with a literal (<c>var lr = 0.1f;</c>) gives the
    /// <see cref="ParameterType.Type"/>; a type -p cannot set (<c>List&lt;int&gt;</c>, <c>int[]</c>, <c>DateTime</c>,
    /// <c>var seeds = new List&lt;int&gt; { 0 };</c>) gives <see cref="ParameterType.Unsupported"/>, so a value for it is
    /// refused before anything runs. A type that needs the cell to run (an enum, <c>var x = F();</c>) gives neither; it is
    /// checked once the cell ran.
    /// </summary>
    public static IReadOnlyDictionary<string, ParameterType> DeclaredTypes(string code)
    {
        var tree = CSharpSyntaxTree.ParseText(code, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script));
        var types = new Dictionary<string, ParameterType>();
        foreach (var decl in tree.GetRoot().DescendantNodes().OfType<VariableDeclarationSyntax>()
                     .Where(d => d.Parent is FieldDeclarationSyntax or LocalDeclarationStatementSyntax { Parent: GlobalStatementSyntax }))
        {
            var isConst = decl.Parent is FieldDeclarationSyntax f ? f.Modifiers.Any(SyntaxKind.ConstKeyword) : ((LocalDeclarationStatementSyntax)decl.Parent!).IsConst;
            foreach (var v in decl.Variables) // a later declaration wins
                types[v.Identifier.ValueText] = (decl.Type is { IsVar: true } ? InitializerType(v.Initializer?.Value) : TextType(decl.Type)) with { Const = isConst };
        }
        return types;
    }

    static readonly ParameterType Unknown = new(null);

    static ParameterType TextType(TypeSyntax t) => t switch
    {
        NullableTypeSyntax n => TextType(n.ElementType) is { Unsupported: not null } u ? u with { Unsupported = t.ToString() } : TextType(n.ElementType) with { Nullable = true },
        PredefinedTypeSyntax => KeywordType(t) is { } k ? new(k) : Unknown,
        // Never an enum, which is the only named type -p sets: known from the text, so refused before anything runs.
        ArrayTypeSyntax or GenericNameSyntax or TupleTypeSyntax or QualifiedNameSyntax { Right: GenericNameSyntax } or AliasQualifiedNameSyntax { Name: GenericNameSyntax }
            => new(null, t.ToString()),
        IdentifierNameSyntax or QualifiedNameSyntax when WellKnown(t.ToString()) is { } known => known,
        // Keywords to the reader, names to the parser: they went unknown, the cells ran, and the injected cell failed
        // naming IntPtr, UIntPtr or object. Refused before anything runs, as written, as object is.
        IdentifierNameSyntax { Identifier.ValueText: "nint" or "nuint" or "dynamic" } => new(null, t.ToString()),
        _ => Unknown,
    };

    /// <summary>System types a parameter might be declared with, by the names a cell writes them: the CLR names of the
    /// keyword types (<c>Int32</c>, <c>String</c>) are set as those; dates, times and ids cannot be set.</summary>
    static ParameterType? WellKnown(string name) => (name.StartsWith("System.", StringComparison.Ordinal) ? name["System.".Length..] : name) switch
    {
        "String" => new(typeof(string)), "Boolean" => new(typeof(bool)), "Int32" => new(typeof(int)), "Int64" => new(typeof(long)),
        "Double" => new(typeof(double)), "Single" => new(typeof(float)), "Decimal" => new(typeof(decimal)), "Char" => new(typeof(char)),
        "DateTime" or "DateTimeOffset" or "DateOnly" or "TimeOnly" or "TimeSpan" or "Guid" or "Uri" => new(null, name),
        _ => null,
    };

    /// <summary>The type of <c>var x = e;</c> where the text shows it: a literal, or a <c>new</c> of a type -p cannot set.</summary>
    static ParameterType InitializerType(ExpressionSyntax? e) => e switch
    {
        // Written as the type, not as the creation: new float[2] makes a float[].
        ArrayCreationExpressionSyntax a => new(null, a.Type.ElementType + string.Concat(a.Type.RankSpecifiers.Select(r => "[" + new string(',', r.Rank - 1) + "]"))),
        ImplicitArrayCreationExpressionSyntax => new(null, "an array"),
        ObjectCreationExpressionSyntax o => TextType(o.Type),
        _ => LiteralType(e) is { } t ? new(t) : Unknown,
    };

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
        // uint and ulong too (1u, 1UL, 3000000000): untyped, -p u=-1 passed the check and failed in the injected cell.
        LiteralExpressionSyntax l => l.Token.Value?.GetType() is { } t && (t == typeof(string) || t == typeof(int) || t == typeof(long) || t == typeof(uint) || t == typeof(ulong) ||
            t == typeof(double) || t == typeof(float) || t == typeof(decimal) || t == typeof(char)) ? t : null,
        _ => null,
    };

    /// <summary>The injected cell's source. <paramref name="typeOf"/> gives the declared type of a default (null when the
    /// notebook declares no such parameter: the value's own type is inferred, as papermill does; a name that is a C#
    /// keyword must be declared, as <c>@class</c>). <paramref name="passedAs"/> gives the option a value came from when
    /// it was not <c>-p name=value</c> (<c>--budget smoke</c>), for the messages to name what the user typed.</summary>
    public static string Source(IReadOnlyDictionary<string, string> values, Func<string, ParameterType?> typeOf, string notebook,
        Func<string, string?>? passedAs = null)
    {
        var sb = new StringBuilder("// Parameters injected by `distill run`.\n");
        foreach (var (name, text) in values)
        {
            if (!SyntaxFacts.IsValidIdentifier(name))
                throw new ParameterException($"{notebook}: -p {name}=...: '{name}' is not a C# identifier; use the variable's name from the parameters cell");
            var where = $"{notebook}: {passedAs?.Invoke(name) ?? $"-p {name}={text}"}";
            var declared = typeOf(name);
            // A keyword is a variable's name only written verbatim (@class); the parameters cell must say so, or the
            // injected cell would not compile.
            var keyword = SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None;
            if (keyword && declared is null)
                throw new ParameterException($"{where}: '{name}' is a C# keyword, so no parameter has that name unless the parameters cell " +
                                             $"declares it as @{name}; declare @{name} there, or pass another name");
            if (declared?.Unsupported is { } unsupported) throw CannotSet(name, unsupported, where);
            var type = declared?.Type;
            var nullable = declared?.Nullable == true;
            if (type is not null && Nullable.GetUnderlyingType(type) is { } inner) (type, nullable) = (inner, true);
            // Only a declaration that allows null takes the literal null; for a plain string "null" is the text "null".
            var (decl, literal) = type is null ? Infer(name, text, where)
                : nullable && text == "null" ? (CSharpName(type, qualified: true), "null")
                : Convert(name, text, type, where);
            // A nullable value type stays nullable (float? t = 0.5f;): later cells may test it with ?. or ??.
            if (nullable && type is { IsValueType: true }) decl = CSharpName(type, qualified: true) + "?";
            // A const stays const (const int K = 8;): a later `const int K2 = K * 2;` needs a constant.
            if (declared?.Const == true && type is not null) decl = "const " + (decl == "var" ? CSharpName(type, qualified: true) : decl);
            sb.Append(CultureInfo.InvariantCulture, $"{decl} {(keyword ? "@" : "")}{name} = {literal};\n");
        }
        return sb.ToString();
    }

    /// <summary>A value with no declared default takes the narrowest type that holds it: bool, int, long, double, else
    /// string. A number no double holds is refused rather than turned into infinity (.NET parses it so).
    /// <paramref name="where"/> starts a message: the notebook and the option as given.</summary>
    static (string, string) Infer(string name, string text, string where)
    {
        var inv = CultureInfo.InvariantCulture;
        if (bool.TryParse(text, out var b)) return ("bool", b ? "true" : "false");
        if (int.TryParse(text, NumberStyles.Integer, inv, out var i)) return ("int", i.ToString(inv));
        if (long.TryParse(text, NumberStyles.Integer, inv, out var l)) return ("long", l.ToString(inv) + "L");
        if (double.TryParse(text, NumberStyles.Float, inv, out var d))
            return double.IsInfinity(d) && !NamesInfinity(text)
                ? throw new ParameterException($"{where}: '{text}' is not in range (a double is at most about 1.8e308), " +
                                               $"and the notebook declares no '{name}' to say which type it wants; pass a smaller number, or declare '{name}' in the parameters cell")
                : d == 0 && WritesNonzero(text)
                ? throw new ParameterException($"{where}: '{text}' is not in range (the smallest nonzero double is about 4.9e-324; this one would be 0), " +
                                               $"and the notebook declares no '{name}' to say which type it wants; pass a larger number or 0, or declare '{name}' in the parameters cell")
                : ("double", DoubleLiteral(d));
        return ("string", SymbolDisplay.FormatLiteral(text, quote: true));
    }

    static (string, string) Convert(string name, string text, Type type, string where)
    {
        ParameterException Bad(string what) => new(
            $"{where}: the notebook's default for '{name}' is {CSharpName(type, qualified: false)}, and '{text}' is not {what}; pass {Example(type)}");
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
        // Likewise a nonzero number too small for the type parses as 0 (-p lr=1e-50 for a float was injected as 0f).
        if (type == typeof(double))
            return !double.TryParse(text, NumberStyles.Float, inv, out var d) ? throw Bad("a number")
                : double.IsInfinity(d) && !NamesInfinity(text) ? throw Bad("in range (a double is at most about 1.8e308)")
                : d == 0 && WritesNonzero(text) ? throw Bad("in range (the smallest nonzero double is about 4.9e-324; this one would be 0)") : ("double", DoubleLiteral(d));
        if (type == typeof(float))
            return !float.TryParse(text, NumberStyles.Float, inv, out var f) ? throw Bad("a number")
                : float.IsInfinity(f) && !NamesInfinity(text) ? throw Bad("in range (a float is at most about 3.4e38)")
                : f == 0 && WritesNonzero(text) ? throw Bad("in range (the smallest nonzero float is about 1.4e-45; this one would be 0)") : ("float", FloatLiteral(f));
        // A decimal too large failed to parse and was called "not a number"; it is a number out of the decimal's range.
        if (type == typeof(decimal))
            return !decimal.TryParse(text, NumberStyles.Float, inv, out var m)
                ? double.TryParse(text, NumberStyles.Float, inv, out var asDouble) && !double.IsNaN(asDouble) && !NamesInfinity(text)
                    ? throw Bad(Math.Abs(asDouble) < 1 ? "in range (the smallest nonzero decimal is 1e-28; this one would be 0)" : "in range (a decimal is at most about 7.9e28)")
                    : throw Bad("a number")
                : m == 0 && WritesNonzero(text) ? throw Bad("in range (the smallest nonzero decimal is 1e-28; this one would be 0)") : ("decimal", m.ToString(inv) + "m");
        // The other whole-number types (uint, ulong, byte, ...) were refused as if -p set no numbers of that kind: the
        // value is range-checked, and its digits are a constant the declared type takes (uint u = 7;).
        if (WholeNumberRanges.TryGetValue(type, out var range))
        {
            var keyword = CSharpName(type, qualified: false);
            return !System.Numerics.BigInteger.TryParse(text, NumberStyles.Integer, inv, out var n) ? throw Bad("a whole number")
                : n < range.Min || n > range.Max ? throw Bad($"in range ({(keyword == "sbyte" ? "an" : "a")} {keyword} is {range.Min} to {range.Max})") : (keyword, n.ToString(inv));
        }
        if (type.IsEnum)
        {
            var member = Enum.GetNames(type).FirstOrDefault(n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase))
                ?? throw Bad($"one of {string.Join(", ", Enum.GetNames(type))}");
            return ("var", $"{CSharpName(type, qualified: true)}.{member}");
        }
        throw CannotSet(name, CSharpName(type, qualified: false), where);
    }

    static ParameterException CannotSet(string name, string type, string where) => new(
        $"{where}: the notebook's default for '{name}' is {type}; -p supports string, bool, numbers and enums. Make the parameter one of those" +
        (type.Contains('<', StringComparison.Ordinal) || type.Contains('[', StringComparison.Ordinal) || type == "an array"
            ? $" (for a list, e.g. a string \"0,1\" that the notebook splits), or set '{name}' in the notebook" : $", or set '{name}' in the notebook"));

    static readonly Dictionary<Type, (System.Numerics.BigInteger Min, System.Numerics.BigInteger Max)> WholeNumberRanges = new()
    {
        [typeof(byte)] = (byte.MinValue, byte.MaxValue), [typeof(sbyte)] = (sbyte.MinValue, sbyte.MaxValue),
        [typeof(short)] = (short.MinValue, short.MaxValue), [typeof(ushort)] = (ushort.MinValue, ushort.MaxValue),
        [typeof(uint)] = (uint.MinValue, uint.MaxValue), [typeof(ulong)] = (ulong.MinValue, ulong.MaxValue),
    };

    static bool IsBigInteger(string text) => System.Numerics.BigInteger.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);

    /// <summary>Whether the number as written is not zero: a digit 1-9 before its exponent.</summary>
    static bool WritesNonzero(string text) => text.Split('e', 'E')[0].Any(c => c is >= '1' and <= '9');

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
        : t == typeof(int) || t == typeof(long) || WholeNumberRanges.ContainsKey(t) ? "a whole number like 3" : "a number like 3 or 0.5";

    static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(string)] = "string", [typeof(bool)] = "bool", [typeof(int)] = "int", [typeof(long)] = "long", [typeof(double)] = "double",
        [typeof(float)] = "float", [typeof(decimal)] = "decimal", [typeof(char)] = "char", [typeof(byte)] = "byte", [typeof(sbyte)] = "sbyte",
        [typeof(short)] = "short", [typeof(ushort)] = "ushort", [typeof(uint)] = "uint", [typeof(ulong)] = "ulong", [typeof(object)] = "object",
    };

    /// <summary>A type as C# writes it: keywords, <c>T?</c>, <c>T[]</c>, <c>List&lt;int&gt;</c>, never a CLR name such as
    /// <c>List`1[[System.Int32, ...]]</c>. <paramref name="qualified"/>: with <c>global::</c> and namespaces, for code the
    /// injected cell compiles; else short, for messages. A type the cells declared (under "Submission#N") goes by its name.</summary>
    public static string CSharpName(Type t, bool qualified)
    {
        if (Keywords.TryGetValue(t, out var keyword)) return keyword;
        if (Nullable.GetUnderlyingType(t) is { } inner) return CSharpName(inner, qualified) + "?";
        if (t.IsArray) return CSharpName(t.GetElementType()!, qualified) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        var name = t.Name.Split('`')[0];
        if (t.IsGenericType) name += "<" + string.Join(", ", t.GetGenericArguments().Select(a => CSharpName(a, qualified))) + ">";
        if (t.IsNested && t.DeclaringType is { } outer && !(outer.FullName ?? "").StartsWith("Submission#", StringComparison.Ordinal))
            return CSharpName(outer, qualified) + "." + name;
        if (!qualified || t.IsNested || string.IsNullOrEmpty(t.Namespace)) return name;
        return $"global::{t.Namespace}.{name}";
    }

    /// <summary>Builds the injected cell (code, tagged, with Polyglot kernel metadata). In a notebook whose default is not
    /// C# (an F# notebook whose cells all say #!csharp), the cell says #!csharp too: Jupyter's kernel never sees cell
    /// metadata, so the executed notebook's parameters cell ran there as F# and failed.</summary>
    public static NotebookCell Cell(string source, NotebookDocument doc)
    {
        var selector = NeedsSelector(doc);
        return new(CellKind.Code, selector ? "#!csharp\n" + source : source, new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["tags"] = new JsonArray(InjectedTag),
                ["dotnet_interactive"] = new JsonObject { ["language"] = KernelNames.CSharp },
                ["polyglot_notebook"] = new JsonObject { ["kernelName"] = KernelNames.CSharp },
            },
        }) { Kernel = KernelNames.CSharp, BodyStart = selector ? 1 : 0 };
    }

    /// <summary>Whether a cell that names no kernel would run as something else than C#: in VS Code (the Polyglot
    /// default) or under Jupyter (the kernelspec's kernel).</summary>
    static bool NeedsSelector(NotebookDocument doc) =>
        doc.DefaultKernel != KernelNames.CSharp ||
        doc.Metadata["kernelspec"]?["name"]?.GetValue<string>() is { Length: > 0 } spec && !spec.Equals(".net-csharp", StringComparison.OrdinalIgnoreCase);
}
