using Distill.Data;
using Distill.Reporting;

namespace Distill.Notebooks.Tests;

/// <summary>
/// Every notebook in notebooks/ runs at the smoke budget (real data, real training, seconds) and shows what its story
/// needs: the charts and tables it promises, no error output, and result rows in sane ranges. Then the same file runs
/// on the real .NET kernel through Jupyter (<see cref="JupyterKernel"/>), and both runs must agree cell by cell.
/// </summary>
public class NotebookSmokeTests
{
    /// <summary>Minimum charts and tables each notebook must display, and whether it records result rows.</summary>
    static readonly Dictionary<string, (int Charts, int Tables, bool Results)> Expected = new()
    {
        ["00-data"] = (3, 2, false),
        ["01-soft-targets"] = (4, 2, true),
        ["02-fitnets"] = (2, 1, true),
        ["03-attention-transfer"] = (2, 1, true),
        ["04-born-again"] = (1, 1, true),
        ["05-comparison"] = (2, 1, true),
        ["06-beyond-kd"] = (2, 2, true),
        ["07-deployment"] = (1, 3, true),
    };

    static List<string> NotebookNames() =>
        [.. Directory.GetFiles(Path.Combine(TestSupport.RepoRoot, "notebooks"), "*.ipynb").Order().Select(f => Path.GetFileNameWithoutExtension(f))];

    public static TheoryData<string> Notebooks() => new(NotebookNames());

    [Fact]
    public void Every_expected_notebook_exists_and_every_notebook_is_expected()
    {
        var found = NotebookNames();
        Assert.Equal(Expected.Keys.Order(), found.Order());
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Runs_at_smoke_budget_with_its_charts_tables_and_sane_results(string name)
    {
        var expected = Expected[name];
        using var outDir = new TempDir("smoke-" + name);
        var resultsFile = Path.Combine(outDir.Path, "results.jsonl");
        Environment.SetEnvironmentVariable(Results.FileVariable, resultsFile);
        NotebookRunResult run;
        try
        {
            run = TestSupport.Run(Path.Combine(TestSupport.RepoRoot, "notebooks", name + ".ipynb"), outDir.Path,
                new NotebookRunOptions { Budget = "smoke", CellTimeout = TimeSpan.FromMinutes(3) });
        }
        finally { Environment.SetEnvironmentVariable(Results.FileVariable, null); }

        Assert.True(run.Succeeded, string.Join("\n", run.Failures));
        Assert.Equal("", TestSupport.NbformatErrors(run.Files.Notebook));
        // Every notebook trains or looks at Fashion-MNIST at this budget; the manifest says which copy it read.
        Assert.Equal(DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default),
            (string?)TestSupport.ReadJson(run.Files.Manifest)["datasets"]?["fashion-mnist"]);
        var nb = TestSupport.ReadJson(run.Files.Notebook);
        var outputs = nb["cells"]!.AsArray().SelectMany(c => c!["outputs"]?.AsArray() ?? []).ToList();
        Assert.DoesNotContain(outputs, o => (string?)o!["output_type"] == "error");
        var html = outputs.Select(o => TestSupport.Text(o!["data"]?["text/html"])).ToList();
        Assert.True(html.Count(h => h.Contains("class=\"distill-plotly\"", StringComparison.Ordinal)) >= expected.Charts,
            $"{name}: expected at least {expected.Charts} charts");
        Assert.True(html.Count(h => h.Contains("class=\"distill-dataframe\"", StringComparison.Ordinal)) >= expected.Tables,
            $"{name}: expected at least {expected.Tables} tables");

        var rows = File.Exists(resultsFile) ? Results.Read(resultsFile) : [];
        if (expected.Results)
        {
            Assert.NotEmpty(rows);
            foreach (var r in rows)
            {
                Assert.Equal("smoke", r.Budget);
                Assert.False(string.IsNullOrWhiteSpace(r.PaperValue), $"{name}: row '{r.Claim}' has no paper value");
                Assert.False(string.IsNullOrWhiteSpace(r.Verdict), $"{name}: row '{r.Claim}' has no verdict");
                Assert.True(double.IsFinite(r.Ours) && double.IsFinite(r.OursStd) && r.OursStd >= 0, $"{name}: row '{r.Claim}' is not finite");
                // Accuracies must be well above chance (10 classes) even at the smoke budget. A gain may be negative with the
                // smoke budget's one-epoch teacher (down to -8 pts here), but a term that wrecks the student (PKT at 3000 and
                // DKD at beta 8 on this pair lost 59 and 54 pts) must fail.
                if (r.Metric.StartsWith("test acc", StringComparison.Ordinal)) Assert.InRange(r.Ours, 30, 100);
                else if (r.Metric.Contains("pts", StringComparison.Ordinal)) Assert.InRange(r.Ours, -25, 100);
            }
        }
        SameInTheRealKernel(name, nb, rows, expected.Charts);
    }

