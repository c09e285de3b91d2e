using System.Diagnostics;
using System.Security;
using System.Text.Json;

namespace Distill.Tests.Onboarding;

/// <summary>The README promises that DISTILL_TORCH_BACKEND=cuda (set by the GPU devcontainer) picks the CUDA backend for
/// every dotnet command, as -p:TorchBackend=cuda does. Checked by asking MSBuild which backend package a project that
/// carries the backend gets from the repository's Directory.Build.props and .targets (a probe project that imports
/// just those two, so the SDK is not evaluated: about 3x faster than evaluating the CLI project).</summary>
public sealed class BackendSelectionTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("backend-probe").FullName;
    readonly string probe;

    public BackendSelectionTests()
    {
        probe = Path.Combine(dir, "probe.proj");
        File.WriteAllText(probe, $"""
            <Project>
              <Import Project="{SecurityElement.Escape(Repo.PathOf("Directory.Build.props"))}" />
              <PropertyGroup><DistillCarriesBackend>true</DistillCarriesBackend></PropertyGroup>
              <!-- Stands in for the SDK's target that restore runs to gather the package references. -->
              <Target Name="CollectPackageReferences" />
              <Import Project="{SecurityElement.Escape(Repo.PathOf("Directory.Build.targets"))}" />
            </Project>
            """);
    }

    public void Dispose() => Directory.Delete(dir, true);

    (int Code, string Stdout, string Stderr) MsBuild(string? envBackend, string? property, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir,
        };
        foreach (var a in new[] { "msbuild", probe, "-nologo" }.Concat(args))
            psi.ArgumentList.Add(a);
        if (property is not null) psi.ArgumentList.Add($"-p:TorchBackend={property}");
        psi.Environment.Remove("DISTILL_TORCH_BACKEND");
        if (envBackend is not null) psi.Environment["DISTILL_TORCH_BACKEND"] = envBackend;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "dotnet msbuild did not finish within 60 s");
        return (p.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }

    string[] BackendPackages(string? envBackend, string? property = null)
    {
        var (code, stdout, stderr) = MsBuild(envBackend, property, "-getItem:PackageReference");
        Assert.True(code == 0, $"dotnet msbuild failed: {stdout}{stderr}");
        return [.. JsonDocument.Parse(stdout).RootElement.GetProperty("Items").GetProperty("PackageReference").EnumerateArray()
            .Select(i => i.GetProperty("Identity").GetString()!)
            .Where(n => n.StartsWith("TorchSharp-", StringComparison.Ordinal))];
    }

    [Fact]
    public void Backend_is_cpu_by_default_cuda_from_the_environment_and_an_explicit_property_wins()
    {
        Assert.Equal(["TorchSharp-cpu"], BackendPackages(null));
        Assert.Equal(["TorchSharp-cuda-linux"], BackendPackages("cuda"));
        Assert.Equal(["TorchSharp-cpu"], BackendPackages("cuda", "cpu"));
    }

    /// <summary>A misspelt backend used to match neither package reference: the build succeeded without libtorch and
    /// only `doctor` failed, with TorchSharp's load trace. Now restore stops, naming the value and the two that work.</summary>
    [Theory]
    [InlineData(null, "gpu")]
    [InlineData("gpu", null)]
    public void An_unknown_backend_fails_the_build_naming_it_and_the_choices(string? envBackend, string? property)
    {
        var (code, stdout, stderr) = MsBuild(envBackend, property, "-t:CollectPackageReferences");
        Assert.NotEqual(0, code);
        Assert.Contains("error", stdout + stderr);
        Assert.Contains("TorchBackend 'gpu'", stdout + stderr);
        Assert.Contains("use cpu or cuda", stdout + stderr);
    }

    [Fact]
    public void The_cli_and_the_tests_carry_the_backend()
    {
        foreach (var project in new[] { "src/Distill.Cli/Distill.Cli.csproj", "tests/Distill.Tests/Distill.Tests.csproj" })
            Assert.Contains("<DistillCarriesBackend>true</DistillCarriesBackend>", Repo.Read(project));
    }
}
