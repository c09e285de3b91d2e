using System.Numerics;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>Process-wide choices of how losses compute.</summary>
public static class LossPaths
{
    /// <summary>Whether DIST, MLKD and CTKD compute small CPU batches in managed code (default true: it takes 15-25 % off
    /// an MLP student's step, docs/performance.md). Its first derivative is exact, but autograd sees it as a constant
    /// gradient, so a second derivative through these losses (a gradient penalty: autograd.grad with create_graph:
    /// true) is zero, or an error when nothing else in the graph needs one. Set it false for that: the tensor code runs,
    /// twice differentiable as PyTorch's, with the same values.</summary>
    public static bool ManagedSmallLogits { get; set; } = true;
}

/// <summary>
/// Logit losses over small CPU batches computed forward and backward at once in managed float64 code, and handed to
/// autograd as one scalar whose gradient is known. Why: on [128, 10] every libtorch kernel costs 2-20 µs of dispatch
/// and autograd bookkeeping, more than its arithmetic; DIST took about 35 kernels forward and as many backward, MLKD
/// about 60 each way, which put them at +15 % and +25 % of the MLP student's whole step (docs/performance.md), where
/// the arithmetic itself is a few microseconds. On another device, or past the size limits, the tensor code runs.
/// </summary>
static class SmallLogits
{
    /// <summary>At most this many logits: the managed code is serial, and above it libtorch's kernels split over the threads.</summary>
    public const long MaxElements = 1 << 16;

    /// <summary>True when <paramref name="logits"/> are small enough, with at most <paramref name="maxClasses"/>
    /// classes, and live on the CPU, where their values can be read without a device copy.</summary>
    public static bool Fits(Tensor logits, long maxClasses = long.MaxValue) =>
        LossPaths.ManagedSmallLogits && logits.device_type == TorchSharp.DeviceType.CPU && logits.numel() <= MaxElements && logits.shape[^1] <= maxClasses &&
        logits.dtype is ScalarType.Float32 or ScalarType.Float64;

    /// <summary>Whether every value is finite. The managed paths take only finite student logits: at a −∞ student logit
    /// the teacher does not mask, the loss is +∞ with a finite gradient there, which <see cref="Scalar"/>'s link cannot
    /// carry (it passes non-finite logits as 0, and the temperature's ∞ − ∞ made the value NaN); the tensor code gives
    /// PyTorch's +∞ and gradient.</summary>
    public static bool AllFinite(double[] values)
    {
        foreach (var v in values) if (!double.IsFinite(v)) return false;
        return true;
    }

    /// <summary>The values of a float32 or float64 CPU tensor, row-major, in float64 (read in place when contiguous).</summary>
    public static double[] Read(Tensor t)
    {
        using var copy = t.is_contiguous() ? null : t.detach().contiguous();
        var bytes = (copy ?? t).bytes;
        var values = new double[t.numel()];
        if (t.dtype == ScalarType.Float64) MemoryMarshal.Cast<byte, double>(bytes).CopyTo(values);
        else
        {
            var floats = MemoryMarshal.Cast<byte, float>(bytes);
            for (var i = 0; i < values.Length; i++) values[i] = floats[i];
        }
        return values;
    }

    /// <summary>A scalar in <paramref name="logits"/>' dtype equal to <paramref name="value"/>, whose gradient with
    /// respect to <paramref name="logits"/> is <paramref name="gradient"/> (row-major, their shape). Built as
    /// value + (z·g − z·g), the second product detached: the bracket is exactly 0 forward and passes g backward, through
    /// whatever produced the logits (e.g. logit standardization). No custom autograd node: four small kernels. Non-finite
    /// logits enter the link as 0, as −∞·0 would make the value NaN. That is right where their gradient is 0 (a −∞
    /// student logit under DIST's softmax, whose loss stays finite); the KL-based losses, +∞ there with a gradient,
    /// take the tensor code for such logits (<see cref="AllFinite"/>).</summary>
    public static Tensor Scalar(Tensor logits, double value, double[] gradient, (Tensor Input, double Gradient)? other = null)
    {
        var result = tensor(value, dtype: logits.dtype);
        if (!is_grad_enabled() || !(logits.requires_grad || other?.Input.requires_grad == true)) return result;
        var g = logits.dtype == ScalarType.Float64 ? tensor(gradient) : tensor(Array.ConvertAll(gradient, v => (float)v));
        var link = logits.reshape(-1).nan_to_num(0, 0, 0).dot(g);
        if (other is var (input, inputGradient)) link = link + input.sum().to(logits.dtype) * inputGradient;
        return result + (link - link.detach());
    }

