using Distill.Losses;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

/// <summary>The managed float64 losses (<see cref="SmallLogits"/>, taken on small CPU logits, so the PyTorch reference
/// cases check them) against the tensor code they stand in for (taken on GPUs and large logits): value and gradient,
/// over shapes, scales and the near-convergence regime, and through a non-leaf (logit standardization).</summary>
public class SmallLogitsTests
{
    public SmallLogitsTests() => TorchRuntime.Initialize();

    public delegate Tensor Loss(Tensor student, Tensor teacher);

    static readonly Dictionary<string, (Loss Managed, Loss Tensors)> Losses = new()
    {
        ["dist"] = ((s, t) => Dist.Managed(s, t, 1, 1, 1), (s, t) => Dist.Tensors(s, t, 1, 1, 1)),
        ["dist-T4-b2-g0.5"] = ((s, t) => Dist.Managed(s, t, 4, 2, 0.5), (s, t) => Dist.Tensors(s, t, 4, 2, 0.5)),
        ["mlkd"] = ((s, t) => Mlkd.Managed(s, t, [2, 3, 4, 5, 6]), (s, t) => Mlkd.Tensors(s, t, [2, 3, 4, 5, 6])),
        ["mlkd-T1-paper-scale"] = ((s, t) => Mlkd.Managed(s, t, [1], true), (s, t) => Mlkd.Tensors(s, t, [1], true)),
    };

    public static TheoryData<string, int, int, double, double> Cases()
    {
        var data = new TheoryData<string, int, int, double, double>();
        foreach (var name in Losses.Keys)
            foreach (var (b, c) in new[] { (128, 10), (2, 3), (7, 100), (64, 1), (1, 10) })
                foreach (var (scale, gap) in new[] { (4.0, 1.0), (1e-3, 1.0), (4.0, 1e-3), (40.0, 1.0) })
                    data.Add(name, b, c, scale, gap);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Managed_loss_and_gradient_equal_the_tensor_code(string loss, int b, int c, double scale, double gap)
    {
        using var scope = NewDisposeScope();
        manual_seed(b * 1000 + c);
        var t = randn(b, c, dtype: ScalarType.Float64) * scale;
        var s = (t + randn(b, c, dtype: ScalarType.Float64) * scale * gap).requires_grad_(true);
        var (managed, tensors) = Losses[loss];

        var got = managed(s, t);
        var gGot = autograd.grad([got], [s])[0];
        var want = tensors(s, t);
        var gWant = autograd.grad([want], [s])[0];

        Assert.Equal(want.item<double>(), got.item<double>(), 1e-9 * Math.Max(1, Math.Abs(want.item<double>())));
        var tolerance = 1e-9 * Math.Max(1, gWant.abs().max().item<double>());
        Assert.True((gGot - gWant).abs().max().item<double>() <= tolerance, $"max |diff| {(gGot - gWant).abs().max().item<double>():E2}");
    }

    [Theory]
    [InlineData(128, 10, 4.0, 3.0, 1.0)]
    [InlineData(7, 100, 1.5, 1e-3, 1.0)]
    [InlineData(64, 10, 12.0, 4.0, 1e-3)]
    [InlineData(2, 2, 21.0, 40.0, 1.0)]
    public void Ctkd_managed_loss_and_gradients_for_the_logits_and_the_temperature_equal_the_tensor_code(int b, int c, double temperature, double scale, double gap)
    {
        using var scope = NewDisposeScope();
        manual_seed(b + c);
        var t = randn(b, c, dtype: ScalarType.Float64) * scale;
        var s = (t + randn(b, c, dtype: ScalarType.Float64) * scale * gap).requires_grad_(true);
        var tau = tensor(new[] { temperature }).requires_grad_(true);

        var got = Ctkd.KdManaged(s, t, tau);
        var gGot = autograd.grad([got], [s, tau]);
        var want = Ctkd.KdTensors(s, t, tau);
        var gWant = autograd.grad([want], [s, tau]);

        Assert.Equal(want.item<double>(), got.item<double>(), 1e-9 * Math.Max(1, Math.Abs(want.item<double>())));
        for (var i = 0; i < 2; i++)
        {
            var tolerance = 1e-9 * Math.Max(1, gWant[i].abs().max().item<double>());
            Assert.True((gGot[i] - gWant[i]).abs().max().item<double>() <= tolerance, $"input {i}: max |diff| {(gGot[i] - gWant[i]).abs().max().item<double>():E2}");
        }
    }

    [Theory]
    [InlineData("dist")]
    [InlineData("mlkd")]
    public void The_gradient_flows_through_what_made_the_logits_and_never_into_the_teacher(string loss)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var raw = (randn(32, 10) * 3).requires_grad_(true);
        var teacher = (randn(32, 10) * 3).requires_grad_(true);
        var (managed, tensors) = Losses[loss];
        Tensor Standardized(Tensor z) => (z - z.mean([1], keepdim: true)) / z.std(1, keepdim: true); // a non-leaf

        managed(Standardized(raw), teacher).backward();
        var gGot = raw.grad!.clone();
        Assert.Null(teacher.grad);
        raw.grad = null;
        tensors(Standardized(raw), teacher.detach()).backward();
        Assert.True(gGot.allclose(raw.grad!, rtol: 1e-4, atol: 1e-7), $"max |diff| {(gGot - raw.grad!).abs().max().item<float>():E2}");
        Assert.Equal(ScalarType.Float32, managed(raw, teacher).dtype);
    }

