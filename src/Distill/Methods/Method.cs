using System.Globalization;
using Distill.Data;
using Distill.Losses;
using Distill.Models;
using static TorchSharp.torch;

namespace Distill.Methods;

/// <summary>What a method transfers: the teacher's logits, its intermediate features, or relations between samples.</summary>
public enum MethodKind { Baseline, Logit, Feature, Relation }

/// <summary>Where a method was published.</summary>
public sealed record Paper(string Authors, int Year, string Venue, string Title)
{
    public override string ToString() => $"{Authors} {Year} ({Venue})";
}

/// <summary>
/// One parameter of a method: a number with its default and valid range (bounds inclusive unless marked open), or a
/// text value (a layer name, a list of temperatures) when <see cref="Text"/> holds its default.
/// </summary>
/// <remarks><paramref name="ZeroOff"/>: 0 is taken too, as "off", below a range that starts above it (kd's temperature_end:
/// 0, or a temperature from 0.01).</remarks>
public sealed record MethodParameter(string Name, string Description, double Default = 0, double Min = double.NegativeInfinity,
    double Max = double.PositiveInfinity, bool MinOpen = false, string? Text = null, bool Whole = false, bool ZeroOff = false, bool MaxOpen = false)
{
    /// <summary>A switch: 0 (off, the default) or 1.</summary>
    public static MethodParameter Switch(string name, string description) => new(name, description, 0, 0, 1, Whole: true);

    /// <summary>The temperatures any method accepts. Papers use 1 to 20; outside this range float32 logits divided by T
    /// overflow (T → 0) or the T²-scaled gradient vanishes, so a run would fail with NaN or silently learn nothing.</summary>
    public const double MinTemperature = 0.01, MaxTemperature = 1000;

    /// <summary>A temperature, in [<see cref="MinTemperature"/>, <see cref="MaxTemperature"/>].</summary>
    public static MethodParameter Temperature(string name, string description, double @default) => new(name, description, @default, MinTemperature, MaxTemperature);

    public bool IsText => Text is not null;

    /// <summary>A parameter made by <see cref="Switch"/>: the one kind a spec may give as true or false.</summary>
    public bool IsSwitch => Whole && Min == 0 && Max == 1;

    public string DefaultText => Text ?? Format(Default);

    public string Range => IsText ? "text" : IsSwitch ? "0 or 1"
        : $"{(ZeroOff ? "0 or " : "")}{(MinOpen ? "(" : "[")}{Format(Min)}, {Format(Max)}{(double.IsPositiveInfinity(Max) || MaxOpen ? ")" : "]")}{(Whole ? ", whole" : "")}";

    /// <summary>What a value must be, for messages: "a number in [0, 1]", "0 or a number in [0.01, 1000]".</summary>
    public string ANumber => ZeroOff ? $"0 or a number in {Range["0 or ".Length..]}" : $"a number in {Range}";

    public bool Accepts(double v) => double.IsFinite(v) && ((ZeroOff && v == 0) || ((MinOpen ? v > Min : v >= Min) && (MaxOpen ? v < Max : v <= Max) && (!Whole || v == Math.Floor(v))));

    internal static string Format(double v) => double.IsPositiveInfinity(v) ? "∞" : double.IsNegativeInfinity(v) ? "−∞"
        // float32's largest, the bound of a list of weights, printed as 39 digits.
        : Math.Abs(v) >= 1e15 ? v.ToString("0.###e0", System.Globalization.CultureInfo.InvariantCulture)
        : NumberText.Short(v);
}

/// <summary>
/// A method's parameters after defaults and overrides (<c>--set key=value</c>, a spec file's values): every key is one
/// the method declares and every number is inside its range, or construction fails with a message that says which
/// key, the valid keys or the valid range.
/// </summary>
public sealed partial class MethodSettings
{
    readonly Method method;
    readonly Dictionary<string, string> values;
    readonly HashSet<string> given;

