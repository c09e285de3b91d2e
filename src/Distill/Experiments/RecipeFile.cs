using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Distill.Sweeps;
using Distill.Training;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Distill.Experiments;

/// <summary>Settings that know the values a run would refuse (every <see cref="RecipeConfig"/>, 07-deployment's config):
/// <see cref="RecipeFile"/> checks them where a file is loaded, so `spec check` refuses what a run would.</summary>
public interface ICheckedSettings
{
    /// <summary>Each problem as (key as the recipe file writes it, message starting with that key).</summary>
    IEnumerable<(string Key, string Message)> Problems();
}

/// <summary>
/// A recipe's settings as data: experiments/recipes/NAME.yaml holds one section per budget (<c>smoke:</c>,
/// <c>quick:</c>, <c>full:</c>), each listing the settings of the recipe's config that differ from its defaults, in
/// snake_case (<c>teacher_epochs: 6</c>, <c>seeds: [0, 1, 2]</c>, <c>teacher_model: {dropout: 0.5}</c>,
/// <c>schedule: multistep:150,180,210</c>). The recipes' <c>For(budget)</c> read the copy built into the library (so a
/// notebook in any kernel gets the same settings); <see cref="FromFile{T}"/> reads an edited copy. An unknown key or a
/// value of the wrong type is an error naming the file, the line and what is expected.
/// </summary>
public static class RecipeFile
{
    public static readonly string[] Sections = ["smoke", "quick", "full"];

    /// <summary>The text of the built-in recipe file <paramref name="name"/> (e.g. "01-soft-targets"), to show or copy.</summary>
    public static string Text(string name)
    {
        using var s = typeof(RecipeFile).Assembly.GetManifestResourceStream($"Distill.recipes.{name}.yaml")
            ?? throw new ArgumentException($"no built-in recipe file '{name}'; the recipes are {string.Join(", ", Names())}.", nameof(name));
        using var reader = new StreamReader(s);
        return reader.ReadToEnd();
    }

    /// <summary>The built-in recipe files, by name.</summary>
    public static IEnumerable<string> Names() =>
        typeof(RecipeFile).Assembly.GetManifestResourceNames().Where(n => n.StartsWith("Distill.recipes.", StringComparison.Ordinal))
            .Select(n => n["Distill.recipes.".Length..^".yaml".Length]).Order(StringComparer.Ordinal);

    /// <summary><paramref name="defaults"/> with the built-in file's settings for <paramref name="budget"/>.</summary>
    public static T Load<T>(string name, Budget budget, T defaults) where T : class =>
        Apply(Text(name), $"experiments/recipes/{name}.yaml (built in)", budget, defaults);

    /// <summary><paramref name="defaults"/> with the settings for <paramref name="budget"/> of the recipe file at
    /// <paramref name="path"/> (an edited copy of one in experiments/recipes/).</summary>
    public static T FromFile<T>(string path, Budget budget, T defaults) where T : class
    {
        return Apply(Read(path), path, budget, defaults);
    }

    static string Read(string path)
    {
        CheckReadable(path);
        return ExperimentSpec.ReadText(path);
    }

    /// <summary>Refuses a path with no recipe file to read: a folder (it was "no such file"), a missing or empty file.</summary>
    public static void CheckReadable(string path)
    {
        if (FilePaths.NotAFile(path) is { } what) throw new ArgumentException($"recipe file {path}: this is {what}; give the path of a recipe file (a copy of one of experiments/recipes/).");
        if (!File.Exists(path)) throw new FileNotFoundException($"recipe file {path}: no such file; copy one of experiments/recipes/ and edit it.");
        if (FilePaths.NothingToRead(path)) throw new SpecException(path, 1, "the file is empty (or not a regular file, e.g. a FIFO); copy one of experiments/recipes/ and edit it.");
    }

    /// <summary>Whether <paramref name="text"/> (the file at <paramref name="path"/>) is a recipe file: a mapping with a
    /// budget section and none of a spec's keys. A stray key in a recipe file is then named by the recipe loader, and a
    /// stray `quick:` in a spec by the spec's (with its line), neither taken for the other kind of file.</summary>
    public static bool IsRecipe(string text, string path) =>
        ExperimentSpec.Mapping(text, path) is { Children.Count: > 0 } root
        && root.Children.Keys.Any(k => Sections.Contains(ExperimentSpec.Scalar(k)))
        && !root.Children.Keys.Any(k => SpecSchema.Keys(SpecSchema.RootSchema).Contains(ExperimentSpec.Scalar(k)));

