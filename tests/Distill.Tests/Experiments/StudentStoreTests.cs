using Distill.Data;
using Distill.Experiments;
using Distill.Methods;
using Distill.Native;
using Distill.Training;

namespace Distill.Tests.Experiments;

[Collection("environment")] // sets DISTILL_TEACHER_CACHE for the process
public class StudentStoreTests
{
    public StudentStoreTests() => TorchRuntime.Initialize();

    static ComparisonConfig Config(StringWriter log) => new()
    {
        Teacher = "mlp-32", Student = "mlp-16", TeacherTrainSize = 1000, TransferSize = 600, TestSize = 300, TeacherEpochs = 1, StudentEpochs = 2,
        Seeds = [0, 1], Methods = ["scratch", "kd"], Log = log, Progress = false,
    };

    static int Reused(StringWriter log) => log.ToString().Split('\n').Count(l => l.Contains("reused from the run cache", StringComparison.Ordinal));

    static void WithCache(Action<string> test)
    {
        var dir = Directory.CreateTempSubdirectory("runcache").FullName;
        Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", dir);
        try { test(dir); }
        finally
        {
            Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", null);
            Directory.Delete(dir, recursive: true);
        }
    }

    static void SameRuns(ComparisonResult a, ComparisonResult b)
    {
        Assert.Equal(a.Trainings.Select(t => (t.Name, t.Seed, t.WeightsSha256)), b.Trainings.Select(t => (t.Name, t.Seed, t.WeightsSha256)));
        Assert.Equal(a.Trainings.Select(t => string.Join(";", t.History.Select(h => $"{h.TrainLoss:R} {h.TestAccuracy:R}"))),
                     b.Trainings.Select(t => string.Join(";", t.History.Select(h => $"{h.TrainLoss:R} {h.TestAccuracy:R}"))));
        foreach (var (name, model) in a.Students) Assert.Equal(TensorDigest.Weights(model), TensorDigest.Weights(b.Students[name]));
    }

    [Fact]
    public void A_method_run_is_trained_once_and_reused_bit_for_bit_and_a_changed_setting_trains_again()
    {
        WithCache(dir =>
        {
            using var data = Datasets.FashionMnist();
            var log = new StringWriter();
            var c = Config(log);
            var first = Comparison.Run(data, c);
            Assert.Equal(0, Reused(log));
            Assert.Equal(4, Directory.GetFiles(Path.Combine(dir, "students"), "*.bin").Length); // 2 methods × 2 seeds
            Assert.Contains("4 student runs (students/)", TeacherStore.Status, StringComparison.Ordinal);

            var second = Comparison.Run(data, c);
            Assert.Equal(4, Reused(log));
            SameRuns(first, second);
            Assert.Equal(first.Runs.ToString(), second.Runs.ToString());

            // KD's temperature is in the key, scratch does not read it: only KD trains again, and differs.
            log.GetStringBuilder().Clear();
            var hotter = Comparison.Run(data, c with { Set = new Dictionary<string, IReadOnlyDictionary<string, string>> { ["kd"] = new Dictionary<string, string> { ["temperature"] = "8" } } });
            Assert.Equal(2, Reused(log));
            Assert.NotEqual(first.Trainings.Last(t => t.Name == "kd").WeightsSha256, hotter.Trainings.Last(t => t.Name == "kd").WeightsSha256);

            // So does anything the run record compares, e.g. the epochs.
            log.GetStringBuilder().Clear();
            Comparison.Run(data, c with { StudentEpochs = 1 });
            Assert.Equal(0, Reused(log));
            // And the student's dropout, which changes neither its parameters nor its initial weights.
            Comparison.Run(data, c with { StudentDropout = 0.2 });
            Assert.Equal(0, Reused(log));

            // A hit leaves the student as training does: in eval mode.
            var third = Comparison.Run(data, c);
            Assert.All(third.Students.Values, s => Assert.False(s.training));
        });
    }

    [Fact]
    public void Beyond_kd_reuses_the_comparisons_runs_of_the_same_methods_and_keeps_kd_multi_out()
    {
        WithCache(dir =>
        {
            using var data = Datasets.FashionMnist();
            var log = new StringWriter();
            var c = Config(log) with { Seeds = [1], Methods = ["scratch", "kd", "dkd", "ctkd"] };
            var comparison = Comparison.Run(data, c);
            var beyond = BeyondKd.Run(data, new BeyondKdConfig
            {
                Teacher = c.Teacher, Student = c.Student, TeacherTrainSize = c.TeacherTrainSize, TransferSize = c.TransferSize, TestSize = c.TestSize,
                TeacherEpochs = c.TeacherEpochs, StudentEpochs = c.StudentEpochs, Seeds = c.Seeds, Log = log, Progress = false,
                Runs = ["scratch", "kd", "dkd", "ctkd", "kd-multi"], ExtraTeachers = ["mlp-16"],
            });
            Assert.Equal(4, Reused(log)); // kd-multi's second teacher is out of the key's sight: trained, not kept
            foreach (var run in c.Methods)
                Assert.Equal(comparison.Trainings.Single(t => t.Name == run).WeightsSha256, beyond.Trainings.Single(t => t.Name == run).WeightsSha256);
            Assert.Equal(4, Directory.GetFiles(Path.Combine(dir, "students"), "*.bin").Length);
        });
    }

