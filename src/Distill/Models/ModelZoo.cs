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
    /// <paramref name="numClasses"/> classes. Initialisation draws from the global generator: seed it first.</summary>
    /// <exception cref="ArgumentException">Unknown name (the message lists the known ones) or an option the family lacks.</exception>
    public static DistillModel Create(string name, int inChannels, int numClasses, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var model = CreateFamily(name, inChannels, numClasses, options);
        model.ZooName = name.Trim().ToLowerInvariant();
        Native.OneDnnConvGuard.Apply(model); // layers oneDNN would pad (a width-4 CNN) run on ATen's convolution: issue 12
        return model;
    }

    static DistillModel CreateFamily(string name, int inChannels, int numClasses, ModelOptions? options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        options ??= new ModelOptions();
        var key = name.Trim().ToLowerInvariant();

        if (MlpName().Match(key) is { Success: true } mlp)
        {
            var widths = mlp.Groups[1].Captures.Select(c => Parse(c.Value, name)).ToArray();
            var side = ImageSide(options, inChannels, name);
            return new Mlp((long)inChannels * side * side, widths, numClasses, options.Dropout ?? 0, options.InputDropout,
                           options.Jitter, options.InputNoise);
        }

        RejectMlpOnly(options, name);
        if (CnnName().Match(key) is { Success: true } cnn)
        {
            var width = cnn.Groups[1].Success ? Parse(cnn.Groups[1].Value, name) : 32;
            var side = ImageSide(options, inChannels, name);
            return new SmallCnn(inChannels, numClasses, side, side, width, options.Dropout ?? 0.3);
        }

        if (ResNetName().Match(key) is { Success: true } res)
        {
            RejectDropout(options, name);
            var depth = Parse(res.Groups[1].Value, name);
            int[] widths = res.Groups[2].Success ? [32, 64, 128, 256] : [16, 16, 32, 64];
            return new CifarResNet(depth, widths, inChannels, numClasses);
        }

        if (WrnName().Match(key) is { Success: true } wrn)
            return new WideResNet(Parse(wrn.Groups[1].Value, name), Parse(wrn.Groups[2].Value, name), inChannels, numClasses,
                                  options.Dropout ?? 0);

        throw new ArgumentException($"Unknown model '{name}'. Known models: {NamesHelp}.", nameof(name));
    }

    private static int ImageSide(ModelOptions options, int inChannels, string name) =>
        options.ImageSize ?? inChannels switch
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
        int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
            ? v
            : throw new ArgumentException($"Model '{name}': '{digits}' is not a positive size.", nameof(name));

    [GeneratedRegex(@"^mlp(?:-(\d+))+$")]
    private static partial Regex MlpName();

    [GeneratedRegex(@"^cnn(?:-(\d+))?$")]
    private static partial Regex CnnName();

    [GeneratedRegex(@"^resnet(\d+)(x4)?$")]
    private static partial Regex ResNetName();

    [GeneratedRegex(@"^wrn-(\d+)-(\d+)$")]
    private static partial Regex WrnName();
}
