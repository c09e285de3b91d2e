using TorchSharp;
using TorchSharp.Modules;

namespace Distill.Training;

public enum OptimizerKind { Sgd, Adam }

/// <summary>
/// Which optimizer to build and with what hyper-parameters. SGD follows PyTorch's update (weight decay added to the
/// gradient, optional Nesterov momentum, Sutskever et al. 2013); Adam is Kingma &amp; Ba 2015 with L2 weight decay.
/// </summary>
public sealed record OptimizerSpec(
    OptimizerKind Kind,
    double LearningRate,
    double Momentum = 0.9,
    bool Nesterov = true,
    double WeightDecay = 5e-4,
    double Beta1 = 0.9,
    double Beta2 = 0.999)
{
    public static OptimizerSpec Sgd(double lr = 0.1, double momentum = 0.9, bool nesterov = true, double weightDecay = 5e-4) =>
        new(OptimizerKind.Sgd, lr, momentum, nesterov && momentum > 0, weightDecay);

    public static OptimizerSpec Adam(double lr = 1e-3, double weightDecay = 0, double beta1 = 0.9, double beta2 = 0.999) =>
        new(OptimizerKind.Adam, lr, 0, false, weightDecay, beta1, beta2);

    internal torch.optim.Optimizer Create(IEnumerable<Parameter> parameters) => Kind switch
    {
        // Same update and state as torch.optim.SGD, without its per-step temporaries (InPlace/SGD.cs).
        OptimizerKind.Sgd => new InPlace.SGD(parameters, LearningRate, momentum: Momentum, weight_decay: WeightDecay, nesterov: Nesterov),
        OptimizerKind.Adam => torch.optim.Adam(parameters, LearningRate, beta1: Beta1, beta2: Beta2, weight_decay: WeightDecay),
        _ => throw new InvalidOperationException($"Unknown optimizer kind {Kind}."),
    };

    /// <summary>Invariant culture: run.json records this text and compares it on resume, so a run started in a kernel
    /// under LANG=de_DE ("lr=0,05") must match the same run from the CLI.</summary>
    public override string ToString() => Kind == OptimizerKind.Sgd
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"sgd(lr={LearningRate}, momentum={Momentum}{(Nesterov ? ", nesterov" : "")}, wd={WeightDecay})")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"adam(lr={LearningRate}, betas=({Beta1}, {Beta2}), wd={WeightDecay})");
}
