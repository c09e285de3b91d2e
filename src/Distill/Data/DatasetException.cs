namespace Distill.Data;

/// <summary>
/// A dataset file that cannot be used: always says which file, what is wrong with it and what to do about it.
/// The CLI prints <see cref="Exception.Message"/> as one line and exits 1.
/// </summary>
public sealed class DatasetException(string path, string problem, string fix, Exception? inner = null)
    : Exception($"{path}: {problem}. Fix: {fix}", inner)
{
    public string Path { get; } = path;
    public string Problem { get; } = problem;
    public string Fix { get; } = fix;

    /// <summary>This error for a file read from <paramref name="info"/>'s folder, with a fix its user can follow. The
    /// file readers know no dataset: their fixes name a bare `distill data install`, which installs the default datasets
    /// and not this one, or ask for another file path ("pass the images file here"), which a dataset folder cannot take.</summary>
    internal DatasetException For(DatasetInfo info)
    {
        const string bare = "`distill data install`";
        var fix = Fix.Contains(bare) ? Fix.Replace(bare, $"`{info.InstallCommand}`")
            : Fix.Contains(info.InstallCommand) || Fix.Contains("npm install") || Fix.Contains("chmod ") || Fix.Contains("DISTILL_SYSTEM_DATA", StringComparison.Ordinal) ? Fix
            : $"{info.Title}'s folder needs its published file under this name: delete it and run `{info.InstallCommand}`";
        return fix == Fix ? this : new DatasetException(Path, Problem, fix, InnerException);
    }
}
