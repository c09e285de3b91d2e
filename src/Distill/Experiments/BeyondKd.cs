using Distill.Data;
using Distill.Losses;
using Distill.Methods;
using Distill.Models;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Experiments;

/// <summary>
/// Settings of <see cref="BeyondKd"/>. Default pair: the CNN teacher (width 32) and the width-8 CNN student, where KD at
/// α = 0.9 hurts at the quick budget (−2.09 points here, −2.87 in PyTorch): the capacity gap the teacher-assistant paper
/// is about. The assistant is a CNN of width 16, between the two; the second teacher of the multi-teacher run is an MLP.
/// </summary>
public sealed record BeyondKdConfig : RecipeConfig
{
    public BeyondKdConfig() => Student = "cnn-8";

    /// <summary>The teacher assistant (Mirzadeh et al. 2020): taught by the teacher, then teaching the student.</summary>
    public string Assistant { get; init; } = "cnn-16";
    /// <summary>Teachers of the multi-teacher run besides <see cref="RecipeConfig.Teacher"/> (other architectures).</summary>
    public IReadOnlyList<string> ExtraTeachers { get; init; } = ["mlp-1200-1200"];
    /// <summary>Runs, by name; see <see cref="BeyondKd"/>.</summary>
    public IReadOnlyList<string> Runs { get; init; } = BeyondKd.AllRuns;

    /// <summary>The recipe at <paramref name="budget"/>: the settings of experiments/recipes/06-beyond-kd.yaml (built in).</summary>
    public static BeyondKdConfig For(Budget budget) => RecipeFile.Load("06-beyond-kd", budget, new BeyondKdConfig());

    /// <summary>Besides the shared settings: the assistant (takd) and the extra teachers (kd-multi) as models, as the
    /// teacher and student are, and each extra teacher a model of its own (<see cref="ModelZoo.Identity"/>): a repeat of
    /// one, or of the teacher, made kd-multi refuse it only after every teacher and student before it had trained, or
    /// (the teacher's name as a dictionary key) average one teacher under a multi-teacher label.</summary>
    public override IEnumerable<(string Key, string Message)> Problems()
    {
        foreach (var p in base.Problems()) yield return p;
        // Run names are checked with the rest, so `spec check` and the file's load name a typo, not the notebook's run.
        var named = new HashSet<string>();
        for (var k = 0; k < Runs.Count; k++)
        {
            if (!BeyondKd.AllRuns.Contains(Runs[k]))
                yield return ($"runs[{k}]", $"runs[{k}]: '{Runs[k]}' is not a run; the runs are {string.Join(", ", BeyondKd.AllRuns)}.");
            else if (!named.Add(Runs[k]))
                yield return ($"runs[{k}]", $"runs has '{Runs[k]}' twice; keep one.");
        }
        if (Runs.Count == 0) yield return ("runs", "runs is empty; name at least one of " + string.Join(", ", BeyondKd.AllRuns) + ".");
        if (Catalogued(() => DatasetCatalog.Get(Dataset)).Value is not { } data) yield break; // the base named it
        if (Runs.Contains("takd") && ModelProblem(Assistant, data, new ModelOptions { Dropout = StudentDropout }) is { } bad)
            yield return ("assistant", $"assistant: {bad}");
        if (!Runs.Contains("kd-multi")) yield break;
        var teacher = Catalogued(() => ModelZoo.Identity(Teacher)).Value; // null: the base named it
        var seen = new Dictionary<string, string>();
        for (var k = 0; k < ExtraTeachers.Count; k++)
        {
            var key = $"extra_teachers[{k}]";
            if (ModelProblem(ExtraTeachers[k], data, TeacherModel) is { } wrong) yield return (key, $"{key}: {wrong}");
            else if (ModelZoo.Identity(ExtraTeachers[k]) == teacher)
                yield return ($"{key},teacher", $"{key} {ExtraTeachers[k]} is the teacher ({Teacher}): kd-multi would count one model twice; give another architecture.");
            else if (!seen.TryAdd(ModelZoo.Identity(ExtraTeachers[k]), ExtraTeachers[k]))
                yield return (key, $"extra_teachers has {ExtraTeachers[k]} twice ('{seen[ModelZoo.Identity(ExtraTeachers[k])]}' and '{ExtraTeachers[k]}'); keep one.");
        }
    }
}

public sealed class BeyondKdResult : ExperimentResult
{
    public required BeyondKdConfig Config { get; init; }
}