    /// <summary>Σ over rows of KL(p_t ‖ p_s) from the probabilities and log-probabilities <see cref="Softmax"/> gave at
    /// <paramref name="temperature"/> (a class the teacher gives p = 0 adds 0, as <see cref="TermSupport.FiniteLog"/>).
    /// Adds <paramref name="scale"/>·∂KL/∂z_s to <paramref name="dz"/>, and returns with the sum its derivative with
    /// respect to u = 1/T (for a learned temperature), taken as autograd takes it through both log-softmaxes.</summary>
    public static (double Kl, double ByInverseTemperature) Kl(double[] zs, double[] zt, double[] ps, double[] pt, double[] logPs,
        double[] logPt, int rows, int cols, double temperature, double scale, double[] dz)
    {
        double kl = 0, byU = 0;
        for (var r = 0; r < rows; r++)
        {
            var (o, end) = (r * cols, (r + 1) * cols);
            double teacherMass = 0, dTeacher = 0;
            for (var c = o; c < end; c++)
            {
                var gap = Math.Max(logPt[c], double.MinValue) - logPs[c];
                kl += pt[c] * gap;
                teacherMass += pt[c];
                dTeacher += pt[c] * (gap + 1); // ∂KL/∂log p_t, summed for the log-softmax's backward
            }
            for (var c = o; c < end; c++)
            {
                var dLogitsS = ps[c] * teacherMass - pt[c]; // ∂KL/∂(z_s/T)
                dz[c] += scale * dLogitsS / temperature;
                // A class the teacher masks (p_t = 0 at a −∞ logit) adds nothing; autograd's 0·∞ there is NaN.
                if (pt[c] != 0) byU += pt[c] * (Math.Max(logPt[c], double.MinValue) - logPs[c] + 1 - dTeacher) * zt[c];
                byU += dLogitsS * zs[c];
            }
        }
        return (kl, byU);
    }

    /// <summary>Softmax of each row of [rows, cols] <paramref name="z"/> divided by <paramref name="temperature"/>, into
    /// <paramref name="p"/>, and, when given, the log-probabilities into <paramref name="logP"/>.</summary>
    public static void Softmax(double[] z, int rows, int cols, double temperature, double[] p, double[]? logP = null)
    {
        var inverse = 1 / temperature;
        for (var r = 0; r < rows; r++)
        {
            var o = r * cols;
            var max = double.NegativeInfinity;
            for (var c = o; c < o + cols; c++) max = Math.Max(max, p[c] = z[c] * inverse);
            double sum = 0;
            for (var c = o; c < o + cols; c++)
            {
                var shifted = p[c] - max;
                if (logP is not null) logP[c] = shifted;
                sum += p[c] = Math.Exp(shifted);
            }
            var (scale, logSum) = (1 / sum, Math.Log(sum));
            for (var c = o; c < o + cols; c++) p[c] *= scale;
            if (logP is not null) for (var c = o; c < o + cols; c++) logP[c] -= logSum;
        }
    }

    /// <summary>Adds to <paramref name="dz"/> the gradient with respect to the logits z of a loss whose gradient with
    /// respect to p = softmax(z/T) is <paramref name="dp"/>: (1/T)·p ⊙ (dp − ⟨dp, p⟩) per row.</summary>
    public static void SoftmaxBackward(double[] p, double[] dp, int rows, int cols, double temperature, double[] dz)
    {
        var inverse = 1 / temperature;
        for (var r = 0; r < rows; r++)
        {
            var o = r * cols;
            double dot = 0;
            for (var c = o; c < o + cols; c++) dot += dp[c] * p[c];
            for (var c = o; c < o + cols; c++) dz[c] += p[c] * (dp[c] - dot) * inverse;
        }
    }

