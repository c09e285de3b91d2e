using System.CommandLine;
using Distill.Cli;

// Each command lives in its own file and is registered here.
var root = new RootCommand("distill: knowledge-distillation research on TorchSharp");
root.Subcommands.Add(DoctorCommand.Create());
root.Subcommands.Add(ReferenceCommand.Create());
root.Subcommands.Add(DataCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(MethodsCommand.Create());
root.Subcommands.Add(ReproduceCommand.Create());
root.Subcommands.Add(SpecCommand.Create());
root.Subcommands.Add(SweepCommand.Create());
root.Subcommands.Add(DeployCommand.Create());
return root.Parse(args).Invoke();
