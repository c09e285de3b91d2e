using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

public class SmallCnnTests
{
    public SmallCnnTests() => TorchRuntime.Initialize();

    [Fact]
    public void Fashion_mnist_teacher_shapes_and_parameter_count()
    {
        manual_seed(0);
        using var model = ModelZoo.Create("cnn", 1, 10);
        Assert.IsType<SmallCnn>(model);
        using var x = randn(2, 1, 28, 28);
        ModelChecks.AssertShapes(model, x, [2, 10], ("stage1", [2, 32, 14, 14]), ("stage2", [2, 64, 7, 7]), ("fc", [2, 256]));
        // conv32-conv32-pool-conv64-pool-fc256-fc10: bias-free 3x3 convs, BN scale+shift, fc with biases.
        var expected = ModelChecks.Count([32, 1, 3, 3], [2, 32], [32, 32, 3, 3], [2, 32], [64, 32, 3, 3], [2, 64],
                                         [256, 64 * 7 * 7], [256], [10, 256], [10]);
        Assert.Equal(expected, model.ParameterCount);
    }

    [Fact]
    public void Width_and_cifar_input_are_configurable()
    {
        manual_seed(0);
        using var model = ModelZoo.Create("cnn-16", 3, 100);
        using var x = randn(2, 3, 32, 32);
        ModelChecks.AssertShapes(model, x, [2, 100], ("stage1", [2, 16, 16, 16]), ("stage2", [2, 32, 8, 8]), ("fc", [2, 128]));
        using var wide = new SmallCnn(2, 5, imageHeight: 20, imageWidth: 12, width: 8);
        using var y = randn(3, 2, 20, 12);
        ModelChecks.AssertShapes(wide, y, [3, 5], ("stage1", [3, 8, 10, 6]), ("stage2", [3, 16, 5, 3]), ("fc", [3, 64]));
    }

    [Fact]
    public void Eval_is_deterministic_and_uses_running_statistics()
    {
        manual_seed(1);
        using var model = ModelZoo.Create("cnn", 1, 10);
        using var scope = NewDisposeScope();
        var x = randn(8, 1, 28, 28) * 3 + 1;
        model.train();
        var train1 = model.call(x).Logits;
        Assert.False(train1.Equals(model.call(x).Logits)); // dropout 0.3
        model.eval();
        var eval1 = model.call(x).Logits;
        Assert.True(eval1.Equals(model.call(x).Logits));
        // One sample alone gives the same logits as inside the batch: eval batch norm does not look at the batch.
        Assert.True(model.call(x[..1]).Logits.allclose(eval1[..1], rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Wrong_image_size_fails_with_the_fix_in_the_message()
    {
        using var model = ModelZoo.Create("cnn", 1, 10);
        using var x = randn(2, 1, 32, 32);
        var e = Assert.Throws<ArgumentException>(() => model.call(x));
        Assert.Contains("ImageSize", e.Message);
    }
}
