using Distill.Models;
using Distill.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

/// <summary>Every zoo model refuses an input its first layer cannot take with a message naming the model and the fix:
/// libtorch's own ("expected scalar type Byte but found Float", "Expected 3D (unbatched) or 4D (batched) input with 3
/// channels to Conv2d") named neither. Raw uint8 images are what a split holds, so the likeliest mistake.</summary>
public class ModelInputTests
{
    public ModelInputTests() => TorchRuntime.Initialize();

    public static TheoryData<string> Models => ["mlp-8", "cnn-4", "resnet8", "wrn-10-1"];

    [Theory]
    [MemberData(nameof(Models))]
    public void Raw_uint8_images_are_refused_naming_the_model_and_Normalize(string name)
    {
        using var model = ModelZoo.Create(name, 1, 10);
        using var images = randint(0, 255, [2, 1, 28, 28], dtype: ScalarType.Byte);
        var e = Assert.Throws<ArgumentException>(() => model.call(images));
        Assert.StartsWith($"{name}: the input is uint8", e.Message, StringComparison.Ordinal);
        Assert.Contains("dataset.Normalize(images)", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Another_float_type_than_the_weights_is_refused_with_both_conversions(string name)
    {
        using var model = ModelZoo.Create(name, 1, 10);
        using var images = randn([2, 1, 28, 28], dtype: ScalarType.Float64);
        var e = Assert.Throws<ArgumentException>(() => model.call(images));
        Assert.StartsWith($"{name}: the input is Float64 but the model's weights are Float32; convert the input with .to(ScalarType.Float32) (or the model with .to(ScalarType.Float64)).",
                          e.Message, StringComparison.Ordinal);
        // The way it names works: a float64 model takes the float64 input.
        model.to(ScalarType.Float64);
        using var _ = NewDisposeScope();
        Assert.Equal(ScalarType.Float64, model.call(images).Logits.dtype);
    }

    [Theory]
    [InlineData("cnn-4")]
    [InlineData("resnet8")]
    [InlineData("wrn-10-1")]
    public void Convolutional_models_refuse_other_channel_counts_and_flat_input(string name)
    {
        using var model = ModelZoo.Create(name, 3, 10, new ModelOptions { ImageSize = 28 });
        using var gray = randn(2, 1, 28, 28);
        var e = Assert.Throws<ArgumentException>(() => model.call(gray));
        Assert.StartsWith($"{name} takes images [B, 3, H, W] (3 channels), got [2, 1, 28, 28]; build it for the dataset's channels", e.Message, StringComparison.Ordinal);
        using var flat = randn(2, 3 * 28 * 28);
        Assert.StartsWith($"{name} takes images [B, 3, H, W] (3 channels), got [2, 2352]", Assert.Throws<ArgumentException>(() => model.call(flat)).Message, StringComparison.Ordinal);
        using var right = randn(2, 3, 28, 28);
        using var scope = NewDisposeScope();
        Assert.Equal([2L, 10], model.call(right).Logits.shape);
    }
}
