using Distill.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Bench;

/// <summary>Floating-point operation counts (a multiply-add counts 2) of the matrix products in a training step.
/// Elementwise work (activations, loss, optimizer) is left out: it is what keeps a step below the GEMM limit.</summary>
public static class Flops
{
    /// <summary>C = A·B with A [m, k] and B [k, n].</summary>
    public static double Gemm(long m, long k, long n) => 2.0 * m * k * n;

    /// <summary>One SGD step of a stack of linear layers: forward (x·Wᵀ), weight gradient (gᵀ·x) and input gradient
    /// (g·W) for every layer but the first, whose input needs no gradient.</summary>
    public static double LinearStackStep(int batch, IReadOnlyList<int> widths)
    {
        ArgumentNullException.ThrowIfNull(widths);
        double total = 0;
        for (int i = 0; i + 1 < widths.Count; i++)
        {
            double one = Gemm(batch, widths[i], widths[i + 1]);
            total += i == 0 ? 2 * one : 3 * one;
        }
        return total;
    }

    /// <summary>Forward flops of a k×k convolution producing [batch, cout, h, w] from cin channels.</summary>
    public static double Conv(int batch, int cin, int cout, int k, int h, int w) => 2.0 * batch * cout * h * w * cin * k * k;

    /// <summary>Forward flops per sample of the convolutions and linear layers of a model, counted with forward hooks
    /// on one sample of shape <paramref name="sampleShape"/> (e.g. [1, 28, 28]).</summary>
    public static double Forward(Func<DistillModel> create, long[] sampleShape) => Count(create, sampleShape).Forward;

    /// <summary>Flops per sample of one training step: forward, weight gradients, and input gradients of every layer
    /// but the first (its input, the images, needs none): 3·forward − first layer.</summary>
    public static double TrainingStep(Func<DistillModel> create, long[] sampleShape)
    {
        var (forward, first) = Count(create, sampleShape);
        return 3 * forward - first;
    }

    static (double Forward, double First) Count(Func<DistillModel> create, long[] sampleShape)
    {
        ArgumentNullException.ThrowIfNull(create);
        using var model = create();
        using var sample = zeros([1, .. sampleShape]);
        double flops = 0, first = -1;
        LayerOutputs.Observe(model, sample, (m, output) =>
        {
            var weight = m switch { Conv2d c => c.weight, Linear l => l.weight, _ => null };
            if (weight is null) return;
            double f = 2.0 * output.numel() * (weight.numel() / weight.shape[0]);   // Cin/groups·kh·kw, or in_features
            if (first < 0) first = f;
            flops += f;
        });
        return (flops, Math.Max(first, 0));
    }
}
