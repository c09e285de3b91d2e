using Distill.Data;
using Distill.Losses;
using Distill.Native;
using Distill.Tests.Models;
using Distill.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Tests.Training;

/// <summary>The trainer resets gradients to none (faster than zero-filling) yet updates parameters exactly as
/// optimizer.zero_grad() would: a parameter never reached is left alone, one reached before keeps getting weight decay.</summary>
[Collection(GlobalTorchRngCollection.Name)]
public class GradientResetTests
{
    public GradientResetTests() => TorchRuntime.Initialize();

    /// <summary>Owns two parameters: <see cref="Once"/> is in the loss graph at step 0 only, <see cref="Never"/> never.</summary>
    sealed class IdleParametersTerm : ILossTerm
    {
        public Parameter Once { get; } = nn.Parameter(ones(4));
        public Parameter Never { get; } = nn.Parameter(ones(4));
        public string Name => "idle";
        public bool NeedsTeacher => false;
        public Tensor Compute(StepContext ctx) =>
            ctx.Step == 0 ? (Once * 0).sum() + ctx.Student.Logits.mean() * 0 : ctx.Student.Logits.mean() * 0;
        public IEnumerable<Parameter> Parameters() => [Once, Never];
    }

    [Fact]
    public void Parameters_the_loss_stops_reaching_keep_weight_decay_and_never_reached_ones_stay()
    {
        var data = TinyData.FashionMnist2k.Subset(train: 256, test: 64, seed: 0);
        using var model = Build.Mlp(0);
        var idle = new IdleParametersTerm();
        Trainer.Train(model, data, Build.Ce().Add(idle), new TrainOptions
        {
            Epochs = 1, BatchSize = 64, Device = "cpu", Progress = false, Schedule = LrSchedule.Constant,
            Optimizer = OptimizerSpec.Sgd(lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0.1),
        });
        // 4 steps of p ← p − lr·(g + wd·p) with g = 0: reached at step 0, zero gradients after.
        Assert.All(idle.Once.data<float>().ToArray(), v => Assert.Equal(Math.Pow(1 - 0.1 * 0.1, 4), v, 6));
        Assert.All(idle.Never.data<float>().ToArray(), v => Assert.Equal(1f, v));
    }
}
