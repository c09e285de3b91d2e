using System.Diagnostics;
using System.Text.Json;

namespace Distill.Bench;

/// <summary>Where the PyTorch peer lives: a Python with torch (Debian: python3-torch + libopenblas0-pthread) and the
/// script bench/peer/bench_peer.py of this repository.</summary>
public sealed record PeerOptions(string Python, string Script, string? DataDir);

/// <summary>The peer's answer: its torch version and BLAS, and a timing per case it knows.</summary>
public sealed record PeerResult(string Version, IReadOnlyDictionary<string, Timing> Cases);

public static class Peer
{
    public const string ScriptName = "bench_peer.py";

    /// <summary>$DISTILL_PEER_PYTHON, else Debian's /usr/bin/python3 (a pyenv/venv python3 on PATH usually lacks
    /// torch), else python3 from PATH.</summary>
    public static string DefaultPython() =>
        Environment.GetEnvironmentVariable("DISTILL_PEER_PYTHON") is { Length: > 0 } p ? p
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>bench/peer/bench_peer.py of the repository above the current directory or the program.</summary>
    public static string? FindScript()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var p = Path.Combine(d.FullName, "bench", "peer", ScriptName);
                if (File.Exists(p)) return p;
            }
        return null;
    }

    /// <summary>Null when <paramref name="python"/> runs and imports torch, else what is wrong and the fix: checked before
    /// our cases run, so a missing peer does not cost a whole benchmark.</summary>
    public static string? Check(string python)
    {
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import torch; print(torch.__version__)");
        try
        {
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            _ = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(120_000)) { p.Kill(); return $"--peer: {python} -c 'import torch' did not finish in 2 minutes."; }
            return p.ExitCode == 0 ? null
                : $"--peer: {python} cannot import torch ({err.Result.Trim().Split('\n')[^1]}). Install the peer (docs/performance.md: " +
                  "apt-get install python3-torch libopenblas0-pthread) or point --python / DISTILL_PEER_PYTHON at a Python with torch.";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"--peer: cannot run {python} ({e.Message}). Install the peer (docs/performance.md: apt-get install " +
                   "python3-torch libopenblas0-pthread) or set DISTILL_PEER_PYTHON.";
        }
    }

    /// <summary>Environment variables removed from the peer's process (see <see cref="Run"/>).</summary>
    public static readonly string[] HandicapVariables = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

    /// <summary>Runs the peer script for <paramref name="cases"/> with the same thread count and budget.</summary>
    public static PeerResult Run(PeerOptions o, int threads, TimingBudget budget, IEnumerable<string> cases, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(log);
        var psi = new ProcessStartInfo(o.Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(o.Script);
        foreach (var (k, v) in new[]
                 {
                     ("--threads", $"{threads}"),
                     ("--warmup", $"{budget.WarmupSteps}"),
                     ("--target-seconds", $"{budget.TargetSeconds}"),
                     ("--min-steps", $"{budget.MinSteps}"),
                     ("--max-steps", $"{budget.MaxSteps}"),
                     ("--cases", string.Join(',', cases)),
                 })
        {
            psi.ArgumentList.Add(k);
            psi.ArgumentList.Add(v);
        }
        if (o.DataDir is not null) { psi.ArgumentList.Add("--data"); psi.ArgumentList.Add(o.DataDir); }
        // Thread pools read these at start-up; torch.set_num_threads alone does not reach OpenBLAS.
        foreach (var v in new[] { "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS" })
            psi.Environment[v] = $"{threads}";
        // This machine's image sets OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE=512, which halve OpenBLAS's GEMM on
        // an AVX-512 CPU (195 against 290 GFLOP/s measured, results equal to float64 either way): the peer runs with
        // OpenBLAS's own choice. Only the peer's process: the tests and CI keep what they inherit.
        foreach (var v in HandicapVariables) psi.Environment.Remove(v);
        // Same OpenMP wait policy as ours (TorchRuntime sets PASSIVE unless the user chose one).
        if (Native.TorchRuntime.OmpWaitPolicy is { Length: > 0 } policy) psi.Environment["OMP_WAIT_POLICY"] = policy;

        Process p;
        try { p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {o.Python}"); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"--peer: cannot run {o.Python} ({e.Message}). Install the peer (docs/performance.md: apt-get install " +
                "python3-torch libopenblas0-pthread) or set DISTILL_PEER_PYTHON.", e);
        }
        using (p)
        {
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.WriteLine($"  peer: {e.Data}"); };
            p.BeginErrorReadLine();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException(
                    $"--peer: {o.Python} {o.Script} exited with code {p.ExitCode} (its messages are above). " +
                    "Check that `python3 -c 'import torch'` works there (docs/performance.md, peer setup).");
            return Parse(stdout, o.Script);
        }
    }

    /// <summary>Parses the script's JSON: {"version": str, "cases": {name: {median_ms, p10_ms, p90_ms, steps}}}.</summary>
    public static PeerResult Parse(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var cases = new Dictionary<string, Timing>();
            foreach (var c in root.GetProperty("cases").EnumerateObject())
                cases[c.Name] = new Timing(c.Value.GetProperty("median_ms").GetDouble(), c.Value.GetProperty("p10_ms").GetDouble(),
                    c.Value.GetProperty("p90_ms").GetDouble(), c.Value.GetProperty("steps").GetInt32());
            return new PeerResult(root.GetProperty("version").GetString() ?? "?", cases);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidOperationException($"--peer: {source} printed something that is not its JSON report ({e.Message}).", e);
        }
    }
}
