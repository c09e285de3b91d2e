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
}
