using Distill.Data;
using Distill.Experiments;
using Distill.Native;
using Distill.Tests.Onboarding;
using Distill.Training;

namespace Distill.Tests.Experiments;

[Collection("environment")] // sets DISTILL_TEACHER_CACHE for the process
public class TeacherStoreTests
{
    public TeacherStoreTests() => TorchRuntime.Initialize();

    [Fact]
    public void A_teacher_trained_once_is_reused_with_its_weights_and_a_different_setting_is_not()
    {
        using var dir = new TempDir("teachers");
        using var cache = CacheAt(dir.Path);
        using var data = Datasets.FashionMnist();
        var log = new StringWriter();
        var c = new FitNetsConfig { TeacherTrainSize = 1000, TestSize = 500, TeacherEpochs = 1, Teacher = "mlp-32", Log = log, Progress = false };
        var first = new FitNetsResult { Config = c };
        var t1 = Recipe.Teacher(data, c, first, null);
        Assert.Equal(2, Directory.GetFiles(dir.Path).Length); // weights + record
        var second = new FitNetsResult { Config = c };
        var t2 = Recipe.Teacher(data, c, second, null);
        Assert.Contains("reused", log.ToString());
        Assert.Equal(first["teacher"].BestMean, second["teacher"].BestMean);
        var p1 = t1.parameters().First();
        var p2 = t2.parameters().First();
        Assert.True(p1.cpu().allclose(p2.cpu(), rtol: 0, atol: 0));

        var other = new FitNetsResult { Config = c with { TeacherEpochs = 2 } };
        Recipe.Teacher(data, other.Config, other, null);
        Assert.Equal(4, Directory.GetFiles(dir.Path).Length);

        // A teacher under its own run name (06's extra teachers) keeps it when reused: every hit was named
        // "teacher", and 06's two teachers became one row of two "seeds".
        var named = new FitNetsResult { Config = c };
        Recipe.Teacher(data, c, named, null, run: "teacher mlp-32");
        Assert.Contains("teacher mlp-32: reused the teacher (", log.ToString());
        Assert.Equal(["teacher mlp-32"], named.Runs.Rows.Select(r => r.Name));

        File.WriteAllText(Path.Combine(dir.Path, TeacherStore.Key(data, c) + ".json"), "{broken");
        var again = new FitNetsResult { Config = c };
        Recipe.Teacher(data, c, again, null); // a damaged entry is dropped and the teacher retrained, not an error
        Assert.Contains("ignoring damaged entry", log.ToString());
    }

