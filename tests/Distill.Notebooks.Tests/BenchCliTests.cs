using System.Text.Json;
using System.Text.RegularExpressions;

namespace Distill.Notebooks.Tests;

/// <summary>`distill bench` as users call it: whole runs at the smoke budget (1 warm-up and 2 steps a case), exit codes,
/// the table and the --json report of what ran.</summary>
public partial class BenchCliTests
{
    static JsonElement[] Cases(string json)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        return [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Clone())];
    }

    /// <summary>The notebook runner's case had no #r for TorchSharp, which the runner requires as the kernel does: its
    /// first cell failed (CS0246), and so did every full bench.</summary>
    [Fact]
    public void The_notebook_runner_case_runs()
    {
        using var dir = new TempDir("bench-nb");
        var json = Path.Combine(dir.Path, "bench.json");
        var (exit, stdout, stderr) = DistillProcess.Run("bench", "--smoke", "--memory-epochs", "0", "--only", "notebook-10-cells", "--json", json);
        Assert.True(exit == 0, $"exit {exit}\n{stderr}{stdout}");
        Assert.Contains("notebook-10-cells", Cases(json).Select(c => c.GetProperty("name").GetString()));
    }

    /// <summary>SIGTERM during the sweep cases exited 143 with nothing written, and the sweep's own process (`sweep run`)
    /// ran on, re-parented to init, its temp folder left behind.</summary>
    [Fact]
    public void SIGTERM_writes_what_was_measured_and_ends_the_sweep_child()
    {
        using var dir = new TempDir("bench-term");
        var json = Path.Combine(dir.Path, "bench.json");
        var psi = DistillProcess.Start("bench", "--smoke", "--memory-epochs", "0", "--only", "sweep-4-runs-sequential", "--json", json);
        var tmp = Directory.CreateDirectory(Path.Combine(dir.Path, "tmp")).FullName;
        psi.Environment["TMPDIR"] = tmp;
        using var bench = new DistillProcess.Running(psi);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (SweepChildren(tmp).Count == 0)
        {
            Assert.False(bench.Process.HasExited, $"exited before its sweep started:\n{bench.Output}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"no sweep child after 2 minutes:\n{bench.Output}");
            Thread.Sleep(200);
        }
        bench.Signal("TERM");
        Assert.Equal(143, bench.Exit(TimeSpan.FromSeconds(20)));
        Assert.Contains("bench interrupted: measured gemm-1024;", bench.Output, StringComparison.Ordinal);
        Assert.Contains("| gemm-1024 |", bench.Output, StringComparison.Ordinal);
        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
            Assert.True(doc.RootElement.GetProperty("partial").GetBoolean());
        Assert.Equal(["gemm-1024"], Cases(json).Select(c => c.GetProperty("name").GetString()));
        clock.Restart();
        while (SweepChildren(tmp).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(100);
        Assert.Empty(SweepChildren(tmp));
        Assert.Empty(Directory.GetDirectories(tmp, "distill-bench-sweep-*"));
    }

    /// <summary>Processes whose command line names a folder under <paramref name="tmp"/> (the bench's sweep and its workers).</summary>
    static List<int> SweepChildren(string tmp) =>
        [.. Directory.GetDirectories("/proc").Select(d => Path.GetFileName(d)).Where(n => n.All(char.IsAsciiDigit)).Where(pid =>
        {
            try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains(tmp + "/distill-bench-sweep-", StringComparison.Ordinal); }
            catch (IOException) { return false; }
            catch (UnauthorizedAccessException) { return false; }
        }).Select(int.Parse)];

    /// <summary>A --json or --save-numerics path that cannot be written was found after the run (an unexpected
    /// UnauthorizedAccessException or ArgumentException, exit 1, the benchmark lost), and --save-numerics ignored the
    /// benchmark's options silently, as bench did --python without --peer: now one line naming the option, the problem and
    /// the fix, exit 2, before anything runs.</summary>
    [Fact]
    public void Unwritable_output_paths_and_options_numerics_ignore_are_refused_first()
    {
        using var dir = new TempDir("bench-paths");
        string[][] cases =
        [
            ["--json", dir.Path], ["--json", ""], ["--json", Path.Combine(dir.Path, "no-such", "x.json")],
            ["--save-numerics", dir.Path], ["--save-numerics", ""], ["--save-numerics", Path.Combine(dir.Path, "no-such", "n.bin")],
            ["--compare-numerics", dir.Path], ["--save-numerics", Path.Combine(dir.Path, "n.bin"), "--json", Path.Combine(dir.Path, "x.json"), "--only", "gemm"],
            ["--python", "/usr/bin/python3"],
            // A folder that takes no file, where an existing file passed the probe and the report was lost at the end;
            // a path through a file, which was called a missing folder.
            ["--json", "/proc/version"], ["--json", Path.Combine(Path.GetTempPath(), Path.GetFileName(dir.Path) + ".file", "x.json")],
        ];
        File.WriteAllText(Path.Combine(Path.GetTempPath(), Path.GetFileName(dir.Path) + ".file"), "");
        foreach (var c in cases)
        {
            var (exit, stdout, stderr) = DistillProcess.Run(["bench", "--smoke", .. c]);
            var what = $"bench {string.Join(' ', c)} → {exit}\n{stderr}{stdout}";
            Assert.True(exit == 2, what);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: " + c[0], line, StringComparison.Ordinal);
            Assert.DoesNotContain("Nothing in this command expected it", line, StringComparison.Ordinal);
            Assert.DoesNotContain("GEMM", stdout, StringComparison.Ordinal); // nothing ran
            if (c[1] == "/proc/version") Assert.Equal("error: --json /proc/version: the folder /proc cannot be written (this file system takes no new files); give a path in a folder you can write to.", line);
            if (c[1].EndsWith(".file/x.json", StringComparison.Ordinal)) Assert.EndsWith(".file is a file, not a folder; give a file in a folder.", line, StringComparison.Ordinal);
        }
        File.Delete(Path.Combine(Path.GetTempPath(), Path.GetFileName(dir.Path) + ".file"));
        Assert.Empty(Directory.GetFiles(dir.Path));
        // A file of another kind is not overwritten: `--json reports/results.json` replaced reproduce's summary.
        using var theirs = new TempDir("bench-theirs");
        var notebook = Path.Combine(theirs.Path, "00-data.ipynb");
        File.WriteAllText(notebook, "{\"cells\": []}");
        // 20 bytes whose first four read as a finite float: taken for a header-less numerics file, and replaced by 10 MB
        // of numbers (a README went the same way).
        var notes = Path.Combine(theirs.Path, "notes.txt");
        File.WriteAllText(notes, "my precious notes!!\n");
        foreach (var (option, what, file) in new[] { ("--json", "a report of bench --json", notebook), ("--save-numerics", "a file of --save-numerics", notebook),
                                                     ("--save-numerics", "a file of --save-numerics", notes) })
        {
            var (exit, _, stderr) = DistillProcess.Run(option == "--json" ? ["bench", "--smoke", option, file] : ["bench", option, file]);
            Assert.Equal((2, $"error: {option} {file}: exists and is not {what}, so bench will not overwrite it; give another file, or move that one away."), (exit, stderr.Trim()));
        }
        Assert.Equal("{\"cells\": []}", File.ReadAllText(notebook));
        Assert.Equal("my precious notes!!\n", File.ReadAllText(notes));
        // Its own kind is overwritten: a numerics file of the earlier header-less format (bare float32 values, as many as
        // this version computes: 2,657,359), and a report cut short by a failed write.
        var numerics = Path.Combine(theirs.Path, "old.bin");
        File.WriteAllBytes(numerics, [.. Enumerable.Repeat(1f, 2_657_359).SelectMany(BitConverter.GetBytes)]);
        var saved = DistillProcess.Run("bench", "--save-numerics", numerics);
        Assert.True(saved.Exit == 0, saved.Err);
        Assert.Equal(System.Text.Encoding.ASCII.GetBytes("DSTNUM02"), File.ReadAllBytes(numerics)[..8]); // written again, with the header
        var report = Path.Combine(theirs.Path, "cut.json");
        File.WriteAllText(report, "{\n  \"date\": \"2026-12-06\",\n  \"command\": \"bench\",\n  \"machine\": {\n    \"cp");
        var rerun = DistillProcess.Run("bench", "--smoke", "--memory-epochs", "0", "--only", "gemm", "--json", report);
        Assert.True(rerun.Exit == 0, rerun.Err);
        Assert.Contains("gemm-1024", Cases(report).Select(c => c.GetProperty("name").GetString()));
    }

    /// <summary>A report that cannot be written at the end (here a full disk) is said after the table, which stays.</summary>
    [Fact]
    public void A_json_write_failure_at_the_end_keeps_the_table()
    {
        var (exit, stdout, stderr) = DistillProcess.Run("bench", "--smoke", "--memory-epochs", "0", "--only", "gemm", "--json", "/dev/full");
        Assert.True(exit == 1, $"exit {exit}\n{stderr}{stdout}");
        Assert.Contains("| gemm-1024 |", stdout, StringComparison.Ordinal);
        Assert.StartsWith("error: --json /dev/full: could not write the report (", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    /// <summary>A blank --only gave the notebooks' example ("e.g. --only 01,02"), which names no bench case.</summary>
    [Fact]
    public void A_blank_only_gives_an_example_of_bench_cases()
    {
        var (exit, stdout, stderr) = DistillProcess.Run("bench", "--smoke", "--only", " , ");
        Assert.True(exit == 2, $"exit {exit}\n{stderr}{stdout}");
        Assert.Equal("error: --only ' , ': give at least one name, e.g. --only gemm,notebook", stderr.Trim());
    }

    /// <summary>docs/performance.md showed `bench --smoke --only none`, which bench refuses (exit 2) since a filter that
    /// matches nothing is taken for a typo. Every --only name in a documented bench command must match a case; the
    /// cases are those bench lists when refusing one.</summary>
    [Fact]
    public void Every_documented_bench_only_filter_names_a_case()
    {
        var (exit, _, stderr) = DistillProcess.Run("bench", "--smoke", "--only", "no-such-case");
        Assert.True(exit == 2, $"exit {exit}\n{stderr}");
        var cases = stderr[(stderr.IndexOf("the cases are ", StringComparison.Ordinal) + "the cases are ".Length)..].Trim().TrimEnd('.').Split(", ");
        var docs = new[] { "README.md", "CONTRIBUTING.md" }.Select(f => Path.Combine(TestSupport.RepoRoot, f))
            .Concat(Directory.EnumerateFiles(Path.Combine(TestSupport.RepoRoot, "docs"), "*.md", SearchOption.AllDirectories));
        var unmatched = (from doc in docs
                         from line in File.ReadLines(doc)
                         from Match command in BenchCommand().Matches(line)
                         from Match filter in OnlyNames().Matches(command.Value)
                         from name in filter.Groups[1].Value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries)
                         where !cases.Any(c => c.Contains(name, StringComparison.OrdinalIgnoreCase))
                         select $"{Path.GetRelativePath(TestSupport.RepoRoot, doc)}: --only {name}").ToList();
        Assert.True(cases.Length > 10, stderr);
        Assert.Empty(unmatched);
    }

    [GeneratedRegex(@"\bbench\b[^`\n|]*")]
    private static partial Regex BenchCommand();

    /// <summary>The names after one --only: words of case-name characters, up to the next option or shell syntax.</summary>
    [GeneratedRegex(@"--only((?:[ ,]+[a-z][a-z0-9-]*(?=[\s,`)]|$))+)")]
    private static partial Regex OnlyNames();

    /// <summary>A --threads beyond int said "which runs from -2147483648 to 2147483647", int's range, not the valid one.</summary>
    [Fact]
    public void Threads_out_of_range_gives_the_valid_range()
    {
        foreach (var given in new[] { "99999999999", "0", "many" })
        {
            var (exit, stdout, stderr) = DistillProcess.Run("bench", "--smoke", "--threads", given);
            Assert.True(exit == 2, $"--threads {given} → {exit}\n{stderr}{stdout}");
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error: ", StringComparison.Ordinal));
            Assert.StartsWith($"error: --threads {given} is not a thread count in [1, {4 * Environment.ProcessorCount}]", line, StringComparison.Ordinal);
            Assert.DoesNotContain("2147483647", stderr, StringComparison.Ordinal);
        }
    }
}
