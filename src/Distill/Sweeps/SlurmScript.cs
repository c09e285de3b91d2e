using System.Globalization;
using System.Text;

namespace Distill.Sweeps;

/// <summary>
/// An sbatch job array for a sweep: one array task per run (the task's SLURM_ARRAY_TASK_ID is the run index, which
/// <c>distill sweep run</c> reads), at most <c>concurrent</c> at a time, each with its own CPUs and as many libtorch
/// threads. The script runs the copy of the spec in the sweep folder, so editing the original later cannot change a
/// queued task's run.
/// </summary>
public static partial class SlurmScript
{
    /// <summary>The forms of sbatch's --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours,
    /// days-hours:minutes, days-hours:minutes:seconds, or no limit (UNLIMITED, INFINITE, in any case, or -1, which
    /// Slurm's parser reads as INFINITE).</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^([0-9]+(:[0-9]+){0,2}|[0-9]+-[0-9]+(:[0-9]+){0,2}|(?i:unlimited|infinite)|-1)\z")]
    private static partial System.Text.RegularExpressions.Regex TimeLimit();

    /// <summary>Ends the script's second line; <see cref="IsScript"/> looks for it there.</summary>
    const string Marker = "Written by `distill sweep slurm`;";

    /// <summary>Whether the file at <paramref name="path"/> is a script <see cref="Render"/> wrote (its first two lines
    /// as Render writes them): `sweep slurm` replaces only such a file, never a user's own sweep.sbatch.</summary>
    public static bool IsScript(string path)
    {
        try
        {
            // A script is a few KiB (the paths in it at most a few more); a larger file is not one, and is not read whole.
            if (new FileInfo(path).Length > 64 * 1024) return false;
            var lines = File.ReadAllText(path).Split('\n', 3);
            return lines.Length == 3 && lines[0] == "#!/bin/bash" && lines[1].StartsWith("# ", StringComparison.Ordinal)
                   && lines[1].EndsWith(Marker, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <param name="cli">The command that starts distill (e.g. ["dotnet", "/path/Distill.Cli.dll"]), absolute paths.</param>
    /// <param name="extra">sbatch options the cluster needs (--account=X, --mem=4G, --qos=Y), each written as an #SBATCH line.</param>
    public static string Render(ExperimentSpec spec, string dir, IReadOnlyList<string> cli, int concurrent, int cpusPerTask, string? partition, string? time,
        IReadOnlyList<string>? extra = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrent, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cpusPerTask, 1);
        dir = Path.GetFullPath(dir);
        var sb = new StringBuilder();
        sb.Append("#!/bin/bash\n");
        // The name as in the job name, never raw: the spec loader refuses line breaks, but a script is no place to rely
        // on that (one would end the comment and start a command).
        sb.Append(CultureInfo.InvariantCulture, $"# {Safe(spec.Name)}: {NumberText.Count(spec.Runs.Count, "run")} of spec {spec.Hash}, one per array task. {Marker}\n");
        sb.Append("# submit with `sbatch THIS_FILE`. A task whose run is done exits at once; a killed or preempted one resumes\n");
        sb.Append("# from its checkpoint when it runs again, so resubmitting the whole array is safe.\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --job-name={JobName(spec)}\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --array=0-{spec.Runs.Count - 1}%{concurrent}\n");
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --cpus-per-task={cpusPerTask}\n");
        sb.Append("#SBATCH --ntasks=1\n");
        // sbatch expands %-patterns in the file name (%A job, %a task): a % of the folder's own is written %%.
        sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --output={Directive("--out", dir, $"{dir.Replace("%", "%%", StringComparison.Ordinal)}/slurm/%A_%a.out")}\n");
        // Written as --partition= (or --time=), sbatch refuses the script at submission, far from the typo.
        if (partition?.Trim() == "") throw new ArgumentException("--partition '': empty; give a partition name (sinfo lists them), or leave the option out for the cluster's default.");
        if (partition is not null) sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --partition={Directive("--partition", partition, partition)}\n");
        if (time is not null && !TimeLimit().IsMatch(time))
            throw new ArgumentException($"--time {time}: not a Slurm time limit; give minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS " +
                                        "(e.g. 90, 02:00:00 or 1-12), or UNLIMITED (also INFINITE or -1).");
        if (time is not null) sb.Append(CultureInfo.InvariantCulture, $"#SBATCH --time={Directive("--time", time, time)}\n");
        foreach (var option in extra ?? [])
        {
            // Only options: a bare word, or one of the options this script sets itself (given twice, sbatch takes the
            // later, so the run index or thread count would silently differ from the plan).
            // "- x" or "-=x" names no option either (and had no letter for SetHere to read).
            if (!option.StartsWith('-') || option.Split(['=', ' ', '\t'], 2)[0].Length < 2)
                throw new ArgumentException($"--sbatch {option}: give an sbatch option, e.g. --sbatch=--account=myproj or --sbatch=--mem=4G.");
            if (SetHere(option, partition is not null, time is not null) is { } name)
                throw new ArgumentException($"--sbatch {option}: this script sets {name} itself; use `sweep slurm`'s own option for it, or leave it out.");
            sb.Append(CultureInfo.InvariantCulture, $"#SBATCH {Directive("--sbatch", option, option)}\n");
        }
        sb.Append("# Preemption and node failure put the task back in the queue; SIGTERM (preemption, and 60 s before the time\n");
        sb.Append("# limit) makes distill checkpoint at the next step and exit. Appended: a requeued task's log keeps the attempts before.\n");
        sb.Append("#SBATCH --requeue\n#SBATCH --signal=B:TERM@60\n#SBATCH --open-mode=append\n");
        sb.Append("set -euo pipefail\n");
        sb.Append("# Results depend on the thread count (it is recorded in each run's result): pin it to the task's CPUs.\n");
        sb.Append("export DISTILL_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n");
        sb.Append("# exec: distill itself receives Slurm's signals, not a shell that would wait for it.\n");
        sb.Append("exec ").Append(string.Join(" ", cli.Select(Quote)))
          .Append(" sweep run ").Append(Quote(Path.Combine(dir, SweepFolder.SpecFile))).Append(" --out ").Append(Quote(dir)).Append('\n');
        return sb.ToString();
    }

    /// <summary>The option of the script's own that an --sbatch option sets, else null. sbatch reads a short option with
    /// its value attached (-a0-9, -c4) and a long one abbreviated to any unambiguous prefix (--arr=0-99, --cpus=8), and
    /// a directive's value may follow a space: each of those changed the array or thread count past a check of the
    /// exact spelling. A prefix of one of ours is refused even where sbatch would find it ambiguous.</summary>
    static string? SetHere(string option, bool partition, bool time)
    {
        var token = option.Split(['=', ' ', '\t'], 2)[0];
        string[] ours = ["--array", "--cpus-per-task", "--ntasks", "--output", "--job-name", "--signal", "--requeue", "--no-requeue", "--open-mode",
                         .. partition ? ["--partition"] : Array.Empty<string>(), .. time ? ["--time"] : Array.Empty<string>()];
        if (!token.StartsWith("--", StringComparison.Ordinal))
            return token[1] switch
            {
                'a' => "--array", 'c' => "--cpus-per-task", 'n' => "--ntasks", 'o' => "--output", 'J' => "--job-name",
                'p' when partition => "--partition", 't' when time => "--time", _ => null,
            };
        var set = token.Length > 2 ? ours.FirstOrDefault(o => o.StartsWith(token, StringComparison.Ordinal)) : null;
        return set == "--no-requeue" ? "--requeue" : set;
    }

    /// <summary>A warning when <paramref name="time"/> is 2 minutes or less, else null: the stop signal comes up to 60 s
    /// before the limit (Slurm sends it at its own pace), so such a task may be stopped at any point of its run.</summary>
    public static string? TimeWarning(string? time) =>
        // 0 (in any spelling) is no limit at all (man sbatch: "A time limit of zero requests that no time limit be imposed").
        time is not null && TimeLimit().IsMatch(time) && !time.Contains('-', StringComparison.Ordinal) && Seconds(time) is > 0 and <= 120
            ? $"--time {time}: the script asks for SIGTERM 60 s before the limit (--signal=B:TERM@60), and Slurm may send it up to a minute early, " +
              "so a task of 2 minutes or less can be stopped (and checkpointed) at any point; give a longer limit."
            : null;

    /// <summary>A limit without days in seconds: minutes, minutes:seconds or hours:minutes:seconds, as sbatch reads them.</summary>
    static long? Seconds(string time)
    {
        var parts = time.Split(':');
        if (!parts.All(p => p.Length is > 0 and < 10 && p.All(char.IsAsciiDigit))) return null;
        var n = parts.Select(p => long.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        return n.Length switch { 1 => n[0] * 60, 2 => n[0] * 60 + n[1], _ => n[0] * 3600 + n[1] * 60 + n[2] };
    }

    /// <summary>Slurm's default MaxArraySize: array indexes must be below it, so a larger array is refused by a cluster
    /// that keeps the default.</summary>
    public const int DefaultMaxArraySize = 1001;

    /// <summary>A warning when the array's indexes (0 to <paramref name="runs"/> − 1) reach past the default
    /// MaxArraySize, else null. Only a warning: clusters raise it in slurm.conf.</summary>
    public static string? ArraySizeWarning(int runs) => runs <= DefaultMaxArraySize ? null
        : $"the array has {runs} tasks (indexes 0 to {runs - 1}); Slurm's default MaxArraySize is {DefaultMaxArraySize} (indexes up to {DefaultMaxArraySize - 1}), " +
          "so sbatch refuses it unless the cluster raised MaxArraySize (scontrol show config | grep MaxArraySize); else split the spec.";

    /// <summary>A #SBATCH value: as is when it is one plain word, else in double quotes (sbatch reads a directive's
    /// arguments split at blanks, a '#' starting a comment, and takes quoted text whole). A double quote, a backslash or
    /// a line break cannot be written there reliably, so a value with one is refused, naming the option it came from.</summary>
    static string Directive(string option, string given, string value)
    {
        if (value.Any(c => c is '"' or '\\' || char.IsControl(c)))
            throw new ArgumentException($"{option} {given}: sbatch cannot read a double quote, a backslash or a control character (a line break) " +
                                        "in an #SBATCH line; give a value without them.");
        return value.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+=:,@%".Contains(c, StringComparison.Ordinal)) ? value : $"\"{value}\"";
    }

    /// <summary>"distill-NAME", at most <see cref="MaxJobName"/> characters: sbatch refuses a name over 1024 at submit,
    /// and squeue shows a few dozen. A longer one keeps its start and the spec's hash, so two long names stay apart.</summary>
    internal static string JobName(ExperimentSpec spec)
    {
        var name = $"distill-{Safe(spec.Name)}";
        return name.Length <= MaxJobName ? name : $"{name[..(MaxJobName - spec.Hash.Length - 1)]}-{spec.Hash}";
    }

    internal const int MaxJobName = 128;

    static string Safe(string name) => string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-'));

    /// <summary>Single-quoted for bash (a path with spaces or quotes stays one word).</summary>
    internal static string Quote(string s) => s.All(c => char.IsLetterOrDigit(c) || "/._-+=:,@".Contains(c, StringComparison.Ordinal))
        ? s : "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
