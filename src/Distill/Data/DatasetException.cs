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
}