    [Fact]
    public void A_damaged_entry_is_dropped_and_the_run_trained_from_its_own_start()
    {
        WithCache(dir =>
        {
            using var data = Datasets.FashionMnist();
            var log = new StringWriter();
            var c = Config(log) with { Seeds = [0], Methods = ["kd"] };
            var first = Comparison.Run(data, c);
            var entry = Directory.GetFiles(Path.Combine(dir, "students"), "*.bin").Single();
            var bytes = File.ReadAllBytes(entry);
            File.WriteAllBytes(entry, bytes[..(bytes.Length / 2)]); // cut short

            var again = Comparison.Run(data, c);
            Assert.Contains("ignoring damaged entry", log.ToString(), StringComparison.Ordinal);
            Assert.Equal(0, Reused(log));
            SameRuns(first, again); // retrained from the student's initial weights, not from a half-loaded file
            Assert.Equal(bytes.Length, new FileInfo(entry).Length); // and kept again

            // A record that names other weights is damaged too.
            var record = Path.ChangeExtension(entry, ".json");
            File.WriteAllText(record, File.ReadAllText(record).Replace(first.Trainings.Last().WeightsSha256!, new string('0', 64), StringComparison.Ordinal));
            log.GetStringBuilder().Clear();
            SameRuns(first, Comparison.Run(data, c));
            Assert.Contains("not the ones its record names", log.ToString(), StringComparison.Ordinal);

            // So are weights with a byte changed on disk: they would load, and be used silently.
            bytes = File.ReadAllBytes(entry);
            bytes[bytes.Length / 2] ^= 0x40;
            File.WriteAllBytes(entry, bytes);
            log.GetStringBuilder().Clear();
            SameRuns(first, Comparison.Run(data, c));
            Assert.Contains($"run cache: ignoring damaged entry {Path.ChangeExtension(entry, null)}.bin/.json (its weights are not the ones its record names", log.ToString(), StringComparison.Ordinal);
        });
    }

    /// <summary>Another entry's pair of files, copied in under this key, loaded as well as its own: a run reported
    /// another method's accuracy. Each record names its key now.</summary>
    [Fact]
    public void Another_entrys_files_copied_in_under_a_key_are_not_reused()
    {
        WithCache(dir =>
        {
            using var data = Datasets.FashionMnist();
            var log = new StringWriter();
            var c = Config(log) with { Seeds = [0], Methods = ["kd", "dkd"] };
            var first = Comparison.Run(data, c);
            var entries = Directory.GetFiles(Path.Combine(dir, "students"), "*.bin").Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(2, entries.Length);
            var (a, b) = (Path.ChangeExtension(entries[0], null), Path.ChangeExtension(entries[1], null));
            foreach (var ext in new[] { ".bin", ".json" }) File.Copy(b + ext, a + ext, overwrite: true);
            log.GetStringBuilder().Clear();
            SameRuns(first, Comparison.Run(data, c));
            Assert.Contains($"run cache: ignoring damaged entry {a}.bin/.json (its record is of another run)", log.ToString(), StringComparison.Ordinal);
            Assert.Equal(1, Reused(log));
        });
    }

    [Fact]
    public void Run_folders_and_a_cache_that_is_off_always_train()
    {
        WithCache(dir =>
        {
            using var data = Datasets.FashionMnist();
            var log = new StringWriter();
            var c = Config(log) with { Seeds = [0], Methods = ["scratch"] };
            var outDir = Path.Combine(dir, "out");
            Comparison.Run(data, c with { OutDir = outDir });
            Comparison.Run(data, c with { OutDir = outDir, Force = true });
            Assert.False(Directory.Exists(Path.Combine(dir, "students")));
            Assert.True(File.Exists(Path.Combine(outDir, "scratch", "seed0", Checkpoint.FileName)));
            // Each run's record names the budget its settings came from (no recipe run recorded it).
            using (var record = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "scratch", "seed0", "run.json"))))
                Assert.Equal(c.Budget.Name(), record.RootElement.GetProperty("budget").GetString());

            Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", "off");
            Comparison.Run(data, c);
            Comparison.Run(data, c);
            Assert.Equal(0, Reused(log));
        });
    }

    [Fact]
    public void The_key_sees_the_seed_a_method_draws_from_and_the_teachers_weights()
    {
        using var data = Datasets.FashionMnist().Subset(200, 100);
        var choice = MethodCatalogue.Parse("kd");
        var options = new TrainOptions { Name = "kd", Epochs = 1, Progress = false };
        string Key(int setupSeed, int teacherInit)
        {
            TorchSharp.torch.manual_seed(teacherInit);
            using var teacher = Distill.Models.ModelZoo.Create("mlp-32", 1, 10);
            TorchSharp.torch.manual_seed(0);
            using var student = Distill.Models.ModelZoo.Create("mlp-16", 1, 10);
            var setup = new MethodSetup("mlp-16", "mlp-32", data, 128) { Seed = setupSeed };
            return StudentStore.Key(choice, setup, student, data, choice.Build(setup), options, teacher);
        }
        var key = Key(0, 0);
        Assert.Equal(key, Key(0, 0));
        Assert.NotEqual(key, Key(1, 0)); // CRD draws its negatives from the setup's seed: another seed is another run
        Assert.NotEqual(key, Key(0, 1)); // another teacher
    }
}
