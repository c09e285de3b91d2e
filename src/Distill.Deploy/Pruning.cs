using System.Globalization;
using Distill.Data;
using Distill.Losses;
using Distill.Models;
using Distill.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Deploy;

/// <summary>
/// Pruning beside distillation: unstructured global magnitude pruning with fine-tuning (Han et al. 2015, "Learning both
/// weights and connections for efficient neural networks"), and structured channel pruning of the small CNN by the L1
/// norm of each filter (Li et al. 2017, "Pruning filters for efficient ConvNets", §3.1), which builds a narrower model.
/// </summary>
public static class Pruning
{
    /// <summary>Zeroes the <paramref name="sparsity"/> fraction of smallest-magnitude weights over every Conv2d and
    /// Linear weight of the model at once (one global threshold, so layers lose different shares), and returns the
    /// masks (1 = kept) by parameter. Biases and batch-norm parameters are not pruned.</summary>
    public static Dictionary<Parameter, Tensor> GlobalMagnitude(DistillModel model, double sparsity)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(sparsity is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "sparsity is the pruned fraction of weights, in [0, 1).");
        using var _ = no_grad();
        // The concatenated magnitudes and each layer's |w| are model-sized: freed here, not left to the finalizer.
        using var scope = NewDisposeScope();
        var weights = Prunable(model).Select(w => w.Weight).ToList();
        var all = cat(weights.Select(w => w.abs().flatten()).ToList());
        var k = (long)Math.Floor(sparsity * all.shape[0]);
        var masks = new Dictionary<Parameter, Tensor>();
        // Ties at the threshold are pruned too: with k = 0 nothing is, the threshold being below every magnitude.
        var threshold = k == 0 ? -1f : all.kthvalue(k, 0).values.item<float>();
        foreach (var w in weights)
        {
            var mask = w.abs().gt(threshold).to(w.dtype).MoveToOuterDisposeScope();
            w.mul_(mask);
            masks[w] = mask;
        }
        return masks;
    }

    /// <summary>The largest sparsity <see cref="GlobalMagnitude"/> takes that leaves every Conv2d and Linear layer at
    /// least one weight, and the layer that runs out first (the one whose largest magnitude is smallest): the global
    /// threshold reaches it there, and a layer with no weight left passes nothing on (0.999999 pruned 100%).</summary>
    public static SparsityLimit LargestSparsity(DistillModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = no_grad();
        // abs(), lt() and sum() make a model-sized temporary per layer: freed here, not left to the finalizer.
        using var scope = NewDisposeScope();
        var weights = Prunable(model);
        var (layer, least) = weights.Select(w => (w.Name, Max: w.Weight.abs().max().item<float>())).MinBy(w => w.Max);
        long below = weights.Sum(w => w.Weight.abs().lt(least).sum().item<long>()), total = weights.Sum(w => w.Weight.numel());
        return new(below, total, layer);
    }

    /// <summary>What <see cref="LargestSparsity"/> finds: <paramref name="Below"/> of the <paramref name="Total"/> prunable
    /// weights are smaller than the largest one of <paramref name="Layer"/>, the layer that runs out first.</summary>
    public readonly record struct SparsityLimit(long Below, long Total, string Layer)
    {
        /// <summary>Whether <see cref="GlobalMagnitude"/> at <paramref name="sparsity"/> leaves <see cref="Layer"/> a weight:
        /// it prunes floor(sparsity·total) weights (ties at the threshold too), which spares that layer's largest one while
        /// the count stays at most <see cref="Below"/>. Exact: a rounded bound refused values between it and this one.</summary>
        public bool Allows(double sparsity) => (long)Math.Floor(sparsity * Total) <= Below;

        /// <summary>The bound for a message, rounded down to 4 digits so that the value shown is itself allowed.</summary>
        public double Shown => Math.Floor((double)Below / Total * 1e4) / 1e4;

        /// <summary>Whether <paramref name="sparsity"/> prunes at least one weight: below 1/<see cref="Total"/> it prunes
        /// none, and the run was saved as "pruned" with no zero weight (1e-5 of 52,616).</summary>
        public bool PrunesAny(double sparsity) => (long)Math.Floor(sparsity * Total) >= 1;

        /// <summary>The least sparsity that prunes a weight, rounded up to 3 significant digits for a message (so that the
        /// value shown is itself enough).</summary>
        public double Least
        {
            get
            {
                var least = 1.0 / Total;
                var scale = Math.Pow(10, Math.Floor(Math.Log10(least)) - 2);
                var shown = Math.Ceiling(least / scale) * scale;
                return PrunesAny(shown) ? shown : shown + scale;
            }
        }
    }

    /// <summary>The weights pruning acts on, with their module names: every Conv2d and Linear weight (not biases or
    /// batch-norm parameters), in module order.</summary>
    static List<(string Name, Parameter Weight)> Prunable(DistillModel model) =>
        model.named_modules().Select(m => (m.name, Weight: m.module switch { Conv2d c => c.weight, Linear l => l.weight, _ => null }))
            .Where(m => m.Weight is not null).Select(m => (m.name, m.Weight!)).ToList();

    /// <summary>Fraction of the masked weights that are zero.</summary>
    public static double Sparsity(IReadOnlyDictionary<Parameter, Tensor> masks)
    {
        ArgumentNullException.ThrowIfNull(masks);
        double total = masks.Values.Sum(m => m.numel()), kept = masks.Values.Sum(m => m.sum().item<float>());
        return 1 - kept / total;
    }

    /// <summary>Fine-tunes a pruned model with the library's Trainer, multiplying the masks back in after every
    /// optimizer step, so pruned weights stay zero (momentum and weight decay would otherwise revive them).</summary>
    public static TrainResult FineTune(DistillModel model, IReadOnlyDictionary<Parameter, Tensor> masks, ImageDataset data, TrainOptions options, Objective? objective = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var user = options.OnStepEnd;
        return Trainer.Train(model, data, objective ?? new Objective().Add(new CrossEntropyTerm()), options with
        {
            OnStepEnd = step =>
            {
                using (no_grad())
                    foreach (var (w, mask) in masks) w.mul_(mask);
                user?.Invoke(step);
            },
        });
    }

    /// <summary>
    /// Removes the <paramref name="fraction"/> of channels with the smallest filter L1 norm from every layer of a
    /// <see cref="SmallCnn"/> of width w, and returns the narrower zoo model cnn-w' (w' = round(w·(1 − fraction))) with
    /// the kept filters, batch-norm channels and fully connected rows/columns copied in: conv1 and conv2 keep w' of w,
    /// conv3 2w' of 2w, fc1 8w' of 8w (rows ranked by L1 norm too). Every layer keeps the same share, so the result is
    /// a plain zoo model that the exporter, the checkpoints and the CLI already know.
    /// </summary>
    public static SmallCnn Channels(SmallCnn model, double fraction, int imageSize = 28)
    {
        ArgumentNullException.ThrowIfNull(model);
        var sd = model.state_dict();
        var width = Width(model);
        var kept = Kept(width, fraction);
        if (!(fraction is >= 0 and < 1) || kept < 1)
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, $"Channel pruning of width {width} keeps round({width}·(1 − fraction)) ≥ 1 channels; give a fraction in [0, 1) that keeps at least one.");
        if (fraction > 0 && ChannelFractionProblem(width, fraction) is { } problem)
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, $"Channel pruning of cnn-{width}: {problem}.");
        var inChannels = (int)sd["stage1.conv1.weight"].shape[1];
        var classes = (int)sd["fc2.weight"].shape[0];
        var pruned = (SmallCnn)ModelZoo.Create($"cnn-{kept}", inChannels, classes, new ModelOptions { ImageSize = imageSize });
        var target = pruned.state_dict();
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        var all = arange(inChannels);
        var c1 = Strongest(sd["stage1.conv1.weight"], kept);
        var c2 = Strongest(sd["stage1.conv2.weight"], kept);
        var c3 = Strongest(sd["stage2.conv3.weight"], 2 * kept);
        var f1 = Strongest(sd["fc1.weight"], 8 * kept);
        Conv(sd, target, "stage1.conv1", "stage1.bn1", c1, all);
        Conv(sd, target, "stage1.conv2", "stage1.bn2", c2, c1);
        Conv(sd, target, "stage2.conv3", "stage2.bn3", c3, c2);
        // fc1 reads conv3's output flattened channel-major: channel c owns columns c·HW ... (c+1)·HW − 1.
        var hw = sd["fc1.weight"].shape[1] / sd["stage2.conv3.weight"].shape[0];
        var columns = (c3.view(-1, 1) * hw + arange(hw).view(1, -1)).flatten();
        target["fc1.weight"].copy_(sd["fc1.weight"].index_select(0, f1).index_select(1, columns));
        target["fc1.bias"].copy_(sd["fc1.bias"].index_select(0, f1));
        target["fc2.weight"].copy_(sd["fc2.weight"].index_select(1, f1));
        target["fc2.bias"].copy_(sd["fc2.bias"]);
        pruned.eval();
        return pruned;
    }

    /// <summary>The width w of a <see cref="SmallCnn"/> (cnn-w): conv1's output channels.</summary>
    public static int Width(SmallCnn model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return (int)model.state_dict()["stage1.conv1.weight"].shape[0];
    }

    /// <summary>Channels per w that <see cref="Channels"/> keeps: round(w·(1 − fraction)), halves away from zero (cnn-5
    /// at 0.5 keeps 3). Halves to even, as Math.Round has it, kept 2 of cnn-5 and 2 of cnn-3: the same 0.5 removed 60 % of
    /// one and 33 % of the other.</summary>
    public static int Kept(int width, double fraction) => (int)Math.Round(width * (1 - fraction), MidpointRounding.AwayFromZero);

    /// <summary>The largest fraction, in hundredths, that still keeps a channel of a width-<paramref name="width"/> CNN.</summary>
    public static double LargestChannelFraction(int width)
    {
        var f = Math.Floor(100 * (1 - 0.5 / width)) / 100;
        while (f > 0 && Kept(width, f) < 1) f = Math.Round(f - 0.01, 2);
        return f;
    }

    /// <summary>The smallest fraction, in hundredths, that removes a channel of a width-<paramref name="width"/> CNN.</summary>
    public static double SmallestChannelFraction(int width)
    {
        var f = Math.Ceiling(100 * 0.5 / width) / 100;
        while (f < 1 && Kept(width, f) == width) f = Math.Round(f + 0.01, 2);
        return f;
    }

    /// <summary>Why removing <paramref name="fraction"/> (in [0, 1)) of a width-<paramref name="width"/> CNN's channels
    /// prunes nothing useful, as words the CLI and the recipe check both give; null when it removes some and keeps some.
    /// A fraction whose rounding kept every channel (cnn-1 at 0.3, cnn-8 at 0.05) fine-tuned the unpruned model and
    /// recorded it as pruned.</summary>
    public static string? ChannelFractionProblem(int width, double fraction)
    {
        var kept = Kept(width, fraction);
        var round = string.Create(CultureInfo.InvariantCulture, $"round({width}·(1 − {fraction}))");
        if (width == 1) return "it has 1 channel per layer, so channel pruning cannot remove one and keep one; prune its weights instead (unstructured pruning)";
        if (kept < 1) return string.Create(CultureInfo.InvariantCulture, $"removing that fraction of its {width} channels per layer keeps {round} = 0 of them; give at most {LargestChannelFraction(width)}");
        if (kept == width) return string.Create(CultureInfo.InvariantCulture, $"removing that fraction of its {width} channels per layer keeps {round} = {width}, all of them, so nothing would be pruned; give at least {SmallestChannelFraction(width)}");
        return null;
    }

    /// <summary>Indices (ascending) of the <paramref name="count"/> rows with the largest L1 norm.</summary>
    static Tensor Strongest(Tensor weight, int count) =>
        weight.abs().flatten(1).sum(1).topk(count).indexes.sort().Values;

    static void Conv(IDictionary<string, Tensor> from, IDictionary<string, Tensor> to, string conv, string bn, Tensor outIndex, Tensor inIndex)
    {
        to[$"{conv}.weight"].copy_(from[$"{conv}.weight"].index_select(0, outIndex).index_select(1, inIndex));
        foreach (var p in new[] { "weight", "bias", "running_mean", "running_var" })
            to[$"{bn}.{p}"].copy_(from[$"{bn}.{p}"].index_select(0, outIndex));
    }
}
