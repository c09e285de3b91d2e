using Distill.Reporting;
using Distill.Experiments;
using Distill.Models;
using Distill.Native;
using Distill.Tests.Training;
using Distill.Training;

namespace Distill.Tests.Experiments;

/// <summary>Each recipe end to end on real Fashion-MNIST at a tiny budget: every run trains and beats an untrained model.</summary>
public class RecipeTests
{
    public RecipeTests() => TorchRuntime.Initialize();

    /// <summary>Smoke budget cut further: small models, 2,000 teacher images, 1,000 transfer images, 1,000 test images.</summary>
    static T Tiny<T>(T config) where T : RecipeConfig => config with
    {
        Teacher = "cnn-8",
        TeacherTrainSize = 2000,
        TransferSize = 1000,
        TestSize = 1000,
        TeacherEpochs = 1,
        StudentEpochs = 2,
        Device = "cpu",
        Progress = false,
    };

    static double Untrained(string model)
    {
        using (TorchSharp.torch.manual_seed(0)) { }
        using var m = ModelZoo.Create(model, 1, 10);
        return Evaluation.Accuracy(m, TinyData.FashionMnist2k, device: "cpu");
    }

    static void AllBeat(ExperimentResult r, double baseline, double margin = 30)
    {
        Assert.NotEmpty(r.Runs.Rows);
        Assert.All(r.Runs.Rows, row => Assert.True(row.LastAccuracy > baseline + margin,
            $"{row.Name} (seed {row.Seed}): {row.LastAccuracy:F2}% vs untrained {baseline:F2}%"));
    }

