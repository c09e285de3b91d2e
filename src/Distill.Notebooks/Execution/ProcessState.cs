using System.Collections;
using System.Globalization;
using Distill.Native;
using TorchSharp;

namespace Distill.Notebooks.Execution;

/// <summary>
/// The process-wide settings a cell can change and the .NET kernel loses with its process: libtorch's thread count,
/// default dtype and device, the environment variables and the default cultures. The kernel
/// starts a new process per notebook; <c>distill run A B</c> and <c>reproduce</c> run their notebooks in one, so the
/// runner takes these before a notebook and puts them back after it. Without this a notebook that set float64 or one
/// thread changed the next notebook's numbers, or made it fail ("mat1 and mat2 must have the same dtype").
/// What no API can list (AppDomain data, a library's own static fields) still carries over: docs/notebook-runner.md.
/// </summary>
sealed class ProcessState
{
    readonly int threads;
    readonly torch.ScalarType dtype;
    readonly torch.Device device;
    readonly Dictionary<string, string> environment;
    readonly CultureInfo? culture, uiCulture;

    ProcessState()
    {
        threads = TorchRuntime.Threads; // initializes libtorch first, as the notebook's Start() would
        dtype = torch.get_default_dtype();
        device = torch.get_default_device();
        environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        (culture, uiCulture) = (CultureInfo.DefaultThreadCurrentCulture, CultureInfo.DefaultThreadCurrentUICulture);
    }

    public static ProcessState Capture() => new();

    public void Restore()
    {
        // A cell may have called torch.set_num_threads itself, behind TorchRuntime's back: set both.
        TorchRuntime.Initialize(threads);
        torch.set_num_threads(threads);
        torch.set_default_dtype(dtype);
        torch.set_default_device(device);
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(n => !environment.ContainsKey(n)).ToList())
            Environment.SetEnvironmentVariable(name, null);
        foreach (var (name, value) in environment)
            if (Environment.GetEnvironmentVariable(name) != value) Environment.SetEnvironmentVariable(name, value);
        (CultureInfo.DefaultThreadCurrentCulture, CultureInfo.DefaultThreadCurrentUICulture) = (culture, uiCulture);
    }
}
