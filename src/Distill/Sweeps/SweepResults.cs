using System.Globalization;
using System.Text;
using System.Text.Json;
using Distill.Training;

namespace Distill.Sweeps;

/// <summary>One row of a sweep's table: a combination of the grid keys other than seed, over its seeds.
/// The standard deviations are null for a group of one run, which has none (0 would read as "no spread over seeds").</summary>
public sealed record SweepGroup(IReadOnlyDictionary<string, string> Values, int N, double BestMean, double? BestStd, double LastMean, double? LastStd,
    IReadOnlyList<double> Best, IReadOnlyList<double> Last);

/// <summary>A run another process is running now (it holds the run's task lock): no result yet, and not "not run".</summary>
public sealed record RunInProgress(int Index, string Label, string Pid);

/// <summary>One value of a provenance field (a commit, a version) and the runs whose records have it.</summary>
public sealed record ProvenanceValue(string Value, IReadOnlyList<int> Runs);

/// <summary>
/// <c>distill sweep collect</c>: every run's result.json grouped by every grid key except seed (mean ± sample std of
/// the best and last test accuracy, n), plus the runs that failed, those whose result is damaged and those with no
/// result yet. A sweep with any of these is incomplete, and says so in every file it writes; the table of the finished
/// runs is still written.
/// </summary>
public sealed class SweepResults
{
    /// <summary>The tables <see cref="Write"/> puts in the sweep folder.</summary>
    public const string MarkdownFile = "results.md", JsonFile = "results.json";

    public required SweepFolder.Plan Plan { get; init; }
    /// <summary>The grid keys the table groups by (all but seed).</summary>
    public required IReadOnlyList<string> GroupKeys { get; init; }
    public required IReadOnlyList<SweepGroup> Groups { get; init; }
    public required IReadOnlyList<RunResult> Runs { get; init; }
    public required IReadOnlyList<RunFailure> Failed { get; init; }
    public required IReadOnlyList<int> Missing { get; init; }
    /// <summary>Runs without a result that a process is running now (a cluster's task, a `sweep run` elsewhere): listed
    /// apart from <see cref="Missing"/>, which collect listed them as while they trained.</summary>
    public IReadOnlyList<RunInProgress> Running { get; init; } = [];
    /// <summary>Runs whose result.json or failed.json cannot be read: listed, not counted (`sweep run` runs them again).</summary>
    public required IReadOnlyList<RunFailure> Damaged { get; init; }

    /// <summary>What the finished runs were made with, from their run records (runs/N/run.json): the commit, whether the
    /// build was dirty, the TorchSharp, libtorch and .NET versions and the thread count, each as its one value or as its
    /// values with the runs that had each (a cluster's tasks can run other builds), and the seeds. Empty without runs.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<ProvenanceValue>> Provenance { get; init; }

    /// <summary>The finished runs' records (runs/N/run.json) that are there but cannot be read: their results stand, but
    /// what they were made with is lost, which collect says rather than count them as "not recorded".</summary>
    public IReadOnlyList<string> DamagedRecords { get; init; } = [];

    /// <summary>What to tell the user of <see cref="DamagedRecords"/>, or null when there are none.</summary>
    public string? DamagedRecordsNote => DamagedRecords.Count == 0 ? null
        : $"{string.Join(", ", DamagedRecords)} cannot be read as a run record (damaged or written by something else): those runs' results stand, " +
          "but their provenance is unknown (it reads 'not recorded')";

    public bool Complete => Failed.Count == 0 && Missing.Count == 0 && Damaged.Count == 0 && Running.Count == 0;

    public string Status => Complete ? $"complete: {Runs.Count} of {Plan.Runs.Count} runs"
        : $"incomplete: {Runs.Count} of {Plan.Runs.Count} runs finished, {Failed.Count} failed, " +
          (Damaged.Count == 0 ? "" : $"{Damaged.Count} damaged, ") + (Running.Count == 0 ? "" : $"{Running.Count} running, ") + $"{Missing.Count} not run";

