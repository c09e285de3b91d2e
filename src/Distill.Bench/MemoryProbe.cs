using Distill.Losses;
using Distill.Models;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Bench;

/// <summary>RSS after each epoch of a small run, and tensors left alive between epochs.</summary>
/// <param name="RssMbPerEpoch">Resident set size after each epoch (after a full GC and a heap trim), MB.</param>
/// <param name="GrowthPct">RSS growth from epoch 2 to the last epoch, percent (target: below 5).</param>
/// <param name="LeakedTensors">Live tensors after the last epoch minus after epoch 2 (target: 0).</param>
public sealed record MemoryResult(IReadOnlyList<double> RssMbPerEpoch, double GrowthPct, long LeakedTensors);

public static class MemoryProbe
{
    /// <summary>One <see cref="Trainer.Train"/> run of <paramref name="epochs"/> epochs of an MLP 784-256-10 on the first
    /// <paramref name="samples"/> Fashion-MNIST training images (seeded random images when it is not installed), batch
    /// 128; RSS and live tensors are read after every epoch (after a full GC and a native heap trim). A cancelled
    /// <paramref name="stop"/> ends it at the next step (<see cref="OperationCanceledException"/>).</summary>
    public static MemoryResult Run(int epochs = 20, int samples = 4096, CancellationToken stop = default)
    {
        if (epochs < 3) throw new ArgumentOutOfRangeException(nameof(epochs), "Needs at least 3 epochs (growth is measured from epoch 2).");
        using var data = new BenchData();
        using var head = BenchData.Head(data.Fashion, samples, 512);
        manual_seed(5);
        using var model = ModelZoo.Create("mlp-256", 1, 10);
        var rss = new List<double>();
        long liveAfter2 = 0, liveLast = 0;
        Trainer.Train(model, head, new Objective().Add(new CrossEntropyTerm()), new TrainOptions
        {
            Name = "memory", Epochs = epochs, BatchSize = StandardCases.Batch, Device = "cpu", Progress = false, Cancellation = stop,
            OnEpochEnd = m =>
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                TrimNativeHeap();
                rss.Add(Environment.WorkingSet / 1048576.0);
                liveLast = Tensor.TotalCount;
                if (m.Epoch == 2) liveAfter2 = liveLast;
            },
        });
        return new MemoryResult(rss, (rss[^1] - rss[1]) / rss[1] * 100, liveLast - liveAfter2);
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
}
