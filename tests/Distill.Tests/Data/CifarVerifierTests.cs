using Distill.Data;
using Distill.Native;

namespace Distill.Tests.Data;

/// <summary>`distill doctor` on CIFAR-10/100: no published hash of the files themselves, so it once called anything
/// present "verified", files `train` then refused. Each damaged folder must now be broken in doctor with the very
/// error the loader gives.</summary>
public class CifarVerifierTests
{
    public CifarVerifierTests() => TorchRuntime.Initialize();

    static void Fifo(string path)
    {
        File.Delete(path);
        using var mk = System.Diagnostics.Process.Start("mkfifo", [path])!;
        mk.WaitForExit();
    }

    static void Link(string path, string target)
    {
        File.Delete(path);
        File.CreateSymbolicLink(path, target);
    }

    static void SetByte(string path, long offset, byte value)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[offset] = value;
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Doctor's verdict on the folder is the loader's error: same file, same words.</summary>
    static DatasetException AssertDoctorSaysWhatTrainSays(DatasetInfo info, string root, Func<DatasetSearch, ImageDataset> load)
    {
        var train = Assert.Throws<DatasetException>(() => load(DatasetSearch.Only(root)).Dispose());
        var folder = info.Locate(DatasetSearch.Only(root));
        Assert.NotNull(folder);
        var doctor = DatasetVerifier.Verify(info, folder);
        Assert.NotNull(doctor);
        Assert.Equal(train.Path, doctor.Path);
        Assert.Equal(train.Problem, doctor.Problem);
        Assert.Equal(train.Fix, doctor.Fix); // the install command too: doctor's CIFAR fix had none
        return doctor;
    }

