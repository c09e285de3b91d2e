using Distill.Experiments;
using Distill.Sweeps;
using Distill.Tests.Onboarding;
using Distill.Training;

namespace Distill.Tests.Experiments;

/// <summary>The recipes' settings live in experiments/recipes/*.yaml: every file loads at every budget, an edited copy
/// changes what it says, and a bad file is an error naming the file, the line and what is expected.</summary>
public class RecipeFileTests
{
    [Fact]
    public void Every_recipe_file_loads_at_every_budget_and_sets_what_it_says()
    {
        Assert.Equal(["01-soft-targets", "02-fitnets", "03-attention-transfer", "04-born-again", "05-comparison", "06-beyond-kd", "07-deployment"],
                     RecipeFile.Names());
        foreach (var budget in Enum.GetValues<Budget>())
        {
            RecipeConfig[] all = [SoftTargetsConfig.For(budget), FitNetsConfig.For(budget), AttentionTransferConfig.For(budget),
                                  BornAgainConfig.For(budget), ComparisonConfig.For(budget), BeyondKdConfig.For(budget)];
            Assert.All(all, c => Assert.Equal(budget, c.Budget));
        }
        var quick = SoftTargetsConfig.For(Budget.Quick);
        Assert.Equal([1.0, 2, 4, 8], quick.Temperatures);
        Assert.Equal([0, 1, 2], quick.Seeds);
        Assert.Equal(40, quick.StudentEpochs);
        var full = SoftTargetsConfig.For(Budget.Full);
        Assert.Equal((0.5, 0.2, 2), (full.TeacherModel.Dropout, full.TeacherModel.InputDropout, full.TeacherModel.Jitter));
        Assert.Equal("mnist", full.Dataset);
        var comparison = ComparisonConfig.For(Budget.Full);
        Assert.Equal("multistep:150,180,210:0.1", comparison.Schedule.ToString());
        Assert.Equal(OptimizerSpec.Sgd(0.05, 0.9, nesterov: false, 5e-4), comparison.StudentOptimizer);
        Assert.Equal(Augmentation.Cifar, comparison.Augment);
        Assert.Equal("8", comparison.Set["dkd"]["beta"]);
        // Settings a budget does not name keep the config's defaults.
        Assert.Equal(new SoftTargetsConfig().BatchSize, quick.BatchSize);
        Assert.Equal(new ComparisonConfig().Methods, ComparisonConfig.For(Budget.Quick).Methods);
    }

    [Fact]
    public void An_edited_copy_changes_its_settings_and_leaves_the_defaults_alone()
    {
        using var dir = new TempDir("recipe-file");
        var path = Path.Combine(dir.Path, "mine.yaml");
        File.WriteAllText(path, RecipeFile.Text("01-soft-targets").Replace("  temperatures: [1, 2, 4, 8]", "  temperatures: [3]", StringComparison.Ordinal));
        var defaults = new SoftTargetsConfig();
        var mine = RecipeFile.FromFile(path, Budget.Quick, defaults);
        Assert.Equal([3.0], mine.Temperatures);
        Assert.Equal(40, mine.StudentEpochs);
        Assert.Equal(Budget.Quick, mine.Budget);
        var fresh = new SoftTargetsConfig();
        Assert.Equal(fresh.Temperatures, defaults.Temperatures);
        Assert.Equal(fresh.StudentEpochs, defaults.StudentEpochs);
    }