    /// <summary>The same notebook file on Jupyter's .net-csharp kernel: the same cells succeed with no error output, each
    /// cell shows the same kinds of output, at least one plotly chart renders as text/html, and the result rows agree
    /// with the runner's exactly (same seeds, thread count, natives and oneMKL/oneDNN settings: bit-identical training).
    /// The kernel runs under a French locale (cells get the user's culture: 0,9 and 833 834 with U+202F), the runner
    /// under the invariant culture: the rows' text, the charts' titles and trace names and what the cells print must
    /// read the same (under fr_FR the results read "α=0,9" and "(833 834 params)").</summary>
    static void SameInTheRealKernel(string name, System.Text.Json.Nodes.JsonObject runnerNotebook, IReadOnlyList<ResultRow> runnerRows, int charts)
    {
        using var dir = new TempDir("kernel-" + name);
        var kernelResults = Path.Combine(dir.Path, "results.jsonl");
        const string Locale = "fr_FR.UTF-8"; // LC_ALL outranks LANG: both are set, as a user's shell may
        var kernelNb = JupyterKernel.Execute(Path.Combine(TestSupport.RepoRoot, "notebooks", name + ".ipynb"), "smoke",
            new Dictionary<string, string> { [Results.FileVariable] = kernelResults, ["LANG"] = Locale, ["LC_ALL"] = Locale }, TimeSpan.FromMinutes(5));
        var kernel = JupyterKernel.CodeCells(kernelNb);
        var runner = JupyterKernel.CodeCells(runnerNotebook);
        Assert.Equal(runner.Select(c => c.Source), kernel.Select(c => c.Source));
        for (int i = 0; i < kernel.Count; i++)
        {
            var errors = kernel[i].Outputs.Where(o => (string?)o!["output_type"] == "error").Select(o => $"{o!["ename"]}: {o["evalue"]}").ToList();
            Assert.True(errors.Count == 0, $"{name}, code cell {i + 1} failed in the .NET kernel:\n{string.Join("\n", errors)}\n--- cell:\n{kernel[i].Source}");
            // The #r cell differs by design: the kernel shows its restore and extension loading, the runner one list.
            if (kernel[i].Source.Contains("#r ", StringComparison.Ordinal)) continue;
            Assert.True(JupyterKernel.Shape(runner[i].Outputs) == JupyterKernel.Shape(kernel[i].Outputs),
                $"{name}, code cell {i + 1}: runner shows [{JupyterKernel.Shape(runner[i].Outputs)}], kernel shows [{JupyterKernel.Shape(kernel[i].Outputs)}]\n--- cell:\n{kernel[i].Source}");
            Assert.Equal(ChartText(runner[i].Outputs), ChartText(kernel[i].Outputs));
            // The first line a cell prints is its own (a summary, the settings), not the training log (the runner may
            // train a teacher the kernel then reuses); digits masked, as timings differ.
            Assert.Equal(FirstPrintedLine(runner[i].Outputs), FirstPrintedLine(kernel[i].Outputs));
        }
        var printed = string.Concat(kernel.SelectMany(c => c.Outputs).Where(o => (string?)o!["output_type"] == "stream").Select(o => TestSupport.Text(o!["text"])));
        Assert.DoesNotContain('\u202F', printed); // French digit grouping: an N0 formatted under the user's culture
        var kernelHtml = kernel.SelectMany(c => c.Outputs).Select(o => TestSupport.Text(o!["data"]?["text/html"])).ToList();
        Assert.True(kernelHtml.Count(h => h.Contains("class=\"distill-plotly\"", StringComparison.Ordinal) && h.Contains("Plotly.newPlot(", StringComparison.Ordinal)) >= Math.Max(1, charts),
            $"{name}: expected at least {Math.Max(1, charts)} plotly charts in the kernel's outputs");

        var kernelRows = File.Exists(kernelResults) ? Results.Read(kernelResults) : [];
        Assert.Equal(runnerRows.Select(r => (r.Claim, r.Metric)), kernelRows.Select(r => (r.Claim, r.Metric)));
        // Digits masked, as they hold timings. 07's accuracy/latency verdicts are masked whole: they quote a measured
        // latency ratio ("0.56× the latency") and judge it against a margin of 0.7, so a ratio near it reads "faster"
        // in one process and "as fast" in the other (a CI run failed so); their accuracies are compared below.
        static string Text(ResultRow r) => System.Text.RegularExpressions.Regex.Replace(
            $"{r.Paper} | {r.Setting} | {r.PaperValue} | {(r.Verdict.Contains("× the latency", StringComparison.Ordinal) ? "(timed)" : r.Verdict)} | {r.Warning}", @"\d+", "0");
        Assert.Equal(runnerRows.Select(Text), kernelRows.Select(Text));
        foreach (var (a, b) in runnerRows.Zip(kernelRows))
            Assert.True(a.Ours == b.Ours && a.OursStd == b.OursStd, $"{name}, '{a.Claim}' ({a.Metric}): runner {a.Ours} ± {a.OursStd}, kernel {b.Ours} ± {b.OursStd}");
    }