    /// <summary>[rows, cols] row-major <paramref name="from"/> into [cols, rows] row-major <paramref name="to"/>.</summary>
    public static void Transpose(double[] from, double[] to, int rows, int cols)
    {
        for (var r = 0; r < rows; r++)
            for (var k = 0; k < cols; k++) to[k * rows + r] = from[r * cols + k];
    }

    /// <summary>g[i·rows + j] = Σ_k x[i·n + k]·y[j·n + k] for the <paramref name="rows"/> rows of two [rows, n] matrices:
    /// XYᵀ, four rows of y at a time against one of x, n in SIMD vectors (a Gram matrix when x is y).</summary>
    public static void Products(double[] x, double[] y, int rows, int n, double[] g)
    {
        var w = Vector<double>.Count;
        ref var xs = ref MemoryMarshal.GetArrayDataReference(x);
        ref var ys = ref MemoryMarshal.GetArrayDataReference(y);
        for (var i = 0; i < rows; i++)
        {
            var j = 0;
            for (; j + 4 <= rows; j += 4)
            {
                var (a0, a1, a2, a3) = (Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero, Vector<double>.Zero);
                var k = 0;
                for (; k + w <= n; k += w)
                {
                    var xi = Vector.LoadUnsafe(ref xs, (nuint)(i * n + k));
                    a0 += xi * Vector.LoadUnsafe(ref ys, (nuint)(j * n + k));
                    a1 += xi * Vector.LoadUnsafe(ref ys, (nuint)((j + 1) * n + k));
                    a2 += xi * Vector.LoadUnsafe(ref ys, (nuint)((j + 2) * n + k));
                    a3 += xi * Vector.LoadUnsafe(ref ys, (nuint)((j + 3) * n + k));
                }
                var (s0, s1, s2, s3) = (Vector.Sum(a0), Vector.Sum(a1), Vector.Sum(a2), Vector.Sum(a3));
                for (; k < n; k++)
                {
                    var xi = x[i * n + k];
                    s0 += xi * y[j * n + k]; s1 += xi * y[(j + 1) * n + k]; s2 += xi * y[(j + 2) * n + k]; s3 += xi * y[(j + 3) * n + k];
                }
                (g[i * rows + j], g[i * rows + j + 1], g[i * rows + j + 2], g[i * rows + j + 3]) = (s0, s1, s2, s3);
            }
            for (; j < rows; j++)
            {
                var a = Vector<double>.Zero;
                var k = 0;
                for (; k + w <= n; k += w) a += Vector.LoadUnsafe(ref xs, (nuint)(i * n + k)) * Vector.LoadUnsafe(ref ys, (nuint)(j * n + k));
                var s = Vector.Sum(a);
                for (; k < n; k++) s += x[i * n + k] * y[j * n + k];
                g[i * rows + j] = s;
            }
        }
    }

    /// <summary>out[i] = Σ_j a[j·rows + i]·x[j] + b[j·rows + i]·y[j], rows of [rows, n] matrices x and y: AᵀX + BᵀY,
    /// accumulated in SIMD vectors over n and stored once.</summary>
    public static void CombineRows(double[] a, double[] x, double[] b, double[] y, int rows, int n, double[] result)
    {
        var w = Vector<double>.Count;
        ref var xs = ref MemoryMarshal.GetArrayDataReference(x);
        ref var ys = ref MemoryMarshal.GetArrayDataReference(y);
        ref var rs = ref MemoryMarshal.GetArrayDataReference(result);
        for (var i = 0; i < rows; i++)
        {
            var k = 0;
            for (; k + w <= n; k += w)
            {
                var acc = Vector<double>.Zero;
                for (var j = 0; j < rows; j++)
                    acc += a[j * rows + i] * Vector.LoadUnsafe(ref xs, (nuint)(j * n + k)) + b[j * rows + i] * Vector.LoadUnsafe(ref ys, (nuint)(j * n + k));
                acc.StoreUnsafe(ref rs, (nuint)(i * n + k));
            }
            for (; k < n; k++)
            {
                double acc = 0;
                for (var j = 0; j < rows; j++) acc += a[j * rows + i] * x[j * n + k] + b[j * rows + i] * y[j * n + k];
                result[i * n + k] = acc;
            }
        }
    }
}
