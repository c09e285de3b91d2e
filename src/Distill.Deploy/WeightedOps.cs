using Distill.Deploy.Onnx;
using static TorchSharp.torch;

namespace Distill.Deploy;

/// <summary>
/// How the exporter writes the layers that hold weights (and the ReLU right after one). The float export writes Conv
/// and Gemm; the int8 exports wrap the same layers in QuantizeLinear/DequantizeLinear or integer ops, so the module
/// walk is written once.
/// </summary>
public interface IWeightedOps
{
    /// <summary>A 2-D convolution of <paramref name="x"/> with (batch-norm folded) weight and bias, then ReLU when
    /// <paramref name="relu"/>.</summary>
    string Conv(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, AttributeProto[] attributes, bool relu);

    /// <summary>x · weightᵀ + bias, <paramref name="x"/> [batch, in], weight [out, in] as nn.Linear stores it; then ReLU
    /// when <paramref name="relu"/>.</summary>
    string Gemm(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, bool relu);

    /// <summary>An op that only selects or moves values (MaxPool, Flatten), written by <paramref name="op"/>.</summary>
    string Passthrough(OnnxGraph g, string path, string x, Func<string, string> op);
}

/// <summary>Float32 Conv and Gemm; records each layer's input and output values so calibration can read them.</summary>
public sealed class FloatOps : IWeightedOps
{
    /// <summary>Module path, the value the layer reads, the value it produces (after its ReLU), in graph order.</summary>
    public List<(string Path, string Input, string Output)> Layers { get; } = [];

    public string Conv(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, AttributeProto[] attributes, bool relu) =>
        Record(g, path, x, g.Node("Conv", path, [x, g.Initializer($"{path}.weight", weight), g.Initializer($"{path}.bias", bias)], attributes), relu);

    public string Gemm(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, bool relu) =>
        Record(g, path, x, g.Node("Gemm", path, [x, g.Initializer($"{path}.weight", weight), g.Initializer($"{path}.bias", bias)], OnnxGraph.Attr("transB", 1L)), relu);

    public string Passthrough(OnnxGraph g, string path, string x, Func<string, string> op) => op(x);

    string Record(OnnxGraph g, string path, string x, string y, bool relu)
    {
        if (relu) y = g.Node("Relu", path, [y]);
        Layers.Add((path, x, y));
        return y;
    }
}
