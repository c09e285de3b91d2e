namespace Distill.Tests;

static class TestProcess
{
    /// <summary>The runtime is set up before the first test of the process, whichever class runs first: oneDNN's ISA cap
    /// (issue 12: AVX-512 convolutions on AMD gave NaN at 2 threads) and the MKL shim only hold if they precede the first
    /// torch call, and not every test class starts by initialising.
    /// MKL's conditional numerical reproducibility in strict mode as well: without it MKL's results may depend on its
    /// buffers' memory alignment, which in a process of 1,600 tests depends on what earlier tests allocated. On an
    /// AVX2-only AMD machine the CRD training test then lost its banks' alignment in some full-suite runs (0.000 after 15
    /// epochs against 0.077) and never alone; with MKL_CBWR=AUTO,STRICT, 3 of 3 runs of the classes that failed passed.
    /// Set for this process (and the CLI processes tests start) unless the caller set it.</summary>
#pragma warning disable CA2255 // a test assembly's own start-up, not a library's
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Initialize()
    {
        Distill.Native.NativeEnvironment.SetDefault("MKL_CBWR", "AUTO,STRICT");
        Distill.Native.TorchRuntime.Initialize();
    }
#pragma warning restore CA2255
}
