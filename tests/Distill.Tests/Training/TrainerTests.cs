using System.Globalization;
using Distill.Reporting;
using Distill.Losses;
using Distill.Models;
using Distill.Native;
using Distill.Tests.Models;
using Distill.Training;
using TorchSharp;

namespace Distill.Tests.Training;

/// <summary>Dropout and the models' initialisation draw from torch's process-wide generator, so these bit-for-bit
/// comparisons run alone (any test drawing random numbers in parallel would interleave with them).</summary>
[Collection(GlobalTorchRngCollection.Name)]
public class TrainerTests
{
    public TrainerTests() => TorchRuntime.Initialize();

    static TrainOptions Opts(int seed = 0, int epochs = 2) => new()
    {
        Seed = seed,
        Epochs = epochs,
        BatchSize = 64,
        Device = "cpu",
        Optimizer = OptimizerSpec.Sgd(lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4),
        Progress = false,
    };

    static DistillModel Mlp(int seed) => Build.Mlp(seed);
    static Objective Ce() => Build.Ce();

    [Fact]
    public void Real_training_beats_the_untrained_model_by_far()
    {
        var data = TinyData.FashionMnist2k;
        using var model = Mlp(0);
        var before = Evaluation.Accuracy(model, data, device: "cpu");
        var r = Trainer.Train(model, data, Ce(), Opts(epochs: 3));
        Assert.InRange(before, 0, 25);
        Assert.True(r.LastAccuracy > 70, $"after 3 epochs on 2k images: {r.LastAccuracy:F2}% (untrained {before:F2}%)");
        Assert.Equal(3, r.History.Count);
        Assert.Equal(r.History.Max(h => h.TestAccuracy), r.BestAccuracy);
        Assert.Equal(r.History.First(h => h.TestAccuracy == r.BestAccuracy).Epoch, r.BestEpoch);
        Assert.True(r.History[^1].TrainLoss < r.History[0].TrainLoss);
        Assert.Equal(TeacherSource.None, r.Teacher);
        // The same accuracy from the public evaluation path.
        Assert.Equal(r.LastAccuracy, Evaluation.Accuracy(model, data, device: "cpu"), 6);
    }

    [Fact]
    public void Same_seed_gives_identical_metrics_and_another_seed_does_not()
    {
        var data = TinyData.FashionMnist2k;
        var opts = Opts() with { Augment = new Augmentation(2, true) };
        TrainResult Run(int seed) { using var m = Mlp(seed); return Trainer.Train(m, data, Ce(), opts with { Seed = seed }); }
        var a = Run(1);
        var b = Run(1);
        var c = Run(2);
        Assert.Equal(Signature(a), Signature(b));
        Assert.NotEqual(Signature(a), Signature(c));
    }

    /// <summary>Everything a run measured, except wall-clock time.</summary>
    static string Signature(TrainResult r) => string.Join("\n", r.History.Select(h =>
        $"{h.Epoch} {h.LearningRate:R} {h.TrainLoss:R} {string.Join(",", h.TermLosses.Select(t => t.Value.ToString("R")))} {h.TrainAccuracy:R} {h.ValidationAccuracy:R} {h.TestAccuracy:R}"));

    [Fact]
    public void Resumed_run_ends_with_the_same_metrics_as_the_uninterrupted_run()
    {
        var data = TinyData.FashionMnist2k;
        using var dirA = new TempDir();
        using var dirB = new TempDir();
        // Dropout (global RNG), augmentation (shuffle generator), Nesterov momentum (optimizer state), a term with its
        // own parameter, a cosine schedule with warmup and a live teacher: all of it must come back from the checkpoint.
        using var teacher = Mlp(99);
        Objective Obj(out HintTerm hint) => new Objective().Add(new CrossEntropyTerm()).Add(hint = Build.Hint(), 0.1);
        var opts = Opts(seed: 3, epochs: 3) with { Augment = new Augmentation(2, true), WarmupEpochs = 0.5 };

        using var full = Mlp(3);
        var uninterrupted = Trainer.Train(full, data, Obj(out var s1), opts with { OutDir = dirA.Path }, teacher);

        using var first = Mlp(3);
        var crash = Assert.Throws<SimulatedCrash>(() => Trainer.Train(first, data, Obj(out _),
            opts with { OutDir = dirB.Path, OnEpochEnd = m => { if (m.Epoch == 1) throw new SimulatedCrash(); } }, teacher));
        Assert.Equal(1, Checkpoint.ReadInfo(Path.Combine(dirB.Path, Checkpoint.FileName)).Epoch);

        using var resumedModel = Mlp(1234); // different initial weights: everything must come from the checkpoint
        var log = new StringWriter();
        var resumed = Trainer.Train(resumedModel, data, Obj(out var s2), opts with { OutDir = dirB.Path, Resume = true, Log = log }, teacher);

        Assert.Contains("resuming", log.ToString());
        Assert.Equal(2, log.ToString().Split("\n").Count(l => l.StartsWith("run epoch", StringComparison.Ordinal)));   // only epochs 2 and 3 ran
        Assert.Equal(Signature(uninterrupted), Signature(resumed));
        Assert.True(s1.Parameters().Zip(s2.Parameters()).All(p => p.First.SameAs(p.Second)), "the regressor must come back too");
        Assert.True(full.parameters().Zip(resumedModel.parameters()).All(p => p.First.SameAs(p.Second)));
        Assert.Equal(File.ReadAllLines(Path.Combine(dirA.Path, "metrics.csv")).Select(DropTime),
                     File.ReadAllLines(Path.Combine(dirB.Path, "metrics.csv")).Select(DropTime));
    }

    /// <summary>A resume with another teacher of the same shape (a recipe's teacher seed edited between the runs) went on
    /// distilling from the old teacher's checkpointed run without a word: the teacher's weights are part of the record,
    /// and such a resume is refused naming them before anything trains. The same teacher resumes.</summary>
    [Fact]
    public void A_resume_with_another_teacher_of_the_same_shape_is_refused()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using var teacher = Mlp(99);
        using var other = Mlp(98);
        var opts = Opts(seed: 3, epochs: 2) with { OutDir = dir.Path };
        using (var first = Mlp(3))
            Assert.Throws<SimulatedCrash>(() => Trainer.Train(first, data, new Objective().Add(new KdTerm(4), 1.0), opts with { OnEpochEnd = _ => throw new SimulatedCrash() }, teacher));
        Assert.Equal(TensorDigest.Weights(teacher), RunFolder.TryRead(Path.Combine(dir.Path, RunFolder.SettingsFile))!["teacher_sha256"]);
        using var again = Mlp(3);
        var refused = Assert.ThrowsAny<Exception>(() => Trainer.Train(again, data, new Objective().Add(new KdTerm(4), 1.0), opts with { Resume = true }, other));
        Assert.Contains($"teacher_sha256: {TensorDigest.Weights(teacher)} → {TensorDigest.Weights(other)}", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, Checkpoint.ReadInfo(Path.Combine(dir.Path, Checkpoint.FileName)).Epoch);
        Assert.Equal(2, Trainer.Train(again, data, new Objective().Add(new KdTerm(4), 1.0), opts with { Resume = true }, teacher).History.Count);

