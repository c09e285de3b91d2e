using static TorchSharp.torch;

namespace Distill.Training;

/// <summary>
/// Batched, on-device augmentation of uint8 images [B, C, H, W]: random crop after zero padding and random horizontal
/// flip, the standard CIFAR recipe (He et al. 2016, §4.2: "4 pixels are padded on each side, and a 32×32 crop is randomly
/// sampled from the padded image or its horizontal flip"). Random draws come from the trainer's seeded generator on
/// the CPU (so runs repeat on any device); the pixel work is whole-tensor gathers on the images' device.
/// </summary>
public sealed record Augmentation(int CropPadding = 0, bool HorizontalFlip = false)
{
    public static Augmentation None { get; } = new();

    /// <summary>Pad 4, random 32×32 crop, random horizontal flip.</summary>
    public static Augmentation Cifar { get; } = new(4, true);

    public bool Enabled => CropPadding > 0 || HorizontalFlip;

    /// <summary>A new augmented batch; <paramref name="images"/> is left untouched.</summary>
    public Tensor Apply(Tensor images, Generator generator)
    {
        if (!Enabled) return images.alias();
        using var scope = NewDisposeScope();
        var (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3]);
        var x = images;
        if (CropPadding > 0)
        {
            var p = CropPadding;
            var padded = nn.functional.pad(x, [p, p, p, p]);
            // Per-sample offsets in [0, 2p]; rows[b, i] = dy[b] + i and cols[b, j] = dx[b] + j, gathered in two passes.
            var offsets = randint(0, 2 * p + 1, [2, b], dtype: ScalarType.Int64, generator: generator).to(x.device);
            var rows = offsets[0].view(b, 1, 1, 1) + arange(h, device: x.device).view(1, 1, h, 1);
            var cols = offsets[1].view(b, 1, 1, 1) + arange(w, device: x.device).view(1, 1, 1, w);
            var byRow = padded.gather(2, rows.expand(b, c, h, w + 2 * p));
            x = byRow.gather(3, cols.expand(b, c, h, w));
        }
        if (HorizontalFlip)
        {
            var flip = (rand([b], generator: generator) < 0.5).to(x.device).view(b, 1, 1, 1);
            x = where(flip, x.flip(3), x);
        }
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>As `--augment` and a spec's `augment:` spell it ("none", "crop-flip"; "crop-N", "flip" or "crop-N-flip"
    /// for what they cannot ask for): run.json records this, where the record's own text showed .NET's.</summary>
    public override string ToString() => (CropPadding, HorizontalFlip) switch
    {
        (0, false) => "none",
        (4, true) => "crop-flip",
        (0, true) => "flip",
        (var p, var flip) => $"crop-{p}{(flip ? "-flip" : "")}",
    };

    /// <summary>The spelling above for a run.json written before it, which held the record's .NET text
    /// ("Augmentation { CropPadding = 4, HorizontalFlip = True, Enabled = True }"); other text is returned as it is.</summary>
    public static string Respell(string recorded)
    {
        var m = System.Text.RegularExpressions.Regex.Match(recorded, @"^Augmentation \{ CropPadding = (\d+), HorizontalFlip = (True|False)(, Enabled = (True|False))? \}$");
        return m.Success ? new Augmentation(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value == "True").ToString() : recorded;
    }
}