    [Theory]
    [InlineData("smoke: {}\nquick:\n  teacher_epoch: 3\nfull: {}\n", 3, "unknown key 'teacher_epoch' in quick; valid keys:", "teacher_epochs")]
    [InlineData("smoke: {}\nquick:\n  teacher_epochs: three\nfull: {}\n", 3, "quick.teacher_epochs must be a whole number, not 'three'", null)]
    [InlineData("smoke: {}\nquick:\n  seeds: 0\nfull: {}\n", 3, "quick.seeds must be a list", null)]
    [InlineData("smoke: {}\nquick:\n  seeds: [0, x]\nfull: {}\n", 3, "quick.seeds[1] must be a whole number, not 'x'", null)]
    [InlineData("smoke: {}\nquick:\n  schedule: sometimes\nfull: {}\n", 3, "'schedule' expects a schedule", null)]
    [InlineData("smoke: {}\nquick:\n  teacher_model: {dropuot: 0.5}\nfull: {}\n", 3, "unknown key 'dropuot' in quick.teacher_model; valid keys:", "input_dropout")]
    [InlineData("smoke: {}\nquick:\n  student_optimizer: {kind: sgdd}\nfull: {}\n", 3, "quick.student_optimizer.kind is 'sgdd'; expected one of sgd, adam", null)]
    [InlineData("smoke: {}\nquik: {}\nfull: {}\n", 2, "'quik' is not a budget; the sections are smoke, quick, full", null)]
    [InlineData("smoke: {}\nfull: {}\n", 1, "no 'quick:' section", null)]
    [InlineData("smoke: {}\nquick:\n  out_dir: /tmp\nfull: {}\n", 3, "unknown key 'out_dir' in quick", null)]
    [InlineData("smoke: {}\nquick:\n  test_size: ~\n  temperatures: ~\nfull: {}\n", 4, "quick.temperatures must be a list ([a, b] or '- a' lines), not empty", null)] // test_size may be null (all), a list may not
    [InlineData("quick: [1, 2\n", 2, "not valid YAML", null)]
    [InlineData("smoke: {}\nquick:\n  seeds: [2\n  teacher_epochs: 3\nfull: {}\n", 3, "not valid YAML", null)]
    public void A_bad_recipe_file_names_the_file_the_line_and_what_is_expected(string text, int line, string message, string? listed)
    {
        using var dir = new TempDir("recipe-file");
        var path = Path.Combine(dir.Path, "bad.yaml");
        File.WriteAllText(path, text);
        var e = Assert.Throws<SpecException>(() => RecipeFile.FromFile(path, Budget.Quick, new SoftTargetsConfig()));
        Assert.StartsWith($"{path} line {line}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        if (listed is not null) Assert.Contains(listed, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Spec_check_validates_every_section_of_every_recipe_file_and_names_a_bad_key_in_any_of_them()
    {
        var recipes = Directory.GetFiles(Repo.PathOf("experiments/recipes"), "*.yaml").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(RecipeFile.Names(), recipes.Select(Path.GetFileNameWithoutExtension)); // a new recipe needs spec check's defaults too
        var (code, stdout, stderr) = Repo.RunCli(["spec", "check", .. recipes]);
        Assert.True(code == 0, stderr);
        foreach (var name in RecipeFile.Names()) Assert.Contains($"recipe {name}, sections smoke, quick, full", stdout);

        // A typo in the full section, which no smoke or quick run reads, and a method parameter the catalogue lacks.
        using var dir = new TempDir("recipes");
        var copy = Path.Combine(dir.Path, "my-comparison.yaml");
        var lines = File.ReadAllLines(Repo.PathOf("experiments/recipes/05-comparison.yaml"));
        var at = Array.FindIndex(lines, l => l.StartsWith("  teacher_epochs: 240", StringComparison.Ordinal));
        File.WriteAllLines(copy, lines.Select((l, k) => k == at ? "  teacher_epoch: 240" : l));
        (code, _, stderr) = Repo.RunCli(["spec", "check", copy]);
        Assert.NotEqual(0, code);
        Assert.Contains("no recipe named 'my-comparison'; pass --recipe NAME", stderr);
        (code, _, stderr) = Repo.RunCli(["spec", "check", copy, "--recipe", "05-comparison"]);
        Assert.NotEqual(0, code);
        Assert.Contains($"{copy} line {at + 1}: unknown key 'teacher_epoch' in full; valid keys: augment, batch_size,", stderr);
        Assert.DoesNotContain("   at ", stderr);

        File.WriteAllLines(copy, lines.Select(l => l.Replace("dkd: {beta:", "dkd: {betta:", StringComparison.Ordinal)));
        (code, _, stderr) = Repo.RunCli(["spec", "check", copy, "--recipe", "05-comparison"]);
        Assert.NotEqual(0, code);
        Assert.Contains("full.set.dkd: dkd: unknown parameter 'betta'", stderr);

        // A key with a line break and a terminal escape: the whole message on one line, its control characters shown
        // (cut at the break, the valid keys were lost; printed raw, the escape could forge an "ok:" line).
        var spec = Path.Combine(dir.Path, "odd-key.yaml");
        File.WriteAllText(spec, "dataset:\n  name: fashion-mnist\nstudent:\n  model: mlp-32\nloss:\n  ce: 1\n\"epo\\nchs\\e[31m\": 3\n");
        (code, _, stderr) = Repo.RunCli(["spec", "check", spec]);
        Assert.Equal(1, code);
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("line 7: unknown key 'epo ⏎ chs", error);
        Assert.Contains("valid keys: ", error);
        Assert.DoesNotContain('\u001b', error);
    }

    /// <summary>A spec with a stray budget key was taken for a recipe file ("a recipe file for no recipe named ...", no
    /// line) where `sweep plan` named the key and its line; piped in (/dev/stdin), a spec failed on the pipe's length and
    /// was then read twice (the second read empty).</summary>
    [Fact]
    public async Task Spec_check_names_a_stray_budget_key_in_a_spec_and_reads_a_piped_spec_or_recipe()
    {
        using var dir = new TempDir("stray");
        var spec = Path.Combine(dir.Path, "stray.yaml");
        var lines = File.ReadAllLines(Repo.PathOf("experiments/tiny.yaml"));
        File.WriteAllLines(spec, [.. lines, "quick: {}"]);
        var (code, _, stderr) = Repo.RunCli(["spec", "check", spec]);
        Assert.Equal(1, code);
        Assert.Contains($"{spec} line {lines.Length + 1}: unknown key 'quick' in the spec; valid keys: name, dataset,", stderr);

        var config = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name;
        var cli = Path.Combine(Repo.Root, "artifacts", "bin", "Distill.Cli", config, "Distill.Cli.dll");
        foreach (var (file, extra, ok) in new[] { ("experiments/tiny.yaml", "", "ok: /dev/stdin: tiny, 4 runs"),
                     ("experiments/recipes/01-soft-targets.yaml", " --recipe 01-soft-targets", "ok: /dev/stdin: recipe 01-soft-targets, sections smoke, quick, full") })
        {
            var psi = new System.Diagnostics.ProcessStartInfo("bash", ["-c", $"cat '{Repo.PathOf(file)}' | dotnet '{cli}' spec check /dev/stdin{extra}"])
                { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = System.Diagnostics.Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)));
            Assert.True(p.ExitCode == 0, await err);
            Assert.Contains(ok, output);
        }
    }

