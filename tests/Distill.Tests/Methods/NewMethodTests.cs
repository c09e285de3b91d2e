using Distill.Data;
using Distill.Losses;
using Distill.Methods;
using Distill.Models;
using Distill.Native;
using Distill.Tests.Models;
using Distill.Tests.Training;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Methods;

/// <summary>What CTKD and CRD promise beyond a loss value: the reversed temperature gradient, the memory bank's
/// updates, determinism and a falling loss on real data.</summary>
[Collection(GlobalTorchRngCollection.Name)]
public sealed class NewMethodTests
{
    public NewMethodTests() => TorchRuntime.Initialize();

    static readonly Lazy<ImageDataset> Data = new(() => TinyData.FashionMnist2k.Subset(train: 512, test: 128, seed: 0));

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    [InlineData(1.0)]
    public void Ctkd_temperature_gradient_is_the_negated_kd_gradient_times_lambda(double lambda)
    {
        using var scope = NewDisposeScope();
        using (manual_seed(3)) { }
        var s = randn(8, 10) * 3;
        var t = randn(8, 10) * 3;
        var reversed = new LearnableTemperature(4, 1, 20);
        new CtkdTerm(reversed, lambda).Loss(s, t, lambda).backward();
        // The same KD with the same temperature, no reversal: the plain gradient.
        var plain = new LearnableTemperature(4, 1, 20);
        KdAt(s, t, plain.Value()).backward();
        var g = plain.Theta.grad!.item<float>();
        Assert.True(Math.Abs(g) > 1e-4, $"the plain gradient {g} must be non-zero for the test to mean anything");
        Assert.Equal(-lambda * g, reversed.Theta.grad!.item<float>(), 1e-5);
        // The forward value is untouched by the reversal.
        Assert.Equal(KdAt(s, t, plain.Value()).item<float>(), new CtkdTerm(reversed, lambda).Loss(s, t, lambda).item<float>(), 1e-5);
    }

    /// <summary>T²·batchmean KL at a tensor temperature, written out independently of CtkdTerm.</summary>
    static Tensor KdAt(Tensor s, Tensor t, Tensor temperature)
    {
        var p = (t / temperature).softmax(1);
        var logQ = (s / temperature).log_softmax(1);
        return (p * (p.log() - logQ)).sum() / s.shape[0] * temperature.square().squeeze();
    }

    [Fact]
    public void Ctkd_learns_its_temperature_and_logs_it_each_epoch()
    {
        var (student, result, _) = Train("ctkd", seed: 0, epochs: 2);
        student.Dispose();
        var temps = result.History.Select(h => Term(h, "temperature")).ToList();
        Assert.Equal(2, temps.Count);
        Assert.All(temps, t => Assert.InRange(t, 1, 21));
        Assert.NotEqual(4.0, temps[^1], 3); // it moved from its initial value
    }

