using System.Globalization;
using System.Text.Json;
using Distill.Models;
using Distill.Training;

namespace Distill.Deploy;

/// <summary>
/// A model rebuilt from a run folder that <c>distill train --out DIR</c> wrote: the zoo name and input shape from
/// DIR/run.json, the weights from DIR/last.ckpt.
/// </summary>
public sealed class TrainedModel : IDisposable
{
    TrainedModel(DistillModel model, long[] imageShape, string dataset, string checkpoint, CheckpointInfo info, int? plannedEpochs,
        IReadOnlyDictionary<string, string> record)
    {
        this.record = record;
        Model = model;
        ImageShape = imageShape;
        Dataset = dataset;
        CheckpointPath = checkpoint;
        Info = info;
        PlannedEpochs = plannedEpochs;
    }

    /// <summary>Where the run stood when the checkpoint was written (finished epochs, a stop inside the next one).</summary>
    public CheckpointInfo Info { get; }

    /// <summary>The epochs the run record plans (null when it records none).</summary>
    public int? PlannedEpochs { get; }

    /// <summary>A one-line note when the checkpoint is not the end of its run (killed, stopped by Ctrl-C or SIGTERM,
    /// or still training): its weights are those of an unfinished model, and what finishes the run. Null for a finished run.</summary>
    public string? Unfinished => Info.InProgress is { } p
        ? $"note: {CheckpointPath} is from a run stopped inside epoch {p.Epoch} (after {Info.Epoch} of {PlannedEpochs?.ToString(CultureInfo.InvariantCulture) ?? "its"} epochs); " +
          $"these are its weights at that step: {Finish} to deploy the trained model."
        : PlannedEpochs is int planned && Info.Epoch < planned
            ? $"note: {CheckpointPath} is from a run that has not finished: {Info.Epoch} of the {planned} epochs its run.json plans; " +
              "these are its weights after epoch " + Info.Epoch.ToString(CultureInfo.InvariantCulture) + $": {Finish} to deploy the trained model."
            : null;

    /// <summary>What finishes this run. A run `deploy prune` wrote (its record names what was pruned) is finished by that
    /// prune with --resume: `train --resume` refuses it (its settings are a prune's). Its command is rebuilt from the
    /// record where every setting it needs is there.</summary>
    string Finish => !record.ContainsKey("pruning") ? "finish the run (`distill train` with its options and --resume)"
        : PruneCommand() is { } command ? $"finish the prune with `{command}` (the command that started it, with --resume)"
        : "finish the prune (the `distill deploy prune` command that started it, with --resume)";

