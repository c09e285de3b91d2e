using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Distill.Models;

/// <summary>Options for <see cref="ModelZoo.Create"/>; each applies only to the families that have it.</summary>
public sealed record ModelOptions
{
    /// <summary>Dropout probability. Null: the family's default (cnn 0.3, everything else 0). Mlp: after each hidden
    /// layer. Wrn: between the two convolutions of each block (Zagoruyko and Komodakis 2016 use 0.3).</summary>
    public double? Dropout { get; init; }

    /// <summary>Mlp only: dropout on the input pixels (Hinton et al. 2012 use 0.2).</summary>
    public double InputDropout { get; init; }

    /// <summary>Mlp only: random shifts of up to this many pixels in training (Hinton et al. 2015 use 2).</summary>
    public int Jitter { get; init; }

    /// <summary>Mlp only: standard deviation of Gaussian noise added to the normalised input in training.</summary>
    public double InputNoise { get; init; }

    /// <summary>Side of the square input images, needed by mlp and cnn (fully connected layers see every pixel).
    /// Null: 28 for 1 channel (MNIST family), 32 for 3 channels (CIFAR).</summary>
    public int? ImageSize { get; init; }
}

/// <summary>Builds a model from its name, as the CLI and notebooks spell it.</summary>
public static partial class ModelZoo
{
    /// <summary>Names that build a model; the patterns behind them accept more (any mlp widths, cnn width, wrn depth/width).</summary>
    public static IReadOnlyList<string> Examples { get; } =
    [
        "mlp-1200-1200", "mlp-800-800", "mlp-32", "cnn", "cnn-16",
        "resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet8x4", "resnet32x4",
        "wrn-16-1", "wrn-16-2", "wrn-40-1", "wrn-40-2", "wrn-16-4", "wrn-28-4",
    ];

    /// <summary>The accepted names, in one line (for CLI help and error messages).</summary>
    public const string NamesHelp =
        "mlp-<width>[-<width>...] (e.g. mlp-1200-1200, mlp-800-800, mlp-32); cnn or cnn-<width> (default width 32); " +
        "resnet8, resnet14, resnet20, resnet32, resnet44, resnet56, resnet110 (any 6n+2 depth) and the wide resnet8x4, resnet32x4; " +
        "wrn-<depth>-<k> with depth 6n+4 (e.g. wrn-40-2, wrn-16-2, wrn-40-1, wrn-16-1)";

    /// <summary>Creates the named model for images with <paramref name="inChannels"/> channels and
    /// <paramref name="numClasses"/> classes. Initialisation draws from the global generator: seed it first.
    /// Refuses, before allocating anything, a model whose training would not fit in the memory available
    /// (<see cref="CheckFits(string, int, int, ModelOptions?, long)"/>), and turns libtorch's failure to allocate one
    /// into a <see cref="ModelTooLargeException"/> naming it.</summary>
    /// <exception cref="ArgumentException">Unknown name (the message lists the known ones) or an option the family lacks.</exception>
    /// <exception cref="ModelTooLargeException">The model is too large to train on this machine.</exception>
    public static DistillModel Create(string name, int inChannels, int numClasses, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        // Building a model loads libtorch: the runtime's set-up (the oneMKL shim above all) must come before it.
        Native.TorchRuntime.Initialize();
        var count = CheckFits(name, inChannels, numClasses, options, ModelMemory.AvailableBytes());
        DistillModel model;
        try { model = CreateFamily(name, inChannels, numClasses, options); }
        catch (System.Runtime.InteropServices.ExternalException e) when (ModelMemory.IsAllocationFailure(e))
        {
            throw ModelMemory.OutOfMemory(string.Create(CultureInfo.InvariantCulture, $"building model '{name}' ({count:N0} parameters)"), e);
        }
        model.ZooName = Canonical(name); // what records and deployment name it by: one spelling
        Native.OneDnnConvGuard.Apply(model); // layers oneDNN would pad (a width-4 CNN) run on ATen's convolution: issue 12
        return model;
    }

    /// <summary>The one spelling of a model name (" MLP-032" → "mlp-32"), so that run records, run names and cache keys
    /// name a model one way; an unknown or malformed name is the error <see cref="Create"/> gives, found without
    /// building anything (e.g. every teacher of a multi-teacher run, before the first one trains).</summary>
    public static string Canonical(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ParseName(name) switch
        {
            Architecture.Mlp m => $"mlp-{string.Join("-", m.Widths)}",
            // "cnn" and "cnn-32" build the same model; each spelling is kept as it was, only its digits normalised.
            Architecture.Cnn c => name.Trim().Equals("cnn", StringComparison.OrdinalIgnoreCase) ? "cnn" : $"cnn-{c.Width}",
            Architecture.ResNet r => $"resnet{r.Depth}{(r.Widths[0] == 32 ? "x4" : "")}",
            Architecture.Wrn w => $"wrn-{w.Depth}-{w.WidenFactor}",
            _ => throw new UnreachableException(),
        };
    }

    /// <summary>One name per model built: <see cref="Canonical"/>, except that "cnn" is "cnn-32" (the same model, which
    /// Canonical keeps as spelt for records). For refusing a model named twice: a sweep grid's values, a multi-teacher
    /// run's teachers.</summary>
    public static string Identity(string name) => ParseName(name) is Architecture.Cnn c ? $"cnn-{c.Width}" : Canonical(name);

    /// <summary>The channel width of the small CNN <paramref name="name"/> builds (cnn is 32); null for another family.</summary>
    public static int? CnnWidth(string name) => ParseName(name) is Architecture.Cnn c ? c.Width : null;