    [Theory]
    [InlineData("dist")]
    [InlineData("mlkd")]
    public void Non_contiguous_logits_give_the_same_loss_and_gradient_as_their_contiguous_copy(string loss)
    {
        using var scope = NewDisposeScope();
        manual_seed(12);
        var (managed, _) = Losses[loss];
        var leaf = (randn(10, 24) * 3).requires_grad_(true); // [C, B]: its transpose is a [B, C] view with strides (1, B)
        var teacher = randn(10, 24) * 3;
        var got = managed(leaf.t(), teacher.t());
        var gGot = autograd.grad([got], [leaf])[0];
        var copy = leaf.detach().t().contiguous().requires_grad_(true);
        var want = managed(copy, teacher.t().contiguous());
        var gWant = autograd.grad([want], [copy])[0];
        Assert.Equal(want.item<float>(), got.item<float>());
        Assert.True(gGot.t().eq(gWant).all().item<bool>(), $"max |diff| {(gGot.t() - gWant).abs().max().item<float>():E2}");
    }

    /// <summary>A class masked with a −∞ logit (by the teacher; for DIST by the student too, whose loss stays defined)
    /// gives both codes the same finite loss and gradients, CTKD's temperature's included.</summary>
    [Theory]
    [InlineData("dist", true)]
    [InlineData("dist", false)]
    [InlineData("mlkd", false)]
    [InlineData("ctkd", false)]
    public void Masked_classes_give_the_same_finite_loss_and_gradients_on_both_codes(string loss, bool studentMasks)
    {
        using var scope = NewDisposeScope();
        manual_seed(21);
        var s = randn(6, 5, dtype: ScalarType.Float64) * 3;
        var t = randn(6, 5, dtype: ScalarType.Float64) * 3;
        (studentMasks ? s : t)[1, 2] = tensor(double.NegativeInfinity);
        (studentMasks ? s : t)[4, 0] = tensor(double.NegativeInfinity);
        s.requires_grad_(true);
        var tau = tensor(new[] { 3.0 }).requires_grad_(true);
        Tensor[] Run(bool managed) => loss switch
        {
            "ctkd" => [managed ? Ctkd.KdManaged(s, t, tau) : Ctkd.KdTensors(s, t, tau)],
            _ => [managed ? Losses[loss].Managed(s, t) : Losses[loss].Tensors(s, t)],
        };
        Tensor[] inputs = loss == "ctkd" ? [s, tau] : [s];
        var (got, want) = (Run(true)[0], Run(false)[0]);
        var (gGot, gWant) = (autograd.grad([got], inputs), autograd.grad([want], inputs));

        Assert.True(double.IsFinite(got.item<double>()), $"managed: {got.item<double>()}");
        Assert.Equal(want.item<double>(), got.item<double>(), 1e-9 * Math.Max(1, Math.Abs(want.item<double>())));
        for (var i = 0; i < inputs.Length; i++)
        {
            Assert.True(gGot[i].isfinite().all().item<bool>() && gWant[i].isfinite().all().item<bool>(), $"input {i}: a non-finite gradient: managed {gGot[i].sum().item<double>()}, tensors {gWant[i].sum().item<double>()}");
            Assert.True(gGot[i].allclose(gWant[i], rtol: 1e-9, atol: 1e-12), $"input {i}: max |diff| {(gGot[i] - gWant[i]).abs().max().item<double>():E2}");
        }
    }

