using System.Globalization;
using Distill.Deploy.Onnx;
using Distill.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Deploy;

/// <summary>
/// Writes a zoo model as an ONNX graph by walking its modules in the order their <c>forward</c> runs them (eval mode:
/// dropout is the identity, batch norm uses its running statistics). A batch norm right after a convolution is folded
/// into it; the WRN's pre-activation batch norms, which follow no convolution, stay BatchNormalization nodes.
/// </summary>
public static class OnnxExport
{
    /// <summary>The graph of <paramref name="model"/> for inputs [batch, C, H, W] with
    /// <paramref name="imageShape"/> = [C, H, W]. <paramref name="ops"/> writes the layers with weights (default float32).</summary>
    /// <exception cref="InvalidOperationException">A module the exporter does not know, named by its path and type.</exception>
    public static ModelProto Build(DistillModel model, long[] imageShape, IWeightedOps? ops = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (imageShape is not { Length: 3 } || imageShape.Any(d => d < 1))
            throw new ArgumentException($"The image shape is [C, H, W] with positive sizes; got [{string.Join(", ", imageShape ?? [])}].", nameof(imageShape));
        // An export of NaN/Inf weights would only give NaN logits, which `deploy check` then cannot tell from an exporter bug.
        if (NonFinite(model) is { } bad)
            throw new InvalidDataException($"cannot export {model.ZooName ?? model.GetType().Name}: {bad}; the run diverged or the checkpoint is damaged: " +
                                           "export a checkpoint of a run that trained to finite weights (train it again, e.g. with a lower --lr).");
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            // Runs the model once: a wrong image shape fails here with the model's own message, and gives the class count.
            long classes = model.call(zeros([1, .. imageShape])).Logits.shape[1];
            var g = new OnnxGraph();
            var walker = new Walker(g, ops ?? new FloatOps());
            var logits = walker.Module(model, "", OnnxGraph.InputName);
            return g.Finish(imageShape, logits, classes, metadata ?? new Dictionary<string, string>());
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>Refuses an export target that is a folder, sits under a file, is a file other than an ONNX model
    /// (a checkpoint, say), or does not end in .onnx: an export replaces its target, and only an earlier export may be
    /// replaced silently.</summary>
    public static void CheckTarget(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Trim().Length == 0) throw new ArgumentException("--out is empty; give the .onnx file to write (e.g. --out model.onnx).");
        if (Directory.Exists(path))
            throw new ArgumentException($"--out {path} is a folder; give the .onnx file to write (e.g. {Path.Combine(path, "model.onnx")}).");
        if (FilePaths.FileAncestor(path) is { } file) throw new ArgumentException($"--out {path}: {file} is a file, not a folder; give a path in a folder.");
        // A link to nowhere was called "exists and is not an ONNX model that `deploy export` wrote".
        if (FilePaths.BrokenLink(path) is { } link) throw new ArgumentException($"--out {path} is {link}; point it at a file you mean to replace, or give another file.");
        // Before the model is built: the write would fail naming the hidden temp file it goes through.
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (FilePaths.Unwritable(path, folder) is { } unwritable) throw new ArgumentException(unwritable + ".");
        // `--out runs/cnn-int8` (a folder meant) or `--out cnn.pt` would write an ONNX model under a name that says otherwise.
        // Said first: for `--out runs/x/last.ckpt` (the checkpoint itself) "move that one away" was the advice.
        if (!path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--out {path}: give a file name ending in .onnx (e.g. {Path.ChangeExtension(path.TrimEnd('/', '.'), ".onnx")}); " +
                                        "the export is an ONNX model, and ONNX Runtime, Netron and the other tools go by the extension.");
        if (File.Exists(path) && Recorded(path, ourOwn: true)?.GetValueOrDefault("model") is null)
            throw new ArgumentException($"--out {path} exists and is not an ONNX model that `deploy export` wrote; exporting would replace it. " +
                                        "Give another file, or move that one away first.");
    }

    /// <summary>The first tensor of <paramref name="model"/>'s state (weights and buffers) that holds NaN or ±Inf,
    /// as words: "its tensor 'fc1.weight' holds 3 NaN/Inf values of 25,088"; null when every value is finite.</summary>
    public static string? NonFinite(DistillModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = no_grad();
        foreach (var (name, t) in model.state_dict())
        {
            if (!t.is_floating_point()) continue;
            using var finite = t.isfinite();
            var bad = t.numel() - finite.count_nonzero().item<long>();
            if (bad > 0) return string.Create(CultureInfo.InvariantCulture, $"its tensor '{name}' holds {bad:N0} NaN/Inf value{(bad == 1 ? "" : "s")} of {t.numel():N0}");
        }
        return null;
    }

