using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Distill.Notebooks.Packages;

/// <summary>A package (or project) the host process already carries: its version and the full paths of its runtime
/// assemblies and of its dependencies' (what a script must reference to use it).</summary>
public sealed record CarriedPackage(string Name, string Version, IReadOnlyList<string> Assemblies);

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
        void Walk(string n)
        {
            if (!seen.Add(n) || !libraries.TryGetValue(n, out var l)) return;
            foreach (var f in l.Files)
                if (TrustedAssemblies.TryGetValue(f, out var p) && !paths.Contains(p)) paths.Add(p);
            foreach (var d in l.Deps) Walk(d);
        }
        Walk(name);
        return new CarriedPackage(lib.Name, lib.Version, paths);
    }

    /// <summary>
    /// What a restore of <paramref name="id"/> <paramref name="version"/> alone would add of the packages the host
    /// carries: the package itself and, read from the nuspecs in the NuGet cache, each carried dependency at the lowest
    /// version its parents ask for (the highest of those when several do), as NuGet resolves them. The host's own
    /// versions can be higher (Directory.Packages.props pins transitive packages), so they are never used here: a
    /// dependency whose parent's nuspec is not in the cache is left out rather than guessed.
    /// </summary>
    public IReadOnlyList<(string Name, string Version)> AddedByRestoreOf(string id, string version, string? packagesFolder = null)
    {
        packagesFolder ??= Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var versions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { [id] = version };
        var names = new List<string> { id };
        var pending = new Queue<string>([id]);
        while (pending.TryDequeue(out var parent))
            foreach (var (dep, min) in NuspecDependencies(packagesFolder, parent, versions[parent]))
            {
                // Only packages the host carries: others (framework-provided ones NuGet prunes, say) are no business of
                // the runner's, whose restores report their own.
                if (string.Equals(dep, id, StringComparison.OrdinalIgnoreCase) || !libraries.ContainsKey(dep)) continue;
                if (!versions.TryGetValue(dep, out var known)) names.Add(dep);
                else if (PackageResolver.CompareVersions(min, known) <= 0) continue;
                versions[dep] = min;
                pending.Enqueue(dep);
            }
        return [.. names.Select(n => (n, versions[n]))];
    }

    /// <summary>The dependencies (id, lowest version asked for) of the nuspec's group nearest net10.0; none when the
    /// package is not in the cache.</summary>
    static IEnumerable<(string Id, string Version)> NuspecDependencies(string packagesFolder, string id, string version)
    {
        var folder = Path.Combine(packagesFolder, id.ToLowerInvariant());
        var nuspec = new[] { NormalizeVersion(version), version.ToLowerInvariant() }
            .Select(v => Path.Combine(folder, v, id.ToLowerInvariant() + ".nuspec")).FirstOrDefault(File.Exists);
        if (nuspec is null) return [];
        XElement? deps;
        try { deps = XDocument.Load(nuspec).Descendants().FirstOrDefault(e => e.Name.LocalName == "dependencies"); }
        catch (System.Xml.XmlException) { return []; }
        if (deps is null) return [];
        var groups = deps.Elements().Where(e => e.Name.LocalName == "group").ToList();
        var chosen = groups.Count == 0 ? deps
            : groups.Select(g => (Group: g, Rank: FrameworkRank((string?)g.Attribute("targetFramework"))))
                .Where(g => g.Rank >= 0).OrderByDescending(g => g.Rank).Select(g => g.Group).FirstOrDefault();
        if (chosen is null) return [];
        return chosen.Elements().Where(e => e.Name.LocalName == "dependency")
            .Select(e => ((string?)e.Attribute("id") ?? "", MinVersion((string?)e.Attribute("version") ?? "")))
            .Where(d => d.Item1.Length > 0 && d.Item2.Length > 0).ToList();
    }

    /// <summary>How near a nuspec group's framework is to net10.0 (higher is nearer; -1: not usable there).</summary>
    static int FrameworkRank(string? tfm)
    {
        if (string.IsNullOrEmpty(tfm)) return 0;
        var t = tfm.ToLowerInvariant();
        if (t.Contains('-', StringComparison.Ordinal)) return -1;
        if ((t.StartsWith(".netstandard", StringComparison.Ordinal) || t.StartsWith("netstandard", StringComparison.Ordinal))
            && Version.TryParse(t[(t.IndexOf("standard", StringComparison.Ordinal) + 8)..], out var s) && s <= new Version(2, 1))
            return 1 + s.Minor;
        var core = t.StartsWith(".netcoreapp", StringComparison.Ordinal) ? t[11..] : t.StartsWith("netcoreapp", StringComparison.Ordinal) ? t[10..]
            : t.StartsWith("net", StringComparison.Ordinal) && t.Contains('.', StringComparison.Ordinal) ? t[3..] : null;
        return core is not null && Version.TryParse(core, out var n) && n.Major <= 10 ? 100 + n.Major * 10 + n.Minor : -1;
    }

    /// <summary>The lowest version of a NuGet version range ("1.4.0", "[1.4.0]", "[1.0, 2.0)"); empty when none.</summary>
    static string MinVersion(string range)
    {
        var r = range.Trim();
        if (r.StartsWith('[') || r.StartsWith('(')) r = r[1..].TrimEnd(']', ')').Split(',')[0];
        return r.Trim();
    }

    /// <summary>A version as the NuGet cache names its folder: lower case, at least three parts, a zero fourth dropped.</summary>
    static string NormalizeVersion(string v)
    {
        var dash = v.IndexOf('-', StringComparison.Ordinal);
        var core = (dash < 0 ? v : v[..dash]).Split('+')[0];
        var parts = core.Split('.').ToList();
        while (parts.Count < 3) parts.Add("0");
        if (parts.Count == 4 && parts[3] == "0") parts.RemoveAt(3);
        return (string.Join('.', parts.Select(p => int.TryParse(p, out var i) ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : p))
            + (dash < 0 ? "" : v[dash..].Split('+')[0])).ToLowerInvariant();
    }

    /// <summary>This host's native package suffix (libtorch-cpu-linux-x64 on Linux x64).</summary>
    static string RuntimeSuffix => (OperatingSystem.IsLinux() ? "-linux-" : OperatingSystem.IsMacOS() ? "-osx-" : "-win-")
        + System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    public static bool IsTorchBackend(string name) =>
        name.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("libtorch-", StringComparison.OrdinalIgnoreCase);
}
