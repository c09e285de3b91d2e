using System.CommandLine;
using System.Runtime.InteropServices;
using Distill.Data;
using Distill.Native;
using TorchSharp;

namespace Distill.Cli;

static class DoctorCommand
{
    public static Command Create()
    {
        var cmd = new Command("doctor", "Print .NET, TorchSharp and libtorch versions, device, threads and datasets; exit 1 with the fix when something is missing.");
        cmd.SetAction(_ => Run());
        return cmd;
    }

    static int Run()
    {
        int problems = 0;
        Console.WriteLine($".NET          {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})");
        Console.WriteLine($"OS            {RuntimeInformation.OSDescription}");
        Console.WriteLine($"TorchSharp    {TorchRuntime.TorchSharpVersion}");
        // The build every record names: a report of a run can be matched to the code that ran.
        Console.WriteLine($"distill       built from {Git.BuildCommit ?? "an unknown commit (not a git checkout)"}" +
                          Git.BuildDirty switch { true => ", with uncommitted changes", false => ", clean", null => "" });
        try
        {
            // A bad value stops every other command; here it is one problem of the report, which goes on without it.
            try { TorchRuntime.EnvironmentThreads(); }
            catch (ArgumentException e)
            {
                problems++;
                Console.WriteLine($"problem       {e.Message}");
                Environment.SetEnvironmentVariable("DISTILL_THREADS", null);
            }
            // A switch that is neither on nor off keeps its default, which the lines below then show as if chosen.
            foreach (var unclear in TorchRuntime.SwitchProblems)
            {
                problems++;
                Console.WriteLine($"problem       {unclear}");
            }
            TorchRuntime.Initialize();
            Console.WriteLine($"libtorch      {torch.__version__}");
            Console.WriteLine($"device        {(torch.cuda.is_available() ? $"cuda ({torch.cuda.device_count()} GPUs)" : "cpu")}");
            Console.WriteLine($"threads       {torch.get_num_threads()} of {Environment.ProcessorCount} cores");
            // More threads than cores can be meant (runs side by side on purpose): a note, not a problem.
            if (TorchRuntime.ThreadsProblem is { } threads) Console.WriteLine($"  note: {threads}");
            Console.WriteLine($"MKL dispatch  {MklCpuDispatch.Status}");
            Console.WriteLine($"oneDNN ISA    {OneDnnIsa.Status}");
            Console.WriteLine($"OpenMP wait   {TorchRuntime.OmpWaitPolicy}");
            Console.WriteLine($"oneMKL CBWR   {TorchRuntime.MklReproducibility}");
            Console.WriteLine($"malloc        {MallocThresholds.Status}");
            if (Experiments.TeacherStore.Problem is { } cache)
            {
                problems++;
                Console.WriteLine($"teachers      PROBLEM {cache}");
            }
            else Console.WriteLine($"teachers      {Experiments.TeacherStore.Status}");
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
        {
            problems++;
            Console.WriteLine($"libtorch      NOT LOADED: {(e.InnerException ?? e).Message.Split('\n')[0]}");
            Console.WriteLine("  fix: rebuild (dotnet build) so the output folder's libLibTorchSharp.so is patched, or see docs/native-loading.md");
        }
        problems += DoctorDatasets.Report(Console.Out);
        return problems == 0 ? 0 : 1;
    }
}

/// <summary>Dataset section of `distill doctor`: each dataset found (with its folder) or missing (with the command that fixes it).</summary>
static class DoctorDatasets
{
    public static int Report(TextWriter w)
    {
        DatasetSearch search;
        try { search = DatasetSearch.Default; }
        catch (DatasetException e)
        {
            // The doctor reports a broken setting as one problem among the others rather than stopping on it.
            w.WriteLine($"datasets      PROBLEM {e.Message}");
            return 1;
        }
        // A DISTILL_DATA that does not exist is allowed (`data install` creates it), so the loaders read the other
        // folders without a word; a mistyped path would pass unseen here too, so say so.
        if (search.MissingDataNote() is { } note) w.WriteLine($"datasets      note: {note}");
        return DatasetReport.Write(w, search);
    }
}
