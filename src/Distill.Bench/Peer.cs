using System.Diagnostics;
using System.Text.Json;

namespace Distill.Bench;

/// <summary>Where the PyTorch peer lives: a Python with torch (Debian: python3-torch + libopenblas0-pthread) and the
/// script bench/peer/bench_peer.py of this repository.</summary>
public sealed record PeerOptions(string Python, string Script, string? DataDir);

/// <summary>What the peer ran on, in its own words: torch's version, the BLAS libraries it mapped, OpenBLAS's chosen
/// kernel (core type), thread count and build (null when the BLAS is not OpenBLAS), torch's thread count,
/// <c>torch.__config__.parallel_info()</c> and the essentials of <c>torch.__config__.show()</c>.</summary>
public sealed record PeerInfo(string Torch, string Blas, string? OpenblasCore, int? OpenblasThreads, string? OpenblasConfig,
    int TorchThreads, string Parallel, string Build)
{
    public string Summary => $"torch {Torch} ({Blas}; OpenBLAS kernel {OpenblasCore ?? "-"}, {OpenblasThreads?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} threads; " +
                             $"torch {TorchThreads} threads)";

    /// <summary>Torch fell back to the reference BLAS (no OpenBLAS kernel, neither OpenBLAS nor MKL mapped): its GEMM is
    /// ~50x slower than with libopenblas0-pthread, so ratios against it judge nothing.</summary>
    public bool ReferenceBlas => OpenblasCore is null && !Blas.Contains("openblas", StringComparison.OrdinalIgnoreCase) &&
                                 !Blas.Contains("mkl", StringComparison.OrdinalIgnoreCase);
}

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
            // Its last line of stderr is Python's reason; a program that is no Python may print nothing at all.
            var said = err.Result.Trim().Split('\n')[^1];
            return p.ExitCode == 0 ? null
                : $"--peer: {python} cannot import torch ({(said.Length > 0 ? said : $"it exited with code {p.ExitCode} and printed nothing")}). Install the peer (docs/performance.md: " +
                  "apt-get install python3-torch libopenblas0-pthread) or point --python / DISTILL_PEER_PYTHON at a Python with torch.";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"--peer: cannot run {python} ({e.Message}). Install the peer (docs/performance.md: apt-get install " +
                   "python3-torch libopenblas0-pthread) or set DISTILL_PEER_PYTHON.";
        }
    }

    /// <summary>Environment variables removed from the peer's process (see <see cref="Start"/>).</summary>
    public static readonly string[] HandicapVariables = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

    /// <summary>Starts the peer script as a long-lived process with the same thread count and OpenMP wait policy as
    /// ours; it then builds and runs cases on request (<see cref="PeerProcess"/>).</summary>
    public static PeerProcess Start(PeerOptions o, int threads, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(log);
        var psi = new ProcessStartInfo(o.Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(o.Script);
        psi.ArgumentList.Add("--threads");
        psi.ArgumentList.Add($"{threads}");
        if (o.DataDir is not null) { psi.ArgumentList.Add("--data"); psi.ArgumentList.Add(o.DataDir); }
        // Thread pools read these at start-up; torch.set_num_threads alone does not reach OpenBLAS.
        foreach (var v in new[] { "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS" })
            psi.Environment[v] = $"{threads}";
        // This machine's image sets OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE=512, which halve OpenBLAS's GEMM on
        // an AVX-512 CPU (195 against 290 GFLOP/s measured, results equal to float64 either way): the peer runs with
        // OpenBLAS's own choice, and reports which kernel that was. Only the peer's process: the tests and CI keep
        // what they inherit.
        foreach (var v in HandicapVariables) psi.Environment.Remove(v);
        // Same OpenMP wait policy as ours (TorchRuntime sets PASSIVE unless the user chose one).
        if (Native.TorchRuntime.OmpWaitPolicy is { Length: > 0 } policy) psi.Environment["OMP_WAIT_POLICY"] = policy;
        // Same malloc thresholds as ours (glibc reads them at the peer's start): the allocator alone moved step costs
        // by up to 2x here, so the two sides must allocate alike.
        if (Native.MallocThresholds.Pinned && !Native.MallocThresholds.AsEnvironment.Keys.Any(k => psi.Environment.ContainsKey(k)))
            foreach (var (k, v) in Native.MallocThresholds.AsEnvironment) psi.Environment[k] = v;

        Process p;
        try { p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {o.Python}"); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"--peer: cannot run {o.Python} ({e.Message}). Install the peer (docs/performance.md: apt-get install " +
                "python3-torch libopenblas0-pthread) or set DISTILL_PEER_PYTHON.", e);
        }
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.WriteLine($"  peer: {e.Data}"); };
        p.BeginErrorReadLine();
        try { return new PeerProcess(p, $"{o.Python} {o.Script}"); }
        catch
        {
            if (!p.HasExited) p.Kill();
            p.Dispose();
            throw;
        }
    }

    /// <summary>Parses the peer's answer to "info"; an <see cref="InvalidDataException"/> names a field that is missing
    /// or of the wrong type.</summary>
    public static PeerInfo ParseInfo(JsonElement e) => new(
        Text(e, "torch"), Text(e, "blas"), TextOrNull(e, "openblas_core"), IntOrNull(e, "openblas_threads"),
        TextOrNull(e, "openblas_config"), IntOrNull(e, "torch_threads") ?? throw Wrong("torch_threads", "a whole number"),
        Text(e, "parallel"), Text(e, "build"));

    static string Text(JsonElement e, string name) => TextOrNull(e, name) ?? throw Wrong(name, "a string");

    internal static string? TextOrNull(JsonElement e, string name) =>
        Field(e, name) switch
        {
            { ValueKind: JsonValueKind.String } v => v.GetString(),
            { ValueKind: JsonValueKind.Null } => null,
            _ => throw Wrong(name, "a string or null"),
        };

    static int? IntOrNull(JsonElement e, string name) =>
        Field(e, name) switch
        {
            { ValueKind: JsonValueKind.Number } v when v.TryGetInt32(out var n) => n,
            { ValueKind: JsonValueKind.Null } => null,
            _ => throw Wrong(name, "a whole number or null"),
        };

    /// <summary>Field <paramref name="name"/>; a missing one has kind Undefined.</summary>
    internal static JsonElement Field(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v : default;

    static InvalidDataException Wrong(string name, string kind) => new($"\"{name}\" is missing or not {kind}");
}

