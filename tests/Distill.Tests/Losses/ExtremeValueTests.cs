using Distill.Losses;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

/// <summary>Inputs near float32's limits, where libtorch's float32 overflowed (NaN, or a loss of 0 with no gradient)
/// or lost digits although PyTorch's float64 value of the same inputs is finite: each loss in float32 must give the
/// float64 numbers of the same (float32-rounded) inputs. A tester's PyTorch probe found every case here.</summary>
public class ExtremeValueTests
{
    public ExtremeValueTests() => TorchRuntime.Initialize();

    static Tensor Uniform(long seed, double bound, params long[] shape)
    {
        using var g = new Generator((ulong)seed);
        return (rand(shape, generator: g) * 2 - 1) * bound;
    }

    /// <summary>The loss and the student's gradient in <paramref name="dtype"/>, from float32 inputs.</summary>
    static (double Loss, Tensor Grad) Eval(string loss, Tensor s, Tensor t, Tensor labels, Dictionary<string, double> p, ScalarType dtype)
    {
        var si = s.to(dtype).detach().requires_grad_(true);
        var value = LossRegistry.Compute(loss, LossPropertyTests.InputsFor(loss, si, t.to(dtype), labels), p);
        Assert.Equal(dtype, value.dtype);
        value.backward();
        return (value.to(ScalarType.Float64).item<double>(), si.grad!.to(ScalarType.Float64));
    }

    /// <param name="gradients">Whether to compare the gradients too, or only check them finite: where float64 itself
    /// loses them to cancellation (a row normalised after one entry 1e19 times the rest).</param>
    static void SameAsFloat64(string loss, Tensor s, Tensor t, Dictionary<string, double> p, double tolerance = 1e-4, bool gradients = true)
    {
        using var scope = NewDisposeScope();
        var labels = zeros(s.shape[0], dtype: ScalarType.Int64);
        var (l32, g32) = Eval(loss, s, t, labels, p, ScalarType.Float32);
        var (l64, g64) = Eval(loss, s, t, labels, p, ScalarType.Float64);
        Assert.True(double.IsFinite(l64), $"{loss}: the float64 truth must be finite, got {l64}");
        Assert.True(Math.Abs(l32 - l64) <= tolerance * Math.Max(Math.Abs(l64), 1e-3), $"{loss}: float32 {l32} vs float64 {l64}");
        Assert.True(g32.isfinite().all().item<bool>(), $"{loss}: a non-finite float32 gradient");
        if (!gradients) return;
        var gerr = (g32 - g64).abs().max().item<double>();
        var gmax = g64.abs().max().item<double>();
        Assert.True(gerr <= tolerance * gmax, $"{loss}: max |Δgrad| {gerr} (max |grad| {gmax})");
    }

    public static TheoryData<string, double, double> LogitCases() => new()
    {
        // Bounds whose float64 losses stay within float32's range (KD's grows as the logits).
        { "kd", 1e38, 1 }, { "kd", 3e37, 0.5 }, { "kd_hard", 3e37, 0.5 }, { "soft_ce", 1e38, 1 }, { "kd_multi", 1e38, 1 },
        { "mlkd_batch", 3e38, 0.5 }, { "mlkd_class", 3e38, 0.5 }, { "kd_ls", 3e38, 4 }, { "dkd", 1e37, 1 },
    };

    [Theory]
    [MemberData(nameof(LogitCases))]
    public void Logits_near_the_float32_limit_give_the_float64_loss(string loss, double bound, double temperature)
    {
        var p = LossPropertyTests.ParamsFor(loss);
        if (p.ContainsKey("temperature")) p["temperature"] = temperature;
        SameAsFloat64(loss, Uniform(1, bound, 4, 10), Uniform(2, bound, 4, 10), p);
    }

    [Theory]
    [InlineData(1e6, 1)]
    [InlineData(3e5, 4)]
    [InlineData(-2e4, 0.5)]
    public void Standardization_of_logits_far_from_zero_keeps_the_float64_digits(double offset, double temperature)
    {
        var s = Uniform(3, 1, 4, 10) + offset;
        var t = Uniform(4, 1, 4, 10) + offset;
        SameAsFloat64("kd_ls", s, t, new() { ["temperature"] = temperature }, 1e-5);
    }

    [Theory]
    [InlineData("at", 3e9)]
    [InlineData("at", 1e19)]
    [InlineData("at_paper", 3e9)]
    [InlineData("at_paper", 1e19)]
    [InlineData("sp", 1e9)]
    [InlineData("sp", 1e19)]
    [InlineData("nst", 1e19)]
    public void Feature_maps_whose_squares_overflow_float32_give_the_float64_loss(string loss, double bound)
    {
        var s = Uniform(5, bound, 4, 3, 2, 5);
        var t = Uniform(6, bound, 4, 6, 2, 5);
        SameAsFloat64(loss, s, t, LossPropertyTests.ParamsFor(loss));
    }

