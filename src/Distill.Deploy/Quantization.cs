using System.Globalization;
using Distill.Deploy.Onnx;
using Distill.Models;
using static TorchSharp.torch;

namespace Distill.Deploy;

/// <summary>How activation ranges are taken from the calibration images.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,

    /// <summary>The 0.01st and 99.99th percentiles, per calibration batch, averaged over batches: an outlier no
    /// longer stretches the grid for every other value (Wu et al. 2020, "Integer quantization for deep learning
    /// inference", §4.1).</summary>
    Percentile,
}

/// <summary>The value range [Low, High] of one activation, always containing 0 (so 0 is exact on the uint8 grid).</summary>
public readonly record struct Range(float Low, float High)
{
    /// <summary>uint8 affine grid: scale = (high − low) / 255, zero point = round(−low / scale).</summary>
    public (float Scale, byte ZeroPoint) Uint8()
    {
        float lo = Math.Min(Low, 0), hi = Math.Max(High, 0);
        var scale = hi > lo ? (hi - lo) / 255f : 1f;
        return (scale, (byte)Math.Clamp(MathF.Round(-lo / scale), 0, 255));
    }
}

/// <summary>
/// Post-training int8 quantization of a zoo model's ONNX graph (Jacob et al. 2018, "Quantization and training of neural
/// networks for efficient integer-arithmetic-only inference"): weights int8, symmetric, one scale per output channel;
/// activations uint8 with a zero point. ONNX Runtime on x86 runs uint8 activations with int8 weights (U8S8).
/// </summary>
public static class Quantization
{
    /// <summary>Static QDQ: every Conv/Gemm but the one reading the image reads a dequantized uint8 input and dequantized per-channel int8 weights,
    /// with an int32 bias at scale s_x·s_w, and its (post-ReLU) output is quantized again, the pattern ONNX Runtime
    /// fuses into QLinearConv / integer Gemm kernels. Activation ranges come from <paramref name="calibration"/>
    /// (normalised images [N, C, H, W]) run through the float model in ONNX Runtime. <paramref name="cancellation"/> is
    /// checked between calibration batches (a stop throws <see cref="OperationCanceledException"/>).</summary>
    /// <param name="progress">Where a calibration that takes long says how far it got: a line every
    /// <paramref name="progressEvery"/> (default 10 s), and one when it is done; a short one prints nothing. Calibrating
    /// a wrn-16-1 on 60,000 images took 270 s with no output at all.</param>
    public static ModelProto Static(DistillModel model, long[] imageShape, Tensor calibration, CalibrationMethod method,
        IReadOnlyDictionary<string, string>? metadata = null, int batchSize = 64, TextWriter? progress = null, TimeSpan? progressEvery = null,
        CancellationToken cancellation = default)
    {
        CheckCalibration(calibration, imageShape);
        var floatOps = new FloatOps();
        var floatGraph = OnnxExport.Build(model, imageShape, floatOps);
        var ranges = Calibrate(floatGraph, floatOps.Layers, calibration, method, batchSize, progress, progressEvery ?? TimeSpan.FromSeconds(10), cancellation);
        return OnnxExport.Build(model, imageShape, new StaticQdqOps(ranges, floatOps.Layers[^1].Path), metadata);
    }

    /// <summary>Dynamic quantization (for the MLPs): each Gemm's input is quantized at run time from its own range
    /// (DynamicQuantizeLinear), multiplied by per-column int8 weights with MatMulInteger, and rescaled; ONNX Runtime
    /// fuses the pattern into its DynamicQuantizeMatMul kernel. Convolutions, if any, stay float32.</summary>
    public static ModelProto Dynamic(DistillModel model, long[] imageShape, IReadOnlyDictionary<string, string>? metadata = null) =>
        OnnxExport.Build(model, imageShape, new DynamicOps(), metadata);

