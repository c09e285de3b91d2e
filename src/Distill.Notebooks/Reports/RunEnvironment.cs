using System.Runtime.InteropServices;
using Distill.Native;

namespace Distill.Notebooks;

/// <summary>Where and with what a notebook ran: the facts a report's reader needs to trust or reproduce it.
/// <see cref="OneDnnIsa"/> is <see cref="Native.OneDnnIsa.Status"/>: whether oneDNN was capped (it changes the numbers).
/// <see cref="GitCommit"/> is the checkout's HEAD when the run started; <see cref="LibraryCommit"/> the commit the running
/// library was built from (<see cref="Native.Git.BuildCommit"/>), which differs when the checkout moved after the build;
/// <see cref="LibraryDirty"/> whether that build had uncommitted changes (<see cref="Native.Git.BuildDirty"/>).
/// <see cref="NotebookNotCommitted"/>: the notebook run is not as committed at <see cref="GitCommit"/> ("untracked",
/// "modified", "ignored by git"), so the commit does not hold what ran; <see cref="GitDirty"/> is then true as well.
/// <see cref="MklCbwr"/>: oneMKL's reproducibility mode (MKL_CBWR, <see cref="TorchRuntime.MklReproducibility"/>), which
/// changes the GEMMs' rounding and so every number. <see cref="MklDispatch"/>: whether oneMKL ran its AMD-capable GEMM
/// kernels or its generic ones (<see cref="Native.MklCpuDispatch.Status"/>), which round differently too.
/// <see cref="NoCommit"/>: why there is no <see cref="GitCommit"/> (<see cref="Native.Git.Head"/>).</summary>
public sealed record RunEnvironment(
    string? GitCommit, bool? GitDirty, string Machine, string Os, string Cpu, int Cores, int TorchThreads,
    string DotNet, string TorchSharp, string LibTorch, string OneDnnIsa, string? LibraryCommit = null, bool? LibraryDirty = null,
    string? NotebookNotCommitted = null, string? MklCbwr = null, string? MklDispatch = null, string? NoCommit = null)
{
    /// <summary>Collects the facts; git is asked about the folder holding the notebook, and about the
    /// <paramref name="notebooks"/> that run (one for <c>distill run</c>, those selected for <c>reproduce</c>).</summary>
    public static RunEnvironment Capture(string notebookFolder, params IReadOnlyList<string> notebooks)
    {
        var (commit, noCommit) = Native.Git.Head(notebookFolder);
        // Untracked files elsewhere (outputs, caches) do not make a run dirty; the notebook itself does: a new or edited
        // notebook is not what the commit holds, whether or not git tracks it yet.
        var notCommitted = commit is null || notebooks.Count == 0 ? null : NotCommitted(notebookFolder, notebooks);
        bool? dirty = commit is null ? null
            : notCommitted is not null || (Native.Git.Run(notebookFolder, "status", "--porcelain", "--untracked-files=no") ?? "").Length > 0;
        string libtorch;
        try { libtorch = TorchRuntime.LibTorchVersion; }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException) { libtorch = "not loaded"; }
        return new RunEnvironment(commit, dirty, Environment.MachineName, RuntimeInformation.OSDescription, CpuInfo.ModelName(),
            Environment.ProcessorCount, TorchRuntime.Threads, RuntimeInformation.FrameworkDescription, TorchRuntime.TorchSharpVersion, libtorch,
            Native.OneDnnIsa.Status, Native.Git.BuildCommit, Native.Git.BuildDirty, notCommitted, TorchRuntime.MklReproducibility,
            Native.MklCpuDispatch.Status, noCommit);
    }

    /// <summary>"untracked", "ignored by git", "modified" (changed, staged or not), or null when git has them as committed;
    /// of several notebooks, the first git lists.</summary>
    static string? NotCommitted(string folder, IReadOnlyList<string> paths)
    {
        // --ignored: an ignored notebook is not committed either, and plain status does not list it.
        var status = Native.Git.Run(folder, ["status", "--porcelain", "--ignored", "--untracked-files=all", "--", .. paths.Select(Path.GetFullPath)]);
        if (string.IsNullOrEmpty(status)) return null; // committed as it is (or git failed: nothing to say)
        return status.StartsWith("??", StringComparison.Ordinal) ? "untracked" : status.StartsWith("!!", StringComparison.Ordinal) ? "ignored by git" : "modified";
    }

    /// <summary>The commit facts as reports show them: "SHA (clean)", "SHA (dirty: notebook not committed: untracked)",
    /// plus the library's build commit when it is not the checkout's or was built with uncommitted changes.</summary>
    public string CommitText =>
        (GitCommit is null ? NoCommit ?? "not a git checkout"
            : GitCommit + (NotebookNotCommitted is { } n ? $" (dirty: notebook not committed: {n})" : GitDirty == true ? " (dirty: uncommitted changes)" : " (clean)")) +
        (LibraryCommit is not null && (LibraryCommit != GitCommit || LibraryDirty == true)
            ? $"; the library ran was built from {LibraryCommit}{(LibraryDirty == true ? " with uncommitted changes" : "")}" : "");

    /// <summary>"abc1234 (dirty)" / "abc1234 (dirty: notebook not committed)" / "abc1234" / "not a git checkout".</summary>
    public string GitDescription => GitCommit is null ? NoCommit ?? "not a git checkout" : GitCommit[..Math.Min(12, GitCommit.Length)] +
        (NotebookNotCommitted is not null ? " (dirty: notebook not committed)" : GitDirty == true ? " (dirty)" : "");
}
