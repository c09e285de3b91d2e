namespace Distill.Tests.Onboarding;

/// <summary>Counts in what distill prints agree with their nouns: "1 threads" read as a bug to users.</summary>
public sealed class WordingTests
{
    [Theory]
    [InlineData(1, "1 thread,")]
    [InlineData(2, "2 threads,")]
    public void The_ready_line_counts_threads_in_words_that_agree(int threads, string expected)
    {
        var ready = new NotebookEnvironment("0.1", "2.10", "cpu", threads, 0, "ok", "ok", "ok").ToString();
        Assert.Contains($"cpu, {expected} seed 0", ready, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "0 cases")]
    [InlineData(1, "1 case")]
    [InlineData(12, "12 cases")]
    public void A_count_takes_the_plural_unless_it_is_one(long count, string expected) => Assert.Equal(expected, NumberText.Count(count, "case"));
}
