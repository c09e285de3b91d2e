using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Distill.Data;
using Distill.Losses;
using Distill.Models;
using Distill.Native;
using TorchSharp;

namespace Distill.Training;

/// <summary>
/// A training run's output folder, owned by one run at a time. At the start it takes an exclusive lock (a second run
/// into the same folder fails at once, naming the PID that holds it; a lock left by a killed process is released by the
/// kernel with the process, so it is simply taken over), removes temp files a killed run left, and records every
/// setting that affects results in <c>run.json</c>. A resume must match that record (each difference is named: old →
/// new); a new run into a folder holding another run is refused unless <see cref="TrainOptions.Force"/>, which clears
/// the folder first.
/// </summary>
sealed partial class RunFolder : IDisposable
{
    public const string SettingsFile = "run.json";
    public const string LockFile = "run.lock";
    const string PidFile = LockFile + ".pid";

    readonly FolderLock lockStream;

    RunFolder(FolderLock lockStream) => this.lockStream = lockStream;

    /// <summary>The settings run.json holds for this run: a resume keeps the spelling the run started with, so the
    /// checkpoints it writes are stamped from these, not from the command's own spelling (the next --resume found the
    /// stamp and the record apart and refused the checkpoint as another run's).</summary>
    public IReadOnlyDictionary<string, string> Recorded { get; private set; } = new Dictionary<string, string>();

