using System.Buffers.Binary;
using System.Text;

namespace Distill.Native;

/// <summary>
/// Writes the smallest useful x86-64 ELF shared object: one exported function that returns a constant.
/// Why: interposing <c>mkl_serv_intel_cpu_true</c> needs a shared library, and users' machines need not have a C
/// compiler. The layout follows the System V gABI and the x86-64 psABI:
/// ELF header, 4 program headers (PT_LOAD r-x for header/.hash/.dynsym/.dynstr/.text, PT_LOAD rw- for .dynamic,
/// PT_DYNAMIC, PT_GNU_STACK rw- so the loader never makes the stack executable), then section headers so that
/// readelf/nm can inspect it. No relocations, no dependencies.
/// </summary>
public static class TinyElf
{
    const int PageSize = 0x1000;
    const int EhdrSize = 64, PhdrSize = 56, ShdrSize = 64, SymSize = 24, DynSize = 16, PhNum = 4;

    /// <summary><c>endbr64; mov eax, imm32; ret</c>. endbr64 is a NOP on CPUs without CET.</summary>
    static byte[] ReturnInt(int value)
    {
        var code = new byte[] { 0xF3, 0x0F, 0x1E, 0xFA, 0xB8, 0, 0, 0, 0, 0xC3 };
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(5), value);
        return code;
    }

    /// <summary>A shared object named <paramref name="soname"/> exporting <c>int <paramref name="symbol"/>(void)</c>
    /// that returns <paramref name="value"/>.</summary>
    public static byte[] ReturningInt(string soname, string symbol, int value)
    {
        ArgumentException.ThrowIfNullOrEmpty(soname);
        ArgumentException.ThrowIfNullOrEmpty(symbol);
        var code = ReturnInt(value);

        // .dynstr: "\0symbol\0soname\0"
        var dynstr = Encoding.ASCII.GetBytes($"\0{symbol}\0{soname}\0");
        int symName = 1, sonameOff = 1 + symbol.Length + 1;
        // .shstrtab
        string[] names = ["", ".hash", ".dynsym", ".dynstr", ".text", ".dynamic", ".shstrtab"];
        var shstr = Encoding.ASCII.GetBytes(string.Join('\0', names) + "\0");
        var nameOff = new int[names.Length];
        for (int i = 1; i < names.Length; i++) nameOff[i] = nameOff[i - 1] + names[i - 1].Length + 1;

        int hashOff = EhdrSize + PhNum * PhdrSize;          // SysV hash: nbucket, nchain, bucket[1], chain[2]
        int hashSize = 5 * 4;
        int dynsymOff = Align(hashOff + hashSize, 8);
        int dynsymSize = 2 * SymSize;                        // null symbol + our function
        int dynstrOff = dynsymOff + dynsymSize;
        int textOff = Align(dynstrOff + dynstr.Length, 16);
        int textEnd = textOff + code.Length;
        int dynOff = Align(textEnd, 8);
        const int dynCount = 7;
        int dynSize = dynCount * DynSize;
        // The writable segment maps the same file page one page higher: p_vaddr ≡ p_offset (mod page size).
        int dynAddr = dynOff + PageSize;
        int shstrOff = dynOff + dynSize;
        int shOff = Align(shstrOff + shstr.Length, 8);
        var f = new byte[shOff + names.Length * ShdrSize];
        var s = f.AsSpan();

        // ELF header
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = 2;  // ELFCLASS64
        s[5] = 1;  // ELFDATA2LSB
        s[6] = 1;  // EV_CURRENT
        U16(s, 16, 3);          // ET_DYN
        U16(s, 18, 62);         // EM_X86_64
        U32(s, 20, 1);          // e_version
        U64(s, 32, EhdrSize);   // e_phoff
        U64(s, 40, (ulong)shOff);
        U16(s, 52, EhdrSize);
        U16(s, 54, PhdrSize);
        U16(s, 56, PhNum);
        U16(s, 58, ShdrSize);
        U16(s, 60, (ushort)names.Length);
        U16(s, 62, (ushort)(names.Length - 1)); // e_shstrndx

        const uint PtLoad = 1, PtDynamic = 2, PtGnuStack = 0x6474e551, R = 4, W = 2, X = 1;
        Phdr(s, 0, PtLoad, R | X, 0, 0, textEnd, PageSize);
        Phdr(s, 1, PtLoad, R | W, dynOff, dynAddr, dynSize, PageSize);
        Phdr(s, 2, PtDynamic, R | W, dynOff, dynAddr, dynSize, 8);
        Phdr(s, 3, PtGnuStack, R | W, 0, 0, 0, 16);

        // .hash: one bucket holding symbol 1; chains end at 0
        U32(s, hashOff, 1); U32(s, hashOff + 4, 2); U32(s, hashOff + 8, 1);

        // .dynsym[1]: GLOBAL FUNC, default visibility, defined in .text (section 4)
        int sym = dynsymOff + SymSize;
        U32(s, sym, (uint)symName);
        s[sym + 4] = (1 << 4) | 2;   // STB_GLOBAL, STT_FUNC
        U16(s, sym + 6, 4);
        U64(s, sym + 8, (ulong)textOff);
        U64(s, sym + 16, (ulong)code.Length);

        dynstr.CopyTo(s[dynstrOff..]);
        code.CopyTo(s[textOff..]);

        // .dynamic
        (long tag, long val)[] dyn =
        [
            (4, hashOff),            // DT_HASH
            (5, dynstrOff),          // DT_STRTAB
            (6, dynsymOff),          // DT_SYMTAB
            (10, dynstr.Length),     // DT_STRSZ
            (11, SymSize),           // DT_SYMENT
            (14, sonameOff),         // DT_SONAME
            (0, 0),                  // DT_NULL
        ];
        for (int i = 0; i < dyn.Length; i++)
        {
            U64(s, dynOff + i * DynSize, (ulong)dyn[i].tag);
            U64(s, dynOff + i * DynSize + 8, (ulong)dyn[i].val);
        }

        shstr.CopyTo(s[shstrOff..]);

        const uint ShtProgbits = 1, ShtStrtab = 3, ShtHash = 5, ShtDynamic = 6, ShtDynsym = 11;
        const ulong Write = 1, Alloc = 2, Exec = 4;
        Shdr(s, shOff, 1, nameOff[1], ShtHash, Alloc, hashOff, hashOff, hashSize, 2, 0, 8, 4);
        Shdr(s, shOff, 2, nameOff[2], ShtDynsym, Alloc, dynsymOff, dynsymOff, dynsymSize, 3, 1, 8, SymSize);
        Shdr(s, shOff, 3, nameOff[3], ShtStrtab, Alloc, dynstrOff, dynstrOff, dynstr.Length, 0, 0, 1, 0);
        Shdr(s, shOff, 4, nameOff[4], ShtProgbits, Alloc | Exec, textOff, textOff, code.Length, 0, 0, 16, 0);
        Shdr(s, shOff, 5, nameOff[5], ShtDynamic, Alloc | Write, dynAddr, dynOff, dynSize, 3, 0, 8, DynSize);
        Shdr(s, shOff, 6, nameOff[6], ShtStrtab, 0, 0, shstrOff, shstr.Length, 0, 0, 1, 0);
        return f;
    }

    static void Phdr(Span<byte> s, int index, uint type, uint flags, long offset, long vaddr, long size, long align)
    {
        int p = EhdrSize + index * PhdrSize;
        U32(s, p, type); U32(s, p + 4, flags);
        U64(s, p + 8, (ulong)offset); U64(s, p + 16, (ulong)vaddr); U64(s, p + 24, (ulong)vaddr);
        U64(s, p + 32, (ulong)size); U64(s, p + 40, (ulong)size); U64(s, p + 48, (ulong)align);
    }

    static void Shdr(Span<byte> s, int shOff, int index, int name, uint type, ulong flags, long addr, long offset,
        long size, uint link, uint info, long align, long entsize)
    {
        int p = shOff + index * ShdrSize;
        U32(s, p, (uint)name); U32(s, p + 4, type); U64(s, p + 8, flags);
        U64(s, p + 16, (ulong)addr); U64(s, p + 24, (ulong)offset); U64(s, p + 32, (ulong)size);
        U32(s, p + 40, link); U32(s, p + 44, info); U64(s, p + 48, (ulong)align); U64(s, p + 56, (ulong)entsize);
    }

    static int Align(int x, int a) => (x + a - 1) / a * a;
    static void U16(Span<byte> s, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(s[at..], v);
    static void U32(Span<byte> s, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(s[at..], v);
    static void U64(Span<byte> s, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(s[at..], v);
}
