using Distill.Losses;
using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

/// <summary>Bad inputs are refused by the loss library with an ArgumentException naming the argument, the bad value and
/// what is valid, never by a raw libtorch error (or a value that fails later, in backward or in training).</summary>
public class LossInputCheckTests
{
    public LossInputCheckTests() => TorchRuntime.Initialize();

    static Tensor Randn(long seed, params long[] shape)
    {
        using var g = new Generator((ulong)seed);
        return randn(shape, generator: g);
    }

    /// <summary>Every loss that takes labels, on student and teacher logits [4, 4].</summary>
    public static TheoryData<string> LabelLosses() => ["ce", "kd_hard", "dkd", "cwtm", "self"];

    static Tensor WithLabels(string loss, Tensor labels)
    {
        var (s, t) = (Randn(1, 4, 4), Randn(2, 4, 4));
        switch (loss)
        {
            case "ce": return new CrossEntropyTerm().Compute(new StepContext(new ModelOutput(s, []), null, labels, 0, 0, 0));
            case "kd_hard": return KdHard.Loss(s, t, labels, 4, 0.5);
            case "dkd": return Dkd.Loss(s, t, labels, 1, 8, 4);
            case "cwtm": return Cwtm.Loss(s, t, labels);
            default:
                var term = new SelfDistillationTerm([("stage1", new AuxiliaryHead(3, 5, 4))], "stage2", 0.5, 3, 0.03);
                return term.Compute(new StepContext(new ModelOutput(s, [("stage1", Randn(3, 4, 3)), ("stage2", Randn(4, 4, 5))]), null, labels, 0, 0, 0));
        }
    }

    [Theory]
    [MemberData(nameof(LabelLosses))]
    public void Labels_out_of_range_of_the_wrong_dtype_or_shape_are_refused_naming_them(string loss)
    {
        using var scope = NewDisposeScope();
        Assert.True(double.IsFinite(WithLabels(loss, tensor(new long[] { 0, 1, 2, 3 })).item<float>()));

        var high = Assert.Throws<ArgumentException>(() => WithLabels(loss, tensor(new long[] { 0, 1, 2, 10 })));
        Assert.Equal($"{loss}: labels[3] = 10 is outside [0, 4), the classes of the logits [4, 4].", high.Message);
        var negative = Assert.Throws<ArgumentException>(() => WithLabels(loss, tensor(new long[] { 0, -1, 2, 3 })));
        Assert.Equal($"{loss}: labels[1] = -1 is outside [0, 4), the classes of the logits [4, 4].", negative.Message);
        var int32 = Assert.Throws<ArgumentException>(() => WithLabels(loss, tensor(new[] { 0, 1, 2, 3 })));
        Assert.Equal($"{loss}: labels must be int64 class indices, got Int32; convert them with .to(ScalarType.Int64).", int32.Message);
        var shorter = Assert.Throws<ArgumentException>(() => WithLabels(loss, tensor(new long[] { 0, 1, 2 })));
        Assert.Equal($"{loss}: labels must be [B] = [4], got [3].", shorter.Message);
    }

    [Theory]
    [MemberData(nameof(LossPropertyTests.AllLosses), MemberType = typeof(LossPropertyTests))]
    public void Student_and_teacher_of_different_floating_dtypes_are_refused_naming_both(string loss)
    {
        using var scope = NewDisposeScope();
        long[] shape = LossPropertyTests.IsLogits(loss) ? [6, 5] : [6, 4, 3, 3];
        var labels = tensor(new long[] { 0, 1, 2, 3, 4, 0 });
        foreach (var (student, teacher) in new[] { (ScalarType.Float32, ScalarType.Float64), (ScalarType.Float64, ScalarType.Float32) })
        {
            var inputs = LossPropertyTests.InputsFor(loss, Randn(1, shape).to(student), Randn(2, shape).to(teacher), labels);
            var e = Assert.Throws<ArgumentException>(() => LossRegistry.Compute(loss, inputs, LossPropertyTests.ParamsFor(loss)));
            Assert.Contains($"student is {student} and teacher {teacher}; both must have the same floating dtype", e.Message);
        }
    }