    internal MethodSettings(Method method, IReadOnlyDictionary<string, string> overrides)
    {
        this.method = method;
        values = method.Parameters.ToDictionary(p => p.Name, p => p.DefaultText);
        given = [.. overrides.Keys];
        foreach (var (key, value) in overrides)
        {
            var p = method.Parameters.FirstOrDefault(p => p.Name == key)
                ?? throw new ArgumentException(method.Parameters.Count == 0
                    ? $"{method.Name}: unknown parameter '{key}'; {method.Name} has no parameters."
                    : $"{method.Name}: unknown parameter '{key}'; its parameters are {string.Join(", ", method.Parameters.Select(p => $"{p.Name} (default {p.DefaultText})"))}.");
            if (!p.IsText)
            {
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                    throw new ArgumentException($"{method.Name}: {key}={value} is not a number; {key} takes {(p.IsSwitch ? "0 or 1" : p.ANumber)}.");
                if (!p.Accepts(v)) throw new ArgumentException($"{method.Name}: {key}={value} is out of range; {key} must be {(p.Range[0] is '[' or '(' ? "in " + p.Range : p.IsSwitch ? p.Range : p.ANumber)}.");
                // The losses run in float32: a value it cannot hold (beyond its largest, below its smallest normal
                // number) becomes infinity or zero there; so does one below double's, which parses as 0.
                if (Math.Abs(v) > float.MaxValue || (v != 0 && Math.Abs(v) < 1.1754944e-38) || NumberText.Underflows(value))
                    throw new ArgumentException($"{method.Name}: {key}={value} is beyond float32 (0, or 1.2e-38 to 3.4e38 in size), which the losses compute in; give a value in that range.");
            }
            // Numbers are kept in one spelling (0.80, 8e-1 → 0.8): run records, labels and cache keys compare them as text.
            values[key] = p.IsText ? Spelled(value) : NumberText.Canonical(value);
        }
    }

    /// <summary><see cref="Spelled"/> inside a recorded method or run name ("mlkd temperatures=2, 3.0 weight=0.2",
    /// "mlp-32 (mlkd:temperatures=2, 3.0)"): spaces after commas dropped, each number after '=' or ',' canonical.</summary>
    internal static string RespellLists(string text) =>
        ListNumber().Replace(SpaceAfterComma().Replace(text, ","), m => NumberText.Canonical(m.Value));

    [System.Text.RegularExpressions.GeneratedRegex(@",\s+")]
    private static partial System.Text.RegularExpressions.Regex SpaceAfterComma();

    [System.Text.RegularExpressions.GeneratedRegex(@"(?<=[=,])[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?=[,\s)]|$)")]
    private static partial System.Text.RegularExpressions.Regex ListNumber();

