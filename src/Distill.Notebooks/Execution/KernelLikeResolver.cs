using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Distill.Notebooks.Execution;

/// <summary>
/// Which assemblies a cell may use without referencing them, as in the .NET kernel. Roslyn's script resolver finds an
/// assembly that a referenced one needs ("missing" assemblies) among the host's own, and makes it usable in cells. The
/// kernel's host is the dotnet-interactive tool, so there that means the framework and the tool's own assemblies; here
/// the host is distill, with TorchSharp, Microsoft.Data.Analysis, YamlDotNet and Plotly.NET beside it, and a notebook
/// with no <c>#r</c> for them ran here and failed in the kernel (CS0246, or TorchSharp not loading). So a missing
/// assembly resolves only when the kernel would find it too: from the framework, from the tool's own folder (the list
/// below, read off Microsoft.dotnet-interactive 1.0.712001, the last release), or next to a DLL a cell referenced by path.
/// </summary>
sealed class KernelLikeResolver(MetadataReferenceResolver inner, Func<string, bool> besideReferencedDll) : MetadataReferenceResolver
{
    readonly MetadataReferenceResolver inner = inner;
    readonly Func<string, bool> besideReferencedDll = besideReferencedDll;

    static readonly string FrameworkFolder = Path.GetDirectoryName(typeof(object).Assembly.Location)!;

    /// <summary>The assemblies in the folder of the dotnet-interactive tool 1.0.712001 (tools/net10.0/any).</summary>
    static readonly HashSet<string> KernelOwn = new(StringComparer.OrdinalIgnoreCase)
    {
        "AsyncIO", "FSharp.Compiler.Service", "FSharp.Core", "FSharp.DependencyManager.Nuget", "Humanizer", "Json.More",
        "JsonPointer.Net", "JsonSchema.Net", "Markdig.Signed", "Microsoft.AI.DependencyCollector",
        "Microsoft.AI.EventCounterCollector", "Microsoft.AI.PerfCounterCollector",
        "Microsoft.AI.ServerTelemetryChannel", "Microsoft.AI.WindowsServer", "Microsoft.ApplicationInsights.AspNetCore",
        "Microsoft.ApplicationInsights", "Microsoft.AspNetCore.Http.Connections.Client",
        "Microsoft.AspNetCore.SignalR.Client.Core", "Microsoft.AspNetCore.SignalR.Client",
        "Microsoft.Bcl.AsyncInterfaces", "Microsoft.Bcl.HashCode", "Microsoft.CodeAnalysis.CSharp.Features",
        "Microsoft.CodeAnalysis.CSharp.Scripting", "Microsoft.CodeAnalysis.CSharp.Workspaces",
        "Microsoft.CodeAnalysis.CSharp", "Microsoft.CodeAnalysis.Elfie", "Microsoft.CodeAnalysis.Features",
        "Microsoft.CodeAnalysis.Scripting", "Microsoft.CodeAnalysis.VisualBasic.Workspaces",
        "Microsoft.CodeAnalysis.VisualBasic", "Microsoft.CodeAnalysis.Workspaces", "Microsoft.CodeAnalysis",
        "Microsoft.DiaSymReader", "Microsoft.DotNet.Interactive.App", "Microsoft.DotNet.Interactive.CSharp",
        "Microsoft.DotNet.Interactive.Documents", "Microsoft.DotNet.Interactive.FSharp",
        "Microsoft.DotNet.Interactive.Formatting", "Microsoft.DotNet.Interactive.Http",
        "Microsoft.DotNet.Interactive.Jupyter", "Microsoft.DotNet.Interactive.Mermaid",
        "Microsoft.DotNet.Interactive.PackageManagement", "Microsoft.DotNet.Interactive.PowerShell",
        "Microsoft.DotNet.Interactive.Telemetry", "Microsoft.DotNet.Interactive.VSCode", "Microsoft.DotNet.Interactive",
        "Microsoft.DotNet.PlatformAbstractions", "Microsoft.Extensions.Logging.ApplicationInsights",
        "Microsoft.PowerShell.MarkdownRender", "Microsoft.Win32.Registry.AccessControl", "Microsoft.Win32.SystemEvents",
        "NaCl", "NetMQ", "Newtonsoft.Json", "Serilog.Sinks.RollingFileAlternate", "Serilog", "System.CodeDom",
        "System.CommandLine", "System.ComponentModel.Composition.Registration", "System.ComponentModel.Composition",
        "System.Composition.AttributedModel", "System.Composition.Convention", "System.Composition.Hosting",
        "System.Composition.Runtime", "System.Composition.TypedParts", "System.Configuration.ConfigurationManager",
        "System.Data.Odbc", "System.Data.OleDb", "System.Data.SqlClient", "System.Diagnostics.PerformanceCounter",
        "System.DirectoryServices.AccountManagement", "System.DirectoryServices.Protocols", "System.DirectoryServices",
        "System.Drawing.Common", "System.IO.Packaging", "System.IO.Ports", "System.Management",
        "System.Net.Http.WinHttpHandler", "System.Private.ServiceModel", "System.Private.Windows.Core",
        "System.Private.Windows.GdiPlus", "System.Reactive", "System.Reflection.Context", "System.Runtime.Caching",
        "System.Security.Cryptography.ProtectedData", "System.Security.Permissions", "System.ServiceModel.Duplex",
        "System.ServiceModel.Http", "System.ServiceModel.NetTcp", "System.ServiceModel.Primitives",
        "System.ServiceModel.Security", "System.ServiceModel.Syndication", "System.ServiceModel",
        "System.ServiceProcess.ServiceController", "System.Speech", "System.Web.Services.Description",
        "System.Windows.Extensions",
    };

