using System.Globalization;
using System.Text.Json;
using Distill.Data;
using Distill.Losses;
using Distill.Methods;
using Distill.Models;
using Distill.Native;
using Distill.Training;
using TorchSharp;

namespace Distill.Experiments;

/// <summary>
/// Trained students kept on disk beside the teacher cache (its folder's <c>students/</c>), for the runs that a
/// catalogue method describes completely: 06 and 07 train some of 05's runs again with the same settings (scratch, KD,
/// CTKD, DKD on the same pair), and a notebook executed again after a kernel restart would train every run again. A
/// run is bit-identical at a given build and thread count, so a run found here is the run that training would give.
/// <para>The key therefore covers everything that decides it: every setting the run record compares (options, data
/// checksum, thread count, student architecture), the device, the method with all its parameter values and the build
/// of the assembly that defines it (a method registered from a notebook cell is compiled anew each time), the
/// student's initial weights, the objective's own modules' initial weights (regressors, embedding heads, memory
/// banks), the teacher's weights, and this library's build. Runs whose objective reads anything the key cannot see
/// (other teachers of a multi-teacher run, an assistant's chain) are not cached: the caller passes no method then.</para>
/// Off with the teacher cache (DISTILL_TEACHER_CACHE=off); a damaged entry is dropped and the run trained.
/// </summary>
static class StudentStore
{
    /// <summary>Folder of the entries for <paramref name="c"/>, or null when the cache is off.</summary>
    static string? Directory(RecipeConfig c) => (c.TeacherCache ?? TeacherStore.Directory) is string dir ? Path.Combine(dir, "students") : null;

    /// <summary>The run of <paramref name="student"/> under <paramref name="objective"/>: from the cache when an entry
    /// has its key (its weights loaded into <paramref name="student"/>), else trained and kept. Run folders
    /// (<see cref="RecipeConfig.OutDir"/>) are the trainer's own record, so with one the run is always trained.</summary>
    public static TrainResult TrainOrReuse(RecipeConfig c, (MethodChoice Choice, MethodSetup Setup)? method, DistillModel student, ImageDataset transfer, Objective objective,
        TrainOptions options, DistillModel? teacher)
    {
        if (method is null || c.OutDir is not null || Directory(c) is not string dir) return Trainer.Train(student, transfer, objective, options, teacher);
        var key = Key(method.Value.Choice, method.Value.Setup, student, transfer, objective, options, teacher, c.StudentDropout);
        using var held = TeacherStore.Hold(dir, key, "run", options.Log, options.Cancellation);
        string weights = Path.Combine(dir, key + ".bin"), record = Path.Combine(dir, key + ".json");
        if (TryLoad(student, key, weights, record, options) is { } reused)
        {
            // As training leaves them: the student in eval mode on the run's device, the teacher frozen.
            student.to(TorchRuntime.ResolveDevice(options.Device)).eval();
            if (teacher is not null) Trainer.Freeze(teacher);
            return reused;
        }
        var trained = Trainer.Train(student, transfer, objective, options, teacher);
        CacheEntry.KeepFiles(dir, key, student, JsonSerializer.Serialize(new Record(trained.Seed, trained.Parameters, trained.Teacher, trained.WeightsSha256, [.. trained.History], key), Checkpoint.RecordJson), options);
        return trained;
    }

    internal static string Key(MethodChoice method, MethodSetup setup, DistillModel student, ImageDataset transfer, Objective objective, TrainOptions options,
        DistillModel? teacher, double? studentDropout = null)
    {
        var settings = RunFolder.Settings(options, student, objective, transfer, teacher);
        return CacheEntry.RunKey(settings, options.Device, [
            // Dropout changes neither the parameters nor the initial weights, only the training.
            $"student_dropout={studentDropout?.ToString("R", System.Globalization.CultureInfo.InvariantCulture) ?? "default"}",
            $"method={method.Method.Name}:{string.Join(",", method.Settings.All.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"))}",
            // The setup's seed is the one a method draws its own randomness from (CRD's negatives).
            $"setup={setup.Student}<-{setup.Teacher}, seed {setup.Seed}, batch {setup.BatchSize}",
            $"method_build={method.Method.GetType().Assembly.ManifestModule.ModuleVersionId}",
            $"init={TensorDigest.Weights(student)}",
            $"objective_init={TensorDigest.Sha256(objective.Modules().SelectMany(m => m.Module.state_dict().Values))}",
            $"teacher_weights={(teacher is null ? "none" : TensorDigest.Weights(teacher))}"]);
    }

    static TrainResult? TryLoad(DistillModel student, string key, string weights, string record, TrainOptions options) =>
        !File.Exists(weights) || !File.Exists(record) ? null : CacheEntry.LoadOrRollBack(student, () =>
        {
            var saved = JsonSerializer.Deserialize<Record>(File.ReadAllText(record), Checkpoint.RecordJson) ?? throw new JsonException("empty record");
            if (saved.History is null) throw new InvalidDataException("its record is incomplete");
            // A pair of files copied in from another entry (another method's run) loads as well as its own.
            if (saved.Seed != options.Seed || saved.History.Count != options.Epochs || saved.Key != key) throw new InvalidDataException("its record is of another run");
            var digest = CacheEntry.LoadVerified(student, weights, saved.WeightsSha256);
            var reused = new TrainResult { Name = options.Name, Seed = saved.Seed, Parameters = saved.Parameters, History = saved.History, Teacher = saved.Teacher,
                WeightsSha256 = digest };
            if (reused.Warning is { } warning) TrainingWarnings.Add(options.Name, options.Seed, warning);
            options.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{options.Name} (seed {options.Seed}): reused from the run cache ({Path.GetFileNameWithoutExtension(weights)}): " +
                                   $"best {reused.BestAccuracy:F2}%, last {reused.LastAccuracy:F2}%"));
            return reused;
        },
        // FormatException: a damaged name length inside the weights file.
        e => e is IOException or JsonException or InvalidDataException or ArgumentException or InvalidOperationException or NotSupportedException or FormatException,
        e =>
        {
            // A damaged entry is not an error of the experiment: drop it and train.
            options.Log?.WriteLine($"run cache: ignoring damaged entry {Path.ChangeExtension(weights, null)}.bin/.json ({e.Message}); training the run");
            File.Delete(weights);
            File.Delete(record);
        });

    /// <param name="Key">The entry's own key, checked on load (null in entries written before it was: not reused).</param>
    sealed record Record(int Seed, long Parameters, TeacherSource Teacher, string? WeightsSha256, List<EpochMetrics> History, string? Key = null);
}
