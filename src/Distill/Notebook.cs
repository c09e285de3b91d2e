using System.Reflection;
using System.Runtime.Loader;
using Distill.Native;
using Distill.Reporting;

namespace Distill;

/// <summary>What <see cref="Notebook.Start"/> set up, shown as the first cell's output.</summary>
public sealed record NotebookEnvironment(string TorchSharp, string LibTorch, string Device, int Threads, long Seed, string Natives, string MklDispatch, string OneDnnIsa)
{
    public override string ToString() =>
        $"distill ready: TorchSharp {TorchSharp}, libtorch {LibTorch}, {Device}, {NumberText.Count(Threads, "thread")}, seed {Seed}; natives: {Natives}; MKL dispatch: {MklDispatch}; oneDNN ISA: {OneDnnIsa}";
}

/// <summary>
/// The first cell of every notebook calls <see cref="Start"/>, so the same file behaves the same in the .NET Interactive
/// kernel (VS Code's Polyglot, Jupyter's <c>.net-csharp</c>) and in <c>distill run</c>: libtorch is prepared before
/// anything touches <c>torch</c> (patched natives on Debian 12, the oneMKL dispatch fix, the thread count, which the
/// teacher cache keys on), and charts, DataFrames and tensors get their display formatters.
/// </summary>
public static class Notebook
{
    /// <summary>The notebook's live output: the kernel's after <see cref="Start"/> in the .NET kernel, the runner's in
    /// <c>distill run</c>, else none.</summary>
    public static ILiveOutput? Host { get; set; }

    /// <summary>Where recipes write their per-epoch lines in a notebook (<c>WithParameters(..., log: Distill.Notebook.Log)</c>):
    /// one display per cell, updated in place; the console when no notebook host is present.</summary>
    public static TextWriter Log => Host is { } host ? new LiveLog(host, Console.Out) : Console.Out;

    /// <summary>How often <see cref="Start"/> was called in this process: `distill run` warns of a cell that uses
    /// TorchSharp before it, which works headless (libtorch is loaded already) and fails in the kernel.</summary>
    public static int StartCalls { get; private set; }

    /// <summary>Idempotent. <paramref name="threads"/> defaults to $DISTILL_THREADS, else the number of cores, on the
    /// first call; a later call without it keeps the count set before (<c>Start(threads: 1)</c>, then <c>Start()</c>, stays
    /// at 1, which the returned environment shows: the thread count changes the numbers, so pass it again to change it).
    /// A count outside 1 to 4 × the cores is a <see cref="Native.ThreadCountException"/> in the cell, not a dead kernel.
    /// <paramref name="seed"/> seeds torch's global generator, so a model or tensor a cell creates before any seeded
    /// library call (the recipes and the trainer seed their own) is the same in every run of the notebook, in the kernel
    /// and in <c>distill run</c> alike; running this cell again starts the sequence again. It also starts the notebook's
    /// training warnings afresh (<see cref="Training.TrainingWarnings"/>, which <c>Results.Record</c> attaches to every
    /// row), as <c>distill run</c> does per notebook: in one kernel, a divergence in one notebook marked the next one's rows.</summary>
    public static NotebookEnvironment Start(int? threads = null, long seed = 0)
    {
        try { return StartTorch(threads, seed); }
        // A notebook without TorchSharp's #r (the library references it, the kernel has no copy of its own) failed with
        // the runtime's bare "Could not load file or assembly 'TorchSharp, ...'".
        catch (FileNotFoundException e) when (e.FileName?.StartsWith("TorchSharp,", StringComparison.Ordinal) == true)
        {
            var version = typeof(Notebook).Assembly.GetReferencedAssemblies().FirstOrDefault(a => a.Name == "TorchSharp")?.Version;
            throw new InvalidOperationException("Distill.Notebook.Start: TorchSharp is not loaded in this kernel. Add " +
                $"#r \"nuget: TorchSharp-cpu, {version?.ToString(3) ?? "0.107.0"}\" to a cell before this one (as the notebooks' first cell has it), run it, then run Start() again.", e);
        }
        catch (Exception e) when (UsedBeforeStart(e) is { } explained) { throw explained; }
    }

    /// <summary>A cell that used TorchSharp before Start() made TorchSharp load its own natives, which fails on Debian 12
    /// and cannot be undone in the process; Start() then failed with a bare DllNotFoundException ("undefined symbol
    /// _ZNK3c105Error4whatEv") or a type initializer's error, pointing at a library file instead of the cell order.</summary>
    internal static InvalidOperationException? UsedBeforeStart(Exception e) =>
        e is DllNotFoundException || e is TypeInitializationException { TypeName: { } type } && type.StartsWith("TorchSharp.", StringComparison.Ordinal)
            ? new InvalidOperationException("Distill.Notebook.Start: libtorch could not be loaded (" + e.Message.Split('\n')[0].Trim() + "). " +
                "When a cell above used TorchSharp before Start(), TorchSharp tried its own native libraries, which do not load on every system " +
                "and cannot be unloaded: restart the kernel and run the Start() cell before any cell that uses torch. Otherwise `distill doctor` checks the natives.", e)
            : null;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)] // its TorchSharp types load inside Start's try
    static NotebookEnvironment StartTorch(int? threads, long seed)
    {
        StartCalls++;
        Training.TrainingWarnings.Clear();
        TorchRuntime.Initialize(threads);
        TorchRuntime.Seed(seed);
        NotebookFormatters.Register();
        BindFSharpCoreToTheLoadedCopy();
        if (KernelLiveOutput.TryCreate() is { } kernel) Host = kernel;
        var device = TorchRuntime.ResolveDevice();
        return new NotebookEnvironment(TorchRuntime.TorchSharpVersion, TorchRuntime.LibTorchVersion, device.ToString(),
            TorchRuntime.Threads, seed, PatchedNatives.Status, MklCpuDispatch.Status, Native.OneDnnIsa.Status);
    }

    static int fsharpCoreHooked;

    /// <summary>
    /// The .NET kernel 1.0.712001 loads FSharp.Core 10.0 at start-up, and Plotly.NET 6 (Plotly.NET.CSharp) is built
    /// against 10.1: the default load context holds one FSharp.Core and has no 10.1, so every Plotly.NET chart failed
    /// there with a bare "Could not load file or assembly 'FSharp.Core, Version=10.1.0.0'". A request for a newer
    /// FSharp.Core than the loaded one now binds to the loaded copy, as .NET Framework's binding redirects did. Tried in
    /// that kernel: Plotly.NET.CSharp's Chart.Line builds and GenericChart.toChartHTML renders. Code that needs an API new
    /// in 10.1 would still fail, with MissingMethodException naming it. In distill run (FSharp.Core 10.1) it never fires.
    /// </summary>
    static void BindFSharpCoreToTheLoadedCopy()
    {
        if (Interlocked.Exchange(ref fsharpCoreHooked, 1) == 0)
            AssemblyLoadContext.Default.Resolving += (_, name) => OlderLoadedCopy("FSharp.Core", name, AppDomain.CurrentDomain.GetAssemblies());
    }

    /// <summary>The loaded assembly named <paramref name="simpleName"/> when <paramref name="requested"/> asks for it at
    /// a higher version; else null (the load fails as it would have).</summary>
    internal static Assembly? OlderLoadedCopy(string simpleName, AssemblyName requested, IEnumerable<Assembly> loaded) =>
        requested.Name != simpleName ? null
            : loaded.FirstOrDefault(a => a.GetName() is var n && n.Name == simpleName && (requested.Version is null || n.Version < requested.Version));
}