    /// <summary>Doctor printed a teacher cache that is a file as a plain line and one that cannot be created (/proc/x)
    /// as "(empty)", and exited 0: now each is a PROBLEM line naming the fix, and doctor exits 1.</summary>
    [Fact]
    public void Doctor_fails_on_a_teacher_cache_it_cannot_use()
    {
        var dir = Directory.CreateTempSubdirectory("teachers-doctor").FullName;
        try
        {
            var file = Path.Combine(dir, "afile");
            File.WriteAllText(file, "");
            foreach (var (cache, said) in new[]
            {
                (file, $"teachers      PROBLEM {file} cannot be a folder: {file} is a file; set DISTILL_TEACHER_CACHE to a folder, or to off"),
                ("/proc/nope", "teachers      PROBLEM /proc/nope cannot be written (this file system takes no new files); set DISTILL_TEACHER_CACHE to a folder you can write to"),
            })
            {
                var (code, stdout, stderr) = Repo.RunCli(["doctor"], env => env["DISTILL_TEACHER_CACHE"] = cache);
                Assert.True(code == 1, $"{cache}: exit {code}\n{stdout}{stderr}");
                Assert.Contains(said, stdout, StringComparison.Ordinal);
            }
            var usable = Repo.RunCli(["doctor"], env => env["DISTILL_TEACHER_CACHE"] = Path.Combine(dir, "cache"));
            Assert.Contains($"teachers      {Path.Combine(dir, "cache")} (empty)", usable.Stdout, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Run from outside the repository, doctor named ~/.cache/distill/teachers: the cache was looked for only
    /// above the current directory, while the datasets were found from the program's location. The same build now
    /// keeps one cache, its checkout's artifacts/teachers, wherever it runs from.</summary>
    [Fact]
    public void The_teacher_cache_is_the_programs_checkout_from_any_directory()
    {
        var elsewhere = Directory.CreateTempSubdirectory("teachers-cwd").FullName;
        try
        {
            var (_, stdout, stderr) = Repo.RunCli(["doctor"], env => env.Remove("DISTILL_TEACHER_CACHE"), workingDirectory: elsewhere);
            Assert.Contains($"teachers      {Path.Combine(Repo.Root, "artifacts", "teachers")}", stdout + stderr, StringComparison.Ordinal);
        }
        finally { Directory.Delete(elsewhere, recursive: true); }
    }

    /// <summary>Probed as the user nobody (HOME=/nonexistent): .NET gives "" for a home that does not exist, so the cache
    /// was the relative .cache/distill/teachers, made in whatever folder a command ran from, and doctor showed it as
    /// usable. Without a home, a setting or a checkout around the program, the cache is off, and doctor says why.</summary>
    [Fact]
    public void Without_a_home_folder_the_cache_is_off_and_said_so_not_made_in_the_working_directory()
    {
        using var dir = new TempDir("teachers-homeless");
        var program = Repo.CliOutsideRepo(dir.File("program"));
        var cwd = Directory.CreateDirectory(dir.File("cwd")).FullName;
        var home = dir.File("no-such-home");
        void Homeless(IDictionary<string, string?> env)
        {
            env.Remove("DISTILL_TEACHER_CACHE");
            env["HOME"] = home;
        }
        var (_, stdout, stderr) = Repo.RunCli(["doctor"], Homeless, workingDirectory: cwd, program: program);
        Assert.Contains($"teachers      off: there is no home folder to keep it in (HOME={home} does not exist); every teacher is trained: " +
                        "set DISTILL_TEACHER_CACHE to a folder to keep them", stdout + stderr, StringComparison.Ordinal);
        var train = Repo.RunCli(["train", "--model", "mlp-16", "--teacher", "mlp-16", "--teacher-epochs", "1", "--epochs", "1", "--train-size", "300", "--test-size", "100"],
            Homeless, workingDirectory: cwd, program: program);
        Assert.True(train.Code == 0, train.Stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(cwd));
    }

    /// <summary>A byte flipped in a cached teacher's weights still loads: it was used silently, and the students
    /// distilled from it came out far worse (a sweep's 34% became 14%).</summary>
    [Fact]
    public void A_teacher_whose_weights_changed_on_disk_is_dropped_and_trained_again()
    {
        using var dir = new TempDir("teachers");
        using var cache = CacheAt(dir.Path);
        using var data = Datasets.FashionMnist();
        var log = new StringWriter();
        var c = new FitNetsConfig { TeacherTrainSize = 1000, TestSize = 500, TeacherEpochs = 1, Teacher = "mlp-32", Log = log, Progress = false };
        var trained = TensorDigest.Weights(Recipe.Teacher(data, c, new FitNetsResult { Config = c }, null));
        var weights = Path.Combine(dir.Path, TeacherStore.Key(data, c) + ".bin");
        var bytes = File.ReadAllBytes(weights);
        bytes[bytes.Length / 2] ^= 0x40; // inside the first layer's weights
        File.WriteAllBytes(weights, bytes);

        var again = Recipe.Teacher(data, c, new FitNetsResult { Config = c }, null);
        Assert.DoesNotContain("reused", log.ToString());
        Assert.Contains($"teacher cache: ignoring damaged entry {Path.ChangeExtension(weights, null)}.bin/.json (its weights are not the ones its record names", log.ToString());
        Assert.Equal(trained, TensorDigest.Weights(again)); // trained again from its own start
        Assert.NotEqual(bytes, File.ReadAllBytes(weights)); // and kept again, whole
    }

    /// <summary>Probed: a recipe teacher's record without history failed every later command ("Value cannot be null"), a
    /// pair of files copied in from another entry was reused, other data of the same name and size hit the entry of
    /// the first, a folder in the way of the weights lost the trained teacher with an unexpected error, and a cache
    /// whose locks/ could not be made said only "Access denied".</summary>
    [Fact]
    public void A_recipe_teacher_entry_is_checked_against_its_key_and_its_data_and_a_cache_that_cannot_take_it_warns()
    {
        using var dir = new TempDir("teachers");
        using var cache = CacheAt(dir.Path);
        using var data = Datasets.FashionMnist();
        var log = new StringWriter();
        var c = new FitNetsConfig { TeacherTrainSize = 600, TestSize = 200, TeacherEpochs = 1, Teacher = "mlp-32", Log = log, Progress = false };
        var trained = TensorDigest.Weights(Recipe.Teacher(data, c, new FitNetsResult { Config = c }, null));
        var key = Path.Combine(dir.Path, TeacherStore.Key(data, c));
        var record = File.ReadAllText(key + ".json");

        var emptied = System.Text.Json.Nodes.JsonNode.Parse(record)!.AsObject();
        emptied["History"] = new System.Text.Json.Nodes.JsonArray();
        File.WriteAllText(key + ".json", emptied.ToJsonString());
        Assert.Equal(trained, TensorDigest.Weights(Recipe.Teacher(data, c, new FitNetsResult { Config = c }, null)));
        Assert.Contains($"teacher cache: ignoring damaged entry {key}.bin/.json (its record is incomplete (no training history))", log.ToString());

        // Another teacher's pair under this key.
        var other = c with { TeacherEpochs = 2 };
        Recipe.Teacher(data, other, new FitNetsResult { Config = other }, null);
        var otherKey = Path.Combine(dir.Path, TeacherStore.Key(data, other));
        foreach (var ext in new[] { ".bin", ".json" }) File.Copy(otherKey + ext, key + ext, overwrite: true);
        log.GetStringBuilder().Clear();
        Assert.Equal(trained, TensorDigest.Weights(Recipe.Teacher(data, c, new FitNetsResult { Config = c }, null)));
        Assert.Contains("(its record is another entry's (its key differs))", log.ToString());

        // The same name and sizes, other labels: another key.
        using var relabelled = new ImageDataset(data.Name, new Split(data.Train.Images.clone(), data.Train.Labels.add(1).remainder(10)),
            new Split(data.Test.Images.clone(), data.Test.Labels.clone()), data.Classes, data.Mean, data.Std, data.Source);
        Assert.NotEqual(TeacherStore.Key(data, c), TeacherStore.Key(relabelled, c));
        // The whole split named by its size is the whole split.
        Assert.Equal(TeacherStore.Key(data, c with { TeacherTrainSize = null }), TeacherStore.Key(data, c with { TeacherTrainSize = (int)data.Train.Count }));

        // A folder where the weights go: trained, used, and a warning, not an error.
        var third = c with { TeacherEpochs = 3 };
        var thirdKey = Path.Combine(dir.Path, TeacherStore.Key(data, third));
        Directory.CreateDirectory(thirdKey + ".bin");
        log.GetStringBuilder().Clear();
        Recipe.Teacher(data, third, new FitNetsResult { Config = third }, null);
        Assert.Contains($"warning: teacher: not kept in the teacher cache {dir.Path} (", log.ToString());
        Assert.Contains("remove what is in the way there, or set DISTILL_TEACHER_CACHE to another folder", log.ToString());
        Assert.False(File.Exists(thirdKey + ".json"));

        // A cache whose locks/ cannot be made: named, with the fix.
        using var blocked = new TempDir("teachers-blocked");
        File.WriteAllText(Path.Combine(blocked.Path, "locks"), "");
        Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", blocked.Path);
        var e = Assert.Throws<InvalidOperationException>(() => Recipe.Teacher(data, c, new FitNetsResult { Config = c }, null));
        Assert.StartsWith($"the teacher cache {blocked.Path} cannot be written (", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("set DISTILL_TEACHER_CACHE to a folder you can write to, or to off to train without it.", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A teacher trained without --out is staged in the cache's scratch folder, which the next command clears:
    /// a stop there said "--resume continues from step N", and the next run trained the teacher from the start. It now
    /// says nothing is kept, and leaves no stage behind.</summary>
    [Fact]
    public void A_teacher_stopped_while_training_into_the_cache_promises_no_resume_and_leaves_no_stage()
    {
        WithSmallTeacher((dir, Teacher) =>
        {
            using var stop = new CancellationTokenSource();
            stop.Cancel();
            var e = Assert.Throws<TrainingStoppedException>(() => Teacher(new TrainOptions { Name = "teacher", Epochs = 1, Cancellation = stop.Token, Progress = false }));
            Assert.StartsWith("teacher: stopped at epoch 1, step ", e.Message, StringComparison.Ordinal);
            Assert.EndsWith("nothing kept (pass --out to keep a checkpoint)", e.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.GetDirectories(Path.Combine(dir, "runs")));
        });
    }

    /// <summary>A teacher stopped in --out and finished there by --resume was left out of the cache (the trainer alone
    /// handled a folder holding a run), so the next command trained the same teacher again.</summary>
    [Fact]
    public void A_teacher_finished_by_resume_in_its_out_folder_is_kept_in_the_cache()
    {
        WithSmallTeacher((dir, Teacher) =>
        {
            var outDir = Path.Combine(dir, "out", "teacher");
            var options = new TrainOptions { Name = "teacher", Epochs = 2, Progress = false, OutDir = outDir };
            using (var stop = new CancellationTokenSource())
            {
                stop.Cancel();
                Assert.Throws<TrainingStoppedException>(() => Teacher(options with { Cancellation = stop.Token }));
            }
            Assert.True(RunFolder.HoldsRun(outDir));
            Assert.False(Directory.Exists(Path.Combine(dir, "runs")) && Directory.GetDirectories(Path.Combine(dir, "runs")).Length > 0);

            var log = new StringWriter();
            var finished = Teacher(options with { Resume = true, Log = log });
            Assert.Contains("teacher: kept in the teacher cache (", log.ToString());
            var entry = Directory.GetDirectories(Path.Combine(dir, "runs")).Single();
            Assert.Equal(2, Checkpoint.ReadInfo(Path.Combine(entry, Checkpoint.FileName)).Epoch);

            var reused = Teacher(options with { OutDir = null, Log = log = new StringWriter() });
            Assert.Contains("reused from the teacher cache", log.ToString());
            Assert.Equal(finished.WeightsSha256, reused.WeightsSha256);
            // and as trained in one go: the resume repeated the uninterrupted run
            Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", "off");
            Assert.Equal(finished.WeightsSha256, Teacher(options with { OutDir = null }).WeightsSha256);
        });
    }

    /// <summary>Probed: another entry's checkpoint (or its whole folder) copied in under a key was reused and, with
    /// --out, restamped as this command's run; a file under an entry's name made the trained teacher's move fail and
    /// the command with it; --device cpu missed the entry --device auto made on this CPU-only machine.</summary>
    [Fact]
    public void A_cli_teacher_entry_holding_another_run_is_not_reused_and_a_file_in_its_place_does_not_fail_the_command()
    {
        WithSmallTeacher((dir, Teacher) =>
        {
            var log = new StringWriter();
            var one = new TrainOptions { Name = "teacher", Epochs = 1, Progress = false, Log = log };
            var trained = Teacher(one);
            Teacher(one with { Epochs = 2 });
            var entries = Directory.GetDirectories(Path.Combine(dir, "runs"));
            Assert.Equal(2, entries.Length);
            string Entry(int epochs) => entries.Single(e => Checkpoint.ReadInfo(Path.Combine(e, Checkpoint.FileName)).Epoch == epochs);
            var (e1, e2) = (Entry(1), Entry(2));

            File.Copy(Path.Combine(e2, Checkpoint.FileName), Path.Combine(e1, Checkpoint.FileName), overwrite: true);
            log.GetStringBuilder().Clear();
            Assert.Equal(trained.WeightsSha256, Teacher(one).WeightsSha256);
            Assert.Contains($"teacher cache: ignoring damaged entry {e1} (", log.ToString());
            Assert.Contains("was written by another run than the one", log.ToString());

            // The other entry's whole folder under this key.
            Directory.Delete(e1, recursive: true);
            CopyTree(e2, e1);
            log.GetStringBuilder().Clear();
            Assert.Equal(trained.WeightsSha256, Teacher(one).WeightsSha256);
            Assert.Contains("(it is not the entry of its key (its cache-key file names another or is missing))", log.ToString());

            // The other entry's checkpoint and record beside this entry's own key file: the record, consistent with its
            // checkpoint, is checked against the settings the key stands for.
            Directory.Delete(e1, recursive: true);
            CopyTree(e2, e1);
            File.WriteAllText(Path.Combine(e1, "cache-key"), Path.GetFileName(e1));
            log.GetStringBuilder().Clear();
            Assert.Equal(trained.WeightsSha256, Teacher(one).WeightsSha256);
            Assert.Contains("(its run.json records another teacher than its key's (epochs: 2 → 1", log.ToString());

            // --device cpu is auto here: the same entry.
            log.GetStringBuilder().Clear();
            Teacher(one with { Device = "cpu" });
            Assert.Contains("reused from the teacher cache", log.ToString());

            // A file under the entry's name is in the way, not a reason to lose the command.
            Directory.Delete(e1, recursive: true);
            File.WriteAllText(e1, "not a run");
            log.GetStringBuilder().Clear();
            Assert.Equal(trained.WeightsSha256, Teacher(one).WeightsSha256);
            Assert.Contains("teacher: kept in the teacher cache", log.ToString());
            Assert.True(Directory.Exists(e1));
        });
    }

    /// <summary>A teacher cached channels-last is not what an NCHW teacher of the same seed trains to (float rounding):
    /// the entry's key holds the layout, so asking for the NCHW one trains it (found in review: it was handed the
    /// channels-last weights), and asking again for either reuses its own.</summary>
    [Fact]
    public void A_teacher_cached_in_one_memory_layout_is_not_reused_for_the_other()
    {
        using var dir = new TempDir("teachers");
        using var cache = CacheAt(dir.Path);
        using var full = Datasets.FashionMnist();
        using var data = full.Subset(256, 64);
        var log = new StringWriter();
        TrainResult Teacher(bool channelsLast)
        {
            TorchSharp.torch.manual_seed(0);
            using var t = Distill.Models.ModelZoo.Create("resnet8", 1, 10);
            t.ChannelsLast = channelsLast;
            return TeacherStore.TrainOrReuse(t, data, new TrainOptions { Seed = 0, Epochs = 1, BatchSize = 64, Device = "cpu", Progress = false, Log = log });
        }
        var channelsLast = Teacher(true).WeightsSha256;
        var nchw = Teacher(false).WeightsSha256;
        Assert.NotEqual(channelsLast, nchw);
        Assert.Equal(channelsLast, Teacher(true).WeightsSha256);
        Assert.Equal(nchw, Teacher(false).WeightsSha256);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(dir.Path, "runs")).Count(d => !d.EndsWith(".tmp", StringComparison.Ordinal)));
    }

    /// <summary>A fresh cache folder as DISTILL_TEACHER_CACHE, and a teacher trained (or reused) through the store: an
    /// mlp-32 seeded 0 on 512 training images.</summary>
    static void WithSmallTeacher(Action<string, Func<TrainOptions, TrainResult>> test)
    {
        using var dir = new TempDir("teachers");
        using var cache = CacheAt(dir.Path);
        using var full = Datasets.FashionMnist();
        using var data = full.Subset(512, 100);
        test(dir.Path, o =>
        {
            TorchSharp.torch.manual_seed(0);
            using var t = Distill.Models.ModelZoo.Create("mlp-32", 1, 10);
            return TeacherStore.TrainOrReuse(t, data, o);
        });
    }

    /// <summary>DISTILL_TEACHER_CACHE set to <paramref name="value"/> until disposed, then unset, whatever the test
    /// set it to meanwhile: the variable is the process's, and the next test must not find this one's cache.</summary>
    static CacheSetting CacheAt(string value)
    {
        Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", value);
        return new CacheSetting();
    }

    sealed class CacheSetting : IDisposable
    {
        public void Dispose() => Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", null);
    }

    static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }
    }

    [Fact]
    public void A_cache_setting_that_names_a_file_is_said_by_doctor_and_refused_by_name()
    {
        var file = Path.GetTempFileName();
        Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", file);
        try
        {
            Assert.Equal($"{file} is a file, not a folder: set DISTILL_TEACHER_CACHE to a folder (or off)", TeacherStore.Status);
            using var data = Datasets.FashionMnist();
            var c = new FitNetsConfig { TeacherTrainSize = 200, TestSize = 100, TeacherEpochs = 1, Teacher = "mlp-32", Progress = false };
            var e = Assert.Throws<InvalidOperationException>(() => Recipe.Teacher(data, c, new FitNetsResult { Config = c }, null));
            Assert.Equal($"the teacher cache {file} cannot be a folder: {file} is a file. Set DISTILL_TEACHER_CACHE to a folder, or to off.", e.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", null);
            File.Delete(file);
        }
    }

    [Fact]
    public void A_cli_teacher_is_trained_once_per_setting_and_an_out_folder_gets_its_run()
    {
        using var dir = new TempDir("teachers");
        using var cache = CacheAt(dir.Path);
        using var data = Datasets.FashionMnist().Subset(1000, 500);
        TrainResult Teacher(TrainOptions o, StringWriter log, int init = 0)
        {
            TorchSharp.torch.manual_seed(init); // as the CLI builds its teacher: seeded
            using var t = Distill.Models.ModelZoo.Create("mlp-32", 1, 10);
            return TeacherStore.TrainOrReuse(t, data, o with { Log = log });
        }
        var options = new TrainOptions { Name = "teacher", Epochs = 2, Progress = false, Settings = new Dictionary<string, string> { ["alpha"] = "0.9" } };
        var log = new StringWriter();
        var trained = Teacher(options, log);
        Assert.DoesNotContain("reused", log.ToString());
        Assert.Contains("teacher: kept in the teacher cache (", log.ToString());
        Assert.Single(Directory.GetDirectories(Path.Combine(dir.Path, "runs"))); // the finished run, moved in whole

        // The student's settings (here alpha) are not the teacher's: another value reuses it, bit for bit.
        var reused = Teacher(options with { Settings = new Dictionary<string, string> { ["alpha"] = "0.5" } }, log);
        Assert.Contains("reused from the teacher cache", log.ToString());
        Assert.Equal(trained.WeightsSha256, reused.WeightsSha256);
        Assert.Equal(trained.History.Select(h => h.TestAccuracy), reused.History.Select(h => h.TestAccuracy));

        // An --out folder gets the teacher's run as if trained there, recorded with this command's settings (not
        // those of the command that filled the cache): its checkpoint exports, and the same command resumes.
        var outDir = Path.Combine(dir.Path, "out", "teacher");
        var other = options with { Settings = new Dictionary<string, string> { ["alpha"] = "0.5" } };
        Teacher(other with { OutDir = outDir }, new StringWriter());
        Assert.Equal(2, Checkpoint.ReadInfo(Path.Combine(outDir, Checkpoint.FileName)).Epoch);
        var resumed = Teacher(other with { OutDir = outDir, Resume = true }, log = new StringWriter());
        Assert.Contains("epoch 2 of 2 done", log.ToString());
        Assert.Equal(trained.WeightsSha256, resumed.WeightsSha256);

        // A damaged entry is dropped and the teacher retrained from its own start: the same weights. Cut short, it
        // fails before any tensor loads; a complete checkpoint of a 5-class mlp-32 fails at the output layer, after
        // the first layer's weights were copied in, which is why the initial weights are put back.
        var entry = Directory.GetDirectories(Path.Combine(dir.Path, "runs")).Single();
        var ckpt = Path.Combine(entry, Checkpoint.FileName);
        File.WriteAllBytes(ckpt, File.ReadAllBytes(ckpt)[..^100]);
        var retrained = Teacher(options, log = new StringWriter());
        Assert.Contains("ignoring damaged entry", log.ToString());
        Assert.Equal(trained.WeightsSha256, retrained.WeightsSha256);
        Assert.Equal(2, Checkpoint.ReadInfo(ckpt).Epoch);
        TorchSharp.torch.manual_seed(42); // not the teacher's initial weights, or loading them would change nothing
        using (var wrong = Distill.Models.ModelZoo.Create("mlp-32", 1, 5))
        using (var shuffle = new TorchSharp.torch.Generator(0))
        {
            var sgd = OptimizerSpec.Sgd().Create(wrong.parameters());
            Checkpoint.Save(ckpt, new CheckpointInfo("teacher", 0, 2, 16, wrong.ParameterCount, "sgd", trained.History), wrong, [], [], sgd, shuffle);
        }
        retrained = Teacher(options, log = new StringWriter());
        Assert.Contains("does not fit the model", log.ToString());
        Assert.Equal(trained.WeightsSha256, retrained.WeightsSha256);
        // Nor is a folder without a checkpoint a teacher: it is cleared, not moved onto; so is a killed process's stage.
        File.Delete(ckpt);
        var stage = Directory.CreateDirectory($"{entry}.999999.tmp").FullName;
        retrained = Teacher(options, log = new StringWriter());
        Assert.DoesNotContain("reused", log.ToString());
        Assert.Equal(trained.WeightsSha256, retrained.WeightsSha256);
        Assert.False(Directory.Exists(stage));

        // Another initialisation is another teacher.
        Teacher(options, log = new StringWriter(), init: 1);
        Assert.DoesNotContain("reused", log.ToString());
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(dir.Path, "runs")).Length);

        // A setting of the teacher's own is another teacher.
        var longer = Teacher(options with { Epochs = 3 }, log = new StringWriter());
        Assert.DoesNotContain("reused", log.ToString());
        Assert.Equal(3, longer.History.Count);
        Assert.Equal(3, Directory.GetDirectories(Path.Combine(dir.Path, "runs")).Length);
        Assert.StartsWith($"{dir.Path}: 0 recipe teachers, 3 `train --teacher` runs, ", TeacherStore.Status);
    }

    /// <summary>A recipe's teacher found in the cache was loaded and nothing written to its --out folder: no
    /// OUT/teacher/seed0 to export, and --resume over a damaged teacher run said "reused" and left the damage.</summary>
    [Fact]
    public void A_recipe_teacher_from_a_warm_cache_gets_its_run_in_the_out_folder_and_a_damaged_one_is_not_resumed()
    {
        using var dir = new TempDir("teachers");
        using var cache = CacheAt(dir.Path);
        using var data = Datasets.FashionMnist();
        var c = new FitNetsConfig { TeacherTrainSize = 500, TestSize = 100, TeacherEpochs = 1, Teacher = "mlp-32", Progress = false };
        var cold = c with { OutDir = Path.Combine(dir.Path, "R1") };
        var trained = TensorDigest.Weights(Recipe.Teacher(data, cold, new FitNetsResult { Config = cold }, null));

        var log = new StringWriter();
        var warm = c with { OutDir = Path.Combine(dir.Path, "R2"), Log = log };
        var reused = Recipe.Teacher(data, warm, new FitNetsResult { Config = warm }, null);
        Assert.Contains("reused from the teacher cache", log.ToString());
        Assert.Equal(trained, TensorDigest.Weights(reused));
        var ckpt = Path.Combine(dir.Path, "R2", "teacher", "seed0", Checkpoint.FileName);
        Assert.Equal(1, Checkpoint.ReadInfo(ckpt).Epoch);

        // The run folder is the trainer's: a damaged checkpoint is refused on --resume, as with the cache off.
        File.WriteAllBytes(ckpt, File.ReadAllBytes(ckpt)[..3000]);
        var resume = warm with { Resume = true, Log = log = new StringWriter() };
        Assert.ThrowsAny<Exception>(() => Recipe.Teacher(data, resume, new FitNetsResult { Config = resume }, null));
        Assert.DoesNotContain("reused", log.ToString());
        Assert.Equal(3000, new FileInfo(ckpt).Length); // left for the user to see, not overwritten
    }

    /// <summary>A teacher reused from the cache into an --out folder was recorded with the whole training split, the
    /// trainer with the split less the validation hold-out: the same command's --resume was refused (data_train).</summary>
    [Fact]
    public void A_cached_teacher_with_validation_copied_into_an_out_folder_resumes_there()
    {
        using var dir = new TempDir("teachers");
        using var cache = CacheAt(dir.Path);
        using var data = Datasets.FashionMnist().Subset(500, 100);
        TrainResult Teacher(TrainOptions o)
        {
            TorchSharp.torch.manual_seed(0);
            using var t = Distill.Models.ModelZoo.Create("mlp-32", 1, 10);
            return TeacherStore.TrainOrReuse(t, data, o);
        }
        var options = new TrainOptions { Name = "teacher", Epochs = 1, Progress = false, ValidationCount = 100 };
        Teacher(options with { OutDir = Path.Combine(dir.Path, "A") });
        var outDir = Path.Combine(dir.Path, "B");
        var log = new StringWriter();
        Teacher(options with { OutDir = outDir, Log = log });
        Assert.Contains("reused from the teacher cache", log.ToString());
        Teacher(options with { OutDir = outDir, Resume = true, Log = log = new StringWriter() });
        Assert.Contains("epoch 1 of 1 done", log.ToString());
    }

    [Fact]
    public void Distill_train_with_a_teacher_reuses_it_on_the_next_command_and_the_student_comes_out_the_same()
    {
        using var dir = new TempDir("teachers");
        string[] args = ["train", "--teacher", "mlp-32", "--model", "mlp-32", "--teacher-train-size", "1000", "--teacher-epochs", "1",
            "--train-size", "500", "--test-size", "500", "--epochs", "1"];
        string Sha(string stdout) => stdout.Split("weights sha256 ")[1].Trim();
        var first = Repo.RunCli(args, env => env["DISTILL_TEACHER_CACHE"] = dir.Path);
        Assert.True(first.Code == 0, first.Stderr);
        Assert.DoesNotContain("reused", first.Stdout);
        var second = Repo.RunCli([.. args, "--kd-temperature", "2"], env => env["DISTILL_TEACHER_CACHE"] = dir.Path);
        Assert.True(second.Code == 0, second.Stderr);
        Assert.Contains("teacher: reused from the teacher cache", second.Stdout);
        var off = Repo.RunCli([.. args, "--kd-temperature", "2"], env => env["DISTILL_TEACHER_CACHE"] = "off");
        Assert.DoesNotContain("reused", off.Stdout);
        Assert.Equal(Sha(off.Stdout), Sha(second.Stdout));
        Assert.NotEqual(Sha(first.Stdout), Sha(second.Stdout)); // T = 2 against T = 4: the comparison above can fail
    }
}