    /// <summary>`distill deploy prune SOURCE --out THIS-FOLDER --sparsity S|--channels F --epochs E [--train-size N] [--lr LR] --resume`
    /// from the run record (`deploy prune` records the source checkpoint and the pruning; the trainer the epochs, the
    /// training images and the learning rate); null when one is missing or not in the form those write.</summary>
    string? PruneCommand()
    {
        if (record.GetValueOrDefault("source") is not { Length: > 0 } source || record.GetValueOrDefault("pruning") is not { } pruning
            || record.GetValueOrDefault("epochs") is not { } epochs || !int.TryParse(epochs, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            return null;
        var how = pruning.Split(' ');
        if (how.Length < 2 || how[0] is not ("sparsity" or "channels") || !double.TryParse(how[1], NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return null;
        var words = new List<string> { "distill deploy prune", FilePaths.ShellWord(source), "--out", FilePaths.ShellWord(Path.GetDirectoryName(Path.GetFullPath(CheckpointPath))!), $"--{how[0]}", how[1], "--epochs", epochs };
        // All of the training split is what no --train-size gives (a count equal to the split takes it whole, in order).
        if (record.GetValueOrDefault("data_train") is { } train && int.TryParse(train, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            && Data.DatasetCatalog.All.FirstOrDefault(d => d.Name == Dataset)?.SplitSizes.Train != n)
            words.AddRange(["--train-size", train]);
        // The optimizer as prune gives it to the trainer: sgd(lr=LR, ...); --lr only where it is not the default 0.01.
        var optimizer = record.GetValueOrDefault("optimizer") ?? "";
        if (!optimizer.StartsWith("sgd(lr=", StringComparison.Ordinal)) return null;
        var lr = optimizer["sgd(lr=".Length..].Split(',', ')')[0];
        if (!double.TryParse(lr, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate)) return null;
        if (rate != 0.01) words.AddRange(["--lr", lr]);
        words.Add("--resume");
        return string.Join(' ', words);
    }

    public DistillModel Model { get; }

    /// <summary>[C, H, W] the model was trained on.</summary>
    public long[] ImageShape { get; }

    /// <summary>The dataset's name as `distill train --dataset` takes it.</summary>
    public string Dataset { get; }

    public string CheckpointPath { get; }

    /// <summary>The run record beside the checkpoint, which names the model, its input and its dataset.</summary>
    public string RecordPath => RecordOf(CheckpointPath);

    internal static string RecordOf(string checkpointFile) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(checkpointFile))!, "run.json");

    /// <summary>The dataset the run record names, checked against the shape the model was trained on: a record edited
    /// to another dataset would otherwise feed the model images it cannot take (or another dataset's labels).</summary>
    public Data.ImageDataset LoadData()
    {
        var data = Data.Datasets.Load(Dataset);
        long[] shape = [data.Channels, data.Height, data.Width];
        if (!shape.SequenceEqual(ImageShape))
        {
            data.Dispose();
            throw new ArgumentException($"{RecordPath} names dataset {Dataset}, whose images are {string.Join("x", shape)}, " +
                                        $"but the model was trained on {string.Join("x", ImageShape)}; restore the run.json `distill train` wrote.");
        }
        var (mean, std) = data.NormalisationText;
        // Another copy of the dataset (DISTILL_DATA, a subset, edited files) normalises its images with its own mean and
        // std: calibration, accuracy and the file's metadata would then be of inputs the model was not trained on.
        if (RecordedNormalization is var (trainedMean, trainedStd) && (mean, std) != (trainedMean, trainedStd))
        {
            data.Dispose();
            throw new ArgumentException($"{Dataset} read from {data.Source} is not the copy the run was trained on: its training images' mean {mean}, " +
                                        $"std {std}; the run's ({RecordPath}) mean {trainedMean}, std {trainedStd}. Point DISTILL_DATA at the copy it read " +
                                        $"({record.GetValueOrDefault("data", "not recorded")}), or unset it if that is the system copy.");
        }
        // Kept for the export's metadata where the record has none (a run from before it did): an int8 export has loaded
        // the data for calibration already.
        normalization ??= (mean, std);
        return data;
    }

    /// <summary>The normalisation the run record keeps (data_mean, data_std), or null for a record from before it did.</summary>
    (string Mean, string Std)? RecordedNormalization =>
        record.GetValueOrDefault("data_mean") is { Length: > 0 } mean && record.GetValueOrDefault("data_std") is { Length: > 0 } std ? (mean, std) : null;

    /// <summary>SHA-256 of the model's state dict as loaded (<see cref="TensorDigest.Weights"/>).</summary>
    public string WeightsDigest => weights ??= TensorDigest.Weights(Model);
    string? weights;

    /// <summary>What the exported file records about its origin (ONNX metadata_props).</summary>
    public IReadOnlyDictionary<string, string> Metadata => new Dictionary<string, string>
    {
        ["model"] = Model.ZooName ?? Model.GetType().Name, ["dataset"] = Dataset, ["checkpoint"] = Path.GetFullPath(CheckpointPath),
        // The weights themselves, so `deploy check` can tell an export of this checkpoint from one of another checkpoint
        // of the same model (the path alone cannot: a run folder is reused, a file copied).
        ["weights"] = WeightsDigest,
        ["input"] = "normalised images [batch, C, H, W]: (pixel / 255 − mean) / std, per channel, with the mean and std recorded here (what the TorchSharp model takes)",
        // The numbers themselves: the file is what runs outside this repository, where the preprocessing must be rebuilt.
        ["mean"] = Normalization.Mean, ["std"] = Normalization.Std,
        // How the weights were made (the run record's seed, build and thread count) and by which build they were exported:
        // an exported file is a report of its run too.
        ["seed"] = Recorded("seed"),
        ["trained_with"] = $"commit {Recorded("commit")} (dirty build: {Recorded("dirty")}), TorchSharp {Recorded("torchsharp")}, libtorch {Recorded("libtorch")}, " +
                           $"{Recorded("dotnet")}, {Recorded("threads")} threads",
        ["exported_with"] = $"commit {Native.Git.BuildCommit ?? "unknown"} (dirty build: {Native.Git.BuildDirty?.ToString().ToLowerInvariant() ?? "unknown"})",
    };

    readonly IReadOnlyDictionary<string, string> record;

    /// <summary>The dataset's per-channel mean and std (of its training split scaled to [0, 1], as the model was trained
    /// with), comma-separated, round-trip precision: from the run record, or for a record without them from the dataset,
    /// loaded once.</summary>
    (string Mean, string Std) Normalization
    {
        get
        {
            if (normalization is { } known) return known;
            if (RecordedNormalization is { } recorded) return (normalization = recorded).Value;
            try
            {
                LoadData().Dispose(); // sets it
                return normalization!.Value;
            }
            // An export needs only the checkpoint: on a machine without the dataset the file says why the numbers are missing.
            catch (Data.DatasetException e)
            {
                var why = $"not recorded: the dataset was not found at export ({e.Problem})";
                return (normalization = (why, why)).Value;
            }
        }
    }
    (string Mean, string Std)? normalization;

    string Recorded(string key) => record.GetValueOrDefault(key) is { Length: > 0 } v ? v : "not recorded";

    /// <param name="checkpoint">DIR/last.ckpt, or the run folder DIR.</param>
    /// <summary>The checkpoint file <see cref="Load"/> reads for <paramref name="checkpoint"/> (a run folder or its
    /// checkpoint), without reading it: for what a command records of its source before the slow work.</summary>
    public static string CheckpointFile(string checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        RefuseEmpty(checkpoint);
        var file = Directory.Exists(checkpoint) ? Path.Combine(checkpoint, Checkpoint.FileName) : checkpoint;
        // RUN/last.ckpt given, and a folder: it is the checkpoint meant, not a run folder missing RUN/last.ckpt/last.ckpt.
        if (!File.Exists(file) && Path.GetFileName(Path.TrimEndingDirectorySeparator(checkpoint)) == Checkpoint.FileName) file = checkpoint;
        return file;
    }

    /// <summary>Path.GetFullPath's "The value cannot be an empty string" named nothing.</summary>
    static void RefuseEmpty(string checkpoint)
    {
        if (string.IsNullOrWhiteSpace(checkpoint))
            throw new InvalidDataException($"CHECKPOINT '{checkpoint}': an empty path; give the folder `distill train --out DIR` wrote, or its {Checkpoint.FileName}.");
    }

    public static TrainedModel Load(string checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        RefuseEmpty(checkpoint);
        // A link that loops is neither a folder nor a file: without this, the run.json "beside" it is reported missing.
        if (FilePaths.BrokenLink(checkpoint) is { } link)
            throw new InvalidDataException($"{checkpoint} is {link}: point it at a run folder or its {Checkpoint.FileName}, or give the folder itself.");
        var file = CheckpointFile(checkpoint);
        // A folder where the checkpoint should be is there, not "no such checkpoint".
        if (Directory.Exists(file))
            throw new InvalidDataException($"{file} is {FilePaths.NotAFile(file)}: a checkpoint is the file `distill train` writes as {Checkpoint.FileName}; " +
                                           "restore it, or give another run folder or checkpoint.");
        if (!File.Exists(file))
        {
            // `train --teacher ... --out DIR` writes DIR/teacher and DIR/student, a recipe DIR/RUN/seedN (teacher/seed0,
            // kd/seed1, ...), each a run folder of its own: the folder a recipe wrote was called no run folder at all.
            var runs = Directory.Exists(checkpoint)
                ? Trainer.RunsIn(checkpoint).Where(rel => rel.Length > 0 && File.Exists(Path.Combine(checkpoint, rel, Checkpoint.FileName))).ToList()
                : [];
            var shown = runs.Take(6).Select(d => Path.Combine(checkpoint, d)).ToList();
            throw new FileNotFoundException(runs.Count > 0
                ? $"{checkpoint} holds {(runs.Count == 1 ? "a run" : $"{runs.Count} runs")} in folders of its own, not one model; give one of them: " +
                  $"{string.Join(", ", shown)}{(runs.Count > shown.Count ? $", ... ({runs.Count - shown.Count} more)" : "")}."
                : $"{file}: no such checkpoint; give the folder `distill train --out DIR` wrote, or its {Checkpoint.FileName}.", file);
        }
        var record = RecordOf(file);
        // A file that is no checkpoint (/dev/null, a text file) has no run record beside it either: say what it is not,
        // not that "/dev/run.json" is missing.
        if (!File.Exists(record) && !Directory.Exists(record) && !Checkpoint.IsCheckpoint(file))
            throw new InvalidDataException($"{checkpoint} is not a run folder or a checkpoint: give the folder `distill train --out DIR` wrote, or its {Checkpoint.FileName}.");
        var s = ReadRecord(record);
        string Get(string key) => s.TryGetValue(key, out var v) && v.Length > 0 ? v
            : throw new InvalidDataException($"{record} records no '{key}' (a run from before `distill deploy`): train it again with `distill train --out DIR`, which records the model name and input shape.");
        // A model the zoo does not know is named as such; any other edit of the record (or a record copied in) is named
        // so before the model it names is built: an edited 'input' was refused as a model too large to build, whose
        // fix (a smaller width) was no fix.
        try { ModelZoo.Canonical(Get("model")); }
        catch (ArgumentException e) { throw new InvalidDataException($"{record}: cannot build model '{Get("model")}': {ErrorText.Line(e)} Export checkpoints of zoo models only.", e); }
        if (Checkpoint.FromAnotherRun(file, Checkpoint.ReadInfo(file, loading: true), record, s) is { } other)
            throw new InvalidDataException($"{other} Deploy it from the folder it came from, or restore this folder's own {Checkpoint.FileName} and run.json.");

        var dims = Get("input").Split('x');
        if (dims.Length != 3 || !dims.All(d => long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0)
            || !int.TryParse(Get("classes"), NumberStyles.None, CultureInfo.InvariantCulture, out var classes) || classes < 1)
            throw new InvalidDataException($"{record}: 'input' must be CxHxW and 'classes' a positive number; got '{Get("input")}' and '{Get("classes")}'. Restore the run.json train wrote.");
        var shape = dims.Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        DistillModel model;
        try { model = ModelZoo.Create(Get("model"), (int)shape[0], classes, new ModelOptions { ImageSize = (int)shape[1] }); }
        // Sized from the record before anything is allocated: a model or input far larger than any run trains here.
        catch (ModelTooLargeException e)
        {
            throw new InvalidDataException($"{record}: cannot build model '{Get("model")}' for input {Get("input")}: {e.Message} " +
                                           "Restore the run.json `distill train` wrote beside this checkpoint.", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{record}: cannot build model '{Get("model")}': {ErrorText.Line(e)} Export checkpoints of zoo models only.", e);
        }
        // libtorch fails to build it all the same (the size check passed it).
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            throw new InvalidDataException($"{record}: cannot build model '{Get("model")}' for input {Get("input")} ({e.Message.Split('\n')[0].Trim()}). " +
                                           "Restore the run.json `distill train` wrote beside this checkpoint.", e);
        }
        CheckpointInfo info;
        try { info = Checkpoint.LoadModel(file, model, header => CheckParameters(header, file, record, model)); }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        int? planned = s.TryGetValue("epochs", out var epochs) && int.TryParse(epochs, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        return new TrainedModel(model, shape, Get("dataset"), file, info, planned, s);
    }

    /// <summary>Refuses a checkpoint of another model than its run.json names, from the header, before libtorch's
    /// tensor-shape complaint. Another run of the same model (copied in, or the record edited) was refused by its settings
    /// stamp before the model was built (<see cref="Load"/>); this catches a checkpoint that carries no stamp.</summary>
    static void CheckParameters(CheckpointInfo header, string file, string record, DistillModel model)
    {
        if (header.Parameters != model.ParameterCount)
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{file} holds run '{header.Name}', a model of {header.Parameters:N0} parameters, but {record} names model " +
                                           $"'{model.ZooName}', which has {model.ParameterCount:N0}: the two are from different runs. ") +
                                           "Deploy the checkpoint from the folder it came from, or restore this folder's own run.json and last.ckpt.");
    }

    static Dictionary<string, string> ReadRecord(string path)
    {
        if (FilePaths.NotAFile(path) is { } what)
            throw new InvalidDataException($"{path} is {what}: the run record beside a checkpoint is the file `distill train --out DIR` writes, which names the model; restore it.");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: missing; a checkpoint is exported with the run.json beside it, which names the model (`distill train --out DIR` writes both).", path);
        // A FIFO in its place blocked the read until killed.
        if (FilePaths.NothingToRead(path))
            throw new InvalidDataException($"{path}: empty (or not a regular file, e.g. a FIFO), not a run record. Restore the run.json `distill train` wrote.");
        // Read as a document, not deserialized into a dictionary: [] or 42 was the serializer's message, which names
        // .NET's Dictionary`2 type. JSON null is no more a run record (it was "records no 'input'").
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException($"a JSON {Kind(doc.RootElement)}, not an object");
            var record = new Dictionary<string, string>();
            foreach (var p in doc.RootElement.EnumerateObject())
                record[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new JsonException($"'{p.Name}' is a JSON {Kind(p.Value)}, not text");
            return record;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a run record ({ErrorText.Json(e)}). Restore the run.json `distill train` wrote.", e);
        }
        static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();
    }

    public void Dispose() => Model.Dispose();
}
