using System.Globalization;
using static TorchSharp.torch;

namespace Distill.Data;

/// <summary>
/// CIFAR-10/100 binary version (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of
/// label byte(s) followed by 3072 pixel bytes, 1024 red, 1024 green, 1024 blue, each plane 32×32 row-major, i.e. CHW.
/// CIFAR-10 has one label byte; CIFAR-100 has two (coarse, then fine).
/// </summary>
public static class Cifar
{
    public const int ImageBytes = 3 * 32 * 32;

    /// <summary>Every record of the files, concatenated in order; <c>LabelBytes</c> is 1 (CIFAR-10) or 2 (CIFAR-100);
    /// <c>FileLengths</c> the bytes that came from each of <c>Paths</c>.</summary>
    public sealed record Records(byte[] Data, int LabelBytes, IReadOnlyList<string> Paths, IReadOnlyList<long> FileLengths)
    {
        public int RecordSize => LabelBytes + ImageBytes;
        public long Count => Data.LongLength / RecordSize;

        /// <summary>Label byte <paramref name="index"/> of every record (CIFAR-100: 0 coarse, 1 fine).</summary>
        public byte[] LabelColumn(int index)
        {
            var labels = new byte[Count];
            for (long i = 0; i < labels.LongLength; i++) labels[i] = Data[i * RecordSize + index];
            return labels;
        }

        /// <summary>Checks every label byte of every record, file by file (<see cref="Cifar.CheckLabels(string, ReadOnlySpan{byte}, int, long)"/>).</summary>
        public void CheckLabels()
        {
            long offset = 0;
            for (int i = 0; i < Paths.Count; i++)
            {
                Cifar.CheckLabels(Paths[i], Data.AsSpan((int)offset, (int)FileLengths[i]), LabelBytes);
                offset += FileLengths[i];
            }
        }

        /// <summary>Images [N, 3, 32, 32] uint8 and the chosen label column as int64, as one split.</summary>
        public Split ToSplit(int labelIndex)
        {
            // The first tensor loads libtorch: the runtime's set-up (the oneMKL shim above all) must come before it.
            Native.TorchRuntime.Initialize();
            // The whole-file tensor and the views cut from it are temporaries: only the two results outlive the scope.
            using var scope = NewDisposeScope();
            var all = tensor(Data, [Count, RecordSize], ScalarType.Byte);
            return new Split(
                all.narrow(1, LabelBytes, ImageBytes).reshape(Count, 3, 32, 32).contiguous().MoveToOuterDisposeScope(),
                all.select(1, labelIndex).to(ScalarType.Int64).MoveToOuterDisposeScope());
        }
    }

    public static string KindName(int labelBytes) => labelBytes == 1 ? "CIFAR-10" : "CIFAR-100";

    static string InstallCommand(int labelBytes) => $"distill data install {(labelBytes == 1 ? "cifar10" : "cifar100")}";

    /// <summary>Label bytes of the dataset's records: 1 for CIFAR-10, 2 for CIFAR-100, null for any other dataset.</summary>
    public static int? LabelBytes(DatasetInfo info) => info.Name switch { "cifar10" => 1, "cifar100" => 2, _ => null };

