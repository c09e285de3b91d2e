using System.Reflection;
using TorchSharp;

namespace Distill.Native;

/// <summary>
/// The one place a process prepares libtorch: makes the native glue loadable, pins the thread count, picks a device.
/// Call <see cref="Initialize"/> before the first use of <c>torch</c> (the CLI, tests and notebook runner do).
/// </summary>
public static class TorchRuntime
{
    static readonly Lock Gate = new();
    static bool initialized;

    static int threads;

    /// <summary>Threads libtorch uses for intra-op work; recorded in every run manifest and part of the teacher cache's
    /// key. Reading it initializes the runtime: 0 before <see cref="Initialize"/> made every key miss the cache.</summary>
    public static int Threads
    {
        get
        {
            if (!Volatile.Read(ref initialized)) Initialize();
            return threads;
        }
    }

    /// <summary>The OpenMP wait policy libtorch's thread pool runs with (PASSIVE unless the user set one).</summary>
    public static string OmpWaitPolicy { get; private set; } = "";

    /// <summary>What decides which kernels compute: the libtorch build, oneDNN's ISA cap (AVX2 and AVX-512 kernels give
    /// other rounding) and whether oneMKL's AMD fix holds (its kernels give other rounding too: 03 at smoke budget moved
    /// 0.05 points; a process that loaded libtorch before initialising runs without it). Part of the cache keys of
    /// trained teachers and students, beside the thread count, so runs of either kind never reuse the other's.</summary>
    public static string KernelIdentity =>
        $"libtorch {torch.__version__}, oneDNN ISA {OneDnnIsa.Cap ?? Environment.GetEnvironmentVariable(OneDnnIsa.Variable) ?? Environment.GetEnvironmentVariable(OneDnnIsa.LegacyVariable) ?? "all"}, " +
        $"oneMKL AMD fix {(MklCpuDispatch.Enabled ? "on" : "off")}, oneMKL CBWR {MklReproducibility}";

    /// <summary>oneMKL's conditional numerical reproducibility mode ($MKL_CBWR, as oneMKL reads it): AUTO,STRICT unless
    /// the user set one, once <see cref="Initialize"/> ran; "unset" before.</summary>
    public static string MklReproducibility => NativeEnvironment.Get(MklReproducibilityVariable) is { Length: > 0 } v ? v : "unset";

    const string MklReproducibilityVariable = "MKL_CBWR";

    /// <summary>A note on $DISTILL_THREADS when it is more than the cores (it may be meant: runs side by side on
    /// purpose), else null; set by <see cref="Initialize"/>, shown by `distill doctor`.</summary>
    public static string? ThreadsProblem { get; private set; }

    /// <summary>The on/off DISTILL_* switches set to a value that is neither (<see cref="NativeEnvironment.SwitchProblem"/>),
    /// and a oneDNN cap that names no ISA (<see cref="OneDnnIsa.ControlProblem"/>), for `distill doctor`; at run time
    /// such a value keeps the default, as it always did.</summary>
    public static IReadOnlyList<string> SwitchProblems =>
        [.. new[] { MklCpuDispatch.OptOutVariable, MallocThresholds.Variable, OneDnnConvGuard.ControlVariable }
            .Select(name => NativeEnvironment.SwitchProblem(name, Environment.GetEnvironmentVariable(name)))
            .Append(OneDnnIsa.ControlProblem(Environment.GetEnvironmentVariable(OneDnnIsa.ControlVariable))).OfType<string>()];

    /// <summary>The most libtorch threads a process may ask for: 4 × the cores. Beyond the cores threads only wait for
    /// each other, but a few more can be meant (processes side by side, each with the cores' count); far more (99999)
    /// starts that many OS threads and hangs the machine. Relative to the cores rather than a fixed number, so a large
    /// node is not capped below its own core count.</summary>
    public static int MaxThreads => 4 * Environment.ProcessorCount;

    /// <summary>What is wrong with <paramref name="threads"/> as a thread count (outside 1 to <see cref="MaxThreads"/>),
    /// naming <paramref name="source"/> (an option or the variable) and the range; null when it is usable.</summary>
    public static string? ThreadsError(int threads, string source) => threads >= 1 && threads <= MaxThreads ? null
        : $"{source} is not a thread count in [1, {MaxThreads}] (at most 4 × the {Environment.ProcessorCount} cores: more only wait for each other); give one in that range.";

    /// <summary><paramref name="threads"/>, or <see cref="ThreadsError"/> as a <see cref="ThreadCountException"/>.</summary>
    public static int CheckThreads(int threads, string source) => ThreadsError(threads, source) is { } e ? throw new ThreadCountException(e) : threads;

