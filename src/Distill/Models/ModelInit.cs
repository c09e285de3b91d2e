using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>Weight initialisation shared by the convolutional models, drawn from the global generator, so
/// <c>torch.manual_seed</c> before construction makes a model reproducible.</summary>
internal static class ModelInit
{
    /// <summary>He et al. (2015) normal init, fan-out mode, for every convolution (as RepDistiller's ResNet and WRN do);
    /// batch-norm scale 1 and shift 0; linear biases zero when <paramref name="zeroLinearBias"/> (the WRN code).</summary>
    public static void KaimingConvs(nn.Module root, bool zeroLinearBias)
    {
        using var _ = no_grad();
        foreach (var m in root.modules())
        {
            switch (m)
            {
                case Conv2d conv:
                    nn.init.kaiming_normal_(conv.weight!, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    if (conv.bias is { } cb) nn.init.zeros_(cb);
                    break;
                case BatchNorm2d bn:
                    nn.init.ones_(bn.weight!);
                    nn.init.zeros_(bn.bias!);
                    break;
                case Linear lin when zeroLinearBias && lin.bias is { } lb:
                    nn.init.zeros_(lb);
                    break;
            }
        }
    }

    /// <summary>Global average pooling to [B, C]: works for any input size (32x32 CIFAR, 28x28 Fashion-MNIST).</summary>
    public static Tensor GlobalAvgPool(Tensor x) => x.mean([2L, 3L]);

    /// <summary>
    /// <paramref name="x"/> [B, C, H, W] with channels-last strides (NHWC in memory; shape and values unchanged), on the
    /// CPU. Why: a convolution whose input is channels-last runs oneDNN in NHWC and returns NHWC, and batch-norm, ReLU
    /// and the residual add keep it, so the whole network runs without the reorders to and from oneDNN's blocked layout
    /// that NCHW costs around every convolution. Measured (one training step, batch 128, 3×32×32, 2 threads): resnet20
    /// 0.72-0.83× the time, wrn-16-1 0.75-0.82×, resnet8x4 0.58×; the small CNNs level (1.0×), so they stay NCHW
    /// (<see cref="DistillModel.ChannelsLast"/>). No copy when <paramref name="x"/> is channels-last already, or has one
    /// channel (then both layouts are one), so a model calls it on the input and again after the stem: a one-channel
    /// image becomes channels-last there. CUDA inputs are returned as they are: not measured here.
    /// </summary>
    public static Tensor ChannelsLast(Tensor x) =>
        x.device_type == TorchSharp.DeviceType.CPU && x.dim() == 4 ? x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : x;
}
