using System.Runtime.InteropServices;
using Distill.Deploy;
using Distill.Models;
using Distill.Native;
using Distill.Tests.Data;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Tests.Deploy;

public class OnnxExportTests
{
    public OnnxExportTests() => TorchRuntime.Initialize();

    /// <summary>Every family of the zoo, small members plus the wide CIFAR ResNet and a k=2 WRN.</summary>
    public static TheoryData<string, int> Models => new()
    {
        { "mlp-32-16", 1 }, { "cnn-8", 1 }, { "cnn-8", 3 }, { "resnet8", 1 }, { "resnet8x4", 3 }, { "resnet32x4", 1 }, { "wrn-16-1", 1 }, { "wrn-16-2", 3 },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Onnx_runtime_logits_equal_torchsharp(string name, int channels)
    {
        using var dir = new TempDir();
        var side = channels == 1 ? 28 : 32;
        using var model = SeededModel(name, channels);
        var path = dir.File("m.onnx");
        OnnxExport.Save(OnnxExport.Build(model, [channels, side, side]), path);

        // Two batch sizes through the same file: the batch dimension is symbolic.
        foreach (var batch in new[] { 1, 5 })
        {
            using var x = randn(batch, channels, side, side);
            using var expected = Logits(model, x);
            using var runner = new OnnxRunner(path);
            var actual = runner.Run(x.data<float>().ToArray(), batch);
            var want = expected.data<float>().ToArray();
            Assert.Equal(want.Length, actual.Length);
            var worst = want.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-4, $"{name}: max |ORT − TorchSharp| = {worst:E2} at batch {batch}, max |logit| {want.Max(Math.Abs):F1}");
        }
    }

