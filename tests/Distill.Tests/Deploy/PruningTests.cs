using Distill.Deploy;
using Distill.Models;
using Distill.Tests.Training;
using Distill.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Tests.Deploy;

public class PruningTests(TrainedCnnRun run) : IClassFixture<TrainedCnnRun>
{
    [Fact]
    public void Global_magnitude_prunes_the_smallest_weights_and_fine_tuning_keeps_them_pruned()
    {
        var data = TinyData.FashionMnist2k;
        using var trained = TrainedModel.Load(run.Folder);
        var model = trained.Model;
        var before = model.modules().Select(m => m switch { Conv2d c => c.weight, Linear l => l.weight, _ => null }).OfType<Parameter>().Select(w => w.abs().flatten()).ToList();
        using var magnitudes = cat(before);
        var baseline = Evaluation.Accuracy(model, data, data.Test, "cpu");

        var masks = Pruning.GlobalMagnitude(model, 0.9);
        Assert.Equal(0.9, Pruning.Sparsity(masks), 3);
        Assert.Equal(before.Count, masks.Count); // same module order as `before`
        using var kept = cat(masks.Values.Select(m => m.flatten()).ToList()).to(ScalarType.Bool);
        // Global: every pruned weight is at most every kept one, whatever layer each is in.
        var (maxPruned, minKept) = (magnitudes.masked_select(kept.logical_not()).max().item<float>(), magnitudes.masked_select(kept).min().item<float>());
        Assert.True(maxPruned <= minKept, $"largest pruned |w| {maxPruned}, smallest kept {minKept}, {masks.Count} masks, {magnitudes.shape[0]} vs {kept.shape[0]}");
        var pruned = Evaluation.Accuracy(model, data, data.Test, "cpu");

        Pruning.FineTune(model, masks, data, new TrainOptions { Epochs = 1, BatchSize = 64, Device = "cpu", Progress = false, Optimizer = OptimizerSpec.Sgd(0.01) });
        var tuned = Evaluation.Accuracy(model, data, data.Test, "cpu");
        foreach (var (w, mask) in masks) Assert.Equal(0, w.masked_select(mask.eq(0)).abs().sum().item<float>());
        Assert.True(tuned > pruned, $"baseline {baseline:F1}%, pruned to 90% {pruned:F1}%, fine-tuned {tuned:F1}%");
    }

    /// <summary>--sparsity 0.999999 emptied layers (100% pruned) and fine-tuned an all-zero model: the largest sparsity
    /// that keeps a weight in every layer is known, and `deploy prune` refuses one above it, as --channels refuses a
    /// fraction keeping no channel.</summary>
    [Fact]
    public void A_sparsity_that_empties_a_layer_is_refused_with_the_largest_that_does_not()
    {
        using var trained = TrainedModel.Load(run.Folder);
        var limit = Pruning.LargestSparsity(trained.Model);
        Assert.InRange(limit.Shown, 0.5, 0.9999);
        Assert.True(limit.Allows(limit.Shown));
        // The bound is exact: a sparsity between the 4-digit one shown and the true one prunes Below weights, which the
        // rounded bound refused; one weight more empties the layer.
        var between = (limit.Below + 0.5) / limit.Total;
        Assert.True(between > limit.Shown && limit.Allows(between), $"{between} vs {limit.Shown}");
        Assert.False(limit.Allows((limit.Below + 1.0) / limit.Total));
        var masks = Pruning.GlobalMagnitude(trained.Model, between);
        Assert.All(masks.Values, m => Assert.True(m.sum().item<float>() >= 1));

        using var dir = new TempDir();
        var (code, _, stderr) = Distill.Tests.Onboarding.Repo.RunCli(["deploy", "prune", run.Folder, "--out", dir.File("p"), "--sparsity", "0.999999"]);
        Assert.Equal(1, code);
        // The bound shown is the example: a fixed "(e.g. 0.9)" could be above it.
        Assert.Equal($"error: --sparsity 0.999999: pruning that fraction of cnn-8's weights leaves its layer {limit.Layer} no weight at all " +
                     $"(the global threshold passes its largest one); give at most {limit.Shown}.", stderr.Trim());
        Assert.False(Directory.Exists(dir.File("p")));
    }

