using System.Text.Json;

namespace Distill.Notebooks.Tests;

/// <summary>`distill bench` as users call it: whole runs at the smoke budget (1 warm-up and 2 steps a case), exit codes,
/// the table and the --json report of what ran.</summary>
public class BenchCliTests
{
    static JsonElement[] Cases(string json)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        return [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Clone())];
    }

    /// <summary>The notebook runner's case had no #r for TorchSharp, which the runner requires as the kernel does: its
    /// first cell failed (CS0246), and so did every full bench.</summary>
    [Fact]
    public void The_notebook_runner_case_runs()
    {
        var json = Path.Combine(TestSupport.TempDir("bench-nb"), "bench.json");
        var (exit, stdout, stderr) = DistillProcess.Run("bench", "--smoke", "--memory-epochs", "0", "--only", "notebook-10-cells", "--json", json);
        Assert.True(exit == 0, $"exit {exit}\n{stderr}{stdout}");
        Assert.Contains("notebook-10-cells", Cases(json).Select(c => c.GetProperty("name").GetString()));
    }
}
