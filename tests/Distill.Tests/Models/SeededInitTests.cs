using Distill.Models;
using Distill.Native;

namespace Distill.Tests.Models;

/// <summary>Tests that seed torch's process-wide generator and then draw from it. Any test running in parallel that
/// draws random numbers would interleave with them, so this collection runs alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalTorchRngCollection
{
    public const string Name = "global torch RNG";
}

[Collection(GlobalTorchRngCollection.Name)]
public class SeededInitTests
{
    public SeededInitTests() => TorchRuntime.Initialize();

    [Theory]
    [InlineData("mlp-100-50")]
    [InlineData("cnn-8")]
    [InlineData("resnet8")]
    [InlineData("wrn-10-1")]
    public void Same_seed_gives_identical_weights_another_seed_different_ones(string name) =>
        ModelChecks.AssertSeededInit(() => ModelZoo.Create(name, 1, 10));
}