    /// <summary>An ONNX file's metadata ("model", "weights", ... as <c>deploy export</c> writes them; a file exported
    /// before an entry existed lacks it), or null when the file is not an ONNX model. Read once per file: parsing it
    /// reads the whole model.</summary>
    public static IReadOnlyDictionary<string, string>? Recorded(string path) => Recorded(path, ourOwn: false);

    /// <summary><see cref="Recorded(string)"/>, and with <paramref name="ourOwn"/> only for a file <c>deploy export</c>
    /// wrote (producer "distill"): another tool's model whose metadata happens to hold a "model" entry was overwritten as
    /// an earlier export.</summary>
    static IReadOnlyDictionary<string, string>? Recorded(string path, bool ourOwn)
    {
        try
        {
            if (FilePaths.NothingToRead(path)) return null;
            using var f = File.OpenRead(path);
            var model = ModelProto.Parser.ParseFrom(f);
            return model.Graph is { Node.Count: > 0 } && (!ourOwn || model.ProducerName == OnnxGraph.Producer)
                ? model.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.First().Value) : null;
        }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Whether an ONNX file computes in int8: it holds a QuantizeLinear, DynamicQuantizeLinear or integer
    /// kernel node (what <c>deploy export --int8</c> writes). False for a file that is not an ONNX model.</summary>
    public static bool IsQuantized(string path)
    {
        try
        {
            if (FilePaths.NothingToRead(path)) return false;
            using var f = File.OpenRead(path);
            return ModelProto.Parser.ParseFrom(f).Graph?.Node.Any(n => n.OpType is "QuantizeLinear" or "DynamicQuantizeLinear" or "MatMulInteger"
                or "ConvInteger" or "QLinearConv" or "QLinearMatMul") ?? false;
        }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Metadata key of the graph's sha256 at export: a file changed afterwards (a flipped byte in a weight) is
    /// then named as changed, not taken for an exporter bug when its logits disagree.</summary>
    public const string GraphDigestKey = "graph_sha256";

    static string GraphDigest(ModelProto model) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Google.Protobuf.MessageExtensions.ToByteArray(model.Graph)));

    /// <summary>Why the ONNX file at <paramref name="path"/> is not the graph it was saved with (its recorded digest differs
    /// from its graph's), or null: intact, saved before the digest was recorded, or not an ONNX model.</summary>
    public static string? ChangedSinceSaved(string path)
    {
        try
        {
            if (FilePaths.NothingToRead(path)) return null;
            using var f = File.OpenRead(path);
            var model = ModelProto.Parser.ParseFrom(f);
            var recorded = model.MetadataProps.FirstOrDefault(p => p.Key == GraphDigestKey)?.Value;
            return recorded is null || model.Graph is null || recorded == GraphDigest(model) ? null
                : $"{path} changed after it was written: its graph's sha256 is {GraphDigest(model)[..12]}…, and {recorded[..Math.Min(12, recorded.Length)]}… was recorded then";
        }
        catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> (temp file and rename: never half a file), recording its graph's digest in
    /// its metadata (<see cref="GraphDigestKey"/>, replacing one it holds).</summary>
    /// <param name="cancellation">Checked once the bytes are written, before the rename: a stop during the write (a large
    /// model) throws <see cref="OperationCanceledException"/> and leaves <paramref name="path"/> as it was.</param>
    public static void Save(ModelProto model, string path, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Graph is not null)
        {
            foreach (var old in model.MetadataProps.Where(p => p.Key == GraphDigestKey).ToList()) model.MetadataProps.Remove(old);
            model.MetadataProps.Add(new StringStringEntryProto { Key = GraphDigestKey, Value = GraphDigest(model) });
        }
        // A temp file of its own (PID and random part), renamed over the target: a user's file named like a fixed temp
        // name is never overwritten, and a reader never sees half a model.
        // Thrown inside the write, the temp file is removed and the target never replaced.
        Training.AtomicFile.Write(path, f =>
        {
            Google.Protobuf.MessageExtensions.WriteTo(model, f);
            cancellation.ThrowIfCancellationRequested();
        });
    }

    /// <summary>One walk over a model; each method mirrors the forward code of the module it exports.</summary>
    internal sealed class Walker(OnnxGraph g, IWeightedOps ops)
    {
        public string Module(nn.Module m, string path, string x) => m switch
        {
            Mlp mlp => MlpGraph(mlp, path, x),
            SmallCnn => SmallCnnGraph(m, path, x),
            CifarResNet => ResNetGraph(m, path, x),
            WideResNet => WrnGraph(m, path, x),
            Sequential s => Sequence(s.named_children().ToList(), path, x),
            Conv2d c => Conv(c, null, path, x, relu: false),
            BatchNorm2d bn => BatchNorm(bn, path, x),
            Linear l => ops.Gemm(g, path, x, l.weight, Bias(l), relu: false),
            ReLU => g.Node("Relu", path, [x]),
            MaxPool2d p => MaxPool(p, path, x),
            Dropout or Identity => x,
            _ when IsNested(m, "BasicBlock") => BasicBlock(m, path, x),
            _ when IsNested(m, "NetworkBlock") => Module(Child(m, path, "layer"), Join(path, "layer"), x),
            _ when IsNested(m, "WideBlock") => WideBlock(m, path, x),
            _ => throw new InvalidOperationException(
                $"No ONNX exporter for module '{(path.Length == 0 ? "(the model)" : path)}' ({m.GetType().Name}). " +
                "Export a zoo model (see ModelZoo.Examples), or add an exporter for this module to Distill.Deploy.OnnxExport."),
        };

        /// <summary>Children in order, with each Conv2d followed by BatchNorm2d folded into one Conv, and a ReLU right
        /// after it written by the weighted-layer writer (the int8 writers quantize after the ReLU).</summary>
        string Sequence(List<(string Name, nn.Module Module)> children, string path, string x)
        {
            for (var i = 0; i < children.Count; i++)
            {
                var (name, m) = children[i];
                var bn = i + 1 < children.Count ? children[i + 1].Module as BatchNorm2d : null;
                if (m is Conv2d conv)
                {
                    if (bn is not null) i++;
                    var relu = i + 1 < children.Count && children[i + 1].Module is ReLU;
                    if (relu) i++;
                    x = Conv(conv, bn, Join(path, name), x, relu);
                }
                else x = Module(m, Join(path, name), x);
            }
            return x;
        }

        string MlpGraph(Mlp mlp, string path, string x)
        {
            x = Flatten(path, x);
            foreach (var (name, m) in Child(mlp, path, "hidden").named_children())
            {
                var l = (Linear)m;
                x = ops.Gemm(g, Join(path, $"hidden.{name}"), x, l.weight, Bias(l), relu: true);
            }
            return Module(Child(mlp, path, "fc"), Join(path, "fc"), x);
        }

        string SmallCnnGraph(nn.Module m, string path, string x)
        {
            x = Module(Child(m, path, "stage1"), Join(path, "stage1"), x);
            x = Module(Child(m, path, "stage2"), Join(path, "stage2"), x);
            var fc1 = (Linear)Child(m, path, "fc1");
            x = ops.Gemm(g, Join(path, "fc1"), Flatten(path, x), fc1.weight, Bias(fc1), relu: true);
            return Module(Child(m, path, "fc2"), Join(path, "fc2"), x);
        }

        string ResNetGraph(nn.Module m, string path, string x)
        {
            x = ConvBn(m, path, "conv1", "bn1", x, relu: true);
            foreach (var layer in new[] { "layer1", "layer2", "layer3" }) x = Module(Child(m, path, layer), Join(path, layer), x);
            return Head(m, path, x);
        }

        string WrnGraph(nn.Module m, string path, string x)
        {
            x = Conv((Conv2d)Child(m, path, "conv1"), null, Join(path, "conv1"), x, relu: false);
            foreach (var block in new[] { "block1", "block2", "block3" }) x = Module(Child(m, path, block), Join(path, block), x);
            return Head(m, path, Relu(path, BatchNorm((BatchNorm2d)Child(m, path, "bn1"), Join(path, "bn1"), x)));
        }

        /// <summary>Global average pooling, flatten, the final linear layer (CifarResNet and WideResNet).</summary>
        string Head(nn.Module m, string path, string x) =>
            Module(Child(m, path, "fc"), Join(path, "fc"), Flatten(path, g.Node("GlobalAveragePool", path, [x])));

        /// <summary>conv-BN-ReLU-conv-BN, plus the shortcut (identity or folded 1x1 conv-BN), then ReLU.</summary>
        string BasicBlock(nn.Module m, string path, string x)
        {
            var y = ConvBn(m, path, "conv1", "bn1", x, relu: true);
            y = ConvBn(m, path, "conv2", "bn2", y, relu: false);
            var shortcut = Children(m).TryGetValue("downsample", out var down) ? Module(down, Join(path, "downsample"), x) : x;
            return Relu(path, g.Node("Add", path, [y, shortcut]));
        }

        /// <summary>BN-ReLU, conv folded with the next BN, ReLU, conv, plus the shortcut (1x1 conv of the activated input
        /// when the width changes, else the raw input).</summary>
        string WideBlock(nn.Module m, string path, string x)
        {
            var a = Relu(path, BatchNorm((BatchNorm2d)Child(m, path, "bn1"), Join(path, "bn1"), x));
            var y = ConvBn(m, path, "conv1", "bn2", a, relu: true);
            y = Conv((Conv2d)Child(m, path, "conv2"), null, Join(path, "conv2"), y, relu: false);
            var shortcut = Children(m).TryGetValue("convShortcut", out var sc) ? Conv((Conv2d)sc, null, Join(path, "convShortcut"), a, relu: false) : x;
            return g.Node("Add", path, [y, shortcut]);
        }

        string ConvBn(nn.Module m, string path, string conv, string bn, string x, bool relu) =>
            Conv((Conv2d)Child(m, path, conv), (BatchNorm2d)Child(m, path, bn), Join(path, conv), x, relu);

        /// <summary>Conv with the following batch norm folded in (Ioffe and Szegedy 2015, eval mode):
        /// w' = w·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β; computed in float64.</summary>
        string Conv(Conv2d c, BatchNorm2d? bn, string path, string x, bool relu)
        {
            if (c.padding is not { } padding || c.padding_mode != TorchSharp.PaddingModes.Zeros)
                throw new InvalidOperationException($"No ONNX exporter for module '{path}' (Conv2d with padding mode {c.padding_mode}, {c.padding_type}): only explicit zero padding is exported.");
            var w = c.weight.to(ScalarType.Float64);
            var b = c.bias?.to(ScalarType.Float64) ?? zeros(c.out_channels, ScalarType.Float64);
            if (bn is not null)
            {
                var (scale, shift) = BnAffine(bn);
                w = w * scale.view(-1, 1, 1, 1);
                b = b * scale + shift;
            }
            var attrs = new[]
            {
                OnnxGraph.Attr("kernel_shape", c.kernel_size), OnnxGraph.Attr("strides", c.stride),
                OnnxGraph.Attr("pads", padding.Concat(padding)), OnnxGraph.Attr("dilations", c.dilation), OnnxGraph.Attr("group", c.groups),
            };
            return ops.Conv(g, path, x, w.to(ScalarType.Float32), b.to(ScalarType.Float32), attrs, relu);
        }

        /// <summary>A batch norm with no convolution before it, as the per-channel affine map it is in eval mode.</summary>
        string BatchNorm(BatchNorm2d bn, string path, string x)
        {
            var (scale, shift) = BnAffine(bn);
            var shape = new long[] { -1, 1, 1 };
            var mul = g.Node("Mul", path, [x, g.Initializer($"{path}.scale", scale.to(ScalarType.Float32).view(shape))]);
            return g.Node("Add", path, [mul, g.Initializer($"{path}.shift", shift.to(ScalarType.Float32).view(shape))]);
        }

        static (Tensor Scale, Tensor Shift) BnAffine(BatchNorm2d bn)
        {
            var mean = (bn.running_mean ?? zeros(bn.num_features)).to(ScalarType.Float64);
            var variance = (bn.running_var ?? ones(bn.num_features)).to(ScalarType.Float64);
            var gamma = bn.weight?.to(ScalarType.Float64) ?? ones(bn.num_features, ScalarType.Float64);
            var beta = bn.bias?.to(ScalarType.Float64) ?? zeros(bn.num_features, ScalarType.Float64);
            var scale = gamma / (variance + bn.eps).sqrt();
            return (scale, beta - mean * scale);
        }

        string MaxPool(MaxPool2d p, string path, string x)
        {
            var pads = p.padding ?? [0, 0];
            return ops.Passthrough(g, path, x, v => g.Node("MaxPool", path, [v],
                OnnxGraph.Attr("kernel_shape", p.kernel_size), OnnxGraph.Attr("strides", p.stride ?? p.kernel_size),
                OnnxGraph.Attr("pads", pads.Concat(pads)), OnnxGraph.Attr("dilations", p.dilation ?? [1, 1]),
                OnnxGraph.Attr("ceil_mode", p.ceil_mode ? 1L : 0L)));
        }

        string Relu(string path, string x) => g.Node("Relu", path, [x]);

        string Flatten(string path, string x) => ops.Passthrough(g, path, x, v => g.Node("Flatten", path, [v], OnnxGraph.Attr("axis", 1L)));

        static Tensor Bias(Linear l) => l.bias ?? zeros(l.weight.shape[0]);

        static Dictionary<string, nn.Module> Children(nn.Module m) => m.named_children().ToDictionary(c => c.name, c => c.module);

        static nn.Module Child(nn.Module m, string path, string name) =>
            Children(m).TryGetValue(name, out var c) ? c
            : throw new InvalidOperationException($"No ONNX exporter for module '{(path.Length == 0 ? "(the model)" : path)}' ({m.GetType().Name}): it has no submodule '{name}', so it is not the zoo's {m.GetType().Name}.");

        static bool IsNested(nn.Module m, string name) => m.GetType().Name == name && m.GetType().DeclaringType?.Assembly == typeof(DistillModel).Assembly;

        static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
    }
}
