using System.Reflection;

namespace Distill.Tests.Reporting;

/// <summary>Notebook.Start binds a request for a newer FSharp.Core to the kernel's loaded one (Plotly.NET 6 needs 10.1,
/// kernel 1.0.712001 has 10.0). The rule, checked with an assembly this process has.</summary>
public class FSharpCoreBindingTests
{
    static readonly Assembly Loaded = typeof(Notebook).Assembly;
    static string Name => Loaded.GetName().Name!;

    [Fact]
    public void A_newer_version_binds_to_the_loaded_copy_and_nothing_else_does()
    {
        var loaded = new[] { typeof(object).Assembly, Loaded };
        Assert.Same(Loaded, Notebook.OlderLoadedCopy(Name, new AssemblyName($"{Name}, Version=999.0.0.0"), loaded));
        // Not the same version or an older one (those load by themselves or fail for another reason), nor another name.
        Assert.Null(Notebook.OlderLoadedCopy(Name, new AssemblyName($"{Name}, Version={Loaded.GetName().Version}"), loaded));
        Assert.Null(Notebook.OlderLoadedCopy(Name, new AssemblyName($"{Name}, Version=0.0.0.1"), loaded));
        Assert.Null(Notebook.OlderLoadedCopy("FSharp.Core", new AssemblyName($"{Name}, Version=999.0.0.0"), loaded));
        Assert.Null(Notebook.OlderLoadedCopy(Name, new AssemblyName($"{Name}, Version=999.0.0.0"), [typeof(object).Assembly]));
    }
}

/// <summary>Start() after a cell that used TorchSharp first failed with a bare DllNotFoundException naming a .so; it says
/// what happened and that the kernel must be restarted.</summary>
public class StartAfterTorchTests
{
    [Fact]
    public void A_native_load_failure_in_Start_names_the_cell_order_and_the_restart()
    {
        var e = Distill.Notebook.UsedBeforeStart(new DllNotFoundException("Unable to load shared library '/x/libLibTorchSharp.so': undefined symbol: _ZNK3c105Error4whatEv\nmore"));
        Assert.NotNull(e);
        Assert.StartsWith("Distill.Notebook.Start: libtorch could not be loaded (Unable to load shared library '/x/libLibTorchSharp.so': undefined symbol: _ZNK3c105Error4whatEv). ", e.Message, StringComparison.Ordinal);
        Assert.Contains("restart the kernel and run the Start() cell before any cell that uses torch", e.Message, StringComparison.Ordinal);
        Assert.IsType<DllNotFoundException>(e.InnerException);
        Assert.Null(Distill.Notebook.UsedBeforeStart(new IOException("disk")));
    }
}
