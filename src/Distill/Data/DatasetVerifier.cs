using System.IO.Compression;
using System.Security.Cryptography;

namespace Distill.Data;

/// <summary>
/// What `distill doctor` checks of a dataset it found: every file reads as what it claims to be (IDX headers against
/// their sizes, gzip streams complete), and its bytes are the published ones: the file's SHA-256 against the download's
/// (<see cref="DatasetInfo.Downloads"/>), else its content's SHA-256 (decompressed) against <see cref="DatasetInfo.ContentSha256"/>
/// (Debian re-gzips Fashion-MNIST, so only the content can match there).
/// </summary>
public static class DatasetVerifier
{
    /// <summary>Null when every file checks out, else what is wrong with the first bad file.</summary>
    public static DatasetException? Verify(DatasetInfo info, string folder)
    {
        foreach (var name in info.Files)
        {
            var path = DatasetInfo.TryResolve(folder, name);
            if (path is null) return new DatasetException(Path.Combine(folder, name), "file not found", $"run `{info.InstallCommand}`");
            try
            {
                if (name.Contains("-idx", StringComparison.Ordinal)) _ = Idx.Read(path);
                var published = info.Downloads.FirstOrDefault(d => d.Name == name)?.Sha256;
                var content = info.ContentSha256.GetValueOrDefault(Path.GetFileName(name).Replace(".gz", "", StringComparison.Ordinal));
                if (published is null && content is null) continue; // nothing published to compare with: structure only
                if (published is not null && Sha256(path, decompress: false) == published) continue;
                if (content is not null && Sha256(path, decompress: path.EndsWith(".gz", StringComparison.Ordinal)) == content) continue;
                return new DatasetException(path, "its bytes differ from the published dataset's (SHA-256 mismatch)",
                    $"the file is damaged or another dataset's: delete it and run `{info.InstallCommand}`");
            }
            catch (DatasetException e) { return e; }
            catch (InvalidDataException e)
            {
                return new DatasetException(path, $"the gzip data is truncated or corrupt ({e.Message.TrimEnd('.')})", $"delete it and run `{info.InstallCommand}`", e);
            }
        }
        return null;
    }

    static string Sha256(string path, bool decompress)
    {
        using var file = DataFiles.OpenRead(path);
        using Stream s = decompress ? new GZipStream(file, CompressionMode.Decompress) : file;
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }
}
