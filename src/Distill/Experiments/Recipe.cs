using System.Globalization;
using Distill.Data;
using Distill.Losses;
using Distill.Methods;
using Distill.Models;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Experiments;

/// <summary>How much compute a recipe spends: <c>Smoke</c> seconds (tests; still real data and real training),
/// <c>Quick</c> minutes on a 2-core CPU (the numbers in docs/results.md), <c>Full</c> paper scale (meant for a GPU).</summary>
public enum Budget { Smoke, Quick, Full }

/// <summary>The one parser of budget names, for the CLI and the notebooks' <c>budget</c> parameter.</summary>
public static class Budgets
{
    /// <summary>The budget's name as <see cref="Parse"/> takes it and result rows record it ("smoke", "quick", "full").
    /// A results cell labels its rows with its config's budget, not the notebook's <c>budget</c> variable: changed and
    /// the results cell run again, the variable labelled the config's numbers with another budget.</summary>
    public static string Name(this Budget budget) => budget.ToString().ToLowerInvariant();

    /// <summary>"smoke", "quick" or "full" (any case); anything else is an error that lists them.</summary>
    public static Budget Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "smoke" => Budget.Smoke,
        "quick" => Budget.Quick,
        "full" => Budget.Full,
        _ => throw new ArgumentException($"budget '{name}': expected smoke, quick or full."),
    };
}

/// <summary>
/// What every recipe shares: the teacher and student architectures (<see cref="ModelZoo"/> names), how many images
/// each trains on, epochs, optimizers, seeds and where output goes. Each recipe's <c>For(Budget)</c> fills these for
/// its paper at a budget; change any of them with <c>with { ... }</c>.
/// </summary>
public abstract record RecipeConfig : ICheckedSettings
{
    public Budget Budget { get; init; } = Budget.Quick;

    /// <summary>False for a config whose settings come from elsewhere than a budget (a sweep's spec): no budget is recorded.</summary>
    internal virtual bool HasBudget => true;
    /// <summary>Student seeds: every student run is repeated per seed, and summaries are mean ± std over them.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0];
    /// <summary>Seed of the teacher (trained once and shared by every student seed).</summary>
    public int TeacherSeed { get; init; }
    public string Device { get; init; } = "auto";

    /// <summary>The dataset of every run, by <see cref="Datasets.Load"/> name; <see cref="LoadData"/> loads it. The
    /// <c>Full</c> budgets name the papers' datasets (MNIST, CIFAR-10, CIFAR-100), the others Fashion-MNIST.</summary>
    public string Dataset { get; init; } = "fashion-mnist";

    public string Teacher { get; init; } = "cnn";
    /// <summary>Regularisation of the teacher model (Hinton et al.'s MNIST teacher: dropout and 2-pixel jitter).</summary>
    public ModelOptions TeacherModel { get; init; } = new();
    public string Student { get; init; } = "mlp-800-800";
    /// <summary>Dropout for the student (null: the family's default).</summary>
    public double? StudentDropout { get; init; }

    /// <summary>Training images the teacher sees (null: the whole training split).</summary>
    public int? TeacherTrainSize { get; init; }
    /// <summary>Training images the students see, the transfer set (null: the whole training split).</summary>
    public int? TransferSize { get; init; }
    /// <summary>Test images evaluated after every epoch (null: the whole test split).</summary>
    public int? TestSize { get; init; }
    /// <summary>Seed of the random subsets above.</summary>
    public int DataSeed { get; init; }

    public int TeacherEpochs { get; init; } = 6;
    public int StudentEpochs { get; init; } = 40;
    public int BatchSize { get; init; } = 128;
    public OptimizerSpec TeacherOptimizer { get; init; } = OptimizerSpec.Sgd(0.05);
    public OptimizerSpec StudentOptimizer { get; init; } = OptimizerSpec.Sgd(0.05);
    public LrSchedule Schedule { get; init; } = LrSchedule.Cosine();
    /// <summary>Augmentation of the teacher's and students' training images (CIFAR: <see cref="Augmentation.Cifar"/>).</summary>
    public Augmentation Augment { get; init; } = Augmentation.None;