    /// <summary>A list in one spelling too (temperatures=2, 3.0 → 2,3): a --resume typed with other spaces or digits was
    /// refused as a changed setting. A list with an empty item is kept as given, for <see cref="Items"/> to name.</summary>
    static string Spelled(string text)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (text.Trim().Length == 0) return "";
        return items.Contains("") ? text
            // An item too small for a double is kept as written, for Numbers to refuse (made "0", it passed as a weight of 0).
            : string.Join(",", items.Select(i => double.TryParse(i, NumberStyles.Float, CultureInfo.InvariantCulture, out _) && !NumberText.Underflows(i) ? NumberText.Canonical(i) : i));
    }

    public double this[string name] => double.Parse(Text(name), CultureInfo.InvariantCulture);

    public string Text(string name) => values.TryGetValue(name, out var v) ? v
        : throw new InvalidOperationException($"{method.Name} reads parameter '{name}', which it does not declare.");

    public bool Flag(string name) => this[name] != 0;

    /// <summary>True when <paramref name="name"/> was given (--set, a spec's key), even at its default value; false when
    /// the default stands in for it. For a default set for one use (FitNets' weight 100, for conv hints) that a method
    /// refuses to apply to another.</summary>
    public bool Given(string name) => given.Contains(name);

    /// <summary>A comma-separated text setting as its items (layers, teachers); an empty text is an empty list, an
    /// empty item (<c>a,,b</c>, a trailing comma) an error rather than dropped, as it is most likely a typo.</summary>
    /// <param name="distinct">Refuse an item given twice: a layer named twice (layers=stage1,stage1) would count
    /// twice, as a repeated temperature would (<see cref="Numbers"/>). kd-multi refuses repeated teachers itself, by model (MLP-032 is mlp-32).</param>
    public string[] List(string name, bool distinct = false)
    {
        var items = Items(name);
        if (distinct && items.GroupBy(i => i).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"{method.Name}: {name}={Text(name)}: {twice.Key} is given {twice.Count()} times; give each once.");
        return items;
    }

    string[] Items(string name)
    {
        var text = Text(name);
        if (text.Trim().Length == 0) return [];
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (!items.Contains("")) return items;
        if (items.Any(i => i.Length > 0))
            throw new ArgumentException($"{method.Name}: {name}={text} has an empty item; separate the items by single commas, e.g. {name}={string.Join(",", items.Where(i => i.Length > 0).Distinct())}.");
        // Nothing but commas: the items give no example (it read "e.g. layers=."), so the parameter's own default does.
        var p = method.Parameters.First(p => p.Name == name);
        var empty = p.Description.IndexOf("empty = ", StringComparison.Ordinal) is var at and >= 0 ? p.Description[(at + "empty = ".Length)..] : null;
        throw new ArgumentException($"{method.Name}: {name}={text} has only empty items; " + (p.DefaultText.Length > 0 || empty is null
            ? $"give items separated by single commas, e.g. {name}={p.DefaultText}."
            : $"leave it empty ({name}=) for {empty}, or give items separated by single commas."));
    }

    internal static string[] Split(string text) => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A comma-separated list of numbers (e.g. MLKD's temperatures, multi-teacher weights), each in
    /// [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="distinct"/> refuses repeats (a temperature
    /// given twice would count twice).</summary>
    public double[] Numbers(string name, double min = double.Epsilon, double max = float.MaxValue, bool distinct = false)
    {
        var parts = Items(name); // repeats are the caller's to refuse (distinct): equal weights are fine
        var result = new double[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out result[i]) || !(result[i] >= min && result[i] <= max)
                || NumberText.Underflows(parts[i])) // not 0, though it parses as 0
                throw new ArgumentException($"{method.Name}: {name}={Text(name)}: '{parts[i]}' is not a number in " +
                                            $"[{MethodParameter.Format(min)}, {MethodParameter.Format(max)}]; give such numbers separated by commas.");
        if (distinct && result.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"{method.Name}: {name}={Text(name)}: {MethodParameter.Format(twice.Key)} is given {twice.Count()} times; give each once.");
        return result.Length > 0 ? result : throw new ArgumentException($"{method.Name}: {name} is empty; give at least one number.");
    }

    /// <summary>The settings that differ from the defaults, as <c>key=value</c> (for run names and tables).</summary>
    public IReadOnlyDictionary<string, string> Overrides =>
        values.Where(kv => method.Parameters.First(p => p.Name == kv.Key).DefaultText != kv.Value).ToDictionary();

    public IReadOnlyDictionary<string, string> All => values;
}

/// <summary>
/// What a method needs to know to build its objective: the pair of models, each model's named features (computed on
/// first use from a fresh model of that architecture: building it draws from the seeded generator, so a regressor built
/// after it is initialised from the seed alone), the batch size and the transfer set's size and classes.
/// </summary>
public sealed class MethodSetup(string student, string? teacher, ImageDataset data, int batchSize)
{
    IReadOnlyList<(string Name, long[] Shape)>? studentFeatures, teacherFeatures;

    public string Student => student;
    public string? Teacher => teacher;
    public int BatchSize => batchSize;
    public long TrainCount => data.Train.Count;

    /// <summary>Images of the transfer set held out for validation (--validation): never in a batch.</summary>
    public int ValidationCount { get; init; }

    /// <summary>The run's epochs, when the caller knows them (null: unknown, and the checks that count steps are skipped).</summary>
    public int? Epochs { get; init; }

    /// <summary>The run's optimisation steps, counted as the trainer counts them (a last, smaller batch is a step), when
    /// <see cref="Epochs"/> is known: a method whose schedule gives a term no step can refuse it before anything trains.</summary>
    public long? TotalSteps => Epochs is int e ? (TrainCount - ValidationCount + batchSize - 1) / batchSize * e : null;