    /// <summary>Values a run would refuse or run wrongly are refused where the file is loaded, so `spec check` (which
    /// loads every section) refuses them too, naming the file, the line and the key.</summary>
    [Theory]
    [InlineData("  teacher_epochs: 240", "  teacher_epochs: 0", "full.teacher_epochs = 0: give at least 1")]
    [InlineData("  seeds: [0, 1, 2]", "  seeds: [-1]", "full.seeds[0] = -1 is negative")]
    [InlineData("  seeds: [0, 1, 2]", "  seeds: [0, 0]", "full.seeds has 0 twice")]
    [InlineData("  seeds: [0, 1, 2]", "  seeds: []", "full.seeds is empty")]
    [InlineData("  student: resnet8x4", "  student: nosuch", "full.student: ")]
    [InlineData("  dataset: cifar100", "  dataset: nosuch", "full.dataset: unknown dataset 'nosuch'")]
    [InlineData("  student_optimizer: {learning_rate: 0.05, nesterov: false}", "  student_optimizer: {learning_rate: -1}", "full.student_optimizer.learning_rate = -1: give a finite number above 0")]
    [InlineData("  student_epochs: 240", "  student_epochs: 240\n  transfer_size: 70000", "full.transfer_size = 70000: CIFAR-100's train split holds 50,000")]
    [InlineData("  schedule: multistep:150,180,210", "  schedule: multistep:300", "full.schedule multistep:300:0.1: it changes the learning rate at the start of epoch 301")]
    [InlineData("  seeds: [0, 1, 2]", "  seeds: [0, 1, 2]\n  methods: [kd, KD]", "full.methods has kd twice")]
    [InlineData("    dkd: {beta: \"8\", warmup: \"0.08333333333333333\"}", "    dkd: {beta: \"8\"}\n    DKD: {beta: \"4\"}", "full.set has dkd twice")]
    [InlineData("full:", "extra: 1\nfull:", "'extra' is not a budget")]
    // A negative padding trained without a crop; one as large as the image let crops miss it entirely.
    [InlineData("  augment: {crop_padding: 4, horizontal_flip: true}", "  augment: {crop_padding: -4, horizontal_flip: true}", "full.augment.crop_padding = -4: give a padding of 0 (no crop) or more pixels.")]
    [InlineData("  augment: {crop_padding: 4, horizontal_flip: true}", "  augment: {crop_padding: 32, horizontal_flip: true}", "full.augment.crop_padding = 32: CIFAR-100's images are 32×32, and a padding of 32 or more lets a crop miss the image entirely; give 0 to 31")]
    // A setting of a method that does not run was ignored.
    [InlineData("  seeds: [0, 1, 2]", "  seeds: [0, 1, 2]\n  methods: [kd]", "full.set.dkd: dkd is not in methods (kd), so its settings would be ignored; add it to methods, or remove set.dkd.")]
    public void Spec_check_refuses_a_recipe_value_a_run_would_refuse(string line, string edited, string message) =>
        RefusedByCheckAndLoad("05-comparison", new ComparisonConfig(), line, edited, message);

