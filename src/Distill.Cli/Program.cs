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
// Every command reports the failures it expects as one `error:` line. Anything else reaching here is still one line
// (type and message, no stack trace, which tells a user nothing they can act on); DISTILL_TRACE=1 shows the trace for
// a bug report.
try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (OperationCanceledException e)
{
    Console.Error.WriteLine($"error: stopped: {e.Message}");
    return 130;
}
catch (Exception e) when (Environment.GetEnvironmentVariable("DISTILL_TRACE") is not ("1" or "true"))
{
    Console.Error.WriteLine($"error: {Unhandled.Describe(e)}");
    return 1;
}