    /// <summary>Each run writes metrics.csv, TensorBoard events and its checkpoint to OutDir/&lt;run&gt;/seed&lt;n&gt;.</summary>
    public string? OutDir { get; init; }
    /// <summary>Continue runs from their checkpoints in <see cref="OutDir"/> (finished runs are read back, not retrained).</summary>
    public bool Resume { get; init; }
    /// <summary>Folder of the teacher cache for this config (null: <see cref="TeacherStore.Directory"/>).</summary>
    public string? TeacherCache { get; init; }
    /// <summary>The teacher's <see cref="OutDir"/> is one folder shared by many processes (a sweep's tasks): the one that
    /// trains the teacher writes its run there, and the others load it from <see cref="TeacherCache"/> without touching it.</summary>
    internal bool SharedTeacherFolder { get; init; }
    /// <summary>What continues a stopped run, in the caller's terms (<see cref="TrainOptions.ResumeAdvice"/>): a sweep's
    /// teacher and student are resumed by `sweep run`, which has no --resume.</summary>
    internal string? ResumeAdvice { get; init; }
    /// <summary>Clear run folders that hold other runs instead of refusing them.</summary>
    public bool Force { get; init; }
    /// <summary>Stops every run at its next step (Ctrl-C, SIGTERM).</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>Per-epoch lines of every run.</summary>
    public TextWriter? Log { get; init; }
    public bool? Progress { get; init; }
    /// <summary>Keep every seed's trained student in <see cref="ExperimentResult.EverySeed"/> (07-deployment exports each
    /// one), not only the first seed's; the caller then owns them.</summary>
    public bool KeepEverySeed { get; init; }

    /// <summary>Loads <see cref="Dataset"/> (a clear error naming the install command when it is missing).</summary>
    public ImageDataset LoadData()
    {
        var data = Datasets.Load(Dataset);
        if (data.Warning is { } warning) Log?.WriteLine($"warning: {warning}");
        return data;
    }

    internal virtual bool TrainsTeacher => true;

    /// <summary>Settings of this record the recipe never reads (its recipe-file keys), and why: a recipe file that sets
    /// one is refused naming it, where the value was taken without a word, and the recipe's schema leaves them out.</summary>
    internal virtual (IReadOnlyList<string> Keys, string Why) NotUsed => ([], "");

    /// <summary>A value twice in a list of <paramref name="key"/> (2 and 2.0 alike): it trained the same runs again and
    /// showed them as two points, or (a group) weighed one term twice.</summary>
    protected static IEnumerable<(string Key, string Message)> Repeats<T>(string key, IReadOnlyList<T> values, Func<T, string> shown)
    {
        for (var k = 0; k < values.Count; k++)
            if (values.Take(k).Contains(values[k]))
                yield return ($"{key}[{k}]", $"{key} has {shown(values[k])} twice: give each value once.");
    }

