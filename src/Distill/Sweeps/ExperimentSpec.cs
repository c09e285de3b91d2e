using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Distill.Data;
using Distill.Methods;
using Distill.Models;
using Distill.Training;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Distill.Sweeps;

/// <summary>One run of a sweep: its index, the grid values it takes (in grid order) and its whole experiment.</summary>
public sealed record PlannedRun(int Index, IReadOnlyList<KeyValuePair<string, string>> Values, Experiment Experiment)
{
    /// <summary>"loss.kd.temperature=4 seed=1", or "(no grid)" for a spec without one.</summary>
    public string Label => Values.Count == 0 ? "(no grid)" : string.Join(" ", Values.Select(v => $"{v.Key}={v.Value}"));
}

/// <summary>
/// An experiment spec file (YAML, format in spec.schema.json): checked against the schema, its grid expanded into runs
/// (the cartesian product, the last grid key varying fastest), and every run's settings checked too (methods and their
/// parameters against the catalogue, the schedule), so a spec that loads has no run that fails on its settings.
/// </summary>
public sealed class ExperimentSpec
{
    public required string File { get; init; }
    public required string Name { get; init; }
    /// <summary>Whether the spec has no <c>name:</c>, so that <see cref="Name"/> came from its file (or a sweep folder's plan).</summary>
    public bool Nameless { get; init; }

    /// <summary>A grid key whose values train the same model in every run, refused when a sweep is planned
    /// (<see cref="RefuseIdleKey"/>), not when a planned folder's copy is read: a folder an earlier build planned must
    /// still collect and resume. Found on first asking: a folder's copy, read by every worker, never needs it.</summary>
    public SpecException? IdleKey => IdleKeyCheck.Value;

    internal Lazy<SpecException?> IdleKeyCheck { private get; init; } = new(() => null);

    /// <summary>This spec, or <see cref="IdleKey"/> thrown: for a sweep being planned (spec check, plan, a new folder).</summary>
    public ExperimentSpec RefuseIdleKey() => IdleKey is { } e ? throw e : this;
    /// <summary>The spec's text as read (copied into a sweep folder, hashed into every run's record).</summary>
    public required string Text { get; init; }
    public required IReadOnlyList<string> GridKeys { get; init; }
    public required IReadOnlyList<PlannedRun> Runs { get; init; }

    /// <summary>First 16 hex digits of the SHA-256 of the spec's content (as JSON: comments and layout do not count): a
    /// sweep folder or run folder written from another spec refuses to continue.</summary>
    public required string Hash { get; init; }

    /// <summary>The most runs a spec's grid may have: a sweep far beyond it is a typo or needs splitting anyway, and
    /// loading a spec builds and checks every run (about 40 µs each).</summary>
    public const int MaxRuns = 100_000;

    /// <summary>The largest spec or recipe file read, in bytes: a spec is a few KB (a grid of 100,000 runs included),
    /// and a 79 MB one (a list of 10 million seeds) took 41 s and 2.7 GB to parse before its grid was refused.</summary>
    public const int MaxBytes = 1_000_000;

