namespace Distill.Tests.Onboarding;

/// <summary>A command line that does not parse is bad input: exit 2, one `error:` line naming every problem (two problems
/// were two lines, where docs/deployment.md promises one), where the options are listed.</summary>
public class CommandLineTests
{
    [Theory]
    [InlineData(new[] { "train", "--epochs", "abc" }, "error: Cannot parse argument 'abc' for option '--epochs' as a whole number.", "distill train --help")]
    // A budget the parser refuses is named by its option, with the values it takes, as `train --budget` says it.
    [InlineData(new[] { "run", "--budget", "bogus", "x.ipynb" }, "error: --budget bogus: expected smoke, quick or full.", "distill run --help")]
    [InlineData(new[] { "reproduce", "--budget", "smok" }, "error: --budget smok: expected smoke, quick or full.", "distill reproduce --help")]
    // A method's NAME took the option: "unknown method '--json'".
    [InlineData(new[] { "methods", "--json" }, "error: --json: unknown option of `distill methods`", "distill methods --help")]
    [InlineData(new[] { "train", "--seed", "2147483648" }, "error: Cannot parse argument '2147483648' for option '--seed' as a whole number, which runs from -2147483648 to 2147483647.", "distill train --help")]
    [InlineData(new[] { "sweep", "run", "x.yaml", "--index", "1.5" }, "error: Cannot parse argument '1.5' for option '--index' as a whole number.", "distill sweep run --help")]
    // docs/deployment.md said all bad input exits 1; a value the parser refuses exits 2, as everywhere.
    [InlineData(new[] { "deploy", "bench", "M.onnx", "--runs", "abc" }, "error: Cannot parse argument 'abc' for option '--runs' as a whole number.", "distill deploy bench --help")]
    // Two problems are two sentences: a validator's message without a final period ran into the parser's next one.
    // The unknown option first: it is what the rest follows from.
    [InlineData(new[] { "deploy", "export", "--bogus" }, "error: --bogus: unknown option of `distill deploy export`. Option '--out' is required.", "distill deploy export --help")]
    // A command without arguments had the parser's "Unrecognized command or argument '--bogus'".
    [InlineData(new[] { "doctor", "--bogus" }, "error: --bogus: unknown option of `distill doctor`.", "distill doctor --help")]
    [InlineData(new[] { "reproduce", "--bogus" }, "error: --bogus: unknown option of `distill reproduce`.", "distill reproduce --help")]
    // An option given to a command that only groups others is an unknown option (with the help line), not an unknown command.
    [InlineData(new[] { "deploy", "--bogus" }, "error: --bogus: unknown option of `distill deploy`; its commands are export,", "distill deploy --help")]
    public void A_command_line_that_does_not_parse_exits_2_with_one_error_line(string[] args, string error, string help)
    {
        var (code, stdout, stderr) = Repo.RunCli(args);
        Assert.Equal(2, code);
        Assert.Equal("", stdout); // not the whole help text
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(error["error: ".Length..], lines[0], StringComparison.Ordinal);
        Assert.Equal($"(`{help}` lists the options)", lines[^1]);
    }

    /// <summary>The budget check that replaced AcceptOnlyFromAmong dropped its values from shell completion.</summary>
    [Fact]
    public void The_budgets_are_offered_to_shell_completion()
    {
        var (code, stdout, _) = Repo.RunCli(["[suggest:14]", "run --budget "]);
        Assert.Equal(0, code);
        Assert.Equal(["full", "quick", "smoke"], stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>`--` ends the options: `distill run -- -x.ipynb` said "-x.ipynb: unknown option", leaving no way to name
    /// such a file but ./-x.ipynb.</summary>
    [Fact]
    public void After_a_double_dash_a_token_with_a_dash_is_an_argument()
    {
        var cwd = Directory.CreateTempSubdirectory("distill-double-dash").FullName;
        try
        {
            var (code, _, stderr) = Repo.RunCli(["run", "--", "-x.ipynb"], workingDirectory: cwd);
            Assert.Equal(2, code);
            Assert.StartsWith("error: -x.ipynb: file not found;", stderr, StringComparison.Ordinal);
            // Before the `--` it is still an option the command lacks.
            var before = Repo.RunCli(["run", "-x.ipynb", "--", "y.ipynb"], workingDirectory: cwd);
            Assert.Equal(2, before.Code);
            Assert.StartsWith("error: -x.ipynb: unknown option of `distill run`.", before.Stderr, StringComparison.Ordinal);
        }
        finally { Directory.Delete(cwd, recursive: true); }
    }
}

/// <summary>What a new user meets first: the name they type, and a mistyped command said once.</summary>
public class CommandNameTests
{
    /// <summary>Usage said `Distill.Cli`, the assembly's name; the docs and the user say `distill`.</summary>
    [Fact]
    public void Help_shows_the_command_as_distill()
    {
        var (code, stdout, _) = Repo.RunCli(["train", "--help"]);
        Assert.Equal(0, code);
        Assert.Contains("Usage:\n  distill train [options]", stdout.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("Distill.Cli", stdout, StringComparison.Ordinal);
    }

    /// <summary>It printed "Required command was not provided." beside "Unrecognized command or argument".</summary>
    [Fact]
    public void An_unknown_command_is_one_line_listing_the_commands()
    {
        var (code, stdout, stderr) = Repo.RunCli(["frobnicate"]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: frobnicate: unknown command; the commands are doctor, reference, data, run,", line, StringComparison.Ordinal);
        var sweep = Assert.Single(Repo.RunCli(["sweep", "frob"]).Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: frob: unknown command; the commands of `distill sweep` are ", sweep, StringComparison.Ordinal);
    }

    /// <summary>Without --model, train loaded Fashion-MNIST and printed it before saying --model is required.</summary>
    [Fact]
    public void Train_without_a_model_is_refused_before_data_loads()
    {
        var (code, stdout, stderr) = Repo.RunCli(["train", "--epochs", "1"]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Equal("error: --model is required (e.g. --model mlp-800-800), unless --recipe is given.", stderr.Trim());
    }

    /// <summary>The refusal named the library's setting too, "(Device = "cpu" in TrainOptions)", which no one at the
    /// command line can set.</summary>
    [Fact]
    public void A_device_not_here_names_only_the_flag()
    {
        if (TorchSharp.torch.cuda.is_available()) return; // the refusal needs a machine without CUDA
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--epochs", "1", "--train-size", "64", "--test-size", "64", "--device", "cuda"]);
        Assert.Equal(1, code);
        Assert.Contains("or use --device cpu.", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("TrainOptions", stderr, StringComparison.Ordinal);
    }
}

/// <summary>doctor names the build that runs (every run record names it): it printed the versions but not the commit.</summary>
public class DoctorTests
{
    [Fact]
    public void Doctor_names_the_commit_the_cli_was_built_from()
    {
        var (_, stdout, stderr) = Repo.RunCli(["doctor"], env => env["DISTILL_THREADS"] = "1", TimeSpan.FromMinutes(2));
        var line = stdout.Split('\n').FirstOrDefault(l => l.StartsWith("distill       built from ", StringComparison.Ordinal))
                   ?? throw new Xunit.Sdk.XunitException($"no build line in doctor's output: {stdout}{stderr}");
        Assert.StartsWith($"distill       built from {Distill.Native.Git.BuildCommit ?? "an unknown commit"}", line, StringComparison.Ordinal);
    }
}