    [Theory]
    [MemberData(nameof(LossPropertyTests.AllLosses), MemberType = typeof(LossPropertyTests))]
    public void Integer_logits_or_features_are_refused_naming_the_side_and_the_fix(string loss)
    {
        using var scope = NewDisposeScope();
        long[] shape = LossPropertyTests.IsLogits(loss) ? [6, 5] : [6, 4, 3, 3];
        var labels = tensor(new long[] { 0, 1, 2, 3, 4, 0 });
        Tensor Integers(long seed) => (Randn(seed, shape) * 3).to(ScalarType.Int64);
        foreach (var (student, teacher, side) in new[] { (Integers(1), Integers(2), "student"), (Randn(1, shape), Integers(2), "teacher") })
        {
            var e = Assert.Throws<ArgumentException>(() => LossRegistry.Compute(loss, LossPropertyTests.InputsFor(loss, student, teacher, labels), LossPropertyTests.ParamsFor(loss)));
            Assert.EndsWith($": {side} is Int64; logits and features must be floating point (convert them with .to(ScalarType.Float32)).", e.Message); // at_paper's says at
        }
    }

    /// <summary>Every feature loss, through the registry (hint on equal shapes).</summary>
    public static TheoryData<string> FeatureLosses() => [.. LossRegistry.Names.Where(l => !LossPropertyTests.IsLogits(l))];

    [Theory]
    [MemberData(nameof(FeatureLosses))]
    public void Features_with_a_dimension_of_size_zero_are_refused_naming_the_side(string loss)
    {
        using var scope = NewDisposeScope();
        var labels = tensor(new long[] { 0, 1 });
        string Refused(long[] student, long[] teacher) => Assert.Throws<ArgumentException>(() =>
            LossRegistry.Compute(loss, LossPropertyTests.InputsFor(loss, Randn(1, student), Randn(2, teacher), labels), LossPropertyTests.ParamsFor(loss))).Message;
        Assert.EndsWith(": student [2, 0, 3, 3] has a dimension of size 0; each sample needs at least one value.", Refused([2, 0, 3, 3], [2, 0, 3, 3]));
        Assert.EndsWith(": student [2, 4, 0, 3] has a dimension of size 0; each sample needs at least one value.", Refused([2, 4, 0, 3], [2, 4, 0, 3]));
        Assert.EndsWith(": student [2, 0] has a dimension of size 0; each sample needs at least one value.", Refused([2, 0], [2, 0]));
        if (loss != "hint") // the only one whose student and teacher must have the same shape
            Assert.EndsWith(": teacher [2, 0, 3, 3] has a dimension of size 0; each sample needs at least one value.", Refused([2, 4, 3, 3], [2, 0, 3, 3]));
        Assert.EndsWith("must share a non-empty batch dimension.", Refused([0, 4, 3, 3], [0, 4, 3, 3]));
    }

