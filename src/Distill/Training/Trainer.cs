using System.Diagnostics;
using System.Globalization;
using Distill.Data;
using Distill.Losses;
using Distill.Models;
using Distill.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Training;

/// <summary>A loss that became NaN or infinite: the run stops, naming where and which term.</summary>
public sealed class NonFiniteLossException(string message, int epoch, long step, string term) : Exception(message)
{
    public int Epoch { get; } = epoch;
    public long Step { get; } = step;
    public string Term { get; } = term;
}

/// <summary>
/// The one training loop of the library: a student trained on <see cref="ImageDataset.Train"/> under an
/// <see cref="Objective"/>, optionally taught by a frozen teacher, evaluated on the test split after every epoch.
/// Whole splits are moved to the device once; every epoch draws a new permutation from a seeded generator; each step
/// runs in its own dispose scope; the same seed gives the same metrics, and a resumed run ends where the uninterrupted
/// one would. Dropout (and Mlp jitter) draw from torch's process-wide generator, which the trainer seeds and
/// checkpoints: two trainings running at once in one process interleave their draws and lose that reproducibility.
/// </summary>
public static class Trainer
{
    /// <summary>What <see cref="Train"/> would refuse a run into <paramref name="outDir"/> with (it holds another run and
    /// no --force), for a caller to check before work that would otherwise come first (prune scores and prunes a
    /// model). Null when the folder is free.</summary>
    public static string? HeldRunError(string outDir) => RunFolder.HoldsRun(outDir) ? RunFolder.HeldRunError(outDir) : null;

    /// <inheritdoc cref="RunFolder.InUseError"/>
    public static string? InUseError(string outDir) => RunFolder.InUseError(outDir);

    /// <summary>Refuses an --out folder holding runs of another kind than the caller writes (<paramref name="writes"/>:
    /// whether a run folder, relative to <paramref name="outRoot"/>, "" for itself, is one the caller writes), or with
    /// <paramref name="force"/> clears them; see <see cref="RunFolder.OtherRuns"/>.</summary>
    public static void ClaimOut(string outRoot, Func<string, bool> writes, bool force, bool resume, TextWriter? log) =>
        RunFolder.ClaimOut(outRoot, writes, force, resume, log);

    /// <inheritdoc cref="RunFolder.CheckOptions(string, TrainOptions)"/>
    public static void CheckOptions(string dir, TrainOptions options) => RunFolder.CheckOptions(dir, options);

    /// <inheritdoc cref="RunFolder.DistillationRunFolder"/>
    public static bool DistillationRunFolder(string rel) => RunFolder.DistillationRunFolder(rel);

    /// <inheritdoc cref="RunFolder.RecipeRunFolder"/>
    public static bool RecipeRunFolder(string rel) => RunFolder.RecipeRunFolder(rel);

    /// <summary>The run folders in <paramref name="dir"/> and one level below, relative to it ("" for itself), in order:
    /// a distillation's teacher/ and student/, a recipe's RUN/seedN.</summary>
    public static IReadOnlyList<string> RunsIn(string dir) => RunFolder.OtherRuns(dir, _ => false);

    /// <summary>Claims <paramref name="outRoot"/> for one recipe's runs (see <see cref="RunFolder.ClaimForRecipe"/>).</summary>
    public static void ClaimForRecipe(string outRoot, string recipe, bool force, bool resume, TextWriter? log) =>
        RunFolder.ClaimForRecipe(outRoot, recipe, force, resume, log);

    /// <param name="student">Trained in place (and left on the device, in eval mode).</param>
    /// <param name="teacher">Required when a term needs it. Frozen for good: eval mode, no gradients, never optimised.</param>
    /// <exception cref="ModelTooLargeException">libtorch could not allocate what training needs (the message names the model).</exception>
    public static TrainResult Train(DistillModel student, ImageDataset data, Objective objective, TrainOptions? options = null, DistillModel? teacher = null)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(objective);
        options ??= new TrainOptions();
        options.Validate();
        TorchRuntime.Initialize();
        try
        {
            using var run = new TrainingRun(student, data, objective, options, teacher);
            return run.Execute();
        }
        catch (System.Runtime.InteropServices.ExternalException e) when (ModelMemory.IsAllocationFailure(e))
        {
            // libtorch's own message ("[enforce fail at alloc_cpu.cpp:127] ...") names no model and no remedy.
            var name = student.ZooName ?? options.Name;
            throw ModelMemory.OutOfMemory(string.Create(CultureInfo.InvariantCulture, $"training '{name}' ({student.ParameterCount:N0} parameters, batch size {options.BatchSize})"), e);
        }
    }

    /// <summary>Freezes a teacher: eval mode and no gradients for any of its parameters.</summary>
    public static void Freeze(DistillModel teacher)
    {
        teacher.eval();
        foreach (var p in teacher.parameters()) p.requires_grad = false;
    }
}

