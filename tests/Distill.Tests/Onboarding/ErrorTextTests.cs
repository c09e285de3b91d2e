namespace Distill.Tests.Onboarding;

/// <summary>An error is the one line the user reads: .NET's parameter noise goes, the rest of the message stays.</summary>
public sealed class ErrorTextTests
{
    [Fact]
    public void A_line_break_in_a_value_the_user_gave_keeps_the_rest_of_the_message()
    {
        var e = new ArgumentException("--out /tmp/a\nb: a line break in a path is not allowed; give another --out.");
        Assert.Equal("--out /tmp/a ⏎ b: a line break in a path is not allowed; give another --out.", ErrorText.Line(e));
    }

    [Fact]
    public void Parameter_names_and_actual_values_are_left_out()
    {
        Assert.Equal("--epochs 0: give at least 1.", ErrorText.Line(new ArgumentOutOfRangeException("epochs", 0, "--epochs 0: give at least 1.")));
        Assert.Equal("no such model.", ErrorText.Line(new ArgumentException("no such model.", "model")));
    }

    /// <summary>Through the CLI: a spec path with a line break was cut to "error: spec /tmp/x", problem and fix lost.</summary>
    [Fact]
    public void The_cli_shows_the_whole_message_of_a_path_with_a_line_break()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such\nspec.yaml");
        var (code, _, stderr) = Repo.RunCli(["sweep", "plan", path]);
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("no-such ⏎ spec.yaml", line, StringComparison.Ordinal);
        Assert.True(line.Length > $"error: spec {path}".Length + 10, line);
    }
}
