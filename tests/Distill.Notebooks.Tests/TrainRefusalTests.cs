namespace Distill.Notebooks.Tests;

/// <summary>
/// `distill train` refuses what it cannot run, or would silently ignore, before anything trains: one `error:` line
/// that names the option or setting, exit 1, and no epoch printed.
/// </summary>
public class TrainRefusalTests
{
    static void Refused(string[] args, string expected)
    {
        var (exit, stdout, stderr) = DistillProcess.Run(args);
        var what = $"distill {string.Join(' ', args)} → {exit}\n{stderr}{stdout}";
        Assert.True(exit is 1 or 2, what);
        var error = Assert.Single(stderr.Split('\n'), l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr + stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("epoch ", stdout, StringComparison.Ordinal); // refused before any training
    }

    [Theory]
    [InlineData("fitnets", "error: FitNets: mlp-32 has no feature 'stage1'")]
    [InlineData("attention", "error: attention transfer: mlp-32 has no feature 'stage1'")]
    public void A_recipe_whose_layers_the_models_lack_is_refused_before_its_teacher_trains(string recipe, string expected) =>
        Refused(["train", "--recipe", recipe, "--budget", "smoke", "--model", "mlp-32", "--train-size", "256", "--test-size", "200"], expected);

    [Fact]
    public void Every_teacher_of_kd_multi_is_named_correctly_before_the_first_one_trains() =>
        Refused(["train", "--model", "mlp-32", "--teacher", "mlp-32", "--method", "kd-multi", "--set", "teachers=mlp-32,bogus-9",
                 "--train-size", "256", "--test-size", "200", "--epochs", "1"], "error: kd-multi: teachers=mlp-32,bogus-9: Unknown model 'bogus-9'.");

    [Fact]
    public void Kd_multi_names_an_unknown_teacher_without_the_parameter_suffix()
    {
        var (_, _, stderr) = DistillProcess.Run("train", "--model", "mlp-32", "--teacher", "mlp-32", "--method", "kd-multi", "--set", "teachers=mlp-32,bogus-9");
        Assert.DoesNotContain("(Parameter", stderr, StringComparison.Ordinal);
        Assert.EndsWith("wrn-16-1).", stderr.Trim(), StringComparison.Ordinal);
    }
}