    /// <summary>A config changed with <c>with { ... }</c> skipped the file's checks: no seeds trained the teacher
    /// alone, a repeated seed trained one run twice, and a NaN α failed only after the teacher trained.</summary>
    [Fact]
    public void Every_recipe_checks_its_config_before_anything_trains()
    {
        var data = TinyData.FashionMnist;
        string Refused(Action run) => Assert.Throws<ArgumentException>(run).Message;
        var soft = SoftTargetsConfig.For(Budget.Smoke);
        Assert.StartsWith("seeds is empty", Refused(() => SoftTargets.Run(data, soft with { Seeds = [] })));
        Assert.StartsWith("seeds has 1 twice", Refused(() => SoftTargets.Run(data, soft with { Seeds = [1, 1] })));
        Assert.StartsWith("alpha = NaN", Refused(() => SoftTargets.Run(data, soft with { Alpha = double.NaN })));
        Assert.StartsWith("temperatures[1] = ", Refused(() => SoftTargets.Run(data, soft with { Temperatures = [2, double.PositiveInfinity] })));
        Assert.StartsWith("seeds is empty", Refused(() => FitNets.Run(data, FitNetsConfig.For(Budget.Smoke) with { Seeds = [] })));
        Assert.StartsWith("beta = NaN", Refused(() => AttentionTransfer.Run(data, AttentionTransferConfig.For(Budget.Smoke) with { Beta = double.NaN })));
        // KD's α outside [0, 1] made the cross-entropy's weight negative and trained (the CLI's --alpha refuses it).
        Assert.StartsWith("alpha = 1.5: the soft-target weight α is in [0, 1]", Refused(() => SoftTargets.Run(data, soft with { Alpha = 1.5 })));
        Assert.StartsWith("alphas[0] = -0.1", Refused(() => SoftTargets.Run(data, soft with { Alphas = [-0.1] })));
        Assert.StartsWith("temperatures[0] = 0: a KD temperature is in [0.01, 1000]", Refused(() => SoftTargets.Run(data, soft with { Temperatures = [0] })));
        Assert.StartsWith("alpha = 2", Refused(() => AttentionTransfer.Run(data, AttentionTransferConfig.For(Budget.Smoke) with { Alpha = 2 })));
        Assert.StartsWith("temperature = 5000", Refused(() => FitNets.Run(data, FitNetsConfig.For(Budget.Smoke) with { Temperature = 5000 })));
        // A value too small for six decimals is named as itself, not as 0.
        Assert.StartsWith("alpha = -1E-09: the soft-target weight", Refused(() => SoftTargets.Run(data, soft with { Alpha = -1e-9 })));
        // Inside the optimizer and the teacher's model options: NaN and infinity trained the teacher, then failed or ran to NaN.
        Assert.StartsWith("student_optimizer.learning_rate = Infinity: give a finite number above 0", Refused(() => SoftTargets.Run(data, soft with { StudentOptimizer = OptimizerSpec.Sgd(double.PositiveInfinity) })));
        Assert.StartsWith("student_optimizer.momentum = NaN", Refused(() => SoftTargets.Run(data, soft with { StudentOptimizer = OptimizerSpec.Sgd(0.05, momentum: double.NaN) })));
        Assert.StartsWith("teacher_optimizer.weight_decay = NaN", Refused(() => SoftTargets.Run(data, soft with { TeacherOptimizer = OptimizerSpec.Sgd(0.05, weightDecay: double.NaN) })));
        Assert.StartsWith("student_optimizer.momentum = 0 with Nesterov momentum on", Refused(() => SoftTargets.Run(data, soft with { StudentOptimizer = soft.StudentOptimizer with { Kind = OptimizerKind.Sgd, Momentum = 0, Nesterov = true } })));
        Assert.StartsWith("student_optimizer.beta1 = 5: give a number in [0, 1)", Refused(() => SoftTargets.Run(data, soft with { StudentOptimizer = OptimizerSpec.Adam(beta1: 5) })));
        Assert.StartsWith("teacher_model.dropout = NaN", Refused(() => SoftTargets.Run(data, soft with { TeacherModel = soft.TeacherModel with { Dropout = double.NaN } })));
        Assert.StartsWith("student_dropout = 1: a dropout probability is in [0, 1)", Refused(() => SoftTargets.Run(data, soft with { StudentDropout = 1 })));
        Assert.StartsWith("teacher_model.input_dropout = -1", Refused(() => SoftTargets.Run(data, soft with { TeacherModel = soft.TeacherModel with { InputDropout = -1 } })));
        Assert.StartsWith("teacher_model.jitter = -3", Refused(() => SoftTargets.Run(data, soft with { TeacherModel = soft.TeacherModel with { Jitter = -3 } })));
        Assert.StartsWith("omitted_class = 10: fashion-mnist has classes 0 to 9", Refused(() => SoftTargets.Run(data, soft with { OmittedClass = 10 })));
        Assert.StartsWith("generations = 0: give at least 1", Refused(() => BornAgain.Run(data, BornAgainConfig.For(Budget.Smoke) with { Generations = 0 })));
        Assert.StartsWith("seeds is empty", Refused(() => BornAgain.Run(data, BornAgainConfig.For(Budget.Smoke) with { Seeds = [] })));
        Assert.StartsWith("seeds is empty", Refused(() => Comparison.Run(data, ComparisonConfig.For(Budget.Smoke) with { Seeds = [] })));
        Assert.StartsWith("seeds is empty", Refused(() => BeyondKd.Run(data, BeyondKdConfig.For(Budget.Smoke) with { Seeds = [] })));
        // Data of another catalogue dataset than the config names trained, and its records and rows named the config's.
        Assert.Equal("the data is fashion-mnist and the config's Dataset is cifar100, which its records and results would name; load the config's with config.LoadData(), or set Dataset = \"fashion-mnist\" in the config.",
                     Refused(() => SoftTargets.Run(data, soft with { Dataset = "cifar100" })).Split(" (Parameter")[0]);
        Assert.Equal("data", Assert.Throws<ArgumentNullException>(() => SoftTargets.Run(null!, soft)).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentNullException>(() => BeyondKd.Run(null!)).ParamName);
    }

    [Fact]
    public void Soft_targets_trains_teacher_scratch_kd_sweep_and_the_omitted_class()
    {
        var c = Tiny(SoftTargetsConfig.For(Budget.Smoke)) with { Student = "mlp-100", Temperatures = [2, 4], Alphas = [0.5], OmittedClass = 3 };
        var r = SoftTargets.Run(TinyData.FashionMnist, c);

        var names = r.Runs.Summary().Select(s => s.Name).ToList();
        Assert.Equal(["teacher", "scratch", "kd T=4 α=0.9", "kd T=2 α=0.9", "kd T=4 α=0.5", "kd without 'Dress'", "kd without 'Dress' +bias"], names);
        Assert.Equal([2.0, 4.0], r.TemperatureSweep.Select(p => p.Temperature));
        Assert.Single(r.AlphaSweep);
        AllBeat(r, Untrained("mlp-100"));
        Assert.NotNull(r.TeacherModel);

        var o = Assert.Single(r.OmittedClass);
        Assert.Equal("Dress", o.ClassName);
        Assert.Equal(1000, o.TestCount);
        Assert.True(o.ErrorsAfter <= o.ErrorsBefore);
        // The student never saw a dress label: it is worse on dresses than overall before the correction.
        Assert.True(o.ClassAccuracyBefore < o.AccuracyBefore, o.ToString());
        Assert.Equal(7, r.ToDataFrame().Rows.Count);
    }

