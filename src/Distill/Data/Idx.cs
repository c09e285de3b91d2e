using System.Buffers.Binary;
using System.Globalization;

namespace Distill.Data;

/// <summary>One IDX file held whole: its shape and its uint8 elements, row-major.</summary>
public sealed record IdxArray(string Path, int[] Shape, byte[] Data)
{
    public long Count => Shape[0];
}

/// <summary>
/// Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al. 1998, http://yann.lecun.com/exdb/mnist/):
/// a big-endian magic 0x0000_TTDD (TT element type, 0x08 = uint8; DD number of dimensions), DD big-endian int32
/// sizes, then the elements. Gzipped or not (detected by the gzip magic 1f 8b, not by the file name).
/// </summary>
public static class Idx
{
    const byte UInt8 = 0x08;
    /// <summary>Deflate cannot expand data by more than ~1032:1, so a gzip file of n bytes holds at most this many times n.</summary>
    const long MaxDeflateRatio = 1100;

    /// <summary>Images [N, H, W] → bytes laid out as [N, 1, H, W].</summary>
    /// <summary>An IDX image file: <see cref="Read"/> names a header with another dimension count.</summary>
    public static IdxArray ReadImages(string path) => Read(path, expectedDims: 3);

    /// <summary>An IDX label file: <see cref="Read"/> names a header with another dimension count.</summary>
    public static IdxArray ReadLabels(string path) => Read(path, expectedDims: 1);

    /// <summary>Reads any uint8 IDX file. Checks the header against the file size before allocating the payload.</summary>
    /// <param name="expectedDims">When given, a header with another number of dimensions is named as the wrong kind of
    /// IDX file right away (checking its sizes against the file first would call it truncated or "trailing bytes").</param>
    public static IdxArray Read(string path, int? expectedDims = null)
    {
        using var file = DataFiles.OpenRead(path);
        long fileLength = file.Length;
        using var s = Content(file);
        bool gz = s is GzipFile;
        try
        {
            return ReadPayload(path, s, gz, fileLength, expectedDims);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            var appended = e.Data.Contains(GzipFile.TrailingData);
            throw new DatasetException(path,
                appended ? $"the gzip file has bytes after its data ({e.Message.TrimEnd('.')})"
                    : gz ? $"the gzip data is truncated or corrupt ({e.Message.TrimEnd('.')})" : "the file ends before the size its header declares (truncated)",
                appended ? "something was appended to the file: delete it and run `distill data install` again"
                    : "the download was probably interrupted: delete the file and run `distill data install` again", e);
        }
    }

    /// <summary>The dimension count a file's name promises, as the MNIST files are named (train-images-idx3-ubyte: 3,
    /// t10k-labels-idx1-ubyte.gz: 1), or null. `distill doctor` and `data inspect` pass it to <see cref="Read"/> so a
    /// header with another count is named as the loader names it.</summary>
    public static int? DimsInName(string path)
    {
        var name = System.IO.Path.GetFileName(path);
        int i = name.IndexOf("-idx", StringComparison.Ordinal);
        return i >= 0 && i + 5 < name.Length && name[i + 4] is >= '1' and <= '4' && name[i + 5] == '-' ? name[i + 4] - '0' : null;
    }

    /// <summary>The file's bytes, decompressed when it is gzipped (GzipFile: a file cut inside its trailer is refused too).</summary>
    static Stream Content(FileStream file)
    {
        var magic = new byte[2];
        int got = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return got == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GzipFile(file) : file;
    }

    /// <summary>Whether two files, each gzipped or not, hold the same bytes once decompressed; reads both to the first
    /// difference. Damaged gzip data is an <see cref="InvalidDataException"/>.</summary>
    internal static bool SameContent(string a, string b)
    {
        using var fileA = DataFiles.OpenRead(a);
        using var fileB = DataFiles.OpenRead(b);
        using var sa = Content(fileA);
        using var sb = Content(fileB);
        byte[] bufferA = new byte[1 << 16], bufferB = new byte[1 << 16];
        while (true)
        {
            int na = sa.ReadAtLeast(bufferA, bufferA.Length, throwOnEndOfStream: false);
            int nb = sb.ReadAtLeast(bufferB, bufferB.Length, throwOnEndOfStream: false);
            if (na != nb || !bufferA.AsSpan(0, na).SequenceEqual(bufferB.AsSpan(0, nb))) return false;
            if (na < bufferA.Length) return true;
        }
    }