    /// <summary>The text of the spec or recipe file at <paramref name="path"/>, refused when it is over
    /// <see cref="MaxBytes"/>: the size is taken from the open file, so a symbolic link counts its target. A pipe
    /// (/dev/stdin, a shell's &lt;(...)) has no size: it is read up to one byte past the cap, never to its end.</summary>
    internal static string ReadText(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        if (stream.CanSeek && stream.Length > MaxBytes) throw TooLarge(path, $"{stream.Length.ToString("#,0", CultureInfo.InvariantCulture)} bytes");
        var bytes = new byte[MaxBytes + 1];
        var n = 0;
        for (int read; n < bytes.Length && (read = stream.Read(bytes, n, bytes.Length - n)) > 0;) n += read;
        if (n > MaxBytes) throw TooLarge(path, "over " + MaxBytes.ToString("#,0", CultureInfo.InvariantCulture) + " bytes");
        // Strictly UTF-8: a lenient decoder turned a stray byte (a Latin-1 'é', a binary file) into U+FFFD, which the
        // spec then held, hashed and ran under. The byte order mark is dropped, as the reader did.
        var text = bytes.AsSpan(0, n);
        // A UTF-16 or UTF-32 file says so in its byte order mark (Windows PowerShell 5's `>` writes UTF-16): read as
        // the reader before this did, strictly too.
        if (WideEncoding(text) is var (wide, mark))
        {
            try { return wide.GetString(text[mark..]); }
            catch (DecoderFallbackException)
            {
                // The exception's index is not the byte's offset for a surrogate pair cut apart: the line is found from a
                // lenient reading instead, where the first replacement character stands.
                var lenient = Encoding.GetEncoding(wide.CodePage).GetString(text[mark..]);
                var at = lenient.IndexOf('\uFFFD', StringComparison.Ordinal);
                throw new SpecException(path, 1 + lenient.AsSpan(0, Math.Max(0, at)).Count('\n'),
                    $"not valid {wide.WebName} though its byte order mark says so (a character cut short, or half of a surrogate pair); save the file as UTF-8.");
            }
        }
        if (text.StartsWith("\uFEFF"u8)) text = text[3..];
        var chars = new char[text.Length];
        if (System.Text.Unicode.Utf8.ToUtf16(text, chars, out var decoded, out var written, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
        {
            var offset = decoded + (n - text.Length);
            throw new SpecException(path, 1 + bytes.AsSpan(0, offset).Count((byte)'\n'),
                $"not UTF-8 (byte 0x{bytes[offset]:X2} at offset {offset}); save the file as UTF-8.");
        }
        return new string(chars, 0, written);
    }

    /// <summary>The strict decoder a UTF-16 or UTF-32 byte order mark names, and the mark's length; null without one.</summary>
    static (Encoding, int)? WideEncoding(ReadOnlySpan<byte> text) =>
        text.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0, 0]) ? (new UTF32Encoding(bigEndian: false, byteOrderMark: false, throwOnInvalidCharacters: true), 4)
        : text.StartsWith((ReadOnlySpan<byte>)[0, 0, 0xFE, 0xFF]) ? (new UTF32Encoding(bigEndian: true, byteOrderMark: false, throwOnInvalidCharacters: true), 4)
        : text.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) ? (new UnicodeEncoding(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true), 2)
        : text.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) ? (new UnicodeEncoding(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: true), 2)
        : null;

    static InvalidDataException TooLarge(string path, string size) =>
        new($"{path}: the file is {size}, more than the {MaxBytes.ToString("#,0", CultureInfo.InvariantCulture)} (1 MB) a spec or recipe file may have " +
            $"(a spec is a few KB, a grid of {MaxRuns.ToString("#,0", CultureInfo.InvariantCulture)} runs included); sweep fewer values, or split the file.");

    /// <param name="fallbackName">The sweep's name when the spec has no <c>name:</c> (else the file's name): a sweep
    /// folder's planned name, so that its copy of the spec names the runs as the original file did.</param>
    public static ExperimentSpec Load(string path, string? fallbackName = null) => Parse(LoadText(path), path, fallbackName);

    /// <summary>The text of the spec file at <paramref name="path"/>, what is wrong with the path named. Read once by a
    /// caller that also judges the text: a pipe (/dev/stdin) has nothing left for a second read.</summary>
    public static string LoadText(string path)
    {
        if (Directory.Exists(path)) throw new ArgumentException($"spec {path}: this is a folder; give the path of a .yaml spec (examples in experiments/).");
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"spec {path}: no such file; give the path of a .yaml spec (examples in experiments/).");
        if (FilePaths.NothingToRead(path)) throw new SpecException(path, 1, "the file is empty (or not a regular file, e.g. a FIFO); a spec is one YAML mapping (dataset:, student:, loss:, ...); see experiments/ for examples.");
        return ReadText(path);
    }

    /// <summary>The first refusal of a check added after sweeps were first planned (a number that reads as 0, a value
    /// given twice in a new spelling, a ResNet student's dropout): thrown when a sweep is planned, with
    /// <see cref="IdleKey"/>, but only kept when a planned folder's copy is read, which an earlier build planned and must
    /// still collect and resume (it failed at "not a spec this build can read", and running it again to rewrite the copy
    /// failed the same way).</summary>
    sealed class Deferred { public SpecException? First; }

    [ThreadStatic] static Deferred? planning;

    /// <summary><paramref name="e"/> thrown, or kept for <see cref="IdleKey"/> while a spec is parsed (see <see cref="Deferred"/>).</summary>
    internal static void RefuseWhenPlanned(SpecException e)
    {
        if (planning is { } d) d.First ??= e;
        else throw e;
    }

    public static ExperimentSpec Parse(string text, string file, string? fallbackName = null)
    {
        var outer = planning;
        var deferred = planning = new Deferred();
        try { return Parse(text, file, fallbackName, deferred); }
        finally { planning = outer; }
    }

    static ExperimentSpec Parse(string text, string file, string? fallbackName, Deferred deferred)
    {
        var root = Mapping(text, file) ?? throw new SpecException(file, 1, "a spec is one YAML mapping (dataset:, student:, loss:, ...); see experiments/ for examples.");
        SpecSchema.Validate(file, root, SpecSchema.RootSchema, "");
        // After the schema, which names an unknown key or a number written as a block of text more precisely.
        OnOneLine(file, root, "");

        // A misspelled method first: a grid key under the method it meant said "write that section first", of a section
        // the user wrote.
        if (Find(root, "loss") is YamlMappingNode lossSection)
            foreach (var keyNode in lossSection.Children.Keys.OfType<YamlScalarNode>().Where(k => k.Value is { } v && v != "ce" && MethodCatalogue.TryFind(v) is null))
                throw new SpecException(file, SpecSchema.Line(keyNode), $"loss.{keyNode.Value}: unknown method '{keyNode.Value}'; the catalogue has {string.Join(", ", MethodCatalogue.Names)} (see `distill methods`).");
        var grid = Find(root, "grid") as YamlMappingNode;
        var axes = grid is null ? [] : grid.Children.Select(kv => Axis(file, root, (YamlScalarNode)kv.Key, (YamlSequenceNode)kv.Value)).ToList();
        // Two keys can name one setting (a method's section is found whatever its case and blanks: loss.KD.temperature
        // is loss.kd.temperature): each run would take the last key's value and the first key's values be lost.
        foreach (var (axis, i) in axes.Select((a, i) => (a, i)))
            if (axes.Take(i).FirstOrDefault(a => ReferenceEquals(a.Parent, axis.Parent) && a.Leaf == axis.Leaf) is { } first)
                throw new SpecException(file, axis.Line, $"grid keys '{first.Key}' (line {first.Line}) and '{axis.Key}' (line {axis.Line}) both set {axis.Setting}; " +
                                                         "give its values once, in one list.");
        // Counted before expanding: every run is built and checked, so a grid of 10^12 runs would never end (and eat
        // the memory on the way) rather than fail.
        var count = axes.Aggregate(1.0, (n, a) => n * a.Values.Count);
        if (count > MaxRuns)
            throw new SpecException(file, SpecSchema.Line(grid!), $"the grid has {count.ToString("#,0", CultureInfo.InvariantCulture)} runs " +
                $"({string.Join(" × ", axes.Select(a => $"{a.Key} [{a.Values.Count}]"))}), more than the limit of {MaxRuns.ToString("#,0", CultureInfo.InvariantCulture)}; " +
                "split the sweep into several specs (e.g. one per value of its first key), or sweep fewer values.");
        CheckedAsWritten(file, root, axes, fallbackName);
        var runs = new List<PlannedRun>();
        foreach (var combination in Product(axes.Select(a => a.Values.Count).ToList()))
        {
            var chosen = axes.Select((a, i) => (a, Value: a.Values[combination[i]])).ToList();
            Experiment experiment;
            var before = deferred.First;
            try
            {
                experiment = With(root, chosen.Select(c => (c.a, c.Value)).ToList(), () =>
                {
                    SpecSchema.Validate(file, root, SpecSchema.RootSchema, "");
                    return Experiment.From(file, root, fallbackName ?? Path.GetFileNameWithoutExtension(file));
                });
                if (before is null && deferred.First is { } late && chosen.Count > 0)
                    deferred.First = new SpecException(file, late.Line, $"run {runs.Count} of the grid ({string.Join(" ", chosen.Select(c => $"{c.a.Key}={Shown(c.Value)}"))}): {late.Problem}");
            }
            // Which run: a refusal that only some grid values cause ("loss: every term has weight 0 (ce: 0; kd: weight
            // 0)") pointed at a line whose written values say otherwise.
            catch (SpecException e) when (chosen.Count > 0)
            {
                // A refusal the spec as written gives too is the spec's, not this run's: said as it is. (Asked here, not in
                // the filter: a filter runs before With's finally has put the written values back.)
                if (WrittenRefuses(e)) throw;
                throw new SpecException(file, e.Line, $"run {runs.Count} of the grid ({string.Join(" ", chosen.Select(c => $"{c.a.Key}={Shown(c.Value)}"))}): {e.Problem}");
            }
            runs.Add(new PlannedRun(runs.Count, [.. chosen.Select(c => KeyValuePair.Create(c.a.Key, Shown(c.Value)))], experiment));
        }
        bool WrittenRefuses(SpecException e)
        {
            try { With(root, [], () => Experiment.From(file, root, fallbackName ?? Path.GetFileNameWithoutExtension(file))); return false; }
            catch (SpecException written) { return written.Problem == e.Problem; }
        }
        return new ExperimentSpec
        {
            IdleKeyCheck = new(() => deferred.First ?? IdleKeyProblem(file, axes, runs, root.Children.Keys.FirstOrDefault(k => k is YamlScalarNode { Value: "teacher" }) is { } t ? SpecSchema.Line(t) : null)),
            File = file, Text = text, Name = runs[0].Experiment.Name, Nameless = Find(root, "name") is null,
            Hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(SpecSchema.ToJson(root).ToJsonString())))[..16], GridKeys = [.. axes.Select(a => a.Key)], Runs = runs,
        };
    }

    /// <summary>Spec keys that change nothing a run trains, and why: a grid over one trains identical runs.</summary>
    static readonly KeyValuePair<string, string>[] NotTrained =
        [KeyValuePair.Create("name", "the name only labels the sweep (run names, report titles, job names) and changes nothing a run trains")];

    /// <summary>A value the grid replaces in every run is still part of the spec (its hash, what a reader takes for the
    /// setting): `temperature: abc` or an unknown model there said ok. The spec as written is checked, and a refusal at
    /// the line of such a value is the spec's when the value fails with the other grid keys at their values too; one
    /// elsewhere, or one that another grid key's values resolve (a schedule's step past the written epochs, with epochs
    /// swept past it), is left to the runs.</summary>
    static void CheckedAsWritten(string file, YamlMappingNode root, IReadOnlyList<GridAxis> axes, string? fallbackName)
    {
        var written = axes.Select(a => (Axis: a, Node: Find(a.Parent, a.Leaf) as YamlScalarNode)).Where(w => w.Node is not null).ToList();
        if (written.Count == 0) return;
        var name = fallbackName ?? Path.GetFileNameWithoutExtension(file);
        SpecException? Refusal(List<(GridAxis, YamlNode)> chosen)
        {
            try { With(root, chosen, () => Experiment.From(file, root, name)); return null; }
            catch (SpecException e) { return e; }
        }
        if (Refusal([]) is not { } first || written.FirstOrDefault(w => SpecSchema.Line(w.Node!) == first.Line).Axis is not { } culprit) return;
        // The other keys at each run's values (a bounded number of them: a grid may have 100,000 runs).
        var others = axes.Where(a => a != culprit).ToList();
        foreach (var combination in Product([.. others.Select(a => a.Values.Count)]).Take(64))
            if (Refusal([.. others.Select((a, i) => (a, a.Values[combination[i]]))]) is not { } e || e.Line != first.Line) return;
        throw new SpecException(file, first.Line, $"{first.Problem.TrimEnd('.')} (the grid replaces this value in every run, but it is part of the spec: give a valid one).");
    }

    /// <summary>A grid key whose values train the same model in every run (a temperature of a term with weight 0,
    /// nesterov without momentum, step:1 against multistep:1, a batch_size past the training images) only multiplies the
    /// runs: refused, naming why it is idle. A key idle in some runs only (temperatures beside a weight of 0 and 1, a
    /// scratch baseline in the grid) is a design, and kept.</summary>
    static SpecException? IdleKeyProblem(string file, IReadOnlyList<GridAxis> axes, List<PlannedRun> runs, int? teacherLine)
    {
        var trained = runs.Select(r => r.Experiment.Trained).ToList(); // once per run, not once per run and key
        for (var i = 0; i < axes.Count; i++)
        {
            if (axes[i].Values.Count < 2) continue;
            var axis = i;
            var groups = runs.GroupBy(r => string.Join("\n", r.Values.Where((_, j) => j != axis).Select(v => v.Value)), StringComparer.Ordinal).ToList();
            if (groups.Any(g => g.Select(r => trained[r.Index]).Distinct(StringComparer.Ordinal).Count() > 1)) continue;
            var (a, b) = (groups[0].First(), groups[0].Skip(1).First());
            var why = Experiment.WhyIdle(a.Experiment, b.Experiment, axes[i].Key).DefaultIfEmpty("the other settings make it change nothing");
            return new SpecException(file, axes[i].Line,
                $"grid key '{axes[i].Key}': its values ({string.Join(", ", groups[0].Select(r => r.Values[axis].Value))}) train the same model in every run " +
                $"(runs {a.Index} and {b.Index}, ...): {string.Join("; ", why)}. Remove it from the grid, or change the setting that makes it idle.");
        }
        // A teacher whose every term adds nothing in every run (kd: {weight: 0}, kd alpha=0) trains for nothing: on the
        // whole split, hours with a real teacher. A grid that gives it a weight in some runs is an ablation, and kept.
        if (teacherLine is int line && runs.All(r => !r.Experiment.Methods.Any(m => Experiment.Idle(m) is null && m.Choice.Method.NeedsTeacher)))
        {
            var idle = runs.SelectMany(r => r.Experiment.Methods.Where(m => m.Choice.Method.NeedsTeacher).Select(m => $"{m.Choice.Method.Name}: {Experiment.Idle(m)}")).Distinct();
            return new SpecException(file, line, $"teacher: every term that uses it adds nothing ({string.Join("; ", idle)}{(runs.Count > 1 ? ", in every run" : "")}), " +
                                                 "so it would train for nothing; give one of them a weight above 0, or remove the teacher and those terms.");
        }
        return null;
    }

    /// <summary>A grid key resolved against the schema: the mapping that holds it and its values; the key's line and the
    /// setting it names in one spelling (the catalogue's method name) for errors.</summary>
    sealed record GridAxis(string Key, YamlMappingNode Parent, string Leaf, IReadOnlyList<YamlNode> Values, int Line, string Setting);

    static GridAxis Axis(string file, YamlMappingNode root, YamlScalarNode keyNode, YamlSequenceNode values)
    {
        var key = keyNode.Value ?? "";
        var line = SpecSchema.Line(keyNode);
        var parts = key.Split('.');
        if (parts[0] == "grid")
            throw new SpecException(file, line, $"grid key '{key}': the grid cannot sweep itself" +
                (parts.Length > 1 ? $"; write '{string.Join('.', parts[1..])}' (grid keys are the spec's own keys, without 'grid.')." : "."));
        // Keys that change nothing a run trains: every value would train the same runs under other labels.
        if (NotTrained.FirstOrDefault(k => k.Key == key) is { Key: not null } ignored)
            throw new SpecException(file, line, $"grid key '{key}': {ignored.Value}, so every value would train the same runs; remove it from the grid.");
        var schema = SpecSchema.RootSchema;
        YamlMappingNode parent = root;
        for (var i = 0; i < parts.Length; i++)
        {
            var sub = SpecSchema.ChildSchema(schema, parts[i]);
            var at = string.Join('.', parts[..i]);
            if (sub is null)
                throw new SpecException(file, line, $"grid key '{key}' does not exist: '{parts[i]}' is not a key of {(at.Length == 0 ? "the spec" : at)}; " +
                                                   $"valid keys: {string.Join(", ", SpecSchema.Keys(schema).Where(k => k != "grid"))}.");
            if (i == parts.Length - 1)
            {
                if (SpecSchema.IsObject(sub))
                    throw new SpecException(file, line, $"grid key '{key}' names a section; sweep one of its keys ({string.Join(", ", SpecSchema.Keys(sub).Select(k => $"{key}.{k}"))}).");
                // A value given twice (1 and 1.0 count as one) would make identical runs: most likely a typo.
                var isSwitch = parts is ["loss", var method, var parameter] && MethodCatalogue.TryFind(method) is { } found && found.Parameters.Any(p => p.Name == parameter && p.IsSwitch);
                // Names with one spelling of their own are compared in it (mlp-032 builds mlp-32; step:30 is step:30:0.1).
                Func<string, string>? spelling = key switch
                {
                    "student.model" or "teacher.model" => ModelZoo.Identity,
                    "schedule" => s => LrSchedule.Parse(s).ToString(),
                    // A method's text parameter in the spelling its settings keep (temperatures "2, 3.0" is "2,3").
                    _ when parts is ["loss", { } methodName, { } textKey] && MethodCatalogue.TryFind(methodName) is { } textual && textual.Parameters.Any(x => x.Name == textKey && x.IsText) =>
                        s => textual.Settings(new Dictionary<string, string> { [textKey] = s }).Text(textKey),
                    _ => null,
                };
                var listSpelling = parts is ["loss", { } listMethod, { } listKey] && MethodCatalogue.TryFind(listMethod) is { } lists && lists.Parameters.Any(x => x.Name == listKey && x.IsText);
                var seen = new Dictionary<string, YamlNode>();
                foreach (var v in values.Children)
                {
                    // Named here, as the grid's value: a run's label shows it as read (0), which would name the run "loss.ce=0".
                    if (v is YamlScalarNode { Style: ScalarStyle.Plain, Value: { } written } && NumberText.Underflows(written))
                        RefuseWhenPlanned(new SpecException(file, SpecSchema.Line(v), $"grid.{key} has the value {written}, too small for a number and read as 0; " +
                                                                                        "give 0 if 0 is meant, or a larger number."));
                    // A method's list in two spellings is refused since a later build: only when a sweep is planned.
                    if (!seen.TryAdd(Canonical(v, isSwitch, spelling), v))
                        (listSpelling ? RefuseWhenPlanned : (Action<SpecException>)(e => throw e))(new SpecException(file, SpecSchema.Line(v), $"grid.{key} has the value {Scalar(v)} twice (as '{Scalar(seen[Canonical(v, isSwitch, spelling)])}' on line " +
                                                                                        $"{SpecSchema.Line(seen[Canonical(v, isSwitch, spelling)])}); it would make identical runs; give each value once."));
                }
                var setting = parts is ["loss", var m, ..] && MethodCatalogue.TryFind(m) is { } known
                    ? string.Join('.', ["loss", known.Name, .. parts[2..]]) : key;
                return new GridAxis(key, parent, parts[i], [.. values.Children], line, setting);
            }
            // A method's section is found as the loss section finds it, whatever its case and blanks (`KD:` is kd):
            // asked for by its exact key, `KD:` had no 'loss.kd', and writing `kd:` too made the method twice.
            var next = parts[0] == "loss" && i == 1 ? MethodSection(parent, parts[i]) : Find(parent, parts[i]);
            var prefix = string.Join('.', parts[..(i + 1)]);
            parent = next as YamlMappingNode ?? throw new SpecException(file, line, next is null
                ? $"grid key '{key}' does not exist in this spec: it has no '{prefix}'; write that section first (the grid sweeps keys of the spec)."
                : $"grid key '{key}' does not exist in this spec: '{prefix}' is a value, not a section with keys under it; sweep '{prefix}' itself, or give a key the spec has.");
            schema = sub;
        }
        throw new UnreachableException();
    }

    /// <summary>The loss section's entry for method <paramref name="name"/>: the key written so, else the one key the
    /// catalogue takes for the same method (as the loss section reads its keys: case and blanks aside).</summary>
    static YamlNode? MethodSection(YamlMappingNode loss, string name)
    {
        if (Find(loss, name) is { } exact) return exact;
        if (MethodCatalogue.TryFind(name) is not { } wanted) return null;
        var same = loss.Children.Where(c => c.Key is YamlScalarNode { Value: { } k } && k != "ce" && MethodCatalogue.TryFind(k) == wanted).ToList();
        return same.Count == 1 ? same[0].Value : null; // two spellings of one method: the loss section names them
    }

    /// <summary>Runs <paramref name="body"/> with each axis's key set to the chosen value node (which keeps its own line,
    /// so errors point at the grid value), then puts the spec back as it was.</summary>
    static T With<T>(YamlMappingNode root, List<(GridAxis Axis, YamlNode Value)> chosen, Func<T> body)
    {
        var saved = chosen.Select(c => (c.Axis, Old: Find(c.Axis.Parent, c.Axis.Leaf))).ToList();
        try
        {
            foreach (var (axis, value) in chosen) axis.Parent.Children[new YamlScalarNode(axis.Leaf)] = value;
            return body();
        }
        finally
        {
            foreach (var (axis, old) in saved)
                if (old is null) axis.Parent.Children.Remove(new YamlScalarNode(axis.Leaf));
                else axis.Parent.Children[new YamlScalarNode(axis.Leaf)] = old;
        }
    }

    /// <summary>Every combination of indexes into lists of these sizes, the last varying fastest (one empty combination
    /// when there are no lists).</summary>
    static IEnumerable<int[]> Product(List<int> sizes)
    {
        var current = new int[sizes.Count];
        while (true)
        {
            yield return (int[])current.Clone();
            var k = sizes.Count - 1;
            while (k >= 0 && ++current[k] == sizes[k]) current[k--] = 0;
            if (k < 0) yield break;
        }
    }

    /// <summary>The YAML text as nodes (so errors can name lines): its one document's root mapping, null when it is not
    /// one mapping; invalid YAML is a <see cref="SpecException"/> naming the line. Spec files and recipe files read here.</summary>
    internal static YamlMappingNode? Mapping(string text, string file)
    {
        CheckDepth(text, file);
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e)
        {
            // YamlDotNet places "found invalid tab as indentation" at the start of the mapping it was scanning (line 1 for
            // a tab anywhere at the top level): the line to fix is the first one indented with a tab.
            var tabbed = e.Message.Contains("tab", StringComparison.OrdinalIgnoreCase)
                ? text.Split('\n').Select((l, i) => (Indent: l[..(l.Length - l.TrimStart(' ', '\t').Length)], Line: i + 1)).FirstOrDefault(x => x.Indent.Contains('\t')).Line
                : 0;
            throw new SpecException(file, tabbed > 0 ? tabbed : (int)e.Start.Line, $"not valid YAML ({e.Message.Split('\n')[0].Split("): ")[^1]}); " +
                                                                                   (tabbed > 0 ? "indent with spaces there (YAML does not allow tabs for indentation)." : "fix the syntax there."));
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this, without a position, on some unclosed flow collections ("[2" then a new key).
            throw new SpecException(file, LastToken(text), "not valid YAML after this line (an unclosed [, { or quote?); fix the syntax there.");
        }
        if (stream.Documents.Count > 1)
        {
            // A --- after the spec starts a second document (even an empty one): named at its line, where "a spec is one
            // YAML mapping" at line 1 pointed at a spec that is one.
            var lines = text.ReplaceLineEndings("\n").Split('\n');
            var from = (int)stream.Documents[0].RootNode.End.Line - 1;
            var marker = Enumerable.Range(from, Math.Max(lines.Length - from, 0)).FirstOrDefault(i => lines[i].StartsWith("---", StringComparison.Ordinal), -1);
            throw new SpecException(file, marker >= 0 ? marker + 1 : (int)stream.Documents[1].RootNode.Start.Line,
                "a second YAML document starts here (a --- line after the spec); a spec is one document: remove this line and what follows it, or move that document into a file of its own.");
        }
        return stream.Documents.Count == 1 ? stream.Documents[0].RootNode as YamlMappingNode : null;
    }

    /// <summary>The deepest nesting of lists and mappings a spec may have; a real spec has under 10.</summary>
    public const int MaxDepth = 100;

    /// <summary>Refuses YAML nested deeper than <see cref="MaxDepth"/> (`[[[[...` 50,000 deep) before it is loaded: the
    /// loader builds nodes recursively and overflowed the stack, which kills the process (exit 134). Refuses aliases there
    /// too (the spec format has none; an anchor alone is named by its key later): the loader expands every alias, so a
    /// 1 KB file of nine nested ten-fold aliases took 6 GB and two minutes before any check ran. Both on the parser's events, which it
    /// produces without recursing or expanding; invalid YAML is left for the loader to report.</summary>
    static void CheckDepth(string text, string file)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        try
        {
            while (parser.MoveNext())
                if (parser.Current is YamlDotNet.Core.Events.AnchorAlias alias)
                    throw new SpecException(file, (int)alias.Start.Line,
                        $"the alias *{alias.Value} refers to an anchor; YAML anchors and aliases are not part of the spec format: write each value out.");
                // A merge key is read as a key named "<<" (YamlDotNet's representation model does not merge), which was
                // then refused as an unknown key among the valid ones, as if it were a typo.
                else if (parser.Current is YamlDotNet.Core.Events.Scalar { Value: "<<", Style: YamlDotNet.Core.ScalarStyle.Plain } merge)
                    throw new SpecException(file, (int)merge.Start.Line,
                        "<< is a YAML merge key; merge keys, anchors and aliases are not part of the spec format: write each value out.");
                else if (parser.Current is YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart && ++depth > MaxDepth)
                    throw new SpecException(file, (int)parser.Current.Start.Line,
                        $"lists and mappings are nested more than {MaxDepth} deep here (an unclosed run of [ or {{?); a spec needs only a few levels; fix the nesting.");
                else if (parser.Current is YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd) depth--;
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException) { } // reported by the loader, with its line
    }

    /// <summary>Refuses a control character (a line break, a tab, ...) in any key or value, naming its key. The name goes
    /// into sbatch scripts, where a line break would start a command; every value goes into run labels, the plan,
    /// failed.json and collect's tables, where a line break cut an error at its first line and started a heading or
    /// a link in results.html (a fitnet layer "x\n\n# Heading"). No setting has a use for one.</summary>
    static void OnOneLine(string file, YamlNode node, string path)
    {
        switch (node)
        {
            case YamlScalarNode scalar when (scalar.Value ?? "").Any(char.IsControl):
                throw new SpecException(file, SpecSchema.Line(scalar),
                    $"{(path.Length == 0 ? "a key" : path)} has a control character (a line break, a tab, ...); give {(path == "name" ? "a name" : "it")} on one line without them.");
            case YamlMappingNode map:
                foreach (var (key, value) in map.Children)
                {
                    OnOneLine(file, key, path.Length == 0 ? "" : $"a key under {path}");
                    OnOneLine(file, value, path.Length == 0 ? Scalar(key) : $"{path}.{Scalar(key)}");
                }
                break;
            case YamlSequenceNode list:
                foreach (var item in list) OnOneLine(file, item, path);
                break;
        }
    }

    static int LastToken(string text)
    {
        var scanner = new Scanner(new StringReader(text));
        var line = 1;
        try
        {
            while (scanner.MoveNext()) line = (int)scanner.Current!.Start.Line;
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException) { }
        return line;
    }

    internal static YamlNode? Find(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    /// <summary>A grid value as the runs see it, so that two spellings of one setting count as one value: numbers in one
    /// spelling (1, 1.0 and 1e0; 0 and -0), true and false as a method switch's 1 and 0 (<paramref name="isSwitch"/>;
    /// elsewhere a boolean is no number, and the run names the error), and names in lower case (models,
    /// datasets, schedules and methods are found whatever their case: mlp-32 and MLP-32 train the same run), or in the
    /// <paramref name="spelling"/> of their own when they have one (a name it refuses is left for the run's check to name).</summary>
    static string Canonical(YamlNode node, bool isSwitch, Func<string, string>? spelling)
    {
        if (node is not YamlScalarNode) return Scalar(node);
        var text = Scalar(node).Trim();
        if (spelling is not null)
        {
            try { return spelling(text); }
            catch (ArgumentException) { }
        }
        // A number too small for a double (1e-400) is kept as written, not made "0": the method's parameters or the run's
        // checks refuse it (as 0 it switched a term off).
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var x)) return NumberText.Underflows(text) ? text : x == 0 ? "0" : NumberText.Canonical(text);
        if (isSwitch && bool.TryParse(text, out var flag)) return flag ? "1" : "0";
        return text.ToLowerInvariant();
    }

    internal static string Scalar(YamlNode node) => node is YamlScalarNode s ? s.Value ?? "" : node.ToString();

    /// <summary>A grid value as run labels, plans and records show it: a number as the spec's hash reads it (1.0 and 1,
    /// 1e-3 and 0.001 alike), since an equal hash is the same sweep; as written, a finished run of "1.0" was set aside
    /// as another run's under "1" and trained again.</summary>
    static string Shown(YamlNode node) =>
        node is YamlScalarNode && SpecSchema.ToJson(node) is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? NumberText.Canonical(Scalar(node).Trim()).Replace("E+", "e", StringComparison.Ordinal).Replace('E', 'e') // 1e30, not .NET's 1E+30
            : Scalar(node);
}

