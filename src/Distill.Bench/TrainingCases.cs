using Distill.Data;
using Distill.Losses;
using Distill.Methods;
using Distill.Models;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Bench;

/// <summary>
/// Data the training cases share: Fashion-MNIST (when installed, else seeded random 1×28×28 images) and seeded random
/// 3×32×32 images standing in for CIFAR (step times do not depend on pixel values). Loaded once, on first use.
/// </summary>
public sealed class BenchData : IDisposable
{
    ImageDataset? fashion, cifarLike;

    public ImageDataset Fashion => fashion ??= StandardCases.FashionMnistAvailable()
        ? Datasets.FashionMnist()
        : Synthetic(RandomFashion, 1, 28, 60_000, 10_000);

    /// <summary>The name of the random images that stand in for Fashion-MNIST when it is not installed.</summary>
    const string RandomFashion = "random-1x28x28";

    /// <summary>What the Fashion-MNIST cases read, for the report: the folder, or the random images that stood in (the
    /// cases' names say Fashion-MNIST, and nothing said otherwise); null when no case read it.</summary>
    public string? FashionSource => fashion is null ? null
        : fashion.Name == RandomFashion ? "seeded random 1×28×28 images, as Fashion-MNIST is not installed (`distill data install fashion-mnist`)"
        : $"Fashion-MNIST from {fashion.Source}";

    public ImageDataset CifarLike => cifarLike ??= Synthetic("random-3x32x32", 3, 32, 128 * 80, 1_000);

    static ImageDataset Synthetic(string name, int channels, int side, int train, int test)
    {
        using var g = new Generator(21);
        Split Make(int n) => new(randint(0, 256, [n, channels, side, side], dtype: ScalarType.Byte, generator: g),
                                 randint(0, 10, [n], generator: g));
        var classes = Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new ImageDataset(name, Make(train), Make(test), classes,
            Enumerable.Repeat(0.5f, channels).ToArray(), Enumerable.Repeat(0.29f, channels).ToArray(), "seeded random");
    }

    /// <summary>The first <paramref name="train"/> training images and a small test split, as views (no copy).</summary>
    public static ImageDataset Head(ImageDataset d, long train, long test = 256)
    {
        ArgumentNullException.ThrowIfNull(d);
        train = Math.Min(train, d.Train.Count);
        return new ImageDataset(d.Name, new Split(d.Train.Images.narrow(0, 0, train), d.Train.Labels.narrow(0, 0, train)),
            new Split(d.Test.Images.narrow(0, 0, test), d.Test.Labels.narrow(0, 0, test)), d.Classes, d.Mean, d.Std, d.Source);
    }

    public void Dispose()
    {
        fashion?.Dispose();
        cifarLike?.Dispose();
    }
}

/// <summary>
/// Training-step cases through the library (<see cref="Trainer"/>, the model zoo, the loss terms), each beside a raw
/// TorchSharp loop doing the same math, so the trainer's overhead is measured, not guessed. Trainer steps are timed
/// between consecutive <see cref="TrainOptions.OnStepEnd"/> calls, so run set-up, teacher caching and the end-of-epoch
/// evaluation are not in a step's time.
/// </summary>
public static class TrainingCases
{
    const int B = StandardCases.Batch;

    /// <summary>What the trainer runs: models, objective, data; disposed after the case.</summary>
    public sealed record Setup(DistillModel Student, DistillModel? Teacher, Objective Objective, ImageDataset Data,
        TeacherCacheMode Cache = TeacherCacheMode.Auto) : IDisposable
    {
        public void Dispose()
        {
            Student.Dispose();
            Teacher?.Dispose();
            foreach (var (_, m) in Objective.Modules()) m.Dispose();
        }
    }

    /// <summary>A catalogue method's training step (student, teacher and objective built as `train --method` does).</summary>
    static BenchCase Method(string spec, string pair, string student, string teacher, Func<string, DistillModel> model, Func<ImageDataset> dataOf,
        double flops, string baseline, string baselineText = "≤ 10 % over the student alone")
    {
        var choice = MethodCatalogue.Parse(spec);
        var name = $"method-{choice.Label.Replace(':', '-').Replace('=', '-')}-{pair}";
        return Trained(name, $"{choice.Label}: student {student}, teacher {teacher}",
            () =>
            {
                manual_seed(1);
                var data = dataOf();
                var objective = choice.Build(new MethodSetup(student, teacher, data, B) { Seed = 1 });
                return new(model(student), model(teacher), objective, data);
            }, flops) with { Baseline = baseline, BaselineTarget = new(1.10, baselineText) };
    }

