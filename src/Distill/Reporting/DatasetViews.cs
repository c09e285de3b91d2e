using Distill.Data;
using Microsoft.Data.Analysis;
using static TorchSharp.torch;

namespace Distill.Reporting;

/// <summary>What notebook 00 shows about a dataset: a summary table, samples per class, class balance.</summary>
public static class DatasetViews
{
    /// <summary>One row per split: images, shape, pixel range, and the mean/std of the normalised pixels (≈ 0 and 1 on train).</summary>
    public static DataFrame Summary(ImageDataset data)
    {
        var splits = new[] { ("train", data.Train), ("test", data.Test) };
        var stats = splits.Select(s =>
        {
            using var scope = NewDisposeScope();
            var x = data.Normalize(s.Item2.Images);
            return (mean: x.mean().item<float>(), std: x.std().item<float>(),
                min: s.Item2.Images.min().item<byte>(), max: s.Item2.Images.max().item<byte>());
        }).ToArray();
        return new DataFrame(
            new StringDataFrameColumn("split", splits.Select(s => s.Item1)),
            new Int64DataFrameColumn("images", splits.Select(s => s.Item2.Count)),
            new StringDataFrameColumn("shape (C×H×W)", splits.Select(_ => $"{data.Channels}×{data.Height}×{data.Width}")),
            new StringDataFrameColumn("pixel range", stats.Select(s => $"{s.min}..{s.max}")),
            new DoubleDataFrameColumn("normalised mean", stats.Select(s => Math.Round(s.mean, 4) + 0.0)),
            new DoubleDataFrameColumn("normalised std", stats.Select(s => Math.Round(s.std, 4) + 0.0)));
    }

    /// <summary>Count of each class in each split.</summary>
    public static DataFrame ClassCounts(ImageDataset data)
    {
        var train = Counts(data.Train.Labels, data.NumClasses);
        var test = Counts(data.Test.Labels, data.NumClasses);
        return new DataFrame(
            new StringDataFrameColumn("class", data.Classes),
            new Int64DataFrameColumn("train", train),
            new Int64DataFrameColumn("test", test));
    }

    /// <summary>Grouped bars: share of each class (%) in train and test; a balanced set is flat at 100/C.</summary>
    public static Figure ClassBalance(ImageDataset data)
    {
        var train = Counts(data.Train.Labels, data.NumClasses);
        var test = Counts(data.Test.Labels, data.NumClasses);
        double nTrain = train.Sum(), nTest = test.Sum();
        return Charts.GroupedBars($"{data.Name}: class balance (% of split)", "% of split", data.Classes,
            [("train", train.Select(c => 100 * c / nTrain)), ("test", test.Select(c => 100 * c / nTest))]);
    }

    /// <summary>The first <paramref name="perClass"/> training images of every class, one class per row; a class with
    /// fewer (a subset, a class left out) leaves the rest of its row empty, so every row stays its class's.</summary>
    public static Figure Samples(ImageDataset data, int perClass = 10)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(perClass, 1);
        using var scope = NewDisposeScope();
        var labels = data.Train.Labels.cpu().data<long>().ToArray();
        // NaN draws as an empty cell: the picks were laid out one after another, so a short class moved every later
        // class up a row, under the wrong name. Only the picked images are converted (not the whole split).
        var images = full([(long)data.NumClasses * perClass, .. data.Train.Images.shape.Skip(1)], float.NaN);
        for (int c = 0; c < data.NumClasses; c++)
        {
            var picked = Enumerable.Range(0, labels.Length).Where(i => labels[i] == c).Take(perClass).Select(i => (long)i).ToArray();
            if (picked.Length == 0) continue;
            var chosen = data.Train.Images.index_select(0, tensor(picked, device: data.Train.Images.device)).to(ScalarType.Float32).cpu();
            images[TensorIndex.Slice((long)c * perClass, (long)c * perClass + picked.Length)] = chosen;
        }
        if (data.Channels > 1) images = images.mean([1], keepdim: true);
        return Charts.ImageGrid($"{data.Name}: {perClass} training images per class ({string.Join(", ", data.Classes.Take(10))}{(data.NumClasses > 10 ? ", …" : "")})",
            images, perClass);
    }

    static long[] Counts(Tensor labels, int numClasses)
    {
        using var b = labels.cpu().bincount(null, numClasses);
        return b.data<long>().ToArray();
    }
}
