using System.CommandLine;
using Distill.Methods;

namespace Distill.Cli;

/// <summary>`distill methods`: the catalogue as a table — each method's kind, paper and parameters with defaults and
/// ranges; `distill methods NAME` shows one method in full.</summary>
static class MethodsCommand
{
    public static Command Create()
    {
        var name = new Argument<string?>("NAME") { Description = "Show one method: its parameters, ranges, reference functions and notes.", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("methods", "List the method catalogue: name, kind, paper and parameters (train --method NAME --set key=value).");
        cmd.Arguments.Add(name);
        cmd.SetAction(r =>
        {
            if (r.GetValue(name) is not string one)
            {
                Write(MethodCatalogue.All);
                return 0;
            }
            try
            {
                Describe(MethodCatalogue.Find(one));
                return 0;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"error: {Unhandled.Line(e)}");
                return 1;
            }
        });
        return cmd;
    }

    static void Write(IReadOnlyList<Method> methods)
    {
        string[] header = ["method", "kind", "paper", "parameters (defaults)"];
        var rows = methods.Select(m => new[]
        {
            m.Name, m.Kind.ToString().ToLowerInvariant(), m.Paper?.ToString() ?? "—",
            m.Parameters.Count == 0 ? "—" : string.Join(", ", m.Parameters.Select(p => $"{p.Name}={(p.DefaultText.Length == 0 ? "\"\"" : p.DefaultText)}")),
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
        Console.WriteLine(Line(header));
        foreach (var r in rows) Console.WriteLine(Line(r));
        Console.WriteLine();
        Console.WriteLine($"{methods.Count} methods. `distill methods NAME` for one; train with `distill train --model M --teacher T --method NAME --set key=value`.");
    }

    static void Describe(Method m)
    {
        Console.WriteLine($"{m.Name} ({m.Kind.ToString().ToLowerInvariant()}): {m.Summary}");
        if (m.Paper is { } p) Console.WriteLine($"paper: {p.Authors}, \"{p.Title}\", {p.Venue} {p.Year}");
        if (m.PaperResult is { } r) Console.WriteLine($"published: {r}");
        Console.WriteLine(m.NeedsTeacher ? "needs: --teacher" : "needs: no --teacher (the method provides its own teaching signal)");
        Console.WriteLine("parameters:");
        // Widths from the cells, two spaces apart: fixed ones ran a long range into its description ("[1, 1048576],
        // whole negatives") and a long default into its range. A text default is quoted, as the empty one is.
        static string Default(MethodParameter q) => q.IsText ? $"\"{q.DefaultText}\"" : q.DefaultText;
        int name = m.Parameters.Select(q => q.Name.Length).DefaultIfEmpty(0).Max(),
            value = m.Parameters.Select(q => Default(q).Length).DefaultIfEmpty(0).Max(),
            range = m.Parameters.Select(q => q.Range.Length).DefaultIfEmpty(0).Max();
        foreach (var q in m.Parameters)
            Console.WriteLine($"  {q.Name.PadRight(name)}  default {Default(q).PadRight(value)}  {q.Range.PadRight(range)}  {q.Description}");
        if (m.Parameters.Count == 0) Console.WriteLine("  none");
        if (m.References.Count > 0) Console.WriteLine($"reference functions (distill reference): {string.Join(", ", m.References.Keys)}");
        if (m.WeightNote is { } w) Console.WriteLine($"differs from the reference implementation: {w}");
    }
}
