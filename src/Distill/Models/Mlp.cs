using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>
/// Fully connected ReLU network as in Hinton, Vinyals and Dean (2015), "Distilling the knowledge in a neural network",
/// §3: 784-1200-1200-10 with dropout (and input jitter of up to 2 pixels) for the teacher, 784-800-800-10 unregularised
/// for the student. Flattens its input. Dropout follows Srivastava et al. (2014): <c>inputDropout</c> on the
/// pixels (they use 0.2), <c>dropout</c> after every hidden layer (0.5).
/// Features: "hidden1", "hidden2", ... = each hidden layer's ReLU output, before dropout.
/// </summary>
public sealed class Mlp : DistillModel
{
    private readonly ModuleList<Linear> hidden;
    private readonly Linear fc;
    private readonly long inFeatures;
    private readonly double dropout, inputDropout, inputNoise;
    private readonly int jitter;
    private readonly string[] featureNames;

    /// <param name="inFeatures">Values per sample, e.g. 784 for 1x28x28.</param>
    /// <param name="widths">Hidden layer widths, e.g. [1200, 1200].</param>
    /// <param name="jitter">Training only: shift each image by a random integer in [-jitter, jitter] pixels along each
    /// axis (edges replicated), Hinton et al.'s jitter. Needs [B, C, H, W] input.</param>
    /// <param name="inputNoise">Training only: standard deviation of Gaussian noise added to the (normalised) input.</param>
    public Mlp(long inFeatures, IReadOnlyList<int> widths, int numClasses,
               double dropout = 0, double inputDropout = 0, int jitter = 0, double inputNoise = 0) : base("Mlp")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        if (widths.Count == 0 || widths.Any(w => w < 1))
            throw new ArgumentException($"Mlp hidden widths must be one or more positive numbers, got [{string.Join(", ", widths)}].", nameof(widths));
        CheckProbability(dropout, nameof(dropout));
        CheckProbability(inputDropout, nameof(inputDropout));
        ArgumentOutOfRangeException.ThrowIfNegative(jitter);
        ArgumentOutOfRangeException.ThrowIfNegative(inputNoise);

        this.inFeatures = inFeatures;
        this.dropout = dropout;
        this.inputDropout = inputDropout;
        this.jitter = jitter;
        this.inputNoise = inputNoise;
        var layers = new List<Linear>();
        var prev = inFeatures;
        foreach (var w in widths) { layers.Add(nn.Linear(prev, w)); prev = w; }
        hidden = nn.ModuleList(layers.ToArray());
        fc = nn.Linear(prev, numClasses);
        featureNames = [.. Enumerable.Range(1, widths.Count).Select(i => $"hidden{i}")];
        Widths = [.. widths];
        RegisterComponents();
    }

    public IReadOnlyList<int> Widths { get; }

    public override IReadOnlyList<string> FeatureNames => featureNames;

    public override ModelOutput forward(Tensor input)
    {
        CheckInput(input, hidden[0].weight!, convolutional: false);
        var x = input;
        if (training && jitter > 0)
        {
            if (x.dim() != 4)
                throw new ArgumentException($"Mlp jitter needs images [B, C, H, W]; got shape [{string.Join(", ", x.shape)}]. Pass images, or set jitter to 0.");
            x = Jitter(x, jitter);
        }
        if (training && inputNoise > 0) x = x + randn_like(x) * inputNoise;
        x = x.flatten(1);
        if (x.shape[1] != inFeatures)
            throw new ArgumentException(
                $"Mlp expects {inFeatures} input values per sample but got shape [{string.Join(", ", input.shape)}] ({x.shape[1]} per sample). " +
                "Create the model for the dataset's image size (ModelOptions.ImageSize).");
        if (inputDropout > 0) x = nn.functional.dropout(x, inputDropout, training);

        var features = new List<(string, Tensor)>(hidden.Count);
        for (var i = 0; i < hidden.Count; i++)
        {
            x = nn.functional.relu(hidden[i].call(x));
            features.Add((featureNames[i], x));
            if (dropout > 0) x = nn.functional.dropout(x, dropout, training);
        }
        return new ModelOutput(fc.call(x), features);
    }

    /// <summary>
    /// Shifts every image of the batch by its own random offset (dy, dx) ∈ [-max, max]², replicating the edge pixels;
    /// one padded copy and two gathers for the whole batch. Offsets come from the global generator.
    /// </summary>
    public static Tensor Jitter(Tensor images, int max)
    {
        if (max == 0) return images;
        var (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3]);
        var dev = images.device;
        var padded = nn.functional.pad(images, [max, max, max, max], TorchSharp.PaddingModes.Replicate);
        var dy = randint(0, 2 * max + 1, [b, 1], dtype: ScalarType.Int64, device: dev);
        var dx = randint(0, 2 * max + 1, [b, 1], dtype: ScalarType.Int64, device: dev);
        var rows = (dy + arange(h, device: dev)).view(b, 1, h, 1).expand(b, c, h, w + 2 * max);
        var cols = (dx + arange(w, device: dev)).view(b, 1, 1, w).expand(b, c, h, w);
        return padded.gather(2, rows).gather(3, cols);
    }

    private static void CheckProbability(double p, string name)
    {
        if (!(p is >= 0 and < 1)) throw new ArgumentOutOfRangeException(name, p, $"{name} is a probability in [0, 1).");
    }
}
