using System.Text;

namespace Distill.Cli;

/// <summary>
/// Standard output or error on a terminal, whose writes fail with EIO once the terminal hangs up (a closed window or ssh
/// session): .NET's console throws those as IOException, and a progress line written in the moment between the hang-up
/// and the SIGHUP handler ended a training run with exit 1 instead of its checkpoint at the step. From the first failed
/// write on, output is dropped: nobody is there to read it, and the command's work and files go on.
/// </summary>
sealed class TerminalWriter(TextWriter inner) : TextWriter
{
    volatile bool gone;

    public override Encoding Encoding => inner.Encoding;

    /// <summary>Puts the console's writers that go to a terminal behind this; redirected ones (a file, a pipe) are kept
    /// as they are, so a failed write there (a full disk) is still reported.</summary>
    public static void Install()
    {
        if (OperatingSystem.IsWindows()) return;
        if (!Console.IsOutputRedirected) Console.SetOut(new TerminalWriter(Console.Out));
        if (!Console.IsErrorRedirected) Console.SetError(new TerminalWriter(Console.Error));
    }

    void Try(Action write)
    {
        if (gone) return;
        try { write(); }
        catch (IOException) { gone = true; }
    }

    public override void Write(char value) => Try(() => inner.Write(value));
    public override void Write(string? value) => Try(() => inner.Write(value));
    public override void Write(char[] buffer, int index, int count) => Try(() => inner.Write(buffer, index, count));
    public override void WriteLine(string? value) => Try(() => inner.WriteLine(value));
    public override void WriteLine() => Try(inner.WriteLine);
    public override void Flush() => Try(inner.Flush);
}
