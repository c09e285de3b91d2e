using Distill.Losses;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

/// <summary>Properties the reference vectors do not pin down: detached teachers, large logits, identities from the
/// papers, degenerate inputs, and clear errors.</summary>
public class LossPropertyTests
{
    public LossPropertyTests() => TorchRuntime.Initialize();

    static Tensor Randn(long seed, params long[] shape)
    {
        using var g = new Generator((ulong)seed);
        return randn(shape, generator: g);
    }

    static Tensor Labels(long seed, long b, long c)
    {
        using var g = new Generator((ulong)seed);
        return randint(0, c, [b], generator: g);
    }

    public static TheoryData<string> AllLosses() => [.. LossRegistry.Names];

    internal static Dictionary<string, Tensor> InputsFor(string loss, Tensor student, Tensor teacher, Tensor labels)
    {
        var logits = IsLogits(loss);
        if (loss == "kd_multi") teacher = stack([teacher, teacher.flip(1) * 2]); // two teachers
        var d = new Dictionary<string, Tensor>
        {
            [logits ? "student_logits" : "student_features"] = student,
            [logits ? "teacher_logits" : "teacher_features"] = teacher,
        };
        if (loss is "kd_hard" or "dkd") d["labels"] = labels;
        return d;
    }

    internal static bool IsLogits(string loss) => loss is "kd" or "kd_hard" or "soft_ce" or "dkd" or "kd_ls" or "dist" or "mlkd_batch" or "mlkd_class" or "kd_multi";

    internal static Dictionary<string, double> ParamsFor(string loss) => loss switch
    {
        "kd" or "kd_ls" or "mlkd_batch" or "mlkd_class" or "kd_multi" => new() { ["temperature"] = 4 },
        "dist" => new() { ["temperature"] = 4, ["beta"] = 1, ["gamma"] = 2 },
        "kd_hard" => new() { ["temperature"] = 4, ["alpha"] = 0.9 },
        "dkd" => new() { ["temperature"] = 4, ["alpha"] = 1, ["beta"] = 8 },
        _ => [],
    };

    [Theory]
    [MemberData(nameof(AllLosses))]
    public void Teacher_never_receives_a_gradient_and_the_student_does(string loss)
    {
        using var scope = NewDisposeScope();
        var logits = IsLogits(loss);
        long[] shape = logits ? [6, 5] : [6, 4, 3, 3];
        var s = Randn(1, shape).requires_grad_();
        var t = Randn(2, shape).requires_grad_();
        var value = LossRegistry.Compute(loss, InputsFor(loss, s, t, Labels(3, 6, 5)), ParamsFor(loss));
        value.backward();
        Assert.Null(t.grad);
        Assert.NotNull(s.grad);
        Assert.True(s.grad!.abs().sum().item<float>() > 0, $"{loss}: the student got a zero gradient");
    }

    [Theory]
    [InlineData("kd")]
    [InlineData("kd_hard")]
    [InlineData("soft_ce")]
    [InlineData("dkd")]
    [InlineData("kd_ls")]
    [InlineData("dist")]
    [InlineData("mlkd_batch")]
    [InlineData("mlkd_class")]
    [InlineData("kd_multi")]
    public void Logits_times_1000_give_finite_values_that_match_float64(string loss)
    {
        using var scope = NewDisposeScope();
        var s = Randn(4, 8, 10) * 1000;
        var t = Randn(5, 8, 10) * 1000;
        var labels = Labels(6, 8, 10);
        (double Loss, double[] Grad) Eval(ScalarType dtype)
        {
            var si = s.to_type(dtype).detach().requires_grad_(); // a fresh leaf per dtype
            var value = LossRegistry.Compute(loss, InputsFor(loss, si, t.to_type(dtype), labels), ParamsFor(loss));
            value.backward();
            return (value.to_type(ScalarType.Float64).item<double>(), si.grad!.to_type(ScalarType.Float64).data<double>().ToArray());
        }
        var (l32, g32) = Eval(ScalarType.Float32);
        var (l64, g64) = Eval(ScalarType.Float64);
        Assert.True(double.IsFinite(l32) && g32.All(double.IsFinite), $"{loss}: {l32}");
        // Standardized logits and the relation losses are bounded whatever the logits' scale; the rest grow with it.
        if (loss is not ("kd_ls" or "dist" or "mlkd_batch" or "mlkd_class"))
            Assert.True(l32 > 1000, $"{loss}: such different large logits must give a large loss, got {l32}");
        else Assert.True(l32 > 0.1, $"{loss}: such different logits must give a clearly positive loss, got {l32}");
        Assert.True(Math.Abs(l32 - l64) <= 1e-4 * Math.Abs(l64), $"{loss}: float32 {l32} vs float64 {l64}");
        var gmax = g64.Max(Math.Abs);
        Assert.True(g32.Zip(g64, (a, b) => Math.Abs(a - b)).Max() <= 1e-4 * Math.Max(1, gmax));
    }

