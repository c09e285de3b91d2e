using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Distill.Sweeps;

/// <summary>A spec file that does not hold: the file, the line and what to change, as one line.</summary>
public sealed class SpecException(string file, int line, string message)
    : FormatException($"{file} line {line}: {OneLine(message)}")
{
    public int Line { get; } = line;
    /// <summary>The message without the file and line, whole (compared, and wrapped into other messages).</summary>
    public string Problem { get; } = message;

    /// <summary>One line, whatever the value quoted (a line break in it is shown as ⏎), and short: a 900 KB schedule made
    /// a 900 KB error line (<see cref="TerminalText.ShortLine"/>).</summary>
    static string OneLine(string message) => TerminalText.ShortLine(message);
}

/// <summary>
/// The experiment spec's JSON Schema (spec.schema.json, embedded: the one definition of the format, also what editors
/// read through the specs' <c>$schema</c> comment), applied to YAML nodes so that every error names the line. Only the
/// keywords the schema uses are understood: type, properties, additionalProperties, required, enum, minimum, maximum,
/// exclusiveMinimum, items, minItems and local $ref; a keyword outside that set in the schema fails loudly rather than
/// being ignored.
/// </summary>
public static partial class SpecSchema
{
    static readonly HashSet<string> Understood =
        ["$schema", "$id", "$ref", "$defs", "title", "description", "type", "properties", "additionalProperties", "required",
         "enum", "minimum", "maximum", "exclusiveMinimum", "items", "minItems"];

    /// <summary>The schema's text, as shipped in the library.</summary>
    public static string Text { get; } = Read();

    static readonly JsonObject Root = (JsonObject)JsonNode.Parse(Text)!;