    /// <summary>A sparsity below one weight of the model's pruned nothing and was saved as a pruned run (1e-5 of cnn-8's
    /// 52,616); the least that prunes one is named, and itself prunes.</summary>
    [Fact]
    public void A_sparsity_below_one_weight_is_refused_with_the_least_that_prunes()
    {
        using var trained = TrainedModel.Load(run.Folder);
        var limit = Pruning.LargestSparsity(trained.Model);
        Assert.False(limit.PrunesAny(0.5 / limit.Total));
        Assert.True(limit.PrunesAny(limit.Least));
        Assert.InRange(limit.Least, 1.0 / limit.Total, 1.01 / limit.Total);
        using var dir = new TempDir();
        var (code, _, stderr) = Distill.Tests.Onboarding.Repo.RunCli(["deploy", "prune", run.Folder, "--out", dir.File("p"), "--sparsity", "1e-5"]);
        Assert.Equal(1, code);
        Assert.Equal($"error: --sparsity 1E-05: that fraction of cnn-8's {limit.Total:N0} prunable weights is less than one weight, so nothing would be pruned; give at least {limit.Least}.", stderr.Trim());
        Assert.False(Directory.Exists(dir.File("p")));
    }

    /// <summary>--force into a folder a run is writing: refused before the model loads and the test set is scored, which
    /// it had done (minutes for a large model) only to find the lock when it came to train.</summary>
    [Fact]
    public void A_forced_prune_into_a_folder_in_use_is_refused_before_anything_loads()
    {
        using var dir = new TempDir();
        var busy = dir.File("busy");
        Directory.CreateDirectory(busy);
        using var held = Distill.Training.FolderLock.TryTake(Path.Combine(busy, "run.lock"));
        Assert.NotNull(held);
        var (code, stdout, stderr) = Distill.Tests.Onboarding.Repo.RunCli(["deploy", "prune", run.Folder, "--out", busy, "--sparsity", "0.5", "--force"]);
        Assert.Equal(1, code);
        Assert.Equal($"error: --out {busy} is in use by another run (PID {Environment.ProcessId}). Wait for it to finish, or give another folder.", stderr.Trim());
        Assert.DoesNotContain("test accuracy", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Channel_pruning_removes_channels_exactly_and_exports_a_smaller_model()
    {
        var model = (SmallCnn)OnnxExportTests.SeededModel("cnn-8", 1);
        // Silence the weakest half of every layer (zero filter, zero BN scale and shift, zero fc row and bias): their
        // outputs are exactly 0 after ReLU, so a correct pruner removes them without changing the logits at all.
        var sd = model.state_dict();
        using (no_grad())
        {
            foreach (var (conv, bn, n) in new[] { ("stage1.conv1", "stage1.bn1", 8L), ("stage1.conv2", "stage1.bn2", 8), ("stage2.conv3", "stage2.bn3", 16) })
            {
                using var dead = arange(1, n, 2); // odd channels
                sd[$"{conv}.weight"].index_fill_(0, dead, 0);
                sd[$"{bn}.weight"].index_fill_(0, dead, 0);
                sd[$"{bn}.bias"].index_fill_(0, dead, 0);
            }
            using var rows = arange(0, 64, 2);
            sd["fc1.weight"].index_fill_(0, rows, 0);
            sd["fc1.bias"].index_fill_(0, rows, 0);
        }
        using var pruned = Pruning.Channels(model, 0.5);
        Assert.Equal("cnn-4", pruned.ZooName);
        Assert.True(pruned.ParameterCount < model.ParameterCount / 3, $"{pruned.ParameterCount} vs {model.ParameterCount}");

        using var x = randn(6, 1, 28, 28);
        using var want = OnnxExportTests.Logits(model, x);
        using var got = OnnxExportTests.Logits(pruned, x);
        Assert.True((want - got).abs().max().item<float>() < 1e-5, "pruning only silent channels must not change the logits");

        using var dir = new TempDir();
        var (full, thin) = (dir.File("full.onnx"), dir.File("thin.onnx"));
        OnnxExport.Save(OnnxExport.Build(model, [1, 28, 28]), full);
        OnnxExport.Save(OnnxExport.Build(pruned, [1, 28, 28]), thin);
        Assert.True(new FileInfo(thin).Length < new FileInfo(full).Length / 3);
        using var runner = new OnnxRunner(thin);
        var ort = runner.Run(x.data<float>().ToArray(), 6);
        Assert.True(want.data<float>().ToArray().Zip(ort, (a, b) => Math.Abs(a - b)).Max() < 1e-4);
        model.Dispose();
    }
}