        // kd-multi's teachers, which its term runs itself (the run has no --teacher), each one by its weights.
        using var multiDir = new TempDir();
        using var third = Mlp(97);
        Objective Multi(params DistillModel[] teachers) => new Objective().Add(new MultiTeacherKdTerm(teachers, 4), 1.0);
        using (var first = Mlp(3))
            Assert.Throws<SimulatedCrash>(() => Trainer.Train(first, data, Multi(teacher, third), opts with { OutDir = multiDir.Path, OnEpochEnd = _ => throw new SimulatedCrash() }));
        Assert.Equal($"{TensorDigest.Weights(teacher)}, {TensorDigest.Weights(third)}", RunFolder.TryRead(Path.Combine(multiDir.Path, RunFolder.SettingsFile))!["teacher_sha256"]);
        using var multi = Mlp(3);
        Assert.Contains($"teacher_sha256: {TensorDigest.Weights(teacher)}, {TensorDigest.Weights(third)} → {TensorDigest.Weights(teacher)}, {TensorDigest.Weights(other)}",
            Assert.ThrowsAny<Exception>(() => Trainer.Train(multi, data, Multi(teacher, other), opts with { OutDir = multiDir.Path, Resume = true })).Message, StringComparison.Ordinal);
    }

    /// <summary>The same seed trained channels-last and NCHW ends with other weights, so a run stopped in one layout and
    /// resumed in the other matched neither (found in review): the layout is part of the run's record, and such a
    /// resume is refused naming it. The same layout resumes to the uninterrupted run's weights.</summary>
    [Fact]
    public void A_resume_in_the_other_memory_layout_is_refused_naming_it()
    {
        var data = Distill.Data.DatasetSubsets.Subset(TinyData.FashionMnist2k, train: 256, test: 64, seed: 0);
        using var dir = new TempDir();
        var opts = Opts(seed: 3, epochs: 2) with { OutDir = dir.Path };
        DistillModel Resnet(bool channelsLast)
        {
            using var g = torch.manual_seed(3);
            var m = ModelZoo.Create("resnet8", 1, 10);
            m.ChannelsLast = channelsLast;
            return m;
        }
        using (var first = Resnet(channelsLast: true))
            Assert.Throws<SimulatedCrash>(() => Trainer.Train(first, data, Ce(), opts with { OnEpochEnd = _ => throw new SimulatedCrash() }));
        Assert.EndsWith(", channels-last on the CPU", RunFolder.TryRead(Path.Combine(dir.Path, RunFolder.SettingsFile))!["student"], StringComparison.Ordinal);
        using var nchw = Resnet(channelsLast: false);
        var refused = Assert.ThrowsAny<Exception>(() => Trainer.Train(nchw, data, Ce(), opts with { Resume = true }));
        var student = $"CifarResNet, {nchw.ParameterCount} parameters";
        Assert.True(refused.Message.Contains($"student: {student}, channels-last on the CPU → {student}", StringComparison.Ordinal), refused.Message);
        Assert.Equal(1, Checkpoint.ReadInfo(Path.Combine(dir.Path, Checkpoint.FileName)).Epoch);
        using var again = Resnet(channelsLast: true);
        Assert.Equal(2, Trainer.Train(again, data, Ce(), opts with { Resume = true }).History.Count);
    }

    /// <summary>SIGTERM's path through the library: a stop at five random step boundaries (seeded), each followed by a
    /// resume, ends with the uninterrupted run's weights, optimizer-driven regressor and metrics, bit for bit: each stop
    /// checkpoints the step it stopped at, inside its epoch, so no step is lost or run twice.</summary>
    [Fact]
    public void Stopping_at_five_random_steps_and_resuming_each_time_ends_with_the_uninterrupted_weights()
    {
        var data = TinyData.FashionMnist2k;
        using var dirA = new TempDir();
        using var dirB = new TempDir();
        using var teacher = Mlp(99);
        // The hint's regressor is a term's parameter; the even-steps term's parameter has a gradient on even steps only.
        EvenStepsTerm? even = null;
        Objective Obj(out HintTerm hint) => new Objective().Add(new CrossEntropyTerm()).Add(hint = Build.Hint(), 0.1).Add(even = new EvenStepsTerm());
        var opts = Opts(seed: 5, epochs: 3) with { Augment = new Augmentation(2, true), WarmupEpochs = 0.5 };
        using var full = Mlp(5);
        var uninterrupted = Trainer.Train(full, data, Obj(out var s1), opts with { OutDir = dirA.Path }, teacher);
        var evenUninterrupted = even!.Weight;

        var stepsPerEpoch = (data.Train.Count + opts.BatchSize - 1) / opts.BatchSize;
        var total = stepsPerEpoch * opts.Epochs;
        var rng = new Random(20261202);
        var points = new SortedSet<long>();
        while (points.Count < 5) points.Add(rng.NextInt64(1, total));
        HintTerm? s2 = null;
        DistillModel? model = null;
        var resumes = 0;
        foreach (var point in points.Append(long.MaxValue))
        {
            model?.Dispose();
            model = Mlp(resumes == 0 ? 5 : 1000 + resumes); // a resumed run's weights must all come from the checkpoint
            using var cts = new CancellationTokenSource();
            var run = opts with { OutDir = dirB.Path, Resume = resumes > 0, Cancellation = cts.Token, OnStepEnd = s => { if (s == point) cts.Cancel(); } };
            if (point == long.MaxValue) { Trainer.Train(model, data, Obj(out s2), run, teacher); break; }
            var e = Assert.Throws<TrainingStoppedException>(() => Trainer.Train(model, data, Obj(out _), run, teacher));
            Assert.Contains("--resume continues from step", e.Message);
            var info = Checkpoint.ReadInfo(Path.Combine(dirB.Path, Checkpoint.FileName));
            Assert.Equal(point, info.Step);
            Assert.Equal(point, info.Epoch * stepsPerEpoch + (info.InProgress?.Batch ?? 0));
            resumes++;
        }
        Assert.Equal(5, resumes);
        Assert.Equal(File.ReadAllLines(Path.Combine(dirA.Path, "metrics.csv")).Select(DropTime),
                     File.ReadAllLines(Path.Combine(dirB.Path, "metrics.csv")).Select(DropTime));
        // TensorBoard holds each epoch's scalars once, with the uninterrupted run's values (throughput aside).
        var (tbA, tbB) = (TfEvents.Scalars(Path.Combine(dirA.Path, "tb")), TfEvents.Scalars(Path.Combine(dirB.Path, "tb")));
        Assert.Contains(tbB, e => e.Tag.EndsWith("/test_acc", StringComparison.Ordinal) && e.Step == opts.Epochs);
        Assert.Equal(tbB.Count, tbB.DistinctBy(e => (e.Tag, e.Step)).Count());
        static IEnumerable<(string, long, float)> Kept(List<(string Tag, long Step, float Value)> events) =>
            events.Where(e => !e.Tag.EndsWith("/samples_per_s", StringComparison.Ordinal)).Select(e => (e.Tag, e.Step, e.Value)).Order();
        Assert.Equal(Kept(tbA), Kept(tbB));
        Assert.True(full.parameters().Zip(model!.parameters()).All(p => p.First.SameAs(p.Second)), "the student's weights differ from the uninterrupted run's");
        Assert.True(s1.Parameters().Zip(s2!.Parameters()).All(p => p.First.SameAs(p.Second)), "the regressor's weights differ");
        Assert.True(evenUninterrupted.SameAs(even!.Weight), "a parameter that has no gradient on odd steps ended elsewhere after the resumes");
        model.Dispose();
    }

    /// <summary>metrics.csv without its wall-clock columns (seconds, samples_per_s), the flag column kept.</summary>
    static string[] WithoutTimes(string[] lines)
    {
        var header = lines[0].Split(',');
        var times = new[] { Array.IndexOf(header, "seconds"), Array.IndexOf(header, "samples_per_s") };
        return [.. lines.Select(l => string.Join(",", l.Split(',').Where((_, i) => !times.Contains(i))))];
    }

    static string DropTime(string csvLine) => string.Join(",", csvLine.Split(',')[..^2]);

    sealed class SimulatedCrash : Exception;

    [Fact]
    public void A_checkpoint_cut_short_fails_naming_the_file()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path });
        var path = Path.Combine(dir.Path, Checkpoint.FileName);
        var bytes = File.ReadAllBytes(path);
        // Bytes appended to a whole file are not a file cut short.
        File.WriteAllBytes(path, [.. bytes, 1, 2, 3]);
        var appended = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadInfo(path));
        Assert.StartsWith($"Checkpoint '{path}' is damaged: 3 bytes follow its end marker", appended.Message, StringComparison.Ordinal);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        using var again = Mlp(0);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Train(again, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true }));
        Assert.Contains(path, e.Message);
        Assert.Contains("cut short", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    /// <summary>A notebook's kernel runs under the user's locale. run.json took its numbers from it: "sgd(lr=0,05, ...)",
    /// "step:1:0,5", warmup "0,5", a weight schedule's points with commas. The record is compared on resume and read by
    /// deployment, so a run started in a German kernel did not match the same run from the CLI; now both write the
    /// invariant text, and the caller's culture is left as it was.</summary>
    [Fact]
    public void The_run_record_is_the_same_under_a_comma_decimal_culture()
    {
        var data = TinyData.FashionMnist2k;
        string Record(CultureInfo culture)
        {
            using var dir = new TempDir();
            var saved = CultureInfo.CurrentCulture;
            CultureInfo.CurrentCulture = culture;
            try
            {
                var objective = new Objective().Add(new CrossEntropyTerm(), Schedule.Linear(1.5, 0.5));
                var opts = Opts(epochs: 1) with { OutDir = dir.Path, WarmupEpochs = 0.5, ClipGradNorm = 2.5, Schedule = LrSchedule.Parse("step:1:0.5") };
                using (var m = Mlp(0)) Trainer.Train(m, data, objective, opts);
                Assert.Same(culture, CultureInfo.CurrentCulture);
            }
            finally { CultureInfo.CurrentCulture = saved; }
            var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "run.json")))!.AsObject();
            record.Remove("started");
            return record.ToJsonString();
        }
        // German's decimal comma, without needing ICU in the test host (invariant globalization).
        var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        comma.NumberFormat.NumberDecimalSeparator = ",";
        var invariant = Record(CultureInfo.InvariantCulture);
        Assert.Contains("sgd(lr=0.05, momentum=0.9, nesterov, wd=0.0005)", invariant, StringComparison.Ordinal);
        Assert.Contains("step:1:0.5", invariant, StringComparison.Ordinal);
        Assert.Equal(invariant, Record(comma));
    }

    /// <summary>A last.ckpt cut within its start marker was "not a checkpoint... Give the run folder or its last.ckpt"
    /// (advice for another command); one whose last byte changed was "cut short". Each is named for what it is.</summary>
    [Fact]
    public void A_checkpoint_cut_inside_its_start_or_changed_at_its_end_is_named_so()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path });
        var path = Path.Combine(dir.Path, Checkpoint.FileName);
        var bytes = File.ReadAllBytes(path);
        using var again = Mlp(0);
        foreach (var k in new[] { 1, 5, 8, 12 })
        {
            File.WriteAllBytes(path, bytes[..k]);
            var e = Assert.Throws<InvalidDataException>(() => Trainer.Train(again, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true }));
            Assert.Equal($"Checkpoint '{path}' is cut short ({k} byte{(k == 1 ? "" : "s")}, part of its start marker only): it was not written completely. " +
                         "Delete it to start the run afresh, or restore a complete copy.", e.Message);
        }
        File.WriteAllText(path, "notes");
        var other = Assert.Throws<InvalidDataException>(() => Trainer.Train(again, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true }));
        Assert.EndsWith("Move it away to start the run afresh, or restore the run's last.ckpt.", other.Message, StringComparison.Ordinal);

        var flipped = bytes.ToArray();
        flipped[^1] ^= 0xff;
        File.WriteAllBytes(path, flipped);
        var end = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadInfo(path));
        Assert.StartsWith($"Checkpoint '{path}' is damaged at its end: 1 of the 18 bytes of its end marker changed", end.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("cut short", end.Message, StringComparison.Ordinal);
        Assert.Equal(flipped, File.ReadAllBytes(path));
    }

    /// <summary>A resume rewrote run.json's commit and start time with the resuming build's, so a run trained at one
    /// commit claimed another; the record said nothing of a dirty build or the library versions. The first record's
    /// provenance is kept, each resume is added to "resumes", and another libtorch on resume is warned about.</summary>
    [Fact]
    public void A_resume_keeps_the_records_start_and_provenance_and_adds_itself_to_resumes()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path });
        var path = Path.Combine(dir.Path, "run.json");
        var record = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path))!;
        Assert.Equal(TorchRuntime.TorchSharpVersion, record["torchsharp"]);
        Assert.Equal(TorchRuntime.LibTorchVersion, record["libtorch"]);
        Assert.Equal(System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, record["dotnet"]);
        Assert.Contains(record["dirty"], new[] { "true", "false", "unknown" });
        Assert.Equal($"{TorchRuntime.Threads}", record["threads"]);
        Assert.False(record.ContainsKey("resumes"));

        // As if trained at another commit, with another libtorch.
        record["commit"] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        record["started"] = "2020-01-01T00:00:00.0000000+00:00";
        record["libtorch"] = "0.0.1";
        Assert.Equal(TorchRuntime.MklReproducibility, record["mkl_cbwr"]);
        record["mkl_cbwr"] = "COMPATIBLE"; // an environment variable, which a resume may set otherwise
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(record));
        var log = new StringWriter();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true, Log = log });
        Assert.Contains($"warning: --resume {dir.Path}: the run was trained with libtorch 0.0.1, this build has {TorchRuntime.LibTorchVersion}", log.ToString());
        Assert.Contains($"warning: --resume {dir.Path}: the run was trained with MKL_CBWR COMPATIBLE, this process has {TorchRuntime.MklReproducibility}", log.ToString());
        var after = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path))!;
        Assert.Equal(record["commit"], after["commit"]);
        Assert.Equal(record["started"], after["started"]);
        Assert.Equal("0.0.1", after["libtorch"]);
        var commit = Git.BuildCommit ?? "";
        Assert.Matches($@"^\d{{4}}-\d\d-\d\dT[^ ]+ commit {commit}\w* \((clean|dirty|dirty unknown)\)$", after["resumes"]);

        // A record from before provenance was kept: nothing is invented for it; a second resume is added.
        foreach (var key in new[] { "dirty", "torchsharp", "libtorch", "dotnet" }) after.Remove(key);
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(after));
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true });
        var third = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path))!;
        Assert.False(third.ContainsKey("libtorch"));
        Assert.Equal(2, third["resumes"].Split("; ").Length);
        Assert.Equal(record["commit"], third["commit"]);
    }

    /// <summary>A finished run resumed with a setting spelled otherwise (device cpu for auto) or recorded only since
    /// (a recipe's budget) took the new text into its record, whose digest then no longer matched the checkpoint's stamp
    /// (a finished run writes no checkpoint again): the next resume was refused as another run's.</summary>
    [Fact]
    public void A_finished_run_resumes_again_after_a_resume_that_spelled_a_setting_otherwise()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Device = "auto" });
        for (var i = 0; i < 2; i++)
            using (var m = Mlp(0))
                Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true, Device = "cpu", Settings = new Dictionary<string, string> { ["budget"] = "smoke" } });
        var record = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(dir.Path, "run.json")))!;
        Assert.Equal("auto", record["device"]);
        Assert.False(record.ContainsKey("budget"));
        Assert.Equal(2, record["resumes"].Split("; ").Length);
    }

    /// <summary>A run started at `--device auto` whose run.json was lost is resumed by the same command with --device
    /// cpu: the same run, as a resume with its record is; the record is rebuilt in the spelling it was trained with.</summary>
    [Fact]
    public void A_lost_record_is_rebuilt_from_a_command_that_spells_a_setting_otherwise()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        string whole;
        using (var m = Mlp(0)) whole = Trainer.Train(m, data, Ce(), Opts(epochs: 2)).WeightsSha256!;
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 2) with { OutDir = dir.Path, Device = "auto" });
        File.Delete(Path.Combine(dir.Path, "run.json"));
        using (var m = Mlp(0))
            Assert.Equal(whole, Trainer.Train(m, data, Ce(), Opts(epochs: 2) with { OutDir = dir.Path, Resume = true, Device = "cpu" }).WeightsSha256);
        var record = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(dir.Path, "run.json")))!;
        Assert.Equal("auto", record["device"]);
        File.Delete(Path.Combine(dir.Path, "run.json"));
        using (var m = Mlp(0))
            Assert.Contains("Give the options the run was started with", Assert.Throws<InvalidOperationException>(
                () => Trainer.Train(m, data, Ce(), Opts(epochs: 2) with { OutDir = dir.Path, Resume = true, BatchSize = 32 })).Message, StringComparison.Ordinal);
    }

    /// <summary>A run recorded before weights were spelled to 15 digits ("0.09999999999999998·ce") resumes under the new
    /// spelling, and resumes again: the checkpoints a resume writes are stamped from the record it keeps (they were
    /// stamped from the command's spelling, and the next --resume refused them as another run's). Its run.json lost, the
    /// old spelling is found again for the rebuild.</summary>
    [Fact]
    public void A_run_recorded_in_the_old_weight_spelling_resumes_twice_and_is_rebuilt()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        var objective = () => new Objective().Add(new CrossEntropyTerm(), 1 - 0.9);
        var opts = Opts(epochs: 3) with { OutDir = dir.Path };
        string whole;
        using (var m = Mlp(0)) whole = Trainer.Train(m, data, objective(), Opts(epochs: 3)).WeightsSha256!;
        void StopAt(int step, bool resume)
        {
            using var cts = new CancellationTokenSource();
            using var m = Mlp(0);
            Assert.Throws<TrainingStoppedException>(() => Trainer.Train(m, data, objective(), opts with { Resume = resume, Cancellation = cts.Token, OnStepEnd = s => { if (s == step) cts.Cancel(); } }));
        }
        StopAt(5, resume: false);
        // As the build before wrote it: the record and the checkpoint's stamp in the round trip's spelling.
        var runJson = Path.Combine(dir.Path, "run.json");
        var old = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(runJson))!;
        Assert.Equal("0.1·ce", old["objective"]);
        old["objective"] = $"{1 - 0.9}·ce";
        RunFolder.Record(dir.Path, old);
        Checkpoint.Restamp(Path.Combine(dir.Path, Checkpoint.FileName), RunFolder.Digest(old));
        StopAt(40, resume: true);
        File.Delete(runJson);
        StopAt(60, resume: true);
        using (var m = Mlp(0)) Assert.Equal(whole, Trainer.Train(m, data, objective(), opts with { Resume = true }).WeightsSha256);
        Assert.Equal("0.09999999999999998·ce", System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(runJson))!["objective"]);
    }

    /// <summary>A library caller's own settings beside its own "method" are compared as they are: --kd-temperature and
    /// --alpha are set aside only where the CLI's records make them say nothing.</summary>
    [Fact]
    public void A_library_callers_alpha_beside_its_own_method_is_compared()
    {
        var mine = new Dictionary<string, string> { ["name"] = "x", ["seed"] = "0", ["method"] = "mine", ["alpha"] = "0.3" };
        Assert.Equal(["alpha: 0.3 → 0.7"], RunFolder.Differences(mine, new Dictionary<string, string>(mine) { ["alpha"] = "0.7" }));
        // Plain KD at an α kd refuses (below float32's range) is compared by its flags.
        var tiny = new Dictionary<string, string> { ["name"] = "x (kd)", ["seed"] = "0", ["method"] = "default", ["teacher_model"] = "cnn-8", ["alpha"] = "1E-40", ["kd_temperature"] = "2" };
        Assert.Equal(["kd_temperature: 2 → 8"], RunFolder.Differences(tiny, new Dictionary<string, string>(tiny) { ["kd_temperature"] = "8" }));
    }

    /// <summary>Method lists are kept in one spelling since 317c404: a record from before, typed "2, 3.0", is the same
    /// run as the same command now, which records 2,3 (its --resume was refused).</summary>
    [Fact]
    public void A_record_of_a_list_typed_another_way_is_the_same_run()
    {
        var old = new Dictionary<string, string> { ["method"] = "mlkd temperatures=2, 3.0 weight=0.20", ["name"] = "mlp-32 (mlkd:temperatures=2, 3.0,weight=0.20)" };
        var now = new Dictionary<string, string> { ["method"] = "mlkd temperatures=2,3 weight=0.2", ["name"] = "mlp-32 (mlkd:temperatures=2,3,weight=0.2)" };
        Assert.Empty(RunFolder.Differences(old, now));
        Assert.NotEmpty(RunFolder.Differences(old, new Dictionary<string, string>(now) { ["method"] = "mlkd temperatures=2,4 weight=0.2" }));
    }

    /// <summary>Hinton's (1 − α)·CE at α = 0.9 was recorded as "0.09999999999999998·ce"; it reads 0.1 now, and a record
    /// from before is the same run (its --resume must not be refused), while another weight is not.</summary>
    [Fact]
    public void An_objectives_weights_read_as_written_and_match_a_record_from_before()
    {
        using var m = Mlp(0);
        var objective = new Objective().Add(new CrossEntropyTerm(), 1 - 0.9).Add(new KdTerm(4), 0.9);
        var now = RunFolder.Settings(Opts(), m, objective, TinyData.FashionMnist2k, null);
        Assert.Equal("0.1·ce + 0.9·kd", now["objective"]);
        var old = new Dictionary<string, string>(now) { ["objective"] = "0.09999999999999998·ce + 0.9·kd" };
        Assert.Empty(RunFolder.Differences(old, now));
        Assert.Equal(["objective: 0.2·ce + 0.9·kd → 0.1·ce + 0.9·kd"], RunFolder.Differences(new Dictionary<string, string>(now) { ["objective"] = "0.2·ce + 0.9·kd" }, now));
    }

    /// <summary>A step schedule's weight printed its boundaries as their list's type name, so two runs whose hint phases
    /// ended at different points had the same record and a resume with the other one went on silently.</summary>
    [Fact]
    public void A_step_weights_boundaries_are_recorded_and_a_record_from_before_them_still_resumes()
    {
        using var m = Mlp(0);
        Dictionary<string, string> Record(double end) =>
            RunFolder.Settings(Opts(), m, new Objective().Add(new CrossEntropyTerm(), Schedule.Steps(0, (end, 1))).Add(new KdTerm(4), Schedule.Steps(0.5, (end, 0))), TinyData.FashionMnist2k, null);
        var (half, quarter) = (Record(0.5), Record(0.25));
        Assert.Equal("StepSchedule { Initial = 0, Boundaries = [(0.5, 1)] }·ce + StepSchedule { Initial = 0.5, Boundaries = [(0.5, 0)] }·kd", half["objective"]);
        Assert.Equal(["objective: StepSchedule { Initial = 0, Boundaries = [(0.5, 1)] }·ce + StepSchedule { Initial = 0.5, Boundaries = [(0.5, 0)] }·kd → " +
                      "StepSchedule { Initial = 0, Boundaries = [(0.25, 1)] }·ce + StepSchedule { Initial = 0.5, Boundaries = [(0.25, 0)] }·kd"], RunFolder.Differences(half, quarter));
        // A record (or a checkpoint's stamp) from before cannot say where the steps were: it resumes as it did then.
        const string unprinted = "Boundaries = System.ValueTuple`2[System.Double,System.Double][]";
        var before = new Dictionary<string, string>(half) { ["objective"] = $"StepSchedule {{ Initial = 0, {unprinted} }}·ce + StepSchedule {{ Initial = 0.5, {unprinted} }}·kd" };
        Assert.Empty(RunFolder.Differences(before, quarter));
        Assert.Equal(before, RunFolder.Respelled(half, RunFolder.Digest(before)));
        // A stamp from before both the boundaries and 15-digit weights (1 − 0.9 read 0.09999999999999998).
        var mixed = RunFolder.Settings(Opts(), m, new Objective().Add(new CrossEntropyTerm(), 1 - 0.9).Add(new KdTerm(4), Schedule.Steps(0.5, (0.5, 0))), TinyData.FashionMnist2k, null);
        var older = new Dictionary<string, string>(mixed) { ["objective"] = $"0.09999999999999998·ce + StepSchedule {{ Initial = 0.5, {unprinted} }}·kd" };
        Assert.Equal(older, RunFolder.Respelled(mixed, RunFolder.Digest(older)));
        // What it did say still counts.
        var otherStart = new Dictionary<string, string>(before) { ["objective"] = $"StepSchedule {{ Initial = 0, {unprinted} }}·ce + StepSchedule {{ Initial = 0.7, {unprinted} }}·kd" };
        Assert.Single(RunFolder.Differences(otherStart, half));
    }

    /// <summary>`train --teacher T` without --method is KD at --kd-temperature and --alpha: the same run as `--method kd`
    /// with those settings (the same weights), so a --resume spelled the other way is not refused; other KD settings are.</summary>
    [Fact]
    public void Plain_kd_and_method_kd_with_the_same_settings_are_the_same_run()
    {
        static Dictionary<string, string> Record(string name, string method, string temperature = "4", string teacher = "cnn-8") => new()
        {
            ["name"] = name, ["seed"] = "0", ["method"] = method, ["kd_temperature"] = temperature, ["alpha"] = "0.9", ["teacher_model"] = teacher,
        };
        var kd = global::Distill.Methods.MethodCatalogue.Choose("kd", []);
        var t2 = global::Distill.Methods.MethodCatalogue.Choose("kd", ["temperature=2"]);
        Assert.Empty(RunFolder.Differences(Record("cnn-8 (kd)", "default"), Record("cnn-8 (kd)", kd.Record)));
        Assert.Empty(RunFolder.Differences(Record("cnn-8 (kd)", kd.Record), Record("cnn-8 (kd)", "default")));
        Assert.Empty(RunFolder.Differences(Record("cnn-8 (kd)", "default", temperature: "2"), Record($"cnn-8 ({t2.Label})", t2.Record)));
        // Another temperature is another run, named by what it means where the flags' record reads the same ("default").
        Assert.Equal([$"method: {kd.Record} → {t2.Record}", $"name: cnn-8 (kd) → cnn-8 ({t2.Label})"], RunFolder.Differences(Record("cnn-8 (kd)", "default"), Record("cnn-8 (kd)", "default", temperature: "2")));
        Assert.Equal([$"method: {kd.Record} → {t2.Record}", $"name: cnn-8 (kd) → cnn-8 ({t2.Label})"],
            RunFolder.Differences(Record("cnn-8 (kd)", "default"), Record($"cnn-8 ({t2.Label})", t2.Record)));
        // Without a teacher nothing reads the KD flags.
        Assert.Empty(RunFolder.Differences(Record("mlp-32", "default", teacher: "none"), Record("mlp-32", "default", temperature: "2", teacher: "none")));
        // A lost run.json is rebuilt from either spelling, in the one the checkpoint was stamped with.
        var plain2 = Record("cnn-8 (kd)", "default", temperature: "2");
        var method2 = Record($"cnn-8 ({t2.Label})", t2.Record);
        Assert.Equal(plain2, RunFolder.Respelled(method2, RunFolder.Digest(plain2)));
        Assert.Equal(method2, RunFolder.Respelled(plain2, RunFolder.Digest(method2)));
        Assert.Null(RunFolder.Respelled(plain2, RunFolder.Digest(Record("cnn-8 (kd)", "default", temperature: "3"))));
        // A recipe run stamped before its record held a method (or a budget) is rebuilt without the key.
        var recipe = new Dictionary<string, string> { ["name"] = "kd", ["seed"] = "0", ["budget"] = "smoke", ["method"] = kd.Record };
        var before = new Dictionary<string, string>(recipe.Where(kv => kv.Key != "method"));
        Assert.Equal(before, RunFolder.Respelled(recipe, RunFolder.Digest(before)));
        Assert.Null(RunFolder.Respelled(recipe, RunFolder.Digest(new Dictionary<string, string>(before) { ["seed"] = "1" })));
    }

    /// <summary>Only a readable run record above --out makes it a run's folder: a project with another tool's
    /// metrics.csv or run.json refused every --out under it (naming the wrong file, for a run.json).</summary>
    [Fact]
    public void Only_a_run_record_above_out_makes_it_a_runs_folder()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "metrics.csv"), "step,loss\n");
        File.WriteAllText(Path.Combine(dir.Path, "run.json"), "{\"tool\": 1}");
        Assert.Null(RunFolder.InsideRunError(Path.Combine(dir.Path, "out")));
        File.WriteAllText(Path.Combine(dir.Path, "run.json"), "{\"name\": \"mlp-32\", \"seed\": \"0\"}");
        Assert.StartsWith($"--out {Path.Combine(dir.Path, "out", "x")} is inside the run folder {dir.Path} (mlp-32, seed 0, started ?)",
            RunFolder.InsideRunError(Path.Combine(dir.Path, "out", "x")), StringComparison.Ordinal);
        // The run's own folder, written with a trailing separator (a shell's completion adds it), is not inside itself.
        Assert.Null(RunFolder.InsideRunError(dir.Path + Path.DirectorySeparatorChar));
        Assert.Null(RunFolder.InsideRunError(dir.Path));
    }

    /// <summary>A resume of a finished run trains no epoch, and left a deleted or damaged metrics.csv as it was: it is
    /// written again from the checkpoint's history, as the run wrote it.</summary>
    [Fact]
    public void A_resume_writes_metrics_csv_again_from_the_checkpoint()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 2) with { OutDir = dir.Path });
        var csv = Path.Combine(dir.Path, "metrics.csv");
        var written = File.ReadAllText(csv);
        File.Delete(csv);
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 2) with { OutDir = dir.Path, Resume = true });
        Assert.Equal(written, File.ReadAllText(csv));
        File.WriteAllText(csv, "garbage\n\u0001\u0002");
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 2) with { OutDir = dir.Path, Resume = true });
        Assert.Equal(written, File.ReadAllText(csv));
    }

    /// <summary>The first epoch's divergence test compares with the run's first step's loss, which was not saved: a run
    /// stopped inside epoch 1 and resumed lost that epoch's flag, and its metrics.csv differed from the uninterrupted
    /// run's. The loss is saved with the checkpoint; a checkpoint written before it still loads.</summary>
    [Fact]
    public void A_run_stopped_inside_its_first_epoch_is_flagged_as_the_uninterrupted_run()
    {
        var data = TinyData.FashionMnist2k;
        using var dirA = new TempDir();
        using var dirB = new TempDir();
        var opts = Opts(epochs: 1) with
        {
            Optimizer = OptimizerSpec.Sgd(lr: 1000, weightDecay: 0), ClipGradNorm = 1, Schedule = LrSchedule.Constant,
        };
        using (var m = Build.Mlp(0, 256)) Trainer.Train(m, data, Ce(), opts with { OutDir = dirA.Path });
        var csvA = File.ReadAllLines(Path.Combine(dirA.Path, "metrics.csv"));
        Assert.EndsWith(",flag", csvA[0], StringComparison.Ordinal); // the premise: epoch 1 diverged

        using (var cts = new CancellationTokenSource())
        using (var m = Build.Mlp(0, 256))
            Assert.Throws<TrainingStoppedException>(() => Trainer.Train(m, data, Ce(),
                opts with { OutDir = dirB.Path, Cancellation = cts.Token, OnStepEnd = s => { if (s == 5) cts.Cancel(); } }));
        Assert.NotNull(Checkpoint.ReadInfo(Path.Combine(dirB.Path, Checkpoint.FileName)).FirstStepLoss);
        using (var m = Build.Mlp(1, 256)) Trainer.Train(m, data, Ce(), opts with { OutDir = dirB.Path, Resume = true });
        Assert.Equal(WithoutTimes(csvA), WithoutTimes(File.ReadAllLines(Path.Combine(dirB.Path, "metrics.csv"))));

        var older = System.Text.Json.JsonSerializer.Deserialize<CheckpointInfo>("""{"Name":"run","Seed":0,"Epoch":1,"Step":3,"Parameters":7,"Optimizer":"sgd","History":[]}""")!;
        Assert.Null(older.FirstStepLoss);
    }

    /// <summary>The epoch a run was stopped in took the time before the stop too: its seconds were only the part after
    /// the resume, and its images per second the whole epoch over that part. The checkpoint carries the time before.</summary>
    [Fact]
    public void A_resumed_epochs_time_includes_the_part_before_the_stop()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        var opts = Opts(epochs: 1) with { OutDir = dir.Path };
        using (var cts = new CancellationTokenSource())
        using (var m = Build.Mlp(0, 256))
            Assert.Throws<TrainingStoppedException>(() => Trainer.Train(m, data, Ce(), opts with
            {
                Cancellation = cts.Token,
                OnStepEnd = s => { if (s == 3) { Thread.Sleep(1500); cts.Cancel(); } },
            }));
        var stopped = Checkpoint.ReadInfo(Path.Combine(dir.Path, Checkpoint.FileName)).InProgress!;
        Assert.InRange(stopped.Seconds, 1.5, 60);
        TrainResult resumed;
        using (var m = Build.Mlp(1, 256)) resumed = Trainer.Train(m, data, Ce(), opts with { Resume = true });
        var epoch = Assert.Single(resumed.History);
        Assert.InRange(epoch.Seconds, stopped.Seconds, 120);
        Assert.InRange(epoch.SamplesPerSecond, 0, data.Train.Count / stopped.Seconds);
        // A checkpoint from before the time was kept still loads, with none.
        Assert.Equal(0, System.Text.Json.JsonSerializer.Deserialize<EpochProgress>("""{"Epoch":1,"Batch":3,"Sums":[1,2],"Correct":3}""")!.Seconds);
    }

    /// <summary>A checkpoint copied from a run with another setting (same model, seed and optimizer) loaded fine and the
    /// two runs were stitched together; without run.json nothing was checked at all. Both are refused, nothing changed.</summary>
    [Fact]
    public void A_checkpoint_from_another_run_or_without_its_record_is_refused_on_resume()
    {
        var data = TinyData.FashionMnist2k;
        using var a = new TempDir();
        using var b = new TempDir();
        TrainOptions For(string dir, string alpha) => Opts(epochs: 1) with { OutDir = dir, Settings = new Dictionary<string, string> { ["alpha"] = alpha } };
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), For(a.Path, "0.5"));
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), For(b.Path, "0.9"));
        var ckpt = Path.Combine(b.Path, Checkpoint.FileName);
        var record = Path.Combine(b.Path, "run.json");
        File.Copy(Path.Combine(a.Path, Checkpoint.FileName), ckpt, overwrite: true);
        var before = File.ReadAllText(record);

        using var again = Mlp(0);
        var e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), For(b.Path, "0.9") with { Resume = true }));
        Assert.StartsWith($"--resume {b.Path}: {ckpt} was written by another run than the one {record} records (its settings digest ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("Resume in the folder the checkpoint came from, or restore that run's run.json here, or pass --force (instead of --resume; Force = true in TrainOptions) to start over here.", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(record));

        File.Delete(record);
        e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), For(b.Path, "0.9") with { Resume = true }));
        Assert.Equal($"--resume {b.Path}: the run record {record} is missing, so the settings the checkpoint was trained with cannot be read from it. " +
                     "Give the options the run was started with (its checkpoint's settings stamp then matches and the record is rebuilt from them), " +
                     "pass --force (instead of --resume; Force = true in TrainOptions) to clear the folder and start over, or give another folder.", e.Message);
        Assert.False(File.Exists(record));
        // A sweep has no --force: it says how to start its run over in its own terms.
        e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), For(b.Path, "0.9") with { Resume = true, StartOverAdvice = "remove runs/3 to start this run over" }));
        Assert.EndsWith("rebuilt from them), remove runs/3 to start this run over, or give another folder.", e.Message, StringComparison.Ordinal);
        // Nor a --resume: it names the folder it resumes.
        e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), For(b.Path, "0.9") with { Resume = true, ResumeAdvice = "`sweep run` again" }));
        Assert.StartsWith($"resuming {b.Path}: the run record {record} is missing", e.Message, StringComparison.Ordinal);

        // Its own checkpoint, with its own record, resumes (nothing left to run).
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), For(a.Path, "0.5") with { Resume = true });

        // A record edited since (it no longer matches its checkpoint): neither its settings nor the checkpoint's resumed,
        // and the refusal asked for "the same settings", which no command had. It names the mismatch and the way out.
        var edited = Path.Combine(a.Path, "run.json");
        File.WriteAllText(edited, File.ReadAllText(edited).Replace("\"alpha\": \"0.5\"", "\"alpha\": \"0.7\"", StringComparison.Ordinal));
        var aCkpt = Path.Combine(a.Path, Checkpoint.FileName);
        e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), For(a.Path, "0.5") with { Resume = true }));
        Assert.StartsWith($"--resume {a.Path}: {aCkpt} was written by another run than the one {edited} records", e.Message, StringComparison.Ordinal);
        Assert.EndsWith($"This command's settings are the checkpoint's: if {edited} was edited or copied in, delete it and --resume rebuilds it from them.", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), For(a.Path, "0.7") with { Resume = true }));
        Assert.EndsWith("Resume in the folder the checkpoint came from, or restore that run's run.json here, or pass --force (instead of --resume; Force = true in TrainOptions) to start over here.", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), For(a.Path, "0.9") with { Resume = true }));
        Assert.EndsWith("Resume in the folder the checkpoint came from, or restore that run's run.json here, or pass --force (instead of --resume; Force = true in TrainOptions) to start over here.", e.Message, StringComparison.Ordinal);
        File.Delete(edited);
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), For(a.Path, "0.5") with { Resume = true });
        Assert.Contains("\"alpha\": \"0.5\"", File.ReadAllText(edited), StringComparison.Ordinal);
    }

    /// <summary>Valid JSON of another shape in run.json was "could not be converted to System..." or, for null, a diff of
    /// every setting against nothing: it is named as no run record, and kept. Resumed with other settings than the
    /// checkpoint's stamp it is refused; with the run's own settings the record is rebuilt from them and the run goes on
    /// (it was refused, and the only way offered, --force, threw away the checkpoint's epochs).</summary>
    [Theory]
    [InlineData("[1,2]", "it holds a list where a run record holds an object of settings")]
    [InlineData("null", "it holds null where a run record holds an object of settings")]
    [InlineData("{\"seed\": [1]}", "its setting 'seed' is a list where a run record holds text")]
    [InlineData("{\"name\": \"mlp\", \"seed\": 0}", "its setting 'seed' is a number where a run record holds text")]
    [InlineData("{}", "it has no 'name' and 'seed' settings, which every run record has")]
    [InlineData("{\"seed\": ", "")]
    public void A_run_record_of_another_shape_is_refused_on_resume_as_no_run_record(string json, string why)
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path });
        var record = Path.Combine(dir.Path, "run.json");
        File.WriteAllText(record, json);

        using var again = Mlp(0);
        var other = Opts(epochs: 1) with { OutDir = dir.Path, Resume = true, Settings = new Dictionary<string, string> { ["alpha"] = "0.1" } };
        var e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), other));
        Assert.StartsWith($"--resume {dir.Path}: {record}: not a run record ({why}", e.Message, StringComparison.Ordinal);
        Assert.Contains("); it was damaged or written by something else. Give the options the run was started with", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", e.Message, StringComparison.Ordinal);
        Assert.Equal(json, File.ReadAllText(record)); // kept

        var log = new StringWriter();
        var resumed = Trainer.Train(again, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true, Log = log });
        Assert.Equal([1], resumed.History.Select(h => h.Epoch)); // the checkpoint's epoch, not trained again
        Assert.Contains($"This command's settings match the checkpoint's stamp, so the record was rebuilt from them (the damaged one is {record}.damaged)", log.ToString());
        Assert.Equal(json, File.ReadAllText(record + ".damaged"));
        Assert.Contains("\"seed\"", File.ReadAllText(record));
    }

    /// <summary>A user's own run.json (no run record) is refused as "written by something else"; --force deleted it with
    /// the run's files. It is kept beside as run.json.damaged, and the new run starts.</summary>
    [Fact]
    public void Force_keeps_a_run_json_that_is_no_run_record()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        var record = Path.Combine(dir.Path, "run.json");
        const string mine = "{\"experiment\":\"mine\",\"notes\":\"keep\"}";
        File.WriteAllText(record, mine);
        using var m = Mlp(0);
        Assert.Throws<InvalidDataException>(() => Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path }));
        var log = new StringWriter();
        Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Force = true, Log = log });
        Assert.Equal(mine, File.ReadAllText(record + ".damaged"));
        Assert.Contains($"--force: {record}: not a run record (it has no 'name' and 'seed' settings, which every run record has); kept as {record}.damaged", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("\"seed\"", File.ReadAllText(record));
    }

    /// <summary>Without its run.json, a checkpoint resumed at another thread count was refused with "give the options the
    /// run was started with", though the options typed were the same: the thread count is found from the stamp and named.</summary>
    [Fact]
    public void A_resume_without_its_record_at_another_thread_count_names_the_count()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        TorchRuntime.Initialize();
        var before = TorchRuntime.Threads;
        try
        {
            TorchRuntime.Initialize(threads: 2);
            using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path });
            File.Delete(Path.Combine(dir.Path, "run.json"));
            TorchRuntime.Initialize(threads: 1);
            using var again = Mlp(0);
            var e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(again, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true }));
            Assert.Contains("Its checkpoint was trained at 2 threads and this run has 1: resume at 2 (DISTILL_THREADS=2 for train, --threads 2 for sweep run)", e.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir.Path, "run.json")));
        }
        finally { TorchRuntime.Initialize(threads: before); }
    }

    /// <summary>A last.ckpt that is a symbolic link to nothing failed with a bare "Could not find file".</summary>
    [Fact]
    public void A_checkpoint_that_is_a_dangling_link_is_named_with_the_fix()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path });
        var path = Path.Combine(dir.Path, Checkpoint.FileName);
        var gone = Path.Combine(dir.Path, "moved-away.ckpt");
        File.Delete(path);
        File.CreateSymbolicLink(path, gone);

        using var again = Mlp(0);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Train(again, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true }));
        Assert.Equal($"'{path}' is a symbolic link that points nowhere ('{gone}' does not exist). Point it at the run's checkpoint again, or delete the link to start the run afresh.", e.Message);
        Assert.Equal(gone, new FileInfo(path).LinkTarget); // the link is kept
    }

    [Fact]
    public void A_folder_where_the_checkpoint_goes_is_refused_before_training()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, Checkpoint.FileName));
        using var m = Mlp(0);
        var e = Assert.Throws<ArgumentException>(() => Trainer.Train(m, TinyData.FashionMnist2k, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true }));
        Assert.Contains($"{Path.Combine(dir.Path, Checkpoint.FileName)} is a folder where the run writes a file", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "metrics.csv"))); // refused before any epoch ran
    }

    /// <summary>A file named tb failed after the first epoch ("The file '.../tb' already exists"), that epoch lost; a
    /// folder named run.lock failed as "Access to the path is denied". Both are refused up front, naming the path.</summary>
    [Fact]
    public void A_file_where_the_events_go_or_a_folder_where_the_lock_goes_is_refused_before_training()
    {
        using var dir = new TempDir();
        var tb = Path.Combine(dir.Path, "tb");
        File.WriteAllText(tb, "f\n");
        using var m = Mlp(0);
        var e = Assert.Throws<ArgumentException>(() => Trainer.Train(m, TinyData.FashionMnist2k, Ce(), Opts(epochs: 1) with { OutDir = dir.Path }));
        Assert.Equal($"--out {dir.Path}: {tb} is a file where the run writes its TensorBoard folder; move it away, or give another --out.", e.Message);
        Assert.False(File.Exists(Path.Combine(dir.Path, "metrics.csv")));
        Assert.Equal("f\n", File.ReadAllText(tb));
        File.Delete(tb);

        var runLock = Path.Combine(dir.Path, "run.lock");
        Directory.CreateDirectory(runLock);
        e = Assert.Throws<ArgumentException>(() => Trainer.Train(m, TinyData.FashionMnist2k, Ce(), Opts(epochs: 1) with { OutDir = dir.Path }));
        Assert.Equal($"--out {dir.Path}: {runLock} is a folder where the run writes a file; move it away, or give another --out.", e.Message);
        Assert.True(Directory.Exists(runLock));
    }

    /// <summary>A resume whose checkpoint is gone starts afresh: the old run's events stayed in tb/ beside the new run's,
    /// and TensorBoard showed each epoch twice.</summary>
    [Fact]
    public void A_resume_without_a_checkpoint_starts_its_events_afresh()
    {
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, TinyData.FashionMnist2k, Ce(), Opts(epochs: 2) with { OutDir = dir.Path });
        File.Delete(Path.Combine(dir.Path, Checkpoint.FileName));
        using (var m = Mlp(0)) Trainer.Train(m, TinyData.FashionMnist2k, Ce(), Opts(epochs: 2) with { OutDir = dir.Path, Resume = true });
        var events = TfEvents.Scalars(Path.Combine(dir.Path, "tb"));
        Assert.Equal(2, events.Count(e => e.Tag.EndsWith("/test_acc", StringComparison.Ordinal)));
        Assert.Equal(events.Count, events.DistinctBy(e => (e.Tag, e.Step)).Count());
        Assert.Equal(3, File.ReadAllLines(Path.Combine(dir.Path, "metrics.csv")).Length);
    }

    /// <summary>Opening a run folder deleted every ".*.tmp" in it, a user's ".notes.tmp" too: only the temp files
    /// AtomicFile names go.</summary>
    [Fact]
    public void Opening_a_run_folder_removes_only_the_temp_files_an_atomic_write_left()
    {
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, TinyData.FashionMnist2k, Ce(), Opts(epochs: 1) with { OutDir = dir.Path });
        var notes = Path.Combine(dir.Path, ".notes.tmp");
        // The last as earlier builds named them (no random part).
        var leftovers = new[] { Path.Combine(dir.Path, ".last.ckpt.4242-0badf00d.tmp"), Path.Combine(dir.Path, ".tmp-4242-0badf00d.tmp"), Path.Combine(dir.Path, ".run.json.4242.tmp") };
        File.WriteAllText(notes, "mine");
        foreach (var l in leftovers) File.WriteAllText(l, "half");
        using (var m = Mlp(0)) Trainer.Train(m, TinyData.FashionMnist2k, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true });
        Assert.Equal("mine", File.ReadAllText(notes));
        Assert.All(leftovers, l => Assert.False(File.Exists(l), l));
        Assert.False(AtomicFile.IsTempName(".x.tmp"));
        Assert.False(AtomicFile.IsTempName(".notes.1-2.tmp"));
        Assert.True(AtomicFile.IsTempName("/a/.run.json.1-0000abcd.tmp"));
    }

    [Theory]
    [InlineData(0.0)]  // the header: magic, version, a string's length
    [InlineData(0.01)] // the run information
    [InlineData(0.6)]  // weights or optimizer state
    public void A_checkpoint_with_changed_bytes_fails_naming_the_file_wherever_the_change_is(double at)
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using (var m = Mlp(0)) Trainer.Train(m, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path });
        var path = Path.Combine(dir.Path, Checkpoint.FileName);
        var bytes = File.ReadAllBytes(path);
        var start = (int)(at * bytes.Length);
        for (var i = start; i < start + 16; i++) bytes[i] ^= 0x5a; // same length, end marker intact
        File.WriteAllBytes(path, bytes);

        using var again = Mlp(0);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Train(again, data, Ce(), Opts(epochs: 1) with { OutDir = dir.Path, Resume = true }));
        Assert.Contains(path, e.Message);
        Assert.Equal(bytes, File.ReadAllBytes(path)); // the evidence is kept
    }

    [Fact]
    public void No_tensors_leak_across_steps_and_epochs()
    {
        var data = TinyData.FashionMnist2k;
        using var teacher = Mlp(5);
        using var m = Mlp(0);
        var afterStep = new List<long>();
        var afterEpoch = new List<long>();
        var stats = DisposeScopeManager.Statistics;
        var opts = Opts(epochs: 3) with
        {
            Augment = new Augmentation(2, true),
            OnStepEnd = _ => afterStep.Add(stats.ThreadTotalLiveCount),
            OnEpochEnd = _ => afterEpoch.Add(stats.ThreadTotalLiveCount),
        };
        Trainer.Train(m, data, new Objective().Add(new CrossEntropyTerm()).Add(new KdTerm(4), 0.5), opts, teacher);

        // The first step creates the momentum buffers, which live as long as the optimiser; after that, nothing grows.
        Assert.True(afterStep.Count > 60);
        Assert.All(afterStep.Skip(1), c => Assert.Equal(afterStep[1], c));
        Assert.All(afterEpoch, c => Assert.Equal(afterEpoch[0], c));
    }

    [Fact]
    public void NaN_loss_stops_the_run_naming_epoch_step_and_term()
    {
        var data = TinyData.FashionMnist2k;
        using var m = Mlp(0);
        var steps = 2000 / 64 + 1; // 32 steps per epoch
        var obj = new Objective().Add(new CrossEntropyTerm()).Add(new NanAtStepTerm(steps + 4));
        var e = Assert.Throws<NonFiniteLossException>(() => Trainer.Train(m, data, obj, Opts(epochs: 3)));
        Assert.Equal(2, e.Epoch);
        Assert.Equal(steps + 4, e.Step);
        Assert.Equal("boom", e.Term);
        Assert.Contains("epoch 2", e.Message);
        Assert.Contains($"step {steps + 4}", e.Message);
        Assert.Contains("'boom'", e.Message);
        Assert.True(m.parameters().All(p => p.isfinite().all().item<bool>()), "the NaN step must not reach the weights");
        Assert.Contains("--clip N on the command line", e.Message, StringComparison.Ordinal);

        // A caller whose users set other keys (a sweep spec has no --clip) gives its own advice.
        using var again = Mlp(0);
        var advised = Assert.Throws<NonFiniteLossException>(() => Trainer.Train(again, data, new Objective().Add(new CrossEntropyTerm()).Add(new NanAtStepTerm(3)),
            Opts(epochs: 1) with { NonFiniteAdvice = "Lower optimizer.lr in the spec." }));
        Assert.EndsWith("in term 'boom'. Lower optimizer.lr in the spec.", advised.Message, StringComparison.Ordinal);
    }

    /// <summary>A term under a weight of 0 (a warm-up's first steps) that is Infinity stops the run as any other: it was
    /// left out of the total, went on into the epoch's record, and the run ended on .NET's JSON error with no checkpoint.</summary>
    [Fact]
    public void A_non_finite_term_under_a_weight_of_0_stops_the_run_naming_it()
    {
        using var m = Mlp(0);
        var obj = new Objective().Add(new CrossEntropyTerm()).Add(new NanAtStepTerm(0), Schedule.Linear(0, 1));
        var e = Assert.Throws<NonFiniteLossException>(() => Trainer.Train(m, TinyData.FashionMnist2k, obj, Opts(epochs: 1)));
        Assert.Equal("boom", e.Term);
        Assert.Equal(0, e.Step);
        Assert.True(m.parameters().All(p => p.isfinite().all().item<bool>()));
    }

    /// <summary>A method's term of size 1e30 broke the weights in its update, and the next step's NaN was blamed on the
    /// first term, the cross-entropy, with advice for it: the message now names the previous step's largest term.</summary>
    [Fact]
    public void NaN_in_every_term_after_a_finite_step_names_the_previous_steps_largest_term()
    {
        using var m = Mlp(0);
        var obj = new Objective().Add(new CrossEntropyTerm()).Add(new HugeTerm());
        var e = Assert.Throws<NonFiniteLossException>(() => Trainer.Train(m, TinyData.FashionMnist2k, obj, Opts(epochs: 1)));
        Assert.Equal("huge", e.Term);
        Assert.Contains("in every term: the previous step's update made the weights non-finite. Its terms were ce ", e.Message, StringComparison.Ordinal);
        Assert.Contains("the largest weighted, 'huge', is the likely cause", e.Message, StringComparison.Ordinal);

        // A small term under a huge weight (sp's 2e-4 × 1e30): compared unweighted, the cross-entropy was blamed.
        using var w = Mlp(0);
        var weighted = new Objective().Add(new CrossEntropyTerm()).Add(new SmallTerm(), 1e34);
        e = Assert.Throws<NonFiniteLossException>(() => Trainer.Train(w, TinyData.FashionMnist2k, weighted, Opts(epochs: 1)));
        Assert.Equal("small", e.Term);
        Assert.Contains(" × weight 1E+34; the largest weighted, 'small', is the likely cause", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Teacher_cache_rule_is_enforced()
    {
        var logits = new Objective().Add(new CrossEntropyTerm()).Add(new KdTerm(4));
        var features = new Objective().Add(new CrossEntropyTerm()).Add(Build.Hint());
        var aug = new Augmentation(2, true);
        Assert.Equal(TeacherSource.None, TeacherCache.Decide(Ce(), Augmentation.None, TeacherCacheMode.Always));
        Assert.Equal(TeacherSource.Cached, TeacherCache.Decide(logits, Augmentation.None, TeacherCacheMode.Auto));
        Assert.Equal(TeacherSource.Live, TeacherCache.Decide(logits, aug, TeacherCacheMode.Auto));
        Assert.Equal(TeacherSource.Live, TeacherCache.Decide(features, Augmentation.None, TeacherCacheMode.Auto));
        Assert.Equal(TeacherSource.Live, TeacherCache.Decide(logits, Augmentation.None, TeacherCacheMode.Never));
        Assert.Contains("augmented", Assert.Throws<InvalidOperationException>(() => TeacherCache.Decide(logits, aug, TeacherCacheMode.Always)).Message);
        Assert.Contains("hint", Assert.Throws<InvalidOperationException>(() => TeacherCache.Decide(features, Augmentation.None, TeacherCacheMode.Always)).Message);
    }

    [Fact]
    public void Cached_teacher_runs_once_per_set_and_trains_like_the_live_teacher()
    {
        var data = TinyData.FashionMnist2k;
        var obj = new Objective().Add(new CrossEntropyTerm(), 0.5).Add(new KdTerm(4), 0.5);
        using var teacher = Mlp(7);
        var teacherForwards = 0;
        teacher.register_forward_hook(_ => teacherForwards++);
        Trainer.Train(teacher, data, Ce(), Opts(seed: 7, epochs: 2));
        var teacherWeights = teacher.parameters().Select(p => p.detach().clone()).ToList();

        (TrainResult, int) Run(TeacherCacheMode mode)
        {
            using var m = Mlp(0);
            var before = teacherForwards;
            var r = Trainer.Train(m, data, obj, Opts(epochs: 2) with { TeacherCache = mode }, teacher);
            return (r, teacherForwards - before);
        }
        var (cached, cachedForwards) = Run(TeacherCacheMode.Auto);
        var (live, liveForwards) = Run(TeacherCacheMode.Never);

        Assert.Equal(TeacherSource.Cached, cached.Teacher);
        Assert.Equal(TeacherSource.Live, live.Teacher);
        Assert.Equal(2, cachedForwards);                 // 2,000 images in eval batches of 1,000, once
        Assert.Equal(2 * 32, liveForwards);              // every step of both epochs
        // Same teacher logits either way (up to batch-size rounding in the teacher's matmuls).
        Assert.InRange(Math.Abs(live.LastAccuracy - cached.LastAccuracy), 0, 1.0);
        Assert.InRange(Math.Abs(live.History[^1].TrainLoss - cached.History[^1].TrainLoss), 0, 1e-2);
        // The teacher stays frozen: unchanged weights, no gradients.
        Assert.True(teacher.parameters().Zip(teacherWeights).All(p => p.First.SameAs(p.Second)));
        Assert.All(teacher.parameters(), p => Assert.False(p.requires_grad));

        using var m2 = Mlp(0);
        Assert.Throws<InvalidOperationException>(() => Trainer.Train(m2, data, obj,
            Opts(epochs: 1) with { TeacherCache = TeacherCacheMode.Always, Augment = Augmentation.Cifar with { CropPadding = 2 } }, teacher));
    }

    [Fact]
    public void Writes_csv_tensorboard_and_a_dataframe_and_holds_out_validation()
    {
        var data = TinyData.FashionMnist2k;
        using var dir = new TempDir();
        using var m = Mlp(0);
        using var teacher = Mlp(1);
        var log = new StringWriter();
        var steps = 0;
        var r = Trainer.Train(m, data, new Objective().Add(new CrossEntropyTerm()).Add(new KdTerm(2), 0.5),
            Opts(epochs: 2) with { OutDir = dir.Path, ValidationCount = 500, Log = log, Name = "mlp", OnStepEnd = _ => steps++ }, teacher);

        var csv = File.ReadAllLines(Path.Combine(dir.Path, "metrics.csv"));
        Assert.Equal("epoch,lr,train_loss,loss_ce,loss_kd,train_acc,val_acc,test_acc,seconds,samples_per_s", csv[0]);
        Assert.Equal(3, csv.Length);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(dir.Path, "tb"), "events.out.tfevents.*"));
        Assert.True(new FileInfo(Directory.GetFiles(Path.Combine(dir.Path, "tb"))[0]).Length > 100);

        var df = r.ToDataFrame();
        Assert.Equal(2, df.Rows.Count);
        Assert.Equal(r.History[1].TestAccuracy, (double)df["test_acc"][1]!);
        Assert.All(r.History, h => Assert.NotNull(h.ValidationAccuracy));
        // 1,500 training images after holding out 500: 24 batches of 64 per epoch.
        Assert.Equal(2 * 24, steps);
        Assert.Contains("mlp epoch   2/2", log.ToString());
        Assert.Contains("val ", log.ToString());
    }

    [Fact]
    public void Multi_seed_table_keeps_rows_and_reports_mean_and_std()
    {
        var table = new RunTable()
            .Add(new RunRow("kd", 0, 80, 79, 3, 100)).Add(new RunRow("kd", 1, 82, 81, 4, 100)).Add(new RunRow("scratch", 0, 70, 70, 2, 100));
        var kd = table["kd"];
        Assert.Equal(81, kd.BestMean, 10);
        Assert.Equal(Math.Sqrt(2), kd.BestStd, 10);
        Assert.Equal("81.00 ± 1.41", kd.Best);
        Assert.Equal(3, table.ToDataFrame().Rows.Count);
        Assert.Equal(2, table.SummaryFrame().Rows.Count);
        Assert.Throws<KeyNotFoundException>(() => table["nope"]);
    }
}

