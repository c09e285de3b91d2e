using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

/// <summary>Assertions every model family must pass.</summary>
internal static class ModelChecks
{
    /// <summary>Shapes of logits and of each named feature, in <see cref="DistillModel.FeatureNames"/> order.</summary>
    public static void AssertShapes(DistillModel model, Tensor input, long[] logits, params (string Name, long[] Shape)[] features)
    {
        using var scope = NewDisposeScope();
        var output = model.call(input);
        Assert.Equal(logits, output.Logits.shape);
        Assert.Equal(features.Select(f => f.Name), output.Features.Select(f => f.Name));
        Assert.Equal(features.Select(f => f.Name), model.FeatureNames);
        foreach (var (name, shape) in features)
            Assert.Equal(shape, output.Feature(name).shape);
    }

    /// <summary>A loss on the logits plus every feature reaches every parameter with a finite, non-zero gradient.</summary>
    public static void AssertGradientReachesEveryParameter(DistillModel model, Tensor input)
    {
        using var scope = NewDisposeScope();
        model.train();
        model.zero_grad();
        var output = model.call(input);
        // Every feature joins the loss too: autograd would throw here if a later in-place op (ReLU, residual add)
        // had overwritten a tensor the model returned or needs for its backward pass.
        var loss = nn.functional.cross_entropy(output.Logits, zeros(input.shape[0], dtype: ScalarType.Int64));
        foreach (var (_, f) in output.Features) loss = loss + f.square().mean();
        loss.backward();
        foreach (var (name, p) in model.named_parameters())
        {
            var g = p.grad;
            Assert.True(g is not null, $"{name} got no gradient");
            Assert.True(g!.isfinite().all().item<bool>(), $"{name} has a non-finite gradient");
            Assert.True(g.abs().sum().item<float>() > 0, $"{name} has an all-zero gradient");
        }
        model.zero_grad();
    }

    /// <summary>Same seed → identical parameters and buffers; another seed → different weights.</summary>
    public static void AssertSeededInit(Func<DistillModel> create)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        using var a = create();
        manual_seed(7);
        using var b = create();
        manual_seed(8);
        using var c = create();
        var sa = a.state_dict();
        var sb = b.state_dict();
        var sc = c.state_dict();
        Assert.Equal(sa.Keys, sb.Keys);
        foreach (var key in sa.Keys)
            Assert.True(sa[key].Equals(sb[key]), $"{key} differs with the same seed");
        Assert.Contains(sa.Keys, k => sa[k].dtype == ScalarType.Float32 && sa[k].numel() > 1 && !sa[k].Equals(sc[k]));
    }

    /// <summary>After <c>to(CPU)</c> (which replaces the parameters) the model still runs and trains.</summary>
    public static void AssertWorksAfterTo(DistillModel model, Tensor input)
    {
        model.to(CPU);
        Assert.All(model.parameters(), p => Assert.Equal(DeviceType.CPU, p.device_type));
        AssertGradientReachesEveryParameter(model, input);
    }

    public static long Count(params long[][] tensorsShapes) => tensorsShapes.Sum(s => s.Aggregate(1L, (x, y) => x * y));
}
