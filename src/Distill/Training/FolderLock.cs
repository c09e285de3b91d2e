namespace Distill.Training;

/// <summary>An exclusive lock on a file (.NET's FileShare.None is a flock on Linux, released by the kernel when the
/// process dies, so a killed task never leaves a stale lock); the holder's PID is written beside it for messages.</summary>
internal sealed class FolderLock : IDisposable
{
    readonly FileStream stream;

    FolderLock(FileStream stream) => this.stream = stream;

    public static FolderLock? TryTake(string path)
    {
        try
        {
            var s = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(path + ".pid", $"{Environment.ProcessId}");
            return new FolderLock(s);
        }
        catch (IOException) { return null; }
    }

    public static string Holder(string path) => File.Exists(path + ".pid") ? File.ReadAllText(path + ".pid").Trim() : "unknown";

    public void Dispose() => stream.Dispose();
}
