using System.Buffers.Binary;
using System.Text;

namespace Distill.Native;

/// <summary>One symbol-version requirement from an ELF file's <c>.gnu.version_r</c> section.</summary>
/// <param name="Library">The needed library (e.g. <c>libstdc++.so.6</c>).</param>
/// <param name="Version">The version name (e.g. <c>GLIBCXX_3.4.32</c>).</param>
/// <param name="Flags">vna_flags; <see cref="ElfVersionNeeds.WeakFlag"/> means the loader does not insist.</param>
/// <param name="FlagsOffset">File offset of the 16-bit vna_flags field.</param>
public sealed record VersionNeed(string Library, string Version, ushort Flags, long FlagsOffset)
{
    public bool IsWeak => (Flags & ElfVersionNeeds.WeakFlag) != 0;
}

/// <summary>
/// Reads and edits the version requirements (<c>SHT_GNU_verneed</c>) of a little-endian ELF64 file.
/// Why: libLibTorchSharp.so 0.107 requires GLIBCXX_3.4.32 only for <c>std::ios_base_library_init</c>, which it never
/// calls; marking that one requirement weak lets Debian 12's libstdc++ (3.4.30) load it. See docs/native-loading.md.
/// </summary>
public static class ElfVersionNeeds
{
    public const ushort WeakFlag = 0x2;
    const uint ShtGnuVerneed = 0x6ffffffe;

    public static IReadOnlyList<VersionNeed> Read(string path)
    {
        var data = File.ReadAllBytes(path);
        return Read(data, path);
    }

    static IReadOnlyList<VersionNeed> Read(byte[] d, string path)
    {
        if (d.Length < 64 || d[0] != 0x7f || d[1] != (byte)'E' || d[2] != (byte)'L' || d[3] != (byte)'F')
            throw new InvalidDataException($"{path}: not an ELF file (bad magic). Point this at a shared library (.so).");
        if (d[4] != 2 || d[5] != 1)
            throw new InvalidDataException($"{path}: only little-endian ELF64 files are supported.");
        var span = d.AsSpan();
        long shoff = (long)U64(span, 0x28, path);
        int shentsize = U16(span, 0x3A, path), shnum = U16(span, 0x3C, path);
        var result = new List<VersionNeed>();
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (U32(span, sh + 4, path) != ShtGnuVerneed) continue;
            long off = (long)U64(span, sh + 0x18, path);
            int link = (int)U32(span, sh + 0x28, path);
            uint count = U32(span, sh + 0x2C, path);
            long strtab = (long)U64(span, shoff + (long)link * shentsize + 0x18, path);
            long pos = off;
            for (uint n = 0; n < count; n++)
            {
                int cnt = U16(span, pos + 2, path);
                string file = CString(d, strtab + U32(span, pos + 4, path), path);
                long aux = pos + U32(span, pos + 8, path);
                for (int a = 0; a < cnt; a++)
                {
                    ushort flags = U16(span, aux + 4, path);
                    string name = CString(d, strtab + U32(span, aux + 8, path), path);
                    result.Add(new VersionNeed(file, name, flags, aux + 4));
                    uint next = U32(span, aux + 12, path);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnNext = U32(span, pos + 12, path);
                if (vnNext == 0) break;
                pos += vnNext;
            }
        }
        return result;
    }

    /// <summary>Sets <see cref="WeakFlag"/> on the requirement named <paramref name="version"/>, in place.
    /// Changes only those two bytes; the file keeps its size. Returns false when it was already weak or absent.</summary>
    public static bool MakeWeak(string path, string version)
    {
        var needs = Read(path).Where(n => n.Version == version && !n.IsWeak).ToList();
        if (needs.Count == 0) return false;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        Span<byte> buf = stackalloc byte[2];
        foreach (var n in needs)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(buf, (ushort)(n.Flags | WeakFlag));
            fs.Position = n.FlagsOffset;
            fs.Write(buf);
        }
        return true;
    }

    static ushort U16(ReadOnlySpan<byte> d, long o, string p) => BinaryPrimitives.ReadUInt16LittleEndian(Slice(d, o, 2, p));
    static uint U32(ReadOnlySpan<byte> d, long o, string p) => BinaryPrimitives.ReadUInt32LittleEndian(Slice(d, o, 4, p));
    static ulong U64(ReadOnlySpan<byte> d, long o, string p) => BinaryPrimitives.ReadUInt64LittleEndian(Slice(d, o, 8, p));

    static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> d, long o, int n, string p) =>
        o >= 0 && o + n <= d.Length ? d.Slice((int)o, n)
            : throw new InvalidDataException($"{p}: truncated or corrupt ELF (offset {o} beyond the file's {d.Length} bytes).");

    static string CString(byte[] d, long o, string p)
    {
        if (o < 0 || o >= d.Length) throw new InvalidDataException($"{p}: corrupt ELF string offset {o}.");
        int end = Array.IndexOf(d, (byte)0, (int)o);
        if (end < 0) throw new InvalidDataException($"{p}: unterminated ELF string at {o}.");
        return Encoding.ASCII.GetString(d, (int)o, end - (int)o);
    }
}
