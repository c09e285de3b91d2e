using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

public class WideResNetTests
{
    public WideResNetTests() => TorchRuntime.Initialize();

    [Fact]
    public void Wrn_16_2_on_cifar_shapes_of_logits_and_group_features()
    {
        manual_seed(0);
        using var model = ModelZoo.Create("wrn-16-2", 3, 100);
        Assert.IsType<WideResNet>(model);
        using var x = randn(2, 3, 32, 32);
        ModelChecks.AssertShapes(model, x, [2, 100],
            ("stem", [2, 16, 32, 32]), ("stage1", [2, 32, 32, 32]), ("stage2", [2, 64, 16, 16]), ("stage3", [2, 128, 8, 8]), ("pool", [2, 128]));
    }

    [Fact]
    public void Wrn_16_1_on_fashion_mnist_uses_global_pooling()
    {
        manual_seed(0);
        using var model = ModelZoo.Create("wrn-16-1", 1, 10);
        using var x = randn(2, 1, 28, 28);
        ModelChecks.AssertShapes(model, x, [2, 10],
            ("stem", [2, 16, 28, 28]), ("stage1", [2, 16, 28, 28]), ("stage2", [2, 32, 14, 14]), ("stage3", [2, 64, 7, 7]), ("pool", [2, 64]));
    }

    [Fact]
    public void Group_features_are_pre_activation_and_pool_is_after_bn_relu()
    {
        manual_seed(1);
        using var model = ModelZoo.Create("wrn-10-1", 3, 10);
        model.eval();
        using var scope = NewDisposeScope();
        var output = model.call(randn(3, 3, 32, 32));
        // Zagoruyko and Komodakis (2017) take attention maps from group outputs before the next BN-ReLU: signed values.
        Assert.True(output.Feature("stage3").min().item<float>() < 0);
        Assert.True(output.Feature("pool").min().item<float>() >= 0);
    }

    [Fact]
    public void Dropout_acts_between_the_convolutions_only_in_training()
    {
        manual_seed(2);
        using var plain = ModelZoo.Create("wrn-10-1", 3, 10);
        using var dropped = ModelZoo.Create("wrn-10-1", 3, 10, new ModelOptions { Dropout = 0.3 });
        using var scope = NewDisposeScope();
        var x = randn(4, 3, 16, 16);
        // Training-mode batch norm alone is deterministic; dropout makes two calls differ.
        Assert.True(plain.call(x).Logits.Equals(plain.call(x).Logits));
        Assert.False(dropped.call(x).Logits.Equals(dropped.call(x).Logits));
        dropped.eval();
        Assert.True(dropped.call(x).Logits.Equals(dropped.call(x).Logits));
        Assert.Equal(plain.ParameterCount, dropped.ParameterCount);
    }

    /// <summary>Exact count derived here independently: stem conv, per block two BNs and two 3x3 convs, a 1x1 conv
    /// shortcut where the width changes, final BN, linear layer.</summary>
    [Theory]
    [InlineData(16, 1)]
    [InlineData(40, 2)]
    [InlineData(28, 4)]
    public void Parameter_count_is_exact(int depth, int k)
    {
        var n = (depth - 4) / 6;
        long Conv(long i, long o, long s) => i * o * s * s;
        long Block(long i, long o) => 2 * i + Conv(i, o, 3) + 2 * o + Conv(o, o, 3) + (i != o ? Conv(i, o, 1) : 0);
        long Group(long i, long o) => Block(i, o) + (n - 1) * Block(o, o);
        var expected = Conv(3, 16, 3) + Group(16, 16 * k) + Group(16 * k, 32 * k) + Group(32 * k, 64 * k) + 2 * 64 * k + 64 * k * 100 + 100;
        using var model = ModelZoo.Create($"wrn-{depth}-{k}", 3, 100);
        Assert.Equal(expected, model.ParameterCount);
    }

    [Fact]
    public void Parameter_names_match_repdistiller_checkpoints()
    {
        using var model = ModelZoo.Create("wrn-16-2", 3, 10);
        var keys = model.state_dict().Keys.ToHashSet();
        foreach (var key in new[] { "conv1.weight", "block1.layer.0.bn1.weight", "block1.layer.0.convShortcut.weight",
                                     "block2.layer.1.conv2.weight", "bn1.running_var", "fc.weight" })
            Assert.Contains(key, keys);
        Assert.DoesNotContain("block2.layer.1.convShortcut.weight", keys);
    }

    [Fact]
    public void Bad_depth_is_rejected_clearly()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("wrn-20-2", 3, 10));
        Assert.Contains("6n + 4", e.Message);
    }
}