    /// <summary>
    /// Settings a run would refuse, or run wrongly, as (key as the recipe file writes it, message starting with that
    /// key): what `train` and spec files refuse. <see cref="RecipeFile"/> applies it where a file is loaded, so a run
    /// and `spec check` refuse the same values; <see cref="CheckOverrides"/> where a caller changes a loaded config. A
    /// problem of two settings names both, comma-separated ("schedule,student_epochs"), so either can be blamed. The
    /// catalogue knows the dataset's split sizes and image shape, so this needs no data.
    /// </summary>
    public virtual IEnumerable<(string Key, string Message)> Problems()
    {
        foreach (var (key, value) in new[] { ("teacher_epochs", TeacherEpochs), ("student_epochs", StudentEpochs), ("batch_size", BatchSize) })
            if (value < 1) yield return (key, $"{key} = {value}: give at least 1.");
        if (Seeds.Count == 0) yield return ("seeds", "seeds is empty: give at least one seed, e.g. [0].");
        for (var k = 0; k < Seeds.Count; k++)
            if (Seeds[k] < 0) yield return ($"seeds[{k}]", $"seeds[{k}] = {Seeds[k]} is negative: seeds are 0 or more.");
            else if (Seeds.Take(k).Contains(Seeds[k])) yield return ($"seeds[{k}]", $"seeds has {Seeds[k]} twice: give each seed once (a repeat trains the same runs again).");
        foreach (var (key, value) in new[] { ("teacher_seed", TeacherSeed), ("data_seed", DataSeed) })
            if (value < 0) yield return (key, $"{key} = {value} is negative: seeds are 0 or more.");
        foreach (var (key, o) in new[] { ("teacher_optimizer", TeacherOptimizer), ("student_optimizer", StudentOptimizer) })
        {
            // Written so NaN fails each test: the scan for non-finite numbers below does not look inside the optimizer.
            if (!(o.LearningRate > 0 && double.IsFinite(o.LearningRate))) yield return ($"{key}.learning_rate", $"{key}.learning_rate = {NumberText.Short(o.LearningRate)}: give a finite number above 0.");
            if (!(o.Momentum is >= 0 and <= 1)) yield return ($"{key}.momentum", $"{key}.momentum = {NumberText.Short(o.Momentum)}: give a number in [0, 1].");
            if (!(o.WeightDecay >= 0 && double.IsFinite(o.WeightDecay))) yield return ($"{key}.weight_decay", $"{key}.weight_decay = {NumberText.Short(o.WeightDecay)}: give a finite number, 0 or more.");
            // What the optimizers refuse when they are built, which for the student is after the teacher trained.
            if (o.Kind == OptimizerKind.Sgd && o.Nesterov && o.Momentum == 0)
                yield return ($"{key}.momentum", $"{key}.momentum = 0 with Nesterov momentum on (the default), which needs a momentum above 0: add nesterov: false, or give a momentum.");
            if (o.Kind == OptimizerKind.Adam)
                foreach (var (beta, value) in new[] { ("beta1", o.Beta1), ("beta2", o.Beta2) })
                    if (!(value is >= 0 and < 1)) yield return ($"{key}.{beta}", $"{key}.{beta} = {NumberText.Short(value)}: give a number in [0, 1).");
        }
        foreach (var (key, dropout) in new[] { ("teacher_model.dropout", TeacherModel.Dropout), ("teacher_model.input_dropout", TeacherModel.InputDropout), ("student_dropout", StudentDropout) })
            if (dropout is { } p && !(p is >= 0 and < 1))
                yield return (key, $"{key} = {NumberText.Short(p)}: a dropout probability is in [0, 1).");
        // Augmentation.Enabled reads a negative padding as no crop: the file asked for one and trained without it.
        if (Augment.CropPadding < 0) yield return ("augment.crop_padding", $"augment.crop_padding = {Augment.CropPadding}: give a padding of 0 (no crop) or more pixels.");
        if (TeacherModel.Jitter < 0) yield return ("teacher_model.jitter", $"teacher_model.jitter = {TeacherModel.Jitter}: give a shift of 0 or more pixels.");
        if (!(TeacherModel.InputNoise >= 0 && double.IsFinite(TeacherModel.InputNoise)))
            yield return ("teacher_model.input_noise", $"teacher_model.input_noise = {NumberText.Short(TeacherModel.InputNoise)}: give a finite standard deviation, 0 or more.");
        // A step past the end never changes the rate (the run trains at a constant one), as `train --schedule` refuses.
        // A recipe that trains no teacher (born-again's generation 0 trains for student_epochs) has no teacher_epochs to
        // blame: it was blamed, and `train --teacher-epochs` is refused for such a recipe.
        foreach (var (key, epochs) in TrainsTeacher ? new[] { ("teacher_epochs", TeacherEpochs), ("student_epochs", StudentEpochs) } : [("student_epochs", StudentEpochs)])
            if (epochs >= 1 && Schedule.EpochsNeeded > epochs)
                yield return ($"schedule,{key}", $"schedule {Schedule}: it changes the learning rate at the start of epoch {Schedule.EpochsNeeded}, which the {NumberText.Count(epochs, "epoch")} of " +
                                          $"{key} never {(epochs == 1 ? "reaches" : "reach")}; give steps within {NumberText.Count(epochs, "epoch")}, or use constant or cosine.");
        // A file refuses a value that is not a number where it reads it; a config changed in code is refused here.
        foreach (var p in GetType().GetProperties())
        {
            var key = RecipeFile.Snake(p.Name);
            var value = p.GetValue(this);
            if (value is double d && !double.IsFinite(d)) yield return (key, $"{key} = {NumberText.Short(d)}: give a finite number.");
            if (value is IReadOnlyList<double> list)
                for (var k = 0; k < list.Count; k++)
                    if (!double.IsFinite(list[k])) yield return ($"{key}[{k}]", $"{key}[{k}] = {NumberText.Short(list[k])}: give a finite number.");
        }
        var (data, unknown) = Catalogued(() => DatasetCatalog.Get(Dataset));
        if (data is null) { yield return ("dataset", $"dataset: {unknown}."); yield break; }
        foreach (var (key, size, split, count) in new[] { ("teacher_train_size", TeacherTrainSize, "train", data.SplitSizes.Train),
                     ("transfer_size", TransferSize, "train", data.SplitSizes.Train), ("test_size", TestSize, "test", data.SplitSizes.Test) })
            if (size < 1 || size > count)
                yield return (key, string.Create(CultureInfo.InvariantCulture, $"{key} = {size}: {data.Title}'s {split} split holds {count:N0}; give 1 to {count:N0}, or ~ for all of it."));
        // A padding as large as the image lets a crop fall wholly in the padding: blank training images.
        var side = Math.Min(data.ImageSize.Height, data.ImageSize.Width);
        if (Augment.CropPadding >= side)
            yield return ("augment.crop_padding", $"augment.crop_padding = {Augment.CropPadding}: {data.Title}'s images are {data.ImageSize.Height}×{data.ImageSize.Width}, " +
                                                  $"and a padding of {side} or more lets a crop miss the image entirely; give 0 to {side - 1} (CIFAR's recipe pads 4).");
        foreach (var (key, model, options) in new[] { ("teacher", Teacher, TeacherModel), ("student", Student, new ModelOptions { Dropout = StudentDropout }) })
            if (ModelProblem(model, data, options) is { } bad)
                yield return (key, $"{key}: {bad}");
    }