    /// <summary>$DISTILL_THREADS as a thread count; null when it is not set. The one reader of the variable: a value that
    /// is not a whole number in range is an error, not ignored, since the thread count changes the numbers.</summary>
    public static int? EnvironmentThreads()
    {
        var env = Environment.GetEnvironmentVariable("DISTILL_THREADS");
        if (string.IsNullOrWhiteSpace(env)) return null;
        var source = $"DISTILL_THREADS={env}";
        return int.TryParse(env.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? CheckThreads(n, source) : CheckThreads(0, source);
    }

    /// <summary>Idempotent. <paramref name="threads"/> defaults to $DISTILL_THREADS, else the number of cores, on the
    /// first call; a later call without it keeps the count set before.</summary>
    /// <exception cref="ThreadCountException"><paramref name="threads"/> is outside 1 to <see cref="MaxThreads"/>.</exception>
    public static void Initialize(int? threads = null)
    {
        // Checked as $DISTILL_THREADS is: 0 reached libtorch, whose c10::Error aborted the process (the kernel died with
        // every variable of the session), and 40 on 2 cores was taken.
        if (threads is int given) CheckThreads(given, $"threads: {given}");
        lock (Gate)
        {
            if (initialized) { if (threads is int t && t != TorchRuntime.threads) SetThreads(t); return; }
            PatchOwnOutputFolder();
            // Before libtorch allocates: step costs then do not depend on what the process allocated before.
            MallocThresholds.Apply();
            // Idle OpenMP workers sleep instead of spinning: on a 2-core machine shared with a build or a second test
            // process, spinning workers made training steps 10-30x slower (measured). Users can still set it themselves.
            OmpWaitPolicy = NativeEnvironment.SetDefault("OMP_WAIT_POLICY", "PASSIVE");
            // Bit-identical runs at a thread count: without strict CNR, oneMKL's GEMMs may round by their buffers' memory
            // alignment, which depends on what the process allocated before (a notebook's earlier cells, the kernel's own
            // allocations). Measured: on an AVX2 AMD machine, one training test lost its accuracy (0.000 against 0.077 after
            // 15 epochs) in some runs of the full test process and never alone; with AUTO,STRICT, every run agreed. Read by
            // oneMKL at its first call, so set before libtorch loads. The user's own value wins.
            NativeEnvironment.SetDefault(MklReproducibilityVariable, "AUTO,STRICT");
            // Both before libtorch loads: the shim must be mapped first to win, and the patched natives must be found
            // before TorchSharp goes looking (in the kernel, it would find the NuGet cache's unpatched copy).
            MklCpuDispatch.EnableIfSafe();
            var libtorchBefore = OperatingSystem.IsLinux() && Dl.IsLoaded("libtorch_cpu.so"); // by something else than this start-up
            PatchedNatives.LoadIfNeeded();
            // Before anything below runs a convolution: oneDNN reads its ISA cap once.
            OneDnnIsa.ApplyIfNeeded(libtorchBefore);
            var env = threads is null ? EnvironmentThreads() : null;
            ThreadsProblem = env > Environment.ProcessorCount
                ? $"DISTILL_THREADS={env} is more than the {Environment.ProcessorCount} cores: threads wait for each other and every step slows down; set it to at most {Environment.ProcessorCount}"
                : null;
            SetThreads(threads ?? env ?? Environment.ProcessorCount);
            // NNPACK cannot run on these CPUs anyway; asking it only prints "Could not initialize NNPACK" per convolution.
            AtenContext.Nnpack = false;
            Volatile.Write(ref initialized, true);
        }
    }

    static void SetThreads(int n)
    {
        torch.set_num_threads(n);
        threads = n;
    }

    /// <summary>Where the build-time patch did not run (e.g. an app built without our targets), patch the folder that
    /// TorchSharp loads natives from, as long as it is not the NuGet cache.</summary>
    static void PatchOwnOutputFolder()
    {
        var dir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (string.IsNullOrEmpty(dir)) return;
        try { LibTorchSharpFix.PatchFolder(dir); }
        catch (InvalidOperationException) { /* NuGet cache or unknown requirement: let TorchSharp report its own error */ }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Seeds torch's global generators: the CPU one, and every GPU's where CUDA is present (as
    /// <c>torch.manual_seed</c> does in PyTorch).</summary>
    public static void Seed(long seed)
    {
        Initialize();
        using (torch.manual_seed(seed)) { }
        if (torch.cuda.is_available()) torch.cuda.manual_seed_all(seed);
    }

    /// <summary>"auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".</summary>
    public static torch.Device ResolveDevice(string spec = "auto")
    {
        Initialize();
        spec = spec.Trim().ToLowerInvariant();
        if (spec == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        // The form first: `cuda:-1` or `cudax` was told CUDA is unavailable, which is true but not what is wrong.
        var index = spec.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(spec[5..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : (int?)null;
        if (spec != "cpu" && spec != "cuda" && index is null)
            throw new ArgumentException($"--device {spec}: expected auto, cpu, cuda or cuda:N (N a GPU's index, 0 for the first).");
        if (spec.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new InvalidOperationException(
                $"--device {spec}: CUDA is not available here. Build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU, or use --device cpu{ErrorText.Api("Device = \"cpu\" in TrainOptions")}.");
        if (index >= torch.cuda.device_count())
            throw new ArgumentException($"--device {spec}: this machine has {torch.cuda.device_count()} GPU(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}.");
        return new torch.Device(spec);
    }

    public static string TorchSharpVersion =>
        typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(torch).Assembly.GetName().Version?.ToString() ?? "?";

    public static string LibTorchVersion { get { Initialize(); return torch.__version__; } }
}

/// <summary>A thread count (DISTILL_THREADS, --threads) out of range: bad input wherever it surfaces, named by the CLI as
/// such, since the variable is read deep inside the commands that load libtorch.</summary>
public sealed class ThreadCountException(string message) : ArgumentException(message);
