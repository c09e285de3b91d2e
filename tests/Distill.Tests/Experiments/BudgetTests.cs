using Distill.Data;
using Distill.Experiments;
using Distill.Methods;
using Distill.Models;
using Distill.Native;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Experiments;

/// <summary>The budgets' settings: the full budget is the papers' setting (checked without training it: no GPU here),
/// and the notebooks' parameters cell overrides seeds and epochs.</summary>
public class BudgetTests
{
    public BudgetTests() => TorchRuntime.Initialize();

    /// <summary>Every feature name of a model built for the dataset's shape (no data needed).</summary>
    static IReadOnlyList<string> Features(string model, string dataset)
    {
        var info = dataset switch { "cifar10" => (3, 10, 32), "cifar100" => (3, 100, 32), _ => (1, 10, 28) };
        using var m = ModelZoo.Create(model, info.Item1, info.Item2, new ModelOptions { ImageSize = info.Item3 });
        return m.FeatureNames;
    }

    static void Paper(RecipeConfig c, string dataset, string teacher, string student, int studentEpochs)
    {
        Assert.Equal(Budget.Full, c.Budget);
        Assert.Equal(dataset, c.Dataset);
        Assert.Equal(DatasetCatalog.Get(dataset).Name, c.Dataset); // a name the loader knows
        Assert.Equal(teacher, c.Teacher);
        Assert.Equal(student, c.Student);
        Assert.Equal(studentEpochs, c.StudentEpochs);
        Assert.Null(c.TransferSize); // the whole training split
        Assert.Null(c.TestSize);
        Assert.True(c.Seeds.Count >= 3);
    }

    [Fact]
    public void Full_budget_soft_targets_is_hintons_mnist_setting()
    {
        var c = SoftTargetsConfig.For(Budget.Full);
        Paper(c, "mnist", "mlp-1200-1200", "mlp-800-800", 60);
        Assert.Equal(20, c.Temperature);
        Assert.Equal(new ModelOptions { Dropout = 0.5, InputDropout = 0.2, Jitter = 2 }, c.TeacherModel);
        Assert.Equal(0, c.StudentDropout);
        Assert.Equal(3, c.OmittedClass); // the paper leaves out the digit 3
        Assert.Contains(20.0, c.Temperatures);
    }

    [Fact]
    public void Full_budget_fitnets_is_cifar10_with_a_deeper_thinner_student_and_valid_hint_layers()
    {
        var c = FitNetsConfig.For(Budget.Full);
        Paper(c, "cifar10", "resnet32x4", "resnet56", 240);
        Assert.Contains(c.HintLayer, Features(c.Teacher, c.Dataset));
        Assert.Contains(c.GuidedLayer, Features(c.Student, c.Dataset));
        Assert.Equal(Augmentation.Cifar, c.Augment);
        using var t = ModelZoo.Create(c.Teacher, 3, 10);
        using var s = ModelZoo.Create(c.Student, 3, 10);
        Assert.True(s.ParameterCount * 5 < t.ParameterCount, "the student is much thinner");
    }

    [Fact]
    public void Full_budget_attention_transfer_is_the_papers_wrn_pair_on_cifar10()
    {
        var c = AttentionTransferConfig.For(Budget.Full);
        Paper(c, "cifar10", "wrn-40-1", "wrn-16-1", 200);
        Assert.Equal(["stage1", "stage2", "stage3"], c.Groups);
        Assert.All(c.Groups, g => Assert.Contains(g, Features(c.Student, c.Dataset)));
        Assert.All(c.Groups, g => Assert.Contains(g, Features(c.Teacher, c.Dataset)));
        Assert.Equal(1000, c.Beta);
        Assert.Equal(LrSchedule.MultiStep([60, 120, 160], 0.2).ToString(), c.Schedule.ToString());
    }

    [Fact]
    public void Full_budget_born_again_and_comparison_are_on_cifar100()
    {
        var b = BornAgainConfig.For(Budget.Full);
        Paper(b, "cifar100", b.Teacher, "wrn-28-1", 200);
        var c = ComparisonConfig.For(Budget.Full);
        Paper(c, "cifar100", "resnet32x4", "resnet8x4", 240);
        Assert.Equal("8", c.Set["dkd"]["beta"]); // mdistiller's CIFAR-100 setting; quick uses the catalogue default 1 (see DkdMethod)
        Assert.Equal(LrSchedule.MultiStep([150, 180, 210]).ToString(), c.Schedule.ToString());
        Assert.Equal(64, c.BatchSize);
    }

