using Distill.Losses;
using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

/// <summary>Schedules, loss terms and their composition into an <see cref="Objective"/>.</summary>
public class ObjectiveTests
{
    public ObjectiveTests() => TorchRuntime.Initialize();

    static Tensor Randn(long seed, params long[] shape)
    {
        using var g = new Generator((ulong)seed);
        return randn(shape, generator: g);
    }

    static (ModelOutput Student, ModelOutput Teacher, Tensor Labels) Outputs(bool studentGrad = true)
    {
        var s = new ModelOutput(Randn(1, 8, 10).requires_grad_(studentGrad),
            [("group1", Randn(2, 8, 4, 6, 6).requires_grad_(studentGrad)), ("group2", Randn(3, 8, 6, 3, 3).requires_grad_(studentGrad))]);
        var t = new ModelOutput(Randn(4, 8, 10).requires_grad_(),
            [("group1", Randn(5, 8, 16, 6, 6).requires_grad_()), ("group2", Randn(6, 8, 32, 3, 3).requires_grad_())]);
        using var g = new Generator(7);
        return (s, t, randint(0, 10, [8], generator: g));
    }

    [Fact]
    public void Schedules_follow_their_shapes_and_hold_outside_their_window()
    {
        var linear = Schedule.Linear(4, 1);
        Assert.Equal([4, 2.5, 1], new[] { 0, 0.5, 1 }.Select(linear.At));
        var cosine = Schedule.Cosine(10, 1);
        Assert.Equal(10, cosine.At(0), 12);
        Assert.Equal(5.5, cosine.At(0.5), 12);
        Assert.Equal(1, cosine.At(1), 12);
        Assert.True(cosine.At(0.25) > linear.At(0.25) * 10 / 4 - 1e-9); // cosine stays high longer than the line
        var windowed = Schedule.Linear(0, 1, from: 0.2, to: 0.4); // e.g. DKD's warm-up
        Assert.Equal([0, 0, 0.5, 1, 1], new[] { 0, 0.2, 0.3, 0.4, 1 }.Select(p => Math.Round(windowed.At(p), 12)));
        var steps = Schedule.Steps(1, (0.5, 0.1), (0.75, 0.01));
        Assert.Equal([1, 1, 0.1, 0.1, 0.01, 0.01], new[] { 0, 0.49, 0.5, 0.7, 0.75, 1 }.Select(steps.At));
        Schedule constant = 3.0;
        Assert.Equal(3, constant.At(0.7));
    }

    [Fact]
    public void FitNets_lambda_and_temperature_annealing_are_schedules()
    {
        var lambda = Schedule.FitNetsLambda();
        Assert.Equal(4, lambda.At(0));
        Assert.Equal(1, lambda.At(1));
        Assert.True(lambda.At(0.3) > lambda.At(0.6));
        var temperature = Schedule.TemperatureAnnealing(10, 1);
        Assert.Equal(10, temperature.At(0), 12);
        Assert.Equal(1, temperature.At(1), 12);
    }

    [Fact]
    public void Invalid_schedules_are_rejected_with_a_reason()
    {
        Assert.Contains("0 <= from < to <= 1", Assert.Throws<ArgumentException>(() => Schedule.Linear(1, 0, from: 0.5, to: 0.5)).Message);
        Assert.Contains("increase strictly", Assert.Throws<ArgumentException>(() => Schedule.Steps(1, (0.5, 0.1), (0.4, 0.01))).Message);
        Assert.Throws<ArgumentException>(() => Schedule.Cosine(double.NaN, 1));
    }

    [Fact]
    public void Objective_weights_change_with_progress_and_the_total_follows()
    {
        using var scope = NewDisposeScope();
        var (s, t, y) = Outputs();
        var objective = new Objective()
            .Add(new CrossEntropyTerm())
            .Add(new KdTerm(temperature: 3), weight: Schedule.FitNetsLambda());
        Assert.Equal([("ce", 1.0), ("kd", 4.0)], objective.WeightsAt(0));
        Assert.Equal([("ce", 1.0), ("kd", 1.0)], objective.WeightsAt(1));

        var ce = nn.functional.cross_entropy(s.Logits, y).item<float>();
        var kd = Kd.Loss(s.Logits, t.Logits, 3).item<float>();
        foreach (var progress in new[] { 0.0, 0.5, 1.0 })
        {
            var (total, parts) = objective.Compute(new StepContext(s, t, y, progress, 0, 0));
            Assert.Equal(ce + (4 - 3 * progress) * kd, total.item<float>(), 1e-4);
            Assert.Equal(["ce", "kd"], parts.Select(p => p.Name));
            Assert.Equal(kd, parts[1].Value.item<float>(), 1e-5); // parts are unweighted
        }
        Assert.True(objective.NeedsTeacher);
        Assert.False(objective.NeedsTeacherFeatures);
    }

    [Fact]
    public void Kd_term_uses_its_scheduled_temperature()
    {
        using var scope = NewDisposeScope();
        var (s, t, y) = Outputs();
        var term = new KdTerm(Schedule.TemperatureAnnealing(8, 1));
        Assert.Equal(Kd.Loss(s.Logits, t.Logits, 8).item<float>(), term.Compute(new StepContext(s, t, y, 0, 0, 0)).item<float>(), 1e-5);
        Assert.Equal(Kd.Loss(s.Logits, t.Logits, 1).item<float>(), term.Compute(new StepContext(s, t, y, 1, 9, 999)).item<float>(), 1e-5);
    }

