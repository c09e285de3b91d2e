using System.Text.Json;

namespace Distill.Tests.Onboarding;

public class DevcontainerTests
{
    static readonly string[] Extensions = ["ms-dotnettools.dotnet-interactive-vscode", "ms-dotnettools.csdevkit", "ms-toolsai.jupyter"];

    static IEnumerable<string> VsCodeExtensions(JsonElement devcontainer) =>
        Repo.Strings(devcontainer.GetProperty("customizations").GetProperty("vscode").GetProperty("extensions"));

    [Fact]
    public void Cpu_devcontainer_is_dotnet_10_on_debian_12_with_the_notebook_extensions_and_runs_setup()
    {
        var dc = Repo.ReadJsonc(".devcontainer/devcontainer.json");
        // Debian 12, as CI: on Ubuntu 24.04 chromium is a snap, which setup.sh cannot install there, and the report tests need it.
        Assert.Equal("mcr.microsoft.com/devcontainers/base:bookworm", dc.GetProperty("image").GetString());
        var dotnet = dc.GetProperty("features").EnumerateObject().Single(f => f.Name.StartsWith("ghcr.io/devcontainers/features/dotnet:", StringComparison.Ordinal));
        Assert.Equal("10.0", dotnet.Value.GetProperty("version").GetString());
        Assert.Equal("vscode", dc.GetProperty("remoteUser").GetString());
        Assert.Equal(Extensions.Order(), VsCodeExtensions(dc).Order());
        Assert.Equal("./setup.sh", dc.GetProperty("postCreateCommand").GetString());
    }

    [Fact]
    public void Gpu_devcontainer_is_cuda_on_noble_with_all_gpus_the_cuda_backend_and_the_same_setup()
    {
        var dc = Repo.ReadJsonc(".devcontainer/gpu/devcontainer.json");
        var image = dc.GetProperty("image").GetString()!;
        Assert.StartsWith("nvidia/cuda:12.8", image, StringComparison.Ordinal); // TorchSharp 0.107's libtorch is built for CUDA 12.8
        Assert.EndsWith("ubuntu24.04", image, StringComparison.Ordinal);
        Assert.Contains(dc.GetProperty("features").EnumerateObject(), f => f.Name.StartsWith("ghcr.io/devcontainers/features/dotnet:", StringComparison.Ordinal));
        var dotnet = dc.GetProperty("features").EnumerateObject().First(f => f.Name.StartsWith("ghcr.io/devcontainers/features/dotnet:", StringComparison.Ordinal));
        Assert.Equal("10.0", dotnet.Value.GetProperty("version").GetString());

        var runArgs = Repo.Strings(dc.GetProperty("runArgs")).ToList();
        int gpus = runArgs.IndexOf("--gpus");
        Assert.True(gpus >= 0 && gpus + 1 < runArgs.Count && runArgs[gpus + 1] == "all", $"runArgs must hold \"--gpus\", \"all\"; got {string.Join(" ", runArgs)}");
        Assert.Equal("cuda", dc.GetProperty("containerEnv").GetProperty("DISTILL_TORCH_BACKEND").GetString());
        Assert.Equal("vscode", dc.GetProperty("remoteUser").GetString());
        Assert.Equal(Extensions.Order(), VsCodeExtensions(dc).Order());
        Assert.Equal("./setup.sh", dc.GetProperty("postCreateCommand").GetString());
    }

    /// <summary>The CPU devcontainer's comment says why it is Debian; the GPU one, on Ubuntu 24.04, said nothing of the
    /// report tests it cannot run (ReadJsonc drops comments, so the raw text is read).</summary>
    [Fact]
    public void Gpu_devcontainer_says_the_report_tests_cannot_run_in_it()
    {
        var text = Repo.Read(".devcontainer/gpu/devcontainer.json");
        Assert.Contains("report tests", text);
        Assert.Contains("CPU devcontainer", text);
    }

    [Fact]
    public void Vscode_recommends_the_same_extensions_and_makes_csharp_ipynb_the_notebook_default()
    {
        var ext = Repo.ReadJsonc(".vscode/extensions.json");
        Assert.Equal(Extensions.Order(), Repo.Strings(ext.GetProperty("recommendations")).Order());

        var settings = Repo.ReadJsonc(".vscode/settings.json");
        Assert.Equal("csharp", settings.GetProperty("polyglot-notebook.defaultNotebookLanguage").GetString());
        Assert.Equal(".ipynb", settings.GetProperty("polyglot-notebook.defaultNotebookExtension").GetString());
        Assert.Equal("jupyter-notebook", settings.GetProperty("workbench.editorAssociations").GetProperty("*.ipynb").GetString());
        Assert.Equal("Research.sln", settings.GetProperty("dotnet.defaultSolution").GetString());
        Assert.True(File.Exists(Repo.PathOf("Research.sln")));
    }

    [Fact]
    public void Jsonc_reader_rejects_a_broken_file_with_its_name()
    {
        var dir = Directory.CreateTempSubdirectory("jsonc").FullName;
        var name = Path.GetRelativePath(Repo.Root, Path.Combine(dir, "broken.json"));
        File.WriteAllText(Path.Combine(dir, "broken.json"), "// comment\n{ \"image\": \"x\" \"missing\": \"comma\" }");
        var e = Assert.Throws<InvalidOperationException>(() => Repo.ReadJsonc(name));
        Assert.Contains("broken.json", e.Message);
        Directory.Delete(dir, true);
    }
}