    /// <summary>The batch files of the train and the test split, in the order they are concatenated.</summary>
    static (string[] Train, string[] Test) SplitFiles(int labelBytes) => labelBytes == 1
        ? ([.. Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin")], ["test_batch.bin"])
        : (["train.bin"], ["test.bin"]);

    /// <summary>The paths of <paramref name="info"/>'s train and test files in <paramref name="folder"/>, resolved as the
    /// loader resolves them (<see cref="DatasetInfo.Resolve"/>), for the loader and for `distill doctor` alike.</summary>
    public static (string[] Train, string[] Test) SplitPaths(DatasetInfo info, string folder)
    {
        var (train, test) = SplitFiles(LabelBytes(info) ?? throw new ArgumentException($"{info.Name} is not a CIFAR dataset", nameof(info)));
        return ([.. train.Select(f => info.Resolve(folder, f))], [.. test.Select(f => info.Resolve(folder, f))]);
    }

    /// <summary>Each label column's classes and its name in messages: CIFAR-10's one, CIFAR-100's coarse then fine.</summary>
    static (int Classes, string What)[] LabelColumns(int labelBytes) =>
        labelBytes == 1 ? [(10, "CIFAR-10")] : [(20, "coarse"), (100, "fine")];

    /// <summary>The size of each file: each must be a non-empty whole number of records, and all of them together fit
    /// one array. Opens each file (through <see cref="DataFiles"/>: a FIFO, a folder or a broken link is named).</summary>
    static long[] CheckSizes(IReadOnlyList<string> paths, int labelBytes)
    {
        int recordSize = labelBytes + ImageBytes;
        var lengths = new long[paths.Count];
        for (int i = 0; i < paths.Count; i++)
        {
            using var f = DataFiles.OpenRead(paths[i]);
            lengths[i] = f.Length;
            if (f.Length == 0 || f.Length % recordSize != 0)
                throw new DatasetException(paths[i],
                    string.Create(CultureInfo.InvariantCulture, $"size {f.Length:N0} bytes is not a whole number of {recordSize:N0}-byte {KindName(labelBytes)} records ({f.Length / recordSize:N0} records and {f.Length % recordSize:N0} bytes left over)"),
                    $"the file is truncated or not a {KindName(labelBytes)} binary batch: delete it and run `{InstallCommand(labelBytes)}` again");
        }
        long total = lengths.Sum();
        if (total > Array.MaxLength)
            throw new DatasetException(paths[0], string.Create(CultureInfo.InvariantCulture, $"{total:N0} bytes in {paths.Count} files is more than one array can hold"), "load fewer batches at once");
        return lengths;
    }

    /// <summary>Reads whole files; each must be a non-empty whole number of records. Labels are not checked here
    /// (`data inspect` shows a file with bad ones): <see cref="Records.CheckLabels"/> does.</summary>
    public static Records Read(IReadOnlyList<string> paths, int labelBytes)
    {
        var lengths = CheckSizes(paths, labelBytes);
        var data = GC.AllocateUninitializedArray<byte>((int)lengths.Sum());
        long offset = 0;
        for (int i = 0; i < paths.Count; i++)
        {
            using var f = DataFiles.OpenRead(paths[i]);
            f.ReadExactly(data.AsSpan((int)offset, (int)lengths[i]));
            int value = -1;
            if (OneValue(data.AsSpan((int)offset, (int)lengths[i]), labelBytes, ref value)) throw Blank(paths[i], value, labelBytes);
            offset += lengths[i];
        }
        return new Records(data, labelBytes, paths, lengths);
    }

    /// <summary>Checks, without holding them, what <see cref="Read"/> and <see cref="Records.CheckLabels"/> check of one
    /// split's files: the sizes, then every label byte, streamed a block of records at a time (`distill doctor`: the
    /// published hash is of the tarball, so the files themselves can only be checked this way).</summary>
    public static void Check(IReadOnlyList<string> paths, int labelBytes)
    {
        CheckSizes(paths, labelBytes);
        int recordSize = labelBytes + ImageBytes;
        var buffer = new byte[recordSize * 1024];
        foreach (var path in paths)
        {
            using var f = DataFiles.OpenRead(path);
            long first = 0;
            int n, value = -1;
            bool one = true;
            while ((n = f.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
            {
                CheckLabels(path, buffer.AsSpan(0, n - n % recordSize), labelBytes, first);
                one = one && OneValue(buffer.AsSpan(0, n - n % recordSize), labelBytes, ref value);
                first += n / recordSize;
            }
            if (one) throw Blank(path, value, labelBytes);
        }
    }

    /// <summary>Whether every image byte of <paramref name="records"/> is <paramref name="value"/> (-1: the first image
    /// byte, which it is then set to). No hash of the batch files is published, so a zero-filled one of the right size
    /// passed the loader and doctor ("structure checked") and the split was all black, every label 0.</summary>
    static bool OneValue(ReadOnlySpan<byte> records, int labelBytes, ref int value)
    {
        int recordSize = labelBytes + ImageBytes;
        for (int i = 0; i < records.Length / recordSize; i++)
        {
            var image = records.Slice(i * recordSize + labelBytes, ImageBytes);
            if (value < 0) value = image[0];
            if (image.IndexOfAnyExcept((byte)value) >= 0) return false;
        }
        return true;
    }

    static DatasetException Blank(string path, int value, int labelBytes) =>
        new(path, $"every pixel of its images is {value}: no real images (a zero-filled or blanked file)", $"delete it and run `{InstallCommand(labelBytes)}` again");

    /// <summary>Checks every label byte of <paramref name="records"/>, whole records of the file <paramref name="path"/>
    /// starting at record <paramref name="firstRecord"/>: CIFAR-10's below 10, CIFAR-100's coarse below 20 and fine
    /// below 100. The first one outside is an error naming the file and the record.</summary>
    public static void CheckLabels(string path, ReadOnlySpan<byte> records, int labelBytes, long firstRecord = 0)
    {
        int recordSize = labelBytes + ImageBytes;
        var columns = LabelColumns(labelBytes);
        for (int i = 0; i < records.Length / recordSize; i++)
            for (int c = 0; c < columns.Length; c++)
            {
                byte v = records[i * recordSize + c];
                if (v >= columns[c].Classes)
                    throw new DatasetException(path, $"{columns[c].What} label {v} in record {firstRecord + i} is outside 0..{columns[c].Classes - 1}",
                        $"this is not a {KindName(labelBytes)} binary file (CIFAR-10 and CIFAR-100 batches differ in label bytes) or it is corrupt");
            }
    }

    /// <summary>Checks a found CIFAR-10/100 folder as its loader reads it: each split's files (<see cref="Check"/>) and,
    /// for CIFAR-100, its class-name files (<see cref="Cifar100ClassNames"/>).</summary>
    public static void CheckFolder(DatasetInfo info, string folder)
    {
        var (train, test) = SplitPaths(info, folder);
        int labelBytes = LabelBytes(info)!.Value;
        foreach (var split in new[] { train, test })
            Check(split, labelBytes);
        if (labelBytes == 2)
        {
            Cifar100ClassNames(folder, coarse: false);
            Cifar100ClassNames(folder, coarse: true);
        }
    }

    /// <summary>The train and test images a checked folder holds (whole records; <see cref="CheckFolder"/> first).</summary>
    public static (long Train, long Test) Counts(DatasetInfo info, string folder)
    {
        var (train, test) = SplitPaths(info, folder);
        int recordSize = LabelBytes(info)!.Value + ImageBytes;
        return (train.Sum(p => new FileInfo(p).Length) / recordSize, test.Sum(p => new FileInfo(p).Length) / recordSize);
    }

    /// <summary>The images of the published CIFAR-10 and CIFAR-100 (both 50,000 train, 10,000 test).</summary>
    public const long PublishedTrain = 50_000, PublishedTest = 10_000;

    /// <summary>CIFAR-100's class names from fine_label_names.txt / coarse_label_names.txt in <paramref name="folder"/>
    /// (they are in the tarball), one per line; numbered (class 0, class 1, ...) when the file is not there.</summary>
    public static string[] Cifar100ClassNames(string folder, bool coarse)
    {
        int n = coarse ? 20 : 100;
        var namesFile = Path.Combine(folder, coarse ? "coarse_label_names.txt" : "fine_label_names.txt");
        // A folder under the name is not "no names file": numbering the classes would hide it.
        if (Directory.Exists(namesFile))
            throw new DatasetException(namesFile, "is a folder, where CIFAR-100's class names file should be",
                "move the folder away: put the file from the CIFAR-100 tarball there, or leave nothing to number the classes (class 0, class 1, ...)");
        // File.Exists is true for a broken link too: DataFiles names it.
        if (!File.Exists(namesFile)) return [.. Enumerable.Range(0, n).Select(i => $"class {i}")];
        // Through DataFiles: a FIFO or an empty file is refused by name, not waited on.
        using var reader = new StreamReader(DataFiles.OpenRead(namesFile));
        var given = reader.ReadToEnd().Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        // A short or long list would name classes wrongly in every report, or silently not at all.
        return given.Length == n ? given : throw new DatasetException(namesFile,
            $"holds {given.Length} class name{(given.Length == 1 ? "" : "s")}, one per line; CIFAR-100 has {n} {(coarse ? "coarse" : "fine")} classes",
            "restore it from the CIFAR-100 tarball, or delete it to number the classes (class 0, class 1, ...)");
    }
}