    /// <summary>The batch the run trains on: the smaller of --batch-size and the training images left after the
    /// validation hold-out (a batch size above them gave pkt another scale and crd a memory estimate for batches that
    /// never happen).</summary>
    public int EffectiveBatch => (int)Math.Min(batchSize, TrainCount - ValidationCount);

    /// <summary>Refuses batches of fewer than <paramref name="least"/> samples for a relational method (what it
    /// <paramref name="does"/>): with fewer its term is 0 every step, and the run was the student alone under the
    /// method's name (pkt at --batch-size 1 gave scratch's weights, bit for bit). The batch is the smaller of
    /// --batch-size and the training images.</summary>
    public void RequireBatch(string method, int least, string does, string term = "its term would be 0 every step")
    {
        var batch = EffectiveBatch;
        if (batch >= least) return;
        throw new ArgumentException($"{method} {does}: batches of {batch} give it nothing to compare ({term}); {BatchFix(least)}.");
    }

    /// <summary>How to train on batches of at least <paramref name="least"/> samples (no final stop): the fix names what
    /// cut the batch, as too few training images are fixed by --train-size, which `train --recipe` takes (it refuses
    /// --batch-size, whose fix it was given).</summary>
    public string BatchFix(int least)
    {
        var images = TrainCount - ValidationCount;
        return images < least
            ? $"give --train-size {least + ValidationCount} or more{(batchSize < least ? $" and --batch-size {least} or more" : "")}: a batch holds at most the training images{(ValidationCount > 0 ? $" left after the --validation {ValidationCount} hold-out" : "")}"
            : $"give --batch-size {least} or more";
    }

    public int NumClasses => data.NumClasses;
    public ImageDataset Data => data;

    /// <summary>The run's seed, for methods that draw their own randomness (e.g. CRD's negatives).</summary>
    public int Seed { get; init; }

    /// <summary>Trains (or fetches from the cache) a teacher of the named architecture, for methods with several
    /// teachers; null where the caller cannot train teachers.</summary>
    public Func<string, DistillModel>? TrainedTeacher { get; init; }

    public IReadOnlyList<(string Name, long[] Shape)> StudentFeatures => studentFeatures ??= Features(student);

    public IReadOnlyList<(string Name, long[] Shape)> TeacherFeatures => teacherFeatures ??=
        Features(teacher ?? throw new ArgumentException("This method needs a teacher model; name one (e.g. --teacher cnn)."));

    /// <summary>A student feature's shape for one image; an unknown name is an error listing the model's feature names.</summary>
    public long[] StudentShape(string feature) => Shape(student, StudentFeatures, feature);

    public long[] TeacherShape(string feature) => Shape(teacher!, TeacherFeatures, feature);

    /// <summary>The layers of a comma-separated setting, each checked on both models, or <paramref name="fallback"/> when it is empty.</summary>
    public IReadOnlyList<string> Layers(string text, Func<IReadOnlyList<string>> fallback)
    {
        var names = MethodSettings.Split(text);
        if (names.Length == 0) return fallback();
        foreach (var n in names)
        {
            StudentShape(n);
            TeacherShape(n);
        }
        return names;
    }

