using Distill.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Tests.Native;

public class NativeLoadTests
{
    [Fact]
    public void Torch_loads_and_runs_matmul_and_backward()
    {
        TorchRuntime.Initialize();
        Assert.StartsWith("2.10", torch.__version__);
        using var scope = NewDisposeScope();
        var a = randn(4, 3, requires_grad: true);
        var b = ones(3, 2);
        var loss = a.matmul(b).pow(2).sum();
        loss.backward();
        // d/da sum((a b)^2) = 2 (a b) bᵀ
        var expected = (a.detach().matmul(b) * 2).matmul(b.t());
        Assert.True(a.grad!.allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Device_auto_is_cpu_without_cuda_and_cuda_request_fails_clearly()
    {
        Assert.Equal(DeviceType.CPU, TorchRuntime.ResolveDevice("auto").type);
        if (!torch.cuda.is_available())
        {
            var e = Assert.Throws<InvalidOperationException>(() => TorchRuntime.ResolveDevice("cuda"));
            Assert.Contains("TorchBackend=cuda", e.Message);
        }
        Assert.Throws<ArgumentException>(() => TorchRuntime.ResolveDevice("tpu"));
        // The form is checked before availability: a bad index is named as such on any machine.
        foreach (var bad in new[] { "cuda:-1", "cuda:x", "cudax", "cuda:" })
            Assert.Equal($"--device {bad}: expected auto, cpu, cuda or cuda:N (N a GPU's index, 0 for the first).", Assert.Throws<ArgumentException>(() => TorchRuntime.ResolveDevice(bad)).Message);
    }
}