    public static IReadOnlyList<BenchCase> All(BenchData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        DistillModel Mnist(string name) { manual_seed(1); return ModelZoo.Create(name, 1, 10); }
        DistillModel Cifar(string name) { manual_seed(1); return ModelZoo.Create(name, 3, 10); }
        long[] mnist = [1, 28, 28], cifar = [3, 32, 32];
        static Objective Ce() => new Objective().Add(new CrossEntropyTerm());
        static Objective Kd() => new Objective().Add(new CrossEntropyTerm(), 0.1).Add(new KdTerm(4.0), 0.9);

        var cases = new List<BenchCase>();
        void Pair(string name, string what, Func<DistillModel> model, Func<ImageDataset> d, long[] shape, RatioTarget peerTarget)
        {
            double flops = B * Flops.TrainingStep(model, shape);
            cases.Add(Loop($"{name}-loop", $"{what} train step, raw TorchSharp loop", model, d, flops));
            cases.Add(Trained($"{name}-trainer", $"{what} train step, Trainer", () => new(model(), null, Ce(), d()), flops)
                with { Baseline = $"{name}-loop", BaselineTarget = Overhead, PeerTarget = peerTarget });
        }

        Pair("mlp-784-1200-1200-10", "MLP 784-1200-1200-10 (Fashion-MNIST)", () => Mnist("mlp-1200-1200"), () => data.Fashion, mnist, MlpTarget);
        cases.Add(Trained("mlp-784-800-800-10-trainer", "MLP 784-800-800-10 student alone, Trainer",
            () => new(Mnist("mlp-800-800"), null, Ce(), data.Fashion), B * Flops.TrainingStep(() => Mnist("mlp-800-800"), mnist)) with { PeerTarget = MlpTarget });
        Pair("cnn", "small CNN w32 (Fashion-MNIST)", () => Mnist("cnn"), () => data.Fashion, mnist, ConvTarget);
        Pair("resnet20", "resnet20 on 3x32x32", () => Cifar("resnet20"), () => data.CifarLike, cifar, ConvTarget);

        double kdFlops = B * Flops.TrainingStep(() => Mnist("mlp-800-800"), mnist);
        double teacherFlops = B * Flops.Forward(() => Mnist("mlp-1200-1200"), mnist);
        cases.Add(Trained("kd-live-mlp", "KD T=4, student 800-800, live teacher 1200-1200",
            () => new(Mnist("mlp-800-800"), Mnist("mlp-1200-1200"), Kd(), data.Fashion, TeacherCacheMode.Never), kdFlops + teacherFlops)
            with { Baseline = "mlp-784-800-800-10-trainer", PeerTarget = MlpTarget });
        cases.Add(Trained("kd-cached-mlp", "KD T=4, student 800-800, cached teacher logits",
            () => new(Mnist("mlp-800-800"), Mnist("mlp-1200-1200"), Kd(), data.Fashion, TeacherCacheMode.Always), kdFlops)
            with { Baseline = "mlp-784-800-800-10-trainer", PeerTarget = MlpTarget, BaselineTarget = new(1.10, "≤ 1.1× the student alone") });

        // FitNets (Romero et al. 2015) on the CNN pair: stage 1 regresses the thin student's middle layer onto the
        // teacher's (1x1 conv regressor), stage 2 trains the whole student with KD from the live teacher.
        double thin = B * Flops.TrainingStep(() => Mnist("cnn-16"), mnist), wide = B * Flops.Forward(() => Mnist("cnn"), mnist);
        cases.Add(Trained("fitnets-stage1-cnn", "FitNets hint step, student cnn-16 stage1 -> teacher cnn stage1",
            () => new(Mnist("cnn-16"), Mnist("cnn"), new Objective().Add(new HintTerm("stage1", "stage1", HintRegressor.Conv(16, 32))), data.Fashion),
            thin + wide) with { PeerTarget = ConvTarget });
        cases.Add(Trained("fitnets-stage2-cnn", "FitNets stage 2 (KD T=4), student cnn-16, live teacher cnn",
            () => new(Mnist("cnn-16"), Mnist("cnn"), Kd(), data.Fashion, TeacherCacheMode.Never), thin + wide) with { PeerTarget = ConvTarget });

        cases.Add(Trained("at-resnet20-resnet8", "AT (beta 1000, 3 groups) + CE, student resnet8, teacher resnet20",
            () => new(Cifar("resnet8"), Cifar("resnet20"), new Objective().Add(new CrossEntropyTerm()).Add(new AtTerm(["stage1", "stage2", "stage3"])), data.CifarLike),
            B * Flops.TrainingStep(() => Cifar("resnet8"), cifar) + B * Flops.Forward(() => Cifar("resnet20"), cifar)) with { PeerTarget = ConvTarget });

        // The catalogue's newer methods, each against its student alone (the budget: at most 10% over the
        // student's step). Logit methods on the MLP pair with cached teacher logits; on the CNN pair (cnn → cnn-8) every
        // one, feature methods with the live teacher they need.
        cases.Add(Trained("cnn-8-trainer", "small CNN w8 student alone, Trainer",
            () => new(Mnist("cnn-8"), null, Ce(), data.Fashion), B * Flops.TrainingStep(() => Mnist("cnn-8"), mnist)));
        string[] logitMethods = ["dist", "mlkd", "ctkd", "kd:standardize=1"];
        foreach (var spec in logitMethods)
            cases.Add(Method(spec, "mlp", "mlp-800-800", "mlp-1200-1200", Mnist, () => data.Fashion, kdFlops, "mlp-784-800-800-10-trainer"));
        double cnn8 = B * Flops.TrainingStep(() => Mnist("cnn-8"), mnist), cnnForward = B * Flops.Forward(() => Mnist("cnn"), mnist);
        foreach (var spec in logitMethods)
            cases.Add(Method(spec, "cnn", "cnn-8", "cnn", Mnist, () => data.Fashion, cnn8, "cnn-8-trainer"));
        // Feature methods read the teacher's features, so their teacher runs live every step; against the student alone
        // that forward pass, not the loss, is most of their cost. Their own cost is measured against KD with the same
        // live teacher (whose loss is a softmax of [128, 10]).
        cases.Add(Trained("kd-live-cnn-8", "KD T=4, student cnn-8, live teacher cnn (a feature method's cost before its loss)",
            () => new(Mnist("cnn-8"), Mnist("cnn"), Kd(), data.Fashion, TeacherCacheMode.Never), cnn8 + cnnForward) with { Baseline = "cnn-8-trainer" });
        foreach (var spec in new[] { "nst", "crd" })
            cases.Add(Method(spec, "cnn", "cnn-8", "cnn", Mnist, () => data.Fashion, cnn8 + cnnForward, "kd-live-cnn-8", "≤ 10 % over KD with the same live teacher"));

        double epochFlops = 60_000 * Flops.TrainingStep(() => Mnist("mlp-1200-1200"), mnist) + 10_000 * Flops.Forward(() => Mnist("mlp-1200-1200"), mnist);
        cases.Add(EpochLoop("fmnist-epoch-mlp-1200-loop", () => Mnist("mlp-1200-1200"), () => data.Fashion, epochFlops));
        cases.Add(BenchCase.Stepped("fmnist-epoch-mlp-1200-trainer", "Fashion-MNIST epoch (train 60k + test 10k), MLP 1200-1200, Trainer",
            60_000, epochFlops, () =>
            {
                var s = new Setup(Mnist("mlp-1200-1200"), null, Ce(), data.Fashion);
                return new BenchStep(() => Trainer.Train(s.Student, s.Data, s.Objective, Options(s), s.Teacher), s);
            }, few: true) with { Baseline = "fmnist-epoch-mlp-1200-loop", BaselineTarget = Overhead });
        return cases;
    }

