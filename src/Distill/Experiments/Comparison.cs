using System.Diagnostics;
using Distill.Data;
using Distill.Losses;
using Distill.Methods;
using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Experiments;

/// <summary>
/// Settings of <see cref="Comparison"/>: every method on one teacher/student pair. Defaults: the CNN teacher (width 32)
/// and a CNN student of width 8, which share stage structure (14×14, 7×7) so every feature method applies. Loss weights
/// follow RepDistiller's defaults (Tian et al. 2020) where they exist.
/// </summary>
public sealed record ComparisonConfig : RecipeConfig
{
    public ComparisonConfig() => Student = "cnn-8";

    /// <summary>Methods to run, by catalogue name (<c>distill methods</c>); default <see cref="Comparison.AllMethods"/>.</summary>
    public IReadOnlyList<string> Methods { get; init; } = Comparison.AllMethods;
    /// <summary>Settings that differ from a method's catalogue defaults, by method then parameter (e.g. DKD's β at the
    /// full budget). Anything else takes the catalogue's default.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Set { get; init; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>();

    /// <summary>RepDistiller's CIFAR-100 benchmark pairs (teacher, student) for the full budget; <see cref="For"/> runs the
    /// first, <c>with { Teacher = ..., Student = ... }</c> the other.</summary>
    public static readonly IReadOnlyList<(string Teacher, string Student)> PaperPairs = [("resnet32x4", "resnet8x4"), ("wrn-40-2", "wrn-16-2")];

    /// <summary>The recipe at <paramref name="budget"/>: the settings of experiments/recipes/05-comparison.yaml (built in).</summary>
    public static ComparisonConfig For(Budget budget) => RecipeFile.Load("05-comparison", budget, new ComparisonConfig());

    /// <summary>Besides the shared settings: every method and <c>set:</c> entry against the catalogue, each named once.
    /// The catalogue finds names whatever their case, so <c>[kd, KD]</c> would train kd twice, and of <c>dkd:</c> and
    /// <c>DKD:</c> only one could apply.</summary>
    public override IEnumerable<(string Key, string Message)> Problems()
    {
        foreach (var p in base.Problems()) yield return p;
        // set: first, so a bad parameter is named where it is written, not at a method that uses it.
        var seen = new Dictionary<string, string>();
        foreach (var name in Set.Keys)
            if ((Twice(name, seen, "set") ?? Catalogued(() => Comparison.Choice(name, this)).Error) is { } bad)
                yield return ($"set.{name}", bad.StartsWith("set ", StringComparison.Ordinal) ? bad : $"set.{name}: {bad}");
        seen.Clear();
        if (Methods.Count == 0) yield return ("methods", "methods is empty: give at least one method (distill methods lists them).");
        for (var k = 0; k < Methods.Count; k++)
            if ((Twice(Methods[k], seen, "methods") ?? Catalogued(() => Comparison.Choice(Methods[k], this)).Error) is { } bad)
                yield return ($"methods[{k}]", bad.StartsWith("methods", StringComparison.Ordinal) ? bad : $"methods[{k}]: {bad}");
        // Settings of a method that does not run were ignored without a word (after the methods' own checks, which a
        // misspelt method fails first).
        foreach (var name in Set.Keys)
            if (MethodCatalogue.TryFind(name) is not null && !Runs(Methods, name))
                yield return ($"set.{name},methods", $"set.{name}: {name} is not in methods ({string.Join(", ", Methods)}), so its settings would be ignored; add it to methods, or remove set.{name}.");
    }

    /// <summary>This config running <paramref name="methods"/> only, with the settings of those among them: a setting of
    /// a method that does not run is refused (see <see cref="Problems"/>).</summary>
    public ComparisonConfig WithMethods(IReadOnlyList<string> methods) =>
        this with { Methods = methods, Set = Set.Where(kv => Runs(methods, kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value) };

    /// <summary>Whether <paramref name="methods"/> holds the method <paramref name="name"/> names, whatever the spelling.</summary>
    static bool Runs(IEnumerable<string> methods, string name) =>
        MethodCatalogue.TryFind(name) is { } method && methods.Any(m => MethodCatalogue.TryFind(m) == method);

    /// <summary>"methods has kd twice ..." when <paramref name="name"/> is a method <paramref name="seen"/> already holds.</summary>
    static string? Twice(string name, Dictionary<string, string> seen, string list)
    {
        var method = MethodCatalogue.TryFind(name);
        if (method is null || seen.TryAdd(method.Name, name)) return null;
        return $"{list} has {method.Name} twice ('{seen[method.Name]}' and '{name}'); keep one.";
    }
}

public sealed class ComparisonResult : ExperimentResult
{
    public required ComparisonConfig Config { get; init; }
    /// <summary>Median CPU latency per image (ms, batch of 1) of the teacher and of each method's first-seed student.</summary>
    public Dictionary<string, double> LatencyMs { get; } = [];
}

/// <summary>
/// Every method of the <see cref="MethodCatalogue"/> that distils one teacher into one student, on one pair with the
/// same data, budget and seeds. Each method is trained with its catalogue defaults (RepDistiller's and the papers'
/// weights; <see cref="Method.WeightNote"/> says where and why ours differ) unless <see cref="ComparisonConfig.Set"/>
/// overrides them. Layers are chosen by position, as RepDistiller does for every pair: stage features both models
/// have, and each model's last feature (the embedding before the classifier).
/// </summary>
public static class Comparison
{
    /// <summary>The catalogue's methods that take one teacher and one student (not the multi-teacher or self-distillation
    /// set-ups, which change the pair itself).</summary>
    public static IReadOnlyList<string> AllMethods => [.. MethodCatalogue.All.Where(m => m.InComparison).Select(m => m.Name)];