public class DivergenceTests
{
    static EpochMetrics Epoch(int epoch, double loss, double test) => new(epoch, 0.1, loss, [], 50, null, test, 1, 1);

    /// <summary>In one kernel, a divergence in one notebook was attached to every result row of the notebooks run after
    /// it: Notebook.Start(), every notebook's first cell, starts the warnings afresh as `distill run` does.</summary>
    [Fact]
    public void Notebook_start_begins_the_notebooks_training_warnings_afresh()
    {
        TorchRuntime.Initialize();
        TrainingWarnings.Add("earlier notebook's run", 0, "diverged: test");
        Assert.Contains("earlier notebook's run seed 0 diverged: test", TrainingWarnings.Since());
        Distill.Notebook.Start();
        Assert.DoesNotContain("earlier notebook's run seed 0 diverged: test", TrainingWarnings.Since());
        Assert.Equal("quick", Distill.Experiments.Budgets.Name(Distill.Experiments.Budget.Quick));
    }

    /// <summary>A cnn-8 trained under a cnn (seed 0) for <paramref name="epochs"/> on 2,000 images, its objective built
    /// from a stage-1 hint term by <paramref name="build"/>; warnings cleared first.</summary>
    static TrainResult TrainCnn8UnderCnn(int epochs, Func<Objective, HintTerm, Objective> build)
    {
        TrainingWarnings.Clear();
        torch.manual_seed(0);
        using var student = ModelZoo.Create("cnn-8", 1, 10);
        using var teacher = ModelZoo.Create("cnn", 1, 10);
        var objective = build(new Objective(), new HintTerm("stage1", "stage1", HintRegressor.Conv(8, 32)));
        return Trainer.Train(student, TinyData.FashionMnist2k, objective,
            new TrainOptions { Epochs = epochs, Seed = 0, Progress = false, TeacherCache = TeacherCacheMode.Never }, teacher);
    }

