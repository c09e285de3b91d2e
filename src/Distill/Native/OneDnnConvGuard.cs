using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Native;

/// <summary>
/// Convolutions whose channels oneDNN would pad to its channel block run on ATen's own convolution instead (im2col and
/// a GEMM): oneDNN is switched off (ATen's <c>userEnabledMkldnn</c>) around their forward, so autograd records ATen's
/// kernel and its backward too. Why: with a padded channel dimension, oneDNN's convolutions gave NaN at a different
/// step each run at 2 threads, and runs were not bit-identical (issue 12; measured: <c>train --model cnn-4</c> under the
/// AVX2 cap, NaN in 1 run of 6; cnn-8 under AVX-512, whose block is 16, NaN in 2 of 3), while the layers whose channels
/// fill whole blocks gave the same weights every time. ATen's kernel is 3-7× slower, so only the padded layers take it:
/// a width-4 CNN, channel-pruned students, a hint regressor from a narrow student. Layers with 1 or 3 input channels
/// (images) use oneDNN's plain-layout first-layer kernel and are padded only if their outputs are.
/// <para>Control: <c>DISTILL_ONEDNN_PADDED</c>=<c>on</c> keeps oneDNN for every layer (to measure; not safe here).</para>
/// </summary>
public static class OneDnnConvGuard
{
    public const string ControlVariable = "DISTILL_ONEDNN_PADDED";

    /// <summary>oneDNN's channel block for f32 convolutions at the ISA it runs: 16 with AVX-512, else 8.</summary>
    public static int Block
    {
        get
        {
            var isa = (Environment.GetEnvironmentVariable(OneDnnIsa.Variable) ?? Environment.GetEnvironmentVariable(OneDnnIsa.LegacyVariable) ?? "").Trim().ToUpperInvariant();
            var capped = isa.Length > 0 && !isa.StartsWith("AVX512", StringComparison.Ordinal) && !isa.StartsWith("AVX10", StringComparison.Ordinal) && isa != "ALL";
            return !capped && CpuFacts.Detect().HasAvx512Path ? 16 : 8;
        }
    }

    /// <summary>Whether oneDNN would pad this layer's channels.</summary>
    public static bool Padded(long inChannels, long outChannels, long groups, int block) =>
        groups == 1 && (outChannels % block != 0 || (inChannels is not (1 or 3) && inChannels % block != 0));

    /// <summary>For <see cref="OneDnnIsa.Status"/>: what happens to padded convolutions in this process.</summary>
    public static string Summary =>
        !OperatingSystem.IsLinux() ? ""
        : KeepOneDnn ? $"; {ControlVariable}=on: oneDNN runs every convolution, padded ones included"
        : $"; convolutions whose channels are not whole blocks of {Block} run on ATen's kernel ({ControlVariable}=on keeps oneDNN)";

    static bool KeepOneDnn => NativeEnvironment.IsOn(Environment.GetEnvironmentVariable(ControlVariable));

    /// <summary>The padded convolutions of <paramref name="module"/> and its children.</summary>
    public static int PaddedLayers(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        int block = Block;
        return module.named_modules().Count(m => m.module is Conv2d c && Padded(c.in_channels, c.out_channels, c.groups, block));
    }

    /// <summary>Whether <paramref name="module"/> has a padded convolution and the guard is on.</summary>
    public static bool Needed(nn.Module module) =>
        OperatingSystem.IsLinux() && !KeepOneDnn && PaddedLayers(module) > 0;

    /// <summary>When <paramref name="module"/> has a padded convolution, its forward runs with oneDNN off. Returns whether
    /// it does. A backward pass chooses its kernels again when it runs, so whoever calls <c>backward()</c> through such a
    /// module holds <see cref="Off"/> around it (the trainer does). Training and evaluation run on one thread per process
    /// here (the notebook runner, the CLI), so a process-wide switch held for one forward is enough.</summary>
    public static bool Apply<TIn, TOut>(nn.Module<TIn, TOut> module)
    {
        if (!Needed(module)) return false;
        var before = new ThreadLocal<bool>();
        module.register_forward_pre_hook((m, x) =>
        {
            before.Value = AtenContext.Mkldnn;
            AtenContext.Mkldnn = false;
            return x;
        });
        module.register_forward_hook((m, x, y) =>
        {
            AtenContext.Mkldnn = before.Value;
            return y;
        });
        return true;
    }

    /// <summary>oneDNN off until disposed (then as it was): around a backward pass through a guarded module.</summary>
    public static IDisposable Off() => new Switch();

    sealed class Switch : IDisposable
    {
        readonly bool before = AtenContext.Mkldnn;

        public Switch() => AtenContext.Mkldnn = false;

        public void Dispose() => AtenContext.Mkldnn = before;
    }
}
