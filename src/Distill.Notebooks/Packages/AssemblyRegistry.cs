using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Distill.Notebooks.Packages;

/// <summary>
/// Makes restored packages and <c>#r</c>'d DLLs loadable in the default load context, where the host's own assemblies
/// live: one copy of each assembly per process, shared by every notebook cell. Roslyn's script loader asks the default
/// context first, so an assembly registered here is found by name when a submission first needs it. Dependencies
/// (managed and native) are looked up by name in the folders registered with <see cref="AddFolder"/>.
/// </summary>
public static class AssemblyRegistry
{
    static readonly Lock Gate = new();
    static readonly Dictionary<string, string> Paths = new(StringComparer.OrdinalIgnoreCase);
    static readonly List<string> Folders = [];
    static bool hooked;

    /// <summary>Registers <paramref name="path"/> under its simple name. Returns a message when an assembly of that name
    /// but another version is already loaded in this process (a second copy cannot be loaded), else null.</summary>
    public static string? Add(string path)
    {
        var name = AssemblyName.GetAssemblyName(path);
        if (Loaded(name.Name!) is { } loaded && loaded.GetName().Version != name.Version)
            return $"{name.Name} {loaded.GetName().Version} is already loaded (from {loaded.Location}); {path} is version {name.Version}, " +
                   "and a process can hold only one. Use the version already loaded, or run this notebook in its own `distill run`";
        lock (Gate)
        {
            Hook();
            Paths[name.Name!] = path;
        }
        return null;
    }

    /// <summary>Where dependencies of registered assemblies (managed or native) are looked for by name.</summary>
    public static void AddFolder(string folder)
    {
        lock (Gate)
        {
            Hook();
            if (!Folders.Contains(folder)) Folders.Add(folder);
        }
    }

    /// <summary>The loaded assembly with this simple name, if any (in any load context).</summary>
    public static Assembly? Loaded(string simpleName) =>
        AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => string.Equals(a.GetName().Name, simpleName, StringComparison.OrdinalIgnoreCase));

    static void Hook()
    {
        if (hooked) return;
        hooked = true;
        AssemblyLoadContext.Default.Resolving += (ctx, name) =>
        {
            string? path;
            string[] folders;
            lock (Gate)
            {
                Paths.TryGetValue(name.Name ?? "", out path);
                folders = [.. Folders];
            }
            path ??= folders.Select(f => Path.Combine(f, name.Name + ".dll")).FirstOrDefault(File.Exists);
            return path is null ? null : ctx.LoadFromAssemblyPath(path);
        };
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, lib) =>
        {
            string[] folders;
            lock (Gate) folders = [.. Folders];
            foreach (var folder in folders)
                foreach (var candidate in new[] { lib, $"lib{lib}.so", $"{lib}.so", $"lib{lib}.dylib", $"{lib}.dll" })
                {
                    var p = Path.Combine(folder, candidate);
                    if (File.Exists(p) && NativeLibrary.TryLoad(p, out var handle)) return handle;
                }
            return IntPtr.Zero;
        };
    }
}
