using Distill.Data;
using Distill.Methods;
using Distill.Native;
using Distill.Tests.Models;
using Distill.Tests.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Methods;

/// <summary>A method's refusals lead somewhere that trains: advice to use a flat layer carries the weight a flat layer
/// needs, a default set for one kind of layer is not applied to another unasked, settings that switch every term off
/// are named, and a schedule that would never apply a term is refused with the numbers to fix it.</summary>
[Collection(GlobalTorchRngCollection.Name)]
public sealed class MethodAdviceTests
{
    public MethodAdviceTests() => TorchRuntime.Initialize();

    static readonly Lazy<ImageDataset> Data = new(() => TinyData.FashionMnist2k.Subset(train: 256, test: 128, seed: 0));

    /// <summary>A normalised 1-d embedding is ±1, with no gradient through the normalisation: CRD at embed_dim=1 trained
    /// scratch's numbers. Refused by its range, as other values out of range are.</summary>
    [Fact]
    public void Crd_refuses_a_one_dimensional_embedding()
    {
        Assert.Equal("crd: embed_dim=1 is out of range; embed_dim must be in [2, 65536], whole.", Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("crd:embed_dim=1")).Message);
        // Why: the gradient through normalize of a 1-d vector is 0; of a 2-d one it is not.
        foreach (var (dim, moves) in new[] { (1, false), (2, true) })
        {
            using var scope = NewDisposeScope();
            var v = (randn(4, dim) + 0.5).requires_grad_(true);
            (nn.functional.normalize(v, dim: 1) * randn(4, dim)).sum().backward();
            Assert.Equal(moves, v.grad!.abs().max().item<float>() > 1e-6);
        }
        MethodCatalogue.Parse("crd:embed_dim=2");
    }
}
