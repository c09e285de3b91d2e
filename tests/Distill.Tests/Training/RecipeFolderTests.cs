using Distill.Training;

namespace Distill.Tests.Training;

/// <summary>Every recipe writes RUN/seedN folders, so a born-again recipe into a soft-targets folder was trained and
/// written beside the other recipe's runs. The folder names its recipe (recipe.txt), and another recipe is refused.</summary>
public class RecipeFolderTests
{
    static TempDir WithRunOf(string recipe)
    {
        var dir = new TempDir("recipe-folder");
        Trainer.ClaimForRecipe(dir.Path, recipe, force: false, resume: false, log: null);
        Directory.CreateDirectory(Path.Combine(dir.Path, "scratch", "seed0"));
        File.WriteAllText(Path.Combine(dir.Path, "scratch", "seed0", "metrics.csv"), "epoch\n");
        return dir;
    }

    [Fact]
    public void Another_recipe_is_refused_naming_both_and_the_same_one_is_not()
    {
        using var dir = WithRunOf("soft-targets");
        Assert.Equal("soft-targets\n", File.ReadAllText(Path.Combine(dir.Path, "recipe.txt")));
        var e = Assert.Throws<InvalidOperationException>(() => Trainer.ClaimForRecipe(dir.Path, "born-again", force: false, resume: false, log: null));
        Assert.Equal($"--out {dir.Path} holds the runs of recipe soft-targets ({Path.Combine(dir.Path, "recipe.txt")}), not born-again; " +
                     "pass --force to replace them, or choose another folder.", e.Message);
        var resumed = Assert.Throws<InvalidOperationException>(() => Trainer.ClaimForRecipe(dir.Path, "born-again", force: true, resume: true, log: null));
        Assert.EndsWith("they are not this command's to resume; choose another folder.", resumed.Message, StringComparison.Ordinal);
        Trainer.ClaimForRecipe(dir.Path, "soft-targets", force: false, resume: true, log: null); // its own runs: resumable
        Assert.True(File.Exists(Path.Combine(dir.Path, "scratch", "seed0", "metrics.csv")));
    }

    [Fact]
    public void Force_clears_the_other_recipes_runs_and_a_folder_without_runs_is_free()
    {
        using var dir = WithRunOf("soft-targets");
        var log = new StringWriter();
        Trainer.ClaimForRecipe(dir.Path, "born-again", force: true, resume: false, log);
        Assert.False(File.Exists(Path.Combine(dir.Path, "scratch", "seed0", "metrics.csv")));
        Assert.Contains("--force: cleared", log.ToString(), StringComparison.Ordinal);
        Assert.Equal("born-again\n", File.ReadAllText(Path.Combine(dir.Path, "recipe.txt")));
        // Its runs gone (cleared, or a refused run that wrote none), the file alone does not hold the folder.
        Trainer.ClaimForRecipe(dir.Path, "fitnets", force: false, resume: false, log: null);
        Assert.Equal("fitnets\n", File.ReadAllText(Path.Combine(dir.Path, "recipe.txt")));
    }

    /// <summary>An --out through a file failed with the runtime's "Could not find a part of the path" in recipe mode;
    /// plain `train` names the file.</summary>
    [Fact]
    public void An_out_folder_through_a_file_is_refused_as_plain_train_refuses_it()
    {
        using var dir = new TempDir("recipe-folder");
        var file = Path.Combine(dir.Path, "notes");
        File.WriteAllText(file, "");
        var outDir = Path.Combine(file, "sub");
        var e = Assert.Throws<ArgumentException>(() => Trainer.ClaimForRecipe(outDir, "born-again", force: false, resume: false, log: null));
        Assert.Equal($"--out {outDir}: {file} is a file, not a folder; give a folder path that does not go through a file.", e.Message);
    }
}