    /// <summary>
    /// Checks every budget section of the recipe file at <paramref name="path"/> as a run loads it (against the section's
    /// <see cref="Schema"/>, then <paramref name="defaults"/>' settings), for `distill spec check`: a run reads only its
    /// own budget's section, so a typo under <c>full:</c> would otherwise wait for a full run to show. Returns each
    /// section found with its settings; the first bad key or value (RecipeConfig.Problems included) throws a
    /// <see cref="SpecException"/> naming the file and its line.
    /// </summary>
    public static IReadOnlyList<(Budget Budget, object Config)> Check(string path, object defaults) => Check(path, Read(path), defaults);

    /// <summary><see cref="Check(string, object)"/> of the file's <paramref name="text"/>, read once by the caller.</summary>
    public static IReadOnlyList<(Budget Budget, object Config)> Check(string path, string text, object defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        return Check(path, text, _ => defaults);
    }

    /// <summary><see cref="Check(string, string, object)"/> with each section against the defaults a run at its budget
    /// starts from (07's section against that budget's pair: its full: was checked against Fashion-MNIST's, not CIFAR-100's).</summary>
    public static IReadOnlyList<(Budget Budget, object Config)> Check(string path, string text, Func<Budget, object> defaultsFor)
    {
        ArgumentNullException.ThrowIfNull(defaultsFor);
        var root = ExperimentSpec.Mapping(text, path);
        var found = Enum.GetValues<Budget>().Where(b => root?.Children.Keys.Any(k => string.Equals(ExperimentSpec.Scalar(k), b.ToString(), StringComparison.OrdinalIgnoreCase)) == true).ToList();
        if (found.Count == 0) Apply(text, path, Budget.Quick, defaultsFor(Budget.Quick)); // names what is wrong with a file without sections
        return [.. found.Select(b => (b, Apply(text, path, b, defaultsFor(b))))];
    }

    static T Apply<T>(string text, string file, Budget budget, T defaults) where T : class
    {
        var root = ExperimentSpec.Mapping(text, file)
            ?? throw new SpecException(file, 1, "a recipe file is one YAML mapping with the sections smoke:, quick: and full:.");
        foreach (var (key, _) in root.Children)
            if (!Sections.Contains(ExperimentSpec.Scalar(key)))
                throw new SpecException(file, SpecSchema.Line(key), $"'{ExperimentSpec.Scalar(key)}' is not a budget; the sections are {string.Join(", ", Sections)}.");
        var name = budget.ToString().ToLowerInvariant();
        var section = root.Children.FirstOrDefault(c => ExperimentSpec.Scalar(c.Key) == name).Value
            ?? throw new SpecException(file, 1, $"no '{name}:' section; a recipe file has one per budget ({string.Join(", ", Sections)}).");
        // A setting the recipe never reads, named with why (the schema's "unknown key" would list what is valid only).
        if (section is YamlMappingNode given && defaults is RecipeConfig { NotUsed: var (unused, why) })
            foreach (var (key, _) in given.Children)
                if (unused.Contains(ExperimentSpec.Scalar(key)))
                    throw new SpecException(file, SpecSchema.Line(key), $"{name}.{ExperimentSpec.Scalar(key)}: {why}.");
        // The schema first, as `spec check` and editors apply it: what a run accepts is exactly what they accept.
        SpecSchema.Validate(file, section, SectionSchema(defaults.GetType()), name);
        var config = section switch
        {
            YamlMappingNode m => (T)Set(Clone(defaults), m, file, ""),
            YamlScalarNode s when string.IsNullOrEmpty(s.Value) || s.Value is "~" or "null" => defaults, // an empty section: the defaults
            _ => throw new SpecException(file, SpecSchema.Line(section), $"'{name}:' must be a mapping of settings."),
        };
        if (config is not ICheckedSettings r) return config;
        // Values of the right type a run would still refuse (or run wrongly): here, so a run and `spec check` refuse the same.
        if (r.Problems().FirstOrDefault() is ({ } bad, { } message))
        {
            var sectionKey = root.Children.Keys.First(k => ExperimentSpec.Scalar(k) == name);
            // A problem of two settings ("schedule,student_epochs") points at the first one the section writes.
            var node = bad.Split(',').Select(k => NodeAt(section, k)).FirstOrDefault(n => n is not null);
            throw new SpecException(file, SpecSchema.Line(node ?? sectionKey), $"{name}.{message}");
        }
        return config is RecipeConfig recipe ? (T)(object)(recipe with { Budget = budget }) : config;
    }

    /// <summary>The node a problem's key ("seeds[1]", "student_optimizer.learning_rate", "set.DKD") names in the section,
    /// for its line: the deepest part written there (null when the setting is a default).</summary>
    static YamlNode? NodeAt(YamlNode section, string key)
    {
        YamlNode? found = null;
        var node = section;
        foreach (var part in key.Split('.'))
        {
            var (name, index) = part.IndexOf('[') is var i and >= 0 ? (part[..i], int.Parse(part[(i + 1)..^1], CultureInfo.InvariantCulture)) : (part, -1);
            if (node is not YamlMappingNode map || map.Children.FirstOrDefault(c => ExperimentSpec.Scalar(c.Key) == name) is not { Key: { } k, Value: var v }) break;
            (found, node) = (k, v);
            if (index < 0) continue;
            if (v is not YamlSequenceNode seq || index >= seq.Children.Count) break;
            found = node = seq.Children[index];
        }
        return found;
    }

