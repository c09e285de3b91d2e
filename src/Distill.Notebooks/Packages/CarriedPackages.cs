using System.Text.Json.Nodes;

namespace Distill.Notebooks.Packages;

/// <summary>A package (or project) the host process already carries: its version and the full paths of its runtime
/// assemblies and of its dependencies' (what a script must reference to use it).</summary>
public sealed record CarriedPackage(string Name, string Version, IReadOnlyList<string> Assemblies)
{
    /// <summary>The package and every package it depends on, transitively, at the versions the host carries.</summary>
    public IReadOnlyList<(string Name, string Version)> Closure { get; init; } = [];
}

/// <summary>
/// What the running process already has, read from its <c>.deps.json</c> (TorchSharp, Plotly.NET, Microsoft.Data.Analysis,
/// Distill, ...). A notebook's <c>#r "nuget: X"</c> for one of these binds to the loaded copy instead of restoring a
/// second one: the default load context can hold only one assembly per name, and two copies of TorchSharp would not share
/// types or native state.
/// </summary>
public sealed class CarriedPackages
{
    readonly Dictionary<string, (string Name, string Version, string[] Files, string[] Deps)> libraries = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Simple assembly name → path, for every assembly the default load context resolves by itself.</summary>
    public IReadOnlyDictionary<string, string> TrustedAssemblies { get; }

    CarriedPackages(IEnumerable<string> depsFiles)
    {
        var tpa = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in tpa) map.TryAdd(Path.GetFileNameWithoutExtension(p), p);
        TrustedAssemblies = map;
        foreach (var file in depsFiles.Where(File.Exists)) Read(file);
    }

    static readonly Lazy<CarriedPackages> HostInstance = new(() => new CarriedPackages(
        (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries)));

    /// <summary>The packages of the process this code runs in.</summary>
    public static CarriedPackages Host => HostInstance.Value;

    void Read(string depsFile)
    {
        var root = JsonNode.Parse(File.ReadAllText(depsFile));
        if (root?["targets"] is not JsonObject targets) return;
        foreach (var (_, target) in targets)
        {
            if (target is not JsonObject libs) continue;
            foreach (var (key, lib) in libs)
            {
                var slash = key.IndexOf('/', StringComparison.Ordinal);
                if (slash <= 0 || lib is null) continue;
                var name = key[..slash];
                var files = (lib["runtime"] as JsonObject)?.Select(kv => Path.GetFileNameWithoutExtension(kv.Key)).ToArray() ?? [];
                var deps = (lib["dependencies"] as JsonObject)?.Select(kv => kv.Key).ToArray() ?? [];
                libraries.TryAdd(name, (name, key[(slash + 1)..], files, deps));
            }
        }
    }

    /// <summary>The carried package named <paramref name="name"/>. A TorchSharp backend request (TorchSharp-cpu,
    /// TorchSharp-cuda-linux, libtorch-*) binds to whichever backend the host carries.</summary>
    public CarriedPackage? Find(string name)
    {
        // A libtorch-* request binds to the carried libtorch (its version is libtorch's, e.g. 2.10.0, not TorchSharp's
        // 0.107.0, so the two are compared like for like); a TorchSharp-* one to the carried TorchSharp backend.
        if (!libraries.ContainsKey(name) && IsTorchBackend(name))
            name = (name.StartsWith("libtorch-", StringComparison.OrdinalIgnoreCase)
                       ? libraries.Keys.Where(k => k.StartsWith("libtorch-", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal)
                           .FirstOrDefault(k => k.EndsWith(RuntimeSuffix, StringComparison.OrdinalIgnoreCase))
                       : null)
                   ?? libraries.Keys.FirstOrDefault(k => k.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase)) ?? name;
        if (!libraries.TryGetValue(name, out var lib)) return null;
        var paths = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var closure = new List<(string, string)>();
        void Walk(string n)
        {
            if (!seen.Add(n) || !libraries.TryGetValue(n, out var l)) return;
            closure.Add((l.Name, l.Version));
            foreach (var f in l.Files)
                if (TrustedAssemblies.TryGetValue(f, out var p) && !paths.Contains(p)) paths.Add(p);
            foreach (var d in l.Deps) Walk(d);
        }
        Walk(name);
        return new CarriedPackage(lib.Name, lib.Version, paths) { Closure = closure };
    }

    /// <summary>This host's native package suffix (libtorch-cpu-linux-x64 on Linux x64).</summary>
    static string RuntimeSuffix => (OperatingSystem.IsLinux() ? "-linux-" : OperatingSystem.IsMacOS() ? "-osx-" : "-win-")
        + System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    public static bool IsTorchBackend(string name) =>
        name.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("libtorch-", StringComparison.OrdinalIgnoreCase);
}
