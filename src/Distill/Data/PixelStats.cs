namespace Distill.Data;

/// <summary>Per-channel mean and (population) standard deviation of uint8 images scaled to [0, 1].</summary>
public static class PixelStats
{
    /// <summary>
    /// <paramref name="nchw"/> holds N images of <paramref name="channels"/> planes of <paramref name="planeSize"/> bytes.
    /// Exact integer sums (no float accumulation error over 10⁸ pixels).
    /// </summary>
    public static (float[] Mean, float[] Std) MeanStd(ReadOnlySpan<byte> nchw, int channels, int planeSize)
    {
        var sum = new long[channels];
        var sumSq = new long[channels];
        int plane = 0;
        for (int start = 0; start + planeSize <= nchw.Length; start += planeSize, plane = (plane + 1) % channels)
        {
            long s = 0, q = 0;
            foreach (int v in nchw.Slice(start, planeSize)) { s += v; q += v * v; }
            sum[plane] += s;
            sumSq[plane] += q;
        }
        var mean = new float[channels];
        var std = new float[channels];
        double count = (double)nchw.Length / channels;
        for (int c = 0; c < channels; c++)
        {
            double m = sum[c] / count;
            mean[c] = (float)(m / 255);
            std[c] = (float)(Math.Sqrt(Math.Max(0, sumSq[c] / count - m * m)) / 255);
        }
        return (mean, std);
    }
}