    /// <summary>
    /// The JSON Schema of a recipe file whose settings are <paramref name="defaults"/>' record, derived from the same
    /// settings the loader accepts (so the two cannot disagree): experiments/recipes/schema/NAME.schema.json, which the
    /// files name in their <c>yaml-language-server</c> line for editors, and what `distill spec check` validates a
    /// recipe file against before loading each section. Written by `distill spec schema NAME`.
    /// </summary>
    public static JsonObject Schema(string name, object defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var section = SectionSchema(defaults.GetType());
        return new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$id"] = $"{name}.schema.json",
            ["title"] = $"experiments/recipes/{name}.yaml: one section per budget",
            ["type"] = "object",
            ["properties"] = new JsonObject(Sections.Select(b => KeyValuePair.Create(b, (JsonNode?)section.DeepClone()))),
            ["additionalProperties"] = false,
        };
    }

    /// <summary>One budget's section: the settings of <paramref name="type"/>; empty keeps the defaults.</summary>
    static JsonObject SectionSchema(Type type) => SectionSchemas.GetOrAdd(type, t =>
    {
        var section = ObjectSchema(t, nullable: true);
        section["description"] = $"Settings of {t.Name} that differ from its defaults, in snake_case.";
        return section;
    });

    static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, JsonObject> SectionSchemas = new();

    static JsonObject ObjectSchema(Type type, bool nullable)
    {
        var nullability = new NullabilityInfoContext(); // not thread-safe: one per call
        return new()
        {
            ["type"] = nullable ? new JsonArray("object", "null") : "object",
            // Null only where the property is declared nullable (int?, string?): null for a list or a record is no setting.
            ["properties"] = new JsonObject(Settings(type).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key,
                (JsonNode?)ValueSchema(kv.Value.PropertyType, nullability.Create(kv.Value).WriteState == NullabilityState.Nullable)))),
            ["additionalProperties"] = false,
        };
    }

    /// <summary>What <see cref="Value"/> accepts for a property of <paramref name="type"/>, as a schema.</summary>
    static JsonObject ValueSchema(Type type, bool nullable)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        JsonObject Typed(params string[] types) =>
            new() { ["type"] = types.Length == 1 && !nullable ? types[0] : new JsonArray([.. types.Concat(nullable ? ["null"] : []).Select(x => (JsonNode?)x)]) };
        if (t == typeof(string)) return Typed("string", "number", "integer", "boolean"); // any scalar, read as its text
        if (t == typeof(int)) return Typed("integer");
        if (t == typeof(double)) return Typed("number");
        if (t == typeof(bool)) return Typed("boolean");
        if (t.IsEnum) return new JsonObject { ["enum"] = new JsonArray([.. Enum.GetNames(t).Select(n => (JsonNode?)n.ToLowerInvariant())]) };
        if (t == typeof(LrSchedule))
        {
            var schedule = Typed("string");
            schedule["description"] = "constant, cosine, step:EVERY[:GAMMA] or multistep:E1,E2[:GAMMA]";
            return schedule;
        }
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            var list = Typed("array");
            list["items"] = ValueSchema(t.GetGenericArguments()[0], Nullable.GetUnderlyingType(t.GetGenericArguments()[0]) is not null);
            return list;
        }
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) && t.GetGenericArguments()[0] == typeof(string))
        {
            var map = Typed("object");
            map["additionalProperties"] = ValueSchema(t.GetGenericArguments()[1], Nullable.GetUnderlyingType(t.GetGenericArguments()[1]) is not null);
            return map;
        }
        if (Settings(t).Count > 0) return ObjectSchema(t, nullable);
        throw new NotSupportedException($"RecipeFile.Schema: no schema for settings of type {t.Name}; teach ValueSchema the type Value reads.");
    }

    /// <summary>The settings a file may set: public init properties, by snake_case name (the run-time ones excluded).</summary>
    static Dictionary<string, PropertyInfo> Settings(Type type)
    {
        IReadOnlyList<string> unused = typeof(RecipeConfig).IsAssignableFrom(type) && !type.IsAbstract ? ((RecipeConfig)Activator.CreateInstance(type)!).NotUsed.Keys : [];
        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0 && !RunTime.Contains(p.Name))
            .Where(p => !unused.Contains(Snake(p.Name)))
            .ToDictionary(p => Snake(p.Name), StringComparer.Ordinal);
    }

    /// <summary>Settings of a run, not of a recipe: the caller's (output folder, log, cancellation, ...).</summary>
    static readonly HashSet<string> RunTime =
        ["Budget", "Cancellation", "Log", "Progress", "OutDir", "Resume", "Force", "TeacherCache", "KeepEverySeed", "Device", "Pair", "BestMethod"];

    static object Set(object target, YamlMappingNode map, string file, string path)
    {
        var settings = Settings(target.GetType());
        foreach (var (keyNode, valueNode) in map.Children)
        {
            var key = ExperimentSpec.Scalar(keyNode);
            if (!settings.TryGetValue(key, out var p))
                throw new SpecException(file, SpecSchema.Line(keyNode), $"'{path}{key}' is not a setting of {target.GetType().Name}; its settings are {string.Join(", ", settings.Keys.Order(StringComparer.Ordinal))}.");
            p.SetValue(target, Value(p.PropertyType, p.GetValue(target), valueNode, file, path + key));
        }
        return target;
    }

    static object? Value(Type type, object? current, YamlNode node, string file, string key)
    {
        var nullable = Nullable.GetUnderlyingType(type);
        // Only a plain ~, null or nothing is null (the schema refuses it where a setting is not nullable): a quoted "null"
        // or "" is text, which made a null model name (a NullReferenceException in spec check).
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: "~" or "null" or "" } && (nullable is not null || !type.IsValueType)) return null;
        var t = nullable ?? type;
        string Expect(string what) => throw new SpecException(file, SpecSchema.Line(node), $"'{key}' expects {what}, got '{ExperimentSpec.Scalar(node)}'.");
        if (t == typeof(string)) return node is YamlScalarNode s ? s.Value : Expect("text");
        // A whole number in any spelling (1.0, 3e2), as the schema's integer takes it.
        if (t == typeof(int)) return node is YamlScalarNode && double.TryParse(ExperimentSpec.Scalar(node), NumberStyles.Float, CultureInfo.InvariantCulture, out var w)
                                     && Math.Floor(w) == w && w is >= int.MinValue and <= int.MaxValue ? (int)w : Expect("an integer");
        if (t == typeof(double)) return node is YamlScalarNode && double.TryParse(ExperimentSpec.Scalar(node), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : Expect("a number");
        if (t == typeof(bool)) return node is YamlScalarNode && bool.TryParse(ExperimentSpec.Scalar(node), out var b) ? b : Expect("true or false");
        if (t.IsEnum) return node is YamlScalarNode && Enum.TryParse(t, ExperimentSpec.Scalar(node), ignoreCase: true, out var e) && Enum.IsDefined(t, e!) ? e : Expect($"one of {string.Join(", ", Enum.GetNames(t).Select(n => n.ToLowerInvariant()))}");
        if (t == typeof(LrSchedule))
        {
            try { return LrSchedule.Parse(ExperimentSpec.Scalar(node)); }
            // With the parser's reason (a factor of 0, steps out of order), which the generic form alone dropped.
            catch (Exception ex) when (ex is ArgumentException or FormatException) { return Expect($"a schedule: constant, cosine, step:EVERY[:GAMMA] or multistep:E1,E2[:GAMMA] ({ex.Message.TrimEnd('.')})"); }
        }
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            if (node is not YamlSequenceNode seq) return Expect("a list ([a, b, ...])");
            var item = t.GetGenericArguments()[0];
            var array = Array.CreateInstance(item, seq.Children.Count);
            for (var k = 0; k < array.Length; k++) array.SetValue(Value(item, null, seq.Children[k], file, $"{key}[{k}]"), k);
            return array;
        }
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) && t.GetGenericArguments()[0] == typeof(string))
        {
            if (node is not YamlMappingNode m) return Expect("a mapping (name: value, ...)");
            var valueType = t.GetGenericArguments()[1];
            var dict = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(typeof(string), valueType))!;
            foreach (var (k, v) in m.Children) dict[ExperimentSpec.Scalar(k)] = Value(valueType, null, v, file, $"{key}.{ExperimentSpec.Scalar(k)}");
            return dict;
        }
        // A record of settings (model options, optimizer, augmentation): its keys change a copy of the current value.
        if (current is not null && node is YamlMappingNode nested && Settings(t).Count > 0) return Set(Clone(current), nested, file, key + ".");
        return Expect(current is null ? "a value this file cannot set" : $"a mapping of {string.Join(", ", Settings(t).Keys)}");
    }

    /// <summary>A shallow copy of a record (its compiler-made clone), so the defaults the caller passed stay as they were.</summary>
    static object Clone(object record) =>
        record.GetType().GetMethod("<Clone>$")?.Invoke(record, null)
        ?? throw new InvalidOperationException($"{record.GetType().Name} is not a record; a recipe file sets records only.");

    internal static string Snake(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

}
