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
}
