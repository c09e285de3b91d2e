using System.Reflection;
using System.Text;
using Distill.Notebooks.Execution;

namespace Distill.Notebooks.Packages;

/// <summary>What a cell's <c>#r</c> lines add: metadata references for the compiler and the "Installed Packages" lines
/// the kernel shows.</summary>
public sealed record ResolvedReferences(IReadOnlyList<string> References, IReadOnlyList<string> Installed)
{
    /// <summary>Pins bound to a carried copy of another major version, for the terminal (the note in "Installed
    /// Packages" alone went unseen).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>
/// Turns one notebook's <c>#r "nuget: ..."</c> and <c>#r "path.dll"</c> lines into references, per session (notebook):
/// a package the host carries binds to its loaded copy; <c>Plotly.NET.Interactive</c> is satisfied by our chart formatter;
/// anything else is restored (all of the session's restored packages together, so versions agree) and loaded.
/// </summary>
public sealed class PackageResolver(CarriedPackages carried, NuGetRestorer restorer)
{
    /// <summary>Package whose only job in a notebook is the chart formatter, which the runner supplies itself.</summary>
    public const string PlotlyInteractive = "Plotly.NET.Interactive";

    readonly Dictionary<string, PackageRequest> restored = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>The version each restored package resolved to (a versionless request's too): what a later cell's
    /// versionless #r of it gets.</summary>
    readonly Dictionary<string, string> loadedVersions = new(StringComparer.OrdinalIgnoreCase);
    readonly List<string> sources = [];
    /// <summary>Every package an earlier #r of this session added, directly or as a dependency (a carried package's
    /// dependencies at the versions its nuspecs ask for, a restore's packages as resolved), at the version added: as in
    /// the kernel, a later #r of another version of one of them is refused rather than quietly bound to what is loaded.</summary>
    readonly Dictionary<string, string> added = new(StringComparer.OrdinalIgnoreCase);

    public ResolvedReferences ResolvePackages(IReadOnlyList<PackageRequest> requests, IReadOnlyList<string> newSources, CancellationToken ct)
    {
        foreach (var s in newSources) if (!sources.Contains(s)) sources.Add(s);
        var refs = new List<string>();
        var installed = new List<string>();
        var warnings = new List<string>();
        var toRestore = new List<PackageRequest>();
        // What this cell adds; its own #r lines are restored together, as in the kernel, so within the cell only another
        // line's version of the same package conflicts (a pin beside a package that depends on it wins, as in NuGet).
        var addedHere = new List<(string Name, string Version, bool Direct)>();
        foreach (var r in requests)
        {
            var bound = string.Equals(r.Name, PlotlyInteractive, StringComparison.OrdinalIgnoreCase) ? null : carried.Find(r.Name);
            if (!AnyVersion(r.Version))
                foreach (var name in bound is null ? [r.Name] : new[] { r.Name, bound.Name })
                    if ((added.TryGetValue(name, out var v) ? v : addedHere.FirstOrDefault(a => a.Direct && string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase)).Version) is { } earlierVersion
                        && !SameAsAdded(r.Version!, earlierVersion))
                        // The kernel's words (Microsoft.DotNet.Interactive's PackageRestoreContext).
                        throw new PackageRestoreException(
                            $"{r.Name} version {r.Version} cannot be added because version {earlierVersion} was added previously.");
            if (string.Equals(r.Name, PlotlyInteractive, StringComparison.OrdinalIgnoreCase))
            {
                var plotly = carried.Find("Plotly.NET");
                if (plotly is not null) refs.AddRange(plotly.Assemblies);
                installed.Add($"{r} (chart formatter supplied by distill run" + (plotly is null ? ")" : $"; Plotly.NET {plotly.Version})"));
            }
            else if (bound is { } c)
            {
                bool sameName = string.Equals(r.Name, c.Name, StringComparison.OrdinalIgnoreCase);
                bool sameVersion = r.IsFloating || CompareVersions(r.Version!, c.Version) == 0;
                // A lower version binds to the loaded one (as .NET binds assemblies); a newer one cannot be had in this
                // process, and running on the older copy would be silently different.
                if (!sameVersion && CompareVersions(r.Version!, c.Version) > 0)
                    throw new PackageRestoreException(
                        $"#r \"nuget: {r.Name}, {r.Version}\": {c.Name} {c.Version} is already loaded (distill run carries it), and a second version " +
                        $"cannot be loaded into the same process. Pin {c.Version} in the notebook, or rebuild distill with {r.Name} {r.Version} in Directory.Packages.props");
                refs.AddRange(c.Assemblies);
                var note = sameName && sameVersion ? "" : $" (the runner's copy; the notebook asked for {r})";
                if (!sameVersion && Major(r.Version!) is int asked && Major(c.Version) is int carriedMajor && asked != carriedMajor)
                    warnings.Add($"#r \"nuget: {r.Name}, {r.Version}\" binds to the runner's own {c.Name} {c.Version}, another major version: what the notebook " +
                                 $"does with it may differ from the kernel, which restores {r.Version}; pin {c.Version}, or check the notebook in the kernel");
                installed.Add($"{c.Name}, {c.Version}{note}");
                // What the session now holds is what the kernel's restore of the request would have added: the package at
                // the version asked for (a first pin of an older version counts as that version) and its dependencies at
                // the versions its nuspecs ask for, not the runner's own (Directory.Packages.props raises some of them).
                var version = sameVersion ? c.Version : r.Version!;
                addedHere.Add((r.Name, version, true));
                if (sameVersion && !sameName) addedHere.Add((c.Name, c.Version, true));
                addedHere.AddRange(carried.AddedByRestoreOf(r.Name, version).Skip(1).Select(d => (d.Name, d.Version, false)));
            }
            else if (loadedVersions.TryGetValue(r.Name, out var loaded) && (AnyVersion(r.Version) || SameAsAdded(r.Version!, loaded)))
            {
                // As the kernel: a package loaded by an earlier cell satisfies a request for no version in particular (none,
                // * or *-*), or for the version it resolved to as written ([2.14.1] then 2.14.1); its assemblies are
                // referenced already, and nothing is restored again.
                installed.Add($"{r.Name}, {loaded}");
            }
            else
            {
                var inCell = toRestore.FirstOrDefault(t => string.Equals(t.Name, r.Name, StringComparison.OrdinalIgnoreCase));
                if ((inCell ?? restored.GetValueOrDefault(r.Name)) is { } earlier
                    && (earlier.IsFloating || r.IsFloating ? earlier.Version != r.Version : CompareVersions(earlier.Version!, r.Version!) != 0))
                    throw new PackageRestoreException(
                        $"{earlier} is already {(inCell is null ? "loaded in this notebook" : "asked for in this cell")}; a second version ({r.Version ?? "latest"}) cannot be loaded. Use one version in every #r line");
                if (inCell is null) toRestore.Add(r);
            }
        }
        if (toRestore.Count > 0)
        {
            // The session's packages are restored together so their versions agree; a package counts as loaded only once
            // its restore succeeded, so a failed #r line does not fail every later one.
            var result = restorer.Restore([.. restored.Values.Where(p => !toRestore.Any(t => string.Equals(t.Name, p.Name, StringComparison.OrdinalIgnoreCase))), .. toRestore], sources, ct);
            foreach (var r in toRestore) restored[r.Name] = r;
            AssemblyRegistry.AddFolder(result.Folder);
            foreach (var asm in result.Assemblies)
            {
                if (AssemblyRegistry.Add(asm) is { } conflict) throw new PackageRestoreException(conflict);
                refs.Add(asm);
            }
            // A dependency distill carries is not copied (the host's copy wins), but it is referenced all the same, as the
            // kernel references a package's whole closure: TorchVision's TorchSharp, Microsoft.ML's DataView.
            foreach (var (name, _) in result.Packages)
                if (carried.Find(name) is { } dependency) refs.AddRange(dependency.Assemblies.Where(a => !refs.Contains(a)));
            addedHere.AddRange(result.Packages.Select(p => (p.Name, p.Version, toRestore.Any(t => string.Equals(t.Name, p.Name, StringComparison.OrdinalIgnoreCase)))));
            foreach (var r in toRestore)
            {
                var v = result.Packages.FirstOrDefault(p => string.Equals(p.Name, r.Name, StringComparison.OrdinalIgnoreCase)).Version ?? r.Version;
                if (v is not null) loadedVersions[r.Name] = v;
                installed.Add($"{r.Name}, {v}");
            }
        }
        // A package this cell asked for directly counts at its own version before one a dependency brought.
        foreach (var (name, version, _) in addedHere.OrderBy(a => !a.Direct)) added.TryAdd(name, version);
        return new ResolvedReferences(refs.Distinct().ToList(), installed) { Warnings = warnings };
    }

