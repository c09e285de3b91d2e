using Distill.Methods;
using static TorchSharp.torch;

namespace Distill.Losses;

/// <summary>
/// Every reference function of the <see cref="MethodCatalogue"/>'s methods, by the name reference files use ("kd",
/// "kd_hard", ...; definitions in the loss files and tests/Distill.Tests/TestData/Losses/README.md), as a function of named input tensors and numeric parameters.
/// Used by <c>distill reference</c> and the reference tests; an unknown name throws <see cref="UnknownLossException"/>,
/// a missing or unexpected input or parameter an <see cref="ArgumentException"/> naming it.
/// </summary>
public static class LossRegistry
{
    public static IReadOnlyCollection<string> Names => [.. MethodCatalogue.ReferenceNames];

    public static bool Contains(string name) => MethodCatalogue.TryReference(name, out _);

    public static Tensor Compute(string name, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, double> parameters)
    {
        if (!MethodCatalogue.TryReference(name, out var loss)) throw new UnknownLossException(name);
        var args = new LossArguments(name, inputs, parameters);
        var value = loss(args);
        args.CheckAllUsed();
        return value;
    }
}

/// <summary>The named inputs and parameters of one reference computation; reading one that is missing fails naming it.</summary>
public sealed class LossArguments(string loss, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, double> parameters)
{
    readonly HashSet<string> usedInputs = [];
    readonly HashSet<string> usedParams = [];

    public Tensor Input(string name)
    {
        usedInputs.Add(name);
        return inputs.TryGetValue(name, out var t) ? t
            : throw new ArgumentException($"{loss}: missing input '{name}' (given: {List(inputs.Keys)}).");
    }

    public double Param(string name, double? fallback = null)
    {
        usedParams.Add(name);
        if (parameters.TryGetValue(name, out var v)) return v;
        return fallback ?? throw new ArgumentException($"{loss}: missing parameter '{name}' (given: {List(parameters.Keys)}).");
    }

    /// <summary>An input or parameter the loss never read is a typo or a mismatch: fail rather than ignore it.</summary>
    internal void CheckAllUsed()
    {
        var extraInputs = inputs.Keys.Except(usedInputs).ToList();
        var extraParams = parameters.Keys.Except(usedParams).ToList();
        if (extraInputs.Count > 0 || extraParams.Count > 0)
            throw new ArgumentException(
                $"{loss}: unexpected {(extraInputs.Count > 0 ? $"input(s) {List(extraInputs)}" : "")}" +
                $"{(extraInputs.Count > 0 && extraParams.Count > 0 ? " and " : "")}" +
                $"{(extraParams.Count > 0 ? $"parameter(s) {List(extraParams)}" : "")}; it reads inputs {List(usedInputs)}" +
                $"{(usedParams.Count > 0 ? $" and parameters {List(usedParams)}" : " and no parameters")}.");
    }

    static string List(IEnumerable<string> names) => names.Any() ? string.Join(", ", names.Order()) : "none";
}

public sealed class UnknownLossException(string name)
    : KeyNotFoundException($"unknown loss '{name}' (known: {string.Join(", ", LossRegistry.Names.Order())})")
{
    public string LossName { get; } = name;
}
