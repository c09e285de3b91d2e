using Distill.Sweeps;

namespace Distill.Tests.Sweeps;

/// <summary>The sbatch script: one array task per run, at most K at once, the folder's copy of the spec, quoting.</summary>
public class SlurmScriptTests
{
    [Fact]
    public void The_array_covers_every_run_threads_follow_the_cpus_and_paths_with_spaces_stay_one_word()
    {
        var spec = ExperimentSpec.Load(Onboarding.Repo.PathOf("experiments/kd-temperature.yaml"));
        var script = SlurmScript.Render(spec, "/shared/my sweeps/kdt", ["dotnet", "/opt/distill/Distill.Cli.dll"], concurrent: 3, cpusPerTask: 2,
            partition: "cpu nodes", time: "01:00:00");
        var lines = script.Split('\n');
        Assert.Equal("#!/bin/bash", lines[0]);
        Assert.Contains("#SBATCH --array=0-11%3", lines);
        Assert.Contains("#SBATCH --cpus-per-task=2", lines);
        // sbatch splits a directive at blanks ("Invalid directive"): values with one are quoted, plain ones left as they are.
        Assert.Contains("#SBATCH --partition=\"cpu nodes\"", lines);
        Assert.Contains("#SBATCH --time=01:00:00", lines);
        Assert.Contains("#SBATCH --requeue", lines);
        Assert.Contains("#SBATCH --output=\"/shared/my sweeps/kdt/slurm/%A_%a.out\"", lines);
        Assert.Contains("export DISTILL_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"", lines);
        Assert.Equal("exec dotnet /opt/distill/Distill.Cli.dll sweep run '/shared/my sweeps/kdt/spec.yaml' --out '/shared/my sweeps/kdt'", lines[^2]);
        // Every #SBATCH line comes before the first command: sbatch stops reading directives there.
        var firstCommand = Array.FindIndex(lines, l => l.Length > 0 && !l.StartsWith('#'));
        Assert.True(Array.FindLastIndex(lines, l => l.StartsWith("#SBATCH", StringComparison.Ordinal)) < firstCommand);
        Assert.Throws<ArgumentOutOfRangeException>(() => SlurmScript.Render(spec, "/d", ["distill"], concurrent: 0, cpusPerTask: 1, null, null));
        // What sbatch cannot read in a directive is refused with the option it came from.
        var e = Assert.Throws<ArgumentException>(() => SlurmScript.Render(spec, "/d", ["distill"], concurrent: 1, cpusPerTask: 1, "a\nb", null));
        Assert.Equal("--partition a\nb: sbatch cannot read a double quote, a backslash or a control character (a line break) in an #SBATCH line; give a value without them.", e.Message);
        Assert.Throws<ArgumentException>(() => SlurmScript.Render(spec, "/my \"sweeps\"", ["distill"], concurrent: 1, cpusPerTask: 1, null, null));
        // An empty partition was written as `#SBATCH --partition=`, which sbatch refuses only at submission.
        foreach (var empty in new[] { "", " " })
            Assert.StartsWith("--partition '': empty; give a partition name", Assert.Throws<ArgumentException>(() => SlurmScript.Render(spec, "/d", ["distill"], concurrent: 1, cpusPerTask: 1, empty, null)).Message, StringComparison.Ordinal);
    }

    /// <summary>A 5,000-character spec name was written whole into --job-name, which sbatch refuses past 1024 at submit.</summary>
    [Fact]
    public void A_long_name_is_cut_to_a_job_name_sbatch_takes_keeping_the_spec_hash()
    {
        var text = File.ReadAllText(Onboarding.Repo.PathOf("experiments/tiny.yaml"));
        ExperimentSpec Named(string name) => ExperimentSpec.Parse(text.Replace("name: tiny", $"name: {name}", StringComparison.Ordinal), "t.yaml");
        string JobName(ExperimentSpec spec) => SlurmScript.Render(spec, "/d", ["distill"], concurrent: 1, cpusPerTask: 1, null, null).Split('\n')
            .Single(l => l.StartsWith("#SBATCH --job-name=", StringComparison.Ordinal))["#SBATCH --job-name=".Length..];
        Assert.Equal("distill-tiny", JobName(Named("tiny")));
        var (a, b) = (Named(new string('a', 5000)), Named(new string('a', 4999) + "b"));
        Assert.Equal(128, JobName(a).Length);
        Assert.EndsWith($"-{a.Hash}", JobName(a), StringComparison.Ordinal);
        Assert.StartsWith("distill-aaaa", JobName(a), StringComparison.Ordinal);
        Assert.NotEqual(JobName(a), JobName(b));
        Assert.Equal("distill-" + new string('a', 120), JobName(Named(new string('a', 120)))); // 128 exactly: whole
    }

    [Fact]
    public void A_percent_sign_in_the_folder_is_escaped_and_an_array_past_the_default_MaxArraySize_is_warned_of()
    {
        var spec = ExperimentSpec.Load(Onboarding.Repo.PathOf("experiments/kd-temperature.yaml"));
        var lines = SlurmScript.Render(spec, "/shared/100%A", ["distill"], concurrent: 1, cpusPerTask: 1, null, null).Split('\n');
        // sbatch would expand %A of the folder's name into the job id: %% is a literal %.
        Assert.Contains("#SBATCH --output=/shared/100%%A/slurm/%A_%a.out", lines);
        Assert.EndsWith("--out '/shared/100%A'", lines[^2], StringComparison.Ordinal); // not an sbatch pattern there

        Assert.Null(SlurmScript.ArraySizeWarning(1001));
        Assert.Equal("the array has 1002 tasks (indexes 0 to 1001); Slurm's default MaxArraySize is 1001 (indexes up to 1000), so sbatch refuses it " +
                     "unless the cluster raised MaxArraySize (scontrol show config | grep MaxArraySize); else split the spec.", SlurmScript.ArraySizeWarning(1002));
    }

    /// <summary>--time went into the script unchecked, so a typo failed only at sbatch (or never ran): every form sbatch
    /// takes is accepted, anything else refused naming them.</summary>
    [Theory]
    [InlineData("90", true)]
    [InlineData("30:00", true)]
    [InlineData("02:00:00", true)]
    [InlineData("1-12", true)]
    [InlineData("1-12:30", true)]
    [InlineData("1-12:30:00", true)]
    [InlineData("UNLIMITED", true)]
    [InlineData("infinite", true)]
    [InlineData("-1", true)]
    [InlineData("bogus", false)]
    [InlineData("2h", false)]
    [InlineData("1:2:3:4", false)]
    [InlineData("1-", false)]
    [InlineData("-5", false)]
    [InlineData("1.5", false)]
    [InlineData("", false)]
    [InlineData("90\n", false)]
    public void The_time_limit_is_one_of_sbatchs_forms(string time, bool valid)
    {
        var spec = ExperimentSpec.Load(Onboarding.Repo.PathOf("experiments/kd-temperature.yaml"));
        string Render() => SlurmScript.Render(spec, "/d", ["distill"], concurrent: 1, cpusPerTask: 1, null, time);
        if (valid)
        {
            Assert.Contains($"#SBATCH --time={time}", Render().Split('\n'));
            return;
        }
        var e = Assert.Throws<ArgumentException>(Render);
        Assert.Equal($"--time {time}: not a Slurm time limit; give minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 90, 02:00:00 or 1-12), or UNLIMITED (also INFINITE or -1).", e.Message);
    }

    [Fact]
    public void A_spec_name_never_reaches_the_script_raw()
    {
        // The loader refuses control characters in name:, but a name that got past it must still not end the comment
        // line and start a command of its own.
        var loaded = ExperimentSpec.Load(Onboarding.Repo.PathOf("experiments/kd-temperature.yaml"));
        var spec = new ExperimentSpec
        {
            File = loaded.File, Name = "x\ntouch /tmp/pwned", Text = loaded.Text, GridKeys = loaded.GridKeys, Runs = loaded.Runs, Hash = loaded.Hash,
        };
        var lines = SlurmScript.Render(spec, "/d", ["distill"], concurrent: 1, cpusPerTask: 1, null, null).Split('\n');
        Assert.DoesNotContain(lines, l => l.StartsWith("touch", StringComparison.Ordinal));
        Assert.StartsWith("# x-touch--tmp-pwned: 12 runs of spec", lines[1], StringComparison.Ordinal);
    }

    /// <summary>A cluster's own options (an account, memory) had no way in but editing the script, which the next `sweep
    /// slurm` replaced: --sbatch writes them each time. Options the script sets itself are refused (sbatch takes the later
    /// of two, and the array or thread count would differ from the plan). A requeued task appends to its log, which a
    /// second attempt truncated.</summary>
    [Fact]
    public void Cluster_options_are_written_as_sbatch_lines_and_a_requeued_task_appends_to_its_log()
    {
        var spec = ExperimentSpec.Load(Onboarding.Repo.PathOf("experiments/kd-temperature.yaml"));
        var lines = SlurmScript.Render(spec, "/d", ["distill"], concurrent: 1, cpusPerTask: 1, null, null, ["--account=myproj", "--mem=4G", "--comment=two words"]).Split('\n');
        Assert.Contains("#SBATCH --account=myproj", lines);
        Assert.Contains("#SBATCH --mem=4G", lines);
        Assert.Contains("#SBATCH \"--comment=two words\"", lines);
        Assert.Contains("#SBATCH --open-mode=append", lines);
        var firstCommand = Array.FindIndex(lines, l => l.Length > 0 && !l.StartsWith('#'));
        Assert.True(Array.FindLastIndex(lines, l => l.StartsWith("#SBATCH", StringComparison.Ordinal)) < firstCommand);
        // sbatch reads a short option's attached value, any unambiguous prefix of a long one and a value after a space:
        // each of these changed the array, thread count, log or requeueing past a check of the exact spelling.
        foreach (var (option, message) in new[]
                 {
                     ("--array=0-3", "this script sets --array itself"), ("-c=4", "this script sets --cpus-per-task itself"), ("myproj", "give an sbatch option"),
                     ("-a0-9", "sets --array itself"), ("-c4", "sets --cpus-per-task itself"), ("--arr=0-99", "sets --array itself"), ("--cpus=8", "sets --cpus-per-task itself"),
                     ("-oX", "sets --output itself"), ("--array 0-9", "sets --array itself"), ("-J x", "sets --job-name itself"), ("--no-requeue", "sets --requeue itself"),
                     ("- x", "give an sbatch option"), ("-=4", "give an sbatch option"),
                 })
            Assert.Contains(message, Assert.Throws<ArgumentException>(() => SlurmScript.Render(spec, "/d", ["distill"], 1, 1, null, null, [option])).Message, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --time=10", SlurmScript.Render(spec, "/d", ["distill"], 1, 1, null, null, ["--time=10"]).Split('\n'));
        Assert.Contains("#SBATCH -e/tmp/e", SlurmScript.Render(spec, "/d", ["distill"], 1, 1, null, null, ["-e/tmp/e"]).Split('\n')); // not one of ours
        Assert.Throws<ArgumentException>(() => SlurmScript.Render(spec, "/d", ["distill"], 1, 1, null, "20", ["--time=10"]));
    }

    /// <summary>A limit of 2 minutes or less with the stop signal asked for 60 s before it: the task may be stopped at any
    /// point (a tester's 35 s run stopped after 28 s of a 1-minute limit).</summary>
    [Theory]
    [InlineData("1", true)]
    [InlineData("2", true)]
    [InlineData("1:30", true)]
    [InlineData("0:02:00", true)]
    [InlineData("3", false)]
    [InlineData("02:00:00", false)]
    [InlineData("1-00", false)]
    [InlineData("UNLIMITED", false)]
    [InlineData("0", false)] // zero is no limit (man sbatch); it was warned of as two minutes or less
    [InlineData("00:00:00", false)]
    [InlineData("0:0", false)]
    public void A_time_limit_of_two_minutes_or_less_is_warned_of(string time, bool warned) =>
        Assert.Equal(warned, SlurmScript.TimeWarning(time) is not null);
}
