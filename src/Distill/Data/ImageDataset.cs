using static TorchSharp.torch;

namespace Distill.Data;

/// <summary>One split held whole: images uint8 [N, C, H, W] and labels int64 [N]. No per-sample objects.</summary>
public sealed class Split(Tensor images, Tensor labels) : IDisposable
{
    public Tensor Images { get; } = images;
    public Tensor Labels { get; } = labels;
    public long Count => Labels.shape[0];

    /// <summary>Rows <paramref name="index"/> (int64 indices) of both tensors, as a new split.</summary>
    public Split Select(Tensor index) => new(Images.index_select(0, index), Labels.index_select(0, index));

    public Split To(Device device) => new(Images.to(device), Labels.to(device));

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// A labelled image dataset as whole-split tensors plus what a model needs to know about it: class names and the
/// per-channel normalisation constants (of the [0, 1]-scaled training images).
/// </summary>
public sealed class ImageDataset(string name, Split train, Split test, IReadOnlyList<string> classes, float[] mean, float[] std, string source)
    : IDisposable
{
    public string Name { get; } = name;
    public Split Train { get; } = train;
    public Split Test { get; } = test;
    public IReadOnlyList<string> Classes { get; } = classes;
    public float[] Mean { get; } = mean;
    /// <summary>Each above 0: a split whose pixels never vary (a zero-filled file) loaded, and training divided by its 0
    /// std and stopped at step 0 with a NaN the learning rate was blamed for.</summary>
    public float[] Std { get; } = std.All(x => x > 0 && float.IsFinite(x)) ? std
        : throw new DatasetException(source, $"{name}'s training pixels do not vary (per-channel std {string.Join(", ", std.Select(x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)))}), so they are no real images and cannot be normalised",
            $"the files are blank or zero-filled: delete them and install the dataset again (`distill data install {name.Replace("-coarse", "", StringComparison.Ordinal)}`)");
    /// <summary><see cref="Mean"/> and <see cref="Std"/> as run records and ONNX metadata write them: comma-separated,
    /// round-trip precision.</summary>
    public (string Mean, string Std) NormalisationText => (Spelled(Mean), Spelled(Std));

    static string Spelled(float[] values) =>
        string.Join(",", values.Select(x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Where the files were read from (recorded in run manifests).</summary>
    public string Source { get; } = source;
    /// <summary>Which files read are not the published ones, with the fix (<see cref="DatasetVerifier.Unpublished"/>);
    /// null when each is, or when nothing published says (CIFAR's files, an uncompressed MNIST). `train`, the recipes
    /// and sweeps print it as a warning: data edited on purpose trains, but its numbers are not the paper's.</summary>
    public string? Warning { get => warning; init => warning = value; }
    string? warning;

    /// <summary>Adds <paramref name="more"/> to <see cref="Warning"/> (the loaders' own notes, after the files').</summary>
    internal void Warn(string more) => warning = warning is null ? more : $"{warning}; {more}";

    public int Channels => (int)Train.Images.shape[1];
    public int Height => (int)Train.Images.shape[2];
    public int Width => (int)Train.Images.shape[3];
    public int NumClasses => Classes.Count;

    /// <summary>uint8 images → float32 in [0, 1], normalised with this dataset's mean/std, on the images' device.</summary>
    public Tensor Normalize(Tensor uint8Images)
    {
        using var scope = NewDisposeScope();
        var x = uint8Images.to(ScalarType.Float32).div_(255f);
        var m = tensor(Mean, device: x.device).view(1, -1, 1, 1);
        var s = tensor(Std, device: x.device).view(1, -1, 1, 1);
        return x.sub_(m).div_(s).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}