    public static SweepResults Read(string dir)
    {
        var plan = SweepFolder.ReadPlan(dir);
        // A file in the runs folder's place hid every run: each was listed as "not run".
        if (File.Exists(Path.Combine(dir, "runs")))
            throw new InvalidDataException($"{Path.Combine(dir, "runs")} is a file where the sweep keeps its runs folder; move it away (the runs' results were in that folder), then `sweep run` the spec again.");
        // Collect has no spec but the folder's copy: a plan cut short would report the runs it still lists as complete,
        // so a plan that cannot be checked (its copy missing, damaged or another spec's) is refused, not trusted.
        var spec = SpecCopy(dir, plan);
        SweepFolder.CheckPlan(plan, spec, dir);
        var runs = new List<RunResult>();
        var failed = new List<RunFailure>();
        var missing = new List<int>();
        var damaged = new List<RunFailure>();
        var running = new List<RunInProgress>();
        foreach (var entry in plan.Runs)
        {
            // A file where the run's folder goes is damage `sweep run` cannot mend: named, not "not run yet".
            if (File.Exists(SweepFolder.Run(dir, entry.Index)))
            {
                damaged.Add(new RunFailure(entry.Index, entry.Label, SweepFolder.RunIsFile($"runs/{entry.Index}")));
                continue;
            }
            var (result, damage) = SweepFolder.ReadResult(dir, entry.Index, plan.SpecHash, entry.Values, spec.Runs[entry.Index].Experiment.Seed, spec.Runs[entry.Index].Experiment.Epochs);
            // One damaged file costs its run, not the table of the others.
            if (damage is not null) damaged.Add(new RunFailure(entry.Index, entry.Label, $"runs/{entry.Index}/{SweepFolder.ResultFile} is {damage}"));
            else if (result is not null) runs.Add(result);
            else if (SweepFolder.ReadFailure(dir, entry.Index) is var (failure, failureDamage) && failureDamage is not null)
                damaged.Add(new RunFailure(entry.Index, entry.Label, $"runs/{entry.Index}/{SweepFolder.FailedFile} is {failureDamage}"));
            else if (SweepFolder.RunningBy(dir, entry.Index) is { } pid) running.Add(new RunInProgress(entry.Index, entry.Label, pid));
            else if (failure is not null) failed.Add(new RunFailure(entry.Index, entry.Label, failure.Error));
            else missing.Add(entry.Index);
        }
        var keys = plan.GridKeys.Where(k => k != "seed").ToList();
        // RunTable groups by name in first-appearance order, which is plan order: the table follows the grid.
        var table = new RunTable();
        foreach (var r in runs) table.Add(new RunRow(GroupName(keys, r.Values), r.Seed, r.Best, r.Last, r.BestEpoch, r.Parameters, r.Warning));
        var groups = table.Summary().Select(s =>
        {
            var members = runs.Where(r => GroupName(keys, r.Values) == s.Name).ToList();
            return new SweepGroup(keys.ToDictionary(k => k, k => members[0].Values[k]), s.Runs, s.BestMean, s.Runs > 1 ? s.BestStd : null,
                s.LastMean, s.Runs > 1 ? s.LastStd : null,
                [.. members.Select(m => m.Best)], [.. members.Select(m => m.Last)]);
        }).ToList();
        var (provenance, damagedRecords) = ProvenanceOf(dir, runs);
        return new SweepResults { Plan = plan, GroupKeys = keys, Groups = groups, Runs = runs, Failed = failed, Missing = missing, Damaged = damaged, Running = running,
            Provenance = provenance, DamagedRecords = damagedRecords };
    }

