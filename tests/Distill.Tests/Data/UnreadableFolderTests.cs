using System.Diagnostics;
using System.Runtime.Versioning;
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
            var line = stdout.Split('\n').Single(l => l.TrimStart().StartsWith("fashion-mnist", StringComparison.Ordinal));
            Assert.Contains($"BROKEN   {folder}: {problem}", line, StringComparison.Ordinal);
            Assert.DoesNotContain("/usr/share/datasets", line, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode(Path.Combine(top, "fashion-mnist"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.Delete(top, recursive: true);
        }
    }
}