/// <summary>
/// The running peer: one JSON request per line on its stdin, one JSON answer per line on its stdout (protocol in
/// bench/peer/bench_peer.py). It keeps the cases it built, so it runs a round of K steps whenever our rounds ask.
/// </summary>
public sealed class PeerProcess : IDisposable
{
    readonly Process process;
    readonly string source;

    internal PeerProcess(Process process, string source)
    {
        (this.process, this.source) = (process, source);
        var info = Ask(new { cmd = "info" });
        try { Info = Peer.ParseInfo(info); }
        catch (InvalidDataException e) { throw Bad(e.Message); }
    }

    public PeerInfo Info { get; }

    /// <summary>The peer's process has ended (crashed, killed): it answers nothing more.</summary>
    public bool HasExited => process.HasExited;

    /// <summary>Builds the peer's version of case <paramref name="name"/>; returns its key (cases that are the same
    /// loop in PyTorch, e.g. our "-loop" and "-trainer", share one) or null when the peer has no such case.</summary>
    public string? Setup(string name)
    {
        var answer = Ask(new { cmd = "setup", @case = name });
        try { return Peer.TextOrNull(answer, "key"); }
        catch (InvalidDataException e) { throw Bad(e.Message); }
    }

    /// <summary>Runs <paramref name="steps"/> steps of case <paramref name="key"/>; then, unless
    /// <paramref name="untilIdle"/> is false (a warm-up step right before the same case's timed steps), waits until
    /// the peer's threads are idle.</summary>
    public RoundTimes Run(string key, int steps, bool untilIdle = true)
    {
        var ms = Peer.Field(Ask(new { cmd = "run", key, steps }), "ms");
        // A time of zero, or one missing, made a ratio of Infinity or NaN, and a verdict on nothing.
        if (ms.ValueKind != JsonValueKind.Array || ms.GetArrayLength() != steps ||
            ms.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.Number || !(x.GetDouble() is var v && double.IsFinite(v) && v > 0)))
            throw Bad($"\"ms\" is not a list of {steps} step times in ms (finite, above 0)");
        var times = new RoundTimes([.. ms.EnumerateArray().Select(x => x.GetDouble())], []);
        if (untilIdle) WaitUntilIdle();
        return times;
    }

    /// <summary>Total time spent waiting for the peer's threads to go idle after its rounds.</summary>
    public TimeSpan IdleWait { get; private set; }

    /// <summary>
    /// OpenBLAS's pthread workers spin for about 2^28 cycles (~0.1 s) after each call before they sleep: measured here,
    /// that spin took one of the two cores from our next round, so our GEMM ran single-threaded (186 against 365
    /// GFLOP/s, the peer's own time unchanged). Waiting for the peer to go idle keeps each side's idle threads out of
    /// the other's round without changing how the peer runs.
    /// </summary>
    void WaitUntilIdle() => IdleWait += ProcessIdle.Wait(process.Id, TimeSpan.FromSeconds(2));

    public void Drop(string key) => Ask(new { cmd = "drop", key });

    string lastRequest = "", lastAnswer = "";

    /// <summary>The last answer did not follow the protocol: says which request, what came back and the fix.</summary>
    InvalidOperationException Bad(string problem) => new(
        $"--peer: {source} answered {lastRequest} with {(lastAnswer.Length > 200 ? lastAnswer[..200] + "..." : lastAnswer)}: {problem}. " +
        $"It does not speak the protocol of bench/peer/{Peer.ScriptName} (at the top of the script): run that script, with --python a Python with torch.");

    JsonElement Ask(object request)
    {
        string? line;
        lastRequest = JsonSerializer.Serialize(request);
        try
        {
            process.StandardInput.WriteLine(lastRequest);
            process.StandardInput.Flush();
            line = process.StandardOutput.ReadLine();
        }
        catch (IOException) { line = null; }
        if (line is null)
        {
            process.WaitForExit(10_000);
            throw new InvalidOperationException(
                $"--peer: {source} stopped{(process.HasExited ? $" with exit code {process.ExitCode}" : "")} (its messages are above). " +
                "Check that `python3 -c 'import torch'` works there (docs/performance.md, peer setup).");
        }
        lastAnswer = line;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement.Clone();
            if (root.ValueKind != JsonValueKind.Object) throw Bad("not a JSON object");
            if (root.TryGetProperty("error", out var error))
                throw new InvalidOperationException($"--peer: {source} failed on {lastRequest}: {(error.ValueKind == JsonValueKind.String ? error.GetString() : error.GetRawText())}");
            return root;
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"--peer: {source} printed something that is not a JSON answer: {line}", e);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.StandardInput.WriteLine("{\"cmd\": \"quit\"}");
                process.StandardInput.Close();
                if (!process.WaitForExit(10_000)) process.Kill();
            }
            process.WaitForExit(); // and its last stderr lines are logged

        }
        catch (IOException) { }
        catch (InvalidOperationException) { }
        process.Dispose();
    }
}

