using Distill.Native;

namespace Distill.Tests.Native;

public class ElfPatchTests
{
    static string RealLib()
    {
        var dir = Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location)!;
        return Path.Combine(dir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
    }

    /// <summary>A fresh, unpatched copy in <paramref name="dir"/> of the real library from the NuGet cache (read only,
    /// never written).</summary>
    static string PristineCopy(TempDir dir)
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var src = Directory.EnumerateFiles(Path.Combine(cache, "torchsharp"), "libLibTorchSharp.so", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(cache, "libLibTorchSharp.so", SearchOption.AllDirectories)).First();
        var dst = dir.File("libLibTorchSharp.so");
        File.Copy(src, dst);
        return dst;
    }

    [Fact]
    public void Making_GLIBCXX_3_4_32_weak_changes_exactly_its_flag_bytes()
    {
        using var dir = new TempDir("elfpatch");
        var path = PristineCopy(dir);
        var before = File.ReadAllBytes(path);
        var needs = ElfVersionNeeds.Read(path);
        var target = Assert.Single(needs, n => n.Version == "GLIBCXX_3.4.32");
        Assert.False(target.IsWeak);
        Assert.Equal("libstdc++.so.6", target.Library);

        Assert.True(ElfVersionNeeds.MakeWeak(path, "GLIBCXX_3.4.32"));
        var after = File.ReadAllBytes(path);

        Assert.Equal(before.Length, after.Length);
        var diff = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
        Assert.Equal([(int)target.FlagsOffset], diff); // only the low byte of vna_flags
        Assert.Equal(before[diff[0]] | ElfVersionNeeds.WeakFlag, after[diff[0]]);

        var reread = ElfVersionNeeds.Read(path);
        Assert.True(reread.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
        Assert.Equal(needs.Where(n => n.Version != "GLIBCXX_3.4.32"), reread.Where(n => n.Version != "GLIBCXX_3.4.32"));
        Assert.False(ElfVersionNeeds.MakeWeak(path, "GLIBCXX_3.4.32")); // idempotent
    }

    [Fact]
    public void PatchFolder_only_acts_when_the_system_lacks_the_version_and_is_idempotent()
    {
        using var dir = new TempDir("elfpatch");
        var path = PristineCopy(dir);
        Assert.Empty(LibTorchSharpFix.PatchFolder(dir.Path, _ => true)); // a new enough libstdc++: nothing to do
        Assert.False(ElfVersionNeeds.Read(path).Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);

        Assert.Equal([path], LibTorchSharpFix.PatchFolder(dir.Path, v => v != "GLIBCXX_3.4.32"));
        Assert.Empty(LibTorchSharpFix.PatchFolder(dir.Path, v => v != "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void PatchFolder_refuses_requirements_not_known_to_be_safe()
    {
        using var dir = new TempDir("elfpatch");
        PristineCopy(dir);
        var e = Assert.Throws<InvalidOperationException>(() => LibTorchSharpFix.PatchFolder(dir.Path, v => v != "GLIBCXX_3.4.30"));
        Assert.Contains("GLIBCXX_3.4.30", e.Message);
    }

    [Fact]
    public void Build_output_copy_is_patched_on_this_machine_when_needed()
    {
        var lib = RealLib();
        Assert.True(File.Exists(lib), lib);
        var need = ElfVersionNeeds.Read(lib).Single(n => n.Version == "GLIBCXX_3.4.32");
        Assert.Equal(!LibTorchSharpFix.SystemLibStdCxxHas("GLIBCXX_3.4.32"), need.IsWeak);
    }

    [Fact]
    public void Non_elf_file_gives_a_clear_error()
    {
        using var dir = new TempDir("elfpatch");
        var f = dir.File("not-an-elf");
        File.WriteAllText(f, "not an elf");
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(f));
        Assert.Contains(f, e.Message);
        Assert.Contains("not an ELF", e.Message);
    }
}
