namespace Distill.Notebooks.Tests;

/// <summary>Notebooks and command lines at the edges of what the runner was written for: each must behave as the
/// kernel does or fail by name, without touching anything it was not asked to write.</summary>
public class RunnerEdgeTests
{
    static string Plain(NotebookRunResult r, int cell) =>
        Assert.Single(r.Cells[cell].Outputs.OfType<Documents.DisplayOutput>()).Data["text/plain"];

    /// <summary>The kernel sends a null result (a bare <c>null</c>, <c>return;</c>) as text/html
    /// <c>&lt;div class="dni-plaintext"&gt;&lt;pre&gt;&amp;lt;null&amp;gt;&lt;/pre&gt;&lt;/div&gt;</c>, as any other value; the
    /// conformance test compares MIME types per cell, so the runner sends it too (text/plain beside it, as for the rest).</summary>
    [Fact]
    public void A_bare_null_shows_null_and_stdin_reads_as_empty()
    {
        using var dir = new TempDir("edge-values");
        var nb = TestSupport.WriteNotebook(dir.Path, "values.ipynb",
            ("null", null),
            ("return;", null),
            ("Console.ReadLine() is null && Console.In.Peek() == -1", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        foreach (var cell in new[] { 0, 1 })
        {
            var result = Assert.Single(r.Cells[cell].Outputs.OfType<Documents.DisplayOutput>());
            Assert.True(result.IsResult);
            Assert.Equal(["text/html", "text/plain"], result.Data.Keys.Order(StringComparer.Ordinal));
            Assert.StartsWith("<div class=\"dni-plaintext\"><pre>&lt;null&gt;</pre></div>", result.Data["text/html"], StringComparison.Ordinal);
            Assert.Equal("<null>", Plain(r, cell));
        }
        Assert.Equal("True", Plain(r, 2));
    }

    /// <summary>A C# selector below code: the kernel splits the cell there and runs each part as a submission with its own
    /// value (checked with nbconvert on the .net-csharp kernel: "1 + 1\n#!csharp\n2 + 2" shows 2 and 4). Joined, it
    /// failed here with CS1002. Errors in a later part keep the cell's line numbers, and a part that fails stops the rest.</summary>
    [Fact]
    public void A_csharp_selector_below_code_splits_the_cell_into_submissions_as_the_kernel_does()
    {
        using var dir = new TempDir("edge-split");
        var nb = TestSupport.WriteNotebook(dir.Path, "split.ipynb",
            ("1 + 1\n#!csharp\n2 + 2", null),
            ("var x = 5;\n#!c#\nx * 2", null),
            ("#!csharp\n7", null),
            ("Console.WriteLine(\"a\");\n#!csharp\nint y = 1;\nthrow new Exception(\"b\");\n#!csharp\nConsole.WriteLine(\"never\");", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        string[] Values(int cell) => [.. r.Cells[cell].Outputs.OfType<Documents.DisplayOutput>().Where(o => o.IsResult).Select(o => o.Data["text/plain"])];
        Assert.Equal(["2", "4"], Values(0));
        Assert.Equal(["10"], Values(1));
        Assert.Equal(["7"], Values(2)); // a selector on the first line is the cell's kernel, not a split
        var failure = Assert.Single(r.Failures);
        Assert.Equal((4, "System.Exception: b"), (failure.Line, failure.Message));
        Assert.DoesNotContain("never", string.Concat(r.Cells[3].Outputs.OfType<Documents.StreamOutput>().Select(o => o.Text.ToString())), StringComparison.Ordinal);
    }

    /// <summary>Started from a terminal, the runner's process stderr is one, and the library's training progress line took
    /// it for the cell's (Console.IsErrorRedirected reads the process's stderr): its \r redraws became two extra stderr
    /// outputs of the cell. A cell's stderr is never a terminal (in the kernel it is a pipe), so the runner turns the
    /// line off with the switch the library reads (one constant, TrainOptions.ProgressOffSwitch); Distill.Tests'
    /// ProgressLineTests check that the switch turns it off on a terminal.</summary>
    [Fact]
    public void Cells_run_with_the_training_progress_line_off()
    {
        using var dir = new TempDir("edge-progress");
        var nb = TestSupport.WriteNotebook(dir.Path, "progress.ipynb",
            ($"AppContext.TryGetSwitch(\"{Distill.Training.TrainOptions.ProgressOffSwitch}\", out var off) && off", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("True", Plain(r, 0));
    }

    /// <summary>The kernel 1.0.712001 does not import Microsoft.DotNet.Interactive.Formatting: an unqualified Formatter is
    /// CS0103 there, so it must be here too (a notebook that runs headless must run in the kernel); with the using it works.</summary>
    [Fact]
    public void Formatter_needs_its_using_as_in_the_kernel()
    {
        using var dir = new TempDir("edge-formatter");
        var nb = TestSupport.WriteNotebook(dir.Path, "formatter.ipynb",
            ("public record Temp(double C);", null),
            ("Formatter.Register<Temp>((t, w) => w.Write($\"<b>{t.C} C</b>\"), \"text/html\");", null),
            ("using Microsoft.DotNet.Interactive.Formatting;\nFormatter.Register<Temp>((t, w) => w.Write($\"<b>{t.C} C</b>\"), \"text/html\");\nnew Temp(21.5)", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        var failure = Assert.Single(r.Failures);
        Assert.Equal("cell 2", failure.Cell);
        Assert.Contains("CS0103: The name 'Formatter' does not exist in the current context", failure.Message, StringComparison.Ordinal);
        Assert.Equal(CellStatus.Succeeded, r.Cells[2].Status);
        Assert.StartsWith("<b>21.5 C</b>", Assert.Single(r.Cells[2].Outputs.OfType<Documents.DisplayOutput>()).Data["text/html"], StringComparison.Ordinal);
    }

    /// <summary>CSS(), Javascript() and DisplayAs() work in the kernel without a using; they were CS0103/CS1061 here. Each
    /// shows what the kernel 1.0.712001 saved over Jupyter (its \r\n as \n, as for every output here): a display_data of
    /// only the given MIME type, the text unescaped, no value shown. Kernel.Current cannot exist headless: its error says
    /// why instead of reading as a missing using.</summary>
    [Fact]
    public void The_kernels_display_helpers_show_what_the_kernel_shows_and_its_Kernel_object_is_named_as_missing()
    {
        using var dir = new TempDir("edge-kernelapi");
        var nb = TestSupport.WriteNotebook(dir.Path, "kernelapi.ipynb",
            ("CSS(\"p { color: red; }\")", null),
            ("Javascript(\"console.log(1)\")", null),
            ("\"<b>x</b>\".DisplayAs(\"text/html\");", null),
            ("\"**bold** md\".DisplayAs(\"text/markdown\");", null),
            ("using Microsoft.DotNet.Interactive;\nKernel.Current?.Name ?? \"<none>\"", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        (string Mime, string Text) Shown(int cell)
        {
            var d = Assert.Single(r.Cells[cell].Outputs.OfType<Documents.DisplayOutput>());
            Assert.False(d.IsResult);
            var (mime, text) = Assert.Single(d.Data);
            return (mime, text);
        }
        Assert.Equal(("text/html", "<script type=\"text/javascript\">var css = `p { color: red; }`,\nhead = document.head || document.getElementsByTagName('head')[0],\n" +
                      "style = document.createElement('style');\n\nhead.appendChild(style);\n\nstyle.type = 'text/css';\nif (style.styleSheet) {\n" +
                      "  style.styleSheet.cssText = css;\n} else {\n  style.appendChild(document.createTextNode(css));\n}</script>"), Shown(0));
        Assert.Equal(("text/html", "<script type=\"text/javascript\">console.log(1)</script>"), Shown(1));
        Assert.Equal(("text/html", "<b>x</b>"), Shown(2));
        Assert.Equal(("text/markdown", "**bold** md"), Shown(3));
        var failure = Assert.Single(r.Failures);
        Assert.Equal("cell 5", failure.Cell);
        Assert.StartsWith("'Kernel' (line 2) is the .NET Interactive kernel's own API (Microsoft.DotNet.Interactive), which distill run does not have",
            failure.Message, StringComparison.Ordinal);
    }

    /// <summary>A cell ending in display(x), x.Display() or DisplayAs(...) without a semicolon has the display's handle
    /// as its value; the kernel shows the display_data only. It was also shown as an execute_result (an empty tree view of
    /// DisplayedValue). Update() on a returned handle still works.</summary>
    [Fact]
    public void A_cell_ending_in_a_display_call_without_a_semicolon_shows_only_the_display()
    {
        using var dir = new TempDir("edge-display-last");
        var nb = TestSupport.WriteNotebook(dir.Path, "display-last.ipynb",
            ("display(1)", null),
            ("2.Display()", null),
            ("\"<b>x</b>\".DisplayAs(\"text/html\")", null),
            ("var d = display(3);\nd.Update(4);\nd", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        foreach (var (cell, text) in new[] { (0, "1"), (1, "2"), (3, "4") })
        {
            var d = Assert.Single(r.Cells[cell].Outputs);
            Assert.False(Assert.IsType<Documents.DisplayOutput>(d).IsResult);
            Assert.Equal(text, Plain(r, cell));
        }
        Assert.Equal("<b>x</b>", Assert.IsType<Documents.DisplayOutput>(Assert.Single(r.Cells[2].Outputs)).Data["text/html"]);
        Assert.DoesNotContain("DisplayedValue", File.ReadAllText(r.Files.Notebook), StringComparison.Ordinal);
    }

    /// <summary>The kernel takes a magic only at the start of a line: an indented <c>#!time</c> reaches the compiler,
    /// which refuses it (CS1040), and an indented <c>#r "nuget: ..."</c> is a metadata file Roslyn cannot find (CS0006).
    /// The runner took both as magics, so a notebook that passed <c>distill run</c> failed in VS Code and Jupyter.</summary>
    [Fact]
    public void Only_a_magic_at_the_start_of_its_line_is_a_magic_as_in_the_kernel()
    {
        using var dir = new TempDir("edge-indented-magic");
        var nb = TestSupport.WriteNotebook(dir.Path, "indented.ipynb",
            ("  #!time\n1", null),
            ("\t#!time\n2", null),
            ("  #r \"nuget: Humanizer.Core, 2.14.1\"\n3", null),
            ("#!time\n4", null),
            ("  #!fsharp\n5", null)); // a C# cell, not an F# one: the compiler's error, not the runner's "F# kernel" refusal
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal([CellStatus.Failed, CellStatus.Failed, CellStatus.Failed, CellStatus.Succeeded, CellStatus.Failed], r.Cells.Select(c => c.Status));
        Assert.StartsWith("(1,3): error CS1040", Assert.IsType<Documents.ErrorOutput>(Assert.Single(r.Cells[4].Outputs)).EValue, StringComparison.Ordinal);
        Assert.Equal(["(1,3): error CS1040", "(1,2): error CS1040", "(1,3): error CS0006"],
            r.Cells.Take(3).Select(c => Assert.IsType<Documents.ErrorOutput>(Assert.Single(c.Outputs)).EValue[..19]));
        Assert.All(r.Failures, f => Assert.Equal(1, f.Line));
        Assert.Contains("'nuget: Humanizer.Core, 2.14.1' could not be found", r.Failures[2].Message, StringComparison.Ordinal);
        var outputs = r.Cells[3].Outputs.OfType<Documents.DisplayOutput>().Select(d => d.Data["text/plain"]).ToList();
        Assert.Equal("4", outputs[0]);
        Assert.StartsWith("Wall time: ", outputs[1], StringComparison.Ordinal);
    }

    /// <summary>A cell saved with CRLF line ends (Windows) reaches the compiler unchanged, as in the kernel: a verbatim
    /// string spanning a line end keeps its \r (the runner turned CRLF into LF, so its length was 3, not 4), magic lines
    /// in such a cell still work and compile errors keep their cell-relative line.</summary>
    [Fact]
    public void A_crlf_cell_keeps_its_line_ends_and_its_magics_and_line_numbers()
    {
        using var dir = new TempDir("edge-crlf");
        var nb = TestSupport.WriteNotebook(dir.Path, "crlf.ipynb",
            ("var s = @\"a\r\nb\";\r\nConsole.WriteLine(s.Length);\r\ns.Length", null),
            ("#!time\r\n\"\"\"\r\n  x\r\n  y\r\n  \"\"\".Length", null),
            ("var a = 1;\r\n\r\nint x = \"no\";\r\n", null),
            ("var b = 1;\r\n#!lsmagic\r\n", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal("4\n", Assert.IsType<Documents.StreamOutput>(r.Cells[0].Outputs[0]).Text.ToString());
        Assert.Equal("4", Plain(r, 0));
        var timed = r.Cells[1].Outputs.OfType<Documents.DisplayOutput>().Select(d => d.Data["text/plain"]).ToList();
        Assert.Equal("4", timed[0]);
        Assert.StartsWith("Wall time: ", timed[1], StringComparison.Ordinal);
        Assert.Equal(["cell 3", "cell 4"], r.Failures.Select(f => f.Cell));
        Assert.Equal([3, 2], r.Failures.Select(f => f.Line));
        Assert.StartsWith("(3,9): error CS0029", Assert.IsType<Documents.ErrorOutput>(Assert.Single(r.Cells[2].Outputs)).EValue, StringComparison.Ordinal);
    }

    /// <summary>The runner's own process carries TorchSharp, Microsoft.Data.Analysis and YamlDotNet; the kernel's does
    /// not. A cell that uses them without a #r failed in the kernel (CS0246) and ran here; now it fails here too, while
    /// what the kernel has without a #r (the framework, its own Newtonsoft.Json) still works.</summary>
    [Fact]
    public void Only_what_the_kernel_has_is_usable_without_a_reference()
    {
        using var dir = new TempDir("edge-norefs");
        var nb = TestSupport.WriteNotebook(dir.Path, "norefs.ipynb",
            ("using TorchSharp;\ntorch.ones(2).sum().item<float>()", null),
            ("using Microsoft.Data.Analysis;\nnew DataFrame()", null),
            ("using YamlDotNet.Serialization;\nnew Deserializer()", null),
            ("Newtonsoft.Json.JsonConvert.SerializeObject(new[] { 1, 2 }) + System.Text.Json.JsonSerializer.Serialize(3)", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal(["cell 1", "cell 2", "cell 3"], r.Failures.Select(f => f.Cell));
        Assert.All(r.Failures, f => Assert.Matches("CS0246|CS0234", f.Message)); // type or namespace not found
        Assert.Equal("[1,2]3", Plain(r, 3));
    }

    /// <summary>What runs headless but fails in the kernel, said as a warning: TorchSharp used before
    /// Distill.Notebook.Start() (here libtorch is loaded already), and Plotly.NET (FSharp.Core 10.1 against the kernel's
    /// 10.0). Once each; none when Start() comes first in the cell.</summary>
    [Fact]
    public void Torch_before_Start_and_Plotly_are_warned_of_as_failing_in_the_kernel()
    {
        using var dir = new TempDir("edge-kernel-warnings");
        const string torch = "#r \"nuget: TorchSharp-cpu, 0.107.0\"\n#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"\n";
        var before = TestSupport.WriteNotebook(dir.Path, "before.ipynb",
            (torch + "// TorchSharp.torch is fine in a comment? no: the warning reads code lines only\nvar t = TorchSharp.torch.ones(1);", null),
            ("var u = TorchSharp.torch.ones(2);", null),
            ("#r \"nuget: Plotly.NET, 6.0.0\"", null),
            ("#r \"nuget: Plotly.NET.CSharp, 0.14.0\"", null));
        var log = new StringWriter();
        var r = TestSupport.Run(before, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log, PackageCacheDirectory = TestSupport.PackageCache });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var warnings = log.ToString().Split('\n').Where(l => l.Contains("warning:", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Contains("before.ipynb: cell 1 uses TorchSharp before Distill.Notebook.Start() has run", warnings[0], StringComparison.Ordinal);
        Assert.Contains("before.ipynb: cell 3 references Plotly.NET", warnings[1], StringComparison.Ordinal);

        // By a DLL's path the kernel loads the same assembly: warned of the same.
        var byPath = TestSupport.WriteNotebook(dir.Path, "bypath.ipynb", ($"#r \"{Path.Combine(AppContext.BaseDirectory, "Plotly.NET.dll")}\"", null));
        var pathLog = new StringWriter();
        TestSupport.Run(byPath, Path.Combine(dir.Path, "out-bypath"), new NotebookRunOptions { Log = pathLog });
        Assert.Contains("bypath.ipynb: cell 1 references Plotly.NET", pathLog.ToString(), StringComparison.Ordinal);

        var distill = DistillDll;
        // A using and a comment run nothing; Start first. Plotly.NET after Start draws in the kernel too: no warning.
        var first = TestSupport.WriteNotebook(dir.Path, "first.ipynb",
            (torch + $"#r \"{distill}\"\nusing static TorchSharp.torch;\n// torch.ones(1) is only a comment here\nDistill.Notebook.Start();\nvar t = TorchSharp.torch.ones(1);", null),
            ("#r \"nuget: Plotly.NET, 6.0.0\"", null));
        var quiet = new StringWriter();
        var ok = TestSupport.Run(first, Path.Combine(dir.Path, "out2"), new NotebookRunOptions { Log = quiet, PackageCacheDirectory = TestSupport.PackageCache });
        Assert.True(ok.Succeeded, string.Join("\n", ok.Failures));
        Assert.DoesNotContain("warning:", quiet.ToString(), StringComparison.Ordinal);
        // A Start() in the same cell counts once it has run: a compile error before it leaves Plotly.NET before Start.
        var broken = TestSupport.WriteNotebook(dir.Path, "broken.ipynb",
            ($"#r \"nuget: Plotly.NET, 6.0.0\"\n#r \"{distill}\"\nint x = \"no\";\nDistill.Notebook.Start();", null));
        var brokenLog = new StringWriter();
        Assert.False(TestSupport.Run(broken, Path.Combine(dir.Path, "out-broken"), new NotebookRunOptions { Log = brokenLog, PackageCacheDirectory = TestSupport.PackageCache }).Succeeded);
        Assert.Contains("broken.ipynb: cell 1 references Plotly.NET before Distill.Notebook.Start() has run", brokenLog.ToString(), StringComparison.Ordinal);

        // The library before Start builds tensors just the same.
        var library = TestSupport.WriteNotebook(dir.Path, "library.ipynb",
            (torch + $"#r \"{distill}\"\nvar threads = Distill.Native.TorchRuntime.Threads;", null), ("Distill.Notebook.Start();", null));
        var warned = new StringWriter();
        Assert.True(TestSupport.Run(library, Path.Combine(dir.Path, "out3"), new NotebookRunOptions { Log = warned, PackageCacheDirectory = TestSupport.PackageCache }).Succeeded);
        Assert.Contains("library.ipynb: cell 1 uses TorchSharp before Distill.Notebook.Start() has run", warned.ToString(), StringComparison.Ordinal);
    }

    /// <summary>In the kernel the library's chart formatter comes with Distill.Notebook.Start(): a Figure shown before it
    /// is the kernel's generic tree view, while the runner drew it without a word. Warned of once per notebook, at the
    /// first chart shown (a result or display()); none when Start() came first.</summary>
    [Fact]
    public void A_chart_shown_before_Start_is_warned_of_as_a_tree_view_in_the_kernel()
    {
        using var dir = new TempDir("edge-figure-before-start");
        var header = $"#r \"nuget: TorchSharp-cpu, 0.107.0\"\n#r \"{DistillDll}\"\nusing Distill.Reporting;\n";
        const string chart = "Charts.Lines(\"acc\", \"epoch\", \"%\", [new Series(\"s\", [1, 2], [1.0, 2.0])])";
        var before = TestSupport.WriteNotebook(dir.Path, "before.ipynb", (header + "var n = 1;", null), (chart, null), ($"display({chart});", null));
        var log = new StringWriter();
        var r = TestSupport.Run(before, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log, PackageCacheDirectory = TestSupport.PackageCache });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var warning = Assert.Single(log.ToString().Split('\n'), l => l.Contains("shows a chart", StringComparison.Ordinal));
        Assert.Contains("before.ipynb: cell 2 shows a chart (Distill.Reporting.Figure) before Distill.Notebook.Start() has run", warning, StringComparison.Ordinal);
        Assert.Contains("call Distill.Notebook.Start() first", warning, StringComparison.Ordinal);

        var after = TestSupport.WriteNotebook(dir.Path, "after.ipynb", (header + "Distill.Notebook.Start();", null), (chart, null));
        var quiet = new StringWriter();
        Assert.True(TestSupport.Run(after, Path.Combine(dir.Path, "out2"), new NotebookRunOptions { Log = quiet, PackageCacheDirectory = TestSupport.PackageCache }).Succeeded);
        Assert.DoesNotContain("shows a chart", quiet.ToString(), StringComparison.Ordinal);
    }

    /// <summary>The library's build output of the configuration these tests run in.</summary>
    static string DistillDll =>
        Path.Combine(TestSupport.RepoRoot, "artifacts", "bin", "Distill", new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name, "Distill.dll");

    /// <summary>In the kernel, Microsoft.Data.Analysis referenced after Start() loads its display extension over distill's
    /// DataFrame formatter (all rows as HTML, not 20): warned of once (not again at a second #r); referenced before Start
    /// (the test above) it is not.</summary>
    [Fact]
    public void Data_analysis_referenced_after_Start_is_warned_of()
    {
        using var dir = new TempDir("edge-mda-after");
        var nb = TestSupport.WriteNotebook(dir.Path, "after.ipynb",
            ($"#r \"nuget: TorchSharp-cpu, 0.107.0\"\n#r \"{DistillDll}\"\nDistill.Notebook.Start();", null),
            ("#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"", null),
            ("#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"", null),
            // Plotly.NET.Interactive's extension does the same to charts in the kernel (CDN plotly.js, blank offline).
            ("#r \"nuget: Plotly.NET.Interactive, 6.0.0\"", null));
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var warning = Assert.Single(log.ToString().Split('\n'), l => l.Contains("Microsoft.Data.Analysis after", StringComparison.Ordinal));
        Assert.Contains("after.ipynb: cell 2 references Microsoft.Data.Analysis after Distill.Notebook.Start() has run", warning, StringComparison.Ordinal);
        Assert.Contains("call Distill.Notebook.Start() again after this cell", warning, StringComparison.Ordinal);
        var plotly = Assert.Single(log.ToString().Split('\n'), l => l.Contains("Plotly.NET.Interactive after", StringComparison.Ordinal));
        Assert.Contains("after.ipynb: cell 4 references Plotly.NET.Interactive after Distill.Notebook.Start() has run. In the .NET kernel (VS Code, Jupyter) its display extension " +
                        "then replaces distill's formatter, and a chart loads require.js and plotly.js from a CDN", plotly, StringComparison.Ordinal);
    }

    /// <summary>The kernel compiles C# 14 (Roslyn 5.0): its features run here, and a newer one (C# 15's collection
    /// arguments, CS0103 "with" there) fails here as well rather than passing headless only.</summary>
    [Fact]
    public void Cells_compile_as_the_kernels_csharp_14()
    {
        using var dir = new TempDir("edge-langversion");
        var nb = TestSupport.WriteNotebook(dir.Path, "lang.ipynb",
            ("class Box { public int V { get; set => field = value * 2; } }\nnew Box { V = 2 }.V", null),
            ("List<int> l = [with(capacity: 8), 1, 2];\nl.Count", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal("4", Plain(r, 0));
        Assert.Equal("cell 2", Assert.Single(r.Failures).Cell);
    }

    /// <summary>A DLL referenced by path finds its own references here (distill carries TorchSharp and the rest) but not
    /// in the kernel, where Distill.dll without <c>#r "nuget: TorchSharp-cpu"</c> fails at Start() with
    /// FileNotFoundException: warned of once, naming what is missing; nothing once the cell references the packages.</summary>
    [Fact]
    public void A_dll_by_path_whose_references_the_kernel_cannot_find_is_warned_of()
    {
        using var dir = new TempDir("edge-kernel-misses");
        var distill = DistillDll;
        var bare = TestSupport.WriteNotebook(dir.Path, "bare.ipynb", ($"#r \"{distill}\"\nDistill.Notebook.Start();", null), ($"#r \"{distill}\"", null));
        var log = new StringWriter();
        Assert.True(TestSupport.Run(bare, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log }).Succeeded);
        var warning = Assert.Single(log.ToString().Split('\n'), l => l.Contains("warning:", StringComparison.Ordinal));
        Assert.Contains("bare.ipynb: cell 1 references Distill.dll by path, which needs Microsoft.Data.Analysis, TorchSharp:", warning, StringComparison.Ordinal);
        Assert.Contains("Could not load file or assembly 'Microsoft.Data.Analysis'", warning, StringComparison.Ordinal);

        var full = TestSupport.WriteNotebook(dir.Path, "full.ipynb",
            ($"#r \"{distill}\"\n#r \"nuget: TorchSharp-cpu, 0.107.0\"\n#r \"nuget: Microsoft.Data.Analysis, 0.23.1\"\nDistill.Notebook.Start();", null));
        var quiet = new StringWriter();
        Assert.True(TestSupport.Run(full, Path.Combine(dir.Path, "out2"), new NotebookRunOptions { Log = quiet, PackageCacheDirectory = TestSupport.PackageCache }).Succeeded);
        Assert.DoesNotContain("warning:", quiet.ToString(), StringComparison.Ordinal);
    }

    /// <summary>libtorch's errors carry ~3 KB of C++ frames: the cell's error output keeps them, the one-line failure
    /// (the summary line of run and reproduce) ends before them.</summary>
    [Fact]
    public void A_libtorch_error_is_one_short_line_and_its_frames_stay_in_the_output()
    {
        using var dir = new TempDir("edge-native");
        var nb = TestSupport.WriteNotebook(dir.Path, "native.ipynb",
            ("#r \"nuget: TorchSharp-cpu, 0.107.0\"\nTorchSharp.torch.ones(2, 3).mm(TorchSharp.torch.ones(4, 5))", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { PackageCacheDirectory = TestSupport.PackageCache });
        var failure = Assert.Single(r.Failures).ToString();
        Assert.Contains("mat1 and mat2 shapes cannot be multiplied", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception raised from", failure, StringComparison.Ordinal);
        Assert.Contains("Exception raised from", Assert.Single(r.Cells[0].Outputs.OfType<Documents.ErrorOutput>()).EValue, StringComparison.Ordinal);
    }

    /// <summary>These notebooks fail nbformat validation (Jupyter refuses them, or repairs duplicate ids); the runner ran them and wrote them out invalid
    /// (a bad or duplicate id kept). Now the executed notebook validates, the ids that were valid are kept, and each
    /// repair is a warning naming the cell.</summary>
    [Fact]
    public void What_jupyter_refuses_is_written_repaired_with_a_warning_naming_the_cell()
    {
        using var dir = new TempDir("edge-invalid");
        var nb = Path.Combine(dir.Path, "invalid.ipynb");
        File.WriteAllText(nb, """
            {"cells": [
              {"cell_type": "code", "id": "bad id with spaces!", "metadata": null, "execution_count": "3", "outputs": [], "source": "1 + 1"},
              {"cell_type": "code", "id": "same", "metadata": {}, "execution_count": null, "outputs": [], "source": "2"},
              {"cell_type": "markdown", "id": "same", "metadata": {}, "source": "text"},
              {"cell_type": "code", "id": 42, "metadata": {}, "execution_count": null, "outputs": [], "source": "3"}],
             "metadata": null, "nbformat": 4, "nbformat_minor": 5}
            """);
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
        var ids = TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()).ToList();
        Assert.Equal("same", ids[1]);
        Assert.Equal(4, ids.Distinct().Count());
        var warnings = log.ToString().Split('\n').Where(l => l.Contains("warning: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, warnings.Count);
        Assert.All(warnings, w => Assert.EndsWith("(the file as it is fails nbformat validation, which Jupyter applies; the executed notebook is written repaired)", w.TrimEnd(), StringComparison.Ordinal));
        foreach (var part in new[]
        {
            "the notebook's \"metadata\" is null; written as {}",
            "cell 1: \"metadata\" is null; written as {}",
            "cell 1: \"execution_count\" is the string \"3\", not a whole number",
            $"cell 1: \"id\" the string \"bad id with spaces!\" is not an nbformat 4.5 cell id (1 to 64 letters, digits, - or _); written as \"{ids[0]}\"",
            $"cell 3: \"id\" the string \"same\" is an earlier cell's id too (ids are unique); written as \"{ids[2]}\"",
            $"cell 4: \"id\" the number 42 is not an nbformat 4.5 cell id (1 to 64 letters, digits, - or _); written as \"{ids[3]}\"",
        })
            Assert.Contains(warnings, w => w.Contains(part, StringComparison.Ordinal));
    }

    /// <summary>A required key that is missing (a cell's metadata or source, a code cell's outputs or execution_count,
    /// the notebook's metadata) fails nbformat validation too; the runner wrote it repaired but said nothing. Now each is
    /// a warning naming the cell, as the docs promise.</summary>
    [Fact]
    public void A_missing_required_key_is_written_repaired_with_a_warning_naming_the_cell()
    {
        using var dir = new TempDir("edge-missing");
        var nb = Path.Combine(dir.Path, "missing.ipynb");
        File.WriteAllText(nb, """
            {"cells": [
              {"cell_type": "code", "execution_count": null, "outputs": [], "source": "1 + 1"},
              {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": []},
              {"cell_type": "code", "metadata": {}, "source": "2"},
              {"cell_type": "markdown", "source": "text"},
              {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": null, "source": "3"},
              {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": "x", "source": "4"}],
             "nbformat": 4, "nbformat_minor": 4}
            """);
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
        var warnings = log.ToString().Split('\n').Where(l => l.Contains("warning: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(8, warnings.Count);
        Assert.All(warnings, w => Assert.EndsWith("the executed notebook is written repaired)", w.TrimEnd(), StringComparison.Ordinal));
        foreach (var part in new[]
        {
            "the notebook has no \"metadata\"; written as {}",
            "cell 1: no \"metadata\"; written as {}",
            "cell 2: no \"source\"; written as \"\" (an empty cell)",
            "cell 3: no \"outputs\" (a code cell needs them); written with this run's outputs",
            "cell 3: no \"execution_count\" (a code cell needs one); written as this run's count",
            "cell 4: no \"metadata\"; written as {}",
            "cell 5: \"outputs\" is null, not a list; written with this run's outputs",
            "cell 6: \"outputs\" is the string \"x\", not a list; written with this run's outputs",
        })
            Assert.Contains(warnings, w => w.Contains(part, StringComparison.Ordinal));
        Assert.Equal([1, null, 2], r.Cells.Take(3).Select(c => c.ExecutionCount));
    }

    /// <summary>Showing a cell's value runs the value's own code. A ToString that throws is green in the kernel
    /// (1.0.712001, checked with nbconvert): its text/html tree view names the exception, for the value, display(x),
    /// x.Display() and an array of such values alike. The runner failed those cells on the text/plain it adds beside
    /// the HTML; it now leaves that text/plain out. An enumerable that throws while it is listed fails in both, and the
    /// failure line names the cause and its line under the formatter's TargetInvocationException.</summary>
    [Fact]
    public void A_value_whose_ToString_throws_shows_as_in_the_kernel_and_an_enumerable_that_throws_names_its_cause()
    {
        using var dir = new TempDir("edge-formatthrow");
        var nb = TestSupport.WriteNotebook(dir.Path, "boom.ipynb",
            ("class Boom { public override string ToString() => throw new InvalidOperationException(\"cannot show\"); }\nnew Boom()", null),
            ("display(new Boom());", null), ("new Boom().Display();", null), ("new[] { new Boom() }", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        foreach (var cell in TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray())
        {
            var data = cell!["outputs"]!.AsArray().Last()!["data"]!;
            Assert.Contains("System.InvalidOperationException: cannot show", data["text/html"]!.ToString(), StringComparison.Ordinal);
            Assert.Null(data["text/plain"]);
        }
        var gen = TestSupport.Run(TestSupport.WriteNotebook(dir.Path, "gen.ipynb",
            ("var x = 1;\nIEnumerable<int> Gen() { yield return 1; throw new Exception(\"enum throws\"); }\nGen()", null)), Path.Combine(dir.Path, "out"));
        Assert.Equal("gen.ipynb: cell 1, line 2: System.Reflection.TargetInvocationException: Exception has been thrown by the target of an invocation. ---> System.Exception: enum throws",
                     Assert.Single(gen.Failures).ToString());
        // A disposed tensor threw TorchSharp's "Tensor invalid -- empty handle" here; it now shows as disposed, with the fix.
        var disposed = TestSupport.Run(TestSupport.WriteNotebook(dir.Path, "disposed.ipynb",
            ("#r \"nuget: TorchSharp-cpu, 0.107.0\"\nvar tt = TorchSharp.torch.ones(2); tt.Dispose(); tt", null)), Path.Combine(dir.Path, "out"));
        Assert.True(disposed.Succeeded, string.Join("\n", disposed.Failures));
        Assert.Contains(Distill.Reporting.NotebookFormatters.DisposedTensor, TestSupport.Text(TestSupport.ReadJson(disposed.Files.Notebook)["cells"]![0]!["outputs"]!.AsArray()
            .Select(o => o!["data"]?["text/plain"]).Last(d => d is not null)));
    }

    /// <summary>A display whose JSON does not parse made writing the executed notebook throw: the run died after cell 1
    /// ("error: 'x' is an invalid start of a value"), cell 2 never ran, no report was written and the manifest blamed a
    /// stack overflow in cell 1. Now the run goes on, the text is kept as text/plain, and one warning names the
    /// notebook, the cell and the MIME type, though the notebook is written before every cell.</summary>
    [Fact]
    public void A_display_that_is_not_valid_json_is_kept_as_text_and_the_run_goes_on()
    {
        using var dir = new TempDir("edge-badjson");
        var nb = TestSupport.WriteNotebook(dir.Path, "badjson.ipynb",
            ("\"x\".DisplayAs(\"application/json\");", null), ("\"\".DisplayAs(\"application/json\");", null), ("Console.WriteLine(\"second\");", null));
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("succeeded", TestSupport.ReadJson(r.Files.Manifest)["status"]!.GetValue<string>());
        Assert.True(File.Exists(r.Files.Html));
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
        var cells = TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray();
        Assert.Equal("x", TestSupport.Text(cells[0]!["outputs"]![0]!["data"]!["text/plain"]));
        Assert.Equal("second\n", TestSupport.Text(cells[2]!["outputs"]![0]!["text"]));
        var warnings = log.ToString().Split('\n').Where(l => l.Contains("is not valid JSON", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.StartsWith($"  warning: {nb}: cell 1: a display's application/json is not valid JSON", warnings[0], StringComparison.Ordinal);
        Assert.StartsWith($"  warning: {nb}: cell 2: a display's application/json is not valid JSON", warnings[1], StringComparison.Ordinal);
    }

    [Fact]
    public void A_message_over_several_lines_is_one_line_in_the_failure()
    {
        using var dir = new TempDir("edge-lines");
        var nb = TestSupport.WriteNotebook(dir.Path, "lines.ipynb", ("throw new Exception(\"line1\\nline2\\r\\nline3\");", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.Equal("lines.ipynb: cell 1, line 1: System.Exception: line1 ⏎ line2 ⏎ line3", Assert.Single(r.Failures).ToString());
    }

    /// <summary>A task's exception seen through <c>.Wait()</c> is the AggregateException the cell threw, named at the
    /// line that waited, as in the kernel: the runner named the inner FormatException at the lambda's line, and a cell
    /// catching FormatException then failed with "FormatException".</summary>
    [Fact]
    public void A_tasks_exception_through_Wait_is_the_aggregate_the_cell_threw_as_in_the_kernel()
    {
        using var dir = new TempDir("edge-wait");
        var nb = TestSupport.WriteNotebook(dir.Path, "wait.ipynb",
            ("var t = Task.Run(() => int.Parse(\"x\"));\nConsole.WriteLine(\"waiting\");\nt.Wait();", null),
            ("try { t.Wait(); } catch (FormatException) { Console.WriteLine(\"caught\"); }", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { ContinueOnError = true });
        Assert.Equal(["wait.ipynb: cell 1, line 3: System.AggregateException", "wait.ipynb: cell 2, line 1: System.AggregateException"],
            r.Failures.Select(f => string.Join(":", f.ToString().Split(':')[..3])));
        var error = Assert.Single(r.Cells[0].Outputs.OfType<Documents.ErrorOutput>());
        Assert.Equal("System.AggregateException", error.EName);
        Assert.Contains("---> System.FormatException", string.Join("\n", error.Traceback), StringComparison.Ordinal);
    }

    /// <summary>A string's own \r\n is kept in its text/plain, as the kernel saves it (a CSV's line ends); the
    /// formatters' HTML keeps its \n.</summary>
    [Fact]
    public void A_strings_own_crlf_is_kept_as_the_kernel_keeps_it()
    {
        using var dir = new TempDir("edge-crlf-value");
        var nb = TestSupport.WriteNotebook(dir.Path, "crlf.ipynb", ("\"a\\r\\nb\"", null), ("display(\"p\\r\\nq\");", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("a\r\nb", Assert.Single(r.Cells[0].Outputs.OfType<Documents.DisplayOutput>()).Data["text/plain"]);
        Assert.Equal("p\r\nq", Assert.Single(r.Cells[1].Outputs.OfType<Documents.DisplayOutput>()).Data["text/plain"]);
    }

    [Fact]
    public void Every_inner_exception_of_an_aggregate_stays_in_the_traceback_and_no_runner_frame_does()
    {
        using var dir = new TempDir("edge-aggregate");
        var nb = TestSupport.WriteNotebook(dir.Path, "agg.ipynb",
            ("void Boom(string m) => throw new InvalidOperationException(m);\nvar tasks = new[] { Task.Run(() => Boom(\"first inner\")), Task.Run(() => Boom(\"second inner\")) };\nTask.WaitAll(tasks);", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        var error = Assert.Single(r.Cells[0].Outputs.OfType<Documents.ErrorOutput>());
        var text = string.Join("\n", error.Traceback);
        Assert.Contains("first inner", text, StringComparison.Ordinal);
        Assert.Contains("second inner", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Microsoft.CodeAnalysis.Scripting", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Distill.Notebooks", text, StringComparison.Ordinal);
    }

    [Fact]
    public void An_out_folder_that_is_the_notebooks_own_through_a_link_is_refused_and_the_source_kept()
    {
        using var dir = new TempDir("edge-link");
        var src = Directory.CreateDirectory(Path.Combine(dir.Path, "src")).FullName;
        var nb = TestSupport.WriteNotebook(src, "keep.ipynb", ("Console.WriteLine(\"ran\");", null));
        var before = File.ReadAllBytes(nb);
        var link = Path.Combine(dir.Path, "link");
        Directory.CreateSymbolicLink(link, src);
        var e = Assert.Throws<Execution.ParameterException>(() => TestSupport.Run(nb, link));
        Assert.Contains("would overwrite the source", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(nb));
    }

    /// <summary>`distill run foo.dib --out .` beside the user's own foo.ipynb overwrote it with the executed .dib (exit 0).
    /// A run overwrites only an earlier run's outputs, the files its manifest lists: any other file where an output goes
    /// (a notebook, a page, a JSON file of the user's) is refused before anything runs, with exit 2, and stays as it was.</summary>
    [Fact]
    public void A_file_no_earlier_run_wrote_is_never_overwritten_and_a_runs_own_outputs_are()
    {
        using var dir = new TempDir("edge-theirs");
        var dib = Path.Combine(dir.Path, "foo.dib");
        File.WriteAllText(dib, "#!csharp\nSystem.IO.File.AppendAllText(\"ran.txt\", \"ran\\n\");\n");
        var mine = TestSupport.WriteNotebook(dir.Path, "foo.ipynb", ("Console.WriteLine(\"the user's own notebook\");", null));
        var before = File.ReadAllBytes(mine);
        var (exit, _, stderr) = DistillProcess.Run("run", dib, "--out", dir.Path);
        Assert.Equal(2, exit);
        Assert.Contains($"error: {dib}: {mine} exists and is not an output of an earlier distill run (no foo.manifest.json of a run lists it), " +
                        "so this run will not overwrite it; pass another --out folder, or move that file away", stderr, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(mine));
        Assert.Equal(["foo.dib", "foo.ipynb"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // The report and the manifest are guarded alike: a page or a JSON file of the user's under their names.
        var outDir = Directory.CreateDirectory(Path.Combine(dir.Path, "out")).FullName;
        foreach (var (file, content) in new[] { ("foo.html", "<p>my page</p>"), ("foo.manifest.json", "{\"name\": \"my app\"}") })
        {
            var theirs = Path.Combine(outDir, file);
            File.WriteAllText(theirs, content);
            var e = Assert.Throws<Execution.ParameterException>(() => TestSupport.Run(dib, outDir));
            Assert.StartsWith($"{dib}: {theirs} exists and is not an output of an earlier distill run", e.Message, StringComparison.Ordinal);
            Assert.Equal(content, File.ReadAllText(theirs));
            File.Delete(theirs);
        }
        Assert.False(File.Exists(Path.Combine(dir.Path, "ran.txt")), "a cell ran");
        // A run's own outputs are the next run's to replace, into another folder or beside the .dib.
        foreach (var into in new[] { outDir, outDir, dir.Path })
        {
            if (into == dir.Path) File.Delete(mine);
            var r = TestSupport.Run(dib, into);
            Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        }
        Assert.True(TestSupport.Run(dib, dir.Path).Succeeded);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(dir.Path, "ran.txt")).Length);
    }

    /// <summary>A cell that replaced Console.Out or Console.Error silenced every later cell; the kernel redirects the
    /// console again for each cell, so later cells' writes show, in this notebook and the next. Saving and restoring
    /// Console.Out inside a cell keeps working.</summary>
    [Fact]
    public void A_cell_that_replaces_the_console_silences_only_itself()
    {
        using var dir = new TempDir("edge-setout");
        var a = TestSupport.WriteNotebook(dir.Path, "a.ipynb",
            ("var old = Console.Out;\nvar sw = new System.IO.StringWriter();\nConsole.SetOut(sw);\nConsole.WriteLine(\"captured\");\nConsole.SetOut(old);\nConsole.WriteLine($\"restored, {sw.ToString().Trim()}\");", null),
            ("Console.SetOut(new System.IO.StringWriter());\nConsole.SetError(System.IO.TextWriter.Null);\nConsole.WriteLine(\"swallowed\");", null),
            ("Console.WriteLine(\"out shows\");\nConsole.Error.WriteLine(\"err shows\");\nConsole.SetOut(System.IO.TextWriter.Null);", null));
        var b = TestSupport.WriteNotebook(dir.Path, "b.ipynb", ("Console.WriteLine(\"next notebook\");", null));
        var r = TestSupport.Run(a, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        string Streams(int cell) => string.Join("|", r.Cells[cell].Outputs.OfType<Documents.StreamOutput>().Select(o => $"{o.Name}:{o.Text}"));
        Assert.Equal(["stdout:restored, captured\n", "", "stdout:out shows\n|stderr:err shows\n"], Enumerable.Range(0, 3).Select(Streams));
        r = TestSupport.Run(b, Path.Combine(dir.Path, "out"));
        Assert.Equal("stdout:next notebook\n", Streams(0));
    }

    /// <summary>jupyter nbconvert saves a stream with nbconvert's <c>\r</c> rule (the text before a <c>\r</c> on its line
    /// is dropped unless a newline follows the <c>\r</c>): a <c>\r</c> progress bar keeps only its final state, across
    /// writes too, and a history longer than --max-output is never cut, since only what is kept counts.</summary>
    [Fact]
    public void Carriage_returns_overwrite_a_streams_line_as_jupyter_saves_it()
    {
        using var dir = new TempDir("edge-cr");
        var nb = TestSupport.WriteNotebook(dir.Path, "cr.ipynb",
            ("Console.Write(\"progress 10%\\rprogress 50%\\rprogress 100%\\n\");\nConsole.Write(\"a\\r\\nb\\r\\n\");\n" +
             "for (int i = 0; i <= 100; i += 25) Console.Write($\"\\rstep {i}\");\nConsole.WriteLine();\nConsole.Write(\"done\\r\");", null),
            ("for (int i = 0; i < 1000; i++) Console.Write($\"\\rstep {i}\");", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { MaxOutputChars = 2000 });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var cells = TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray();
        string Saved(int cell) => TestSupport.Text(Assert.Single(cells[cell]!["outputs"]!.AsArray())!["text"]);
        Assert.Equal("progress 100%\na\r\nb\r\nstep 100\ndone\r", Saved(0));
        Assert.Equal("step 999", Saved(1));
    }

    [Fact]
    public void Threads_a_notebook_left_running_never_write_to_the_runners_console()
    {
        using var dir = new TempDir("edge-console");
        var a = TestSupport.WriteNotebook(dir.Path, "a.ipynb",
            ("new System.Threading.Thread(() => { for (int i = 0; i < 60; i++) { Console.WriteLine($\"LEFTOVER {i}\"); System.Threading.Thread.Sleep(50); } }) { IsBackground = true }.Start();", null));
        var b = TestSupport.WriteNotebook(dir.Path, "b.ipynb", ("System.Threading.Thread.Sleep(2000);\nConsole.WriteLine(\"B\");", null));
        var (exit, stdout, stderr) = DistillProcess.Run("run", a, b, "--out", Path.Combine(dir.Path, "out"));
        Assert.True(exit == 0, stderr);
        Assert.DoesNotContain("LEFTOVER", stdout + stderr, StringComparison.Ordinal);
        Assert.Contains("LEFTOVER 0", File.ReadAllText(Path.Combine(dir.Path, "out", "a.ipynb")), StringComparison.Ordinal);
    }

    /// <summary>A stack overflow aborts the runtime, and so does a libtorch error TorchSharp 0.107 does not catch (its
    /// THSTensor_matmul has no try: C++ calls std::terminate, and a try/catch in the cell cannot stop it): nothing can be
    /// written then, so the record written before the cell (the notebook so far, a manifest naming the cell) is what is
    /// left, and it says so.</summary>
    [Theory]
    [InlineData("int R(int n) => R(n + 1) + 1;\nR(0)")]
    [InlineData("#r \"nuget: TorchSharp-cpu, 0.107.0\"\ntry { TorchSharp.torch.ones(2, 3).matmul(TorchSharp.torch.ones(4, 5)); } catch (Exception e) { Console.WriteLine(\"caught \" + e.Message); }")]
    public void A_process_that_dies_in_a_cell_leaves_the_notebook_so_far_and_a_manifest_naming_the_cell(string dies)
    {
        using var dir = new TempDir("edge-died");
        var nb = TestSupport.WriteNotebook(dir.Path, "so.ipynb",
            ("Console.WriteLine(\"before\");", null),
            (dies, null),
            ("Console.WriteLine(\"never\");", null));
        var outDir = Path.Combine(dir.Path, "out");
        var earlier = TestSupport.WriteNotebook(Directory.CreateDirectory(Path.Combine(dir.Path, "earlier")).FullName, "so.ipynb", ("1", null));
        Assert.True(TestSupport.Run(earlier, outDir).Succeeded); // a previous run's report, which this run must not leave standing
        Assert.True(File.Exists(Path.Combine(outDir, "so.html")));
        var (exit, _, _) = DistillProcess.Run("run", nb, "--out", outDir);
        Assert.Equal(134, exit); // SIGABRT: the runtime's end on a stack overflow, C++'s std::terminate
        var manifest = TestSupport.ReadJson(Path.Combine(outDir, "so.manifest.json"));
        Assert.Equal("died", manifest["status"]!.GetValue<string>());
        Assert.StartsWith("so.ipynb: cell 2: the process died while this cell ran", manifest["failures"]![0]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(["succeeded", "failed", "notrun"], manifest["cells"]!.AsArray().Select(c => c!["status"]!.GetValue<string>()));
        var cells = TestSupport.ReadJson(Path.Combine(outDir, "so.ipynb"))["cells"]!.AsArray();
        Assert.Equal("before\n", TestSupport.Text(cells[0]!["outputs"]![0]!["text"]));
        Assert.Equal("ProcessDied", cells[1]!["outputs"]![0]!["ename"]!.GetValue<string>());
        Assert.Empty(cells[2]!["outputs"]!.AsArray());
        Assert.False(File.Exists(Path.Combine(outDir, "so.html"))); // no stale report beside this run's record
    }

    /// <summary>A run's records name the checkout the notebook started from (as RunEnvironment.GitCommit means): a cell
    /// that commits, then leaves a tracked file changed, moves neither the commit nor "clean" in its manifest.</summary>
    [Fact]
    public void The_records_name_the_commit_the_notebook_started_from_not_what_its_cells_did_to_the_checkout()
    {
        using var dir = new TempDir("edge-git");
        string Git(params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("git", ["-C", dir.Path, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", .. args])
                { RedirectStandardOutput = true };
            using var p = System.Diagnostics.Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"git {string.Join(' ', args)} exited {p.ExitCode}");
            return stdout;
        }
        var nb = TestSupport.WriteNotebook(dir.Path, "git.ipynb", ("""
            System.IO.File.WriteAllText("tracked.txt", "committed by the cell");
            using (var p = System.Diagnostics.Process.Start("git", new[] { "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", "commit", "-qam", "by the cell" })!) p.WaitForExit();
            System.IO.File.WriteAllText("tracked.txt", "left uncommitted");
            """, null));
        File.WriteAllText(Path.Combine(dir.Path, "tracked.txt"), "as started");
        Git("init", "-q");
        Git("add", ".");
        Git("commit", "-qm", "start");
        var start = Git("rev-parse", "HEAD");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.NotEqual(start, Git("rev-parse", "HEAD")); // the cell did commit
        Assert.NotEqual("", Git("status", "--porcelain", "--untracked-files=no")); // and left the checkout dirty
        Assert.Equal((start, false), (r.Environment.GitCommit, r.Environment.GitDirty));
        var git = TestSupport.ReadJson(r.Files.Manifest)["git"]!;
        Assert.Equal((start, false), (git["commit"]!.GetValue<string>(), git["dirty"]!.GetValue<bool>()));
    }

    /// <summary>A notebook that is not committed as it ran (untracked, edited, or ignored by git) is not what the commit
    /// holds: the run is dirty and its records say the notebook is not committed, even when the rest of the tree is clean.</summary>
    [Fact]
    public void A_notebook_that_is_not_committed_makes_the_run_dirty_and_the_records_say_so()
    {
        using var dir = new TempDir("edge-git-notebook");
        void Git(params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("git", ["-C", dir.Path, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", .. args]);
            using var p = System.Diagnostics.Process.Start(psi)!;
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"git {string.Join(' ', args)} exited {p.ExitCode}");
        }
        var committed = TestSupport.WriteNotebook(dir.Path, "committed.ipynb", ("1 + 1", null));
        File.WriteAllText(Path.Combine(dir.Path, ".gitignore"), "ignored.ipynb\nout*/\n");
        Git("init", "-q");
        Git("add", ".");
        Git("commit", "-qm", "start");
        var untracked = TestSupport.WriteNotebook(dir.Path, "untracked.ipynb", ("1 + 1", null));
        var ignored = TestSupport.WriteNotebook(dir.Path, "ignored.ipynb", ("1 + 1", null));

        var clean = TestSupport.Run(committed, Path.Combine(dir.Path, "out-clean"));
        Assert.Equal((false, null), (clean.Environment.GitDirty, clean.Environment.NotebookNotCommitted));
        Assert.EndsWith(" (clean)", clean.Environment.CommitText.Split(';')[0], StringComparison.Ordinal);

        TestSupport.WriteNotebook(dir.Path, "committed.ipynb", ("2 + 2", null)); // edited after the commit
        foreach (var (nb, state) in new[] { (untracked, "untracked"), (ignored, "ignored by git"), (committed, "modified") })
        {
            var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out-" + Path.GetFileNameWithoutExtension(nb)));
            Assert.True(r.Succeeded, string.Join("\n", r.Failures));
            Assert.Equal((true, state), (r.Environment.GitDirty, r.Environment.NotebookNotCommitted));
            Assert.Contains($" (dirty: notebook not committed: {state})", r.Environment.CommitText, StringComparison.Ordinal);
            var git = TestSupport.ReadJson(r.Files.Manifest)["git"]!;
            Assert.Equal((true, state), (git["dirty"]!.GetValue<bool>(), git["notebookNotCommitted"]!.GetValue<string>()));
            Assert.Contains($"notebook not committed: {state}", File.ReadAllText(r.Files.Html!), StringComparison.Ordinal);
            Assert.Equal(state, Reports.Manifest.Read(r.Files.Manifest).Environment.NotebookNotCommitted);
        }

        // Named from the folder above (`distill run notebooks/x.ipynb` from the repository's root): the cells run in the
        // notebook's folder, where that relative path names nothing, and git was asked about the wrong file ("clean").
        var cwd = Environment.CurrentDirectory;
        Environment.CurrentDirectory = Path.GetDirectoryName(dir.Path)!;
        try
        {
            var relative = TestSupport.Run(Path.Combine(Path.GetFileName(dir.Path), "untracked.ipynb"), Path.Combine(dir.Path, "out-relative"));
            Assert.Equal((true, "untracked"), (relative.Environment.GitDirty, relative.Environment.NotebookNotCommitted));
        }
        finally { Environment.CurrentDirectory = cwd; }
    }

    /// <summary>The report is one offline file: a pasted image (a cell attachment) and an image file beside the notebook
    /// are inlined as data: URLs, as Jupyter and VS Code show them; TeX shows as written, since nothing typesets it.</summary>
    [Fact]
    public void Markdown_images_are_inlined_and_math_shows_as_written()
    {
        const string png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
        using var dir = new TempDir("edge-images");
        Directory.CreateDirectory(Path.Combine(dir.Path, "img"));
        File.WriteAllBytes(Path.Combine(dir.Path, "img", "dot file.png"), Convert.FromBase64String(png));
        var path = TestSupport.WriteNotebook(dir.Path, "images.ipynb", ("1", null));
        var nb = TestSupport.ReadJson(path);
        nb["cells"]!.AsArray().Insert(0, new System.Text.Json.Nodes.JsonObject
        {
            ["cell_type"] = "markdown", ["metadata"] = new System.Text.Json.Nodes.JsonObject(),
            ["source"] = "![pasted](attachment:red.png) ![file](img/dot%20file.png) and $x_i^2 + y_i$\n\n$$a_1 * b_2$$\n\n$$\nc_1 * d_2\n$$\n",
            ["attachments"] = new System.Text.Json.Nodes.JsonObject { ["red.png"] = new System.Text.Json.Nodes.JsonObject { ["image/png"] = png } },
        });
        File.WriteAllText(path, nb.ToJsonString());
        var r = TestSupport.Run(path, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.Contains($"src=\"data:image/png;base64,{png}\" alt=\"pasted\"", html, StringComparison.Ordinal);
        Assert.Contains($"src=\"data:image/png;base64,{png}\" alt=\"file\"", html, StringComparison.Ordinal);
        Assert.Contains("$x_i^2 + y_i$", html, StringComparison.Ordinal);
        Assert.Contains("$$a_1 * b_2$$", html, StringComparison.Ordinal);
        Assert.Matches(@"\$\$\s*c_1 \* d_2\s*\$\$", html);
        Assert.DoesNotContain("\\(", html, StringComparison.Ordinal);
        // The attachment stays in the executed notebook, as Jupyter keeps it.
        Assert.NotNull(TestSupport.ReadJson(r.Files.Notebook)["cells"]![0]!["attachments"]?["red.png"]);
    }

    /// <summary>A markdown image is embedded only from the notebook's folder or below, links resolved, and only when its
    /// bytes are the image type its name claims: else `![s](secret.png)` linked to any readable file (or ../x.png) put
    /// that file, base64, into a report that gets shared. A refused image keeps its link and the run says why.</summary>
    [Fact]
    public void Markdown_images_from_outside_the_notebooks_folder_or_not_images_are_not_embedded()
    {
        var png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");
        using var outside = new TempDir("edge-outside");
        File.WriteAllText(Path.Combine(outside.Path, "secret.txt"), "secret q7z");
        File.WriteAllBytes(Path.Combine(outside.Path, "real.png"), png);
        using var dir = new TempDir("edge-refused");
        var nbDir = Directory.CreateDirectory(Path.Combine(dir.Path, "nb")).FullName;
        File.WriteAllText(Path.Combine(dir.Path, "up.png"), "secret q7z");
        File.CreateSymbolicLink(Path.Combine(nbDir, "secret.png"), Path.Combine(outside.Path, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(nbDir, "sub"), outside.Path); // a real PNG, but reached through a link out
        File.WriteAllText(Path.Combine(nbDir, "text.png"), "secret q7z"); // inside, but not a PNG
        File.WriteAllText(Path.Combine(nbDir, "fake.svg"), "secret q7z <svg>");
        File.WriteAllBytes(Path.Combine(nbDir, "ok.png"), png);
        File.CreateSymbolicLink(Path.Combine(nbDir, "link.png"), "ok.png"); // a link that stays inside is fine
        File.WriteAllText(Path.Combine(nbDir, "ok.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
        var nb = TestSupport.WriteNotebook(nbDir, "images.ipynb", ("1", null));
        TestSupport.PrependMarkdown(nb, "![s](secret.png) ![u](../up.png) ![r](sub/real.png) ![t](text.png) ![f](fake.svg) ![o](ok.png) ![l](link.png) ![v](ok.svg)");
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        Assert.DoesNotContain(Convert.ToBase64String("secret q7z"u8.ToArray())[..12], html, StringComparison.Ordinal);
        foreach (var (alt, src) in new[] { ("s", "secret.png"), ("u", "../up.png"), ("r", "sub/real.png"), ("t", "text.png"), ("f", "fake.svg") })
        {
            Assert.Contains($"src=\"{src}\" alt=\"{alt}\"", html, StringComparison.Ordinal);
            Assert.Contains($"warning: {nb}: cell 1: image '{src}' is not embedded in the report (its link is kept): ", log.ToString(), StringComparison.Ordinal);
        }
        Assert.Contains($"image 'secret.png' is not embedded in the report (its link is kept): it is {Path.Combine(outside.Path, "secret.txt")}, outside the notebook's folder {nbDir}", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("image 'text.png' is not embedded in the report (its link is kept): its first bytes are not those of an image/png file", log.ToString(), StringComparison.Ordinal);
        Assert.Contains($"src=\"data:image/png;base64,{Convert.ToBase64String(png)}\" alt=\"o\"", html, StringComparison.Ordinal);
        Assert.Contains($"src=\"data:image/png;base64,{Convert.ToBase64String(png)}\" alt=\"l\"", html, StringComparison.Ordinal);
        Assert.Contains("src=\"data:image/svg+xml;base64,", html, StringComparison.Ordinal);
        Assert.Equal(5, log.ToString().Split('\n').Count(l => l.Contains("is not embedded", StringComparison.Ordinal)));
    }

    /// <summary>An image in the author's own HTML (<c>&lt;img src=… width=50&gt;</c>, inline or as a block) is embedded or
    /// warned of like a markdown one: it showed broken, silently. HTML shown as code is left alone. (A cell whose
    /// "attachments" is a list, not nbformat's object, threw after every cell had run; the reader refuses it now:
    /// DocumentTests.A_field_nbformat_refuses_is_refused_instead_of_written_into_an_invalid_notebook.)</summary>
    [Fact]
    public void Html_images_in_markdown_are_embedded_or_warned_of()
    {
        var png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");
        using var dir = new TempDir("edge-html-images");
        File.WriteAllBytes(Path.Combine(dir.Path, "in.png"), png);
        var nb = TestSupport.WriteNotebook(dir.Path, "images.ipynb", ("Console.WriteLine(\"ran\");", null));
        TestSupport.PrependMarkdown(nb, "![p](attachment:a.png)");
        TestSupport.PrependMarkdown(nb, "<p align=\"center\"><img src=\"in.png\" width=\"50\"></p>\n\ntext <img src='in.png' alt=\"inline\"> and <img src=gone.png>\n\n`<img src=\"in.png\">`");
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        var data = $"data:image/png;base64,{Convert.ToBase64String(png)}";
        Assert.Contains($"<img src=\"{data}\" width=\"50\">", html, StringComparison.Ordinal);
        Assert.Contains($"<img src=\"{data}\" alt=\"inline\">", html, StringComparison.Ordinal);
        Assert.Contains("<code>&lt;img src=\"in.png\"&gt;</code>", html, StringComparison.Ordinal); // the code span, as written
        var warnings = log.ToString().Split('\n').Where(l => l.Contains("is not embedded", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Contains($"warning: {nb}: cell 1: image 'gone.png' is not embedded in the report (its link is kept): there is no file {Path.Combine(dir.Path, "gone.png")}", log.ToString(), StringComparison.Ordinal);
        Assert.Contains($"warning: {nb}: cell 2: image 'attachment:a.png' is not embedded in the report (its link is kept): the cell has no image attachment named 'a.png'", log.ToString(), StringComparison.Ordinal);
        Assert.Equal("succeeded", TestSupport.ReadJson(r.Files.Manifest)["status"]!.GetValue<string>());
    }

    /// <summary>An HTML image of a path a markdown image in the same cell also used kept its link (broken in the
    /// offline page): the path was marked as done once markdown's copy was embedded. Both are embedded now, and a path
    /// that cannot be embedded is warned of once.</summary>
    [Fact]
    public void An_html_image_is_embedded_when_a_markdown_image_in_its_cell_uses_the_same_path()
    {
        var png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");
        using var dir = new TempDir("edge-html-md-images");
        File.WriteAllBytes(Path.Combine(dir.Path, "ok.png"), png);
        var nb = TestSupport.WriteNotebook(dir.Path, "same.ipynb", ("Console.WriteLine(\"ran\");", null));
        TestSupport.PrependMarkdown(nb, "![fig](ok.png)\n\n<img src=\"ok.png\" width=\"50\">\n\n![gone](gone.png) <img src=\"gone.png\">");
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        var data = $"data:image/png;base64,{Convert.ToBase64String(png)}";
        Assert.Contains($"src=\"{data}\" alt=\"fig\"", html, StringComparison.Ordinal);
        Assert.Contains($"<img src=\"{data}\" width=\"50\">", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"ok.png\"", html, StringComparison.Ordinal);
        Assert.Single(log.ToString().Split('\n'), l => l.Contains("image 'gone.png' is not embedded", StringComparison.Ordinal));
    }

    /// <summary>docs/notebook-runner.md promises a warning for every image the report does not embed, since the page
    /// (CSP img-src data: blob:) shows it broken; a missing file, a typo'd extension, a file over 5 MiB, an empty one, a
    /// remote URL, an absolute path and a missing attachment kept their link silently. A data: URL is inline already.</summary>
    [Fact]
    public void Every_markdown_image_the_report_does_not_embed_is_warned_of_with_the_reason()
    {
        var png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");
        using var dir = new TempDir("edge-image-warnings");
        File.WriteAllBytes(Path.Combine(dir.Path, "in.png"), png);
        File.WriteAllBytes(Path.Combine(dir.Path, "big.png"), [.. png, .. new byte[6 << 20]]);
        File.WriteAllBytes(Path.Combine(dir.Path, "empty.png"), []);
        File.WriteAllText(Path.Combine(dir.Path, "notes.txt"), "text");
        var nb = TestSupport.WriteNotebook(dir.Path, "images.ipynb", ("1", null));
        var data = $"data:image/png;base64,{Convert.ToBase64String(png)}";
        TestSupport.PrependMarkdown(nb, $"![m](missing.png) ![t](in.pgn) ![b](big.png) ![e](empty.png) ![n](notes.txt) ![w](https://example.org/w.png) " +
                                        $"![a](/srv/a.png) ![p](attachment:pasted.png) ![d]({data}) ![i](in.png)");
        var log = new StringWriter();
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { Log = log });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var html = File.ReadAllText(r.Files.Html!);
        foreach (var (alt, src, why) in new[]
                 {
                     ("m", "missing.png", $"there is no file {Path.Combine(dir.Path, "missing.png")} (links are relative to the notebook's folder)"),
                     ("t", "in.pgn", $"there is no file {Path.Combine(dir.Path, "in.pgn")}"),
                     ("b", "big.png", "it is 6.0 MiB, over the 5 MiB the report embeds per image"),
                     ("e", "empty.png", "the file is empty"),
                     ("n", "notes.txt", "'.txt' is not the extension of an image the report embeds"),
                     ("w", "https://example.org/w.png", "the report loads nothing from a URL"),
                     ("a", "/srv/a.png", "an absolute path"),
                     ("p", "attachment:pasted.png", "the cell has no image attachment named 'pasted.png'"),
                 })
        {
            // The sanitiser drops a src of the attachment: scheme, which no browser reads anyway.
            Assert.Contains(alt == "p" ? "alt=\"p\"" : $"src=\"{src}\" alt=\"{alt}\"", html, StringComparison.Ordinal);
            Assert.Contains($"  warning: {nb}: cell 1: image '{src}' is not embedded in the report (its link is kept): {why}", log.ToString(), StringComparison.Ordinal);
        }
        Assert.Contains($"src=\"{data}\" alt=\"d\"", html, StringComparison.Ordinal);
        Assert.Contains($"src=\"{data}\" alt=\"i\"", html, StringComparison.Ordinal);
        Assert.Equal(8, log.ToString().Split('\n').Count(l => l.Contains("is not embedded", StringComparison.Ordinal)));
    }

    [Fact]
    public void An_out_folder_where_a_report_file_cannot_go_is_refused_before_anything_runs()
    {
        using var dir = new TempDir("edge-outdir");
        var nb = TestSupport.WriteNotebook(dir.Path, "b.ipynb", ("Console.WriteLine(\"ran\");", null));
        var outDir = Path.Combine(dir.Path, "out");
        Directory.CreateDirectory(Path.Combine(outDir, "b.html"));
        var (exit, _, stderr) = DistillProcess.Run("run", nb, "--out", outDir);
        Assert.Equal(2, exit);
        Assert.Contains($"error: --out {outDir}: {Path.Combine(outDir, "b.html")} is a folder, where this run's .html file goes", stderr, StringComparison.Ordinal);
        Assert.Equal(["b.html"], Directory.GetFileSystemEntries(outDir).Select(Path.GetFileName));
        (exit, _, stderr) = DistillProcess.Run("run", nb, "--out", "/proc/no-such-folder");
        Assert.Equal(2, exit);
        Assert.Contains("error: --out /proc/no-such-folder: cannot create this folder", stderr, StringComparison.Ordinal);
    }

    /// <summary>A full disk while the run writes its record: one `error:` line naming the output file (not the atomic
    /// write's hidden temp file), that the disk is full and the fix; exit 1 (an I/O failure, not bad input); no cell runs
    /// after it; and neither the manifest nor the executed notebook says the process died in a cell, as the record
    /// written before the cell did. The first cell links the manifest to /dev/full, which answers every write with
    /// ENOSPC as a full disk does.</summary>
    [Fact]
    public void A_full_disk_names_the_file_and_the_fix_and_blames_no_cell()
    {
        using var dir = new TempDir("edge-full");
        var outDir = Path.Combine(dir.Path, "out");
        var manifest = Path.Combine(outDir, "full.manifest.json");
        var nb = TestSupport.WriteNotebook(dir.Path, "full.ipynb",
            ($"System.IO.File.Delete(@\"{manifest}\"); System.IO.File.CreateSymbolicLink(@\"{manifest}\", \"/dev/full\");", null),
            ("Console.WriteLine(\"second cell ran\");", null));
        var (exit, _, stderr) = DistillProcess.Run("run", nb, "--out", outDir);
        Assert.Equal(1, exit);
        Assert.Contains($"error: {nb}: no space left on the disk writing '{manifest}': free space on that disk or give another --out", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("cell 2 ", stderr, StringComparison.Ordinal); // its line when it ran
        // Written once the link was gone: the run failed for the manifest, the second cell did not run, nothing died.
        var m = TestSupport.ReadJson(manifest);
        Assert.Equal("failed", m["status"]!.GetValue<string>());
        Assert.Equal("full.manifest.json", m["failures"]![0]!["cell"]!.GetValue<string>());
        Assert.Equal(["succeeded", "notrun"], m["cells"]!.AsArray().Select(c => c!["status"]!.GetValue<string>()));
        Assert.DoesNotContain("died", File.ReadAllText(manifest) + File.ReadAllText(Path.Combine(outDir, "full.ipynb")), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(outDir, ".*.tmp"));
    }

    /// <summary>A manifest whose executed notebook could not be written names the write failure (the last recorded),
    /// not a cell's failure before it.</summary>
    [Fact]
    public void A_manifest_without_its_notebook_names_the_write_failure()
    {
        using var dir = new TempDir("manifest-nowrite");
        var path = Path.Combine(dir.Path, "x.manifest.json");
        File.WriteAllText(path, """
            {"notebook": "x.ipynb", "files": {"notebook": null, "html": null},
             "failures": [{"text": "cell 3, line 1: boom"}, {"text": "x.ipynb: could not be written (No space left on device)"}]}
            """);
        var e = Assert.Throws<InvalidDataException>(() => Distill.Notebooks.Reports.Manifest.Read(path));
        Assert.Equal($"{path}: the run wrote no executed notebook (x.ipynb: could not be written (No space left on device))", e.Message);
    }

    /// <summary>After a write failure the manifest's "files" listed the executed notebook and report that were not
    /// written (deleted as half-written): it lists only what is on disk now, null for the others, and stays a run's
    /// manifest, so the next run into that folder is not refused. The report fails on a link to /dev/full (ENOSPC);
    /// the notebook, written by rename, on a folder in its place.</summary>
    [Fact]
    public void After_a_full_disk_the_manifest_lists_only_the_files_written()
    {
        using var dir = new TempDir("edge-full-files");
        var outDir = Path.Combine(dir.Path, "out");
        var (html, ipynb, once) = (Path.Combine(outDir, "files.html"), Path.Combine(outDir, "files.ipynb"), Path.Combine(dir.Path, "once"));
        string Files(string key) => TestSupport.ReadJson(Path.Combine(outDir, "files.manifest.json"))["files"]![key]?.GetValue<string>() ?? "null";

        var nb = TestSupport.WriteNotebook(dir.Path, "files.ipynb",
            ($"if (!System.IO.File.Exists(@\"{once}\")) {{ System.IO.File.WriteAllText(@\"{once}\", \"\"); System.IO.File.CreateSymbolicLink(@\"{html}\", \"/dev/full\"); }}", null));
        var (exit, _, stderr) = DistillProcess.Run("run", nb, "--out", outDir);
        Assert.True(exit == 1, stderr);
        Assert.Contains($"writing '{html}'", stderr, StringComparison.Ordinal);
        Assert.Equal(("files.ipynb", "null"), (Files("notebook"), Files("html")));
        Assert.True(File.Exists(ipynb));

        File.Delete(once);
        nb = TestSupport.WriteNotebook(dir.Path, "files.ipynb",
            ($"if (!System.IO.File.Exists(@\"{once}\")) {{ System.IO.File.WriteAllText(@\"{once}\", \"\"); System.IO.File.Delete(@\"{ipynb}\"); System.IO.Directory.CreateDirectory(@\"{Path.Combine(ipynb, "in-the-way")}\"); }}", null));
        (exit, _, stderr) = DistillProcess.Run("run", nb, "--out", outDir);
        Assert.True(exit == 1, stderr);
        Assert.Equal(("null", "null"), (Files("notebook"), Files("html")));
        Assert.Equal("failed", TestSupport.ReadJson(Path.Combine(outDir, "files.manifest.json"))["status"]!.GetValue<string>());

        // Still a run's manifest: with the folder gone, the same run into the same folder runs, and lists both.
        Directory.Delete(ipynb, recursive: true);
        (exit, _, stderr) = DistillProcess.Run("run", nb, "--out", outDir);
        Assert.True(exit == 0, stderr);
        Assert.Equal(("files.ipynb", "files.html"), (Files("notebook"), Files("html")));
    }

    /// <summary>A cell that ends the process while the disk is full: the report written at exit fails, and that is the
    /// one error line and exit 1 the run gives when it meets the full disk itself, not an exception out of the
    /// ProcessExit handler, which was reported as the runner's own thrown on a background thread.</summary>
    [Fact]
    public void A_full_disk_when_a_cell_exits_the_process_is_one_error_line()
    {
        using var dir = new TempDir("edge-full-exit");
        var outDir = Path.Combine(dir.Path, "out");
        var manifest = Path.Combine(outDir, "exits.manifest.json");
        var nb = TestSupport.WriteNotebook(dir.Path, "exits.ipynb",
            ($"System.IO.File.Delete(@\"{manifest}\"); System.IO.File.CreateSymbolicLink(@\"{manifest}\", \"/dev/full\"); Environment.Exit(3);", null));
        var (exit, _, stderr) = DistillProcess.Run("run", nb, "--out", outDir);
        Assert.Equal(1, exit);
        Assert.Contains($"no space left on the disk writing '{manifest}': free space on that disk or give another --out", stderr, StringComparison.Ordinal);
        // It was reported as an exception of the runner's own, "thrown at NotebookRunner.cs ... on a background thread".
        Assert.DoesNotContain("ReportWriteException", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("background thread", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    /// <summary>An unreadable notebook is named with the fix, as the data loader says it: .NET's bare "Access to the
    /// path is denied" said neither.</summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")] // file modes and setpriv
    public void An_unreadable_notebook_is_named_with_the_fix()
    {
        using var dir = new TempDir("edge-unreadable");
        var nb = TestSupport.WriteNotebook(dir.Path, "locked.ipynb", ("1", null));
        File.SetUnixFileMode(nb, UnixFileMode.None);
        var psi = DistillProcess.Start("run", nb, "--out", Path.Combine(dir.Path, "out"));
        if (Environment.IsPrivilegedProcess)
        {
            // Root reads a file whatever its mode: the CLI runs as nobody, for whom the mode holds.
            File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_111_111);
            foreach (var arg in new[] { psi.FileName, "--clear-groups", "--regid=65534", "--reuid=65534" }) psi.ArgumentList.Insert(0, arg);
            psi.FileName = "setpriv";
            psi.Environment["HOME"] = psi.Environment["DOTNET_CLI_HOME"] = dir.Path;
        }
        var (exit, _, stderr) = DistillProcess.Run(psi);
        Assert.Equal(2, exit);
        Assert.Contains($"error: {nb}: cannot be read (Access to the path '{nb}' is denied); check the file's permissions.", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("5000000")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("0")]
    public void A_cell_timeout_out_of_range_is_refused_before_anything_runs(string seconds)
    {
        using var dir = new TempDir("edge-timeout");
        var nb = TestSupport.WriteNotebook(dir.Path, "t.ipynb", ("Console.WriteLine(\"ran\");", null));
        var (exit, stdout, stderr) = DistillProcess.Run("run", nb, "--out", Path.Combine(dir.Path, "out"), "--cell-timeout", seconds);
        Assert.Equal(2, exit);
        Assert.StartsWith($"error: --cell-timeout {seconds}: give a number of seconds greater than 0 and at most 2147483", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "out")), stdout);
    }
}
