namespace Distill.Training;

/// <summary>
/// Warnings raised by training runs in this process (a divergence: <see cref="TrainResult.Warning"/>), so that what
/// reports a number can say that a run behind it went wrong. The notebook runner clears it per notebook, and so does
/// <see cref="Notebook.Start"/>, the first cell of every notebook (in the kernel, one process runs many notebooks).
/// </summary>
public static class TrainingWarnings
{
    static readonly Lock Gate = new();
    static readonly List<string> warnings = [];

    internal static void Add(string run, int seed, string warning)
    {
        lock (Gate) warnings.Add($"{run} seed {seed} {warning}");
    }

    /// <summary>The warnings since the last <see cref="Clear"/>.</summary>
    public static IReadOnlyList<string> Since()
    {
        lock (Gate) return [.. warnings];
    }

    public static void Clear()
    {
        lock (Gate) warnings.Clear();
    }
}
