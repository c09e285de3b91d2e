using System.CommandLine;
using Distill.Sweeps;

namespace Distill.Cli;

/// <summary>`distill spec check SPEC...`: a spec file against the schema and the method catalogue, every grid run included.</summary>
static class SpecCommand
{
    public static Command Create()
    {
        var specs = new Argument<string[]>("SPEC") { Description = "Experiment spec files (YAML; format: src/Distill/Sweeps/spec.schema.json).", Arity = ArgumentArity.OneOrMore };
        var check = new Command("check", "Validate spec files: keys, types and ranges (schema), methods and their parameters (catalogue), the grid.");
        check.Arguments.Add(specs);
        check.SetAction(r => TrainCommand.Guard(_ => () =>
        {
            foreach (var path in r.GetValue(specs)!)
            {
                var spec = ExperimentSpec.Load(path);
                Console.WriteLine($"ok: {path}: {spec.Name}, {spec.Runs.Count} run{(spec.Runs.Count == 1 ? "" : "s")}" +
                                  (spec.GridKeys.Count == 0 ? "" : $" (grid: {string.Join(" × ", spec.GridKeys.Select(k => $"{k} [{spec.Runs.Select(x => x.Values.First(v => v.Key == k).Value).Distinct().Count()}]"))})"));
            }
            return 0;
        }));
        var cmd = new Command("spec", "Experiment spec files.");
        cmd.Subcommands.Add(check);
        return cmd;
    }
}
