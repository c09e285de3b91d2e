using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>
/// CIFAR ResNet of He et al. (2016), "Deep residual learning for image recognition", §4.2: a 3x3 stem and three groups
/// of n basic blocks (depth = 6n + 2) at strides 1, 2, 2, global average pooling, one linear layer. Widths and
/// shortcuts follow RepDistiller (Tian et al. 2020, models/resnet.py): [16, 16, 32, 64] for resnet8…resnet110,
/// [32, 64, 128, 256] for resnet8x4/resnet32x4, 1x1 convolution + BN shortcuts where the shape changes.
/// Any input size works (global pooling): 32x32 gives 32/16/8 maps, 28x28 gives 28/14/7.
/// Parameter names match RepDistiller's ("layer1.0.conv1.weight", "layer2.0.downsample.0.weight", "fc.weight").
/// Features: "stem", "stage1", "stage2", "stage3" (block outputs after ReLU) and "pool" [B, C] (the pooled vector).
/// </summary>
public sealed class CifarResNet : DistillModel
{
    private static readonly string[] Names = ["stem", "stage1", "stage2", "stage3", "pool"];

    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Linear fc;

    /// <param name="depth">6n + 2: 8, 14, 20, 32, 44, 56, 110, ...</param>
    /// <param name="widths">Stem width and the three group widths.</param>
    public CifarResNet(int depth, IReadOnlyList<int> widths, int inChannels, int numClasses) : base($"resnet{depth}")
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
            throw new ArgumentException($"CIFAR ResNet depth must be 6n + 2 with n ≥ 1 (8, 14, 20, 32, 44, 56, 110), got {depth}.", nameof(depth));
        if (widths.Count != 4 || widths.Any(w => w < 1))
            throw new ArgumentException($"CIFAR ResNet needs 4 positive widths (stem, group 1-3), got [{string.Join(", ", widths)}].", nameof(widths));
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);

        var n = (depth - 2) / 6;
        conv1 = nn.Conv2d(inChannels, widths[0], 3, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(widths[0]);
        layer1 = Group(widths[0], widths[1], n, stride: 1);
        layer2 = Group(widths[1], widths[2], n, stride: 2);
        layer3 = Group(widths[2], widths[3], n, stride: 2);
        fc = nn.Linear(widths[3], numClasses);
        Depth = depth;
        RegisterComponents();
        ChannelsLast = true;
        ModelInit.KaimingConvs(this, zeroLinearBias: false);
    }

    public int Depth { get; }

    public override IReadOnlyList<string> FeatureNames => Names;

    public override ModelOutput forward(Tensor input)
    {
        CheckInput(input, conv1.weight!, convolutional: true);
        var stem = bn1.call(Layout(conv1.call(Layout(input)))).relu_();
        var s1 = layer1.call(stem);
        var s2 = layer2.call(s1);
        var s3 = layer3.call(s2);
        var pool = ModelInit.GlobalAvgPool(s3);
        return new ModelOutput(fc.call(pool), [("stem", stem), ("stage1", s1), ("stage2", s2), ("stage3", s3), ("pool", pool)]);
    }

    private static Sequential Group(int inPlanes, int planes, int blocks, int stride)
    {
        var list = new List<nn.Module<Tensor, Tensor>> { new BasicBlock(inPlanes, planes, stride) };
        for (var i = 1; i < blocks; i++) list.Add(new BasicBlock(planes, planes, 1));
        return nn.Sequential(list);
    }

    /// <summary>conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU (He et al. 2016, Fig. 2).</summary>
    private sealed class BasicBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;
        private readonly Sequential? downsample;

        public BasicBlock(int inPlanes, int planes, int stride) : base("BasicBlock")
        {
            conv1 = nn.Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = nn.Conv2d(planes, planes, 3, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes);
            if (stride != 1 || inPlanes != planes)
                downsample = nn.Sequential(nn.Conv2d(inPlanes, planes, 1, stride: stride, bias: false), nn.BatchNorm2d(planes));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            // In-place ReLU and add on fresh batch-norm outputs, as torchvision does: autograd needs neither.
            var y = bn1.call(conv1.call(x)).relu_();
            y = bn2.call(conv2.call(y));
            return y.add_(downsample is null ? x : downsample.call(x)).relu_();
        }
    }
}
