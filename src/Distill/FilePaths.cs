using System.Runtime.InteropServices;

namespace Distill;

/// <summary>Checks on paths the user gives, made before any work so a bad one fails at once and by name.</summary>
public static class FilePaths
{
    /// <summary><paramref name="text"/> as one word of a shell command to copy or run: quoted only when it needs to be (a
    /// space, a quote, an empty word), so a plain path reads plain.</summary>
    public static string ShellWord(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+,:@%=".Contains(c, StringComparison.Ordinal))
            ? text : $"'{text.Replace("'", "'\\''", StringComparison.Ordinal)}'";

    /// <summary>Why <paramref name="given"/> cannot be an output folder without creating anything, as words after
    /// "error: ": a symbolic link that loops or points nowhere (which File.Exists counts as a file), or a file; null
    /// otherwise.</summary>
    public static string? OutFolderProblem(string given)
    {
        // Path.GetFullPath throws on these, which the commands reported as an unexpected crash.
        if (string.IsNullOrWhiteSpace(given)) return $"--out '{given}': an empty path; give a folder (it is created when missing).";
        if (given.Contains('\0', StringComparison.Ordinal)) return "--out: the path holds a NUL character, which no file name can; give a folder (it is created when missing).";
        var full = Path.GetFullPath(given);
        if (BrokenLink(full) is { } link) return $"--out {given} is {link}; give a folder (it is created when missing), or point the link at one";
        return File.Exists(full) ? $"--out {given}: this is a file; give a folder (it is created when missing)." : null;
    }

    /// <summary>Creates the output folder <paramref name="given"/> (as the user wrote it, for the message) and returns
    /// null, or returns why it cannot be one, as words after "error: ": a file, a path through a file, or a folder that
    /// cannot be created. Commands check this before anything runs, so no work is done only to be thrown away.</summary>
    public static string? CreateOutFolder(string given)
    {
        if (OutFolderProblem(given) is { } problem) return problem.TrimEnd('.'); // run and reproduce end their lines without one
        var full = Path.GetFullPath(given);
        // A link that loops or points nowhere counts as a file to File.Exists: said as what it is.
        if (FileAncestor(full) is { } file)
            return BrokenLink(file) is { } link ? $"--out {given}: {file} is {link}; point the link at a folder, or give another path"
                : $"--out {given}: {file} is a file, not a folder; give a folder path that does not go through a file";
        try { Directory.CreateDirectory(full); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"--out {given}: cannot create this folder ({e.Message.TrimEnd('.')}); give a folder you can write to";
        }
        return Unwritable(given);
    }

    /// <summary>Why the folder an <c>--out</c> option leads to cannot take files, in one wording wherever it is checked,
    /// as words after "error: "; null when it can. <paramref name="folder"/> is given when <paramref name="given"/> names
    /// a file to write there (an .onnx path, a bench --json file); <paramref name="option"/> is the option that gave it.</summary>
    public static string? Unwritable(string given, string? folder = null, string option = "--out")
    {
        if (CannotWrite(folder ?? given) is not { } why) return null;
        return folder is null
            ? $"{option} {given}: this folder cannot be written ({why}); give a folder you can write to"
            : $"{option} {given}: the folder {folder} cannot be written ({why}); give a path in a folder you can write to";
    }

    /// <summary>Why no file can be created in <paramref name="folder"/>, or in the nearest folder on its way to the root
    /// that exists (where the missing ones would be created), as words such as "permission denied"; null when one can.
    /// Tried with a probe file removed at once: permissions alone miss a read-only mount, /proc or /sys, and the failure
    /// would otherwise come after the work, naming a lock or hidden temp file instead of the folder given.</summary>
    public static string? CannotWrite(string folder)
    {
        var dir = Path.GetFullPath(folder);
        while (!Directory.Exists(dir) && Path.GetDirectoryName(dir) is { } up) dir = up;
        var probe = Path.Combine(dir, $".distill-write-check-{Environment.ProcessId}-{Random.Shared.Next():x8}.tmp");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            return null;
        }
        catch (UnauthorizedAccessException) { return "permission denied"; }
        // /proc answers a new file with ENOENT (.NET's "Could not find file"), a read-only mount with EROFS; said in
        // words, as the message names the probe file.
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return "this file system takes no new files"; }
        catch (IOException e) { return IoError.IsReadOnly(e) ? "the file system is read-only" : $"creating a file there failed: errno {e.HResult}"; }
    }

    /// <summary>Why the temp folder (<c>$TMPDIR</c>, else /tmp) cannot take a file, as words after "error: " naming it; null
    /// when it can. Unlike an --out folder, a missing one is not created: TMPDIR naming nothing is a mistake to say.</summary>
    public static string? TempFolderProblem()
    {
        var temp = Path.GetTempPath();
        var why = File.Exists(Path.TrimEndingDirectorySeparator(temp)) || FileAncestor(temp) is not null ? "it is a file, or goes through one"
            : !Directory.Exists(temp) ? "no such folder"
            : CannotWrite(temp);
        return why is null ? null : $"the temp folder {temp} (TMPDIR) cannot take files ({why})";
    }

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
    /// A symbolic link is judged by what it leads to: its own length is that of its target's name, so a link to a FIFO
    /// or /dev/zero passed, and train, doctor and data install then hung reading it.
    public static bool NothingToRead(string path)
    {
        var file = new FileInfo(path);
        try
        {
            if (file.LinkTarget is not null && file.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true } target) file = target;
        }
        catch (IOException) { } // a link that loops: its readers name it (BrokenLink)
        return file.Length == 0;
    }

    /// <summary>What <paramref name="path"/> is instead of a file that can be read, as words to follow "PATH is":
    /// "a folder, not a file", or a symbolic link that leads nowhere (<see cref="BrokenLink"/>); null when it is a file,
    /// or nothing at all (each caller says "not found" in its own words). A bare "file not found" or "missing" for
    /// something that is there sends a user looking for the wrong thing.</summary>
    /// An empty path (<c>reference ''</c>) is said as such: Path.GetFullPath throws on it, which commands reported as an
    /// unexpected crash.
    public static string? NotAFile(string path) =>
        path.Length == 0 ? "an empty path, not a file" : Directory.Exists(path) ? "a folder, not a file" : BrokenLink(path);

    /// <summary><paramref name="path"/> as a message shows it: an empty one as '', which would otherwise leave the line
    /// starting with nothing before its colon.</summary>
    public static string Shown(string path) => path.Length == 0 ? "''" : path;

    /// <summary>The words for a link that resolves back to itself (ELOOP), one wording wherever it is met.</summary>
    public const string LinkLoop = "a symbolic link that loops";

    /// <summary>How <paramref name="path"/>, a symbolic link, leads to nothing, as words to follow "PATH is": "a symbolic
    /// link that points nowhere ('b' does not exist)", naming the link target in the chain that is missing, or "a
    /// symbolic link that loops (last.ckpt → a → last.ckpt)"; null when it is no link or leads to a file or folder. File.Exists
    /// is true for such a link, but opening it fails with a bare "Could not find file".</summary>
    public static string? BrokenLink(string path)
    {
        // An empty path is no link; Path.GetFullPath throws on it (callers name it through NotAFile).
        if (path.Length == 0) return null;
        var current = Path.GetFullPath(path);
        var seen = new List<string> { current };
        var chain = new List<string> { path };
        while (new FileInfo(current).LinkTarget is { } target)
        {
            // A relative target is taken from the link's folder, as the kernel takes it.
            var next = Path.GetFullPath(target, Path.GetDirectoryName(current)!);
            chain.Add(target);
            // 40 links: where Linux gives up (ELOOP) on a chain that loops through a linked folder on the way.
            if (seen.Contains(next) || seen.Count > 40) return $"{LinkLoop} ({string.Join(" → ", chain)})";
            if (!File.Exists(next) && !Directory.Exists(next)) return $"a symbolic link that points nowhere ('{target}' does not exist)"; // a link counts as existing
            seen.Add(next);
            current = next;
        }
        return null;
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