/// <summary>
/// The newer claims on one pair, same data, budget and seeds. Runs: "scratch"; "kd" (teacher → student, Hinton);
/// "takd" (Mirzadeh et al. AAAI 2020: teacher → assistant → student, KD at each step); "ctkd" (learned temperature);
/// "kd+ls" and "dkd+ls" beside "dkd" (logit standardization, Sun et al. 2024); "kd-multi" (the teacher and
/// <see cref="BeyondKdConfig.ExtraTeachers"/>, averaged); "byot" (self-distillation, no teacher). Each method takes
/// its catalogue defaults.
/// </summary>
public static class BeyondKd
{
    public static readonly IReadOnlyList<string> AllRuns = ["scratch", "kd", "takd", "ctkd", "kd+ls", "dkd", "dkd+ls", "kd-multi", "byot"];

    /// <summary>The catalogue method of each run (takd trains kd twice).</summary>
    public static MethodChoice Method(string run) => run switch
    {
        "takd" => MethodCatalogue.Parse("kd"),
        "kd+ls" => MethodCatalogue.Parse("kd:standardize=1"),
        "dkd+ls" => MethodCatalogue.Parse("dkd:standardize=1"),
        _ => AllRuns.Contains(run) ? MethodCatalogue.Parse(run)
            : throw new ArgumentException($"unknown run '{run}'; BeyondKd runs {string.Join(", ", AllRuns)}."),
    };

    public static BeyondKdResult Run(ImageDataset data, BeyondKdConfig? config = null)
    {
        var c = Recipe.Checked(data, config ?? BeyondKdConfig.For(Budget.Quick));
        var methods = c.Runs.ToDictionary(r => r, Method); // every run name checked before anything trains
        var result = new BeyondKdResult { Config = c };
        var teacher = Recipe.Teacher(data, c, result, null);
        var extra = c.Runs.Contains("kd-multi")
            ? c.ExtraTeachers.Select(t => Recipe.Teacher(data, c with { Teacher = t }, result, null, run: $"teacher {t}")).ToList()
            : [];
        try
        {
            using var transfer = Recipe.TransferSet(data, c);
            foreach (var seed in c.Seeds)
                foreach (var run in c.Runs)
                {
                    if (run == "takd")
                    {
                        // The assistant learns from the teacher on the same transfer set, then teaches the student.
                        using var assistant = Recipe.Model(c.Assistant, transfer, seed, c.StudentDropout);
                        var (toAssistant, _, kd) = Build(methods[run], transfer, c, c.Assistant, c.Teacher, seed, teacher, extra);
                        result.Keep(Trainer.Train(assistant, transfer, toAssistant, Recipe.Options(c, "assistant", seed, c.StudentEpochs, c.StudentOptimizer, kd), teacher));
                        // The assistant's chain is out of the run cache's sight: always trained.
                        var (toStudent, chained, _) = Build(methods[run], transfer, c, c.Student, c.Assistant, seed, teacher, extra);
                        Recipe.Student(transfer, c, result, run, seed, toStudent, assistant, method: (kd, chained), cached: false);
                        continue;
                    }
                    var (objective, setup, choice) = Build(methods[run], transfer, c, c.Student, c.Teacher, seed, teacher, extra);
                    // kd-multi's other teachers are inside its objective, out of the run cache's sight: always trained.
                    Recipe.Student(transfer, c, result, run, seed, objective, choice.Method.NeedsTeacher ? teacher : null,
                        method: (choice, setup), cached: run != "kd-multi");
                }
        }
        finally
        {
            foreach (var t in extra) t.Dispose();
        }
        return result;
    }

    /// <summary>The run's objective, its setup, and its method as it trains (kd-multi's with the teachers it averages).</summary>
    static (Objective Objective, MethodSetup Setup, MethodChoice Choice) Build(MethodChoice choice, ImageDataset transfer, BeyondKdConfig c, string student, string teacher, int seed, DistillModel trained, List<DistillModel> extra)
    {
        using (manual_seed(seed)) { } // a method's own modules (heads, temperature) start from the seed
        var byName = c.ExtraTeachers.Zip(extra).ToDictionary(p => p.First, p => p.Second);
        byName[c.Teacher] = trained;
        var setup = new MethodSetup(student, teacher, transfer, c.BatchSize)
        {
            Seed = seed,
            Epochs = c.StudentEpochs, // so a method whose schedule would give a term no step (progressive FitNets) is refused, as in train
            TrainedTeacher = name => byName.TryGetValue(name, out var m) ? m
                : throw new ArgumentException($"kd-multi: teacher '{name}' is not trained here; BeyondKd trains {string.Join(", ", byName.Keys)}."),
        };
        // kd-multi averages the pair's teacher and the extra ones.
        if (choice.Method.Name == "kd-multi")
            choice = new(choice.Method, choice.Method.Settings(new Dictionary<string, string> { ["teachers"] = string.Join(",", byName.Keys) }));
        return (choice.Build(setup), setup, choice);
    }
}
