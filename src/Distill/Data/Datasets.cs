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

    /// <summary>
    /// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747): 60,000 train / 10,000 test 28×28 grey images,
    /// 10 classes. <paramref name="root"/> is a folder holding the four IDX files (or a data root with a fashion-mnist/
    /// sub-folder); without it the default <see cref="DatasetSearch"/> is used.
    /// </summary>
    public static ImageDataset FashionMnist(string? root = null) => FashionMnist(SearchFor(root));

    public static ImageDataset FashionMnist(DatasetSearch search) =>
        LoadIdxDataset(DatasetCatalog.FashionMnist, search, FashionMnistClasses);

    static DatasetSearch SearchFor(string? root) =>
        root is null ? DatasetSearch.Default : new DatasetSearch([root, Path.GetDirectoryName(Path.GetFullPath(root))!], null);

    internal static ImageDataset LoadIdxDataset(DatasetInfo info, DatasetSearch search, IReadOnlyList<string> classes)
    {
        var folder = info.Locate(search) ?? throw info.NotFound(search);
        var (trainImages, trainLabels) = ReadIdxPair(info.Resolve(folder, IdxNames.TrainImages), info.Resolve(folder, IdxNames.TrainLabels), classes.Count);
        var (testImages, testLabels) = ReadIdxPair(info.Resolve(folder, IdxNames.TestImages), info.Resolve(folder, IdxNames.TestLabels), classes.Count);
        var (mean, std) = PixelStats.MeanStd(trainImages.Data, 1, trainImages.Shape[1] * trainImages.Shape[2]);
        return new ImageDataset(info.Name, ToSplit(trainImages, trainLabels), ToSplit(testImages, testLabels), classes, mean, std, folder);
    }

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
                $"holds {images.Count:N0} images but its label file {labelsPath} holds {labels.Count:N0} labels",
                "the two files come from different downloads or one is damaged: delete both and run `distill data install` again");
        CheckLabels(labelsPath, labels.Data, numClasses);
        return (images, labels);
    }

    /// <summary>One tensor per file straight from the byte arrays: [N, 1, H, W] uint8 and [N] int64.</summary>
    static Split ToSplit(IdxArray images, IdxArray labels) =>
        new(
            tensor(images.Data, [images.Count, 1, images.Shape[1], images.Shape[2]], ScalarType.Byte),
            tensor(labels.Data, [labels.Count], ScalarType.Byte).to(ScalarType.Int64));

    internal static void CheckLabels(string path, ReadOnlySpan<byte> labels, int numClasses)
    {
        int i = labels.IndexOfAnyInRange((byte)numClasses, byte.MaxValue);
        if (i >= 0)
            throw new DatasetException(path, $"label {labels[i]} at index {i} is outside 0..{numClasses - 1}",
                "the file is corrupt or belongs to another dataset: delete it and run `distill data install` again");
    }
}
