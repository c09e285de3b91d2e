namespace Distill.Notebooks.Tests;

static class TestProcess
{
    /// <summary>The runtime is set up before the first test of the process, whichever class runs first, as in
    /// Distill.Tests: the oneMKL shim and oneDNN's ISA cap only hold if they precede the first torch call, and a test
    /// class that touched torch first left the in-process runner without the oneMKL fix, so its notebook numbers
    /// differed from the real kernel's by test order (03 at smoke: -0.15 against -0.20 points).</summary>
#pragma warning disable CA2255 // a test assembly's own start-up, not a library's
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Initialize() => Distill.Native.TorchRuntime.Initialize();
#pragma warning restore CA2255
}
