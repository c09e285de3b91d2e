using Distill.Data;
using Distill.Native;

namespace Distill.Tests.Data;

/// <summary>CIFAR-10/100 binary batches, generated in the real record layout.</summary>
public class CifarTests
{
    public CifarTests() => TorchRuntime.Initialize();

    internal static void WriteCifar10(string folder, int perBatch, int nTest)
    {
        Directory.CreateDirectory(folder);
        for (int i = 1; i <= 5; i++) File.WriteAllBytes(Path.Combine(folder, $"data_batch_{i}.bin"), Gen.CifarRecords(perBatch, 1, seed: i));
        File.WriteAllBytes(Path.Combine(folder, "test_batch.bin"), Gen.CifarRecords(nTest, 1, seed: 9));
    }

    [Fact]
    public void Cifar10_concatenates_the_five_batches_in_channel_first_layout()
    {
        using var dir = new TempDir();
        WriteCifar10(Path.Combine(dir.Path, "cifar10"), 4, 3);
        using var ds = Datasets.Cifar10(DatasetSearch.Only(dir.Path));
        Assert.Equal([20L, 3, 32, 32], ds.Train.Images.shape);
        Assert.Equal([3L, 3, 32, 32], ds.Test.Images.shape);
        Assert.Equal("truck", ds.Classes[9]);
        Assert.Equal(3, ds.Mean.Length);
        // Counts are all that is published of the files: other counts are no paper's dataset, and train says so.
        Assert.Equal($"{Path.Combine(dir.Path, "cifar10")} holds 20 / 3 images where the published files hold 50,000 / 10,000: not the published dataset, so the numbers are not the paper's", ds.Warning);
        // Record 1 of batch 2 is train image 5: label byte then red, green, blue planes of 32×32.
        var record = Gen.CifarRecords(4, 1, seed: 2).AsSpan(3073, 3073).ToArray();
        Assert.Equal(record[0], ds.Train.Labels[5].item<long>());
        Assert.Equal(record[1..1025], ds.Train.Images[5, 0].contiguous().data<byte>().ToArray());
        Assert.Equal(record[2049..], ds.Train.Images[5, 2].contiguous().data<byte>().ToArray());
        // Per-channel mean of the train pixels, computed independently.
        var red = Enumerable.Range(1, 5).SelectMany(b => Gen.CifarRecords(4, 1, seed: b).Chunk(3073).SelectMany(r => r[1..1025]));
        Assert.Equal(red.Average(v => v) / 255, ds.Mean[0], 5);
    }