    /// <summary>Why <paramref name="model"/> cannot be built for <paramref name="data"/> (unknown, too large for the zoo), or null.
    /// Sized against the zoo's cap, not this machine's memory (ModelZoo.Create checks that where the run trains).</summary>
    private protected static string? ModelProblem(string model, DatasetInfo data, ModelOptions options) =>
        Catalogued(() => ModelZoo.CheckFits(model, data.Channels, data.Classes, options with { ImageSize = data.ImageSize.Height }, long.MaxValue)).Error;

    /// <summary>
    /// Refuses this config when a caller's changes to a checked one (the CLI's flags, the notebooks' parameters) make one
    /// of <see cref="Problems"/>: the same rules as a recipe file, so `--epochs 100` cannot slip past a schedule that
    /// `student_epochs: 100` would fail. <paramref name="given"/> maps each setting changed (its recipe-file key) to the
    /// flag or parameter as given ("--epochs 100"), which starts the message of a problem it is part of.
    /// </summary>
    public void CheckOverrides(IReadOnlyDictionary<string, string> given)
    {
        ArgumentNullException.ThrowIfNull(given);
        if (Problems().FirstOrDefault() is not ({ } key, { } message)) return;
        var keys = key.Split(',');
        var blamed = keys.FirstOrDefault(k => given.ContainsKey(k.Split('.', '[')[0]));
        if (blamed is null) throw new ArgumentException(message);
        var cause = given[blamed.Split('.', '[')[0]];
        // The epochs changed, the schedule not: the schedule's own fix ("give steps within N epochs") is one the caller
        // cannot make (`train --recipe` refuses --schedule), the epochs' is. The cause ends with its value
        // ("--epochs 100", "epochs = 100"), which the fix replaces.
        if (keys is ["schedule", _] && blamed != "schedule")
            message = $"the recipe's schedule {Schedule} changes the learning rate at the start of epoch {Schedule.EpochsNeeded}, which a run of {NumberText.Count(blamed == "teacher_epochs" ? TeacherEpochs : StudentEpochs, "epoch")} never reaches; " +
                      $"give {cause[..(cause.LastIndexOf(' ') + 1)]}{Schedule.EpochsNeeded} or more.";
        throw new ArgumentException($"{cause}: {message}");
    }

