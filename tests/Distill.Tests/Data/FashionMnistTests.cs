using System.Diagnostics;
using Distill.Data;
using Distill.Native;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Distill.Tests.Data;

/// <summary>The real Fashion-MNIST files (setup.sh installs the Debian package dataset-fashion-mnist).</summary>
public class FashionMnistTests
{
    readonly ITestOutputHelper output;

    public FashionMnistTests(ITestOutputHelper output)
    {
        this.output = output;
        TorchRuntime.Initialize();
    }

    [Fact]
    public void Loads_the_real_splits_with_shapes_classes_balance_and_statistics()
    {
        using var ds = Datasets.FashionMnist();
        Assert.Equal("fashion-mnist", ds.Name);
        Assert.Equal([60000L, 1, 28, 28], ds.Train.Images.shape);
        Assert.Equal([10000L, 1, 28, 28], ds.Test.Images.shape);
        Assert.Equal(ScalarType.Byte, ds.Train.Images.dtype);
        Assert.Equal(ScalarType.Int64, ds.Train.Labels.dtype);
        Assert.Equal(10, ds.NumClasses);
        Assert.Equal("Ankle boot", ds.Classes[9]);
        // Fashion-MNIST is exactly balanced: 6,000 train and 1,000 test images per class.
        Assert.All(ds.Train.Labels.bincount(null).data<long>().ToArray(), c => Assert.Equal(6000, c));
        Assert.All(ds.Test.Labels.bincount(null).data<long>().ToArray(), c => Assert.Equal(1000, c));
        // Published train statistics: mean 0.2860, std 0.3530 (of pixels scaled to [0, 1]).
        Assert.Equal(0.2860, ds.Mean[0], 3);
        Assert.Equal(0.3530, ds.Std[0], 3);
        Assert.Equal(255, ds.Train.Images.max().item<byte>());
        // The first training image of Fashion-MNIST is an ankle boot (label 9).
        Assert.Equal(9, ds.Train.Labels[0].item<long>());
        using var x = ds.Normalize(ds.Train.Images[..1000]);
        Assert.InRange(x.mean().item<float>(), -0.1f, 0.1f);
    }

    /// <summary>A folder holding a label file both raw and gzipped: the same content loads; different content (one
    /// label changed) is refused naming both files, where the loader used to read the .gz and say nothing.</summary>
    [Fact]
    public void A_raw_idx_file_beside_its_gz_twin_must_hold_the_same_data()
    {
        using var dir = new TempDir();
        var folder = Directory.CreateDirectory(Path.Combine(dir.Path, "fashion-mnist")).FullName;
        foreach (var f in Directory.GetFiles("/usr/share/datasets/fashion-mnist")) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        var gz = Path.Combine(folder, "t10k-labels-idx1-ubyte.gz");
        var raw = gz[..^3];
        byte[] labels;
        using (var input = new System.IO.Compression.GZipStream(File.OpenRead(gz), System.IO.Compression.CompressionMode.Decompress))
        using (var copy = new MemoryStream())
        {
            input.CopyTo(copy);
            labels = copy.ToArray();
        }
        File.WriteAllBytes(raw, labels);
        using (var ds = Datasets.FashionMnist(dir.Path)) Assert.Equal(10000, ds.Test.Count);

        labels[8] = (byte)((labels[8] + 1) % 10); // the first label after the 8-byte header
        File.WriteAllBytes(raw, labels);
        var e = Assert.Throws<DatasetException>(() => Datasets.FashionMnist(dir.Path));
        Assert.Equal(raw, e.Path);
        Assert.Contains($"differs from {gz} beside it", e.Problem, StringComparison.Ordinal);
        Assert.StartsWith("keep one of the two: remove the other", e.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Parses_the_60k_train_split_in_under_a_second()
    {
        var folder = DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default)!;
        string images = DatasetCatalog.FashionMnist.Resolve(folder, IdxNames.TrainImages), labels = DatasetCatalog.FashionMnist.Resolve(folder, IdxNames.TrainLabels);
        Datasets.ReadIdxSplit(images, labels, 10).Dispose(); // warm up JIT and file cache
        TimeSpan bestWall = TimeSpan.MaxValue, bestCpu = TimeSpan.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var cpu = CpuTime.OfThisThread();
            var sw = Stopwatch.StartNew();
            using var split = Datasets.ReadIdxSplit(images, labels, 10);
            sw.Stop();
            cpu = CpuTime.OfThisThread() - cpu;
            Assert.Equal(60000, split.Count);
            if (sw.Elapsed < bestWall) bestWall = sw.Elapsed;
            if (cpu < bestCpu) bestCpu = cpu;
        }
        output.WriteLine($"parse of the 60k train split (gunzip + tensors), best of 3: {bestWall.TotalMilliseconds:F0} ms wall, {bestCpu.TotalMilliseconds:F0} ms CPU; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        // CPU time of this thread, not wall time: other builds and tests share the 2 cores.
        Assert.True(bestCpu < TimeSpan.FromSeconds(1), $"parsing the 60k train split took {bestCpu.TotalMilliseconds:F0} ms of CPU");
    }
}
