using System.Globalization;
using Distill.Data;
using Distill.Models;
using static TorchSharp.torch;

namespace Distill.Deploy;

/// <summary>Accuracy of an ONNX model on a dataset split, and its agreement with the TorchSharp model it came from.</summary>
public static class OnnxEvaluation
{
    /// <summary>Logits [N, K] from ONNX Runtime for uint8 <paramref name="images"/>, normalised as the model was trained.
    /// <paramref name="cancellation"/> is checked between batches (a stop throws <see cref="OperationCanceledException"/>).</summary>
    public static Tensor Logits(OnnxRunner runner, ImageDataset data, Tensor images, int batchSize = 500, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(data);
        var rows = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += batchSize)
        {
            if (cancellation.IsCancellationRequested)
            {
                rows.ForEach(r => r.Dispose());
                throw new OperationCanceledException(string.Create(CultureInfo.InvariantCulture, $"stopped after {start:N0} of {images.shape[0]:N0} images in ONNX Runtime"), cancellation);
            }
            using var scope = NewDisposeScope();
            var batch = data.Normalize(images.narrow(0, start, Math.Min(batchSize, images.shape[0] - start))).cpu().contiguous();
            var logits = runner.Run(batch.data<float>().ToArray(), (int)batch.shape[0]);
            rows.Add(tensor(logits).view(batch.shape[0], -1).MoveToOuterDisposeScope());
        }
        var all = cat(rows, 0);
        rows.ForEach(r => r.Dispose());
        return all;
    }

    /// <summary>Percentage of <paramref name="split"/> ONNX Runtime classifies correctly.</summary>
    public static double Accuracy(OnnxRunner runner, ImageDataset data, Split split, CancellationToken cancellation = default)
    {
        using var logits = Logits(runner, data, split.Images, cancellation: cancellation);
        return Distill.Training.Evaluation.Accuracy(logits, split.Labels);
    }

    /// <summary>Largest |ONNX Runtime − TorchSharp| logit and the share of images both classify alike (%).</summary>
    /// <returns>The largest |ONNX Runtime − TorchSharp| logit difference, the share of predictions that agree (%), and
    /// the largest difference relative to its own image's largest |logit| where that is above 1 (float32 rounding grows
    /// with the logits; per image, so one image of large logits does not loosen the check for the others).</returns>
    public static (double MaxDifference, double Agreement, double Relative) Compare(OnnxRunner runner, DistillModel model, ImageDataset data, Tensor images,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        var ort = Logits(runner, data, images, cancellation: cancellation);
        model.eval();
        using var _ = no_grad();
        var torch = model.call(data.Normalize(images)).Logits.cpu();
        if (ort.shape[1] != torch.shape[1])
            throw new InvalidDataException($"{runner.ModelPath} gives {NumberText.Count(ort.shape[1], "value")} per image and the checkpoint's model {torch.shape[1]} logits: it is not an export of this model; " +
                "check a model against the checkpoint it was exported from.");
        var agreement = 100.0 * ort.argmax(1).eq(torch.argmax(1)).sum().item<long>() / images.shape[0];
        var difference = (ort - torch).abs();
        var relative = (difference.amax([1]) / torch.abs().amax([1]).clamp_min(1)).max().item<float>();
        return (difference.max().item<float>(), agreement, relative);
    }

    /// <summary>The first <paramref name="count"/> images of a seeded permutation of the training split, normalised:
    /// the calibration set of static quantization.</summary>
    public static Tensor CalibrationImages(ImageDataset data, int count, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (count < 1)
            throw new ArgumentException($"--calibrate {count}: static int8 quantization measures activation ranges on training images and needs at least 1 (e.g. --calibrate 256).");
        using var scope = NewDisposeScope();
        using var g = new TorchSharp.torch.Generator((ulong)seed);
        var index = randperm(data.Train.Count, generator: g).narrow(0, 0, Math.Min(count, data.Train.Count));
        return data.Normalize(data.Train.Images.index_select(0, index)).MoveToOuterDisposeScope();
    }
}
