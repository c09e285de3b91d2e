using Distill.Reporting;

namespace Distill.Tests.Reporting;

public class LiveLogTests
{
    /// <summary>A host whose one cell shows what it is given, keeping the last update.</summary>
    sealed class OneCell : ILiveOutput
    {
        public string? Shown;
        public object? CurrentCell { get; } = new();
        public Action<string> Show(string html)
        {
            Shown = html;
            return update => Shown = update;
        }
    }

    /// <summary>Text written without a newline waited for one: Flush and Dispose lost it, as no TextWriter does.</summary>
    [Fact]
    public void Flush_and_dispose_show_a_partial_line()
    {
        var host = new OneCell();
        using (var log = new LiveLog(host, TextWriter.Null))
        {
            log.Write("partial then Flush");
            log.Flush();
            Assert.Contains("partial then Flush", host.Shown, StringComparison.Ordinal);
            log.Write("at the end");
        }
        Assert.Contains("partial then Flush\nat the end", host.Shown, StringComparison.Ordinal);
    }
}
