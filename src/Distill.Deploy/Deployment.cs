using System.Globalization;
using Distill.Data;
using Distill.Experiments;
using Distill.Losses;
using Distill.Models;
using Distill.Reporting;
using Distill.Training;
using Microsoft.Data.Analysis;
using static TorchSharp.torch;

namespace Distill.Deploy;

/// <summary>
/// Settings of <see cref="Deployment"/> (07-deployment): 05's teacher/student pair and budget (<see cref="Pair"/>, so a
/// <c>distill reproduce</c> reuses 05's cached teacher), and how the teacher is compressed instead: int8 static
/// quantization, global magnitude pruning at each of <see cref="Sparsities"/>, L1 channel pruning of
/// <see cref="ChannelFraction"/>, each pruned model fine-tuned on the students' transfer set.
/// </summary>
public sealed record DeploymentConfig : ICheckedSettings
{
    /// <summary>Teacher, student, data, seeds and epochs: 05-comparison's setting at the same budget. Its
    /// <see cref="ComparisonConfig.Methods"/> are replaced by scratch, KD and <see cref="BestMethod"/>.</summary>
    public required ComparisonConfig Pair { get; init; }
    /// <summary>The method of 05 to deploy beside KD, and why it was picked (<see cref="BestOf05"/>).</summary>
    public required (string Method, string Reason) BestMethod { get; init; }

    public IReadOnlyList<double> Sparsities { get; init; } = [0.5, 0.9];
    public double ChannelFraction { get; init; } = 0.5;
    /// <summary>Epochs of fine-tuning after pruning, on the transfer set (the data the students learn from).</summary>
    public int FineTuneEpochs { get; init; } = 2;
    public double FineTuneLr { get; init; } = 0.01;

    /// <summary>Training images whose activations set the int8 grid; the permutation that picks them is seeded by the
    /// student seed, so the int8 teacher's accuracy has a spread over seeds too.</summary>
    public int CalibrationImages { get; init; } = 256;
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.Percentile;

    /// <summary>Timed batch-1 runs per round, and rounds: every model is timed once per round, in turn, so background
    /// load hits all of them alike; a model's latency is the median of its rounds' p50.</summary>
    public int LatencyRuns { get; init; } = 200;
    public int LatencyRounds { get; init; } = 5;
    /// <summary>Batch-1 runs profiled by ONNX Runtime for the int8-versus-float32 note.</summary>
    public int ProfileRuns { get; init; } = 200;

    /// <summary>Where the .onnx files go and stay (null: a fresh folder under the system temp folder, deleted when the
    /// run is done; the rows keep the files' names and sizes).</summary>
    public string? OutDir { get; init; }

    /// <summary>The recipe at <paramref name="budget"/>: 05-comparison's pair, the best method of 05's results and the
    /// settings of experiments/recipes/07-deployment.yaml (built in).</summary>
    public static DeploymentConfig For(Budget budget, string? resultsFile = null) =>
        RecipeFile.Load("07-deployment", budget, new DeploymentConfig { Pair = ComparisonConfig.For(budget), BestMethod = BestOf05(budget, resultsFile) });

