using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>
/// What every model returns: its logits and its named intermediate features (stage/group outputs, in order), so
/// FitNets hints and attention transfer need no hooks (TorchSharp hooks fire only through <c>call()</c>).
/// </summary>
public sealed record ModelOutput(Tensor Logits, IReadOnlyList<(string Name, Tensor Value)> Features)
{
    public Tensor Feature(string name) =>
        Features.FirstOrDefault(f => f.Name == name).Value
        ?? throw new KeyNotFoundException($"No feature '{name}'; this model has: {string.Join(", ", Features.Select(f => f.Name))}.");
}

/// <summary>Base of every model in the library. Input: normalised float images [B, C, H, W].</summary>
public abstract class DistillModel(string name) : nn.Module<Tensor, ModelOutput>(name)
{
    /// <summary>Names of the features <see cref="ModelOutput.Features"/> holds, in order.</summary>
    public abstract IReadOnlyList<string> FeatureNames { get; }

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The name <see cref="ModelZoo.Create"/> built this model from (lower case), so a run can record it and a
    /// checkpoint can be rebuilt later (export); null for a model built another way.</summary>
    public string? ZooName { get; internal set; }
}