    [Fact]
    public void A_hint_only_stage_leaves_the_classifier_at_chance_without_a_divergence_warning()
    {
        var r = TrainCnn8UnderCnn(2, (o, hint) => o.Add(hint));
        // The premise: the untouched classifier is at chance (≤ 15 % for 10 classes), which on a run that trains it
        // would be flagged.
        Assert.True(r.History[^1].TestAccuracy <= 15, $"test accuracy {r.History[^1].TestAccuracy}%");
        Assert.Null(r.Warning);
        Assert.All(r.History, h => Assert.Null(h.Flag));
    }

    /// <summary>FitNets' two stages in one objective (hint_fraction &lt; 1): the cross-entropy is in it with weight 0 during
    /// the hint stage, whose accuracy at chance was flagged as divergence; it is judged by the weights of each epoch.</summary>
    [Fact]
    public void A_hint_stage_inside_a_two_stage_objective_is_not_flagged_at_chance()
    {
        var r = TrainCnn8UnderCnn(3, (o, hint) => o.Add(new CrossEntropyTerm(), Schedule.Steps(0, (0.7, 1))).Add(hint, Schedule.Steps(1, (0.7, 0))));
        Assert.True(r.History[1].TestAccuracy <= 15, $"the premise: epoch 2 (hints only) at chance, got {r.History[1].TestAccuracy}%");
        Assert.Null(r.History[1].Flag);
        Assert.Null(r.Warning);
    }