    /// <summary>Checks that <paramref name="layer"/> is a feature map of the same height and width on both models, as
    /// methods comparing maps position by position need (attention transfer, NST, FitNets' 1×1 regressor); else an
    /// error naming both shapes and the layers that would fit, found before any teacher trains rather than at the
    /// first step after it.</summary>
    /// <param name="setting">The method's parameter that names the layers, for the suggestion.</param>
    /// <param name="flatToo">Also accept a flat feature ([B, D]) on both (FitNets' linear regressor), the logits among them.</param>
    /// <param name="flatNeeds">What a flat layer needs besides its name (FitNets' "weight=0.1"), said wherever a message
    /// offers one: following the advice met a second refusal, or a run that diverged.</param>
    public void CheckSameMap(string method, string setting, string layer, bool flatToo = false, string? flatNeeds = null)
    {
        long[] s = Shape(student, StudentFeatures, layer, flatNeeds), t = Shape(teacher!, TeacherFeatures, layer, flatNeeds);
        if (Fits(s, t, flatToo)) return;
        // The logits are flat on every model: "no layer fits" was said of a pair whose logits fit.
        var fits = StudentFeatures.Where(f => TeacherFeatures.Any(g => g.Name == f.Name && Fits(f.Shape, g.Shape, flatToo))).Select(f => f.Name)
            .Concat(flatToo ? [TermSupport.Logits] : []).ToList();
        var example = fits.FirstOrDefault(f => !IsFlat(f)) ?? fits.FirstOrDefault();
        var fitting = example is not null ? $"Layers of this pair that fit: {string.Join(", ", fits)} (e.g. {setting}={example}{(IsFlat(example) && flatNeeds is not null ? $" and {flatNeeds}" : "")})."
                                          : $"No layer of {student} and {teacher} fits; pair models whose stages match in size.";
        // A flat feature (an MLP's hidden layer) has no height and width at all: comparing sizes would blame a mismatch.
        if (!flatToo && (s.Length == 2 || t.Length == 2))
        {
            var (flat, shape, features) = s.Length == 2 ? (student, s, StudentFeatures) : (teacher!, t, TeacherFeatures);
            var what = $"{method}: {layer} of {flat} is a flat vector of {shape[1]} values, not a feature map";
            // A CNN's logits are flat too: "cnn-4 is fully connected" sent the user off to change a model that has maps.
            throw new ArgumentException(features.Any(f => f.Shape.Length == 4)
                ? $"{what}, and {method} compares feature maps position by position. {fitting}"
                : $"{what}: {flat} is fully connected and has no spatial feature maps, which {method} compares position by position. " +
                  "Use convolutional models for both (e.g. cnn-8 and cnn).");
        }
        throw new ArgumentException($"{method}: {layer} is {Dims(s)} on {student} and {Dims(t)} on {teacher}; {method} needs " +
                                    (flatToo ? "a flat feature on both, or " : "") + "feature maps of the same height and width on both. " + fitting);
    }

    /// <summary>True when <paramref name="feature"/> is flat ([B, D]) on both models: the logits, an MLP's hidden layer, a CNN's fc.</summary>
    public bool IsFlat(string feature) => StudentShape(feature).Length == 2 && TeacherShape(feature).Length == 2;

