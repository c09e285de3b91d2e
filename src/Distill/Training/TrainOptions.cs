using Distill.Models;
using TorchSharp.Modules;

namespace Distill.Training;

/// <summary>
/// Everything that decides a training run besides the model, data, objective and teacher. Defaults are a sensible
/// small-data run (SGD + Nesterov, cosine, batch 128); set what you need with <c>with</c> or an object initializer.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>Run name: metrics rows, CSV and TensorBoard tags.</summary>
    public string Name { get; init; } = "run";
    public int Seed { get; init; }
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 128;
    public int EvalBatchSize { get; init; } = 1000;
    /// <summary>"auto", "cpu", "cuda" or "cuda:N" (see <see cref="Native.TorchRuntime.ResolveDevice"/>).</summary>
    public string Device { get; init; } = "auto";

    public OptimizerSpec Optimizer { get; init; } = OptimizerSpec.Sgd();
    public LrSchedule Schedule { get; init; } = LrSchedule.Cosine();
    /// <summary>Linear warmup of the learning rate over this many epochs (may be fractional), multiplying the schedule
    /// (Goyal et al. 2017, "gradual warmup").</summary>
    public double WarmupEpochs { get; init; }
    /// <summary>Clip the global L2 norm of the gradients to this value (Pascanu et al. 2013); null: no clipping.</summary>
    public double? ClipGradNorm { get; init; }
    /// <summary>What the error of a NaN or infinite loss advises, in the caller's terms (a sweep spec's keys); null: the
    /// command line's and these options' (--lr, --clip, <see cref="ClipGradNorm"/>).</summary>
    public string? NonFiniteAdvice { get; init; }
    /// <summary>How to start a run over whose folder cannot be resumed, in the caller's terms (a sweep has no --force);
    /// null: the command line's --force.</summary>
    public string? StartOverAdvice { get; init; }
    /// <summary>What continues a stopped run from its checkpoint, in the caller's terms (a sweep has no --resume: running
    /// `sweep run` again resumes it); null: the command line's --resume.</summary>
    public string? ResumeAdvice { get; init; }
    public Augmentation Augment { get; init; } = Augmentation.None;

    /// <summary>Training images held out as a validation split (the same ones for every seed, see
    /// <see cref="ValidationSeed"/>). With a validation split, the best epoch is chosen on validation accuracy and
    /// <see cref="TrainResult.BestAccuracy"/> is the test accuracy at that epoch.</summary>
    public int ValidationCount { get; init; }
    public int ValidationSeed { get; init; }

    /// <summary>Whether teacher logits may be computed once for the whole transfer set; see <see cref="TeacherCache"/>.</summary>
    public TeacherCacheMode TeacherCache { get; init; } = TeacherCacheMode.Auto;

    /// <summary>Which student parameters to optimise (default: all). FitNets stage 1 passes the layers up to the guided layer.</summary>
    public Func<DistillModel, IEnumerable<Parameter>>? StudentParameters { get; init; }

    /// <summary>Folder for metrics.csv, TensorBoard events (tb/) and the checkpoint (last.ckpt). Null: nothing written.</summary>
    public string? OutDir { get; init; }
    /// <summary>Write a checkpoint after every epoch (only with <see cref="OutDir"/>).</summary>
    public bool Checkpoints { get; init; } = true;
    public bool TensorBoard { get; init; } = true;
    /// <summary>Continue from OutDir/last.ckpt when it exists (starts afresh, and says so, when it does not).</summary>
    public bool Resume { get; init; }
    /// <summary>Clear an <see cref="OutDir"/> that holds another run instead of refusing it.</summary>
    public bool Force { get; init; }
    /// <summary>Result-affecting settings the caller knows and the trainer cannot see (a loss term's temperature, the
    /// subset size asked for, ...): recorded in OutDir/run.json and checked on resume.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
    /// <summary>Stops training at the next step boundary with <see cref="TrainingStoppedException"/> (Ctrl-C, SIGTERM), after
    /// checkpointing the run's state at that step in OutDir (when checkpoints are on), so a resume loses no step.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Per-epoch lines (and the resume notice) go here; null: silent.</summary>
    public TextWriter? Log { get; init; }
    /// <summary>A live progress line on the terminal. Null: on only when stderr is an interactive terminal and
    /// <see cref="ProgressOffSwitch"/> is not set.</summary>
    public bool? Progress { get; init; }

    /// <summary>AppContext switch a host sets when Console.Error is its capture rather than the process's stderr: distill
    /// run's notebook cells (their stderr is a cell output, while the process's stderr can be a terminal). Set, a null
    /// <see cref="Progress"/> is off, as in the kernel, whose stderr is a pipe.</summary>
    public const string ProgressOffSwitch = "Distill.Training.ProgressLine.Off";

    /// <summary>Called after each epoch, after the checkpoint is written.</summary>
    public Action<EpochMetrics>? OnEpochEnd { get; init; }
    /// <summary>Called after each optimisation step with the global step (diagnostics, leak tests).</summary>
    public Action<long>? OnStepEnd { get; init; }

    /// <summary>The teacher's epochs when `train --teacher` is not told (--teacher-epochs).</summary>
    public const int DefaultTeacherEpochs = 6;

    internal void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be at least 1.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (EvalBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(EvalBatchSize), EvalBatchSize, "EvalBatchSize must be at least 1.");
        if (ValidationCount < 0) throw new ArgumentOutOfRangeException(nameof(ValidationCount), ValidationCount, "ValidationCount cannot be negative.");
        if (WarmupEpochs < 0) throw new ArgumentOutOfRangeException(nameof(WarmupEpochs), WarmupEpochs, "WarmupEpochs cannot be negative.");
        if (ClipGradNorm is <= 0) throw new ArgumentOutOfRangeException(nameof(ClipGradNorm), ClipGradNorm, "ClipGradNorm must be positive (or null for none).");
        if (!double.IsFinite(Optimizer.LearningRate) || Optimizer.LearningRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(Optimizer), Optimizer.LearningRate, "The learning rate must be a finite positive number.");
        if (Resume && Force) throw new ArgumentException("Resume and Force contradict each other: resume continues the run in OutDir, force clears it.");
        if (Resume && OutDir is null) throw new ArgumentException("Resume needs OutDir: the checkpoint is OutDir/last.ckpt.");
    }
}

/// <summary>Training was asked to stop (Ctrl-C, SIGTERM) and stopped at a step boundary; says what is kept.</summary>
public sealed class TrainingStoppedException(string run, int epoch, long batch, string? checkpointDir, string? resumeAdvice = null)
    : OperationCanceledException($"{run}: stopped at epoch {epoch}, step {batch + 1}; " + (checkpointDir is null
        ? "nothing kept (pass --out to keep a checkpoint)"
        : $"its state at that step is checkpointed in {checkpointDir}: {resumeAdvice ?? "--resume"} continues from step {batch + 1}"))
{
    /// <summary>The same stop with nothing kept (the checkpoint's folder is not one --resume can reach).</summary>
    public TrainingStoppedException WithoutCheckpoint() => new(run, epoch, batch, null, resumeAdvice);
}