    [Fact]
    public void A_diverging_run_is_flagged_in_its_result_its_metrics_and_the_result_rows_recorded_after_it()
    {
        using var dir = new TempDir();
        TrainingWarnings.Clear();
        using var model = Build.Mlp(0);
        var log = new StringWriter();
        var opts = new TrainOptions
        {
            Epochs = 3, Seed = 0, Optimizer = OptimizerSpec.Sgd(3.0), Schedule = LrSchedule.Constant, OutDir = dir.Path, Progress = false,
            Log = log,
        };
        var r = Trainer.Train(model, TinyData.FashionMnist2k, Build.Ce(), opts);
        Assert.NotNull(r.Warning);
        Assert.StartsWith("diverged:", r.Warning, StringComparison.Ordinal);
        // The log says it after the flagged epoch's own line (it came before it), and once.
        var lines = log.ToString().Split('\n');
        var at = Assert.Single(Enumerable.Range(0, lines.Length), i => lines[i].StartsWith("warning: ", StringComparison.Ordinal));
        var flagged = r.History.First(h => h.Flag is not null).Epoch;
        Assert.StartsWith($"{r.Name} epoch {flagged,3}/3", lines[at - 1], StringComparison.Ordinal);
        Assert.EndsWith(",flag", File.ReadLines(Path.Combine(dir.Path, "metrics.csv")).First(), StringComparison.Ordinal);
        Assert.Contains("warning", Distill.Reporting.Tables.ToDataFrame(new RunTable().Add(r)).Columns.Select(c => c.Name));

        var results = Path.Combine(dir.Path, "results.jsonl");
        Environment.SetEnvironmentVariable(Distill.Reporting.Results.FileVariable, results);
        try
        {
            Distill.Reporting.Results.Record(new("p", "claim", "setting", "test acc %", 10, 0, 1, "90", "not reproduced", "smoke"));
        }
        finally { Environment.SetEnvironmentVariable(Distill.Reporting.Results.FileVariable, null); }
        var row = Assert.Single(Distill.Reporting.Results.Read(results));
        Assert.Contains($"{r.Name} seed 0 diverged:", row.Warning, StringComparison.Ordinal);
        Assert.Contains("(warning: ", Distill.Reporting.Results.ToMarkdown([row]), StringComparison.Ordinal);
        TrainingWarnings.Clear();
    }

