using Distill.Data;

namespace Distill.Tests.Data;

/// <summary>The dataset section of `distill doctor`.</summary>
public class DatasetReportTests
{
    [Fact]
    public void Lists_the_real_datasets_as_found_on_this_machine()
    {
        var w = new StringWriter();
        Assert.Equal(0, DatasetReport.Write(w, DatasetSearch.Default)); // run ./setup.sh if this fails
        var text = w.ToString();
        Assert.Matches(@"fashion-mnist\s+found\s+/\S+fashion-mnist", text);
        Assert.Matches(@"mnist-digits\s+found\s+/\S+digits", text);
    }

    [Fact]
    public void Missing_fashion_mnist_counts_as_a_problem_and_prints_the_install_command()
    {
        // DISTILL_DATA pointing at an empty folder and no system folder: nothing can be found.
        using var dir = new TempDir();
        var w = new StringWriter();
        int missing = DatasetReport.Write(w, DatasetSearch.Only(dir.Path));
        var text = w.ToString();
        Assert.Equal(2, missing);
        Assert.Matches(@"fashion-mnist\s+MISSING\s+fix: distill data install fashion-mnist", text);
        Assert.Matches(@"mnist-digits\s+MISSING\s+fix: distill data install mnist-digits", text);
        Assert.Matches(@"cifar10\s+missing\s+\(optional\) fix: distill data install cifar10", text);
    }

    [Fact]
    public void Search_from_the_environment_starts_with_DISTILL_DATA_and_ends_with_the_system_folder()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string?> { ["DISTILL_DATA"] = dir.Path };
        var search = DatasetSearch.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Equal(dir.Path, search.Roots[0]);
        Assert.Equal(dir.Path, search.InstallRoot);
        Assert.Contains(search.Roots, r => File.Exists(Path.Combine(r, "..", "Research.sln")));
        Assert.Equal("/usr/share/datasets", search.SystemRoot);

        // DISTILL_SYSTEM_DATA set but empty hides the system folder: with DISTILL_DATA empty too, Fashion-MNIST is missing.
        env["DISTILL_SYSTEM_DATA"] = "";
        search = DatasetSearch.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Null(search.SystemRoot);
        var w = new StringWriter();
        Assert.True(DatasetReport.Write(w, search with { Roots = [dir.Path] }) >= 1);
        Assert.Matches(@"fashion-mnist\s+MISSING\s+fix: distill data install fashion-mnist", w.ToString());
    }
}