    [Theory]
    [InlineData("truncated", "not a whole number of 3,073-byte CIFAR-10 records")]
    [InlineData("truncated-test", "not a whole number of 3,073-byte CIFAR-10 records")]
    [InlineData("zero", "the file is empty")]
    [InlineData("label11", "CIFAR-10 label 11 in record 1 is outside 0..9")]
    [InlineData("label255-test", "CIFAR-10 label 255 in record 1 is outside 0..9")]
    [InlineData("cifar100-records", "not a whole number of 3,073-byte CIFAR-10 records")]
    [InlineData("gzipped", "not a whole number of 3,073-byte CIFAR-10 records")]
    [InlineData("fifo", "not a regular file such as a FIFO")]
    [InlineData("loop", "a symbolic link that loops")]
    [InlineData("dangling", "a symbolic link that points nowhere")]
    public void Cifar10_damage_that_train_refuses_is_broken_in_doctor(string damage, string problem)
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar10");
        CifarTests.WriteCifar10(folder, 3, 2);
        Assert.Null(DatasetVerifier.Verify(DatasetCatalog.Cifar10, folder)); // whole, it verifies
        string F(string name) => Path.Combine(folder, name);
        switch (damage)
        {
            case "truncated": File.WriteAllBytes(F("data_batch_3.bin"), File.ReadAllBytes(F("data_batch_3.bin"))[..^100]); break;
            case "truncated-test": File.WriteAllBytes(F("test_batch.bin"), File.ReadAllBytes(F("test_batch.bin"))[..100]); break;
            case "zero": File.WriteAllBytes(F("data_batch_2.bin"), []); break;
            case "label11": SetByte(F("data_batch_4.bin"), 3073, 11); break;
            case "label255-test": SetByte(F("test_batch.bin"), 3073, 255); break;
            case "cifar100-records":
                foreach (var f in Directory.GetFiles(folder)) File.WriteAllBytes(f, Gen.CifarRecords(3, 2));
                break;
            case "gzipped": File.WriteAllBytes(F("data_batch_1.bin"), Gen.Gzip(File.ReadAllBytes(F("data_batch_1.bin")))); break;
            case "fifo": Fifo(F("data_batch_5.bin")); break;
            case "loop": Link(F("data_batch_5.bin"), "data_batch_5.bin"); break;
            case "dangling": Link(F("data_batch_5.bin"), Path.Combine(dir.Path, "nowhere")); break;
        }
        var e = AssertDoctorSaysWhatTrainSays(DatasetCatalog.Cifar10, dir.Path, s => Datasets.Cifar10(s));
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("truncated", "not a whole number of 3,074-byte CIFAR-100 records")]
    [InlineData("zero", "the file is empty")]
    [InlineData("fine100", "fine label 100 in record 7 is outside 0..99")]
    [InlineData("coarse20", "coarse label 20 in record 3 is outside 0..19")]
    [InlineData("cifar10-records", "label")] // 3,074 records of 3,073 bytes: a whole number of 3,074-byte ones
    [InlineData("names-short", "holds 2 class names, one per line; CIFAR-100 has 100 fine classes")]
    [InlineData("names-folder", "is a folder, where CIFAR-100's class names file should be")]
    public void Cifar100_damage_that_train_refuses_is_broken_in_doctor(string damage, string problem)
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar100");
        dir.Write("cifar100/train.bin", Gen.CifarRecords(12, 2, seed: 1));
        dir.Write("cifar100/test.bin", Gen.CifarRecords(4, 2, seed: 2));
        File.WriteAllLines(Path.Combine(folder, "fine_label_names.txt"), Enumerable.Range(0, 100).Select(i => $"fine{i}"));
        Assert.Null(DatasetVerifier.Verify(DatasetCatalog.Cifar100, folder));
        string F(string name) => Path.Combine(folder, name);
        switch (damage)
        {
            case "truncated": File.WriteAllBytes(F("train.bin"), File.ReadAllBytes(F("train.bin"))[..^1]); break;
            case "zero": File.WriteAllBytes(F("test.bin"), []); break;
            case "fine100": SetByte(F("train.bin"), 3074 * 7 + 1, 100); break;
            case "coarse20": SetByte(F("test.bin"), 3074 * 3, 20); break;
            case "cifar10-records":
                var records = Gen.CifarRecords(3074, 1);
                records[0] = 200; // the first coarse label: CIFAR-10 bytes read as CIFAR-100 records
                File.WriteAllBytes(F("train.bin"), records);
                break;
            case "names-short": File.WriteAllLines(F("fine_label_names.txt"), ["a", "b"]); break;
            case "names-folder": // was silently taken for no names file: the classes became numbered
                File.Delete(F("fine_label_names.txt"));
                Directory.CreateDirectory(F("fine_label_names.txt"));
                break;
        }
        var e = AssertDoctorSaysWhatTrainSays(DatasetCatalog.Cifar100, dir.Path, s => Datasets.Cifar100(s));
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_lists_a_cifar10_folder_with_a_bad_label_as_BROKEN_a_problem_not_verified()
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar10");
        CifarTests.WriteCifar10(folder, 3, 2);
        SetByte(Path.Combine(folder, "data_batch_4.bin"), 0, 11);
        var w = new StringWriter();
        // An optional dataset is optional to install, not to be damaged: it printed lowercase "broken" and doctor exited 0.
        Assert.Equal(3, DatasetReport.Write(w, DatasetSearch.Only(dir.Path))); // the two required ones missing, cifar10 broken
        Assert.Matches(@"cifar10\s+BROKEN\s+\S+data_batch_4\.bin: CIFAR-10 label 11 in record 0 is outside 0\.\.9", w.ToString());
        Assert.Matches(@"cifar100\s+missing\s+\(optional\)", w.ToString());
        Assert.DoesNotContain("verified", w.ToString().Split('\n').Single(l => l.TrimStart().StartsWith("cifar10 ", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    /// <summary>No per-file hash of CIFAR is published, so a folder whose records all read passed as "verified", though a
    /// generated one of a few images is not CIFAR: doctor says what it checked, and that the counts are not CIFAR's.</summary>
    [Fact]
    public void Doctor_says_a_cifar_folder_was_structure_checked_with_its_image_counts()
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar10");
        CifarTests.WriteCifar10(folder, 3, 2);
        var w = new StringWriter();
        DatasetReport.Write(w, DatasetSearch.Only(dir.Path));
        var line = w.ToString().Split('\n').Single(l => l.TrimStart().StartsWith("cifar10 ", StringComparison.Ordinal));
        Assert.Contains($"found    {folder} (structure checked: every record and label, 15 train / 2 test images; the published files hold 50,000 / 10,000: not the published dataset)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("verified", line, StringComparison.Ordinal);
    }

    /// <summary>The streaming check reads the files a block of records at a time: a bad label past the first block is
    /// found, in the record the loader names.</summary>
    [Fact]
    public void A_bad_label_past_the_first_block_is_found_with_its_record_number()
    {
        using var dir = new TempDir();
        var records = Gen.CifarRecords(2500, 1);
        records[3073L * 2345] = 10;
        var path = dir.Write("data_batch_1.bin", records);
        var e = Assert.Throws<DatasetException>(() => Cifar.Check([path], 1));
        Assert.Equal("CIFAR-10 label 10 in record 2345 is outside 0..9", e.Problem);
        var loaded = Cifar.Read([path], 1);
        Assert.Equal(e.Problem, Assert.Throws<DatasetException>(loaded.CheckLabels).Problem);
    }
}
