using Distill.Data;
using Distill.Experiments;
using Distill.Native;

namespace Distill.Tests.Experiments;

[Collection("environment")] // sets DISTILL_TEACHER_CACHE for the process
public class TeacherStoreTests
{
    public TeacherStoreTests() => TorchRuntime.Initialize();

    [Fact]
    public void A_teacher_trained_once_is_reused_with_its_weights_and_a_different_setting_is_not()
    {
        var dir = Directory.CreateTempSubdirectory("teachers").FullName;
        Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", dir);
        try
        {
            using var data = Datasets.FashionMnist();
            var log = new StringWriter();
            var c = new FitNetsConfig { TeacherTrainSize = 1000, TestSize = 500, TeacherEpochs = 1, Teacher = "mlp-32", Log = log, Progress = false };
            var first = new FitNetsResult { Config = c };
            var t1 = Recipe.Teacher(data, c, first, null);
            Assert.Equal(2, Directory.GetFiles(dir).Length); // weights + record
            var second = new FitNetsResult { Config = c };
            var t2 = Recipe.Teacher(data, c, second, null);
            Assert.Contains("reused", log.ToString());
            Assert.Equal(first["teacher"].BestMean, second["teacher"].BestMean);
            var p1 = t1.parameters().First();
            var p2 = t2.parameters().First();
            Assert.True(p1.cpu().allclose(p2.cpu(), rtol: 0, atol: 0));

            var other = new FitNetsResult { Config = c with { TeacherEpochs = 2 } };
            Recipe.Teacher(data, other.Config, other, null);
            Assert.Equal(4, Directory.GetFiles(dir).Length);

            File.WriteAllText(Path.Combine(dir, TeacherStore.Key(data, c) + ".json"), "{broken");
            var again = new FitNetsResult { Config = c };
            Recipe.Teacher(data, c, again, null); // a damaged entry is dropped and the teacher retrained, not an error
            Assert.Contains("ignoring damaged entry", log.ToString());
        }
        finally { Environment.SetEnvironmentVariable("DISTILL_TEACHER_CACHE", null); }
    }
}
