namespace Distill.Notebooks.Tests;

/// <summary>A log that signals when a given text has been written.</summary>
sealed class SignalWriter(string text) : StringWriter
{
    public ManualResetEventSlim Seen { get; } = new();
    public override void WriteLine(string? value)
    {
        base.WriteLine(value);
        if (value?.Contains(text, StringComparison.Ordinal) == true) Seen.Set();
    }
    protected override void Dispose(bool disposing)
    {
        if (disposing) Seen.Dispose();
        base.Dispose(disposing);
    }
}
