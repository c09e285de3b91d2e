using Distill.Losses;
using Distill.Native;

namespace Distill.Tests.Losses;

/// <summary>Every case of the PyTorch float64 reference file, reproduced in float32 through the registry (which calls
/// the public static loss functions), with the README's tolerance on the loss and on the student gradient.</summary>
public class ReferenceVectorTests
{
    internal static readonly string FilePath = Path.Combine(AppContext.BaseDirectory, "TestData", "Losses", "losses.json");
    static readonly Lazy<ReferenceFile> File = new(() => ReferenceFile.Load(FilePath));

    public ReferenceVectorTests() => TorchRuntime.Initialize();

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in File.Value.Cases) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Case_matches_pytorch_in_float32(string name)
    {
        var result = ReferenceChecker.Check(File.Value.Cases.Single(c => c.Name == name));
        Assert.True(result.Passed, result.Describe());
        Assert.True(result.LossError <= result.LossTolerance && result.GradError <= result.GradTolerance);
    }

    [Fact]
    public void The_file_covers_every_registered_loss_and_nothing_else()
    {
        Assert.Equal(39, File.Value.Cases.Count);
        Assert.Equal(LossRegistry.Names.Order(), File.Value.Cases.Select(c => c.Loss).Distinct().Order());
    }
}
