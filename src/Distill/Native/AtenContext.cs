using System.Runtime.InteropServices;

namespace Distill.Native;

/// <summary>
/// ATen's global switches that TorchSharp does not expose (PyTorch's <c>torch.backends.mkldnn.enabled</c> and
/// <c>torch.backends.nnpack.enabled</c>), called through libtorch_cpu.so's exported C++ symbols (Itanium ABI: a member
/// function takes <c>this</c> first). libtorch must be loaded already: the library is then found by its soname.
/// </summary>
static class AtenContext
{
    const string Lib = "libtorch_cpu.so";

    [DllImport(Lib, EntryPoint = "_ZN2at13globalContextEv")]
    static extern IntPtr GlobalContext();

    [DllImport(Lib, EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport(Lib, EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    static extern bool UserEnabledMkldnn(IntPtr context);

    [DllImport(Lib, EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    /// <summary>Whether the switches can be reached: Linux, with libtorch loaded (elsewhere the library has another name
    /// and the switches stay as libtorch sets them).</summary>
    public static bool Available => available.Value;

    static readonly Lazy<bool> available = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return GlobalContext() != IntPtr.Zero; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    });

    /// <summary>Whether ATen may route convolutions (and a few other ops) to oneDNN (mkldnn).</summary>
    public static bool Mkldnn
    {
        get => !Available || UserEnabledMkldnn(GlobalContext());
        set { if (Available) SetUserEnabledMkldnn(GlobalContext(), value); }
    }

    /// <summary>Whether ATen may try NNPACK for convolutions.</summary>
    public static bool Nnpack
    {
        set { if (Available) SetUserEnabledNnpack(GlobalContext(), value); }
    }
}
