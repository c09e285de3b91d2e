using Distill.Native;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: Distill.NativeFix OUTPUT_FOLDER");
    return 2;
}
try
{
    foreach (var f in LibTorchSharpFix.PatchFolder(args[0]))
        Console.WriteLine($"Distill.NativeFix: marked GLIBCXX_3.4.32 weak in {f}");
    return 0;
}
catch (Exception e) when (e is InvalidOperationException or InvalidDataException or IOException)
{
    Console.Error.WriteLine($"Distill.NativeFix: {e.Message}");
    return 1;
}
