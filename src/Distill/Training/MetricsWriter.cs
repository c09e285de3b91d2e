using System.Globalization;
using System.Text;
using TorchSharp;
using TorchSharp.Modules;

namespace Distill.Training;

/// <summary>
/// Per-epoch metrics on disk: OutDir/metrics.csv (rewritten whole each epoch from the history, so a resumed run's file
/// is the uninterrupted run's file) and TensorBoard event files under OutDir/tb (written per epoch: each event is
/// flushed synchronously by TorchSharp's SummaryWriter).
/// </summary>
sealed class MetricsWriter(string outDir, bool tensorBoard)
{
    public string CsvPath { get; } = Path.Combine(outDir, "metrics.csv");
    public const string TbFolder = "tb";
    string TbDir => Path.Combine(outDir, TbFolder);
    SummaryWriter? tb;

    public void Write(string name, IReadOnlyList<EpochMetrics> history)
    {
        WriteCsv(history);
        if (history.Count > 0) Log(name, history[^1]);
    }

    /// <summary>After a resume: the events of the interrupted run may hold an epoch the checkpoint does not (a kill after
    /// logging, before the checkpoint), which the resumed run would log again. Start the events over from the
    /// checkpoint's history, so each epoch is logged once. metrics.csv is rewritten from it too: a resume of a finished
    /// run trains no epoch, and left a deleted or damaged file as it was though the checkpoint holds every row.</summary>
    public void Restart(string name, IReadOnlyList<EpochMetrics> history)
    {
        WriteCsv(history);
        if (!tensorBoard) return;
        DeleteEvents(outDir);
        foreach (var m in history) Log(name, m);
    }

    /// <summary>The TensorBoard event files in <paramref name="dir"/>'s tb/ (top level only: what SummaryWriter writes).</summary>
    public static IEnumerable<string> EventFiles(string dir) =>
        Directory.Exists(Path.Combine(dir, TbFolder)) ? Directory.EnumerateFiles(Path.Combine(dir, TbFolder), EventPattern) : [];

    const string EventPattern = "events.out.tfevents.*";

    /// <summary>Deletes the event files a run writes into tb/, and nothing else there: deleting the whole folder took a
    /// user's notes or projector config with it, and replaced a tb/ that links to a shared log folder with a folder.</summary>
    public static void DeleteEvents(string dir)
    {
        foreach (var events in EventFiles(dir).ToList()) File.Delete(events);
    }

    void Log(string name, EpochMetrics m)
    {
        if (!tensorBoard) return;
        tb ??= torch.utils.tensorboard.SummaryWriter(TbDir);
        var step = m.Epoch;
        tb.add_scalar($"{name}/lr", (float)m.LearningRate, step);
        tb.add_scalar($"{name}/train_loss", (float)m.TrainLoss, step);
        foreach (var t in m.TermLosses) tb.add_scalar($"{name}/loss_{t.Name}", (float)t.Value, step);
        tb.add_scalar($"{name}/train_acc", (float)m.TrainAccuracy, step);
        if (m.ValidationAccuracy is double v) tb.add_scalar($"{name}/val_acc", (float)v, step);
        tb.add_scalar($"{name}/test_acc", (float)m.TestAccuracy, step);
        tb.add_scalar($"{name}/samples_per_s", (float)m.SamplesPerSecond, step);
    }

    void WriteCsv(IReadOnlyList<EpochMetrics> history)
    {
        var terms = MetricsTable.TermNames(history);
        var hasVal = history.Any(m => m.ValidationAccuracy is not null);
        var sb = new StringBuilder();
        sb.Append("epoch,lr,train_loss");
        foreach (var t in terms) sb.Append(",loss_").Append(t);
        var hasFlag = history.Any(m => m.Flag is not null);
        sb.Append(",train_acc").Append(hasVal ? ",val_acc" : "").Append(",test_acc,seconds,samples_per_s").Append(hasFlag ? ",flag" : "").Append('\n');
        static string F(double? x) => x?.ToString("R", CultureInfo.InvariantCulture) ?? "";
        foreach (var m in history)
        {
            sb.Append(m.Epoch).Append(',').Append(F(m.LearningRate)).Append(',').Append(F(m.TrainLoss));
            foreach (var t in terms) sb.Append(',').Append(F(MetricsTable.TermValue(m, t)));
            sb.Append(',').Append(F(m.TrainAccuracy));
            if (hasVal) sb.Append(',').Append(F(m.ValidationAccuracy));
            sb.Append(',').Append(F(m.TestAccuracy)).Append(',').Append(F(Math.Round(m.Seconds, 3)))
              .Append(',').Append(F(Math.Round(m.SamplesPerSecond, 1)));
            if (hasFlag) sb.Append(',').Append(m.Flag is null ? "" : $"\"{m.Flag.Replace("\"", "\"\"", StringComparison.Ordinal)}\"");
            sb.Append('\n');
        }
        AtomicFile.WriteAllText(CsvPath, sb.ToString());
    }
}

/// <summary>Write to a temp file in the same folder, then rename over the target: readers see the old or the new file, never half of one.</summary>
public static partial class AtomicFile
{
    /// <summary>NAME_MAX: the bytes one file name may hold on Linux and macOS file systems (ext4, xfs, btrfs, APFS).</summary>
    const int MaxNameBytes = 255;

    /// <summary>Whether <paramref name="path"/>'s file name is one <see cref="Write"/> gives its temp files
    /// (".NAME.PID-HEX.tmp" or ".tmp-PID-HEX.tmp"), or earlier builds gave them (".NAME.PID.tmp", no random part, so a
    /// leftover of theirs is still cleaned up): a cleanup of leftovers must not take a user's own ".notes.tmp".</summary>
    public static bool IsTempName(string path) => TempName().IsMatch(Path.GetFileName(path));

    [System.Text.RegularExpressions.GeneratedRegex(@"^\.(.+\.|tmp-)[0-9]+(-[0-9a-f]{8})?\.tmp$")]
    private static partial System.Text.RegularExpressions.Regex TempName();

    public static void Write(string path, Action<Stream> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        // Process id and a random part: tasks on other machines (Slurm nodes, pods, often all PID 1) may share the folder.
        var unique = $"{Environment.ProcessId}-{Random.Shared.Next():x8}.tmp";
        // The target's name in it says whose a leftover is, but adds 20 bytes: a target name near the file system's
        // limit would make the temp name too long to create, so then it is the short name (still a ".*.tmp").
        var named = $".{Path.GetFileName(path)}.{unique}";
        var tmp = Path.Combine(dir, Encoding.UTF8.GetByteCount(named) <= MaxNameBytes ? named : $".tmp-{unique}");
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { var bytes = Encoding.UTF8.GetBytes(text); s.Write(bytes, 0, bytes.Length); });
}