/// <summary>A teacher: architecture, epochs, seed and optimizer.</summary>
public sealed record TeacherSpec(string Model, int Epochs, int Seed, OptimizerSpec Optimizer);

/// <summary>One run's settings, typed: what <see cref="SweepRunner"/> trains.</summary>
public sealed record Experiment
{
    public required string Name { get; init; }
    public required string Dataset { get; init; }
    public int? TrainSize { get; init; }
    public int? TeacherTrainSize { get; init; }
    public int? TestSize { get; init; }
    public int DataSeed { get; init; }
    public TeacherSpec? Teacher { get; init; }
    public required string Student { get; init; }
    public double? StudentDropout { get; init; }
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 128;
    public required OptimizerSpec Optimizer { get; init; }
    public required LrSchedule Schedule { get; init; }
    public Augmentation Augment { get; init; } = Augmentation.None;
    public int Seed { get; init; }
    public double CeWeight { get; init; } = 1;
    public required IReadOnlyList<(MethodChoice Choice, double Weight)> Methods { get; init; }

    /// <summary>Why a method term adds nothing to the loss ("weight 0", "alpha=0"), or null when it does.</summary>
    internal static string? Idle((MethodChoice Choice, double Weight) m) =>
        m.Weight == 0 ? "weight 0" : m.Choice.Method.AddsNothing(m.Choice.Settings);

