using System.Text.RegularExpressions;

namespace Distill.Tests.Onboarding;

/// <summary>The onboarding documents only point at things that exist: relative links, anchors and project paths.</summary>
public partial class DocsTests
{
    /// <summary>README, CONTRIBUTING and every page under docs/.</summary>
    static List<string> DocumentPaths()
    {
        var docs = new List<string> { "README.md", "CONTRIBUTING.md" };
        var dir = Repo.PathOf("docs");
        if (Directory.Exists(dir))
            docs.AddRange(Directory.EnumerateFiles(dir, "*.md", SearchOption.AllDirectories).Order()
                .Select(f => Path.GetRelativePath(Repo.Root, f).Replace('\\', '/')));
        return docs;
    }

    public static TheoryData<string> Documents() => [.. DocumentPaths()];

    [Fact]
    public void Onboarding_documents_exist_including_the_native_loading_page()
    {
        var docs = DocumentPaths();
        Assert.Contains("docs/native-loading.md", docs);
        foreach (var d in docs) Assert.True(File.Exists(Repo.PathOf(d)), d);
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_relative_link_resolves_to_a_file_or_a_heading(string doc)
    {
        var broken = BrokenLinks(doc, Repo.Read(doc)).ToList();
        Assert.True(broken.Count == 0, $"{doc}: broken links (fix the path or the heading): {string.Join(", ", broken)}");
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_dotnet_run_project_path_is_a_project_folder(string doc)
    {
        foreach (Match m in DotnetRunProject().Matches(Repo.Read(doc)))
        {
            var dir = Repo.PathOf(m.Groups[1].Value);
            Assert.True(Directory.Exists(dir) && Directory.EnumerateFiles(dir, "*.csproj").Any(),
                $"{doc}: 'dotnet run --project {m.Groups[1].Value}' names no project folder.");
        }
    }

    /// <summary>Commands the README documents before they exist. Empty this as they land (the test below insists).</summary>
    static readonly string[] PendingCommands = [];

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_documented_cli_command_is_registered(string doc)
    {
        var registered = Directory.EnumerateFiles(Repo.PathOf("src/Distill.Cli"), "*.cs")
            .SelectMany(f => CommandName().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .ToHashSet();
        Assert.Contains("doctor", registered);
        foreach (Match m in CliInvocation().Matches(Repo.Read(doc)))
        {
            var command = m.Groups[1].Value;
            if (PendingCommands.Contains(command)) continue;
            Assert.True(registered.Contains(command), $"{doc}: documents 'distill {command}', which src/Distill.Cli does not register (has: {string.Join(", ", registered.Order())}).");
        }
        foreach (var pending in PendingCommands)
            Assert.False(registered.Contains(pending), $"'distill {pending}' is registered now: remove it from PendingCommands.");
    }

    [Fact]
    public void Readme_quick_start_checks_the_machine_then_runs_the_main_job()
    {
        var readme = Repo.Read("README.md");
        var start = readme.IndexOf("## Quick start", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Quick start' section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var quickStart = readme[start..(end < 0 ? readme.Length : end)];
        var commands = CliInvocation().Matches(quickStart).Select(m => m.Groups[1].Value).ToList();
        Assert.True(commands.Count >= 2, "README.md's quick start shows no distill commands");
        Assert.Equal(["doctor", "reproduce"], commands[..2]);
        Assert.Contains("    dotnet run --project src/Distill.Cli -- reproduce --budget quick\n", quickStart, StringComparison.Ordinal);
    }

    [Fact]
    public void Link_checker_finds_a_missing_file_and_a_missing_heading()
    {
        const string text = "# Title\n[ok](README.md) [gone](no/such.md) [head](#title) [nohead](#nothing) [web](https://example.org)\n" +
                            "```\n[in code](ignored.md)\n```\n";
        Assert.Equal(["no/such.md", "#nothing"], BrokenLinks("README.md", text));
    }

    static IEnumerable<string> BrokenLinks(string doc, string text)
    {
        text = FencedCode().Replace(text, "");
        var docDir = Path.GetDirectoryName(Repo.PathOf(doc))!;
        foreach (Match m in MarkdownLink().Matches(text))
        {
            var target = m.Groups[1].Value;
            if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
            var hash = target.IndexOf('#', StringComparison.Ordinal);
            var (file, anchor) = hash < 0 ? (target, "") : (target[..hash], target[(hash + 1)..]);
            var path = file.Length == 0 ? Repo.PathOf(doc) : Path.GetFullPath(Path.Combine(docDir, file));
            if (!File.Exists(path) && !Directory.Exists(path)) { yield return target; continue; }
            if (anchor.Length > 0 && path.EndsWith(".md", StringComparison.Ordinal) && !Anchors(File.Exists(path) && file.Length > 0 ? File.ReadAllText(path) : text).Contains(anchor))
                yield return target;
        }
    }

    /// <summary>GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.</summary>
    static HashSet<string> Anchors(string markdown) =>
        [.. Heading().Matches(markdown).Select(h => AnchorPunctuation().Replace(h.Groups[1].Value.Trim().ToLowerInvariant(), "").Replace(' ', '-'))];

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedCode();

    [GeneratedRegex(@"^#{1,6}\s+(.+)$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"[^\p{L}\p{Nd}\s_-]")]
    private static partial Regex AnchorPunctuation();

    [GeneratedRegex(@"dotnet run --project src/Distill\.Cli(?:\s+-\S+)*\s+--\s+([a-z][a-z-]*)")]
    private static partial Regex CliInvocation();

    [GeneratedRegex(@"new\s+Command\(\s*""([a-z][a-z-]*)""")]
    private static partial Regex CommandName();

    [GeneratedRegex(@"dotnet run --project (\S+)")]
    private static partial Regex DotnetRunProject();
}
