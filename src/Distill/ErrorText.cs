namespace Distill;

/// <summary>An exception's message as the one line a user reads.</summary>
public static class ErrorText
{
    /// <summary>The first line, without .NET's "(Parameter 'x')" suffix and the second line ArgumentOutOfRangeException
    /// adds ("Actual value was ..."): noise to a user, who never named a parameter.</summary>
    public static string Line(Exception e)
    {
        var message = e.Message.Split('\n')[0].TrimEnd();
        return e is ArgumentException { ParamName: { } p } ? message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : message;
    }
}
