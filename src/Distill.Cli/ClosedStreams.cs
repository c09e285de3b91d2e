using System.Globalization;

namespace Distill.Cli;

/// <summary>
/// Standard output or error closed when distill starts (<c>&gt;&amp;-</c>, <c>2&gt;&amp;-</c>). The runtime's own start-up
/// then takes the free descriptor for a pipe of its own, so the console wrote into that: its read end failed every write
/// ("Access to the path is denied"), and `sweep run` recorded each run as failed for it; with standard error closed the
/// first error line aborted the process (134) and the runs after it never ran. Such a stream is recognised here (a
/// descriptor opened for reading only, or a pipe whose other end this process holds) and its writer discards the
/// output: the user closed it, and the work and files go on. The descriptor itself is left alone: it is the runtime's.
/// </summary>
static class ClosedStreams
{
    public static void Guard()
    {
        if (!OperatingSystem.IsLinux()) return;
        var (outClosed, errClosed) = (NotOurs(1), NotOurs(2));
        if (errClosed) Console.SetError(TextWriter.Null);
        if (!outClosed) return;
        Console.SetOut(TextWriter.Null);
        if (!errClosed) Console.Error.WriteLine("warning: standard output is closed: distill's output is discarded (its files are still written)");
    }

    /// <summary>Whether descriptor <paramref name="fd"/> is not a stream anyone gave this process to write to.</summary>
    static bool NotOurs(int fd)
    {
        try
        {
            if (ReadOnly(fd)) return true;
            if (new FileInfo($"/proc/self/fd/{fd}").LinkTarget is not { } target || !target.StartsWith("pipe:", StringComparison.Ordinal)) return false;
            // A pipe from the shell has its read end in another process (2>&1 | tee puts both of ours on its write end);
            // its read end here: the runtime's own.
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Any(p =>
                int.TryParse(Path.GetFileName(p), NumberStyles.None, CultureInfo.InvariantCulture, out var other) && other != fd &&
                new FileInfo(p).LinkTarget == target && ReadOnly(other));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return false; // no /proc to ask: the console stays as it is
        }
    }

    /// <summary>Whether the descriptor is open for reading only (fdinfo's octal flags; the access mode is their lowest
    /// two bits, 0 = O_RDONLY).</summary>
    static bool ReadOnly(int fd) =>
        File.ReadLines($"/proc/self/fdinfo/{fd}").FirstOrDefault(l => l.StartsWith("flags:", StringComparison.Ordinal)) is { } flags &&
        (Convert.ToInt32(flags[6..].Trim(), 8) & 3) == 0;
}