    [Fact]
    public void Cross_entropy_term_applies_label_smoothing()
    {
        using var scope = NewDisposeScope();
        var (s, _, y) = Outputs();
        var logp = s.Logits.log_softmax(1);
        var smoothed = (0.9 * nn.functional.nll_loss(logp, y) - 0.1 * logp.mean([1]).mean()).item<float>();
        Assert.Equal(smoothed, new CrossEntropyTerm(0.1).Compute(new StepContext(s, null, y, 0, 0, 0)).item<float>(), 1e-5);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropyTerm(1.0));
    }

    [Fact]
    public void Cross_entropy_refuses_integer_logits_naming_the_fix()
    {
        using var scope = NewDisposeScope();
        var (s, _, y) = Outputs();
        var integers = new ModelOutput((s.Logits * 3).to(ScalarType.Int64), s.Features);
        var e = Assert.Throws<ArgumentException>(() => new CrossEntropyTerm().Compute(new StepContext(integers, null, y, 0, 0, 0)));
        Assert.Equal("ce: student is Int64; logits and features must be floating point (convert them with .to(ScalarType.Float32)).", e.Message);
    }

    [Fact]
    public void Every_term_composes_and_only_student_side_and_regressor_get_gradients()
    {
        using var scope = NewDisposeScope();
        var (s, t, y) = Outputs();
        var regressor = HintRegressor.Conv(4, 16);
        var objective = new Objective()
            .Add(new CrossEntropyTerm())
            .Add(new KdTerm(4), 0.9)
            .Add(new KdHardTerm(4, 0.5))
            .Add(new SoftCeTerm())
            .Add(new DkdTerm(), Schedule.Linear(0, 1, 0, 0.2))
            .Add(new HintTerm("group1", "group1", regressor))
            .Add(new AtTerm(["group1", "group2"]))
            .Add(new AtTerm([("group2", "group2")], paperForm: true, name: "at_paper"))
            .Add(new SpTerm([("group2", "group2")]), 3000)
            .Add(new RkdTerm("logits", "logits"))
            .Add(new PktTerm("group2", "group2"));
        var (total, parts) = objective.Compute(new StepContext(s, t, y, 0.1, 1, 10));
        Assert.Equal(11, parts.Count);
        Assert.All(parts, p => Assert.True(double.IsFinite(p.Value.item<float>()) && p.Value.item<float>() >= 0, p.Name));
        total.backward();
        Assert.Null(t.Logits.grad);
        Assert.All(t.Features, f => Assert.Null(f.Value.grad));
        Assert.NotNull(s.Logits.grad);
        Assert.All(s.Features, f => Assert.NotNull(f.Value.grad));
        Assert.All(objective.Parameters(), p => Assert.NotNull(p.grad));
        Assert.True(objective.NeedsTeacherFeatures);
    }

    [Fact]
    public void Hint_regressor_parameters_and_module_are_exposed_and_learn()
    {
        var conv = new HintTerm("group1", "group1", HintRegressor.Conv(4, 16));
        Assert.Equal(3, conv.Parameters().Count()); // conv weight (no bias before BN), BN weight and bias
        Assert.Equal(4 * 16 + 16 + 16, conv.Parameters().Sum(p => p.numel()));
        Assert.Same(conv.Regressor, Assert.Single(conv.Modules()));
        Assert.Equal([("hint", conv.Regressor!)], new Objective().Add(new CrossEntropyTerm()).Add(conv).Modules());
        Assert.Empty(((ILossTerm)new KdTerm(4)).Parameters());

        // The teacher hint is a fixed linear map of the student's flat feature: fitting the linear regressor drives the
        // hint loss far down (FitNets stage 1 on a toy problem).
        TorchSharp.torch.manual_seed(0);
        var linear = new HintTerm("flat", "flat", HintRegressor.Linear(6, 3));
        Assert.Equal(6 * 3 + 3, linear.Parameters().Sum(p => p.numel()));
        var x = Randn(8, 64, 6);
        var target = x.mm(Randn(9, 6, 3));
        var student = new ModelOutput(zeros(64, 2), [("flat", x)]);
        var teacher = new ModelOutput(zeros(64, 2), [("flat", target)]);
        var ctx = new StepContext(student, teacher, zeros(64, dtype: ScalarType.Int64), 0, 0, 0);
        using var opt = optim.Adam(linear.Parameters(), lr: 0.05);
        double first = 0, last = 0;
        for (int step = 0; step < 300; step++)
        {
            using var stepScope = NewDisposeScope();
            opt.zero_grad();
            var loss = linear.Compute(ctx);
            loss.backward();
            opt.step();
            last = loss.item<float>();
            if (step == 0) first = last;
        }
        Assert.True(last < first * 1e-3, $"hint loss {first} -> {last}");
    }

    [Fact]
    public void Terms_that_need_a_teacher_say_so_when_there_is_none()
    {
        using var scope = NewDisposeScope();
        var (s, _, y) = Outputs();
        var e = Assert.Throws<InvalidOperationException>(() => new AtTerm(["group1"]).Compute(new StepContext(s, null, y, 0, 0, 0)));
        Assert.Contains("'at' needs the teacher's output", e.Message);
        var missing = Assert.Throws<KeyNotFoundException>(() => new PktTerm("group9", "group1").Compute(new StepContext(s, s, y, 0, 0, 0)));
        Assert.Contains("group9", missing.Message);
    }
}
