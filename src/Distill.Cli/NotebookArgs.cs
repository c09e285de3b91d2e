namespace Distill.Cli;

/// <summary>The options `run` and `reproduce` share, parsed in one place: <c>-p name=value</c> pairs and
/// <c>--cell-timeout</c>. Bad input is one <c>error:</c> line and exit code 2.</summary>
static class NotebookArgs
{
    /// <summary>The pairs in order, or null after printing the error.</summary>
    public static List<KeyValuePair<string, string>>? Parameters(IEnumerable<string> raw)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var p in raw)
        {
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                Console.Error.WriteLine($"error: -p {p}: expected name=value, e.g. -p epochs=3");
                return null;
            }
            // @class is how C# spells the name class, and how the parameters cell declares it: one parameter either way.
            var name = p[..eq].Trim() is ['@', .. var verbatim] ? verbatim : p[..eq].Trim();
            // Given twice, one value was injected and both were listed in the summary: which one ran was a guess.
            if (pairs.FirstOrDefault(q => q.Key == name) is { Key: not null } first)
            {
                Console.Error.WriteLine($"error: -p {name} is given twice ({name}={first.Value}, {p.Trim()}); give each name once.");
                return null;
            }
            // Passed on as --budget (reproduce gives it to each notebook's process): a value --budget refuses failed every
            // notebook with the child's parse error, and ran as a string in `run`.
            if (name == "budget" && !Budgets.Contains(p[(eq + 1)..], StringComparer.Ordinal))
            {
                Console.Error.WriteLine($"error: -p budget={p[(eq + 1)..]}: the budget is one of {string.Join(", ", Budgets)}, as --budget takes it (e.g. -p budget=smoke)");
                return null;
            }
            pairs.Add(new(name, p[(eq + 1)..]));
        }
        return pairs;
    }

    /// <summary>What --budget accepts, case-sensitively.</summary>
    public static readonly string[] Budgets = ["smoke", "quick", "full"];

    /// <summary>The refusal of a --budget value, as every command words it.</summary>
    public static string BadBudget(string value) => $"--budget {value}: expected smoke, quick or full.";

    /// <summary>Refuses a --budget value at parse time (exit 2), naming the option: AcceptOnlyFromAmong's "Argument 'smok'
    /// not recognized" named neither. The budgets are offered to shell completion, as AcceptOnlyFromAmong offered them.</summary>
    public static void OnlyBudgets(System.CommandLine.Option option)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.FirstOrDefault(t => !Budgets.Contains(t.Value, StringComparer.Ordinal)) is { } token) result.AddError(BadBudget(token.Value));
        });
        option.CompletionSources.Add(_ => Budgets.Select(b => new System.CommandLine.Completions.CompletionItem(b)));
    }

    /// <summary>A repeatable option's values with comma-separated lists split (<c>--only 01,02</c> as <c>--only 01 --only
    /// 02</c>), the way <c>--seeds 0,1,2</c> is written; blanks dropped. Null after printing the error when values were
    /// given but all are blank (an empty filter would select everything). <paramref name="example"/> is a list the
    /// command takes (bench's cases are no notebook numbers).</summary>
    public static string[]? List(string option, IEnumerable<string>? raw, string example)
    {
        var given = raw?.ToArray() ?? [];
        string[] items = [.. given.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))];
        if (given.Length > 0 && items.Length == 0)
        {
            Console.Error.WriteLine($"error: {option} '{string.Join(",", given)}': give at least one name, e.g. {option} {example}");
            return null;
        }
        return items;
    }

    /// <summary>A wait takes at most int.MaxValue milliseconds.</summary>
    const int MaxCellTimeout = int.MaxValue / 1000;

    /// <summary>False after printing the error; <paramref name="timeout"/> is null when not given.</summary>
    public static bool CellTimeout(double? seconds, out TimeSpan? timeout)
    {
        timeout = null;
        // NaN fails the comparison.
        if (seconds is double s && !(s > 0 && s <= MaxCellTimeout))
        {
            Console.Error.WriteLine($"error: --cell-timeout {s}: give a number of seconds greater than 0 and at most {MaxCellTimeout} (24.8 days), or leave it out for no limit");
            return false;
        }
        timeout = seconds is double t ? TimeSpan.FromSeconds(t) : null;
        return true;
    }
}
