namespace Distill.Tests;

/// <summary>A fresh folder in the temp folder, /tmp/distill-NAME-XXXXXX, removed with all it holds when disposed: a
/// test takes one with <c>using var dir = new TempDir("name");</c> (a fixture keeps one and disposes it), so a test
/// run leaves nothing in /tmp. Shared by Distill.Tests and Distill.Notebooks.Tests.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string name = "test") => Path = Directory.CreateTempSubdirectory($"distill-{name}-").FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes)
    {
        var p = File(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        System.IO.File.WriteAllBytes(p, bytes);
        return p;
    }

    /// <summary>Removes the folder, giving back first what tests took away to provoke errors (a folder chmod-ed
    /// unreadable or unwritable cannot be emptied). A child process still exiting may write into it while it goes, so
    /// it is tried a few times; what still cannot be removed is left rather than failing the test that used it.</summary>
    public void Dispose()
    {
        for (var attempt = 1; Directory.Exists(Path); attempt++)
        {
            try
            {
                MakeRemovable(new DirectoryInfo(Path));
                Directory.Delete(Path, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (attempt == 3) return;
                Thread.Sleep(200);
            }
        }
    }

    /// <summary>Owner read, write and search on every folder inside (links are not followed): deleting an entry needs
    /// them on its folder only, whatever the entry's own mode.</summary>
    static void MakeRemovable(DirectoryInfo dir)
    {
        if (OperatingSystem.IsWindows()) return;
        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        if ((dir.UnixFileMode & owner) != owner) dir.UnixFileMode |= owner;
        foreach (var sub in dir.EnumerateDirectories())
            if (sub.LinkTarget is null) MakeRemovable(sub);
    }
}
