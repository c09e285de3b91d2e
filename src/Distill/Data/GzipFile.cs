using System.Buffers.Binary;
using System.IO.Compression;

namespace Distill.Data;

/// <summary>
/// Decompresses a gzip file and, when its end is read, checks that the file was whole. GZipStream just stops when
/// its input ends early (e.g. inside the 8-byte trailer of CRC-32 and ISIZE), so a download cut short can inflate to
/// all of its data and pass. At the end of the data the trailer's ISIZE (the decompressed length mod 2^32, the
/// file's last 4 bytes, little-endian) must equal the length that came out; a cut file ends in other bytes. One gzip
/// member is assumed, as gzip and the dataset sites write them (the last member's ISIZE would not count the others).
/// Errors are <see cref="InvalidDataException"/>, as GZipStream's own, for the caller to name the file.
/// </summary>
sealed class GzipFile : Stream
{
    readonly GZipStream gz;
    readonly long fileLength;
    readonly uint? isize; // null: too short to hold a trailer
    long decompressed;
    bool endChecked;

    /// <summary>Reads <paramref name="file"/> (seekable, left open) from its start.</summary>
    public GzipFile(FileStream file)
    {
        fileLength = file.Length;
        if (fileLength >= 8)
        {
            Span<byte> tail = stackalloc byte[4];
            file.Seek(-4, SeekOrigin.End);
            file.ReadExactly(tail);
            isize = BinaryPrimitives.ReadUInt32LittleEndian(tail);
        }
        file.Position = 0;
        gz = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
    }

    public override int Read(Span<byte> buffer)
    {
        int n = gz.Read(buffer);
        decompressed += n;
        if (n == 0 && buffer.Length > 0 && !endChecked)
        {
            endChecked = true;
            if (isize is null)
                throw new InvalidDataException($"the file is {fileLength} bytes, too short to end in the 8-byte gzip trailer");
            if (isize != (uint)decompressed)
                throw new InvalidDataException(
                    $"the gzip trailer is missing or cut short: its size field reads {isize:N0} bytes but {decompressed:N0} were decompressed");
        }
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) gz.Dispose();
        base.Dispose(disposing);
    }
}