    /// <summary>Refuses a method's default weight, set for feature maps (FitNets' 100, SP's 3000), on the flat layers
    /// among <paramref name="layers"/> unless the weight was given: the error names each flat one with its sizes, says
    /// <paramref name="why"/> (the sentence after "logits (10 values on cnn-4, 10 on cnn-8) is a flat NOUN") and offers
    /// <paramref name="flatWeight"/>, or leaving the flat ones out when other layers remain.</summary>
    /// <param name="noun">What the method calls a layer it uses ("hint", "layer").</param>
    public void RefuseDefaultWeightOnFlat(string method, MethodSettings settings, IReadOnlyList<string> layers, string noun, string why, string flatWeight)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(layers);
        if (settings.Given("weight") || layers.Where(IsFlat).ToList() is not { Count: > 0 } flat) return;
        throw new ArgumentException($"{method}: {string.Join(" and ", flat.Select(l => $"{l} ({StudentShape(l)[1]} values on {student}, {TeacherShape(l)[1]} on {teacher})"))} " +
                                    $"{(flat.Count == 1 ? $"is a flat {noun}" : $"are flat {noun}s")}{why}. Give the weight, e.g. {flatWeight}" +
                                    (flat.Count < layers.Count ? $" (it weighs every {noun}), or leave {string.Join(" and ", flat)} out." : "."));
    }

    static bool Fits(long[] s, long[] t, bool flatToo) =>
        (s.Length == 4 && t.Length == 4 && s[2] == t[2] && s[3] == t[3]) || (flatToo && s.Length == 2 && t.Length == 2);

    static string Dims(long[] shape) => shape.Length <= 1 ? "a scalar" : string.Join("×", shape.Skip(1));

    /// <summary>The layer named on both models, or each model's last feature (its embedding before the classifier) when empty.</summary>
    public (string Student, string Teacher) Embeddings(string layer)
    {
        var l = layer.Trim();
        if (l.Length == 0) return (Last(student, StudentFeatures), Last(teacher!, TeacherFeatures));
        // One layer: a list passed the check item by item and then failed as one name, after the teacher had trained.
        if (l.Contains(',', StringComparison.Ordinal))
            throw new ArgumentException($"layer={l}: this setting names one layer, not a list; give one of them (e.g. layer={l.Split(',')[0].Trim()}).");
        Layers(l, () => []);
        return (l, l);
    }

    static string Last(string model, IReadOnlyList<(string Name, long[] Shape)> all) =>
        all.Count > 0 ? all[^1].Name : throw new ArgumentException($"{model} has no features; name a layer or use logits.");

    /// <summary>The number of values of one sample's feature of this shape (the shape of one image's output, batch first).</summary>
    public static long Size(long[] shape) => shape.Skip(1).Aggregate(1L, (a, b) => a * b);

    /// <summary>The features both models have (by name), in the student's order, with the student's shapes.</summary>
    internal List<(string Name, long[] Shape)> SharedFeatures() => [.. StudentFeatures.Where(f => TeacherFeatures.Any(g => g.Name == f.Name))];

    /// <summary>True for a stage feature's name ("stage1", "stage2", ...).</summary>
    internal static bool IsStage(string feature) => feature.StartsWith("stage", StringComparison.Ordinal);

    /// <summary>Stage features both models have ("stage1", "stage2", ...), in the student's order.</summary>
    public IReadOnlyList<string> SharedStages()
    {
        var stages = SharedFeatures().Select(f => f.Name).Where(IsStage).ToList();
        return stages.Count > 0 ? stages
            : throw new ArgumentException($"{student} and {teacher} share no 'stage' feature for a feature method; " +
                                          $"{student} has {Names(StudentFeatures)}, {teacher} has {Names(TeacherFeatures)}." + FlatOnly());
    }

    /// <summary>Why a fully connected model (an MLP: only flat hidden layers) has no stages, for the error above.</summary>
    string FlatOnly()
    {
        var flat = new[] { (student, StudentFeatures), (teacher!, TeacherFeatures) }
            .Where(m => m.Item2.All(f => f.Shape.Length == 2)).Select(m => m.Item1).Distinct().ToList();
        return flat.Count == 0 ? "" : $" {string.Join(" and ", flat)} {(flat.Count == 1 ? "is" : "are")} fully connected, with no spatial feature maps; " +
                                      "use convolutional models (e.g. cnn-8 and cnn).";
    }

    long[] Shape(string model, IReadOnlyList<(string Name, long[] Shape)> all, string feature, string? flatNeeds = null) =>
        feature == TermSupport.Logits ? [1, NumClasses]
        : all.FirstOrDefault(f => f.Name == feature).Shape
          ?? throw new ArgumentException($"{model} has no feature '{feature}'; its features are {Names(all)} (or logits)." + SharedNames(flatNeeds));

    /// <summary>A layer setting names one feature for both models: "mlp-32 has no feature 'stage2'; its features are
    /// hidden1", then with hidden1 "cnn-8 has no feature 'hidden1'", sent the user round a circle: say what the two
    /// share, and what a flat one needs (<paramref name="flatNeeds"/>), or the advice led to a run that diverged.</summary>
    string SharedNames(string? flatNeeds)
    {
        if (teacher is null) return "";
        var shared = SharedFeatures();
        if (shared.Count == 0)
            return $" A layer names a feature of both models: {student} and {teacher} share none, so give logits{(flatNeeds is null ? "" : $" and {flatNeeds} (a flat feature)")}, " +
                   "or pair models with the same features (e.g. cnn-8 and cnn).";
        var flat = shared.Where(f => f.Shape.Length == 2 && TeacherFeatures.First(g => g.Name == f.Name).Shape.Length == 2).Select(f => f.Name).Append(TermSupport.Logits).ToList();
        return $" A layer names a feature of both models: {student} and {teacher} share {string.Join(", ", shared.Select(f => f.Name))} (or logits)" +
               (flatNeeds is null ? "." : $"; the flat ones ({string.Join(", ", flat)}) need {flatNeeds}.");
    }

    static string Names(IReadOnlyList<(string Name, long[] Shape)> all) => all.Count == 0 ? "none" : string.Join(", ", all.Select(f => f.Name));

    IReadOnlyList<(string Name, long[] Shape)> Features(string model)
    {
        using var scope = NewDisposeScope();
        using var m = ModelZoo.Create(model, data.Channels, data.NumClasses, new ModelOptions { ImageSize = data.Height });
        m.eval();
        using var _ = no_grad();
        return [.. m.call(zeros(1, data.Channels, data.Height, data.Width)).Features.Select(f => (f.Name, f.Value.shape))];
    }
}

