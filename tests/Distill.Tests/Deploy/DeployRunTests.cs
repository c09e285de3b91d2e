using System.Text.Json;
using Distill.Deploy;
using Distill.Models;
using Distill.Native;
using Distill.Tests.Training;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Deploy;

/// <summary>A cnn-8 trained for one epoch on 2,000 Fashion-MNIST images into a run folder, as `distill train --out`
/// writes it; shared by the deployment tests that start from a checkpoint.</summary>
public sealed class TrainedCnnRun : IDisposable
{
    readonly TempDir dir = new();

    public TrainedCnnRun()
    {
        TorchRuntime.Initialize();
        using (manual_seed(0)) { }
        using var model = ModelZoo.Create("cnn-8", 1, 10);
        Trainer.Train(model, TinyData.FashionMnist2k, new Distill.Losses.Objective().Add(new Distill.Losses.CrossEntropyTerm()), new TrainOptions
        {
            Epochs = 1, BatchSize = 64, Device = "cpu", OutDir = Folder, TensorBoard = false, Progress = false,
        });
    }

    public string Folder => dir.Path;

    public void Dispose() => dir.Dispose();
}

public class DeployRunTests(TrainedCnnRun run) : IClassFixture<TrainedCnnRun>
{
    static readonly Distill.Data.ImageDataset Data = TinyData.FashionMnist2k;

