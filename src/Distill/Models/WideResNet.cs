using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>
/// Wide residual network WRN-d-k of Zagoruyko and Komodakis (2016), "Wide residual networks", Table 1: a 3x3 stem of 16,
/// three groups of n = (d - 4) / 6 pre-activation blocks (BN-ReLU-conv3x3-[dropout]-BN-ReLU-conv3x3) of width 16k, 32k,
/// 64k at strides 1, 2, 2, then BN-ReLU, global average pooling and a linear layer. 1x1 convolution shortcuts where
/// the width changes, as in their code and RepDistiller's models/wrn.py.
/// Features: "stem", "stage1", "stage2", "stage3" (group outputs, before the next BN-ReLU, i.e. what attention transfer
/// uses in Zagoruyko and Komodakis 2017) and "pool" [B, 64k] (after the final BN-ReLU and pooling).
/// </summary>
public sealed class WideResNet : DistillModel
{
    private static readonly string[] Names = ["stem", "stage1", "stage2", "stage3", "pool"];

    private readonly Conv2d conv1;
    private readonly NetworkBlock block1;
    private readonly NetworkBlock block2;
    private readonly NetworkBlock block3;
    private readonly BatchNorm2d bn1;
    private readonly Linear fc;

    /// <param name="depth">6n + 4: 16, 22, 28, 40, ...</param>
    /// <param name="widenFactor">k: group widths are 16k, 32k, 64k.</param>
    /// <param name="dropout">Dropout between the two convolutions of every block in training (the paper's 0.3).</param>
    public WideResNet(int depth, int widenFactor, int inChannels, int numClasses, double dropout = 0)
        : base($"wrn-{depth}-{widenFactor}")
    {
        if (depth < 10 || (depth - 4) % 6 != 0)
            throw new ArgumentException($"WRN depth must be 6n + 4 with n ≥ 1 (10, 16, 22, 28, 40, ...), got {depth}.", nameof(depth));
        ArgumentOutOfRangeException.ThrowIfLessThan(widenFactor, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        if (!(dropout is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout is a probability in [0, 1).");

        var n = (depth - 4) / 6;
        int[] w = [16, 16 * widenFactor, 32 * widenFactor, 64 * widenFactor];
        conv1 = nn.Conv2d(inChannels, w[0], 3, padding: 1, bias: false);
        block1 = new NetworkBlock(w[0], w[1], n, 1, dropout);
        block2 = new NetworkBlock(w[1], w[2], n, 2, dropout);
        block3 = new NetworkBlock(w[2], w[3], n, 2, dropout);
        bn1 = nn.BatchNorm2d(w[3]);
        fc = nn.Linear(w[3], numClasses);
        Depth = depth;
        WidenFactor = widenFactor;
        RegisterComponents();
        ChannelsLast = true;
        ModelInit.KaimingConvs(this, zeroLinearBias: true);
    }

    public int Depth { get; }

    public int WidenFactor { get; }

    public override IReadOnlyList<string> FeatureNames => Names;

    public override ModelOutput forward(Tensor input)
    {
        CheckInput(input, conv1.weight!, convolutional: true);
        var stem = Layout(conv1.call(Layout(input)));
        var s1 = block1.call(stem);
        var s2 = block2.call(s1);
        var s3 = block3.call(s2);
        var pool = ModelInit.GlobalAvgPool(bn1.call(s3).relu_());
        return new ModelOutput(fc.call(pool), [("stem", stem), ("stage1", s1), ("stage2", s2), ("stage3", s3), ("pool", pool)]);
    }

    /// <summary>One group of blocks. Parameter names match RepDistiller's wrn.py ("block1.layer.0.conv1.weight",
    /// "convShortcut"), so its checkpoints map one to one.</summary>
    private sealed class NetworkBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Sequential layer;

        public NetworkBlock(int inPlanes, int outPlanes, int blocks, int stride, double dropout) : base("NetworkBlock")
        {
            var list = new List<nn.Module<Tensor, Tensor>> { new WideBlock(inPlanes, outPlanes, stride, dropout) };
            for (var i = 1; i < blocks; i++) list.Add(new WideBlock(outPlanes, outPlanes, 1, dropout));
            layer = nn.Sequential(list);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => layer.call(x);
    }

    /// <summary>Pre-activation block. When the width changes, the shortcut (1x1 conv) takes the activated input, as in
    /// the reference code; otherwise the identity takes the raw input.</summary>
    private sealed class WideBlock : nn.Module<Tensor, Tensor>
    {
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn2;
        private readonly Conv2d conv2;
        private readonly Conv2d? convShortcut;
        private readonly double dropout;

        public WideBlock(int inPlanes, int outPlanes, int stride, double dropout) : base("WideBlock")
        {
            bn1 = nn.BatchNorm2d(inPlanes);
            conv1 = nn.Conv2d(inPlanes, outPlanes, 3, stride: stride, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(outPlanes);
            conv2 = nn.Conv2d(outPlanes, outPlanes, 3, padding: 1, bias: false);
            if (inPlanes != outPlanes)
                convShortcut = nn.Conv2d(inPlanes, outPlanes, 1, stride: stride, bias: false);
            else if (stride != 1)
                throw new ArgumentException("A WRN block that keeps its width must have stride 1.");
            this.dropout = dropout;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var a = bn1.call(x).relu_();
            var y = bn2.call(conv1.call(a)).relu_();
            if (dropout > 0) y = nn.functional.dropout(y, dropout, training);
            y = conv2.call(y);
            return y.add_(convShortcut is null ? x : convShortcut.call(a));
        }
    }
}