    /// <summary>The raw loop a user would write with the same model, data pipeline (index_select of uint8 images,
    /// normalise) and optimizer as the trainer's defaults (SGD 0.1, Nesterov momentum 0.9, weight decay 5e-4), reading
    /// the loss every step.</summary>
    static BenchCase Loop(string name, string description, Func<DistillModel> model, Func<ImageDataset> data, double flops) =>
        BenchCase.Stepped(name, description, B, flops, () =>
        {
            var m = model();
            var d = data();
            var opt = optim.SGD(m.parameters(), 0.1, momentum: 0.9, weight_decay: 5e-4, nesterov: true);
            var g = new Generator(7);
            var perm = randperm(d.Train.Count, generator: g);
            long pos = 0;
            m.train();
            return new BenchStep(() =>
            {
                using var scope = NewDisposeScope();
                if (pos + B > d.Train.Count) pos = 0;
                var idx = perm.narrow(0, pos, B);
                pos += B;
                var x = d.Normalize(d.Train.Images.index_select(0, idx));
                var loss = nn.functional.cross_entropy(m.call(x).Logits, d.Train.Labels.index_select(0, idx));
                opt.zero_grad();
                loss.backward();
                opt.step();
                _ = loss.item<float>();
            }, opt, perm, g, m);
        });

