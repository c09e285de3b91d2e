namespace Distill.Tests.Onboarding;

/// <summary>A full or read-only disk is something the user can fix: one line naming the file and the fix, not
/// "Nothing in this command expected it ... report the trace".</summary>
public class DiskErrorTests
{
    [Theory]
    [InlineData(28, "no space left on the disk writing '/out/.last.ckpt.7.tmp': free space on that disk or give another --out")]
    [InlineData(122, "your disk quota is used up writing '/out/.last.ckpt.7.tmp': free space on that disk or give another --out")]
    [InlineData(30, "the file system is read-only, so '/out/.last.ckpt.7.tmp' cannot be written: give a folder you can write to")]
    [InlineData(5, null)] // an input/output error is no full disk
    public void The_error_number_tells_it_not_the_words(int errno, string? said)
    {
        // Words of another language: only the number can tell.
        Assert.Equal(said, IoError.DiskProblem(new IOException("Plus d'espace disponible : '/out/.last.ckpt.7.tmp'", errno)));
    }

    [Fact]
    public void A_message_without_a_path_says_a_file_and_other_exceptions_are_not_disk_problems()
    {
        Assert.Equal("no space left on the disk writing a file: free space on that disk or give another --out", IoError.DiskProblem(new IOException("No space left on device", 28)));
        Assert.Null(IoError.DiskProblem(new InvalidOperationException("x") { HResult = 28 }));
    }

    /// <summary>A file another user's run made (a shared folder) is this user's to fix, not a crash to report: the path,
    /// its mode and the fix.</summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_denied_path_is_named_with_its_mode_and_the_fix()
    {
        using var dir = new TempDir("denied");
        var file = Path.Combine(dir.Path, "run.lock");
        File.WriteAllText(file, "");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.Equal($"'{file}': permission denied (this user may not read or write it, mode 644; it may belong to another user): give this user access to it and its folder (chown or chmod), or give another folder",
            IoError.PermissionProblem(new UnauthorizedAccessException($"Access to the path '{file}' is denied.")));
        Assert.StartsWith("'/no/such': permission denied (this user may not read or write it; ", IoError.PermissionProblem(new UnauthorizedAccessException("Access to the path '/no/such' is denied.")), StringComparison.Ordinal);
        Assert.Null(IoError.PermissionProblem(new IOException("Access to the path '/x' is denied.")));
    }

    /// <summary>An atomic write fails on its hidden temp file: the caller names the file the user knows (distill run's
    /// executed notebook, not ".big.ipynb.18205-3dab90ae.tmp").</summary>
    [Fact]
    public void The_file_being_written_is_named_instead_of_the_temp_file()
    {
        Assert.Equal("no space left on the disk writing '/out/big.ipynb': free space on that disk or give another --out",
            IoError.DiskProblem(new IOException("No space left on device : '/out/.big.ipynb.18205-3dab90ae.tmp'", 28), "/out/big.ipynb"));
    }

    /// <summary>A full standard output (`methods > /dev/full`) was said as "writing a file: free space on that disk or
    /// give another --out", for commands that have no --out: now it names standard output and its redirection.</summary>
    [Theory]
    [InlineData("methods")]
    [InlineData("spec", "schema", "01-soft-targets")]
    public void A_full_standard_output_is_named_as_such(params string[] args)
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name;
        var cli = Path.Combine(Repo.Root, "artifacts", "bin", "Distill.Cli", config, "Distill.Cli.dll");
        // The shell redirects, as a user's would: the CLI's stdout is /dev/full itself, not a pipe.
        var psi = new System.Diagnostics.ProcessStartInfo("sh", ["-c", "exec dotnet \"$0\" \"$@\" > /dev/full", cli, .. args]) { RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)), "hung");
        Assert.Equal((1, "error: cannot write to standard output: no space left on the device it is redirected to"), (p.ExitCode, stderr.Trim()));
    }

    [Fact]
    public void Train_on_a_full_disk_says_so_in_one_line_and_exits_1()
    {
        var dir = Directory.CreateTempSubdirectory("fulldisk").FullName;
        try
        {
            // Writes to /dev/full fail with ENOSPC: the run's PID file is the first thing train writes in its folder.
            File.CreateSymbolicLink(Path.Combine(dir, "run.lock.pid"), "/dev/full");
            var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--train-size", "100", "--test-size", "100", "--epochs", "1", "--out", dir]);
            Assert.Equal(1, code);
            Assert.Equal($"error: no space left on the disk writing '{dir}/run.lock.pid': free space on that disk or give another --out", stderr.Trim());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
