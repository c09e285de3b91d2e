using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;

namespace Distill.Data;

/// <summary>
/// Decompresses a gzip file and, when its end is read, checks that the file was whole. GZipStream just stops when
/// its input ends early (e.g. inside the 8-byte trailer of CRC-32 and ISIZE), so a download cut short can inflate to
/// all of its data and pass. At the end of the data the trailer's ISIZE (the decompressed length mod 2^32, the
/// file's last 4 bytes, little-endian) must equal the length that came out; a cut file ends in other bytes. A file of
/// several members (<c>cat a.gz b.gz</c>, bgzip) must end in its last member's CRC-32 and size instead.
/// Errors are <see cref="InvalidDataException"/>, as GZipStream's own, for the caller to name the file.
/// </summary>
sealed class GzipFile : Stream
{
    readonly GZipStream gz;
    readonly FileStream file;
    readonly long fileLength;
    readonly uint? isize; // null: too short to hold a trailer
    long decompressed;
    bool endChecked;

    /// <summary>Reads <paramref name="file"/> (seekable, left open) from its start.</summary>
    public GzipFile(FileStream file)
    {
        this.file = file;
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
        int n;
        try { n = gz.Read(buffer); }
        // GZipStream reports damaged deflate data and a failed CRC-32 alike as "compressed using an unsupported
        // compression method", which sends the user after the wrong cause.
        catch (InvalidDataException e) { throw new InvalidDataException("the compressed data is damaged: its deflate stream or CRC-32 check fails", e); }
        decompressed += n;
        if (n == 0 && buffer.Length > 0 && !endChecked)
        {
            endChecked = true;
            if (isize is null)
                throw new InvalidDataException($"the file is {fileLength} bytes, too short to end in the 8-byte gzip trailer");
            if (isize != (uint)decompressed)
            {
                var several = MayHoldSeveralMembers();
                if (!several || !LastMemberChecks())
                    throw TrailerEnd() is { } end
                        ? new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{NumberText.Count(fileLength - end, "byte")} follow the end of the gzip data (at byte {end:N0}) and are no gzip member (trailing garbage, as `gzip -t` says)")) { Data = { [TrailingData] = true } }
                        : several ? new InvalidDataException("the file's last 8 bytes are not the CRC-32 and size of its last gzip member's data: " +
                                                             "something follows the gzip data, or its last member is cut short (`gzip -t` says which)")
                        : new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"the gzip trailer is missing or cut short: its size field reads {isize:N0} bytes but {decompressed:N0} were decompressed"));
            }
        }
        return n;
    }

    /// <summary>Whether a second gzip member may start after the first (files joined with <c>cat a.gz b.gz</c>, or
    /// written by bgzip): GZipStream reads them all, but the file's last 4 bytes are then the size of the last member
    /// only, so the check above cannot tell. Looks for a plausible member header (magic, deflate, no reserved flags, a
    /// known XFL and OS byte); a chance match in compressed data leads to <see cref="LastMemberChecks"/>, which a single
    /// member's whole trailer passes too. Runs only when the size field disagrees, so a whole single-member file (every
    /// dataset here) is not scanned.</summary>
    bool MayHoldSeveralMembers()
    {
        var position = file.Position;
        try
        {
            file.Position = 1;
            var buffer = new byte[1 << 16];
            int have = 0;
            while (true)
            {
                int n = file.Read(buffer, have, buffer.Length - have);
                have += n;
                // A header needs 10 bytes: test each start with 10 bytes after it, carry the last 9 into the next read.
                for (int i = 0; i + 10 <= have; i++)
                    if (buffer[i] == 0x1f && buffer[i + 1] == 0x8b && buffer[i + 2] == 8 && (buffer[i + 3] & 0xE0) == 0 &&
                        buffer[i + 8] is 0 or 2 or 4 && (buffer[i + 9] <= 13 || buffer[i + 9] == 255))
                        return true;
                if (n == 0) return false;
                int carry = Math.Min(9, have);
                Array.Copy(buffer, have - carry, buffer, 0, carry);
                have = carry;
            }
        }
        finally { file.Position = position; }
    }

    /// <summary>Whether the file ends in its last member's trailer: the CRC-32 and size (its last 8 bytes) of the last
    /// ISIZE bytes that came out. GZipStream reads the members of a joined file one after another, but stops without a
    /// word at bytes after them or inside a last member cut short, which a single member's size check catches and this
    /// did not. Decompresses the file again: every file of several members pays it, once per load.</summary>
    bool LastMemberChecks()
    {
        // ISIZE is the size mod 2^32: past 4 GiB of data, a last member of 4 GiB or more cannot be told from a smaller
        // one, so such a file is not checked (no dataset here comes near; bgzip's members are 64 KiB at most).
        if (decompressed >= 1L << 32) return true;
        var position = file.Position;
        try
        {
            var end = fileLength;
            // Empty members at the end (bgzip always ends in one, its end-of-file block) hold no data: the member before
            // them is the one to check. Zeros alone are no member (padding after the data), refused as for one member.
            while (EmptyMemberBefore(end) is int empty) end -= empty;
            Span<byte> trailer = stackalloc byte[8];
            file.Position = end - 8;
            file.ReadExactly(trailer);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
            if (size == 0 || size > decompressed) return false;
            return DecompressedCrc32(decompressed - size) == BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        }
        catch (InvalidDataException) { return false; }
        finally { file.Position = position; }
    }

    /// <summary>The length of the empty gzip member that ends at <paramref name="end"/>, or null: bgzip's 28-byte
    /// end-of-file block, or the 20 bytes gzip writes for empty input (a 10-byte header with no optional fields, an
    /// empty final deflate block, a trailer of CRC-32 0 and size 0).</summary>
    int? EmptyMemberBefore(long end)
    {
        if (end < 28 + 20) return null; // a member with data (20 bytes at least) must remain before it
        Span<byte> tail = stackalloc byte[28];
        file.Position = end - 28;
        file.ReadExactly(tail);
        if (tail.SequenceEqual(BgzfEof)) return 28;
        var last = tail[8..];
        return last[..4].SequenceEqual(EmptyHeaderStart) && last[10..].SequenceEqual(EmptyDeflateAndTrailer) ? 20 : null;
    }

    static ReadOnlySpan<byte> BgzfEof => [0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 0x42, 0x43, 2, 0, 0x1b, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    static ReadOnlySpan<byte> EmptyHeaderStart => [0x1f, 0x8b, 8, 0];
    static ReadOnlySpan<byte> EmptyDeflateAndTrailer => [3, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>Where the member's trailer ends when bytes follow it (GZipStream skips bytes after a member that start
    /// no other one, so the file's last 4 bytes are those bytes, not its size field): the end of the 8 bytes CRC-32 and
    /// ISIZE of all that was decompressed, found in the file. Null when they are not there: the file is cut short. Runs
    /// only on a file already refused, so decompressing it again to sum it costs a load nothing.</summary>
    long? TrailerEnd()
    {
        var position = file.Position;
        try
        {
            var trailer = new byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, DecompressedCrc32(0));
            BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(4), (uint)decompressed);
            file.Position = 0;
            var buffer = new byte[1 << 16];
            int have = 0;
            for (long start = 0; ; )
            {
                int n = file.Read(buffer, have, buffer.Length - have);
                have += n;
                int at = buffer.AsSpan(0, have).IndexOf(trailer);
                if (at >= 0) return start + at + 8 < fileLength ? start + at + 8 : null;
                if (n == 0) return null;
                int carry = Math.Min(7, have);
                Array.Copy(buffer, have - carry, buffer, 0, carry);
                start += have - carry;
                have = carry;
            }
        }
        catch (InvalidDataException) { return null; }
        finally { file.Position = position; }
    }

    /// <summary>The CRC-32 of the decompressed data from byte <paramref name="from"/> on: the file is decompressed again
    /// (from its start; the caller puts the position back). Damaged data throws, as GZipStream does.</summary>
    uint DecompressedCrc32(long from)
    {
        file.Position = 0;
        uint crc = ~0u;
        var buffer = new byte[1 << 16];
        using var again = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
        for (long at = 0, n; (n = again.Read(buffer)) > 0; at += n)
            foreach (var b in buffer.AsSpan((int)Math.Clamp(from - at, 0, n), (int)(n - Math.Clamp(from - at, 0, n))))
                crc = Crc32Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    static readonly uint[] Crc32Table = [.. Enumerable.Range(0, 256).Select(i =>
    {
        uint c = (uint)i;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        return c;
    })];

    /// <summary>The key in <see cref="Exception.Data"/> of bytes after the gzip data that start no member: refused, but
    /// not as a download cut short (InvalidDataException is sealed).</summary>
    internal const string TrailingData = "gzip-trailing-data";

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