    [Fact]
    public void A_loss_over_ten_thousand_times_the_first_or_accuracy_at_chance_from_epoch_two_is_flagged()
    {
        var first = Epoch(1, 2.3, 60);
        Assert.Null(TrainingRun.Divergence(first, first, 10));
        // In the first epoch, against its first step: an explosion within it is flagged at once.
        Assert.Contains("over epoch 1 is over 10^4 times its first step's (2.3)", TrainingRun.Divergence(Epoch(1, 1.06e12, 8), Epoch(1, 1.06e12, 8), 10, firstStepLoss: 2.3));
        Assert.Null(TrainingRun.Divergence(Epoch(1, 2.1, 60), Epoch(1, 2.1, 60), 10, firstStepLoss: 2.3));
        Assert.Null(TrainingRun.Divergence(Epoch(1, 2.3, 9), Epoch(1, 2.3, 9), 10)); // epoch 1 may still be at chance
        Assert.Contains("over 10^4 times", TrainingRun.Divergence(Epoch(3, 2.3e5, 60), first, 10));
        Assert.Null(TrainingRun.Divergence(Epoch(3, 2.2e4, 60), first, 10));
        Assert.Contains("at chance (10% for 10 classes)", TrainingRun.Divergence(Epoch(2, 2.0, 7.6), first, 10));
        Assert.Null(TrainingRun.Divergence(Epoch(2, 2.0, 16), first, 10));
        Assert.Contains("at chance (1% for 100 classes)", TrainingRun.Divergence(Epoch(2, 4.0, 1.2), first, 100));
        // An objective that never reaches the logits (a hint-only stage) leaves the classifier at chance by design.
        Assert.Null(TrainingRun.Divergence(Epoch(2, 2.0, 7.6), first, 10, trainsClassifier: false));
        Assert.Contains("over 10^4 times", TrainingRun.Divergence(Epoch(3, 2.3e5, 60), first, 10, trainsClassifier: false));
    }

    [Fact]
    public void Only_objectives_that_reach_the_logits_count_as_training_the_classifier()
    {
        static bool Trains(ILossTerm term) => term.TrainsClassifier;
        Assert.True(Trains(new CrossEntropyTerm()));
        Assert.True(Trains(new KdTerm(4.0)));
        Assert.False(Trains(new HintTerm("stage1", "stage1", HintRegressor.Conv(8, 32))));
        Assert.False(Trains(new AtTerm(["stage1"])));
    }
}
