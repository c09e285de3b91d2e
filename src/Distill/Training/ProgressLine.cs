using System.Diagnostics;

namespace Distill.Training;

/// <summary>
/// One line on stderr, redrawn in place (carriage return) at most four times a second: epoch, step, running loss and
/// accuracy, throughput. Off when stderr is redirected (CI logs, the kernel, tests) or captured by a host (distill run's
/// cells, see <see cref="OffSwitch"/>), so logs and cell outputs never fill with redraws.
/// </summary>
sealed class ProgressLine(bool enabled)
{
    readonly Stopwatch sinceDraw = Stopwatch.StartNew();
    int width;

    /// <summary>AppContext switch a host sets when Console.Error is its capture rather than the process's stderr: distill
    /// run's notebook cells (their stderr is a cell output, while the process's stderr can be a terminal). Set, the line
    /// is off, as in the kernel, whose stderr is a pipe.</summary>
    public const string OffSwitch = "Distill.Training.ProgressLine.Off";

    public static bool Default => Decide(Console.IsErrorRedirected, Environment.GetEnvironmentVariable("TERM"),
        AppContext.TryGetSwitch(OffSwitch, out var off) && off);

    /// <summary>On only on a real terminal whose stderr nobody captures.</summary>
    public static bool Decide(bool errorRedirected, string? term, bool captured) =>
        !captured && !errorRedirected && term is not (null or "dumb");

    public void Update(Func<string> text)
    {
        if (!enabled || sinceDraw.ElapsedMilliseconds < 250) return;
        sinceDraw.Restart();
        var line = text();
        var pad = Math.Max(0, width - line.Length);
        width = line.Length;
        Console.Error.Write("\r" + line + new string(' ', pad));
    }

    public void Clear()
    {
        if (!enabled || width == 0) return;
        Console.Error.Write("\r" + new string(' ', width) + "\r");
        width = 0;
    }
}
