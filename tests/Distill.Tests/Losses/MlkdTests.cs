using Distill.Losses;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

/// <summary>MLKD's whole loss, computed for all temperatures at once, against its parts (each checked against PyTorch:
/// kd, mlkd_batch, mlkd_class) summed one temperature at a time.</summary>
public class MlkdTests
{
    public MlkdTests() => TorchRuntime.Initialize();

    [Theory]
    [InlineData(16, 10, false)]
    [InlineData(128, 10, false)]
    [InlineData(64, 100, true)]
    [InlineData(5, 3, true)]
    [InlineData(2, 100, false)]
    public void The_stacked_loss_and_its_gradient_equal_the_sum_of_its_parts_per_temperature(int b, int c, bool paperClassScale)
    {
        using var scope = NewDisposeScope();
        var g = manual_seed(3);
        var s = (randn(b, c) * 4).requires_grad_(true);
        var t = (randn(b, c) * 4).requires_grad_(true); // asks for a gradient, which the teacher side must not get
        double[] temperatures = [2, 3, 4, 5, 6];
        var scale = paperClassScale ? 1.0 : 1.0 / (b * (double)b);

        var stacked = Mlkd.Loss(s, t, temperatures, paperClassScale);
        var gStacked = autograd.grad([stacked], [s])[0];
        var parts = temperatures.Select(T => Kd.Loss(s, t, T) + Mlkd.BatchLoss(s, t, T) + Mlkd.ClassLoss(s, t, T) * scale).Aggregate((x, y) => x + y);
        var gParts = autograd.grad([parts], [s])[0];

        Assert.Equal(parts.item<float>(), stacked.item<float>(), 1e-5 * Math.Max(1, Math.Abs(parts.item<float>())));
        Assert.True(gStacked.allclose(gParts, rtol: 1e-4, atol: 1e-6), $"max |diff| {(gStacked - gParts).abs().max().item<float>()}");
        Mlkd.Loss(s, t, temperatures, paperClassScale).backward();
        Assert.True(t.grad is null, "the teacher's logits received a gradient");
        Assert.NotNull(s.grad);
    }

    [Fact]
    public void Near_convergence_the_gram_form_keeps_the_gradient_and_bounds_the_values_float32_error()
    {
        // Student ≈ teacher: the batch level's three C×C terms (each about B²/C) nearly cancel, so the loss value
        // carries their float32 rounding; the gradient, built term by term by autograd, must still match the B×B form.
        using var scope = NewDisposeScope();
        manual_seed(5);
        var t = randn(128, 10) * 4;
        var s = (t + randn(128, 10) * 1e-3).requires_grad_(true);
        double[] temperatures = [2, 3, 4, 5, 6];
        var stacked = Mlkd.Loss(s, t, temperatures);
        var gStacked = autograd.grad([stacked], [s])[0];
        var parts = temperatures.Select(T => Kd.Loss(s, t, T) + Mlkd.BatchLoss(s, t, T) + Mlkd.ClassLoss(s, t, T) / (128.0 * 128)).Aggregate((x, y) => x + y);
        var gParts = autograd.grad([parts], [s])[0];
        // float32's 6e-8 relative rounding on 5 temperatures × 3 terms of ‖G‖² ≈ 128²/10, over B = 128: about 1.2e-5
        // (measured 1.6e-6).
        Assert.InRange(stacked.item<float>() - parts.item<float>(), -2e-5, 2e-5);
        Assert.True(gStacked.allclose(gParts, rtol: 1e-3, atol: 1e-7), $"max |diff| {(gStacked - gParts).abs().max().item<float>()}");
    }
}
