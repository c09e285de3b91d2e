using Distill.Deploy.Onnx;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Distill.Deploy;

/// <summary>
/// Builds one ONNX graph: weights become initializers, every node gets a fresh output name, and the graph's input and
/// output are named "input" and "logits" with a symbolic "batch" dimension, so ONNX Runtime accepts any batch size.
/// </summary>
public sealed class OnnxGraph
{
    /// <summary>Opset 17: the oldest with every op we emit (per-axis QuantizeLinear needs 13, BatchNormalization
    /// without training outputs 15) that every ONNX Runtime since 1.12 runs.</summary>
    public const int Opset = 17;

    /// <summary>IR version 8 is the one opset 17 was released with.</summary>
    public const int IrVersion = 8;

    public const string InputName = "input";
    public const string OutputName = "logits";
    public const string BatchDim = "batch";

    readonly GraphProto graph = new() { Name = "distill" };
    readonly HashSet<string> names = [];

    /// <summary>A name not used yet in this graph, derived from <paramref name="hint"/> (a module path).</summary>
    public string Fresh(string hint)
    {
        var name = string.IsNullOrEmpty(hint) ? "t" : hint;
        for (var i = 1; !names.Add(name); i++) name = $"{hint}_{i}";
        return name;
    }

    /// <summary>Adds <paramref name="value"/> (float32, int8, uint8, int32 or int64) as an initializer.</summary>
    public string Initializer(string hint, Tensor value)
    {
        using var c = value.detach().cpu().contiguous();
        var t = new TensorProto { Name = Fresh(hint), DataType = (int)ElementType(c.dtype), RawData = ByteString.CopyFrom(c.bytes) };
        t.Dims.AddRange(c.shape);
        graph.Initializer.Add(t);
        return t.Name;
    }

    public string Initializer(string hint, long[] values)
    {
        using var t = tensor(values);
        return Initializer(hint, t);
    }

    /// <summary>Adds a node and returns its (first) output's name.</summary>
    public string Node(string op, string hint, string[] inputs, params AttributeProto[] attributes) =>
        NodeWithOutputs(op, hint, inputs, 1, attributes)[0];

    public string[] NodeWithOutputs(string op, string hint, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Fresh($"{hint}/{op}") };
        node.Input.AddRange(inputs);
        var outNames = Enumerable.Range(0, outputs).Select(i => Fresh($"{hint}/{op}_out{(i == 0 ? "" : $"{i}")}")).ToArray();
        node.Output.AddRange(outNames);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return outNames;
    }

    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attr(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>The finished model: graph input "input" [batch, ...<paramref name="inputShape"/>], the value
    /// <paramref name="result"/> renamed to the output "logits" [batch, <paramref name="classes"/>].</summary>
    public ModelProto Finish(long[] inputShape, string result, long classes, IReadOnlyDictionary<string, string> metadata)
    {
        var producer = graph.Node.LastOrDefault(n => n.Output.Contains(result))
            ?? throw new InvalidOperationException("The exported graph's output is its input: the model computes nothing ONNX can express.");
        producer.Output[producer.Output.IndexOf(result)] = OutputName;
        graph.Input.Add(Value(InputName, inputShape));
        graph.Output.Add(Value(OutputName, [classes]));
        var model = new ModelProto { IrVersion = IrVersion, ProducerName = Producer, ProducerVersion = ProducerVersion, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (k, v) in metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model;
    }

    /// <summary>The producer every export names: how `deploy export` knows a file it may replace.</summary>
    internal const string Producer = "distill";

    /// <summary>This library's version with the commit it was built from ("1.0.0+SHA"): a constant "1" named no build.</summary>
    static readonly string ProducerVersion = typeof(OnnxGraph).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown";

    static ValueInfoProto Value(string name, long[] shapeAfterBatch)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDim });
        foreach (var d in shapeAfterBatch) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    static TensorProto.Types.DataType ElementType(ScalarType t) => t switch
    {
        ScalarType.Float32 => TensorProto.Types.DataType.Float,
        ScalarType.Int8 => TensorProto.Types.DataType.Int8,
        ScalarType.Byte => TensorProto.Types.DataType.Uint8,
        ScalarType.Int32 => TensorProto.Types.DataType.Int32,
        ScalarType.Int64 => TensorProto.Types.DataType.Int64,
        _ => throw new ArgumentException($"ONNX export stores float32, int8, uint8, int32 and int64 tensors, not {t}; convert the tensor first."),
    };
}
