using Distill.Data;
using Distill.Models;
using Distill.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

/// <summary>Shared real data: a slice of Fashion-MNIST (installed by setup.sh), normalised once and average-pooled to
/// 14x14 so that a few real training steps per family stay cheap on a shared 2-core machine (the models take any size).</summary>
public sealed class FashionMnistSlice : IDisposable
{
    public FashionMnistSlice()
    {
        TorchRuntime.Initialize();
        using var ds = Datasets.FashionMnist();
        using var scope = NewDisposeScope();
        TrainX = nn.functional.avg_pool2d(ds.Normalize(ds.Train.Images[..1024]), 2).DetachFromDisposeScope();
        TrainY = ds.Train.Labels[..1024].clone().DetachFromDisposeScope();
        TestX = nn.functional.avg_pool2d(ds.Normalize(ds.Test.Images[..1000]), 2).DetachFromDisposeScope();
        TestY = ds.Test.Labels[..1000].clone().DetachFromDisposeScope();
    }

    public const int Side = 14;

    public static readonly ModelOptions Options = new() { ImageSize = Side };

    public Tensor TrainX { get; }
    public Tensor TrainY { get; }
    public Tensor TestX { get; }
    public Tensor TestY { get; }

    public void Dispose()
    {
        TrainX.Dispose();
        TrainY.Dispose();
        TestX.Dispose();
        TestY.Dispose();
    }
}

/// <summary>Each family learns from real images, and its training steps hold no tensors past their dispose scope.</summary>
public class ModelTrainingTests(FashionMnistSlice data, Xunit.Abstractions.ITestOutputHelper log) : IClassFixture<FashionMnistSlice>
{
    [Theory]
    [InlineData("mlp-128", 0.65)]
    [InlineData("cnn-8", 0.60)]
    [InlineData("resnet8", 0.60)]
    [InlineData("wrn-10-1", 0.60)]
    public void Learns_fashion_mnist_from_1k_images_far_beyond_its_untrained_accuracy(string name, double minAccuracy)
    {
        manual_seed(11);
        using var model = ModelZoo.Create(name, 1, 10, FashionMnistSlice.Options);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var before = Accuracy(model);
        using var opt = optim.Adam(model.parameters(), lr: 2e-3);
        var gen = new Generator(5);
        for (var epoch = 0; epoch < 3; epoch++)
        {
            using var perm = randperm(data.TrainX.shape[0], generator: gen);
            for (long i = 0; i < perm.shape[0]; i += 64)
            {
                using var scope = NewDisposeScope();
                var idx = perm.narrow(0, i, Math.Min(64, perm.shape[0] - i));
                opt.zero_grad();
                nn.functional.cross_entropy(model.call(data.TrainX[idx]).Logits, data.TrainY[idx]).backward();
                opt.step();
            }
        }
        var after = Accuracy(model);
        log.WriteLine($"{name}: {before:P1} → {after:P1} in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(before < 0.3, $"{name}: untrained accuracy {before:P1}");
        Assert.True(after >= minAccuracy, $"{name}: accuracy after 3 epochs on 1k images {after:P1} (untrained {before:P1})");
    }

    [Theory]
    [InlineData("mlp-64-32")]
    [InlineData("cnn-8")]
    [InlineData("resnet8")]
    [InlineData("wrn-10-1")]
    public void Training_steps_leave_no_live_tensors_behind(string name)
    {
        using var model = ModelZoo.Create(name, 1, 10, name.StartsWith("mlp")
            ? FashionMnistSlice.Options with { Dropout = 0.2, Jitter = 1, InputNoise = 0.1 }
            : FashionMnistSlice.Options);
        using var opt = optim.SGD(model.parameters(), 0.01, momentum: 0.9);
        void Step(int start)
        {
            using var scope = NewDisposeScope();
            var output = model.call(data.TrainX[start..(start + 8)]);
            var loss = nn.functional.cross_entropy(output.Logits, data.TrainY[start..(start + 8)]);
            foreach (var (_, f) in output.Features) loss = loss + 1e-3 * f.square().mean();
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
        Step(0); // the first step creates the momentum buffers, which live with the optimizer
        DisposeScopeManager.Statistics.Reset();
        for (var i = 1; i <= 3; i++) Step(8 * i);
        model.eval();
        using (NewDisposeScope()) model.call(data.TestX[..8]);
        Assert.Equal(0, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Theory]
    [InlineData("cnn-8")]
    [InlineData("resnet8")]
    [InlineData("wrn-10-1")]
    public void Saved_and_loaded_model_gives_identical_outputs_including_batch_norm_statistics(string name)
    {
        manual_seed(3);
        using var model = ModelZoo.Create(name, 1, 10, FashionMnistSlice.Options);
        using (NewDisposeScope()) model.call(data.TrainX[..64]); // train-mode forward moves the running statistics
        var path = Path.Combine(Path.GetTempPath(), $"distill-{name}-{Guid.NewGuid():N}.dat");
        try
        {
            model.save(path);
            manual_seed(4);
            using var copy = ModelZoo.Create(name, 1, 10, FashionMnistSlice.Options);
            copy.load(path);
            model.eval();
            copy.eval();
            using var scope = NewDisposeScope();
            var a = model.call(data.TestX[..32]);
            var b = copy.call(data.TestX[..32]);
            Assert.True(a.Logits.Equals(b.Logits));
            Assert.True(a.Feature("stage2").Equals(b.Feature("stage2")));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Batch_norm_statistics_move_in_training_and_stay_in_eval()
    {
        manual_seed(5);
        using var model = ModelZoo.Create("resnet8", 1, 10);
        var running = model.state_dict().Where(kv => kv.Key.EndsWith("running_mean")).Select(kv => kv.Value).ToArray();
        Assert.NotEmpty(running);
        using var start = stack(running.Select(r => r.sum()).ToArray());
        using (NewDisposeScope()) model.call(data.TrainX[..32]);
        using var trained = stack(running.Select(r => r.sum()).ToArray());
        Assert.False(start.Equals(trained));
        model.eval();
        using (NewDisposeScope()) model.call(data.TrainX[32..64]);
        using var evaluated = stack(running.Select(r => r.sum()).ToArray());
        Assert.True(trained.Equals(evaluated));
    }

    private double Accuracy(DistillModel model)
    {
        var wasTraining = model.training;
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var correct = model.call(data.TestX).Logits.argmax(1).eq(data.TestY).sum().item<long>();
        model.train(wasTraining);
        return correct / (double)data.TestY.shape[0];
    }
}
