using System.Numerics;
using System.Runtime.InteropServices;

namespace Distill.Data;

/// <summary>Per-channel mean and (population) standard deviation of uint8 images scaled to [0, 1].</summary>
public static class PixelStats
{
    /// <summary>
    /// <paramref name="records"/> holds N records of <paramref name="header"/> bytes (e.g. CIFAR's label bytes) followed
    /// by <paramref name="channels"/> planes of <paramref name="planeSize"/> bytes. Exact integer sums, so no float
    /// accumulation error over 10⁸ pixels.
    /// </summary>
    public static (float[] Mean, float[] Std) MeanStd(ReadOnlySpan<byte> records, int channels, int planeSize, int header = 0)
    {
        int recordSize = header + channels * planeSize;
        var sum = new long[channels];
        var sumSq = new long[channels];
        long n = records.Length / recordSize;
        if (channels == 1 && header == 0) SumAndSquares(records[..(int)(n * recordSize)], ref sum[0], ref sumSq[0]);
        else
            for (long r = 0; r < n; r++)
                for (int c = 0; c < channels; c++)
                    SumAndSquares(records.Slice((int)(r * recordSize) + header + c * planeSize, planeSize), ref sum[c], ref sumSq[c]);
        var mean = new float[channels];
        var std = new float[channels];
        double count = (double)n * planeSize;
        for (int c = 0; c < channels; c++)
        {
            double m = sum[c] / count;
            mean[c] = (float)(m / 255);
            std[c] = (float)(Math.Sqrt(Math.Max(0, sumSq[c] / count - m * m)) / 255);
        }
        return (mean, std);
    }

    /// <summary>Σv and Σv² with SIMD: bytes widen to ushort (v² ≤ 65025 still fits), squares to uint; lanes are
    /// flushed to long every <c>Block</c> vectors, before any lane can overflow.</summary>
    static void SumAndSquares(ReadOnlySpan<byte> data, ref long sum, ref long sumSq)
    {
        const int Block = 64; // ushort lane: 64 × 2 × 255 < 65,536; uint lane: 64 × 4 × 65,025 < 2³²
        var vectors = MemoryMarshal.Cast<byte, Vector<byte>>(data);
        for (int b = 0; b < vectors.Length; b += Block)
        {
            var s = Vector<ushort>.Zero;
            var q = Vector<uint>.Zero;
            foreach (var v in vectors[b..Math.Min(vectors.Length, b + Block)])
            {
                Vector.Widen(v, out Vector<ushort> lo, out Vector<ushort> hi);
                s += lo + hi;
                Vector.Widen(lo * lo, out Vector<uint> a, out Vector<uint> c);
                Vector.Widen(hi * hi, out Vector<uint> d, out Vector<uint> e);
                q += a + c + d + e;
            }
            Vector.Widen(s, out Vector<uint> s1, out Vector<uint> s2);
            Vector.Widen(q, out Vector<ulong> q1, out Vector<ulong> q2);
            sum += Vector.Sum(s1 + s2);
            sumSq += (long)Vector.Sum(q1 + q2);
        }
        foreach (int v in data[(vectors.Length * Vector<byte>.Count)..]) { sum += v; sumSq += v * v; }
    }
}
