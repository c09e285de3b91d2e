using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Distill.Notebooks.Tests;

/// <summary>The built CLI as users call it, in its own process.</summary>
static class DistillProcess
{
    public static ProcessStartInfo Start(params string[] args)
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name; // debug | release
        var cli = Path.Combine(TestSupport.RepoRoot, "artifacts", "bin", "Distill.Cli", config, "Distill.Cli.dll");
        Assert.True(File.Exists(cli), $"{cli} missing: build src/Distill.Cli");
        var psi = new ProcessStartInfo("dotnet", [cli, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DISTILL_NUGET_CACHE"] = TestSupport.PackageCache;
        return psi;
    }

    public static (int Exit, string Out, string Err) Run(params string[] args) => Run(Start(args));

    /// <summary>Runs <paramref name="psi"/> (from <see cref="Start"/>, perhaps changed) to its end.</summary>
    public static (int Exit, string Out, string Err) Run(ProcessStartInfo psi)
    {
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), $"{psi.FileName} {string.Join(' ', psi.ArgumentList)} hung");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A running CLI whose output is collected as it comes; <see cref="WaitFor"/> blocks until a line contains
    /// a text.</summary>
    public sealed class Running : IDisposable
    {
        readonly StringBuilder output = new();
        public Process Process { get; }

        public Running(ProcessStartInfo psi)
        {
            // A shell starts background jobs with SIGINT ignored and .NET keeps an ignored SIGINT ignored (under
            // `.ci/run &` the signal never arrived): env, which execs and keeps the pid, restores the default first.
            psi.ArgumentList.Insert(0, psi.FileName);
            psi.ArgumentList.Insert(0, "--default-signal=INT");
            psi.FileName = "/usr/bin/env";
            Process = Process.Start(psi)!;
            Process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
            Process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
            Process.BeginErrorReadLine();
            Process.BeginOutputReadLine();
        }

        public string Output { get { lock (output) return output.ToString(); } }

        public void WaitFor(string text, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (!Output.Contains(text, StringComparison.Ordinal))
            {
                if (Process.HasExited) Assert.Fail($"exited ({Process.ExitCode}) before printing '{text}':\n{Output}");
                Assert.True(clock.Elapsed < timeout, $"no '{text}' after {timeout}:\n{Output}");
                Thread.Sleep(100);
            }
        }

        public void Signal(string signal)
        {
            using var kill = Process.Start("kill", [$"-{signal}", Process.Id.ToString(CultureInfo.InvariantCulture)])!;
            kill.WaitForExit();
        }

        /// <summary>Waits for the exit (killing it after the timeout) and returns the exit code.</summary>
        public int Exit(TimeSpan timeout)
        {
            if (!Process.WaitForExit(timeout)) { Process.Kill(entireProcessTree: true); Assert.Fail($"did not exit in {timeout}:\n{Output}"); }
            Process.WaitForExit(); // flush the asynchronous readers
            return Process.ExitCode;
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }
}
