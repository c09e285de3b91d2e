using Distill.Native;

namespace Distill.Tests.Native;

public sealed class MklCpuDispatchTests : IDisposable
{
    static readonly CpuFacts Zen4 = new(LinuxX64: true, "AuthenticAMD", Avx2: true, Fma: true,
        Avx512F: true, Avx512BW: true, Avx512DQ: true, Avx512VL: true);
    static readonly CpuFacts Zen2 = Zen4 with { Avx512F = false, Avx512BW = false, Avx512DQ = false, Avx512VL = false };

    readonly string dir = Directory.CreateTempSubdirectory("distill-elf-").FullName;

    public MklCpuDispatchTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(byte[] bytes, string name)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Generated_shim_loads_with_dlopen_and_its_symbol_returns_1()
    {
        var path = Write(MklCpuDispatch.ShimBytes(), "shim.so");
        // RTLD_LOCAL: this copy must not interpose anything in the test process.
        var h = Dl.Open(path, Dl.RTLD_NOW, out var error);
        Assert.True(h != IntPtr.Zero, error);
        Assert.Equal(1, MklCpuDispatch.Call(Dl.Symbol(h, MklCpuDispatch.Symbol)));
        Assert.Equal(IntPtr.Zero, Dl.Symbol(h, "mkl_serv_intel_cpu_false"));
    }

    [Fact]
    public void Generated_object_encodes_the_given_symbol_and_value()
    {
        var path = Write(TinyElf.ReturningInt("libanswer.so", "distill_test_answer", -42), "answer.so");
        var h = Dl.Open(path, Dl.RTLD_NOW, out var error);
        Assert.True(h != IntPtr.Zero, error);
        Assert.Equal(-42, MklCpuDispatch.Call(Dl.Symbol(h, "distill_test_answer")));
    }

    [Fact]
    public void Loader_rejects_a_corrupted_object_with_a_message()
    {
        var bytes = MklCpuDispatch.ShimBytes();
        bytes[18] = 0x28; // e_machine = ARM
        var path = Write(bytes, "arm.so");
        Assert.Equal(IntPtr.Zero, Dl.Open(path, Dl.RTLD_NOW, out var error));
        Assert.Contains("arm.so", error);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("false")]
    [InlineData(" OFF ")]
    public void Opt_out_wins_even_on_a_capable_AMD_cpu(string value)
    {
        var d = MklCpuDispatch.Decide(Zen4, value);
        Assert.False(d.Enable);
        Assert.Contains("DISTILL_MKL_AMD_FIX", d.Reason);
    }

    [Fact]
    public void Enabled_on_AMD_with_the_instructions_and_reports_the_path()
    {
        var avx512 = MklCpuDispatch.Decide(Zen4, null);
        Assert.True(avx512.Enable);
        Assert.Equal("AVX-512", avx512.Path);
        Assert.True(MklCpuDispatch.Decide(Zen4, "1").Enable);
        var avx2 = MklCpuDispatch.Decide(Zen2, "");
        Assert.True(avx2.Enable);
        Assert.Equal("AVX2", avx2.Path);
        // AVX-512F without BW/DQ/VL is not the AVX-512 path MKL uses
        Assert.Equal("AVX2", MklCpuDispatch.Decide(Zen2 with { Avx512F = true }, null).Path);
    }

    [Fact]
    public void Not_enabled_where_the_instructions_or_the_platform_are_missing()
    {
        Assert.False(MklCpuDispatch.Decide(Zen2 with { Avx2 = false }, null).Enable);
        Assert.False(MklCpuDispatch.Decide(Zen4 with { Fma = false }, null).Enable);
        Assert.False(MklCpuDispatch.Decide(Zen4 with { Vendor = "GenuineIntel" }, null).Enable);
        Assert.False(MklCpuDispatch.Decide(Zen4 with { Vendor = "HygonGenuine" }, null).Enable);
        Assert.False(MklCpuDispatch.Decide(Zen4 with { LinuxX64 = false }, null).Enable);
    }

    [Fact]
    public void Initialize_applied_the_decision_for_this_machine()
    {
        var d = MklCpuDispatch.Decide(CpuFacts.Detect(), Environment.GetEnvironmentVariable(MklCpuDispatch.OptOutVariable));
        Assert.Equal(d.Enable, MklCpuDispatch.Enabled);
        Assert.Contains(d.Reason, MklCpuDispatch.Status);
        if (d.Enable) Assert.True(File.Exists(MklCpuDispatch.ShimPath));
    }
}