    /// <summary>KD's temperatures and soft weights: (1 − α) weighs the cross-entropy, so an α outside [0, 1] makes a
    /// term negative and the loss runs to minus infinity (`train --alpha` refuses it; a recipe trained it), and a
    /// temperature outside KD's range is what its loss refuses only once the teacher has trained.</summary>
    private protected static IEnumerable<(string Key, string Message)> KdProblems(IEnumerable<(string Key, double Value)> temperatures, IEnumerable<(string Key, double Value)> alphas) =>
        temperatures.Where(t => double.IsFinite(t.Value) && t.Value is < Methods.MethodParameter.MinTemperature or > Methods.MethodParameter.MaxTemperature)
            .Select(t => (t.Key, $"{t.Key} = {NumberText.Short(t.Value)}: a KD temperature is in [{NumberText.Short(Methods.MethodParameter.MinTemperature)}, {NumberText.Short(Methods.MethodParameter.MaxTemperature)}]."))
        .Concat(alphas.Where(a => double.IsFinite(a.Value) && a.Value is < 0 or > 1)
            .Select(a => (a.Key, $"{a.Key} = {NumberText.Short(a.Value)}: the soft-target weight α is in [0, 1] ((1 − α) weighs the cross-entropy).")));

    /// <summary>Each value of a list setting with its key, <c>temperatures[2]</c>.</summary>
    private protected static IEnumerable<(string Key, double Value)> Each(string key, IReadOnlyList<double> values) => values.Select((v, k) => ($"{key}[{k}]", v));

    /// <summary>The catalogue's answer, or its refusal's message (without " (Parameter ...)").</summary>
    private protected static (T? Value, string? Error) Catalogued<T>(Func<T> lookUp)
    {
        try { return (lookUp(), null); }
        catch (ArgumentException e) { return (default, ErrorText.WithoutParameter(e)); }
    }
}

/// <summary>The notebooks' parameters cell applied to a recipe's settings.</summary>
public static class RecipeParameters
{
    /// <summary>
    /// <paramref name="seeds"/>: comma-separated student seeds ("" keeps the budget's); <paramref name="epochs"/>: student
    /// epochs (0 keeps the budget's); <paramref name="teacherSeed"/>: seed of the teacher. Progress goes to
    /// <paramref name="log"/> as per-epoch lines.
    /// </summary>
    public static T WithParameters<T>(this T config, string seeds = "", int epochs = 0, int teacherSeed = 0, TextWriter? log = null)
        where T : RecipeConfig
    {
        // Said as the parameter it is, with the fix: .NET's "epochs ('-3') must be a non-negative value ... Actual value
        // was -3." named neither the notebook's parameter nor what 0 means.
        if (epochs < 0)
            throw new ArgumentOutOfRangeException(nameof(epochs), epochs, $"epochs = {epochs}: give the student's epochs (1 or more), or 0 to keep the budget's ({config.StudentEpochs}).");
        var parsed = string.IsNullOrWhiteSpace(seeds) ? config.Seeds : ParseSeeds(seeds);
        // "with" clones the record's runtime type, so the recipe's own settings (temperatures, groups, ...) are kept.
        var changed = config with
        {
            Seeds = parsed,
            StudentEpochs = epochs > 0 ? epochs : config.StudentEpochs,
            TeacherSeed = teacherSeed,
            Log = log ?? config.Log,
            Progress = log is null ? config.Progress : false,
        };
        // What the recipe file would refuse (a schedule past the new epochs, a negative seed), named by the parameter.
        var given = new Dictionary<string, string> { ["teacher_seed"] = $"teacherSeed = {teacherSeed}" };
        if (!string.IsNullOrWhiteSpace(seeds)) given["seeds"] = $"seeds = \"{seeds}\"";
        if (epochs > 0) given["student_epochs"] = $"epochs = {epochs}";
        changed.CheckOverrides(given);
        return changed;
    }