    /// <summary><c>#r "path.dll"</c>: an assembly the host already carries (e.g. the notebook's <c>#r</c> of the built
    /// Distill.dll) binds to the loaded copy; any other is registered for loading from its folder.</summary>
    public IReadOnlyList<string> ResolveAssemblyPath(string path)
    {
        AssemblyName name;
        try { name = AssemblyName.GetAssemblyName(path); }
        catch (BadImageFormatException)
        {
            throw new PackageRestoreException($"#r \"{path}\": not a .NET assembly; reference a managed .dll");
        }
        if (carried.TrustedAssemblies.TryGetValue(name.Name!, out var hostCopy)) return [hostCopy];
        if (AssemblyRegistry.Add(path) is { } conflict) throw new PackageRestoreException(conflict);
        AssemblyRegistry.AddFolder(Path.GetDirectoryName(path)!);
        return [path];
    }

    /// <summary>A request any loaded version satisfies, as the kernel's PackageRestoreContext reads it.</summary>
    static bool AnyVersion(string? version) => string.IsNullOrWhiteSpace(version) || version.Trim() is "*" or "*-*";

    /// <summary>Whether a request for <paramref name="requested"/> is the version <paramref name="added"/> that is loaded,
    /// as the kernel decides it: the request as written against the resolved version in NuGet's normalized spelling,
    /// ignoring case, so 2.14.1.0 after 2.14.1 is refused there (and was taken here) and 2.14.1 after [2.14.1] is taken
    /// (and was refused here).</summary>
    static bool SameAsAdded(string requested, string added) => string.Equals(requested.Trim(), Normalized(added.Trim()), StringComparison.OrdinalIgnoreCase);

