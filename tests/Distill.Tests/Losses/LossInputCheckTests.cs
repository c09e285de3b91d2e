using Distill.Losses;
using Distill.Models;
using Distill.Native;
using static TorchSharp.torch;

namespace Distill.Tests.Losses;

/// <summary>Bad inputs are refused by the loss library with an ArgumentException naming the argument, the bad value and
/// what is valid, never by a raw libtorch error (or a value that fails later, in backward or in training).</summary>
public class LossInputCheckTests
{
    public LossInputCheckTests() => TorchRuntime.Initialize();

    static Tensor Randn(long seed, params long[] shape)
    {
        using var g = new Generator((ulong)seed);
        return randn(shape, generator: g);
    }

    /// <summary>Every loss that takes labels, on student and teacher logits [4, 4].</summary>
    public static TheoryData<string> LabelLosses() => ["ce", "kd_hard", "dkd", "cwtm", "self"];

    static Tensor WithLabels(string loss, Tensor labels)
    {
        var (s, t) = (Randn(1, 4, 4), Randn(2, 4, 4));
        switch (loss)
        {
            case "ce": return new CrossEntropyTerm().Compute(new StepContext(new ModelOutput(s, []), null, labels, 0, 0, 0));
            case "kd_hard": return KdHard.Loss(s, t, labels, 4, 0.5);
            case "dkd": return Dkd.Loss(s, t, labels, 1, 8, 4);
            case "cwtm": return Cwtm.Loss(s, t, labels);
            default:
                var term = new SelfDistillationTerm([("stage1", new AuxiliaryHead(3, 5, 4))], "stage2", 0.5, 3, 0.03);
                return term.Compute(new StepContext(new ModelOutput(s, [("stage1", Randn(3, 4, 3)), ("stage2", Randn(4, 4, 5))]), null, labels, 0, 0, 0));
        }
    }

    [Theory]
    [MemberData(nameof(LabelLosses))]
    public void Labels_out_of_range_of_the_wrong_dtype_or_shape_are_refused_naming_them(string loss)
    {
        using var scope = NewDisposeScope();
        Assert.True(double.IsFinite(WithLabels(loss, tensor(new long[] { 0, 1, 2, 3 })).item<float>()));

        var high = Assert.Throws<ArgumentException>(() => WithLabels(loss, tensor(new long[] { 0, 1, 2, 10 })));
        Assert.Equal($"{loss}: labels[3] = 10 is outside [0, 4), the classes of the logits [4, 4].", high.Message);
        var negative = Assert.Throws<ArgumentException>(() => WithLabels(loss, tensor(new long[] { 0, -1, 2, 3 })));
        Assert.Equal($"{loss}: labels[1] = -1 is outside [0, 4), the classes of the logits [4, 4].", negative.Message);
        var int32 = Assert.Throws<ArgumentException>(() => WithLabels(loss, tensor(new[] { 0, 1, 2, 3 })));
        Assert.Equal($"{loss}: labels must be int64 class indices, got Int32; convert them with .to(ScalarType.Int64).", int32.Message);
        var shorter = Assert.Throws<ArgumentException>(() => WithLabels(loss, tensor(new long[] { 0, 1, 2 })));
        Assert.Equal($"{loss}: labels must be [B] = [4], got [3].", shorter.Message);
    }

    [Theory]
    [MemberData(nameof(LossPropertyTests.AllLosses), MemberType = typeof(LossPropertyTests))]
    public void Student_and_teacher_of_different_floating_dtypes_are_refused_naming_both(string loss)
    {
        using var scope = NewDisposeScope();
        long[] shape = LossPropertyTests.IsLogits(loss) ? [6, 5] : [6, 4, 3, 3];
        var labels = tensor(new long[] { 0, 1, 2, 3, 4, 0 });
        foreach (var (student, teacher) in new[] { (ScalarType.Float32, ScalarType.Float64), (ScalarType.Float64, ScalarType.Float32) })
        {
            var inputs = LossPropertyTests.InputsFor(loss, Randn(1, shape).to(student), Randn(2, shape).to(teacher), labels);
            var e = Assert.Throws<ArgumentException>(() => LossRegistry.Compute(loss, inputs, LossPropertyTests.ParamsFor(loss)));
            Assert.Contains($"student is {student} and teacher {teacher}; both must have the same floating dtype", e.Message);
        }
    }

    [Fact]
    public void A_hint_regressor_refuses_an_input_of_another_dtype_than_its_weights()
    {
        using var scope = NewDisposeScope();
        var conv = Assert.Throws<ArgumentException>(() => HintRegressor.Conv(4, 8).call(Randn(1, 2, 4, 3, 3).to(ScalarType.Float64)));
        Assert.Equal("hint_conv_regressor: the input is Float64 but the module's weights are Float32; convert the input with .to(ScalarType.Float32).", conv.Message);
        var linear = Assert.Throws<ArgumentException>(() => HintRegressor.Linear(4, 8).call(Randn(1, 2, 4).to(ScalarType.Float64)));
        Assert.Contains("hint_linear_regressor: the input is Float64", linear.Message);
    }
}
