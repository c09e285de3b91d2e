using Distill.Data;
using Distill.Losses;
using Distill.Models;
using Distill.Tests.Models;
using Distill.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Tests.Training;

/// <summary>An objective over logits alone is computed on one thread, then its gradient goes through the student on all
/// of them (Trainer's step: waking the second OpenMP worker costs more than each small kernel). These train at 2 threads
/// and require the objective to have run on one, the thread count to be back afterwards, and the weights to equal,
/// bit for bit, those of the same objective run on all threads.</summary>
[Collection(GlobalTorchRngCollection.Name)]
public sealed class OneThreadObjectiveTests : AtTwoThreads
{
    /// <summary>Delegates to <paramref name="inner"/>, declaring <paramref name="logitsOnly"/>, and records the thread count
    /// each Compute ran with.</summary>
    sealed class Probe(ILossTerm inner, bool logitsOnly) : ILossTerm
    {
        public List<int> Threads { get; } = [];
        public string Name => inner.Name;
        public bool NeedsTeacher => inner.NeedsTeacher;
        public bool NeedsTeacherFeatures => inner.NeedsTeacherFeatures;
        public bool LogitsOnly => logitsOnly;
        public IEnumerable<Parameter> Parameters() => inner.Parameters();
        public IEnumerable<nn.Module> Modules() => inner.Modules();
        public Tensor Compute(StepContext ctx)
        {
            Threads.Add(get_num_threads());
            return inner.Compute(ctx);
        }
    }

    static readonly Lazy<ImageDataset> Data = new(() => TinyData.FashionMnist2k.Subset(train: 512, test: 128, seed: 0));

    static (DistillModel Student, List<int> Threads) Train(string model, bool logitsOnly)
    {
        var data = Data.Value;
        DistillModel Create(string name, int seed)
        {
            using var g = manual_seed(seed);
            return ModelZoo.Create(name, data.Channels, data.NumClasses, new ModelOptions { ImageSize = data.Height });
        }
        using var teacher = Create("mlp-32", 7);
        var student = Create(model, 0);
        var probe = new Probe(new DkdTerm(), logitsOnly);
        Trainer.Train(student, data, new Objective().Add(new CrossEntropyTerm()).Add(probe), new TrainOptions
        {
            Seed = 0, Epochs = 1, BatchSize = 64, Device = "cpu", Progress = false,
            Optimizer = OptimizerSpec.Sgd(lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4),
        }, teacher);
        return (student, probe.Threads);
    }

    [Theory]
    [InlineData("mlp-64")]
    [InlineData("cnn-8")]
    public void Logit_objective_runs_on_one_thread_and_trains_bit_for_bit_as_on_two(string model)
    {
        var (oneThread, threadsSeen) = Train(model, logitsOnly: true);
        using var _ = oneThread;
        Assert.Equal(2, get_num_threads());
        var (allThreads, threadsSeenAll) = Train(model, logitsOnly: false);
        using var __ = allThreads;

        Assert.Equal(8, threadsSeen.Count);
        Assert.All(threadsSeen, n => Assert.Equal(1, n));
        Assert.All(threadsSeenAll, n => Assert.Equal(2, n));
        Assert.Equal(2, get_num_threads());
        var pairs = oneThread.parameters().Zip(allThreads.parameters()).ToList();
        Assert.NotEmpty(pairs);
        Assert.All(pairs, p => Assert.True(p.First.SameAs(p.Second), "weights differ"));
    }

    [Fact]
    public void A_term_that_reads_features_keeps_the_objective_on_all_threads()
    {
        var data = Data.Value;
        using var model = Build.Mlp(0);
        var probe = new Probe(Build.Hint(), logitsOnly: false);
        using var teacher = Build.Mlp(1);
        Trainer.Train(model, data, Build.Ce().Add(probe), new TrainOptions { Epochs = 1, BatchSize = 128, Device = "cpu", Progress = false }, teacher);
        Assert.NotEmpty(probe.Threads);
        Assert.All(probe.Threads, n => Assert.Equal(2, n));
    }
    [Fact]
    public void Logits_with_more_classes_than_64_keep_the_objective_on_all_threads()
    {
        // MLKD's class-level Grams [5, C, C] pass ATen's parallel grain from about 80 classes: CIFAR-100's 100 stay on
        // all threads, so their numbers are those of the thread count. Random images: only the shapes matter here.
        using var scope = NewDisposeScope();
        using (manual_seed(0)) { }
        var train = new Split(randint(0, 256, [32, 1, 28, 28]).to(ScalarType.Byte), randint(0, 100, [32]));
        var test = new Split(randint(0, 256, [8, 1, 28, 28]).to(ScalarType.Byte), randint(0, 100, [8]));
        using var data = new ImageDataset("hundred-classes", train, test, [.. Enumerable.Range(0, 100).Select(i => $"c{i}")],
            [0.5f], [0.25f], "generated");
        using var model = ModelZoo.Create("mlp-32", 1, 100);
        var probe = new Probe(new CrossEntropyTerm(), logitsOnly: true);
        Trainer.Train(model, data, new Objective().Add(probe), new TrainOptions { Epochs = 1, BatchSize = 16, Device = "cpu", Progress = false });
        Assert.Equal(2, probe.Threads.Count);
        Assert.All(probe.Threads, n => Assert.Equal(2, n));
    }
}