    public static RunFolder Open(string dir, IReadOnlyDictionary<string, string> settings, bool resume, bool force, TextWriter? log, bool tensorBoard = false,
        string? startOver = null, string? resumeAs = null)
    {
        // A sweep resumes by running again, without --resume: its warnings name the folder it resumes, not a flag.
        var resuming = resumeAs is null ? $"--resume {dir}" : $"resuming {dir}";
        // A file, a path through one, a folder that cannot be created or written: checked before the lock file is taken,
        // whose UnauthorizedAccessException named run.lock, not the folder.
        if (FilePaths.CreateOutFolder(dir) is { } problem) throw new ArgumentException(problem + ".");
        // Checked before training, not found when the first checkpoint is written after an epoch's work.
        foreach (var name in new[] { Checkpoint.FileName, SettingsFile, MetricsFile, LockFile, PidFile })
            if (Directory.Exists(Path.Combine(dir, name)))
                throw new ArgumentException($"--out {dir}: {Path.Combine(dir, name)} is a folder where the run writes a file; move it away, or give another --out.");
        // The events go into tb/ after the first epoch: a file there failed then, with that epoch's work lost.
        if (tensorBoard && File.Exists(Path.Combine(dir, MetricsWriter.TbFolder)))
            throw new ArgumentException($"--out {dir}: {Path.Combine(dir, MetricsWriter.TbFolder)} is a file where the run writes its TensorBoard folder; move it away, or give another --out.");
        // A tb/ this user may not write (another user's run made it) failed after run.json and metrics.csv were rewritten.
        var tb = Path.Combine(dir, MetricsWriter.TbFolder);
        if (tensorBoard && Directory.Exists(tb) && FilePaths.CannotWrite(tb) is { } why)
            throw new ArgumentException($"--out {dir}: {tb} cannot be written ({why}), where the run writes its TensorBoard events; give this user write access to it (chown or chmod), or give another --out.");
        var folder = new RunFolder(Lock(dir));
        try
        {
            // Left by a kill during an atomic write; only the names AtomicFile gives, not a user's own ".notes.tmp".
            foreach (var tmp in Directory.EnumerateFiles(dir, ".*.tmp").Where(AtomicFile.IsTempName)) File.Delete(tmp);
            var path = Path.Combine(dir, SettingsFile);
            var holdsRun = HoldsRun(dir);
            var checkpoint = Path.Combine(dir, Checkpoint.FileName);
            // Without the record only the checkpoint's stamp (the digest of the settings it was trained with) says which
            // run it is: resuming it unchecked could continue another run's weights, and refusing it outright threw
            // away its epochs for a deleted or cut run.json. So the record is rebuilt from this command's settings
            // when they give the stamp, the damaged one kept beside it.
            if (resume && File.Exists(checkpoint) && RecordProblem(path) is { } unusable)
            {
                var stamp = Checkpoint.ReadInfo(checkpoint).Settings;
                // The run may have spelled the same settings otherwise (`--device auto` where this command says cpu): the
                // record is rebuilt in the spelling the stamp was made from.
                if (stamp is not null && Respelled(settings, stamp) is { } spelled) settings = spelled;
                if (stamp != Digest(settings))
                    throw new InvalidOperationException($"{resuming}: {unusable} " + (stamp is null
                        ? $"{checkpoint} carries no settings stamp (written before stamps were), so nothing else can vouch for it: restore the run.json of its run, "
                        : StampThreads(stamp, settings) is int k
                        ? $"Its checkpoint was trained at {NumberText.Count(k, "thread")} and this run has {settings.GetValueOrDefault("threads")}: resume at {k} (DISTILL_THREADS={k} for train, --threads {k} for sweep run) and the record is rebuilt, "
                        : "Give the options the run was started with (its checkpoint's settings stamp then matches and the record is rebuilt from them), ") +
                        $"{startOver ?? $"pass --force (instead of --resume{ErrorText.Api(ApiForce, "; ")}) to clear the folder and start over"}, or give another folder.");
                var kept = File.Exists(path) ? KeepAside(path) : null;
                log?.WriteLine($"warning: {resuming}: {unusable} This command's settings match the checkpoint's stamp, so the record was rebuilt from them" +
                               (kept is null ? "" : $" (the damaged one is {kept})") + "; its start time and versions are this resume's.");
            }
            else if (resume && File.Exists(path))
            {
                var old = Read(path);
                var changed = Differences(old, settings);
                // A checkpoint copied in from another run (same model, seed and optimizer) would load, and two runs be
                // stitched together: its stamp must be this record's. Checkpoints from before the stamp carry none. Said
                // before the settings' differences: with a record that is not its checkpoint's (edited, or copied in),
                // "resume with the same settings" matched no command.
                if (File.Exists(checkpoint) && (changed.Count == 0 ? Checkpoint.ReadInfo(checkpoint) : ReadableInfo(checkpoint)) is { } stamped
                    && Checkpoint.FromAnotherRun(checkpoint, stamped, path, old) is { } other)
                    throw new InvalidOperationException($"{resuming}: {other} " + (stamped.Settings is { } stamp && Respelled(settings, stamp) is not null
                        ? $"This command's settings are the checkpoint's: if {path} was edited or copied in, delete it and {resumeAs ?? "--resume"} rebuilds it from them."
                        : $"Resume in the folder the checkpoint came from, or restore that run's {SettingsFile} here, or {startOver ?? $"pass --force (instead of --resume{ErrorText.Api(ApiForce, "; ")}) to start over here"}."));
                if (changed.Count > 0)
                    throw OtherSettings(dir, changed, old);
                foreach (var line in VersionChanges(old, settings)) log?.WriteLine($"warning: {resuming}: {line}");
                settings = Resumed(old, settings);
            }
            else if (resume && holdsRun && !File.Exists(path) && !File.Exists(checkpoint))
                // Metrics or events with neither a checkpoint nor a record are no run this command can continue: resuming
                // "it" trained from scratch over them.
                throw new InvalidOperationException($"{resuming}: there is no run to resume: {dir} holds {Leftovers(dir)} but no checkpoint ({Checkpoint.FileName}) " +
                    $"or run record ({SettingsFile}). Move them away, {startOver ?? $"pass --force (instead of --resume{ErrorText.Api(ApiForce, "; ")}) to delete them and start a new run"}, or give another folder.");
            else if (!resume && holdsRun)
            {
                if (!force) throw new InvalidOperationException(HeldRunError(dir, settings));
                // A run.json that is no run record was refused as "written by something else": --force deleted it unseen.
                string? foreign;
                try { foreign = File.Exists(path) ? RecordProblem(path) : null; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { foreign = null; } // unreadable: cleared as before
                if (foreign is not null)
                {
                    var kept = KeepAside(path);
                    log?.WriteLine($"--force: {foreign[..(foreign.IndexOf("; it was damaged", StringComparison.Ordinal) is >= 0 and var end ? end : foreign.Length)]}; kept as {kept}");
                }
                Clear(dir);
                log?.WriteLine($"--force: cleared {dir}");
            }
            Record(dir, settings);
            folder.Recorded = settings;
            return folder;
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    /// <summary>Moves a record that cannot be read to RECORD.damaged (or .damaged.N: an earlier one stays too); returns where.</summary>
    static string KeepAside(string path)
    {
        var kept = path + ".damaged";
        for (var n = 1; File.Exists(kept); n++) kept = $"{path}.damaged.{n}";
        File.Move(path, kept);
        return kept;
    }

    /// <summary>A killed run's lock is released by the kernel with the process (see <see cref="FolderLock"/>).</summary>
    static FolderLock Lock(string dir)
    {
        var path = Path.Combine(dir, LockFile);
        FolderLock? held;
        try { held = FolderLock.TryTake(path); }
        catch (UnauthorizedAccessException e) { throw new InvalidOperationException($"--out {dir}: {IoError.PermissionProblem(e) ?? e.Message}.", e); }
        return held ?? throw new InvalidOperationException(InUse(dir, path));
    }

    static string InUse(string dir, string path) => $"--out {dir} is in use by another run (PID {FolderLock.Holder(path)}). Wait for it to finish, or give another folder.";

    /// <summary>The error <see cref="Lock"/> would give now, or null: for a command with work to do before it trains
    /// (a prune loads and scores its model first), which --force would otherwise have done only to be refused. A folder
    /// no run has locked is not touched.</summary>
    public static string? InUseError(string dir)
    {
        var path = Path.Combine(dir, LockFile);
        if (!File.Exists(path)) return null;
        try
        {
            using var probe = FolderLock.TryTake(path);
            return probe is null ? InUse(dir, path) : null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException) { return null; } // said by the run itself, with its fix
    }

    /// <summary>--force: removes what a run writes (record, checkpoint, metrics, TensorBoard events), nothing else: a
    /// user's notes, or another run's folder inside this one, stay.</summary>
    static void Clear(string dir)
    {
        foreach (var name in new[] { SettingsFile, Checkpoint.FileName, MetricsFile })
            File.Delete(Path.Combine(dir, name));
        MetricsWriter.DeleteEvents(dir);
    }

    public const string MetricsFile = "metrics.csv";

    /// <summary>The thread count at which <paramref name="settings"/> give <paramref name="stamp"/>, when only the thread
    /// count differs (a sequential sweep at 2 threads re-run with --jobs 2, whose workers take 1): the one change a user
    /// cannot see in the options they typed.</summary>
    static int? StampThreads(string stamp, IReadOnlyDictionary<string, string> settings) =>
        Enumerable.Range(1, 256).Select(k => (int?)k)
            .FirstOrDefault(k => Digest(new Dictionary<string, string>(settings) { ["threads"] = $"{k}" }) == stamp);

    /// <summary><paramref name="settings"/> as another command may have spelled the same run (each of them means what
    /// <paramref name="settings"/> means: <see cref="Differences"/> finds none), the one whose digest is
    /// <paramref name="stamp"/>; null when none is. The spellings are those <see cref="Canonical"/> equates.</summary>
    internal static Dictionary<string, string>? Respelled(IReadOnlyDictionary<string, string> settings, string stamp)
    {
        var kd = settings.GetValueOrDefault("method") is { } m && m.StartsWith("kd ", StringComparison.Ordinal) ? Methods.MethodCatalogue.Parse($"kd:{string.Join(",", m[3..].Split(' '))}") : null;
        var plain = PlainKd(settings);
        var name = settings.GetValueOrDefault("name");
        var kdDefaults = Methods.MethodCatalogue.Choose("kd", []).Settings.All;
        var alternatives = new (string Key, string?[] Values)[]
        {
            ("device", ["auto", "cpu", "cuda", "cuda:0"]),
            ("teacher_epochs", ["", $"{TrainOptions.DefaultTeacherEpochs}"]),
            // Before 15 digits, a weight was its double's round trip, and the weights that read otherwise were 1 − α;
            // before step schedules printed their boundaries, they read as their list's type; a stamp may predate both.
            ("objective", settings.GetValueOrDefault("objective") is { } o
                ? [RespellWeights(o, RoundTrip), WithoutBoundaries(o), WithoutBoundaries(RespellWeights(o, RoundTrip))]
                : []),
            // Plain KD (a teacher, no --method) and --method kd with the same settings, either way round; --method kd
            // records the KD flags at their defaults, which are kd's own.
            ("kd_temperature", [kd?.Settings.All.GetValueOrDefault("temperature"), kdDefaults["temperature"]]), ("alpha", [kd?.Settings.All.GetValueOrDefault("alpha"), kdDefaults["alpha"]]),
            ("method", ["default", plain?.Record]),
            ("name", [name is null ? null : KdName().Replace(name, " (kd)"), name is null || plain is null ? null : KdName().Replace(name, $" ({plain.Label})")]),
        };
        IEnumerable<Dictionary<string, string>> candidates = [new(settings)];
        foreach (var (key, values) in alternatives.Where(a => settings.ContainsKey(a.Key)))
            candidates = candidates.SelectMany(c => values.OfType<string>().Prepend(c[key]).Distinct().Select(v => new Dictionary<string, string>(c) { [key] = v }));
        // A checkpoint stamped before a key was recorded lacks it (a recipe run's method): each such key present is
        // tried left out too.
        foreach (var key in RecordedSince.Where(settings.ContainsKey))
            candidates = candidates.SelectMany(c => new[] { c, new Dictionary<string, string>(c.Where(kv => kv.Key != key)) });
        return candidates.FirstOrDefault(c => Digest(c) == stamp && Differences(c, settings).Count == 0);
    }

    /// <summary>Why the run record at <paramref name="path"/> cannot be used (missing, empty, damaged), or null.</summary>
    static string? RecordProblem(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) return $"the run record {path} is missing, so the settings the checkpoint was trained with cannot be read from it.";
        try
        {
            Read(path, advice: "");
            return null;
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
    }

    /// <summary>The run record at <paramref name="path"/>, or null when it is missing or cannot be read (for summaries,
    /// which say "not recorded" rather than fail).</summary>
    internal static Dictionary<string, string>? TryRead(string path)
    {
        try { return File.Exists(path) ? Read(path) : null; }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException) { return null; }
    }

    static Dictionary<string, string> Read(string path, string advice = " Move it away to start over.")
    {
        // A record edited by hand can end up empty, or be replaced by a FIFO, whose opening would block.
        if (FilePaths.NothingToRead(path))
            throw new InvalidDataException($"{path}: the run record is empty (or not a regular file, e.g. a FIFO); it was damaged.{advice}");
        InvalidDataException NotARecord(string why, Exception? inner = null) =>
            new($"{path}: not a run record ({why}); it was damaged or written by something else.{advice}", inner);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw NotARecord(e.Message.Split(". ")[0].TrimEnd('.'), e); }
        using (doc)
        {
            // Valid JSON of another shape ([1,2], null, {"seed": [1]}) is no record either: never a diff of every
            // setting against nothing, nor the serializer's "could not be converted to System...".
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw NotARecord($"it holds {Kind(root.ValueKind)} where a run record holds an object of settings");
            var settings = new Dictionary<string, string>();
            foreach (var p in root.EnumerateObject())
                settings[p.Name] = p.Value.ValueKind == JsonValueKind.String
                    ? p.Value.GetString()!
                    : throw NotARecord($"its setting '{p.Name}' is {Kind(p.Value.ValueKind)} where a run record holds text");
            if (!settings.ContainsKey("name") || !settings.ContainsKey("seed"))
                throw NotARecord("it has no 'name' and 'seed' settings, which every run record has");
            return settings;
        }
    }

    static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "a list", JsonValueKind.Object => "an object", JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "true/false", JsonValueKind.Null => "null", _ => "text",
    };

