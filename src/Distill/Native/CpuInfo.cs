using System.Runtime.InteropServices;

namespace Distill.Native;

/// <summary>What run manifests and benchmark reports say about the CPU.</summary>
public static class CpuInfo
{
    /// <summary>The "model name" of /proc/cpuinfo (e.g. "AMD EPYC ..."), else the process architecture.</summary>
    public static string ModelName()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
