using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Training;

/// <summary>What a checkpoint records besides tensors: where the run stood and what it had measured. <see cref="Epoch"/>
/// is the number of finished epochs; <see cref="InProgress"/> is set when the run was stopped inside the next one;
/// <see cref="HadGradient"/> lists the optimised parameters (by position) that have had a gradient so far: a step that
/// does not reach one of them gives it a zero gradient, so a resume must know them to step as the run would have.
/// <see cref="Settings"/> is the digest of the run record it was written under (<see cref="RunFolder.Digest"/>): a
/// resume refuses a checkpoint from another run copied into the folder. Null in checkpoints written before it existed.
/// <see cref="FirstStepLoss"/> is the loss of the run's step 0, which the first epoch's divergence test compares with: a
/// run stopped inside epoch 1 needs it to flag that epoch as the uninterrupted run does. Null when the run had not taken
/// step 0, and in checkpoints written before it was saved (their resumes skip that test, as they did).</summary>
public sealed record CheckpointInfo(string Name, int Seed, int Epoch, long Step, long Parameters, string Optimizer, IReadOnlyList<EpochMetrics> History,
    EpochProgress? InProgress = null, IReadOnlyList<int>? HadGradient = null, string? Settings = null, double? FirstStepLoss = null);

/// <summary>Where a stopped run stood inside an epoch (SIGTERM, Ctrl-C): the epoch, the next batch to run, and the
/// epoch's running sums (total loss, each term, correct count) so its metrics come out as if it had not stopped. The
/// epoch's permutation is stored in the checkpoint beside it.</summary>
/// <param name="Seconds">The epoch's training time before the stop: the resumed epoch's time and images per second are
/// the whole epoch's, not only its part after the resume (0 in checkpoints from before it was kept).</param>
public sealed record EpochProgress(int Epoch, long Batch, double[] Sums, double Correct, double Seconds = 0);

/// <summary>
/// A run's complete state after an epoch, or at the step where it was stopped, in one file: the student's parameters and buffers, the parameters the loss
/// terms own (e.g. a FitNets regressor), the optimizer state (momentum / Adam moments), the shuffling generator's
/// state, the global generator's state (dropout), the epoch, the global step (the schedules are functions of it) and
/// the metrics so far. Written atomically (temp file + rename); an end marker tells a complete file from one cut short.
/// Tensors are read back in place, so parameter objects (and the optimizer's references to them) survive on any device.
/// </summary>
public static class Checkpoint
{
    public const string FileName = "last.ckpt";
    const string Magic = "DISTILL-CKPT";
    /// <summary>2: a SHA-256 of everything before it precedes the end marker. Version 1 (no checksum; builds before
    /// 2026-12-03) is refused: a version-2 file with its version byte set to 1 skipped the check, and damaged weights
    /// then loaded (and a cached teacher was reused) without a word.</summary>
    const int Version = 2;
    const int HashLength = 32;
    static readonly byte[] EndMarker = Encoding.ASCII.GetBytes("\nEND-DISTILL-CKPT\n");

    internal static void Save(string path, CheckpointInfo info, nn.Module student, IReadOnlyList<nn.Module> termModules,
        IReadOnlyList<Parameter> termParameters, optim.Optimizer optimizer, Generator shuffle, Tensor? permutation = null)
    {
        if ((info.InProgress is null) != (permutation is null))
            throw new ArgumentException("A checkpoint inside an epoch needs that epoch's permutation, and only then.", nameof(permutation));
        Write(path, info, w =>
        {
            WriteStateDict(w, student);
            w.Flush();
            Fault.KillDuringCheckpointWrite();
            w.Write(termModules.Count);
            foreach (var m in termModules) WriteStateDict(w, m);
            w.Write(termParameters.Count);
            foreach (var p in termParameters) p.Save(w);
            ((OptimizerHelper)optimizer).save_state_dict(w);
            using (var g = shuffle.get_state()) g.Save(w);
            using (var g = get_rng_state()) g.Save(w);
            permutation?.cpu().Save(w);
        });
    }