    /// <summary>The titles and trace names of the charts a cell shows, from their plotly.js JSON.</summary>
    static List<string> ChartText(System.Text.Json.Nodes.JsonArray outputs) =>
        [.. outputs.Select(o => TestSupport.Text(o!["data"]?["text/html"]))
            .Select(h => System.Text.RegularExpressions.Regex.Match(h, @"var fig = (\{.*\});"))
            .Where(m => m.Success)
            .Select(m => System.Text.Json.Nodes.JsonNode.Parse(m.Groups[1].Value)!)
            .Select(fig => string.Join(" | ", new[] { fig["layout"]?["title"]?["text"] }.Concat(fig["data"]!.AsArray().Select(t => t!["name"])).Select(n => (string?)n)))];

    // Digits masked, as timings differ; and a latency target's "met" / "not met" (07's verdicts compare measured
    // latencies, which a busy machine moves either way between the two runs).
    static string FirstPrintedLine(System.Text.Json.Nodes.JsonArray outputs) =>
        System.Text.RegularExpressions.Regex.Replace(System.Text.RegularExpressions.Regex.Replace(
            string.Concat(outputs.Where(o => (string?)o!["output_type"] == "stream" && (string?)o["name"] == "stdout").Select(o => TestSupport.Text(o!["text"]))).Split('\n')[0],
            @"\d+", "0"), @"(target [^:]*: )not met", "$1met");

    [Fact]
    public void Full_budget_asks_for_the_papers_dataset_and_names_the_install_command()
    {
        // Without CIFAR-10 (this machine has none) the full budget stops at once in the config cell, before any training.
        Assert.Null(DatasetCatalog.Cifar10.Locate(DatasetSearch.Default));
        using var dir = new TempDir("full-03");
        var run = TestSupport.Run(Path.Combine(TestSupport.RepoRoot, "notebooks", "03-attention-transfer.ipynb"), dir.Path,
            new NotebookRunOptions { Budget = "full", WriteHtml = false });
        Assert.False(run.Succeeded);
        var failure = Assert.Single(run.Failures);
        Assert.Contains("var config = AttentionTransferConfig.For", run.Cells.Single(c => c.Failure == failure).Cell.Source, StringComparison.Ordinal);
        Assert.Contains("CIFAR-10 not found", failure.Message, StringComparison.Ordinal);
        Assert.Contains("distill data install cifar10", failure.Message, StringComparison.Ordinal);
    }
}
