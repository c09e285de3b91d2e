using Distill.Losses;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

public class BornAgainVariantTests
{
    public BornAgainVariantTests() => TorchRuntime.Initialize();

    [Fact]
    public void Dkpp_keeps_each_rows_argmax_and_permutes_only_the_rest()
    {
        using var scope = NewDisposeScope();
        using (manual_seed(0)) { }
        var p = randn(64, 10).mul(3).softmax(1);
        var q = Dkpp.Permute(p);
        Assert.True(q.argmax(1).eq(p.argmax(1)).all().item<bool>(), "the argmax must stay in place");
        Assert.True(q.max(1).values.eq(p.max(1).values).all().item<bool>());
        // The same values in each row (a permutation), and rows still sum to one.
        Assert.True(q.sort(1).Values.eq(p.sort(1).Values).all().item<bool>());
        Assert.True(q.sum(1).allclose(ones(64), 1e-5, 1e-6));
        // Not the identity: most rows move some probability mass.
        Assert.True(q.ne(p).any(1).sum().item<long>() > 50);
    }

    [Fact]
    public void Cwtm_is_the_teacher_confidence_weighted_mean_of_the_label_cross_entropy()
    {
        using var scope = NewDisposeScope();
        var s = tensor(new float[] { 2, 0, 0, 0, 1, 0 }).view(2, 3).requires_grad_();
        var t = tensor(new float[] { 5, 0, 0, 0, 0, 0 }).view(2, 3);
        var y = tensor(new long[] { 0, 2 });
        // Weights: the teacher's max probabilities e^5/(e^5+2) and 1/3; CE_b = −log softmax(s_b)[y_b].
        var w0 = Math.Exp(5) / (Math.Exp(5) + 2);
        var w1 = 1.0 / 3;
        var ce0 = -Math.Log(Math.Exp(2) / (Math.Exp(2) + 2));
        var ce1 = -Math.Log(1 / (Math.Exp(1) + 2));
        var expected = (w0 * ce0 + w1 * ce1) / (w0 + w1);
        var loss = Cwtm.Loss(s, t, y);
        Assert.Equal(expected, loss.item<float>(), 5);
        loss.backward();
        Assert.NotNull(s.grad);
        Assert.Throws<ArgumentException>(() => Cwtm.Loss(s, t, tensor(new long[] { 0 })));
    }
}
