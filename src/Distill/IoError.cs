using System.Text.RegularExpressions;

namespace Distill;

/// <summary>What an <see cref="IOException"/> reports, told by its error number: on Linux .NET puts the errno in
/// <see cref="Exception.HResult"/>, while the message text is the C library's and may be translated.</summary>
public static partial class IoError
{
    // Linux's numbers (asm-generic/errno-base.h, errno.h).
    const int EWOULDBLOCK = 11, ENOSPC = 28, EROFS = 30, ELOOP = 40, EDQUOT = 122;

    /// <summary>True when an exclusive open failed because another open file holds the lock (flock's EWOULDBLOCK),
    /// the one failure that means "in use": a full or read-only disk is not another run.</summary>
    public static bool IsLockConflict(IOException e) => e?.HResult == EWOULDBLOCK;

    /// <summary>True when a write failed because the file system is mounted read-only (EROFS).</summary>
    public static bool IsReadOnly(IOException e) => e?.HResult == EROFS;

    /// <summary>A disk that cannot take a write (full, over quota, read-only) as the one line to follow "error: ",
    /// naming the file and the fix; null for any other failure. <paramref name="written"/> is the file the caller was
    /// writing, named instead of the path in the message, which may be an atomic write's hidden temp file.</summary>
    public static string? DiskProblem(Exception e, string? written = null)
    {
        if (e is not IOException io) return null;
        var file = (written ?? FileOf(io.Message)) is { } f ? $"'{f}'" : "a file";
        // A write with a preallocation size (File.WriteAllText and WriteAllBytes give one) reports a full disk in words
        // of its own ("Failed to create '...' with allocation size ... because the disk was full"), not as ENOSPC.
        var errno = io.Message.Contains("because the disk was full", StringComparison.Ordinal) ? ENOSPC : io.HResult;
        return errno switch
        {
            ENOSPC => $"no space left on the disk writing {file}: free space on that disk or give another --out",
            EDQUOT => $"your disk quota is used up writing {file}: free space on that disk or give another --out",
            EROFS => $"the file system is read-only, so {file} cannot be written: give a folder you can write to",
            _ => null,
        };
    }

    /// <summary>A file or folder this user may not open or change (another user's run folder, a root-owned tb/), as the
    /// one line to follow "error: ", naming it, its mode and the fix; null for any other failure.</summary>
    public static string? PermissionProblem(Exception e)
    {
        if (e is not UnauthorizedAccessException || AccessDenied().Match(e.Message) is not { Success: true } m) return null;
        var path = m.Groups["path"].Value;
        string mode;
        try { mode = !OperatingSystem.IsWindows() && (File.Exists(path) || Directory.Exists(path)) ? $", mode {Convert.ToString((int)File.GetUnixFileMode(path), 8)}" : ""; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { mode = ""; }
        return $"'{path}': permission denied (this user may not read or write it{mode}; it may belong to another user): " +
               "give this user access to it and its folder (chown or chmod), or give another folder";
    }

    [GeneratedRegex(@"^Access to the path '(?<path>[^\n]+)' is denied\.?$")]
    private static partial Regex AccessDenied();

    /// <summary>True when <paramref name="e"/> is a failed write of the console's own stream (standard output redirected
    /// to a full disk): a problem of the redirection, not of the work being done, so it ends the command once instead
    /// of being recorded as each sweep run's failure.</summary>
    public static bool FromConsole(Exception e) =>
        e is IOException io && new System.Diagnostics.StackTrace(io).GetFrames().Any(f => f.GetMethod()?.DeclaringType?.FullName?.StartsWith("System.ConsolePal", StringComparison.Ordinal) == true);

    /// <summary>A failed write to standard output as the one line to follow "error: ". Console's stream names no path,
    /// so <see cref="DiskProblem"/> said "writing a file ... give another --out" for `methods > /dev/full`, a command
    /// with no --out whose failed write was its redirected output.</summary>
    public static string StandardOutputProblem(IOException e) => e.HResult switch
    {
        ENOSPC => "cannot write to standard output: no space left on the device it is redirected to",
        EDQUOT => "cannot write to standard output: the disk quota of the file it is redirected to is used up",
        EROFS => "cannot write to standard output: it is redirected to a read-only file system",
        _ => $"cannot write to standard output ({ErrorText.Line(e).TrimEnd('.')}): check where it is redirected",
    };

    /// <summary>True when a path could not be followed because a symbolic link on it loops (ELOOP): the file is
    /// neither missing nor unreadable, and saying so sends the user after the wrong thing.</summary>
    public static bool IsLinkLoop(Exception e) => e is IOException { HResult: ELOOP };

    /// <summary>A link loop met on the way to a file, as the one line to follow "error: " (the path as .NET reports
    /// it, else <paramref name="path"/>); null for any other failure.</summary>
    public static string? LinkLoopProblem(Exception e, string? path = null) =>
        IsLinkLoop(e) ? $"'{FileOf(e.Message) ?? path ?? "a path"}' is (or goes through) {FilePaths.LinkLoop}: point the link at a real file or folder, or give another path" : null;

    /// <summary>The path .NET appends to an I/O error's message ("No space left on device : '/out/run.json'").</summary>
    static string? FileOf(string message) => PathSuffix().Match(message) is { Success: true } m ? m.Groups["path"].Value : null;

    [GeneratedRegex(@" : '(?<path>[^\n]+)'$")]
    private static partial Regex PathSuffix();
}
