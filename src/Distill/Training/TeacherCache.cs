using Distill.Losses;

namespace Distill.Training;

public enum TeacherCacheMode
{
    /// <summary>Cache when the rule allows it, else run the teacher live.</summary>
    Auto,
    /// <summary>Always run the teacher on every batch.</summary>
    Never,
    /// <summary>Cache, and fail if the rule forbids it.</summary>
    Always,
}

/// <summary>How the teacher's outputs reach the loss in a run.</summary>
public enum TeacherSource { None, Live, Cached }

/// <summary>
/// The rule for computing teacher outputs once per transfer set. The frozen teacher (eval mode) is a fixed function of
/// its input, so its logits for an image never change: caching them is exact as long as the student sees exactly the
/// images the cache was built from, and the loss needs nothing but logits. Two things break that:
/// augmentation (each epoch shows a new random view the cache has never seen) and terms reading teacher features
/// (hints, attention maps: too large to cache for a whole set, and not cached).
/// </summary>
public static class TeacherCache
{
    public static TeacherSource Decide(Objective objective, Augmentation augment, TeacherCacheMode mode)
    {
        if (!objective.NeedsTeacher) return TeacherSource.None;
        var why = WhyNotCacheable(objective, augment);
        return mode switch
        {
            TeacherCacheMode.Never => TeacherSource.Live,
            TeacherCacheMode.Auto => why is null ? TeacherSource.Cached : TeacherSource.Live,
            TeacherCacheMode.Always when why is null => TeacherSource.Cached,
            _ => throw new InvalidOperationException(
                $"Teacher outputs cannot be cached: {why}. Use TeacherCache = Auto (runs the teacher live) or remove the cause."),
        };
    }

    /// <summary>Null when caching is exact, else the reason it would be wrong.</summary>
    public static string? WhyNotCacheable(Objective objective, Augmentation augment)
    {
        if (augment.Enabled)
            return "the transfer set is augmented, so every epoch shows the teacher new random views that a cache built once never saw";
        var featureTerms = objective.Terms.Where(t => t.Term.NeedsTeacherFeatures).Select(t => t.Term.Name).ToList();
        if (featureTerms.Count > 0)
            return $"the term(s) {string.Join(", ", featureTerms)} read teacher features, and only logits are cached";
        return null;
    }
}