    static DistillModel CreateFamily(string name, int inChannels, int numClasses, ModelOptions? options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        options ??= new ModelOptions();
        var arch = ParseName(name);
        if (arch is not Architecture.Mlp) RejectMlpOnly(options, name);
        switch (arch)
        {
            case Architecture.Mlp mlp:
                var side = ImageSide(options, inChannels, name);
                return new Mlp((long)inChannels * side * side, mlp.Widths, numClasses, options.Dropout ?? 0, options.InputDropout,
                               options.Jitter, options.InputNoise);
            case Architecture.Cnn cnn:
                var s = ImageSide(options, inChannels, name);
                return new SmallCnn(inChannels, numClasses, s, s, cnn.Width, options.Dropout ?? 0.3);
            case Architecture.ResNet res:
                RejectDropout(options, name);
                return new CifarResNet(res.Depth, res.Widths, inChannels, numClasses);
            case Architecture.Wrn wrn:
                return new WideResNet(wrn.Depth, wrn.WidenFactor, inChannels, numClasses, options.Dropout ?? 0);
            default:
                throw new UnreachableException();
        }
    }

    /// <summary>A parsed name: the family and the sizes it sets, checked as the constructors check them.</summary>
    private abstract record Architecture
    {
        public sealed record Mlp(int[] Widths) : Architecture;
        public sealed record Cnn(int Width) : Architecture;
        public sealed record ResNet(int Depth, int[] Widths) : Architecture;
        public sealed record Wrn(int Depth, int WidenFactor) : Architecture;
    }

    private static Architecture ParseName(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        if (MlpName().Match(key) is { Success: true } mlp)
            return new Architecture.Mlp([.. mlp.Groups[1].Captures.Select(c => Parse(c.Value, name))]);
        if (CnnName().Match(key) is { Success: true } cnn)
            return new Architecture.Cnn(cnn.Groups[1].Success ? Parse(cnn.Groups[1].Value, name) : 32);
        if (ResNetName().Match(key) is { Success: true } res)
        {
            var depth = Parse(res.Groups[1].Value, name);
            if (depth < 8 || (depth - 2) % 6 != 0)
                throw new ArgumentException($"Model '{name}': CIFAR ResNet depth must be 6n + 2 with n ≥ 1 (8, 14, 20, 32, 44, 56, 110), got {depth}.");
            return new Architecture.ResNet(depth, res.Groups[2].Success ? [32, 64, 128, 256] : [16, 16, 32, 64]);
        }
        if (WrnName().Match(key) is { Success: true } wrn)
        {
            var depth = Parse(wrn.Groups[1].Value, name);
            var k = Parse(wrn.Groups[2].Value, name);
            if (depth < 10 || (depth - 4) % 6 != 0)
                throw new ArgumentException($"Model '{name}': WRN depth must be 6n + 4 with n ≥ 1 (10, 16, 22, 28, 40, ...), got {depth}.");
            return new Architecture.Wrn(depth, k);
        }
        throw new ArgumentException($"Unknown model '{name}'. Known models: {NamesHelp}.", nameof(name));
    }

    private static int ImageSide(ModelOptions options, int inChannels, string name) =>
        options.ImageSize is < 1 and var bad
            ? throw new ArgumentOutOfRangeException(nameof(options), bad, $"Model '{name}': ModelOptions.ImageSize must be at least 1 (the images' side in pixels, e.g. 28), got {bad}.")
        : options.ImageSize ?? inChannels switch
        {
            1 => 28,
            3 => 32,
            _ => throw new ArgumentException(
                $"Model '{name}' has fully connected layers that need the image size, and {inChannels}-channel input has no default: set ModelOptions.ImageSize."),
        };

    private static void RejectMlpOnly(ModelOptions o, string name)
    {
        if (o.InputDropout != 0 || o.Jitter != 0 || o.InputNoise != 0)
            throw new ArgumentException($"Model '{name}': InputDropout, Jitter and InputNoise apply only to mlp models; leave them at 0.");
    }

    private static void RejectDropout(ModelOptions o, string name)
    {
        if (o.Dropout is { } d && d != 0)
            throw new ArgumentException($"Model '{name}': CIFAR ResNets have no dropout (He et al. 2016); use a wrn-<depth>-<k> model for dropout.");
    }

    private static int Parse(string digits, string name) =>
        // The patterns' \d also matches other scripts' digits (full-width '３２'), which are no size here.
        !digits.All(char.IsAsciiDigit)
            ? throw new ArgumentException($"Model '{name}': '{digits}' is not a valid size; write sizes with the digits 0-9.", nameof(name))
        : int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
            ? v
            // Only digits reach here: past int's range the size is too large, not malformed.
            : throw new ArgumentException(v == 0 && digits.TrimStart('0').Length > 0
                ? string.Create(CultureInfo.InvariantCulture, $"Model '{name}': '{digits}' is too large a size; no model here has a layer that wide or deep (at most {int.MaxValue:N0}, and far less fits in memory).")
                : $"Model '{name}': '{digits}' is not a positive size.", nameof(name));

    [GeneratedRegex(@"^mlp(?:-(\d+))+$")]
    private static partial Regex MlpName();

    [GeneratedRegex(@"^cnn(?:-(\d+))?$")]
    private static partial Regex CnnName();

    [GeneratedRegex(@"^resnet(\d+)(x4)?$")]
    private static partial Regex ResNetName();

    [GeneratedRegex(@"^wrn-(\d+)-(\d+)$")]
    private static partial Regex WrnName();
}
