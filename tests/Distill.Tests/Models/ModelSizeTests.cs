using System.Diagnostics;
using System.Runtime.InteropServices;
using Distill.Data;
using Distill.Losses;
using Distill.Models;
using Distill.Native;
using Distill.Tests.Training;
using Distill.Training;

namespace Distill.Tests.Models;

/// <summary>A model's size is known from its name before it is built: a model too large to train is refused without
/// allocating (an mlp-3000000 once grew to the machine's 24 GB until the kernel killed it), and libtorch's own
/// allocation failure becomes an error naming the model.</summary>
public class ModelSizeTests
{
    public ModelSizeTests() => TorchRuntime.Initialize();

    /// <summary>Small models of every family, at the inputs the datasets have (and a side that 4 does not divide, where
    /// SmallCnn's pooling truncates): name, channels, classes, image side.</summary>
    public static TheoryData<string, int, int, int> Zoo()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var name in ModelZoo.Examples.Concat(["mlp-7-5-3", "mlp-1", "cnn-1", "cnn-4", "resnet8x4", "wrn-10-1", "wrn-10-3", "wrn-22-1"]).Distinct())
        {
            data.Add(name, 1, 10, 28);
            data.Add(name, 3, 100, 32);
        }
        foreach (var name in new[] { "mlp-9", "cnn-5", "resnet14", "wrn-16-1" })
            data.Add(name, 2, 7, 30);
        return data;
    }

    [Theory]
    [MemberData(nameof(Zoo))]
    public void Parameter_count_from_the_name_is_the_built_models(string name, int channels, int classes, int side)
    {
        var options = new ModelOptions { ImageSize = side };
        using var model = ModelZoo.Create(name, channels, classes, options);
        Assert.Equal(model.parameters().Sum(p => p.numel()), ModelZoo.ParameterCount(name, channels, classes, options));
    }

    [Theory]
    [InlineData("mlp-3000000", "2,385,000,010", "width (e.g. mlp-1200-1200")] // the tester's: OOM-killed after 3 minutes
    [InlineData("mlp-99999999", "79,499,999,215", "width")]                   // libtorch: "you tried to allocate 313599996864 bytes"
    [InlineData("MLP-800-2147483647-2147483647", "4,611,687,757,889,769,983", "width")]
    [InlineData("cnn-99999", "8,109,848,300,716", "width (e.g. cnn-32")]
    [InlineData("cnn-2147483647", "", "width")]
    [InlineData("wrn-16-100000", "", "depth or widen factor")]
    [InlineData("resnet2000000000", "", "depth")]
    public void A_model_too_large_is_refused_before_anything_is_allocated(string name, string count, string smaller)
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<ModelTooLargeException>(() => ModelZoo.Create(name, 1, 10));
        // Building (or only zero-filling) a billion floats takes seconds; refusing takes no time.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"{clock.Elapsed}");
        Assert.StartsWith($"Model '{name}' has {count}", e.Message, StringComparison.Ordinal);
        Assert.Contains(" parameters for 1-channel input and 10 classes; training it needs about ", e.Message, StringComparison.Ordinal);
        Assert.Contains("(16 bytes a parameter: float32 weights, gradients and two optimizer moments), but ", e.Message, StringComparison.Ordinal);
        Assert.Contains(" of memory is available, and the zoo allows at most 1,000,000,000 parameters.", e.Message, StringComparison.Ordinal);
        Assert.Contains($"Choose a smaller {smaller}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_model_over_the_memory_given_is_refused_with_the_memory_it_needs_and_the_memory_there_is()
    {
        // mlp-800-800 for 28x28 grey images: 784·800 + 800 + 800·800 + 800 + 800·10 + 10 = 1,276,810 parameters, 20.4 MB to train.
        Assert.Equal(1_276_810, ModelZoo.CheckFits("mlp-800-800", 1, 10, null, 21_000_000));
        var e = Assert.Throws<ModelTooLargeException>(() => ModelZoo.CheckFits("mlp-800-800", 1, 10, null, 20_000_000));
        Assert.Equal("Model 'mlp-800-800' has 1,276,810 parameters for 1-channel input and 10 classes; training it needs about 20 MB " +
                     "(16 bytes a parameter: float32 weights, gradients and two optimizer moments), but 20 MB of memory is available. " +
                     "Choose a smaller width (e.g. mlp-1200-1200, mlp-800-800).", e.Message);
        // Over the cap with memory to spare (a spec, checked for any machine): the cap alone is named.
        e = Assert.Throws<ModelTooLargeException>(() => ModelZoo.CheckFits("wrn-16-1000", 3, 100, null, long.MaxValue));
        Assert.Contains("and the zoo allows at most 1,000,000,000 parameters, whatever the memory. Choose a smaller depth or widen factor", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_name_is_the_same_error_as_before_sizes_were_counted()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.ParameterCount("mlp-0", 1, 10));
        Assert.Contains("'0' is not a positive size", e.Message, StringComparison.Ordinal);
        Assert.Contains("'000' is not a positive size", Assert.Throws<ArgumentException>(() => ModelZoo.ParameterCount("cnn-000", 1, 10)).Message, StringComparison.Ordinal);
        // Digits past int's range: too large, not "not positive".
        Assert.Contains("'99999999999' is too large a size", Assert.Throws<ArgumentException>(() => ModelZoo.ParameterCount("cnn-99999999999", 1, 10)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ModelZoo.ParameterCount("resnet9", 3, 10));
        Assert.IsNotType<ModelTooLargeException>(Assert.Throws<ArgumentException>(() => ModelZoo.ParameterCount("nope", 1, 10)));
    }

    [Fact]
    public void Available_memory_is_read_from_the_machine()
    {
        var available = ModelMemory.AvailableBytes();
        Assert.InRange(available, 1L, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
    }

    /// <summary>libtorch's "[enforce fail at alloc_cpu.cpp:127] ... you tried to allocate N bytes" in the middle of
    /// training (activations, not weights: the size check cannot see them) names the model and what to do.</summary>
    [Fact]
    public void A_libtorch_allocation_failure_in_training_names_the_model()
    {
        using var model = Build.Mlp(0, width: 16);
        using var data = TinyData.FashionMnist2k.Subset(train: 64, test: 32, seed: 0);
        var objective = new Objective().Add(new AllocationFailureTerm());
        var e = Assert.Throws<ModelTooLargeException>(() => Trainer.Train(model, data, objective, new TrainOptions { Epochs = 1, BatchSize = 32, Log = TextWriter.Null }));
        Assert.StartsWith("Out of memory training 'mlp-16' (12,730 parameters, batch size 32): libtorch could not allocate 313.6 GB, with ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith(" available. Choose a smaller model (a smaller width or depth) or a smaller --batch-size.", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<ExternalException>(e.InnerException);
    }

    sealed class AllocationFailureTerm : ILossTerm
    {
        public string Name => "alloc";
        public bool NeedsTeacher => false;
#pragma warning disable CA2201 // the type TorchSharp throws for a libtorch error
        public TorchSharp.torch.Tensor Compute(StepContext ctx) =>
            throw new ExternalException("[enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: not enough memory: you tried to allocate 313599996864 bytes.");
#pragma warning restore CA2201
    }
}
