using System.Runtime.InteropServices;
using TorchSharp;

namespace Distill.Native;

/// <summary>
/// Makes TorchSharp's natives load in a host that took TorchSharp from the NuGet cache: the .NET Interactive kernel
/// (VS Code's Polyglot, Jupyter's <c>.net-csharp</c>) resolves <c>#r "nuget: TorchSharp-cpu"</c> there. On Debian 12
/// the cache's libLibTorchSharp.so needs GLIBCXX_3.4.32, which the system libstdc++ lacks; the load fails, and TorchSharp's
/// fall-back then copies ~480 MB of natives into the cache. We never patch the cache: we load the copy our build
/// patched (<c>artifacts/bin/Distill.Cli/CONFIG/runtimes/linux-x64/native</c>, next to the library's own build) before
/// TorchSharp asks for it. The dynamic loader then finds libLibTorchSharp.so (and libtorch_cpu.so, ...) by SONAME,
/// already mapped, and TorchSharp's own probing succeeds.
/// </summary>
public static class PatchedNatives
{
    public const string LibName = "libLibTorchSharp.so";
    /// <summary>Overrides where the patched natives are looked for (a folder holding libLibTorchSharp.so).</summary>
    public const string FolderVariable = "DISTILL_NATIVE_DIR";

    /// <summary>What was done, one line (doctor, run manifests, <c>Notebook.Start()</c>).</summary>
    public static string Status { get; private set; } = "not needed";

    /// <summary>Called by <see cref="TorchRuntime.Initialize"/> before the first use of <c>torch</c>.</summary>
    internal static void LoadIfNeeded()
    {
        if (!OperatingSystem.IsLinux()) return;
        if (Dl.IsLoaded(LibName)) { Status = "not needed (already loaded)"; return; }
        var torchDir = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? "";
        if (HasNatives(AppContext.BaseDirectory) || HasNatives(torchDir)) { Status = "not needed (natives next to the app, patched at build)"; return; }
        if (LibTorchSharpFix.SystemLibStdCxxHas("GLIBCXX_3.4.32")) { Status = "not needed (system libstdc++ is new enough)"; return; }
        var folder = Find() ?? throw new DllNotFoundException(
            $"TorchSharp was loaded from {torchDir}, whose natives need GLIBCXX_3.4.32, which this system's libstdc++ lacks, and no " +
            $"patched copy was found. Run ./setup.sh in the repository (it builds artifacts/bin/Distill.Cli), or set {FolderVariable} " +
            "to a folder holding a patched libLibTorchSharp.so.");
        NativeLibrary.Load(Path.Combine(folder, LibName));
        Status = $"loaded the patched natives from {folder}";
    }

    /// <summary>$DISTILL_NATIVE_DIR, else the CLI's build output beside this library's (same configuration first).</summary>
    public static string? Find()
    {
        if (Environment.GetEnvironmentVariable(FolderVariable) is { Length: > 0 } dir)
            return File.Exists(Path.Combine(dir, LibName)) ? dir
                : throw new DllNotFoundException($"{FolderVariable}={dir}: no {LibName} there. Point it at a folder holding the patched natives, or unset it.");
        // artifacts/bin/Distill/<config>/Distill.dll → artifacts/bin/Distill.Cli/<config>/runtimes/linux-x64/native
        var own = new DirectoryInfo(Path.GetDirectoryName(typeof(PatchedNatives).Assembly.Location) ?? ".");
        if (own.Parent?.Parent is not { } bin) return null;
        var configs = new[] { own.Name }.Concat(new[] { "debug", "release" }.Where(c => c != own.Name));
        return configs.Select(c => Path.Combine(bin.FullName, "Distill.Cli", c, "runtimes", "linux-x64", "native"))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, LibName)) && !LibTorchSharpFix.NeedsPatch(Path.Combine(d, LibName)));
    }

    static bool HasNatives(string dir) =>
        dir.Length > 0 && (File.Exists(Path.Combine(dir, LibName)) || File.Exists(Path.Combine(dir, "runtimes", "linux-x64", "native", LibName)));
}
