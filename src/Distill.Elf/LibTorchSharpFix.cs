using System.Text;

namespace Distill.Native;

/// <summary>
/// Makes TorchSharp's native glue (<c>libLibTorchSharp.so</c>) loadable where the system libstdc++ is older than the
/// one it was linked against (Debian 12: GCC 12, GLIBCXX up to 3.4.30). Measured: the only GLIBCXX_3.4.32 reference is
/// <c>std::ios_base_library_init</c>, never called through the PLT, so marking that requirement weak is safe.
/// Only output folders are patched, never the NuGet cache, and only when the system library lacks the version.
/// </summary>
public static class LibTorchSharpFix
{
    /// <summary>Requirements known (measured, see class remarks) to be safe to weaken. Nothing else is touched.</summary>
    public static readonly IReadOnlySet<string> SafeToWeaken = new HashSet<string> { "GLIBCXX_3.4.32" };

    const string LibName = "libLibTorchSharp.so";

    /// <summary>Patches every libLibTorchSharp.so under <paramref name="folder"/> that needs it. Idempotent.
    /// Returns the files changed.</summary>
    public static IReadOnlyList<string> PatchFolder(string folder, Func<string, bool>? systemHasVersion = null)
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists(folder)) return [];
        if (IsInNuGetCache(folder))
            throw new InvalidOperationException($"{folder}: refusing to patch a NuGet package cache; patch a build output folder instead.");
        systemHasVersion ??= SystemLibStdCxxHas;
        var changed = new List<string>();
        foreach (var lib in Directory.EnumerateFiles(folder, LibName, SearchOption.AllDirectories))
        {
            var missing = ElfVersionNeeds.Read(lib)
                .Where(n => n.Library.StartsWith("libstdc++", StringComparison.Ordinal) && !n.IsWeak && !systemHasVersion(n.Version))
                .Select(n => n.Version).Distinct().ToList();
            var unsafeOnes = missing.Where(v => !SafeToWeaken.Contains(v)).ToList();
            if (unsafeOnes.Count > 0)
                throw new InvalidOperationException(
                    $"{lib}: needs {string.Join(", ", unsafeOnes)} from libstdc++, which this system lacks and which is not known to be safe to skip. " +
                    "Install a newer libstdc++6 (GCC 13+) or use the devcontainer (Ubuntu 24.04).");
            bool any = false;
            foreach (var v in missing) any |= ElfVersionNeeds.MakeWeak(lib, v);
            if (any) changed.Add(lib);
        }
        return changed;
    }

    /// <summary>True when <paramref name="lib"/> still strongly requires a libstdc++ version this system lacks.</summary>
    public static bool NeedsPatch(string lib) =>
        ElfVersionNeeds.Read(lib).Any(n => n.Library.StartsWith("libstdc++", StringComparison.Ordinal) && !n.IsWeak && !SystemLibStdCxxHas(n.Version));

    static bool IsInNuGetCache(string folder)
    {
        var full = Path.GetFullPath(folder);
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        return full.StartsWith(Path.GetFullPath(cache), StringComparison.Ordinal);
    }

    static readonly Lazy<string?> SystemLib = new(FindSystemLibStdCxx);

    /// <summary>Path of the libstdc++ the process uses (from /proc/self/maps), else the usual system locations.</summary>
    public static string? SystemLibStdCxxPath => SystemLib.Value;

    /// <summary>True when the system libstdc++ defines <paramref name="version"/> (its name is in the version strings).</summary>
    public static bool SystemLibStdCxxHas(string version)
    {
        var path = SystemLib.Value;
        if (path is null) return true; // nothing to compare with: leave the file alone
        var bytes = File.ReadAllBytes(path);
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        return bytes.AsSpan().IndexOf(needle) >= 0;
    }

    static string? FindSystemLibStdCxx()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int i = line.IndexOf('/');
                if (i >= 0 && line.Contains("libstdc++.so", StringComparison.Ordinal)) return line[i..];
            }
        }
        catch (IOException) { }
        return new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
    }
}
