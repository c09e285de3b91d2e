using Distill.Losses;
using Distill.Native;

namespace Distill.Tests.Losses;

/// <summary>Every case of the PyTorch float64 reference files (the anchors' losses.json and losses-after-dkd.json for the
/// newer methods), reproduced in float32 through the registry (which calls the catalogue's public static loss
/// functions), with the README's tolerance on the loss and on the student gradient.</summary>
public class ReferenceVectorTests
{
    internal static readonly string FilePath = Path.Combine(AppContext.BaseDirectory, "TestData", "Losses", "losses.json");
    internal static readonly string AfterDkdPath = Path.Combine(AppContext.BaseDirectory, "TestData", "Losses", "losses-after-dkd.json");
    static readonly Lazy<ReferenceFile[]> Files = new(() => [ReferenceFile.Load(FilePath), ReferenceFile.Load(AfterDkdPath)]);

    public ReferenceVectorTests() => TorchRuntime.Initialize();

    public static TheoryData<int, string> CaseNames()
    {
        var data = new TheoryData<int, string>();
        for (var f = 0; f < Files.Value.Length; f++)
            foreach (var c in Files.Value[f].Cases) data.Add(f, c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Case_matches_pytorch_in_float32(int file, string name)
    {
        var result = ReferenceChecker.Check(Files.Value[file].Cases.Single(c => c.Name == name));
        Assert.True(result.Passed, result.Describe());
        Assert.True(result.LossError <= result.LossTolerance && result.GradError <= result.GradTolerance);
    }

    [Fact]
    public void The_files_cover_every_registered_loss_and_nothing_else()
    {
        Assert.Equal(39, Files.Value[0].Cases.Count);
        Assert.Equal(42, Files.Value[1].Cases.Count);
        Assert.Equal(LossRegistry.Names.Order(), Files.Value.SelectMany(f => f.Cases).Select(c => c.Loss).Distinct().Order());
    }
}