    /// <summary>The folder's copy of the spec, which must be the plan's spec: missing, damaged or another spec's, it
    /// cannot vouch for the plan, and is one error naming what is wrong and how to write it again.</summary>
    static ExperimentSpec SpecCopy(string dir, SweepFolder.Plan plan)
    {
        var path = Path.Combine(dir, SweepFolder.SpecFile);
        var fix = $"collect checks {SweepFolder.PlanFile} against it; run `sweep run SPEC --out {dir}` with the sweep's spec (spec {plan.SpecHash}) to write it again (runs already done are skipped).";
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: a folder, not a file; {fix}");
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: missing; {fix}");
        if (FilePaths.NothingToRead(path)) throw new InvalidDataException($"{path}: empty, or not a regular file, e.g. a FIFO; {fix}");
        ExperimentSpec spec;
        try { spec = ExperimentSpec.Load(path, plan.Name); }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: not a spec this build can read ({e.Message.Split('\n')[0]}); {fix}", e);
        }
        if (spec.Hash != plan.SpecHash)
            throw new InvalidDataException($"{path}: not this sweep's spec (spec {spec.Hash}; {SweepFolder.PlanFile} and the runs are spec {plan.SpecHash}); {fix}");
        return spec;
    }

    static readonly string[] ProvenanceKeys = ["commit", "dirty", "torchsharp", "libtorch", "dotnet", "threads"];

    static (Dictionary<string, IReadOnlyList<ProvenanceValue>>, List<string>) ProvenanceOf(string dir, IReadOnlyList<RunResult> runs)
    {
        if (runs.Count == 0) return ([], []);
        var records = runs.Select(r => (r.Index, Path: Path.Combine(SweepFolder.Run(dir, r.Index), RunFolder.SettingsFile)))
            .Select(r => (r.Index, r.Path, Record: RunFolder.TryRead(r.Path))).ToList();
        var result = ProvenanceKeys.ToDictionary(k => k, IReadOnlyList<ProvenanceValue> (k) =>
            [.. records.GroupBy(r => r.Record?.GetValueOrDefault(k) ?? "not recorded").Select(v => new ProvenanceValue(v.Key, [.. v.Select(r => r.Index)]))]);
        result["seeds"] = [new(string.Join(", ", runs.Select(r => r.Seed).Distinct().Order()), [.. runs.Select(r => r.Index)])];
        // A record that is there but unreadable was read as absent ("not recorded"), and the loss went unsaid.
        var damaged = records.Where(r => r.Record is null && (File.Exists(r.Path) || Directory.Exists(r.Path)))
            .Select(r => Path.GetRelativePath(dir, r.Path).Replace(Path.DirectorySeparatorChar, '/')).ToList();
        return (result, damaged);
    }

    /// <summary>A provenance field as text: its one value, or each value with the runs that had it. With
    /// <paramref name="label"/>, every value carries it (a value that starts with it already, ".NET 10.0.12", as it is):
    /// labelled once, "libtorch not recorded (run 0); 2.10.0.0 (runs 1, 2)" read the second value as another field's.</summary>
    static string Joined(IReadOnlyList<ProvenanceValue> values, string? label = null)
    {
        string Labelled(string v) => label is null || v.StartsWith(label + " ", StringComparison.Ordinal) ? v : $"{label} {v}";
        return values.Count == 1 ? Labelled(values[0].Value) : string.Join("; ", values.Select(v => $"{Labelled(v.Value)} ({(v.Runs.Count == 1 ? "run" : "runs")} {string.Join(", ", v.Runs)})"));
    }

    static string GroupName(IReadOnlyList<string> keys, IReadOnlyDictionary<string, string> values) =>
        keys.Count == 0 ? "all runs" : string.Join(" ", keys.Select(k => $"{k}={values[k]}"));

    /// <summary>results.md. <paramref name="forTerminal"/>: the same table as collect prints it, its text as typed (no
    /// Markdown escapes: rkd\_distance read badly on a terminal) but with control characters and terminal sequences
    /// taken out and line breaks shown as ⏎.</summary>
    public string Markdown(bool forTerminal = false)
    {
        Func<string, string> literal = forTerminal ? TerminalText.Line : Reporting.MarkdownText.Literal;
        string Cell(string text) => forTerminal ? TerminalText.Line(text).Replace("|", "\\|", StringComparison.Ordinal) : SweepResults.Cell(text);
        string Field(string key, string label) => literal(Joined(Provenance[key], label));
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"# {literal(Plan.Name)}: sweep results\n\n{Status} (spec {Plan.SpecHash}). Test accuracy %, mean ± std over seeds.\n\n");
        if (Provenance.Count > 0)
            sb.Append(CultureInfo.InvariantCulture, $"Runs made with: {Field("commit", "commit")} ({Field("dirty", "dirty build:")}), {Field("torchsharp", "TorchSharp")}, " +
                $"{Field("libtorch", "libtorch")}, {Field("dotnet", ".NET")}, {Field("threads", "threads")}; {Field("seeds", "seeds")}.\n\n");
        if (DamagedRecordsNote is { } damagedRecords) sb.Append(CultureInfo.InvariantCulture, $"**Damaged run records:** {literal(damagedRecords)}.\n\n");
        if (!Complete) sb.Append("**Incomplete:** the table below covers only the finished runs.\n\n");
        var head = GroupKeys.Count == 0 ? ["runs"] : GroupKeys.ToList();
        sb.Append("| ").Append(string.Join(" | ", head.Select(Cell))).Append(" | n | best | last |\n");
        sb.Append('|').Append(string.Concat(Enumerable.Repeat("---|", head.Count + 3))).Append('\n');
        foreach (var g in Groups)
        {
            var cells = GroupKeys.Count == 0 ? ["all"] : GroupKeys.Select(k => g.Values[k]);
            sb.Append("| ").Append(string.Join(" | ", cells.Select(Cell)))
              .Append(CultureInfo.InvariantCulture, $" | {g.N} | {MeanStd(g.BestMean, g.BestStd)} | {MeanStd(g.LastMean, g.LastStd)} |\n");
        }
        if (Failed.Count > 0)
        {
            sb.Append("\n## Failed runs\n\n");
            foreach (var f in Failed) sb.Append(CultureInfo.InvariantCulture, $"- run {f.Index} ({literal(f.Label)}): {literal(f.Error)}\n");
        }
        if (Damaged.Count > 0)
        {
            sb.Append("\n## Damaged results\n\n`sweep run` runs these again; it keeps the damaged file beside the run (as result.damaged-TIME.json or failed.damaged-TIME.json).\n\n");
            foreach (var d in Damaged) sb.Append(CultureInfo.InvariantCulture, $"- run {d.Index} ({literal(d.Label)}): {literal(d.Error)}\n");
        }
        if (Running.Count > 0)
        {
            sb.Append("\n## Running now\n\n`sweep collect` again once they finish.\n\n");
            foreach (var r in Running) sb.Append(CultureInfo.InvariantCulture, $"- run {r.Index} ({literal(r.Label)}): PID {literal(r.Pid)}\n");
        }
        if (Missing.Count > 0) sb.Append(CultureInfo.InvariantCulture, $"\n## Not run yet\n\n{(Missing.Count == 1 ? "run" : "runs")} {string.Join(", ", Missing)}\n");
        return sb.ToString();
    }

    /// <summary>"52.10 ± 0.40", or "52.10 ± —" for a group of one run (no spread to show).</summary>
    static string MeanStd(double mean, double? std) =>
        string.Create(CultureInfo.InvariantCulture, $"{mean:F2} ± {(std is double d ? d.ToString("F2", CultureInfo.InvariantCulture) : "—")}");

    /// <summary>A table cell: a | in a grid value (or key) would end the cell and shift the row's columns, a line break
    /// the row; a link or emphasis in it would be rendered.</summary>
    internal static string Cell(string text) => Reporting.MarkdownText.Literal(text.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\r', ' ').Replace('\n', ' '));

    public string Json() => JsonSerializer.Serialize(new
    {
        name = Plan.Name, spec = Plan.SpecHash, complete = Complete, status = Status, provenance = Provenance.ToDictionary(p => p.Key, p => Joined(p.Value)),
        damaged_records = DamagedRecords, group_keys = GroupKeys,
        groups = Groups, failed = Failed, damaged = Damaged, missing = Missing, running = Running, runs = Runs,
    }, SweepFolder.Json);

    /// <summary>Writes results.md and results.json into <paramref name="dir"/>; returns their paths.</summary>
    public IReadOnlyList<string> Write(string dir)
    {
        string md = Path.Combine(dir, MarkdownFile), json = Path.Combine(dir, JsonFile);
        AtomicFile.WriteAllText(md, Markdown());
        AtomicFile.WriteAllText(json, Json());
        return [md, json];
    }
}
