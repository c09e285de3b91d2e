using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Distill.Losses;

/// <summary>A row-major tensor from a reference file.</summary>
public sealed record ReferenceTensor(long[] Shape, double[] Data, bool IsInteger);

/// <summary>One case: a loss by registry name, its inputs and parameters, the expected loss and d(loss)/d(<see cref="GradInput"/>).</summary>
public sealed record ReferenceCase(
    string Name,
    string Loss,
    IReadOnlyDictionary<string, double> Params,
    IReadOnlyDictionary<string, ReferenceTensor> Inputs,
    double ExpectedLoss,
    string GradInput,
    ReferenceTensor ExpectedGrad);

/// <summary>The input file is not a readable "distill-reference/1" file; the message names the file, the place and the fix.</summary>
public sealed class ReferenceFormatException(string message) : Exception(message);

/// <summary>
/// Reader of loss reference files (<c>"format": "distill-reference/1"</c>): cases computed with PyTorch in float64 that
/// the library must reproduce in float32. Inputs named "labels" (or "*_labels", or with <c>"dtype": "int64"</c>) are
/// integer class indices; all others are float.
/// </summary>
public sealed class ReferenceFile
{
    public const string Format = "distill-reference/1";

    public required string Source { get; init; }
    public string? Generator { get; init; }
    public required IReadOnlyList<ReferenceCase> Cases { get; init; }

