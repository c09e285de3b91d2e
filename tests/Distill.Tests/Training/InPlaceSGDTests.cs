using Distill.Native;
using Distill.Tests.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Tests.Training;

[Collection(GlobalTorchRngCollection.Name)]
public class InPlaceSGDTests
{
    public InPlaceSGDTests() => TorchRuntime.Initialize();

    /// <summary>Five steps of an MLP with <paramref name="make"/>'s optimizer; returns the parameters and momentum buffers.</summary>
    static float[] Train(Func<IEnumerable<Parameter>, optim.Optimizer> make, string path)
    {
        manual_seed(3);
        using var model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 4));
        using var opt = make(model.parameters());
        using var g = new Generator(4);
        using var x = randn([16, 20], generator: g);
        using var y = randint(4, [16], generator: g);
        for (int i = 0; i < 5; i++)
        {
            using var scope = NewDisposeScope();
            foreach (var p in model.parameters()) p.grad = null;
            nn.functional.cross_entropy(model.call(x), y).backward();
            opt.step();
        }
        ((OptimizerHelper)opt).save_state_dict(path);
        using var all = cat(model.parameters().Select(p => p.detach().flatten()).ToList(), 0);
        return [.. all.data<float>().ToArray(), .. File.ReadAllBytes(path).Select(b => (float)b)];
    }

    [Theory]
    [InlineData(0.9, 0.0, 5e-4, true)]
    [InlineData(0.9, 0.0, 0.0, false)]
    [InlineData(0.9, 0.1, 1e-3, false)]
    [InlineData(0.0, 0.0, 1e-3, false)]
    public void Same_parameters_and_saved_state_as_TorchSharps_SGD_bit_for_bit(double momentum, double dampening, double wd, bool nesterov)
    {
        var dir = Directory.CreateTempSubdirectory("distill-sgd-").FullName;
        try
        {
            var theirs = Train(p => optim.SGD(p, 0.1, momentum, dampening, wd, nesterov), Path.Combine(dir, "a"));
            var ours = Train(p => new Distill.Training.InPlace.SGD(p, 0.1, momentum, dampening, wd, nesterov), Path.Combine(dir, "b"));
            Assert.Equal(theirs, ours);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
