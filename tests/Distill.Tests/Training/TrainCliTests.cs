using Distill.Tests.Onboarding;

namespace Distill.Tests.Training;

/// <summary>`distill train` refuses settings it cannot use by the flag the user typed, in one line, before any data loads.</summary>
public class TrainCliTests
{
    [Theory]
    [InlineData("--epochs", "0", "error: --epochs 0: give a whole number of at least 1.")]
    [InlineData("--batch-size", "0", "error: --batch-size 0: give a whole number of at least 1.")]
    [InlineData("--train-size", "-5", "error: --train-size -5: give a whole number of at least 1.")]
    [InlineData("--teacher-epochs", "0", "error: --teacher-epochs 0: give a whole number of at least 1.")]
    [InlineData("--clip", "0", "error: --clip 0: give the largest gradient norm")]
    [InlineData("--warmup", "-2", "error: --warmup -2: give the warm-up length in epochs")]
    [InlineData("--warmup", "1e9", "error: --warmup 1000000000: the warm-up is longer than the 10 epochs of --epochs, so the learning rate would never reach --lr; warm up for at most 10 epochs.")]
    [InlineData("--weight-decay", "-1", "error: --weight-decay -1: give a finite number, 0 or more.")]
    [InlineData("--validation", "-1", "error: --validation -1: give the number of training images to hold out")]
    [InlineData("--schedule", "step:0", "error: --schedule 'step:0': EVERY '0' must be a whole number of epochs, at least 1; expected constant, cosine, step:EVERY[:GAMMA]")]
    [InlineData("--schedule", "step:x", "error: --schedule 'step:x': EVERY 'x' must be a whole number of epochs, at least 1")]
    [InlineData("--schedule", "multistep:5,0", "error: --schedule 'multistep:5,0': the milestone '0' must be a whole number of epochs")]
    [InlineData("--out", "", "error: --out \"\": give a folder name (it is created when missing), or leave --out out to write no files.")]
    [InlineData("--kd-temperature", "5000", "error: --kd-temperature 5000: the temperature must be in [0.01, 1000] (the range of KD's loss).")]
    public void A_setting_out_of_range_is_named_by_its_flag(string flag, string value, string start)
    {
        string[] args = ["train", "--model", "mlp-32", "--dataset", "no-such-dataset", flag, value];
        if (flag is "--teacher-epochs" or "--kd-temperature") args = [.. args, "--teacher", "mlp-32"];
        var (code, _, stderr) = Repo.RunCli(args);
        Assert.Equal(1, code);
        // The flag is checked before the dataset is looked up (this one does not exist).
        Assert.StartsWith(start, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    /// <summary>Options that would change nothing in this run are refused by name, before any data loads.</summary>
    [Theory]
    [InlineData("--kd-temperature 8", "error: --kd-temperature applies only with --teacher; add --teacher MODEL, or remove it.")]
    [InlineData("--alpha 0.5", "error: --alpha applies only with --teacher; add --teacher MODEL, or remove it.")]
    [InlineData("--force", "error: --force clears the --out folder, and there is none; add --out DIR, or remove --force.")]
    [InlineData("--recipe soft-targets --force", "error: --force clears the --out folder, and there is none; add --out DIR, or remove --force.")]
    [InlineData("--schedule step:10 --epochs 2", "error: --schedule step:10: it changes the learning rate at the start of epoch 11, which the 2 epochs of --epochs never reach;")]
    [InlineData("--schedule step:1 --epochs 1", "error: --schedule step:1: it changes the learning rate at the start of epoch 2, which the 1 epoch of --epochs never reaches; give steps within 1 epoch, or use constant or cosine.")]
    [InlineData("--schedule multistep:1,5 --epochs 3", "error: --schedule multistep:1,5: it changes the learning rate at the start of epoch 6, which the 3 epochs of --epochs never reach;")]
    [InlineData("--teacher mlp-32 --epochs 20 --schedule step:6", "error: --schedule step:6: it changes the learning rate at the start of epoch 7, which the 6 epochs of --teacher-epochs never reach;")]
    [InlineData("--teacher mlp-32 --method at --set layers=stage1,,stage2", "error: at: layers=stage1,,stage2 has an empty item; separate the items by single commas, e.g. layers=stage1,stage2.")]
    [InlineData("--teacher mlp-32 --method sp --set layers=stage1,", "error: sp: layers=stage1, has an empty item;")]
    // Only commas: the example read "e.g. layers=.".
    [InlineData("--teacher mlp-32 --method sp --set layers=,", "error: sp: layers=, has only empty items; leave it empty (layers=) for the last stage both models have, or give items separated by single commas.")]
    [InlineData("--teacher mlp-32 --method nst --set layers=stage1,stage1", "error: nst: layers=stage1,stage1: stage1 is given 2 times; give each once.")]
    // kd-multi trains its teachers for --teacher-epochs: a warm-up or a step past them was checked only with --teacher.
    [InlineData("--method kd-multi --set teachers=mlp-16 --teacher-epochs 1 --epochs 2 --warmup 2", "error: --warmup 2: the warm-up is longer than the 1 epoch of --teacher-epochs,")]
    [InlineData("--method kd-multi --set teachers=mlp-16 --teacher-epochs 2 --epochs 3 --schedule step:2", "error: --schedule step:2: it changes the learning rate at the start of epoch 3, which the 2 epochs of --teacher-epochs never reach;")]
    // A method that trains no teacher was told to add --teacher, which it then refused.
    [InlineData("--method scratch --teacher-epochs 3", "error: --teacher-epochs sets how the teacher trains, and --method scratch trains none; remove it.")]
    [InlineData("--method byot --teacher-train-size 100", "error: --teacher-train-size sets how the teacher trains, and --method byot trains none; remove it.")]
    // float32 rounds it to 0, as --set alpha= says.
    [InlineData("--teacher mlp-32 --alpha 1e-320", "error: --alpha 1E-320: below float32's smallest (1.4e-45), so it rounds to 0")]
    public void An_option_the_run_would_ignore_is_refused_by_name(string options, string start)
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--dataset", "no-such-dataset", .. options.Split(' ')]);
        Assert.Equal(1, code);
        Assert.StartsWith(start, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_warmup_longer_than_the_teachers_run_names_the_teachers_epochs()
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--dataset", "no-such-dataset", "--teacher", "mlp-32", "--epochs", "20", "--warmup", "7"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: --warmup 7: the warm-up is longer than the 6 epochs of --teacher-epochs", stderr, StringComparison.Ordinal);
    }

    /// <summary>kd-multi trains its own teachers: --teacher-epochs was refused without --teacher, whose fix (add
    /// --teacher) kd-multi refuses in turn, so its teachers always trained 6 epochs on every image.</summary>
    [Fact]
    public void Kd_multi_takes_the_teacher_epochs_and_train_size_for_its_teachers()
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--dataset", "no-such-dataset", "--method", "kd-multi",
            "--teacher-epochs", "1", "--teacher-train-size", "500"]);
        Assert.Equal(1, code);
        Assert.DoesNotContain("applies only with --teacher", stderr, StringComparison.Ordinal);
        Assert.Contains("no-such-dataset", stderr, StringComparison.Ordinal); // it got as far as the data
    }

    [Fact]
    public void A_subset_larger_than_the_split_names_both_sizes()
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--dataset", "fashion-mnist", "--train-size", "70000", "--epochs", "1"]);
        Assert.Equal(1, code);
        Assert.Contains("error: --train-size 70000: fashion-mnist has 60,000 training images; give at most 60000, or leave --train-size out to use them all.", stderr, StringComparison.Ordinal);
    }

    /// <summary>Errors that named the wrong cause: an MLP has no feature maps at all (not maps of another size), weights
    /// that are all zero (not a number out of range), a size in other digits (not too large), a subset by its flag.</summary>
    [Theory]
    [InlineData("--teacher mlp-32 --method at --set layers=hidden1", "error: at: hidden1 of mlp-32 is a flat vector of 32 values, not a feature map: mlp-32 is fully connected and has no spatial feature maps")]
    [InlineData("--teacher mlp-32 --method nst", "error: mlp-32 and mlp-32 share no 'stage' feature for a feature method; mlp-32 has hidden1, mlp-32 has hidden1. mlp-32 is fully connected, with no spatial feature maps;")]
    [InlineData("--teacher mlp-32 --method kd-multi --set teachers=mlp-32,cnn --set weights=0,0", "error: kd-multi: weights=0,0: the weights are all zero, so there is no target to match;")]
    [InlineData("--teacher mlp-32 --teacher-train-size 100 --validation 200", "error: --validation 200: the teacher holds out as many of its 100 --teacher-train-size images, which leaves it none to train on; hold out fewer than 100, or give a larger --teacher-train-size.")]
    [InlineData("--teacher mlp-32 --method pkt --train-size 3 --validation 2", "error: pkt compares each sample's similarities to the others in its batch: batches of 1 give it nothing to compare (its term would be 0 every step); give --train-size 4 or more: a batch holds at most the training images left after the --validation 2 hold-out.")]
    [InlineData("--test-size 20000", "error: --test-size 20000: fashion-mnist has 10,000 test images; give at most 10000, or leave --test-size out to use them all.")]
    [InlineData("--method kd-multi --set teachers=mlp-32,MLP-32", "error: kd-multi: teachers=mlp-32,MLP-32: mlp-32 is given 2 times; every teacher trains with the run's seed, so a repeat is the same model counted twice")]
    [InlineData("--recipe soft-targets --budget smoke --seeds a", "error: --seeds \"a\" is not a comma-separated list of integers (e.g. \"0,1,2\"); leave it empty for the budget's seeds.")]
    public void An_error_names_its_real_cause(string options, string start)
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--dataset", "fashion-mnist", "--epochs", "1", .. options.Split(' ')]);
        Assert.Equal(1, code);
        Assert.StartsWith(start, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    /// <summary>Every distillation term switched off trained scratch's weights, bit for bit, under the method's name and
    /// with no note: one warning line says so before anything loads (the dataset here does not exist). One term on is
    /// distillation, and says nothing.</summary>
    [Theory]
    [InlineData("kd --set alpha=0", "warning: kd with alpha=0 adds no distillation term: this run trains mlp-32 on its cross-entropy alone, as --method scratch does (its teacher, mlp-64, teaches nothing); give alpha above 0 to distil.")]
    [InlineData("dkd --set alpha=0 --set beta=0", "warning: dkd with alpha=0, beta=0 adds no distillation term: this run trains mlp-32 on its cross-entropy alone, as --method scratch does (its teacher, mlp-64, teaches nothing); give alpha or beta above 0 to distil.")]
    [InlineData("rkd --set distance=0 --set angle=0", "warning: rkd with distance=0, angle=0 adds no distillation term:")]
    [InlineData("dist --set beta=0 --set gamma=0", "warning: dist with beta=0, gamma=0 adds no distillation term:")]
    [InlineData("at --set beta=0", "warning: at with beta=0 adds no distillation term:")]
    [InlineData("crd --set weight=0", "warning: crd with weight=0 adds no distillation term:")]
    [InlineData("dkd --set alpha=0", null)]
    [InlineData("rkd --set angle=0", null)]
    public void A_method_whose_every_term_is_off_warns_that_the_run_is_the_student_alone(string method, string? warning)
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--teacher", "mlp-64", "--dataset", "no-such-dataset", "--method", .. method.Split(' ')]);
        Assert.Equal(1, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("error: ", lines[^1], StringComparison.Ordinal);
        Assert.Contains("no-such-dataset", lines[^1], StringComparison.Ordinal); // it went on to the data
        if (warning is null) Assert.Single(lines);
        else Assert.StartsWith(warning, Assert.Single(lines[..^1]), StringComparison.Ordinal);
    }

    /// <summary>A recipe run's bad input (recipe name, budget, seeds, dataset) is refused before --out is claimed: nothing
    /// is written (recipe.txt named the unknown recipe) and no data loads (the dataset here does not exist).</summary>
    [Theory]
    [InlineData("--recipe nosuch", "error: --recipe nosuch: expected one of soft-targets, fitnets, attention, born-again, comparison, beyond-kd.")]
    [InlineData("--recipe soft-targets --budget bogus", "error: --budget bogus: expected smoke, quick or full.")]
    [InlineData("--recipe soft-targets --seeds x", "error: --seeds \"x\" is not a comma-separated list of integers")]
    // An empty item was dropped: "1,,2" trained seeds 1 and 2 without a word.
    [InlineData("--recipe soft-targets --seeds 1,,2", "error: --seeds \"1,,2\" is not a comma-separated list of integers")]
    [InlineData("--recipe soft-targets --seeds ,3,", "error: --seeds \",3,\" is not a comma-separated list of integers")]
    [InlineData("--recipe soft-targets", "error: unknown dataset 'no-such-dataset': expected one of ")]
    public void A_bad_recipe_run_writes_nothing(string options, string start)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"distill-recipe-{Guid.NewGuid():N}");
        try
        {
            var (code, _, stderr) = Repo.RunCli(["train", "--dataset", "no-such-dataset", "--out", dir, .. options.Split(' ')]);
            Assert.Equal(1, code);
            Assert.StartsWith(start, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
            Assert.False(Directory.Exists(dir), $"{dir} was created");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    /// <summary>A dataset that is known but not installed was found missing only after --out was claimed: the recipe
    /// run exited 1 with the fix but left recipe.txt behind. Now it is loaded first (the system folder is left out and
    /// DISTILL_DATA is an empty folder). The checkout's data/ is searched too, and may hold CIFAR-10: the CLI runs in a
    /// folder holding a Research.sln of its own, which the search takes for the repository (its data/ is empty).</summary>
    [Theory]
    [InlineData("--recipe soft-targets --budget smoke --dataset cifar10")]
    [InlineData("--model mlp-32 --dataset cifar10")]
    [InlineData("--model mlp-32 --teacher mlp-32 --dataset cifar10")]
    public void A_run_whose_dataset_is_not_installed_writes_nothing(string options)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"distill-recipe-{Guid.NewGuid():N}");
        var empty = Directory.CreateTempSubdirectory("distill-no-data").FullName;
        File.WriteAllText(Path.Combine(empty, "Research.sln"), "");
        try
        {
            var (code, _, stderr) = Repo.RunCli(["train", "--out", dir, .. options.Split(' ')], env =>
            {
                env["DISTILL_DATA"] = empty;
                env["DISTILL_SYSTEM_DATA"] = "";
            }, workingDirectory: empty);
            Assert.Equal(1, code);
            Assert.Contains("CIFAR-10 not found", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
            Assert.False(Directory.Exists(dir), $"{dir} was created");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.Delete(empty, recursive: true);
        }
    }

    /// <summary>Since the dataset loads before --out is claimed, an --out holding another run was refused only after the
    /// load (here: after the dataset was found missing, with the wrong fix first). The claim's checks, which write
    /// nothing, come before it again.</summary>
    [Theory]
    // A plain run's own folder is judged when the run opens it, against its settings (which the data is part of).
    [InlineData("--model mlp-32 --teacher mlp-32")]
    [InlineData("--recipe soft-targets --budget smoke")]
    public void An_out_folder_holding_another_run_is_refused_before_the_dataset_loads(string options)
    {
        var dir = Directory.CreateTempSubdirectory("distill-held").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "run.json"), "{\"name\": \"other\", \"seed\": \"0\"}");
            // CIFAR-10 not installed, as above: its load would fail.
            var empty = Directory.CreateDirectory(Path.Combine(dir, "..", Path.GetFileName(dir) + "-no-data")).FullName;
            File.WriteAllText(Path.Combine(empty, "Research.sln"), "");
            var (code, _, stderr) = Repo.RunCli(["train", "--dataset", "cifar10", "--out", dir, .. options.Split(' ')], env =>
            {
                env["DISTILL_DATA"] = empty;
                env["DISTILL_SYSTEM_DATA"] = "";
            }, workingDirectory: empty);
            Assert.Equal(1, code);
            Assert.StartsWith($"error: --out {dir} holds another run (", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir, "recipe.txt")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            if (Directory.Exists(dir + "-no-data")) Directory.Delete(dir + "-no-data", recursive: true);
        }
    }

    /// <summary>A flag that changes a recipe's settings is checked by the recipe file's rules, named by the flag, before
    /// --out is claimed or data loads: --epochs 100 left the full budget's multistep:150,180,210 unreached (a constant
    /// rate, no error), and --seeds -1 was taken where a recipe file's seeds: [-1] is refused.</summary>
    [Theory]
    // --schedule is refused with --recipe: the fix is the epochs'.
    [InlineData("--recipe comparison --budget full --epochs 100", "error: --epochs 100: the recipe's schedule multistep:150,180,210:0.1 changes the learning rate at the start of epoch 211, which a run of 100 epochs never reaches; give --epochs 211 or more.")]
    [InlineData("--recipe comparison --budget full --teacher-epochs 1", "error: --teacher-epochs 1: the recipe's schedule multistep:150,180,210:0.1 changes the learning rate at the start of epoch 211, which a run of 1 epoch never reaches; give --teacher-epochs 211 or more.")]
    // Born-again trains no teacher: its generation 0's epochs are --epochs, not teacher_epochs (which --teacher-epochs cannot set for it).
    [InlineData("--recipe born-again --budget full --epochs 100", "error: --epochs 100: the recipe's schedule multistep:60,120,160:0.2 changes the learning rate at the start of epoch 161, which a run of 100 epochs never reaches; give --epochs 161 or more.")]
    [InlineData("--recipe soft-targets --seeds -1", "error: --seeds -1: seeds[0] = -1 is negative: seeds are 0 or more.")]
    // Sized against --dataset's 60,000 training images, not the full budget's CIFAR-100 (50,000): the model is the problem.
    [InlineData("--recipe comparison --budget full --dataset fashion-mnist --train-size 55000 --model mlp-3000000", "error: --model mlp-3000000: student: Model 'mlp-3000000' has 2,385,000,010 parameters for 1-channel input")]
    [InlineData("--recipe soft-targets --budget smoke --teacher-train-size 70000", "error: --teacher-train-size 70000: teacher_train_size = 70000: Fashion-MNIST's train split holds 60,000;")]
    // beyond-kd's extra teacher is mlp-1200-1200: kd-multi ran with one teacher under a multi-teacher label.
    [InlineData("--recipe beyond-kd --teacher mlp-1200-1200", "error: --teacher mlp-1200-1200: extra_teachers[0] mlp-1200-1200 is the teacher (mlp-1200-1200): kd-multi would count one model twice; give another architecture.")]
    public void A_recipe_setting_changed_by_a_flag_is_checked_and_named_by_the_flag(string options, string start)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"distill-recipe-{Guid.NewGuid():N}");
        try
        {
            var (code, _, stderr) = Repo.RunCli(["train", "--out", dir, .. options.Split(' ')]);
            Assert.Equal(1, code);
            Assert.StartsWith(start, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
            Assert.False(Directory.Exists(dir), $"{dir} was created");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    /// <summary>CRD gathers K negatives of embed_dim floats from each memory bank every step: settings whose banks and
    /// gathers exceed the memory are refused when the method is built (before any teacher trains), naming them, not
    /// reported as an out-of-memory error that blames the model and the batch size.</summary>
    [Fact]
    public void Crd_too_large_for_memory_names_negatives_and_embed_dim()
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--dataset", "fashion-mnist", "--train-size", "256", "--test-size", "256", "--epochs", "1",
            "--teacher", "mlp-32", "--teacher-epochs", "1", "--method", "crd", "--set", "negatives=1048576", "--set", "embed_dim=65536"]);
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: crd: negatives=1048576 and embed_dim=65536 need about 554.7 GB (", line, StringComparison.Ordinal);
        Assert.Contains("give smaller negatives or embed_dim (defaults 4096 and 128)", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mlp-32 ", "mlp-32")]
    [InlineData(" MLP-032", "mlp-32")]
    [InlineData("mlp-0800-800", "mlp-800-800")]
    [InlineData("CNN", "cnn")]
    [InlineData("cnn-016", "cnn-16")]
    [InlineData("ResNet8X4", "resnet8x4")]
    [InlineData("wrn-016-02", "wrn-16-2")]
    public void A_model_name_has_one_spelling(string given, string canonical) => Assert.Equal(canonical, Distill.Models.ModelZoo.Canonical(given));

    /// <summary>The run's name and record use the canonical spelling ("mlp-32 " made a run named with a trailing space).</summary>
    [Fact]
    public void A_run_records_its_model_by_the_canonical_name()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"distill-canonical-{Guid.NewGuid():N}");
        try
        {
            var (code, stdout, stderr) = Repo.RunCli(["train", "--model", " MLP-032 ", "--train-size", "256", "--test-size", "200", "--epochs", "1", "--out", dir]);
            Assert.True(code == 0, stderr);
            Assert.StartsWith("mlp-32 epoch   1/1", stdout.Split('\n')[1], StringComparison.Ordinal);
            var record = File.ReadAllText(Path.Combine(dir, "run.json"));
            Assert.Contains("\"name\": \"mlp-32\"", record, StringComparison.Ordinal);
            Assert.Contains("\"model\": \"mlp-32\"", record, StringComparison.Ordinal);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    /// <summary>`train` reads its dataset before it trains: the first tensor loaded libtorch before the runtime's set-up,
    /// so oneMKL ran its generic GEMM kernels (36% of an MLP run's samples in `mkl_blas_def_sgemm_kernel_0_zen`, against
    /// the notebooks' AVX-512 ones). The record says which kernels ran, and on a CPU the shim is for they are the fast ones.</summary>
    [Fact]
    public void A_cli_run_gets_the_runtime_set_up_before_libtorch_loads_and_records_it()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"distill-mkl-{Guid.NewGuid():N}");
        try
        {
            var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--train-size", "256", "--test-size", "200", "--epochs", "1", "--out", dir]);
            Assert.True(code == 0, stderr);
            using var record = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "run.json")));
            var mkl = record.RootElement.GetProperty("mkl_dispatch").GetString()!;
            var isa = record.RootElement.GetProperty("one_dnn_isa").GetString()!;
            Assert.DoesNotContain("not applied", mkl, StringComparison.Ordinal);
            Assert.DoesNotContain("libtorch was loaded first", isa, StringComparison.Ordinal);
            var decision = Distill.Native.MklCpuDispatch.Decide(Distill.Native.CpuFacts.Detect(), Environment.GetEnvironmentVariable(Distill.Native.MklCpuDispatch.OptOutVariable));
            if (decision.Enable) Assert.StartsWith("on (", mkl, StringComparison.Ordinal);
            else Assert.Equal(decision.Reason, mkl);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_model_size_in_other_digits_is_not_a_valid_size() =>
        Assert.Equal("Model 'mlp-３２': '３２' is not a valid size; write sizes with the digits 0-9.",
            Assert.Throws<ArgumentException>(() => Distill.Models.ModelZoo.Canonical("mlp-３２")).Message.Replace(" (Parameter 'name')", ""));

    /// <summary>An empty --seeds is the budget's seeds (as the notebooks' empty seeds parameter), not an error that
    /// says to leave it empty: the run gets as far as its model.</summary>
    [Fact]
    public void An_empty_seeds_keeps_the_budgets_seeds()
    {
        var (code, _, stderr) = Repo.RunCli(["train", "--recipe", "soft-targets", "--budget", "smoke", "--seeds", "", "--model", "nosuch"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: Unknown model 'nosuch'.", stderr, StringComparison.Ordinal);
    }

    /// <summary>An edited recipe file ran only from a notebook (RecipeFile.FromFile): `train --recipe-file` runs it, its
    /// recipe the one it is named after or --recipe's, and the settings its budget section gives (two seeds here, where
    /// the built-in smoke section has one). A name that names no recipe, a missing file and a missing section are one
    /// error line each.</summary>
    [Fact]
    public void An_edited_recipe_file_runs_with_its_own_settings()
    {
        var dir = Directory.CreateTempSubdirectory("distill-recipe-file").FullName;
        try
        {
            const string smoke = "smoke:\n  teacher_train_size: 500\n  teacher_epochs: 1\n  transfer_size: 300\n  student_epochs: 1\n  test_size: 300\n" +
                                 "  seeds: [7, 8]\n  temperatures: []\n  alphas: []\n  omitted_class: 3\n";
            var named = Path.Combine(dir, "01-soft-targets.yaml");
            var mine = Path.Combine(dir, "my-kd.yaml");
            File.WriteAllText(named, smoke);
            File.WriteAllText(mine, smoke);
            var (code, stdout, stderr) = Repo.RunCli(["train", "--recipe-file", named, "--budget", "smoke"]);
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains($"soft-targets (smoke section of {named}), test accuracy %", stdout, StringComparison.Ordinal);
            Assert.Matches(@"\n  scratch +best .*\(2 seeds, ", stdout);

            (code, _, stderr) = Repo.RunCli(["train", "--recipe-file", mine, "--budget", "smoke"]);
            Assert.Equal(1, code);
            Assert.Equal($"error: --recipe-file {mine}: its name names no recipe; add --recipe NAME, one of soft-targets, fitnets, attention, born-again, comparison, beyond-kd (or name the file after its recipe, e.g. 02-fitnets.yaml).\n", stderr);
            (code, _, stderr) = Repo.RunCli(["train", "--recipe-file", Path.Combine(dir, "nosuch.yaml"), "--recipe", "fitnets", "--budget", "smoke"]);
            Assert.Equal(1, code);
            Assert.StartsWith($"error: recipe file {Path.Combine(dir, "nosuch.yaml")}: no such file;", stderr, StringComparison.Ordinal);
            (code, _, stderr) = Repo.RunCli(["train", "--recipe-file", mine, "--recipe", "soft-targets"]);
            Assert.Equal(1, code);
            Assert.StartsWith($"error: {mine} line 1: no 'quick:' section;", stderr, StringComparison.Ordinal);
            // A --recipe the file is not named after: its keys were read as the other recipe's ("born-again has no separate teacher").
            (code, _, stderr) = Repo.RunCli(["train", "--recipe-file", named, "--recipe", "04-born-again", "--budget", "smoke"]);
            Assert.Equal(1, code);
            Assert.Equal($"error: --recipe-file {named} is named after recipe soft-targets (01-soft-targets), not --recipe born-again; give --recipe soft-targets, or rename the file.\n", stderr);
            // A folder was "no such file"; a missing file's name was said to name no recipe.
            (code, _, stderr) = Repo.RunCli(["train", "--recipe-file", dir]);
            Assert.StartsWith($"error: recipe file {dir}: this is a folder", stderr, StringComparison.Ordinal);
            (code, _, stderr) = Repo.RunCli(["train", "--recipe-file", Path.Combine(dir, "nonexist.yaml")]);
            Assert.StartsWith($"error: recipe file {Path.Combine(dir, "nonexist.yaml")}: no such file;", stderr, StringComparison.Ordinal);
            (code, _, stderr) = Repo.RunCli(["train", "--recipe", "07-deployment"]);
            Assert.StartsWith("error: the deployment recipe (07) deploys what 05 trained", stderr, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_validation_hold_out_as_large_as_the_training_set_is_named_by_its_flag()
    {
        // Against --train-size: before any data loads.
        var (code, _, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--dataset", "no-such-dataset", "--train-size", "300", "--validation", "300"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: --validation 300: holding out that many of the 300 --train-size images leaves none to train on; hold out fewer than 300.",
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        // Against the whole split: after it loads, before the teacher trains.
        (code, var stdout, stderr) = Repo.RunCli(["train", "--model", "mlp-32", "--teacher", "mlp-32", "--teacher-epochs", "1", "--test-size", "100", "--epochs", "1", "--validation", "60000"]);
        Assert.Equal(1, code);
        Assert.Equal("error: --validation 60000: holding out that many of the 60,000 training images leaves none to train on; hold out fewer than 60000.",
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.DoesNotContain("teacher mlp-32", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("ValidationCount", stderr, StringComparison.Ordinal);
    }

    /// <summary>A model too large to train was built anyway: mlp-3000000 grew to the machine's 24 GB until the OOM killer
    /// ended it (exit 137, no message); mlp-99999999 and cnn-99999 failed in libtorch's raw allocation error. Now it is one
    /// line naming the model, its size, the memory and the fix, exit 1 as for any bad option, before a teacher trains.</summary>
    [Theory]
    [InlineData("--model", "mlp-3000000", "--teacher", "cnn", "error: Model 'mlp-3000000' has 2,385,000,010 parameters for 1-channel input and 10 classes; training it needs about 38.2 GB")]
    [InlineData("--model", "cnn-99999", "--epochs", "1", "error: Model 'cnn-99999' has 8,109,848,300,716 parameters")]
    [InlineData("--model", "mlp-32", "--teacher", "mlp-99999999", "error: Model 'mlp-99999999' has 79,499,999,215 parameters")]
    public void A_model_too_large_for_the_memory_is_refused_before_anything_trains(string flag1, string value1, string flag2, string value2, string start)
    {
        var (code, stdout, stderr) = Repo.RunCli(["train", flag1, value1, flag2, value2, "--train-size", "100", "--test-size", "100"]);
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(start, line, StringComparison.Ordinal);
        Assert.Contains(" of memory is available", line, StringComparison.Ordinal);
        Assert.Contains("Choose a smaller width", line, StringComparison.Ordinal);
        Assert.DoesNotContain("teacher", stdout, StringComparison.Ordinal);
    }

    /// <summary>-0 was recorded as "-0", and the same run's --resume given 0 was refused as changed settings.</summary>
    [Fact]
    public void Minus_zero_is_recorded_as_zero_and_the_resume_given_zero_is_the_same_run()
    {
        using var dir = new TempDir();
        var folder = dir.File("run");
        string[] run = ["train", "--model", "mlp-32", "--train-size", "256", "--test-size", "128", "--epochs", "1", "--out", folder];
        var (code, _, stderr) = Repo.RunCli([.. run, "--weight-decay", "-0", "--warmup", "-0"]);
        Assert.True(code == 0, stderr);
        var record = File.ReadAllText(Path.Combine(folder, "run.json"));
        Assert.DoesNotContain("=-0", record, StringComparison.Ordinal); // the optimizer's wd=
        Assert.Contains("\"warmup_epochs\": \"0\"", record, StringComparison.Ordinal);
        (code, _, stderr) = Repo.RunCli([.. run, "--weight-decay", "0", "--warmup", "0", "--resume"]);
        Assert.True(code == 0, stderr);
    }

    /// <summary>--force into a distillation's folder whose student was still training cleared its teacher/, trained a
    /// new teacher, and only then failed at the student's lock, leaving a student distilled from another teacher than
    /// teacher/ holds. Any run of the folder in use refuses the command before anything is cleared. And --force clears
    /// every run of the layout: kd-multi's teacher-2-*/ stayed beside a new run with one teacher.</summary>
    [Fact]
    public void Force_refuses_while_any_run_of_the_folder_trains_and_clears_every_run_of_the_layout()
    {
        using var dir = new TempDir();
        var folder = dir.File("kd");
        void NoCache(IDictionary<string, string?> env) => env["DISTILL_TEACHER_CACHE"] = "off";
        string[] run = ["train", "--model", "mlp-32", "--teacher", "mlp-32", "--train-size", "256", "--test-size", "128", "--teacher-train-size", "256",
                        "--epochs", "1", "--teacher-epochs", "1", "--out", folder];
        var (code, _, stderr) = Repo.RunCli(run, NoCache);
        Assert.True(code == 0, stderr);
        var teacherRecord = File.ReadAllText(Path.Combine(folder, "teacher", "run.json"));
        using (var training = Distill.Training.FolderLock.TryTake(Path.Combine(folder, "student", Distill.Training.RunFolder.LockFile)))
        {
            Assert.NotNull(training);
            (code, var stdout, stderr) = Repo.RunCli([.. run, "--force"], NoCache);
            Assert.Equal(1, code);
            Assert.StartsWith($"error: --out {Path.Combine(folder, "student")} is in use by another run (PID ", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("cleared", stdout, StringComparison.Ordinal);
            Assert.Equal(teacherRecord, File.ReadAllText(Path.Combine(folder, "teacher", "run.json")));
        }
        // A stale teacher-2-*/ (as kd-multi with two teachers leaves) is cleared with the rest.
        var stale = Path.Combine(folder, "teacher-2-mlp-16");
        Directory.CreateDirectory(stale);
        File.Copy(Path.Combine(folder, "teacher", "run.json"), Path.Combine(stale, "run.json"));
        (code, _, stderr) = Repo.RunCli([.. run, "--force"], NoCache);
        Assert.True(code == 0, stderr);
        Assert.False(File.Exists(Path.Combine(stale, "run.json")));
    }
}
