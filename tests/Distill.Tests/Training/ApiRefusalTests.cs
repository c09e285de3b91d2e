using Distill.Losses;
using Distill.Methods;
using Distill.Native;
using Distill.Training;
using static TorchSharp.torch;

namespace Distill.Tests.Training;

/// <summary>Public entry points name a null argument, and refuse what would fail later with another library's words.</summary>
public class ApiRefusalTests
{
    public ApiRefusalTests() => TorchRuntime.Initialize();

    sealed class ConstantTerm : ILossTerm
    {
        public string Name => "constant";
        public bool NeedsTeacher => false;
        public Tensor Compute(StepContext ctx) => tensor(1.0f);
    }

    sealed class Named(string name) : Method
    {
        public override string Name => name;
        public override string Summary => "test";
        public override Paper? Paper => null;
        public override MethodKind Kind => MethodKind.Logit;
        public override Objective Build(MethodSettings s, MethodSetup setup) => new();
    }

    [Fact]
    public void Null_arguments_are_named_by_their_parameter()
    {
        var data = TinyData.FashionMnist2k;
        using var model = Build.Mlp(0);
        Assert.Equal("term", Assert.Throws<ArgumentNullException>(() => new Objective().Add(null!)).ParamName);
        Assert.Equal("student", Assert.Throws<ArgumentNullException>(() => Trainer.Train(null!, data, Build.Ce())).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentNullException>(() => Trainer.Train(model, null!, Build.Ce())).ParamName);
        Assert.Equal("objective", Assert.Throws<ArgumentNullException>(() => Trainer.Train(model, data, null!)).ParamName);
        Assert.Equal("spec", Assert.Throws<ArgumentNullException>(() => MethodCatalogue.Parse(null!)).ParamName);
        Assert.Equal("method", Assert.Throws<ArgumentNullException>(() => MethodCatalogue.Register(null!)).ParamName);
    }

    /// <summary>libtorch's "element 0 of tensors does not require grad" named no term.</summary>
    [Fact]
    public void A_term_without_a_graph_is_named()
    {
        using var model = Build.Mlp(0);
        var e = Assert.Throws<InvalidOperationException>(() => Trainer.Train(model, TinyData.FashionMnist2k, new Objective().Add(new ConstantTerm()),
            new TrainOptions { Epochs = 1, Device = "cpu", Progress = false }));
        Assert.Contains("'constant' returned a loss that does not depend on the model's outputs (no grad_fn)", e.Message);
    }

    /// <summary>Lookups ignore case and read "name:key=value,...": such a name could be registered and never found.</summary>
    [Fact]
    public void Register_refuses_names_a_lookup_cannot_find()
    {
        foreach (var name in new[] { "KD", "a:b", "a b", "a=b", "a,b", "", " x" })
            Assert.Equal("method", Assert.Throws<ArgumentException>(() => MethodCatalogue.Register(new Named(name))).ParamName);
        Assert.Contains("ignoring case", Assert.Throws<ArgumentException>(() => MethodCatalogue.Register(new Named("KD"))).Message);
        Assert.DoesNotContain(MethodCatalogue.Names, n => n == "KD" || n == "a:b");
    }
}
