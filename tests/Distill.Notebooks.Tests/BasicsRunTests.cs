using System.Text.RegularExpressions;
using System.Text.Json.Nodes;

namespace Distill.Notebooks.Tests;

/// <summary>Runs TestData/basics.ipynb once (packages the runner carries, parameters, console, chart, DataFrame, tensor)
/// and shares the result between the tests below and the browser test.</summary>
public sealed class BasicsRun : IDisposable
{
    readonly TempDir outDir = new("basics");

    public BasicsRun()
    {
        Result = TestSupport.Run(TestSupport.TestData("basics.ipynb"), OutDir, new NotebookRunOptions
        {
            Budget = "smoke",
            Parameters = [new("epochs", "5")],
        });
        Notebook = TestSupport.ReadJson(Result.Files.Notebook);
    }

    public string OutDir => outDir.Path;
    public NotebookRunResult Result { get; }
    public JsonObject Notebook { get; }

    public JsonArray Cells => Notebook["cells"]!.AsArray();

    /// <summary>The executed cell whose source contains <paramref name="marker"/>.</summary>
    public JsonNode Cell(string marker) => Cells.Single(c => TestSupport.Text(c!["source"]).Contains(marker, StringComparison.Ordinal))!;

    public static IEnumerable<JsonNode> Outputs(JsonNode cell) => cell["outputs"]!.AsArray().Select(o => o!);

    public void Dispose() => outDir.Dispose();
}

public class BasicsRunTests(BasicsRun run) : IClassFixture<BasicsRun>
{
    [Fact]
    public void Runs_every_cell_in_order_with_execution_counts()
    {
        Assert.True(run.Result.Succeeded, string.Join("\n", run.Result.Failures));
        var counts = run.Cells.Where(c => c!["cell_type"]!.GetValue<string>() == "code").Select(c => c!["execution_count"]!.GetValue<int>()).ToList();
        Assert.Equal(Enumerable.Range(1, counts.Count), counts);
        Assert.Equal("markdown", run.Cells[0]!["cell_type"]!.GetValue<string>());
        Assert.Equal("", TestSupport.NbformatErrors(run.Result.Files.Notebook));
    }

    [Fact]
    public void Injects_typed_parameters_after_the_parameters_cell()
    {
        var cells = run.Cells.Select(c => c!).ToList();
        int p = cells.FindIndex(c => c["metadata"]!["tags"]?.AsArray().Any(t => t!.GetValue<string>() == "parameters") == true);
        var injected = cells[p + 1];
        Assert.Equal("injected-parameters", injected["metadata"]!["tags"]![0]!.GetValue<string>());
        var src = TestSupport.Text(injected["source"]);
        Assert.Contains("int epochs = 5;", src);
        Assert.Contains("string budget = \"smoke\";", src);
        var printed = TestSupport.Text(BasicsRun.Outputs(run.Cell("Console.Error.WriteLine")).First()["text"]);
        Assert.Equal("budget=smoke epochs=5 lr=0.1 verbose=False\n", printed);
        Assert.Equal("5", run.Result.Parameters["epochs"]);
        Assert.Equal("0.1", run.Result.Parameters["lr"]);
        Assert.Equal("smoke", run.Result.Budget);
    }

    [Fact]
    public void Console_streams_and_displays_keep_their_order()
    {
        var outs = BasicsRun.Outputs(run.Cell("Console.Error.WriteLine")).ToList();
        Assert.Equal(["stream", "stream", "display_data", "stream"], outs.Select(o => o["output_type"]!.GetValue<string>()));
        Assert.Equal(["stdout", "stderr"], outs.Take(2).Select(o => o["name"]!.GetValue<string>()));
        Assert.Equal("a warning on stderr\n", TestSupport.Text(outs[1]["text"]));
        // A string displays as text/plain only, like the kernel.
        Assert.Equal(["text/plain"], outs[2]["data"]!.AsObject().Select(kv => kv.Key));
        Assert.Equal("after display\n", TestSupport.Text(outs[3]["text"]));
    }