    /// <summary>How run records (a checkpoint's run information, the caches' records) are written: a history may hold
    /// an Infinity (a loss whose float sum overflowed), which plain JSON cannot, and the run then ended on .NET's
    /// "cannot be written as valid JSON" with no checkpoint.</summary>
    internal static readonly JsonSerializerOptions RecordJson = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Writes the envelope (magic, version, run information, then <paramref name="body"/>, checksum, end marker), atomically.</summary>
    static void Write(string path, CheckpointInfo info, Action<BinaryWriter> body) => AtomicFile.Write(path, file =>
    {
        // Everything before the end marker goes through the hash, so a changed byte anywhere (disk, copy) shows on load.
        using var stream = new HashingStream(file);
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write(JsonSerializer.Serialize(info, RecordJson));
        body(w);
        w.Flush();
        file.Write(stream.Hash());
        file.Write(EndMarker);
    });

    /// <summary>Gives a checkpoint another run record's digest, tensors unchanged: a teacher run copied from the cache
    /// into an --out folder is recorded there with the reusing command's settings, and must resume under them.</summary>
    internal static void Restamp(string path, string settingsDigest)
    {
        CheckpointInfo info;
        byte[] body;
        using (var stream = OpenComplete(path))
        using (var r = new BinaryReader(stream, Encoding.UTF8))
        {
            info = ReadHeader(path, r);
            body = new byte[stream.Length - EndMarker.Length - HashLength - stream.Position];
            stream.ReadExactly(body);
        }
        Write(path, info with { Settings = settingsDigest }, w => w.Write(body));
    }

    /// <summary>Reads only the run information (epoch, history, ...) of a checkpoint.</summary>
    /// <param name="loading">True for a model loaded on its own (export), whose errors give no advice to resume.</param>
    public static CheckpointInfo ReadInfo(string path, bool loading = false)
    {
        using var stream = OpenComplete(path, loading);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        return ReadHeader(path, r);
    }

    /// <summary>Why <paramref name="checkpoint"/> is not the run's that <paramref name="record"/> (its run.json,
    /// <paramref name="settings"/>) records, or null when it is (or predates the stamp). A checkpoint copied in from
    /// another run of the same model loads without complaint, so a resume and a deployment both check this.</summary>
    public static string? FromAnotherRun(string checkpoint, CheckpointInfo info, string record, IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(info);
        var digest = RunFolder.Digest(settings);
        return info.Settings is { } stamped && stamped != digest
            ? $"{checkpoint} was written by another run than the one {record} records (its settings digest {stamped[..12]} differs from the record's {digest[..12]}; " +
              $"it holds run '{info.Name}', seed {info.Seed}, epoch {info.Epoch}), e.g. copied in from another folder, or the record edited since."
            : null;
    }

    /// <returns>The run information and, for a run stopped inside an epoch, that epoch's permutation (on the CPU).</returns>
    internal static (CheckpointInfo Info, Tensor? Permutation) Load(string path, nn.Module student, IReadOnlyList<nn.Module> termModules,
        IReadOnlyList<Parameter> termParameters, optim.Optimizer optimizer, Generator shuffle, long expectedParameters)
    {
        using var stream = OpenComplete(path);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        var info = ReadHeader(path, r);
        if (info.Parameters != expectedParameters)
            throw new InvalidDataException(
                string.Create(CultureInfo.InvariantCulture, $"Checkpoint '{path}' was written for a model with {info.Parameters:N0} parameters; this run's model has {expectedParameters:N0}. ") +
                "Resume with the same model and objective, or use a fresh output folder.");
        try
        {
            ReadStateDict(path, r, student, "the model");
            var modules = r.ReadInt32();
            if (modules != termModules.Count) throw Mismatch(path, $"it holds {modules} loss-term modules, the objective has {termModules.Count}");
            foreach (var m in termModules) ReadStateDict(path, r, m, $"loss-term module '{m.GetName()}'");
            var terms = r.ReadInt32();
            if (terms != termParameters.Count) throw Mismatch(path, $"it holds {terms} loss-term parameters, the objective has {termParameters.Count}");
            foreach (var p in termParameters) p.Load(r);
            ((OptimizerHelper)optimizer).load_state_dict(r);
            using (var g = Tensor.Load(r)) shuffle.set_state(g);
            using (var g = Tensor.Load(r)) set_rng_state(g);
            if (info.InProgress is not null) return (info, Tensor.Load(r));
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or FormatException or InvalidDataException && e.Message.IndexOf(path, StringComparison.Ordinal) < 0)
        {
            throw new InvalidDataException($"Checkpoint '{path}' does not fit this run: {e.Message} Resume with the same model, objective and optimizer, or use a fresh output folder.", e);
        }
        return (info, null);
    }

