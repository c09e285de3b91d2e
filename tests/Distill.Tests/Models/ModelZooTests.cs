using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Models;

public class ModelZooTests
{
    public ModelZooTests() => TorchRuntime.Initialize();

    [Theory]
    [InlineData("nope")]
    [InlineData("mlp")]
    [InlineData("mlp-")]
    [InlineData("resnet")]
    [InlineData("wrn-40")]
    [InlineData("resnet32x2")]
    public void Unknown_name_lists_the_known_models(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create(name, 1, 10));
        Assert.Contains($"'{name}'", e.Message);
        foreach (var known in new[] { "mlp-1200-1200", "cnn", "resnet20", "resnet110", "resnet32x4", "wrn-40-2" })
            Assert.Contains(known, e.Message);
    }

    public static TheoryData<string> Examples() => new(ModelZoo.Examples);

    /// <summary>The check every family used to repeat, once over the whole zoo: after <c>to(cpu)</c> (which replaces
    /// parameter objects) a loss on the logits and every feature reaches every parameter.</summary>
    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_model_passes_gradient_to_every_parameter_after_to_cpu(string name)
    {
        manual_seed(2);
        using var model = ModelZoo.Create(name, 1, 10);
        using var x = randn(2, 1, 28, 28);
        ModelChecks.AssertWorksAfterTo(model, x);
    }

    [Fact]
    public void Every_example_name_builds()
    {
        foreach (var name in ModelZoo.Examples)
        {
            using var model = ModelZoo.Create(name, 1, 10);
            Assert.True(model.ParameterCount > 0, name);
        }
    }

    [Fact]
    public void Names_are_case_and_space_insensitive()
    {
        using var model = ModelZoo.Create(" MLP-32 ", 1, 10);
        Assert.IsType<Mlp>(model);
    }

    [Fact]
    public void Options_a_family_lacks_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("cnn", 1, 10, new ModelOptions { Jitter = 2 }));
        Assert.Contains("mlp", e.Message);
    }

    [Fact]
    public void Unusual_channel_count_needs_an_image_size()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("mlp-10", 2, 10));
        Assert.Contains("ImageSize", e.Message);
        using var model = ModelZoo.Create("mlp-10", 2, 10, new ModelOptions { ImageSize = 16 });
        Assert.Equal(2 * 16 * 16 * 10 + 10 + 10 * 10 + 10, model.ParameterCount);
    }
}