    [Theory]
    [InlineData("resnet32x4", "resnet8x4")]
    [InlineData("wrn-40-2", "wrn-16-2")]
    public void Every_comparison_method_trains_a_step_on_the_full_budget_pairs(string teacherName, string studentName)
    {
        // CIFAR-100-shaped random images: the point is that every method finds its layers and shapes on
        // resnet32x4 → resnet8x4 (whose features differ from the quick budget's CNNs), not what it learns.
        using var scope = NewDisposeScope();
        using (manual_seed(0)) { }
        var train = new Split(randint(0, 256, [16, 3, 32, 32]).to(ScalarType.Byte), randint(0, 100, [16]));
        var test = new Split(randint(0, 256, [8, 3, 32, 32]).to(ScalarType.Byte), randint(0, 100, [8]));
        using var data = new ImageDataset("cifar100-shaped", train, test, [.. Enumerable.Range(0, 100).Select(i => $"c{i}")],
            [0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f], "generated");
        var c = ComparisonConfig.For(Budget.Full) with { Teacher = teacherName, Student = studentName };
        Assert.Contains((teacherName, studentName), ComparisonConfig.PaperPairs);
        using var teacher = ModelZoo.Create(c.Teacher, 3, 100);
        // Every catalogue method: the comparison's with the full budget's settings, and the two that change the pair
        // (kd-multi, here with the pair's teacher and student names, both served by the one teacher, and byot).
        foreach (var method in MethodCatalogue.Names)
        {
            using var student = ModelZoo.Create(c.Student, 3, 100);
            var choice = method == "kd-multi" ? MethodCatalogue.Parse($"kd-multi:teachers={c.Teacher},{c.Student}")
                // 16 images make batches of 16, below the 64 pkt's default weight is set for (and refused under): given, it is taken.
                : method == "pkt" ? MethodCatalogue.Parse("pkt:weight=30000") : Comparison.Choice(method, c);
            var objective = choice.Build(new MethodSetup(c.Student, c.Teacher, data, c.BatchSize) { TrainedTeacher = _ => teacher });
            var r = Trainer.Train(student, data, objective,
                new TrainOptions { Name = method, Epochs = 1, BatchSize = 8, Device = "cpu", Progress = false }, choice.Method.NeedsTeacher ? teacher : null);
            Assert.True(double.IsFinite(r.History[^1].TrainLoss), $"{method}: loss {r.History[^1].TrainLoss}");
        }
    }

    [Fact]
    public void Parameters_cell_overrides_seeds_and_epochs_and_keeps_the_recipes_own_settings()
    {
        var quick = SoftTargetsConfig.For(Budget.Quick);
        var log = new StringWriter();
        var c = quick.WithParameters(" 3, 5 ", 7, teacherSeed: 2, log: log);
        Assert.IsType<SoftTargetsConfig>(c);
        Assert.Equal([3, 5], c.Seeds);
        Assert.Equal(7, c.StudentEpochs);
        Assert.Equal(2, c.TeacherSeed);
        Assert.Same(log, c.Log);
        Assert.False(c.Progress);
        Assert.Equal(quick.Temperatures, c.Temperatures);
        Assert.Equal(quick.TeacherEpochs, c.TeacherEpochs);

        var unchanged = quick.WithParameters();
        Assert.Equal(quick.Seeds, unchanged.Seeds);
        Assert.Equal(quick.StudentEpochs, unchanged.StudentEpochs);

        Assert.Contains("not a comma-separated list of integers", Assert.Throws<ArgumentException>(() => quick.WithParameters("0;1")).Message);
        Assert.Contains("repeats a seed", Assert.Throws<ArgumentException>(() => quick.WithParameters("1,1")).Message);
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => quick.WithParameters("", -1));
        Assert.StartsWith($"epochs = -1: give the student's epochs (1 or more), or 0 to keep the budget's ({quick.StudentEpochs}).", negative.Message, StringComparison.Ordinal);
        // Checked as the recipe file is, named by the parameter: a negative seed, a schedule the epochs never reach.
        Assert.Equal("seeds = \"-1\": seeds[0] = -1 is negative: seeds are 0 or more.", Assert.Throws<ArgumentException>(() => quick.WithParameters("-1")).Message);
        Assert.Equal("teacherSeed = -2: teacher_seed = -2 is negative: seeds are 0 or more.", Assert.Throws<ArgumentException>(() => quick.WithParameters(teacherSeed: -2)).Message);
        // The fix is the parameter's (the schedule is the recipe's, which the parameters cannot change).
        Assert.Equal("epochs = 100: the recipe's schedule multistep:150,180,210:0.1 changes the learning rate at the start of epoch 211, which a run of 100 epochs never reaches; give epochs = 211 or more.",
            Assert.Throws<ArgumentException>(() => ComparisonConfig.For(Budget.Full).WithParameters(epochs: 100)).Message);
    }
}