    /// <summary>What this run trains, the settings it ignores left out: the methods that add nothing, the teacher when no
    /// term left uses it, the schedule as its rate at each epoch, the batch size as the most images a batch can hold.
    /// Two runs with the same text train the same model.</summary>
    internal string Trained
    {
        get
        {
            var split = DatasetCatalog.Get(Dataset).SplitSizes;
            var active = Methods.Where(m => Idle(m) is null).ToList();
            string Rates(int epochs) => Schedule.ToString() == "cosine" ? "cosine"
                : string.Join(",", Enumerable.Range(0, epochs).Select(e => Schedule.Factor(e, 1, epochs).ToString("R", CultureInfo.InvariantCulture)));
            string Batches(int images) => Math.Min(BatchSize, images).ToString(CultureInfo.InvariantCulture);
            var teacherImages = TeacherTrainSize ?? split.Train;
            var teacher = Teacher is { } t && active.Any(m => m.Choice.Method.NeedsTeacher)
                ? $"{t.Model} {t.Epochs} {t.Seed} {t.Optimizer} {teacherImages} {Batches(teacherImages)} {Rates(t.Epochs)}" : "none";
            var images = TrainSize ?? split.Train;
            return string.Join(" | ", Dataset, images, TestSize ?? split.Test, DrawsSubsets ? DataSeed : "-", teacher, Student, StudentDropout?.ToString("R", CultureInfo.InvariantCulture) ?? "-",
                Epochs, Batches(images), Optimizer, Rates(Epochs), Augment, Seed, CeWeight.ToString("R", CultureInfo.InvariantCulture),
                string.Join(" + ", active.Select(m => $"{m.Weight.ToString("R", CultureInfo.InvariantCulture)}·{m.Choice.Record}")));
        }
    }

