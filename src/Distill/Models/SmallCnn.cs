using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>
/// The small CNN used as the Fashion-MNIST teacher (see the KD calibration note in the docs):
/// conv(w)-conv(w)-maxpool-conv(2w)-maxpool-fc(8w)-fc(classes), 3x3 convolutions with batch norm and ReLU, dropout
/// before each fully connected layer. Default width w = 32 gives conv32-conv32-pool-conv64-pool-fc256.
/// Features: "stage1" [B, w, H/2, W/2], "stage2" [B, 2w, H/4, W/4], "fc" [B, 8w] (ReLU output).
/// </summary>
public sealed class SmallCnn : DistillModel
{
    private static readonly string[] Names = ["stage1", "stage2", "fc"];

    private readonly Sequential stage1;
    private readonly Sequential stage2;
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly double dropout;
    private readonly long flat;
    // The first convolution's weight for CheckInput; a Func, since a Conv2d field would be registered a second time
    // (outside stage1) and rename the state-dict keys checkpoints hold.
    private readonly Func<Tensor> conv1Weight;

    /// <param name="imageHeight">Input height; the flattened size of stage 2 depends on it (28 for Fashion-MNIST).</param>
    public SmallCnn(int inChannels, int numClasses, int imageHeight = 28, int imageWidth = 28, int width = 32, double dropout = 0.3)
        : base("SmallCnn")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (imageHeight < 4 || imageWidth < 4)
            throw new ArgumentException($"SmallCnn needs images of at least 4x4 (two 2x2 poolings), got {imageHeight}x{imageWidth}.");
        if (!(dropout is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout is a probability in [0, 1).");

        this.dropout = dropout;
        var conv1 = nn.Conv2d(inChannels, width, 3, padding: 1, bias: false);
        conv1Weight = () => conv1.weight!;
        stage1 = nn.Sequential(
            ("conv1", conv1), ("bn1", nn.BatchNorm2d(width)), ("relu1", nn.ReLU(inplace: true)),
            ("conv2", nn.Conv2d(width, width, 3, padding: 1, bias: false)), ("bn2", nn.BatchNorm2d(width)), ("relu2", nn.ReLU(inplace: true)),
            ("pool", nn.MaxPool2d(2)));
        stage2 = nn.Sequential(
            ("conv3", nn.Conv2d(width, 2 * width, 3, padding: 1, bias: false)), ("bn3", nn.BatchNorm2d(2 * width)), ("relu3", nn.ReLU(inplace: true)),
            ("pool", nn.MaxPool2d(2)));
        flat = 2L * width * (imageHeight / 4) * (imageWidth / 4);
        fc1 = nn.Linear(flat, 8L * width);
        fc2 = nn.Linear(8L * width, numClasses);
        RegisterComponents();
        ModelInit.KaimingConvs(this, zeroLinearBias: false);
    }

    public override IReadOnlyList<string> FeatureNames => Names;

    public override ModelOutput forward(Tensor input)
    {
        // Pooling.Run: the stages' max-pools skip libtorch's slow kernel where no gradient is recorded.
        CheckInput(input, conv1Weight(), convolutional: true);
        // Checked before the stages, from the sizes the two 2x2 pools leave: an input under 4x4 failed inside the pooling
        // with libtorch's "output size is too small".
        var values = 2 * conv1Weight().shape[0] * (input.shape[^2] / 4) * (input.shape[^1] / 4);
        if (values != flat)
            throw new ArgumentException(
                $"SmallCnn was built for another image size: input [{string.Join(", ", input.shape)}] gives {values} " +
                $"values after stage 2, fc expects {flat}. Create it with the dataset's image size (ModelOptions.ImageSize).");
        var s1 = Pooling.Run(stage1, input);
        var s2 = Pooling.Run(stage2, s1);
        var x = nn.functional.dropout(s2.flatten(1), dropout, training);
        var f = nn.functional.relu(fc1.call(x));
        var logits = fc2.call(nn.functional.dropout(f, dropout, training));
        return new ModelOutput(logits, [("stage1", s1), ("stage2", s2), ("fc", f)]);
    }
}
