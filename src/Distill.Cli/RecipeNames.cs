namespace Distill.Cli;

/// <summary>Each recipe's two names: the one `train --recipe` takes (fitnets) and its built-in file's (02-fitnets). Both
/// commands that name recipes (`train`, `spec check`/`schema`) take either, in any case, as a name or as a file's name:
/// `spec check` refused born-again.yaml, which `train --recipe-file` ran, and `train --recipe` refused 04-born-again,
/// which `spec check --recipe` needed.</summary>
static class RecipeNames
{
    public sealed record Recipe(string Name, string File);

    public static readonly Recipe[] All =
    [
        new("soft-targets", "01-soft-targets"), new("fitnets", "02-fitnets"), new("attention", "03-attention-transfer"),
        new("born-again", "04-born-again"), new("comparison", "05-comparison"), new("beyond-kd", "06-beyond-kd"),
        new("deployment", "07-deployment"),
    ];

    /// <summary>The recipe <paramref name="name"/> means (a recipe's name or its file's, any case), or null.</summary>
    public static Recipe? Find(string name) =>
        All.FirstOrDefault(r => string.Equals(r.Name, name.Trim(), StringComparison.OrdinalIgnoreCase) || string.Equals(r.File, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The recipe a file is named after (02-fitnets.yaml, fitnets.yml, FITNETS), or null.</summary>
    public static Recipe? NamedAfter(string path) => Find(Path.GetFileNameWithoutExtension(path));

    /// <summary>Refuses a --recipe that is not the one <paramref name="path"/> is named after: its keys were read as the
    /// other recipe's, and a key the two share ran as that recipe without a word.</summary>
    public static void CheckMatches(Recipe given, string path, string option)
    {
        if (NamedAfter(path) is { } named && named != given)
            throw new ArgumentException($"{option} {path} is named after recipe {named.Name} ({named.File}), not --recipe {given.Name}; give --recipe {named.Name}, or rename the file.");
    }
}