    [Fact]
    public void Carried_packages_bind_to_the_runners_copies()
    {
        var installed = TestSupport.Text(BasicsRun.Outputs(run.Cell("#r \"nuget: Plotly.NET, 6.0.0\"")).Single()["data"]!["text/plain"]);
        Assert.Contains("Plotly.NET, 6.0.0", installed);
        Assert.Contains("Plotly.NET.Interactive, 5.0.0 (chart formatter supplied by distill run", installed);
        Assert.Contains("TorchSharp-cpu, 0.107.0", installed);
        Assert.Contains("Newtonsoft.Json, 13.0.4 (the runner's copy; the notebook asked for Newtonsoft.Json, 13.0.3)", installed);
        Assert.Single(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "TorchSharp");
    }

    [Fact]
    public void Chart_output_is_light_and_renders_with_plotly()
    {
        var result = BasicsRun.Outputs(run.Cell("Chart.Line")).Single();
        Assert.Equal("execute_result", result["output_type"]!.GetValue<string>());
        var html = TestSupport.Text(result["data"]!["text/html"]);
        Assert.Contains("class=\"distill-plotly\"", html);
        Assert.Contains("Plotly.newPlot(", html);
        Assert.Contains("\"name\":\"squares\"", html);
        Assert.True(html.Length < 20_000, $"chart output is {html.Length} chars: plotly.js must not be embedded per output");
        Assert.Equal("Plotly chart (1 traces)", TestSupport.Text(result["data"]!["text/plain"]));
    }

    [Fact]
    public void DataFrame_and_tensor_formatters_show_data()
    {
        var df = TestSupport.Text(BasicsRun.Outputs(run.Cell("new DataFrame(")).Single()["data"]!["text/html"]);
        Assert.Contains("<th title=\"Double\">loss</th>", df);
        Assert.Contains("<td>0.25</td>", df);
        Assert.Contains("&lt;start&gt;", df); // cell values are escaped
        Assert.Contains("3 rows × 3 columns", df);
        // Plain text keeps columns apart however long a value is (DataFrame.ToString runs them together).
        Assert.Equal("epoch  loss  note\n    1   0.9  <start>\n    2   0.5  mid\n    3  0.25  end\n3 rows × 3 columns",
            TestSupport.Text(BasicsRun.Outputs(run.Cell("new DataFrame(")).Single()["data"]!["text/plain"]));

        var outs = BasicsRun.Outputs(run.Cell("torch.arange(6")).ToList();
        var tensor = TestSupport.Text(outs[0]["data"]!["text/plain"]);
        Assert.StartsWith("tensor shape [2, 3], dtype Float32, device cpu\n", tensor);
        Assert.Contains("[3, 4, 5]", tensor);
        Assert.Equal("15", TestSupport.Text(outs[1]["data"]!["text/plain"]));
    }

    [Fact]
    public void Last_expression_is_shown_only_without_trailing_semicolon()
    {
        var timed = BasicsRun.Outputs(run.Cell("#!time")).ToList();
        Assert.Single(timed); // `Math.Max(answer, 1);` ends with a semicolon: no value
        Assert.Matches(@"^Wall time: [0-9.]+ms$", TestSupport.Text(timed[0]["data"]!["text/plain"]));
        var answer = BasicsRun.Outputs(run.Cells.Single(c => TestSupport.Text(c!["source"]) == "answer")!).Single();
        Assert.Equal("42", TestSupport.Text(answer["data"]!["text/plain"]));
        var returned = BasicsRun.Outputs(run.Cell("A top-level return")).Single();
        Assert.Equal("execute_result", returned["output_type"]!.GetValue<string>());
        Assert.Equal("43", TestSupport.Text(returned["data"]!["text/plain"]));
        Assert.Empty(BasicsRun.Outputs(run.Cell("inside a lambda")));
        var html = BasicsRun.Outputs(run.Cell("HTML(")).Single();
        Assert.Equal("<em>raw formatter html</em>", TestSupport.Text(html["data"]!["text/html"]));
        // A display handle's Update replaces the output in place, as in VS Code.
        var updated = BasicsRun.Outputs(run.Cell("progress.Update")).Single();
        Assert.Equal("progress 100%", TestSupport.Text(updated["data"]!["text/plain"]));
    }