    [Fact]
    public void A_trained_checkpoint_exports_and_onnx_runtime_matches_its_accuracy()
    {
        using var trained = TrainedModel.Load(run.Folder);
        Assert.Equal("cnn-8", trained.Model.ZooName);
        Assert.Equal([1L, 28, 28], trained.ImageShape);
        using var dir = new TempDir();
        var path = dir.File("cnn.onnx");
        OnnxExport.Save(OnnxExport.Build(trained.Model, trained.ImageShape, metadata: trained.Metadata), path);
        // The file records how its weights were made and by which build it was exported (it named neither).
        var recorded = OnnxExport.Recorded(path)!;
        Assert.Equal("0", recorded["seed"]);
        Assert.StartsWith($"commit {Distill.Native.Git.BuildCommit ?? "unknown"} (dirty build: ", recorded["trained_with"], StringComparison.Ordinal);
        Assert.EndsWith($", {Distill.Native.TorchRuntime.Threads} threads", recorded["trained_with"], StringComparison.Ordinal);
        Assert.StartsWith($"commit {Distill.Native.Git.BuildCommit ?? "unknown"} (dirty build: ", recorded["exported_with"], StringComparison.Ordinal);
        // The preprocessing, as numbers: the file runs where this repository's Normalize does not.
        using (var full = Distill.Data.Datasets.FashionMnist())
        {
            Assert.Equal(full.Mean.Select(m => m.ToString("R", System.Globalization.CultureInfo.InvariantCulture)), recorded["mean"].Split(','));
            Assert.Equal(full.Std.Select(m => m.ToString("R", System.Globalization.CultureInfo.InvariantCulture)), recorded["std"].Split(','));
            Assert.Equal(Data.Mean, full.Mean); // the subset the model trained on carries the split's numbers
        }

        using var runner = new OnnxRunner(path);
        using var images = Data.Test.Images.narrow(0, 0, 200);
        var (diff, agreement, _) = OnnxEvaluation.Compare(runner, trained.Model, Data, images);
        Assert.True(diff <= 1e-4, $"max |ORT − TorchSharp| = {diff:E2}");
        Assert.Equal(100.0, agreement);
        var torchAccuracy = Evaluation.Accuracy(trained.Model, Data, Data.Test, "cpu");
        Assert.True(torchAccuracy > 50, $"one epoch should learn something: {torchAccuracy:F1}%");
        Assert.Equal(torchAccuracy, OnnxEvaluation.Accuracy(runner, Data, Data.Test), 6);
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Static_int8_runs_integer_kernels_keeps_accuracy_and_shrinks_the_file(CalibrationMethod method)
    {
        using var trained = TrainedModel.Load(run.Folder);
        using var dir = new TempDir();
        var (fp32, int8) = (dir.File("fp32.onnx"), dir.File("int8.onnx"));
        OnnxExport.Save(OnnxExport.Build(trained.Model, trained.ImageShape), fp32);
        using var calibration = OnnxEvaluation.CalibrationImages(Data, 128);
        var proto = Quantization.Static(trained.Model, trained.ImageShape, calibration, method);
        OnnxExport.Save(proto, int8);

        // Per-channel weight scales: one per output channel of every quantized convolution (conv2, conv3).
        var convScales = proto.Graph.Initializer.Where(t => t.Name.EndsWith(".weight_scale", StringComparison.Ordinal) && t.Name.StartsWith("stage", StringComparison.Ordinal));
        Assert.Equal([8L, 16], convScales.Select(t => t.Dims.Single()));
        Assert.True(new FileInfo(int8).Length < 0.35 * new FileInfo(fp32).Length, $"int8 {new FileInfo(int8).Length} bytes vs float32 {new FileInfo(fp32).Length}");

        using var runner = new OnnxRunner(int8);
        var floatAccuracy = Evaluation.Accuracy(trained.Model, Data, Data.Test, "cpu");
        var int8Accuracy = OnnxEvaluation.Accuracy(runner, Data, Data.Test);
        Assert.True(Math.Abs(floatAccuracy - int8Accuracy) <= 2, $"{method}: float32 {floatAccuracy:F2}%, int8 {int8Accuracy:F2}%");
        var profile = OnnxProfile.ByOperator(int8, runs: 3);
        var ops = profile.Select(o => o.Op).ToList();
        // conv2 and conv3 on integers; conv1, which reads the image, stays float32 by design.
        Assert.Equal(2, profile.Single(o => o.Op == "QLinearConv").Nodes);
        Assert.Equal(1, profile.Single(o => o.Op == "Conv").Nodes);
        // Max-pooling and flattening stay on their input's grid: no float MaxPool and no dequantize between the
        // integer kernels (the last QGemm writes float logits itself).
        Assert.DoesNotContain("MaxPool", ops);
        Assert.DoesNotContain("DequantizeLinear", ops);
    }

    [Fact]
    public void Percentile_ranges_are_inside_min_max_ranges()
    {
        using var trained = TrainedModel.Load(run.Folder);
        using var calibration = OnnxEvaluation.CalibrationImages(Data, 64);
        var ops = new FloatOps();
        var graph = OnnxExport.Build(trained.Model, trained.ImageShape, ops);
        var minMax = Quantization.Calibrate(graph, ops.Layers, calibration, CalibrationMethod.MinMax, 32);
        var percentile = Quantization.Calibrate(graph, ops.Layers, calibration, CalibrationMethod.Percentile, 32);
        Assert.Equal(5, minMax.Count);
        foreach (var (layer, (inRange, outRange)) in minMax)
        {
            Assert.InRange(percentile[layer].In.High, inRange.Low, inRange.High);
            Assert.InRange(percentile[layer].Out.High, outRange.Low, outRange.High);
        }
        // Pixels saturate at white (the input's 99.99th percentile is its maximum), but ReLU outputs have long tails:
        // percentile clips them.
        Assert.Equal(minMax["stage1.conv1"].In.High, percentile["stage1.conv1"].In.High, 4);
        Assert.All(minMax, l => Assert.True(percentile[l.Key].Out.High < l.Value.Out.High, $"{l.Key}: {percentile[l.Key].Out} vs {l.Value.Out}"));
    }

    [Fact]
    public void Zero_calibration_images_is_an_error()
    {
        using var trained = TrainedModel.Load(run.Folder);
        var e = Assert.Throws<ArgumentException>(() => OnnxEvaluation.CalibrationImages(Data, 0));
        Assert.Contains("at least 1", e.Message, StringComparison.Ordinal);
        using var none = zeros(0, 1, 28, 28);
        e = Assert.Throws<ArgumentException>(() => Quantization.Static(trained.Model, trained.ImageShape, none, CalibrationMethod.MinMax));
        Assert.Contains("got none", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Checkpoint_of_an_unknown_model_or_without_a_model_name_is_an_error()
    {
        using var dir = new TempDir();
        File.Copy(Path.Combine(run.Folder, Checkpoint.FileName), dir.File(Checkpoint.FileName));
        var record = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(run.Folder, "run.json")))!;

        record["model"] = "transformer-9";
        File.WriteAllText(dir.File("run.json"), JsonSerializer.Serialize(record));
        var e = Assert.Throws<InvalidDataException>(() => TrainedModel.Load(dir.Path));
        Assert.Contains("cannot build model 'transformer-9': Unknown model 'transformer-9'. Known models: ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", e.Message, StringComparison.Ordinal); // .NET's, noise to a user
        Assert.EndsWith(". Export checkpoints of zoo models only.", e.Message, StringComparison.Ordinal);

        record.Remove("model");
        File.WriteAllText(dir.File("run.json"), JsonSerializer.Serialize(record));
        e = Assert.Throws<InvalidDataException>(() => TrainedModel.Load(dir.Path));
        Assert.Contains("records no 'model'", e.Message, StringComparison.Ordinal);

        record["model"] = "cnn-16"; // a zoo model, but not the one trained: the tensors do not fit
        File.WriteAllText(dir.File("run.json"), JsonSerializer.Serialize(record));
        e = Assert.Throws<InvalidDataException>(() => TrainedModel.Load(dir.Path));
        Assert.Contains(dir.File(Checkpoint.FileName), e.Message, StringComparison.Ordinal);

        File.Delete(dir.File("run.json"));
        Assert.Throws<FileNotFoundException>(() => TrainedModel.Load(dir.Path));
    }

    [Fact]
    public void Dynamic_int8_mlp_uses_integer_matmul_and_agrees_with_float()
    {
        manual_seed(5);
        using var mlp = ModelZoo.Create("mlp-64-64", 1, 10);
        // A few steps of real training, so the logits mean something to agree on.
        Trainer.Train(mlp, TinyData.FashionMnist2k, new Distill.Losses.Objective().Add(new Distill.Losses.CrossEntropyTerm()),
            new TrainOptions { Epochs = 1, BatchSize = 64, Device = "cpu", Progress = false });
        using var dir = new TempDir();
        var path = dir.File("mlp-int8.onnx");
        var proto = Quantization.Dynamic(mlp, [1, 28, 28]);
        Assert.Equal(3, proto.Graph.Node.Count(n => n.OpType == "MatMulInteger"));
        OnnxExport.Save(proto, path);
        using var runner = new OnnxRunner(path);
        using var images = Data.Test.Images.narrow(0, 0, 500);
        var (_, agreement, _) = OnnxEvaluation.Compare(runner, mlp, Data, images);
        Assert.True(agreement >= 97, $"int8 and float32 predictions agree on {agreement:F1}%");
        Assert.Contains(OnnxProfile.ByOperator(path, runs: 3), o => o.Op is "DynamicQuantizeMatMul" or "MatMulInteger");
    }
}

/// <summary>07's recipe exported every model into a fresh temp folder and left it there: 12-30 MB of .onnx files per
/// notebook run that nothing referred to. Without an OutDir the folder is gone when Run returns; the rows keep the
/// files' sizes.</summary>
public class DeploymentRunTests
{
    [Fact]
    public void Without_an_out_folder_the_exported_files_are_removed_when_the_run_is_done()
    {
        TorchRuntime.Initialize();
        // Smoke's recipe cut further (07's smoke notebook runs it whole): this test is about the folder, not the numbers.
        var config = DeploymentConfig.For(Distill.Experiments.Budget.Smoke);
        config = config with
        {
            Pair = config.Pair with { Progress = false, TeacherTrainSize = 1000, TransferSize = 500, StudentEpochs = 1, TestSize = 500 },
            FineTuneEpochs = 1, CalibrationImages = 64, LatencyRuns = 5, LatencyRounds = 1, ProfileRuns = 5,
        };
        using var data = config.Pair.LoadData();
        var result = Deployment.Run(data, config);
        Assert.NotEmpty(result.Rows);
        Assert.All(result.Rows, r => Assert.True(r.OnnxBytes > 0, r.Name));
        Assert.Equal("", result.Folder);
        Assert.Empty(Directory.GetDirectories(Path.GetTempPath(), $"distill-deploy-{Environment.ProcessId}-*"));
    }
}
