using System.Globalization;

namespace Distill.Bench;

/// <summary>
/// The median of per-round ratios (e.g. our step time over the peer's, each pair taken in the same round) with a 95 %
/// percentile-bootstrap interval. <see cref="Noisy"/> when the interval reaches beyond ±10 % of the median: such a
/// ratio is reported, but judged against no target.
/// </summary>
public sealed record RatioInterval(double Median, double Low, double High, int Rounds)
{
    /// <summary>How far the interval may reach from the median, as a fraction of it, before the ratio is noisy.</summary>
    public const double NoiseTolerance = 0.10;

    public bool Noisy => Low < Median * (1 - NoiseTolerance) || High > Median * (1 + NoiseTolerance);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Median:F2} [{Low:F2}-{High:F2}]{(Noisy ? " noisy" : "")}");
}

/// <summary>Where a case stands against a target on its ratio: met or not only when the whole interval is on one side.</summary>
public enum Verdict { Met, NotMet, Undecided, Noisy }

/// <summary>A target on a ratio that must stay at or below <see cref="MaxRatio"/> (ratios are times: ours over the other).</summary>
public sealed record RatioTarget(double MaxRatio, string Text)
{
    public Verdict Judge(RatioInterval r)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.Noisy) return Verdict.Noisy;
        if (r.High <= MaxRatio) return Verdict.Met;
        if (r.Low > MaxRatio) return Verdict.NotMet;
        return Verdict.Undecided;
    }
}

public static class RatioStats
{
    public const int Resamples = 2000;
    public const int Seed = 1;

    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("No values.", nameof(values));
        var s = values.Order().ToArray();
        int n = s.Length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /// <summary>Median of <paramref name="ratios"/> with the 2.5 % and 97.5 % quantiles of the medians of
    /// <paramref name="resamples"/> resamples (drawn with replacement, seeded: the same data gives the same interval).</summary>
    public static RatioInterval Bootstrap(IReadOnlyList<double> ratios, int resamples = Resamples, int seed = Seed)
    {
        ArgumentNullException.ThrowIfNull(ratios);
        if (ratios.Count == 0) throw new ArgumentException("No rounds.", nameof(ratios));
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "At least one resample.");
        var rng = new Random(seed);
        int n = ratios.Count;
        var sample = new double[n];
        var medians = new double[resamples];
        for (int b = 0; b < resamples; b++)
        {
            for (int i = 0; i < n; i++) sample[i] = ratios[rng.Next(n)];
            medians[b] = Median(sample);
        }
        Array.Sort(medians);
        return new RatioInterval(Median(ratios), Quantile(medians, 0.025), Quantile(medians, 0.975), n);
    }

    /// <summary>Linear interpolation between closest ranks (as numpy's default).</summary>
    public static double Quantile(double[] sorted, double q)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