    /// <summary>Reads only the model's parameters and buffers into <paramref name="model"/> (for deployment: no
    /// optimizer, no objective); the model must be built as the run built it.</summary>
    /// <param name="check">Called with the run information before any tensor is read; throws to refuse the checkpoint.</param>
    public static CheckpointInfo LoadModel(string path, nn.Module model, Action<CheckpointInfo>? check = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var stream = OpenComplete(path, loading: true);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        var info = ReadHeader(path, r);
        check?.Invoke(info);
        try
        {
            ReadStateDict(path, r, model, "the model", loading: true);
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or FormatException)
        {
            throw new InvalidDataException($"Checkpoint '{path}' does not fit the model {model.GetName()}: {e.Message.Split('\n')[0]} Rebuild the model the run trained (its run.json).", e);
        }
        return info;
    }

    static void WriteStateDict(BinaryWriter w, nn.Module module)
    {
        var sd = module.state_dict();
        w.Write(sd.Count);
        foreach (var (key, value) in sd)
        {
            w.Write(key);
            value.Save(w);
        }
    }

    /// <summary>Copies each saved tensor into the module's own tensor (in place, any device).</summary>
    /// <param name="loading">True when a model is loaded on its own (export, a cache), where the advice to resume does not apply.</param>
    static void ReadStateDict(string path, BinaryReader r, nn.Module module, string what, bool loading = false)
    {
        var sd = module.state_dict();
        var count = r.ReadInt32();
        if (count != sd.Count) throw Mismatch(path, $"it holds {count} tensors for {what}, which has {sd.Count}", loading);
        for (var i = 0; i < count; i++)
        {
            var key = r.ReadString();
            if (!sd.TryGetValue(key, out var target))
                throw Retired.TryGetValue(key, out var why)
                    ? new InvalidDataException($"Checkpoint '{path}' was written by an earlier build of distill: {why}, so it cannot be resumed. " +
                                               "Train the run again in a fresh output folder (or pass --force to clear this one).")
                    : Mismatch(path, $"{what} has no tensor {Shown(key)}", loading);
            target.Load(r);
        }
    }

    /// <summary>Tensors earlier builds stored under names this build no longer has, and why: a checkpoint holding one
    /// is refused as from another build, not as from another model or objective (which the user did not change).</summary>
    static readonly Dictionary<string, string> Retired = new(StringComparer.Ordinal)
    {
        ["normalisers"] = "its CRD term stored the NCE normaliser Z ('normalisers'), which this build keeps as log Z ('log_normalisers') so that any tau stays finite",
    };

    /// <summary>A tensor name read from the file, quoted, for a message: a damaged file's "name" can be hundreds of bytes
    /// of binary, which would fill the one error line with control characters. Such a name is cut and said to be damaged.</summary>
    static string Shown(string key)
    {
        const int Longest = 80;
        if (key.Length <= Longest && key.All(c => !char.IsControl(c) && c != '\uFFFD')) return $"'{key}'";
        var printable = new string([.. key.Take(Longest).Select(c => char.IsControl(c) || c == '\uFFFD' ? '?' : c)]);
        return string.Create(CultureInfo.InvariantCulture, $"'{printable}{(key.Length > Longest ? "…" : "")}' ({key.Length:N0} characters, not a tensor name: the file is damaged)");
    }

    static InvalidDataException Mismatch(string path, string what, bool loading = false) => new(loading
        ? $"Checkpoint '{path}' does not fit the model built for it: {what}. The run.json beside it names another model than the run trained; restore the one `distill train` wrote."
        : $"Checkpoint '{path}' does not fit this run: {what}. Resume with the same model and objective, or use a fresh output folder.");