    [Fact]
    public void FitNets_hint_stage_trains_only_the_guided_layers_then_kd()
    {
        var c = Tiny(FitNetsConfig.For(Budget.Smoke)) with { Student = "cnn-4", HintEpochs = 2 };
        var r = FitNets.Run(TinyData.FashionMnist, c);

        Assert.Equal(["teacher", "scratch", "kd", "fitnet"], r.Runs.Summary().Select(s => s.Name));
        var hint = Assert.Single(r.HintStages);
        Assert.Equal("hint", Assert.Single(hint.History[0].TermLosses).Name);
        Assert.True(hint.History[1].TrainLoss < hint.History[0].TrainLoss, "the hint loss must fall in stage 1");
        AllBeat(r, Untrained("cnn-4"));

        using var student = ModelZoo.Create("cnn-4", 1, 10);
        using var probe = TinyData.FashionMnist2k.Normalize(TinyData.FashionMnist2k.Train.Images.narrow(0, 0, 2));
        var guided = FitNets.GuidedParameters(student, "stage1", probe);
        Assert.NotEmpty(guided);
        Assert.All(guided, n => Assert.StartsWith("stage1.", n));
        Assert.True(guided.Count < student.named_parameters().Count());
    }

    [Fact]
    public void Attention_transfer_alone_and_with_kd()
    {
        var c = Tiny(AttentionTransferConfig.For(Budget.Smoke)) with { Student = "cnn-4" };
        var r = AttentionTransfer.Run(TinyData.FashionMnist, c);

        Assert.Equal(["teacher", "scratch", "at", "kd", "at+kd"], r.Runs.Summary().Select(s => s.Name));
        var at = r.Trainings.Single(t => t.Name == "at");
        Assert.Equal(TeacherSource.Live, at.Teacher);   // AT reads teacher features: never cached
        Assert.Equal(TeacherSource.Cached, r.Trainings.Single(t => t.Name == "kd").Teacher);
        Assert.Contains(at.History[0].TermLosses, l => l.Name == "at" && l.Value > 0);
        AllBeat(r, Untrained("cnn-4"));
    }

    [Fact]
    public void Born_again_generations_ensemble_and_controls()
    {
        var c = Tiny(BornAgainConfig.For(Budget.Smoke)) with { Student = "mlp-64", Generations = 2 };
        var r = BornAgain.Run(TinyData.FashionMnist, c);

        Assert.Equal(["gen0", "cwtm gen1", "dkpp gen1", "ban gen1", "ban gen2", "bane 1-2"], r.Runs.Summary().Select(s => s.Name));
        Assert.All(r.Trainings.Where(t => t.Name != "gen0"), t => Assert.Equal(TeacherSource.Cached, t.Teacher));
        AllBeat(r, Untrained("mlp-64"));
        Assert.Equal(2 * r["ban gen1"].Parameters, r["bane 1-2"].Parameters);
    }
    /// <summary>A recipe run's record named no method: kd and kd+ls (logit standardization) both read "0.1·ce + 0.9·kd",
    /// kd-multi "teacher: none" though it averaged two teachers, and a resume with another method parameter went on.</summary>
    [Fact]
    public void Each_recipe_runs_record_names_its_method_and_a_resume_with_another_parameter_is_refused()
    {
        using var dir = new TempDir();
        var beyond = Tiny(BeyondKdConfig.For(Budget.Smoke)) with
        {
            Student = "mlp-16", TransferSize = 300, TestSize = 200, StudentEpochs = 1, Runs = ["kd", "kd+ls", "kd-multi"], ExtraTeachers = ["mlp-32"],
            OutDir = Path.Combine(dir.Path, "beyond"),
        };
        BeyondKd.Run(TinyData.FashionMnist, beyond);
        Dictionary<string, string> Record(string run) => System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(
            File.ReadAllText(Path.Combine(dir.Path, run, "seed0", RunFolder.SettingsFile)))!;
        var (kd, ls, multi) = (Record("beyond/kd"), Record("beyond/kd_ls"), Record("beyond/kd-multi"));
        Assert.Equal(kd["objective"], ls["objective"]);
        Assert.StartsWith("kd ", kd["method"], StringComparison.Ordinal);
        Assert.Contains("standardize=0", kd["method"], StringComparison.Ordinal);
        Assert.Contains("standardize=1", ls["method"], StringComparison.Ordinal);
        Assert.Matches("^kd-multi .*teachers=(mlp-32,cnn-8|cnn-8,mlp-32)", multi["method"]);

        // A method parameter changed since the run started: refused on resume, as `train --method` runs are.
        var comparison = Tiny(ComparisonConfig.For(Budget.Smoke)) with
        {
            Student = "mlp-16", TransferSize = 300, TestSize = 200, StudentEpochs = 1, Methods = ["kd"], OutDir = Path.Combine(dir.Path, "comparison"),
        };
        Comparison.Run(TinyData.FashionMnist, comparison);
        var hotter = comparison with { Resume = true, Set = new Dictionary<string, IReadOnlyDictionary<string, string>> { ["kd"] = new Dictionary<string, string> { ["temperature"] = "8" } } };
        var refused = Assert.Throws<InvalidOperationException>(() => Comparison.Run(TinyData.FashionMnist, hotter)).Message;
        Assert.Contains("(method: kd alpha=0.9 standardize=0 temperature=4 temperature_end=0 → kd alpha=0.9 standardize=0 temperature=8 temperature_end=0", refused, StringComparison.Ordinal);

        // A record written before methods were recorded still resumes: the key it lacks is not a difference.
        var now = Record("comparison/kd");
        var old = new Dictionary<string, string>(now);
        old.Remove("method");
        Assert.Empty(RunFolder.Differences(old, now));
    }