    /// <summary>Probed: one sample 1e19 times the size of the others overflowed float32, and the batch divided by its
    /// largest value took the others below the losses' 1e-12 floors: sp gave 0.24 for 0.40, rkd's angles 0.10 for 0.06,
    /// finite and wrong where PyTorch's float32 gives NaN. Past the overflow they are computed in float64. sp's gradients
    /// are only checked finite: its small samples' rows, normalised beside an entry 1e19 times theirs, keep a component
    /// of 1e-19 that float64 computes as a difference of numbers near 1, so its own gradient there is rounding.</summary>
    [Theory]
    [InlineData("sp")]
    [InlineData("rkd_distance")]
    [InlineData("rkd_angle")]
    public void One_sample_far_larger_than_the_rest_gives_the_float64_loss(string loss)
    {
        var s = Uniform(11, 3, 4, 6);
        s[0] = s[0] * 1e19f; // squares past float32's range for this sample alone
        SameAsFloat64(loss, s, Uniform(12, 3, 4, 5), LossPropertyTests.ParamsFor(loss), gradients: loss != "sp");
    }

    /// <summary>Probed: rkd in float16 gave an all-NaN student gradient, any input: its floors (1e-12 and its square)
    /// round to 0 there, so the zero diagonal's distance had sqrt′(0) = ∞. It computes in float32 and answers in float16.</summary>
    [Theory]
    [InlineData("rkd_distance", ScalarType.Float16)]
    [InlineData("rkd_angle", ScalarType.Float16)]
    [InlineData("rkd_distance", ScalarType.BFloat16)]
    [InlineData("rkd_angle", ScalarType.BFloat16)]
    public void Rkd_in_half_precision_gives_the_float32_loss_and_gradient_to_its_precision(string loss, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var (s, t) = (Uniform(13, 2, 3, 4, 2, 2).to(dtype).to(ScalarType.Float32), Uniform(14, 2, 3, 4, 2, 2).to(dtype).to(ScalarType.Float32));
        var labels = zeros(3, dtype: ScalarType.Int64);
        var p = LossPropertyTests.ParamsFor(loss);
        var (lh, gh) = Eval(loss, s, t, labels, p, dtype);
        var (l32, g32) = Eval(loss, s, t, labels, p, ScalarType.Float32);
        Assert.True(gh.isfinite().all().item<bool>(), $"{loss} {dtype}: a non-finite gradient");
        Assert.True(Math.Abs(lh - l32) <= 1e-2 * Math.Abs(l32), $"{loss} {dtype}: {lh} against float32 {l32}");
        Assert.True((gh - g32).abs().max().item<double>() <= 2e-2 * g32.abs().max().item<double>(), $"{loss} {dtype}: max |Δgrad| {(gh - g32).abs().max().item<double>()}");
    }

    [Fact]
    public void Ctkd_tensor_path_at_a_high_learned_temperature_gives_the_float64_loss()
    {
        using var scope = NewDisposeScope();
        var s = Uniform(7, 10, 8, 10000);
        var t = Uniform(8, 10, 8, 10000);
        (double Loss, double TemperatureGrad) Run(ScalarType dtype)
        {
            var tau = tensor(100.0, dtype: ScalarType.Float32).requires_grad_(true);
            var value = Ctkd.KdTensors(s.to(dtype), t.to(dtype), tau);
            Assert.Equal(dtype, value.dtype);
            value.backward();
            return (value.to(ScalarType.Float64).item<double>(), tau.grad!.to(ScalarType.Float64).item<double>());
        }
        var (l32, g32) = Run(ScalarType.Float32);
        var (l64, g64) = Run(ScalarType.Float64);
        Assert.True(Math.Abs(l32 - l64) <= 1e-5 * Math.Abs(l64), $"float32 {l32} vs float64 {l64}");
        Assert.True(Math.Abs(g32 - g64) <= 1e-4 * Math.Abs(g64), $"temperature gradient float32 {g32} vs float64 {g64}");
    }

    /// <summary>Normalized is nn.functional.normalize in libtorch's own operations wherever the norm is finite: values
    /// and gradients bit for bit, so every run that used normalize keeps its numbers.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Normalized_equals_normalize_bit_for_bit_and_gives_unit_rows_past_overflow(int dim)
    {
        using var scope = NewDisposeScope();
        var x = Uniform(9, 3, 5, 7, 11);
        x[1, 2] = zeros(11); // a zero row: both clamp the norm at 1e-12
        var (a, b) = (x.detach().requires_grad_(true), x.detach().requires_grad_(true));
        var (na, nb) = (TermSupport.Normalized(a, dim), nn.functional.normalize(b, dim: dim));
        Assert.True(na.eq(nb).all().item<bool>());
        var w = Uniform(10, 1, 5, 7, 11);
        (na * w).sum().backward();
        (nb * w).sum().backward();
        Assert.True(a.grad!.eq(b.grad!).all().item<bool>());

        var big = x * 1e25f; // squares overflow float32
        Assert.True(nn.functional.normalize(big, dim: dim).norm(dim).max().item<float>() < 0.5f); // libtorch's: zero rows
        var norms = TermSupport.Normalized(big, dim).norm(dim).to(ScalarType.Float64);
        var want = x.norm(dim).gt(0).to(ScalarType.Float64);
        Assert.True((norms - want).abs().max().item<double>() < 1e-6);
    }