    /// <summary>Values inside the teacher's model options, and the omitted class, which a run refused (or trained
    /// with) only after the teacher and the other students had trained.</summary>
    [Theory]
    [InlineData("  teacher_model: {dropout: 0.5, input_dropout: 0.2, jitter: 2}", "  teacher_model: {dropout: 5, input_dropout: 0.2, jitter: 2}", "full.teacher_model.dropout = 5: a dropout probability is in [0, 1)")]
    [InlineData("  teacher_model: {dropout: 0.5, input_dropout: 0.2, jitter: 2}", "  teacher_model: {dropout: 0.5, input_dropout: 0.2, jitter: -3}", "full.teacher_model.jitter = -3")]
    [InlineData("  omitted_class: 3", "  omitted_class: 10", "full.omitted_class = 10: mnist has classes 0 to 9")]
    // A value twice trained the same runs again, shown as two points of the sweep.
    [InlineData("  temperatures: [1, 2, 3, 4, 6, 8, 12, 20]", "  temperatures: [1, 2, 3, 4, 6, 8, 12, 2.0]", "full.temperatures has 2 twice: give each value once.")]
    [InlineData("  alphas: [0.1, 0.3, 0.5, 0.7, 0.9, 0.99]", "  alphas: [0.1, 0.3, 0.5, 0.7, 0.9, 0.1]", "full.alphas has 0.1 twice: give each value once.")]
    public void Spec_check_refuses_soft_target_values_a_run_would_refuse_late(string line, string edited, string message) =>
        RefusedByCheckAndLoad("01-soft-targets", new SoftTargetsConfig(), line, edited, message);

    /// <summary>A group named twice weighed its attention term twice.</summary>
    [Fact]
    public void Spec_check_refuses_an_attention_group_given_twice() =>
        RefusedByCheckAndLoad("03-attention-transfer", new AttentionTransferConfig(), "  groups: [stage1, stage2, stage3]", "  groups: [stage1, stage2, stage1]",
            "full.groups has stage1 twice: give each value once.");

    static void RefusedByCheckAndLoad<T>(string recipe, T template, string line, string edited, string message) where T : RecipeConfig
    {
        using var dir = new TempDir("recipes");
        var copy = Path.Combine(dir.Path, "mine.yaml");
        var text = Repo.Read($"experiments/recipes/{recipe}.yaml").ReplaceLineEndings("\n");
        Assert.Contains(line + "\n", text);
        var at = text.LastIndexOf(line + "\n", StringComparison.Ordinal); // the full section's
        File.WriteAllText(copy, text[..at] + edited + text[(at + line.Length)..]);
        var (code, stdout, stderr) = Repo.RunCli(["spec", "check", copy, "--recipe", recipe]);
        Assert.Equal(1, code);
        Assert.DoesNotContain("ok", stdout);
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: {copy} line ", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
        // The same check where a run loads the file.
        if (!edited.StartsWith("extra", StringComparison.Ordinal))
            Assert.Contains(message, Assert.Throws<SpecException>(() => RecipeFile.FromFile(copy, Budget.Full, template)).Message, StringComparison.Ordinal);
    }

