namespace Distill.Data;

/// <summary>
/// Where datasets are looked for, in this order: each of <see cref="Roots"/> (default: $DISTILL_DATA, ./data, and the
/// data/ folder of the repository holding Research.sln, found by walking up from the current directory and from the
/// running program), then <see cref="SystemRoot"/> (default /usr/share/datasets, where the Debian/Ubuntu
/// <c>dataset-*</c> packages install; $DISTILL_SYSTEM_DATA overrides it). Dataset NAME lives in the sub-folder ROOT/NAME. Tests inject their own.
/// </summary>
public sealed record DatasetSearch(IReadOnlyList<string> Roots, string? SystemRoot)
{
    public const string SystemDatasets = "/usr/share/datasets";

    /// <summary>When set, a root may itself be the dataset folder (an explicit <c>root</c> argument to a loader).</summary>
    public bool RootsMayHoldFiles { get; init; }

    /// <summary>From the environment: $DISTILL_DATA, the repository's data/, ./data, and $DISTILL_SYSTEM_DATA
    /// (default /usr/share/datasets; set it empty to leave the system folder out).</summary>
    public static DatasetSearch Default => FromEnvironment(Environment.GetEnvironmentVariable);

    public static DatasetSearch FromEnvironment(Func<string, string?> getenv)
    {
        var system = getenv("DISTILL_SYSTEM_DATA");
        return new(DefaultRoots(getenv("DISTILL_DATA")), system is null ? SystemDatasets : system.Trim().Length == 0 ? null : system);
    }

    /// <summary>Only the given roots: no environment, no system folder.</summary>
    public static DatasetSearch Only(params string[] roots) => new(roots, null);

    /// <summary>Where downloads land: the first root ($DISTILL_DATA, else the repository's data/, else ./data).</summary>
    public string InstallRoot => Roots.Count > 0 ? Roots[0] : Path.GetFullPath("data");

    public static IReadOnlyList<string> DefaultRoots(string? distillData)
    {
        var roots = new List<string>();
        if (!string.IsNullOrWhiteSpace(distillData)) roots.Add(Path.GetFullPath(distillData));
        if (RepoRoot() is string repo) roots.Add(Path.Combine(repo, "data"));
        roots.Add(Path.GetFullPath("data"));
        return roots.Distinct().ToList();
    }

    /// <summary>The nearest folder holding Research.sln above the current directory, else above the running program.</summary>
    public static string? RepoRoot() => FindUp(Directory.GetCurrentDirectory()) ?? FindUp(AppContext.BaseDirectory);

    static string? FindUp(string start)
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Research.sln"))) return d.FullName;
        return null;
    }
}
