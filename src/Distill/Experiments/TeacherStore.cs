using System.Globalization;
using System.Text.Json;
using Distill.Data;
using Distill.Models;
using Distill.Native;
using Distill.Losses;
using Distill.Training;

namespace Distill.Experiments;

/// <summary>
/// Trained teachers kept on disk, so the notebooks of one <c>distill reproduce</c> (which share a teacher setting) train
/// it once. The key covers everything that determines the weights — architecture, data subset, seeds, epochs, optimizer,
/// schedule, batch size, augmentation, thread count — and the build of this library, so a code change never reuses a
/// stale teacher. Location: $DISTILL_TEACHER_CACHE, else artifacts/teachers under the repository the program was built in (else the one
/// above the current directory), else ~/.cache/distill.
/// Set DISTILL_TEACHER_CACHE=off to always train (it also turns off the student runs kept beside it: <see cref="StudentStore"/>). `distill train --teacher` keeps whole teacher runs in its runs/ folder
/// (<see cref="TrainOrReuse(DistillModel, ImageDataset, TrainOptions)"/>). A config's own <see cref="RecipeConfig.TeacherCache"/> (a sweep's folder,
/// shared by every task of a cluster job) takes precedence.
/// </summary>
public static class TeacherStore
{
    const string Variable = "DISTILL_TEACHER_CACHE";