    public static ReferenceFile Load(string path)
    {
        if (FilePaths.NotAFile(path) is { } what)
            throw new ReferenceFormatException($"{FilePaths.Shown(path)} is {what}; give the path of a {Format} JSON file (e.g. tests/Distill.Tests/TestData/Losses/losses.json).");
        if (!File.Exists(path))
            throw new ReferenceFormatException($"{path}: file not found; give the path of a {Format} JSON file (e.g. tests/Distill.Tests/TestData/Losses/losses.json).");
        if (FilePaths.NothingToRead(path))
            throw new ReferenceFormatException($"{path}: the file is empty (or not a regular file, e.g. a FIFO); give a {Format} JSON file (e.g. tests/Distill.Tests/TestData/Losses/losses.json).");
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReferenceFormatException($"{path}: cannot read the file ({e.Message}).");
        }
        return Parse(text, path);
    }

    public static ReferenceFile Parse(string json, string source)
    {
        JsonDocument doc;
        // A key given twice took its last value without a word: Python's json keeps the last too, so a hand-merged case
        // could check other inputs than its writer meant.
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e)
        {
            // Python's json.dump writes NaN and Infinity by default, which JSON has no words for.
            var nonFinite = System.Text.RegularExpressions.Regex.IsMatch(json, @"[\[,:]\s*-?(NaN|Infinity)\b")
                ? "; the file holds NaN or Infinity, which JSON does not have (Python's json.dump writes them): every number must be finite, so leave out the cases that hold one"
                : "";
            // A key given twice is found with no position; its message names the key.
            var where = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            throw new ReferenceFormatException($"{source}: not valid JSON{where}: {ErrorText.Json(e)}{nonFinite}.");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) Fail(source, "the top level must be a JSON object");
            var hasFormat = root.TryGetProperty("format", out var f);
            var format = hasFormat && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            // A number or list there is not "missing": show what the file holds.
            if (format != Format)
                Fail(source, $"\"format\" is {(format is not null ? $"\"{format}\"" : !hasFormat ? "missing" : $"{Shorten(f.GetRawText())} ({f.ValueKind.ToString().ToLowerInvariant()}, not text)")}; expected \"{Format}\"");
            if (!root.TryGetProperty("cases", out var cases) || cases.ValueKind != JsonValueKind.Array)
                Fail(source, "\"cases\" must be an array of cases");
            if (cases.GetArrayLength() == 0) Fail(source, "\"cases\" is empty; nothing to check");
            var list = new List<ReferenceCase>();
            int i = 0;
            foreach (var c in cases.EnumerateArray())
            {
                var parsed = ParseCase(c, $"{source}: case #{i}");
                // Results are reported by name: a second case of one name passed or failed under the first's.
                if (list.FindIndex(other => other.Name == parsed.Name) is var first and >= 0)
                    Fail($"{source}: case #{i}", $"its name \"{parsed.Name}\" is case #{first}'s too; give every case its own name (results are reported by name)");
                list.Add(parsed);
                i++;
            }
            var generator = root.TryGetProperty("generator", out var g) && g.ValueKind == JsonValueKind.String ? g.GetString() : null;
            return new ReferenceFile { Source = source, Generator = generator, Cases = list };
        }
    }

    static ReferenceCase ParseCase(JsonElement c, string where)
    {
        if (c.ValueKind != JsonValueKind.Object) Fail(where, "must be an object");
        var name = String(c, "name", where);
        where += $" ('{name}')";
        var loss = String(c, "loss", where);
        var parameters = new Dictionary<string, double>();
        if (c.TryGetProperty("params", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            if (p.ValueKind != JsonValueKind.Object) Fail(where, "\"params\" must be an object of numbers");
            foreach (var kv in p.EnumerateObject())
                parameters[kv.Name] = Number(kv.Value, where, $"params.{kv.Name}");
        }
        var inputs = new Dictionary<string, ReferenceTensor>();
        if (!c.TryGetProperty("inputs", out var ins) || ins.ValueKind != JsonValueKind.Object) Fail(where, "\"inputs\" must be an object of tensors");
        foreach (var kv in ins.EnumerateObject())
            inputs[kv.Name] = Tensor(kv.Value, $"{where} inputs.{kv.Name}", IsIntegerInput(kv.Name, kv.Value), input: true);
        if (!c.TryGetProperty("expected", out var exp) || exp.ValueKind != JsonValueKind.Object) Fail(where, "\"expected\" must be an object");
        if (!exp.TryGetProperty("loss", out var l)) Fail(where, "expected.loss must be a number");
        var expectedLoss = Number(l, where, "expected.loss");
        if (!exp.TryGetProperty("grad", out var grad) || grad.ValueKind != JsonValueKind.Object || grad.EnumerateObject().Count() != 1)
            Fail(where, "expected.grad must be an object with exactly one tensor (the gradient w.r.t. the student's input)");
        var g = grad.EnumerateObject().First();
        if (!inputs.TryGetValue(g.Name, out var gradInput)) Fail(where, $"expected.grad.{g.Name} names no input");
        if (gradInput.IsInteger) Fail(where, $"expected.grad.{g.Name} is an integer input; gradients are for float inputs");
        // The checker detaches every "teacher*" input (and fails a case where one receives a gradient).
        if (g.Name.StartsWith("teacher", StringComparison.Ordinal))
            Fail(where, $"expected.grad.{g.Name} names a teacher input, which the losses detach; give the gradient w.r.t. the student's input " +
                        $"({string.Join(", ", inputs.Where(i => !i.Key.StartsWith("teacher", StringComparison.Ordinal) && !i.Value.IsInteger).Select(i => i.Key).DefaultIfEmpty("e.g. student_logits"))})");
        var expectedGrad = Tensor(g.Value, $"{where} expected.grad.{g.Name}", false, input: false);
        if (!expectedGrad.Shape.SequenceEqual(gradInput.Shape))
            Fail(where, $"expected.grad.{g.Name} has shape [{string.Join(", ", expectedGrad.Shape)}] but the input has [{string.Join(", ", gradInput.Shape)}]");
        return new ReferenceCase(name, loss, parameters, inputs, expectedLoss, g.Name, expectedGrad);
    }

    /// <summary>Integer inputs (class indices) are read as int64, which the losses take, whatever integer dtype the file
    /// names: a generator that stored its labels as int32 or uint8 means the same indices.</summary>
    static bool IsIntegerInput(string name, JsonElement t) =>
        t.ValueKind == JsonValueKind.Object && t.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String
            ? d.GetString() is "int64" or "long" or "int32" or "int" or "int16" or "short" or "int8" or "uint8"
            : name == "labels" || name.EndsWith("_labels", StringComparison.Ordinal);

    /// <param name="input">An input, which the check computes with; its float values are float32 tensors there
    /// (expected values are compared in float64).</param>
    static ReferenceTensor Tensor(JsonElement t, string where, bool integer, bool input)
    {
        if (t.ValueKind != JsonValueKind.Object) Fail(where, "must be an object with \"shape\" and \"data\"");
        if (!t.TryGetProperty("shape", out var s) || s.ValueKind != JsonValueKind.Array) Fail(where, "\"shape\" must be an array of sizes");
        if (!t.TryGetProperty("data", out var d) || d.ValueKind != JsonValueKind.Array) Fail(where, "\"data\" must be an array of numbers");
        var shape = s.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out var v) && v >= 0 ? v
            : Fail<long>(where, "\"shape\" entries must be non-negative integers")).ToArray();
        var data = d.EnumerateArray().Select((x, i) => x.ValueKind == JsonValueKind.Number ? Number(x, where, $"data[{i}]", float32: input && !integer)
            : Fail<double>(where, "\"data\" entries must be numbers (row-major, flat)")).ToArray();
        long count;
        try { count = shape.Aggregate(1L, (a, b) => checked(a * b)); }
        catch (OverflowException) { return Fail<ReferenceTensor>(where, $"shape [{string.Join(", ", shape)}] has more values than a tensor can hold"); }
        if (count != data.Length)
            Fail(where, $"shape [{string.Join(", ", shape)}] holds {count} values but \"data\" has {data.Length}");
        if (integer && data.Any(x => x != Math.Floor(x)))
            Fail(where, "integer input (class indices) has non-integer values");
        return new ReferenceTensor(shape, data, integer);
    }

    /// <summary>A JSON number as a finite double. JSON has no infinity, but a literal such as 1e999 overflows to one: an
    /// infinite expected value makes the tolerance infinite and any loss pass, an infinite input or parameter makes the
    /// case meaningless.</summary>
    /// <param name="float32">The number becomes a float32 (an input): one finite in float64 but beyond float32's range
    /// (-1e39) became infinity there, and the case failed as "loss error Infinity", blaming the loss.</param>
    static double Number(JsonElement x, string where, string field, bool float32 = false)
    {
        if (x.ValueKind != JsonValueKind.Number) Fail(where, $"{field} must be a number");
        var v = x.GetDouble();
        if (!double.IsFinite(v))
            Fail(where, $"{field} = {x.GetRawText()} is beyond the float64 range (it would read as infinity); give a finite number");
        // The cast, not |v| > float.MaxValue: a value that rounds to float.MaxValue is no infinity.
        if (float32 && float.IsInfinity((float)v))
            Fail(where, $"{field} = {x.GetRawText()} is beyond the float32 range the check runs in (it would read as infinity); " +
                        $"give a number of magnitude at most {float.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        return v;
    }

    /// <summary>A line as printed, control characters escaped (\n, \u001b): names from the file (case, loss, input,
    /// parameter) cannot start a line of their own, forge the "N passed, N failed" summary, or send terminal escapes.</summary>
    public static string Printable(string line) =>
        line.Any(char.IsControl) ? string.Concat(line.Select(c => c switch
        {
            '\n' => "\\n", '\r' => "\\r", '\t' => "\\t",
            _ when char.IsControl(c) => $"\\u{(int)c:x4}",
            _ => c.ToString(),
        })) : line;

    static string String(JsonElement c, string property, string where) =>
        c.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s
            : Fail<string>(where, $"\"{property}\" must be a non-empty string");

    [DoesNotReturn]
    static void Fail(string where, string problem) => throw new ReferenceFormatException($"{where}: {problem}.");

    static T Fail<T>(string where, string problem) => throw new ReferenceFormatException($"{where}: {problem}.");

    static string Shorten(string json) => json.Length <= 40 ? json : json[..37] + "...";
}
