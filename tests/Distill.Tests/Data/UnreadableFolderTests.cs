using System.Diagnostics;
using System.Runtime.Versioning;
using Distill.Data;
using Distill.Tests.Onboarding;

namespace Distill.Tests.Data;

/// <summary>A dataset folder the user cannot read showed none of its files, like an empty one, and training went on
/// with a later copy (the system's) without a word, where the user had pointed DISTILL_DATA at this one. Permissions do
/// not bind root, so as root the CLI runs as nobody (setpriv).</summary>
[SupportedOSPlatform("linux")]
public class UnreadableFolderTests
{
    [Theory]
    [InlineData(UnixFileMode.None, "cannot be read (permission denied), where Fashion-MNIST's files should be")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        "cannot be read (it lists train-images-idx3-ubyte.gz, which cannot be opened: no search (x) permission)")]
    public void A_dataset_folder_that_cannot_be_read_is_named_not_skipped_for_the_systems_copy(UnixFileMode mode, string problem)
    {
        var open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
                   UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        var top = Directory.CreateTempSubdirectory("unreadable").FullName;
        try
        {
            File.SetUnixFileMode(top, open | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite); // nobody's HOME too
            var folder = Directory.CreateDirectory(Path.Combine(top, "fashion-mnist")).FullName;
            File.WriteAllBytes(Path.Combine(folder, "train-images-idx3-ubyte.gz"), [1, 2, 3]);
            File.SetUnixFileMode(folder, mode);

            var line = DoctorLineAsNobody(top, "fashion-mnist");
            Assert.Contains($"BROKEN   {folder}: {problem}", line, StringComparison.Ordinal);
            Assert.DoesNotContain("/usr/share/datasets", line, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode(Path.Combine(top, "fashion-mnist"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.Delete(top, recursive: true);
        }
    }

    /// <summary>A file the user cannot read got the fix "delete it and run `distill data install NAME`": a new copy of
    /// a file whose only fault is its mode. The fix is the chmod.</summary>
    [Fact]
    public void A_dataset_file_that_cannot_be_read_gets_a_chmod_fix()
    {
        var top = Directory.CreateTempSubdirectory("unreadable").FullName;
        try
        {
            File.SetUnixFileMode(top, (UnixFileMode)0b111_111_111);
            var folder = Directory.CreateDirectory(Path.Combine(top, "fashion-mnist")).FullName;
            File.SetUnixFileMode(folder, (UnixFileMode)0b111_101_101);
            foreach (var name in DatasetCatalog.FashionMnist.Files) File.WriteAllBytes(Path.Combine(folder, name), [1, 2, 3]);
            var file = Path.Combine(folder, IdxNames.TrainImages);
            File.SetUnixFileMode(file, UnixFileMode.None);
            var line = DoctorLineAsNobody(top, "fashion-mnist");
            Assert.Contains($"BROKEN   {file}: cannot be read (permission denied). Fix: make it readable: chmod a+r {file} (as its owner)", line, StringComparison.Ordinal);
        }
        finally { Directory.Delete(top, recursive: true); }
    }

    /// <summary>Root reads any file: the mapping itself, as a dataset load passes it on.</summary>
    [Fact]
    public void Permission_denied_on_a_file_maps_to_a_chmod_fix_a_dataset_load_keeps()
    {
        var e = DataFiles.CannotRead("/d/cifar10/data_batch_1.bin", new UnauthorizedAccessException("Access to the path is denied.")).For(DatasetCatalog.Cifar10);
        Assert.Equal("/d/cifar10/data_batch_1.bin: cannot be read (permission denied). Fix: make it readable: chmod a+r /d/cifar10/data_batch_1.bin (as its owner)", e.Message);
        // A path the shell would split is quoted, so the fix can be pasted.
        Assert.Equal("make it readable: chmod a+r '/my data/it'\\''s.bin' (as its owner)", DataFiles.CannotRead("/my data/it's.bin", new UnauthorizedAccessException()).Fix);
    }

    /// <summary>The doctor line of <paramref name="dataset"/> with DISTILL_DATA and HOME at <paramref name="top"/>, run as
    /// nobody when this is root.</summary>
    static string DoctorLineAsNobody(string top, string dataset)
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name;
        var cli = Path.Combine(Repo.Root, "artifacts", "bin", "Distill.Cli", config, "Distill.Cli.dll");
        string[] command = Environment.UserName == "root"
            ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", cli, "doctor"]
            : ["dotnet", cli, "doctor"];
        var psi = new ProcessStartInfo(command[0], command[1..]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DISTILL_DATA"] = top;
        psi.Environment["HOME"] = top;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), "doctor hung");
        return stdout.Split('\n').Single(l => l.TrimStart().StartsWith(dataset, StringComparison.Ordinal));
    }
}
