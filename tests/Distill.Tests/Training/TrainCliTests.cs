using Distill.Tests.Onboarding;

namespace Distill.Tests.Training;

/// <summary>`distill train` refuses settings it cannot use by the flag the user typed, in one line, before any data loads.</summary>
public class TrainCliTests
{
    [Theory]
    [InlineData("--epochs", "0", "error: --epochs 0: give a whole number of at least 1.")]
    [InlineData("--batch-size", "0", "error: --batch-size 0: give a whole number of at least 1.")]
    [InlineData("--train-size", "-5", "error: --train-size -5: give a whole number of at least 1.")]
    [InlineData("--teacher-epochs", "0", "error: --teacher-epochs 0: give a whole number of at least 1.")]
    [InlineData("--clip", "0", "error: --clip 0: give the largest gradient norm")]
    [InlineData("--warmup", "-2", "error: --warmup -2: give the warm-up length in epochs")]
    [InlineData("--weight-decay", "-1", "error: --weight-decay -1: give a finite number, 0 or more.")]
    [InlineData("--validation", "-1", "error: --validation -1: give the number of training images to hold out")]
    [InlineData("--out", "", "error: --out \"\": give a folder name (it is created when missing), or leave --out out to write no files.")]
    public void A_setting_out_of_range_is_named_by_its_flag(string flag, string value, string start)
    {
        string[] args = ["train", "--model", "mlp-32", "--dataset", "no-such-dataset", flag, value];
        if (flag == "--teacher-epochs") args = [.. args, "--teacher", "mlp-32"];
        var (code, _, stderr) = Repo.RunCli(args);
        Assert.Equal(1, code);
        // The flag is checked before the dataset is looked up (this one does not exist).
        Assert.StartsWith(start, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_subset_larger_than_the_split_names_both_sizes()
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--dataset", "fashion-mnist", "--train-size", "70000", "--epochs", "1"]);
        Assert.Equal(1, code);
        Assert.Contains("error: a train subset of 70,000 images: the train split holds 60,000; ask for 1 to 60,000", stderr, StringComparison.Ordinal);
    }
}
