using System.CommandLine;
using Distill.Losses;

namespace Distill.Cli;

static class ReferenceCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A loss reference file (\"format\": \"distill-reference/1\"), e.g. tests/Distill.Tests/TestData/Losses/losses.json" };
        var cmd = new Command("reference", "Check every case of a loss reference file in float32: one line per failing case, then 'N passed, N failed'; exit 1 when any case fails.");
        cmd.Arguments.Add(file);
        cmd.SetAction(parse => ReferenceChecker.Run(parse.GetValue(file)!, Console.Out, Console.Error));
        return cmd;
    }
}
