using Distill.Models;
using Distill.Native;

namespace Distill.Tests.Models;

/// <summary>Our parameter counts against the published ones (millions, as printed).</summary>
public class PublishedParameterCountTests
{
    public PublishedParameterCountTests() => TorchRuntime.Initialize();

    /// <summary>Within 1 % of the printed figure, or within half a unit of its last printed digit when that is looser
    /// (a two-digit "1.7M" cannot be held to 1 %).</summary>
    [Theory]
    // CIFAR-100, Heo et al. (2019), "A comprehensive overhaul of feature distillation", README table (clovaai).
    [InlineData("wrn-28-4", 100, 5.87)]
    [InlineData("wrn-16-4", 100, 2.77)]
    [InlineData("wrn-28-2", 100, 1.47)]
    [InlineData("wrn-16-2", 100, 0.70)]
    [InlineData("resnet56", 100, 0.86)]
    // CIFAR-100, the RepDistiller (Tian et al. 2020) teacher/student pairs as KD papers quote them.
    [InlineData("resnet32x4", 100, 7.43)]
    [InlineData("resnet8x4", 100, 1.23)]
    // CIFAR-10, Zagoruyko and Komodakis (2017), "Paying more attention to attention", Table 1.
    [InlineData("wrn-16-1", 10, 0.2)]
    [InlineData("wrn-16-2", 10, 0.7)]
    [InlineData("wrn-40-1", 10, 0.6)]
    [InlineData("wrn-40-2", 10, 2.2)]
    // CIFAR-10, He et al. (2016), Table 6 (their shortcuts are parameter-free; ours add a 1x1 conv at 2 transitions).
    [InlineData("resnet20", 10, 0.27)]
    [InlineData("resnet56", 10, 0.85)]
    [InlineData("resnet110", 10, 1.7)]
    public void Matches_published_count(string name, int classes, double millions)
    {
        using var model = ModelZoo.Create(name, 3, classes);
        var ours = model.ParameterCount / 1e6;
        var decimals = millions.ToString(System.Globalization.CultureInfo.InvariantCulture).Split('.').ElementAtOrDefault(1)?.Length ?? 0;
        var tolerance = Math.Max(0.01 * millions, 0.5 * Math.Pow(10, -decimals));
        Assert.True(Math.Abs(ours - millions) <= tolerance, $"{name}: {ours:F4}M vs published {millions}M (tolerance {tolerance}M)");
    }
}