    /// <summary>A full epoch with the raw loop: new permutation, every batch, then evaluation of the test split.</summary>
    static BenchCase EpochLoop(string name, Func<DistillModel> model, Func<ImageDataset> data, double flops) =>
        BenchCase.Stepped(name, "Fashion-MNIST epoch (train 60k + test 10k), MLP 1200-1200, raw loop", 60_000, flops, () =>
        {
            var m = model();
            var d = data();
            var opt = optim.SGD(m.parameters(), 0.1, momentum: 0.9, weight_decay: 5e-4, nesterov: true);
            var g = new Generator(7);
            return new BenchStep(() =>
            {
                using var epoch = NewDisposeScope();
                m.train();
                long n = d.Train.Count;
                var perm = randperm(n, generator: g);
                for (long start = 0; start < n; start += B)
                {
                    using var scope = NewDisposeScope();
                    var idx = perm.narrow(0, start, Math.Min(B, n - start));
                    var loss = nn.functional.cross_entropy(m.call(d.Normalize(d.Train.Images.index_select(0, idx))).Logits, d.Train.Labels.index_select(0, idx));
                    opt.zero_grad();
                    loss.backward();
                    opt.step();
                    _ = loss.item<float>();
                }
                m.eval();
                using var noGrad = no_grad();
                for (long start = 0; start < d.Test.Count; start += 1000)
                {
                    using var scope = NewDisposeScope();
                    var len = Math.Min(1000, d.Test.Count - start);
                    _ = m.call(d.Normalize(d.Test.Images.narrow(0, start, len))).Logits.argmax(1).eq(d.Test.Labels.narrow(0, start, len)).sum().item<long>();
                }
            }, opt, g, m);
        }, few: true);

    /// <summary>A case through <see cref="Trainer.Train"/>: one long run (many epochs of the first 64 batches), paused
    /// between rounds inside its <see cref="TrainOptions.OnStepEnd"/>. A step is timed from one OnStepEnd to the next;
    /// the first step (set-up, teacher caching) and the first after each epoch's evaluation are not timed.</summary>
    static BenchCase Trained(string name, string description, Func<Setup> setup, double flops) =>
        new(name, description, B, flops, clock =>
        {
            using var s = setup();
            using var head = BenchData.Head(s.Data, 64L * B);
            clock.SkipNext();
            Trainer.Train(s.Student, head, s.Objective, Options(s) with
            {
                Epochs = 100_000,
                OnStepEnd = _ => clock.StepEnd(),
                OnEpochEnd = _ => clock.SkipNext(),
            }, s.Teacher);
        });

    static TrainOptions Options(Setup s) => new()
    {
        Name = "bench", Epochs = 1, BatchSize = B, Device = "cpu", Progress = false, TeacherCache = s.Cache,
    };

    /// <summary>The targets (docs/performance.md), on our step time over the other side's.</summary>
    internal static readonly RatioTarget MlpTarget = new(0.5, "≥ 2× the peer"), ConvTarget = new(1 / 1.1, "≥ 1.1× the peer"),
        Overhead = new(1.05, "≤ 5 % over the raw loop");
}
