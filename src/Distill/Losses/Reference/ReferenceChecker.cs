using System.Globalization;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>Outcome of one reference case. Errors are absolute; a case passes when both are within their tolerance and
/// no problem occurred (unknown loss, bad inputs, a teacher input that received a gradient).</summary>
public sealed record ReferenceCaseResult(string Name, string Loss, double LossError, double LossTolerance, double GradError, double GradTolerance, string? Problem)
{
    public bool Passed => Problem is null && LossError <= LossTolerance && GradError <= GradTolerance;

    public string Describe() => ReferenceFile.Printable(Problem is not null
        ? $"FAIL {Name}: {Problem}"
        : string.Create(CultureInfo.InvariantCulture, $"FAIL {Name}: loss error {LossError:0.###e+0} (tolerance {LossTolerance:0.###e+0}), grad error {GradError:0.###e+0} (tolerance {GradTolerance:0.###e+0})"));
}

/// <summary>
/// Checks reference cases through <see cref="LossRegistry"/> in float32: |loss − expected| ≤ 1e-4·max(1, |expected|) and
/// max_i |grad_i − expected_i| ≤ 1e-4·max(1, max_i |expected_i|), the gradient taken w.r.t. the student's input.
/// Inputs whose name starts with "teacher" are made to require gradients too, and must not receive any.
/// </summary>
public static class ReferenceChecker
{
    public const double RelativeTolerance = 1e-4;

    public static ReferenceCaseResult Check(ReferenceCase c)
    {
        TorchRuntime.Initialize();
        using var scope = NewDisposeScope();
        var lossTol = RelativeTolerance * Math.Max(1, Math.Abs(c.ExpectedLoss));
        var gradTol = RelativeTolerance * Math.Max(1, c.ExpectedGrad.Data.Select(Math.Abs).DefaultIfEmpty(0).Max());
        ReferenceCaseResult Problem(string p) => new(c.Name, c.Loss, double.NaN, lossTol, double.NaN, gradTol, p);

        if (!LossRegistry.Contains(c.Loss)) return Problem(new UnknownLossException(c.Loss).Message);
        // Class indices index the student's logits' last dimension: out of range, libtorch's own error names neither.
        if (c.Inputs.TryGetValue(c.GradInput, out var logits) && logits.Shape.Length >= 2)
            foreach (var (name, t) in c.Inputs.Where(i => i.Value.IsInteger && (i.Key == "labels" || i.Key.EndsWith("_labels", StringComparison.Ordinal))))
                for (var i = 0; i < t.Data.Length; i++)
                    if (t.Data[i] < 0 || t.Data[i] >= logits.Shape[^1])
                        return Problem(string.Create(CultureInfo.InvariantCulture, $"{name}[{i}] = {t.Data[i]} is outside [0, {logits.Shape[^1]}), the classes of '{c.GradInput}' [{string.Join(", ", logits.Shape)}]"));
        try
        {
            var inputs = c.Inputs.ToDictionary(kv => kv.Key, kv => ToTensor(kv.Value, kv.Key == c.GradInput || kv.Key.StartsWith("teacher", StringComparison.Ordinal)));
            var loss = LossRegistry.Compute(c.Loss, inputs, c.Params);
            if (loss.numel() != 1) return Problem($"the loss has shape [{string.Join(", ", loss.shape)}], expected a scalar");
            loss.backward();
            foreach (var (name, t) in inputs)
                if (name != c.GradInput && t.requires_grad && t.grad is not null)
                    return Problem($"teacher input '{name}' received a gradient; the teacher side must be detached");
            var grad = inputs[c.GradInput].grad;
            if (grad is null) return Problem($"no gradient reached '{c.GradInput}'");

            var got = grad.to_type(ScalarType.Float64).data<double>().ToArray();
            var gradErr = got.Zip(c.ExpectedGrad.Data, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max();
            var lossErr = Math.Abs(loss.to_type(ScalarType.Float64).item<double>() - c.ExpectedLoss);
            // NaN compares false: a NaN loss or gradient fails with the error shown as NaN.
            return new(c.Name, c.Loss, double.IsNaN(lossErr) ? double.PositiveInfinity : lossErr, lossTol,
                double.IsNaN(gradErr) || got.Any(double.IsNaN) ? double.PositiveInfinity : gradErr, gradTol, null);
        }
        catch (Exception e)
        {
            // Bad shapes, libtorch errors (a tensor too large to make), anything: one failing case with its message,
            // never a crash of the whole run.
            var known = e is ArgumentException or InvalidOperationException or System.Runtime.InteropServices.ExternalException;
            return Problem((known ? "" : e.GetType().Name + ": ") + ErrorText.Line(e).Trim());
        }
    }

    /// <summary>
    /// Checks every case of <paramref name="path"/>, writes one line per failing case and "N passed, N failed" to
    /// <paramref name="output"/>; returns 0 when all pass, 1 otherwise. A missing or malformed file gives one line on
    /// <paramref name="error"/> and 1.
    /// </summary>
    public static int Run(string path, TextWriter output, TextWriter error)
    {
        ReferenceFile file;
        try { file = ReferenceFile.Load(path); }
        catch (ReferenceFormatException e)
        {
            error.WriteLine($"error: {ReferenceFile.Printable(e.Message)}");
            return 1;
        }
        try { TorchRuntime.Initialize(); }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
        {
            error.WriteLine($"error: libtorch could not be loaded ({(e.InnerException ?? e).Message.Split('\n')[0]}); run `distill doctor` for the fix.");
            return 1;
        }
        int passed = 0, failed = 0;
        foreach (var c in file.Cases)
        {
            var r = Check(c);
            if (r.Passed) passed++;
            else
            {
                failed++;
                output.WriteLine(r.Describe());
            }
        }
        output.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    static Tensor ToTensor(ReferenceTensor t, bool requiresGrad) => t.IsInteger
        ? tensor(t.Data.Select(x => (long)x).ToArray(), t.Shape, ScalarType.Int64)
        : tensor(t.Data.Select(x => (float)x).ToArray(), t.Shape, ScalarType.Float32, requires_grad: requiresGrad);
}
