using System.CommandLine;
using Distill.Experiments;
using Distill.Sweeps;

namespace Distill.Cli;

/// <summary>`distill spec check SPEC...`: a spec file against the schema and the method catalogue, every grid run included.</summary>
static class SpecCommand
{
    public static Command Create()
    {
        var specs = new Argument<string[]>("SPEC") { Description = "Experiment spec files (YAML; format: src/Distill/Sweeps/spec.schema.json), or recipe files (experiments/recipes/).", Arity = ArgumentArity.OneOrMore };
        var recipe = new Option<string?>("--recipe") { Description = $"The recipe a recipe file sets ({string.Join(", ", RecipeDefaults.Keys)}); default: the one its file is named after." };
        var check = new Command("check", "Validate spec files: keys, types and ranges (schema), methods and their parameters (catalogue), the grid. " +
                                         "Recipe files: every budget section against the recipe's settings.");
        check.Arguments.Add(specs);
        check.Options.Add(recipe);
        check.SetAction(r => TrainCommand.Guard(_ => () =>
        {
            // Every file is checked and each bad one reported (`spec check experiments/*.yaml` lists them all); exit 1 if any is bad.
            var bad = 0;
            foreach (var path in r.GetValue(specs)!)
            {
                try { Check(path, r.GetValue(recipe)); }
                catch (Exception e) when (e is ArgumentException or InvalidDataException or InvalidOperationException or FileNotFoundException
                                              or FormatException or Data.DatasetException)
                {
                    // As every other command says it: one line, a line break in a key shown as ⏎ (cutting there lost the
                    // problem and its fix) and terminal control characters made visible.
                    Console.Error.WriteLine($"error: {ErrorText.Line(e)}");
                    bad++;
                }
            }
            return bad == 0 ? 0 : 1;
        }));

        var recipeName = new Argument<string>("RECIPE") { Description = $"One of {string.Join(", ", RecipeDefaults.Keys)}." };
        var schema = new Command("schema", "Print a recipe file's JSON Schema (experiments/recipes/schema/RECIPE.schema.json is this output).");
        schema.Arguments.Add(recipeName);
        schema.SetAction(r => TrainCommand.Guard(_ => () =>
        {
            var given = r.GetValue(recipeName)!;
            var name = RecipeNames.Find(given)?.File ?? throw new ArgumentException($"no recipe named '{given}'; the recipes are {string.Join(", ", RecipeDefaults.Keys)}.");
            Console.WriteLine(RecipeFile.Schema(name, RecipeDefaults[name](Budget.Quick)).ToJsonString(SchemaJson));
            return 0;
        }));
        var cmd = new Command("spec", "Experiment spec files and recipe files.");
        cmd.Subcommands.Add(check);
        cmd.Subcommands.Add(schema);
        return cmd;
    }

    /// <summary>One file of `spec check`: a recipe file's sections, or a spec and every run of its grid; prints its ok line.</summary>
    static void Check(string path, string? recipeName)
    {
        // Read once: a pipe (/dev/stdin, <(...)) has nothing left for a second read.
        var text = ExperimentSpec.LoadText(path);
        // --recipe, or a file named as a recipe's, is a recipe file whatever it holds: its mistakes (a setting above the
        // sections, no sections) were named as a spec's ("dataset must be a mapping"), or "--recipe applies to recipe files".
        // Either of a recipe's names, in any case (born-again.yaml, --recipe born-again), as `train` takes them. Only the
        // file's name (04-born-again.yaml) makes a file a recipe file whatever it holds: a spec named comparison.yaml is a spec.
        var namedAsFile = RecipeNames.NamedAfter(path) is { } named && string.Equals(named.File, Path.GetFileNameWithoutExtension(path), StringComparison.OrdinalIgnoreCase);
        if (recipeName is not null || namedAsFile || RecipeFile.IsRecipe(text, path))
        {
            var name = recipeName ?? Path.GetFileNameWithoutExtension(path);
            var recipe = RecipeNames.Find(name) ?? throw new ArgumentException(
                $"{path}: a recipe file (sections {string.Join(", ", RecipeFile.Sections)}) for no recipe named '{name}'; pass --recipe NAME, one of {string.Join(", ", RecipeDefaults.Keys)}.");
            if (recipeName is not null) RecipeNames.CheckMatches(recipe, path, "spec check");
            name = recipe.File;
            var defaults = RecipeDefaults[name];
            // Each section loaded as a run loads it: keys, types and the values a run would refuse (RecipeConfig.Problems).
            var sections = RecipeFile.Check(path, text, defaults);
            Console.WriteLine($"ok: {path}: recipe {name}, sections {string.Join(", ", sections.Select(s => s.Budget.ToString().ToLowerInvariant()))}");
            return;
        }
        var spec = ExperimentSpec.Parse(text, path).RefuseIdleKey();
        Console.WriteLine($"ok: {path}: {spec.Name}, {spec.Runs.Count} run{(spec.Runs.Count == 1 ? "" : "s")}" +
                          (spec.GridKeys.Count == 0 ? "" : $" (grid: {string.Join(" × ", spec.GridKeys.Select(k => $"{k} [{spec.Runs.Select(x => x.Values.First(v => v.Key == k).Value).Distinct().Count()}]"))})"));
    }

    static readonly System.Text.Json.JsonSerializerOptions SchemaJson = new() { WriteIndented = true };

    /// <summary>Each built-in recipe file's settings record, with its defaults (07's run-time pair and method stand in).</summary>
    static readonly Dictionary<string, Func<Budget, object>> RecipeDefaults = new()
    {
        ["01-soft-targets"] = _ => new SoftTargetsConfig(),
        ["02-fitnets"] = _ => new FitNetsConfig(),
        ["03-attention-transfer"] = _ => new AttentionTransferConfig(),
        ["04-born-again"] = _ => new BornAgainConfig(),
        ["05-comparison"] = _ => new ComparisonConfig(),
        ["06-beyond-kd"] = _ => new BeyondKdConfig(),
        // The pair 07 deploys at that budget (05's), as the notebook runs it: full is CIFAR-100 with a resnet32x4 teacher.
        ["07-deployment"] = b => new Deploy.DeploymentConfig { Pair = ComparisonConfig.For(b), BestMethod = ("kd", "stand-in for the check") },
    };
}
