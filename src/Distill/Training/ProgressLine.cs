using System.Diagnostics;

namespace Distill.Training;

/// <summary>
/// One line on stderr, redrawn in place (carriage return) at most four times a second: epoch, step, running loss and
/// accuracy, throughput. Off when stderr is redirected (CI logs, the kernel, tests) or captured by a host (distill run's
/// cells, see <see cref="TrainOptions.ProgressOffSwitch"/>), so logs and cell outputs never fill with redraws.
/// </summary>
sealed class ProgressLine(bool enabled)
{
    readonly Stopwatch sinceDraw = Stopwatch.StartNew();
    int width;

    public static bool Default => Decide(Console.IsErrorRedirected, Environment.GetEnvironmentVariable("TERM"), Captured);

    /// <summary>Whether a host set <see cref="TrainOptions.ProgressOffSwitch"/>.</summary>
    public static bool Captured => AppContext.TryGetSwitch(TrainOptions.ProgressOffSwitch, out var off) && off;

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
