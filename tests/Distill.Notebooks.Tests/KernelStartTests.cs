using System.Text.Json.Nodes;

namespace Distill.Notebooks.Tests;

/// <summary>A researcher's own notebook in the real .NET kernel: the first cell references only the library and
/// TorchSharp (no DataFrames), so Microsoft.Data.Analysis does not resolve when <c>Distill.Notebook.Start()</c> runs.</summary>
public class KernelStartTests
{
    static JsonObject Code(string source, params string[] tags) => new()
    {
        ["cell_type"] = "code", ["execution_count"] = null, ["outputs"] = new JsonArray(),
        ["metadata"] = new JsonObject { ["tags"] = new JsonArray([.. tags.Select(t => (JsonNode)t)]) },
        ["source"] = source,
    };

    [Fact]
    public void Start_needs_no_DataFrame_package_and_DataFrames_display_once_a_later_cell_loads_it()
    {
        using var dir = new TempDir("kernel-start");
        var path = Path.Combine(dir.Path, "no-dataframes.ipynb");
        File.WriteAllText(path, new JsonObject
        {
            ["nbformat"] = 4, ["nbformat_minor"] = 5,
            ["metadata"] = new JsonObject { ["kernelspec"] = new JsonObject { ["name"] = ".net-csharp", ["language"] = "C#", ["display_name"] = ".NET (C#)" } },
            ["cells"] = new JsonArray(
                Code("#r \"../artifacts/bin/Distill/debug/Distill.dll\"\n#r \"nuget: TorchSharp-cpu, 0.107.0\"\nDistill.Notebook.Start()"),
                Code("var budget = \"quick\";", "parameters"),
                Code("TorchSharp.torch.ones(2)"),
                Code("#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"\nnew Microsoft.Data.Analysis.DataFrame(new Microsoft.Data.Analysis.Int32DataFrameColumn(\"x\", new[] { 1, 2 }))"),
                Code(Draw),
                Code("Distill.Notebook.Start();\n" + Draw),
                // A thread count libtorch refuses aborted the kernel (c10::Error), every variable of the session with it.
                Code("string refused;\ntry { Distill.Notebook.Start(threads: 0); refused = \"started\"; }\ncatch (Distill.Native.ThreadCountException e) { refused = e.Message; }\nrefused"),
                Code("TorchSharp.torch.get_num_threads().ToString()"),
                // A Plotly.NET chart of one's own showed the kernel's tree view of the object (Plotly.NET.Interactive
                // cannot load against the kernel's FSharp.Core 10.0): after Start it draws as the library's charts do.
                Code("#r \"nuget: Plotly.NET, 6.0.0\"\n#r \"nuget: Plotly.NET.CSharp, 0.14.0\""),
                Code("Plotly.NET.CSharp.Chart.Point<double, double, string>(x: new[] { 1.0, 2.0 }, y: new[] { 3.0, 1.0 })")),
        }.ToJsonString());

        var cells = JupyterKernel.CodeCells(JupyterKernel.Execute(path, "smoke", new Dictionary<string, string>(), TimeSpan.FromMinutes(5)));

        var errors = cells.SelectMany(c => c.Outputs).Where(o => (string?)o!["output_type"] == "error").Select(o => $"{o!["ename"]}: {o["evalue"]}");
        Assert.Empty(errors);
        string Html(int cell) => string.Concat(cells[cell].Outputs.Where(o => (string?)o!["output_type"] == "execute_result")
            .Select(o => o!["data"]?["text/html"] is JsonArray a ? string.Concat(a.Select(x => (string?)x)) : (string?)o!["data"]?["text/html"]));
        Assert.Contains("distill ready", Html(0), StringComparison.Ordinal);
        // Start maps the patched natives itself before it caps oneDNN's ISA, which runs no primitive: no caveat for that.
        Assert.DoesNotContain("libtorch was loaded first", Html(0), StringComparison.Ordinal);
        Assert.Contains("distill-tensor", Html(2), StringComparison.Ordinal); // code cells: start, parameters, tensor, DataFrame
        Assert.Contains("<table", Html(3), StringComparison.Ordinal);

        // Start seeded torch's global generator with 0: a cell's own random draw is the same in every run (and as the
        // runner's), and running Start again starts the sequence again.
        using var seeded = new TorchSharp.torch.Generator(0);
        var expected = TorchSharp.torch.rand(4, generator: seeded).sum().item<float>().ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        string Plain(int cell) => string.Concat(cells[cell].Outputs.Where(o => (string?)o!["output_type"] == "execute_result")
            .Select(o => o!["data"]?["text/plain"] is JsonArray a ? string.Concat(a.Select(x => (string?)x)) : (string?)o!["data"]?["text/plain"]));
        Assert.Equal(expected, Plain(4));
        Assert.Equal(expected, Plain(5));
        Assert.StartsWith("threads: 0 is not a thread count in [1, ", Plain(6), StringComparison.Ordinal);
        // The kernel lives on, at the count it had (the kernel inherits this process's environment).
        Assert.Equal(Environment.GetEnvironmentVariable("DISTILL_THREADS") is { Length: > 0 } env ? env.Trim() : $"{Environment.ProcessorCount}", Plain(7));
        Assert.Contains("class=\"distill-plotly\"", Html(9), StringComparison.Ordinal);
        Assert.Contains("Plotly.newPlot(", Html(9), StringComparison.Ordinal);
        Assert.Contains("\"x\":[1.0,2.0]", Html(9), StringComparison.Ordinal);
        Assert.DoesNotContain("dni-treeview", Html(9), StringComparison.Ordinal);
    }

    /// <summary>A notebook outside the checkout that references the library by its absolute path: the kernel's program
    /// is dotnet-interactive's tool and its working directory is the notebook's, so the checkout is found from
    /// Distill.dll's own folder, and the teachers the checkout's notebooks trained are reused (they were retrained into
    /// ~/.cache/distill/teachers).</summary>
    [Fact]
    public void A_notebook_outside_the_checkout_uses_the_teacher_cache_of_the_checkout_its_library_was_built_in()
    {
        using var dir = new TempDir("kernel-outside");
        var library = Path.Combine(TestSupport.RepoRoot, "artifacts", "bin", "Distill", "debug", "Distill.dll");
        var path = Path.Combine(dir.Path, "mine.ipynb");
        File.WriteAllText(path, new JsonObject
        {
            ["nbformat"] = 4, ["nbformat_minor"] = 5,
            ["metadata"] = new JsonObject { ["kernelspec"] = new JsonObject { ["name"] = ".net-csharp", ["language"] = "C#", ["display_name"] = ".NET (C#)" } },
            ["cells"] = new JsonArray(
                Code($"#r \"{library}\"\n#r \"nuget: TorchSharp-cpu, 0.107.0\"\nDistill.Notebook.Start()"),
                Code("var budget = \"quick\";", "parameters"),
                Code("System.IO.Directory.GetCurrentDirectory() + \"|\" + Distill.Experiments.TeacherStore.Directory")),
        }.ToJsonString());

        // An empty DISTILL_TEACHER_CACHE is the default cache (a run of the suite may set it).
        var cells = JupyterKernel.CodeCells(JupyterKernel.Execute(path, "smoke", new Dictionary<string, string> { ["DISTILL_TEACHER_CACHE"] = "" },
            TimeSpan.FromMinutes(5), dir.Path));

        Assert.Empty(cells.SelectMany(c => c.Outputs).Where(o => (string?)o!["output_type"] == "error").Select(o => $"{o!["ename"]}: {o["evalue"]}"));
        var plain = string.Concat(cells[^1].Outputs.Where(o => (string?)o!["output_type"] == "execute_result")
            .Select(o => o!["data"]?["text/plain"] is JsonArray a ? string.Concat(a.Select(x => (string?)x)) : (string?)o!["data"]?["text/plain"]));
        Assert.Equal($"{dir.Path}|{Path.Combine(TestSupport.RepoRoot, "artifacts", "teachers")}", plain);
    }

    const string Draw = "TorchSharp.torch.rand(4).sum().item<float>().ToString(\"R\", System.Globalization.CultureInfo.InvariantCulture)";
}