    /// <summary>Whether the data seed draws anything: a subset smaller than its split (the teacher's only when a term uses
    /// the teacher). A subset of the whole split is the split in order, whatever the seed.</summary>
    bool DrawsSubsets
    {
        get
        {
            var split = DatasetCatalog.Get(Dataset).SplitSizes;
            var teacherUsed = Teacher is not null && Methods.Any(m => Idle(m) is null && m.Choice.Method.NeedsTeacher);
            return TrainSize < split.Train || TestSize < split.Test || (teacherUsed && TeacherTrainSize < split.Train);
        }
    }

    /// <summary>Why two runs with the same <see cref="Trained"/>, which differ in grid key <paramref name="key"/>, train
    /// the same model, as far as it can be named.</summary>
    internal static IEnumerable<string> WhyIdle(Experiment a, Experiment b, string key)
    {
        foreach (var idle in a.Methods.Concat(b.Methods).Where(m => Idle(m) is not null).DistinctBy(m => m.Choice.Method.Name))
            if (key.StartsWith($"loss.{idle.Choice.Method.Name}.", StringComparison.OrdinalIgnoreCase))
                yield return $"loss.{idle.Choice.Method.Name} adds nothing to the loss ({Idle(idle)}), so its other settings are unused";
        if (key == "dataset.seed" && !a.DrawsSubsets)
            yield return "dataset.seed draws the subsets, and each subset given is its whole split (taken in order, whatever the seed)";
        if (key == "batch_size")
            yield return $"batch_size {a.BatchSize} and {b.BatchSize} are both at least the {a.TrainSize ?? DatasetCatalog.Get(a.Dataset).SplitSizes.Train} training images: one batch of them per epoch";
        if (key == "schedule")
            yield return $"schedules {a.Schedule} and {b.Schedule} set the same learning rate in each of the {NumberText.Count(a.Epochs, "epoch")}";
        if (key.EndsWith(".nesterov", StringComparison.Ordinal) && (key.StartsWith("teacher.", StringComparison.Ordinal) ? a.Teacher?.Optimizer : a.Optimizer) is { Momentum: 0 })
            yield return "nesterov does nothing with momentum 0";
        if ((key.StartsWith("teacher.", StringComparison.Ordinal) || key == "dataset.teacher_train_size") && !a.Methods.Any(m => Idle(m) is null && m.Choice.Method.NeedsTeacher))
            yield return "no term that uses the teacher has a weight above 0, so the teacher's settings are unused";
    }

