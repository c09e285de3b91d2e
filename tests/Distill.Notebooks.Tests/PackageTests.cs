using System.IO.Compression;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Distill.Notebooks.Tests;

/// <summary>#r "nuget:" restores for real (cached), #r "path" resolves against the notebook's folder, .dib runs.</summary>
public class PackageTests
{
    [Fact]
    public void A_package_the_runner_lacks_is_restored_cached_and_loaded()
    {
        using var cache = new TempDir("nuget-cache");
        var options = new NotebookRunOptions { PackageCacheDirectory = cache.Path };
        using var firstOut = new TempDir("restore");
        var r = TestSupport.Run(TestSupport.TestData("restore.ipynb"), firstOut.Path, options);
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        var cells = TestSupport.ReadJson(r.Files.Notebook)["cells"]!.AsArray();
        Assert.Equal("Installed Packages\n  • Humanizer.Core, 2.14.1\n", TestSupport.Text(cells[0]!["outputs"]![0]!["data"]!["text/plain"]));
        // As the .NET kernel shows it (text/html), so the two engines show a #r cell with the same output types.
        Assert.Equal("<div><div></div><div></div><div><strong>Installed Packages</strong><ul><li><span>Humanizer.Core, 2.14.1</span></li></ul></div></div>",
            TestSupport.Text(cells[0]!["outputs"]![0]!["data"]!["text/html"]));
        Assert.Equal("distill run report", TestSupport.Text(cells[1]!["outputs"]![0]!["data"]!["text/plain"]));

        // Restored into a private copy (never loaded from the NuGet cache), keyed by a hash.
        var entry = Assert.Single(Directory.GetDirectories(cache.Path));
        Assert.True(File.Exists(Path.Combine(entry, "lib", "Humanizer.dll")));
        var humanizer = AppDomain.CurrentDomain.GetAssemblies().Single(a => a.GetName().Name == "Humanizer");
        Assert.Equal(Path.Combine(entry, "lib", "Humanizer.dll"), humanizer.Location);

        // Second run: served from the cache, no new restore.
        var assets = Path.Combine(entry, "restore", "obj", "project.assets.json");
        var stamp = File.GetLastWriteTimeUtc(assets);
        using var secondOut = new TempDir("restore2");
        var again = TestSupport.Run(TestSupport.TestData("restore.ipynb"), secondOut.Path, options);
        Assert.True(again.Succeeded);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(assets));
        Assert.True(again.Cells[0].Duration < TimeSpan.FromSeconds(2), $"cached restore took {again.Cells[0].Duration}");
    }

    /// <summary>A restored package that depends on one distill carries (TorchVision on TorchSharp) gets the carried copy
    /// as a reference, as the kernel references a package's whole closure: the notebook need not #r TorchSharp itself.</summary>
    [Fact]
    public void A_restored_package_s_dependency_that_the_runner_carries_is_referenced_too()
    {
        using var dir = new TempDir("restore-closure");
        var nb = TestSupport.WriteNotebook(dir.Path, "closure.ipynb",
            ("#r \"nuget: TorchVision, 0.107.0\"", null),
            ("typeof(TorchSharp.torch.Tensor).FullName + \" \" + typeof(TorchSharp.torchvision).Assembly.GetName().Name", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { PackageCacheDirectory = TestSupport.PackageCache });
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("TorchSharp.torch+Tensor TorchVision", Assert.Single(r.Cells[1].Outputs.OfType<Documents.DisplayOutput>()).Data["text/plain"]);
    }

    /// <summary>The kernel takes a package it has loaded as satisfying a later #r of it without a version (or with *):
    /// the versionless line was refused here ("a second version (latest) cannot be loaded"), so a notebook that runs in
    /// VS Code failed headless. It binds to the loaded copy, with no new restore; another pinned version is still refused.
    /// The package comes from a local feed: offline, and no other test loads its assembly.</summary>
    [Fact]
    public void A_versionless_reference_to_a_loaded_package_binds_to_the_loaded_copy()
    {
        using var dir = new TempDir("restore-versionless");
        Pack(Path.Combine(dir.Path, "feed"), "Distill.Test.Versionless", Compile(dir.Path, "VersionlessGreeter",
            "namespace Versionless; public static class Greeter { public static string Hello(string n) => $\"hello, {n}\"; }"));
        var nb = TestSupport.WriteNotebook(dir.Path, "versionless.ipynb",
            ($"#i \"nuget: {Path.Combine(dir.Path, "feed")}\"\n#r \"nuget: Distill.Test.Versionless, [1.0.0]\"", null),
            ("#r \"nuget: Distill.Test.Versionless\"\nVersionless.Greeter.Hello(\"notebook\")", null),
            ("#r \"nuget: Distill.Test.Versionless, *\"", null),
            // As the kernel compares a request with what resolved: the version as written (the range's was refused here as
            // "a second version"), and 1.0.0.0 is not its spelling (taken here, refused there).
            ("#r \"nuget: Distill.Test.Versionless, 1.0.0\"", null),
            ("#r \"nuget: Distill.Test.Versionless, 1.0.0.0\"", null),
            ("#r \"nuget: Distill.Test.Versionless, 2.0.0\"", null));
        using var cache = new TempDir("nuget-cache-versionless");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { PackageCacheDirectory = cache.Path, ContinueOnError = true });
        Assert.Equal([CellStatus.Succeeded, CellStatus.Succeeded, CellStatus.Succeeded, CellStatus.Succeeded, CellStatus.Failed, CellStatus.Failed], r.Cells.Select(c => c.Status));
        // The kernel lists the notebook's restore sources, as written, under every later #r cell too.
        var installed = $"Restore sources\n  •  {Path.Combine(dir.Path, "feed")}\nInstalled Packages\n  • Distill.Test.Versionless, 1.0.0\n";
        Assert.Equal(installed, Plain(r, 0));
        Assert.Equal(installed, Plain(r, 1));
        Assert.Equal("hello, notebook", Plain(r, 1, 1));
        Assert.Equal(installed, Plain(r, 2));
        Assert.Equal(installed, Plain(r, 3));
        Assert.Equal(["Distill.Test.Versionless version 1.0.0.0 cannot be added because version 1.0.0 was added previously.",
                      "Distill.Test.Versionless version 2.0.0 cannot be added because version 1.0.0 was added previously."],
            r.Failures.Select(f => f.Message.Split('\n')[0]));
    }

    /// <summary>Sources are listed in the kernel's order (nbconvert on the .net-csharp kernel gave this one): the culture's
    /// (ICU's, which `distill run` has), not the order written, and not ordinal, which put every capital first. Packages
    /// the same way.</summary>
    [Fact]
    public void Sources_are_listed_in_the_kernels_order()
    {
        using var dir = new TempDir("restore-order");
        var names = new[] { "feedB", "Feed_Y", "feed_a", "FEEDC", "feed-d", "feed.e", "feed1" };
        foreach (var n in names) Directory.CreateDirectory(Path.Combine(dir.Path, n));
        var nb = TestSupport.WriteNotebook(dir.Path, "order.ipynb", (string.Join("\n", names.Select(n => $"#i \"nuget:{Path.Combine(dir.Path, n)}\"")), null));
        var (exit, stdout, stderr) = DistillProcess.Run("run", nb, "--out", Path.Combine(dir.Path, "out"));
        Assert.True(exit == 0, stdout + stderr);
        var shown = TestSupport.Text(TestSupport.ReadJson(Path.Combine(dir.Path, "out", "order.ipynb"))["cells"]![0]!["outputs"]![0]!["data"]!["text/plain"]);
        Assert.Equal("Restore sources\n" + string.Concat(new[] { "feed_a", "Feed_Y", "feed-d", "feed.e", "feed1", "feedB", "FEEDC" }.Select(n => $"  • {Path.Combine(dir.Path, n)}\n")), shown);
        Assert.Equal("<div><div></div><div></div><div><strong>Installed Packages</strong><ul><li><span>AdvA.Tiny, 1.2.3</span></li><li><span>Humanizer.Core, 2.14.1</span></li></ul></div></div>",
            Distill.Notebooks.Packages.PackageResolver.RestoreHtml([], ["Humanizer.Core, 2.14.1", "AdvA.Tiny, 1.2.3"]));
    }

    /// <summary>An #i cell shows the notebook's restore sources as the kernel does (nbconvert on the .net-csharp kernel
    /// gave this HTML): every source added so far, as written after "nuget:", in ordinal order, once each; the runner
    /// showed nothing.</summary>
    [Fact]
    public void An_added_source_is_listed_as_in_the_kernel()
    {
        using var dir = new TempDir("restore-sources");
        Directory.CreateDirectory(Path.Combine(dir.Path, "b"));
        Directory.CreateDirectory(Path.Combine(dir.Path, "a"));
        string a = Path.Combine(dir.Path, "a"), b = Path.Combine(dir.Path, "b");
        var nb = TestSupport.WriteNotebook(dir.Path, "sources.ipynb",
            ($"#i \"nuget: {b}\"", null),
            ($"#i \"nuget:{a}\"\n#i \"nuget: {b}\"\n1", null),
            // A restore that fails lists the sources too (the kernel adds them first), as does every later cell.
            ($"#i \"nuget: {b}/\"\n#r \"nuget: Distill.No.Such.Package.Anywhere, 1.0.0\"", null),
            ("#r \"nuget: Distill.No.Such.Package.Anywhere.Either, 1.0.0\"", null));
        using var cache = new TempDir("nuget-cache-sources");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { PackageCacheDirectory = cache.Path, ContinueOnError = true });
        Assert.Equal([CellStatus.Succeeded, CellStatus.Succeeded, CellStatus.Failed, CellStatus.Failed], r.Cells.Select(c => c.Status));
        Assert.Equal($"<div><div><strong>Restore sources</strong><ul><li><span> {b}</span></li></ul></div><div></div><div></div></div>",
            Assert.IsType<Documents.DisplayOutput>(Assert.Single(r.Cells[0].Outputs)).Data["text/html"]);
        Assert.Equal($"<div><div><strong>Restore sources</strong><ul><li><span> {b}</span></li><li><span>{a}</span></li></ul></div><div></div><div></div></div>",
            r.Cells[1].Outputs.OfType<Documents.DisplayOutput>().First().Data["text/html"]);
        Assert.Equal($"Restore sources\n  •  {b}\n  • {a}\n", Plain(r, 1));
        Assert.Equal("1", Plain(r, 1, 1));
        var three = $"Restore sources\n  •  {b}\n  •  {b}/\n  • {a}\n";
        Assert.Equal(three, Plain(r, 2));
        Assert.IsType<Documents.ErrorOutput>(r.Cells[2].Outputs[1]);
        Assert.Equal(three, Plain(r, 3));
    }

    [Fact]
    public void An_unknown_package_fails_with_nugets_reason()
    {
        using var dir = new TempDir("badpkg");
        var nb = TestSupport.WriteNotebook(dir.Path, "bad.ipynb", ("#r \"nuget: Distill.No.Such.Package.Anywhere, 1.0.0\"", null));
        using var cache = new TempDir("nuget-cache-bad");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { PackageCacheDirectory = cache.Path });
        var f = Assert.Single(r.Failures);
        Assert.Equal(1, f.Line);
        Assert.Contains("restoring Distill.No.Such.Package.Anywhere, 1.0.0 failed", f.Message);
        Assert.Contains("NU1101", f.Message);
    }

    [Fact]
    public void A_source_added_with_i_is_used_for_restore()
    {
        using var dir = new TempDir("feed");
        Pack(Path.Combine(dir.Path, "feed"), "Distill.Test.FeedGreeter", Compile(dir.Path, "FeedGreeter",
            "namespace Feed; public static class Greeter { public static string Hello(string n) => $\"hello from the feed, {n}\"; }"));
        // A package that cannot be restored fails its own cell only: it is not restored again with every later #r.
        var nb = TestSupport.WriteNotebook(dir.Path, "feed.ipynb",
            ($"#i \"nuget: {Path.Combine(dir.Path, "feed")}\"\n#r \"nuget: Distill.No.Such.Package.Anywhere, 1.0.0\"", null),
            ("#r \"nuget: Distill.Test.FeedGreeter, 1.0.0\"", null),
            ("Feed.Greeter.Hello(\"notebook\")", null));
        using var cache = new TempDir("nuget-cache-feed");
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { PackageCacheDirectory = cache.Path, ContinueOnError = true });
        Assert.Equal([CellStatus.Failed, CellStatus.Succeeded, CellStatus.Succeeded], r.Cells.Select(c => c.Status));
        Assert.Contains("Distill.No.Such.Package.Anywhere", Assert.Single(r.Failures).Message, StringComparison.Ordinal);
        Assert.Equal("hello from the feed, notebook", Plain(r, 2));
    }

    /// <summary>A cell abandoned for --cell-timeout while its #r restores: the `dotnet restore` it started was killed
    /// only on Ctrl-C, and otherwise went on after the run (re-parented to init when the CLI exited).</summary>
    [Fact]
    public void A_restore_running_when_its_cell_times_out_is_stopped()
    {
        using var dir = new TempDir("feed-timeout");
        Pack(Path.Combine(dir.Path, "feed"), "Distill.Test.SlowGreeter", Compile(dir.Path, "SlowGreeter", "namespace Slow; public static class Greeter { }"));
        using var cache = new TempDir("nuget-cache-timeout");
        var nb = TestSupport.WriteNotebook(dir.Path, "slow.ipynb", ($"#i \"nuget: {Path.Combine(dir.Path, "feed")}\"\n#r \"nuget: Distill.Test.SlowGreeter, 1.0.0\"", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"), new NotebookRunOptions { PackageCacheDirectory = cache.Path, CellTimeout = TimeSpan.FromSeconds(0.3) });
        Assert.Equal(CellStatus.TimedOut, Assert.Single(r.Cells).Status);
        // `dotnet restore Restore.csproj`, run in a folder of this test's cache, is gone within a second (it takes
        // several when left to finish).
        static bool InCache(int pid, string cache)
        {
            try
            {
                return File.ReadAllText($"/proc/{pid}/cmdline").Contains("Restore.csproj", StringComparison.Ordinal)
                    && new DirectoryInfo($"/proc/{pid}/cwd").ResolveLinkTarget(false)?.FullName.StartsWith(cache, StringComparison.Ordinal) == true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; } // ended meanwhile, or not ours to read
        }
        int[] Restores() => [.. Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(p => p!.All(char.IsAsciiDigit)).Select(p => int.Parse(p!, System.Globalization.CultureInfo.InvariantCulture))
            .Where(pid => InCache(pid, cache.Path))];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Restores().Length > 0 && clock.Elapsed < TimeSpan.FromSeconds(1)) Thread.Sleep(50);
        Assert.Empty(Restores());
    }

    /// <summary>A minimal .nupkg of <paramref name="id"/> 1.0.0 in the folder <paramref name="feed"/> (created): the
    /// nuspec and one lib/ assembly, for a local feed a notebook adds with #i.</summary>
    static void Pack(string feed, string id, string dll)
    {
        Directory.CreateDirectory(feed);
        using var zip = ZipFile.Open(Path.Combine(feed, $"{id}.1.0.0.nupkg"), ZipArchiveMode.Create);
        using (var w = new StreamWriter(zip.CreateEntry($"{id}.nuspec").Open()))
            w.Write($"""
                <?xml version="1.0"?>
                <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
                  <metadata><id>{id}</id><version>1.0.0</version><authors>tests</authors><description>test package</description></metadata>
                </package>
                """);
        zip.CreateEntryFromFile(dll, $"lib/netstandard2.0/{Path.GetFileName(dll)}");
    }

    static string Compile(string dir, string name, string code)
    {
        var path = Path.Combine(dir, name + ".dll");
        var c = CSharpCompilation.Create(name, [CSharpSyntaxTree.ParseText(code)],
            [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)], new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.True(c.Emit(path).Success);
        return path;
    }

    [Fact]
    public void Assembly_paths_resolve_against_the_notebook_and_carried_ones_bind_to_the_loaded_copy()
    {
        using var dir = new TempDir("pathref");
        Compile(Directory.CreateDirectory(Path.Combine(dir.Path, "lib")).FullName, "Greeter",
            "namespace Demo; public static class Greeter { public static string Hello(string n) => $\"hello, {n}\"; }");
        // A notebook's `#r` of the built helper library: a copy elsewhere must not load a second Distill.
        Directory.CreateDirectory(Path.Combine(dir.Path, "build"));
        File.Copy(typeof(Distill.Native.TorchRuntime).Assembly.Location, Path.Combine(dir.Path, "build", "Distill.dll"));
        var nb = TestSupport.WriteNotebook(dir.Path, "refs.ipynb",
            ("#r \"lib/Greeter.dll\"\n#r \"build/Distill.dll\"", null),
            ("Demo.Greeter.Hello(\"notebook\")", null),
            ("typeof(Distill.Native.TorchRuntime).Assembly.Location", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("hello, notebook", Plain(r, 1));
        Assert.Equal(typeof(Distill.Native.TorchRuntime).Assembly.Location, Plain(r, 2));
    }

    [Fact]
    public void A_gpu_notebooks_backend_requests_bind_to_the_carried_backend_comparing_libtorch_with_libtorch()
    {
        // As a notebook written on a CUDA machine asks for them: libtorch's own version (2.5.1) is not TorchSharp's.
        using var dir = new TempDir("backend");
        var nb = TestSupport.WriteNotebook(dir.Path, "gpu.ipynb",
            ("#r \"nuget: TorchSharp-cuda-linux, 0.105.0\"\n#r \"nuget: libtorch-cuda-12.1-linux-x64, 2.5.1\"", null),
            ("TorchSharp.torch.ones(3).sum().item<float>()", null));
        var r = TestSupport.Run(nb, Path.Combine(dir.Path, "out"));
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.Equal("3", Plain(r, 1));

        // A libtorch newer than the one carried cannot be had in this process: an error naming both libtorch versions.
        nb = TestSupport.WriteNotebook(dir.Path, "newer.ipynb", ("#r \"nuget: libtorch-cuda-12.1-linux-x64, 99.0.0\"", null));
        r = TestSupport.Run(nb, Path.Combine(dir.Path, "out2"));
        Assert.False(r.Succeeded);
        Assert.Contains("libtorch-cpu-linux-x64 2.10.0 is already loaded", string.Join("\n", r.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void A_dib_notebook_runs_and_is_written_as_ipynb()
    {
        using var dir = new TempDir("dib");
        var r = TestSupport.Run(TestSupport.TestData("sample.dib"), dir.Path);
        Assert.True(r.Succeeded, string.Join("\n", r.Failures));
        Assert.EndsWith("sample.ipynb", r.Files.Notebook);
        Assert.Equal("", TestSupport.NbformatErrors(r.Files.Notebook));
        Assert.Equal("10", Plain(r, 1, output: 0));
        Assert.StartsWith("Wall time:", Plain(r, 1, output: 1));
        Assert.Equal("1,2,3,4\n", r.Cells[2].Outputs.OfType<Documents.StreamOutput>().Single().Text.ToString());
        Assert.Contains(">A .dib notebook</h1>", File.ReadAllText(r.Files.Html!));
    }

    static string Plain(NotebookRunResult r, int cell, int output = 0) =>
        r.Cells[cell].Outputs.OfType<Documents.DisplayOutput>().ElementAt(output).Data["text/plain"];
}
