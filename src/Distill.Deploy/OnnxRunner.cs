using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace Distill.Deploy;

/// <summary>An ONNX model loaded into ONNX Runtime on the CPU: float32 images [batch, C, H, W] in, logits out.</summary>
public sealed class OnnxRunner : IDisposable
{
    readonly InferenceSession session;
    readonly RunOptions runOptions = new();

    /// <param name="threads">Intra-op threads; inter-op is 1 (our graphs are chains, nothing runs in parallel).</param>
    /// <exception cref="InvalidDataException">The file is not a model ONNX Runtime can load (named in the message).</exception>
    public OnnxRunner(string path, int threads = 1, bool profile = false)
    {
        // An empty name printed as ": no such file".
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"MODEL '{path}': an empty path; give the path of an .onnx file (`distill deploy export` writes one).");
        // A link that loops or points nowhere "exists" as a file, and opening it fails with a bare ELOOP or "not found".
        if (FilePaths.BrokenLink(path) is { } link) throw new InvalidDataException($"{path} is {link}; point it at an .onnx file, or give the .onnx file itself (`distill deploy export` writes one).");
        // A run folder or its checkpoint is what `deploy export` takes: say so, not "a folder" or "Protobuf parsing failed".
        var checkpoint = Directory.Exists(path) ? Path.Combine(path, Training.Checkpoint.FileName) : path;
        if (Training.Checkpoint.IsCheckpoint(checkpoint))
            throw new InvalidDataException($"{path} is {(checkpoint == path ? "a distill checkpoint" : $"a run folder (its checkpoint {checkpoint})")}, not an ONNX model; " +
                                           // Export reads the run.json beside the checkpoint: a checkpoint copied out alone was sent to a command that failed.
                                           (File.Exists(TrainedModel.RecordOf(checkpoint))
                                               ? $"export it first with `distill deploy export {checkpoint} --out model.onnx`, and give model.onnx here."
                                               : $"export its run folder (the folder `distill train --out` wrote, with its run.json) with `distill deploy export DIR --out model.onnx`, and give model.onnx here."));
        if (Directory.Exists(path)) throw new InvalidDataException($"{path} is a folder; give the .onnx file (`distill deploy export` writes one).");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file; give the path of an .onnx file (`distill deploy export` writes one).", path);
        if (FilePaths.NothingToRead(path)) throw new InvalidDataException($"{path} is empty (or not a regular file, e.g. a FIFO); give an .onnx file (`distill deploy export` writes one).");
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            // Fatal only: its errors reach the user once, as our one-line messages, not also as coloured log lines.
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        if (profile)
        {
            // Under the temp folder, not the working one ONNX Runtime writes to by default: a folder the user cannot
            // write (or /sys) failed the profile after every timed run, naming only the trace file. Set first: turning
            // profiling on takes the prefix set at that moment.
            options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), $"distill-onnx-profile-{Environment.ProcessId}");
            options.EnableProfiling = true;
        }
        try { session = new InferenceSession(path, options); }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: ONNX Runtime cannot load this model ({e.Message.Split('\n')[0].Trim()}). Export it again with `distill deploy export`.", e);
        }
        var input = session.InputMetadata.Values.FirstOrDefault();
        ImageShape = input?.Dimensions.Skip(1).Select(d => (long)d).ToArray() ?? [];
        if (session.InputMetadata.Count != 1 || ImageShape.Length != 3 || ImageShape.Any(d => d < 1))
            throw new InvalidDataException($"{path}: expected one image input [batch, C, H, W]; this model has {(session.InputMetadata.Count == 0 ? "no input" : "inputs " + string.Join(", ", session.InputMetadata.Select(i => $"{i.Key} [{string.Join(", ", i.Value.Dimensions)}]")))}. Export it with `distill deploy export`.");
        var output = session.OutputMetadata.Values.First();
        // Read as float[] on both sides: another type failed at the first run with ONNX Runtime's "Requested type:
        // System.Single does not match", naming no file.
        if (input!.ElementType != typeof(float) || output.ElementType != typeof(float))
            throw new InvalidDataException($"{path}: expected float32 images in and float32 logits out; its input {session.InputNames[0]} is {OnnxType(input.ElementType)} " +
                                           $"and its first output {session.OutputNames[0]} {OnnxType(output.ElementType)}. Export it with `distill deploy export`.");
        if (output.Dimensions.Length != 2)
            throw new InvalidDataException($"{path}: expected logits [batch, classes] as its first output; {session.OutputNames[0]} is [{string.Join(", ", output.Dimensions)}]. Export it with `distill deploy export`.");
        FixedBatch = input!.Dimensions[0] > 0 ? input.Dimensions[0] : null; // a symbolic batch reads as -1
        Classes = output.Dimensions[1] > 0 ? output.Dimensions[1] : null;
        this.path = path;
    }

    readonly string path;

    /// <summary>An element type in ONNX's words (float32, int64), as a user of ONNX tools knows them.</summary>
    static string OnnxType(Type t) => t == typeof(float) ? "float32" : t == typeof(double) ? "float64" : t == typeof(long) ? "int64" : t == typeof(int) ? "int32"
        : t == typeof(byte) ? "uint8" : t == typeof(sbyte) ? "int8" : t == typeof(bool) ? "bool" : t == typeof(Half) ? "float16" : t.Name;

    /// <summary>The .onnx file loaded, as given: for messages that must say which file.</summary>
    public string ModelPath => path;

    /// <summary>Values per image of the first output, when the file declares it.</summary>
    public int? Classes { get; }

    /// <summary>The batch size the model was exported for, when its batch dimension is not symbolic.</summary>
    public int? FixedBatch { get; }

    /// <summary>Refuses a batch whose input no float[] can hold (an ONNX file may declare any image size): named with
    /// the file and the input's size, where allocating it would fail with a bare OverflowException.</summary>
    public void CheckInputSize(int batch)
    {
        // In double: three declared dimensions up to 2^31 each overflow a long.
        var perImage = ImageShape.Aggregate(1.0, (a, d) => a * d);
        if (batch * perImage > Array.MaxLength)
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{path}: its input [{string.Join(", ", ImageShape)}] is {perImage:N0} values per image, " +
                                           $"{batch * perImage:N0} at batch {batch}, more than one input can hold ({Array.MaxLength:N0} values); ") +
                                           "give a model of images this machine can run (`distill deploy export` writes one).");
    }

    void CheckBatch(int batch)
    {
        if (FixedBatch is int b && b != batch)
            throw new InvalidDataException($"{path}: its batch dimension is fixed at {b}, and this needs batch {batch}; export it with a symbolic batch (`distill deploy export` does).");
    }

    IDisposableReadOnlyCollection<OrtValue> Outputs(OrtValue input, IReadOnlyList<string> names)
    {
        try { return session.Run(runOptions, [InputName], [input], names); }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: ONNX Runtime cannot run this model on [{string.Join(", ", input.GetTensorTypeAndShape().Shape)}] images ({e.Message.Split('\n')[0].Trim()}). Export it again with `distill deploy export`.", e);
        }
    }

    /// <summary>[C, H, W] of the model's input.</summary>
    public long[] ImageShape { get; }

    public string InputName => session.InputNames[0];

    /// <summary>Logits [batch, classes], row-major, for <paramref name="images"/> [batch, C, H, W] row-major.</summary>
    public float[] Run(float[] images, int batch)
    {
        CheckBatch(batch);
        using var input = OrtValue.CreateTensorValueFromMemory(images, [batch, .. ImageShape]);
        using var outputs = Outputs(input, [session.OutputNames[0]]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Several outputs by name, for calibration (the values a graph exposes as extra outputs).</summary>
    public float[][] Run(float[] images, int batch, IReadOnlyList<string> outputNames)
    {
        CheckBatch(batch);
        using var input = OrtValue.CreateTensorValueFromMemory(images, [batch, .. ImageShape]);
        using var outputs = Outputs(input, outputNames);
        return [.. outputs.Select(o => o.GetTensorDataAsSpan<float>().ToArray())];
    }

    /// <summary>Stops profiling and returns the JSON trace file ONNX Runtime wrote.</summary>
    public string EndProfiling() => session.EndProfiling();

    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
    }
}
