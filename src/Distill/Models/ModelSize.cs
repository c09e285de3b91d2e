using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Distill.Models;

/// <summary>A zoo model too large to train here: refused before it is built (<see cref="ModelZoo.CheckFits(string, int, int, ModelOptions?, long)"/>), or
/// libtorch failed to allocate it or its training. An <see cref="ArgumentException"/>: the CLI reports it as it reports
/// other bad options (one line, exit code 1), and a spec names the key and line.</summary>
public sealed class ModelTooLargeException(string message, Exception? inner = null) : ArgumentException(message, inner);

public static partial class ModelZoo
{
    /// <summary>The most parameters a zoo model may have, whatever the machine: 10^9 (16 GB to train at
    /// <see cref="ModelMemory.TrainingBytesPerParameter"/>, 25 times the largest model of the papers, WRN-28-10's 36.5
    /// million). A spec is checked against it (it may run on another machine); a model built here also against the
    /// memory available.</summary>
    public const long MaxParameters = 1_000_000_000;

    /// <summary>The number of parameters (<c>parameters().Sum(numel)</c>) the named model has for this input,
    /// computed from the name without building it (nothing is allocated). Batch-norm running statistics are buffers,
    /// not parameters, and are not counted (2 values a channel). Saturates at <see cref="long.MaxValue"/>.</summary>
    /// <exception cref="ArgumentException">Unknown name, or a depth the family does not have.</exception>
    public static long ParameterCount(string name, int inChannels, int numClasses, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        // Int128: widths and the image side are ints, so no product of three of them or sum of such overflows it.
        static Int128 Linear(Int128 inputs, Int128 outputs) => inputs * outputs + outputs;
        static Int128 Conv(Int128 inputs, Int128 outputs, int kernel) => inputs * outputs * kernel * kernel; // no bias
        static Int128 Norm(Int128 channels) => 2 * channels; // batch norm's scale and shift
        Int128 count;
        var arch = ParseName(name);
        // The options a family refuses are refused here too, as Create refuses them: a caller sizing a student before its
        // teacher trains (a spec's load check) learns of a ResNet's dropout then, not after the teacher trained.
        if (options is not null && arch is not Architecture.Mlp) RejectMlpOnly(options, name);
        if (options is not null && arch is Architecture.ResNet) RejectDropout(options, name);
        if (options?.Dropout is { } dropout && !(dropout is >= 0 and < 1))
            throw new ArgumentException($"Model '{name}': dropout is a probability in [0, 1), not {dropout.ToString(CultureInfo.InvariantCulture)} (at 1 every activation is dropped); give a value from 0 to below 1.");
        switch (arch)
        {
            case Architecture.Mlp mlp:
            {
                // Mlp: Linear(C·H·W, w1), Linear(w1, w2), ..., Linear(wn, classes).
                var side = (Int128)ImageSide(options ?? new ModelOptions(), inChannels, name);
                Int128 previous = inChannels * side * side;
                count = 0;
                foreach (var w in mlp.Widths) { count += Linear(previous, w); previous = w; }
                count += Linear(previous, numClasses);
                break;
            }
            case Architecture.Cnn cnn:
            {
                // SmallCnn: conv(w)-BN, conv(w)-BN, pool, conv(2w)-BN, pool, fc(2w·(H/4)·(W/4) → 8w), fc(8w → classes).
                Int128 w = cnn.Width;
                var quarter = (Int128)(ImageSide(options ?? new ModelOptions(), inChannels, name) / 4);
                count = Conv(inChannels, w, 3) + Norm(w) + Conv(w, w, 3) + Norm(w) + Conv(w, 2 * w, 3) + Norm(2 * w)
                        + Linear(2 * w * quarter * quarter, 8 * w) + Linear(8 * w, numClasses);
                break;
            }
            case Architecture.ResNet res:
            {
                // CifarResNet: conv3x3-BN stem, three groups of n basic blocks (conv3x3-BN-conv3x3-BN, a 1x1 conv-BN
                // shortcut in the first block of a group whose width or stride changes), fc.
                var n = (res.Depth - 2) / 6;
                var w = res.Widths;
                Int128 Block(Int128 inputs, Int128 planes, bool shortcut) =>
                    Conv(inputs, planes, 3) + Norm(planes) + Conv(planes, planes, 3) + Norm(planes) + (shortcut ? Conv(inputs, planes, 1) + Norm(planes) : 0);
                Int128 Group(int inputs, int planes, int stride) => Block(inputs, planes, stride != 1 || inputs != planes) + (n - 1) * Block(planes, planes, false);
                count = Conv(inChannels, w[0], 3) + Norm(w[0]) + Group(w[0], w[1], 1) + Group(w[1], w[2], 2) + Group(w[2], w[3], 2) + Linear(w[3], numClasses);
                break;
            }
            case Architecture.Wrn wrn:
            {
                // WideResNet: conv3x3 stem of 16, three groups of n pre-activation blocks (BN-conv3x3-BN-conv3x3, a 1x1
                // conv shortcut where the width changes) of width 16k, 32k, 64k, BN, fc.
                var n = (wrn.Depth - 4) / 6;
                Int128 k = wrn.WidenFactor;
                Int128 Block(Int128 inputs, Int128 planes) =>
                    Norm(inputs) + Conv(inputs, planes, 3) + Norm(planes) + Conv(planes, planes, 3) + (inputs != planes ? Conv(inputs, planes, 1) : 0);
                Int128 Group(Int128 inputs, Int128 planes) => Block(inputs, planes) + (n - 1) * Block(planes, planes);
                count = Conv(inChannels, 16, 3) + Group(16, 16 * k) + Group(16 * k, 32 * k) + Group(32 * k, 64 * k) + Norm(64 * k) + Linear(64 * k, numClasses);
                break;
            }
            default:
                throw new System.Diagnostics.UnreachableException();
        }
        return count > long.MaxValue ? long.MaxValue : (long)count;
    }