    /// <summary>What the kernel's cells use without a #r beyond the framework and the display API: Newtonsoft.Json (seen
    /// working there in a cell with no #r at all), from this process's own copy when it has one.</summary>
    public static IEnumerable<MetadataReference> ReferencedByTheKernel() =>
        ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string)?.Split(Path.PathSeparator) ?? [])
        .Where(p => string.Equals(Path.GetFileName(p), "Newtonsoft.Json.dll", StringComparison.OrdinalIgnoreCase))
        .Take(1).Select(p => MetadataReference.CreateFromFile(p));

    /// <summary>Whether the kernel finds assembly <paramref name="name"/> with no #r: in the framework or in its own folder.</summary>
    public static bool KernelHas(string name) =>
        KernelOwn.Contains(name) || File.Exists(Path.Combine(FrameworkFolder, name + ".dll")) || File.Exists(Path.Combine(AspNetFolder, name + ".dll"));

    /// <summary>The tool runs on ASP.NET Core's shared framework too (its runtimeconfig names both): the folder of the same
    /// version beside this process's framework.</summary>
    static readonly string AspNetFolder = Path.Combine(FrameworkFolder, "..", "..", "Microsoft.AspNetCore.App", Path.GetFileName(FrameworkFolder));

    public override bool ResolveMissingAssemblies => true;

    public override ImmutableArray<PortableExecutableReference> ResolveReference(string reference, string? baseFilePath, MetadataReferenceProperties properties) =>
        inner.ResolveReference(reference, baseFilePath, properties);

    public override PortableExecutableReference? ResolveMissingAssembly(MetadataReference definition, AssemblyIdentity referenceIdentity)
    {
        var found = inner.ResolveMissingAssembly(definition, referenceIdentity);
        if (found?.FilePath is not { } file) return found;
        var name = referenceIdentity.Name;
        return string.Equals(Path.GetDirectoryName(file), FrameworkFolder, StringComparison.Ordinal) || KernelOwn.Contains(name) || besideReferencedDll(name)
            ? found : null;
    }

    public override bool Equals(object? other) => other is KernelLikeResolver r && r.inner.Equals(inner) && r.besideReferencedDll == besideReferencedDll;

    public override int GetHashCode() => inner.GetHashCode();
}