    [Fact]
    public void Kd_scales_as_a_squared_when_logits_and_temperature_scale_by_a()
    {
        // T²·KL(softmax(a·t/(a·T)) ‖ …) = a²·T²·KL(…): exact, and only stable code keeps it at a = 500 (T = 1000, the
        // highest temperature the library accepts).
        using var scope = NewDisposeScope();
        var (s, t) = (Randn(7, 16, 10), Randn(8, 16, 10));
        var small = Kd.Loss(s, t, 2).item<float>();
        var large = Kd.Loss(s * 500, t * 500, 1000).item<float>();
        Assert.Equal(small * 250_000, large, small * 250_000 * 1e-4);
    }

    [Fact]
    public void Kd_of_identical_logits_is_zero_and_soft_ce_exceeds_kd_by_the_teacher_entropy()
    {
        using var scope = NewDisposeScope();
        var (s, t) = (Randn(9, 8, 10), Randn(10, 8, 10));
        Assert.Equal(0, Kd.Loss(t, t, 3).item<float>(), 1e-6);
        var p = t.softmax(1);
        var entropy = -(p * t.log_softmax(1)).sum().item<float>() / 8;
        Assert.Equal(Kd.Loss(s, t, 1).item<float>() + entropy, SoftCe.Loss(s, t).item<float>(), 1e-4);
    }

    [Fact]
    public void Kd_hard_is_alpha_kd_plus_one_minus_alpha_cross_entropy()
    {
        using var scope = NewDisposeScope();
        var (s, t, y) = (Randn(11, 8, 10), Randn(12, 8, 10), Labels(13, 8, 10));
        var expected = 0.3 * Kd.Loss(s, t, 2).item<float>() + 0.7 * nn.functional.cross_entropy(s, y).item<float>();
        Assert.Equal(expected, KdHard.Loss(s, t, y, 2, 0.3).item<float>(), 1e-5);
    }

    [Fact]
    public void Dkd_decomposes_kd_as_tckd_plus_one_minus_pt_times_nckd()
    {
        // Zhao et al. 2022, eq. 1 per sample: KD = TCKD + (1 − p_t^T)·NCKD.
        using var scope = NewDisposeScope();
        for (int i = 0; i < 4; i++)
        {
            var (s, t, y) = (Randn(20 + i, 1, 7) * 3, Randn(30 + i, 1, 7) * 3, Labels(40 + i, 1, 7));
            const double T = 2;
            var tckd = Dkd.Loss(s, t, y, 1, 0, T).item<float>();
            var nckd = Dkd.Loss(s, t, y, 0, 1, T).item<float>();
            var pt = (t / T).softmax(1).gather(1, y.unsqueeze(1)).item<float>();
            Assert.Equal(Kd.Loss(s, t, T).item<float>(), tckd + (1 - pt) * nckd, 1e-4);
        }
    }

    [Fact]
    public void At_compares_maps_across_channel_counts_and_rejects_other_spatial_sizes()
    {
        using var scope = NewDisposeScope();
        var s = Randn(14, 2, 3, 5, 5);
        Assert.Equal(0, At.Loss(s, cat([s, s], 1)).item<float>(), 1e-7); // same per-position mean of squares
        var map = At.Map(s);
        Assert.Equal(new long[] { 2, 25 }, map.shape);
        Assert.Equal(1, map.norm(1, false, 2.0f)[0].item<float>(), 1e-5);
        var e = Assert.Throws<ArgumentException>(() => At.Loss(s, Randn(15, 2, 3, 4, 4)));
        Assert.Contains("same spatial size", e.Message);
    }

    /// <summary>The map's channel mean is taken with the channels moved last (faster on the ResNets' channels-last
    /// features; docs/performance.md). On NCHW features that must give the bits of the plain mean over dimension 1,
    /// forward and gradient, so NCHW models' runs do not move; on channels-last features the gradient must keep their
    /// layout and have the plain form's values.</summary>
    [Theory]
    [InlineData(128, 8, 14, 14)]
    [InlineData(64, 64, 8, 8)]
    [InlineData(7, 3, 5, 9)]
    [InlineData(16, 20, 28)]
    public void At_map_gives_the_plain_channel_mean_bits_and_keeps_a_channels_last_gradient(params int[] dims)
    {
        using var scope = NewDisposeScope();
        var shape = dims.Select(d => (long)d).ToArray();
        var weights = Randn(61, shape[0], shape.Skip(2).Aggregate(1L, (a, b) => a * b));
        Tensor Grad(Tensor f, Func<Tensor, Tensor> map)
        {
            var x = f.detach().requires_grad_(true);
            (map(x) * weights).sum().backward();
            return x.grad!;
        }
        static Tensor Plain(Tensor f) => nn.functional.normalize(f.pow(2).mean([1]).reshape(f.shape[0], -1), dim: 1);
        var features = Randn(60, shape);
        Assert.True(At.Map(features).bytes.SequenceEqual(Plain(features).bytes));
        Assert.True(Grad(features, f => At.Map(f)).bytes.SequenceEqual(Grad(features, Plain).bytes));
        if (shape.Length != 4) return;
        var channelsLast = features.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        var grad = Grad(channelsLast, f => At.Map(f));
        Assert.True(grad.stride(1) == 1 && !grad.is_contiguous(), $"gradient strides [{string.Join(", ", grad.stride())}] are not channels-last");
        Assert.True(grad.allclose(Grad(features, Plain), rtol: 1e-5, atol: 1e-8));
    }

