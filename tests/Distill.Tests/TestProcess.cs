namespace Distill.Tests;

static class TestProcess
{
    /// <summary>The runtime is set up before the first test of the process, whichever class runs first: oneDNN's ISA cap
    /// (issue 12: AVX-512 convolutions on AMD gave NaN at 2 threads) and the MKL shim only hold if they precede the first
    /// torch call, and not every test class starts by initialising.
    /// oneMKL's strict reproducibility (MKL_CBWR=AUTO,STRICT) is set there too: in a process of 1,600 tests, what earlier
    /// tests allocated moved MKL's buffer alignment, and with it its rounding, until it was.</summary>
#pragma warning disable CA2255 // a test assembly's own start-up, not a library's
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Initialize()
    {
        Distill.Native.TorchRuntime.Initialize();
    }
#pragma warning restore CA2255
}