    /// <summary>Refuses, without building it, a model over <see cref="MaxParameters"/> or whose training needs more than
    /// <paramref name="memoryBytes"/> (<see cref="ModelMemory.TrainingBytes"/>); returns its parameter count.
    /// <see cref="Create"/> calls it with <see cref="ModelMemory.AvailableBytes"/>; pass <see cref="long.MaxValue"/> to
    /// check the cap alone (a spec that may run on another machine).</summary>
    /// <exception cref="ModelTooLargeException">The model is too large; the message names it, its parameter count, the
    /// memory it needs and the memory there is, and what to do.</exception>
    public static long CheckFits(string name, int inChannels, int numClasses, ModelOptions? options, long memoryBytes)
    {
        var count = ParameterCount(name, inChannels, numClasses, options);
        var need = ModelMemory.TrainingBytes(count);
        if (count <= MaxParameters && need <= memoryBytes) return count;
        var cap = string.Create(CultureInfo.InvariantCulture, $"the zoo allows at most {MaxParameters:N0} parameters");
        var why = need > memoryBytes
            ? $"but {ModelMemory.Format(memoryBytes)} of memory is available{(count > MaxParameters ? $", and {cap}" : "")}"
            : $"and {cap}, whatever the memory";
        // ParameterCount saturates at long.MaxValue: past it, the count is not a number to print.
        var has = count == long.MaxValue ? string.Create(CultureInfo.InvariantCulture, $"has more than {long.MaxValue:N0} parameters")
            : string.Create(CultureInfo.InvariantCulture, $"has {count:N0} parameters");
        throw new ModelTooLargeException(string.Create(CultureInfo.InvariantCulture, $"Model '{name}' {has} for {inChannels}-channel input and {numClasses} classes; " +
                                         $"training it needs about {ModelMemory.Format(need)} ({ModelMemory.Basis}), {why}. " +
                                         $"Choose a smaller {SmallerWhat(ParseName(name))}."));
    }

