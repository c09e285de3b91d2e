using Distill.Losses;
using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

/// <summary>The public term and module constructors refuse values the catalogue would, naming them, where they used to
/// train to NaN (then advising a lower learning rate), give a loss of the wrong sign, or fail inside libtorch; and the
/// relation losses keep their scale invariance where float32 squares overflow.</summary>
public class TermConstructionTests
{
    public TermConstructionTests() => TorchRuntime.Initialize();

    static Tensor Randn(long seed, params long[] shape)
    {
        using var g = new Generator((ulong)seed);
        return randn(shape, generator: g);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void A_non_finite_weight_is_refused_when_the_objective_is_built(double weight)
    {
        Assert.StartsWith("Schedule values must be finite (got ", Assert.Throws<ArgumentException>(() => new Objective().Add(new CrossEntropyTerm(), weight)).Message);
        Assert.Throws<ArgumentException>(() => new ScaledSchedule(Schedule.Linear(1, 2), weight));
        Assert.Contains("rkd: the distance weight λ_D must be finite", Assert.Throws<ArgumentOutOfRangeException>(() => new RkdTerm("fc", "fc", weight, 50)).Message);
        Assert.Contains("rkd: the angle weight λ_A must be finite", Assert.Throws<ArgumentOutOfRangeException>(() => new RkdTerm("fc", "fc", 25, weight)).Message);
        // Finite weights, negative ones included (an objective may subtract a term on purpose), still build.
        Assert.Equal(2, new Objective().Add(new CrossEntropyTerm(), -0.5).Add(new KdTerm(4), 0).Terms.Count);
    }

    [Fact]
    public void Crd_refuses_each_bad_setting_naming_it()
    {
        CrdModule Crd(long sd = 6, long td = 5, long e = 4, int k = 4, double tau = 0.07, double m = 0.5) => new(sd, td, 10, e, k, tau, m);
        Assert.Equal("studentDim", Assert.Throws<ArgumentOutOfRangeException>(() => Crd(sd: 0)).ParamName);
        Assert.Equal("teacherDim", Assert.Throws<ArgumentOutOfRangeException>(() => Crd(td: 0)).ParamName);
        Assert.Contains("embedDim must be at least 2", Assert.Throws<ArgumentOutOfRangeException>(() => Crd(e: 1)).Message);
        Assert.Contains("negatives must be at least 1", Assert.Throws<ArgumentOutOfRangeException>(() => Crd(k: -3)).Message);
        foreach (var tau in new[] { 0, -0.07, double.NaN, double.PositiveInfinity })
            Assert.Contains("the temperature τ must be positive and finite", Assert.Throws<ArgumentOutOfRangeException>(() => Crd(tau: tau)).Message);
        foreach (var m in new[] { -0.1, 2, double.NaN })
            Assert.Contains("momentum must lie in [0, 1]", Assert.Throws<ArgumentOutOfRangeException>(() => Crd(m: m)).Message);
        using var ok = Crd(m: 1);
        Assert.Equal(1, ok.Momentum);
    }

    [Fact]
    public void Multi_teacher_kd_refuses_no_teachers_and_names_a_teacher_of_other_classes()
    {
        Assert.Contains("kd_multi: needs at least one teacher, got none", Assert.Throws<ArgumentException>(() => new MultiTeacherKdTerm([], 4)).Message);
        using var three = ModelZoo.Create("mlp-4", 1, 3);
        using var ten = ModelZoo.Create("mlp-4", 1, 10);
        using var student = ModelZoo.Create("mlp-8", 1, 10);
        using var scope = NewDisposeScope();
        var x = Randn(1, 4, 1, 28, 28);
        var ctx = new StepContext(student.call(x), null, zeros(4, dtype: ScalarType.Int64), 0, 0, 0, x);
        var e = Assert.Throws<ArgumentException>(() => new MultiTeacherKdTerm([ten, three], 4).Compute(ctx));
        Assert.Equal("kd_multi: teacher 1 (mlp-4) gives logits [4, 3], the student [4, 10]; every teacher must be built for the student's classes.", e.Message);
        Assert.True(float.IsFinite(new MultiTeacherKdTerm([ten, ten], 4).Compute(ctx).item<float>()));
    }

    [Fact]
    public void Rkd_computes_only_the_parts_it_weights()
    {
        using var scope = NewDisposeScope();
        var (s, t) = (Randn(1, 6, 5), Randn(2, 6, 7));
        var ctx = new StepContext(new ModelOutput(s, []), new ModelOutput(t, []), zeros(6, dtype: ScalarType.Int64), 0, 0, 0);
        Assert.Equal(25 * Rkd.DistanceLoss(s, t).item<float>(), new RkdTerm("logits", "logits", 25, 0).Compute(ctx).item<float>(), 1e-6);
        Assert.Equal(50 * Rkd.AngleLoss(s, t).item<float>(), new RkdTerm("logits", "logits", 0, 50).Compute(ctx).item<float>(), 1e-6);
        // With angle = 0 the B³ angles are never formed: a batch of 3000 (2.7e10 angles, about 1 TB with their
        // gradients) was refused for their memory; its distances alone are small.
        var big = new StepContext(new ModelOutput(Randn(3, 3000, 2), []), new ModelOutput(Randn(4, 3000, 2), []), zeros(3000, dtype: ScalarType.Int64), 0, 0, 0);
        Assert.True(float.IsFinite(new RkdTerm("logits", "logits", 25, 0).Compute(big).item<float>()));
        Assert.Contains("rkd_angle: a batch of 3000", Assert.Throws<ArgumentException>(() => new RkdTerm("logits", "logits", 25, 50).Compute(big)).Message);
    }

    /// <summary>ψ_D, ψ_A and SP's normalised Gram matrix are the same for any positive scale of the student's features,
    /// so huge ones give the float64 value, not NaN (RKD's distances, SP's ∞ − ∞) or 0 (RKD's student angles).</summary>
    [Fact]
    public void Relation_losses_hold_their_value_at_features_whose_squares_overflow_float32()
    {
        using var scope = NewDisposeScope();
        var s = Randn(5, 4, 3, 2, 5) * 1e19f;
        var t = Randn(6, 4, 6, 2, 5);
        double F64(Func<Tensor, Tensor, Tensor> loss) => loss(s.to(ScalarType.Float64), t.to(ScalarType.Float64)).item<double>();
        Assert.Equal(F64(Rkd.DistanceLoss), Rkd.DistanceLoss(s, t).item<float>(), 1e-5);
        Assert.Equal(F64(Rkd.AngleLoss), Rkd.AngleLoss(s, t).item<float>(), 1e-5);
        var big = Randn(7, 3, 4, 5, 5) * 1e26f;
        var other = Randn(8, 3, 4, 5, 5);
        Assert.Equal(Sp.Loss(big.to(ScalarType.Float64), other.to(ScalarType.Float64)).item<double>(), Sp.Loss(big, other).item<float>(), 1e-5);
    }

    /// <summary>The public helpers behind kd_ls, dkpp and at name what they take: an integer or 1-D tensor failed inside
    /// libtorch ("mean(): could not infer output dtype", "Dimension out of range", IndexOutOfRangeException), one class
    /// gave NaN rows, an empty batch "cannot reshape tensor of 0 elements".</summary>
    [Fact]
    public void Standardize_permute_and_attention_maps_name_the_tensors_they_take()
    {
        using var scope = NewDisposeScope();
        foreach (var bad in new[] { randint(0, 5, [4, 3]), randn(5), randn(4, 1) })
            Assert.StartsWith("kd_ls: logit standardization needs floating logits [B, C] with C ≥ 2 classes", Assert.Throws<ArgumentException>(() => LogitStandardization.Standardize(bad)).Message);
        Assert.Equal([4L, 3], LogitStandardization.Standardize(randn(4, 3)).shape);
        Assert.StartsWith("dkpp: probabilities must be floating [B, C], got Float32 [5].", Assert.Throws<ArgumentException>(() => Dkpp.Permute(rand(5))).Message);
        foreach (var bad in new[] { randint(0, 5, [2, 3, 4, 4]), randn(0, 3, 4, 4) })
            Assert.StartsWith("at: features must be floating [B, C, H, W] (or [B, C, L]) with B ≥ 1", Assert.Throws<ArgumentException>(() => At.Map(bad)).Message);
    }
}
