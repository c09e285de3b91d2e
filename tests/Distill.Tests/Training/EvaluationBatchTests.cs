using Distill.Models;
using Distill.Native;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Training;

/// <summary>Evaluation splits CPU batches so no layer output passes <see cref="Evaluation.CpuActivationBytes"/>, and the
/// logits stay those of the batch asked for.</summary>
public class EvaluationBatchTests
{
    public EvaluationBatchTests() => TorchRuntime.Initialize();

    [Theory]
    // cnn: [32, 28, 28] after its first convolution, 100,352 bytes an image: 167 fit in 16 MB.
    [InlineData("cnn", 167)]
    [InlineData("cnn-8", 668)]
    // resnet8x4: [64, 28, 28] in its first stage.
    [InlineData("resnet8x4", 83)]
    // MLPs: 1200 floats an image at most, so the batch asked for.
    [InlineData("mlp-1200-1200", 1000)]
    public void The_batch_is_capped_by_the_largest_layer_output(string name, int expected)
    {
        manual_seed(0);
        using var model = ModelZoo.Create(name, 1, 10);
        var data = TinyData.FashionMnist2k;
        Assert.Equal(expected, Evaluation.BatchFor(model, data, data.Test.Images, 1000));
        Assert.Equal(Math.Min(expected, 50), Evaluation.BatchFor(model, data, data.Test.Images, 50));
        Assert.True(model.training, "measuring the layers must leave the model's mode alone");
    }

    [Theory]
    [InlineData("cnn")]
    [InlineData("mlp-800-800")]
    public void Logits_are_those_of_one_forward_over_the_batch_asked_for(string name)
    {
        manual_seed(1);
        using var model = ModelZoo.Create(name, 1, 10);
        var data = TinyData.FashionMnist2k;
        using var scope = NewDisposeScope();
        model.eval();
        Tensor expected;
        using (no_grad()) expected = model.call(data.Normalize(data.Test.Images)).Logits;
        model.train();

        var actual = Evaluation.Logits(model, data, data.Test, "cpu", batchSize: 1000);

        Assert.Equal(expected.shape, actual.shape);
        // Equal bits on the AVX-512 machine; on an AVX2-only one MKL's GEMM rounds the fully connected layers' sums
        // differently by batch size (7e-8 on the CNN's logits): float32 rounding, never another prediction.
        Assert.True(expected.allclose(actual, rtol: 1e-5, atol: 1e-6), $"{name}: capped batches changed the logits by {(expected - actual).abs().max().item<float>()}");
        Assert.True(expected.argmax(1).eq(actual.argmax(1)).all().item<bool>(), $"{name}: capped batches changed a prediction");
        // The same cap gives the same bits every time.
        Assert.True(actual.eq(Evaluation.Logits(model, data, data.Test, "cpu", batchSize: 1000)).all().item<bool>(), $"{name}: two evaluations differ");
        Assert.True(model.training);
    }
}