    [Fact]
    public void Hint_rejects_mismatched_shapes_and_points_to_the_regressor()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => Hint.Loss(Randn(1, 2, 4, 3, 3), Randn(2, 2, 8, 3, 3)));
        Assert.Contains("HintRegressor", e.Message);
    }

    [Theory]
    [InlineData("rkd_distance")]
    [InlineData("rkd_angle")]
    [InlineData("pkt")]
    [InlineData("sp")]
    public void Relational_losses_stay_finite_with_duplicate_points_and_zero_rows(string loss)
    {
        using var scope = NewDisposeScope();
        var s = Randn(16, 6, 8);
        s[1] = s[0].clone(); // coincident embeddings: zero distance and a zero difference vector
        s[2] = zeros(8);     // an all-zero row (e.g. a dead post-ReLU feature)
        s.requires_grad_();
        var value = LossRegistry.Compute(loss, InputsFor(loss, s, Randn(17, 6, 12), Labels(0, 6, 2)), ParamsFor(loss));
        value.backward();
        Assert.True(double.IsFinite(value.item<float>()));
        Assert.True(s.grad!.isfinite().all().item<bool>(), $"{loss}: non-finite gradient");
    }

    [Fact]
    public void Rkd_distance_does_not_depend_on_the_students_scale_down_to_tiny_features()
    {
        // Distances are normalised by their mean, so scaling the student changes nothing, also where every distance is
        // under 1e-6 (features of scale 1e-7), which a clamp of the squared distance at 1e-12 flattened to one value.
        using var scope = NewDisposeScope();
        var s = Randn(20, 17, 16);
        var t = Randn(21, 17, 8);
        var reference = Rkd.DistanceLoss(s, t).item<float>();
        foreach (var scale in new[] { 1e-3f, 1e-7f })
            Assert.Equal(reference, Rkd.DistanceLoss(s * scale, t).item<float>(), 1e-4);
    }

    [Fact]
    public void Relational_losses_are_zero_when_the_student_reproduces_the_teacher_structure()
    {
        // Distances and angles are invariant to rotation and translation (and, normalised, to scale).
        using var scope = NewDisposeScope();
        var t = Randn(18, 8, 5);
        var (q, _) = linalg.qr(Randn(19, 5, 5));
        var s = t.mm(q) * 3 + 1;
        Assert.Equal(0, Rkd.DistanceLoss(s, t).item<float>(), 1e-6);
        Assert.Equal(0, Rkd.AngleLoss(s, t).item<float>(), 1e-6);
        Assert.Equal(0, Sp.Loss(t.mm(q), t).item<float>(), 1e-6);
    }

    [Fact]
    public void Registry_rejects_unknown_names_missing_and_unexpected_arguments()
    {
        using var scope = NewDisposeScope();
        var (s, t) = (Randn(1, 4, 3), Randn(2, 4, 3));
        var unknown = Assert.Throws<UnknownLossException>(() => LossRegistry.Compute("kdd", new Dictionary<string, Tensor>(), new Dictionary<string, double>()));
        Assert.Contains("unknown loss 'kdd' (known: at, at_paper, dist, dkd, hint, kd, kd_hard, kd_ls, kd_multi, mlkd_batch, mlkd_class, nst, pkt", unknown.Message);
        var inputs = new Dictionary<string, Tensor> { ["student_logits"] = s, ["teacher_logits"] = t };
        var missing = Assert.Throws<ArgumentException>(() => LossRegistry.Compute("kd", inputs, new Dictionary<string, double>()));
        Assert.Equal("kd: missing parameter 'temperature' (given: none).", missing.Message);
        var extra = Assert.Throws<ArgumentException>(() => LossRegistry.Compute("soft_ce", inputs, new Dictionary<string, double> { ["temperature"] = 2 }));
        Assert.Contains("soft_ce: unexpected parameter(s) temperature", extra.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Kd.Loss(s, t, 0));
    }

    /// <summary>DKD's log-probabilities are differences of logsumexps near max |z|/T: float32 kept ulp(5,000) of them, and
    /// the loss and gradient came out 2.7e-4 off for logits 5,000 ± 3 at T = 1, 1.7e-4 for ±80 at T = 0.01 (a tester's
    /// PyTorch float64 reference). Past the line they are computed in float64, so float32 gives the float64 numbers.</summary>
    [Theory]
    [InlineData(5000, 3, 1)]
    [InlineData(0, 80, 0.01)]
    [InlineData(-700, 20, 4)]
    public void Dkd_of_large_scaled_logits_in_float32_gives_the_float64_numbers(double offset, double spread, double temperature)
    {
        using var scope = NewDisposeScope();
        var s = Randn(7, 4, 10).tanh() * spread + offset;
        var t = Randn(8, 4, 10).tanh() * spread + offset;
        var labels = Labels(9, 4, 10);
        (double Loss, Tensor Grad) Eval(ScalarType dtype)
        {
            var si = s.to(dtype).detach().requires_grad_(true);
            var value = Dkd.Loss(si, t.to(dtype), labels, 1, 8, temperature);
            Assert.Equal(dtype, value.dtype);
            value.backward();
            return (value.to(ScalarType.Float64).item<double>(), si.grad!.to(ScalarType.Float64));
        }
        var (l32, g32) = Eval(ScalarType.Float32);
        var (l64, g64) = Eval(ScalarType.Float64);
        Assert.True(Math.Abs(l32 - l64) <= 1e-6 * Math.Abs(l64), $"float32 {l32} vs float64 {l64}");
        var gerr = (g32 - g64).abs().max().item<double>();
        var gmax = g64.abs().max().item<double>();
        Assert.True(gerr <= 1e-6 * gmax, $"max |Δgrad| {gerr} (max |grad| {gmax})");
    }

    /// <summary>A batch of one (the last of an epoch of 129 images at batch 64) stopped DIST runs: its intra-class
    /// relation is ρ = 0 through the 1e-8 of the authors' Pearson, a constant γ·T², and only the inter-class part trains.</summary>
    [Fact]
    public void Dist_of_one_sample_is_its_inter_class_part_plus_a_constant_intra_part()
    {
        using var scope = NewDisposeScope();
        var s = Randn(21, 1, 5);
        var t = Randn(22, 1, 5);
        (double Loss, Tensor Grad) Run(double gamma, bool managed)
        {
            var si = s.detach().requires_grad_(true);
            var value = managed ? Dist.Loss(si, t, 4, 1, gamma) : Dist.Tensors(si, t, 4, 1, gamma);
            value.backward();
            return (value.item<float>(), si.grad!.clone());
        }
        var (withIntra, g) = Run(2, managed: true);
        var (interOnly, g0) = Run(0, managed: true);
        var (tensors, gt) = Run(2, managed: false);
        Assert.True(double.IsFinite(withIntra) && g.isfinite().all().item<bool>());
        Assert.Equal(interOnly + 2 * 16, withIntra, 4);
        Assert.True((g - g0).abs().max().item<float>() < 1e-6);
        Assert.Equal(tensors, withIntra, 4);
        Assert.True((g - gt).abs().max().item<float>() < 1e-5);
    }

    /// <summary>A student near uniform (logits of size 1e-3): its centred probabilities are small differences of nearly
    /// equal numbers, and in float32 DIST's gradient was 1.2 off the float64 one (the tester's dist/student-near-uniform; here
    /// 0.73 for a largest element of 4505).</summary>
    [Fact]
    public void Dist_of_a_near_uniform_student_has_the_float64_gradient()
    {
        const double temperature = 4;
        using var scope = NewDisposeScope();
        var s = Randn(1, 3, 6) * 1e-3;
        var t = Randn(2, 3, 6);
        var (s32, s64) = (s.clone().requires_grad_(true), s.to(ScalarType.Float64).requires_grad_(true));
        var (f32, f64) = (Dist.Loss(s32, t, temperature, 1, 1), Dist.Loss(s64, t.to(ScalarType.Float64), temperature, 1, 1));
        f32.backward();
        f64.backward();
        Assert.Equal(f64.item<double>(), f32.item<float>(), 1e-4 * Math.Max(1, f64.item<double>()));
        var gmax = s64.grad!.abs().max().item<double>();
        var gerr = (s32.grad!.to(ScalarType.Float64) - s64.grad!).abs().max().item<double>();
        Assert.True(gerr <= 1e-4 * Math.Max(1, gmax), $"max |Δgrad| {gerr} (max |grad| {gmax})");
    }
}