    /// <summary>NuGet's normalized spelling of a plain version (1.2 → 1.2.0, 1.2.3.0 → 1.2.3, build metadata dropped), as
    /// a restore reports what it resolved; anything else (a range) as it is.</summary>
    static string Normalized(string version)
    {
        var noMetadata = version.Split('+')[0];
        var dash = noMetadata.IndexOf('-', StringComparison.Ordinal);
        var (core, label) = dash < 0 ? (noMetadata, "") : (noMetadata[..dash], noMetadata[dash..]);
        var parts = core.Split('.');
        if (parts.Length is < 1 or > 4 || !parts.All(p => p.Length > 0 && p.All(char.IsAsciiDigit))) return version;
        var numbers = parts.Select(p => p.TrimStart('0') is { Length: > 0 } n ? n : "0").Concat(Enumerable.Repeat("0", 3)).Take(Math.Max(3, parts.Length)).ToList();
        if (numbers.Count == 4 && numbers[3] == "0") numbers.RemoveAt(3);
        return string.Join('.', numbers) + label;
    }

    /// <summary>NuGet order for the versions notebooks pin: numeric parts first, then a release above its prereleases, and
    /// prereleases by their labels (case ignored).</summary>
    public static int CompareVersions(string a, string b)
    {
        static (Version, string) Split(string v)
        {
            v = v.Split('+')[0]; // build metadata does not order
            var dash = v.IndexOf('-', StringComparison.Ordinal);
            var core = dash < 0 ? v : v[..dash];
            // Missing parts count as 0, as in NuGet (0.107 is 0.107.0).
            var n = Version.TryParse(core.Contains('.', StringComparison.Ordinal) ? core : core + ".0", out var parsed) ? parsed : new Version(0, 0);
            return (new Version(n.Major, n.Minor, Math.Max(n.Build, 0), Math.Max(n.Revision, 0)), dash < 0 ? "" : v[(dash + 1)..]);
        }
        var (na, pa) = Split(a);
        var (nb, pb) = Split(b);
        var c = na.CompareTo(nb);
        if (c != 0) return c;
        if (pa.Length == 0 || pb.Length == 0) return (pa.Length == 0 ? 1 : 0) - (pb.Length == 0 ? 1 : 0);
        // As NuGet (SemVer 2): label by label, numbers as numbers and below words, words ignoring case (1.0.0-Beta is
        // 1.0.0-beta), and a label that runs out first is the lower.
        var la = pa.Split('.');
        var lb = pb.Split('.');
        for (int i = 0; i < Math.Min(la.Length, lb.Length); i++)
        {
            bool numA = ulong.TryParse(la[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var xa),
                numB = ulong.TryParse(lb[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var xb);
            var d = numA && numB ? xa.CompareTo(xb) : numA ? -1 : numB ? 1 : string.Compare(la[i], lb[i], StringComparison.OrdinalIgnoreCase);
            if (d != 0) return Math.Sign(d);
        }
        return la.Length.CompareTo(lb.Length);
    }

    /// <summary>A version's first number (16 of 16.0.0, of [16.0,17.0)); null when it starts with none (a range "(,2.0]").</summary>
    static int? Major(string version) =>
        int.TryParse(new string([.. version.TrimStart('[', '(', ' ').TakeWhile(char.IsAsciiDigit)]), System.Globalization.NumberStyles.None,
                     System.Globalization.CultureInfo.InvariantCulture, out var major) ? major : null;

    /// <summary>What a cell's <c>#i</c> and <c>#r "nuget:"</c> lines show, as the .NET kernel shows it (text/html, checked
    /// with nbconvert on the .net-csharp kernel): every restore source the notebook has added so far, in the kernel's order (see KernelOrder), as
    /// written after "nuget:", then the packages this cell installed, sorted too, each a bold title over a list, in three sections
    /// (the middle one always empty there). A notebook then shows the same output types in both engines.</summary>
    public static string RestoreHtml(IReadOnlyCollection<string> sources, IReadOnlyList<string> installed) =>
        $"<div>{HtmlSection("Restore sources", sources.Order(KernelOrder))}<div></div>{HtmlSection("Installed Packages", installed.Order(KernelOrder))}</div>";

    /// <summary>The order the kernel lists sources and packages in: the culture's (feed_a, Feed_Y, feed-d, feed.e,
    /// feed1, feedB, FEEDC), not ordinal, which put every capital first.</summary>
    static readonly StringComparer KernelOrder = StringComparer.InvariantCulture;

    static string HtmlSection(string title, IEnumerable<string> items) => items.Any()
        ? $"<div><strong>{title}</strong><ul>" + string.Concat(items.Select(i => $"<li><span>{System.Net.WebUtility.HtmlEncode(i)}</span></li>")) + "</ul></div>"
        : "<div></div>";

    /// <summary><see cref="RestoreHtml"/> as text (VS Code keeps it beside the HTML): the sections that list anything.</summary>
    public static string RestoreText(IReadOnlyCollection<string> sources, IReadOnlyList<string> installed)
    {
        var sb = new StringBuilder();
        foreach (var (title, items) in new[] { ("Restore sources", sources.Order(KernelOrder)), ("Installed Packages", installed.Order(KernelOrder)) })
        {
            if (!items.Any()) continue;
            sb.Append(title).Append('\n');
            foreach (var i in items) sb.Append("  • ").Append(i).Append('\n');
        }
        return sb.ToString();
    }
}
