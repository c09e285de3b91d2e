using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Training.InPlace;

/// <summary>
/// TorchSharp's <see cref="TorchSharp.Modules.SGD"/> with the same update, bit for bit, and the same state (checkpoints are
/// interchangeable), computed in place in each parameter's gradient buffer. TorchSharp's step allocates two
/// parameter-sized temporaries per parameter per step with weight decay and Nesterov momentum
/// (<c>g + λθ</c>, then <c>g + μb</c>); on CPU every such buffer arrives as fresh pages from the OS, and the page faults
/// plus the extra passes cost about a fifth of an MLP 784-1200-1200-10 step (docs/performance.md).
/// The update (PyTorch's SGD; Sutskever et al. 2013 for Nesterov): <c>g ← g + λθ; b ← μb + (1 − τ)g;
/// g ← g + μb (Nesterov) or g ← b; θ ← θ − ηg</c>.
/// After <see cref="step"/> a parameter's <c>.grad</c> holds the applied update direction, not the raw gradient: the
/// trainer discards gradients before the next backward, so nothing reads it.
/// The class is named <c>SGD</c> because TorchSharp's optimizer state files record the class name and refuse another:
/// with the same name, checkpoints written with TorchSharp's SGD resume with this one and back.
/// </summary>
public sealed class SGD(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double dampening = 0,
    double weight_decay = 0, bool nesterov = false)
    : TorchSharp.Modules.SGD(parameters, lr, momentum, dampening, weight_decay, nesterov)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        double mu = o.momentum!.Value, tau = o.dampening!.Value, wd = o.weight_decay!.Value, lr = o.LearningRate!.Value;
        bool nesterov = o.nesterov!.Value;
        double sign = o.maximize!.Value ? 1 : -1;
        foreach (var param in group.Parameters)
        {
            using var grad = param.grad;
            if (grad is null) continue;
            if (wd != 0) grad.add_(param, alpha: wd);
            var direction = grad;
            if (mu != 0)
            {
                var state = (State)_state[param.Handle];
                if (state.momentum_buffer is null)
                    state.momentum_buffer = grad.clone().detach().DetachFromDisposeScope();
                else
                    state.momentum_buffer.mul_(mu).add_(grad, alpha: 1 - tau);
                if (nesterov) grad.add_(state.momentum_buffer, alpha: mu);
                else direction = state.momentum_buffer;
            }
            param.add_(direction, alpha: sign * lr);
        }
    }, closure);
}