    static string Describe(string path) => File.Exists(path) ? Describe(Read(path)) : "a checkpoint, metrics or TensorBoard events without a run record";

    /// <summary>A run as the refusals name it: "NAME, seed S, started T".</summary>
    static string Describe(IReadOnlyDictionary<string, string> record) =>
        $"{record.GetValueOrDefault("name", "?")}, seed {record.GetValueOrDefault("seed", "?")}, started {record.GetValueOrDefault("started", "?")}";

    /// <summary>Settings that differ, as "key: old → new"; bookkeeping keys (start time, commit) are not compared.</summary>
    public static List<string> Differences(IReadOnlyDictionary<string, string> old, IReadOnlyDictionary<string, string> now)
    {
        // A record from before step schedules printed their boundaries cannot say what they were: compared without them.
        if (old.GetValueOrDefault("objective") is { } was && was.Contains(UnprintedBoundaries, StringComparison.Ordinal) && now.GetValueOrDefault("objective") is { } objective)
            now = new Dictionary<string, string>(now) { ["objective"] = WithoutBoundaries(objective) };
        return [.. old.Keys.Union(now.Keys).Where(k => !NotCompared.Contains(k) && (old.ContainsKey(k) || !RecordedSince.Contains(k))).Order(StringComparer.Ordinal)
            .Where(k => Canonical(old, k) != Canonical(now, k))
            // Spelled alike but meaning apart, or a method recorded as "default": name the meanings.
            .Select(k => old.GetValueOrDefault(k) == now.GetValueOrDefault(k) || k == "method"
                ? $"{k}: {Canonical(old, k) ?? "(none)"} → {Canonical(now, k) ?? "(none)"}"
                : $"{k}: {old.GetValueOrDefault(k) ?? "(none)"} → {now.GetValueOrDefault(k) ?? "(none)"}")];
    }

