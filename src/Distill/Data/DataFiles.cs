namespace Distill.Data;

/// <summary>File access that turns the usual I/O failures into a <see cref="DatasetException"/> naming the file.</summary>
static class DataFiles
{
    public static FileStream OpenRead(string path)
    {
        // FileStream and Path.GetFullPath throw ArgumentException on "", which inspect printed as a bare .NET sentence.
        if (path.Length == 0)
            throw new DatasetException("''", "an empty path, not a file", "give the path of a data file (see data/README.md)");
        // A link that loops reads as an existing file whose opening fails "Too many levels of symbolic links": say
        // what it is, not "check the file's permissions".
        if (FilePaths.BrokenLink(path) is { } link)
            throw new DatasetException(path, $"is {link}", "point the link at the data file, or replace it with the file");
        // Checked before opening: opening a FIFO blocks until someone writes to it.
        if (File.Exists(path) && FilePaths.NothingToRead(path))
            throw new DatasetException(path, "the file is empty (0 bytes, or not a regular file such as a FIFO)",
                "the download was probably interrupted: delete the file and run `distill data install` again");
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new DatasetException(path, "file not found", "check the path, or run `distill data install` (see data/README.md)", e);
        }
        catch (UnauthorizedAccessException e) when (Directory.Exists(path))
        {
            // .NET reports opening a directory as "Access denied"; say what it is.
            throw new DatasetException(path, "is a directory, where a data file was expected", "point at the file itself, or move the folder out of the way", e);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw CannotRead(path, e);
        }
    }

    /// <summary>A file that cannot be opened: permission denied is fixed by a chmod, which <see cref="DatasetException.For"/>
    /// keeps (it gave "delete it and run `distill data install NAME`", which replaces the user's file for nothing).</summary>
    internal static DatasetException CannotRead(string path, Exception e) => e is UnauthorizedAccessException
        ? new(path, "cannot be read (permission denied)", $"make it readable: chmod a+r {FilePaths.ShellWord(path)} (as its owner)", e)
        : new(path, $"cannot be read ({e.Message.TrimEnd('.')})", "check the file's permissions", e);

    public static byte[] ReadAllBytes(string path)
    {
        using var f = OpenRead(path);
        var data = GC.AllocateUninitializedArray<byte>(checked((int)f.Length));
        f.ReadExactly(data);
        return data;
    }
}
