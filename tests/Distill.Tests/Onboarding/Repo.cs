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

    /// <summary>The CLI built in the same configuration as these tests (debug | release), for tests that run it as a
    /// user would, in a fresh process.</summary>
    public static string CliDll
    {
        get
        {
            var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name;
            var cli = Path.Combine(Root, "artifacts", "bin", "Distill.Cli", config, "Distill.Cli.dll");
            Assert.True(File.Exists(cli), $"{cli} missing: build src/Distill.Cli");
            return cli;
        }
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
