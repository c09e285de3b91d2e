using System.Globalization;
using Distill.Models;
using TorchSharp;
using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Multi-teacher KD (as in You, Xu, Xu &amp; Tao, KDD 2017, "Learning from Multiple Teacher Networks", and the averaged
/// baseline of later work): the student matches the weighted mean of the teachers' softened distributions,
/// <c>q = Σ_k w_k softmax(t_k/T) / Σ_k w_k</c>, <c>L = T²·(1/B) Σ_b KL(q_b ‖ softmax(s_b/T))</c>. Teachers may have
/// different architectures; only their logits meet.
/// </summary>
public static class MultiTeacherKd
{
    /// <param name="teacherLogits">[K, B, C]: every teacher's logits for the batch.</param>
    /// <param name="weights">one weight per teacher (non-negative, not all zero); null = the plain average.</param>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, double temperature, IReadOnlyList<double>? weights = null)
    {
        if (teacherLogits.dim() != 3 || teacherLogits.shape[0] == 0)
            throw new ArgumentException($"kd_multi: teacher logits must be [K, B, C] with K ≥ 1 teachers, got {Shape(teacherLogits)}.");
        if (!teacherLogits.shape.Skip(1).SequenceEqual(studentLogits.shape))
            throw new ArgumentException($"kd_multi: teacher logits {Shape(teacherLogits)} must be [K, B, C] for the student's {Shape(studentLogits)} ([K, {string.Join(", ", studentLogits.shape)}]).");
        Logits2D("kd_multi", studentLogits, teacherLogits[0]);
        Kd.CheckTemperature("kd_multi", temperature);
        var k = teacherLogits.shape[0];
        var w = weights ?? [.. Enumerable.Repeat(1.0, (int)k)];
        if (w.Count != k || w.Any(x => !(x >= 0) || !double.IsFinite(x)) || w.Sum() <= 0)
            throw new ArgumentException($"kd_multi: give {k} non-negative weights, not all zero (got {string.Join(", ", w.Select(x => x.ToString(CultureInfo.InvariantCulture)))}).");
        // log q = logsumexp_k(log w_k + log softmax(t_k/T)) − log Σw: finite for any logits.
        var (student, teachers) = Widened(studentLogits, teacherLogits.detach(), temperature);
        var logW = tensor(w.Select(x => Math.Log(x)).ToArray(), dtype: teachers.dtype, device: teachers.device).reshape(k, 1, 1);
        var logQ = ((teachers / temperature).log_softmax(2) + logW).logsumexp(0) - Math.Log(w.Sum());
        var logS = (student / temperature).log_softmax(1);
        return AsDtypeOf(BatchMeanKl(logQ, logS) * (temperature * temperature), studentLogits);
    }
}

/// <summary>KD from several trained teachers run on the student's batch. The teachers stay frozen and in eval mode; they
/// are not the term's modules, so they are neither trained nor saved in the student's checkpoints.</summary>
public sealed class MultiTeacherKdTerm(IReadOnlyList<DistillModel> teachers, double temperature, IReadOnlyList<double>? weights = null,
    string name = "kd_multi") : ILossTerm
{
    readonly IReadOnlyList<DistillModel> teachers = teachers is { Count: > 0 } ? teachers
        : throw new ArgumentException($"{name}: needs at least one teacher, got {(teachers is null ? "null" : "none")}.", nameof(teachers));

    public string Name => name;
    public IEnumerable<nn.Module> OwnTeachers => teachers;
    public string Settings => TermSupport.Describe(("teachers", teachers.Select(t => $"{t.ZooName ?? t.GetType().Name} ({t.ParameterCount} parameters)")),
        ("temperature", temperature), ("weights", (IEnumerable<double>?)weights ?? []));
    public bool NeedsTeacher => false;

    public Tensor Compute(StepContext ctx)
    {
        var x = ctx.Inputs ?? throw new InvalidOperationException($"{name}: the step has no input batch; train it through the Trainer.");
        Tensor logits;
        using (no_grad())
            logits = stack(teachers.Select((t, i) =>
            {
                t.to(x.device).eval();
                var l = t.call(x).Logits;
                // Named here: stack's own message ("stack expects each tensor to be equal size") names no teacher.
                if (!l.shape.SequenceEqual(ctx.Student.Logits.shape))
                    throw new ArgumentException($"{name}: teacher {i} ({t.ZooName ?? t.GetName()}) gives logits {TermSupport.Shape(l)}, the student {TermSupport.Shape(ctx.Student.Logits)}; " +
                                                "every teacher must be built for the student's classes.");
                return l;
            }));
        return MultiTeacherKd.Loss(ctx.Student.Logits, logits, temperature, weights);
    }
}

public sealed class MultiTeacherMethod : Methods.Method
{
    public override string Name => "kd-multi";
    public override string Summary => "several teachers: (1 − α)·CE + α·KD to the weighted mean of their softened outputs";
    public override Methods.Paper Paper { get; } = new("You, Xu, Xu & Tao", 2017, "KDD", "Learning from Multiple Teacher Networks");
    public override Methods.MethodKind Kind => Methods.MethodKind.Logit;
    public override bool NeedsTeacher => false;
    public override bool TrainsOwnTeachers => true;
    public override bool InComparison => false;

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("teachers", "comma-separated teacher models, each once (all train with the run's seed), trained first (e.g. cnn,mlp-1200-1200)", Text: "cnn,mlp-1200-1200"),
        new("weights", "comma-separated weight per teacher; empty = equal", Text: ""),
        Methods.MethodParameter.Temperature("temperature", "temperature T", 4),
        new("alpha", "weight α of the soft term; the cross-entropy gets 1 − α", 0.9, 0, 1),
    ];

    // A spec has one teacher section: the others would be trained without a key for their epochs, seed or optimizer,
    // outside the sweep's teacher cache, and the runner has no way to train them (MethodSetup.TrainedTeacher).
    public override string NotInSpecs =>
        "kd-multi trains extra teachers (its teachers parameter), which a spec cannot describe (a spec has one teacher:); " +
        "run it with `distill train --method kd-multi`, or use kd with one teacher.";

    /// <summary>The teachers and their weights (null: equal).</summary>
    static (string[] Names, double[]? Weights) Teachers(Methods.MethodSettings s)
    {
        var names = s.List("teachers");
        if (names.Length == 0) throw new ArgumentException("kd-multi: teachers is empty; name at least one model.");
        // Every name checked now: a misspelt second teacher was found only after the first had trained for minutes.
        foreach (var name in names)
        {
            try { ModelZoo.Canonical(name); }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"kd-multi: teachers={s.Text("teachers")}: {ErrorText.WithoutParameter(e)}", e);
            }
        }
        // Every teacher trains with the run's seed and options, so a name given twice (as the zoo reads names) is the
        // same network twice, reused from the teacher cache: a one-teacher run labelled as two. Weights weigh one more.
        if (names.GroupBy(ModelZoo.Identity).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"kd-multi: teachers={s.Text("teachers")}: {twice.Key} is given {twice.Count()} times; every teacher trains with the run's seed, " +
                                        "so a repeat is the same model counted twice: name each teacher once (use weights to weigh one more).");
        // A teacher may weigh 0 (left out), as the loss allows; all of them 0 leaves no target to match.
        double[]? weights = s.Text("weights").Trim().Length == 0 ? null : s.Numbers("weights", min: 0);
        if (weights is not null && weights.All(w => w == 0))
            throw new ArgumentException($"kd-multi: weights={s.Text("weights")}: the weights are all zero, so there is no target to match; " +
                                        "give at least one teacher a positive weight, or leave weights empty for equal ones.");
        if (weights is not null && weights.Length != names.Length)
            throw new ArgumentException($"kd-multi: {NumberText.Count(weights.Length, "weight")} for {NumberText.Count(names.Length, "teacher")}; give one weight per teacher.");
        return (names, weights);
    }

    protected override void Check(Methods.MethodSettings s) => Teachers(s);

    // α weights the soft term; the cross-entropy's 1 − α is replaced by the spec's ce (MethodCatalogue.Combine).
    public override IReadOnlyList<string> TermWeights { get; } = ["alpha"];

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        var (names, weights) = Teachers(s);
        var provider = setup.TrainedTeacher ?? throw new ArgumentException("kd-multi: this set-up cannot train extra teachers; run it through `distill train --method` or a recipe.");
        // Every teacher sized before the first trains: one too large to train here was found only after the others had.
        foreach (var name in names) Models.ModelZoo.CheckFits(name, setup.Data);
        var alpha = s["alpha"];
        return new Objective().Add(new CrossEntropyTerm(), 1 - alpha)
            .Add(new MultiTeacherKdTerm([.. names.Select(provider)], s["temperature"], weights), alpha);
    }

    public override IReadOnlyDictionary<string, Func<LossArguments, Tensor>> References { get; } = new Dictionary<string, Func<LossArguments, Tensor>>
    {
        ["kd_multi"] = a => MultiTeacherKd.Loss(a.Input("student_logits"), a.Input("teacher_logits"), a.Param("temperature")),
    };
}