/// <summary>
/// One distillation method: its name, paper, kind and parameters, the objective it trains with, and the reference
/// functions (<c>distill reference</c> names) where PyTorch vectors exist. A method is one file: subclass this and
/// the <see cref="MethodCatalogue"/> finds it.
/// </summary>
public abstract class Method
{
    public abstract string Name { get; }
    public abstract string Summary { get; }
    public abstract Paper? Paper { get; }
    public abstract MethodKind Kind { get; }
    public virtual IReadOnlyList<MethodParameter> Parameters => [];

    /// <summary>True when the method distils from a teacher (every method but the scratch baseline and self-distillation).</summary>
    public virtual bool NeedsTeacher => true;

    /// <summary>True when the method trains teachers of its own (<see cref="MethodSetup.TrainedTeacher"/>), which
    /// `train --teacher-epochs` and `--teacher-train-size` then set.</summary>
    public virtual bool TrainsOwnTeachers => false;

    /// <summary>False for set-ups that change the pair itself (several teachers, no teacher), which the one-pair comparison cannot run.</summary>
    public virtual bool InComparison => true;

    /// <summary>The published result the method is usually quoted by, for results tables.</summary>
    public virtual string? PaperResult => null;

    /// <summary>Where our default weights differ from the reference implementation's, and why.</summary>
    public virtual string? WeightNote => null;

    /// <summary>The whole training objective (cross-entropy included) for these settings.</summary>
    public abstract Objective Build(MethodSettings s, MethodSetup setup);

    /// <summary>What a run with these settings should know but is not refused for (a setting far from the paper's
    /// proportions that still trains), or null. <c>train</c> prints it as a warning before anything trains.</summary>
    public virtual string? Caution(MethodSettings s, MethodSetup setup) => null;

    /// <summary>Reference functions by their <c>distill reference</c> name.</summary>
    public virtual IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References => new Dictionary<string, Func<LossArguments, Tensor>>();

    /// <summary>The parameters that weight this method's distillation terms in its objective (a term of weight 0 is left
    /// out of the loss): its own <c>weight</c> when it declares one. With every one of them 0 the method adds nothing, and
    /// a spec whose every term adds nothing is refused at load: the run's first backward would have nothing to
    /// differentiate.</summary>
    public virtual IReadOnlyList<string> TermWeights => Parameters.Any(p => p.Name == "weight") ? ["weight"] : [];

    /// <summary>The settings that switch every distillation term of this method off ("alpha=0", "beta=0, gamma=0"), or
    /// null when some term is on (or the method has none to switch, as scratch). Such a run trains the student on its
    /// cross-entropy alone: a spec refuses it when the cross-entropy is off too, `train` warns that it is scratch.</summary>
    public string? AddsNothing(MethodSettings s) =>
        TermWeights is { Count: > 0 } w && w.All(p => s[p] == 0) ? string.Join(", ", w.Select(p => $"{p}=0")) : null;

    /// <summary>Why a spec file cannot run this method (it needs what a spec has no key for), else null.</summary>
    public virtual string? NotInSpecs => null;

    /// <summary>The checks of <see cref="Build"/> that need no models (a list parses, its numbers are in range), run when
    /// the settings are made: a spec's load or <c>--set</c> then fails on them, not a run after its teacher trained.
    /// Override it with the same parsing <see cref="Build"/> does, not a copy of it.</summary>
    protected virtual void Check(MethodSettings s) { }

    public MethodSettings Settings(IReadOnlyDictionary<string, string>? overrides = null)
    {
        var settings = new MethodSettings(this, overrides ?? new Dictionary<string, string>());
        Check(settings);
        return settings;
    }
}
