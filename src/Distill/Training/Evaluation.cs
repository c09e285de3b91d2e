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
        using var scope = NewDisposeScope();
        var correct = logits.argmax(1).eq(labels.to(logits.device)).sum().item<long>();
        return 100.0 * correct / labels.shape[0];
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
