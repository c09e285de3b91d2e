using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>
/// What every model returns: its logits and its named intermediate features (stage/group outputs, in order), so
/// FitNets hints and attention transfer need no hooks (TorchSharp hooks fire only through <c>call()</c>).
/// </summary>
public sealed record ModelOutput(Tensor Logits, IReadOnlyList<(string Name, Tensor Value)> Features)
{
    public Tensor Feature(string name) =>
        Features.FirstOrDefault(f => f.Name == name).Value
        ?? throw new KeyNotFoundException($"No feature '{name}'; this model has: {string.Join(", ", Features.Select(f => f.Name))}.");
}

/// <summary>Base of every model in the library. Input: normalised float images [B, C, H, W].</summary>
public abstract class DistillModel(string name) : nn.Module<Tensor, ModelOutput>(name)
{
    /// <summary>Names of the features <see cref="ModelOutput.Features"/> holds, in order.</summary>
    public abstract IReadOnlyList<string> FeatureNames { get; }

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The name <see cref="ModelZoo.Create"/> built this model from (lower case), so a run can record it and a
    /// checkpoint can be rebuilt later (export); null for a model built another way.</summary>
    public string? ZooName { get; internal set; }

    /// <summary>Whether the forward runs on the CPU in channels-last layout (<see cref="ModelInit.ChannelsLast"/>: the
    /// same values up to float rounding, laid out NHWC in memory, features included). On for the CIFAR ResNets and
    /// WRNs, where it measured faster; the MLPs and small CNNs keep NCHW. Set it false for NCHW throughout, PyTorch's
    /// default, to compare with a PyTorch run op for op.</summary>
    public bool ChannelsLast { get; set; }

    /// <summary><paramref name="x"/> in the layout <see cref="ChannelsLast"/> chooses.</summary>
    protected Tensor Layout(Tensor x) => ChannelsLast ? ModelInit.ChannelsLast(x) : x;

    /// <summary>Refuses an input the model's first layer (its weight <paramref name="first"/>) cannot take, before
    /// libtorch does: "expected scalar type Byte but found Float" or "Expected 3D (unbatched) or 4D (batched) input with
    /// 3 channels to Conv2d" name neither the model nor the fix. The likeliest case is a split's raw uint8 images (the
    /// datasets keep them so). <paramref name="convolutional"/>: the weight is a Conv2d's, so the input must be
    /// [B, C, H, W] with its C input channels; otherwise a Linear's, whose size the model checks itself.</summary>
    protected void CheckInput(Tensor input, Tensor first, bool convolutional)
    {
        var model = ZooName ?? GetName();
        if (input.dtype == ScalarType.Byte || !input.is_floating_point())
            throw new ArgumentException($"{model}: the input is {(input.dtype == ScalarType.Byte ? "uint8 (raw images, as a split keeps them)" : input.dtype.ToString())}; " +
                                        "models take normalised float images: pass dataset.Normalize(images) for a split's uint8 images, " +
                                        $"else convert with .to(ScalarType.{first.dtype}).", nameof(input));
        if (input.dtype != first.dtype)
            throw new ArgumentException($"{model}: the input is {input.dtype} but the model's weights are {first.dtype}; convert the input with " +
                                        $".to(ScalarType.{first.dtype}) (or the model with .to(ScalarType.{input.dtype})).", nameof(input));
        if (input.device_type != first.device_type || input.device_index != first.device_index)
            throw new ArgumentException($"{model}: the input is on {input.device} but the model is on {first.device}; put both on one device " +
                                        "(input.to(device) or model.to(device); Evaluation and the recipes take a device argument).", nameof(input));
        // One image [C, H, W] with the model's channels: the batch dimension is what is missing.
        if (convolutional && input.dim() == 3 && input.shape[0] == first.shape[1])
            throw new ArgumentException($"{model} takes a batch of images [B, {first.shape[1]}, H, W], got one image [{string.Join(", ", input.shape)}]; " +
                                        "add the batch dimension with .unsqueeze(0).", nameof(input));
        if (convolutional && (input.dim() != 4 || input.shape[1] != first.shape[1]))
            throw new ArgumentException($"{model} takes images [B, {first.shape[1]}, H, W] ({first.shape[1]} channel{(first.shape[1] == 1 ? "" : "s")}), " +
                                        $"got [{string.Join(", ", input.shape)}]; build it for the dataset's channels (ModelZoo.Create(name, dataset.Channels, …)) " +
                                        "and pass its images whole, not flattened.", nameof(input));
    }
}
