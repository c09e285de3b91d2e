using System.Globalization;
namespace Distill.Data;

/// <summary>The dataset section of `distill doctor`: each dataset found (and where) or missing (and the fix).</summary>
public static class DatasetReport
{
    /// <summary>Writes one line per dataset; returns the number of problems: required datasets missing, and any dataset
    /// present but broken. An optional one is optional to install, not to be damaged: the user installed it to use it,
    /// and its broken line went by with exit 0.</summary>
    public static int Write(TextWriter w, DatasetSearch search)
    {
        var roots = search.Roots.Concat(search.SystemRoot is null ? [] : [search.SystemRoot]);
        w.WriteLine($"datasets      searched {string.Join(", ", roots)}");
        int missing = 0;
        foreach (var info in DatasetCatalog.All)
        {
            bool required = DatasetCatalog.Required.Contains(info);
            string? folder = null;
            DatasetException? broken;
            try { broken = (folder = info.Locate(search)) is null ? null : DatasetVerifier.Verify(info, folder); }
            catch (DatasetException e) { broken = e; } // a folder holding part of the dataset
            if (broken is not null)
            {
                missing++;
                w.WriteLine($"  {info.Name,-14} {"BROKEN",-8} {broken.Message}");
            }
            else if (folder is not null && Cifar.LabelBytes(info) is not null)
            {
                // No hash of the files is published (only the tarball's), so "verified" said more than was checked: a
                // generated folder of 1,000 images passed as CIFAR. Say what was checked, and whether the counts are CIFAR's.
                var (train, test) = Cifar.Counts(info, folder);
                var published = train == Cifar.PublishedTrain && test == Cifar.PublishedTest;
                w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {info.Name,-14} found    {folder} (structure checked: every record and label, {train:N0} train / {test:N0} test images") +
                            (published ? ", the published counts; no per-file hash is published)" : string.Create(CultureInfo.InvariantCulture, $"; the published files hold {Cifar.PublishedTrain:N0} / {Cifar.PublishedTest:N0}: not the published dataset)")));
            }
            else if (folder is not null && DatasetVerifier.Unchecked(info, folder) is { Count: > 0 } unpacked)
                w.WriteLine($"  {info.Name,-14} found    {folder} (structure checked; {string.Join(", ", unpacked.Select(Path.GetFileName))} unpacked, " +
                            "and only the published .gz files' SHA-256 is known, so not verified)");
            else if (folder is not null)
                w.WriteLine($"  {info.Name,-14} found    {folder} (verified)");
            else
            {
                if (required) missing++;
                w.WriteLine($"  {info.Name,-14} {(required ? "MISSING" : "missing"),-8} {(required ? "" : "(optional) ")}fix: {info.InstallCommand}");
            }
        }
        return missing;
    }
}
