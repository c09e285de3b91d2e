using System.Diagnostics;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Distill.Native;
using Distill.Notebooks.Execution;

namespace Distill.Notebooks.Packages;

/// <summary>What a restore produced: the packages NuGet resolved (requested + transitive) and a private folder holding
/// their runtime assemblies and native libraries, laid out flat like a RID-specific build output.</summary>
public sealed record RestoredPackages(IReadOnlyList<(string Name, string Version)> Packages, string Folder, IReadOnlyList<string> Assemblies);

/// <summary>
/// Restores <c>#r "nuget: ..."</c> packages the way the Polyglot kernel does: a throw-away project (net10.0, linux-x64)
/// restored by <c>dotnet restore</c>, runtime assets only (never ref/). Results are cached under
/// <see cref="CacheRoot"/> by a hash of (TFM, RID, packages, sources), except when a version floats.
/// Restored files are copied out of the NuGet cache into the private folder and the TorchSharp native fix is applied
/// there (the NuGet cache itself is never patched).
/// </summary>
public sealed class NuGetRestorer(string cacheRoot, CarriedPackages carried)
{
    const string Tfm = "net10.0";
    public string CacheRoot { get; } = cacheRoot;
    public static string Rid => System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier switch
    {
        var r when r.StartsWith("linux-", StringComparison.Ordinal) || r.StartsWith("win-", StringComparison.Ordinal) || r.StartsWith("osx-", StringComparison.Ordinal) => r,
        _ => "linux-x64",
    };

