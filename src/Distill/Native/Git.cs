using System.Diagnostics;

namespace Distill.Native;

/// <summary>Asks git about a folder, for the records runs keep (commit, dirty tree).</summary>
public static class Git
{
    /// <summary>git's trimmed output for <paramref name="args"/> run in <paramref name="dir"/>; null when git fails, prints
    /// nothing, or is not installed.</summary>
    public static string? Run(string dir, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo("git", args) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi);
            if (p is null) return null;
            var output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; } // git not installed
    }
}