    /// <summary>"0,1,2" → [0, 1, 2]; anything else is an error that shows the expected form.</summary>
    public static int[] ParseSeeds(string seeds)
    {
        // Empty items are refused, not dropped: "1,,2" or ",3," is a typo that trained other seeds than meant.
        var parts = seeds.Split(',', StringSplitOptions.TrimEntries);
        var parsed = parts.Select(p => int.TryParse(p, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : (int?)null).ToArray();
        if (parsed.Length == 0 || parsed.Any(v => v is null))
            throw new ArgumentException($"seeds \"{seeds}\" is not a comma-separated list of integers (e.g. \"0,1,2\"); leave it empty for the budget's seeds.", nameof(seeds));
        if (parsed.Distinct().Count() != parsed.Length) throw new ArgumentException($"seeds \"{seeds}\" repeats a seed.", nameof(seeds));
        return [.. parsed.Select(v => v!.Value)];
    }
}

/// <summary>What every recipe returns: one row per run (name, seed, best/last accuracy, parameters) and every run's history.</summary>
public abstract class ExperimentResult
{
    public RunTable Runs { get; } = new();
    /// <summary>Full per-epoch histories, for learning curves.</summary>
    public List<TrainResult> Trainings { get; } = [];
    /// <summary>The teacher the students learned from (reuse it in another recipe with <c>teacher:</c>).</summary>
    public DistillModel? TeacherModel { get; internal set; }
    /// <summary>The trained students of the first seed, by run name (for attention maps, latency, inspection).</summary>
    public Dictionary<string, DistillModel> Students { get; } = [];
    /// <summary>Every seed's trained student, by run name and seed, when the config sets <see cref="RecipeConfig.KeepEverySeed"/>.</summary>
    public Dictionary<(string Run, int Seed), DistillModel> EverySeed { get; } = [];

    public RunSummary this[string name] => Runs[name];

    internal void Keep(TrainResult r)
    {
        Trainings.Add(r);
        Runs.Add(r);
    }

    public override string ToString() => Runs.ToString();
}

/// <summary>The plumbing the recipes share: subsets, models, options, teacher training. Every run goes through <see cref="Trainer"/>.</summary>
static class Recipe
{
    /// <summary>Every recipe's first step: a config changed with <c>with { ... }</c> gets the checks a recipe file's
    /// gets, before anything trains (an empty seed list trained the teacher alone, a NaN α failed after it).</summary>
    public static T Checked<T>(ImageDataset data, T config) where T : RecipeConfig
    {
        ArgumentNullException.ThrowIfNull(data);
        if (config.Problems().FirstOrDefault() is (_, { } message))
            throw new ArgumentException(message, nameof(config));
        // Data of another catalogue dataset than the config names trained without a word, and the runs' records and the
        // notebooks' result rows (built from config.Dataset) named one that was never used; the sizes were checked
        // against the config's. A dataset of the user's own (a name the catalogue lacks) is theirs to name.
        var given = data.Name.EndsWith("-coarse", StringComparison.Ordinal) ? data.Name[..^"-coarse".Length] : data.Name;
        if (DatasetCatalog.All.Any(d => d.Name == given) && !string.Equals(given, DatasetCatalog.Get(config.Dataset).Name, StringComparison.Ordinal))
            throw new ArgumentException($"the data is {data.Name} and the config's Dataset is {config.Dataset}, which its records and results would name; " +
                                        $"load the config's with config.LoadData(), or set Dataset = \"{given}\" in the config.", nameof(data));
        // Both sized against this machine's memory before the teacher trains (the student was refused only after it).
        foreach (var model in (config.TrainsTeacher ? new[] { config.Teacher, config.Student } : [config.Student]).Distinct())
            ModelZoo.CheckFits(model, data);
        return config;
    }

