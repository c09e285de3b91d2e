namespace Distill.Native;

/// <summary>Outcome of <see cref="OneDnnIsa.Decide(CpuFacts, string?, string?)"/>: the ISA to cap oneDNN at (null: leave oneDNN alone) and a
/// sentence for users (printed by <c>distill doctor</c>, recorded in run manifests).</summary>
public sealed record OneDnnIsaDecision(string? Cap, string Reason);

/// <summary>
/// On AMD CPUs with AVX-512 (measured on a Zen 5 EPYC, issue 12) conv training at 2 torch threads gives NaN at a
/// different step each run, and runs are not bit-identical; the same runs with <c>ONEDNN_MAX_CPU_ISA=AVX2</c> or one
/// thread are identical. So the fault is in the AVX-512 convolution kernels of the oneDNN inside libtorch_cpu.so.
/// This caps oneDNN at AVX2 on such CPUs. oneDNN picks kernels by ISA feature bits, not by CPU model, so Zen 4 (same
/// avx512_core/vnni/bf16 bits) would run the same kernels and is capped too.
/// <para>How: libtorch does not export oneDNN's <c>dnnl_set_max_cpu_isa</c> (its oneDNN symbols are hidden), so this
/// sets <c>ONEDNN_MAX_CPU_ISA</c> in the C environment. oneDNN reads it with getenv once, at its first ISA query (the
/// first primitive), so it must be set before the first convolution; <see cref="TorchRuntime.Initialize"/> does it
/// before it touches torch.</para>
/// <para>Control: <c>DISTILL_ONEDNN_CAP</c> unset or <c>auto</c> decides from the CPU; <c>off</c> (or 0/false/no)
/// leaves oneDNN alone; an ISA name (SSE41, AVX, AVX2, AVX512_CORE, ...) caps at it on any CPU. A user's own
/// <c>ONEDNN_MAX_CPU_ISA</c>/<c>DNNL_MAX_CPU_ISA</c> always wins.</para>
/// </summary>
public static class OneDnnIsa
{
    public const string Variable = "ONEDNN_MAX_CPU_ISA";
    /// <summary>oneDNN's older spelling; it reads ONEDNN_ first, then DNNL_.</summary>
    public const string LegacyVariable = "DNNL_MAX_CPU_ISA";
    public const string ControlVariable = "DISTILL_ONEDNN_CAP";
    public const string SafeIsa = "AVX2";
    /// <summary>Set beside the cap to the ISA this process capped at. A child distill process (reproduce's `distill run`)
    /// inherits the cap and would take it for the user's; this tells it the cap is distill's own, so its records give
    /// the real reason.</summary>
    public const string SetByDistillVariable = "DISTILL_ONEDNN_CAP_SET";

    /// <summary>The values oneDNN's <c>ONEDNN_MAX_CPU_ISA</c> accepts (oneDNN 3.x, dnnl_cpu_isa_t).</summary>
    public static readonly IReadOnlyList<string> KnownIsas =
        ["SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI", "AVX512_CORE_BF16", "AVX512_CORE_FP16",
         "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2", "ALL", "DEFAULT"];

    /// <summary>Why <paramref name="control"/> (<see cref="ControlVariable"/>'s value) is no setting the cap knows, for
    /// `distill doctor` (auto is decided for it, and said in the status line); null for auto, off, an ISA or nothing.
    /// Doctor exited 0 on DISTILL_ONEDNN_CAP=abc, where the on/off switches beside it are counted as problems.</summary>
    public static string? ControlProblem(string? control)
    {
        var c = control?.Trim() ?? "";
        if (c.Length == 0 || NativeEnvironment.IsOff(c) || c.Equals("auto", StringComparison.OrdinalIgnoreCase) || KnownIsas.Contains(c.ToUpperInvariant())) return null;
        return $"{ControlVariable}={control} is not an ISA oneDNN knows, so the cap is decided as auto; give auto, off or one of {string.Join(", ", KnownIsas)}";
    }

    static readonly Lock Gate = new();
    static bool attempted;

    /// <summary>The cap this process set, else null (also null when the user set one).</summary>
    public static string? Cap { get; private set; }

    /// <summary>What was done and why, one line, with what happens to convolutions oneDNN would pad
    /// (<see cref="OneDnnConvGuard"/>): shown by doctor and bench, recorded in run manifests.</summary>
    public static string Status { get => status + OneDnnConvGuard.Summary; private set => status = value; }

    static string status = "not attempted (TorchRuntime.Initialize() not called yet)";

