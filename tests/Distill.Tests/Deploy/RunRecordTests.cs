using Distill.Models;
using Distill.Native;
using Distill.Training;

namespace Distill.Tests.Deploy;

/// <summary>What `train` records so a checkpoint can be deployed, without breaking runs recorded before.</summary>
public class RunRecordTests
{
    public RunRecordTests() => TorchRuntime.Initialize();

    [Fact]
    public void A_zoo_model_knows_its_name()
    {
        using var model = ModelZoo.Create(" CNN-8 ", 1, 10);
        Assert.Equal("cnn-8", model.ZooName);
        using var plain = new SmallCnn(1, 10);
        Assert.Null(plain.ZooName);
    }

    [Fact]
    public void A_run_recorded_before_the_deployment_keys_still_resumes_but_a_changed_model_does_not()
    {
        var old = new Dictionary<string, string> { ["student"] = "SmallCnn, 100 parameters", ["seed"] = "0" };
        var now = new Dictionary<string, string>(old) { ["model"] = "cnn", ["dataset"] = "fashion-mnist", ["input"] = "1x28x28", ["classes"] = "10" };
        Assert.Empty(RunFolder.Differences(old, now));

        var recorded = new Dictionary<string, string>(now);
        now["model"] = "cnn-16";
        Assert.Equal(["model: cnn → cnn-16"], RunFolder.Differences(recorded, now));
    }

    /// <summary>A resume spelling the recorded run another way was refused as "other settings": the default teacher
    /// epochs typed out, auto typed as the device it resolves to here. Values that do differ still do.</summary>
    [Fact]
    public void A_resume_that_spells_the_same_settings_another_way_is_the_same_run()
    {
        TorchRuntime.Initialize();
        var here = TorchRuntime.ResolveDevice("auto").ToString();
        var recorded = new Dictionary<string, string> { ["name"] = "student", ["seed"] = "0", ["teacher_epochs"] = "", ["device"] = "auto" };
        var typed = new Dictionary<string, string>(recorded) { ["teacher_epochs"] = $"{TrainOptions.DefaultTeacherEpochs}", ["device"] = here.ToUpperInvariant() };
        Assert.Empty(RunFolder.Differences(recorded, typed));
        typed["teacher_epochs"] = "7";
        Assert.Equal(["teacher_epochs:  → 7"], RunFolder.Differences(recorded, typed));
    }

    /// <summary>run.json showed the augmentation as .NET's record text ("Augmentation { CropPadding = 4, ... }"); it is
    /// spelled as --augment takes it now, and a run recorded the old way still resumes with the same augmentation.</summary>
    [Fact]
    public void The_augmentation_is_recorded_as_the_option_spells_it_and_an_older_record_still_matches()
    {
        Assert.Equal(["none", "crop-flip", "flip", "crop-2", "crop-2-flip"],
            new[] { Augmentation.None, Augmentation.Cifar, new(0, true), new(2, false), new(2, true) }.Select(a => a.ToString()));
        var old = new Dictionary<string, string> { ["augment"] = "Augmentation { CropPadding = 4, HorizontalFlip = True, Enabled = True }" };
        Assert.Empty(RunFolder.Differences(old, new Dictionary<string, string> { ["augment"] = "crop-flip" }));
        Assert.Equal(["augment: Augmentation { CropPadding = 4, HorizontalFlip = True, Enabled = True } → none"],
            RunFolder.Differences(old, new Dictionary<string, string> { ["augment"] = "none" }));
    }

    /// <summary>A run.json holding JSON null was read as an empty record ("records no 'input'"), unlike [], "x" or 42;
    /// [] was refused with the serializer's message, which names .NET's Dictionary`2 type.</summary>
    [Theory]
    [InlineData("null", "a JSON null, not an object")]
    [InlineData("[]", "a JSON array, not an object")]
    [InlineData("42", "a JSON number, not an object")]
    [InlineData("{\"model\": 3}", "'model' is a JSON number, not text")]
    public void A_run_json_that_is_not_an_object_is_not_a_run_record(string json, string why)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File(Checkpoint.FileName), "");
        File.WriteAllText(dir.File("run.json"), json);
        var e = Assert.Throws<InvalidDataException>(() => Distill.Deploy.TrainedModel.Load(dir.Path));
        Assert.Equal($"{dir.File("run.json")}: not a run record ({why}). Restore the run.json `distill train` wrote.", e.Message);
    }

    /// <summary>A FIFO in run.json's place blocked the export until it was killed.</summary>
    [Fact]
    public async Task A_fifo_in_place_of_the_run_json_is_refused_without_reading_it()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File(Checkpoint.FileName), "");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [dir.File("run.json")])) mkfifo.WaitForExit();
        var load = Task.Run(() => Assert.Throws<InvalidDataException>(() => Distill.Deploy.TrainedModel.Load(dir.Path)));
        Assert.Same(load, await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(30)))); // else the load blocked on the FIFO
        Assert.Equal($"{dir.File("run.json")}: empty (or not a regular file, e.g. a FIFO), not a run record. Restore the run.json `distill train` wrote.", (await load).Message);
    }
}
