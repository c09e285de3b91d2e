using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Distill.Notebooks.Tests;

/// <summary>
/// Runs a notebook on the real .NET Interactive kernel through Jupyter: <c>jupyter nbconvert --execute</c> on the
/// <c>.net-csharp</c> kernelspec that ./setup.sh registers (Microsoft.dotnet-interactive 1.0.712001, the kernel VS Code's
/// Polyglot extension starts). Nothing is mocked: this is the process a researcher's notebook runs in.
/// </summary>
static class JupyterKernel
{
    public const string KernelName = ".net-csharp";

    /// <summary>Executes a copy of <paramref name="notebook"/> with <c>budget</c> set as papermill would (a cell tagged
    /// <c>injected-parameters</c> after the <c>parameters</c> cell), with <paramref name="env"/> added to the kernel's
    /// environment; returns the executed notebook. The copy sits in artifacts/kernel-runs/notebooks/, one level below
    /// the repository like notebooks/, with artifacts/kernel-runs/artifacts linked to artifacts/: the notebook's
    /// relative <c>#r "../artifacts/..."</c> and the repository lookup work as they do for the original.</summary>
    /// <param name="folder">Where the copy goes and the kernel starts instead (a folder outside the repository).</param>
    public static JsonObject Execute(string notebook, string budget, IReadOnlyDictionary<string, string> env, TimeSpan timeout, string? folder = null)
    {
        var root = Path.Combine(TestSupport.RepoRoot, "artifacts", "kernel-runs");
        var dir = folder ?? Path.Combine(root, "notebooks");
        Directory.CreateDirectory(dir);
        var link = Path.Combine(root, "artifacts");
        if (folder is null && !Directory.Exists(link)) Directory.CreateSymbolicLink(link, Path.Combine(TestSupport.RepoRoot, "artifacts"));

        var nb = TestSupport.ReadJson(notebook);
        var cells = nb["cells"]!.AsArray();
        var at = cells.Select((c, i) => (c, i)).FirstOrDefault(x => Tags(x.c!).Contains("parameters")).i + 1;
        cells.Insert(at, new JsonObject
        {
            ["cell_type"] = "code", ["execution_count"] = null, ["outputs"] = new JsonArray(), ["id"] = "injected",
            ["metadata"] = new JsonObject { ["tags"] = new JsonArray("injected-parameters") },
            ["source"] = $"budget = \"{budget}\";\n",
        });
        var input = Path.Combine(dir, Path.GetFileName(notebook));
        var output = Path.Combine(dir, Path.GetFileNameWithoutExtension(notebook) + ".executed.ipynb");
        File.WriteAllText(input, nb.ToJsonString());
        File.Delete(output);

        var psi = new ProcessStartInfo("jupyter")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir,
            ArgumentList =
            {
                "nbconvert", "--to", "notebook", "--execute", $"--ExecutePreprocessor.kernel_name={KernelName}",
                $"--ExecutePreprocessor.timeout={(int)timeout.TotalSeconds}", "--allow-errors", "--output", output, input,
            },
        };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("jupyter is not installed: run ./setup.sh (it installs jupyter-nbconvert and registers the .NET kernel)", e);
        }
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(timeout + TimeSpan.FromMinutes(2)))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException($"jupyter nbconvert on {notebook} did not finish in {timeout}");
            }
            if (p.ExitCode != 0 || !File.Exists(output))
                throw new InvalidOperationException($"jupyter nbconvert exited {p.ExitCode} on {notebook}:\n{stderr.Result}\n{stdout.Result}");
        }
        return TestSupport.ReadJson(output);
    }

    public static IReadOnlyList<string> Tags(JsonNode cell) =>
        cell["metadata"]?["tags"]?.AsArray().Select(t => (string)t!).ToList() ?? [];

    /// <summary>The code cells of an executed notebook, keyed by their source (injected cells dropped).</summary>
    public static List<(string Source, JsonArray Outputs)> CodeCells(JsonObject nb) =>
        [.. nb["cells"]!.AsArray()
            .Where(c => (string?)c!["cell_type"] == "code" && !Tags(c).Contains("injected-parameters"))
            .Select(c => (TestSupport.Text(c!["source"]), c!["outputs"]?.AsArray() ?? []))];

    /// <summary>What a cell showed, comparable across engines: each output's kind and its mime types except text/plain
    /// (Jupyter clients receive a return value as text/html only; VS Code and our runner also keep text/plain).</summary>
    public static string Shape(JsonArray outputs) => string.Join(" ", outputs.Select(o =>
    {
        var type = (string)o!["output_type"]!;
        if (type == "stream") return "stream:" + (string?)o["name"];
        if (type == "error") return "error";
        var mimes = (o["data"]?.AsObject().Select(kv => kv.Key) ?? []).Where(m => m != "text/plain").Order();
        return "display[" + string.Join(",", mimes) + "]";
    }).Where(s => s != "display[]").Distinct());
}