/// <summary>The peer's side of a comparison: its version of a case, a round at a time.</summary>
public sealed class PeerSide(PeerProcess peer, string key) : IRoundSide
{
    public string Name => $"peer {key}";
    public string Key => key;

    public RoundTimes Run(int steps)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return peer.Run(key, steps);
    }

    /// <summary>The peer's timed steps follow at once, in its own process, as a training loop's would.</summary>
    public void Warm() => peer.Run(key, 1, untilIdle: false);

    public void Dispose() => peer.Drop(key);
}

/// <summary>Waiting until another process stops using CPU (Linux: /proc/PID/stat).</summary>
public static class ProcessIdle
{
    /// <summary>Three clock ticks (10 ms each): a spinning thread that has a core adds a tick every 10 ms.</summary>
    static readonly TimeSpan DefaultQuiet = TimeSpan.FromMilliseconds(30);

    /// <summary>Returns once process <paramref name="pid"/> has used no CPU for <paramref name="quiet"/> (default 30 ms),
    /// or after <paramref name="limit"/>, or at once where /proc cannot tell (not Linux, process gone); returns the time
    /// waited.</summary>
    public static TimeSpan Wait(int pid, TimeSpan limit, TimeSpan? quiet = null)
    {
        var stat = $"/proc/{pid}/stat";
        var window = (long)(quiet ?? DefaultQuiet).TotalMilliseconds;
        var clock = Stopwatch.StartNew();
        if (CpuTicks(stat) is not long last) return clock.Elapsed;
        var quietSince = clock.ElapsedMilliseconds;
        while (clock.Elapsed < limit && clock.ElapsedMilliseconds - quietSince < window)
        {
            Thread.Sleep(5);
            if (CpuTicks(stat) is not long now) break;
            if (now != last) (last, quietSince) = (now, clock.ElapsedMilliseconds);
        }
        return clock.Elapsed;
    }

    /// <summary>The process's user + system CPU time in clock ticks (fields 14 and 15 of /proc/PID/stat), or null.</summary>
    static long? CpuTicks(string statPath)
    {
        try
        {
            var text = File.ReadAllText(statPath);
            // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) +
                   long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
