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

    /// <summary>What decides which kernels compute: the libtorch build and oneDNN's ISA cap (AVX2 and AVX-512 kernels
    /// give other rounding). Part of the cache keys of trained teachers and students, beside the thread count.</summary>
    public static string KernelIdentity =>
        $"libtorch {torch.__version__}, oneDNN ISA {OneDnnIsa.Cap ?? Environment.GetEnvironmentVariable(OneDnnIsa.Variable) ?? Environment.GetEnvironmentVariable(OneDnnIsa.LegacyVariable) ?? "all"}";

    /// <summary>What is wrong with $DISTILL_THREADS (not a positive number, or more than the cores), else null; set by
    /// <see cref="Initialize"/>, shown by `distill doctor`.</summary>
    public static string? ThreadsProblem { get; private set; }

    /// <summary>Idempotent. <paramref name="threads"/> defaults to $DISTILL_THREADS, else the number of cores.</summary>
    public static void Initialize(int? threads = null)
    {
        lock (Gate)
        {
            if (initialized) { if (threads is int t && t != TorchRuntime.threads) SetThreads(t); return; }
            PatchOwnOutputFolder();
            // Before libtorch allocates: step costs then do not depend on what the process allocated before.
            MallocThresholds.Apply();
            // Idle OpenMP workers sleep instead of spinning: on a 2-core machine shared with a build or a second test
            // process, spinning workers made training steps 10-30x slower (measured). Users can still set it themselves.
            OmpWaitPolicy = NativeEnvironment.SetDefault("OMP_WAIT_POLICY", "PASSIVE");
            // Both before libtorch loads: the shim must be mapped first to win, and the patched natives must be found
            // before TorchSharp goes looking (in the kernel, it would find the NuGet cache's unpatched copy).
            MklCpuDispatch.EnableIfSafe();
            PatchedNatives.LoadIfNeeded();
            // Before anything below runs a convolution: oneDNN reads its ISA cap once.
            OneDnnIsa.ApplyIfNeeded();
            var env = Environment.GetEnvironmentVariable("DISTILL_THREADS");
            var valid = int.TryParse(env, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var e) && e > 0;
            // A typo must not pass unseen: the thread count changes the numbers (and with more threads than cores, the speed).
            ThreadsProblem = string.IsNullOrWhiteSpace(env) || threads is not null ? null
                : !valid ? $"DISTILL_THREADS={env} is not a positive whole number, so it was ignored ({Environment.ProcessorCount} threads, one per core); set it to e.g. 2, or unset it"
                : e > Environment.ProcessorCount ? $"DISTILL_THREADS={env} is more than the {Environment.ProcessorCount} cores: threads wait for each other and every step slows down; set it to at most {Environment.ProcessorCount}"
                : null;
            SetThreads(threads ?? (valid ? e : Environment.ProcessorCount));
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

    /// <summary>"auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".</summary>
    public static torch.Device ResolveDevice(string spec = "auto")
    {
        Initialize();
        spec = spec.Trim().ToLowerInvariant();
        if (spec == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (spec.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new InvalidOperationException(
                $"--device {spec}: CUDA is not available here. Build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU, or use --device cpu.");
        if (spec != "cpu" && !spec.StartsWith("cuda", StringComparison.Ordinal))
            throw new ArgumentException($"--device {spec}: expected auto, cpu, cuda or cuda:N.");
        return new torch.Device(spec);
    }

    public static string TorchSharpVersion =>
        typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(torch).Assembly.GetName().Version?.ToString() ?? "?";

    public static string LibTorchVersion { get { Initialize(); return torch.__version__; } }
}