    public static ComparisonResult Run(ImageDataset data, ComparisonConfig? config = null, DistillModel? teacher = null)
    {
        var c = Recipe.Checked(data, config ?? ComparisonConfig.For(Budget.Quick));
        var choices = c.Methods.Select(m => Choice(m, c)).ToList(); // every name and setting checked before anything trains
        CheckPair(data, c, choices);
        var result = new ComparisonResult { Config = c };
        var t = Recipe.Teacher(data, c, result, teacher);
        using var transfer = Recipe.TransferSet(data, c);
        foreach (var seed in c.Seeds)
            foreach (var choice in choices)
            {
                using (manual_seed(seed)) { } // the regressor of "fitnet" is initialised from the seed too
                var name = choice.Method.Name;
                var setup = Setup(transfer, c, seed);
                Recipe.Student(transfer, c, result, name, seed, choice.Build(setup), choice.Method.NeedsTeacher ? t : null, method: (choice, setup));
            }
        result.LatencyMs["teacher"] = LatencyMs(t, transfer);
        foreach (var (name, model) in result.Students) result.LatencyMs[name] = LatencyMs(model, transfer);
        return result;
    }

    /// <summary>Builds every method's objective once on the pair, before the teacher trains: a layer the pair lacks (a
    /// feature method on MLPs: "mlp-32 has no feature 'stage2'") failed only after the teacher and every earlier
    /// method's students had trained. Building draws from torch's global generator, which is put back, so the runs
    /// after the check draw what they drew without it.</summary>
    static void CheckPair(ImageDataset data, ComparisonConfig c, IReadOnlyList<MethodChoice> choices)
    {
        using var state = get_rng_state();
        try
        {
            using var transfer = Recipe.TransferSet(data, c);
            foreach (var choice in choices) choice.Build(Setup(transfer, c, c.Seeds.Count > 0 ? c.Seeds[0] : 0));
        }
        finally { set_rng_state(state); }
    }

    /// <summary>A method with the config's settings for it.</summary>
    public static MethodChoice Choice(string method, ComparisonConfig c)
    {
        var m = MethodCatalogue.Find(method);
        // Set's keys are found as the catalogue finds names (DKD: is dkd's), as Problems checks them.
        var set = c.Set.FirstOrDefault(kv => MethodCatalogue.TryFind(kv.Key) == m).Value;
        return new(m, m.Settings(set));
    }

    /// <summary>The objective of one method on the config's pair. Feature shapes come from fresh models built by name
    /// (not the trained teacher): building them draws from the seeded generator like the student, so a regressor's
    /// initialisation depends on the seed alone.</summary>
    public static Objective Objective(string method, ImageDataset data, ComparisonConfig c, int seed = 0) => Choice(method, c).Build(Setup(data, c, seed));

    /// <summary>The pair's setup for one student seed, which methods that draw their own randomness (CRD's negatives)
    /// draw from: each seed its own draws, as each seed its own initial weights.</summary>
    static MethodSetup Setup(ImageDataset data, ComparisonConfig c, int seed) => new(c.Student, c.Teacher, data, c.BatchSize) { Seed = seed };

    /// <summary>The paper's claim for a method, for the results table.</summary>
    public static string PaperNote(string method) =>
        MethodCatalogue.Find(method) is var m && m.PaperResult is { } r ? r : m.Paper?.ToString() ?? m.Summary;

    /// <summary>Median wall time of a batch-of-one forward pass on the CPU (after warm-up), in milliseconds.</summary>
    public static double LatencyMs(DistillModel model, ImageDataset data, int repeats = 50)
    {
        using var scope = NewDisposeScope();
        model.to(CPU).eval();
        using var _ = no_grad();
        var x = data.Normalize(data.Test.Images.narrow(0, 0, 1).cpu());
        for (var i = 0; i < 5; i++) model.call(x);
        var times = new double[repeats];
        for (var i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            using (var inner = NewDisposeScope()) model.call(x);
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