    /// <summary>The attention recipe's runs recorded "1·ce + 1·at" and "0.1·ce + 0.9·kd", which say neither β nor T: a
    /// resume after the recipe file's β or temperature changed went on under the old record.</summary>
    [Fact]
    public void A_recipe_resumed_with_a_changed_term_parameter_is_refused()
    {
        using var dir = new TempDir();
        var c = Tiny(AttentionTransferConfig.For(Budget.Smoke)) with
        {
            Student = "cnn-4", TransferSize = 300, TestSize = 200, StudentEpochs = 1, Seeds = [0], OutDir = dir.Path,
        };
        AttentionTransfer.Run(TinyData.FashionMnist, c);
        var at = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(dir.Path, "at", "seed0", RunFolder.SettingsFile)))!;
        Assert.Equal("ce(label_smoothing=0); at(pairs=stage1,stage2, beta=1000, p=2, paper_form=0)", at["terms"]);

        // The same settings resume (every run is read back); another β or T is refused, naming what changed.
        AttentionTransfer.Run(TinyData.FashionMnist, c with { Resume = true });
        var beta = Assert.Throws<InvalidOperationException>(() => AttentionTransfer.Run(TinyData.FashionMnist, c with { Resume = true, Beta = 500 })).Message;
        Assert.Contains("beta=1000, p=2, paper_form=0) → ce(label_smoothing=0); at(pairs=stage1,stage2, beta=500", beta, StringComparison.Ordinal);
        var hotter = Assert.Throws<InvalidOperationException>(() => AttentionTransfer.Run(TinyData.FashionMnist, c with { Resume = true, Temperature = 8 })).Message;
        Assert.Contains("kd(temperature=4) → ce(label_smoothing=0); kd(temperature=8)", hotter, StringComparison.Ordinal);

        // A record written before terms were recorded still resumes.
        var old = new Dictionary<string, string>(at);
        old.Remove("terms");
        Assert.Empty(RunFolder.Differences(old, at));
    }

    /// <summary>A schedule's record printed a step schedule as its list's type name; a term's settings spell it out.</summary>
    [Fact]
    public void A_terms_settings_spell_out_schedules_and_feature_pairs()
    {
        Assert.Equal("temperature=linear(10 to 1.5 over 0-0.5)", ((Distill.Losses.ILossTerm)new Distill.Losses.KdTerm(Distill.Losses.Schedule.Linear(10, 1.5, 0, 0.5))).Settings);
        Assert.Equal("temperature=steps(4; 2.5 from 0.5)", ((Distill.Losses.ILossTerm)new Distill.Losses.KdTerm(Distill.Losses.Schedule.Steps(4, (0.5, 2.5)))).Settings);
        Assert.Equal("features=stage2:stage3, distance=25, angle=0.5", new Distill.Losses.RkdTerm("stage2", "stage3", angleWeight: 0.5).Settings);
        Assert.Null(((Distill.Losses.ILossTerm)new Distill.Losses.SoftCeTerm()).Settings);
    }
}
