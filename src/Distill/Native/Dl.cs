using System.Runtime.InteropServices;

namespace Distill.Native;

/// <summary>
/// glibc's dynamic loader API. .NET's <see cref="NativeLibrary.Load(string)"/> always uses RTLD_LAZY|RTLD_LOCAL;
/// interposing a symbol for libraries loaded later needs RTLD_GLOBAL, hence this P/Invoke.
/// dlopen lives in libc.so.6 since glibc 2.34 and in libdl.so.2 before.
/// </summary>
public static class Dl
{
    public const int RTLD_LAZY = 0x1, RTLD_NOW = 0x2, RTLD_NOLOAD = 0x4, RTLD_GLOBAL = 0x100;

    /// <summary>dlopen(path, flags); <see cref="IntPtr.Zero"/> on failure, with the loader's message in
    /// <paramref name="error"/>.</summary>
    public static IntPtr Open(string path, int flags, out string? error)
    {
        // Bind dlerror first: the runtime resolves a P/Invoke target with dlsym on first call, which would clear the
        // message we are about to ask for.
        _ = LastError();
        IntPtr h;
        try { h = Libc.dlopen(path, flags); }
        catch (EntryPointNotFoundException) { h = Libdl.dlopen(path, flags); }
        error = h == IntPtr.Zero ? LastError() ?? $"dlopen({path}) failed" : null;
        return h;
    }

    /// <summary>dlsym(handle, name); <see cref="IntPtr.Zero"/> when absent.</summary>
    public static IntPtr Symbol(IntPtr handle, string name) =>
        NativeLibrary.TryGetExport(handle, name, out var p) ? p : IntPtr.Zero;

    static string? LastError()
    {
        IntPtr p;
        try { p = Libc.dlerror(); }
        catch (EntryPointNotFoundException) { p = Libdl.dlerror(); }
        return Marshal.PtrToStringUTF8(p);
    }

    /// <summary>True when a library with this file name or SONAME is already mapped into the process.</summary>
    public static bool IsLoaded(string soname)
    {
        var h = Open(soname, RTLD_LAZY | RTLD_NOLOAD, out _);
        if (h == IntPtr.Zero) return false;
        Close(h);
        return true;
    }

    static void Close(IntPtr handle)
    {
        try { _ = Libc.dlclose(handle); }
        catch (EntryPointNotFoundException) { _ = Libdl.dlclose(handle); }
    }

    static class Libc
    {
        [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        internal static extern IntPtr dlopen(string path, int flags);
        [DllImport("libc.so.6")] internal static extern IntPtr dlerror();
        [DllImport("libc.so.6")] internal static extern int dlclose(IntPtr handle);
    }

    static class Libdl
    {
        [DllImport("libdl.so.2", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        internal static extern IntPtr dlopen(string path, int flags);
        [DllImport("libdl.so.2")] internal static extern IntPtr dlerror();
        [DllImport("libdl.so.2")] internal static extern int dlclose(IntPtr handle);
    }
}
