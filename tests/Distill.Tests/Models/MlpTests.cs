using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

public class MlpTests
{
    public MlpTests() => TorchRuntime.Initialize();

    [Fact]
    public void Hinton_teacher_shapes_features_and_parameter_count()
    {
        manual_seed(0);
        using var model = ModelZoo.Create("mlp-1200-1200", 1, 10);
        Assert.IsType<Mlp>(model);
        using var x = randn(3, 1, 28, 28);
        ModelChecks.AssertShapes(model, x, [3, 10], ("hidden1", [3, 1200]), ("hidden2", [3, 1200]));
        // 784-1200-1200-10 with biases (Hinton et al. 2015, §3).
        Assert.Equal(784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10, model.ParameterCount);
    }

    [Fact]
    public void Flattens_cifar_images_and_accepts_flat_input()
    {
        manual_seed(0);
        using var model = ModelZoo.Create("mlp-32", 3, 100);
        Assert.Equal(3 * 32 * 32 * 32 + 32 + 32 * 100 + 100, model.ParameterCount);
        using var x = randn(2, 3, 32, 32);
        ModelChecks.AssertShapes(model, x, [2, 100], ("hidden1", [2, 32]));
        model.eval();
        using var scope = NewDisposeScope();
        Assert.True(model.call(x).Logits.Equals(model.call(x.flatten(1)).Logits));
    }

    [Fact]
    public void Features_are_the_relu_outputs_before_dropout()
    {
        manual_seed(1);
        using var model = new Mlp(12, [50], 4, dropout: 0.5);
        using var scope = NewDisposeScope();
        var x = randn(8, 12);
        model.train();
        var h = model.call(x).Feature("hidden1");
        Assert.True(h.min().item<float>() >= 0);
        // Pre-dropout: a train-mode feature equals the eval-mode one (dropout would zero ~half and scale the rest by 2).
        model.eval();
        Assert.True(h.allclose(model.call(x).Feature("hidden1")));
    }

    [Fact]
    public void Dropout_noise_and_jitter_act_only_in_training()
    {
        manual_seed(2);
        using var model = ModelZoo.Create("mlp-64", 1, 10,
            new ModelOptions { Dropout = 0.5, InputDropout = 0.2, Jitter = 2, InputNoise = 0.1 });
        using var scope = NewDisposeScope();
        var x = randn(4, 1, 28, 28);
        model.train();
        Assert.False(model.call(x).Logits.Equals(model.call(x).Logits));
        model.eval();
        Assert.True(model.call(x).Logits.Equals(model.call(x).Logits));
    }

    [Fact]
    public void Jitter_shifts_each_image_by_its_own_offset_within_range_and_replicates_edges()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        const int max = 2;
        var images = arange(64 * 2 * 7 * 9, dtype: ScalarType.Float32).view(64, 2, 7, 9);
        var shifted = Mlp.Jitter(images, max);
        Assert.Equal(images.shape, shifted.shape);
        var padded = nn.functional.pad(images, [max, max, max, max], TorchSharp.PaddingModes.Replicate);
        var seen = new HashSet<(int, int)>();
        for (var i = 0; i < 64; i++)
        {
            // Exactly one offset (dy, dx) explains each output image: a crop of the edge-replicated image.
            var matches = new List<(int, int)>();
            for (var dy = 0; dy <= 2 * max; dy++)
                for (var dx = 0; dx <= 2 * max; dx++)
                    if (padded[i, .., dy..(dy + 7), dx..(dx + 9)].Equals(shifted[i]))
                        matches.Add((dy, dx));
            Assert.Single(matches);
            seen.Add(matches[0]);
        }
        // 64 images over 25 offsets: per-image offsets, not one shift for the batch.
        Assert.True(seen.Count > 10, $"only {seen.Count} distinct offsets");
        Assert.Same(images, Mlp.Jitter(images, 0));
    }

    [Fact]
    public void Wrong_image_size_and_bad_widths_fail_with_the_fix_in_the_message()
    {
        using var model = ModelZoo.Create("mlp-32", 1, 10);
        using var x = randn(2, 3, 32, 32);
        var e = Assert.Throws<ArgumentException>(() => model.call(x));
        Assert.Contains("784", e.Message);
        Assert.Contains("ImageSize", e.Message);
        Assert.Throws<ArgumentException>(() => new Mlp(784, [], 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Mlp(784, [10], 10, dropout: 1.0));
        using var jit = new Mlp(784, [10], 10, jitter: 1);
        using var flat = randn(2, 784);
        Assert.Contains("[B, C, H, W]", Assert.Throws<ArgumentException>(() => jit.call(flat)).Message);
    }
}