    static void CheckCalibration(Tensor calibration, long[] imageShape)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        if (calibration.dim() != 4 || !calibration.shape.Skip(1).SequenceEqual(imageShape))
            throw new ArgumentException($"Calibration images must be [N, {string.Join(", ", imageShape)}]; got [{string.Join(", ", calibration.shape)}].");
        if (calibration.shape[0] == 0)
            throw new ArgumentException("Static int8 quantization needs calibration images to measure activation ranges, and got none: calibrate on at least 1 training image (e.g. --calibrate 256).");
    }

    /// <summary>Runs the float graph with every layer's input and output exposed as extra outputs and measures each
    /// one's range. Keyed by module path, so the quantized build (whose value names differ) finds them.</summary>
    internal static Dictionary<string, (Range In, Range Out)> Calibrate(ModelProto floatGraph, IReadOnlyList<(string Path, string Input, string Output)> layers,
        Tensor calibration, CalibrationMethod method, int batchSize, TextWriter? progress = null, TimeSpan progressEvery = default,
        CancellationToken cancellation = default)
    {
        var probe = floatGraph.Clone();
        // The last layer's output was renamed "logits" when the graph was finished.
        var produced = probe.Graph.Node.SelectMany(n => n.Output).Append(OnnxGraph.InputName).ToHashSet();
        string Value(string name) => produced.Contains(name) ? name : OnnxGraph.OutputName;
        layers = [.. layers.Select(l => (l.Path, Value(l.Input), Value(l.Output)))];
        var names = layers.SelectMany(l => new[] { l.Input, l.Output }).Distinct().Where(n => n != OnnxGraph.OutputName).ToList();
        foreach (var n in names)
            probe.Graph.Output.Add(new ValueInfoProto { Name = n, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        var outputs = names.Append(OnnxGraph.OutputName).ToList();

        var path = Path.Combine(Path.GetTempPath(), $"distill-calibrate-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        var stats = outputs.ToDictionary(n => n, _ => new RangeStats(method));
        try
        {
            // Not stopped here: the loop below checks the token at once, with a message saying how far calibration got.
            OnnxExport.Save(probe, path, CancellationToken.None);
            using var runner = new OnnxRunner(path, threads: Math.Max(1, Environment.ProcessorCount));
            var total = calibration.shape[0];
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var lastLine = TimeSpan.Zero;
            var reported = false;
            for (long start = 0; start < total; start += batchSize)
            {
                var elapsed = clock.Elapsed;
                if (progress is not null && start > 0 && elapsed - lastLine >= progressEvery)
                {
                    lastLine = elapsed;
                    reported = true;
                    var left = TimeSpan.FromSeconds(elapsed.TotalSeconds * (total - start) / start);
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"calibrating int8 ranges: {start:N0} of {total:N0} images ({100.0 * start / total:F0}%), {Span(elapsed)} so far, about {Span(left)} left"));
                }
                // Thousands of images take minutes: a signal that waited for the end was ignored, or met the watchdog
                // mid-kthvalue (a libtorch assert at exit).
                if (cancellation.IsCancellationRequested)
                    throw new OperationCanceledException(string.Create(CultureInfo.InvariantCulture,
                        $"stopped while calibrating int8 ranges ({start:N0} of {total:N0} images)"), cancellation);
                using var scope = NewDisposeScope();
                var batch = calibration.narrow(0, start, Math.Min(batchSize, calibration.shape[0] - start)).to(ScalarType.Float32).cpu().contiguous();
                var values = runner.Run(batch.data<float>().ToArray(), (int)batch.shape[0], outputs);
                for (var i = 0; i < outputs.Count; i++) stats[outputs[i]].Add(values[i]);
            }
            if (reported)
                progress!.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"calibrated int8 ranges on {total:N0} images in {Span(clock.Elapsed)}"));
        }
        finally
        {
            File.Delete(path);
        }
        return layers.ToDictionary(l => l.Path, l => (stats[l.Input].Range, stats[l.Output].Range));
    }

    /// <summary>"42 s", "15 min": a duration as a progress line gives it.</summary>
    static string Span(TimeSpan t) => t.TotalSeconds < 120
        ? t.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture) + " s"
        : t.TotalMinutes.ToString("F0", CultureInfo.InvariantCulture) + " min";

    /// <summary>Running range of one activation over calibration batches.</summary>
    sealed class RangeStats(CalibrationMethod method)
    {
        const double Percentile = 99.99;
        float low = float.PositiveInfinity, high = float.NegativeInfinity;
        double lowSum, highSum, weight;

        public void Add(float[] values)
        {
            if (method == CalibrationMethod.MinMax)
            {
                foreach (var v in values) { low = Math.Min(low, v); high = Math.Max(high, v); }
                return;
            }
            using var t = tensor(values);
            lowSum += At(t, 100 - Percentile) * values.Length;
            highSum += At(t, Percentile) * values.Length;
            weight += values.Length;
        }

        public Range Range => method == CalibrationMethod.MinMax ? new(low, high) : new((float)(lowSum / weight), (float)(highSum / weight));

        static double At(Tensor t, double percentile)
        {
            var k = Math.Clamp((long)Math.Round(percentile / 100 * (t.shape[0] - 1)) + 1, 1, t.shape[0]);
            using var kth = t.kthvalue(k, 0).values;
            return kth.item<float>();
        }
    }

    /// <summary>The largest |int32 bias| the static export writes (2^24): on the accumulator's grid s_x·s_w a bias then
    /// keeps float32's 24-bit precision, and the int32 accumulator it is added to keeps 2^7 of headroom.</summary>
    internal const double BiasLimit = 1 << 24;

    /// <summary>Symmetric int8 weights, one scale per output channel (dimension 0): scale = max|w| / 127, at least
    /// 1e-12 / 127. With <paramref name="bias"/> (static QDQ, whose int32 bias is b / (s_x·s_w) for the input grid
    /// <paramref name="inputScale"/>), a channel's scale is also at least |b| / (s_x·<see cref="BiasLimit"/>): a channel
    /// whose weights are all zero (pruned) or tiny got s_w = 7.9e-15, and its bias b / (s_x·s_w) saturated int32 at
    /// −2147483648 whatever b was. Its weights are still exact (zeros are zero on any grid) and its bias now is too.
    /// ONNX Runtime's quantizer gives an all-zero range the scale 1, and its recent versions raise a weight scale whose bias
    /// would not fit int32; PyTorch's observers floor every scale at float32's epsilon.</summary>
    internal static (Tensor Q, Tensor Scale) PerChannelInt8(Tensor weight, Tensor? bias = null, float inputScale = 0)
    {
        var flat = weight.flatten(1);
        var scale = flat.abs().amax([1]).to(ScalarType.Float64) / 127;
        if (bias is not null)
        {
            if (!(inputScale > 0)) throw new ArgumentOutOfRangeException(nameof(inputScale), inputScale, "The input grid's scale must be positive.");
            scale = scale.maximum(bias.to(ScalarType.Float64).abs() / (inputScale * BiasLimit));
        }
        scale = scale.clamp_min(1e-12 / 127).to(ScalarType.Float32);
        var shape = new long[weight.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        var q = (weight / scale.view(shape)).round().clamp(-127, 127).to(ScalarType.Int8);
        return (q, scale);
    }

    /// <summary>A uint8 grid in the graph: its scale and the initializers holding scale and zero point.</summary>
    internal readonly record struct Grid(float Scale, string ScaleName, string ZeroName)
    {
        public string Qdq(OnnxGraph g, string path, string x) =>
            g.Node("DequantizeLinear", path, [g.Node("QuantizeLinear", path, [x, ScaleName, ZeroName]), ScaleName, ZeroName]);
    }

    /// <summary>Quantize-dequantize of an activation on its calibrated uint8 grid.</summary>
    internal static string Qdq(OnnxGraph g, string path, string x, Range range, out Grid grid)
    {
        var (s, zp) = range.Uint8();
        using var st = tensor(s);
        using var zt = tensor(zp);
        grid = new Grid(s, g.Initializer($"{path}.scale", st), g.Initializer($"{path}.zero_point", zt));
        return grid.Qdq(g, path, x);
    }

    /// <param name="lastLayer">The layer that computes the logits: its output stays float32 (a uint8 grid would only
    /// round the logits; the last Gemm reads quantized inputs and still runs on integers).</param>
    sealed class StaticQdqOps(IReadOnlyDictionary<string, (Range In, Range Out)> ranges, string lastLayer) : IWeightedOps
    {
        /// <summary>Values that already come out of a DequantizeLinear on a known grid: quantizing them again would
        /// only add a Q/DQ pair that ONNX Runtime has to remove.</summary>
        readonly Dictionary<string, Grid> dequantized = [];

        /// <summary>MaxPool and Flatten only pick or move values, so their output stays on the input's grid: wrapped in
        /// the same Q/DQ, ONNX Runtime runs them on uint8 and the chain between integer kernels stays integer.</summary>
        public string Passthrough(OnnxGraph g, string path, string x, Func<string, string> op)
        {
            var y = op(x);
            if (!dequantized.TryGetValue(x, out var grid)) return y;
            y = grid.Qdq(g, path, y);
            dequantized[y] = grid;
            return y;
        }

        public string Conv(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, AttributeProto[] attributes, bool relu) =>
            Layer(g, path, x, weight, bias, relu, (xq, w, b) => g.Node("Conv", path, [xq, w, b], attributes));

        public string Gemm(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, bool relu) =>
            Layer(g, path, x, weight, bias, relu, (xq, w, b) => g.Node("Gemm", path, [xq, w, b], OnnxGraph.Attr("transB", 1L)));

        string Layer(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, bool relu, Func<string, string, string, string> op)
        {
            var (inRange, outRange) = ranges.TryGetValue(path, out var r) ? r
                : throw new InvalidOperationException($"No calibration range for layer '{path}': the float and int8 exports walked the model differently.");
            // The layer reading the image stays float32: with 1-3 input channels it holds few of the model's
            // multiply-adds, and quantizing it costs a QuantizeLinear of the image plus a uint8 layout change; measured
            // on the cnn here, batch-1 p50 0.334 → 0.296 ms (median of 7 alternating runs, docs/deployment.md).
            if (x == OnnxGraph.InputName)
                return Output(g, path, op(x, g.Initializer($"{path}.weight", weight), g.Initializer($"{path}.bias", bias)), relu, outRange);
            if (!dequantized.TryGetValue(x, out var xGrid)) x = Qdq(g, $"{path}.input", x, inRange, out xGrid);

            var (wq, wScale) = PerChannelInt8(weight, bias, xGrid.Scale);
            var axis = OnnxGraph.Attr("axis", 0L);
            var wScaleName = g.Initializer($"{path}.weight_scale", wScale);
            var w = g.Node("DequantizeLinear", $"{path}.weight", [g.Initializer($"{path}.weight_q", wq), wScaleName, g.Initializer($"{path}.weight_zero_point", zeros_like(wScale, ScalarType.Int8))], axis);
            // Bias on the accumulator's grid (s_x·s_w per channel, zero point 0): the int32 the integer kernel adds.
            var bScale = wScale * xGrid.Scale;
            var bq = (bias / bScale).round().to(ScalarType.Int32);
            var b = g.Node("DequantizeLinear", $"{path}.bias", [g.Initializer($"{path}.bias_q", bq), g.Initializer($"{path}.bias_scale", bScale), g.Initializer($"{path}.bias_zero_point", zeros_like(bq))], axis);

            return Output(g, path, op(x, w, b), relu, outRange);
        }

        string Output(OnnxGraph g, string path, string y, bool relu, Range outRange)
        {
            if (relu) y = g.Node("Relu", path, [y]);
            if (path == lastLayer) return y;
            y = Qdq(g, $"{path}.output", y, outRange, out var yGrid);
            dequantized[y] = yGrid;
            return y;
        }
    }

    sealed class DynamicOps : IWeightedOps
    {
        readonly FloatOps floatOps = new();

        public string Passthrough(OnnxGraph g, string path, string x, Func<string, string> op) => op(x);

        public string Conv(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, AttributeProto[] attributes, bool relu) =>
            floatOps.Conv(g, path, x, weight, bias, attributes, relu);

        public string Gemm(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, bool relu)
        {
            var (wq, wScale) = PerChannelInt8(weight);
            var xq = g.NodeWithOutputs("DynamicQuantizeLinear", path, [x], 3);
            var product = g.Node("MatMulInteger", path,
                [xq[0], g.Initializer($"{path}.weight_q", wq.t().contiguous()), xq[2], g.Initializer($"{path}.weight_zero_point", zeros_like(wScale, ScalarType.Int8))]);
            var asFloat = g.Node("Cast", path, [product], OnnxGraph.Attr("to", (long)TensorProto.Types.DataType.Float));
            var scale = g.Node("Mul", path, [xq[1], g.Initializer($"{path}.weight_scale", wScale)]);
            var y = g.Node("Add", path, [g.Node("Mul", path, [asFloat, scale]), g.Initializer($"{path}.bias", bias)]);
            return relu ? g.Node("Relu", path, [y]) : y;
        }
    }
}
