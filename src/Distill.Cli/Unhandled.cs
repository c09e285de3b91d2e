namespace Distill.Cli;

/// <summary>The one line the CLI prints for a failure no command anticipated.</summary>
static class Unhandled
{
    /// <summary>The innermost useful message (a TypeInitializationException's cause, not its wrapper), its first line
    /// only (libtorch appends pages of C++ frames), with its type, and what to do next.</summary>
    public static string Describe(Exception e)
    {
        while (e is (TypeInitializationException or System.Reflection.TargetInvocationException or AggregateException) && e.InnerException is not null)
            e = e.InnerException;
        var message = e.Message.Split('\n')[0].Trim();
        return $"{message} ({e.GetType().Name}). Nothing in this command expected it: if the message does not show the fix, " +
               "run the command again with DISTILL_TRACE=1 and report the trace.";
    }
}