    [Fact]
    public void Html_report_is_offline_escaped_and_carries_the_facts()
    {
        var html = File.ReadAllText(run.Result.Files.Html!);
        // plotly.js once, from Plotly.NET's embedded resource; no CDN anywhere.
        Assert.Equal(1, Count(html, "plotly.js v2.28.0"));
        Assert.DoesNotContain("cdn.plot.ly/plotly-", html); // (plotly.js itself mentions the CDN for map data only)
        Assert.DoesNotContain("<script src=", html);
        // Text outputs are escaped; formatter HTML is raw.
        Assert.Contains("&lt;b&gt;not html&lt;/b&gt;", html);
        Assert.DoesNotContain("<b>not html</b>", html);
        Assert.Contains("<em>raw formatter html</em>", html);
        Assert.Contains("<h1 id=\"basics\">Basics</h1>", html); // markdown rendered
        foreach (var fact in new[] { "basics.ipynb", "smoke", "epochs = 5", "TorchSharp 0.107.0", "libtorch 2.10", ".NET 10" })
            Assert.Contains(fact, html);
        // The notebook run is the build output's copy, which git ignores: not what the commit holds.
        Assert.Matches("git commit</th><td>[0-9a-f]{40} \\(dirty: notebook not committed: ignored by git\\)", html);
        // Terminal sequences and control bytes are dropped from the page, the text around them kept; the notebook keeps
        // what the cell wrote.
        // (plotly.js, inlined, carries ESC bytes of its own, so the output's element is what is checked.)
        var shown = Regex.Match(html, "<pre class=\"stream stdout\">(nul\\[.*?)</pre>", RegexOptions.Singleline);
        Assert.Equal("nul[] osc[link] csi[red] c1[] bell[] nf[x]\n", shown.Groups[1].Value); // ESC ( B (tput sgr0) left its B
        var written = TestSupport.Text(BasicsRun.Outputs(run.Cell("Terminal bytes")).Single()["text"]);
        Assert.Equal("nul[\0] osc[\u001b]8;;https://example.invalid\u0007link\u001b]8;;\u0007] csi[\u001b[1;31mred\u001b[0m] c1[\u009b] bell[\u0007] nf[\u001b(Bx]\n", written);
    }

