namespace Distill.Training;

/// <summary>An exclusive lock on a file (.NET's FileShare.None is a flock on Linux, released by the kernel when the
/// process dies, so a killed task never leaves a stale lock); the holder's PID is written beside it for messages.</summary>
public sealed class FolderLock : IDisposable
{
    readonly FileStream stream;

    FolderLock(FileStream stream) => this.stream = stream;

    /// <summary>The lock, or null when another process holds it. Any other failure (a full or read-only disk) is
    /// thrown as it is: it is no lock conflict, and saying "in use" would send the user waiting for nothing.</summary>
    public static FolderLock? TryTake(string path)
    {
        FileStream s;
        try { s = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) when (IoError.IsLockConflict(e)) { return null; }
        try
        {
            File.WriteAllText(path + ".pid", $"{Environment.ProcessId}");
            return new FolderLock(s);
        }
        catch
        {
            // Released now, not whenever the collector finalizes it: until then every other process would see it held.
            s.Dispose();
            throw;
        }
    }

    /// <summary>The PID written beside the lock; "unknown" when none is (a holder between taking the lock and writing
    /// it, or one whose write failed), never an empty "(PID )".</summary>
    public static string Holder(string path) => File.Exists(path + ".pid") && File.ReadAllText(path + ".pid").Trim() is { Length: > 0 } pid ? pid : "unknown";

    public void Dispose() => stream.Dispose();
}
