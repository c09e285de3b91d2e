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
        // Other integer types get the same advice, not "convert the model to Int64".
        using var longs = randint(0, 255, [2, 1, 28, 28]);
        Assert.Equal($"{name}: the input is Int64; models take normalised float images: pass dataset.Normalize(images) for a split's uint8 images, else convert with .to(ScalarType.Float32). (Parameter 'input')",
                     Assert.Throws<ArgumentException>(() => model.call(longs)).Message);
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
        // One image without its batch dimension: the fix is unsqueeze(0), not another model.
        using var one = randn(3, 28, 28);
        Assert.Equal($"{name} takes a batch of images [B, 3, H, W], got one image [3, 28, 28]; add the batch dimension with .unsqueeze(0). (Parameter 'input')",
                     Assert.Throws<ArgumentException>(() => model.call(one)).Message);
        using var right = randn(2, 3, 28, 28);
        using var scope = NewDisposeScope();
        Assert.Equal([2L, 10], model.call(right).Logits.shape);
    }

    /// <summary>A NaN dropout passed `is &lt; 0 or >= 1` and meant no dropout without a word; an image side below 1 built
    /// an MLP of 25 inputs from -5.</summary>
    [Fact]
    public void A_nan_dropout_and_an_image_size_below_1_are_refused()
    {
        foreach (var name in new[] { "mlp-8", "cnn-4", "wrn-10-1" })
            foreach (var dropout in new[] { double.NaN, 1, -0.1 })
                Assert.StartsWith($"Model '{name}': dropout is a probability in [0, 1), not {dropout.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
                    Assert.Throws<ArgumentException>(() => ModelZoo.Create(name, 1, 10, new ModelOptions { Dropout = dropout })).Message, StringComparison.Ordinal);
        foreach (var side in new[] { -5, 0 })
            Assert.Contains($"ModelOptions.ImageSize must be at least 1 (the images' side in pixels, e.g. 28), got {side}.",
                Assert.Throws<ArgumentOutOfRangeException>(() => ModelZoo.Create("mlp-8", 1, 10, new ModelOptions { ImageSize = side })).Message);
    }

    [Fact]
    public void Accuracy_names_logits_and_labels_that_do_not_match()
    {
        using var scope = NewDisposeScope();
        Assert.Equal("Accuracy needs logits [N, classes] and labels [N] with N ≥ 1, got logits [4, 3] and labels [3].",
            Assert.Throws<ArgumentException>(() => Distill.Training.Evaluation.Accuracy(randn(4, 3), zeros(3, dtype: ScalarType.Int64))).Message);
        Assert.Throws<ArgumentException>(() => Distill.Training.Evaluation.Accuracy(randn(0, 3), zeros(0, dtype: ScalarType.Int64)));
        Assert.Equal(50.0, Distill.Training.Evaluation.Accuracy(tensor(new float[,] { { 1, 0 }, { 1, 0 } }), tensor(new long[] { 0, 1 })));
    }

    /// <summary>An input under 4x4 failed inside the small CNN's pooling with libtorch's "Output size is too small"; a
    /// 4x4 one had this message. Both, and any size the model was not built for, get it before a layer runs.</summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    [InlineData(4, 4)]
    [InlineData(32, 8)]
    public void The_small_cnn_names_an_image_size_it_was_not_built_for(int height, int width)
    {
        using var model = ModelZoo.Create("cnn-4", 3, 10);
        model.train();
        using var images = randn([2, 3, height, width]);
        var e = Assert.Throws<ArgumentException>(() => model.call(images));
        Assert.StartsWith($"SmallCnn was built for another image size: input [2, 3, {height}, {width}] gives ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("fc expects 512. Create it with the dataset's image size (ModelOptions.ImageSize).", e.Message, StringComparison.Ordinal);
        using var fits = randn([2, 3, 32, 32]);
        Assert.Equal([2L, 10L], model.call(fits).Logits.shape);
    }
}