sealed class TrainingRun : IDisposable
{
    readonly DistillModel student;
    readonly DistillModel? teacher;
    readonly ImageDataset data;
    readonly Objective objective;
    readonly TrainOptions o;
    readonly Device device;
    readonly Generator generator;
    readonly Tensor trainImages, trainLabels, testImages, testLabels;
    readonly Tensor? valImages, valLabels, teacherLogits;
    readonly TeacherSource teacherSource;
    readonly List<nn.Module> termModules;
    readonly List<Parameter> termParameters;
    readonly List<Parameter> optimized;
    // By reference: Tensor.Equals compares values (torch.equal over the whole parameter, every step).
    readonly HashSet<Parameter> hadGradient = new(ReferenceEqualityComparer.Instance);
    readonly optim.Optimizer optimizer;
    readonly MetricsWriter? writer;
    readonly RunFolder? folder;
    /// <summary>The run record's digest, stamped into each checkpoint (null without --out: no checkpoints).</summary>
    readonly string? settingsDigest;
    readonly ProgressLine progress;
    readonly long stepsPerEpoch, totalSteps, warmupSteps;

    public TrainingRun(DistillModel student, ImageDataset data, Objective objective, TrainOptions options, DistillModel? teacher)
    {
        (this.student, this.data, this.objective, o, this.teacher) = (student, data, objective, options, teacher);
        device = TorchRuntime.ResolveDevice(o.Device);
        teacherSource = TeacherCache.Decide(objective, o.Augment, o.TeacherCache);
        if (teacherSource != TeacherSource.None && teacher is null)
            throw new ArgumentException($"The objective's term(s) {string.Join(", ", objective.Terms.Where(t => t.Term.NeedsTeacher).Select(t => t.Term.Name))} need a teacher; pass teacher: to Trainer.Train.");
        if (teacher is not null && ReferenceEquals(teacher, student))
            throw new ArgumentException("The teacher and the student are the same object; a born-again student is a fresh model of the same architecture.");
        if (teacher is not null)
        {
            var own = student.parameters().Select(p => p.Handle).ToHashSet();
            if (teacher.parameters().Any(p => own.Contains(p.Handle)))
                throw new ArgumentException("The teacher's parameters are registered inside the student (a teacher stored as a field of the student). Keep the teacher outside the student.");
        }

        TorchRuntime.Seed(o.Seed);
        generator = new Generator((ulong)o.Seed);

        // Module.to replaces parameter objects, so move before the optimizer sees them.
        student.to(device);
        if (teacher is not null)
        {
            teacher.to(device);
            Trainer.Freeze(teacher);
        }

        (trainImages, trainLabels, valImages, valLabels) = HoldOutValidation(data.Train, o.ValidationCount, o.ValidationSeed, device);
        testImages = data.Test.Images.to(device);
        testLabels = data.Test.Labels.to(device);
        if (teacherSource == TeacherSource.Cached)
            teacherLogits = Evaluation.Logits(teacher!, data, trainImages, o.EvalBatchSize);

        termModules = [.. objective.Modules().Select(m => m.Module)];
        foreach (var m in termModules) m.to(device);
        atenConvolutions = device.type == DeviceType.CPU && (Native.OneDnnConvGuard.Needed(student) || termModules.Any(Native.OneDnnConvGuard.Needed));
        splitObjective = device.type == DeviceType.CPU && objective.LogitsOnly && get_num_threads() > 1;
        termParameters = [.. objective.Parameters()]; // read after moving: Module.to replaces parameter objects
        foreach (var p in termParameters.Where(p => p.device_type != device.type || (device.index >= 0 && p.device_index != device.index)))
            throw new ArgumentException($"A loss term owns a parameter on {p.device} but training runs on {device}: build the term on the training device.");
        optimized = [.. (o.StudentParameters?.Invoke(student) ?? student.parameters()), .. termParameters];
        optimizer = o.Optimizer.Create(optimized);

        stepsPerEpoch = (trainLabels.shape[0] + o.BatchSize - 1) / o.BatchSize;
        totalSteps = stepsPerEpoch * o.Epochs;
        warmupSteps = (long)Math.Round(o.WarmupEpochs * stepsPerEpoch);
        // Before anything is written there: the folder is locked, checked against a resumed run's settings, or cleared.
        if (o.OutDir is not null)
        {
            var settings = RunFolder.Settings(o, student, objective, data, teacher);
            folder = RunFolder.Open(o.OutDir, settings, o.Resume, o.Force, o.Log, o.TensorBoard, o.StartOverAdvice, o.ResumeAdvice);
            settingsDigest = RunFolder.Digest(folder.Recorded);
        }
        writer = o.OutDir is null ? null : new MetricsWriter(o.OutDir, o.TensorBoard);
        progress = new ProgressLine(o.Progress ?? ProgressLine.Default);
    }

