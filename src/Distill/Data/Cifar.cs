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

    /// <summary>Every record of the files, concatenated in order; <c>LabelBytes</c> is 1 (CIFAR-10) or 2 (CIFAR-100).</summary>
    public sealed record Records(byte[] Data, int LabelBytes, IReadOnlyList<string> Paths)
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

        /// <summary>Images [N, 3, 32, 32] uint8 and the chosen label column as int64, as one split.</summary>
        public Split ToSplit(int labelIndex)
        {
            // The whole-file tensor and the views cut from it are temporaries: only the two results outlive the scope.
            using var scope = NewDisposeScope();
            var all = tensor(Data, [Count, RecordSize], ScalarType.Byte);
            return new Split(
                all.narrow(1, LabelBytes, ImageBytes).reshape(Count, 3, 32, 32).contiguous().MoveToOuterDisposeScope(),
                all.select(1, labelIndex).to(ScalarType.Int64).MoveToOuterDisposeScope());
        }
    }

    public static string KindName(int labelBytes) => labelBytes == 1 ? "CIFAR-10" : "CIFAR-100";

    /// <summary>Reads whole files; each must be a non-empty whole number of records.</summary>
    public static Records Read(IReadOnlyList<string> paths, int labelBytes)
    {
        int recordSize = labelBytes + ImageBytes;
        var lengths = new long[paths.Count];
        for (int i = 0; i < paths.Count; i++)
        {
            using var f = DataFiles.OpenRead(paths[i]);
            lengths[i] = f.Length;
            if (f.Length == 0 || f.Length % recordSize != 0)
                throw new DatasetException(paths[i],
                    $"size {f.Length:N0} bytes is not a whole number of {recordSize:N0}-byte {KindName(labelBytes)} records ({f.Length / recordSize:N0} records and {f.Length % recordSize:N0} bytes left over)",
                    $"the file is truncated or not a {KindName(labelBytes)} binary batch: delete it and run `distill data install {(labelBytes == 1 ? "cifar10" : "cifar100")}` again");
        }
        long total = lengths.Sum();
        if (total > Array.MaxLength)
            throw new DatasetException(paths[0], $"{total:N0} bytes in {paths.Count} files is more than one array can hold", "load fewer batches at once");
        var data = GC.AllocateUninitializedArray<byte>((int)total);
        long offset = 0;
        for (int i = 0; i < paths.Count; i++)
        {
            using var f = DataFiles.OpenRead(paths[i]);
            f.ReadExactly(data.AsSpan((int)offset, (int)lengths[i]));
            offset += lengths[i];
        }
        return new Records(data, labelBytes, paths);
    }

    /// <summary>Checks every label byte of column <paramref name="index"/> is below <paramref name="numClasses"/>.</summary>
    public static void CheckLabels(Records r, int index, int numClasses, string what)
    {
        for (long i = 0; i < r.Count; i++)
        {
            byte v = r.Data[i * r.RecordSize + index];
            if (v >= numClasses)
            {
                long perFile = i, file = 0;
                while (file < r.Paths.Count - 1 && perFile >= new FileInfo(r.Paths[(int)file]).Length / r.RecordSize)
                    perFile -= new FileInfo(r.Paths[(int)file++]).Length / r.RecordSize;
                throw new DatasetException(r.Paths[(int)file], $"{what} label {v} in record {perFile} is outside 0..{numClasses - 1}",
                    $"this is not a {KindName(r.LabelBytes)} binary file (CIFAR-10 and CIFAR-100 batches differ in label bytes) or it is corrupt");
            }
        }
    }
}