    [Fact]
    public void Cifar100_has_fine_and_coarse_labels_and_reads_names_from_the_tarball_files()
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar100");
        dir.Write("cifar100/train.bin", Gen.CifarRecords(120, 2, seed: 1));
        dir.Write("cifar100/test.bin", Gen.CifarRecords(20, 2, seed: 2));
        File.WriteAllLines(Path.Combine(folder, "fine_label_names.txt"), Enumerable.Range(0, 100).Select(i => $"fine{i}"));
        using var fine = Datasets.Cifar100(DatasetSearch.Only(dir.Path));
        using var coarse = Datasets.Cifar100(DatasetSearch.Only(dir.Path), coarse: true);
        Assert.Equal(100, fine.NumClasses);
        Assert.Equal("fine42", fine.Classes[42]);
        Assert.Equal(20, coarse.NumClasses);
        Assert.Equal("class 7", coarse.Classes[7]); // no coarse_label_names.txt: numbered
        Assert.Equal(119 % 100, fine.Train.Labels[119].item<long>());
        Assert.Equal(119 % 20, coarse.Train.Labels[119].item<long>());
        Assert.True(fine.Train.Images.eq(coarse.Train.Images).all().item<bool>());
    }

    /// <summary>A names file with the wrong count named classes wrongly, or silently not at all; a FIFO hung the load.</summary>
    [Fact]
    public void A_names_file_with_the_wrong_count_or_nothing_to_read_is_refused_by_name()
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar100");
        dir.Write("cifar100/train.bin", Gen.CifarRecords(12, 2, seed: 1));
        dir.Write("cifar100/test.bin", Gen.CifarRecords(4, 2, seed: 2));
        var names = Path.Combine(folder, "coarse_label_names.txt");
        File.WriteAllLines(names, Enumerable.Range(0, 19).Select(i => $"coarse{i}"));
        var e = Assert.Throws<DatasetException>(() => Datasets.Cifar100(DatasetSearch.Only(dir.Path), coarse: true));
        Assert.Equal(names, e.Path);
        Assert.Equal("holds 19 class names, one per line; CIFAR-100 has 20 coarse classes", e.Problem);
        File.Delete(names);
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [names])!) mk.WaitForExit();
        Assert.Contains("not a regular file such as a FIFO", Assert.Throws<DatasetException>(() => Datasets.Cifar100(DatasetSearch.Only(dir.Path), coarse: true)).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void File_size_not_a_whole_number_of_records_is_rejected()
    {
        using var dir = new TempDir();
        var path = dir.Write("data_batch_1.bin", Gen.CifarRecords(3, 1)[..^100]);
        var e = Assert.Throws<DatasetException>(() => Cifar.Read([path], 1));
        Assert.Equal(path, e.Path);
        Assert.Contains("size 9,119 bytes is not a whole number of 3,073-byte CIFAR-10 records (2 records and 2,973 bytes left over)", e.Problem);
        Assert.Contains("distill data install cifar10", e.Fix);
    }

    [Fact]
    public void Label_outside_the_classes_names_the_batch_file_and_record()
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar10");
        WriteCifar10(folder, 1, 1);
        var records = Gen.CifarRecords(1, 1, seed: 1);
        records[0] = 57;
        File.WriteAllBytes(Path.Combine(folder, "data_batch_3.bin"), records);
        var e = Assert.Throws<DatasetException>(() => Datasets.Cifar10(DatasetSearch.Only(dir.Path)));
        Assert.Equal(Path.Combine(folder, "data_batch_3.bin"), e.Path);
        Assert.Contains("CIFAR-10 label 57 in record 0 is outside 0..9", e.Problem);
    }

    /// <summary>No hash of the batch files is published: a zero-filled test batch of the right size passed the loader
    /// and doctor's structure check, and the test split was all black with every label 0. A file whose pixels are all
    /// one value is named; data whose pixels never vary at all cannot be normalised (std 0, NaN at step 0) and is refused
    /// where it is made.</summary>
    [Fact]
    public void A_blank_batch_is_named_by_the_loader_and_the_check()
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar10");
        WriteCifar10(folder, 2, 2);
        var test = Path.Combine(folder, "test_batch.bin");
        File.WriteAllBytes(test, new byte[2 * 3073]);
        var e = Assert.Throws<DatasetException>(() => Datasets.Cifar10(DatasetSearch.Only(dir.Path)));
        Assert.Equal((test, "every pixel of its images is 0: no real images (a zero-filled or blanked file)"), (e.Path, e.Problem));
        Assert.Contains("distill data install cifar10", e.Fix, StringComparison.Ordinal);
        Assert.Equal(test, Assert.Throws<DatasetException>(() => Cifar.Check([test], 1)).Path);
        using var flat = new Split(TorchSharp.torch.zeros(2, 1, 4, 4, dtype: TorchSharp.torch.ScalarType.Byte), TorchSharp.torch.tensor(new long[] { 0, 1 }));
        var noSpread = Assert.Throws<DatasetException>(() => new ImageDataset("mnist", flat, flat, ["a", "b"], [0f], [0f], "/data/mnist"));
        Assert.StartsWith("/data/mnist: mnist's training pixels do not vary (per-channel std 0)", noSpread.Message, StringComparison.Ordinal);
    }
}
