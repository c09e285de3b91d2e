using System.Globalization;
using Distill.Models;
using TorchSharp.Modules;
using static Distill.Losses.TermSupport;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Contrastive representation distillation (Tian, Krishnan &amp; Isola, ICLR 2020, "Contrastive Representation
/// Distillation", §3.2-3.4, and RepDistiller's CRD code). Each model's embedding goes through a linear head and L2
/// normalisation (dimension 128). Two memory banks hold a momentum average of every training sample's student and
/// teacher embedding. For a batch, the positive of sample i is its own index; negatives are drawn uniformly from the
/// training set. With scores h = exp(v·m/τ)/Z (Z fixed from the first batch, as in the code), the NCE objective of
/// each direction (student against the teacher bank and the reverse) is
/// <c>−(1/B) Σ_i [log(h_i⁺/(h_i⁺ + K/N)) + Σ_negatives log((K/N)/(h⁻ + K/N))]</c>.
/// One difference from the code: the K negatives are drawn once per step and shared by the batch (as MoCo does) rather
/// than K per sample; the same uniform distribution, but B times less memory traffic on the CPU. Negatives come from a
/// generator seeded by (seed, step), so runs are deterministic and a resumed run draws what the uninterrupted one would.
/// The banks are buffers (saved in checkpoints) updated under no_grad: never on the autograd graph.
/// </summary>
public sealed class CrdModule : nn.Module
{
    readonly Linear studentHead, teacherHead;
    readonly Tensor studentBank, teacherBank, logNormalisers;

    public CrdModule(long studentDim, long teacherDim, long samples, long embedDim, int negatives, double temperature, double momentum) : base("crd")
    {
        if (samples < 2) throw new ArgumentException($"crd: needs at least 2 training samples for its memory bank, got {samples}.");
        // Checked here for a direct caller, as the catalogue checks its settings: τ = 0 gave NaN, a negative τ a finite
        // loss of the opposite sign, a NaN momentum poisoned the banks after the first step, embedDim 0 a constant loss.
        if (studentDim < 1 || teacherDim < 1)
            throw new ArgumentOutOfRangeException(studentDim < 1 ? nameof(studentDim) : nameof(teacherDim), studentDim < 1 ? studentDim : teacherDim,
                "crd: the embeddings' sizes (values per sample of the student's and the teacher's layer) must be at least 1.");
        if (embedDim < 2)
            throw new ArgumentOutOfRangeException(nameof(embedDim), embedDim, "crd: embedDim must be at least 2 (a 1-dimensional normalised embedding is ±1 and teaches nothing).");
        if (negatives < 1) throw new ArgumentOutOfRangeException(nameof(negatives), negatives, "crd: negatives must be at least 1.");
        if (!(temperature > 0 && double.IsFinite(temperature)))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "crd: the temperature τ must be positive and finite (the catalogue's tau: [0.01, 10]).");
        if (!(momentum is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "crd: the memory banks' momentum must lie in [0, 1].");
        (StudentDim, TeacherDim, Samples, Negatives, Tau, Momentum) = (studentDim, teacherDim, samples, negatives, temperature, momentum);
        studentHead = nn.Linear(studentDim, embedDim);
        teacherHead = nn.Linear(teacherDim, embedDim);
        // RepDistiller's initialisation: uniform in ±1/√(D/3), the spread of a unit vector's coordinates.
        var stdv = 1.0 / Math.Sqrt(embedDim / 3.0);
        // In place: the expression's temporaries briefly held three N×D tensors per bank; the values are bit-identical.
        studentBank = rand(samples, embedDim).mul_(2 * stdv).sub_(stdv);
        teacherBank = rand(samples, embedDim).mul_(2 * stdv).sub_(stdv);
        logNormalisers = full(2, float.NaN); // log Z of each direction, set from the first batch (NaN: not yet)
        register_module("student_head", studentHead);
        register_module("teacher_head", teacherHead);
        register_buffer("student_bank", studentBank);
        register_buffer("teacher_bank", teacherBank);
        // Named for what it holds: a checkpoint of the build that stored Z itself ("normalisers") is refused, not misread.
        register_buffer("log_normalisers", logNormalisers);
    }

    public long StudentDim { get; }
    public long TeacherDim { get; }
    public long Samples { get; }
    public int Negatives { get; }
    public double Tau { get; }
    public double Momentum { get; }
    public Tensor StudentBank => studentBank;
    public Tensor TeacherBank => teacherBank;

    /// <param name="student">[B, Ds] student embeddings (flattened features).</param>
    /// <param name="teacher">[B, Dt] teacher embeddings, detached here.</param>
    /// <param name="indices">[B] each sample's index in the training split.</param>
    /// <param name="negatives">[K] indices of the negatives.</param>
    public Tensor Loss(Tensor student, Tensor teacher, Tensor indices, Tensor negatives)
    {
        Check(student, teacher, indices, negatives);
        var (vs, vt) = Embed(student, teacher);
        // The student's embedding is scored against the teacher's bank and vice versa (the bank rows are constants).
        var loss = Nce(vs, teacherBank, indices, negatives, 0) + Nce(vt, studentBank, indices, negatives, 1);
        using (no_grad())
        {
            Update(studentBank, vs, indices);
            Update(teacherBank, vt, indices);
        }
        return loss;
    }

    /// <summary>The inputs of <see cref="Loss"/>, named when wrong instead of failing inside libtorch (a matrix product
    /// of the wrong size, an index_select out of the bank). Indices are read on the device: one min/max reduction each.</summary>
    void Check(Tensor student, Tensor teacher, Tensor indices, Tensor negatives)
    {
        SameBatch("crd", student, teacher);
        InputDtype("crd", student, studentHead.weight!);
        foreach (var (side, features, dim) in new[] { ("student", student, StudentDim), ("teacher", teacher, TeacherDim) })
            if (features.dim() < 2 || features.numel() / features.shape[0] != dim)
                throw new ArgumentException(
                    $"crd: {side} features must be [B, …] with {dim} values per sample (the module's {side}Dim), got {Shape(features)}.");
        var b = student.shape[0];
        if (indices.dtype != ScalarType.Int64 || indices.dim() != 1 || indices.shape[0] != b)
            throw new ArgumentException($"crd: indices must be int64 sample indices [B] = [{b}], got {indices.dtype} {Shape(indices)}.");
        if (negatives.dtype != ScalarType.Int64 || negatives.dim() != 1 || negatives.shape[0] == 0)
            throw new ArgumentException($"crd: negatives must be int64 sample indices [K] with K ≥ 1, got {negatives.dtype} {Shape(negatives)}.");
        InRange("crd", "indices", indices, Samples, $"the {Samples} samples of the memory bank");
        InRange("crd", "negatives", negatives, Samples, $"the {Samples} samples of the memory bank");
    }

    /// <summary>The unit-norm embeddings of both heads; the teacher side is detached (only its head learns).</summary>
    public (Tensor Student, Tensor Teacher) Embed(Tensor student, Tensor teacher) =>
        (nn.functional.normalize(studentHead.call(student.flatten(1)), dim: 1),
         nn.functional.normalize(teacherHead.call(teacher.detach().flatten(1)), dim: 1));

    /// <summary>
    /// RepDistiller's NCE loss, −(Σ log h⁺/(h⁺ + c) + Σ log (c − ε)/(h⁻ + c)) / B with h = exp(score/τ)/Z and
    /// c = K/N + ε, written with softplus: log (h + c) = log c + softplus(score/τ − log Z − log c). Equal up to
    /// float rounding, but the [B, K] negatives take one fused addmm and one softplus (and their two backwards)
    /// instead of seven elementwise passes (exp, divide, add, divide, log, sum), which cost CRD a sixth of the CNN
    /// student's step (bench: method-crd-cnn against kd-live-cnn-8). Z is only ever used as log Z, so it is computed and
    /// kept in log space: log Z = logsumexp(score/τ) − log(count) + log N equals log(N·mean exp(score/τ)) up to float
    /// rounding, and stays finite for any τ, where exp(score/τ) overflowed float32 for τ below 1/ln(float.MaxValue) ≈ 0.0113
    /// (scores of unit vectors reach 1) and made the loss infinite at the first step.
    /// </summary>
    Tensor Nce(Tensor v, Tensor bank, Tensor positives, Tensor negatives, int direction)
    {
        var pos = (bank.index_select(0, positives) * v).sum(1);   // [B] scores
        var negBank = bank.index_select(0, negatives).t();       // [D, K]
        using (no_grad())
            if (float.IsNaN(logNormalisers[direction].item<float>()))
            {
                using var scores = cat([pos.unsqueeze(1), v.mm(negBank)], 1).div(Tau);
                logNormalisers[direction].fill_(scores.flatten().logsumexp(0).item<float>() - Math.Log(scores.numel()) + Math.Log(Samples));
            }
        var logZ = (double)logNormalisers[direction].item<float>(); // a constant: the buffer must not enter the graph (it is written in place)
        var noise = (double)negatives.shape[0] / Samples;            // K·P_n with P_n = 1/N
        const double eps = 1e-7;
        var shift = logZ + Math.Log(noise + eps);                    // log Z + log c
        // −log h⁺/(h⁺ + c) = softplus(log c − log h⁺); −log (c − ε)/(h⁻ + c) = softplus(log h⁻ − log c) − log((c − ε)/c).
        using var offset = tensor(-shift, dtype: v.dtype, device: v.device);
        var logNeg = addmm(offset, v, negBank, beta: 1, alpha: (float)(1 / Tau)); // score/τ − log Z − log c, [B, K]
        var sum = nn.functional.softplus(shift - pos / Tau).sum() + nn.functional.softplus(logNeg).sum();
        var b = v.shape[0];
        return sum / b - negatives.shape[0] * Math.Log(noise / (noise + eps));
    }

    void Update(Tensor bank, Tensor v, Tensor indices)
    {
        var mixed = bank.index_select(0, indices) * Momentum + v.detach() * (1 - Momentum);
        bank.index_copy_(0, indices, nn.functional.normalize(mixed, dim: 1));
    }
}

/// <summary>The CRD term on one (student, teacher) feature pair; reads the batch's sample indices from the step.</summary>
public sealed class CrdTerm(CrdModule crd, string studentFeature, string teacherFeature, int seed, string name = "crd") : ILossTerm
{
    public string Name => name;
    public bool NeedsTeacher => true;
    public bool NeedsTeacherFeatures => teacherFeature != TermSupport.Logits;
    public CrdModule Module => crd;
    public string Settings => TermSupport.Describe(("features", (studentFeature, teacherFeature)), ("seed", seed), ("negatives", crd.Negatives), ("tau", crd.Tau), ("momentum", crd.Momentum), ("dims", $"{crd.StudentDim},{crd.TeacherDim}"));
    public IEnumerable<Parameter> Parameters() => crd.parameters();
    public IEnumerable<nn.Module> Modules() => [crd];

    public Tensor Compute(StepContext ctx)
    {
        var indices = ctx.Indices ?? throw new InvalidOperationException($"{name}: the step has no sample indices; train it through the Trainer.");
        // Seeded by (seed, step): deterministic, and identical after a resume.
        using var generator = new Generator((ulong)seed * 1_000_003UL + (ulong)ctx.Step);
        var negatives = randint(0, crd.Samples, [crd.Negatives], generator: generator, dtype: ScalarType.Int64).to(indices.device);
        return crd.Loss(Feature(ctx.Student, studentFeature), Feature(Teacher(ctx, name), teacherFeature), indices, negatives);
    }
}

public sealed class CrdMethod : Methods.Method
{
    public override string Name => "crd";
    public override string Summary => "contrastive: CE + w·NCE between student and teacher embeddings, with momentum memory banks";
    public override Methods.Paper Paper { get; } = new("Tian, Krishnan & Isola", 2020, "ICLR", "Contrastive Representation Distillation");
    public override Methods.MethodKind Kind => Methods.MethodKind.Relation;
    public override string PaperResult => "Tian 2020; CIFAR-100 resnet32x4→resnet8x4: 75.51 (CRD paper, Table 1)";
    public override string WeightNote => "4096 negatives instead of 16384 (our transfer sets are a few thousand images), shared by the batch instead of drawn per sample";

    public override IReadOnlyList<Methods.MethodParameter> Parameters { get; } =
    [
        new("weight", "weight β of the CRD term (RepDistiller: 0.8)", 0.8, 0, double.PositiveInfinity),
        new("negatives", "negatives K per step", 4096, 1, 1 << 20, Whole: true),
        // At 1 the normalised embedding is ±1, whose gradient through the normalisation is 0: the term taught nothing and
        // the run trained scratch's cross-entropy and accuracy under crd's name.
        new("embed_dim", "dimension of the embedding heads", 128, 2, 1 << 16, Whole: true),
        // Past 10 every score exp(s/τ) is 1 to float precision (s is a cosine): the term's gradient vanished and the run
        // silently trained without it (tau=1e30); below 0.01 exp(1/τ) overflows float32.
        new("tau", "temperature τ of the scores", 0.07, 0.01, 10),
        new("momentum", "momentum of the memory banks", 0.5, 0, 1),
        new("layer", "the layer on both models; empty = each model's last feature (its embedding)", Text: ""),
    ];

    /// <summary>CRD's own memory, refused before anything trains: two float32 banks of an embedding per training sample,
    /// and every step the K negatives' rows gathered from both (kept for the backward pass), 8·(N + K)·D bytes; and the
    /// [B, K] float32 scores of each direction, which do not depend on D. At the first step's backward a step's dispose
    /// scope holds, per direction, logNeg (saved by softplus), its softplus, and Z's v·negBank and cat; plus the one
    /// softplus gradient in flight: 9 matrices, 36·B·K bytes. Past the memory, libtorch's failure to allocate them was
    /// reported as the student and batch size being too large.</summary>
    public static void CheckMemory(long samples, long negatives, long embedDim, long batchSize, long memoryBytes)
    {
        // At most 2^31 · 2^16 · 8 + 36 · 2^31 · 2^20 with the parameters' bounds: no overflow.
        var banks = 8 * (samples + negatives) * embedDim;
        var need = banks + 36 * batchSize * negatives;
        if (need <= memoryBytes) return;
        // The batch size is named only when a smaller one would fit.
        var batch = banks + 36 * negatives <= memoryBytes;
        throw new ModelTooLargeException(string.Create(CultureInfo.InvariantCulture, $"crd: negatives={negatives} and embed_dim={embedDim}{(batch ? $" at batch size {batchSize}" : "")} need about {ModelMemory.Format(need)} " +
                                         $"(two memory banks of {samples:N0} training samples' embeddings and the {negatives:N0} negatives gathered from each every step, " +
                                         $"embed_dim floats a row, and the scores of the {batchSize} batch samples against the negatives), but {ModelMemory.Format(memoryBytes)} " +
                                         $"of memory is available; give smaller negatives or embed_dim (defaults 4096 and 128){(batch ? ", or a smaller batch size" : "")}."));
    }

    /// <summary>RepDistiller draws 16384 negatives from CIFAR-100's 50,000 images, a third of its memory bank. Beyond
    /// this many draws per bank sample, each step's negatives hold every sample several times over, the batch's own
    /// positives among them, and the noise ratio K/N of the NCE grows with them: a setting the paper never ran.</summary>
    public const int DrawsPerSampleCaution = 4;

    public override string? Caution(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(setup);
        long k = (long)s["negatives"], n = setup.TrainCount;
        return k <= DrawsPerSampleCaution * n ? null : string.Create(CultureInfo.InvariantCulture,
            $"crd: negatives={k:N0} from a memory bank of {n:N0} training samples draws each sample about {(double)k / n:F1} times a step, the batch's own positives among them; " +
            $"it trains, but not as the paper's CRD, whose 16,384 negatives are a third of its 50,000 images: give negatives={DrawsPerSampleCaution * n:N0} or fewer " +
            $"({Math.Max(1, n / 3):N0} for the paper's third), or train on more images.");
    }

    public override Objective Build(Methods.MethodSettings s, Methods.MethodSetup setup)
    {
        CheckMemory(setup.TrainCount, (long)s["negatives"], (long)s["embed_dim"], setup.EffectiveBatch, ModelMemory.AvailableBytes());
        var (student, teacher) = setup.Embeddings(s.Text("layer"));
        var crd = new CrdModule(Methods.MethodSetup.Size(setup.StudentShape(student)), Methods.MethodSetup.Size(setup.TeacherShape(teacher)), setup.TrainCount,
            (long)s["embed_dim"], (int)s["negatives"], s["tau"], s["momentum"]);
        return new Objective().Add(new CrossEntropyTerm()).Add(new CrdTerm(crd, student, teacher, setup.Seed), s["weight"]);
    }
}