    static (Tensor, Tensor, Tensor?, Tensor?) HoldOutValidation(Split train, int count, int seed, Device device)
    {
        if (count == 0) return (train.Images.to(device), train.Labels.to(device), null, null);
        if (count >= train.Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"holding out {count} images for validation (TrainOptions.ValidationCount) leaves no training images (the training split has {train.Count}); hold out fewer.");
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)seed);
        var perm = randperm(train.Count, generator: g);
        var val = perm.narrow(0, 0, count);
        var rest = perm.narrow(0, count, train.Count - count).sort().Values; // keep the original order of the training images
        return (train.Images.index_select(0, rest).to(device).MoveToOuterDisposeScope(), train.Labels.index_select(0, rest).to(device).MoveToOuterDisposeScope(),
                train.Images.index_select(0, val).to(device).MoveToOuterDisposeScope(), train.Labels.index_select(0, val).to(device).MoveToOuterDisposeScope());
    }

    readonly List<EpochMetrics> history = [];
    /// <summary>The student or a loss term has convolutions oneDNN would pad: backward runs with oneDNN off (issue 12).</summary>
    readonly bool atenConvolutions;

    /// <summary>The objective reads only logits and training runs on several CPU threads: see <see cref="Step"/>.</summary>
    readonly bool splitObjective;

    /// <summary>Logits of at most this many elements and <see cref="OneThreadClasses"/> classes keep every kernel of a
    /// logit objective below ATen's parallel grain of 32,768 elements: MLKD's stack [K, B, C] and class-level Grams
    /// [K, C, C] included, for its default K = 5 temperatures (up to 8). Above it a reduction would split over the threads, so the objective stays
    /// on all of them and its numbers stay those of the thread count.</summary>
    const long OneThreadLogits = 4096, OneThreadClasses = 64;
    string? CheckpointPath => o.OutDir is null || !o.Checkpoints ? null : Path.Combine(o.OutDir, Checkpoint.FileName);

    /// <summary>A resumed run stopped inside an epoch: that epoch's permutation and sums, used by its first epoch.</summary>
    sealed record Unfinished(EpochProgress Progress, Tensor Permutation);

    public TrainResult Execute()
    {
        long step = 0;
        var start = 1;
        Unfinished? unfinished = null;
        var ckpt = o.OutDir is null ? null : Path.Combine(o.OutDir, Checkpoint.FileName);
        if (o.Resume && ckpt is not null)
        {
            if (File.Exists(ckpt))
            {
                var (info, permutation) = Checkpoint.Load(ckpt, student, termModules, termParameters, optimizer, generator, student.ParameterCount);
                if (info.InProgress is { } p) unfinished = new Unfinished(p, permutation!);
                foreach (var i in info.HadGradient ?? [])
                    hadGradient.Add(i >= 0 && i < optimized.Count ? optimized[i] : throw new InvalidDataException(
                        $"Checkpoint '{ckpt}' names optimised parameter {i}; this run optimises {optimized.Count}. Resume with the same objective, or use a fresh output folder."));
                if (info.Seed != o.Seed)
                    throw new InvalidOperationException($"Checkpoint '{ckpt}' belongs to a run with seed {info.Seed}; this run has seed {o.Seed}. Use the same seed or a fresh output folder.");
                history.AddRange(info.History);
                firstStepLoss = info.FirstStepLoss;
                writer?.Restart(o.Name, history);
                step = info.Step;
                start = info.Epoch + 1;
                o.Log?.WriteLine($"resuming {o.Name} from {ckpt}: epoch {info.Epoch} of {o.Epochs} done" +
                    (unfinished is null ? "" : $", epoch {start} stopped before step {unfinished.Progress.Batch + 1} of {stepsPerEpoch}"));
            }
            else
            {
                // The events (and metrics) of whatever ran before the checkpoint was lost would stay beside this run's,
                // and TensorBoard showed their epochs twice.
                writer?.Restart(o.Name, history);
                o.Log?.WriteLine($"no checkpoint at {ckpt}: starting {o.Name} afresh");
            }
        }

        var terms = objective.Terms.Select(t => t.Term.Name).ToArray();
        for (var epoch = start; epoch <= o.Epochs; epoch++)
        {
            // Judged per epoch, by the weights at its first step: FitNets' two stages (hint_fraction < 1) give the
            // cross-entropy weight 0 in the hint stage, whose accuracy at chance was flagged as divergence.
            var firstStep = (epoch - 1) * stepsPerEpoch;
            bool trainsClassifier = objective.Terms.Any(t => t.Term.TrainsClassifier && t.Weight.At(Progress(firstStep)) != 0);
            var metrics = RunEpoch(epoch, ref step, terms, epoch == start ? unfinished : null);
            metrics = metrics with { Flag = Divergence(metrics, history.Count > 0 ? history[0] : metrics, data.NumClasses, trainsClassifier,
                history.Count == 0 ? firstStepLoss : null) };
            bool firstFlag = metrics.Flag is not null && history.All(h => h.Flag is null);
            if (firstFlag) TrainingWarnings.Add(o.Name, o.Seed, metrics.Flag!);
            history.Add(metrics);
            writer?.Write(o.Name, history);
            SaveCheckpoint(epoch, step);
            o.Log?.WriteLine(Describe(metrics, history));
            // After the epoch's line: the warning is about that epoch, which the reader has then seen.
            if (firstFlag) o.Log?.WriteLine($"warning: {o.Name} (seed {o.Seed}) {metrics.Flag}");
            o.OnEpochEnd?.Invoke(metrics);
        }
        student.eval();
        return new TrainResult { Name = o.Name, Seed = o.Seed, Parameters = student.ParameterCount, History = history, Teacher = teacherSource,
            WeightsSha256 = TensorDigest.Weights(student) };
    }

    /// <summary>Checkpoints the run after <paramref name="epochsDone"/> epochs, or, with <paramref name="inProgress"/>,
    /// at a step inside the next one (the shuffling generator has then drawn that epoch's permutation, stored too).</summary>
    void SaveCheckpoint(int epochsDone, long step, EpochProgress? inProgress = null, Tensor? permutation = null)
    {
        if (CheckpointPath is not { } path) return;
        var had = optimized.Select((p, i) => hadGradient.Contains(p) ? i : -1).Where(i => i >= 0).ToList();
        Checkpoint.Save(path, new CheckpointInfo(o.Name, o.Seed, epochsDone, step, student.ParameterCount, o.Optimizer.ToString(), history, inProgress, had, settingsDigest, firstStepLoss),
            student, termModules, termParameters, optimizer, generator, permutation);
    }

    EpochMetrics RunEpoch(int epoch, ref long step, string[] terms, Unfinished? unfinished)
    {
        using var epochScope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        // The part of this epoch trained before a stop, which the resumed run's time adds to.
        var before = unfinished?.Progress.Seconds ?? 0;
        student.train();
        foreach (var m in termModules) m.train();
        var n = trainLabels.shape[0];
        var perm = (unfinished?.Permutation ?? randperm(n, generator: generator)).to(device);
        var sums = unfinished?.Progress.Sums.ToArray() ?? new double[terms.Length + 1];
        if (sums.Length != terms.Length + 1)
            throw new InvalidDataException($"Checkpoint in {o.OutDir} holds sums for {sums.Length - 1} loss terms; this objective has {terms.Length}. Resume with the same objective, or use a fresh output folder.");
        double correct = unfinished?.Progress.Correct ?? 0, lr = 0;
        for (var b = unfinished?.Progress.Batch ?? 0; b < stepsPerEpoch; b++)
        {
            if (o.Cancellation.IsCancellationRequested)
            {
                // At a step boundary: the optimizer, both generators and the sums are exactly where the next step
                // starts, so a resume from here runs the remaining steps as the uninterrupted run would.
                SaveCheckpoint(epoch - 1, step, new EpochProgress(epoch, b, sums, correct, before + clock.Elapsed.TotalSeconds), perm);
                throw new TrainingStoppedException(o.Name, epoch, b, CheckpointPath is null ? null : o.OutDir, o.ResumeAdvice);
            }
            var begin = b * o.BatchSize;
            var size = Math.Min(o.BatchSize, n - begin);
            lr = LearningRate(step);
            var values = Step(perm, begin, size, epoch, step, b, lr);
            for (var i = 0; i < sums.Length; i++) sums[i] += (double)values[i] * size; // in double: a float product overflowed past 3.4e38 / size
            correct += values[^1];
            step++;
            o.OnStepEnd?.Invoke(step);
            var seen = begin + size;
            progress.Update(() => string.Create(CultureInfo.InvariantCulture, $"{o.Name} epoch {epoch}/{o.Epochs} step {b + 1}/{stepsPerEpoch}  loss {LossText(sums[0] / seen)}  acc {100 * correct / seen:F2}%  {seen / (before + clock.Elapsed.TotalSeconds):N0} img/s"));
        }
        var trainSeconds = before + clock.Elapsed.TotalSeconds;
        progress.Clear();
        double? val = valImages is null ? null : Evaluation.Accuracy(Evaluation.Logits(student, data, valImages, o.EvalBatchSize), valLabels!);
        var test = Evaluation.Accuracy(Evaluation.Logits(student, data, testImages, o.EvalBatchSize), testLabels);
        return new EpochMetrics(epoch, lr, sums[0] / n, [.. terms.Select((t, i) => new TermLoss(t, sums[i + 1] / n))],
            100 * correct / n, val, test, before + clock.Elapsed.TotalSeconds, n / trainSeconds);
    }

    double LearningRate(long step)
    {
        var warm = warmupSteps > 0 && step < warmupSteps ? (step + 1) / (double)warmupSteps : 1;
        return o.Optimizer.LearningRate * o.Schedule.Factor(step, stepsPerEpoch, totalSteps) * warm;
    }

    /// <summary>One optimisation step; returns [total, each term..., correct count] read from the device in one copy.</summary>
    float[] Step(Tensor perm, long begin, long size, int epoch, long step, long stepInEpoch, double lr)
    {
        using var scope = NewDisposeScope();
        var index = perm.narrow(0, begin, size);
        var images = trainImages.index_select(0, index);
        if (o.Augment.Enabled) images = o.Augment.Apply(images, generator);
        var x = data.Normalize(images);
        var y = trainLabels.index_select(0, index);
        foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;

        var s = student.call(x);
        ModelOutput? t = null;
        if (teacherSource == TeacherSource.Cached) t = new ModelOutput(teacherLogits!.index_select(0, index), []);
        else if (teacherSource == TeacherSource.Live)
            using (no_grad()) t = teacher!.call(x);
        var progressFraction = Progress(step);

        // An objective over small logits alone is computed, forward and backward, on one thread, then its gradient
        // is sent through the student on all of them. Each of its kernels on [B, C] is far below ATen's parallel grain,
        // yet softmax and oneMKL's exp still open an OpenMP region, and waking the sleeping second worker costs ~20 µs
        // a kernel here, more than the work (docs/performance.md). Below the grain every kernel runs the same serial
        // code either way, so the numbers do not change; above it the objective stays on all threads.
        // (Logits that need no gradient, a student whose every weight is frozen, have no graph to send one through.)
        var logitLeaf = splitObjective && s.Logits.requires_grad && s.Logits.numel() <= OneThreadLogits && s.Logits.shape[^1] <= OneThreadClasses ? s.Logits.detach().requires_grad_(true) : null;
        var seen = logitLeaf is null ? s : new ModelOutput(logitLeaf, []);
        var threads = logitLeaf is null ? 0 : get_num_threads();
        if (logitLeaf is not null) set_num_threads(1);
        float[] values;
        try
        {
            var (total, parts) = objective.Compute(new StepContext(seen, t, y, progressFraction, epoch, step, x, index));

            foreach (var (name, value) in parts.Where(p => p.Value.numel() != 1))
                throw new InvalidOperationException($"Loss term '{name}' returned a tensor of shape [{string.Join(", ", value.shape)}]; a term must return a scalar.");
            // Beside another term a constant is harmless; alone it left backward libtorch's "element 0 of tensors does
            // not require grad", which names no term.
            if (!total.requires_grad && parts.FirstOrDefault(p => !p.Value.requires_grad) is ({ } bare, _))
                throw new InvalidOperationException($"Loss term '{bare}' returned a loss that does not depend on the model's outputs (no grad_fn): compute it from ctx's logits/features.");
            var stats = cat([total.detach().reshape(1), .. parts.Select(p => p.Value.detach().reshape(1).to(ScalarType.Float32)),
                s.Logits.detach().argmax(1).eq(y).sum().reshape(1).to(ScalarType.Float32)]).cpu();
            values = stats.data<float>().ToArray();
            // Every term, not the total alone: a term under a weight of 0 (a warm-up's first steps) is left out of the total,
            // and its Infinity went on into the epoch's record, ending the run at the checkpoint's JSON.
            if (values.Take(parts.Count + 1).Any(v => !float.IsFinite(v))) throw NonFinite(values, parts, epoch, step, stepInEpoch);
            if (step == 0) firstStepLoss = values[0];
            lastStep = values;

            // Gradients are reset to none instead of zero-filled: backward then writes each gradient into a fresh buffer,
            // saving a fill and an accumulate pass over every parameter (about 12 % of an MLP 784-1200-1200-10 step on
            // one thread; docs/performance.md). A parameter that had a gradient before but was not reached this step gets
            // a zero one, so weight decay and momentum still apply to it exactly as with zero_grad().
            foreach (var p in optimized) p.grad = null;
            using (atenConvolutions ? Native.OneDnnConvGuard.Off() : null) total.backward(); // padded layers: issue 12
        }
        finally
        {
            if (logitLeaf is not null) set_num_threads(threads);
        }
        if (logitLeaf?.grad is { } logitGradient)
            using (atenConvolutions ? Native.OneDnnConvGuard.Off() : null) s.Logits.backward([logitGradient]);
        foreach (var p in optimized)
        {
            if (p.grad is not null) hadGradient.Add(p);
            else if (hadGradient.Contains(p)) p.grad = zeros_like(p);
        }
        if (o.ClipGradNorm is double clip) nn.utils.clip_grad_norm_(optimized, clip);
        optimizer.step();
        return values;
    }

    /// <summary>The loss of the run's step 0, saved with each checkpoint (null when a run resumed from a checkpoint
    /// written before it was saved).</summary>
    double? firstStepLoss;

    /// <summary>Training progress at <paramref name="step"/>, 0 to 1, as the objective's weight schedules read it.</summary>
    double Progress(long step) => Schedule.Progress(step, totalSteps);

    /// <summary>The previous step's loss and term values (as <see cref="NonFinite"/> reads them).</summary>
    float[]? lastStep;

    /// <summary>A loss as the log shows it: 4 decimals, or 4 significant digits once it is huge (a diverging run's
    /// 5.74E+36 was 37 digits and 4 zeros).</summary>
    static string LossText(double loss) => loss.ToString(Math.Abs(loss) < 1e6 ? "F4" : "G4", CultureInfo.InvariantCulture);

    NonFiniteLossException NonFinite(float[] values, IReadOnlyList<(string Name, Tensor Value)> parts, int epoch, long step, long stepInEpoch)
    {
        string Where(float value) => string.Create(CultureInfo.InvariantCulture, $"{o.Name}: loss is {value} at epoch {epoch}, step {step} (batch {stepInEpoch + 1} of {stepsPerEpoch}), ");
        var advice = o.NonFiniteAdvice ?? $"Lower the learning rate, clip gradients (--clip N{ErrorText.Api("ClipGradNorm in TrainOptions", " on the command line, ")}), or check that term's inputs.";
        // Every term non-finite after a finite step: that step's update broke the weights, and the first term (the
        // cross-entropy) was blamed, with a fix for it, when a method's weight of 1e30 had made its own term huge.
        // The previous step's largest term is the one to look at.
        if (parts.Count > 1 && lastStep is { } last && last.Length == values.Length && values.Skip(1).Take(parts.Count).All(v => !float.IsFinite(v)))
        {
            // Weighted as the total summed them (the previous step's weights): sp's 2.4e-4 under a weight of 1e30 is the
            // large one, and the unweighted values blamed the cross-entropy.
            var previous = Progress(Math.Max(step - 1, 0));
            var terms = parts.Select((p, i) => (p.Name, Value: (double)last[i + 1], Weight: objective.Terms[i].Weight.At(previous))).ToList(); // a part per term
            var largest = terms.MaxBy(p => Math.Abs(p.Value * p.Weight)).Name;
            return new NonFiniteLossException(Where(values[0]) +
                $"in every term: the previous step's update made the weights non-finite. Its terms were " +
                $"{string.Join(", ", terms.Select(p => p.Weight == 1 ? string.Create(CultureInfo.InvariantCulture, $"{p.Name} {p.Value:G4}") : string.Create(CultureInfo.InvariantCulture, $"{p.Name} {p.Value:G4} × weight {p.Weight:G4}")))}; " +
                $"the largest weighted, '{largest}', is the likely cause: lower its weight or the method's parameters that scale it. {advice}", epoch, step, largest);
        }
        var bad = parts.Select((p, i) => (p.Name, Value: values[i + 1])).FirstOrDefault(p => !float.IsFinite(p.Value));
        var term = bad.Name ?? "total (weighted sum)";
        var value = bad.Name is null ? values[0] : bad.Value;
        return new NonFiniteLossException(Where(value) + $"in term '{term}'. " + advice, epoch, step, term);
    }

    /// <summary>A finite run that has gone wrong: its loss over 10⁴ times the first epoch's, or its test accuracy still at
    /// chance (≤ 1.5 / classes) from the second epoch on, when the objective trains the classifier at all
    /// (<see cref="ILossTerm.TrainsClassifier"/>). NaN stops training earlier (<see cref="NonFiniteLossException"/>).</summary>
    /// <param name="firstStepLoss">The run's first step's loss, for its first epoch (which has no earlier epoch to
    /// compare with): a loss that explodes within that epoch is caught there, not only after a second one.</param>
    internal static string? Divergence(EpochMetrics m, EpochMetrics first, int classes, bool trainsClassifier = true, double? firstStepLoss = null)
    {
        if (firstStepLoss is > 0 and var f && m.TrainLoss > 1e4 * f)
            return string.Create(CultureInfo.InvariantCulture, $"diverged: train loss {m.TrainLoss:G3} over epoch {m.Epoch} is over 10^4 times its first step's ({f:G3})");
        if (first.TrainLoss > 0 && m.TrainLoss > 1e4 * first.TrainLoss)
            return string.Create(CultureInfo.InvariantCulture, $"diverged: train loss {m.TrainLoss:G3} at epoch {m.Epoch} is over 10^4 times the first epoch's ({first.TrainLoss:G3})");
        var chance = 100.0 / classes;
        if (trainsClassifier && m.Epoch >= 2 && m.TestAccuracy <= 1.5 * chance)
            return string.Create(CultureInfo.InvariantCulture, $"diverged: test accuracy {m.TestAccuracy:F1}% at epoch {m.Epoch} is at chance ({chance:F0}% for {classes} classes)");
        return null;
    }

    string Describe(EpochMetrics m, List<EpochMetrics> history)
    {
        var best = history.MaxBy(h => h.ValidationAccuracy ?? h.TestAccuracy)!;
        // Invariant, as every record is: under LANG=de_DE the lines read "lr 0,06913 loss 1,8773 ... 4.121 img/s".
        var inv = CultureInfo.InvariantCulture;
        var termText = m.TermLosses.Count > 1 ? $" ({string.Join(", ", m.TermLosses.Select(t => string.Create(inv, $"{t.Name} {LossText(t.Value)}")))})" : "";
        var valText = m.ValidationAccuracy is double v ? string.Create(inv, $"  val {v:F2}%") : "";
        return string.Create(inv, $"{o.Name} epoch {m.Epoch,3}/{o.Epochs}  lr {m.LearningRate:G4}  loss {LossText(m.TrainLoss)}{termText}  train {m.TrainAccuracy:F2}%{valText}  test {m.TestAccuracy:F2}%") +
               string.Create(inv, $"  (best {best.TestAccuracy:F2}% @{best.Epoch})  {m.Seconds:F1}s  {m.SamplesPerSecond:N0} img/s");
    }

    public void Dispose()
    {
        optimizer.Dispose();
        generator.Dispose();
        folder?.Dispose();
        foreach (var t in new[] { trainImages, trainLabels, testImages, testLabels, valImages, valLabels, teacherLogits }) t?.Dispose();
    }
}