    /// <summary>The checkpoint's header, or null when it cannot be read (the resume that loads it names the damage).</summary>
    static CheckpointInfo? ReadableInfo(string checkpoint)
    {
        try { return Checkpoint.ReadInfo(checkpoint); }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>A weight as records before 15 digits spelled it: its double's round trip, 1 − α read back as such.</summary>
    static string RoundTrip(double v) => (1 - (1 - v)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>How a step schedule's boundaries read in an objective's text before they were printed: the list's type.</summary>
    const string UnprintedBoundaries = "Boundaries = System.ValueTuple`2[System.Double,System.Double][]";

    /// <summary><paramref name="objective"/> with its step schedules' boundaries as a record from before printed them.</summary>
    static string WithoutBoundaries(string objective) => PrintedBoundaries().Replace(objective, UnprintedBoundaries);

    [System.Text.RegularExpressions.GeneratedRegex(@"Boundaries = \[[^\]]*\]", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex PrintedBoundaries();

    /// <summary>A recorded value as what it means, for comparing: the options are recorded as typed, and a resume that
    /// spelled the same run another way was refused (`--teacher-epochs 6` against the default, `--device cpu` against
    /// auto on a machine without CUDA, CPU against cpu).</summary>
    static string? Canonical(IReadOnlyDictionary<string, string> record, string key)
    {
        var value = record.GetValueOrDefault(key);
        // Empty is the default (a command without a teacher refuses --teacher-epochs, so it never meets a number).
        if (key == "teacher_epochs" && value == "") return $"{TrainOptions.DefaultTeacherEpochs}";
        if (key == "augment" && value is not null) return Augmentation.Respell(value);
        // The same bytes read from another folder (the dataset moved, DISTILL_DATA set) are the same data: compared by name
        // and checksum, which data_sha256 names on its own when it differs.
        if (key == "data" && value is not null && record.GetValueOrDefault("data_sha256") is { Length: > 0 } sha)
            return $"{value.Split(" from ")[0]} ({sha})";
        // `train --teacher T` without --method is KD at --kd-temperature and --alpha, the run `--method kd --set ...` makes
        // (the same weights): a resume spelled the other way was refused. Those two flags are plain KD's alone, compared
        // through the method here (with --method they are refused; without a teacher nothing reads them).
        if (key is "kd_temperature" or "alpha" && KdFlagsUnread(record)) return null;
        if (key is "method" or "name" && value is not null && PlainKd(record) is { } kd)
            value = key == "method" ? kd.Record : value.EndsWith(" (kd)", StringComparison.Ordinal) ? $"{value[..^5]} ({kd.Label})" : value;
        // A method's list settings are kept in one spelling since 317c404 ("2, 3.0" is 2,3); a record from before kept them
        // as typed, and the same command's --resume was refused.
        if (key is "method" or "name" && value is not null) return Methods.MethodSettings.RespellLists(value);
        // Weights are spelled to 15 digits since this was written (1 − 0.9 read "0.09999999999999998·ce"); a record from
        // before kept the round trip's digits, and the same command's --resume must still match it.
        if (key == "objective" && value is not null) return RespellWeights(value, Weight);
        if (key == "device" && value is not null)
        {
            try { return TorchRuntime.ResolveDevice(value).ToString(); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return value; } // named as it was typed
        }
        return value;
    }

    /// <summary>Whether a record's --kd-temperature and --alpha say nothing of their own: with --method (a catalogue
    /// method's record) they are refused, without a teacher nothing reads them, and plain KD's are in its method's
    /// canonical text. A library caller's own "method" setting keeps them compared.</summary>
    static bool KdFlagsUnread(IReadOnlyDictionary<string, string> record) =>
        record.GetValueOrDefault("method") is { } method
        && (method == "default" ? record.GetValueOrDefault("teacher_model") is null or "none" || PlainKd(record) is not null
            : Methods.MethodCatalogue.TryFind(method.Split(' ')[0]) is not null && method.Contains(' ', StringComparison.Ordinal));

    /// <summary>The kd choice a record of plain KD (a teacher, no --method) trained with; null for any other record.</summary>
    static Methods.MethodChoice? PlainKd(IReadOnlyDictionary<string, string> record)
    {
        if (record.GetValueOrDefault("method") != "default" || record.GetValueOrDefault("teacher_model") is null or "none") return null;
        try { return Methods.MethodCatalogue.Choose("kd", [$"temperature={record.GetValueOrDefault("kd_temperature")}", $"alpha={record.GetValueOrDefault("alpha")}"]); }
        catch (ArgumentException) { return null; } // a hand-edited record: compared as written
    }

    /// <summary>An objective's constant weight as a person writes it: 15 significant digits drop the binary rounding
    /// of sums such as 1 − α.</summary>
    static string Weight(double w) => w.ToString("G15", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Each number an objective's text weighs a term with, spelled by <paramref name="spell"/>; text that is
    /// not a number (a hand-edited record) stays as written.</summary>
    static string RespellWeights(string objective, Func<double, string> spell) =>
        WeightText().Replace(objective, m => double.TryParse(m.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var w) ? spell(w) : m.Value);

    /// <summary>A KD run's name ends " (kd)" or " (kd:settings)".</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@" \(kd(:[^()]*)?\)$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex KdName();

    /// <summary>A number written before "·" in an objective's text.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"-?[0-9][0-9.]*(E[-+]?[0-9]+)?(?=·)", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex WeightText();

    /// <summary>How the run was started, kept from its first record on resume (a run trained at one commit and resumed at
    /// another claimed the second): the code's commit and whether it was built with uncommitted changes, the versions of
    /// TorchSharp, libtorch and .NET.</summary>
    static readonly string[] Provenance = ["commit", "dirty", "torchsharp", "libtorch", "dotnet", "mkl_dispatch", "one_dnn_isa", "mkl_cbwr"];

    /// <summary>Not compared: the build, the versions and the times say how the run was made, not what it is; the
    /// thread count, which changes the numbers, is a compared setting. Declared after <see cref="Provenance"/>, which it
    /// reads while the type initializes.</summary>
    static readonly HashSet<string> NotCompared = ["started", "pid", .. Provenance, "resumes"];

    /// <summary>The record a resume writes: <paramref name="old"/>'s start and provenance (a key an older record lacks
    /// stays absent: it is not known), this run's settings otherwise, and this resume added to "resumes" (one text
    /// value, "TIME commit SHA (clean|dirty|dirty unknown)" entries joined by "; ", since every reader of run.json, an
    /// older build's deploy too, reads its values as text).</summary>
    static Dictionary<string, string> Resumed(IReadOnlyDictionary<string, string> old, IReadOnlyDictionary<string, string> now)
    {
        var record = new Dictionary<string, string>(now);
        // The record keeps vouching for the checkpoint, whose stamp is the digest of the settings it was trained with:
        // a setting spelled otherwise this time (auto for cpu) or recorded only since (budget) changed the record's
        // digest, and a finished run (no checkpoint written again) was refused as another run's at its next resume.
        foreach (var key in now.Keys.Where(k => !NotCompared.Contains(k)).ToList())
            if (old.TryGetValue(key, out var kept)) record[key] = kept;
            else if (RecordedSince.Contains(key)) record.Remove(key);
        foreach (var key in Provenance.Append("started"))
            if (old.TryGetValue(key, out var was)) record[key] = was;
            else record.Remove(key);
        var entry = $"{now.GetValueOrDefault("started", "?")} commit {now.GetValueOrDefault("commit", "unknown")} " +
                    (now.GetValueOrDefault("dirty") switch { "true" => "(dirty)", "false" => "(clean)", _ => "(dirty unknown)" });
        record["resumes"] = old.TryGetValue("resumes", out var earlier) && earlier.Length > 0 ? $"{earlier}; {entry}" : entry;
        return record;
    }

    /// <summary>The libraries whose version changed since the run was recorded: the resumed epochs may compute other
    /// numbers than the uninterrupted run would (another libtorch's kernels), which the user should hear, though the
    /// run may continue. Nothing for a record from before versions were recorded. oneMKL's reproducibility mode too (an
    /// environment variable, so a resume may run with another one: its GEMMs then round otherwise).</summary>
    static IEnumerable<string> VersionChanges(IReadOnlyDictionary<string, string> old, IReadOnlyDictionary<string, string> now) =>
        new[] { ("torchsharp", "TorchSharp", "this build has"), ("libtorch", "libtorch", "this build has"), ("dotnet", ".NET", "this build has"),
                ("mkl_cbwr", "MKL_CBWR", "this process has") }
            .Where(v => old.TryGetValue(v.Item1, out var was) && now.TryGetValue(v.Item1, out var isNow) && was != isNow)
            .Select(v => $"the run was trained with {v.Item2} {old[v.Item1]}, {v.Item3} {now[v.Item1]}: its remaining epochs may not give the numbers an uninterrupted run would.");

    /// <summary>The settings <see cref="Differences"/> compares, in key order: what makes two runs the same run.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Compared(IReadOnlyDictionary<string, string> settings) =>
        settings.Where(kv => !NotCompared.Contains(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal);

    /// <summary>SHA-256 of the <see cref="Compared"/> settings: stamped into each checkpoint, so a resume can tell that
    /// a checkpoint belongs to the run its folder records.</summary>
    public static string Digest(IReadOnlyDictionary<string, string> settings) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(Compared(settings).ToArray())));

    /// <summary>Writes <paramref name="dir"/>'s run record (run.json), atomically.</summary>
    public static void Record(string dir, IReadOnlyDictionary<string, string> settings) =>
        AtomicFile.WriteAllText(Path.Combine(dir, SettingsFile), JsonSerializer.Serialize(settings, JsonOptions));

    /// <summary>The refusal of a new run into <paramref name="dir"/>, which holds a run (see <see cref="HoldsRun"/>). With
    /// this command's <paramref name="settings"/> it says whether that run is this one (the same command typed again,
    /// where --resume reads a finished run back) or which settings differ, where --resume would only be refused.</summary>
    public static string HeldRunError(string dir, IReadOnlyDictionary<string, string>? settings = null)
    {
        var path = Path.Combine(dir, SettingsFile);
        return HeldRunError(dir, settings is not null && File.Exists(path) ? Differences(Read(path), settings) : null);
    }

    /// <summary><see cref="Open"/>'s refusals that a command's <paramref name="options"/> (its settings known before
    /// anything is built or trained) decide, for a command that trains something else first (teachers before their
    /// student): the refusal then comes before that training, and nothing is written. A folder without a readable
    /// record, --force, and settings that only the trained models give are left to <see cref="Open"/>.</summary>
    public static void CheckOptions(string dir, TrainOptions options)
    {
        var known = Invariant(() => OptionSettings(options));
        foreach (var (k, v) in options.Settings) known[k] = v; // last, as the record applies them
        CheckOptions(dir, known, options.Resume, options.Force);
    }

    static void CheckOptions(string dir, IReadOnlyDictionary<string, string> options, bool resume, bool force)
    {
        var path = Path.Combine(dir, SettingsFile);
        if (force || !File.Exists(path) || RecordProblem(path) is not null) return;
        var old = Read(path);
        var changed = Differences(old.Where(kv => options.ContainsKey(kv.Key)).ToDictionary(), options);
        if (resume && changed.Count > 0) throw OtherSettings(dir, changed, old);
        if (!resume && HoldsRun(dir)) throw new InvalidOperationException(HeldRunError(dir, changed));
    }

    /// <summary>The same advice for a notebook, which sets <see cref="TrainOptions"/> where the command line passes flags.</summary>
    const string ApiResume = "Resume = true in TrainOptions", ApiForce = "Force = true in TrainOptions";

    static InvalidOperationException OtherSettings(string dir, List<string> changed, IReadOnlyDictionary<string, string> old) =>
        new($"--resume {dir}: the run there was started with other settings ({string.Join("; ", changed)}). Resume with the same settings" +
            // The thread count is no option the user typed: where it comes from is said, or "the same settings" matched no command.
            (changed.Any(c => c.StartsWith("threads: ", StringComparison.Ordinal)) && old.GetValueOrDefault("threads") is { } k
                ? $" (the thread count too: DISTILL_THREADS={k} for train, --threads {k} for sweep run)" : "") +
            ", or start a new run in another folder.");

    static string HeldRunError(string dir, List<string>? changed)
    {
        var path = Path.Combine(dir, SettingsFile);
        if (changed is { Count: 0 })
            return $"--out {dir} holds this run already ({Describe(path)}, with this command's settings). Pass --resume{ErrorText.Api(ApiResume)} to continue it " +
                   $"(a finished run is read back, not retrained), --force{ErrorText.Api(ApiForce)} to clear the folder and start over, or give another folder.";
        if (changed is { Count: > 0 })
            return $"--out {dir} holds another run ({Describe(path)}; it differs in {string.Join("; ", changed.Take(4))}" +
                   $"{(changed.Count > 4 ? $"; and {changed.Count - 4} more" : "")}). Pass --force{ErrorText.Api(ApiForce)} to clear the folder and start over, or give another folder.";
        // Metrics or events alone (no checkpoint, no record) leave nothing to continue: --resume is not offered for them.
        if (!File.Exists(path) && !File.Exists(Path.Combine(dir, Checkpoint.FileName)))
            return $"--out {dir} holds {Leftovers(dir)} of another run (or another program) without a checkpoint or run record. " +
                   $"Move them away, pass --force{ErrorText.Api(ApiForce)} to delete them and start over, or give another folder.";
        return $"--out {dir} holds another run ({Describe(path)}). " +
               $"Pass --resume{ErrorText.Api(ApiResume)} to continue it, --force{ErrorText.Api(ApiForce)} to clear the folder and start over, or give another folder.";
    }

    /// <summary>The run files other than record and checkpoint that <paramref name="dir"/> holds, named.</summary>
    static string Leftovers(string dir)
    {
        var files = new List<string>();
        if (File.Exists(Path.Combine(dir, MetricsFile))) files.Add(Path.Combine(dir, MetricsFile));
        if (MetricsWriter.EventFiles(dir).Any()) files.Add($"TensorBoard events in {Path.Combine(dir, MetricsWriter.TbFolder)}");
        return string.Join(" and ", files);
    }

    /// <summary>The run folders up to two levels under <paramref name="outRoot"/> (itself included) that a command would
    /// not write, by their path relative to it: a plain run writes <paramref name="outRoot"/> itself, a distillation its
    /// teacher/ and student/, a recipe RUN/seedN. <see cref="Open"/> sees only the folder it opens, so without this a
    /// plain run into a distillation's folder (or the reverse) was written beside the other run, and the two mixed.</summary>
    public static List<string> OtherRuns(string outRoot, Func<string, bool> writes)
    {
        if (!Directory.Exists(outRoot)) return [];
        var options = new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 1, IgnoreInaccessible = true };
        return [.. Directory.EnumerateDirectories(outRoot, "*", options).Prepend(outRoot)
            .Where(HoldsRun).Select(d => d == outRoot ? "" : Path.GetRelativePath(outRoot, d)).Where(rel => !writes(rel)).Order(StringComparer.Ordinal)];
    }

    /// <summary>Refuses (or with <paramref name="force"/> clears, as <see cref="Open"/> does its own folder) the
    /// <see cref="OtherRuns"/> of <paramref name="outRoot"/>; called before anything trains.</summary>
    public static void ClaimOut(string outRoot, Func<string, bool> writes, bool force, bool resume, TextWriter? log)
    {
        if (InsideRunError(outRoot) is { } inside) throw new InvalidOperationException(inside);
        if (!force)
        {
            var others = OtherRuns(outRoot, writes);
            if (others.Count == 0) return;
            var first = Path.Combine(outRoot, others[0]);
            throw new InvalidOperationException($"--out {outRoot} holds another run ({Describe(Path.Combine(first, SettingsFile))}, in {first}" +
                                                $"{(others.Count > 1 ? $", and {others.Count - 1} more" : "")}); " +
                                                (resume ? "it is not this command's to resume; choose another folder." : "pass --force to replace it, or choose another folder."));
        }
        // --force replaces every run distill's own layouts put here (a plain run's, a distillation's teacher/, student/
        // and teacher-N-MODEL/, a recipe's RUN/seedN), this command's kinds too: one it does not write again (kd-multi's
        // second teacher, a recipe's third seed) was left beside the new run as if it were part of it. Never a run of its
        // own in some subfolder: `train --out runs --force` from a project's root deleted every finished experiment two
        // levels down.
        var runs = OtherRuns(outRoot, _ => false);
        if (runs.FirstOrDefault(rel => !OwnLayout(outRoot, rel)) is { } foreign)
            throw new InvalidOperationException($"--out {outRoot}: {Path.Combine(outRoot, foreign)} holds a run of its own (not one of this folder's teacher/, student/ or RUN/seedN runs), " +
                                                "which --force does not delete; move it away, or choose another folder.");
        // Any of them still training refuses the command before one is cleared: a student in training had its teacher/
        // replaced, and the command failed at the student's lock only after training a new teacher.
        if (runs.Select(rel => InUseError(Path.Combine(outRoot, rel))).FirstOrDefault(e => e is not null) is { } busy)
            throw new InvalidOperationException(busy);
        foreach (var rel in runs)
        {
            var dir = Path.Combine(outRoot, rel);
            using var held = Lock(dir); // not while that run is training
            Clear(dir);
            log?.WriteLine($"--force: cleared {dir}");
        }
    }

    /// <summary>Whether <paramref name="rel"/> (relative to <paramref name="outRoot"/>) is where a distill command puts a
    /// run: the folder itself, a distillation's teacher/, student/ and teacher-N-MODEL/, or RUN/seedN in a recipe's
    /// folder (one with <see cref="RecipeFile"/>).</summary>
    static bool OwnLayout(string outRoot, string rel) =>
        rel.Length == 0 || DistillationRunFolder(rel) || (File.Exists(Path.Combine(outRoot, RecipeFile)) && RecipeRunFolder(rel));

    /// <summary>The folders a distillation writes (relative to its --out): teacher/, student/ and kd-multi's teacher-N-MODEL/.</summary>
    public static bool DistillationRunFolder(string rel) =>
        rel is "teacher" or "student" || (rel.StartsWith("teacher-", StringComparison.Ordinal) && !rel.Contains(Path.DirectorySeparatorChar));

    /// <summary>The folders a recipe writes (relative to its --out): RUN/seedN (Recipe.Options).</summary>
    public static bool RecipeRunFolder(string rel) =>
        rel.Split(Path.DirectorySeparatorChar) is [_, var seed] && seed.Length > 4 && seed.StartsWith("seed", StringComparison.Ordinal) && seed[4..].All(char.IsAsciiDigit);

    /// <summary>The file in a recipe's --out folder that names the recipe (one line).</summary>
    public const string RecipeFile = "recipe.txt";

    /// <summary>Claims <paramref name="outRoot"/> for recipe <paramref name="recipe"/>, after <see cref="ClaimOut"/>: every
    /// recipe writes RUN/seedN folders, so another recipe's runs look like this one's to it, and a born-again run into a
    /// soft-targets folder was written beside the other recipe's runs. The folder's <see cref="RecipeFile"/> names the
    /// recipe whose runs it holds; a folder with none of its runs left is free whatever the file says (a refused or
    /// cleared run leaves it behind).</summary>
    public static void ClaimForRecipe(string outRoot, string recipe, bool force, bool resume, TextWriter? log)
    {
        var path = Path.Combine(outRoot, RecipeFile);
        var held = File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        if (held is not null && held != recipe && OtherRuns(outRoot, _ => false).Count > 0)
        {
            if (!force || resume)
                throw new InvalidOperationException($"--out {outRoot} holds the runs of recipe {held} ({path}), not {recipe}; " +
                                                    (resume ? "they are not this command's to resume; choose another folder." : "pass --force to replace them, or choose another folder."));
            ClaimOut(outRoot, _ => false, force: true, resume: false, log);
        }
        // As a plain run's Open checks its folder: an --out through a file or unwritable failed here with the runtime's
        // DirectoryNotFoundException ("Could not find a part of the path ...").
        if (FilePaths.CreateOutFolder(outRoot) is { } problem) throw new ArgumentException(problem + ".");
        AtomicFile.WriteAllText(path, recipe + "\n");
    }

    /// <summary>Why <paramref name="outRoot"/> cannot take runs when a folder above it holds a run (a run written into
    /// another run's tb/ folder was accepted, and the two runs' files nested: --force on the outer one, deploy's run
    /// listing and TensorBoard then met both); null when none does.</summary>
    public static string? InsideRunError(string outRoot)
    {
        // A readable run record only: a project folder with some other tool's metrics.csv or run.json is no run of ours.
        // Without its trailing separator: the "parent" of runs/a/ is runs/a itself, so `--out a/ --resume` was told its own
        // run was another's.
        for (var up = Directory.GetParent(Path.TrimEndingDirectorySeparator(Path.GetFullPath(outRoot))); up is not null; up = up.Parent)
            if (TryRead(Path.Combine(up.FullName, SettingsFile)) is { } record)
                return $"--out {outRoot} is inside the run folder {up.FullName} ({Describe(record)}); give a folder outside it.";
        return null;
    }

    /// <summary>Whether <paramref name="dir"/> holds a run's record, checkpoint, metrics or TensorBoard events (another
    /// run's events in tb/ were written beside, and TensorBoard mixed the two runs' curves under the same tags).</summary>
    public static bool HoldsRun(string dir) =>
        File.Exists(Path.Combine(dir, SettingsFile)) || File.Exists(Path.Combine(dir, Checkpoint.FileName)) || File.Exists(Path.Combine(dir, MetricsFile))
        || MetricsWriter.EventFiles(dir).Any();

    /// <summary>Keys added to the record later: derived from settings the record already compares (student, data and its
    /// normalisation; a recipe's budget, from its epochs and sizes; the teacher's weights, from its settings), so a run recorded before
    /// them still resumes. A recipe run's method
    /// is recorded since its objective alone ("0.1·ce + 0.9·kd") did not tell kd from kd+ls: a recipe run recorded
    /// before resumes as it did (`train` has recorded its method all along).</summary>
    static readonly HashSet<string> RecordedSince = ["model", "dataset", "input", "classes", "budget", "method", "terms", "teacher_sha256", "data_mean", "data_std"];

    /// <summary>Every setting of a run that affects its results, plus when it started and with what: the commit, whether
    /// the build was dirty, the TorchSharp, libtorch and .NET versions (not compared on resume; see <see cref="Resumed"/>).</summary>
    public static Dictionary<string, string> Settings(TrainOptions o, DistillModel student, Objective objective, ImageDataset data, DistillModel? teacher)
    {
        // The record is text that resume compares and deployment reads, so its numbers (learning rates, warmup, clipping,
        // a weight schedule's points, which records print with the current culture) are spelled the invariant way: a run
        // started from a notebook in a kernel under LANG=de_DE wrote "lr=0,05" and no longer matched the CLI's record.
        // Set for this call only: the caller's culture (the user's, in a notebook) is put back.
        return Invariant(() => InvariantSettings(o, student, objective, data, teacher));
    }

    static T Invariant<T>(Func<T> read)
    {
        var callers = System.Globalization.CultureInfo.CurrentCulture;
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        try { return read(); }
        finally { System.Globalization.CultureInfo.CurrentCulture = callers; }
    }

    /// <summary>The settings <paramref name="o"/> gives before any model or data is built (its own extra settings aside):
    /// what <see cref="CheckOptions(string, TrainOptions)"/> compares. Called under the invariant culture.</summary>
    static Dictionary<string, string> OptionSettings(TrainOptions o) => new()
    {
        ["name"] = o.Name, ["seed"] = $"{o.Seed}", ["epochs"] = $"{o.Epochs}", ["batch_size"] = $"{o.BatchSize}",
        ["optimizer"] = o.Optimizer.ToString(), ["schedule"] = o.Schedule.ToString(), ["warmup_epochs"] = o.WarmupEpochs.ToString(CultureInfo.InvariantCulture),
        ["clip_grad_norm"] = o.ClipGradNorm?.ToString(CultureInfo.InvariantCulture) ?? "none", ["augment"] = o.Augment.ToString(),
        ["validation"] = $"{o.ValidationCount} (seed {o.ValidationSeed})", ["device"] = o.Device,
    };

    static Dictionary<string, string> InvariantSettings(TrainOptions o, DistillModel student, Objective objective, ImageDataset data, DistillModel? teacher)
    {
        var s = new Dictionary<string, string>(OptionSettings(o))
        {
            ["threads"] = $"{TorchRuntime.Threads}",
            ["student"] = Described(student),
            ["teacher"] = teacher is null ? "none" : Described(teacher),
            // Which teacher, not only its shape: a recipe resumed with another teacher seed trained a new teacher and
            // went on distilling the student from the first one's outputs, without a word.
            ["teacher_sha256"] = new[] { teacher }.OfType<torch.nn.Module>().Concat(objective.Terms.SelectMany(t => t.Term.OwnTeachers)).Select(TensorDigest.Weights).ToList()
                is { Count: > 0 } digests ? string.Join(", ", digests) : "none",
            ["objective"] = string.Join(" + ", objective.Terms.Select(t => $"{(t.Weight is ConstantSchedule c ? Weight(c.Value) : t.Weight.ToString())}·{t.Term.Name}")),
            // Each term's own parameters, which the objective's text does not show (a recipe's AT β, its KD run's T).
            ["terms"] = string.Join("; ", objective.Terms.Select(t => t.Term.Settings is { } s ? $"{t.Term.Name}({s})" : null).OfType<string>()) is { Length: > 0 } terms ? terms : "none",
            // What deployment needs to rebuild the model from a checkpoint: the zoo name and the input it was built for.
            ["model"] = student.ZooName ?? student.GetType().Name, ["dataset"] = data.Name,
            ["input"] = $"{data.Channels}x{data.Height}x{data.Width}", ["classes"] = $"{data.NumClasses}",
            // The images trained on: the training split less the validation hold-out, derived here so that every caller
            // (the trainer, the teacher and student caches) records the same count.
            ["data"] = $"{data.Name} from {data.Source}", ["data_train"] = $"{data.Train.Count - o.ValidationCount}", ["data_test"] = $"{data.Test.Count}",
            ["data_sha256"] = DataChecksum(data),
            // The normalisation the model was trained with: the mean and std of the whole training split of the copy read
            // (a subset keeps its dataset's), which the subset's checksum does not cover. Deploy writes these into the
            // ONNX file and refuses data normalised otherwise; another copy's values went into the file unnoticed.
            ["data_mean"] = data.NormalisationText.Mean, ["data_std"] = data.NormalisationText.Std,
            ["started"] = DateTimeOffset.Now.ToString("O", CultureInfo.InvariantCulture),
            // The commit the running library was built from; failing that, the checkout around the library's own folder
            // (the repository's build output), not the working directory.
            ["commit"] = Git.BuildCommit ?? (Git.Run(Path.GetDirectoryName(typeof(RunFolder).Assembly.Location) ?? ".", "rev-parse", "HEAD") is { Length: > 0 } c ? c : "unknown"),
            // A dirty build ran code the commit alone does not name (Directory.Build.targets stamps it).
            ["dirty"] = Git.BuildDirty switch { true => "true", false => "false", null => "unknown" },
            ["torchsharp"] = TorchRuntime.TorchSharpVersion, ["libtorch"] = TorchRuntime.LibTorchVersion,
            ["dotnet"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            // Which GEMM and convolution kernels ran: oneMKL's generic ones when libtorch loaded before its shim (a `train`
            // that read its dataset first ran half-speed GEMMs with other bits than a notebook's), oneDNN's ISA cap.
            ["mkl_dispatch"] = MklCpuDispatch.Status, ["one_dnn_isa"] = OneDnnIsa.Status, ["mkl_cbwr"] = TorchRuntime.MklReproducibility,
        };
        foreach (var (k, v) in o.Settings) s[k] = v;
        return s;
    }

    /// <summary>A model as its run record names it: its type, its size and, when it runs channels-last, that. Why the
    /// layout: the same seed trained in the two layouts ends with other weights (float rounding), so a run resumed, or
    /// a cache entry reused, in the other layout matched neither; recorded here, the run folder refuses the resume and
    /// the teacher and student caches key on it. NCHW adds nothing, so records written before channels-last existed
    /// (MLPs, small CNNs, and ResNets that ran NCHW) read the same.</summary>
    static string Described(DistillModel m) =>
        $"{m.GetType().Name}, {m.ParameterCount} parameters{(m.ChannelsLast ? ", channels-last on the CPU" : "")}";

    /// <summary>SHA-256 of the training and test splits as used (images and labels): a changed subset or file shows.</summary>
    public static string DataChecksum(ImageDataset data) => TensorDigest.Sha256([data.Train.Images, data.Train.Labels, data.Test.Images, data.Test.Labels]);

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public void Dispose() => lockStream.Dispose();
}

/// <summary>SHA-256 over tensors' raw bytes, in order: equal digests mean bit-identical data or weights.</summary>
public static class TensorDigest
{
    public static string Sha256(IEnumerable<torch.Tensor> tensors)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tensors)
        {
            using var c = t.cpu().contiguous();
            sha.AppendData(c.bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>A model's parameters and buffers (its state dict, in order): two runs that end with this digest equal
    /// ended with the same weights, bit for bit.</summary>
    public static string Weights(torch.nn.Module model) => Sha256(model.state_dict().Values);
}