    /// <summary>Probed: a −∞ student logit at a class the teacher keeps made the managed CTKD NaN (the temperature's
    /// ∞ − ∞) and dropped that logit's gradient in CTKD and MLKD; PyTorch gives +∞ and a finite gradient there.</summary>
    [Theory]
    [InlineData("mlkd")]
    [InlineData("ctkd")]
    public void A_student_logit_of_minus_infinity_the_teacher_keeps_gives_infinity_and_pytorchs_gradient(string loss)
    {
        using var scope = NewDisposeScope();
        manual_seed(22);
        var s = randn(6, 5) * 3;
        s[1, 2] = tensor(float.NegativeInfinity);
        s.requires_grad_(true);
        var t = randn(6, 5) * 3;
        Tensor Run(bool managed) => loss == "ctkd"
            ? (managed ? Ctkd.Kd(s, t, tensor(new[] { 3f })) : Ctkd.KdTensors(s, t, tensor(new[] { 3f })))
            : (managed ? Mlkd.Loss(s, t, [2, 3, 4]) : Mlkd.Tensors(s, t, [2, 3, 4]));
        var (got, want) = (Run(true), Run(false));
        var (gGot, gWant) = (autograd.grad([got], [s])[0], autograd.grad([want], [s])[0]);

        Assert.Equal(float.PositiveInfinity, want.item<float>());
        Assert.Equal(float.PositiveInfinity, got.item<float>());
        Assert.True(gWant.isfinite().all().item<bool>() && gWant[1, 2].item<float>() < 0, $"tensors: {gWant[1, 2].item<float>()}");
        Assert.True(gGot.eq(gWant).all().item<bool>(), $"max |diff| {(gGot - gWant).abs().max().item<float>():E2}");
    }

    [Fact]
    public void Non_finite_logits_give_a_non_finite_loss_for_the_trainer_to_name()
    {
        using var scope = NewDisposeScope();
        var s = randn(8, 10);
        s[3, 4] = tensor(float.NaN);
        Assert.True(double.IsNaN(Dist.Managed(s, randn(8, 10), 1, 1, 1).item<float>()));
    }

    [Fact]
    public void Logits_on_the_cpu_within_the_limit_take_the_managed_code_and_others_the_tensors()
    {
        using var scope = NewDisposeScope();
        Assert.True(SmallLogits.Fits(zeros(128, 10)));
        Assert.True(SmallLogits.Fits(zeros(128, 10, dtype: ScalarType.Float64)));
        Assert.False(SmallLogits.Fits(zeros(128, 10, dtype: ScalarType.Float16)));
        Assert.False(SmallLogits.Fits(zeros(SmallLogits.MaxElements / 10 + 1, 10)));
        Assert.False(SmallLogits.Fits(zeros(128, 100), maxClasses: 64));
    }

    /// <summary>The managed path's gradient is a constant to autograd: a gradient penalty through DIST, MLKD or CTKD on a
    /// small CPU batch was an error alone ("element 0 of tensors does not require grad") and silently lost its curvature
    /// beside another term. LossPaths.ManagedSmallLogits = false runs the tensor code, whose second derivative is there.</summary>
    [Fact]
    public void The_tensor_path_is_there_for_second_derivatives()
    {
        using var scope = NewDisposeScope();
        var student = randn([4, 10], dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator(3)).requires_grad_(true);
        var teacher = randn([4, 10], dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator(4));
        Tensor Penalty() => autograd.grad([Dist.Loss(student, teacher, 1, 1, 1)], [student], retain_graph: true, create_graph: true)[0];
        Assert.False(Penalty().requires_grad); // documented: the managed path has no second derivative
        try
        {
            LossPaths.ManagedSmallLogits = false;
            var g = Penalty();
            Assert.True(g.requires_grad);
            var curvature = autograd.grad([g.pow(2).sum()], [student])[0];
            Assert.True(curvature.abs().max().item<double>() > 1e-3);
            LossPaths.ManagedSmallLogits = true;
            // Same first derivative either way.
            var managed = autograd.grad([Dist.Loss(student, teacher, 1, 1, 1)], [student])[0];
            Assert.True(allclose(managed, g.detach(), rtol: 1e-9, atol: 1e-12));
        }
        finally { LossPaths.ManagedSmallLogits = true; }
    }
}