    static CheckpointInfo ReadHeader(string path, BinaryReader r)
    {
        try
        {
            if (r.ReadString() != Magic) throw new InvalidDataException("not a checkpoint");
            var version = r.ReadInt32();
            if (version == 1)
                throw new InvalidDataException("format version 1, written by a build from before checkpoints carried a checksum (2026-12-03), which this " +
                                               "build no longer trusts (a changed byte could not be told); train the run again with this build (--force in its folder)");
            if (version != Version) throw new InvalidDataException($"format version {version}, this build reads {Version}");
            return JsonSerializer.Deserialize<CheckpointInfo>(r.ReadString(), RecordJson) ?? throw new InvalidDataException("empty run information");
        }
        // FormatException: a damaged length prefix of a string.
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or JsonException or IOException or FormatException)
        {
            throw new InvalidDataException($"Checkpoint '{path}' is not a Distill checkpoint this build can read ({e.Message}). Delete it or point to another folder.", e);
        }
    }

    /// <summary>What to do about a damaged checkpoint: a run can start afresh; a model being loaded on its own (for
    /// export, or from a cache) cannot, and its file must not be deleted on our say-so.</summary>
    static string Fix(bool loading) => loading ? "Restore a complete copy, or train the run again." : "Delete it to start the run afresh, or restore a complete copy.";

    /// <summary>Opens the file after checking that it starts as a checkpoint does and ends with the end marker: a file
    /// without the marker was cut short (killed mid-write, disk full, copied partially).</summary>
    /// <param name="loading">A model loaded on its own, not a run resumed (<see cref="Fix"/>).</param>
    static FileStream OpenComplete(string path, bool loading = false)
    {
        var fix = Fix(loading);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        if (FilePaths.BrokenLink(path) is { } link)
            throw new InvalidDataException($"'{path}' is {link}. " +
                                           (loading ? "Point it at an existing checkpoint, or give the checkpoint itself." : "Point it at the run's checkpoint again, or delete the link to start the run afresh."));
        if (FilePaths.NothingToRead(path))
            throw new InvalidDataException($"'{path}' is empty (or not a regular file, e.g. a FIFO), not a checkpoint: `distill train` writes them as last.ckpt. {fix}");
        var stream = File.OpenRead(path);
        if (!StartsAsCheckpoint(stream))
        {
            var length = stream.Length;
            var cut = StartCutShort(stream);
            stream.Dispose();
            // A file holding only the first bytes of the start marker is a checkpoint cut short, not another file; and
            // "give the run folder" is advice for a command given a path, not for a resume of the run's own file.
            throw new InvalidDataException(cut
                ? string.Create(CultureInfo.InvariantCulture, $"Checkpoint '{path}' is cut short ({length:N0} byte{(length == 1 ? "" : "s")}, part of its start marker only): it was not written completely. ") + fix
                : $"'{path}' is not a checkpoint: `distill train` writes them as last.ckpt, starting with {Magic}. " +
                  (loading ? "Give the run folder or its last.ckpt." : "Move it away to start the run afresh, or restore the run's last.ckpt."));
        }
        stream.Seek(0, SeekOrigin.Begin);
        var tail = new byte[EndMarker.Length];
        var complete = stream.Length >= tail.Length;
        if (complete)
        {
            stream.Seek(-tail.Length, SeekOrigin.End);
            stream.ReadExactly(tail);
            complete = tail.AsSpan().SequenceEqual(EndMarker);
        }
        if (!complete)
        {
            var length = stream.Length;
            var extra = BytesAfterEndMarker(stream);
            // Most of the marker in place at the end: the file is whole and some of its last bytes changed. A file cut
            // short ends inside tensor data, which matches the marker's bytes at its positions by chance only.
            var changed = length >= tail.Length ? tail.Zip(EndMarker).Count(p => p.First != p.Second) : tail.Length;
            stream.Dispose();
            throw new InvalidDataException(extra is long n
                ? string.Create(CultureInfo.InvariantCulture, $"Checkpoint '{path}' is damaged: {n:N0} byte{(n == 1 ? "" : "s")} follow its end marker (appended to it, e.g. by a copy or a write into the file). ") + fix
                : changed <= EndMarker.Length / 2
                ? string.Create(CultureInfo.InvariantCulture, $"Checkpoint '{path}' is damaged at its end: {changed} of the {EndMarker.Length} bytes of its end marker changed (on disk or in a copy); it is complete in length ({length:N0} bytes). ") + fix
                : string.Create(CultureInfo.InvariantCulture, $"Checkpoint '{path}' is cut short ({length:N0} bytes, no end marker): it was not written completely. ") + fix);
        }
        try { Verify(path, stream, fix); }
        catch
        {
            stream.Dispose();
            throw;
        }
        stream.Seek(0, SeekOrigin.Begin);
        return stream;
    }

    /// <summary>Whether <paramref name="path"/> is a file that starts as a checkpoint does (its magic; nothing more is
    /// checked): for a command given a checkpoint where it takes another kind of file, to say what to do with it.</summary>
    public static bool IsCheckpoint(string path)
    {
        if (!File.Exists(path) || FilePaths.NothingToRead(path)) return false;
        using var stream = File.OpenRead(path);
        return StartsAsCheckpoint(stream);
    }

    static bool StartsAsCheckpoint(Stream stream)
    {
        // BinaryWriter's string: a one-byte length, then the text.
        var start = new byte[1 + Magic.Length];
        return stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) == start.Length && start[0] == Magic.Length &&
               Encoding.ASCII.GetString(start, 1, Magic.Length) == Magic;
    }

    /// <summary>Whether the whole file is a proper prefix of a checkpoint's start (length byte, then the magic): what a
    /// write cut short after a few bytes leaves.</summary>
    static bool StartCutShort(Stream stream)
    {
        var start = new byte[1 + Magic.Length];
        if (stream.Length == 0 || stream.Length >= start.Length) return false;
        stream.Seek(0, SeekOrigin.Begin);
        var n = stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        byte[] expected = [(byte)Magic.Length, .. Encoding.ASCII.GetBytes(Magic)];
        return start.AsSpan(0, n).SequenceEqual(expected.AsSpan(0, n));
    }

    /// <summary>How many bytes follow the last end marker in the file's final MiB, or null when there is none: a file
    /// with bytes appended is whole but damaged, not cut short. Only the tail is searched, to stay cheap.</summary>
    static long? BytesAfterEndMarker(FileStream stream)
    {
        var tail = new byte[(int)Math.Min(stream.Length, 1 << 20)];
        stream.Seek(-tail.Length, SeekOrigin.End);
        stream.ReadExactly(tail);
        var at = tail.AsSpan().LastIndexOf(EndMarker);
        return at < 0 ? null : tail.Length - at - EndMarker.Length;
    }

    /// <summary>Checks a version-2 file's checksum (a file of another version, or no checkpoint at all, is left to
    /// <see cref="ReadHeader"/>, which names the problem).</summary>
    static void Verify(string path, FileStream stream, string fix)
    {
        stream.Seek(0, SeekOrigin.Begin);
        int version;
        using (var r = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true))
        {
            try { version = r.ReadString() == Magic ? r.ReadInt32() : 0; }
            // IOException: a negative string length. Not a checkpoint of this format: ReadHeader names the problem.
            catch (Exception e) when (e is EndOfStreamException or FormatException or DecoderFallbackException or IOException) { return; }
        }
        if (version != Version) return;
        var covered = stream.Length - EndMarker.Length - HashLength;
        if (covered < 0) return;
        stream.Seek(0, SeekOrigin.Begin);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        for (long left = covered; left > 0;)
        {
            var n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0) break;
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
        var stored = new byte[HashLength];
        stream.ReadExactly(stored);
        if (!hash.GetHashAndReset().AsSpan().SequenceEqual(stored))
            throw new InvalidDataException(
                $"Checkpoint '{path}' is damaged: its contents do not match the checksum written with it (bytes changed on disk or in a copy). " + fix);
    }

    /// <summary>Passes writes through to the file and hashes them.</summary>
    sealed class HashingStream(Stream inner) : Stream
    {
        readonly System.Security.Cryptography.IncrementalHash hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);

        public byte[] Hash() => hash.GetHashAndReset();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
        }
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) hash.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// Fault injection for the fault-injection tests, through the real CLI: DISTILL_FAULT=kill-during-checkpoint:N kills
/// this process with SIGKILL (no handler runs) halfway through writing its N-th checkpoint, leaving the half-written
/// temp file behind, as a kill -9 or a power cut at that moment would. Unset, it costs one variable read per checkpoint.
/// </summary>
static class Fault
{
    const string Prefix = "kill-during-checkpoint:";
    static int checkpoints;

    public static void KillDuringCheckpointWrite()
    {
        if (Environment.GetEnvironmentVariable("DISTILL_FAULT") is not { } f || !f.StartsWith(Prefix, StringComparison.Ordinal)) return;
        if (++checkpoints == int.Parse(f[Prefix.Length..], System.Globalization.CultureInfo.InvariantCulture))
            System.Diagnostics.Process.GetCurrentProcess().Kill();
    }
}