    /// <summary><see cref="CheckFits(string, int, int, ModelOptions?, long)"/> for the images of
    /// <paramref name="data"/> and the memory available now: a caller that trains a teacher first sizes the student
    /// before it, rather than have Create refuse the student after the teacher trained.</summary>
    public static long CheckFits(string name, Data.ImageDataset data) =>
        CheckFits(name, data.Channels, data.NumClasses, new ModelOptions { ImageSize = data.Height }, ModelMemory.AvailableBytes());

    private static string SmallerWhat(Architecture arch) => arch switch
    {
        Architecture.Mlp => "width (e.g. mlp-1200-1200, mlp-800-800)",
        Architecture.Cnn => "width (e.g. cnn-32, the default cnn, or cnn-16)",
        Architecture.ResNet => "depth (e.g. resnet32, resnet110)",
        _ => "depth or widen factor (e.g. wrn-40-2, wrn-28-4)",
    };
}

/// <summary>How much memory training a model takes, and how much this machine has.</summary>
public static partial class ModelMemory
{
    /// <summary>Bytes per parameter to train a float32 model: 4 for the weights, 4 for their gradients and 8 for the
    /// optimizer's state (Adam keeps two moments; SGD with momentum one buffer, so this bounds it too). Activations
    /// come on top, in proportion to the batch size; libtorch failing to allocate them is reported by
    /// <see cref="OutOfMemory"/>.</summary>
    public const int TrainingBytesPerParameter = 16;

    /// <summary>The basis of <see cref="TrainingBytes"/>, in words for error messages.</summary>
    public const string Basis = "16 bytes a parameter: float32 weights, gradients and two optimizer moments";

    /// <summary>The memory training a model of <paramref name="parameters"/> parameters needs (saturating).</summary>
    public static long TrainingBytes(long parameters) =>
        parameters > long.MaxValue / TrainingBytesPerParameter ? long.MaxValue : parameters * TrainingBytesPerParameter;

    /// <summary>The memory a model may still take: on Linux the kernel's MemAvailable (/proc/meminfo; free memory plus
    /// the caches it can drop), capped by the limit .NET sees (a container's cgroup limit, where MemAvailable shows the
    /// host's); elsewhere that limit (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, total rather than free).</summary>
    public static long AvailableBytes()
    {
        var limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return MemAvailable() is long available ? Math.Min(available, limit) : limit;
    }

    static long? MemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (MemAvailableLine().Match(line) is { Success: true } m
                    && long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
                    return kb * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>Whether libtorch failed for want of memory: "DefaultCPUAllocator: not enough memory: you tried to allocate
    /// N bytes" (CPU) or "CUDA out of memory" (GPU).</summary>
    public static bool IsAllocationFailure(ExternalException e) =>
        e.Message.Contains("you tried to allocate", StringComparison.Ordinal) || e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    /// <summary>The error for libtorch's allocation failure while <paramref name="doing"/> ("training 'mlp-...'"): what
    /// it tried to allocate, the memory available, and what to do.</summary>
    public static ModelTooLargeException OutOfMemory(string doing, ExternalException e)
    {
        var asked = TriedToAllocate().Match(e.Message) is { Success: true } m
                    && long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
            ? $"libtorch could not allocate {Format(bytes)}"
            : $"libtorch ran out of memory ({e.Message.Split('\n')[0].Trim()})";
        return new ModelTooLargeException($"Out of memory {doing}: {asked}, with {Format(AvailableBytes())} available. " +
                                          "Choose a smaller model (a smaller width or depth) or a smaller --batch-size.", e);
    }

    /// <summary>"9.5 GB", "512 MB" (decimal units: 1 GB = 10^9 bytes).</summary>
    public static string Format(long bytes) =>
        bytes == long.MaxValue ? "more than 9 EB"
        : bytes >= 1_000_000_000_000 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e12:N1} TB")
        : bytes >= 1_000_000_000 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:N1} GB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:N0} MB");

    [GeneratedRegex(@"^MemAvailable:\s+(\d+) kB")]
    private static partial Regex MemAvailableLine();

    [GeneratedRegex(@"you tried to allocate (\d+) bytes")]
    private static partial Regex TriedToAllocate();
}
