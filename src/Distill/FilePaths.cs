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
}
