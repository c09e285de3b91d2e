using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

public class CifarResNetTests
{
    public CifarResNetTests() => TorchRuntime.Initialize();

    [Fact]
    public void Resnet20_on_cifar_shapes_of_logits_and_stage_features()
    {
        manual_seed(0);
        using var model = ModelZoo.Create("resnet20", 3, 100);
        using var x = randn(2, 3, 32, 32);
        ModelChecks.AssertShapes(model, x, [2, 100],
            ("stem", [2, 16, 32, 32]), ("stage1", [2, 16, 32, 32]), ("stage2", [2, 32, 16, 16]), ("stage3", [2, 64, 8, 8]), ("pool", [2, 64]));
    }

    [Fact]
    public void Wide_resnet8x4_on_fashion_mnist_uses_global_pooling()
    {
        manual_seed(0);
        using var model = ModelZoo.Create("resnet8x4", 1, 10);
        using var x = randn(2, 1, 28, 28);
        ModelChecks.AssertShapes(model, x, [2, 10],
            ("stem", [2, 32, 28, 28]), ("stage1", [2, 64, 28, 28]), ("stage2", [2, 128, 14, 14]), ("stage3", [2, 256, 7, 7]), ("pool", [2, 256]));
    }

    [Fact]
    public void Stage_features_are_post_relu_and_pool_is_their_spatial_mean()
    {
        manual_seed(1);
        using var model = ModelZoo.Create("resnet14", 3, 10);
        model.eval();
        using var scope = NewDisposeScope();
        var output = model.call(randn(3, 3, 32, 32));
        foreach (var name in new[] { "stem", "stage1", "stage2", "stage3" })
            Assert.True(output.Feature(name).min().item<float>() >= 0, name);
        Assert.True(output.Feature("pool").allclose(output.Feature("stage3").mean([2L, 3L]), rtol: 1e-5, atol: 1e-6));
    }

    /// <summary>The ResNets and WRNs run channels-last on the CPU (faster there, docs/performance.md): every 4-D feature is
    /// NHWC in memory, and logits, features and every weight's gradient equal those of the same weights run NCHW
    /// throughout (<see cref="DistillModel.ChannelsLast"/> off) up to float rounding. One input channel too: its
    /// image is both layouts at once, so the layout changes after the stem.</summary>
    [Theory]
    [InlineData("resnet8", 3)]
    [InlineData("resnet8", 1)]
    [InlineData("wrn-10-1", 3)]
    public void Runs_channels_last_on_the_cpu_with_the_values_and_gradients_of_nchw(string name, int channels)
    {
        manual_seed(4);
        using var model = ModelZoo.Create(name, channels, 10);
        Assert.True(model.ChannelsLast);
        using var scope = NewDisposeScope();
        var x = randn(6, channels, 16, 16, generator: new Generator(8));
        var y = randint(0, 10, [6], generator: new Generator(9));

        (ModelOutput Output, Tensor[] Grads) Step()
        {
            model.zero_grad();
            var output = model.call(x);
            (nn.functional.cross_entropy(output.Logits, y) + output.Feature("stage2").square().mean()).backward();
            return (output, model.parameters().Select(p => p.grad!.clone()).ToArray());
        }

        var (cl, clGrads) = Step();
        model.ChannelsLast = false;
        var (nchw, nchwGrads) = Step();
        foreach (var (feature, value) in cl.Features.Where(f => f.Value.dim() == 4))
        {
            Assert.True(value.stride(1) == 1 && !value.is_contiguous(), $"{feature}: strides [{string.Join(", ", value.stride())}] are not channels-last");
            Assert.True(nchw.Feature(feature).is_contiguous(), $"{feature} with ChannelsLast off is not NCHW");
            Assert.True(value.allclose(nchw.Feature(feature), rtol: 1e-4, atol: 1e-5), $"{feature} differs between the layouts");
        }
        Assert.True(cl.Logits.allclose(nchw.Logits, rtol: 1e-4, atol: 1e-5));
        Assert.All(clGrads.Zip(nchwGrads), g => Assert.True(g.First.allclose(g.Second, rtol: 1e-3, atol: 1e-5),
            $"a gradient differs between the layouts by {(g.First - g.Second).abs().max().item<float>():G3}"));
    }

    /// <summary>Exact count, derived here independently: stem conv+BN, per block two 3x3 convs + two BNs, a 1x1 conv + BN
    /// shortcut where the width or stride changes (RepDistiller's option B), the linear layer.</summary>
    [Theory]
    [InlineData("resnet8", 16, 16, 32, 64)]
    [InlineData("resnet20", 16, 16, 32, 64)]
    [InlineData("resnet110", 16, 16, 32, 64)]
    [InlineData("resnet8x4", 32, 64, 128, 256)]
    [InlineData("resnet32x4", 32, 64, 128, 256)]
    public void Parameter_count_is_exact(string name, int w0, int w1, int w2, int w3)
    {
        var depth = int.Parse(name[6..].Replace("x4", ""));
        var n = (depth - 2) / 6;
        long Conv(long i, long o, long k) => i * o * k * k;
        long Bn(long c) => 2 * c;
        long Group(long inW, long w, bool shortcut) =>
            Conv(inW, w, 3) + Bn(w) + Conv(w, w, 3) + Bn(w) + (shortcut ? Conv(inW, w, 1) + Bn(w) : 0)
            + (n - 1) * (2 * Conv(w, w, 3) + 2 * Bn(w));
        var expected = Conv(3, w0, 3) + Bn(w0) + Group(w0, w1, w0 != w1) + Group(w1, w2, true) + Group(w2, w3, true) + w3 * 100 + 100;
        using var model = ModelZoo.Create(name, 3, 100);
        Assert.Equal(expected, model.ParameterCount);
    }

    [Fact]
    public void Parameter_names_match_repdistiller_checkpoints()
    {
        using var model = ModelZoo.Create("resnet8", 3, 10);
        var keys = model.state_dict().Keys.ToHashSet();
        foreach (var key in new[] { "conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.0.bn2.bias",
                                     "layer2.0.downsample.0.weight", "layer3.0.downsample.1.running_var", "fc.weight", "fc.bias" })
            Assert.Contains(key, keys);
        Assert.DoesNotContain("layer1.0.downsample.0.weight", keys); // 16 → 16 at stride 1: identity shortcut
    }

    [Fact]
    public void Bad_depth_and_dropout_are_rejected_clearly()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("resnet10", 3, 10));
        Assert.Contains("6n + 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("resnet20", 3, 10, new ModelOptions { Dropout = 0.3 }));
        Assert.Contains("wrn", e.Message);
    }
}
