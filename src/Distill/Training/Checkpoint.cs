using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Training;

/// <summary>What a checkpoint records besides tensors: where the run stood and what it had measured. <see cref="Epoch"/>
/// is the number of finished epochs; <see cref="InProgress"/> is set when the run was stopped inside the next one;
/// <see cref="HadGradient"/> lists the optimised parameters (by position) that have had a gradient so far: a step that
/// does not reach one of them gives it a zero gradient, so a resume must know them to step as the run would have.</summary>
public sealed record CheckpointInfo(string Name, int Seed, int Epoch, long Step, long Parameters, string Optimizer, IReadOnlyList<EpochMetrics> History,
    EpochProgress? InProgress = null, IReadOnlyList<int>? HadGradient = null);

/// <summary>Where a stopped run stood inside an epoch (SIGTERM, Ctrl-C): the epoch, the next batch to run, and the
/// epoch's running sums (total loss, each term, correct count) so its metrics come out as if it had not stopped. The
/// epoch's permutation is stored in the checkpoint beside it.</summary>
public sealed record EpochProgress(int Epoch, long Batch, double[] Sums, double Correct);

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
    const int Version = 1;
    static readonly byte[] EndMarker = Encoding.ASCII.GetBytes("\nEND-DISTILL-CKPT\n");

    internal static void Save(string path, CheckpointInfo info, nn.Module student, IReadOnlyList<nn.Module> termModules,
        IReadOnlyList<Parameter> termParameters, optim.Optimizer optimizer, Generator shuffle, Tensor? permutation = null)
    {
        if ((info.InProgress is null) != (permutation is null))
            throw new ArgumentException("A checkpoint inside an epoch needs that epoch's permutation, and only then.", nameof(permutation));
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(Version);
            w.Write(JsonSerializer.Serialize(info));
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
            w.Write(EndMarker);
        });
    }

    /// <summary>Reads only the run information (epoch, history, ...) of a checkpoint.</summary>
    public static CheckpointInfo ReadInfo(string path)
    {
        using var stream = OpenComplete(path);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        return ReadHeader(path, r);
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
                $"Checkpoint '{path}' was written for a model with {info.Parameters:N0} parameters; this run's model has {expectedParameters:N0}. " +
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
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or InvalidDataException && e.Message.IndexOf(path, StringComparison.Ordinal) < 0)
        {
            throw new InvalidDataException($"Checkpoint '{path}' does not fit this run: {e.Message} Resume with the same model, objective and optimizer, or use a fresh output folder.", e);
        }
        return (info, null);
    }

    /// <summary>Reads only the model's parameters and buffers into <paramref name="model"/> (for deployment: no
    /// optimizer, no objective); the model must be built as the run built it.</summary>
    public static CheckpointInfo LoadModel(string path, nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var stream = OpenComplete(path);
        using var r = new BinaryReader(stream, Encoding.UTF8);
        var info = ReadHeader(path, r);
        try
        {
            ReadStateDict(path, r, model, "the model");
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException)
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
    static void ReadStateDict(string path, BinaryReader r, nn.Module module, string what)
    {
        var sd = module.state_dict();
        var count = r.ReadInt32();
        if (count != sd.Count) throw Mismatch(path, $"it holds {count} tensors for {what}, which has {sd.Count}");
        for (var i = 0; i < count; i++)
        {
            var key = r.ReadString();
            if (!sd.TryGetValue(key, out var target)) throw Mismatch(path, $"{what} has no tensor '{key}'");
            target.Load(r);
        }
    }

    static InvalidDataException Mismatch(string path, string what) =>
        new($"Checkpoint '{path}' does not fit this run: {what}. Resume with the same model and objective, or use a fresh output folder.");

    static CheckpointInfo ReadHeader(string path, BinaryReader r)
    {
        try
        {
            if (r.ReadString() != Magic) throw new InvalidDataException("not a checkpoint");
            var version = r.ReadInt32();
            if (version != Version) throw new InvalidDataException($"format version {version}, this build reads {Version}");
            return JsonSerializer.Deserialize<CheckpointInfo>(r.ReadString()) ?? throw new InvalidDataException("empty run information");
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or JsonException or IOException)
        {
            throw new InvalidDataException($"Checkpoint '{path}' is not a Distill checkpoint this build can read ({e.Message}). Delete it or point to another folder.", e);
        }
    }

    /// <summary>Opens the file after checking its end marker: a file without it was cut short (killed mid-write, disk full, copied partially).</summary>
    static FileStream OpenComplete(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        var stream = File.OpenRead(path);
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
            stream.Dispose();
            throw new InvalidDataException(
                $"Checkpoint '{path}' is cut short ({length:N0} bytes, no end marker): it was not written completely. " +
                "Delete it to start the run afresh, or restore a complete copy.");
        }
        stream.Seek(0, SeekOrigin.Begin);
        return stream;
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
