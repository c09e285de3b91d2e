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
        // A file there hid the system copies without a word: doctor called fashion-mnist missing and advised an install
        // that then found the package installed but not its files.
        if (!string.IsNullOrWhiteSpace(system) && File.Exists(Path.GetFullPath(system)))
            throw new DatasetException(Path.GetFullPath(system), "DISTILL_SYSTEM_DATA names a file, not a folder",
                $"unset DISTILL_SYSTEM_DATA (the system folder is {SystemDatasets}, where the Debian packages install), set it to a folder, or to empty to leave the system folder out");
        return new(DefaultRoots(getenv("DISTILL_DATA")), system is null ? SystemDatasets : system.Trim().Length == 0 ? null : system);
    }

    /// <summary>When $DISTILL_DATA names a folder that does not exist (allowed: `distill data install` creates it) and
    /// this search reads it, what that means for the data read, said by doctor and with every dataset loaded; null
    /// otherwise (a loader given its own folder does not read $DISTILL_DATA). Also when $DISTILL_DATA is a dataset's own
    /// folder (it holds the files, not one folder per dataset): its files were never read, and the datasets came from
    /// the other folders without a word.</summary>
    public string? MissingDataNote()
    {
        if (Environment.GetEnvironmentVariable("DISTILL_DATA") is not { } set || string.IsNullOrWhiteSpace(set) || !Roots.Contains(Path.GetFullPath(set))) return null;
        if (!Directory.Exists(set) && !File.Exists(set))
            return $"DISTILL_DATA={set} does not exist, so datasets come from the other folders; check the path (`distill data install NAME` installs there only a dataset found nowhere else)";
        var full = Path.GetFullPath(set);
        if (RootsMayHoldFiles || DatasetCatalog.All.Any(i => i.SubFolders.Any(sub => Directory.Exists(Path.Combine(full, sub))))) return null;
        // Every file of a dataset, not one (a stray train.bin is no CIFAR-100). MNIST and Fashion-MNIST share their file
        // names: their content tells them apart when it can (Fashion-MNIST's is published), else both are named.
        var whole = DatasetCatalog.All.Where(i => i.Missing(full).Count == 0).ToList();
        if (whole.Count > 1 && whole.FirstOrDefault(i => i.ContentSha256.Count > 0 && DatasetVerifier.Verify(i, full) is null) is { } verified) whole = [verified];
        if (whole.Count == 0) return null;
        var titles = string.Join(" or ", whole.Select(i => i.Title + "'s"));
        var subs = string.Join(" or ", whole.Select(i => i.SubFolders[^1]));
        return $"DISTILL_DATA={set} holds {titles} files itself, where it should hold one folder per dataset ({whole[0].SubFolders[^1]}/, ...), so they are not read and " +
               $"datasets come from the other folders; set DISTILL_DATA to the folder above it (`export DISTILL_DATA={FilePaths.ShellWord(Path.GetDirectoryName(full)!)}`) " +
               $"after naming this folder {subs}, or move the files into {string.Join(" or ", whole.Select(i => Path.Combine(full, i.SubFolders[^1])))}";
    }

    /// <summary>Only the given roots: no environment, no system folder.</summary>
    public static DatasetSearch Only(params string[] roots) => new(roots, null);

    /// <summary>Where downloads land: the first root ($DISTILL_DATA, else the repository's data/, else ./data).</summary>
    public string InstallRoot => Roots.Count > 0 ? Roots[0] : Path.GetFullPath("data");

    public static IReadOnlyList<string> DefaultRoots(string? distillData)
    {
        var roots = new List<string>();
        if (!string.IsNullOrWhiteSpace(distillData))
        {
            var root = Path.GetFullPath(distillData);
            // A folder that does not exist yet is fine (`distill data install` creates it); a file or a link to nothing
            // is a mistake that would otherwise pass unseen, the datasets then coming from another root.
            var wrong = Directory.Exists(root) ? null : File.Exists(root) ? FilePaths.BrokenLink(root) ?? "a file, not a folder" : null;
            if (wrong is not null)
                throw new DatasetException(root, $"DISTILL_DATA names {wrong}",
                    "set DISTILL_DATA to the folder that holds the datasets (one sub-folder per dataset, e.g. fashion-mnist/), or unset it");
            roots.Add(root);
        }
        if (RepoRoot() is string repo) roots.Add(Path.Combine(repo, "data"));
        roots.Add(Path.GetFullPath("data"));
        return roots.Distinct().ToList();
    }

    /// <summary>The nearest folder holding Research.sln above the current directory, else above the running program.</summary>
    // Datasets look from the working directory first and the teacher cache (ProgramRepoRoot) from the program first, on
    // purpose: datasets are the user's, installed where they work, and the same bytes whichever build reads them (each
    // run records their digest); a cached teacher is the product of one build's code, so it stays with the checkout whose
    // program trained it. Checkout A's build run inside checkout B thus reads B's data and A's teachers.
    public static string? RepoRoot() => FindUp(Directory.GetCurrentDirectory()) ?? FindUp(AppContext.BaseDirectory) ?? FindUp(LibraryFolder);

    /// <summary>The nearest folder holding Research.sln above the running program, else above this library's own file,
    /// else above the current directory: for state that must stay with one checkout wherever the command is run from
    /// (the teacher cache).</summary>
    // The library's file second: in the .NET kernel the program is dotnet-interactive's tool, and a notebook outside the
    // checkout that references ~/distill/artifacts/bin/Distill/debug/Distill.dll retrained the cnn teacher into
    // ~/.cache/distill/teachers although the checkout's cache held it (same key, same weights).
    public static string? ProgramRepoRoot() => FindUp(AppContext.BaseDirectory) ?? FindUp(LibraryFolder) ?? FindUp(Directory.GetCurrentDirectory());

    /// <summary>The folder Distill.dll was loaded from; empty when it was loaded from bytes.</summary>
    static string LibraryFolder => Path.GetDirectoryName(typeof(DatasetSearch).Assembly.Location) ?? "";

    static string? FindUp(string start)
    {
        if (start.Length == 0) return null;
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Research.sln"))) return d.FullName;
        return null;
    }
}
