using System.Formats.Tar;
using System.Globalization;
using System.Security.Cryptography;

namespace Distill.Data;

/// <summary>
/// Downloads with SHA-256 verification. A file is streamed into DEST.part-PID while being hashed and renamed to DEST
/// only when the hash matches; on any failure the partial file is removed, so DEST is either complete or absent.
/// </summary>
public static class Download
{
    /// <summary>Environment variable naming a mirror root; files are then fetched from MIRROR/NAME/FILE.</summary>
    public const string MirrorVariable = "DISTILL_DATA_MIRROR";

    /// <summary>Why <paramref name="mirror"/> (as given: --mirror, or null for $DISTILL_DATA_MIRROR) cannot be a mirror
    /// root, as the line to follow "error: "; null when it is an http(s) URL or not set. Checked before anything is
    /// installed: otherwise it fails mid-install as a bare UriFormatException or NotSupportedException, and an empty
    /// --mirror silently meant the canonical source.</summary>
    public static string? MirrorProblem(string? mirror)
    {
        var (name, value) = mirror is null ? ($"${MirrorVariable}", Environment.GetEnvironmentVariable(MirrorVariable)) : ("--mirror", mirror);
        if (mirror is not null && string.IsNullOrWhiteSpace(mirror))
            return "--mirror is empty; give the mirror's root URL (e.g. --mirror https://example.org/distill-data), or leave --mirror out for the canonical source";
        if (string.IsNullOrWhiteSpace(value)) return null; // an empty variable is an unset one
        return Uri.TryCreate(value, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && url.Host.Length > 0 ? null
            : $"{name} {value}: not an http:// or https:// URL; give the mirror's root URL, from which MIRROR/NAME/FILE is fetched (e.g. https://example.org/distill-data)";
    }

    /// <summary>The canonical URL of <paramref name="file"/>, or MIRROR/NAME/FILE when a mirror is given or set in the environment.</summary>
    public static Uri UrlFor(DatasetInfo info, DownloadFile file, string? mirror = null)
    {
        mirror ??= Environment.GetEnvironmentVariable(MirrorVariable);
        if (!string.IsNullOrWhiteSpace(mirror)) return new Uri($"{mirror.TrimEnd('/')}/{info.Name}/{file.Name}");
        if (info.MirrorUrl is null) throw new InvalidOperationException($"{info.Name} has no download source");
        return new Uri(info.MirrorUrl + file.Name);
    }

    /// <summary>Fetches <paramref name="url"/> into <paramref name="destination"/> if its SHA-256 is <paramref name="sha256"/>.</summary>
    public static void Fetch(HttpClient http, Uri url, string destination, string sha256, string fix)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
        var part = $"{destination}.part-{Environment.ProcessId}";
        try
        {
            string actual;
            using (var response = http.Send(new HttpRequestMessage(HttpMethod.Get, url), HttpCompletionOption.ResponseHeadersRead))
            {
                if (!response.IsSuccessStatusCode)
                    throw new DatasetException(url.ToString(), $"download failed: HTTP {(int)response.StatusCode} {response.ReasonPhrase}", fix);
                using var body = response.Content.ReadAsStream();
                using var output = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 16];
                for (int n; (n = body.Read(buffer)) > 0;)
                {
                    hash.AppendData(buffer, 0, n);
                    output.Write(buffer, 0, n);
                }
                actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            }
            if (!string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
                throw new DatasetException(destination,
                    $"SHA-256 mismatch for {url}: expected {sha256.ToLowerInvariant()}, got {actual} (the partial download was removed)",
                    $"the server sent a different or damaged file: retry, or set {MirrorVariable} to a mirror that serves the original files");
            File.Move(part, destination, overwrite: true);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            throw new DatasetException(url.ToString(), $"download failed ({e.Message.TrimEnd('.')})", fix, e);
        }
        finally
        {
            if (File.Exists(part)) File.Delete(part);
        }
    }

    /// <summary>SHA-256 of a file, lower-case hex.</summary>
    public static string Sha256Of(string path)
    {
        using var file = DataFiles.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    /// <summary>
    /// Extracts the regular files of a .tar.gz into <paramref name="folder"/>, flattened (CIFAR tarballs hold one
    /// top-level folder). Each file goes through a temporary name and a damaged archive leaves no file behind.
    /// </summary>
    public static IReadOnlyList<string> ExtractTarGz(string archive, string folder)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        string? part = null;
        try
        {
            using var file = DataFiles.OpenRead(archive);
            using var gz = new GzipFile(file);
            using var tar = new TarReader(gz);
            for (TarEntry? entry; (entry = tar.GetNextEntry()) is not null;)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                var name = Path.GetFileName(entry.Name);
                if (name.Length == 0 || name.StartsWith('.')) continue;
                var target = Path.Combine(folder, name);
                part = $"{target}.part-{Environment.ProcessId}";
                entry.ExtractToFile(part, overwrite: true);
                // A truncated gzip stream just ends: the entry's data is then shorter than its header says.
                if (new FileInfo(part).Length != entry.Length)
                    throw new EndOfStreamException(string.Create(CultureInfo.InvariantCulture, $"{entry.Name} holds {new FileInfo(part).Length:N0} of its {entry.Length:N0} bytes"));
                File.Move(part, target, overwrite: true);
                part = null;
                written.Add(target);
            }
            // The tar ends before the gzip data does (end blocks, record padding): reading on to the end is what checks
            // the gzip trailer, so an archive cut there is refused too.
            gz.CopyTo(Stream.Null);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            // All or nothing: files already taken from a damaged archive are removed too.
            foreach (var f in written) File.Delete(f);
            throw new DatasetException(archive, $"the archive is truncated or corrupt ({e.Message.TrimEnd('.')})",
                "delete it and run `distill data install` again", e);
        }
        finally
        {
            if (part is not null && File.Exists(part)) File.Delete(part);
        }
        return written;
    }
}