    /// <summary>04's teacher settings were taken without a word and read by nothing (born-again's generation 0 is its
    /// teacher): each is refused naming the key, its line and why, by `spec check` and where a run loads the file; the
    /// recipe's schema leaves them out. teacher_seed stays (the notebooks' parameter; the run notes it changes nothing).</summary>
    [Theory]
    [InlineData("teacher: mlp-32", 3)]
    [InlineData("teacher_epochs: 9", 3)]
    [InlineData("teacher_model: {dropout: 0.5}", 3)]
    [InlineData("teacher_optimizer: {learning_rate: 0.1}", 3)]
    [InlineData("teacher_train_size: 500", 3)]
    public void A_born_again_recipe_file_refuses_the_teacher_settings_it_never_reads(string setting, int line)
    {
        using var dir = new TempDir("recipes");
        var file = Path.Combine(dir.Path, "04-born-again.yaml");
        File.WriteAllText(file, $"quick:\n  generations: 1\n  {setting}\n");
        var key = setting.Split(':')[0];
        var message = $"{file} line {line}: quick.{key}: born-again has no separate teacher (generation 0, the student's architecture trained from scratch, teaches generation 1); remove it.";
        var (code, _, stderr) = Repo.RunCli(["spec", "check", file]);
        Assert.Equal(1, code);
        Assert.Equal($"error: {message}\n", stderr);
        Assert.Equal(message, Assert.Throws<SpecException>(() => RecipeFile.FromFile(file, Budget.Quick, new BornAgainConfig())).Message);
        var properties = RecipeFile.Schema("04-born-again", new BornAgainConfig())["properties"]!["quick"]!["properties"]!.AsObject();
        Assert.False(properties.ContainsKey(key));
        Assert.True(properties.ContainsKey("teacher_seed"));
        File.WriteAllText(file, "quick:\n  teacher_seed: 3\n");
        Assert.Equal(3, RecipeFile.FromFile(file, Budget.Quick, new BornAgainConfig()).TeacherSeed);
    }

    /// <summary>`spec check` takes a recipe by either of its names, in any case, as `train` does: born-again.yaml, which
    /// `train --recipe-file` ran, was "no recipe named 'born-again'". A --recipe the file is not named after is refused.</summary>
    [Fact]
    public void Spec_check_takes_either_name_of_a_recipe()
    {
        using var dir = new TempDir("recipes");
        var file = Path.Combine(dir.Path, "Born-Again.yml");
        File.WriteAllText(file, "quick:\n  generations: 2\n");
        Assert.Equal((0, $"ok: {file}: recipe 04-born-again, sections quick\n"), (Repo.RunCli(["spec", "check", file]) is var (c1, o1, _) ? (c1, o1) : default));
        Assert.Equal(0, Repo.RunCli(["spec", "check", file, "--recipe", "born-again"]).Code);
        var (code, _, stderr) = Repo.RunCli(["spec", "check", file, "--recipe", "02-fitnets"]);
        Assert.Equal(1, code);
        Assert.Contains("is named after recipe born-again (04-born-again), not --recipe fitnets", stderr, StringComparison.Ordinal);
        Assert.Equal(Repo.RunCli(["spec", "schema", "04-born-again"]).Stdout, Repo.RunCli(["spec", "schema", "born-again"]).Stdout);
        // A spec named after a recipe's short name is a spec (only the file's name, 05-comparison.yaml, makes any file a recipe file).
        var spec = Path.Combine(dir.Path, "comparison.yaml");
        File.WriteAllText(spec, "name: tiny\ndataset: {name: fashion-mnist, train_size: 300}\nstudent: {model: mlp-32}\nepochs: 1\nloss: {ce: 1}\n");
        Assert.Equal($"ok: {spec}: tiny, 1 run\n", Repo.RunCli(["spec", "check", spec]).Stdout);
    }

