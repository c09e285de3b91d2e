using System.Diagnostics;
using System.Text.Json;

namespace Distill.Tests.Onboarding;

/// <summary>The README promises that DISTILL_TORCH_BACKEND=cuda (set by the GPU devcontainer) picks the CUDA backend for
/// every dotnet command, as -p:TorchBackend=cuda does. Checked by asking MSBuild which backend package the CLI gets.</summary>
public class BackendSelectionTests
{
    static string[] BackendPackages(string? envBackend, string? property = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repo.Root,
        };
        foreach (var a in new[] { "msbuild", "src/Distill.Cli/Distill.Cli.csproj", "-getItem:PackageReference", "-nologo" })
            psi.ArgumentList.Add(a);
        if (property is not null) psi.ArgumentList.Add($"-p:TorchBackend={property}");
        psi.Environment.Remove("DISTILL_TORCH_BACKEND");
        if (envBackend is not null) psi.Environment["DISTILL_TORCH_BACKEND"] = envBackend;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "dotnet msbuild did not finish within 60 s");
        Assert.True(p.ExitCode == 0, $"dotnet msbuild failed: {stdout}{stderr.Result}");
        return [.. JsonDocument.Parse(stdout).RootElement.GetProperty("Items").GetProperty("PackageReference").EnumerateArray()
            .Select(i => i.GetProperty("Identity").GetString()!)
            .Where(n => n.StartsWith("TorchSharp-", StringComparison.Ordinal))];
    }

    [Fact]
    public void Backend_is_cuda_from_the_environment_and_an_explicit_property_wins()
    {
        // The default (cpu, no variable) is what every ordinary build uses; the native tests load it.
        Assert.Equal(["TorchSharp-cuda-linux"], BackendPackages("cuda"));
        Assert.Equal(["TorchSharp-cpu"], BackendPackages("cuda", "cpu")); // the explicit property wins
    }
}
