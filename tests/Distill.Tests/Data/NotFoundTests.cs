using Distill.Data;

namespace Distill.Tests.Data;

/// <summary>The missing-dataset error names at most 4 of the folders it searched.</summary>
public class NotFoundTests
{
    /// <summary>It said "none of the 6 folders named" where 4 were named and "..." stood for the rest.</summary>
    [Fact]
    public void The_count_says_which_folders_are_named()
    {
        var six = DatasetCatalog.FashionMnist.NotFound(DatasetSearch.Only([.. Enumerable.Range(0, 6).Select(i => $"/nowhere/{i}")]));
        Assert.StartsWith("/nowhere/0/fashion-mnist, /nowhere/1/fashion-mnist, /nowhere/2/fashion-mnist, /nowhere/3/fashion-mnist, ...: " +
                          "Fashion-MNIST not found: none of the 6 folders searched (the first 4 named) holds its files", six.Message, StringComparison.Ordinal);
        var one = DatasetCatalog.FashionMnist.NotFound(DatasetSearch.Only("/nowhere/0"));
        Assert.StartsWith("/nowhere/0/fashion-mnist: Fashion-MNIST not found: none of the 1 folder named holds its files", one.Message, StringComparison.Ordinal);
    }
}
