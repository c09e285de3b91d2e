using System.Text.Json.Nodes;
using Distill.Losses;
using Distill.Native;

namespace Distill.Tests.Losses;

/// <summary>The logic behind `distill reference FILE` (the CLI calls <see cref="ReferenceChecker.Run"/>): it must fail
/// loudly on wrong values, unknown losses and bad files.</summary>
public sealed class ReferenceCommandTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("distill-reference-").FullName;

    public ReferenceCommandTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static JsonNode Original() => JsonNode.Parse(File.ReadAllText(ReferenceVectorTests.FilePath))!;

    string Write(JsonNode json, string name = "cases.json") => Write(json.ToJsonString(), name);

    string Write(string text, string name)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    static (int Exit, string[] Out, string[] Err) Run(string path)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        var exit = ReferenceChecker.Run(path, o, e);
        static string[] Lines(StringWriter w) => w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return (exit, Lines(o), Lines(e));
    }

    [Fact]
    public void Unmodified_copy_passes_with_exit_zero()
    {
        var (exit, output, err) = Run(Write(Original()));
        Assert.Equal(0, exit);
        Assert.Equal(["39 passed, 0 failed"], output);
        Assert.Empty(err);
    }

    /// <summary>Files derived from the README definitions in pure Python float64 with central-difference gradients
    /// (TestData/Losses/make_edge_cases*.py). edge_cases: x1000 logits, B = 1, C = 2, α ∈ {0, 1}, non-square maps,
    /// B = 2 for RKD. edge_cases_after_dkd: B = 1 and C = 2, x1000 logits, T = 0.5 and 8, one and three teachers,
    /// DIST's β/γ, NST on 1-pixel-wide maps. high_temperature: the KL family at T = 32 to 1000 on 10 to 1000 classes,
    /// where float32 alone misses the tolerance (42 of its 60 cases failed before the KL went to float64 above T = 20).
    /// many_classes (torch float64, make_many_classes.py): the same family on 100 to 10,000 classes at T = 8 to 20 with a
    /// student near its teacher (6 of its 34 cases failed before many classes widened at T²·ln C > 500).
    /// mid_classes (torch float64, make_mid_classes.py): the same family on 10 to 99 classes at T = 5 to 20, one sample,
    /// student near teacher (9 of its 92 cases failed before the rule held for any class count and counted DKD's α + β).
    /// pkt_conditioning (torch float64, make_pkt_conditioning.py): PKT on antipodal and 1-D embeddings, whose cosines of
    /// −1 float32 cannot resolve, and on features of size 1e-9 (5 of its 7 cases failed before P went to float64).</summary>
    [Theory]
    [InlineData("edge_cases.json", 40)]
    [InlineData("edge_cases_after_dkd.json", 36)]
    [InlineData("high_temperature.json", 60)]
    [InlineData("many_classes.json", 34)]
    [InlineData("mid_classes.json", 92)]
    [InlineData("pkt_conditioning.json", 7)]
    public void Independent_edge_case_file_passes(string file, int cases)
    {
        var (exit, output, err) = Run(Path.Combine(AppContext.BaseDirectory, "TestData", "Losses", file));
        Assert.Equal(0, exit);
        Assert.Equal([$"{cases} passed, 0 failed"], output);
        Assert.Empty(err);
    }

    /// <summary>A generator that stores its labels as int32 (or uint8) means the same class indices: they are read as
    /// the int64 the losses take, where they were read as float and every case with labels failed naming Float32.</summary>
    [Theory]
    [InlineData("int32")]
    [InlineData("uint8")]
    public void Labels_stored_with_another_integer_dtype_are_class_indices(string dtype)
    {
        var json = Original();
        var withLabels = json["cases"]!.AsArray().Where(c => c!["inputs"]!.AsObject().ContainsKey("labels")).ToList();
        Assert.NotEmpty(withLabels);
        foreach (var c in withLabels) c!["inputs"]!["labels"]!["dtype"] = dtype;

        var (exit, output, err) = Run(Write(json));

        Assert.Equal((0, "39 passed, 0 failed"), (exit, Assert.Single(output)));
        Assert.Empty(err);
    }

    [Fact]
    public void Changed_value_wrong_gradient_and_unknown_loss_each_fail_with_one_line()
    {
        var json = Original();
        var cases = json["cases"]!.AsArray();
        var changedLoss = cases[3]!;
        changedLoss["expected"]!["loss"] = changedLoss["expected"]!["loss"]!.GetValue<double>() + 0.01;
        var changedGrad = cases[26]!; // at_paper/...: one gradient element off by 1e-3
        var g = changedGrad["expected"]!["grad"]!["student_features"]!["data"]!.AsArray();
        g[5] = g[5]!.GetValue<double>() + 1e-3;
        var unknown = cases[7]!;
        unknown["loss"] = "no_such_loss";

        var (exit, output, err) = Run(Write(json));

        Assert.Equal(1, exit);
        Assert.Empty(err);
        Assert.Equal(4, output.Length);
        Assert.Equal("36 passed, 3 failed", output[^1]);
        var lossLine = Assert.Single(output, l => l.Contains(changedLoss["name"]!.GetValue<string>() + ":", StringComparison.Ordinal));
        Assert.Matches(@"loss error 1e-2 \(tolerance [0-9.e+-]+\), grad error [0-9.e+-]+", lossLine);
        var gradLine = Assert.Single(output, l => l.Contains(changedGrad["name"]!.GetValue<string>() + ":", StringComparison.Ordinal));
        Assert.Contains("grad error 1e-3", gradLine);
        var unknownLine = Assert.Single(output, l => l.Contains(unknown["name"]!.GetValue<string>() + ":", StringComparison.Ordinal));
        Assert.Contains("unknown loss 'no_such_loss' (known: at, at_paper, dist, dkd, hint, kd, kd_hard, kd_ls, kd_multi, mlkd_batch, mlkd_class, nst, pkt, rkd_angle, rkd_distance, soft_ce, sp)", unknownLine);
    }

    [Fact]
    public void Misspelt_parameter_or_mismatched_input_fails_the_case_and_names_it()
    {
        var json = Original();
        var cases = json["cases"]!.AsArray();
        var kd = cases[0]!;
        var p = kd["params"]!.AsObject();
        p.Remove("temperature");
        p["temprature"] = 4.0;
        var hint = cases.First(c => c!["loss"]!.GetValue<string>() == "hint")!;
        var t = hint["inputs"]!["teacher_features"]!.AsObject();
        t["shape"] = new JsonArray(4, 16, 36);

        var kd2 = cases.Where(c => c!["loss"]!.GetValue<string>() == "kd").ElementAt(1)!;
        kd2["params"]!["temperature"] = -1.0;

        var (exit, output, _) = Run(Write(json));

        Assert.Equal(1, exit);
        Assert.Equal("36 passed, 3 failed", output[^1]);
        Assert.Contains(output, l => l.StartsWith($"FAIL {kd["name"]}: kd: missing parameter 'temperature' (given: temprature)", StringComparison.Ordinal));
        // The library's range message, without .NET's "(Parameter 'temperature')".
        Assert.Contains($"FAIL {kd2["name"]}: kd: temperature = -1 is outside [0.01, 1000], the temperatures the method catalogue accepts.", output);
        Assert.Contains(output, l => l.StartsWith($"FAIL {hint["name"]}: hint: student [4, 16, 6, 6] and teacher [4, 16, 36]", StringComparison.Ordinal));
    }

    /// <summary>Class indices outside the logits' classes fail their case naming the input, the index and the range
    /// (libtorch's own "Target 99 is out of bounds" names neither).</summary>
    [Theory]
    [InlineData(99)]
    [InlineData(-1)]
    public void A_label_outside_the_classes_fails_its_case_naming_it(int label)
    {
        var json = Original();
        var kdHard = json["cases"]!.AsArray().First(c => c!["loss"]!.GetValue<string>() == "kd_hard")!;
        var labels = kdHard["inputs"]!["labels"]!["data"]!.AsArray();
        labels[2] = label;
        var classes = kdHard["inputs"]!["student_logits"]!["shape"]!.AsArray()[1]!.GetValue<int>();
        var (exit, output, _) = Run(Write(json));
        Assert.Equal(1, exit);
        Assert.Contains(output, l => l.StartsWith($"FAIL {kdHard["name"]}: labels[2] = {label} is outside [0, {classes}), the classes of 'student_logits'", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_file_gives_one_clear_line_and_exit_one()
    {
        var path = Path.Combine(dir, "absent.json");
        var (exit, output, err) = Run(path);
        Assert.Equal(1, exit);
        Assert.Empty(output);
        var line = Assert.Single(err);
        Assert.Equal($"error: {path}: file not found; give the path of a distill-reference/1 JSON file (e.g. tests/Distill.Tests/TestData/Losses/losses.json).", line);
    }

    /// <summary>`reference ''` crashed in Path.GetFullPath ("The value cannot be an empty string (ArgumentException).
    /// Nothing in this command expected it"): now a file error like a missing file's.</summary>
    [Fact]
    public void An_empty_path_is_a_file_error()
    {
        var (exit, output, err) = Run("");
        Assert.Equal(1, exit);
        Assert.Empty(output);
        Assert.Equal("error: '' is an empty path, not a file; give the path of a distill-reference/1 JSON file (e.g. tests/Distill.Tests/TestData/Losses/losses.json).", Assert.Single(err));
    }

    /// <summary>A folder named like the file is there: said as a folder, not as "file not found".</summary>
    [Fact]
    public void A_folder_given_as_the_file_is_named_a_folder()
    {
        var path = Directory.CreateDirectory(Path.Combine(dir, "losses.json")).FullName;
        var (exit, output, err) = Run(path);
        Assert.Equal(1, exit);
        Assert.Empty(output);
        Assert.Equal($"error: {path} is a folder, not a file; give the path of a distill-reference/1 JSON file (e.g. tests/Distill.Tests/TestData/Losses/losses.json).", Assert.Single(err));
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(3, 0)]
    public void Empty_logits_fail_their_case_with_a_line_not_a_crash(int batch, int classes)
    {
        var empty = $"{{\"shape\": [{batch}, {classes}], \"data\": []}}";
        var (exit, output, err) = Run(Write("{\"format\": \"distill-reference/1\", \"cases\": [{\"name\": \"empty\", \"loss\": \"kd\", \"params\": {\"temperature\": 4}, " +
            $"\"inputs\": {{\"student_logits\": {empty}, \"teacher_logits\": {empty}}}, \"expected\": {{\"loss\": 0, \"grad\": {{\"student_logits\": {empty}}}}}}}]}}", "empty.json"));
        Assert.Equal(1, exit);
        Assert.Empty(err);
        Assert.StartsWith($"FAIL empty: kd: logits must hold at least one sample and one class, got [{batch}, {classes}]", output[0], StringComparison.Ordinal);
        Assert.Equal("0 passed, 1 failed", output[^1]);
    }

    [Theory]
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [{\"name\": \"x\", \"loss\": \"kd\", \"params\": {}, \"inputs\": {\"student_logits\": {\"shape\": [4294967296, 4294967296], \"data\": []}}}]}",
        "shape [4294967296, 4294967296] has more values than a tensor can hold")]
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [", "not valid JSON (line 1")]
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [{\"name\": \"x\", \"loss\": \"kd\", \"params\": {\"temperature\": NaN}}]}",
        "the file holds NaN or Infinity, which JSON does not have (Python's json.dump writes them)")]
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [{\"expected\": {\"loss\": -Infinity}}]}", "the file holds NaN or Infinity")]
    [InlineData("[1, 2]", "the top level must be a JSON object")]
    [InlineData("{\"format\": \"distill-reference/2\", \"cases\": []}", "\"format\" is \"distill-reference/2\"; expected \"distill-reference/1\"")]
    [InlineData("{\"format\": 1, \"cases\": []}", "\"format\" is 1 (number, not text); expected \"distill-reference/1\"")]
    [InlineData("{\"cases\": []}", "\"format\" is missing; expected \"distill-reference/1\"")]
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": []}", "\"cases\" is empty")]
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [{\"name\": \"x\", \"loss\": \"kd\", \"params\": {}, \"inputs\": {\"student_logits\": {\"shape\": [2, 2], \"data\": [1, 2, 3]}}}]}",
        "case #0 ('x') inputs.student_logits: shape [2, 2] holds 4 values but \"data\" has 3")]
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [{\"name\": \"x\", \"loss\": \"kd\", \"inputs\": {\"a\": {\"shape\": [1], \"data\": [1]}}, \"expected\": {\"loss\": 1, \"grad\": {\"b\": {\"shape\": [1], \"data\": [0]}}}}]}",
        "case #0 ('x'): expected.grad.b names no input")]
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [{\"name\": \"x\", \"loss\": \"kd\", \"params\": {\"temperature\": 4}, \"inputs\": {\"student_logits\": {\"shape\": [1, 2], \"data\": [1, 2]}, \"teacher_logits\": {\"shape\": [1, 2], \"data\": [1, 2]}}, \"expected\": {\"loss\": 0, \"grad\": {\"teacher_logits\": {\"shape\": [1, 2], \"data\": [0, 0]}}}}]}",
        "case #0 ('x'): expected.grad.teacher_logits names a teacher input, which the losses detach; give the gradient w.r.t. the student's input (student_logits)")]
    // A key given twice: the last one counted without a word.
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [{\"name\": \"x\", \"name\": \"y\"}]}", "not valid JSON: Duplicate property 'name'")]
    // Two cases of one name: results are reported by name, so the second passed or failed under the first's.
    [InlineData("{\"format\": \"distill-reference/1\", \"cases\": [" + OneCase + ", " + OneCase + "]}", "case #1: its name \"x\" is case #0's too; give every case its own name")]
    public void Malformed_file_gives_one_line_naming_file_and_problem(string text, string problem)
    {
        var path = Write(text, "bad.json");
        var (exit, output, err) = Run(path);
        Assert.Equal(1, exit);
        Assert.Empty(output);
        var line = Assert.Single(err);
        Assert.StartsWith($"error: {path}", line);
        Assert.Contains(problem, line);
    }

    const string OneCase = "{\"name\": \"x\", \"loss\": \"kd\", \"params\": {\"temperature\": 4}, \"inputs\": {\"student_logits\": {\"shape\": [1, 2], \"data\": [1, 2]}, " +
        "\"teacher_logits\": {\"shape\": [1, 2], \"data\": [1, 2]}}, \"expected\": {\"loss\": 0, \"grad\": {\"student_logits\": {\"shape\": [1, 2], \"data\": [0, 0]}}}}";

    const string FiniteCase = "{\"format\": \"distill-reference/1\", \"cases\": [{\"name\": \"x\", \"loss\": \"kd\", \"params\": {\"temperature\": 4}, " +
        "\"inputs\": {\"student_logits\": {\"shape\": [1, 2], \"data\": [1, 2]}, \"teacher_logits\": {\"shape\": [1, 2], \"data\": [3, 4]}}, " +
        "\"expected\": {\"loss\": 0, \"grad\": {\"student_logits\": {\"shape\": [1, 2], \"data\": [0, 0]}}}}]}";

    /// <summary>JSON has no infinity, but 1e999 reads as one: an infinite expected value made the tolerance infinite,
    /// so any loss passed. Every number of a case must be finite; the line names the case and the field.</summary>
    [Theory]
    [InlineData("\"loss\": 0", "\"loss\": 1e999", "case #0 ('x'): expected.loss = 1e999 is beyond the float64 range (it would read as infinity); give a finite number")]
    [InlineData("\"data\": [0, 0]", "\"data\": [0, 1e400]", "case #0 ('x') expected.grad.student_logits: data[1] = 1e400 is beyond the float64 range")]
    [InlineData("\"temperature\": 4", "\"temperature\": 1e999", "case #0 ('x'): params.temperature = 1e999 is beyond the float64 range")]
    [InlineData("[3, 4]", "[-1e999, 4]", "case #0 ('x') inputs.teacher_logits: data[0] = -1e999 is beyond the float64 range")]
    public void A_number_beyond_float64_is_refused_naming_case_and_field(string from, string to, string problem)
    {
        Assert.Contains(from, FiniteCase, StringComparison.Ordinal);
        Malformed_file_gives_one_line_naming_file_and_problem(FiniteCase.Replace(from, to, StringComparison.Ordinal), problem);
    }

    /// <summary>Inputs are computed in float32: -1e39 (finite in float64) became -infinity there and the case failed as
    /// "loss error Infinity". Refused like 1e999, naming case and field; an expected value, compared in float64, is not.</summary>
    [Theory]
    [InlineData("\"data\": [1, 2]", "\"data\": [-1e39, 2]", "case #0 ('x') inputs.student_logits: data[0] = -1e39 is beyond the float32 range the check runs in (it would read as infinity); give a number of magnitude at most 3.4028235E+38")]
    [InlineData("[3, 4]", "[3, 4e38]", "case #0 ('x') inputs.teacher_logits: data[1] = 4e38 is beyond the float32 range the check runs in")]
    public void An_input_beyond_float32_is_refused_naming_case_and_field(string from, string to, string problem)
    {
        Assert.Contains(from, FiniteCase, StringComparison.Ordinal);
        Malformed_file_gives_one_line_naming_file_and_problem(FiniteCase.Replace(from, to, StringComparison.Ordinal), problem);
        // The expected gradient stays float64: a value beyond float32 there is read, and the case fails on its numbers.
        var (_, _, err) = Run(Write(FiniteCase.Replace("\"data\": [0, 0]", "\"data\": [0, 1e39]", StringComparison.Ordinal), "big-grad.json"));
        Assert.Empty(err);
    }

    /// <summary>A case name is printed escaped: one with a newline could print a summary line of its own.</summary>
    [Fact]
    public void A_case_name_with_a_newline_is_printed_escaped_and_cannot_forge_the_summary()
    {
        var json = Original();
        var cases = json["cases"]!.AsArray();
        cases[0]!["name"] = "kd\n39 passed, 0 failed";
        cases[0]!["expected"]!["loss"] = cases[0]!["expected"]!["loss"]!.GetValue<double>() + 1;
        var (exit, output, _) = Run(Write(json));
        Assert.Equal(1, exit);
        Assert.Equal(2, output.Length);
        Assert.StartsWith("FAIL kd\\n39 passed, 0 failed: loss error 1e+0", output[0], StringComparison.Ordinal);
        Assert.Equal("38 passed, 1 failed", output[1]);
    }
}