    public static ImageDataset TeacherSet(ImageDataset data, RecipeConfig c) => data.Subset(c.TeacherTrainSize, c.TestSize, c.DataSeed);
    public static ImageDataset TransferSet(ImageDataset data, RecipeConfig c) => data.Subset(c.TransferSize, c.TestSize, c.DataSeed);

    /// <summary>A model initialised from <paramref name="seed"/> (the global generator is seeded here).</summary>
    public static DistillModel Model(string name, ImageDataset data, int seed, double? dropout = null) =>
        Model(name, data, seed, new ModelOptions { Dropout = dropout });

    public static DistillModel Model(string name, ImageDataset data, int seed, ModelOptions options)
    {
        using (manual_seed(seed)) { }
        return ModelZoo.Create(name, data.Channels, data.NumClasses, options with { ImageSize = data.Height });
    }

    /// <summary>SGD as RepDistiller and the AT code use it on CIFAR: momentum 0.9 (not Nesterov), weight decay 5e-4.</summary>
    public static OptimizerSpec PaperSgd(double lr) => OptimizerSpec.Sgd(lr, momentum: 0.9, nesterov: false, weightDecay: 5e-4);

    /// <param name="method">The catalogue method whose objective the run trains: recorded with all its parameters, so
    /// runs whose objectives print alike (kd and kd+ls, "0.1·ce + 0.9·kd") have different records and a resume with a
    /// changed parameter is refused.</param>
    public static TrainOptions Options(RecipeConfig c, string run, int seed, int epochs, OptimizerSpec optimizer, MethodChoice? method = null) => new()
    {
        Name = run,
        Seed = seed,
        Epochs = epochs,
        BatchSize = c.BatchSize,
        Device = c.Device,
        Optimizer = optimizer,
        Schedule = c.Schedule,
        Augment = c.Augment,
        OutDir = c.OutDir is null ? null : Path.Combine(c.OutDir, Safe(run), $"seed{seed}"),
        Resume = c.Resume && c.OutDir is not null,
        Force = c.Force && !c.Resume,
        Cancellation = c.Cancellation,
        Log = c.Log,
        Progress = c.Progress,
        ResumeAdvice = c.ResumeAdvice,
        // The trainer's own advice names --clip and ClipGradNorm, which a recipe has not: the setting to change is its optimizer's.
        NonFiniteAdvice = "Lower the learning rate (the config's TeacherOptimizer or StudentOptimizer; teacher_optimizer or student_optimizer in a recipe file), " +
                          "or check that term's settings.",
        Settings = Settings(c, method),
    };

    static Dictionary<string, string> Settings(RecipeConfig c, MethodChoice? method)
    {
        // The budget the settings came from, in each run's record (it was named nowhere a recipe run wrote).
        var settings = c.HasBudget ? new Dictionary<string, string> { ["budget"] = c.Budget.Name() } : [];
        if (method is not null) settings["method"] = method.Record;
        return settings;
    }

    static string Safe(string run) => string.Concat(run.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '.' ? ch : '_'));

    public static Objective Ce() => new Objective().Add(new CrossEntropyTerm());

    /// <summary>Hinton et al.'s weighted objective: (1 − α)·CE + α·T²·KL (the parts logged apart as "ce" and "kd").</summary>
    public static Objective KdHard(double temperature, double alpha) =>
        new Objective().Add(new CrossEntropyTerm(), 1 - alpha).Add(new KdTerm(temperature), alpha);

