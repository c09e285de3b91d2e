using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using X86 = System.Runtime.Intrinsics.X86;
using System.Text;

namespace Distill.Native;

/// <summary>What the decision needs to know about the CPU and process; <see cref="Detect"/> reads the real ones.</summary>
/// <param name="LinuxX64">Linux on x86-64 (the only place the fix is implemented).</param>
/// <param name="Vendor">CPUID leaf 0 vendor string, e.g. <c>AuthenticAMD</c>, <c>GenuineIntel</c>.</param>
/// <param name="Avx2">AVX2 usable (CPU has it and the OS saves its state).</param>
/// <param name="Fma">FMA3 usable.</param>
/// <param name="Avx512F">AVX-512 Foundation usable.</param>
/// <param name="Avx512BW">AVX-512 Byte/Word.</param>
/// <param name="Avx512DQ">AVX-512 Doubleword/Quadword.</param>
/// <param name="Avx512VL">AVX-512 Vector Length extensions.</param>
public sealed record CpuFacts(bool LinuxX64, string Vendor, bool Avx2, bool Fma,
    bool Avx512F, bool Avx512BW, bool Avx512DQ, bool Avx512VL)
{
    /// <summary>The CPU this process runs on. .NET's IsSupported flags include the OS check (XCR0), so an
    /// instruction set counts only when it can actually execute here.</summary>
    public static CpuFacts Detect()
    {
        bool linuxX64 = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;
        return new CpuFacts(linuxX64, ReadVendor(), X86.Avx2.IsSupported, X86.Fma.IsSupported,
            X86.Avx512F.IsSupported, X86.Avx512BW.IsSupported, X86.Avx512DQ.IsSupported, X86.Avx512F.VL.IsSupported);
    }

    static string ReadVendor()
    {
        if (!X86Base.IsSupported) return "";
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<byte> b = stackalloc byte[12];
        BitConverter.TryWriteBytes(b, ebx);
        BitConverter.TryWriteBytes(b[4..], edx);
        BitConverter.TryWriteBytes(b[8..], ecx);
        return Encoding.ASCII.GetString(b);
    }

    public bool HasAvx512Path => Avx512F && Avx512BW && Avx512DQ && Avx512VL;
}

/// <summary>Outcome of <see cref="MklCpuDispatch.Decide"/>: whether to interpose, the code path oneMKL will then take,
/// and a sentence for users (printed by <c>distill doctor</c>).</summary>
public sealed record MklDispatchDecision(bool Enable, string Path, string Reason);

/// <summary>
/// oneMKL (linked into libtorch_cpu.so) asks <c>mkl_serv_intel_cpu_true()</c> whether the CPU is Intel and, on AMD,
/// takes its generic SSE code path even when the CPU has AVX2/AVX-512: SGEMM runs at about half the machine's limit.
/// libtorch_cpu.so exports that function and calls it through its PLT, so a global definition loaded first wins.
/// <see cref="EnableIfSafe"/> writes a 1-function shared object (<see cref="TinyElf"/>) returning 1 and dlopens it
/// with RTLD_NOW|RTLD_GLOBAL before libtorch loads. oneMKL then checks the CPU's feature bits itself and picks its
/// AVX-512 or AVX2 kernels. Done only on Linux x86-64, AMD, with at least AVX2+FMA usable; off with
/// <c>DISTILL_MKL_AMD_FIX=0</c>. Numbers: docs/performance.md.
/// </summary>
public static class MklCpuDispatch
{
    public const string Symbol = "mkl_serv_intel_cpu_true";
    public const string OptOutVariable = "DISTILL_MKL_AMD_FIX";
    /// <summary>File name of the generated shim; the version changes whenever its bytes do.</summary>
    public const string ShimFileName = "libdistill-mkl-amd-v1.so";
    const string LibTorchSoname = "libtorch_cpu.so";

    static readonly Lock Gate = new();
    static bool attempted;

    /// <summary>True once the shim is loaded in this process.</summary>
    public static bool Enabled { get; private set; }

    /// <summary>What was done and why, one line.</summary>
    public static string Status { get; private set; } = "not attempted (TorchRuntime.Initialize() not called yet)";

    /// <summary>The shim's path once written, else null.</summary>
    public static string? ShimPath { get; private set; }

