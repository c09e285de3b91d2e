using System.Diagnostics;
using System.Reflection;

namespace Distill.Native;

/// <summary>Asks git about a folder, for the records runs keep (commit, dirty tree).</summary>
public static class Git
{
    /// <summary>The commit this library was built from (the SDK stamps it into the informational version as
    /// "1.0.0+SHA"); null for a build outside git. A checkout's HEAD can move on while a built CLI keeps running, so
    /// records take the code's commit from here and the checkout's from <see cref="Run"/>.</summary>
    public static string? BuildCommit { get; } =
        typeof(Git).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+') is [_, { Length: >= 7 } sha]
            ? sha : null;

    /// <summary>Whether this library was built from uncommitted changes to its own sources, the recipe files it embeds or
    /// the build settings (modified or new files; stamped by Directory.Build.targets); null when the build could not ask
    /// git. A dirty build ran code that <see cref="BuildCommit"/> alone does not name.</summary>
    public static bool? BuildDirty { get; } =
        typeof(Git).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "DistillBuildTree")?.Value switch
        {
            "dirty" => true,
            "clean" => false,
            _ => null,
        };

    /// <summary>The checkout's HEAD in <paramref name="dir"/>, or, when there is none, why: "not a git checkout", "a git
    /// checkout without commits", "git is not installed", or git's own first line. Why the reason: every failure read
    /// "not a git checkout", so a checkout another user owns (git's "detected dubious ownership", as in a devcontainer
    /// volume or under sudo) lost its commit from the report with a false reason. One git call for both.</summary>
    public static (string? Commit, string? NoCommit) Head(string dir)
    {
        if (Exec(dir, ["rev-parse", "HEAD"]) is not { } r) return (null, "git is not installed");
        if (r.Code == 0) return (r.Output, null);
        var lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var first = lines.FirstOrDefault() ?? $"git rev-parse HEAD exited {r.Code}";
        if (first.Contains("not a git repository", StringComparison.OrdinalIgnoreCase)) return (null, "not a git checkout");
        if (first.Contains("ambiguous argument 'HEAD'", StringComparison.Ordinal) || first.Contains("unknown revision", StringComparison.Ordinal))
            return (null, "a git checkout without commits");
        var fix = lines.FirstOrDefault(l => l.StartsWith("git config --global --add safe.directory", StringComparison.Ordinal));
        return (null, $"git could not read the checkout: {first}{(fix is null ? "" : $" ({fix} lets this user read it)")}");
    }

    /// <summary>git's trimmed output for <paramref name="args"/> run in <paramref name="dir"/>; null when git fails, prints
    /// nothing, or is not installed.</summary>
    public static string? Run(string dir, params string[] args) => Exec(dir, args) is { Code: 0 } r ? r.Output : null;

    /// <summary>git's exit code, trimmed output and error text for <paramref name="args"/> in <paramref name="dir"/>; null
    /// when git cannot be started (not installed). The error text is read beside the output, so neither pipe fills.</summary>
    static (int Code, string Output, string Error)? Exec(string dir, string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo("git", args) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi);
            if (p is null) return null;
            var error = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return (p.ExitCode, output, error.Result);
        }
        catch (System.ComponentModel.Win32Exception) { return null; } // git not installed
    }
}