    [Fact]
    public void Kd_multi_without_teachers_is_refused_naming_k()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => MultiTeacherKd.Loss(Randn(1, 3, 5), Randn(2, 0, 3, 5), 4));
        Assert.Equal("kd_multi: teacher logits must be [K, B, C] with K ≥ 1 teachers, got [0, 3, 5].", e.Message);
    }

    /// <summary>DKD's α and β and AT's p: the loss functions refuse exactly what the method catalogue refuses, naming the
    /// catalogue's range (they took negative or NaN weights, and p ≤ 0).</summary>
    [Theory]
    [InlineData("dkd", "alpha", "[0, ∞)")]
    [InlineData("dkd", "beta", "[0, ∞)")]
    [InlineData("at", "p", "[1, 16]")]
    public void Loss_parameters_outside_the_catalogues_range_are_refused_as_the_catalogue_does(string method, string parameter, string range)
    {
        using var scope = NewDisposeScope();
        var labels = tensor(new long[] { 0, 1, 2 });
        Tensor Loss(double v) => method == "dkd"
            ? Dkd.Loss(Randn(1, 3, 5), Randn(2, 3, 5), labels, parameter == "alpha" ? v : 1, parameter == "beta" ? v : 8, 4)
            : At.Loss(Randn(1, 2, 3, 4, 4), Randn(2, 2, 5, 4, 4), v);
        foreach (var v in new[] { -1, 0, 1e-3, 2, 17, double.NaN, double.PositiveInfinity })
        {
            var text = v.ToString(System.Globalization.CultureInfo.InvariantCulture);
            bool catalogue;
            try { catalogue = Distill.Methods.MethodCatalogue.Parse($"{method}:{parameter}={text}") is not null; }
            catch (ArgumentException) { catalogue = false; }
            if (catalogue) Assert.True(double.IsFinite(Loss(v).item<float>()), $"{parameter} = {text}");
            else
            {
                var e = Assert.Throws<ArgumentOutOfRangeException>(() => Loss(v));
                Assert.StartsWith($"{method}: {parameter} = {text} is outside {range}, the range the method catalogue accepts.", e.Message);
                Assert.Equal(parameter, e.ParamName);
            }
        }
    }

    [Fact]
    public void A_hint_regressor_refuses_an_input_of_another_dtype_than_its_weights()
    {
        using var scope = NewDisposeScope();
        var conv = Assert.Throws<ArgumentException>(() => HintRegressor.Conv(4, 8).call(Randn(1, 2, 4, 3, 3).to(ScalarType.Float64)));
        Assert.Equal("hint_conv_regressor: the input is Float64 but the module's weights are Float32; convert the input with .to(ScalarType.Float32).", conv.Message);
        var linear = Assert.Throws<ArgumentException>(() => HintRegressor.Linear(4, 8).call(Randn(1, 2, 4).to(ScalarType.Float64)));
        Assert.Contains("hint_linear_regressor: the input is Float64", linear.Message);
    }

    [Fact]
    public void Crd_refuses_mismatched_batches_feature_sizes_dtypes_and_indices_outside_its_memory_bank()
    {
        using var scope = NewDisposeScope();
        var crd = new CrdModule(16, 24, samples: 10, embedDim: 8, negatives: 5, temperature: 0.07, momentum: 0.5);
        var (s, t) = (Randn(1, 4, 16), Randn(2, 4, 24));
        var (idx, neg) = (tensor(new long[] { 0, 3, 7, 9 }), tensor(new long[] { 1, 2, 4, 5, 8 }));
        Assert.True(double.IsFinite(crd.Loss(s, t, idx, neg).item<float>()));
        Assert.True(double.IsFinite(crd.Loss(Randn(1, 4, 4, 2, 2), t, idx, neg).item<float>())); // [B, C, H, W] flattens to 16

        string Refused(Tensor s, Tensor t, Tensor idx, Tensor neg) => Assert.Throws<ArgumentException>(() => crd.Loss(s, t, idx, neg)).Message;
        Assert.Equal("crd: student [4, 16] and teacher [3, 24] must share a non-empty batch dimension.", Refused(s, Randn(2, 3, 24), idx, neg));
        Assert.Equal("crd: student features must be [B, …] with 16 values per sample (the module's studentDim), got [4, 15].", Refused(Randn(1, 4, 15), t, idx, neg));
        Assert.Equal("crd: teacher features must be [B, …] with 24 values per sample (the module's teacherDim), got [4, 2, 3].", Refused(s, Randn(2, 4, 2, 3), idx, neg));
        Assert.Contains("student is Float32 and teacher Float64", Refused(s, t.to(ScalarType.Float64), idx, neg));
        Assert.Equal("crd: the input is Float64 but the module's weights are Float32; convert the input with .to(ScalarType.Float32).",
            Refused(s.to(ScalarType.Float64), t.to(ScalarType.Float64), idx, neg));
        Assert.Equal("crd: indices[2] = 10 is outside [0, 10), the 10 samples of the memory bank.", Refused(s, t, tensor(new long[] { 0, 3, 10, 9 }), neg));
        Assert.Equal("crd: indices[0] = -1 is outside [0, 10), the 10 samples of the memory bank.", Refused(s, t, tensor(new long[] { -1, 3, 7, 9 }), neg));
        Assert.Equal("crd: negatives[4] = 12 is outside [0, 10), the 10 samples of the memory bank.", Refused(s, t, idx, tensor(new long[] { 1, 2, 4, 5, 12 })));
        Assert.Equal("crd: indices must be int64 sample indices [B] = [4], got Int64 [3].", Refused(s, t, tensor(new long[] { 0, 3, 7 }), neg));
        Assert.Equal("crd: indices must be int64 sample indices [B] = [4], got Int32 [4].", Refused(s, t, tensor(new[] { 0, 3, 7, 9 }), neg));
        Assert.Equal("crd: negatives must be int64 sample indices [K] with K ≥ 1, got Int64 [0].", Refused(s, t, idx, zeros(0, dtype: ScalarType.Int64)));
    }

    /// <summary>exp(score/τ) overflows float32 for τ below 1/ln(float.MaxValue) ≈ 0.0113 (scores of unit vectors reach 1),
    /// which made CRD's normaliser Z, and the loss, infinite at the first step. In log space the loss is finite and equals
    /// RepDistiller's formula written in float64 with log h = score/τ − log Z.</summary>
    [Theory]
    [InlineData(0.001)]
    [InlineData(0.07)]
    public void Crd_is_finite_at_a_tau_whose_scores_overflow_float32_and_equals_the_formula_in_log_space(double tau)
    {
        using var scope = NewDisposeScope();
        using (manual_seed(3)) { }
        var crd = new CrdModule(16, 24, samples: 50, embedDim: 8, negatives: 12, temperature: tau, momentum: 0.5);
        var idx = tensor(new long[] { 2, 7, 30, 41 });
        var neg = tensor(new long[] { 0, 1, 3, 4, 5, 9, 11, 20, 33, 34, 40, 49 });
        var s = Randn(5, 4, 16).requires_grad_(true);
        var t = Randn(6, 4, 24);
        var (sb, tb) = (crd.StudentBank.to(ScalarType.Float64), crd.TeacherBank.to(ScalarType.Float64));
        var (vs, vt) = crd.Embed(s, t);

        Tensor Reference(Tensor v, Tensor bank)
        {
            var pos = (bank.index_select(0, idx) * v).sum(1) / tau;
            var negs = v.mm(bank.index_select(0, neg).t()) / tau;
            var logZ = cat([pos.unsqueeze(1), negs], 1).flatten().logsumexp(0) - Math.Log(4 * 13) + Math.Log(50);
            var (noise, logC) = (12.0 / 50, Math.Log(12.0 / 50 + 1e-7));
            // log h/(h + c) = −softplus(log c − log h); log noise/(h + c) = log noise − log c − softplus(log h − log c).
            var positives = -nn.functional.softplus(logC - (pos - logZ)).sum();
            var negatives = (Math.Log(noise) - logC - nn.functional.softplus(negs - logZ - logC)).sum();
            return -(positives + negatives) / 4;
        }
        var expected = (Reference(vs.detach().to(ScalarType.Float64), tb) + Reference(vt.detach().to(ScalarType.Float64), sb)).item<double>();
        var loss = crd.Loss(s, t, idx, neg);
        loss.backward();
        Assert.True(double.IsFinite(loss.item<float>()), $"tau {tau}: loss {loss.item<float>()}");
        Assert.True(s.grad!.isfinite().all().item<bool>(), $"tau {tau}: non-finite gradient");
        Assert.Equal(expected, loss.item<float>(), 1e-4 * Math.Abs(expected));
    }

    /// <summary>Every loss with a temperature, through the registry.</summary>
    public static TheoryData<string> TemperatureLosses() => ["kd", "kd_hard", "dkd", "kd_ls", "dist", "mlkd_batch", "mlkd_class", "kd_multi"];

    [Theory]
    [MemberData(nameof(TemperatureLosses))]
    public void Temperatures_outside_the_catalogues_range_are_refused_by_every_loss_naming_it(string loss)
    {
        using var scope = NewDisposeScope();
        var inputs = LossPropertyTests.InputsFor(loss, Randn(1, 6, 5), Randn(2, 6, 5), tensor(new long[] { 0, 1, 2, 3, 4, 0 }));
        double At(double temperature)
        {
            var p = LossPropertyTests.ParamsFor(loss);
            p["temperature"] = temperature;
            return LossRegistry.Compute(loss, inputs, p).item<float>();
        }
        Assert.True(double.IsFinite(At(Distill.Methods.MethodParameter.MinTemperature)) && double.IsFinite(At(Distill.Methods.MethodParameter.MaxTemperature)));
        foreach (var (t, shown) in new[] { (1e4, "10000"), (1000.001, "1000.001"), (0.0099, "0.0099"), (1e20, "1E+20"), (0, "0"), (double.NaN, "NaN") })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => At(t));
            Assert.StartsWith($"{loss}: temperature = {shown} is outside [0.01, 1000], the temperatures the method catalogue accepts.", e.Message);
            Assert.Equal("temperature", e.ParamName);
        }
    }

    [Fact]
    public void Kd_at_the_highest_temperature_has_a_float64_gradient_and_a_value_within_a_few_percent()
    {
        // The rounding error of the T²-scaled KL grows as T² relative to it (7 % at T = 1e4 per the tester; measured up
        // to 3 % at 1000 on unit-scale logits), that of the gradient as T (1e-4 at 1000): training, which follows the
        // gradient, is sound up to the catalogue's highest temperature.
        using var scope = NewDisposeScope();
        var (s, t) = (Randn(3, 64, 10), Randn(4, 64, 10));
        var (s32, s64) = (s.clone().requires_grad_(true), s.to(ScalarType.Float64).requires_grad_(true));
        var (f32, f64) = (Kd.Loss(s32, t, 1000), Kd.Loss(s64, t.to(ScalarType.Float64), 1000));
        f32.backward();
        f64.backward();
        Assert.Equal(f64.item<double>(), f32.item<float>(), 5e-2 * f64.item<double>());
        var gmax = s64.grad!.abs().max().item<double>();
        Assert.True((s32.grad!.to(ScalarType.Float64) - s64.grad!).abs().max().item<double>() <= 1e-3 * gmax);
    }

    /// <summary>A teacher that masks a class with a −∞ logit gives it p = 0, which contributes 0 to the KL (PyTorch's
    /// kl_div, through xlogy), not 0·(−∞) = NaN.</summary>
    [Fact]
    public void Kd_with_a_minus_infinity_teacher_logit_equals_the_kl_without_that_class_and_has_a_finite_gradient()
    {
        using var scope = NewDisposeScope();
        const double T = 2;
        var s = Randn(1, 4, 5).requires_grad_(true);
        var t = Randn(2, 4, 5);
        t[1, 3] = tensor(float.NegativeInfinity);
        t[2, 0] = tensor(float.NegativeInfinity);
        var loss = Kd.Loss(s, t, T);
        loss.backward();

        // float64, the masked classes' terms left out of the sum (their q stays in the student's softmax).
        var (logP, logQ) = ((t.to(ScalarType.Float64) / T).log_softmax(1), (s.detach().to(ScalarType.Float64) / T).log_softmax(1));
        var kept = t.isfinite();
        var expected = (logP.exp() * (logP - logQ)).masked_select(kept).sum().item<double>() / 4 * T * T;
        Assert.Equal(expected, loss.item<float>(), 1e-5 * Math.Abs(expected));
        // ∂L/∂s = T·(q − p)/B, with p = 0 at the masked classes.
        var gradient = (logQ.exp() - logP.exp()) * T / 4;
        Assert.True(s.grad!.isfinite().all().item<bool>());
        Assert.True(s.grad!.to(ScalarType.Float64).allclose(gradient, rtol: 1e-4, atol: 1e-6), $"max |Δgrad| {(s.grad!.to(ScalarType.Float64) - gradient).abs().max().item<double>()}");
    }

    [Theory]
    [InlineData("dkd")]
    [InlineData("kd_multi")]
    [InlineData("mlkd")]
    [InlineData("ctkd")]
    public void The_other_kl_losses_stay_finite_with_a_minus_infinity_teacher_logit(string loss)
    {
        using var scope = NewDisposeScope();
        var s = Randn(1, 4, 5).requires_grad_(true);
        var t = Randn(2, 4, 5);
        t[1, 3] = tensor(float.NegativeInfinity); // a non-target class
        t[2, 0] = tensor(float.NegativeInfinity); // the target class (for DKD)
        var labels = tensor(new long[] { 1, 0, 0, 4 });
        var ctkd = new CtkdTerm(new LearnableTemperature(4, 1, 20), 0.5);
        var value = loss switch
        {
            "dkd" => Dkd.Loss(s, t, labels, 1, 8, 4),
            "kd_multi" => MultiTeacherKd.Loss(s, stack([t, t * 0.5]), 4), // masked by both teachers: q = 0 there
            "mlkd" => Mlkd.Loss(s, t, [2, 4]),
            _ => ctkd.Loss(s, t, 0.5),
        };
        value.backward();
        Assert.True(double.IsFinite(value.item<float>()), $"{loss}: {value.item<float>()}");
        Assert.True(s.grad!.isfinite().all().item<bool>(), $"{loss}: non-finite gradient");
        if (loss == "ctkd") Assert.True(ctkd.Temperature.Theta.grad!.isfinite().all().item<bool>(), "ctkd: non-finite gradient of the temperature");
    }

    /// <summary>Ctkd.Kd is public: its managed path reads both buffers flat, so it must check them itself.</summary>
    [Fact]
    public void Ctkd_kd_refuses_other_shapes_dtypes_and_temperatures_naming_them()
    {
        using var scope = NewDisposeScope();
        var (s, t, tau) = (Randn(1, 3, 10), Randn(2, 3, 10), tensor(new[] { 4f }));
        Assert.True(float.IsFinite(Ctkd.Kd(s, t, tau).item<float>()));
        Assert.Equal("ctkd: student [3, 10] and teacher [3, 11] must have the same shape.",
            Assert.Throws<ArgumentException>(() => Ctkd.Kd(s, Randn(2, 3, 11), tau)).Message);
        Assert.Equal("ctkd: student [3, 10] and teacher [2, 10] must have the same shape.",
            Assert.Throws<ArgumentException>(() => Ctkd.Kd(s, Randn(2, 2, 10), tau)).Message);
        // Past SmallLogits' size, the tensor path: the same message, not libtorch's broadcast error.
        Assert.Equal("ctkd: student [2, 40000] and teacher [2, 40001] must have the same shape.",
            Assert.Throws<ArgumentException>(() => Ctkd.Kd(Randn(3, 2, 40000), Randn(4, 2, 40001), tau)).Message);
        Assert.StartsWith("ctkd: student is Float32 and teacher Float64",
            Assert.Throws<ArgumentException>(() => Ctkd.Kd(s, t.to(ScalarType.Float64), tau)).Message);
        Assert.Equal("ctkd: the temperature must be a one-element floating tensor, got Float32 [2].",
            Assert.Throws<ArgumentException>(() => Ctkd.Kd(s, t, tensor(new[] { 4f, 2f }))).Message);
        // Outside the catalogue's temperatures: 1e8 gave 1.03 (the limit is 1.08), 1e15 a negative KL. The ends hold.
        foreach (var bad in new[] { 0f, -1f, 0.009f, 1001f, 1e8f, 1e15f, float.PositiveInfinity, float.NegativeInfinity })
            Assert.Contains(" is outside [0.01, 1000], the temperatures the method catalogue accepts.",
                Assert.Throws<ArgumentOutOfRangeException>(() => Ctkd.Kd(s, t, tensor(new[] { bad }))).Message);
        foreach (var end in new[] { 0.01f, 1000f })
            Assert.True(float.IsFinite(Ctkd.Kd(s, t, tensor(new[] { end })).item<float>()), $"T = {end}");
        Assert.True(float.IsNaN(Ctkd.Kd(s, t, tensor(new[] { float.NaN })).item<float>())); // the trainer's to name
        // A learned temperature is held to the same range when it is built, not at its first step.
        Assert.Contains("ctkd: the learned temperature's range (1, 1000000001) must lie within [0.01, 1000]",
            Assert.Throws<ArgumentOutOfRangeException>(() => new LearnableTemperature(5, 1, 1e9)).Message);
        Assert.Contains("must lie within [0.01, 1000]", Assert.Throws<ArgumentOutOfRangeException>(() => new LearnableTemperature(0.5, 0, 1)).Message);
        Assert.Contains("must lie within [0.01, 1000]", Assert.Throws<ArgumentOutOfRangeException>(() => new LearnableTemperature(5, 1, double.NaN)).Message);
        using var learned = new LearnableTemperature(4, 1, 999);
        Assert.InRange(learned.Value().item<float>(), 3.999f, 4.001f);
    }

    [Fact]
    public void A_byot_auxiliary_head_refuses_features_of_another_channel_count_or_rank_and_pools_1d_features()
    {
        using var scope = NewDisposeScope();
        var head = new AuxiliaryHead(4, 8, 10);
        Assert.Equal([2L, 10], head.call(Randn(1, 2, 4, 3, 3)).Logits.shape);
        // [B, C, L] is averaged over L, as [B, C, H, W] is over H·W: the same as the mean given as [B, C].
        var x = Randn(2, 2, 4, 9);
        Assert.Equal(head.call(x.mean([2])).Logits.data<float>().ToArray(), head.call(x).Logits.data<float>().ToArray());
        Assert.Equal("byot: an auxiliary head for 4 channels takes [B, 4, H, W], [B, 4, L] or [B, 4] features, got [2, 5, 3, 3].",
            Assert.Throws<ArgumentException>(() => head.call(Randn(3, 2, 5, 3, 3))).Message);
        Assert.Contains("got [2, 4, 3, 3, 1]", Assert.Throws<ArgumentException>(() => head.call(Randn(4, 2, 4, 3, 3, 1))).Message);
        Assert.Contains("got [2]", Assert.Throws<ArgumentException>(() => head.call(Randn(5, 2))).Message);
    }
}