    /// <summary>The settings of 07-deployment.yaml a run would refuse only after training 05's pair (minutes to hours), as
    /// RecipeFile checks a recipe's: the ranges Pruning, OnnxEvaluation.CalibrationImages, Latency and the fine-tuning
    /// trainer take. <see cref="Pair"/> is checked where 05's settings load.</summary>
    public IEnumerable<(string Key, string Message)> Problems()
    {
        foreach (var (key, value) in new[] { ("fine_tune_epochs", FineTuneEpochs), ("latency_runs", LatencyRuns), ("latency_rounds", LatencyRounds), ("profile_runs", ProfileRuns) })
            if (value < 1) yield return (key, $"{key} = {value}: give at least 1.");
        if (!(FineTuneLr > 0)) yield return ("fine_tune_lr", $"fine_tune_lr = {NumberText.Short(FineTuneLr)}: give a number above 0.");
        // CalibrationImages takes at most the training split: a larger count would be cut down unseen.
        var data = DatasetCatalog.Get(Pair.Dataset);
        if (CalibrationImages < 1 || CalibrationImages > data.SplitSizes.Train)
            yield return ("calibration_images", string.Create(CultureInfo.InvariantCulture, $"calibration_images = {CalibrationImages}: {data.Title}'s train split holds {data.SplitSizes.Train:N0}; give 1 to {data.SplitSizes.Train:N0} (e.g. 256)."));
        // Each sparsity is a row named by its percentage: two with the same name would collide in the results.
        var seen = new HashSet<string>();
        for (var k = 0; k < Sparsities.Count; k++)
            if (Sparsities[k] is not (>= 0 and < 1))
                yield return ($"sparsities[{k}]", $"sparsities[{k}] = {NumberText.Short(Sparsities[k])}: give the fraction of weights pruned, in [0, 1) (e.g. 0.9).");
            else if (!seen.Add(Deployment.Pruned(Sparsities[k])))
                yield return ($"sparsities[{k}]", $"sparsities[{k}] = {NumberText.Short(Sparsities[k])} is the same percentage as an earlier one ({Deployment.Pruned(Sparsities[k])}); keep one.");
        // Channel pruning applies to a CNN teacher, and must keep at least one channel of its width.
        var width = ModelZoo.CnnWidth(Pair.Teacher);
        if (ChannelFraction is not (>= 0 and < 1))
            yield return ("channel_fraction", $"channel_fraction = {NumberText.Short(ChannelFraction)}: give the fraction of channels removed, in [0, 1) (e.g. 0.5).");
        else if (width is int w && Pruning.ChannelFractionProblem(w, ChannelFraction) is { } problem)
            yield return ("channel_fraction", $"channel_fraction = {NumberText.Short(ChannelFraction)}: for {Pair.Teacher}, {problem}.");
    }

    /// <summary>The notebooks' parameters (seeds, student epochs, teacher seed, log), applied to <see cref="Pair"/>.</summary>
    public DeploymentConfig WithParameters(string seeds = "", int epochs = 0, int teacherSeed = 0, TextWriter? log = null) =>
        this with { Pair = Pair.WithParameters(seeds, epochs, teacherSeed, log) };

    /// <summary>
    /// The method of 05-comparison to deploy: the one with the largest gain over scratch among those whose gain stands
    /// beyond seed noise (verdict "reproduced"), read from 05's recorded result rows. Looked for, in order: this
    /// reproduction's rows at this budget (<c>distill reproduce</c> points $DISTILL_RESULTS at OUT/07-deployment/results.jsonl
    /// and has written 05's to OUT/05-comparison/results.jsonl), or the results file itself; the committed record docs/runs/BUDGET-05-comparison.results.jsonl; the committed quick-budget record (a
    /// smoke run has one seed and no verdict to go by). Without any, DKD: the best logit method of 05's quick run.
    /// </summary>
    public static (string Method, string Reason) BestOf05(Budget budget, string? resultsFile = null)
    {
        var name = budget.ToString().ToLowerInvariant();
        var root = RepositoryRoot();
        var candidates = new List<(string Path, string Budget, string What)>();
        if ((resultsFile ?? Environment.GetEnvironmentVariable(Results.FileVariable)) is { Length: > 0 } live)
        {
            // distill reproduce gives each notebook its own OUT/NAME/results.jsonl, and runs 05 before 07.
            if (Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(live))) is { } outDir)
                candidates.Add((Path.Combine(outDir, "05-comparison", "results.jsonl"), name, "this reproduction's 05-comparison rows"));
            candidates.Add((live, name, "this run's 05-comparison rows"));
        }
        if (root is not null)
        {
            candidates.Add((Path.Combine(root, "docs", "runs", $"{name}-05-comparison.results.jsonl"), name, $"05-comparison's committed {name}-budget record"));
            if (budget != Budget.Quick)
                candidates.Add((Path.Combine(root, "docs", "runs", "quick-05-comparison.results.jsonl"), "quick", "05-comparison's committed quick-budget record (this budget has none)"));
        }
        foreach (var (path, b, what) in candidates)
        {
            if (!File.Exists(path)) continue;
            var rows = Results.Read(path).Where(r => r.Paper == "comparison" && r.Budget == b && r.Verdict.StartsWith("reproduced", StringComparison.Ordinal)).ToList();
            if (rows.Count == 0) continue;
            var best = rows.MaxBy(r => r.Ours)!;
            var method = best.Claim.Split(' ')[0];
            return (method, string.Create(CultureInfo.InvariantCulture, $"{method}: the largest gain over scratch beyond seed noise ({best.Ours:+0.00;-0.00;0.00} ± {best.OursStd:F2} pts, {best.Seeds} seeds) in {what} ({Path.GetFileName(path)})"));
        }
        return ("dkd", "dkd: no 05-comparison record found; DKD was the best logit method of 05's quick run (docs/results.md)");
    }

    /// <summary>The checkout whose committed records 07 reads: the one around the current directory, else the program's
    /// or the library's (07 copied outside the repository, its #r pointing at the checkout's build, said no record
    /// existed and took DKD, where from notebooks/ it picks the recorded best).</summary>
    static string? RepositoryRoot() => DatasetSearch.RepoRoot();
}

