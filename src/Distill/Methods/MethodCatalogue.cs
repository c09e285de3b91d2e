using Distill.Losses;

namespace Distill.Methods;

/// <summary>A method with its settings, e.g. from <c>"dkd:beta=8"</c>; <see cref="Label"/> names it in tables and run names.</summary>
public sealed record MethodChoice(Method Method, MethodSettings Settings)
{
    public string Label => Settings.Overrides.Count == 0 ? Method.Name
        : $"{Method.Name}:{string.Join(",", Settings.Overrides.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"))}";

    /// <summary>The method and every setting, defaults included, as a run's record keeps it ("kd alpha=0.9 ...").</summary>
    public string Record => $"{Method.Name} {string.Join(" ", Settings.All.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"))}";

    public Objective Build(MethodSetup setup) => Method.Build(Settings, setup);

    public override string ToString() => Label;
}

/// <summary>
/// Every method of the library, found by reflection over the <see cref="Method"/> subclasses in this assembly (adding
/// a method is adding its file), plus any registered at run time by <see cref="Register"/>. The loss registry, the
/// comparison, <c>distill train --method</c>, <c>distill methods</c> and <c>distill reference</c> all look methods up here.
/// </summary>
public static class MethodCatalogue
{
    static readonly List<Method> methods = [.. typeof(Method).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(Method)) && !t.IsAbstract && t.GetConstructor(Type.EmptyTypes) is not null)
        .Select(t => (Method)Activator.CreateInstance(t)!)
        .OrderBy(m => m.Kind).ThenBy(m => m.Paper?.Year ?? 0).ThenBy(m => m.Name, StringComparer.Ordinal)];

    public static IReadOnlyList<Method> All => methods;

    public static IEnumerable<string> Names => methods.Select(m => m.Name);

    /// <summary>A user's own method (e.g. from a notebook cell); its name must be new.</summary>
    public static void Register(Method method)
    {
        ArgumentNullException.ThrowIfNull(method);
        // Lookups trim, ignore case and split "name:key=value,..." (TryFind, Parse): a name they cannot return is refused.
        if (string.IsNullOrEmpty(method.Name) || method.Name.Any(c => char.IsWhiteSpace(c) || c is ':' or '=' or ','))
            throw new ArgumentException($"method name '{method.Name}': give a non-empty name without blanks, ':', '=' or ',' (a lookup reads \"name:key=value,...\", so it could never find this one).", nameof(method));
        if (TryFind(method.Name) is { } taken)
            throw new ArgumentException($"A method named '{taken.Name}' is already in the catalogue (names are looked up ignoring case, so '{method.Name}' is the same name).", nameof(method));
        methods.Add(method);
    }

    /// <summary>The method <paramref name="name"/> names, whatever its case and surrounding blanks (`KD` is kd); null when
    /// none does. The one rule every lookup of a method name uses.</summary>
    public static Method? TryFind(string name) =>
        name is null ? throw new ArgumentNullException(nameof(name)) : methods.FirstOrDefault(m => string.Equals(m.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    public static Method Find(string name) =>
        TryFind(name)
        ?? throw new ArgumentException($"unknown method '{name}'; the catalogue has {string.Join(", ", Names)} (see `distill methods`).");

    /// <summary><c>name</c> or <c>name:key=value,key=value</c>; a list value keeps its commas
    /// (<c>mlkd:temperatures=2,4,weight=2</c>): a part without '=' continues the value before it.</summary>
    public static MethodChoice Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var (name, rest) = spec.IndexOf(':') is var i and >= 0 ? (spec[..i], spec[(i + 1)..]) : (spec, "");
        var method = Find(name);
        return new(method, method.Settings(ParseAssignments(Assignments(rest), spec)));
    }

    /// <summary>The key=value parts of <c>key=value,key=value</c>: a part without '=' continues the value before it.</summary>
    static List<string> Assignments(string text)
    {
        var parts = new List<string>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (part.Contains('=', StringComparison.Ordinal) || parts.Count == 0) parts.Add(part);
            else parts[^1] += "," + part;
        return parts;
    }

    public static MethodChoice Choose(string name, IEnumerable<string> assignments)
    {
        // The library's NAME:key=value form (Parse), typed on the command line, was only "unknown method 'dkd:beta=8'".
        if (TryFind(name) is null && name.Split(':', 2) is [var head, var rest] && TryFind(head) is { } known)
            throw new ArgumentException($"unknown method '{name}'; give the method's parameters with --set: --method {known.Name} {string.Join(' ', Assignments(rest).Select(a => $"--set {a}"))}.");
        var method = Find(name);
        return new(method, method.Settings(ParseAssignments(assignments, "--set")));
    }

    static Dictionary<string, string> ParseAssignments(IEnumerable<string> assignments, string where)
    {
        var result = new Dictionary<string, string>();
        foreach (var a in assignments)
        {
            var eq = a.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"{where}: '{a}' is not key=value (e.g. temperature=4).");
            var key = a[..eq].Trim();
            if (!result.TryAdd(key, a[(eq + 1)..].Trim())) throw new ArgumentException($"{where}: '{key}' is given twice.");
        }
        return result;
    }

    /// <summary>
    /// A weighted sum of methods (an experiment's loss): cross-entropy weighted <paramref name="ceWeight"/>, plus every
    /// method's terms other than its own cross-entropy, each scaled by that method's weight. Two methods whose terms
    /// share a name are an error (Objective.Add).
    /// </summary>
    public static Objective Combine(double ceWeight, IEnumerable<(MethodChoice Choice, double Weight)> methods, MethodSetup setup)
    {
        var objective = new Objective();
        if (ceWeight != 0) objective.Add(new CrossEntropyTerm(), ceWeight);
        foreach (var (choice, weight) in methods)
            foreach (var (term, schedule) in choice.Build(setup).Terms.Where(t => t.Term is not CrossEntropyTerm))
                objective.Add(term, weight == 1 ? schedule : new ScaledSchedule(schedule, weight));
        return objective;
    }

    /// <summary>The method that declares reference function <paramref name="loss"/>, and the function.</summary>
    internal static bool TryReference(string loss, out Func<LossArguments, TorchSharp.torch.Tensor> function)
    {
        foreach (var m in methods)
            if (m.References.TryGetValue(loss, out function!)) return true;
        function = null!;
        return false;
    }

    internal static IEnumerable<string> ReferenceNames => methods.SelectMany(m => m.References.Keys);
}