    static string Read()
    {
        using var s = typeof(SpecSchema).Assembly.GetManifestResourceStream("Distill.Sweeps.spec.schema.json")!;
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    public static JsonObject RootSchema => Root;

    /// <summary>Checks <paramref name="node"/> (at <paramref name="path"/>, "" for the document) against
    /// <paramref name="schema"/>; the first violation is thrown as a <see cref="SpecException"/>.</summary>
    public static void Validate(string file, YamlNode node, JsonObject schema, string path)
    {
        schema = Resolve(schema);
        foreach (var k in schema.Select(p => p.Key).Where(k => !Understood.Contains(k)))
            throw new InvalidOperationException($"spec.schema.json uses '{k}', which SpecSchema does not check; teach it the keyword.");
        var line = Line(node);
        // The loader resolves an alias to the anchored node itself, so one grid value set through it would change
        // every place it points to (a teacher's optimizer and the student's, say).
        if (!node.Anchor.IsEmpty)
            throw new SpecException(file, line, $"{Name(path)} has the anchor &{node.Anchor.Value}; YAML anchors and aliases are not part of the spec format: write each value out.");
        // A tag of its own (`!custom 1`) means something only to the program that defines it: the value was read as
        // if untagged, the tag silently dropped.
        if (!node.Tag.IsEmpty && !node.Tag.Value.StartsWith("tag:yaml.org,2002:", StringComparison.Ordinal))
            throw new SpecException(file, line, $"{Name(path)} has the YAML tag {node.Tag.Value}, which the spec format does not know; remove the tag and write the value alone.");
        if (schema["enum"] is JsonArray options)
        {
            var text = node is YamlScalarNode s ? s.Value ?? "" : "";
            if (!options.Any(o => o!.GetValue<string>() == text))
                throw new SpecException(file, line, $"{Name(path)} is '{text}'; expected one of {string.Join(", ", options.Select(o => o!.GetValue<string>()))}.");
            return;
        }
        var types = schema["type"] switch
        {
            JsonArray a => a.Select(t => t!.GetValue<string>()).ToArray(),
            JsonValue v => [v.GetValue<string>()],
            _ => [],
        };
        var actual = TypeOf(node);
        // JSON Schema's integer (2020-12) is any number without a fractional part: 1.0, 3e2 and !!float 2 are whole
        // numbers to an editor checking the file against spec.schema.json, and were refused here.
        if (actual == "number" && types.Contains("integer") && IsWhole(node)) actual = "integer";
        if (types.Length > 0 && !types.Any(t => t == actual || (t == "number" && actual == "integer")))
            throw new SpecException(file, line, $"{Name(path)} must be {string.Join(" or ", types.Select(Describe))}, not {Shown(node)}{QuotedHint(node, types)}.");
        switch (node)
        {
            case YamlMappingNode map:
                var properties = schema["properties"] as JsonObject ?? [];
                foreach (var (keyNode, value) in map.Children)
                {
                    // YAML allows any node as a key (`? [a, b]`); every key of the format is a name.
                    if (keyNode is not YamlScalarNode { Value: var key })
                        throw new SpecException(file, Line(keyNode), $"a key in {Name(path)} is {Shown(keyNode)}; keys are names (name: value), write it as text.");
                    key ??= "";
                    var sub = ChildSchema(schema, key);
                    if (sub is null)
                        throw new SpecException(file, Line(keyNode),
                            $"unknown key '{key}' in {Name(path)}; valid keys: {string.Join(", ", properties.Select(p => p.Key))}.");
                    Validate(file, value, sub, Join(path, key));
                }
                foreach (var required in (schema["required"] as JsonArray ?? []).Select(r => r!.GetValue<string>()))
                    if (!map.Children.ContainsKey(new YamlScalarNode(required)))
                        throw new SpecException(file, line, $"{Name(path)} needs the key '{required}'.");
                break;
            case YamlSequenceNode seq:
                if (schema["minItems"] is JsonValue min && seq.Children.Count < min.GetValue<int>())
                    throw new SpecException(file, line, $"{Name(path)} is an empty list; give at least {min.GetValue<int>()} value.");
                if (schema["items"] is JsonObject items)
                    for (var i = 0; i < seq.Children.Count; i++) Validate(file, seq.Children[i], items, $"{path}[{i}]");
                break;
            case YamlScalarNode when actual is "integer" or "number":
                var x = AsDouble(ToJson(node));
                // 1e400 reads as infinity, which no setting takes and JSON cannot hold (the spec's hash is of its JSON).
                if (!double.IsFinite(x))
                    throw new SpecException(file, line, $"{Name(path)} = {Shown(node)} is out of range; give a finite number (at most about 1.8e308).");
                // 1e-400 reads as 0: a weight of 1e-400 switched its term off, and a grid's 0 and 1e-400 made the same runs
                // under two labels, grouped as one setting with each seed twice.
                // Refused when a sweep is planned, not when a folder an earlier build planned with one is read.
                if (NumberText.Underflows(((YamlScalarNode)node).Value ?? ""))
                    ExperimentSpec.RefuseWhenPlanned(new SpecException(file, line, $"{Name(path)} = {((YamlScalarNode)node).Value} is too small for a number and would read as 0; give 0 if 0 is meant, or a larger number."));
                // Whole-number settings are 32-bit counts and seeds: a larger value is refused here, not an overflow later.
                if (types.Contains("integer") && (x < int.MinValue || x > int.MaxValue))
                {
                    var least = schema["minimum"] is JsonValue m ? m.GetValue<double>() : int.MinValue;
                    throw new SpecException(file, line, $"{Name(path)} = {Shown(node)} is out of range; expected a whole number in [{least.ToString(CultureInfo.InvariantCulture)}, {int.MaxValue}].");
                }
                if (schema["minimum"] is JsonValue lo && x < lo.GetValue<double>())
                    throw new SpecException(file, line, $"{Name(path)} = {Shown(node)} is below its minimum, {lo}.");
                if (schema["exclusiveMinimum"] is JsonValue ex && x <= ex.GetValue<double>())
                    throw new SpecException(file, line, $"{Name(path)} = {Shown(node)} must be above {ex}.");
                if (schema["maximum"] is JsonValue hi && x > hi.GetValue<double>())
                    throw new SpecException(file, line, $"{Name(path)} = {Shown(node)} is above its maximum, {hi}.");
                break;
        }
    }

    /// <summary>The schema of key <paramref name="key"/> inside an object schema: a named property, else the
    /// additionalProperties schema, else null (the key is not allowed).</summary>
    public static JsonObject? ChildSchema(JsonObject schema, string key)
    {
        schema = Resolve(schema);
        if (schema["properties"] is JsonObject p && p[key] is JsonObject named) return Resolve(named);
        return schema["additionalProperties"] is JsonObject more ? Resolve(more) : null;
    }

    /// <summary>The names an object schema lists (for "valid keys" messages).</summary>
    public static IEnumerable<string> Keys(JsonObject schema) => (Resolve(schema)["properties"] as JsonObject ?? []).Select(p => p.Key);

    public static bool IsObject(JsonObject schema) => Resolve(schema)["type"] is JsonValue t && t.GetValue<string>() == "object";

    static JsonObject Resolve(JsonObject schema) =>
        schema["$ref"] is JsonValue r ? (JsonObject)Root["$defs"]![r.GetValue<string>().Replace("#/$defs/", "", StringComparison.Ordinal)]! : schema;

    /// <summary>A YAML node as JSON: plain scalars typed as YAML 1.2's core schema types them (quoted ones are strings).</summary>
    public static JsonNode ToJson(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", (JsonNode?)ToJson(c.Value)))),
        YamlSequenceNode s => new JsonArray([.. s.Children.Select(ToJson)]),
        YamlScalarNode v => TypeOf(v) switch
        {
            // Beyond a long it stays a number (a loader's own range check then names it), not an overflow.
            "integer" => long.TryParse(v.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? JsonValue.Create(l)
                : JsonValue.Create(double.Parse(v.Value!, NumberStyles.Float, CultureInfo.InvariantCulture)),
            "number" => JsonValue.Create(double.Parse(v.Value!, NumberStyles.Float, CultureInfo.InvariantCulture)),
            "boolean" => JsonValue.Create(v.Value == "true"),
            _ => JsonValue.Create(v.Value ?? ""),
        },
        _ => throw new InvalidDataException($"line {Line(node)}: YAML aliases and tags are not part of the spec format; write the value out."),
    };

    /// <summary>Whether a number node's value is a finite whole number (1.0, 3e2), whatever its spelling.</summary>
    static bool IsWhole(YamlNode node) => AsDouble(ToJson(node)) is var x && double.IsFinite(x) && Math.Floor(x) == x;

    /// <summary>A whole number's value as an int: <see cref="Validate"/> has checked it whole and in range (an integer key's
    /// 1.0 or 3e2 is a JSON double).</summary>
    public static int AsInt(JsonNode n) => checked((int)AsDouble(n));

    /// <summary>A JSON number as a double, whether it was read as an integer or not.</summary>
    public static double AsDouble(JsonNode n) => n is JsonValue v && v.TryGetValue<long>(out var l) ? l : n.GetValue<double>();

    static string TypeOf(YamlNode node) => node switch
    {
        YamlMappingNode => "object",
        YamlSequenceNode => "array",
        // `!!str 1` is text as surely as "1" is: read as the number, it passed where the quoted one was refused.
        YamlScalarNode { Tag: var tag } when !tag.IsEmpty && tag.Value == StrTag => "string",
        // `!!float 1` is the float 1.0, which a whole-number setting refuses when written 1.0: it passed as the integer 1.
        YamlScalarNode { Tag: var tag, Value: { } v } when !tag.IsEmpty && tag.Value == FloatTag && (Integer().IsMatch(v) || Float().IsMatch(v)) => "number",
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: var v } when v is "true" or "false" => "boolean",
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: var v } when v is not null && Integer().IsMatch(v) => "integer",
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: var v } when v is not null && Float().IsMatch(v) => "number",
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: var v } when v is null or "" or "null" or "~" => "null",
        YamlScalarNode => "string",
        _ => "alias",
    };

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();

    static string Describe(string type) => type switch
    {
        "integer" => "a whole number",
        "number" => "a number",
        "string" => "text",
        "boolean" => "true or false",
        "object" => "a mapping of keys (key: value lines)",
        "array" => "a list ([a, b] or '- a' lines)",
        _ => type,
    };

    static string Shown(YamlNode node) => node switch
    {
        YamlScalarNode s when TypeOf(s) == "null" => "empty",
        YamlScalarNode { Tag: var tag } s when !tag.IsEmpty && tag.Value == FloatTag => $"'!!float {s.Value}'",
        YamlScalarNode s => $"'{s.Value}'",
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ => "an alias",
    };

    const string StrTag = "tag:yaml.org,2002:str";
    const string FloatTag = "tag:yaml.org,2002:float";

    /// <summary>"not '40'" puzzles when the 40 was quoted (or tagged !!str): that makes any scalar text, so say that and
    /// the fix.</summary>
    internal static string QuotedHint(YamlNode node, string[] expected) =>
        node is YamlScalarNode { Value: { } v } scalar && (scalar.Style != YamlDotNet.Core.ScalarStyle.Plain || (!scalar.Tag.IsEmpty && scalar.Tag.Value == StrTag))
        && TypeOf(new YamlScalarNode(v.Trim()) { Style = YamlDotNet.Core.ScalarStyle.Plain }) is var plain && expected.Any(t => t == plain || (t == "number" && plain == "integer"))
            ? scalar.Style switch
            {
                YamlDotNet.Core.ScalarStyle.Plain => " (tagged !!str, so it is text: remove the tag)",
                // A block scalar (| or >) is text too, and has no quotes to remove.
                YamlDotNet.Core.ScalarStyle.Literal or YamlDotNet.Core.ScalarStyle.Folded => " (a | or > block, so it is text: write the number on the key's line)",
                _ => " (quoted, so it is text: remove the quotes)",
            } : "";

    public static int Line(YamlNode node) => (int)node.Start.Line;

    static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    static string Name(string path) => path.Length == 0 ? "the spec" : path;

    /// <summary>JSON for reports (indented, non-ASCII kept).</summary>
    internal static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