    [Fact]
    public void Crd_memory_updates_by_momentum_and_stays_off_the_autograd_graph()
    {
        using var scope = NewDisposeScope();
        using (manual_seed(0)) { }
        var crd = new CrdModule(16, 24, samples: 10, embedDim: 8, negatives: 5, temperature: 0.07, momentum: 0.5);
        var before = crd.StudentBank.clone();
        var idx = tensor(new long[] { 2, 7 });
        var s = randn(2, 16, requires_grad: true);
        var t = randn(2, 24);
        var expected = nn.functional.normalize(before.index_select(0, idx) * 0.5 + crd.Embed(s, t).Student.detach() * 0.5, dim: 1);
        var loss = crd.Loss(s, t, idx, tensor(new long[] { 0, 1, 3, 4, 5 }));
        Assert.False(crd.StudentBank.requires_grad);
        Assert.False(crd.TeacherBank.requires_grad);
        loss.backward();
        Assert.NotNull(s.grad);
        Assert.True(s.grad!.abs().sum().item<float>() > 0);
        // Rows 2 and 7 became the momentum mix of old row and new embedding, renormalised; the rest are untouched.
        var changed = (crd.StudentBank - before).abs().sum(1);
        Assert.Equal(new[] { 2L, 7L }, changed.gt(0).nonzero().flatten().data<long>().ToArray());
        Assert.True(crd.StudentBank.index_select(0, idx).allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    /// <summary>The NCE loss and its gradient against RepDistiller's formula written out directly in float64 (h =
    /// exp(score/τ)/Z, Z from the first batch; −(Σ log h⁺/(h⁺ + c) + Σ log (K/N)/(h⁻ + c))/B, c = K/N + 1e-7, both
    /// directions), on 4 samples of a bank of 50 with 12 negatives.</summary>
    [Fact]
    public void Crd_nce_loss_and_gradient_equal_repdistillers_formula()
    {
        using var scope = NewDisposeScope();
        using (manual_seed(3)) { }
        var crd = new CrdModule(16, 24, samples: 50, embedDim: 8, negatives: 12, temperature: 0.07, momentum: 0.5);
        var idx = tensor(new long[] { 2, 7, 30, 41 });
        var neg = tensor(new long[] { 0, 1, 3, 4, 5, 9, 11, 20, 33, 34, 40, 49 });
        var s = randn(4, 16, requires_grad: true);
        var t = randn(4, 24);
        var (sb, tb) = (crd.StudentBank.to(float64), crd.TeacherBank.to(float64)); // before the loss updates them

        Tensor Reference(Tensor v, Tensor bank)
        {
            var pos = ((bank.index_select(0, idx) * v).sum(1) / 0.07).exp();
            var negs = (v.mm(bank.index_select(0, neg).t()) / 0.07).exp();
            var z = cat([pos.unsqueeze(1), negs], 1).mean().detach() * 50;
            var (noise, c) = (12.0 / 50, 12.0 / 50 + 1e-7);
            return -((pos / z / (pos / z + c)).log().sum() + (noise / (negs / z + c)).log().sum()) / 4;
        }
        var sRef = s.detach().to(float64).requires_grad_(true);
        var (vs, vt) = crd.Embed(sRef.to(float32), t);
        var expected = Reference(vs.to(float64), tb) + Reference(vt.to(float64), sb);
        expected.backward();
        var loss = crd.Loss(s, t, idx, neg);
        loss.backward();
        Assert.Equal(expected.item<double>(), loss.item<float>(), 1e-4 * Math.Abs(expected.item<double>()));
        Assert.True(s.grad!.to(float64).allclose(sRef.grad!, rtol: 1e-3, atol: 1e-6), $"max |Δgrad| {(s.grad!.to(float64) - sRef.grad!).abs().max().item<double>()}");
    }

    /// <summary>How far the memory banks pair each sample's student embedding with its own teacher embedding rather
    /// than with other samples': mean cosine of the positive pairs minus that of all pairs. What CRD's contrast teaches.
    /// (The NCE loss alone can mislead early on: its normaliser is fixed on the first batch, while the banks fill with
    /// real embeddings.)</summary>
    static double Alignment(CrdModule m)
    {
        using var scope = NewDisposeScope();
        var sim = m.StudentBank.mm(m.TeacherBank.t());
        return sim.diagonal().mean().item<float>() - sim.mean().item<float>();
    }

    [Fact]
    public void Crd_loss_falls_and_aligns_each_sample_s_student_and_teacher_embeddings_and_is_identical_for_a_seed()
    {
        // At RepDistiller's learning rate for CRD, 0.05. At our default 0.1 the contrast's gradient through the normalised
        // embedding broke the student on this 512-image set for some seeds and machines (measured on an AVX-512 machine,
        // 15 epochs, seeds 0-3: seed 0 fell to chance at epoch 2 and was flagged as diverged, alignment 0.016; seeds 1 and 3
        // ended 20 points under scratch). At 0.05 all four trained to 78-80% (scratch 80-82%) with alignment 0.148-0.175,
        // against 0.006-0.018 after one epoch. The loss first rises while the banks fill with real embeddings.
        using var teacher = NewTeacher();
        var (a, ra, ta) = Train("crd:negatives=256", seed: 0, epochs: 15, teacher, lr: 0.05);
        Assert.Null(ra.Warning);
        // Identity for a seed on one-epoch runs: the banks and weights depend on every step of it, and it is 15× cheaper.
        var (early, re, te) = Train("crd:negatives=256", seed: 0, epochs: 1, teacher, lr: 0.05);
        var (b, rb, tb) = Train("crd:negatives=256", seed: 0, epochs: 1, teacher, lr: 0.05);
        var (me, mb) = (((CrdTerm)te).Module, ((CrdTerm)tb).Module);
        var (after1, after15) = (Alignment(me), Alignment(((CrdTerm)ta).Module));
        Assert.True(after15 > after1 + 0.05, $"alignment of the banks after 1 epoch {after1:F3}, after 15 {after15:F3}");
        var crdLoss = ra.History.Select(h => Term(h, "crd")).ToList();
        Assert.True(crdLoss[^1] < crdLoss[0], $"crd loss per epoch: {string.Join(", ", crdLoss)}");
        Assert.Equal(re.History.Select(h => Term(h, "crd")), rb.History.Select(h => Term(h, "crd")));
        foreach (var (p, q) in early.parameters().Zip(b.parameters())) Assert.True(p.eq(q).all().item<bool>(), "student weights differ between two runs of one seed");
        Assert.True(me.StudentBank.eq(mb.StudentBank).all().item<bool>() && me.TeacherBank.eq(mb.TeacherBank).all().item<bool>(), "memory banks differ between two runs of one seed");
        var (c, _, tc) = Train("crd:negatives=256", seed: 1, epochs: 1, teacher, lr: 0.05);
        Assert.False(((CrdTerm)tc).Module.StudentBank.eq(me.StudentBank).all().item<bool>(), "another seed gave the same bank");
        foreach (var m in new[] { a, b, c, early }) m.Dispose();
    }

    static double Term(EpochMetrics m, string name) => m.TermLosses.Single(t => t.Name == name).Value;

    static readonly Lazy<DistillModel> Teacher = new(NewTeacher);

    static DistillModel NewTeacher()
    {
        using (manual_seed(99)) { }
        var t = ModelZoo.Create("cnn", 1, 10);
        Trainer.Train(t, Data.Value, new Objective().Add(new CrossEntropyTerm()), new TrainOptions { Name = "teacher", Epochs = 1, BatchSize = 64, Device = "cpu", Progress = false });
        return t;
    }

    static (DistillModel Student, TrainResult Result, ILossTerm Term) Train(string method, int seed, int epochs, DistillModel? teacher = null, double lr = 0.1)
    {
        using (manual_seed(seed)) { }
        var objective = MethodCatalogue.Parse(method).Build(new MethodSetup("cnn-8", "cnn", Data.Value, 64) { Seed = seed });
        using (manual_seed(seed)) { }
        var student = ModelZoo.Create("cnn-8", 1, 10);
        var r = Trainer.Train(student, Data.Value, objective,
            new TrainOptions { Name = method, Seed = seed, Epochs = epochs, BatchSize = 64, Device = "cpu", Progress = false, Optimizer = OptimizerSpec.Sgd(lr) }, teacher ?? Teacher.Value);
        return (student, r, objective.Terms.Single(t => method.StartsWith(t.Term.Name, StringComparison.Ordinal) && t.Term.Name != "ce").Term);
    }
}