    /// <summary>Trains the recipe's teacher on the teacher set (or reuses it from the teacher cache), or evaluates the one
    /// given. Another teacher (e.g. a second one for multi-teacher KD) passes its own <paramref name="run"/> name and
    /// <c>c with { Teacher = architecture }</c>; only the run named "teacher" becomes <see cref="ExperimentResult.TeacherModel"/>.</summary>
    public static DistillModel Teacher(ImageDataset data, RecipeConfig c, ExperimentResult result, DistillModel? given, string run = "teacher")
    {
        DistillModel Keep(DistillModel t) => run == "teacher" ? result.TeacherModel = t : t;
        if (given is not null)
        {
            using var evalSet = TeacherSet(data, c);
            var acc = Evaluation.Accuracy(given, evalSet, device: c.Device);
            result.Runs.Add(new RunRow(run, c.TeacherSeed, acc, acc, 0, given.ParameterCount));
            return Keep(given);
        }
        using var set = TeacherSet(data, c);
        var teacher = Model(c.Teacher, data, c.TeacherSeed, c.TeacherModel);
        var options = Options(c, run, c.TeacherSeed, c.TeacherEpochs, c.TeacherOptimizer);
        var key = TeacherStore.KeyOrNull(data, c); // once: it checksums the whole dataset
        if (options.OutDir is not null && !c.SharedTeacherFolder)
        {
            // With an --out folder the teacher's run is part of the recipe's record (deploy export, --resume): the cache
            // of whole runs copies a hit there and leaves a folder that already holds a run to the trainer, as for
            // `train --teacher`. The weights-only entries below have no checkpoint to put there.
            // Under the teacher's lock, as below: a second process on the same folder waits for the first to finish
            // instead of finding it training there ("in use by another run"). A sweep's shared folder takes the path below.
            using (TeacherStore.Hold(key, c)) result.Keep(TeacherStore.TrainOrReuse(teacher, set, options, c.TeacherCache ?? TeacherStore.Directory));
            return Keep(teacher);
        }
        using var held = TeacherStore.Hold(key, c); // another process training this teacher: wait, then load it
        var cached = TeacherStore.TryLoad(teacher, key, c, run);
        if (cached is not null)
        {
            result.Trainings.Add(cached);
            result.Runs.Add(cached);
            c.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{run}: reused the teacher ({cached.BestAccuracy:F2}%) from the teacher cache"));
            return Keep(teacher);
        }
        var trained = Trainer.Train(teacher, set, Ce(), options);
        result.Keep(trained);
        TeacherStore.Save(teacher, key, c, trained);
        return Keep(teacher);
    }

    /// <summary>Trains a fresh student (seeded) under <paramref name="objective"/> and keeps its row. The
    /// <paramref name="method"/> that built the objective is named in the run's record; when it and its setup describe
    /// the run completely (<paramref name="cached"/>), the run is looked up in the <see cref="StudentStore"/> first and
    /// kept there.</summary>
    public static TrainResult Student(ImageDataset transfer, RecipeConfig c, ExperimentResult result, string run, int seed,
        Objective objective, DistillModel? teacher, string? architecture = null, (MethodChoice Choice, MethodSetup Setup)? method = null, bool cached = true)
    {
        var student = Model(architecture ?? c.Student, transfer, seed, c.StudentDropout);
        var options = Options(c, run, seed, c.StudentEpochs, c.StudentOptimizer, method?.Choice);
        var r = StudentStore.TrainOrReuse(c, cached ? method : null, student, transfer, objective, options, teacher);
        result.Keep(r);
        // Keep the first seed's model of each run for the notebooks' inspection; the others are freed at once.
        var first = seed == c.Seeds[0] && !result.Students.ContainsKey(run);
        if (first) result.Students[run] = student;
        if (c.KeepEverySeed) result.EverySeed[(run, seed)] = student;
        else if (!first) student.Dispose();
        return r;
    }

    public static string Format(double x) => x.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}
