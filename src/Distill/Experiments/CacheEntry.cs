using System.Security.Cryptography;
using System.Text;
using Distill.Native;
using Distill.Training;
using TorchSharp;

namespace Distill.Experiments;

/// <summary>What the teacher cache and the run cache (<see cref="TeacherStore"/>, <see cref="StudentStore"/>) share: how
/// a trained run is keyed, how a weights-and-record entry is kept, and how an entry is loaded so that a damaged one
/// leaves the model as it was.</summary>
static class CacheEntry
{
    /// <summary>16 hex digits of the SHA-256 of the parts, joined by "|".</summary>
    public static string Hash(IEnumerable<object?> parts) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("|", parts))))[..16].ToLowerInvariant();

    /// <summary>The key of a trained run: every setting its run record compares (its name aside), the device and the
    /// kernels that compute it, the caller's own <paramref name="parts"/> (initial weights, method, ...), and this
    /// library's build, so a code change never reuses a stale run.</summary>
    public static string RunKey(IReadOnlyDictionary<string, string> settings, string device, IEnumerable<string> parts) =>
        // The device as typed is left to "on=": --device cpu missed the entry --device auto (cpu here) had made.
        Hash(RunFolder.Compared(settings).Where(kv => kv.Key is not ("name" or "device")).Select(kv => $"{kv.Key}={kv.Value}")
            .Append($"on={TorchRuntime.ResolveDevice(device)}")
            .Append($"kernels={TorchRuntime.KernelIdentity}")
            .Concat(parts)
            .Append($"build={typeof(CacheEntry).Assembly.ManifestModule.ModuleVersionId}"));

    /// <summary>Loads <paramref name="weights"/> into <paramref name="model"/> and returns their digest
    /// (<see cref="TensorDigest.Weights"/>), or throws <see cref="InvalidDataException"/> when it is not
    /// <paramref name="recorded"/>, the digest the entry's record was written with: a file changed on disk (a flipped
    /// bit) can still load, and would be used silently.</summary>
    public static string LoadVerified(torch.nn.Module model, string weights, string? recorded)
    {
        if (recorded is null) throw new InvalidDataException("its record names no weights digest");
        model.load(weights);
        var digest = TensorDigest.Weights(model);
        if (digest != recorded) throw new InvalidDataException("its weights are not the ones its record names (changed on disk or in a copy)");
        return digest;
    }

    /// <summary>A recipe teacher's or a run's entry, DIR/KEY.bin and DIR/KEY.json (written last: an entry without its
    /// record is not one). A cache that cannot take it (a full disk, a folder in the way) gets a warning: the model is
    /// trained, and losing the experiment for it lost every run trained so far.</summary>
    internal static void KeepFiles(string dir, string key, Models.DistillModel model, string record, TrainOptions options)
    {
        string weights = Path.Combine(dir, key + ".bin"), json = Path.Combine(dir, key + ".json"), tmp = $".{Environment.ProcessId}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(dir);
            model.save(weights + tmp);
            File.Move(weights + tmp, weights, overwrite: true);
            AtomicFile.WriteAllText(json, record);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Its weights without their record are no entry; a folder in the way stays, named in the warning.
            foreach (var left in new[] { weights + tmp, weights })
                try { if (File.Exists(left)) File.Delete(left); }
                catch (Exception gone) when (gone is IOException or UnauthorizedAccessException) { } // the next command drops a record-less entry
            TeacherStore.Unkept(options, dir, e);
        }
    }

    /// <summary>
    /// <paramref name="load"/> into <paramref name="model"/>; when it throws what <paramref name="damaged"/> accepts, the
    /// entry is damaged: <paramref name="drop"/> removes it, the model's initial weights are put back (a load may have
    /// got part of the way), and null is returned, so training starts where it would have without the cache.
    /// </summary>
    public static T? LoadOrRollBack<T>(torch.nn.Module model, Func<T> load, Func<Exception, bool> damaged, Action<Exception> drop) where T : class
    {
        Dictionary<string, torch.Tensor> initial;
        using (torch.no_grad()) initial = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        try { return load(); }
        catch (Exception e) when (damaged(e))
        {
            drop(e);
            using (torch.no_grad())
                foreach (var (name, tensor) in model.state_dict()) tensor.copy_(initial[name]);
            return null;
        }
        finally
        {
            foreach (var t in initial.Values) t.Dispose();
        }
    }
}
