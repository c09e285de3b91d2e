using System.Diagnostics;
using Distill.Data;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Bench;

/// <summary>
/// The cases that need nothing but TorchSharp: the GEMM that defines the machine's limit, and raw training loops
/// (the plain TorchSharp code a user would write: module, SGD, cross-entropy, one dispose scope per step) that the
/// trainer's overhead is measured against. Every case is seeded; inputs are fixed tensors, so only compute is timed.
/// </summary>
public static class StandardCases
{
    public const int Batch = 128;
    public const int GemmSize = 1024;

    /// <summary>SGEMM n×n: the machine's matmul limit for this thread count, measured in the same run.</summary>
    public static BenchCase Gemm(int n = GemmSize) =>
        BenchCase.Stepped($"gemm-{n}", $"SGEMM {n}x{n} (the machine's limit)", n, Flops.Gemm(n, n, n), () =>
        {
            var g = new Generator(1);
            var a = randn([n, n], generator: g);
            var b = randn([n, n], generator: g);
            return new BenchStep(() =>
            {
                using var scope = NewDisposeScope();
                a.mm(b);
            }, a, b, g);
        });

    /// <summary>A ReLU MLP, e.g. 784-1200-1200-10 (Hinton et al. 2015's teacher, without dropout).</summary>
    public static Sequential Mlp(IReadOnlyList<int> widths)
    {
        ArgumentNullException.ThrowIfNull(widths);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i + 1 < widths.Count; i++)
        {
            layers.Add(($"fc{i + 1}", nn.Linear(widths[i], widths[i + 1])));
            if (i + 2 < widths.Count) layers.Add(($"relu{i + 1}", nn.ReLU()));
        }
        return nn.Sequential(layers);
    }

    static string Name(IReadOnlyList<int> widths) => string.Join('-', widths);

    /// <summary>Raw TorchSharp training step of an MLP on a fixed random batch: SGD with momentum 0.9.</summary>
    public static BenchCase RawMlp(params int[] widths) =>
        BenchCase.Stepped($"mlp-{Name(widths)}-raw", $"MLP {Name(widths)} train step on a fixed batch, raw TorchSharp", Batch,
            Flops.LinearStackStep(Batch, widths), () =>
            {
                manual_seed(1);
                var model = Mlp(widths);
                var g = new Generator(2);
                var x = randn([Batch, widths[0]], generator: g);
                var y = randint(widths[^1], [Batch], generator: g);
                return RawLoop(model, x, y, g);
            }) with { PeerTarget = TrainingCases.MlpTarget };

    /// <summary>The matrix products of <see cref="RawMlp"/>'s step alone, with the same shapes and layouts as autograd
    /// gives them (forward x·Wᵀ with the bias, input gradient g·W for every layer but the first, weight gradient gᵀ·x),
    /// back to back with nothing else: the least that step can take on this BLAS, whatever the rest costs. Measured
    /// in the raw step's rounds, so "vs baseline" is the share of the step the products leave to everything else.</summary>
    public static BenchCase MlpGemms(params int[] widths) =>
        BenchCase.Stepped($"mlp-{Name(widths)}-gemms", $"the GEMMs of the MLP {Name(widths)} train step alone", Batch,
            Flops.LinearStackStep(Batch, widths), () =>
            {
                var g = new Generator(3);
                var acts = widths.Select(w => randn([Batch, w], generator: g)).ToArray();       // each layer's input, and the logits' gradient
                var weights = widths.Zip(widths.Skip(1), (i, o) => randn([o, i], generator: g)).ToArray();
                var biases = widths.Skip(1).Select(o => randn([o], generator: g)).ToArray();
                return new BenchStep(() =>
                {
                    using var scope = NewDisposeScope();
                    for (int i = 0; i < weights.Length; i++)
                    {
                        addmm(biases[i], acts[i], weights[i].t(), 1, 1);                          // forward
                        acts[i + 1].t().mm(acts[i]);                                          // weight gradient
                        if (i > 0) acts[i + 1].mm(weights[i]);                                // input gradient
                    }
                }, [g, .. acts, .. weights, .. biases]);
            }) with { Baseline = $"mlp-{Name(widths)}-raw", Floor = true };

    /// <summary>The plain TorchSharp step the trainer is compared with.</summary>
    public static BenchStep RawLoop(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y, params IDisposable[] owned)
    {
        ArgumentNullException.ThrowIfNull(model);
        var opt = optim.SGD(model.parameters(), 0.01, momentum: 0.9);
        model.train();
        return new BenchStep(() =>
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            opt.step();
        }, [opt, model, x, y, .. owned]);
    }

    /// <summary>Reading and parsing the Fashion-MNIST IDX files (train and test) into tensors.</summary>
    public static BenchCase FashionMnistLoad() =>
        BenchCase.Stepped("fmnist-load", "Fashion-MNIST load/parse (train+test, from .gz IDX)", 70_000, null,
            () => new BenchStep(() => Datasets.FashionMnist().Dispose()), few: true);

    /// <summary>True when Fashion-MNIST can be found (random images stand in otherwise). A folder holding part of it
    /// counts as found: the cases reading it fail naming the folder, costing their group only (the whole run ended).</summary>
    public static bool FashionMnistAvailable()
    {
        try { return DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default) is not null; }
        catch (DatasetException) { return true; }
    }

    /// <summary>Peak resident set size of this process so far, in MB.</summary>
    public static double PeakRssMb()
    {
        using var p = Process.GetCurrentProcess();
        return p.PeakWorkingSet64 / 1048576.0;
    }
}
