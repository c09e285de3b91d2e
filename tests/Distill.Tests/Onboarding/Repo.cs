using System.Text.Json;

namespace Distill.Tests.Onboarding;

/// <summary>The repository these tests were built from, found by walking up from the test output folder.</summary>
static class Repo
{
    public static readonly string Root = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Research.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No Research.sln above {AppContext.BaseDirectory}; run the tests from a build of this repository.");
    }

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>Runs the CLI built in the same configuration as these tests (debug | release) as a user would, in a fresh
    /// process; <paramref name="environment"/> adjusts the child's variables. Fails the test if it does not exit within
    /// <paramref name="timeout"/> (default 5 minutes).</summary>
    public static (int Code, string Stdout, string Stderr) RunCli(IEnumerable<string> args, Action<IDictionary<string, string?>>? environment = null,
        TimeSpan? timeout = null, string? workingDirectory = null, string? program = null)
    {
        var cli = program ?? CliPath();
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet", [cli, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        environment?.Invoke(psi.Environment);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)), $"distill {string.Join(' ', psi.ArgumentList.Skip(1))} hung");
        return (p.ExitCode, stdout, stderr.Result);
    }

    /// <summary>The CLI built in the same configuration as these tests (debug | release).</summary>
    static string CliPath()
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name;
        var cli = Path.Combine(Root, "artifacts", "bin", "Distill.Cli", config, "Distill.Cli.dll");
        Assert.True(File.Exists(cli), $"{cli} missing: build src/Distill.Cli");
        return cli;
    }

    /// <summary>The built CLI set up in <paramref name="dir"/> (outside the repository) for <see cref="RunCli"/>'s
    /// program: the program finds the checkout, and its data/, from where it runs, so a test of what a machine without
    /// the datasets sees must run it from elsewhere. Its own files are copied (the host follows a link to the program
    /// back to the checkout); the rest, libtorch's 1 GB among them, are linked.</summary>
    public static string CliOutsideRepo(string dir)
    {
        var built = Path.GetDirectoryName(CliPath())!;
        Directory.CreateDirectory(dir);
        foreach (var entry in Directory.EnumerateFileSystemEntries(built))
        {
            var target = Path.Combine(dir, Path.GetFileName(entry));
            if (Path.GetFileName(entry).StartsWith("Distill.Cli.", StringComparison.Ordinal) && File.Exists(entry)) File.Copy(entry, target);
            else File.CreateSymbolicLink(target, entry);
        }
        return Path.Combine(dir, "Distill.Cli.dll");
    }

    public static string Read(string relative)
    {
        var path = PathOf(relative);
        Assert.True(File.Exists(path), $"{relative} is missing from the repository.");
        return File.ReadAllText(path);
    }

    static readonly JsonDocumentOptions JsoncOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Parses JSON with comments and trailing commas, as VS Code and the devcontainer CLI read them.</summary>
    public static JsonElement ReadJsonc(string relative)
    {
        try { return JsonDocument.Parse(Read(relative), JsoncOptions).RootElement.Clone(); }
        catch (JsonException e) { throw new InvalidOperationException($"{relative}: not valid JSON with comments: {e.Message}", e); }
    }

    public static IEnumerable<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!);
}
