using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

/// <summary>The strided-maximum pooling must give libtorch's max_pool2d bit for bit, and leave every gradient to it.</summary>
public class PoolingTests
{
    public PoolingTests() => TorchRuntime.Initialize();

    static int[] Bits(Tensor t) => [.. t.detach().contiguous().to(ScalarType.Float32).data<float>().ToArray().Select(BitConverter.SingleToInt32Bits)];

    /// <summary>Bits, with every NaN as one value and −0 as +0: libtorch's kernel keeps a window's first maximum, so of
    /// −0 and +0 it returns the first and passes a NaN's payload through; <c>maximum</c> may return either zero and gives
    /// its own NaN. Equal numbers either way, which is all a model sees after a ReLU (it never outputs −0).</summary>
    static long[] ValueBits(Tensor t) => [.. t.detach().contiguous().to(ScalarType.Float64).data<double>().ToArray()
        .Select(v => double.IsNaN(v) ? 1L : v == 0 ? 0L : BitConverter.DoubleToInt64Bits(v))];

    [Theory]
    [InlineData(4, 8, 28, 28, ScalarType.Float32)]
    [InlineData(3, 5, 7, 9, ScalarType.Float32)]      // odd sides: floor mode drops the last row and column
    [InlineData(2, 3, 2, 3, ScalarType.Float64)]
    [InlineData(1, 1, 3, 2, ScalarType.Float32)]
    public void Equals_libtorch_max_pool_bit_for_bit_on_relu_outputs_with_ties_and_infinities(int n, int c, int h, int w, ScalarType dtype)
    {
        manual_seed(7);
        using var scope = NewDisposeScope();
        // Quarter steps and ReLU give ties, positive and at zero (+0: adding +0 turns round()'s −0 into +0, as a
        // convolution's sum gives); then ±∞ at fixed places.
        var x = (randn(n, c, h, w, dtype: dtype) * 4).round().div(4).add(0.0).relu();
        var flat = x.view(-1);
        flat[w + 1] = double.PositiveInfinity; flat[flat.numel() - 1] = double.NegativeInfinity;

        var expected = nn.functional.max_pool2d(x, 2);
        var actual = Pooling.MaxPool2x2NoGrad(x);

        Assert.NotNull(actual);
        Assert.Equal(expected.shape, actual!.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(Bits(expected), Bits(actual));
        if (dtype == ScalarType.Float64)
            Assert.Equal(expected.data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits), actual.contiguous().data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits));
    }

    [Theory]
    [InlineData(3, 5, 7, 9)]
    [InlineData(4, 8, 28, 28)]
    public void Equals_libtorch_max_pool_in_value_with_signed_zeros_and_nan(int n, int c, int h, int w)
    {
        manual_seed(8);
        using var scope = NewDisposeScope();
        var x = (randn(n, c, h, w) * 2).round();
        x = where(x.eq(0), tensor(-0.0f), x);
        var flat = x.view(-1);
        flat[1] = float.NaN; flat[w] = 0f;

        var expected = nn.functional.max_pool2d(x, 2);
        var actual = Pooling.MaxPool2x2NoGrad(x)!;

        Assert.Equal(ValueBits(expected), ValueBits(actual));
        Assert.True(actual.isnan().any().item<bool>());
    }

    [Fact]
    public void Leaves_recorded_gradients_non_4d_and_tiny_inputs_to_libtorch()
    {
        using var scope = NewDisposeScope();
        var leaf = randn(2, 3, 4, 4).requires_grad_(true);
        Assert.Null(Pooling.MaxPool2x2NoGrad(leaf));
        using (no_grad()) Assert.NotNull(Pooling.MaxPool2x2NoGrad(leaf));
        Assert.Null(Pooling.MaxPool2x2NoGrad(randn(3, 4, 4)));
        Assert.Null(Pooling.MaxPool2x2NoGrad(randn(2, 3, 1, 4)));
        Assert.Null(Pooling.MaxPool2x2NoGrad(ones(2, 3, 4, 4, dtype: ScalarType.Int32)));
    }

    [Fact]
    public void Only_plain_two_by_two_pools_qualify()
    {
        Assert.True(Pooling.IsPlain2x2(nn.MaxPool2d(2)));
        Assert.True(Pooling.IsPlain2x2(nn.MaxPool2d(2, stride: 2)));
        Assert.False(Pooling.IsPlain2x2(nn.MaxPool2d(3)));
        Assert.False(Pooling.IsPlain2x2(nn.MaxPool2d(2, stride: 1)));
        Assert.False(Pooling.IsPlain2x2(nn.MaxPool2d(2, padding: 1)));
        Assert.False(Pooling.IsPlain2x2(nn.MaxPool2d(2, ceil_mode: true)));
    }

    [Theory]
    [InlineData("cnn-8")]
    [InlineData("cnn")]
    public void Small_cnn_logits_features_and_gradients_are_those_of_its_sequential_stages(string name)
    {
        manual_seed(3);
        using var model = ModelZoo.Create(name, 1, 10);
        using var scope = NewDisposeScope();
        var x = randn(16, 1, 28, 28);
        var stages = model.named_children().Where(c => c.name.StartsWith("stage", StringComparison.Ordinal))
            .Select(c => (nn.Module<Tensor, Tensor>)c.module).ToList();
        Assert.Equal(2, stages.Count);

        // Evaluation (no gradient): the fast pooling; the reference runs libtorch's kernel through Sequential.call.
        model.eval();
        using (no_grad())
        {
            var output = model.call(x);
            var s1 = stages[0].call(x);
            var s2 = stages[1].call(s1);
            Assert.Equal(Bits(s1), Bits(output.Feature("stage1")));
            Assert.Equal(Bits(s2), Bits(output.Feature("stage2")));
        }

        // Training: libtorch's kernel, so the parameters' gradients are those of the Sequential stages.
        model.train();
        manual_seed(5);
        model.call(x).Feature("stage2").square().sum().backward();
        var viaModel = model.parameters().Where(p => p.grad is not null).Select(p => Bits(p.grad!)).ToList();
        model.zero_grad();
        stages[1].call(stages[0].call(x)).square().sum().backward();
        var viaStages = model.parameters().Where(p => p.grad is not null).Select(p => Bits(p.grad!)).ToList();
        Assert.NotEmpty(viaModel);
        Assert.Equal(viaStages, viaModel);
    }
}