/// <summary>One deployed model: its ONNX Runtime test accuracy per seed, size and batch-1 latency.</summary>
/// <param name="Accuracies">Test accuracy (%) of the ONNX file in ONNX Runtime, one per seed (the teacher has one).</param>
/// <param name="NonZeroParameters">Parameters that are not zero (unstructured pruning leaves the rest stored as zeros).</param>
/// <param name="LatencyRoundsMs">Batch-1, 1-thread p50 of each timing round (ms), of the first seed's file.</param>
public sealed record DeployRow(string Name, string Model, string Format, IReadOnlyList<double> Accuracies, long Parameters, long NonZeroParameters,
    long OnnxBytes, string OnnxPath, IReadOnlyList<double> LatencyRoundsMs, double LatencyP90Ms, double? MicrojoulesPerImage)
{
    public double Accuracy => Accuracies.Average();
    public double AccuracyStd => RunTable.Std(Accuracies);
    /// <summary>Median over rounds of the p50 batch-1 latency (ms).</summary>
    public double LatencyMs => Median(LatencyRoundsMs);

    internal static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

public sealed class DeploymentResult
{
    public required DeploymentConfig Config { get; init; }
    /// <summary>The training runs (teacher and students) of 05's recipe.</summary>
    public required ComparisonResult Training { get; init; }
    public List<DeployRow> Rows { get; } = [];
    /// <summary>ONNX Runtime's profile of the float32 and int8 teacher at batch 1: µs per run by operator type.</summary>
    public IReadOnlyList<(string Op, double Float32Us, double Int8Us, int Float32Nodes, int Int8Nodes)> Profile { get; internal set; } = [];
    /// <summary>Why energy could not be read (null when powercap gave µJ per image).</summary>
    public string? PowerNote { get; internal set; }
    public string Folder { get; internal set; } = "";

    public DeployRow this[string name] => Rows.FirstOrDefault(r => r.Name == name)
        ?? throw new KeyNotFoundException($"No deployed model '{name}'; rows: {string.Join(", ", Rows.Select(r => r.Name))}.");
}

/// <summary>
/// 07-deployment: the teacher and 05's students exported to ONNX and run in ONNX Runtime, beside the teacher compressed
/// the other two ways (int8 post-training quantization; magnitude and channel pruning with fine-tuning), and the KD
/// student quantized too. Every accuracy is the exported file's, measured in ONNX Runtime on the test split, so float32
/// and int8 rows are measured alike.
/// </summary>
public static class Deployment
{
    public const string Teacher = "teacher";
    public const string Scratch = "scratch student";
    public const string Kd = "KD student";
    public const string Int8Teacher = "int8 teacher";
    public const string ChannelsPruned = "teacher, 50% channels pruned";
    public const string Int8Kd = "int8 KD student";

    public static string BestName(DeploymentConfig c) => $"{c.BestMethod.Method} student (best of 05)";
    public static string Pruned(double sparsity) => string.Create(CultureInfo.InvariantCulture, $"teacher, {100 * sparsity:0}% weights pruned");

    /// <summary>The rows of the teacher compressed by int8 or pruning (channel pruning only where the teacher is the small CNN).</summary>
    public static IReadOnlyList<string> CompressedTeachers(DeploymentResult result) =>
        [.. (result ?? throw new ArgumentNullException(nameof(result))).Rows.Select(r => r.Name).Where(n => n == Int8Teacher || n.StartsWith("teacher, ", StringComparison.Ordinal))];

    /// <summary>What the literature reports for compressing a network the way a row does, for the results table.</summary>
    public static string PaperNote(string compressed) => compressed switch
    {
        Int8Teacher or Int8Kd => "Krishnamoorthi 2018: per-channel post-training int8 within 2% of float32 on a variety of CNNs",
        ChannelsPruned => "Li et al. 2017: L1 filter pruning cuts VGG-16's FLOPs by 34% and ResNet-110's by 38% on CIFAR-10, regaining close to the original accuracy by retraining",
        _ when compressed.StartsWith("teacher, ", StringComparison.Ordinal) => "Han et al. 2015: 9× (AlexNet) to 13× (VGG-16) fewer weights with no accuracy loss after fine-tuning",
        _ => "",
    };

    public static DeploymentResult Run(ImageDataset data, DeploymentConfig config)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(config);
        var c = config.Pair;
        var best = config.BestMethod.Method;
        var methods = new[] { "scratch", "kd", best }.Distinct().ToList();
        // 05's settings of the methods not run here (the full budget's dkd:) are dropped with them.
        var training = Comparison.Run(data, c.WithMethods(methods) with { KeepEverySeed = true });
        var result = new DeploymentResult { Config = config, Training = training };
        var dir = config.OutDir ?? Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"distill-deploy-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}"));
        Directory.CreateDirectory(dir);
        // The files of a temporary folder are deleted when the run is done: every notebook run left 12-30 MB of .onnx
        // files in the temp folder, which nothing referred to. The rows keep their names and sizes; OutDir keeps them.
        result.Folder = config.OutDir ?? "";
        try
        {
            var log = c.Log ?? TextWriter.Null;
            var teacher = training.TeacherModel!;
            long[] shape = [data.Channels, data.Height, data.Width];
            using var eval = data.Subset(c.TransferSize, c.TestSize, c.DataSeed);

            var pending = new List<(string Name, string Model, string Format, List<double> Acc, long Params, long NonZero, string Path)>();
            // Float32: the teacher once, every seed's student.
            pending.Add(Export(Teacher, teacher, "float32", [c.TeacherSeed], _ => OnnxExport.Build(teacher, shape), dir, eval, log));
            foreach (var (run, row) in new[] { ("scratch", Scratch), ("kd", Kd), (best, BestName(config)) }.DistinctBy(x => x.Item1))
                pending.Add(ExportSeeds(row, training, run, c.Seeds, "float32", (m, _) => OnnxExport.Build(m, shape), dir, eval, log));

            // int8: the teacher calibrated on each seed's images, and each seed's KD student on its own.
            var int8Format = $"int8 static ({config.Calibration}, {NumberText.Count(config.CalibrationImages, "image")})";
            pending.Add(Export(Int8Teacher, teacher, int8Format, c.Seeds,
                s => Int8(teacher, shape, data, config, s), dir, eval, log));
            pending.Add(ExportSeeds(Int8Kd, training, "kd", c.Seeds, int8Format,
                (m, s) => Int8(m, shape, data, config, s), dir, eval, log));

            // Pruned teachers, fine-tuned per seed on the transfer set.
            using var transfer = data.Subset(c.TransferSize, c.TestSize, c.DataSeed);
            foreach (var sparsity in config.Sparsities)
            {
                var models = c.Seeds.Select(s =>
                {
                    var m = Copy(teacher, data, c);
                    var masks = Pruning.GlobalMagnitude(m, sparsity);
                    Pruning.FineTune(m, masks, transfer, FineTune(config, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"pruned-{sparsity:0.##}"), s));
                    return m;
                }).ToList();
                pending.Add(ExportModels(Pruned(sparsity), c.Teacher, "float32, zeros stored dense", models, c.Seeds, (m, _) => OnnxExport.Build(m, shape), dir, eval, log));
                models.ForEach(m => m.Dispose());
            }
            if (teacher is SmallCnn cnn)
            {
                var models = c.Seeds.Select(s =>
                {
                    DistillModel m = Pruning.Channels(cnn, config.ChannelFraction, data.Height);
                    Trainer.Train(m, transfer, new Objective().Add(new CrossEntropyTerm()), FineTune(config, "channels", s));
                    return m;
                }).ToList();
                pending.Add(ExportModels(ChannelsPruned, models[0].ZooName ?? "cnn", "float32", models, c.Seeds, (m, _) => OnnxExport.Build(m, shape), dir, eval, log));
                models.ForEach(m => m.Dispose());
            }

            // Latency: every model's first-seed file, in turn, once per round.
            var rounds = pending.ToDictionary(p => p.Name, _ => new List<double>());
            var p90 = pending.ToDictionary(p => p.Name, _ => new List<double>());
            var energy = new Dictionary<string, double?>();
            for (var round = 0; round < config.LatencyRounds; round++)
                foreach (var p in pending)
                {
                    var l = Latency.Measure(p.Path, batch: 1, threads: 1, runs: config.LatencyRuns);
                    rounds[p.Name].Add(l.P50Ms);
                    p90[p.Name].Add(l.P90Ms);
                    energy[p.Name] = l.MicrojoulesPerImage;
                }
            foreach (var p in pending)
                result.Rows.Add(new DeployRow(p.Name, p.Model, p.Format, p.Acc, p.Params, p.NonZero, new FileInfo(p.Path).Length, p.Path,
                    rounds[p.Name], DeployRow.Median(p90[p.Name]), energy[p.Name]));
            result.PowerNote = Energy.Unavailable();

            var f = OnnxProfile.ByOperator(result[Teacher].OnnxPath, config.ProfileRuns).ToDictionary(x => x.Op);
            var q = OnnxProfile.ByOperator(result[Int8Teacher].OnnxPath, config.ProfileRuns).ToDictionary(x => x.Op);
            result.Profile = [.. f.Keys.Union(q.Keys)
                .Select(op => (op, f.TryGetValue(op, out var a) ? (double)a.Microseconds / config.ProfileRuns : 0, q.TryGetValue(op, out var b) ? (double)b.Microseconds / config.ProfileRuns : 0,
                    a.Nodes, b.Nodes))
                .OrderByDescending(x => Math.Max(x.Item2, x.Item3))];
            return result;
        }
        finally
        {
            if (config.OutDir is null)
                try { Directory.Delete(dir, recursive: true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // a temp folder: the system's cleanup takes it
        }
    }

    static Onnx.ModelProto Int8(DistillModel m, long[] shape, ImageDataset data, DeploymentConfig config, int seed)
    {
        if (m is Mlp) return Quantization.Dynamic(m, shape);
        using var images = OnnxEvaluation.CalibrationImages(data, config.CalibrationImages, seed);
        return Quantization.Static(m, shape, images, config.Calibration);
    }

    static TrainOptions FineTune(DeploymentConfig config, string name, int seed) => new()
    {
        Name = name, Seed = seed, Epochs = config.FineTuneEpochs, BatchSize = config.Pair.BatchSize, Device = config.Pair.Device,
        Optimizer = OptimizerSpec.Sgd(config.FineTuneLr), Schedule = LrSchedule.Cosine(), Log = config.Pair.Log, Progress = config.Pair.Progress,
        Cancellation = config.Pair.Cancellation, Checkpoints = false, TensorBoard = false,
    };

    /// <summary>A fresh zoo model with the teacher's weights and statistics (the teacher itself stays unpruned).</summary>
    static DistillModel Copy(DistillModel teacher, ImageDataset data, ComparisonConfig c)
    {
        var m = ModelZoo.Create(teacher.ZooName ?? c.Teacher, data.Channels, data.NumClasses, c.TeacherModel with { ImageSize = data.Height });
        using var _ = no_grad();
        var source = teacher.state_dict();
        foreach (var (k, v) in m.state_dict()) v.copy_(source[k]);
        return m;
    }

    static long NonZero(DistillModel m) => m.parameters().Sum(p => p.count_nonzero().item<long>());

    static (string Name, string Model, string Format, List<double> Acc, long Params, long NonZero, string Path) Export(string name, DistillModel model,
        string format, IReadOnlyList<int> seeds, Func<int, Onnx.ModelProto> build, string dir, ImageDataset eval, TextWriter log) =>
        ExportModels(name, model.ZooName ?? model.GetType().Name, format, [.. seeds.Select(_ => model)], seeds, (_, s) => build(s), dir, eval, log);

    static (string Name, string Model, string Format, List<double> Acc, long Params, long NonZero, string Path) ExportSeeds(string name, ComparisonResult training,
        string run, IReadOnlyList<int> seeds, string format, Func<DistillModel, int, Onnx.ModelProto> build, string dir, ImageDataset eval, TextWriter log)
    {
        var models = seeds.Select(s => training.EverySeed[(run, s)]).ToList();
        return ExportModels(name, models[0].ZooName ?? "", format, models, seeds, build, dir, eval, log);
    }

    /// <summary>Exports one model per seed, measures each file's test accuracy in ONNX Runtime; keeps the first seed's path.</summary>
    static (string Name, string Model, string Format, List<double> Acc, long Params, long NonZero, string Path) ExportModels(string name, string zoo, string format,
        IReadOnlyList<DistillModel> models, IReadOnlyList<int> seeds, Func<DistillModel, int, Onnx.ModelProto> build, string dir, ImageDataset eval, TextWriter log)
    {
        var acc = new List<double>();
        string? first = null;
        for (var i = 0; i < seeds.Count; i++)
        {
            var path = Path.Combine(dir, $"{Safe(name)}-seed{seeds[i]}.onnx");
            OnnxExport.Save(build(models[i], seeds[i]), path);
            using (var runner = new OnnxRunner(path, threads: get_num_threads()))
                acc.Add(OnnxEvaluation.Accuracy(runner, eval, eval.Test));
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}, seed {seeds[i]}: {acc[^1]:F2}% in ONNX Runtime ({new FileInfo(path).Length:N0} bytes)"));
            first ??= path;
        }
        return (name, zoo, format, acc, models[0].ParameterCount, NonZero(models[0]), first!);
    }

    static string Safe(string name) => string.Concat(name.Select(ch => char.IsLetterOrDigit(ch) ? ch : '-'));

    // ---- verdicts, computed from the rows ----

    /// <summary>
    /// Does the distilled student give a better accuracy/latency point than the compressed teacher? Accuracy counts as
    /// better or worse only beyond two standard errors of the seeds' spread; latency only when one is under
    /// <paramref name="latencyMargin"/> of the other (timings on a shared machine are noisy). One point is better when it
    /// is better on one axis and not worse on the other.
    /// </summary>
    public static (double Gap, double Std, string Verdict) Against(DeploymentResult result, string distilled, string compressed, double latencyMargin = 0.7)
    {
        ArgumentNullException.ThrowIfNull(result);
        var d = result[distilled];
        var p = result[compressed];
        var (gap, std, se) = Difference(d.Accuracies, p.Accuracies);
        var oneSeed = d.Accuracies.Count < 2;
        int acc = oneSeed ? Math.Sign(gap) : gap > 2 * se ? 1 : gap < -2 * se ? -1 : 0;
        int speed = d.LatencyMs < latencyMargin * p.LatencyMs ? 1 : p.LatencyMs < latencyMargin * d.LatencyMs ? -1 : 0;
        var ratio = string.Create(CultureInfo.InvariantCulture, $"{d.LatencyMs / p.LatencyMs:0.00}× the latency");
        var verdict = (acc, speed) switch
        {
            (>= 0, > 0) or (> 0, >= 0) => $"yes: the student is {(acc > 0 ? "more accurate" : "as accurate (within noise)")} at {ratio}",
            (<= 0, < 0) or (< 0, <= 0) => $"no: the compressed teacher is {(acc < 0 ? "more accurate" : "as accurate (within noise)")}, and the student runs at {ratio}",
            (0, 0) => $"a tie: same accuracy within noise, {ratio}",
            (> 0, < 0) => $"trade-off: the student is more accurate but slower ({ratio})",
            _ => $"trade-off: the student is faster ({ratio}) but less accurate",
        };
        return (gap, std, oneSeed ? verdict + " (one seed: not conclusive)" : verdict);
    }

    /// <summary>Does int8 cost the student more accuracy than the teacher? Per seed: (student float32 − student int8) −
    /// (teacher float32 − teacher int8, calibrated on the same seed's images). Positive: the student loses more.</summary>
    public static (double Extra, double Std, string Verdict) Int8Cost(DeploymentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var t = result[Teacher].Accuracy;
        var kd = result[Kd].Accuracies;
        var kdInt8 = result[Int8Kd].Accuracies;
        var tInt8 = result[Int8Teacher].Accuracies;
        var extra = kd.Select((a, i) => a - kdInt8[i] - (t - tInt8[i])).ToList();
        var mean = extra.Average();
        var std = RunTable.Std(extra);
        var se = std / Math.Sqrt(extra.Count);
        var drops = string.Create(CultureInfo.InvariantCulture, $"int8 changes the student's accuracy by {kdInt8.Average() - kd.Average():+0.00;-0.00;0.00} pts, the teacher's by {tInt8.Average() - t:+0.00;-0.00;0.00} pts");
        var verdict = extra.Count < 2 ? $"{(mean > 0 ? "yes" : "no")} ({drops}; one seed: not conclusive)"
            : mean > 2 * se ? $"yes, beyond seed noise ({drops})"
            : mean < -2 * se ? $"no: the teacher loses more ({drops})"
            : $"no difference beyond seed noise ({drops})";
        return (mean, std, verdict);
    }

    /// <summary>Median over rounds of (int8 teacher / float32 teacher) batch-1 latency, each round timing both under the same load.</summary>
    public static double Int8LatencyRatio(DeploymentResult result, string int8 = Int8Teacher, string float32 = Teacher)
    {
        ArgumentNullException.ThrowIfNull(result);
        var q = result[int8].LatencyRoundsMs;
        var f = result[float32].LatencyRoundsMs;
        return DeployRow.Median(q.Zip(f, (a, b) => a / b));
    }

    static (double Gap, double Std, double Se) Difference(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        double va = a.Count < 2 ? 0 : Math.Pow(RunTable.Std(a), 2), vb = b.Count < 2 ? 0 : Math.Pow(RunTable.Std(b), 2);
        return (a.Average() - b.Average(), Math.Sqrt(va + vb), Math.Sqrt(va / a.Count + vb / b.Count));
    }

    // ---- views ----

    /// <summary>The one table: accuracy (mean ± std over seeds), parameters, ONNX file size, ONNX Runtime latency.</summary>
    public static DataFrame Table(this DeploymentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var r = result.Rows;
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("model", r.Select(x => x.Name)),
            new StringDataFrameColumn("architecture", r.Select(x => x.Model)),
            new StringDataFrameColumn("format", r.Select(x => x.Format)),
            new Int32DataFrameColumn("seeds", r.Select(x => x.Accuracies.Count)),
            new StringDataFrameColumn("ONNX Runtime test acc % (mean ± std)", r.Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Accuracy:F2} ± {x.AccuracyStd:F2}"))),
            new Int64DataFrameColumn("params", r.Select(x => x.Parameters)),
            new Int64DataFrameColumn("non-zero params", r.Select(x => x.NonZeroParameters)),
            new Int64DataFrameColumn("ONNX bytes", r.Select(x => x.OnnxBytes)),
            new DoubleDataFrameColumn("batch-1 p50 ms (1 thread)", r.Select(x => Math.Round(x.LatencyMs, 4))),
            new DoubleDataFrameColumn("p90 ms", r.Select(x => Math.Round(x.LatencyP90Ms, 4))),
        };
        if (r.Any(x => x.MicrojoulesPerImage is not null))
            columns.Add(new DoubleDataFrameColumn("µJ / image (package)", r.Select(x => x.MicrojoulesPerImage is { } e ? Math.Round(e, 1) : (double?)null)));
        return new DataFrame(columns);
    }

    /// <summary>Accuracy against batch-1 latency, one labelled point per deployed model.</summary>
    public static Figure Chart(this DeploymentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return Charts.Points("Accuracy against ONNX Runtime latency (batch 1, 1 thread)", "p50 latency (ms, log)", "test accuracy (%)",
            result.Rows.Select(x => (x.Name, x.LatencyMs, x.Accuracy)), logX: true);
    }

    /// <summary>ONNX Runtime's profile of the float32 and int8 teacher: µs per batch-1 run by operator type.</summary>
    public static DataFrame ProfileTable(this DeploymentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var p = result.Profile;
        double f = p.Sum(x => x.Float32Us), q = p.Sum(x => x.Int8Us);
        return new DataFrame(
            new StringDataFrameColumn("operator", p.Select(x => x.Op).Append("total")),
            new DoubleDataFrameColumn("float32 µs / run", p.Select(x => Math.Round(x.Float32Us, 1)).Append(Math.Round(f, 1))),
            new Int32DataFrameColumn("float32 nodes", p.Select(x => x.Float32Nodes).Append(p.Sum(x => x.Float32Nodes))),
            new DoubleDataFrameColumn("int8 µs / run", p.Select(x => Math.Round(x.Int8Us, 1)).Append(Math.Round(q, 1))),
            new Int32DataFrameColumn("int8 nodes", p.Select(x => x.Int8Nodes).Append(p.Sum(x => x.Int8Nodes))));
    }

    /// <summary>The CPU's integer dot-product support, from /proc/cpuinfo: ONNX Runtime's u8s8 kernels gain most
    /// with VNNI (AVX512-VNNI or AVX-VNNI) and least with AVX2 alone.</summary>
    public static string CpuInt8Support()
    {
        const string cpuinfo = "/proc/cpuinfo";
        if (!File.Exists(cpuinfo)) return "unknown (no /proc/cpuinfo)";
        var lines = File.ReadLines(cpuinfo).ToList();
        var model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var flags = (lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1] ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        string Has(string f) => flags.Contains(f) ? "yes" : "no";
        return $"{model}, {Environment.ProcessorCount} cores: AVX2 {Has("avx2")}, AVX-512 {Has("avx512f")}, AVX512-VNNI {Has("avx512_vnni")}, AVX-VNNI {Has("avx_vnni")}";
    }
}