    public static string? Directory
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("DISTILL_TEACHER_CACHE");
            if (string.Equals(env, "off", StringComparison.OrdinalIgnoreCase) || env == "0") return null;
            if (!string.IsNullOrWhiteSpace(env)) return env; // " " made a folder named " " wherever the command ran
            // The program's checkout first: looking only above the current directory gave the same build a second,
            // empty cache (~/.cache) whenever it ran from outside the repository.
            if (DatasetSearch.ProgramRepoRoot() is string repo) return Path.Combine(repo, "artifacts", "teachers");
            return Home is string home ? Path.Combine(home, ".cache", "distill", "teachers") : null;
        }
    }

    /// <summary>The user's home folder, or null when there is none: .NET gives "" for a HOME that does not exist (the
    /// user nobody's /nonexistent), and the cache became the relative .cache/distill/teachers, a new one in every folder
    /// a command ran from. Without a home (and no checkout or setting) the cache is off, and doctor says why.</summary>
    static string? Home => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) is { Length: > 0 } home && Path.IsPathRooted(home) ? home : null;

    /// <summary>Off because nothing names a folder for it: no setting, no checkout around the program, no home folder.</summary>
    static bool Homeless => Directory is null && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Variable));

    /// <summary>Why the cache cannot be used (a file in its place or on its way, or a folder no file can be created in),
    /// as words naming it and the fix; null when it can, or is off. Doctor counts it as a problem: it printed the file
    /// case as a plain line, showed a folder that cannot be created (/proc/x) as "(empty)", and exited 0, while every
    /// teacher the cache should keep then fails when it is locked or saved.</summary>
    public static string? Problem
    {
        get
        {
            if (Directory is not string dir) return null;
            if ((File.Exists(dir) ? dir : FilePaths.FileAncestor(dir)) is { } file)
                return $"{dir} cannot be a folder: {file} is a file; set {Variable} to a folder, or to off";
            if (FilePaths.CannotWrite(dir) is { } why)
                return $"{dir} cannot be written ({why}); set {Variable} to a folder you can write to, or to off to train without it";
            return null;
        }
    }

    /// <summary>Where the cache is and what it holds (`distill doctor`).</summary>
    public static string Status
    {
        get
        {
            if (Homeless)
                return $"off: there is no home folder to keep it in (HOME={Environment.GetEnvironmentVariable("HOME")} does not exist); every teacher is trained: " +
                       $"set {Variable} to a folder to keep them";
            if (Directory is not string dir) return $"off ({Variable}={Environment.GetEnvironmentVariable(Variable)?.Trim()}); every teacher is trained";
            if (File.Exists(dir)) return $"{dir} is a file, not a folder: set DISTILL_TEACHER_CACHE to a folder (or off)";
            var top = new DirectoryInfo(dir);
            if (!top.Exists) return $"{dir} (empty)";
            var runs = new DirectoryInfo(Path.Combine(dir, "runs"));
            var students = new DirectoryInfo(Path.Combine(dir, "students"));
            int recipeTeachers, cliTeachers, studentRuns;
            long bytes;
            try
            {
                recipeTeachers = top.GetFiles("*.bin").Length;
                cliTeachers = runs.Exists ? runs.GetDirectories().Count(d => !d.Name.EndsWith(".tmp", StringComparison.Ordinal)) : 0;
                studentRuns = students.Exists ? students.GetFiles("*.json").Length : 0;
                bytes = top.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) // another process renaming entries, or no access
            {
                return $"{dir} (could not read it: {e.Message})";
            }
            return string.Create(CultureInfo.InvariantCulture, $"{dir}: {recipeTeachers} recipe teacher{(recipeTeachers == 1 ? "" : "s")}, {cliTeachers} `train --teacher` run{(cliTeachers == 1 ? "" : "s")}, " +
                   $"{studentRuns} student run{(studentRuns == 1 ? "" : "s")} (students/), " +
                   $"{bytes / 1e6:F1} MB (delete the folder to retrain them; DISTILL_TEACHER_CACHE=DIR moves it, =off turns it off)");
        }
    }

    internal static string Key(ImageDataset data, RecipeConfig c)
    {
        // The data's checksum, not only its name and counts: DISTILL_DATA pointing at other files of the same name and
        // size (relabelled, another copy) got the teacher trained on the first.
        // A subset of the whole split is the split (Subset takes it all, in order): keyed as no subset.
        int? Subset(int? size, long count) => size == count ? null : size;
        return CacheEntry.Hash([c.Teacher, c.TeacherModel, data.Name, data.Train.Count, data.Test.Count, RunFolder.DataChecksum(data),
            Subset(c.TeacherTrainSize, data.Train.Count), Subset(c.TestSize, data.Test.Count), c.DataSeed,
            c.TeacherSeed, c.TeacherEpochs, c.TeacherOptimizer, c.Schedule, c.BatchSize, c.Augment, TorchRuntime.Threads, TorchRuntime.KernelIdentity,
            typeof(TeacherStore).Assembly.ManifestModule.ModuleVersionId]);
    }

    /// <summary>
    /// The lock on one cache entry, held from looking it up to saving it: processes that share the cache (`reproduce
    /// --jobs`, a sweep's tasks) train each teacher once; the others wait here, then load it. A flock, released by the
    /// kernel when its holder dies (<see cref="FolderLock"/>). Null when the cache is off.
    /// </summary>
    /// <param name="key">The entry's <see cref="Key"/>, computed once by the caller (it checksums the whole dataset):
    /// null when the cache is off (<see cref="KeyOrNull"/>).</param>
    internal static IDisposable? Hold(string? key, RecipeConfig c) =>
        (c.TeacherCache ?? Directory) is string dir && key is not null ? Hold(dir, key, "teacher", c.Log, c.Cancellation) : null;

    /// <summary>The recipe teacher's <see cref="Key"/>, or null when the cache is off (no checksum is computed then).</summary>
    internal static string? KeyOrNull(ImageDataset data, RecipeConfig c) => (c.TeacherCache ?? Directory) is null ? null : Key(data, c);

    /// <param name="what">What the entry holds, for the waiting line ("teacher", "run").</param>
    internal static IDisposable Hold(string dir, string key, string what, TextWriter? log, CancellationToken cancellation)
    {
        if ((File.Exists(dir) ? dir : FilePaths.FileAncestor(dir)) is { } file)
            throw new InvalidOperationException($"the teacher cache {dir} cannot be a folder: {file} is a file. Set DISTILL_TEACHER_CACHE to a folder, or to off.");
        string path;
        try { path = Path.Combine(System.IO.Directory.CreateDirectory(Path.Combine(dir, "locks")).FullName, key + ".lock"); } // beside the entries, not among them
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Unwritable(dir, e); }
        var said = false;
        while (true)
        {
            IDisposable? taken;
            try { taken = FolderLock.TryTake(path); }
            catch (Exception e) when (e is UnauthorizedAccessException || (e is IOException io && !IoError.IsLockConflict(io))) { throw Unwritable(dir, e); }
            if (taken is { } held) return held;
            if (!said) log?.WriteLine($"waiting for the {what}: another process (PID {FolderLock.Holder(path)}) is training it");
            said = true;
            cancellation.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
            if (cancellation.IsCancellationRequested) throw new OperationCanceledException($"stopped while waiting for the {what}");
        }
    }

    /// <summary>
    /// <c>distill train --teacher</c>'s teacher: trained once per setting and then reused, so trying methods one command
    /// at a time does not retrain the same teacher each time. An entry is the teacher's whole run folder
    /// (DIR/runs/KEY: checkpoint, run.json, metrics), keyed by every setting its run record compares (options, model,
    /// data checksum, thread count) and this library's build. With <see cref="TrainOptions.OutDir"/> the folder is
    /// also the run's own record: a hit copies the entry there (so `deploy export OUT/teacher/last.ckpt` and --resume
    /// work as after training), a miss trains there and keeps a copy. A folder that already holds a run is left to
    /// the trainer (resume, refusal, --force), as is everything when the cache is off.
    /// </summary>
    public static TrainResult TrainOrReuse(DistillModel teacher, ImageDataset data, TrainOptions options) => TrainOrReuse(teacher, data, options, Directory);

    /// <param name="cache">The cache folder (a recipe's own <see cref="RecipeConfig.TeacherCache"/> or <see cref="Directory"/>);
    /// null when the cache is off.</param>
    internal static TrainResult TrainOrReuse(DistillModel teacher, ImageDataset data, TrainOptions options, string? cache)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var objective = new Objective().Add(new CrossEntropyTerm());
        var outDir = options.OutDir;
        if (cache is not string dir) return Trainer.Train(teacher, data, objective, options);

        // The run's own extra settings describe the student it is trained for, not the teacher. The initial weights are
        // in the key too: a caller that built the teacher another way never gets this one.
        var settings = RunFolder.Settings(options with { Settings = new Dictionary<string, string>() }, teacher, objective, data, null);
        var key = CacheEntry.RunKey(settings, options.Device, [$"init={TensorDigest.Weights(teacher)}"]);
        var entry = Path.Combine(dir, "runs", key);
        var staging = $"{entry}.{Environment.ProcessId}.tmp";
        if (outDir is not null && RunFolder.HoldsRun(outDir))
        {
            // A folder that already holds a run is the trainer's to judge (resume, refusal, --force). A teacher it
            // finishes there is the one this key names (a resume refuses changed settings and repeats the uninterrupted
            // run bit for bit), so it is kept as a trained one is: a teacher finished by --resume was trained again by
            // the next command.
            var finished = Trainer.Train(teacher, data, objective, options);
            using var keeping = Hold(dir, key, "teacher", options.Log, options.Cancellation);
            return System.IO.Directory.Exists(entry) ? finished : Keep(outDir, staging, entry, dir, finished, options);
        }
        using var held = Hold(dir, key, "teacher", options.Log, options.Cancellation);
        var checkpoint = Path.Combine(entry, Checkpoint.FileName);
        if (File.Exists(checkpoint) && Reuse(teacher, entry, key, checkpoint, settings, options) is { } reused)
        {
            if (outDir is not null)
            {
                CopyRun(entry, outDir);
                // The entry's record names the command that trained it; the copy is this command's run, so --resume
                // compares against this command's settings, and its checkpoint carries their digest.
                var own = RunFolder.Settings(options, teacher, objective, data, null);
                RunFolder.Record(outDir, own);
                Checkpoint.Restamp(Path.Combine(outDir, Checkpoint.FileName), RunFolder.Digest(own));
            }
            return reused;
        }
        // Whatever is left under this key (no checkpoint, or the stage of a killed process: only the lock holder writes
        // one, so every other is stale) is not a teacher: clear it.
        var stages = System.IO.Directory.CreateDirectory(Path.GetDirectoryName(entry)!).GetDirectories($"{key}.*.tmp").Select(d => d.FullName);
        foreach (var stale in stages.Append(entry).Where(System.IO.Directory.Exists)) System.IO.Directory.Delete(stale, recursive: true);
        if (File.Exists(entry)) File.Delete(entry); // a file under the entry's name took the trained teacher's move
        var target = outDir ?? staging;
        TrainResult trained;
        try { trained = Trainer.Train(teacher, data, objective, options with { OutDir = target, Resume = false, Force = false }); }
        catch (TrainingStoppedException stopped) when (outDir is null)
        {
            // The stage is this process's scratch folder, cleared by the next command (above), which no --resume
            // reaches: the stop said "--resume continues from step 130", and the next run started the teacher over.
            System.IO.Directory.Delete(staging, recursive: true);
            throw stopped.WithoutCheckpoint();
        }
        catch (IOException e) when (outDir is null && IoError.DiskProblem(e) is { } disk)
        {
            // Its checkpoints go to the cache's stage: "give another --out" named an option the command did not have.
            DeleteQuietly(staging);
            throw new InvalidOperationException($"{options.Name}: the teacher cache {dir}: {disk.Split(':')[0]}; free space there, or set " +
                                                $"{Variable} to another folder ({Variable}=off trains without keeping it).", e);
        }
        return Keep(outDir, staging, entry, dir, trained, options);
    }

    /// <summary>Moves a trained teacher's run into the cache under <paramref name="entry"/>: from <paramref name="outDir"/>
    /// (copied to the stage first) or, without one, from the stage it was trained in. Called under the entry's lock.</summary>
    static TrainResult Keep(string? outDir, string staging, string entry, string dir, TrainResult trained, TrainOptions options)
    {
        try
        {
            if (outDir is not null) CopyRun(outDir, staging);
            // The entry names its key: a run folder copied in under another key (another teacher's) is not reused.
            File.WriteAllText(Path.Combine(staging, KeyFile), Path.GetFileName(entry));
            System.IO.Directory.Move(staging, entry); // whole or not at all: a kill before this leaves only a .tmp folder
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The teacher is trained (and, with --out, whole there): a cache that cannot take it (a full disk, a
            // file in the way) costs only the next command's retraining, not this command's student.
            DeleteQuietly(staging);
            Unkept(options, dir, e);
            return trained;
        }
        options.Log?.WriteLine($"{options.Name}: kept in the teacher cache ({entry}); the next command with these teacher settings reuses it");
        return trained;
    }

    /// <summary>A cache this process cannot write (read-only, another user's, a file where its locks/ folder goes): even a
    /// hit takes the entry's lock there, so the command cannot go on with it.</summary>
    static InvalidOperationException Unwritable(string dir, Exception e) =>
        new($"the teacher cache {dir} cannot be written ({e.Message.TrimEnd('.')}); set {Variable} to a folder you can write to, or to off to train without it.", e);

    /// <summary>In a `train --teacher` entry, the entry's own key (its folder's name when it was kept).</summary>
    const string KeyFile = "cache-key";

    /// <summary>The warning for a trained teacher or run the cache could not take: the next command trains it again.</summary>
    internal static void Unkept(TrainOptions options, string dir, Exception e)
    {
        var disk = IoError.DiskProblem(e);
        options.Log?.WriteLine($"warning: {options.Name}: not kept in the teacher cache {dir} ({disk?.Split(':')[0] ?? e.Message.TrimEnd('.')}), so the next command " +
                               $"trains it again; {(disk is not null ? "free space there" : "remove what is in the way there")}, or set {Variable} to another folder ({Variable}=off keeps nothing).");
    }

    static void DeleteQuietly(string folder)
    {
        try { if (System.IO.Directory.Exists(folder)) System.IO.Directory.Delete(folder, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the next command clears stale stages
    }

    /// <summary>The cached teacher's weights loaded into <paramref name="teacher"/>, or null when the entry is damaged:
    /// then it is dropped and the teacher's own initial weights are put back, so the retraining starts where it would have.</summary>
    /// <param name="settings">The teacher's settings as the request makes them: the entry's record must hold each (a
    /// run of other settings, copied in with its own record and checkpoint, was reused as this teacher).</param>
    static TrainResult? Reuse(DistillModel teacher, string entry, string key, string checkpoint, IReadOnlyDictionary<string, string> settings, TrainOptions options) =>
        CacheEntry.LoadOrRollBack(teacher, () =>
        {
            // A checkpoint or a whole run copied in from another entry loads as well as its own: checked against the
            // entry's key and record, and as a finished run of this length and seed, before it is used.
            var keyFile = Path.Combine(entry, KeyFile);
            if (!File.Exists(keyFile) || File.ReadAllText(keyFile).Trim() != key) throw new InvalidDataException($"it is not the entry of its key (its {KeyFile} file names another or is missing)");
            var record = Path.Combine(entry, RunFolder.SettingsFile);
            var recorded = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(record)) ?? throw new InvalidDataException("its run.json is empty");
            var stamp = Checkpoint.ReadInfo(checkpoint);
            if (Checkpoint.FromAnotherRun(checkpoint, stamp, record, recorded) is { } foreign) throw new InvalidDataException(foreign);
            // The settings the key stands for (CacheEntry.RunKey: not the run's name, device spelling, start time or
            // provenance), compared by meaning as a resume compares them (the data by its checksum, not its folder).
            var wanted = RunFolder.Compared(settings).Where(s => s.Key is not ("name" or "device")).ToDictionary();
            if (RunFolder.Differences(recorded.Where(kv => wanted.ContainsKey(kv.Key)).ToDictionary(), wanted) is [var first, ..])
                throw new InvalidDataException($"its run.json records another teacher than its key's ({first})");
            if (stamp.Seed != options.Seed || stamp.Epoch != options.Epochs || stamp.InProgress is not null)
                throw new InvalidDataException($"its checkpoint is not a finished {options.Epochs}-epoch run of seed {options.Seed} (it holds epoch {stamp.Epoch}, seed {stamp.Seed})");
            var info = Checkpoint.LoadModel(checkpoint, teacher);
            var reused = new TrainResult { Name = options.Name, Seed = info.Seed, Parameters = teacher.ParameterCount, History = info.History,
                Teacher = TeacherSource.None, WeightsSha256 = TensorDigest.Weights(teacher) };
            options.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{options.Name}: reused from the teacher cache ({entry}): best {reused.BestAccuracy:F2}% after {NumberText.Count(info.Epoch, "epoch")}"));
            return reused;
        },
        e => e is InvalidDataException or IOException or JsonException or UnauthorizedAccessException,
        e =>
        {
            // A damaged cache entry is not an error of the experiment (as for the recipes' entries).
            options.Log?.WriteLine($"teacher cache: ignoring damaged entry {entry} ({e.Message}); training the teacher");
            System.IO.Directory.Delete(entry, recursive: true);
        });

    /// <summary>Copies a run folder's files (not its lock) into <paramref name="to"/>; returns it.</summary>
    static string CopyRun(string from, string to)
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.StartsWith(RunFolder.LockFile, StringComparison.Ordinal) || relative == KeyFile) continue;
            var copy = Path.Combine(to, relative);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy, overwrite: true);
        }
        return to;
    }

    /// <summary>Loads the weights into <paramref name="teacher"/> and returns its training record, or null when not cached.</summary>
    /// <param name="run">The run's name in the result ("teacher", "teacher mlp-1200-1200"): a hit named every teacher
    /// "teacher", and 06's two teachers became one row of two "seeds".</param>
    internal static TrainResult? TryLoad(DistillModel teacher, string? key, RecipeConfig c, string run = "teacher")
    {
        if ((c.TeacherCache ?? Directory) is not string dir || key is null) return null;
        string weights = Path.Combine(dir, key + ".bin"), record = Path.Combine(dir, key + ".json");
        if (!File.Exists(weights) || !File.Exists(record)) return null;
        return CacheEntry.LoadOrRollBack(teacher, () =>
        {
            var saved = JsonSerializer.Deserialize<Record>(File.ReadAllText(record), Checkpoint.RecordJson) ?? throw new JsonException("empty record");
            if (saved.History is not { Count: > 0 }) throw new InvalidDataException("its record is incomplete (no training history)");
            // A pair of files copied in from another entry (another teacher's) loads as well as its own.
            if (saved.Key != key) throw new InvalidDataException("its record is another entry's (its key differs)");
            var digest = CacheEntry.LoadVerified(teacher, weights, saved.WeightsSha256);
            return new TrainResult { Name = run, Seed = saved.Seed, Parameters = teacher.ParameterCount, History = saved.History, Teacher = TeacherSource.None,
                WeightsSha256 = digest };
        },
        // FormatException: a damaged name length inside the weights file.
        e => e is IOException or JsonException or InvalidDataException or ArgumentException or InvalidOperationException or NotSupportedException or FormatException,
        e =>
        {
            // A damaged cache entry is not an error of the experiment: drop it and train.
            c.Log?.WriteLine($"teacher cache: ignoring damaged entry {Path.Combine(dir, key)}.bin/.json ({e.Message}); training the teacher");
            File.Delete(weights);
            File.Delete(record);
        });
    }

    internal static void Save(DistillModel teacher, string? key, RecipeConfig c, TrainResult trained)
    {
        if ((c.TeacherCache ?? Directory) is not string dir || key is null) return;
        CacheEntry.KeepFiles(dir, key, teacher, JsonSerializer.Serialize(new Record(trained.Seed, [.. trained.History], TensorDigest.Weights(teacher), key), Checkpoint.RecordJson),
            new TrainOptions { Name = trained.Name, Log = c.Log });
    }

    /// <param name="WeightsSha256">The saved weights' digest, checked on load (null in entries written before it was).</param>
    /// <param name="Key">The entry's own key, checked on load (null in entries written before it was: not reused).</param>
    sealed record Record(int Seed, List<EpochMetrics> History, string? WeightsSha256 = null, string? Key = null);
}
