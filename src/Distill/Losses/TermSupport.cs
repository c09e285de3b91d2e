using Distill.Models;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>Shared plumbing of the loss files: input checks, feature lookup, the teacher side, batch-mean KL.</summary>
static class TermSupport
{
    /// <summary>The name that selects a model's logits instead of a named feature (e.g. RKD or PKT on the logits).</summary>
    public const string Logits = "logits";

    /// <summary>A term's <see cref="ILossTerm.Settings"/>: key=value, numbers as G15 in the invariant culture (as the
    /// record writes weights), lists comma-joined, a (student, teacher) feature pair as one name when both are the same.</summary>
    public static string Describe(params (string Key, object Value)[] parameters) =>
        string.Join(", ", parameters.Select(p => $"{p.Key}={Text(p.Value)}"));

    static string Text(object value) => value switch
    {
        string s => s,
        double d => d.ToString("G15", System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? "1" : "0",
        ConstantSchedule c => Text(c.Value),
        // Spelled out: a record's own ToString prints numbers in the current culture and a step schedule's list as its type.
        WindowedSchedule w => $"{(w is CosineSchedule ? "cosine" : w is LinearSchedule ? "linear" : w.GetType().Name)}({Text(w.Start)} to {Text(w.End)} over {Text(w.From)}-{Text(w.To)})",
        StepSchedule st => $"steps({Text(st.Initial)}{string.Concat(st.Boundaries.Select(b => $"; {Text(b.Value)} from {Text(b.Progress)}"))})",
        ScaledSchedule sc => $"{Text(sc.Factor)}*{Text(sc.Inner)}",
        ValueTuple<string, string> pair => pair.Item1 == pair.Item2 ? pair.Item1 : $"{pair.Item1}:{pair.Item2}",
        System.Collections.IEnumerable items => string.Join(",", items.Cast<object>().Select(Text)),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public static Tensor Feature(ModelOutput output, string name) => name == Logits ? output.Logits : output.Feature(name);

    /// <summary>The teacher's output, or a message saying which term needed it.</summary>
    public static ModelOutput Teacher(StepContext ctx, string term) =>
        ctx.Teacher ?? throw new InvalidOperationException(
            $"Loss term '{term}' needs the teacher's output but the step has none; train with a teacher (or drop the term).");

    /// <summary>(1/B) Σ_b KL(P_b ‖ Q_b) from log-probabilities, rows summing to one: the "batchmean" KL that TorchSharp's
    /// kl_div lacks. exp(log p)·(log p − log q) stays finite for logits of any size (log_softmax never underflows to −∞
    /// for finite inputs); p = 0 contributes 0, also for a class the teacher masks with a −∞ logit (see
    /// <see cref="FiniteLog"/>), as long as the student's logit for that class is finite: masked on both sides it is
    /// 0·∞ = NaN, as in PyTorch's kl_div, and the trainer stops on it by name.</summary>
    public static Tensor BatchMeanKl(Tensor logP, Tensor logQ) => (logP.exp() * (FiniteLog(logP) - logQ)).sum() / logP.shape[0];

    /// <summary>The highest temperature at which the KL family (KD, DKD, multi-teacher KD, MLKD's instance level) runs in
    /// the logits' own float32. Its T²-scaled KL sums products of nearly equal log-probabilities, each rounded to about
    /// 5e-7, and the T² factor lifts that error to 1e-4 of the loss near T = 20 (reference cases at T = 32-100 were 2e-4
    /// to 2e-3 off, as PyTorch's float32 is). Above it the softened logits are taken to float64 and the loss comes back
    /// in the logits' dtype, within 1e-6 of float64; at and below it nothing changes for 10 classes, so every run at T ≤ 20
    /// on them (all the notebooks' but at full budget) keeps its numbers bit for bit; many classes widen sooner
    /// (<see cref="Float32MaxTemperatureSquaredLogClasses"/>). CTKD's learned temperature is a tensor, read only on the graph, so its KL
    /// stays in float32: with the default range (1 to 21) it never goes far past this line.</summary>
    public const double Float32MaxTemperature = 20;

    /// <summary>Where the rounding of a log-probability, about ln C times float32's epsilon, reaches 1e-4 of the loss
    /// sooner: the KL family also runs in float64 once w·T²·ln C passes this, w being the largest weight the loss puts
    /// on one KL (DKD's α + β, 9 by default; 1 for the others). For a student near its teacher (a loss well below 1,
    /// where the tolerance is absolute) float32 was 1e-4 to 2e-3 off from about w·T²·ln C = 1,100 on: 1,000-10,000
    /// classes at T = 12-20, 60-99 classes at T = 20 (a KD loss came out negative), DKD on 10 classes from T = 8, as
    /// PyTorch's float32 is. The line is half that: KD on 10 classes widens above T = 14.7 (so at the full budget's
    /// T = 20), DKD above T = 4.9, KD on 100 classes above 10.4; every notebook at the smoke and quick budgets (T ≤ 8,
    /// DKD at 4, 10 classes) stays below it and keeps its numbers bit for bit.</summary>
    public const double Float32MaxTemperatureSquaredLogClasses = 500;

    /// <summary>Past this |logit|/T the KL family's float32 overflows: z/T, or a log-softmax's shift by the row's largest
    /// value (up to twice it), leaves float32's range near 1.7e38 and the loss came out NaN where PyTorch's float64 value
    /// is finite (a tester's [4, 5] logits within ±1e38 at T = 0.5). Short of it float32's log-softmax, which subtracts
    /// the row's largest value first, is exact enough (logits of size 1e20 agree with float64 within 1e-6); the line is
    /// far above any trained network's logits, so every run keeps its float32 numbers bit for bit.</summary>
    public const double Float32MaxScaledLogit = 1e30;

    /// <summary>Student and teacher logits (any shapes) to divide by <paramref name="temperature"/>: both in float64, when
    /// they are float32 or narrower and either the temperature is above <see cref="Float32MaxTemperature"/> or past
    /// <see cref="Float32MaxTemperatureSquaredLogClasses"/> for their class count and the loss's <paramref name="weight"/>
    /// on one KL, or their largest |logit| divided by <paramref name="lowestTemperature"/> (default: the temperature) passes
    /// <paramref name="maxScaledLogit"/>; else as given. The size check reads one number per call (one device sync).</summary>
    public static (Tensor Student, Tensor Teacher) Widened(Tensor student, Tensor teacher, double temperature, double weight = 1,
        double maxScaledLogit = Float32MaxScaledLogit, double? lowestTemperature = null) =>
        IsNarrow(student) && (NeedsFloat64(temperature, student.shape[^1], weight) ||
                              !(LargestMagnitude(student, teacher) / (lowestTemperature ?? temperature) <= maxScaledLogit))
            ? (student.to(ScalarType.Float64), teacher.to(ScalarType.Float64)) : (student, teacher);

    /// <summary>True for the floating dtypes narrower than float64, which the losses widen where float32 falls short.</summary>
    public static bool IsNarrow(Tensor t) => t.dtype is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;

    static bool NeedsFloat64(double temperature, long classes, double weight) =>
        temperature > Float32MaxTemperature ||
        Math.Max(weight, 1) * temperature * temperature * Math.Log(Math.Max(classes, 2)) > Float32MaxTemperatureSquaredLogClasses;

    /// <summary>The largest |value| of the tensors, read as one number (NaN when one holds a NaN).</summary>
    public static double LargestMagnitude(params Tensor[] tensors)
    {
        using var scope = NewDisposeScope();
        return stack(tensors.Select(t => t.detach().abs().max().to(ScalarType.Float64))).max().item<double>();
    }

    /// <summary>True when a float32 (or narrower) result overflowed somewhere: to ∞, or to NaN where two overflows of
    /// opposite sign met (∞ − ∞ in sp's mixed-sign Gram matrix). Then sp and rkd recompute in float64
    /// (<see cref="InFloat64"/>), and at and the row norms of <see cref="Normalized"/> rescale each row, as the results
    /// they compute are the same for any positive scale of a row; a NaN in the inputs themselves stays NaN through it.
    /// Reads one number (one device sync).</summary>
    public static bool Overflowed(Tensor t) => IsNarrow(t) && !(LargestMagnitude(t) < double.PositiveInfinity);

    /// <summary><paramref name="x"/> in float64: where sp's Gram or rkd's distances overflowed float32 (<see cref="Overflowed"/>).
    /// Float64 holds the square of any float32, so nothing is rescaled. Dividing the whole batch by its largest |value|
    /// instead, as these losses did, took the other samples below the 1e-12 floors when one was 1e19 times their size,
    /// and the loss came out finite and wrong (sp 0.24 for 0.40) where PyTorch's float32 gives NaN.</summary>
    public static Tensor InFloat64(Tensor x) => x.to(ScalarType.Float64);

    /// <summary><paramref name="x"/> in float32 when it is float16 or bfloat16: for losses whose floors (1e-12, its square)
    /// round to 0 in those types, where a zero distance's gradient became sqrt′(0) = ∞ and then NaN.</summary>
    public static Tensor AtLeastFloat32(Tensor x) => x.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? x.to(ScalarType.Float32) : x;

    /// <summary>Both tensors in the wider of their two dtypes (one side may have been widened to float64).</summary>
    public static (Tensor, Tensor) Promoted(Tensor a, Tensor b) =>
        a.dtype == b.dtype ? (a, b) : a.dtype == ScalarType.Float64 ? (a, b.to(ScalarType.Float64)) : b.dtype == ScalarType.Float64 ? (a.to(ScalarType.Float64), b)
        : (a.to(ScalarType.Float32), b.to(ScalarType.Float32));

    /// <summary>x / max(‖x‖₂, 1e-12) along <paramref name="dim"/>: nn.functional.normalize's operations in its order, so
    /// the same bits, except where the norm overflows. float32 squares the values, so rows of size 3e9 and more (an
    /// attention map of features near 1e9, a Gram matrix) got an infinite norm and came out all zeros, with a zero
    /// gradient, where PyTorch's float64 gives unit rows. A unit row is the same for any positive scale of its row, so
    /// such rows are divided by their largest |value| first. It reads the largest norm (one number) per call.</summary>
    public static Tensor Normalized(Tensor x, int dim)
    {
        var norm = x.norm(dim, keepdim: true, p: 2.0f);
        if (Overflowed(norm))
        {
            x = x / x.detach().abs().amax([dim], keepdim: true).clamp_min(float.Epsilon);
            norm = x.norm(dim, keepdim: true, p: 2.0f);
        }
        return x / norm.clamp_min(1e-12);
    }

    /// <summary>A loss computed from <see cref="Widened"/> logits, back in the dtype of the logits it came from.</summary>
    public static Tensor AsDtypeOf(Tensor loss, Tensor logits) => loss.dtype == logits.dtype ? loss : loss.to(logits.dtype);

    /// <summary>log p with −∞ raised to the dtype's lowest finite value, for the log p − log q of a KL: where p = 0 (a
    /// −∞ logit) p·(log p − log q) is then 0·finite = 0, with a zero gradient, instead of 0·(−∞) = NaN; PyTorch's kl_div
    /// gets the same 0 from xlogy. One elementwise op, and every finite log p passes unchanged.</summary>
    public static Tensor FiniteLog(Tensor logP) => logP.clamp_min(finfo(logP.dtype).min);

    /// <summary>Student and teacher must share a floating dtype. libtorch is inconsistent with float32 against float64:
    /// some losses promote silently, some fail inside (nst), and some return a value whose backward fails (hint), so
    /// every loss refuses a mismatch here, up front (SameShape and SameBatch call it). Integer values are refused too:
    /// KD on int64 logits returned a loss truncated to an integer, and hint failed inside ("mse_cpu" not implemented
    /// for 'Long').</summary>
    public static void SameDtype(string loss, Tensor student, Tensor teacher)
    {
        foreach (var (side, t) in new[] { ("student", student), ("teacher", teacher) })
            if (!t.is_floating_point())
                throw new ArgumentException(
                    $"{loss}: {side} is {t.dtype}; logits and features must be floating point (convert them with .to(ScalarType.Float32)).");
        if (student.dtype != teacher.dtype)
            throw new ArgumentException(
                $"{loss}: student is {student.dtype} and teacher {teacher.dtype}; both must have the same floating dtype (convert one with .to(ScalarType.{student.dtype})).");
    }

    /// <summary>A module's input must have its weights' dtype: libtorch's own error ("expected scalar type Double but
    /// found Float") names neither.</summary>
    public static void InputDtype(string module, Tensor input, Tensor weight)
    {
        if (input.dtype != weight.dtype)
            throw new ArgumentException(
                $"{module}: the input is {input.dtype} but the module's weights are {weight.dtype}; convert the input with .to(ScalarType.{weight.dtype}).");
    }

    public static void SameShape(string loss, Tensor student, Tensor teacher)
    {
        SameDtype(loss, student, teacher);
        if (!student.shape.SequenceEqual(teacher.shape))
            throw new ArgumentException(
                $"{loss}: student {Shape(student)} and teacher {Shape(teacher)} must have the same shape.");
    }

    /// <summary>[B, …] features of both models with the same B ≥ 1 and at least one value per sample: a zero-size
    /// channel or spatial dimension gave NaN (hint, at, nst) or a meaningless 0 (sp, pkt, rkd).</summary>
    public static void SameBatch(string loss, Tensor student, Tensor teacher)
    {
        SameDtype(loss, student, teacher);
        if (student.dim() < 1 || teacher.dim() < 1 || student.shape[0] != teacher.shape[0] || student.shape[0] == 0)
            throw new ArgumentException(
                $"{loss}: student {Shape(student)} and teacher {Shape(teacher)} must share a non-empty batch dimension.");
        foreach (var (side, t) in new[] { ("student", student), ("teacher", teacher) })
            if (t.numel() == 0)
                throw new ArgumentException($"{loss}: {side} {Shape(t)} has a dimension of size 0; each sample needs at least one value.");
    }

    public static void Logits2D(string loss, Tensor student, Tensor teacher, Tensor? labels = null)
    {
        LogitsShape(loss, student);
        SameShape(loss, student, teacher);
        if (labels is not null) Labels(loss, student, labels);
    }

    static void LogitsShape(string loss, Tensor logits)
    {
        if (logits.dim() != 2) throw new ArgumentException($"{loss}: logits must be [B, C], got {Shape(logits)}.");
        if (logits.shape[0] == 0 || logits.shape[1] == 0)
            throw new ArgumentException($"{loss}: logits must hold at least one sample and one class, got {Shape(logits)}.");
    }

    /// <summary>
    /// Class indices for <paramref name="logits"/> [B, C]: int64 [B], each in [0, C). Every loss that takes labels
    /// calls it once, so a bad label is named here rather than by libtorch ("Target 10 is out of bounds", or one_hot's
    /// "Class values must be smaller than num_classes"). It stays on under the trainer: data loading checks labels against
    /// the dataset's classes, but nothing checks those against the model's C (Trainer.Train takes any model and any
    /// ImageDataset). Its cost is one min/max reduction of the B labels and one small read per call.
    /// </summary>
    public static void Labels(string loss, Tensor logits, Tensor labels)
    {
        LogitsShape(loss, logits);
        // Cross-entropy and self-distillation reach here without a teacher to compare dtypes with (SameDtype); libtorch's
        // own error for int64 logits names a kernel ("log_softmax_lastdim_kernel_impl" not implemented for 'Long').
        if (!logits.is_floating_point())
            throw new ArgumentException($"{loss}: student is {logits.dtype}; logits and features must be floating point (convert them with .to(ScalarType.Float32)).");
        if (labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"{loss}: labels must be int64 class indices, got {labels.dtype}; convert them with .to(ScalarType.Int64).");
        if (labels.dim() != 1 || labels.shape[0] != logits.shape[0])
            throw new ArgumentException($"{loss}: labels must be [B] = [{logits.shape[0]}], got {Shape(labels)}.");
        InRange(loss, "labels", labels, logits.shape[1], $"the classes of the logits {Shape(logits)}");
    }

    /// <summary>Every value of the int64 index tensor <paramref name="indices"/> lies in [0, <paramref name="bound"/>):
    /// one min/max reduction; only on failure is the first bad element looked for, to name it.</summary>
    public static void InRange(string loss, string name, Tensor indices, long bound, string of)
    {
        if (indices.numel() == 0) return;
        var (lo, hi) = indices.aminmax();
        long min, max;
        using (lo) using (hi) (min, max) = (lo.item<long>(), hi.item<long>());
        if (min >= 0 && max < bound) return;
        using var flat = indices.flatten();
        var i = flat.lt(0).logical_or(flat.ge(bound)).nonzero()[0, 0].item<long>();
        throw new ArgumentException($"{loss}: {name}[{i}] = {flat[i].item<long>()} is outside [0, {bound}), {of}.");
    }

    /// <summary>A loss's number inside the range its method declares for it (<see cref="Methods.MethodParameter.Accepts"/>),
    /// so a direct call and the catalogue (<c>distill methods</c>, specs, <c>--set</c>) refuse the same values: the
    /// loss functions took negative or NaN weights and powers the catalogue refuses.</summary>
    public static void InCatalogueRange(string loss, Methods.MethodParameter parameter, double value)
    {
        if (!parameter.Accepts(value))
            throw new ArgumentOutOfRangeException(parameter.Name, value,
                $"{loss}: {parameter.Name} = {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} is outside {parameter.Range}, the range the method catalogue accepts.");
    }

    /// <summary>Losses that compare every pair of samples, classes or channels hold tensors of B², C² or B·C² numbers: a
    /// 1 MB reference file of sp at a batch of 20,000 took 17 GB, and one a little larger would have grown until the
    /// kernel's OOM killer ended the process with no message. On the CPU such a loss is refused, naming the size, when
    /// <paramref name="tensors"/> tensors of <paramref name="elements"/> numbers (the results, their temporaries and
    /// their gradients) would not fit in the memory available. Training calls this every step with the same few
    /// sizes, so the memory (a read of /proc/meminfo) is asked only for a size larger than the largest that fitted.</summary>
    /// <param name="what">The comparison, for the message: "a batch of 20,000 compares B² = 400,000,000 pairs".</param>
    /// <param name="fix">What to change: "use a smaller batch".</param>
    /// <param name="elementBytes">The bytes of one number where the loss computes in its own precision (PKT: float64
    /// whatever its input); else the input's, at least float32's.</param>
    public static void CheckMemory(string loss, Tensor like, double elements, double tensors, Func<FormattableString> what, string fix, double? elementBytes = null)
    {
        if (like.device_type != TorchSharp.DeviceType.CPU) return;
        var needed = elements * tensors * (elementBytes ?? Math.Max(like.ElementSize, 4));
        if (fitted.TryGetValue(loss, out var last) && needed <= last) return;
        var available = (double)ModelMemory.AvailableBytes();
        if (needed > available)
            throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{loss}: {FormattableString.Invariant(what())}, about {needed / (1 << 30):0.#} GiB with their gradients, and {available / (1 << 30):0.#} GiB is available; {fix}."));
        fitted[loss] = needed;
    }

    /// <summary>Per loss, the largest estimate <see cref="CheckMemory"/> found to fit.</summary>
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> fitted = new();

    public static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";
}
