using Distill.Native;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Training;

public class ScheduleAndAugmentationTests
{
    public ScheduleAndAugmentationTests() => TorchRuntime.Initialize();

    [Fact]
    public void Schedules_follow_their_definitions()
    {
        // 10 steps per epoch, 100 steps in all.
        Assert.Equal(1, LrSchedule.Constant.Factor(57, 10, 100));
        Assert.Equal(1, LrSchedule.Cosine().Factor(0, 10, 100), 12);
        Assert.Equal(0.5, LrSchedule.Cosine().Factor(50, 10, 100), 12);
        Assert.Equal(0.1 + 0.9 * 0.5, LrSchedule.Cosine(0.1).Factor(50, 10, 100), 12);
        Assert.Equal(1, LrSchedule.Step(3).Factor(29, 10, 100), 12);     // epoch 2
        Assert.Equal(0.1, LrSchedule.Step(3).Factor(30, 10, 100), 12);   // epoch 3
        Assert.Equal(0.01, LrSchedule.Step(3).Factor(60, 10, 100), 12);
        var ms = LrSchedule.MultiStep([5, 8], 0.2);
        Assert.Equal(1, ms.Factor(49, 10, 100), 12);
        Assert.Equal(0.2, ms.Factor(50, 10, 100), 12);
        Assert.Equal(0.04, ms.Factor(80, 10, 100), 12);
        Assert.Equal(LrSchedule.MultiStep([150, 225], 0.1).ToString(), LrSchedule.Parse("multistep:150,225:0.1").ToString());
        Assert.Throws<ArgumentException>(() => LrSchedule.Parse("exp"));
        // A bad value quotes what was written, not the C# parameter; no FormatException for a non-number.
        // cosine:0.1 and constant:0.5 trained as plain cosine and constant, their suffix dropped without a word.
        foreach (var bad in new[] { "step:0", "step:x", "step:3:-1", "multistep:5,0", "step:3:0.1:9", "cosine:0.1", "constant:0.5" })
        {
            var e = Assert.Throws<ArgumentException>(() => LrSchedule.Parse(bad));
            Assert.StartsWith($"'{bad}': ", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("everyEpochs", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Crop_with_padding_is_a_shifted_window_and_flip_mirrors()
    {
        using var scope = NewDisposeScope();
        var images = arange(2 * 3 * 5 * 5).to(ScalarType.Byte).view(2, 3, 5, 5);
        using var g = new Generator(3);
        var crop = new Augmentation(2).Apply(images, g);
        Assert.Equal(images.shape, crop.shape);
        var padded = nn.functional.pad(images, [2, 2, 2, 2]);
        for (var b = 0; b < 2; b++)
        {
            // The crop must equal exactly one of the 25 windows of the padded image.
            var windows = Enumerable.Range(0, 25).Count(k => padded[b, .., (k / 5)..(k / 5 + 5), (k % 5)..(k % 5 + 5)].SameAs(crop[b]));
            Assert.True(windows >= 1, $"sample {b} is not a window of its padded image");
        }
        // Over many samples, offsets vary (not all the identity window).
        var many = arange(64 * 25).remainder(251).to(ScalarType.Byte).view(64, 1, 5, 5);
        Assert.False(new Augmentation(2).Apply(many, g).SameAs(many));

        var flipped = new Augmentation(0, true).Apply(many, g);
        var same = flipped.eq(many).view(64, -1).all(1);
        var mirrored = flipped.eq(many.flip(3)).view(64, -1).all(1);
        Assert.True(same.logical_or(mirrored).all().item<bool>());
        Assert.InRange(mirrored.sum().item<long>(), 16, 48);
        Assert.False(Augmentation.None.Enabled);
    }
}