    /// <summary>RKD's angles are B³ numbers: a batch of 1500 grew past 11 GB until the OOM killer would end the process
    /// (`distill reference` on a 30 KB file). Refused, naming the batch, before anything is allocated; a usual batch
    /// is untouched.</summary>
    [Fact]
    public void Rkd_angles_that_would_not_fit_in_memory_are_refused_naming_the_batch()
    {
        TorchRuntime.Initialize();
        using var big = randn(1500, 1);
        var e = Assert.Throws<ArgumentException>(() => Rkd.AngleLoss(big, big));
        Assert.StartsWith("rkd_angle: a batch of 1500 compares B³ = 3,375,000,000 angles, about 125.8 GiB with their gradients, and ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith(" GiB is available; use a smaller batch (RKD's paper uses 64-128).", e.Message, StringComparison.Ordinal);
        using var usual = randn(128, 64);
        Assert.True(double.IsFinite(Rkd.AngleLoss(usual, usual.flip(0)).item<float>()));
    }

    /// <summary>The losses that compare every pair of samples, classes or channels: a 1 MB `distill reference` file of sp
    /// at a batch of 20,000 took 17 GB, and a little more would have ended in the OOM killer. Refused, naming the size,
    /// before the pairs are formed (each case needs terabytes); the usual sizes are untouched.</summary>
    [Theory]
    [InlineData("sp", "sp: a batch of 200000 compares B² = 40,000,000,000 pairs, about ", "use a smaller batch.")]
    [InlineData("pkt", "pkt: a batch of 200000 compares B² = 40,000,000,000 pairs, about ", "use a smaller batch.")]
    [InlineData("rkd_distance", "rkd_distance: a batch of 200000 with 8 features a sample compares B²·D = 320,000,000,000 differences, about ", "use a smaller batch (RKD's paper uses 64-128).")]
    [InlineData("mlkd_batch", "mlkd_batch: a batch of 300000 compares B² = 90,000,000,000 pairs, about ", "use a smaller batch.")]
    [InlineData("mlkd_class", "mlkd_class: 300000 classes compare C² = 90,000,000,000 pairs, about ", "use fewer classes.")]
    [InlineData("mlkd", "mlkd: 300000 classes compare C² = 90,000,000,000 pairs, about ", "use fewer classes.")]
    [InlineData("nst", "nst: a batch of 2 with 300000 channels compares B·C² = 180,000,000,000 channel pairs, about ", "use a smaller batch or a layer with fewer channels.")]
    public void Pairwise_losses_that_would_not_fit_in_memory_are_refused_naming_the_size(string loss, string start, string fix)
    {
        TorchRuntime.Initialize();
        Func<Tensor, Tensor, Tensor> compute = loss switch
        {
            "sp" => Sp.Loss,
            "pkt" => Pkt.Loss,
            "rkd_distance" => Rkd.DistanceLoss,
            "mlkd_batch" => (s, t) => Mlkd.BatchLoss(s, t, 4),
            "mlkd_class" => (s, t) => Mlkd.ClassLoss(s, t, 4),
            "mlkd" => (s, t) => Mlkd.Loss(s, t, [2, 4]),
            _ => Nst.Loss,
        };
        using var huge = loss switch
        {
            "sp" or "pkt" => randn(200_000, 1),
            "rkd_distance" => randn(200_000, 8),
            "mlkd_batch" => randn(300_000, 2),
            "mlkd_class" or "mlkd" => randn(1, 300_000),
            _ => randn(2, 300_000, 1, 1),
        };
        var e = Assert.Throws<ArgumentException>(() => compute(huge, huge.flip(0)));
        Assert.StartsWith(start, e.Message, StringComparison.Ordinal);
        Assert.EndsWith(" GiB is available; " + fix, e.Message, StringComparison.Ordinal);
        using var usual = loss switch
        {
            "mlkd_batch" or "mlkd_class" or "mlkd" => randn(64, 10),
            "nst" => randn(64, 16, 4, 4),
            _ => randn(128, 64),
        };
        Assert.True(double.IsFinite(compute(usual, usual.flip(0)).item<float>()));
    }
}