    /// <summary>The error for a file whose first bytes announce a compression other than gzip (read as such before this):
    /// a user who compressed a download with another tool gets the format and the tool that undoes it named, after
    /// <paramref name="problem"/>. Null for any other bytes.</summary>
    internal static DatasetException? OtherCompression(string path, ReadOnlySpan<byte> head, string problem)
    {
        (string Format, string Tool)? found = head switch
        {
            [(byte)'B', (byte)'Z', (byte)'h', _, ..] => ("bzip2", "bunzip2"),
            [0xFD, (byte)'7', (byte)'z', (byte)'X', ..] => ("xz", "unxz"),
            [0x28, 0xB5, 0x2F, 0xFD, ..] => ("zstd", "unzstd"),
            [(byte)'P', (byte)'K', 3, 4, ..] => ("zip", "unzip"),
            _ => null,
        };
        return found is var (format, tool)
            ? new DatasetException(path, $"{problem}; it starts as {format} data does, and only gzip is read here", $"decompress it with {tool}, and keep it uncompressed or gzip it")
            : null;
    }

    static IdxArray ReadPayload(string path, Stream s, bool gz, long fileLength, int? expectedDims)
    {
        Span<byte> head = stackalloc byte[4];
        ReadHeader(path, s, head, gz, 0);
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(head);
        int dims = head[3];
        if (head[0] != 0 || head[1] != 0 || head[2] != UInt8 || dims is < 1 or > 4)
        {
            var problem = $"not a uint8 IDX file: magic number 0x{magic:X8}{(gz ? " (after gunzip)" : "")}, expected 0x00000801 (labels) or 0x00000803 (images)";
            // Named .gz but neither gzip nor IDX of any type (an IDX header starts 00 00): damaged, not mistaken.
            if (!gz && path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) && (head[0] != 0 || head[1] != 0) && OtherCompression(path, head, problem) is null)
                throw new DatasetException(path, $"named .gz but not gzip data (it does not start with gzip's bytes 1f 8b), and {problem}",
                    "the file is damaged: delete it and run `distill data install` again");
            throw OtherCompression(path, head, problem) ?? new DatasetException(path, problem,
                "point at the *-idx1-ubyte / *-idx3-ubyte files (gzipped or not) of MNIST or Fashion-MNIST");
        }
        // Said before the sizes are read: checking a wrong count of sizes against the file would call it truncated,
        // "trailing bytes" or a header claiming impossible sizes, and no fix would fit.
        if (expectedDims is int want && dims != want)
            throw new DatasetException(path,
                $"header magic number 0x{magic:X8}{(gz ? " (after gunzip)" : "")} declares {dims} dimension{(dims == 1 ? "" : "s")}{(dims is 1 or 3 ? $", an IDX {Kind(dims)} file" : "")}; an IDX {Kind(want)} file has {want} (magic 0x0000080{want})",
                // A file named for what is wanted is damaged, not mistaken: "pass the images file" sent a user round in
                // circles who had passed it.
                (want, dims, Path.GetFileName(path).Contains(want == 3 ? "images" : "labels", StringComparison.OrdinalIgnoreCase)) switch
                {
                    (3, 1, false) => "this is a labels file: pass the *-images-idx3-ubyte(.gz) file here, not the labels file",
                    (1, 3, false) => "this is an images file: pass the *-labels-idx1-ubyte(.gz) file here, not the images file",
                    (_, 1 or 3, true) => $"its name says {Kind(want)} but its header is a{(dims == 1 ? " labels" : "n images")} file's: it is damaged; delete it and run `distill data install` again",
                    _ => "the header is corrupt or the file is not MNIST-style IDX data: delete it and run `distill data install` again",
                });
        var shape = new int[dims];
        Span<byte> size = stackalloc byte[4];
        for (int i = 0; i < dims; i++)
        {
            ReadHeader(path, s, size, gz, 4 + 4 * i);
            shape[i] = BinaryPrimitives.ReadInt32BigEndian(size);
            if (shape[i] < 0)
                throw new DatasetException(path, $"header dimension {i} is negative ({shape[i]})", "the file is corrupt: delete it and run `distill data install` again");
        }
        // No item, or items of no pixels: an empty split would train on nothing (NaN metrics) and a 0×0 image divide
        // the pixel statistics by zero.
        if (Array.IndexOf(shape, 0) is var zero and >= 0)
            throw new DatasetException(path,
                zero == 0 ? $"header dimensions [{string.Join(", ", shape)}] declare 0 {Items(dims)}: the split would be empty"
                          : $"header dimensions [{string.Join(", ", shape)}] declare {Items(dims)} of size {string.Join("×", shape[1..])}: dimension {zero} is 0",
                "the file is damaged or was not written for this dataset: delete it and run `distill data install` again");
        long count = 1;
        foreach (var d in shape) count = count > long.MaxValue / d ? long.MaxValue : count * d; // saturated: the size check below names the impossible header
        long headerLength = 4 + 4L * dims;
        // Reject a header that cannot be true before allocating what it asks for.
        if (count > Array.MaxLength || gz && count > fileLength * MaxDeflateRatio)
            throw new DatasetException(path,
                string.Create(CultureInfo.InvariantCulture, $"header dimensions [{string.Join(", ", shape)}] claim {Claimed(shape, count)} bytes of data, more than a {fileLength:N0}-byte {(gz ? "gzip " : "")}file can hold"),
                "the header is corrupt or this is not an IDX file: delete it and run `distill data install` again");
        long present = fileLength - headerLength;
        if (!gz && count != present)
            throw new DatasetException(path,
                string.Create(CultureInfo.InvariantCulture, $"header dimensions [{string.Join(", ", shape)}] give {count:N0} bytes of data but the file holds {present:N0} ({(count > present ? "truncated" : "trailing bytes")})"),
                "delete the file and run `distill data install` again");
        var data = GC.AllocateUninitializedArray<byte>((int)count);
        // A gzip stream that ends before the header's size has passed its trailer check (GzipFile throws for a cut or
        // damaged one): the data is whole and the header claims more, as a raw file with too few bytes does.
        var got = s.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (got < count)
            throw new DatasetException(path,
                string.Create(CultureInfo.InvariantCulture, $"header dimensions [{string.Join(", ", shape)}] give {count:N0} bytes of data but the {(gz ? "decompressed gzip data" : "file")} holds {got:N0} (truncated)"),
                "delete the file and run `distill data install` again");
        if (gz && s.ReadByte() != -1)
            throw new DatasetException(path, string.Create(CultureInfo.InvariantCulture, $"the decompressed gzip data holds more than the {count:N0} bytes its IDX header declares (damaged data, or bytes appended)"),
                "the file is corrupt or not an IDX file: delete it and run `distill data install` again");
        return new IdxArray(path, shape, data);
    }

    /// <summary>Reads the next <paramref name="into"/>.Length header bytes, at <paramref name="offset"/>. Data that ends
    /// inside the header (a gzip of an empty file, say) is named as such, not as .NET's "Unable to read beyond the end
    /// of the stream".</summary>
    static void ReadHeader(string path, Stream s, Span<byte> into, bool gz, int offset)
    {
        int got = s.ReadAtLeast(into, into.Length, throwOnEndOfStream: false);
        if (got == into.Length) return;
        int total = offset + got;
        throw new DatasetException(path,
            total == 0 && gz ? "the gzip data decompresses to nothing (0 bytes): there is no IDX header in it"
                : $"the {(gz ? "decompressed gzip data" : "file")} ends after {total} byte{(total == 1 ? "" : "s")}, inside the IDX header ({offset + into.Length} or more bytes)",
            "the file is damaged or was made from an empty or cut file: delete it and run `distill data install` again");
    }

    static string Items(int dims) => dims switch { 1 => "labels", 3 => "images", _ => "items" };

    static string Kind(int dims) => dims switch { 1 => "label", 3 => "image", _ => $"{dims}-dimensional" };

    /// <summary>The byte count a header claims, for a message: exact when it fits a long, else its approximate size
    /// (the saturated count read 9,223,372,036,854,775,807 whatever the dimensions).</summary>
    static string Claimed(int[] shape, long count) => count < long.MaxValue
        ? count.ToString("N0", CultureInfo.InvariantCulture)
        : "about " + shape.Aggregate(1.0, (a, d) => a * d).ToString("0.##e+0", CultureInfo.InvariantCulture);
}
