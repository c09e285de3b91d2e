using System.Runtime.InteropServices;

namespace Distill;

/// <summary>Checks on paths the user gives, made before any work so a bad one fails at once and by name.</summary>
public static class FilePaths
{
    /// <summary>The nearest folder on <paramref name="path"/>'s way to the root (the path itself excluded) that is a file,
    /// or null when there is none: then the folders can be created, where otherwise creating them fails with an
    /// IOException that names neither the path given nor the file in its way.</summary>
    public static string? FileAncestor(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        for (var dir = Path.GetDirectoryName(Path.GetFullPath(path)); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
            if (File.Exists(dir)) return dir;
        return null;
    }

    /// <summary>True when <paramref name="path"/> (an existing file) has no bytes to read: an empty file, or a FIFO or
    /// device, which .NET cannot tell from a file and whose opening blocks until someone writes. All of them report
    /// length 0, so an input checked with this before it is opened fails at once, by name, instead of hanging.</summary>
    public static bool NothingToRead(string path) => new FileInfo(path).Length == 0;

    /// <summary>The target of <paramref name="path"/> when it is a symbolic link that points nowhere (its target, or
    /// one further along a chain of links, does not exist, or the links loop), else null. File.Exists is true for such
    /// a link, but opening it fails with a bare "Could not find file".</summary>
    public static string? DanglingLinkTarget(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not { } target) return null;
        try { return info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true } ? null : target; }
        catch (IOException) { return target; } // a loop of links
    }

    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> both exist and are one file: the same path once
    /// every symbolic link on the way is resolved (realpath(3)), so a folder reached through a link is the folder itself.
    /// A path that does not exist is no file yet, so false.</summary>
    public static bool SameFile(string a, string b) =>
        RealPath(a) is { } ra && RealPath(b) is { } rb && string.Equals(ra, rb, StringComparison.Ordinal);

    /// <summary><paramref name="path"/> as the file system reaches it: absolute, no trailing separator, every symbolic
    /// link on the way resolved (realpath(3)). A path that does not exist yet is its nearest existing folder resolved,
    /// with the rest appended. So "RUN/", "./RUN" and a link to RUN are all one string, which comparing
    /// Path.GetFullPath strings misses.</summary>
    public static string Canonical(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var missing = new Stack<string>();
        for (var p = full; ; p = Path.GetDirectoryName(p)!)
        {
            if (RealPath(p) is { } real) return missing.Aggregate(Path.TrimEndingDirectorySeparator(real), Path.Combine);
            if (Path.GetDirectoryName(p) is null) return full; // nothing on the way exists (not even the root)
            missing.Push(Path.GetFileName(p));
        }
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="folder"/> or lies inside it, compared as
    /// <see cref="Canonical"/> paths: a trailing separator or a link cannot hide that a folder about to be cleared
    /// holds something that must survive.</summary>
    public static bool IsOrIsInside(string path, string folder)
    {
        string p = Canonical(path), f = Canonical(folder);
        return p == f || p.StartsWith(Path.EndsInDirectorySeparator(f) ? f : f + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    static string? RealPath(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) return null;
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return Path.GetFullPath(path);
        var p = Libc.realpath(path, IntPtr.Zero);
        if (p == IntPtr.Zero) return Path.GetFullPath(path);
        try { return Marshal.PtrToStringUTF8(p); }
        finally { Libc.free(p); }
    }

    static class Libc
    {
        [DllImport("libc", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        internal static extern IntPtr realpath(string path, IntPtr resolved);
        [DllImport("libc")] internal static extern void free(IntPtr p);
    }
}
