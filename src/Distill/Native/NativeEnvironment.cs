using System.Runtime.InteropServices;

namespace Distill.Native;

/// <summary>
/// Sets variables in the C runtime's environment, which native libraries (libgomp, oneMKL) read when they load.
/// Environment.SetEnvironmentVariable does not reach them on Linux, so this calls libc's setenv.
/// </summary>
static class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> unless the user already set it; returns the value in effect.</summary>
    public static string SetDefault(string name, string value)
    {
        var current = Environment.GetEnvironmentVariable(name);
        if (!string.IsNullOrEmpty(current)) return current;
        if (OperatingSystem.IsLinux()) _ = setenv(name, value, 0);
        Environment.SetEnvironmentVariable(name, value);
        return value;
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code; a plain DllImport of one libc call is enough.
    [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int setenv(string name, string value, int overwrite);
#pragma warning restore SYSLIB1054
}