    /// <summary>Pure decision from CPU facts, the user's own <c>ONEDNN_MAX_CPU_ISA</c> (or <c>DNNL_MAX_CPU_ISA</c>)
    /// and <c>DISTILL_ONEDNN_CAP</c>; nulls mean unset.</summary>
    public static OneDnnIsaDecision Decide(CpuFacts cpu, string? userIsa, string? control)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (!string.IsNullOrWhiteSpace(userIsa))
            return new(null, $"user's choice: {Variable}={userIsa.Trim()} (left as set)");
        var c = control?.Trim() ?? "";
        if (NativeEnvironment.IsOff(c))
            return new(null, $"off: {ControlVariable}={control} (oneDNN uses every ISA the CPU has)");
        if (c.Length > 0 && !c.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            if (KnownIsas.Contains(c.ToUpperInvariant())) return new(c.ToUpperInvariant(), $"forced by {ControlVariable}={control}");
            // oneDNN ignores a value it does not know and uses every ISA, which on the CPUs the cap is for brings the
            // NaN back: a typo must not turn the cap off, so decide as "auto" would and say why.
            var auto = Decide(cpu, null, null);
            return auto with { Reason = $"{ControlVariable}={control} ignored (not an ISA oneDNN knows; give auto, off or one of " +
                                        $"{string.Join(", ", KnownIsas)}); {auto.Reason}" };
        }
        if (!cpu.LinuxX64)
            return new(null, "not needed/implemented here: the cap is for Linux x86-64");
        if (cpu.Vendor != "AuthenticAMD" || !cpu.HasAvx512Path)
            return new(null, cpu.Vendor == "AuthenticAMD"
                ? "not needed: AMD CPU without AVX-512, oneDNN's AVX-512 convolutions never run"
                : $"not needed: '{cpu.Vendor}' CPU (the NaN was seen on AMD with AVX-512 only)");
        return new(SafeIsa, "AMD CPU with AVX-512: its oneDNN AVX-512 convolutions gave NaN and " +
                            "non-reproducible runs at 2 threads (issue 12)");
    }

    /// <summary><see cref="Decide(CpuFacts, string?, string?)"/> in a process whose <c>ONEDNN_MAX_CPU_ISA</c> may have come
    /// from a parent distill process: when it is the value that parent set (<paramref name="setByDistill"/>, from
    /// <see cref="SetByDistillVariable"/>) and the one this process would set itself, the decision and its reason are
    /// distill's, not "user's choice". A value the user changed since is theirs.</summary>
    public static OneDnnIsaDecision Decide(CpuFacts cpu, string? userIsa, string? control, string? setByDistill)
    {
        if (!string.IsNullOrWhiteSpace(userIsa) && !string.IsNullOrWhiteSpace(setByDistill)
            && string.Equals(userIsa.Trim(), setByDistill.Trim(), StringComparison.OrdinalIgnoreCase)
            && Decide(cpu, null, control) is { Cap: { } cap } own && string.Equals(cap, userIsa.Trim(), StringComparison.OrdinalIgnoreCase))
            return own;
        return Decide(cpu, userIsa, control);
    }

    /// <summary>Idempotent; called by <see cref="TorchRuntime.Initialize"/> before the first use of torch. Never
    /// throws: on any failure oneDNN keeps its own choice and <see cref="Status"/> says why.</summary>
    /// <param name="libtorchLoadedBefore">Whether libtorch was mapped before distill's own start-up loaded it (null: look
    /// now). Initialize maps the patched natives itself just before this, which runs no oneDNN primitive; looking here
    /// then warned "libtorch was loaded first" in every kernel notebook, where the cap held.</param>
    public static void ApplyIfNeeded(bool? libtorchLoadedBefore = null)
    {
        lock (Gate)
        {
            if (attempted) return;
            attempted = true;
            var user = Environment.GetEnvironmentVariable(Variable);
            if (string.IsNullOrWhiteSpace(user)) user = Environment.GetEnvironmentVariable(LegacyVariable);
            var d = Decide(CpuFacts.Detect(), user, Environment.GetEnvironmentVariable(ControlVariable), Environment.GetEnvironmentVariable(SetByDistillVariable));
            if (d.Cap is null) { Status = d.Reason; return; }
            // If libtorch is already mapped, a convolution may already have fixed oneDNN's ISA; say so rather than guess.
            var late = (libtorchLoadedBefore ?? (OperatingSystem.IsLinux() && Dl.IsLoaded("libtorch_cpu.so"))) ? " (libtorch was loaded first: holds only if no oneDNN primitive ran yet)" : "";
            NativeEnvironment.SetDefault(Variable, d.Cap);
            NativeEnvironment.SetDefault(LegacyVariable, d.Cap);
            // Only the .NET environment: child processes inherit it; no native library reads this one.
            Environment.SetEnvironmentVariable(SetByDistillVariable, d.Cap);
            Cap = d.Cap;
            Status = $"{Variable}={d.Cap}: {d.Reason}{late}; {ControlVariable}=off turns it off";
        }
    }
}