    /// <summary>Pure decision from CPU facts and the value of <c>DISTILL_MKL_AMD_FIX</c> (null when unset).</summary>
    public static MklDispatchDecision Decide(CpuFacts cpu, string? optOut)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (NativeEnvironment.IsOff(optOut))
            return new(false, "", $"off: {OptOutVariable}={optOut} (oneMKL picks its own path)");
        if (!cpu.LinuxX64)
            return new(false, "", "not needed/implemented here: the fix is for Linux x86-64");
        if (cpu.Vendor == "GenuineIntel")
            return new(false, "", "not needed: Intel CPU, oneMKL already takes its fastest path");
        if (cpu.Vendor != "AuthenticAMD")
            return new(false, "", $"off: CPU vendor '{cpu.Vendor}' is not AMD");
        if (!cpu.Avx2 || !cpu.Fma)
            return new(false, "", $"off: AMD CPU without usable {(cpu.Avx2 ? "FMA" : "AVX2")}, so oneMKL's generic path is right");
        return cpu.HasAvx512Path
            ? new(true, "AVX-512", "AMD CPU with AVX-512 F/BW/DQ/VL: oneMKL takes its AVX-512 path")
            : new(true, "AVX2", "AMD CPU with AVX2+FMA (no full AVX-512): oneMKL takes its AVX2 path");
    }

    /// <summary>Idempotent; called by <see cref="TorchRuntime.Initialize"/> before the first use of torch. Never throws:
    /// on any failure oneMKL simply keeps its default path and <see cref="Status"/> says why.</summary>
    public static void EnableIfSafe()
    {
        lock (Gate)
        {
            if (attempted) return;
            attempted = true;
            var d = Decide(CpuFacts.Detect(), Environment.GetEnvironmentVariable(OptOutVariable));
            if (!d.Enable) { Status = d.Reason; return; }
            try
            {
                if (Dl.IsLoaded(LibTorchSoname))
                {
                    Status = $"not applied: libtorch was loaded before TorchRuntime.Initialize() ({d.Reason} otherwise)";
                    return;
                }
                var path = WriteShim();
                var handle = Dl.Open(path, Dl.RTLD_NOW | Dl.RTLD_GLOBAL, out var error);
                if (handle == IntPtr.Zero)
                {
                    Status = $"failed: dlopen({path}): {error}; oneMKL keeps its generic path";
                    return;
                }
                if (Call(Dl.Symbol(handle, Symbol)) != 1)
                {
                    Status = $"failed: {path} does not export {Symbol} returning 1; oneMKL keeps its generic path";
                    return;
                }
                Enabled = true;
                Status = $"on ({d.Path}): {d.Reason}; shim {path}; {OptOutVariable}=0 turns it off";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException
                                          or EntryPointNotFoundException or InvalidOperationException)
            {
                Status = $"failed: {e.Message}; oneMKL keeps its generic path";
            }
        }
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int IntFunction();

    /// <summary>Calls a native <c>int f(void)</c>; -1 when the pointer is null.</summary>
    public static int Call(IntPtr function) =>
        function == IntPtr.Zero ? -1 : Marshal.GetDelegateForFunctionPointer<IntFunction>(function)();

    /// <summary>The shim's bytes (x86-64 ELF shared object exporting <see cref="Symbol"/> returning 1).</summary>
    public static byte[] ShimBytes() => TinyElf.ReturningInt(ShimFileName, Symbol, 1);

    /// <summary>Writes the shim to the first usable cache folder ($XDG_CACHE_HOME/distill, ~/.cache/distill, else the
    /// app's folder), atomically and only when missing or different, and returns its path.</summary>
    public static string WriteShim()
    {
        var bytes = ShimBytes();
        var errors = new List<string>();
        foreach (var dir in CacheDirs())
        {
            var path = Path.Combine(dir, ShimFileName);
            try
            {
                if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
                    return ShimPath = path;
                Directory.CreateDirectory(dir);
                var tmp = $"{path}.{Environment.ProcessId}.tmp";
                File.WriteAllBytes(tmp, bytes);
                File.Move(tmp, path, overwrite: true);
                return ShimPath = path;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add($"{dir}: {e.Message}");
            }
        }
        throw new IOException($"could not write {ShimFileName} to any of: {string.Join("; ", errors)}. " +
                              "Set XDG_CACHE_HOME to a writable folder.");
    }

    static IEnumerable<string> CacheDirs()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)) yield return Path.Combine(xdg, "distill");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home)) yield return Path.Combine(home, ".cache", "distill");
        yield return AppContext.BaseDirectory;
    }
}
