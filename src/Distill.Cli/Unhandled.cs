namespace Distill.Cli;

/// <summary>The one line the CLI prints for a failure: anticipated (<see cref="Line"/>) or not (<see cref="Describe"/>).</summary>
static class Unhandled
{
    /// <summary>An anticipated failure's message as one line (<see cref="ErrorText.Line"/>).</summary>
    public static string Line(Exception e) => ErrorText.Line(e);

    /// <summary>A parser message with .NET type names in words ("Cannot parse argument 'x' for option '--epochs' as
    /// expected type 'System.Nullable`1[System.Int32]'" → "... as a whole number").</summary>
    public static string Readable(string message)
    {
        // A whole number beyond its type's range is digits all the same: say the range, or "cannot parse" puzzles.
        var big = System.Text.RegularExpressions.Regex.Match(message, @"^Cannot parse argument '[-+]?[0-9]+' .*System\.(?<t>Int32|Int64)\]?'");
        if (big.Success)
            message = message.TrimEnd('.') + (big.Groups["t"].Value == "Int32" ? $", which runs from {int.MinValue} to {int.MaxValue}." : $", which runs from {long.MinValue} to {long.MaxValue}.");
        foreach (var (type, words) in new[] { ("System.Int32", "a whole number"), ("System.Int64", "a whole number"), ("System.Double", "a number"), ("System.Boolean", "true or false") })
            message = message.Replace($"as expected type 'System.Nullable`1[{type}]'", $"as {words}", StringComparison.Ordinal)
                             .Replace($"as expected type '{type}'", $"as {words}", StringComparison.Ordinal);
        return message.Replace(":\n\t'", ": '", StringComparison.Ordinal).Replace("'\n\t'", "', '", StringComparison.Ordinal); // "one of:" lists on one line
    }

    /// <summary>The innermost useful message (a TypeInitializationException's cause, not its wrapper), its first line
    /// only (libtorch appends pages of C++ frames), with its type, and what to do next; a full or read-only disk as
    /// what it is (<see cref="IoError.DiskProblem"/>).</summary>
    public static string Describe(Exception e)
    {
        while (e is (TypeInitializationException or System.Reflection.TargetInvocationException or AggregateException) && e.InnerException is not null)
            e = e.InnerException;
        // Console's own stream failed (stdout redirected to a full disk): no file or --out to name, only the redirection.
        if (IoError.FromConsole(e)) return IoError.StandardOutputProblem((IOException)e);
        // A full or read-only disk is no bug: the user can act on it, and DISTILL_TRACE would tell them nothing more.
        if (IoError.DiskProblem(e) is { } disk) return disk;
        // So is a file this user may not write (a shared folder another user's run made).
        if (IoError.PermissionProblem(e) is { } denied) return denied;
        // So is a symbolic link that loops: said as such wherever it is met, not as an unexpected failure.
        if (IoError.LinkLoopProblem(e) is { } loop) return loop;
        return $"{Line(e)} ({e.GetType().Name}). Nothing in this command expected it: if the message does not show the fix, " +
               "run the command again with DISTILL_TRACE=1 and report the trace.";
    }
}