    [Fact]
    public void Graph_is_named_with_dynamic_batch_and_batch_norm_folded()
    {
        using var model = SeededModel("cnn-8", 1);
        var proto = OnnxExport.Build(model, [1, 28, 28]);
        Assert.Equal(OnnxGraph.Opset, proto.OpsetImport.Single().Version);
        Assert.Equal("input", proto.Graph.Input.Single().Name);
        Assert.Equal("logits", proto.Graph.Output.Single().Name);
        Assert.Equal("batch", proto.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal([1L, 28, 28], proto.Graph.Input[0].Type.TensorType.Shape.Dim.Skip(1).Select(d => d.DimValue));
        Assert.Equal([10L], proto.Graph.Output[0].Type.TensorType.Shape.Dim.Skip(1).Select(d => d.DimValue));
        Assert.DoesNotContain(proto.Graph.Node, n => n.OpType is "BatchNormalization" or "Mul");
        Assert.Equal(3, proto.Graph.Node.Count(n => n.OpType == "Conv"));
    }

    [Fact]
    public void A_module_without_exporter_is_an_error_naming_it()
    {
        using var model = new Unknown();
        var e = Assert.Throws<InvalidOperationException>(() => OnnxExport.Build(model, [1, 4, 4]));
        Assert.Contains("'(the model)' (Unknown)", e.Message, StringComparison.Ordinal);

        var walker = new OnnxExport.Walker(new OnnxGraph(), new FloatOps());
        using var seq = nn.Sequential(("conv", nn.Conv2d(1, 2, 3)), ("act", nn.GELU()));
        e = Assert.Throws<InvalidOperationException>(() => walker.Module(seq, "body", "input"));
        Assert.Contains("'body.act' (GELU)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_file_is_an_error_naming_it()
    {
        using var dir = new TempDir();
        var path = dir.Write("broken.onnx", Gen.Bytes(300, seed: 3));
        var e = Assert.Throws<InvalidDataException>(() => new OnnxRunner(path));
        Assert.StartsWith($"{path}: ONNX Runtime cannot load this model", e.Message, StringComparison.Ordinal);
    }

    /// <summary>`deploy export` stopped by a signal during Save still replaced --out, against "writes no file": Save
    /// checks the token before its rename, so a stopped save leaves the target (here an earlier export) and no temp file.</summary>
    [Fact]
    public void A_save_stopped_while_writing_leaves_the_target_as_it_was()
    {
        using var dir = new TempDir();
        using var model = SeededModel("mlp-16", 1);
        var path = dir.File("m.onnx");
        OnnxExport.Save(OnnxExport.Build(model, [1, 28, 28]), path);
        var before = File.ReadAllBytes(path);
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        using (no_grad()) foreach (var p in model.parameters()) p.add_(1); // another graph, so a replacement would show
        Assert.Throws<OperationCanceledException>(() => OnnxExport.Save(OnnxExport.Build(model, [1, 28, 28]), path, stop.Token));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
        Assert.Throws<OperationCanceledException>(() => OnnxExport.Save(OnnxExport.Build(model, [1, 28, 28]), dir.File("new.onnx"), stop.Token));
        Assert.False(File.Exists(dir.File("new.onnx")));
    }

    /// <summary>Channels whose weights are all zero (a pruned model's): their weight scale was max|w|/127 floored at
    /// 7.9e-15, so their int32 bias b / (s_x·s_w) saturated at −2147483648 whatever b was, and ONNX Runtime agreed with
    /// TorchSharp on 30% of a pruned cnn-3's predictions. Every layer the static export quantizes (convolutions, whose
    /// folded bias is the batch norm's shift, hidden and logit Gemms) now keeps every bias, well inside int32.</summary>
    [Fact]
    public void Int8_keeps_the_bias_of_channels_whose_weights_are_all_zero()
    {
        using var model = SeededModel("cnn-8", 1);
        var sd = model.state_dict();
        using (no_grad())
        {
            manual_seed(5);
            // Sizeable biases where the weights are zero, as fine-tuning after pruning leaves them: a dropped bias shows.
            foreach (var (weight, bias, n) in new[] { ("stage1.conv2.weight", "stage1.bn2.bias", 8L), ("stage2.conv3.weight", "stage2.bn3.bias", 16), ("fc1.weight", "fc1.bias", 64), ("fc2.weight", "fc2.bias", 10) })
            {
                using var dead = arange(0, n - 2); // all but the last two channels
                sd[weight].index_fill_(0, dead, 0);
                sd[bias].index_copy_(0, dead, randn(n - 2) * 0.5);
            }
            sd["stage1.conv2.weight"].index_fill_(0, tensor(new long[] { 6 }), 1e-13f); // tiny but not zero: the same overflow
        }
        using var calibration = randn(64, 1, 28, 28);
        var proto = Quantization.Static(model, [1, 28, 28], calibration, CalibrationMethod.MinMax);

        var initializers = proto.Graph.Initializer.ToDictionary(t => t.Name);
        var biases = initializers.Keys.Where(k => k.EndsWith(".bias_q", StringComparison.Ordinal)).ToList();
        Assert.Equal(["stage1.conv2.bias_q", "stage2.conv3.bias_q", "fc1.bias_q", "fc2.bias_q"], biases);
        foreach (var name in biases)
        {
            var q = MemoryMarshal.Cast<byte, int>(initializers[name].RawData.Span).ToArray();
            var scale = MemoryMarshal.Cast<byte, float>(initializers[name.Replace("_q", "_scale", StringComparison.Ordinal)].RawData.Span).ToArray();
            // At most 2^24 and a few units of float32 rounding in the scales: far from int32's ±2147483647.
            Assert.All(q, v => Assert.InRange(Math.Abs((long)v), 0, (long)(1.01 * Quantization.BiasLimit)));
            if (!name.StartsWith("fc", StringComparison.Ordinal)) continue;
            // A Linear's bias goes in unfolded: its int32 form is the float bias, to float32 precision, in every channel.
            var want = sd[name.Replace("_q", "", StringComparison.Ordinal)].data<float>().ToArray();
            for (var c = 0; c < want.Length; c++)
                Assert.True(Math.Abs(q[c] * (double)scale[c] - want[c]) <= 1e-6 * Math.Abs(want[c]) + 1e-6, $"{name}[{c}]: {q[c]}·{scale[c]} for {want[c]}");
        }

        using var dir = new TempDir();
        var path = dir.File("int8.onnx");
        OnnxExport.Save(proto, path);
        using var x = randn(64, 1, 28, 28);
        using var expected = Logits(model, x);
        using var runner = new OnnxRunner(path);
        using var actual = tensor(runner.Run(x.data<float>().ToArray(), 64)).view(64, -1);
        var worst = (actual - expected).abs().max().item<float>();
        var agree = actual.argmax(1).eq(expected.argmax(1)).sum().item<long>();
        // Measured: 2.7e-3 and 64 of 64; with the saturated biases 0.95 and 0 of 64.
        Assert.True(worst < 0.05 && agree >= 60, $"int8 vs float32: max |ORT − TorchSharp| = {worst:E2}, predictions agree on {agree} of 64");
    }

    /// <summary>`deploy export --int8 --calibrate 60000` on a wrn-16-1 ran 270 s with no output: a long calibration
    /// says how far it got (here a line per batch), and a short one (the default interval) stays quiet.</summary>
    [Fact]
    public void A_long_calibration_reports_its_progress()
    {
        using var model = SeededModel("cnn-8", 1);
        using var calibration = randn(200, 1, 28, 28);
        using var lines = new StringWriter();
        Quantization.Static(model, [1, 28, 28], calibration, CalibrationMethod.MinMax, progress: lines, progressEvery: TimeSpan.Zero);
        var text = lines.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, text.Length);
        foreach (var (line, done, percent) in text.Zip(new[] { (64, 32), (128, 64), (192, 96) }, (l, d) => (l, d.Item1, d.Item2)))
            Assert.Matches($@"^calibrating int8 ranges: {done} of 200 images \({percent}%\), \d+ s so far, about \d+ s left$", line);
        Assert.Matches(@"^calibrated int8 ranges on 200 images in \d+ s$", text[3]);

        using var quiet = new StringWriter();
        Quantization.Static(model, [1, 28, 28], calibration, CalibrationMethod.MinMax, progress: quiet);
        Assert.Equal("", quiet.ToString());
    }

    /// <summary>Seeded weights, random batch-norm scales and shifts, and running statistics measured on a random batch
    /// (momentum 1: the batch's own mean and variance), so folding is really exercised (fresh batch norms are the
    /// identity) while activations keep a trained network's scale: made-up statistics blow a 32-layer ResNet's logits
    /// up to ~200, where float32 rounding alone exceeds 1e-4.</summary>
    internal static DistillModel SeededModel(string name, int channels)
    {
        manual_seed(17);
        var model = ModelZoo.Create(name, channels, 10);
        var side = channels == 1 ? 28 : 32;
        using (no_grad())
        {
            foreach (var m in model.modules().OfType<BatchNorm2d>())
            {
                m.weight!.copy_(rand(m.num_features) + 0.5);
                m.bias!.copy_(randn(m.num_features) * 0.1);
                m.momentum = 1.0;
            }
            model.train();
            using var scope = NewDisposeScope();
            model.call(randn(32, channels, side, side));
        }
        model.eval();
        return model;
    }

    internal static Tensor Logits(DistillModel model, Tensor x)
    {
        using var _ = no_grad();
        return model.call(x).Logits.contiguous();
    }

    sealed class Unknown : DistillModel
    {
        readonly Linear fc = nn.Linear(16, 2);

        public Unknown() : base("Unknown") => RegisterComponents();

        public override IReadOnlyList<string> FeatureNames => [];

        public override ModelOutput forward(Tensor input) => new(fc.call(input.flatten(1)), []);
    }

    /// <summary>A model whose weights hold NaN (a diverged run) is refused by name, in float32 and int8 alike: its
    /// export would give NaN logits that `deploy check` could only blame on the exporter.</summary>
    [Fact]
    public void A_model_with_non_finite_weights_is_refused_naming_the_tensor()
    {
        using var model = ModelZoo.Create("mlp-32", 1, 10);
        Assert.Null(OnnxExport.NonFinite(model));
        var key = model.state_dict().Keys.First(k => k.EndsWith("weight", StringComparison.Ordinal));
        using (no_grad()) model.state_dict()[key].view(-1)[0] = float.NaN;
        foreach (var export in new Action[] { () => OnnxExport.Build(model, [1, 28, 28]), () => Quantization.Dynamic(model, [1, 28, 28]) })
        {
            var e = Assert.Throws<InvalidDataException>(export);
            Assert.Contains($"its tensor '{key}' holds 1 NaN/Inf value of", e.Message, StringComparison.Ordinal);
        }
    }
}