    [Fact]
    public void Manifest_has_the_facts_and_per_cell_timings()
    {
        var m = TestSupport.ReadJson(run.Result.Files.Manifest);
        Assert.Equal("succeeded", m["status"]!.GetValue<string>());
        Assert.Equal("smoke", m["budget"]!.GetValue<string>());
        Assert.Equal("5", m["parameters"]!["epochs"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{40}$", m["git"]!["commit"]!.GetValue<string>());
        // The code's own commit, stamped at build time: the checkout may have moved on since.
        Assert.Equal(Distill.Native.Git.BuildCommit, m["git"]!["libraryCommit"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{40}$", Distill.Native.Git.BuildCommit);
        // Built in a checkout git can read, the build says whether its sources had uncommitted changes, and the
        // manifest keeps it.
        if (Distill.Native.Git.Run(TestSupport.RepoRoot, "status", "--porcelain") is not null) Assert.NotNull(Distill.Native.Git.BuildDirty);
        Assert.Equal(Distill.Native.Git.BuildDirty, m["git"]!["libraryDirty"]!.GetValue<bool>());
        Assert.Equal("0.107.0", m["runtime"]!["torchsharp"]!.GetValue<string>());
        // oneMKL's reproducibility mode changes every GEMM's rounding: the manifest names the one the run had.
        Assert.Equal(Distill.Native.TorchRuntime.MklReproducibility, m["runtime"]!["mklCbwr"]!.GetValue<string>());
        // So does oneMKL's kernel path (the AMD fix on or not): `train` recorded it in run.json, reports did not.
        Assert.Equal(Distill.Native.MklCpuDispatch.Status, m["runtime"]!["mklDispatch"]!.GetValue<string>());
        Assert.Equal("basics.html", m["files"]!["html"]!.GetValue<string>());
        var cells = m["cells"]!.AsArray();
        Assert.Equal(run.Cells.Count, cells.Count);
        var code = cells.Where(c => c!["kind"]!.GetValue<string>() == "code").ToList();
        Assert.All(code, c => Assert.Equal("succeeded", c!["status"]!.GetValue<string>()));
        Assert.All(code, c => Assert.True(c!["seconds"]!.GetValue<double>() > 0));
        Assert.True(m["durationSeconds"]!.GetValue<double>() >= code.Sum(c => c!["seconds"]!.GetValue<double>()) - 0.01);

        // The executed notebook names the same facts (it held only the source's metadata): often the one file shared.
        var facts = TestSupport.ReadJson(run.Result.Files.Notebook)["metadata"]![Distill.Notebooks.NotebookRunner.RunMetadataKey]!;
        Assert.Equal("smoke", facts["budget"]!.GetValue<string>());
        Assert.Equal("5", facts["parameters"]!["epochs"]!.GetValue<string>());
        Assert.Equal(run.Result.Environment.CommitText, facts["commit"]!.GetValue<string>());
        Assert.Equal(m["runtime"]!["torchThreads"]!.GetValue<int>(), facts["torch_threads"]!.GetValue<int>());
        Assert.Equal("0.107.0", facts["torchsharp"]!.GetValue<string>());
    }

    static int Count(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}

public class RunEnvironmentTests
{
    static RunEnvironment Env(string? head, bool? dirty, string? library) =>
        new(head, dirty, "m", "os", "cpu", 2, 2, ".NET", "0.107.0", "2.10.0", "isa", library);

    [Fact]
    public void Reports_name_the_librarys_build_commit_when_the_checkout_has_moved_on()
    {
        var a = new string('a', 40);
        var b = new string('b', 40);
        Assert.Equal($"{a} (clean)", Env(a, false, a).CommitText);
        Assert.Equal($"{b} (dirty: uncommitted changes); the library ran was built from {a}", Env(b, true, a).CommitText);
        Assert.Equal($"not a git checkout; the library ran was built from {a}", Env(null, null, a).CommitText);
        Assert.Equal($"{a} (clean)", Env(a, false, null).CommitText);
        // A library built from uncommitted changes is named so, even at the checkout's own commit.
        Assert.Equal($"{a} (dirty: uncommitted changes); the library ran was built from {a} with uncommitted changes",
            (Env(a, true, a) with { LibraryDirty = true }).CommitText);
        Assert.Equal($"{a} (clean)", (Env(a, false, a) with { LibraryDirty = false }).CommitText);
        // The notebook itself not committed is named, not just "uncommitted changes".
        Assert.Equal($"{a} (dirty: notebook not committed: untracked)", (Env(a, true, a) with { NotebookNotCommitted = "untracked" }).CommitText);
        Assert.Equal("aaaaaaaaaaaa (dirty: notebook not committed)", (Env(a, true, a) with { NotebookNotCommitted = "modified" }).GitDescription);
        Assert.Equal("aaaaaaaaaaaa (dirty)", Env(a, true, a).GitDescription);
        // Why there is no commit, when git said why.
        Assert.Equal($"a git checkout without commits; the library ran was built from {a}", (Env(null, null, a) with { NoCommit = "a git checkout without commits" }).CommitText);
        Assert.Equal("git is not installed", (Env(null, null, a) with { NoCommit = "git is not installed" }).GitDescription);
    }

    /// <summary>Probed: a checkout owned by another user (git: "detected dubious ownership", as under sudo or in a
    /// devcontainer volume) was reported "not a git checkout", and its commit lost with a false reason.</summary>
    [Fact]
    public void A_checkout_git_will_not_read_is_named_with_gits_reason_not_as_no_checkout()
    {
        using var dir = new TempDir("git-reasons");
        Assert.Equal("not a git checkout", Distill.Native.Git.Head(dir.Path).NoCommit);
        var repo = Directory.CreateDirectory(Path.Combine(dir.Path, "repo")).FullName;
        Assert.Equal("", Distill.Native.Git.Run(repo, "init", "-q")); // null when git failed
        Assert.Equal("a git checkout without commits", Distill.Native.Git.Head(repo).NoCommit);
        // Another owner: only root can make one here, and git reads such a checkout when safe.directory allows it.
        using (var chown = System.Diagnostics.Process.Start("chown", ["-R", "nobody", repo])!) chown.WaitForExit();
        if (Distill.Native.Git.Run(repo, "status") is null)
            Assert.Equal($"git could not read the checkout: fatal: detected dubious ownership in repository at '{repo}' " +
                         $"(git config --global --add safe.directory {repo} lets this user read it)", Distill.Native.Git.Head(repo).NoCommit);
    }
}
