using System.Globalization;
using static TorchSharp.torch;

namespace Distill.Data;

/// <summary>
/// Smaller or filtered copies of a dataset for experiments: a seeded random subset (a small transfer set, a fast test
/// budget) and a transfer set with one class removed (Hinton et al. 2015, §3). Normalisation constants stay those of
/// the full training split, so models trained on a subset see inputs scaled like everyone else's.
/// </summary>
public static class DatasetSubsets
{
    /// <summary>
    /// A random <paramref name="train"/> images of the training split and <paramref name="test"/> of the test split
    /// (null: all), drawn with <paramref name="seed"/> and kept in their original order. Each split draws from its own
    /// generator, so the test subset for a seed is the same whatever the training count. The new dataset owns its tensors.
    /// </summary>
    public static ImageDataset Subset(this ImageDataset data, int? train = null, int? test = null, int seed = 0)
    {
        using var gTrain = new Generator((ulong)seed);
        using var gTest = new Generator((ulong)seed);
        return new ImageDataset(data.Name, Take(data.Train, train, gTrain, "train"), Take(data.Test, test, gTest, "test"),
            data.Classes, data.Mean, data.Std, data.Source);
    }

    /// <summary>The dataset with every training image of class <paramref name="omitted"/> removed; the test split is untouched.</summary>
    public static ImageDataset WithoutClass(this ImageDataset data, int omitted)
    {
        if (omitted < 0 || omitted >= data.NumClasses)
            throw new ArgumentOutOfRangeException(nameof(omitted), omitted, $"{data.Name} has classes 0..{data.NumClasses - 1}.");
        using var scope = NewDisposeScope();
        var keep = data.Train.Labels.ne(omitted).nonzero().view(-1);
        return new ImageDataset(data.Name, data.Train.Select(keep).Detached(), data.Test.Select(arange(data.Test.Count)).Detached(),
            data.Classes, data.Mean, data.Std, data.Source);
    }

    static Split Take(Split split, int? count, Generator g, string which)
    {
        using var scope = NewDisposeScope();
        Tensor index;
        if (count is null || count == split.Count) index = arange(split.Count);
        else if (count <= 0 || count > split.Count)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"a {which} subset of {count:N0} images: the {which} split holds {split.Count:N0}; ask for 1 to {split.Count:N0} (or all of it)."));
        else index = randperm(split.Count, generator: g).narrow(0, 0, count.Value).sort().Values;
        return split.Select(index).Detached();
    }

    static Split Detached(this Split s)
    {
        s.Images.MoveToOuterDisposeScope();
        s.Labels.MoveToOuterDisposeScope();
        return s;
    }
}
