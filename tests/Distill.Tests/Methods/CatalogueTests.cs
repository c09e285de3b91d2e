using Distill.Data;
using Distill.Experiments;
using Distill.Losses;
using Distill.Methods;
using Distill.Models;
using Distill.Native;
using Distill.Tests.Models;
using Distill.Tests.Training;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Methods;

/// <summary>The method catalogue: every method is complete and trains on real data; bad names, keys, values and layers
/// are errors that say what is valid.</summary>
[Collection(GlobalTorchRngCollection.Name)]
public sealed class CatalogueTests
{
    public CatalogueTests() => TorchRuntime.Initialize();

    static readonly Lazy<ImageDataset> Data = new(() => TinyData.FashionMnist2k.Subset(train: 256, test: 128, seed: 0));

    public static TheoryData<string> Names() => [.. MethodCatalogue.Names];

    [Fact]
    public void The_catalogue_holds_the_anchors_and_the_newer_methods_each_once()
    {
        string[] expected = ["scratch", "kd", "fitnet", "at", "sp", "rkd", "pkt", "dkd", "dist", "mlkd", "ctkd", "crd", "nst", "kd-multi", "byot"];
        Assert.Equal(expected.Order(), MethodCatalogue.Names.Order());
        Assert.Equal(MethodCatalogue.Names.Count(), MethodCatalogue.Names.Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_method_declares_its_paper_kind_and_parameters_with_defaults_in_range(string name)
    {
        var m = MethodCatalogue.Find(name);
        Assert.Equal(name, m.Name);
        Assert.False(string.IsNullOrWhiteSpace(m.Summary));
        if (name != "scratch") Assert.True(m.Paper is { Year: > 2000, Authors.Length: > 0, Title.Length: > 0 }, $"{name} has no paper");
        Assert.Equal(m.Parameters.Count, m.Parameters.Select(p => p.Name).Distinct().Count());
        foreach (var p in m.Parameters.Where(p => !p.IsText)) Assert.True(p.Accepts(p.Default), $"{name}.{p.Name}: default {p.Default} outside {p.Range}");
        Assert.Equal(m.Parameters.Count, m.Settings().All.Count);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_method_trains_a_real_step_on_the_cnn_pair(string name)
    {
        var data = Data.Value;
        var m = MethodCatalogue.Find(name);
        using var teacher = Model("cnn", 1);
        using var extra = Model("mlp-32", 2);
        var choice = m.Name == "kd-multi" ? MethodCatalogue.Parse("kd-multi:teachers=cnn,mlp-32") : new MethodChoice(m, m.Settings());
        var objective = choice.Build(new MethodSetup("cnn-8", "cnn", data, 64)
        {
            TrainedTeacher = n => n == "cnn" ? teacher : n == "mlp-32" ? extra : throw new ArgumentException(n),
        });
        using var student = Model("cnn-8", 0);
        var r = Trainer.Train(student, data, objective, new TrainOptions { Name = name, Epochs = 1, BatchSize = 64, Device = "cpu", Progress = false },
            m.NeedsTeacher ? teacher : null);
        Assert.True(double.IsFinite(r.History[0].TrainLoss), $"{name}: loss {r.History[0].TrainLoss}");
        Assert.Contains(r.History[0].TermLosses, t => t.Name != "ce" || name == "scratch");
    }

    [Fact]
    public void An_unknown_method_lists_the_catalogue()
    {
        var e = Assert.Throws<ArgumentException>(() => MethodCatalogue.Find("kdd"));
        Assert.StartsWith("unknown method 'kdd'; the catalogue has ", e.Message);
        foreach (var n in MethodCatalogue.Names) Assert.Contains(n, e.Message);
    }

    [Fact]
    public void An_unknown_key_lists_the_parameters_and_a_bad_value_names_the_range()
    {
        var key = Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("dkd", ["gamma=2"]));
        Assert.Equal("dkd: unknown parameter 'gamma'; its parameters are alpha (default 1), beta (default 1), temperature (default 4), warmup (default 0.3), standardize (default 0).", key.Message);
        Assert.Equal("kd: alpha=1.5 is out of range; alpha must be in [0, 1].", Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("kd", ["alpha=1.5"])).Message);
        Assert.Equal("kd: temperature=0 is out of range; temperature must be in [0.01, 1000].", Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("kd:temperature=0")).Message);
        Assert.Equal("kd: standardize=0.5 is out of range; standardize must be 0 or 1.", Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("kd:standardize=0.5")).Message);
        Assert.Equal("dist: beta=x is not a number; beta takes a number in [0, ∞).", Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("dist:beta=x")).Message);
        Assert.Equal("kd: standardize=yes is not a number; standardize takes 0 or 1.", Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("kd:standardize=yes")).Message);
        Assert.Contains("is not key=value", Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("kd", ["temperature"])).Message);
        Assert.Contains("given twice", Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("kd:alpha=0.5,alpha=0.6")).Message);
        Assert.Contains("'x' is not a number in [0.01, 1000]", Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("mlkd:temperatures=2,x").Build(Setup("cnn-8"))).Message);
    }

    /// <summary>Values a run could not use are refused when the method is chosen: temperatures float32 cannot divide by
    /// (or whose T²-scaled gradient vanishes), numbers beyond float32, empty or repeated list items, a curriculum that
    /// falls.</summary>
    [Theory]
    [InlineData("kd", "temperature=1e300", "kd: temperature=1e300 is out of range; temperature must be in [0.01, 1000].")]
    [InlineData("dkd", "temperature=1e-45", "dkd: temperature=1e-45 is out of range; temperature must be in [0.01, 1000].")]
    [InlineData("kd", "temperature_end=1e300", "kd: temperature_end=1e300 is out of range; temperature_end must be 0 or a number in [0.01, 1000].")]
    [InlineData("kd", "temperature_end=0.001", "kd: temperature_end=0.001 is out of range; temperature_end must be 0 or a number in [0.01, 1000].")]
    [InlineData("dist", "beta=1e300", "dist: beta=1e300 is beyond float32 (0, or 1.2e-38 to 3.4e38 in size), which the losses compute in; give a value in that range.")]
    // Below double's smallest, it parsed as 0 and switched DKD's term off (1e-320 was refused).
    [InlineData("dkd", "beta=1e-400", "dkd: beta=1e-400 is beyond float32 (0, or 1.2e-38 to 3.4e38 in size), which the losses compute in; give a value in that range.")]
    [InlineData("kd-multi", "teachers=cnn;mlp-32|weights=1;1e-400", "kd-multi: weights=1,1e-400: '1e-400' is not a number in [0, 3.403e38]; give such numbers separated by commas.")]
    [InlineData("mlkd", "temperatures=1e-30", "mlkd: temperatures=1E-30: '1E-30' is not a number in [0.01, 1000]; give such numbers separated by commas.")]
    [InlineData("mlkd", "temperatures=2;2", "mlkd: temperatures=2,2: 2 is given 2 times; give each once.")]
    [InlineData("mlkd", "temperatures=;", "mlkd: temperatures=, has only empty items; give items separated by single commas, e.g. temperatures=2,3,4,5,6.")]
    [InlineData("mlkd", "temperatures=2;;3", "mlkd: temperatures=2,,3 has an empty item; separate the items by single commas, e.g. temperatures=2,3.")]
    [InlineData("ctkd", "lambda_min=1|lambda_max=0", "ctkd: lambda_min=1 is above lambda_max=0; the curriculum raises λ from lambda_min to lambda_max (easy to hard).")]
    // The learned temperature's range within the catalogue's, and holding the initial one.
    [InlineData("ctkd", "t_min=900|initial=950|t_range=999", "ctkd: t_min + t_range = 1899 is above 1000, the highest temperature the catalogue allows; lower t_range to at most 100 (or t_min).")]
    // Ends no setting could take were listed: initial lies strictly inside (t_min, t_min + t_range), t_min is at least 0.01.
    [InlineData("ctkd", "initial=1000", "ctkd: initial=1000 is out of range; initial must be in (0.01, 1000).")]
    [InlineData("ctkd", "initial=0.01", "ctkd: initial=0.01 is out of range; initial must be in (0.01, 1000).")]
    [InlineData("ctkd", "t_range=1000", "ctkd: t_range=1000 is out of range; t_range must be in (0, 999.99].")]
    [InlineData("ctkd", "t_min=1000|t_range=0.5", "ctkd: t_min + t_range = 1000.5 is above 1000, the highest temperature the catalogue allows; lower t_min below 1000, to leave the temperature room to move.")]
    [InlineData("ctkd", "t_min=10", "ctkd: initial=4 is outside (10, 30), the range t_min=10 and t_range=20 give the learned temperature; choose initial inside it, or move t_min below 4.")]
    // Inside the range, but where the float32 sigmoid behind T is saturated: T never moved from 21.
    [InlineData("ctkd", "initial=20.99999999", "ctkd: initial=20.99999999 is within 2E-05 of the learned temperature's edge 21, where its sigmoid is saturated in float32 and it would never move; choose initial at least 2E-05 inside (1, 21).")]
    [InlineData("ctkd", "initial=1.000001", "ctkd: initial=1.000001 is within 2E-05 of the learned temperature's edge 1, where its sigmoid is saturated in float32 and it would never move; choose initial at least 2E-05 inside (1, 21).")]
    [InlineData("ctkd", "initial=30", "ctkd: initial=30 is outside (1, 21), the range t_min=1 and t_range=20 give the learned temperature; choose initial inside it, or move t_min below 30 or raise t_range above 29.")]
    // The list's bound is float32's largest, which printed as 39 digits.
    [InlineData("kd-multi", "teachers=cnn;mlp-32|weights=1;-1", "kd-multi: weights=1,-1: '-1' is not a number in [0, 3.403e38]; give such numbers separated by commas.")]
    public void Values_a_run_cannot_use_are_refused_by_name(string method, string sets, string message)
    {
        // ';' stands for ',' inside one value and '|' separates --set options (the theory's data is one string each).
        var e = Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose(method, [.. sets.Split('|').Select(v => v.Replace(';', ','))]).Build(Setup("cnn-8")));
        Assert.Equal(message, e.Message);
    }

    /// <summary>The library's NAME:key=value form typed as --method was only "unknown method"; the message now gives the
    /// --set form of the same choice.</summary>
    [Fact]
    public void A_method_with_parameters_after_a_colon_is_told_the_set_form()
    {
        var e = Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("mlkd:temperatures=2,4,weight=2", []));
        Assert.Equal("unknown method 'mlkd:temperatures=2,4,weight=2'; give the method's parameters with --set: --method mlkd --set temperatures=2,4 --set weight=2.", e.Message);
        Assert.StartsWith("unknown method 'nope:x=1'; the catalogue has ", Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("nope:x=1", [])).Message, StringComparison.Ordinal);
        Assert.Equal("kd-multi: 2 weights for 1 teacher; give one weight per teacher.",
                     Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("kd-multi", ["teachers=mlp-32", "weights=1,2"]).Build(Setup("cnn-8"))).Message);
    }

    /// <summary>The ends `distill methods ctkd` lists are ones a setting can take.</summary>
    [Fact]
    public void Ctkd_takes_the_ends_of_its_listed_ranges()
    {
        Assert.Contains(MethodCatalogue.Choose("ctkd", ["t_min=0.01", "t_range=999.99", "initial=999.9"]).Build(Setup("cnn-8")).Terms, t => t.Term.Name == "ctkd");
        Assert.Contains(MethodCatalogue.Choose("ctkd", ["t_min=0.01", "initial=0.02"]).Build(Setup("cnn-8")).Terms, t => t.Term.Name == "ctkd");
    }

    /// <summary>kd-multi's teachers are names of the zoo, each checked when the method is chosen (its teachers train
    /// one after another, so a bad second name was found only after the first had trained).</summary>
    [Fact]
    public void Kd_multi_refuses_an_unknown_teacher_when_chosen()
    {
        var e = Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("kd-multi", ["teachers=mlp-32,bogus-9"]));
        Assert.StartsWith("kd-multi: teachers=mlp-32,bogus-9: Unknown model 'bogus-9'. Known models: ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>kd-multi refuses a teacher named twice, as the zoo reads names (MLP-032 is mlp-32, cnn is cnn-32): every
    /// teacher trains with the run's seed, so a repeat is the same model counted twice, not a second teacher.</summary>
    [Theory]
    [InlineData("mlp-32,MLP-32", "mlp-32")]
    [InlineData("mlp-032,cnn,mlp-32", "mlp-32")]
    [InlineData("cnn,cnn-32", "cnn-32")]
    public void Kd_multi_refuses_a_teacher_given_twice(string teachers, string model)
    {
        var e = Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("kd-multi", [$"teachers={teachers}"]));
        Assert.Equal($"kd-multi: teachers={teachers}: {model} is given 2 times; every teacher trains with the run's seed, " +
                     "so a repeat is the same model counted twice: name each teacher once (use weights to weigh one more).", e.Message);
        MethodCatalogue.Choose("kd-multi", ["teachers=mlp-32,mlp-64,cnn-16"]); // distinct models are still accepted
    }

    /// <summary>CRD's banks, per-step negatives and [batch, negatives] score matrices are sized against the memory before
    /// anything trains; the defaults fit in well under a gigabyte, the CLI's 1M negatives × 65,536 dimensions did not and
    /// were blamed on the model, and neither did 1M negatives of 8 dimensions, whose scores alone take 4.8 GB at batch 128.</summary>
    [Fact]
    public void Crd_refuses_banks_and_negatives_beyond_the_memory_by_name()
    {
        // The defaults on a whole training set at batch 128: 8·(60,000 + 4096)·128 + 36·128·4096 = 84,508,672 bytes.
        CrdMethod.CheckMemory(60_000, 4096, 128, 128, 2_000_000_000);
        var e = Assert.Throws<ModelTooLargeException>(() => CrdMethod.CheckMemory(256, 1 << 20, 1 << 16, 128, 16_000_000_000));
        Assert.Equal("crd: negatives=1048576 and embed_dim=65536 need about 554.7 GB (two memory banks of 256 training samples' embeddings and the " +
                     "1,048,576 negatives gathered from each every step, embed_dim floats a row, and the scores of the 128 batch samples against " +
                     "the negatives), but 16.0 GB of memory is available; give smaller negatives or embed_dim (defaults 4096 and 128).", e.Message);
        // Tiny banks, huge score matrices: 8·(60,000 + 2^20)·8 + 36·128·2^20 = 4,902,787,072 bytes; a smaller batch would fit, so it is named.
        e = Assert.Throws<ModelTooLargeException>(() => CrdMethod.CheckMemory(60_000, 1 << 20, 8, 128, 2_000_000_000));
        Assert.Equal("crd: negatives=1048576 and embed_dim=8 at batch size 128 need about 4.9 GB (two memory banks of 60,000 training samples' embeddings " +
                     "and the 1,048,576 negatives gathered from each every step, embed_dim floats a row, and the scores of the 128 batch samples against " +
                     "the negatives), but 2.0 GB of memory is available; give smaller negatives or embed_dim (defaults 4096 and 128), or a smaller batch size.", e.Message);
    }

    /// <summary>A feature method comparing maps position by position refuses a layer whose maps differ in size, naming
    /// both shapes and the layers that fit, when it is built (before any teacher trains).</summary>
    [Theory]
    [InlineData("at", "at: stage1 is 16×28×28 on resnet8 and 8×14×14 on cnn-8; at needs feature maps of the same height and width on both. ")]
    [InlineData("nst", "nst: stage1 is 16×28×28 on resnet8 and 8×14×14 on cnn-8; nst needs feature maps of the same height and width on both. ")]
    [InlineData("fitnet", "fitnet: stage2 is 32×14×14 on resnet8 and 16×7×7 on cnn-8; fitnet needs a flat feature on both, or feature maps of the same height and width on both. ")]
    public void A_feature_method_refuses_maps_of_different_sizes_naming_the_layers_that_fit(string method, string start)
    {
        var e = Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose(method, []).Build(new MethodSetup("resnet8", "cnn-8", Data.Value, 64)));
        Assert.StartsWith(start, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fitnet", "mlp-800-800 has no feature 'stage2'; its features are hidden1, hidden2 (or logits). A layer names a feature of both models: mlp-800-800 and cnn share none, so give logits and weight=0.1 (a flat feature), or pair models with the same features (e.g. cnn-8 and cnn).")]
    // Following the hint on the one model meets the other: the message names what the pair shares.
    [InlineData("fitnet:layer=hidden1", "cnn has no feature 'hidden1'; its features are stage1, stage2, fc (or logits). A layer names a feature of both models: mlp-800-800 and cnn share none, so give logits and weight=0.1 (a flat feature), or pair models with the same features (e.g. cnn-8 and cnn).")]
    [InlineData("at:layers=stage1,stage9", "cnn-8 has no feature 'stage9'; its features are stage1, stage2, fc (or logits). A layer names a feature of both models: cnn-8 and cnn share stage1, stage2, fc (or logits).")]
    [InlineData("nst", "mlp-800-800 and cnn share no 'stage' feature for a feature method; mlp-800-800 has hidden1, hidden2, cnn has stage1, stage2, fc. mlp-800-800 is fully connected, with no spatial feature maps; use convolutional models (e.g. cnn-8 and cnn).")]
    public void A_feature_method_on_a_model_without_the_layer_lists_its_features(string spec, string message)
    {
        var student = spec.StartsWith("at", StringComparison.Ordinal) ? "cnn-8" : "mlp-800-800";
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse(spec).Build(Setup(student))).Message);
    }

    /// <summary>A CNN's logits are flat, but the CNN has maps: the message named the model "fully connected" and sent the
    /// user to convolutional models, which they had. It names the layers of the pair that fit instead.</summary>
    [Theory]
    [InlineData("at:layers=logits", "at: logits of cnn-8 is a flat vector of 10 values, not a feature map, and at compares feature maps position by position. Layers of this pair that fit: stage1, stage2 (e.g. layers=stage1).")]
    [InlineData("nst:layers=stage1,fc", "nst: fc of cnn-8 is a flat vector of 64 values, not a feature map, and nst compares feature maps position by position. Layers of this pair that fit: stage1, stage2 (e.g. layers=stage1).")]
    public void A_map_method_given_a_flat_layer_of_a_cnn_names_the_maps_that_fit(string spec, string message) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse(spec).Build(Setup("cnn-8"))).Message);

    /// <summary>byot's heads go on shallower layers: a head on the deepest feature or the logits was accepted and trained,
    /// taught by the outputs it copies.</summary>
    [Theory]
    [InlineData("byot:layers=logits", "byot: layers=logits: logits is cnn-8's output, which teaches the heads; give shallower layers: stage1, stage2.")]
    [InlineData("byot:layers=stage1,fc", "byot: layers=stage1,fc: fc is cnn-8's deepest feature, which teaches the heads; give shallower layers: stage1, stage2.")]
    public void Byot_refuses_a_head_on_the_layer_that_teaches_it(string spec, string message) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse(spec).Build(new MethodSetup("cnn-8", null, Data.Value, 64))).Message);

    [Fact]
    public void Settings_and_labels_show_only_what_differs_from_the_defaults()
    {
        Assert.Equal("dkd", MethodCatalogue.Parse("dkd").Label);
        Assert.Equal("dkd:beta=8,standardize=1", MethodCatalogue.Parse("DKD:standardize=1, beta=8").Label);
        Assert.Equal("8", MethodCatalogue.Parse("dkd:beta=8").Settings.All["beta"]);
    }

    /// <summary>Lists too: a --resume typed with other spaces or digits (temperatures=2, 3.0 for 2,3) was refused as a
    /// changed setting, though it trains the same run. The order is kept (it names the stages of a progressive hint).</summary>
    [Theory]
    [InlineData("mlkd", "temperatures", " 2, 3.0 ,4e0", "2,3,4")]
    [InlineData("fitnet", "layer", "stage2 , stage1", "stage2,stage1")]
    [InlineData("at", "layers", "  ", "")]
    [InlineData("kd-multi", "weights", "0.50,1", "0.5,1")]
    public void Lists_given_in_another_spelling_are_kept_in_one(string method, string key, string given, string kept) =>
        Assert.Equal(kept, MethodCatalogue.Choose(method, [$"{key}={given}"]).Settings.All[key]);

    /// <summary>A method's numbers are kept in one spelling, the one a spec's grid values get (both use
    /// NumberText.Canonical): run labels and cache keys compare them as text. Text that is no number stays as given.</summary>
    [Theory]
    [InlineData("8.0", "8")]
    [InlineData("8e0", "8")]
    [InlineData("08", "8")]
    [InlineData("0.80", "0.8")]
    [InlineData("1E-3", "0.001")]
    [InlineData("1e+22", "1E+22")]
    [InlineData("-0", "0")]
    [InlineData("-0.0e0", "0")]
    public void Numbers_given_in_another_spelling_are_kept_in_one(string given, string kept)
    {
        Assert.Equal(kept, MethodCatalogue.Parse($"dkd:beta={given}").Settings.All["beta"]);
        Assert.Equal($"dkd:beta={kept}", MethodCatalogue.Parse($"dkd:beta={given}").Label);
        Assert.Equal(kept, NumberText.Canonical(given));
        Assert.Equal("mlp-32", NumberText.Canonical("mlp-32"));
    }

    [Fact]
    public void Combine_weights_each_methods_distillation_terms_and_keeps_one_cross_entropy()
    {
        var o = MethodCatalogue.Combine(0.5, [(MethodCatalogue.Parse("kd"), 2), (MethodCatalogue.Parse("at"), 1)], Setup("cnn-8"));
        Assert.Equal(["ce", "kd", "at"], o.Terms.Select(t => t.Term.Name));
        Assert.Equal([0.5, 1.8, 1.0], o.WeightsAt(0.5).Select(w => Math.Round(w.Weight, 12)));
        Assert.Throws<ArgumentException>(() => MethodCatalogue.Combine(1, [(MethodCatalogue.Parse("kd"), 1), (MethodCatalogue.Parse("kd:temperature=2"), 1)], Setup("cnn-8")));
    }

    [Fact]
    public void Fitnet_staged_trains_hints_alone_first_layer_after_layer_then_the_cross_entropy()
    {
        var o = MethodCatalogue.Parse("fitnet:layer=stage1,stage2,hint_fraction=0.5,progressive=1").Build(Setup("cnn-8"));
        Assert.Equal(["ce", "hint_stage1", "hint_stage2"], o.Terms.Select(t => t.Term.Name));
        Assert.Equal([0.0, 100, 0], o.WeightsAt(0.1).Select(w => w.Weight));
        Assert.Equal([0.0, 0, 100], o.WeightsAt(0.3).Select(w => w.Weight));
        Assert.Equal([1.0, 0, 0], o.WeightsAt(0.7).Select(w => w.Weight));
        // The default is RepDistiller's single stage: CE and one hint throughout.
        var plain = MethodCatalogue.Parse("fitnet").Build(Setup("cnn-8"));
        Assert.Equal([1.0, 100], plain.WeightsAt(0.9).Select(w => w.Weight));
        var twoStage = MethodCatalogue.Parse("fitnet:hint_fraction=0.25").Build(Setup("cnn-8"));
        Assert.Equal([0.0, 100], twoStage.WeightsAt(0.2).Select(w => w.Weight));
        Assert.Equal([1.0, 0], twoStage.WeightsAt(0.25).Select(w => w.Weight));
        // With one layer nothing comes after another: refused rather than trained as plain fitnet under a progressive name.
        Assert.Contains("names one; name two or more", Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("fitnet:layer=stage2,progressive=1")).Message, StringComparison.Ordinal);
        Assert.Contains("names one", Assert.Throws<ArgumentException>(() => MethodCatalogue.Choose("fitnet", ["progressive=1"])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kd_temperature_anneals_from_high_to_low_or_the_reverse()
    {
        var down = (KdTerm)MethodCatalogue.Parse("kd:temperature=8,temperature_end=2").Build(Setup("cnn-8")).Terms[1].Term;
        Assert.Equal(8, down.Temperature.At(0), 9);
        Assert.Equal(2, down.Temperature.At(1), 9);
        var up = (KdTerm)MethodCatalogue.Parse("kd:temperature=1,temperature_end=6").Build(Setup("cnn-8")).Terms[1].Term;
        Assert.True(up.Temperature.At(0.25) < up.Temperature.At(0.75));
        // To the lowest temperature: the cosine's rounding gave 0.009999999999999787 near the end, which the loss
        // refused in the last epoch (and on every resume).
        var lowest = (KdTerm)MethodCatalogue.Parse("kd:temperature=7,temperature_end=0.01").Build(Setup("cnn-8")).Terms[1].Term;
        using var s = TorchSharp.torch.randn(4, 10);
        using var t = TorchSharp.torch.randn(4, 10);
        foreach (var progress in Enumerable.Range(0, 1001).Select(i => i / 1000.0))
            using (var loss = Kd.Loss(s, t, lowest.Temperature.At(progress))) Assert.True(double.IsFinite(loss.item<float>()), $"at progress {progress}");
        Assert.Throws<ArgumentOutOfRangeException>(() => Kd.Loss(s, t, 0.0099999));
    }

    [Fact]
    public void The_comparison_runs_every_one_pair_method_of_the_catalogue()
    {
        Assert.Equal(MethodCatalogue.All.Where(m => m.InComparison).Select(m => m.Name), Comparison.AllMethods);
        Assert.DoesNotContain("kd-multi", Comparison.AllMethods);
        Assert.Contains("crd", Comparison.AllMethods);
        var bad = Assert.Throws<ArgumentException>(() => Comparison.Run(Data.Value, new ComparisonConfig { Methods = ["kd", "nope"] }));
        Assert.StartsWith("methods[1]: unknown method 'nope'", bad.Message); // the recipe file's words, naming the setting

        // A feature method on a pair without its layers fails before the teacher trains: it failed after the teacher
        // and the earlier methods' students had. No log line at all means nothing trained.
        var log = new StringWriter();
        var late = Assert.Throws<ArgumentException>(() => Comparison.Run(Data.Value, new ComparisonConfig
        {
            Methods = ["kd", "fitnet"], Teacher = "mlp-64", Student = "mlp-32", Seeds = [0], TeacherEpochs = 1, StudentEpochs = 1, Log = log, Progress = false,
        }));
        Assert.Contains("mlp-32 has no feature", late.Message, StringComparison.Ordinal);
        Assert.Equal("", log.ToString());
    }

    /// <summary>Probed: `--set layer=stage1,stage2` on pkt passed the check item by item, then failed as one name with an
    /// unexpected KeyNotFoundException after the teacher trained; pkt scaled its weight by a --batch-size larger than the
    /// training set (batches never that large); kd-multi sized its second teacher only after the first had trained.</summary>
    [Fact]
    public void A_one_layer_setting_refuses_a_list_pkt_scales_by_the_batch_trained_and_kd_multi_sizes_every_teacher_first()
    {
        var list = Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("pkt:layer=stage1,stage2").Build(Setup("cnn-8")));
        Assert.StartsWith("layer=stage1,stage2: this setting names one layer, not a list; give one of them (e.g. layer=stage1).", list.Message, StringComparison.Ordinal);

        double PktWeight(int batch) => MethodCatalogue.Parse("pkt").Build(new MethodSetup("cnn-8", "cnn", Data.Value, batch)).Terms[1].Weight.At(0);
        Assert.Equal(PktWeight((int)Data.Value.Train.Count), PktWeight(4 * (int)Data.Value.Train.Count));

        var built = new List<string>();
        var setup = new MethodSetup("cnn-8", null, Data.Value, 64) { TrainedTeacher = name => { built.Add(name); return Distill.Models.ModelZoo.Create(name, 1, 10); } };
        var huge = Assert.Throws<Distill.Models.ModelTooLargeException>(() => MethodCatalogue.Parse("kd-multi:teachers=cnn-8,mlp-40000-40000").Build(setup));
        Assert.Contains("mlp-40000-40000", huge.Message, StringComparison.Ordinal);
        Assert.Empty(built);
    }

    /// <summary>dkd's warm-up could not be switched off (its range was (0, 1]) while mlkd's 0 meant none: 0 is now no
    /// warm-up for both, the full weight from the first step.</summary>
    [Fact]
    public void A_warmup_of_0_is_the_full_weight_from_the_first_step()
    {
        foreach (var method in new[] { "dkd:warmup=0", "mlkd:warmup=0" })
        {
            var objective = MethodCatalogue.Parse(method).Build(new MethodSetup("cnn-8", "cnn", Data.Value, 64));
            var (_, weight) = Assert.Single(objective.Terms, t => t.Term is not CrossEntropyTerm);
            Assert.Equal(MethodCatalogue.Parse(method).Method.Name == "mlkd" ? MethodCatalogue.Parse(method).Settings["weight"] : 1, weight.At(0));
        }
        var ramp = Assert.Single(MethodCatalogue.Parse("dkd").Build(new MethodSetup("cnn-8", "cnn", Data.Value, 64)).Terms, t => t.Term is not CrossEntropyTerm).Weight;
        Assert.Equal(0, ramp.At(0)); // the default ramps from 0
    }

    /// <summary>Relational methods compare the samples of a batch: at batch 1 (rkd's angles at 2) their term was 0 every
    /// step, and `--method pkt --batch-size 1` trained scratch's weights under pkt's name.</summary>
    [Theory]
    // pkt's default weight is refused below its batch of 64 (MethodAdviceTests): given, it is taken at batches of 3.
    [InlineData("pkt:weight=30000", 1, "pkt compares each sample's similarities to the others in its batch: batches of 1 give it nothing to compare (its term would be 0 every step); give --batch-size 2 or more.")]
    [InlineData("sp", 1, "sp matches the similarities between the samples of a batch: batches of 1 give it nothing to compare")]
    [InlineData("rkd", 2, "rkd matches the angles between three samples of a batch: batches of 2 give it nothing to compare (its term would be 0 every step); give --batch-size 3 or more")]
    // At 2 the one distance divided by the mean distance is 1 for both models: the distance term was 0 every step.
    [InlineData("rkd:angle=0", 2, "rkd matches the distances between the samples of a batch, each divided by their mean: batches of 2 give it nothing to compare (its term would be 0 every step); give --batch-size 3 or more.")]
    // One sample has no spread across the batch: with beta 0 DIST's term was a constant.
    [InlineData("dist:beta=0", 1, "dist with beta 0 matches only the intra-class relation, across the samples of a batch: batches of 1 give it nothing to compare (its term would be a constant, with no gradient); give --batch-size 2 or more.")]
    public void Relational_methods_refuse_batches_too_small_to_compare(string method, int batch, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse(method).Build(new MethodSetup("cnn-8", "cnn", Data.Value, batch)));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
        Assert.NotNull(MethodCatalogue.Parse(method).Build(new MethodSetup("cnn-8", "cnn", Data.Value, 3)));
        if (method == "dist:beta=0") Assert.NotNull(MethodCatalogue.Parse("dist").Build(new MethodSetup("cnn-8", "cnn", Data.Value, batch))); // the inter-class relation works at 1
    }

    /// <summary>A batch cut short by the training images was fixed by "--batch-size 2 or more", which does not help and
    /// which `train --recipe` refuses: the fix is more training images.</summary>
    [Fact]
    public void A_batch_cut_by_the_training_images_names_train_size()
    {
        using var one = Data.Value.Subset(1, 10);
        var e = Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("pkt").Build(new MethodSetup("cnn-8", "cnn", one, 128)));
        Assert.EndsWith("batches of 1 give it nothing to compare (its term would be 0 every step); give --train-size 2 or more: a batch holds at most the training images.", e.Message, StringComparison.Ordinal);
        // Both too small: both named, or following the fix met a second refusal.
        var both = Assert.Throws<ArgumentException>(() => MethodCatalogue.Parse("pkt").Build(new MethodSetup("cnn-8", "cnn", one, 1)));
        Assert.EndsWith("give --train-size 2 or more and --batch-size 2 or more: a batch holds at most the training images.", both.Message, StringComparison.Ordinal);
    }

    static MethodSetup Setup(string student) => new(student, "cnn", Data.Value, 64);

    static DistillModel Model(string name, int seed)
    {
        using (manual_seed(seed)) { }
        return ModelZoo.Create(name, 1, 10);
    }

    /// <summary>`methods NAME` padded its columns to fixed widths: a long range ran into its description ("[1, 1048576],
    /// whole negatives K per step") and a text default into its range ("default cnn,mlp-1200-1200 text"). Now every
    /// column is at least two spaces from the next, and a text default is quoted.</summary>
    [Theory]
    [InlineData("crd", "negatives", "[1, 1048576], whole", "4096")]
    [InlineData("kd-multi", "teachers", "text", "\"cnn,mlp-1200-1200\"")]
    public void Methods_name_keeps_its_columns_apart(string method, string parameter, string range, string shown)
    {
        var (code, stdout, stderr) = Onboarding.Repo.RunCli(["methods", method]);
        Assert.True(code == 0, stderr);
        var line = Assert.Single(stdout.Split('\n'), l => l.StartsWith($"  {parameter} ", StringComparison.Ordinal));
        Assert.Matches($@"^  {parameter} +default {System.Text.RegularExpressions.Regex.Escape(shown)}  +{System.Text.RegularExpressions.Regex.Escape(range)}  +\S", line);
    }
}
