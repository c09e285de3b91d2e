namespace Distill;

/// <summary>An exception's message as the one line a user reads.</summary>
public static class ErrorText
{
    /// <summary>Set by the distill CLI, whose users pass flags: advice then names the flag alone (--force), without the
    /// library setting a notebook would change instead (Force = true in TrainOptions), which no one at a prompt can set.</summary>
    public static bool CommandLine { get; set; }

    /// <summary>The library setting behind a flag, said after it for library callers: " (<paramref name="setting"/>)",
    /// or nothing at the command line (<see cref="CommandLine"/>).</summary>
    public static string Api(string setting) => Api(setting, " (", ")");

    /// <summary>The library setting between <paramref name="before"/> and <paramref name="after"/> for library callers,
    /// or nothing at the command line: for advice that says more than the setting ("--force (instead of --resume; ...)"),
    /// whose own words stay at the command line.</summary>
    public static string Api(string setting, string before, string after = "") => CommandLine ? "" : before + setting + after;

    /// <summary>A JSON parser's or serializer's own words, without the " LineNumber: ..." and " Path: ..." .NET appends
    /// (the caller says where, in its own terms) and the closing period (the caller's sentence goes on).</summary>
    public static string Json(System.Text.Json.JsonException e) => e.Message.Split(" LineNumber:")[0].Split(" Path:")[0].TrimEnd().TrimEnd('.');

    /// <summary>The message without .NET's "(Parameter 'x')" suffix and the "Actual value was ..." line
    /// ArgumentOutOfRangeException adds (noise to a user, who never named a parameter), as one line: a line break inside
    /// it (a path or name the user gave with one) shows as ⏎, where keeping only the first line cut the message off there,
    /// its problem and fix included.</summary>
    public static string Line(Exception e)
    {
        var message = (e is ArgumentException a ? WithoutParameter(a) : e.Message).TrimEnd();
        if (e is ArgumentOutOfRangeException && message.LastIndexOf('\n') is var last and >= 0 && message[(last + 1)..].StartsWith("Actual value was ", StringComparison.Ordinal))
            message = message[..last].TrimEnd();
        return TerminalText.Line(message);
    }

    /// <summary><paramref name="e"/>'s message without .NET's " (Parameter 'x')", for a caller that puts it after its
    /// own words (the setting or line the user wrote): the parameter is the library's name, not one the user gave.</summary>
    public static string WithoutParameter(ArgumentException e) =>
        e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
}
