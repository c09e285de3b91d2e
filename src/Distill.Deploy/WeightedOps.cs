using Distill.Deploy.Onnx;
using static TorchSharp.torch;

namespace Distill.Deploy;

/// <summary>
/// How the exporter writes the layers that hold weights. The float export writes Conv and Gemm; the int8 exports wrap
/// the same layers in QuantizeLinear/DequantizeLinear or integer ops, so the module walk is written once.
/// </summary>
public interface IWeightedOps
{
    /// <summary>A 2-D convolution of <paramref name="x"/> with (batch-norm folded) weight and bias.</summary>
    string Conv(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, AttributeProto[] attributes, bool reluFollows);

    /// <summary>x · weightᵀ + bias, <paramref name="x"/> [batch, in], weight [out, in] as nn.Linear stores it.</summary>
    string Gemm(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, bool reluFollows);
}

/// <summary>Float32 Conv and Gemm; records each layer's input value so calibration can read it.</summary>
public sealed class FloatOps : IWeightedOps
{
    /// <summary>Module path → name of the value that layer reads, in graph order.</summary>
    public List<(string Path, string Input, string Output)> Layers { get; } = [];

    public string Conv(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, AttributeProto[] attributes, bool reluFollows)
    {
        var y = g.Node("Conv", path, [x, g.Initializer($"{path}.weight", weight), g.Initializer($"{path}.bias", bias)], attributes);
        Layers.Add((path, x, y));
        return y;
    }

    public string Gemm(OnnxGraph g, string path, string x, Tensor weight, Tensor bias, bool reluFollows)
    {
        var y = g.Node("Gemm", path, [x, g.Initializer($"{path}.weight", weight), g.Initializer($"{path}.bias", bias)], OnnxGraph.Attr("transB", 1L));
        Layers.Add((path, x, y));
        return y;
    }
}