    /// <summary>--recipe, or a file named as a recipe's, makes it a recipe file whatever it holds: a setting written above
    /// the sections was named as a spec's mistake ("dataset must be a mapping"), or "--recipe applies to recipe files".</summary>
    [Fact]
    public void A_file_given_as_a_recipe_is_checked_as_one()
    {
        using var dir = new TempDir("recipes");
        var mine = Path.Combine(dir.Path, "mine.yaml");
        File.WriteAllText(mine, "dataset: mnist\nquick:\n  teacher_epochs: 6\n");
        var (code, _, stderr) = Repo.RunCli(["spec", "check", mine, "--recipe", "01-soft-targets"]);
        Assert.Equal(1, code);
        Assert.Contains($"error: {mine} line 1: 'dataset' is not a budget; the sections are smoke, quick, full", stderr, StringComparison.Ordinal);
        var named = Path.Combine(dir.Path, "01-soft-targets.yaml");
        File.WriteAllText(named, "dataset: mnist\nquick:\n  teacher_epochs: 6\n");
        Assert.Contains("'dataset' is not a budget", Repo.RunCli(["spec", "check", named]).Stderr, StringComparison.Ordinal);
    }

    /// <summary>06's assistant and extra teachers are models as the teacher is (a repeat of one, or of the teacher, failed
    /// in kd-multi after hours of training); 07's deployment settings, 02's hint stage and 03's attention settings are
    /// checked as a recipe's are.</summary>
    [Theory]
    [InlineData("06-beyond-kd", "  student_epochs: 8", "  student_epochs: 8\n  extra_teachers: [cnn-32]", "quick.extra_teachers[0] cnn-32 is the teacher (cnn): kd-multi would count one model twice")]
    [InlineData("06-beyond-kd", "  extra_teachers: [wrn-40-2]", "  extra_teachers: [wrn-40-2, WRN-40-2]", "full.extra_teachers has WRN-40-2 twice ('wrn-40-2' and 'WRN-40-2'); keep one.")]
    [InlineData("06-beyond-kd", "  extra_teachers: [wrn-40-2]", "  extra_teachers: [nosuch]", "full.extra_teachers[0]: Unknown model 'nosuch'.")]
    [InlineData("06-beyond-kd", "  assistant: resnet32", "  assistant: resnet33", "full.assistant: ")]
    [InlineData("06-beyond-kd", "  student_epochs: 8", "  student_epochs: 8\n  runs: [scratch, kd-mutli]", "quick.runs[1]: 'kd-mutli' is not a run; the runs are scratch, kd, takd,")]
    [InlineData("06-beyond-kd", "  student_epochs: 8", "  student_epochs: 8\n  runs: [kd, dkd, kd]", "quick.runs has 'kd' twice; keep one.")]
    [InlineData("06-beyond-kd", "  student_epochs: 8", "  student_epochs: 8\n  runs: []", "quick.runs is empty; name at least one of scratch,")]
    [InlineData("07-deployment", "  fine_tune_epochs: 20", "  fine_tune_epochs: 0", "full.fine_tune_epochs = 0: give at least 1.")]
    [InlineData("07-deployment", "  latency_rounds: 2", "  latency_rounds: 0", "smoke.latency_rounds = 0: give at least 1.")]
    [InlineData("07-deployment", "  calibration_images: 64", "  calibration_images: 0", "smoke.calibration_images = 0: Fashion-MNIST's train split holds 60,000; give 1 to 60,000")]
    [InlineData("07-deployment", "  fine_tune_epochs: 20", "  fine_tune_epochs: 20\n  sparsities: [1.5]", "full.sparsities[0] = 1.5: give the fraction of weights pruned, in [0, 1)")]
    [InlineData("07-deployment", "  fine_tune_epochs: 20", "  fine_tune_epochs: 20\n  channel_fraction: 1", "full.channel_fraction = 1: give the fraction of channels removed, in [0, 1)")]
    // Values that passed `spec check` and failed a run after its teacher and students trained (a hint stage of 0 epochs,
    // no attention groups), trained wrongly (a negative λ or β), or a quoted "null" read as no value (a
    // NullReferenceException in spec check).
    [InlineData("02-fitnets", "  hint_epochs: 30", "  hint_epochs: 0", "full.hint_epochs = 0: stage 1 (the hint training) needs at least 1 epoch.")]
    [InlineData("02-fitnets", "  hint_epochs: 30", "  hint_epochs: 30\n  lambda_start: -5", "full.lambda_start = -5: the KD weight λ is 0 or more")]
    [InlineData("03-attention-transfer", "  groups: [stage1, stage2, stage3]", "  groups: []", "full.groups is empty: give at least one feature")]
    [InlineData("03-attention-transfer", "  groups: [stage1, stage2, stage3]", "  groups: [stage1, stage2, stage3]\n  beta: -1000", "full.beta = -1000: β weighs the attention term and is 0 or more")]
    [InlineData("03-attention-transfer", "  student: wrn-16-1", "  student: \"null\"", "full.student: Unknown model 'null'.")]
    [InlineData("03-attention-transfer", "  dataset: cifar10", "  dataset: \"\"", "full.dataset: unknown dataset ''")]
    // A ResNet student's dropout was refused only when the student was built, after the teacher trained.
    [InlineData("02-fitnets", "  hint_epochs: 30", "  hint_epochs: 30\n  student_dropout: 0.3", "full.student: Model 'resnet56': CIFAR ResNets have no dropout")]
    // 07's full section was checked against 05's default pair (Fashion-MNIST), not the CIFAR-100 pair a full run deploys.
    [InlineData("07-deployment", "  fine_tune_epochs: 20", "  fine_tune_epochs: 20\n  calibration_images: 55000", "full.calibration_images = 55000: CIFAR-100's train split holds 50,000")]
    public void Spec_check_refuses_a_beyond_kd_or_deployment_value_a_run_would_refuse(string recipe, string line, string edited, string message)
    {
        using var dir = new TempDir("recipes");
        var copy = Path.Combine(dir.Path, "mine.yaml");
        var text = Repo.Read($"experiments/recipes/{recipe}.yaml").ReplaceLineEndings("\n");
        Assert.Contains(line + "\n", text);
        var at = text.LastIndexOf(line + "\n", StringComparison.Ordinal);
        File.WriteAllText(copy, text[..at] + edited + text[(at + line.Length)..]);
        var (code, _, stderr) = Repo.RunCli(["spec", "check", copy, "--recipe", recipe]);
        Assert.Equal(1, code);
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: {copy} line ", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_recipe_files_json_schema_is_the_one_spec_schema_prints_and_names_a_wrong_type_with_its_line()
    {
        foreach (var name in RecipeFile.Names())
        {
            var (code, stdout, stderr) = Repo.RunCli(["spec", "schema", name]);
            Assert.True(code == 0, stderr);
            // Committed for editors (the files' yaml-language-server line); regenerate with `distill spec schema NAME > ...`.
            Assert.Equal(Repo.Read($"experiments/recipes/schema/{name}.schema.json").ReplaceLineEndings(), stdout.ReplaceLineEndings());
            Assert.StartsWith($"# yaml-language-server: $schema=schema/{name}.schema.json", Repo.Read($"experiments/recipes/{name}.yaml"));
        }
        using var dir = new TempDir("recipes");
        var copy = Path.Combine(dir.Path, "01-soft-targets.yaml");
        var lines = File.ReadAllLines(Repo.PathOf("experiments/recipes/01-soft-targets.yaml"));
        var at = Array.FindIndex(lines, l => l.StartsWith("  student_epochs: 40", StringComparison.Ordinal));
        File.WriteAllLines(copy, lines.Select((l, k) => k == at ? "  student_epochs: forty" : l));
        var (exit, _, err) = Repo.RunCli(["spec", "check", copy]);
        Assert.NotEqual(0, exit);
        Assert.Contains($"{copy} line {at + 1}: quick.student_epochs must be a whole number, not 'forty'.", err);
    }
}
