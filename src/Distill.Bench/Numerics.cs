using static TorchSharp.torch;

namespace Distill.Bench;

/// <summary>
/// A seeded GEMM result and an MLP's parameters after a few SGD steps, as one float vector, to check that two runs
/// (e.g. with and without <c>DISTILL_MKL_AMD_FIX=0</c>, which changes oneMKL's kernels) agree within float tolerance.
/// </summary>
public static class Numerics
{
    /// <summary>How many values <see cref="Compute"/> gives: what a file from before the header must hold to be taken as one.</summary>
    public const int Count = 512 * 512 + (784 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 10 + 10) + 5;

    /// <summary>[GEMM 512×512 result, then every parameter of MLP 784-1200-1200-10 after 5 SGD steps, then the 5 losses].</summary>
    public static float[] Compute()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(11);
        var a = randn([512, 512], generator: g);
        var b = randn([512, 512], generator: g);
        var parts = new List<Tensor> { a.mm(b).flatten() };

        manual_seed(12);
        using var model = StandardCases.Mlp([784, 1200, 1200, 10]);
        using var opt = optim.SGD(model.parameters(), 0.05, momentum: 0.9);
        var x = randn([128, 784], generator: g);
        var y = randint(10, [128], generator: g);
        var losses = new float[5];
        for (int i = 0; i < losses.Length; i++)
        {
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward();
            opt.step();
            losses[i] = loss.item<float>();
        }
        parts.AddRange(model.parameters().Select(p => p.detach().flatten()));
        parts.Add(tensor(losses));
        var values = cat(parts, 0).data<float>().ToArray();
        return values.Length == Count ? values : throw new InvalidOperationException($"Numerics.Count is {Count:N0}, and Compute gave {values.Length:N0} values: update Count.");
    }

    /// <summary>Header of a numerics file: magic, then the value count; the values follow, then a checksum of their bytes,
    /// so a file cut short or damaged is told from one of another version.</summary>
    static readonly byte[] Magic = "DSTNUM02"u8.ToArray();

    /// <summary>Whether <paramref name="path"/> is a file of <see cref="Save"/> (any version): what --save-numerics may
    /// overwrite. This version's begin with the magic; the earlier ones are bare float32 values (<see cref="Load"/> still
    /// reads them), exactly <see cref="Count"/> of them. Any file of whole 4-byte values whose first was finite passed
    /// once: a README, a notes file and an .onnx model were replaced by 10 MB of numbers.</summary>
    public static bool IsNumericsFile(string path)
    {
        var head = new byte[8];
        using var f = File.OpenRead(path);
        var read = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read >= 6 && head.AsSpan(0, 6).SequenceEqual(Magic.AsSpan(0, 6))) return true;
        return f.Length == 4L * Count && float.IsFinite(BitConverter.ToSingle(head, 0));
    }

    public static void Save(string path, float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());
        using var f = File.Create(path);
        f.Write(Magic);
        f.Write(BitConverter.GetBytes(values.Length));
        f.Write(bytes);
        f.Write(BitConverter.GetBytes(Checksum(bytes)));
    }

    /// <summary>The values of a file from <see cref="Save"/>, of which this version computes <paramref name="expected"/>;
    /// a file without a header from before it is read when it has that many values. Anything else (empty, cut short,
    /// damaged, another version's, values that are not finite) is an <see cref="InvalidDataException"/> saying which.</summary>
    public static float[] Load(string path, int expected)
    {
        var bytes = File.ReadAllBytes(path);
        string again = "; write it again with --save-numerics";
        if (bytes.Length == 0) throw new InvalidDataException($"{path}: the file is empty{again}.");
        float[] values;
        if (bytes.AsSpan().StartsWith(Magic) && bytes.Length >= Magic.Length + 4)
        {
            int count = BitConverter.ToInt32(bytes, Magic.Length);
            long size = Magic.Length + 4 + 4L * count + 8;
            if (count < 0 || bytes.Length != size)
                throw new InvalidDataException($"{path}: cut short or damaged ({bytes.Length:N0} bytes where its header announces {Math.Max(size, 0):N0}){again}.");
            var data = bytes.AsSpan(Magic.Length + 4, 4 * count);
            if (BitConverter.ToUInt64(bytes, (int)size - 8) != Checksum(data))
                throw new InvalidDataException($"{path}: damaged (its checksum does not match its values){again}.");
            if (count != expected)
                throw new InvalidDataException($"{path}: made by a different version ({count:N0} values, this one computes {expected:N0}){again} by this version.");
            values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray();
        }
        // The format before the header: bare values, recognisable by their count only.
        else if (bytes.Length == 4L * expected)
            values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        else
            throw new InvalidDataException($"{path}: not a numerics file, or one cut short or damaged ({bytes.Length:N0} bytes, no header){again}.");
        if (Array.FindIndex(values, v => !float.IsFinite(v)) is var bad and >= 0)
            throw new InvalidDataException($"{path}: value {bad:N0} is {values[bad]}, not a finite number: damaged, or not a numerics file{again}.");
        return values;
    }

    /// <summary>FNV-1a over the bytes: enough to catch damage, not tampering.</summary>
    static ulong Checksum(ReadOnlySpan<byte> bytes)
    {
        ulong h = 14695981039346656037;
        foreach (var b in bytes) h = (h ^ b) * 1099511628211;
        return h;
    }

    /// <summary>Per part (the GEMM, the trained parameters, the 5 losses): largest |a-b| and the relative L2 error
    /// ‖a-b‖/‖a‖, the usual measure for results of differently ordered float sums.</summary>
    public static IReadOnlyList<(string Part, double MaxAbs, double RelL2)> Compare(float[] a, float[] b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Length != b.Length || a.Length < GemmValues + Losses)
            throw new InvalidDataException($"numerics files differ in length ({a.Length} vs {b.Length} values): made by different versions.");
        return
        [
            Stats("gemm 512x512", a.AsSpan(0, GemmValues), b.AsSpan(0, GemmValues)),
            Stats("mlp parameters after 5 steps", a.AsSpan(GemmValues, a.Length - GemmValues - Losses), b.AsSpan(GemmValues, a.Length - GemmValues - Losses)),
            Stats("mlp losses", a.AsSpan(a.Length - Losses), b.AsSpan(b.Length - Losses)),
        ];
    }

    const int GemmValues = 512 * 512, Losses = 5;

    static (string, double, double) Stats(string part, ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double maxAbs = 0, diff2 = 0, norm2 = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
            diff2 += d * d;
            norm2 += (double)a[i] * a[i];
        }
        return (part, maxAbs, norm2 > 0 ? Math.Sqrt(diff2 / norm2) : Math.Sqrt(diff2));
    }
}
