using Distill.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>What a loss term sees at one training step. <see cref="Progress"/> runs from 0 (first step) to 1 (last),
/// so weights and temperatures can be scheduled over training. <see cref="Inputs"/> is the normalised batch the student
/// saw (for terms that run models of their own, e.g. extra teachers) and <see cref="Indices"/> each sample's index in
/// the training split (for terms that keep per-sample state, e.g. CRD's memory bank); both are null outside training.</summary>
public sealed record StepContext(ModelOutput Student, ModelOutput? Teacher, Tensor Labels, double Progress, int Epoch, long Step,
    Tensor? Inputs = null, Tensor? Indices = null);

/// <summary>One weighted part of a training objective (cross-entropy, KD, a hint, ...).</summary>
public interface ILossTerm
{
    /// <summary>Short name, used in logs, metrics columns and NaN errors (e.g. "ce", "kd", "at").</summary>
    string Name { get; }

    /// <summary>True when the term reads <see cref="StepContext.Teacher"/>.</summary>
    bool NeedsTeacher { get; }

    /// <summary>True when the term reads teacher features (not only logits); such terms cannot use cached teacher logits.</summary>
    bool NeedsTeacherFeatures => false;

    /// <summary>True when the term's loss reaches the student's logits, so training it trains the classifier. The trainer
    /// flags accuracy at chance as divergence only when some term does: a hint-only stage (FitNets stage 1, a progressive
    /// stage) trains the layers below its hint, and its test accuracy stays at chance by design.</summary>
    bool TrainsClassifier => !NeedsTeacherFeatures;

    /// <summary>True when the term reads nothing of the student but its logits (no features) and runs no model of its
    /// own. When every term is such, the trainer computes the objective on one thread (see Trainer's step).</summary>
    bool LogitsOnly => false;

    /// <summary>The term's own parameters ("temperature=4", "pairs=stage1,stage2, beta=1000, p=2"), null when it has
    /// none. The run record keeps them ("terms"): its objective names each term and its weight only, so a resume with a
    /// changed temperature or β (a recipe's KD or AT run, whose name does not say them) went on under the old record.</summary>
    string? Settings => null;

    /// <summary>Scalar loss for this step. The teacher side must never receive gradients.</summary>
    Tensor Compute(StepContext ctx);

    /// <summary>Trainable parameters the term owns (e.g. the FitNets regressor); the trainer optimises them with the student.</summary>
    IEnumerable<Parameter> Parameters() => [];

    /// <summary>Modules the term owns (e.g. the FitNets regressor), so the trainer can move them to the device, switch
    /// train/eval mode and save them in checkpoints. Read <see cref="Parameters"/> again after moving (TorchSharp #1181).</summary>
    IEnumerable<nn.Module> Modules() => [];

    /// <summary>Teachers the term runs itself, beside the run's one (kd-multi's): their weights are part of the run's
    /// record, so a resume with other teachers is refused as one with another teacher is.</summary>
    IEnumerable<nn.Module> OwnTeachers => [];
}

/// <summary>Sum of weighted terms: Σ wᵢ(progress) · termᵢ. Build with <see cref="Add"/>; terms report separately.</summary>
public sealed class Objective
{
    readonly List<(ILossTerm Term, Schedule Weight)> terms = [];

    public IReadOnlyList<(ILossTerm Term, Schedule Weight)> Terms => terms;

    public Objective Add(ILossTerm term, Schedule? weight = null)
    {
        ArgumentNullException.ThrowIfNull(term);
        if (terms.Any(t => t.Term.Name == term.Name))
            throw new ArgumentException($"The objective already has a term named '{term.Name}'; give each term a distinct name.");
        terms.Add((term, weight ?? new ConstantSchedule(1.0)));
        return this;
    }

    public bool NeedsTeacher => terms.Any(t => t.Term.NeedsTeacher);
    public bool NeedsTeacherFeatures => terms.Any(t => t.Term.NeedsTeacherFeatures);
    public bool LogitsOnly => terms.All(t => t.Term.LogitsOnly);
    public IEnumerable<Parameter> Parameters() => terms.SelectMany(t => t.Term.Parameters());

    /// <summary>Modules owned by terms, keyed by term name (for device moves, train/eval mode and checkpoints).</summary>
    public IEnumerable<(string Term, nn.Module Module)> Modules() => terms.SelectMany(t => t.Term.Modules().Select(m => (t.Term.Name, m)));

    /// <summary>Each term's weight at this point of training (for logs and charts).</summary>
    public IReadOnlyList<(string Name, double Weight)> WeightsAt(double progress) => [.. terms.Select(t => (t.Term.Name, t.Weight.At(progress)))];

    /// <summary>The weighted total and each unweighted term (for logging and NaN diagnosis).</summary>
    public (Tensor Total, IReadOnlyList<(string Name, Tensor Value)> Parts) Compute(StepContext ctx)
    {
        if (terms.Count == 0) throw new InvalidOperationException("The objective has no terms; add at least one (e.g. cross-entropy).");
        Tensor? total = null;
        var parts = new List<(string, Tensor)>(terms.Count);
        foreach (var (term, weight) in terms)
        {
            var value = term.Compute(ctx);
            parts.Add((term.Name, value));
            var w = weight.At(ctx.Progress);
            if (w == 0) continue;
            var weighted = w == 1 ? value : value * w;
            total = total is null ? weighted : total + weighted;
        }
        return (total ?? zeros(1, device: parts[0].Item2.device).sum(), parts);
    }
}
