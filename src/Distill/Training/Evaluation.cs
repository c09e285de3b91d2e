using System.Runtime.CompilerServices;
using Distill.Data;
using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Training;

/// <summary>Whole-split inference: logits and accuracy, in eval mode without gradients, in batches.</summary>
public static class Evaluation
{
    /// <summary>Logits [N, K] (float32, on the CPU) of <paramref name="model"/> for every image of <paramref name="split"/>.</summary>
    public static Tensor Logits(DistillModel model, ImageDataset data, Split split, string device = "auto", int batchSize = 1000)
    {
        var dev = TorchRuntime.ResolveDevice(device);
        using var scope = NewDisposeScope();
        var images = split.Images.to(dev);
        return Logits(model, data, images, batchSize).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>Test accuracy (%) of <paramref name="model"/> on <paramref name="split"/> (default: the test split).</summary>
    public static double Accuracy(DistillModel model, ImageDataset data, Split? split = null, string device = "auto", int batchSize = 1000)
    {
        split ??= data.Test;
        using var scope = NewDisposeScope();
        using var logits = Logits(model, data, split, device, batchSize);
        return Accuracy(logits, split.Labels);
    }

    /// <summary>Percentage of rows whose arg-max equals the label.</summary>
    public static double Accuracy(Tensor logits, Tensor labels)
    {
        // Checked here: libtorch's broadcast error named neither argument, and no rows gave NaN.
        if (logits.dim() != 2 || labels.dim() != 1 || logits.shape[0] != labels.shape[0] || labels.shape[0] == 0)
            throw new ArgumentException($"Accuracy needs logits [N, classes] and labels [N] with N ≥ 1, got logits [{string.Join(", ", logits.shape)}] and labels [{string.Join(", ", labels.shape)}].");
        using var scope = NewDisposeScope();
        var correct = logits.argmax(1).eq(labels.to(logits.device)).sum().item<long>();
        return 100.0 * correct / labels.shape[0];
    }

    /// <summary>The most bytes one layer's output may take in an evaluation batch on the CPU: 16 MB, half of glibc's
    /// largest mmap threshold (32 MB). Why: libtorch's CPU allocator has no cache, and glibc maps every larger block
    /// afresh, so each such activation is faulted in page by page and unmapped again. Measured on this machine (2 threads,
    /// 10,000 test images): the width-32 CNN took 11-13.5 s in batches of 1000 ([1000, 32, 28, 28] is 100 MB) against
    /// 1.5 s in batches of 160-320, resnet20 23-27 s against 4.5 s. The convolutions give the same bits at every batch
    /// size (each image's are computed alone); the fully connected layers' GEMMs did too on the AVX-512 machine, but on
    /// an AVX2-only one MKL rounds some rows' sums differently for another batch size (the CNN's logits 7e-8 apart), so
    /// the logits agree to float32 rounding, and the same cap gives the same bits every run. The MLPs' layers are small,
    /// so they keep the batch asked for.</summary>
    public const long CpuActivationBytes = 16L << 20;

    static readonly ConditionalWeakTable<DistillModel, Dictionary<string, long>> LargestOutputs = new();

    /// <summary>The evaluation batch for <paramref name="model"/> on <paramref name="images"/>: at most
    /// <paramref name="batchSize"/>, and on the CPU at most as many images as keep its largest layer output within
    /// <see cref="CpuActivationBytes"/>.</summary>
    internal static int BatchFor(DistillModel model, ImageDataset data, Tensor images, int batchSize)
    {
        if (images.device_type != TorchSharp.DeviceType.CPU || images.shape[0] <= 1) return batchSize;
        var perImage = LargestOutputPerImage(model, data, images);
        return (int)Math.Clamp(CpuActivationBytes / Math.Max(1, perImage * sizeof(float)), 1, batchSize);
    }

    /// <summary>The largest output (elements) of any layer or feature of <paramref name="model"/> for one image,
    /// measured once per model and image shape (<see cref="LayerOutputs.Observe"/>).</summary>
    static long LargestOutputPerImage(DistillModel model, ImageDataset data, Tensor images)
    {
        var key = string.Join("x", images.shape.Skip(1));
        var known = LargestOutputs.GetOrCreateValue(model);
        lock (known)
            if (known.TryGetValue(key, out var cached)) return cached;
        long largest = images[0].numel();
        using (var one = data.Normalize(images.narrow(0, 0, 1)))
            LayerOutputs.Observe(model, one, (_, output) => largest = Math.Max(largest, output.numel()),
                output => { foreach (var (_, feature) in output.Features) largest = Math.Max(largest, feature.numel()); });
        lock (known) known[key] = largest;
        return largest;
    }

    /// <summary>Logits for uint8 images already on the model's device; the model's train/eval mode is restored.</summary>
    internal static Tensor Logits(DistillModel model, ImageDataset data, Tensor images, int batchSize)
    {
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            batchSize = BatchFor(model, data, images, batchSize);
            var n = images.shape[0];
            var parts = new List<Tensor>();
            for (long i = 0; i < n; i += batchSize)
            {
                using var batchScope = NewDisposeScope();
                var x = data.Normalize(images.narrow(0, i, Math.Min(batchSize, n - i)));
                parts.Add(model.call(x).Logits.MoveToOuterDisposeScope());
            }
            return cat(parts, 0).MoveToOuterDisposeScope();
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
