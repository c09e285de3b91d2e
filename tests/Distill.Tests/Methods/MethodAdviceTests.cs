using Distill.Data;
using Distill.Losses;
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

    /// <summary>Every method's switches (<see cref="Method.TermWeights"/>) at 0 leave its objective the cross-entropy
    /// alone, to the last bit, and any one of them on changes it: the set is complete and each member matters.</summary>
    [Theory]
    [InlineData("kd")]
    [InlineData("fitnet")]
    [InlineData("at")]
    [InlineData("sp")]
    [InlineData("rkd")]
    [InlineData("pkt")]
    [InlineData("dkd")]
    [InlineData("dist")]
    [InlineData("mlkd")]
    [InlineData("ctkd")]
    [InlineData("crd")]
    [InlineData("nst")]
    public void A_method_with_every_term_switched_off_is_the_cross_entropy_alone(string name)
    {
        var method = MethodCatalogue.Find(name);
        Assert.NotEmpty(method.TermWeights);
        var off = method.TermWeights.ToDictionary(p => p, _ => "0");
        var settings = method.Settings(off);
        Assert.Equal(string.Join(", ", method.TermWeights.Select(p => $"{p}=0")), method.AddsNothing(settings));
        Assert.Null(method.AddsNothing(method.Settings()));
        Assert.Equal(Ce(), Total(new MethodChoice(method, settings)));
        foreach (var on in method.TermWeights)
        {
            var one = method.Settings(new Dictionary<string, string>(off) { [on] = "1" });
            Assert.Null(method.AddsNothing(one));
            Assert.NotEqual(Ce(), Total(new MethodChoice(method, one)));
        }
    }

    /// <summary>The objective's total on one batch at mid-training, from a fixed student and teacher.</summary>
    static float Total(MethodChoice choice)
    {
        var data = Data.Value; // made outside the scope, which would dispose it
        using var scope = NewDisposeScope();
        var objective = choice.Build(new MethodSetup("cnn-8", "cnn", data, 64) { Seed = 0 });
        using (manual_seed(1)) { }
        using var student = Distill.Models.ModelZoo.Create("cnn-8", 1, 10);
        using var teacher = Distill.Models.ModelZoo.Create("cnn", 1, 10);
        var x = data.Normalize(data.Train.Images[..16]);
        var y = data.Train.Labels[..16];
        return objective.Compute(new StepContext(student.call(x), teacher.call(x), y, 0.5, 1, 8, x, arange(16L))).Total.item<float>();
    }

    static float Ce() => Total(MethodCatalogue.Parse("scratch"));
}