    /// <summary>$DISTILL_NUGET_CACHE, else $XDG_CACHE_HOME/distill/nuget, else ~/.cache/distill/nuget.</summary>
    public static string DefaultCacheRoot()
    {
        if (Environment.GetEnvironmentVariable("DISTILL_NUGET_CACHE") is { Length: > 0 } env) return env;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = xdg is { Length: > 0 } ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "distill", "nuget");
    }

    public RestoredPackages Restore(IReadOnlyList<PackageRequest> packages, IReadOnlyList<string> sources, CancellationToken ct)
    {
        var ordered = packages.OrderBy(p => p.Name, StringComparer.OrdinalIgnoreCase).ToList();
        var key = Hash($"{Tfm}|{Rid}|{string.Join(";", ordered.Select(p => $"{p.Name.ToLowerInvariant()}/{p.Version}"))}|{string.Join(";", sources)}");
        var dir = Path.Combine(CacheRoot, key);
        var resolvedFile = Path.Combine(dir, "resolved.json");
        bool floating = ordered.Any(p => p.IsFloating);
        if (!floating && File.Exists(resolvedFile)) return ReadResolved(resolvedFile, dir);

        Directory.CreateDirectory(dir);
        using var lockFile = AcquireLock(Path.Combine(dir, ".lock"), ct);
        if (!floating && File.Exists(resolvedFile)) return ReadResolved(resolvedFile, dir);
        var project = Path.Combine(dir, "restore");
        Directory.CreateDirectory(project);
        WriteProject(project, ordered, sources);
        RunRestore(project, ordered, ct);
        var result = CopyAssets(Path.Combine(project, "obj", "project.assets.json"), Path.Combine(dir, "lib"));
        File.WriteAllText(resolvedFile, new JsonObject
        {
            ["packages"] = new JsonArray(result.Packages.Select(p => (JsonNode)new JsonObject { ["name"] = p.Name, ["version"] = p.Version }).ToArray()),
            ["assemblies"] = new JsonArray(result.Assemblies.Select(a => (JsonNode?)JsonValue.Create(Path.GetFileName(a))).ToArray()),
        }.ToJsonString());
        return result;
    }

    static string Hash(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..16];

    static FileStream AcquireLock(string path, CancellationToken ct)
    {
        // Another distill process may be restoring the same set: wait for it rather than corrupt its folder.
        for (int attempt = 0; ; attempt++)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (attempt < 1200) { ct.WaitHandle.WaitOne(500); ct.ThrowIfCancellationRequested(); }
        }
    }

    static void WriteProject(string dir, IReadOnlyList<PackageRequest> packages, IReadOnlyList<string> sources)
    {
        // Empty Directory.*.props/targets stop MSBuild from importing a parent folder's (central versions, analyzers).
        foreach (var f in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            File.WriteAllText(Path.Combine(dir, f), "<Project />\n");
        var refs = string.Join("\n", packages.Select(p =>
            $"    <PackageReference Include=\"{SecurityElement.Escape(p.Name)}\" Version=\"{SecurityElement.Escape(p.Version ?? "*")}\" />"));
        var extraSources = sources.Count == 0 ? "" :
            $"\n    <RestoreAdditionalProjectSources>{SecurityElement.Escape(string.Join(";", sources))}</RestoreAdditionalProjectSources>";
        File.WriteAllText(Path.Combine(dir, "Restore.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>{Tfm}</TargetFramework>
                <RuntimeIdentifier>{Rid}</RuntimeIdentifier>
                <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
                <DisableImplicitFrameworkReferences>false</DisableImplicitFrameworkReferences>{extraSources}
              </PropertyGroup>
              <ItemGroup>
            {refs}
              </ItemGroup>
            </Project>

            """);
    }

    static void RunRestore(string dir, IReadOnlyList<PackageRequest> packages, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(DotnetHost(), ["restore", "Restore.csproj", "--nologo", "-v", "q"])
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // A parent `dotnet test`/MSBuild leaves variables that point a child MSBuild at the wrong SDK pieces.
        foreach (var k in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList()) psi.Environment.Remove(k);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start `dotnet restore`");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        try { p.WaitForExitAsync(ct).GetAwaiter().GetResult(); }
        catch (OperationCanceledException) { try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } throw; }
        if (p.ExitCode != 0)
        {
            var messages = (stdout.Result + "\n" + stderr.Result).Split('\n')
                .Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)).Select(l => l.Trim())
                .Select(l => l.Contains(" : ", StringComparison.Ordinal) ? l[(l.IndexOf(" : ", StringComparison.Ordinal) + 3)..] : l)
                .Select(l => l.Split(" [", 2)[0]).Distinct().Take(5);
            throw new PackageRestoreException(
                $"restoring {string.Join("; ", packages)} failed: {string.Join(" | ", messages)}. " +
                "Check the package name and version, or add a source with #i \"nuget: <url>\"");
        }
    }

    static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h
        : Environment.ProcessPath is { } pp && Path.GetFileNameWithoutExtension(pp) == "dotnet" ? pp : "dotnet";

    RestoredPackages CopyAssets(string assetsFile, string lib)
    {
        var assets = JsonNode.Parse(File.ReadAllText(assetsFile))!;
        var folders = (assets["packageFolders"] as JsonObject)?.Select(kv => kv.Key).ToList() ?? [];
        var target = assets["targets"]?[$"{Tfm}/{Rid}"] as JsonObject
            ?? throw new InvalidDataException($"{assetsFile}: no target {Tfm}/{Rid}; delete {Path.GetDirectoryName(assetsFile)} and retry");
        if (Directory.Exists(lib)) Directory.Delete(lib, recursive: true);
        Directory.CreateDirectory(lib);
        var packages = new List<(string, string)>();
        var assemblies = new List<string>();
        foreach (var (key, node) in target)
        {
            if (node?["type"]?.GetValue<string>() != "package") continue;
            var name = key[..key.IndexOf('/', StringComparison.Ordinal)];
            packages.Add((name, key[(name.Length + 1)..]));
            // The host's copy wins; copying TorchSharp's 600 MB of natives again would also be wasteful.
            if (carried.Find(name) is not null) continue;
            var rel = assets["libraries"]?[key]?["path"]?.GetValue<string>() ?? key.ToLowerInvariant();
            var root = folders.Select(f => Path.Combine(f, rel)).FirstOrDefault(Directory.Exists);
            if (root is null) continue;
            foreach (var kind in new[] { "runtime", "native" })
            {
                if (node[kind] is not JsonObject files) continue;
                foreach (var (file, _) in files)
                {
                    if (Path.GetFileName(file) == "_._") continue;
                    var src = Path.Combine(root, file);
                    var dst = Path.Combine(lib, Path.GetFileName(file));
                    File.Copy(src, dst, overwrite: true);
                    if (kind == "runtime" && !carried.TrustedAssemblies.ContainsKey(Path.GetFileNameWithoutExtension(file))) assemblies.Add(dst);
                }
            }
        }
        LibTorchSharpFix.PatchFolder(lib);
        return new RestoredPackages(packages, lib, assemblies);
    }

    static RestoredPackages ReadResolved(string file, string dir)
    {
        var o = JsonNode.Parse(File.ReadAllText(file))!;
        var lib = Path.Combine(dir, "lib");
        var packages = o["packages"]!.AsArray().Select(p => (p!["name"]!.GetValue<string>(), p["version"]!.GetValue<string>())).ToList();
        var assemblies = o["assemblies"]!.AsArray().Select(a => Path.Combine(lib, a!.GetValue<string>())).ToList();
        if (assemblies.Any(a => !File.Exists(a)))
            throw new PackageRestoreException($"the package cache {dir} is incomplete; delete that folder and run again");
        return new RestoredPackages(packages, lib, assemblies);
    }
}

/// <summary>A <c>#r "nuget:"</c> that could not be restored or loaded; the message says what to change.</summary>
public sealed class PackageRestoreException(string message) : Exception(message);
