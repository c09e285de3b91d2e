using Distill.Data;
using static TorchSharp.torch;

namespace Distill.Bench;

/// <summary>RSS after each epoch of a small run, and tensors left alive between epochs.</summary>
/// <param name="RssMbPerEpoch">Resident set size after each epoch (after a full GC), MB.</param>
/// <param name="GrowthPct">RSS growth from epoch 2 to the last epoch, percent (target: below 5).</param>
/// <param name="LeakedTensors">Live tensors after the last epoch minus after epoch 2 (target: 0).</param>
public sealed record MemoryResult(IReadOnlyList<double> RssMbPerEpoch, double GrowthPct, long LeakedTensors);

public static class MemoryProbe
{
    /// <summary>Trains an MLP 784-256-10 for <paramref name="epochs"/> epochs on the first <paramref name="samples"/>
    /// Fashion-MNIST training images (seeded random images when the dataset is absent), batch 128.</summary>
    /// <param name="epoch">One epoch over the given split; defaults to a raw TorchSharp loop.</param>
    public static MemoryResult Run(int epochs = 20, int samples = 4096, Action<Split>? epoch = null)
    {
        if (epochs < 3) throw new ArgumentOutOfRangeException(nameof(epochs), "Needs at least 3 epochs (growth is measured from epoch 2).");
        using var split = Data(samples);
        epoch ??= RawEpoch();
        var rss = new List<double>();
        long liveAfter2 = 0;
        for (int e = 1; e <= epochs; e++)
        {
            epoch(split);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            TrimNativeHeap();
            rss.Add(Environment.WorkingSet / 1048576.0);
            if (e == 2) liveAfter2 = Tensor.TotalCount;
        }
        return new MemoryResult(rss, (rss[^1] - rss[1]) / rss[1] * 100, Tensor.TotalCount - liveAfter2);
    }

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);

    /// <summary>glibc keeps freed memory mapped (TorchSharp #1466); trimming makes RSS follow live memory, so memory
    /// freed by earlier work cannot hide growth.</summary>
    static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { _ = MallocTrim(0); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    static Split Data(int samples)
    {
        if (StandardCases.FashionMnistAvailable())
        {
            using var ds = Datasets.FashionMnist();
            using var idx = arange(samples);
            var s = ds.Train.Select(idx);
            using var raw = s.Images;
            return new Split(ds.Normalize(raw).flatten(1), s.Labels);
        }
        var g = new Generator(4);
        return new Split(randn([samples, 784], generator: g), randint(10, [samples], generator: g));
    }

    /// <summary>The raw loop: model, SGD, new permutation per epoch, a dispose scope per step.</summary>
    static Action<Split> RawEpoch()
    {
        manual_seed(5);
        var model = StandardCases.Mlp([784, 256, 10]);
        var opt = optim.SGD(model.parameters(), 0.01, momentum: 0.9);
        var g = new Generator(6);
        return split =>
        {
            using var scope = NewDisposeScope();
            var perm = randperm(split.Count, generator: g);
            for (long start = 0; start < split.Count; start += StandardCases.Batch)
            {
                using var step = NewDisposeScope();
                var idx = perm.narrow(0, start, Math.Min(StandardCases.Batch, split.Count - start));
                opt.zero_grad();
                nn.functional.cross_entropy(model.call(split.Images.index_select(0, idx)), split.Labels.index_select(0, idx)).backward();
                opt.step();
            }
        };
    }
}
