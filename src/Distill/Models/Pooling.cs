using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>
/// 2×2 max-pooling (stride 2, no padding, floor mode) as the maximum of the four strided quarter views, where no
/// gradient is recorded: evaluation, a frozen teacher's logits, no_grad. Why: libtorch's CPU max-pool kernel for
/// NCHW tensors is scalar; measured on this machine (2 threads) it took 16-19 ms on [1000, 8, 28, 28] against 1.4-2.5 ms
/// for the strided maximum, 40% of evaluating the width-8 CNN. The values are the same bits (a maximum is exact) with two
/// exceptions that no model here meets: of a window's −0 and +0 the kernel returns the first, <c>maximum</c> either
/// one; and a NaN stays NaN but not its payload. The pools follow ReLUs, whose outputs are never −0 unless their input
/// is, and a NaN stops training. Where autograd records, libtorch's kernel runs, so gradients (and training) are
/// unchanged.
/// </summary>
public static class Pooling
{
    /// <summary>Whether <paramref name="pool"/> is the plain 2×2 pooling this class computes.</summary>
    public static bool IsPlain2x2(MaxPool2d pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        static bool All(long[]? v, long value, bool nullMeans) => v is null ? nullMeans : v.All(e => e == value);
        return All(pool.kernel_size, 2, false) && (pool.stride is null || All(pool.stride, 2, true))
            && All(pool.padding, 0, true) && All(pool.dilation, 1, true) && !pool.ceil_mode;
    }

    /// <summary>2×2 max-pooling of a 4-d CPU float tensor without a gradient to record, else null (the caller runs
    /// libtorch's kernel).</summary>
    public static Tensor? MaxPool2x2NoGrad(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 4 || x.shape[2] < 2 || x.shape[3] < 2 || x.device_type != TorchSharp.DeviceType.CPU || !x.is_floating_point()
            || (x.requires_grad && is_grad_enabled()))
            return null;
        using var scope = NewDisposeScope();
        long h = x.shape[2] / 2 * 2, w = x.shape[3] / 2 * 2;
        // Floor mode: an odd last row or column belongs to no window.
        var even = x.narrow(2, 0, h).narrow(3, 0, w);
        Tensor Quarter(long row, long col) => even[.., .., TensorIndex.Slice(row, null, 2), TensorIndex.Slice(col, null, 2)];
        return maximum(maximum(Quarter(0, 0), Quarter(0, 1)), maximum(Quarter(1, 0), Quarter(1, 1))).MoveToOuterDisposeScope();
    }

    /// <summary>Runs <paramref name="stage"/>'s children in order as <see cref="Sequential"/> does (disposing each
    /// intermediate), with its plain 2×2 max-pools through <see cref="MaxPool2x2NoGrad"/> where that applies.</summary>
    public static Tensor Run(Sequential stage, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(stage);
        var x = input;
        foreach (var (_, child) in stage.named_children())
        {
            var y = (child is MaxPool2d p && IsPlain2x2(p) ? MaxPool2x2NoGrad(x) : null)
                    ?? ((nn.Module<Tensor, Tensor>)child).call(x);
            if (!ReferenceEquals(x, input)) x.Dispose();
            x = y;
        }
        return ReferenceEquals(x, input) ? input.alias() : x;
    }
}
