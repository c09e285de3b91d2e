using System.Runtime.InteropServices;

namespace Distill.Native;

/// <summary>
/// Sets variables in the C runtime's environment, which native libraries (libgomp, oneMKL) read when they load.
/// Environment.SetEnvironmentVariable does not reach them on Linux, so this calls libc's setenv.
/// </summary>
static class NativeEnvironment
{
    /// <summary>The opt-out spellings every DISTILL_* switch accepts: 0, false, off, no (any case, spaces ignored).</summary>
    public static bool IsOff(string? v) =>
        v is not null && v.Trim().ToLowerInvariant() is "0" or "false" or "off" or "no";

    /// <summary>The spellings that turn a DISTILL_* switch on: 1, true, on, yes (any case, spaces ignored).</summary>
    public static bool IsOn(string? v) =>
        v is not null && v.Trim().ToLowerInvariant() is "1" or "true" or "on" or "yes";

    /// <summary>Why switch <paramref name="name"/>'s <paramref name="value"/> is neither an on nor an off spelling, as
    /// words after "error: " or doctor's "problem"; null when it is one, or unset. Such a value keeps the default, which
    /// doctor showed as if chosen ("on", "pinned"): DISTILL_MKL_AMD_FIX=abc looked like a setting that took.</summary>
    public static string? SwitchProblem(string name, string? value) =>
        string.IsNullOrWhiteSpace(value) || IsOn(value) || IsOff(value) ? null
        : $"{name}={value} is neither on nor off, so the default applies; give 1, on, true or yes to turn it on, or 0, off, false or no to turn it off";

    /// <summary>Sets <paramref name="name"/> unless the user already set it to something; returns the value in effect.
    /// An empty value is no setting, and is replaced: setenv without overwrite kept it, so native code read "" while
    /// this returned (and doctor showed) the default.</summary>
    public static string SetDefault(string name, string value)
    {
        var current = Environment.GetEnvironmentVariable(name);
        if (!string.IsNullOrEmpty(current)) return current;
        if (OperatingSystem.IsLinux()) _ = setenv(name, value, 1);
        Environment.SetEnvironmentVariable(name, value);
        return value;
    }

    /// <summary><paramref name="name"/> as native libraries read it (libc's environment; .NET's own copy elsewhere).</summary>
    public static string? Get(string name) =>
        OperatingSystem.IsLinux() ? Marshal.PtrToStringAnsi(getenv(name)) : Environment.GetEnvironmentVariable(name);

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code; a plain DllImport of one libc call is enough.
    [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern IntPtr getenv(string name);
#pragma warning restore SYSLIB1054
}
