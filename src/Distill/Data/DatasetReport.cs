namespace Distill.Data;

/// <summary>The dataset section of `distill doctor`: each dataset found (and where) or missing (and the fix).</summary>
public static class DatasetReport
{
    /// <summary>Writes one line per dataset; returns the number of required datasets that are missing.</summary>
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
                if (required) missing++;
                w.WriteLine($"  {info.Name,-14} {(required ? "BROKEN" : "broken"),-8} {broken.Message}");
            }
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
