namespace Distill.Native;

/// <summary>Placeholder hook for the oneMKL CPU-dispatch fix on AMD (performance issue). Does nothing yet.</summary>
public static class MklCpuDispatch
{
    public static bool Enabled { get; private set; }
    public static string Status { get; private set; } = "not attempted";

    public static void EnableIfSafe() { }
}