    /// <summary>The loss as written in run records: "1·ce + 0.9·kd:temperature=8".</summary>
    public string Loss => string.Join(" + ", new[] { $"{NumberText.Short(CeWeight)}·ce" }.Concat(Methods.Select(m => $"{NumberText.Short(m.Weight)}·{m.Choice.Label}")));

    internal static Experiment From(string file, YamlMappingNode root, string fallbackName)
    {
        YamlMappingNode? Section(YamlMappingNode m, string key) => ExperimentSpec.Find(m, key) as YamlMappingNode;
        JsonNode? Value(YamlMappingNode? m, string key) => m is not null && ExperimentSpec.Find(m, key) is { } n ? SpecSchema.ToJson(n) : null;
        int? Int(YamlMappingNode? m, string key) => Value(m, key) is { } v ? SpecSchema.AsInt(v) : null;
        double? Number(YamlMappingNode? m, string key) => Value(m, key) is { } v ? SpecSchema.AsDouble(v) : null;
        string? Text(YamlMappingNode? m, string key) => Value(m, key)?.GetValue<string>();

        OptimizerSpec Optimizer(YamlMappingNode? o, string path)
        {
            var name = Text(o, "name") ?? "sgd";
            var wd = Number(o, "weight_decay") ?? 5e-4;
            // Adam has no momentum or Nesterov switch: taken and dropped, a grid over them would train identical runs.
            if (name == "adam" && new[] { "momentum", "nesterov" }.FirstOrDefault(k => ExperimentSpec.Find(o!, k) is not null) is { } sgdOnly)
                throw new SpecException(file, SpecSchema.Line(ExperimentSpec.Find(o!, sgdOnly)!),
                    $"{path}.{sgdOnly}: adam has no {sgdOnly} (it is sgd only) and would ignore it; remove it, or use {path}.name: sgd.");
            return name == "adam"
                ? OptimizerSpec.Adam(Number(o, "lr") ?? 1e-3, weightDecay: wd)
                : OptimizerSpec.Sgd(Number(o, "lr") ?? 0.05, Number(o, "momentum") ?? 0.9, Value(o, "nesterov")?.GetValue<bool>() ?? true, wd);
        }

        var data = Section(root, "dataset")!;
        var teacher = Section(root, "teacher");
        var student = Section(root, "student")!;
        // Names are checked here, with the line of the value (a grid's included), rather than when a run loads the data
        // or builds the model: a bad student would otherwise fail only after the teacher trained.
        string Checked(YamlMappingNode section, string path, Action<string> check)
        {
            var node = ExperimentSpec.Find(section, path.Split('.')[^1])!;
            var name = Text(section, path.Split('.')[^1])!;
            try { check(name); }
            catch (ArgumentException e)
            {
                var message = ErrorText.WithoutParameter(e);
                throw new SpecException(file, SpecSchema.Line(node), $"{path}: {message}");
            }
            return name;
        }
        var datasetName = Checked(data, "dataset.name", n => DatasetCatalog.Get(n));
        // The catalogue knows each split's size: a subset larger than its split would fail only when the run loads the
        // data, after the teacher trained.
        var dataset = DatasetCatalog.Get(datasetName);
        foreach (var (key, split, size) in new[] { ("train_size", "train", dataset.SplitSizes.Train), ("teacher_train_size", "train", dataset.SplitSizes.Train),
                     ("test_size", "test", dataset.SplitSizes.Test) })
            if (Int(data, key) is int asked && asked > size)
                throw new SpecException(file, SpecSchema.Line(ExperimentSpec.Find(data, key)!),
                    string.Create(CultureInfo.InvariantCulture, $"dataset.{key}: {asked:N0} images, but {dataset.Title}'s {split} split holds {size:N0}; give 1 to {size:N0}, or leave it out for all."));
        // Sized for the dataset against the zoo's cap, not this machine's memory: a sweep may run elsewhere (a cluster),
        // and each run's ModelZoo.Create checks the memory of the machine it runs on.
        void Sized(string model, double? dropout) =>
            ModelZoo.CheckFits(model, dataset.Channels, dataset.Classes, new ModelOptions { ImageSize = dataset.ImageSize.Height, Dropout = dropout }, long.MaxValue);
        // The student's dropout with its model: a ResNet refuses it, named at the dropout's line when that is what is wrong.
        var studentName = Checked(student, "student.model", m => Sized(m, null));
        if (Number(student, "dropout") is { } studentDropout)
            try { Sized(studentName, studentDropout); }
            catch (ArgumentException e)
            {
                var message = ErrorText.WithoutParameter(e);
                ExperimentSpec.RefuseWhenPlanned(new SpecException(file, SpecSchema.Line(ExperimentSpec.Find(student, "dropout")!), $"student.dropout: {message}"));
            }
        var teacherName = teacher is null ? null : Checked(teacher, "teacher.model", m => Sized(m, null));
        var scheduleNode = ExperimentSpec.Find(root, "schedule");
        LrSchedule schedule;
        try { schedule = LrSchedule.Parse(Text(root, "schedule") ?? "cosine"); }
        catch (ArgumentException e) { throw new SpecException(file, SpecSchema.Line(scheduleNode!), $"schedule: {e.Message}"); }
        // A step at or past a run's end never changes the rate, so a grid over such schedules trains identical runs; as
        // `train --schedule` and the recipes refuse it.
        var epochs = Int(root, "epochs") ?? 10;
        int? teacherEpochs = teacher is null ? null : Int(teacher, "epochs") ?? Training.TrainOptions.DefaultTeacherEpochs;
        foreach (var (key, count) in new[] { ("epochs", (int?)epochs), ("teacher.epochs", teacherEpochs) })
            if (count is int n && schedule.EpochsNeeded > n)
                throw new SpecException(file, SpecSchema.Line(scheduleNode ?? root),
                    $"schedule {schedule}: it changes the learning rate at the start of epoch {schedule.EpochsNeeded}, which the {NumberText.Count(n, "epoch")} of {key} never {(n == 1 ? "reaches" : "reach")}; " +
                    $"give steps within {NumberText.Count(n, "epoch")}, or use constant or cosine.");

        var loss = Section(root, "loss")!;
        var methods = new List<(MethodChoice, double)>();
        var seen = new Dictionary<string, YamlNode>();
        foreach (var (keyNode, body) in loss.Children.Where(c => ((YamlScalarNode)c.Key).Value != "ce"))
        {
            var name = ((YamlScalarNode)keyNode).Value!;
            var map = (YamlMappingNode)body;
            try
            {
                var method = MethodCatalogue.Find(name);
                // The catalogue finds names whatever their case and blanks, so `KD:` and `kd:` are one method twice,
                // which a run cannot build (and which of the two settings was meant is not ours to guess).
                if (seen.TryGetValue(method.Name, out var first))
                    throw new SpecException(file, SpecSchema.Line(keyNode), $"loss: {method.Name} is given twice, at lines {SpecSchema.Line(first)} " +
                                                                            $"('{((YamlScalarNode)first).Value}') and {SpecSchema.Line(keyNode)} ('{name}'); keep one.");
                seen[method.Name] = keyNode;
                if (method.Name == "scratch") throw new ArgumentException("'scratch' is cross-entropy alone: write loss: {ce: 1} instead.");
                if (method.NotInSpecs is { } why) throw new ArgumentException($"{method.Name}: cannot be run from a spec: {why}");
                // A method with a parameter of its own named weight (FitNets' 100, NST, PKT, SP, CRD, ...) takes `weight`
                // as that parameter, as `train --method NAME --set weight=W` does; a scale on top of it would leave the
                // parameter out of reach and multiply the two. Other methods' `weight` scales their terms.
                var ownWeight = method.Parameters.Any(p => p.Name == "weight");
                // true/false is a switch's 1/0; for a number it would be a silent 1 or 0 (temperature: true trains at T = 1).
                string Setting(string key, YamlNode node)
                {
                    // The catalogue reads "4" as 4, but the spec's hash does not: the same sweep would be refused as
                    // another spec's when written once quoted and once not (as ce: "0.1" is refused by the schema).
                    if (method.Parameters.FirstOrDefault(p => p.Name == key) is { IsText: false } numeric && SpecSchema.QuotedHint(node, ["number"]) is { Length: > 0 } hint)
                        throw new SpecException(file, SpecSchema.Line(node), $"loss.{name}.{key} must be {numeric.ANumber}, not '{ExperimentSpec.Scalar(node)}'{hint}.");
                    if (SpecSchema.ToJson(node) is not JsonValue v || !v.TryGetValue<bool>(out var flag)) return ExperimentSpec.Scalar(node);
                    var p = method.Parameters.FirstOrDefault(p => p.Name == key);
                    if (p is null || p.IsSwitch) return flag ? "1" : "0"; // an unknown key: the settings name it with the valid ones
                    throw new SpecException(file, SpecSchema.Line(node), $"loss.{name}.{key} must be {(p.IsText ? "text" : p.ANumber)}, not {(flag ? "true" : "false")}; " +
                                                                        "true and false are only for switches (0 or 1).");
                }
                var parameters = map.Children.Where(p => ownWeight || ((YamlScalarNode)p.Key).Value != "weight").ToDictionary(
                    p => ((YamlScalarNode)p.Key).Value!, p => Setting(((YamlScalarNode)p.Key).Value!, p.Value));
                methods.Add((new MethodChoice(method, method.Settings(parameters)), ownWeight ? 1 : Number(map, "weight") ?? 1));
            }
            catch (ArgumentException e)
            {
                // The line of the value a grid set when the message names one of its parameters, else the method's.
                var culprit = map.Children.FirstOrDefault(p => e.Message.Contains($"'{((YamlScalarNode)p.Key).Value}'", StringComparison.Ordinal)
                                                               || e.Message.Contains($" {((YamlScalarNode)p.Key).Value}=", StringComparison.Ordinal)).Value;
                var message = e.Message.StartsWith($"{name}:", StringComparison.OrdinalIgnoreCase) ? e.Message : $"{name}: {e.Message}";
                throw new SpecException(file, SpecSchema.Line(culprit ?? keyNode), $"loss.{message}");
            }
        }
        // Terms of weight 0 are left out of the loss: with none left the first backward fails, after the teacher trained.
        var ceWeight = Number(loss, "ce") ?? 1;
        static string? Silent((MethodChoice Choice, double Weight) m) => Idle(m) is { } why ? $"{m.Choice.Method.Name}: {why}" : null;
        if (ceWeight == 0 && methods.All(m => Silent(m) is not null))
            throw new SpecException(file, SpecSchema.Line(root.Children.Keys.First(k => ((YamlScalarNode)k).Value == "loss")),
                $"loss: every term has weight 0 ({string.Join("; ", methods.Select(Silent).Prepend("ce: 0"))}), so nothing would train; give ce or a method a weight above 0.");
        // Only a teacher trains on teacher_train_size: without one it is ignored, and a grid over it trains identical runs.
        if (teacher is null && ExperimentSpec.Find(data, "teacher_train_size") is { } teacherSize)
            throw new SpecException(file, SpecSchema.Line(teacherSize),
                "dataset.teacher_train_size: there is no teacher to train on it (no teacher section), so it would be ignored; remove it, or add a teacher and a method that uses it.");
        // The data seed draws the subsets: with no subset size it draws nothing, and a grid over it trains identical runs.
        if (ExperimentSpec.Find(data, "seed") is { } dataSeed && new[] { "train_size", "test_size", "teacher_train_size" }.All(k => ExperimentSpec.Find(data, k) is null))
            throw new SpecException(file, SpecSchema.Line(dataSeed),
                "dataset.seed: it draws the subsets of train_size, test_size and teacher_train_size, and none is given (the whole splits are used), so it would change nothing; remove it, or give a subset size.");
        // A teacher no term uses is never trained: a grid over its settings would train identical runs.
        if (teacher is not null && !methods.Any(m => m.Item1.Method.NeedsTeacher))
            throw new SpecException(file, SpecSchema.Line(root.Children.Keys.First(k => ((YamlScalarNode)k).Value == "teacher")),
                $"teacher: the loss ({(methods.Count == 0 ? "ce" : string.Join(", ", methods.Select(m => m.Item1.Method.Name)))}) uses no teacher, so it would not be trained; remove the teacher section, or add a method that uses it (e.g. kd).");
        var needing = methods.Where(m => m.Item1.Method.NeedsTeacher).Select(m => m.Item1.Method.Name).ToList();
        if (needing.Count > 0 && teacher is null)
            throw new SpecException(file, SpecSchema.Line(loss), $"loss uses {string.Join(", ", needing)}, which {(needing.Count == 1 ? "needs" : "need")} a teacher; add teacher: {{model: cnn, epochs: 6}}.");

        // Blank, it would title reports and name cluster jobs with nothing: the file name is the default for that.
        if (ExperimentSpec.Find(root, "name") is { } blankNode && string.IsNullOrWhiteSpace(Text(root, "name")))
            throw new SpecException(file, SpecSchema.Line(blankNode), "name is blank; give the experiment a name, or leave the key out to name it after the file.");

        return new Experiment
        {
            Name = Text(root, "name") ?? fallbackName,
            Dataset = datasetName,
            TrainSize = Int(data, "train_size"),
            TeacherTrainSize = Int(data, "teacher_train_size"),
            TestSize = Int(data, "test_size"),
            DataSeed = Int(data, "seed") ?? 0,
            Teacher = teacher is null ? null
                : new TeacherSpec(teacherName!, teacherEpochs!.Value, Int(teacher, "seed") ?? 0, Optimizer(Section(teacher, "optimizer"), "teacher.optimizer")),
            Student = studentName,
            StudentDropout = Number(student, "dropout"),
            Epochs = epochs,
            BatchSize = Int(root, "batch_size") ?? 128,
            Optimizer = Optimizer(Section(root, "optimizer"), "optimizer"),
            Schedule = schedule,
            Augment = Text(root, "augment") == "crop-flip" ? Augmentation.Cifar : Augmentation.None,
            Seed = Int(root, "seed") ?? 0,
            CeWeight = ceWeight,
            Methods = methods,
        };
    }
}
