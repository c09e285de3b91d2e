using System.Runtime.InteropServices;
using Distill.Native;

namespace Distill.Notebooks;

/// <summary>Where and with what a notebook ran: the facts a report's reader needs to trust or reproduce it.
/// <see cref="OneDnnIsa"/> is <see cref="Native.OneDnnIsa.Status"/>: whether oneDNN was capped (it changes the numbers).
/// <see cref="GitCommit"/> is the checkout's HEAD when the run started; <see cref="LibraryCommit"/> the commit the running
/// library was built from (<see cref="Native.Git.BuildCommit"/>), which differs when the checkout moved after the build;
/// <see cref="LibraryDirty"/> whether that build had uncommitted changes (<see cref="Native.Git.BuildDirty"/>).</summary>
public sealed record RunEnvironment(
    string? GitCommit, bool? GitDirty, string Machine, string Os, string Cpu, int Cores, int TorchThreads,
    string DotNet, string TorchSharp, string LibTorch, string OneDnnIsa, string? LibraryCommit = null, bool? LibraryDirty = null)
{
    /// <summary>Collects the facts; git is asked about the folder holding the notebook.</summary>
    public static RunEnvironment Capture(string notebookFolder)
    {
        var commit = Native.Git.Run(notebookFolder, "rev-parse", "HEAD");
        bool? dirty = commit is null ? null : (Native.Git.Run(notebookFolder, "status", "--porcelain", "--untracked-files=no") ?? "").Length > 0;
        string libtorch;
        try { libtorch = TorchRuntime.LibTorchVersion; }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException) { libtorch = "not loaded"; }
        return new RunEnvironment(commit, dirty, Environment.MachineName, RuntimeInformation.OSDescription, CpuInfo.ModelName(),
            Environment.ProcessorCount, TorchRuntime.Threads, RuntimeInformation.FrameworkDescription, TorchRuntime.TorchSharpVersion, libtorch,
            Native.OneDnnIsa.Status, Native.Git.BuildCommit, Native.Git.BuildDirty);
    }

    /// <summary>The commit facts as reports show them: "SHA (clean)", plus the library's build commit when it is not the
    /// checkout's or was built with uncommitted changes.</summary>
    public string CommitText =>
        (GitCommit is null ? "not a git checkout" : GitCommit + (GitDirty == true ? " (dirty: uncommitted changes)" : " (clean)")) +
        (LibraryCommit is not null && (LibraryCommit != GitCommit || LibraryDirty == true)
            ? $"; the library ran was built from {LibraryCommit}{(LibraryDirty == true ? " with uncommitted changes" : "")}" : "");

    /// <summary>"abc1234 (dirty)" / "abc1234" / "not a git checkout".</summary>
    public string GitDescription => GitCommit is null ? "not a git checkout" : GitCommit[..Math.Min(12, GitCommit.Length)] + (GitDirty == true ? " (dirty)" : "");
}
