using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>What each layer of a model outputs on one input: shared by evaluation's batch cap (the largest output)
/// and the bench's FLOP counts (the convolutions' and linear layers' outputs).</summary>
public static class LayerOutputs
{
    /// <summary>One forward pass of <paramref name="input"/> in eval mode without gradients (so nothing in the model
    /// changes; its train/eval mode is restored), with forward hooks on every tensor-to-tensor module:
    /// <paramref name="onLayer"/> sees each module and its output in call order, then <paramref name="onModel"/> the
    /// model's own output. TorchSharp hooks fire only through <c>call()</c>, which the zoo's models use for their layers.</summary>
    public static void Observe(DistillModel model, Tensor input, Action<nn.Module, Tensor> onLayer, Action<ModelOutput>? onModel = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(onLayer);
        var removers = new List<Action>();
        foreach (var m in model.modules())
            if (m is nn.Module<Tensor, Tensor> layer)
                removers.Add(layer.register_forward_hook((module, _, output) =>
                {
                    onLayer(module, output);
                    return output;
                }).remove);
        var wasTraining = model.training;
        try
        {
            model.eval();
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var output = model.call(input);
            onModel?.Invoke(output);
        }
        finally
        {
            foreach (var remove in removers) remove();
            model.train(wasTraining);
        }
    }
}
