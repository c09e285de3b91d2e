namespace Distill.Notebooks.Tests;

/// <summary>
/// Fault injection on `distill train`'s run folder and on the commands' signal handling, through the real CLI: a run
/// folder holds one run, refuses silent mixing, survives SIGTERM and kill -9, and resumes to the uninterrupted result.
/// </summary>
public class RunFolderTests
{
    static string[] Train(string outDir, int epochs = 2, int trainSize = 512, string lr = "0.05", params string[] extra) =>
        ["train", "--model", "mlp-32", "--train-size", $"{trainSize}", "--test-size", "256", "--epochs", $"{epochs}", "--lr", lr, "--out", outDir, .. extra];

    /// <summary>metrics.csv without the timing columns (seconds, samples/s), which differ between identical runs.</summary>
    static List<string> Metrics(string dir) =>
        [.. File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Select(l => string.Join(",", l.Split(',')[..^2]))];

    /// <summary>At the command line the advice read only "pass --force": its "(instead of --resume; Force = true in
    /// TrainOptions)" was left out whole with the library setting, and --resume --force together is refused.</summary>
    [Fact]
    public void A_resume_that_cannot_be_checked_says_force_replaces_resume()
    {
        using var root = new TempDir("runfolder-stamp");
        var dir = Path.Combine(root.Path, "run");
        Assert.Equal(0, DistillProcess.Run(Train(dir, epochs: 1)).Exit);
        File.Delete(Path.Combine(dir, "run.json"));
        var r = DistillProcess.Run(Train(dir, 1, 512, "0.5", "--resume"));
        Assert.Equal(1, r.Exit);
        Assert.EndsWith("pass --force (instead of --resume) to clear the folder and start over, or give another folder.", r.Err.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_holding_a_run_refuses_a_new_run_and_a_resume_with_changed_settings_names_each_change()
    {
        using var root = new TempDir("runfolder");
        var dir = Path.Combine(root.Path, "run");
        Assert.Equal(0, DistillProcess.Run(Train(dir)).Exit);
        var record = File.ReadAllText(Path.Combine(dir, "run.json"));
        foreach (var key in new[] { "\"seed\"", "\"threads\"", "\"data_sha256\"", "\"commit\"", "\"optimizer\"", "\"data\"" }) Assert.Contains(key, record);
        var metrics = Metrics(dir);

        // The same command again is this run, which --resume reads back; another command is told what differs, and not
        // sent to --resume, which would refuse it.
        var again = DistillProcess.Run(Train(dir));
        Assert.Equal(1, again.Exit);
        Assert.Contains($"error: --out {dir} holds this run already (mlp-32, seed 0, started", again.Err);
        Assert.Contains("with this command's settings). Pass --resume to continue it (a finished run is read back, not retrained)", again.Err);
        var other = DistillProcess.Run(Train(dir, epochs: 3));
        Assert.Equal(1, other.Exit);
        Assert.Contains($"error: --out {dir} holds another run (mlp-32, seed 0, started", other.Err);
        Assert.Contains("it differs in epochs: 2 → 3). Pass --force to clear the folder and start over, or give another folder.", other.Err);
        Assert.DoesNotContain("--resume", other.Err);

        var changed = DistillProcess.Run(Train(dir, epochs: 4, trainSize: 1000, lr: "0.5", "--resume"));
        Assert.Equal(1, changed.Exit);
        Assert.Contains("data_train: 512 → 1000", changed.Err);
        Assert.Contains("epochs: 2 → 4", changed.Err);
        Assert.Contains("optimizer: sgd(lr=0.05, momentum=0.9, nesterov, wd=0.0005) → sgd(lr=0.5,", changed.Err);
        Assert.Equal(metrics, Metrics(dir)); // nothing appended

        // The same run spelled another way (CPU for auto on a machine without CUDA) is this run: read back, not refused.
        var spelled = DistillProcess.Run(Train(dir, extra: ["--device", "CPU", "--resume"]));
        Assert.True(spelled.Exit == 0, spelled.Err);
        Assert.Equal(metrics, Metrics(dir));

        var forced = DistillProcess.Run(Train(dir, epochs: 1, extra: "--force"));
        Assert.Equal(0, forced.Exit);
        Assert.Contains($"--force: cleared {dir}", forced.Out);
        Assert.Equal(2, Metrics(dir).Count); // header + the new run's one epoch
    }

    /// <summary>What a run writes into tb/ is its event files: --resume and --force deleted the whole folder, a user's
    /// notes in it too. Metrics or events without a checkpoint or record are no run to resume (resuming "it" trained
    /// over a user's metrics.csv), and a folder holding only another run's events is refused, not mixed with it.</summary>
    [Fact]
    public void Resume_and_force_delete_only_the_runs_own_files_and_leftovers_without_a_checkpoint_are_no_run_to_resume()
    {
        using var root = new TempDir("runfolder-tb");
        var dir = Path.Combine(root.Path, "run");
        Assert.Equal(0, DistillProcess.Run(Train(dir, epochs: 1)).Exit);
        var notes = Path.Combine(dir, "tb", "README.txt");
        File.WriteAllText(notes, "my notes");
        var resumed = DistillProcess.Run(Train(dir, 1, extra: "--resume"));
        Assert.True(resumed.Exit == 0, resumed.Err);
        Assert.Equal("my notes", File.ReadAllText(notes));
        Assert.Single(Directory.GetFiles(Path.Combine(dir, "tb"), "events.out.tfevents.*"));
        Assert.Equal(0, DistillProcess.Run(Train(dir, 1, extra: "--force")).Exit);
        Assert.Equal("my notes", File.ReadAllText(notes));

        var foreign = Path.Combine(root.Path, "foreign");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "metrics.csv"), "my,own\n1,2\n");
        var resume = DistillProcess.Run(Train(foreign, 1, extra: "--resume"));
        Assert.Equal(1, resume.Exit);
        Assert.Contains($"there is no run to resume: {foreign} holds {Path.Combine(foreign, "metrics.csv")} but no checkpoint (last.ckpt) or run record (run.json)", resume.Err);
        var fresh = DistillProcess.Run(Train(foreign, 1));
        Assert.Equal(1, fresh.Exit);
        Assert.DoesNotContain("--resume", fresh.Err);
        Assert.Equal("my,own\n1,2\n", File.ReadAllText(Path.Combine(foreign, "metrics.csv")));

        var eventsOnly = Path.Combine(root.Path, "events-only");
        Directory.CreateDirectory(Path.Combine(eventsOnly, "tb"));
        foreach (var events in Directory.GetFiles(Path.Combine(dir, "tb"), "events.out.tfevents.*")) File.Copy(events, Path.Combine(eventsOnly, "tb", Path.GetFileName(events)));
        var mixed = DistillProcess.Run(Train(eventsOnly, 1));
        Assert.Equal(1, mixed.Exit);
        Assert.Contains($"holds TensorBoard events in {Path.Combine(eventsOnly, "tb")} of another run", mixed.Err);
        Assert.False(File.Exists(Path.Combine(eventsOnly, "run.json")));
    }

    /// <summary>The same bytes read from another folder are the same data: a resume after the dataset moved (or with
    /// DISTILL_DATA set to a copy) was refused for the path alone. A thread count that differs says where it comes from,
    /// and a DISTILL_DATA that names nothing is a warning, not a silent fall-back to the system copy.</summary>
    [Fact]
    public void A_resume_compares_the_data_by_checksum_and_names_the_thread_variable_and_a_missing_data_folder_is_a_warning()
    {
        using var root = new TempDir("runfolder-data");
        var dir = Path.Combine(root.Path, "run");
        Assert.Equal(0, DistillProcess.Run(Train(dir, epochs: 1)).Exit);
        var copy = Path.Combine(root.Path, "data", "fashion-mnist");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(Distill.Data.DatasetCatalog.FashionMnist.Locate(Distill.Data.DatasetSearch.Default)!)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var moved = DistillProcess.Start(Train(dir, 1, extra: "--resume"));
        moved.Environment["DISTILL_DATA"] = Path.Combine(root.Path, "data");
        var m = DistillProcess.Run(moved);
        Assert.True(m.Exit == 0, m.Err);
        Assert.Contains($"(from {copy})", m.Out);

        var threads = DistillProcess.Start(Train(dir, 1, extra: "--resume"));
        threads.Environment["DISTILL_THREADS"] = "1";
        var t = DistillProcess.Run(threads);
        Assert.Equal(1, t.Exit);
        Assert.Contains("threads: 2 → 1", t.Err);
        Assert.Contains("(the thread count too: DISTILL_THREADS=2 for train, --threads 2 for sweep run)", t.Err);

        var missing = DistillProcess.Start(Train(Path.Combine(root.Path, "other"), 1));
        missing.Environment["DISTILL_DATA"] = Path.Combine(root.Path, "no-such-folder");
        var n = DistillProcess.Run(missing);
        Assert.True(n.Exit == 0, n.Err);
        Assert.Contains($"warning: DISTILL_DATA={Path.Combine(root.Path, "no-such-folder")} does not exist, so datasets come from the other folders", n.Err);
    }

    /// <summary>A shared folder whose run another user made: a resume as this user failed with "Access to the path ...
    /// is denied ... report the trace", and only after rewriting run.json and metrics.csv. Now one line names what
    /// cannot be written, before anything is. Permissions do not bind root, so as root the resume runs as nobody.</summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_run_folder_this_user_may_not_write_is_named_before_anything_is_written()
    {
        using var root = new TempDir("runfolder-denied");
        File.SetUnixFileMode(root.Path, (UnixFileMode)0b111_111_111);
        var dir = Path.Combine(root.Path, "shared");
        Assert.Equal(0, DistillProcess.Run(Train(dir, epochs: 1)).Exit);
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111);
        var record = File.ReadAllText(Path.Combine(dir, "run.json"));
        (int Exit, string Err) ResumeAsAnother()
        {
            var psi = DistillProcess.Start(Train(dir, 1, extra: "--resume"));
            if (Environment.UserName == "root")
            {
                psi.ArgumentList.Insert(0, psi.FileName);
                foreach (var a in new[] { "--clear-groups", "--regid=65534", "--reuid=65534" }) psi.ArgumentList.Insert(0, a);
                psi.FileName = "setpriv";
            }
            (psi.Environment["HOME"], psi.Environment["DISTILL_TEACHER_CACHE"]) = (root.Path, "off");
            var r = DistillProcess.Run(psi);
            return (r.Exit, r.Err);
        }
        var tb = ResumeAsAnother();
        Assert.Equal(1, tb.Exit);
        Assert.Equal($"error: --out {dir}: {Path.Combine(dir, "tb")} cannot be written (permission denied), where the run writes its TensorBoard events; " +
                     "give this user write access to it (chown or chmod), or give another --out.", tb.Err.Trim());
        Assert.Equal(record, File.ReadAllText(Path.Combine(dir, "run.json")));
        File.SetUnixFileMode(Path.Combine(dir, "tb"), (UnixFileMode)0b111_111_111);
        File.SetUnixFileMode(Path.Combine(dir, "run.lock"), (UnixFileMode)0b110_100_100);
        var locked = ResumeAsAnother();
        Assert.Equal(1, locked.Exit);
        Assert.Contains($"'{Path.Combine(dir, "run.lock")}': permission denied (this user may not read or write it, mode 644; it may belong to another user)", locked.Err);
        Assert.DoesNotContain("report the trace", locked.Err);
        Assert.Equal(record, File.ReadAllText(Path.Combine(dir, "run.json")));
    }

    /// <summary>An option where a value belongs (the folder forgotten) is no folder name: `--out --resume` created a
    /// folder named --resume and trained into it.</summary>
    [Fact]
    public void An_option_given_as_a_value_is_refused()
    {
        using var root = new TempDir("runfolder-optvalue");
        var psi = DistillProcess.Start(Train("--resume", 1));
        psi.WorkingDirectory = root.Path;
        var r = DistillProcess.Run(psi);
        Assert.Equal(2, r.Exit);
        Assert.Contains("error: --out --resume: --resume looks like an option, where --out needs a value", r.Err);
        Assert.Empty(Directory.GetFileSystemEntries(root.Path));
    }

    /// <summary>--teacher-train-size 60000 is Fashion-MNIST's whole training split, the subset the flag's absence takes:
    /// a --resume that spelled it out was refused as "teacher_train_size:  → 60000".</summary>
    [Fact]
    public void A_resume_naming_the_whole_split_as_teacher_train_size_is_the_same_run_and_a_subset_is_not()
    {
        using var root = new TempDir("runfolder-teacher-size");
        var dir = Path.Combine(root.Path, "run");
        string[] distill(params string[] extra) => ["train", "--model", "mlp-32", "--teacher", "mlp-32", "--train-size", "256", "--test-size", "200",
            "--epochs", "1", "--teacher-epochs", "1", "--out", dir, .. extra];
        var first = DistillProcess.Run(distill());
        Assert.True(first.Exit == 0, first.Err);
        var spelled = DistillProcess.Run(distill("--teacher-train-size", "60000", "--resume"));
        Assert.True(spelled.Exit == 0, spelled.Err);
        var subset = DistillProcess.Run(distill("--teacher-train-size", "1000", "--resume"));
        Assert.Equal(1, subset.Exit);
        Assert.Contains("teacher_train_size:  → 1000", subset.Err);
    }

    /// <summary>kd-multi trains its own teachers (teacher-N-*/ and student/, with no --teacher): its folder was refused
    /// to its own --resume as "another run", finished or stopped.</summary>
    [Fact]
    public void A_kd_multi_run_resumes_in_its_own_folder()
    {
        using var root = new TempDir("runfolder-kd-multi");
        var dir = Path.Combine(root.Path, "run");
        string[] args = ["train", "--model", "mlp-32", "--method", "kd-multi", "--set", "teachers=mlp-32,mlp-64", "--train-size", "256", "--test-size", "100",
            "--epochs", "1", "--teacher-epochs", "1", "--teacher-train-size", "256", "--out", dir];
        var first = DistillProcess.Run(args);
        Assert.True(first.Exit == 0, first.Err);
        var resumed = DistillProcess.Run([.. args, "--resume"]);
        Assert.True(resumed.Exit == 0, resumed.Err);

        // Other teachers are refused by the student's folder before they train: they were trained into --out (a stray
        // teacher-1-mlp-24/ that deploy export then listed), and a refused --resume added a resume to teacher records.
        var records = Directory.GetFiles(dir, "run.json", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllText);
        string[] others = [.. args.Select(a => a == "teachers=mlp-32,mlp-64" ? "teachers=mlp-24" : a)];
        var epochs = Array.IndexOf(args, "--epochs");
        string[] longer = [.. args[..(epochs + 1)], "2", .. args[(epochs + 2)..]]; // the student's own option, not the teachers'
        foreach (var (command, error, named) in new[]
                 {
                     (others, $"error: --out {Path.Combine(dir, "student")} holds another run (mlp-32 (kd-multi:teachers=mlp-32,mlp-64), seed 0, started ", "teachers=mlp-24"),
                     ([.. others, "--resume"], $"error: --resume {Path.Combine(dir, "student")}: the run there was started with other settings (method: kd-multi ", "teachers=mlp-24"),
                     ([.. longer, "--resume"], $"error: --resume {Path.Combine(dir, "student")}: the run there was started with other settings (epochs: 1 → 2)", "epochs"),
                 })
        {
            var refused = DistillProcess.Run(command);
            Assert.Equal(1, refused.Exit);
            Assert.StartsWith(error, refused.Err.Trim(), StringComparison.Ordinal);
            Assert.Contains(named, refused.Err);
            Assert.DoesNotContain("epoch", refused.Out); // nothing trained
            Assert.Equal(["student", "teacher-1-mlp-32", "teacher-2-mlp-64"], Directory.GetDirectories(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(records, Directory.GetFiles(dir, "run.json", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllText));
        }
    }

    /// <summary>A plain run writes --out itself, a distillation its teacher/ and student/, a recipe RUN/seedN: a folder
    /// holding one kind refuses the others (they were written beside it and mixed), and --force clears it.</summary>
    [Fact]
    public void A_folder_holding_another_kind_of_run_refuses_a_plain_run_a_distillation_and_a_recipe()
    {
        using var root = new TempDir("runfolder-kinds");
        string plain = Path.Combine(root.Path, "plain"), distilled = Path.Combine(root.Path, "distilled"), recipe = Path.Combine(root.Path, "recipe");
        string[] distill(string dir) => ["train", "--model", "mlp-32", "--teacher", "mlp-32", "--method", "dkd", "--train-size", "256", "--test-size", "200",
            "--epochs", "1", "--teacher-epochs", "1", "--teacher-train-size", "256", "--out", dir];
        Assert.Equal(0, DistillProcess.Run(Train(plain, epochs: 1, trainSize: 256)).Exit);
        Assert.Equal(0, DistillProcess.Run(distill(distilled)).Exit);
        Directory.CreateDirectory(Path.Combine(recipe, "scratch", "seed0"));
        File.WriteAllText(Path.Combine(recipe, "scratch", "seed0", "run.json"), "{\"name\": \"scratch\", \"seed\": \"0\"}");

        foreach (var (args, held) in new[]
                 {
                     (distill(plain), $"{plain} holds another run (mlp-32, seed 0, started "),
                     (Train(distilled, epochs: 1, trainSize: 256), $"{distilled} holds another run (mlp-32 (dkd), seed 0, started "),
                     (Train(recipe, epochs: 1, trainSize: 256), $"{recipe} holds another run (scratch, seed 0, started ?, in {Path.Combine(recipe, "scratch", "seed0")})"),
                     (["train", "--recipe", "soft-targets", "--budget", "smoke", "--out", plain], $"{plain} holds another run (mlp-32, seed 0, started "),
                 })
        {
            var r = DistillProcess.Run(args);
            Assert.True(r.Exit == 1, $"{string.Join(' ', args)} → {r.Exit}\n{r.Err}");
            Assert.Contains($"error: --out {held}", r.Err);
            Assert.Contains("pass --force to replace it, or choose another folder.", r.Err);
            Assert.DoesNotContain("epoch ", r.Out);
        }

        // Nor inside another run's folder (its tb/ took a whole run, or a sweep): nothing is created there.
        foreach (var args in new[] { Train(Path.Combine(plain, "tb", "run"), epochs: 1, trainSize: 256), ["sweep", "run", SweepTests.Tiny, "--out", Path.Combine(plain, "tb", "sweep")] })
        {
            var r = DistillProcess.Run(args);
            Assert.True(r.Exit == 1, $"{string.Join(' ', args)} → {r.Exit}\n{r.Err}");
            Assert.StartsWith($"error: --out {args[^1]} is inside the run folder {plain} (mlp-32, seed 0, started ", r.Err.Trim(), StringComparison.Ordinal);
            Assert.EndsWith("); give a folder outside it.", r.Err.Trim(), StringComparison.Ordinal);
            Assert.False(Directory.Exists(args[^1]));
        }

        var forced = DistillProcess.Run(Train(distilled, epochs: 1, trainSize: 256, extra: "--force"));
        Assert.Equal(0, forced.Exit);
        Assert.Contains($"--force: cleared {Path.Combine(distilled, "student")}", forced.Out);
        Assert.False(File.Exists(Path.Combine(distilled, "student", "run.json")));

        // Runs of their own in subfolders (experiments under a project's runs/) are no layout of distill's: --force
        // deleted them all; now it refuses, and they stay whole.
        var parent = Path.Combine(root.Path, "parent");
        Assert.Equal(0, DistillProcess.Run(Train(Path.Combine(parent, "exp-a"), epochs: 1, trainSize: 256)).Exit);
        Assert.Equal(0, DistillProcess.Run(Train(Path.Combine(parent, "exp-b", "seed0"), epochs: 1, trainSize: 256)).Exit);
        var wiped = DistillProcess.Run(Train(parent, epochs: 1, trainSize: 256, extra: "--force"));
        Assert.Equal(1, wiped.Exit);
        Assert.Contains($"error: --out {parent}: {Path.Combine(parent, "exp-a")} holds a run of its own (not one of this folder's teacher/, student/ or RUN/seedN runs), which --force does not delete", wiped.Err);
        foreach (var kept in new[] { Path.Combine(parent, "exp-a"), Path.Combine(parent, "exp-b", "seed0") })
            Assert.True(File.Exists(Path.Combine(kept, "last.ckpt")) && File.Exists(Path.Combine(kept, "run.json")), $"{kept} lost its run");
    }

    [Fact]
    public void A_second_run_fails_at_once_naming_the_pid_SIGTERM_and_kill_9_keep_the_checkpoint_and_resume_matches_an_uninterrupted_run()
    {
        using var root = new TempDir("runfolder-signals");
        var dir = Path.Combine(root.Path, "run");
        // Long enough (about 10 s on 2 cores) that the first run is still training when the second one has started,
        // checked and exited, and when SIGTERM arrives: with 4,096 images it once finished first.
        const int epochs = 30, images = 20000;
        var args = Train(dir, epochs, trainSize: images);
        using (var first = new DistillProcess.Running(DistillProcess.Start(args)))
        {
            first.WaitFor($"epoch   2/{epochs}", TimeSpan.FromMinutes(2));
            var second = DistillProcess.Run([.. args, "--resume"]);
            Assert.Equal(1, second.Exit);
            Assert.Contains($"error: --out {dir} is in use by another run (PID {first.Process.Id})", second.Err);

            Assert.False(first.Process.HasExited, "the first run finished before it could be signalled: make it longer");
            first.Signal("TERM");
            Assert.Equal(143, first.Exit(TimeSpan.FromSeconds(60)));
            Assert.Contains("Terminated (SIGTERM)", first.Output);
            Assert.Matches(@"mlp-32: stopped at epoch \d+, step \d+; its state at that step is checkpointed in .*: --resume continues from step \d+", first.Output);
        }
        using (var resumed = new DistillProcess.Running(DistillProcess.Start([.. args, "--resume"])))
        {
            resumed.WaitFor("resuming mlp-32", TimeSpan.FromMinutes(2));
            resumed.WaitFor($"/{epochs}  lr", TimeSpan.FromMinutes(2));
            resumed.Signal("KILL"); // no handler runs: the lock goes with the process, a temp file may stay behind
            Assert.Equal(137, resumed.Exit(TimeSpan.FromSeconds(30)));
        }
        File.WriteAllText(Path.Combine(dir, ".last.ckpt.99999.tmp"), "left by a kill during a checkpoint write");
        var finished = DistillProcess.Run([.. args, "--resume"]);
        Assert.True(finished.Exit == 0, finished.Err);
        Assert.Empty(Directory.GetFiles(dir, ".*.tmp"));

        var reference = Path.Combine(root.Path, "uninterrupted");
        Assert.Equal(0, DistillProcess.Run(Train(reference, epochs, trainSize: images)).Exit);
        Assert.Equal(Metrics(reference), Metrics(dir));
        Assert.Equal(epochs + 1, Metrics(dir).Count);
    }

    static string Weights(string output) => System.Text.RegularExpressions.Regex.Match(output, "weights sha256 ([0-9a-f]{64})") is { Success: true } m
        ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException($"no weights digest in:\n{output}");

    /// <summary>kill -9 halfway through a checkpoint write (injected: DISTILL_FAULT), then at five random moments
    /// (seeded) of the resumed runs: the last resume ends with the uninterrupted run's weights, bit for bit, and the
    /// metrics hold each epoch once.</summary>
    [Fact]
    public void Kill_9_during_a_checkpoint_write_and_at_five_random_moments_then_resume_ends_with_the_uninterrupted_weights()
    {
        using var root = new TempDir("runfolder-kill9");
        var dir = Path.Combine(root.Path, "run");
        // 32 epochs: the crash keeps 2, and each of the five resumes below runs its first epoch and then sleeps up to that
        // epoch's time, which holds the process's warm-up, so later (faster) epochs can fit several times into it: with
        // 16 the run once finished before the fifth kill (CI, 2026-12-03). 2 + 5 × 5 epochs still leave room.
        const int epochs = 32, images = 8192;
        var args = Train(dir, epochs, trainSize: images);
        var reference = DistillProcess.Run(Train(Path.Combine(root.Path, "uninterrupted"), epochs, trainSize: images));
        Assert.True(reference.Exit == 0, reference.Err);

        var psi = DistillProcess.Start(args);
        psi.Environment["DISTILL_FAULT"] = "kill-during-checkpoint:3";
        using (var crashing = new DistillProcess.Running(psi))
            Assert.Equal(137, crashing.Exit(TimeSpan.FromMinutes(3)));
        Assert.Single(Directory.GetFiles(dir, ".last.ckpt.*.tmp")); // the half-written checkpoint; last.ckpt is epoch 2's
        Assert.Equal(2, Distill.Training.Checkpoint.ReadInfo(Path.Combine(dir, "last.ckpt")).Epoch);

        var rng = new Random(13);
        var kills = 0;
        for (var i = 0; i < 5; i++)
        {
            using var resumed = new DistillProcess.Running(DistillProcess.Start([.. args, "--resume"]));
            resumed.WaitFor("resuming mlp-32", TimeSpan.FromMinutes(2));
            // A random moment within the epoch after the first one the resume finishes, timed by that first epoch: the
            // kill lands mid-step, mid-evaluation or mid-checkpoint, whatever the machine's speed.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            resumed.WaitFor($"/{epochs}  lr", TimeSpan.FromMinutes(2));
            Thread.Sleep(TimeSpan.FromMilliseconds(rng.NextDouble() * clock.Elapsed.TotalMilliseconds));
            resumed.Signal("KILL");
            if (resumed.Exit(TimeSpan.FromSeconds(30)) == 137) kills++;
        }
        Assert.True(kills == 5, $"only {kills} of 5 kills landed before the run finished");
        var finished = DistillProcess.Run([.. args, "--resume"]);
        Assert.True(finished.Exit == 0, finished.Err);
        Assert.Empty(Directory.GetFiles(dir, ".*.tmp"));
        Assert.Equal(Weights(reference.Out), Weights(finished.Out));
        Assert.Equal(Metrics(Path.Combine(root.Path, "uninterrupted")), Metrics(dir));
    }

    /// <summary>Ctrl-C (SIGINT) and SIGTERM (timeout, Slurm, Kubernetes, CI cancellation) to `distill run`: it stops the
    /// running cell and writes what has run, with the conventional exit code.</summary>
    [Theory]
    [InlineData("INT", 130, "Interrupted")]
    [InlineData("TERM", 143, "Terminated (SIGTERM)")]
    [InlineData("HUP", 143, "Hung up (SIGHUP)")] // a closed terminal: it ended the run at once, with no report
    public void A_signal_to_run_writes_what_has_run_and_exits_with_its_code(string signal, int exitCode, string said)
    {
        using var dir = new TempDir("signal-run");
        var nb = TestSupport.WriteNotebook(dir.Path, "long.ipynb",
            ("Console.WriteLine(\"first cell\");", null),
            ("Console.WriteLine(\"training...\");\nSystem.Threading.Thread.Sleep(60_000);", null),
            ("Console.WriteLine(\"never\");", null));
        var outDir = Path.Combine(dir.Path, "out");
        using var run = new DistillProcess.Running(DistillProcess.Start("run", nb, "--out", outDir));
        run.WaitFor("cell 1 ", TimeSpan.FromMinutes(2));
        Thread.Sleep(500);
        run.Signal(signal);
        Assert.Equal(exitCode, run.Exit(TimeSpan.FromSeconds(30)));
        Assert.Contains($"{said}: writing what has run so far", run.Output);
        var cells = TestSupport.ReadJson(Path.Combine(outDir, "long.ipynb"))["cells"]!.AsArray();
        Assert.Equal("first cell\n", TestSupport.Text(cells[0]!["outputs"]![0]!["text"]));
        Assert.Equal("Interrupted", cells[1]!["outputs"]!.AsArray().Last()!["ename"]!.GetValue<string>());
        Assert.Null(cells[2]!["execution_count"]);
        Assert.Equal("interrupted", TestSupport.ReadJson(Path.Combine(outDir, "long.manifest.json"))["status"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(outDir, "long.html")));
    }

    /// <summary>A terminal that really closes (an ssh session dropped) hangs up: SIGHUP, and every write to the terminal
    /// fails with EIO. `train` and `run` died of those writes (SIGABRT, or exit 1 from a progress line written before the
    /// handler ran) with no checkpoint at the step and no report. They stop as on SIGTERM. A pty whose master side is
    /// closed is such a terminal (python3's pty module runs the command on one).</summary>
    [Theory]
    [InlineData("train")]
    [InlineData("run")]
    public void A_closed_terminal_stops_train_and_run_as_SIGTERM_does(string command)
    {
        using var dir = new TempDir("hangup");
        var script = Path.Combine(dir.Path, "hangup.py");
        File.WriteAllText(script, """
            import os, pty, sys, time
            marker, args = sys.argv[1].encode(), sys.argv[2:]
            pid, fd = pty.fork()
            if pid == 0:
                os.execvp(args[0], args)
            seen, deadline = b"", time.time() + 120
            while marker not in seen and time.time() < deadline:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
            os.close(fd)
            print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
            """);
        var cli = DistillProcess.Start();
        var outDir = Path.Combine(dir.Path, "out");
        string[] args = command == "train"
            ? ["epoch   2/", .. cli.ArgumentList.Prepend(cli.FileName), .. Train(outDir, epochs: 40, trainSize: 2048)]
            : ["cell 1 ", .. cli.ArgumentList.Prepend(cli.FileName), "run", TestSupport.WriteNotebook(dir.Path, "slow.ipynb", ("Console.WriteLine(\"first\");", null),
                ("for (var i = 0; i < 120; i++) { Console.WriteLine(i); System.Threading.Thread.Sleep(500); }", null)), "--out", outDir];
        var psi = new System.Diagnostics.ProcessStartInfo("python3", [script, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in cli.Environment) psi.Environment[k] = v;
        var r = DistillProcess.Run(psi);
        Assert.True(r.Out.Trim() == "143", $"exit {r.Out.Trim()} after the hang-up; {r.Err}");
        if (command == "train")
            Assert.NotNull(Distill.Training.Checkpoint.ReadInfo(Path.Combine(outDir, Distill.Training.Checkpoint.FileName)).InProgress); // stopped at a step, not an epoch's end
        else
            Assert.Equal("interrupted", TestSupport.ReadJson(Path.Combine(outDir, "slow.manifest.json"))["status"]!.GetValue<string>());
    }

    /// <summary>A `reproduce` killed outright (kill -9, the OOM killer) passes no signal on: its notebook's `distill run`
    /// went on alone and later wrote its report over a newer run's. The child notices its parent is gone, stops as on
    /// SIGTERM and writes what has run.</summary>
    [Fact]
    public void A_notebook_process_whose_reproduce_was_killed_stops_and_writes_what_has_run()
    {
        using var dir = new TempDir("orphan");
        var notebooks = Path.Combine(dir.Path, "notebooks");
        Directory.CreateDirectory(notebooks);
        TestSupport.WriteNotebook(notebooks, "00-slow.ipynb", ("Console.WriteLine(\"started\");", null), ("System.Threading.Thread.Sleep(120_000);", null));
        var outDir = Path.Combine(dir.Path, "out");
        var log = Path.Combine(outDir, "00-slow", "task.log");
        using (var reproduce = new DistillProcess.Running(DistillProcess.Start("reproduce", "--notebooks", notebooks, "--out", outDir, "--budget", "smoke")))
        {
            reproduce.WaitFor("cell 1 ", TimeSpan.FromMinutes(2));
            reproduce.Signal("KILL");
            reproduce.Exit(TimeSpan.FromSeconds(30));
        }
        var manifest = Path.Combine(outDir, "00-slow", "00-slow.manifest.json");
        // The runner writes a provisional manifest ("died") when it starts, replaced by the real one at the end.
        string Status() => File.Exists(manifest) ? TestSupport.ReadJson(manifest)["status"]!.GetValue<string>() : "none";
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Status() is "none" or "died" && waited.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(200);
        Assert.True(Status() == "interrupted", $"the orphaned notebook process wrote no report within 60 s (status {Status()}); {log}: {File.ReadAllText(log)}");
    }

    /// <summary>A --resume that changes only the student's method settings names the student's folder and the setting,
    /// not the teacher's (whose run does not depend on them); a number spelled another way (0.90 for 0.9) is the same
    /// setting.</summary>
    [Fact]
    public void Resume_with_another_method_setting_names_the_students_folder_and_numbers_compare_as_numbers()
    {
        using var root = new TempDir("resume-method");
        var o = Path.Combine(root.Path, "o");
        string[] run = ["train", "--model", "mlp-32", "--teacher", "mlp-32", "--train-size", "300", "--test-size", "100", "--epochs", "1",
            "--teacher-epochs", "1", "--teacher-train-size", "300", "--method", "kd", "--out", o];
        var first = DistillProcess.Run(run);
        Assert.True(first.Exit == 0, first.Err);
        var changed = DistillProcess.Run([.. run, "--set", "temperature=8", "--resume"]);
        Assert.Equal(1, changed.Exit);
        Assert.StartsWith($"error: --resume {Path.Combine(o, "student")}: the run there was started with other settings (method: kd ", changed.Err, StringComparison.Ordinal);
        Assert.Contains("temperature=4 ", changed.Err, StringComparison.Ordinal);
        Assert.Contains("temperature=8 ", changed.Err, StringComparison.Ordinal);
        var same = DistillProcess.Run([.. run, "--set", "alpha=0.90", "--resume"]);
        Assert.True(same.Exit == 0, same.Err);
    }

    /// <summary>`deploy bench` ignored the signal until the 30 s grace ended it, then blamed the model ("ONNX Runtime
    /// cannot run this model ... Export it again").</summary>
    [Fact]
    public void SIGTERM_stops_deploy_bench_at_once_with_what_was_timed()
    {
        using var dir = new TempDir("bench-signal");
        var run = Path.Combine(dir.Path, "run");
        var model = Path.Combine(dir.Path, "m.onnx");
        Assert.Equal(0, DistillProcess.Run(Train(run, epochs: 1, trainSize: 256)).Exit);
        Assert.Equal(0, DistillProcess.Run("deploy", "export", run, "--out", model).Exit);
        using var bench = new DistillProcess.Running(DistillProcess.Start("deploy", "bench", model, "--runs", "100000000"));
        bench.WaitFor("ONNX Runtime CPU", TimeSpan.FromMinutes(1));
        Thread.Sleep(500); // inside the timing
        bench.Signal("TERM");
        Assert.Equal(143, bench.Exit(TimeSpan.FromSeconds(15))); // well inside the 30 s grace
        Assert.Matches(@"batch   1, 1 thread : p50 +[\d.]+ ms, p90 +[\d.]+ ms \([\d,]+ runs?\)", bench.Output);
        Assert.Contains("bench stopped after ", bench.Output, StringComparison.Ordinal);
        Assert.Contains(" of 100,000,000 runs at batch 1, 1 thread; the line above is of those runs", bench.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("ONNX Runtime cannot run", bench.Output, StringComparison.Ordinal);
    }

    /// <summary>A command blocked where no safe point comes still ends on one SIGTERM, as `timeout` sends it, after the
    /// grace period, with SIGTERM's exit code. Here: `sweep slurm` waiting for the sweep folder's plan lock, which another
    /// process holds (util-linux flock; the inputs a user names, notebooks, specs, datasets, checkpoints, even a FIFO in
    /// place of plan.json, are refused before opening, so no read blocks).</summary>
    [Fact]
    public void One_SIGTERM_ends_a_command_blocked_on_a_read_after_the_grace_period()
    {
        using var dir = new TempDir("signal-lock");
        using var holder = System.Diagnostics.Process.Start("flock", ["-x", Path.Combine(dir.Path, ".plan.lock"), "sleep", "60"])!;
        try
        {
            Thread.Sleep(500); // flock has taken the lock
            var psi = DistillProcess.Start("sweep", "slurm", SweepTests.Tiny, "--out", dir.Path);
            psi.Environment["DISTILL_STOP_GRACE"] = "2";
            using var run = new DistillProcess.Running(psi);
            Thread.Sleep(3000); // slurm prints nothing before it has the plan
            var clock = System.Diagnostics.Stopwatch.StartNew();
            run.Signal("TERM");
            Assert.Equal(143, run.Exit(TimeSpan.FromSeconds(30)));
            Assert.InRange(clock.Elapsed.TotalSeconds, 1.5, 20); // the grace period, then the end, not the first signal ignored
            Assert.Contains("Terminated (SIGTERM): still running 2 s after the signal (blocked where it cannot stop, e.g. reading a FIFO); ending now", run.Output);
            Assert.False(File.Exists(Path.Combine(dir.Path, "plan.json")));
        }
        finally { holder.Kill(); }
    }

    /// <summary>The watchdog's end of a command still inside libtorch: a normal exit ran libtorch's C++ cleanup under the
    /// thread still in it (deploy export ended in an aten::kthvalue assert and a native trace, not 143). With a grace of
    /// 10 ms the watchdog fires mid-step, in a convolution; the process ends with SIGTERM's code and its one line.</summary>
    [Fact]
    public void The_watchdog_ends_a_command_inside_libtorch_with_its_exit_code_and_no_native_trace()
    {
        using var dir = new TempDir("watchdog-libtorch");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var psi = DistillProcess.Start("train", "--model", "cnn-32", "--train-size", "20000", "--test-size", "256", "--epochs", "3", "--out", Path.Combine(dir.Path, $"run{attempt}"));
            psi.Environment["DISTILL_STOP_GRACE"] = "0.01";
            using var run = new DistillProcess.Running(psi);
            run.WaitFor("device cpu", TimeSpan.FromMinutes(2));
            Thread.Sleep(1500 + 300 * attempt); // training, not loading
            run.Signal("TERM");
            Assert.True(run.Exit(TimeSpan.FromSeconds(30)) == 143, run.Output);
            Assert.Contains("Terminated (SIGTERM): still running 0.01 s after the signal", run.Output, StringComparison.Ordinal); // 10 ms, to 0.###
            foreach (var native in new[] { "terminate called", "INTERNAL ASSERT", "Exception raised from", "frame #" })
                Assert.DoesNotContain(native, run.Output, StringComparison.Ordinal);
        }
    }

    /// <summary>A notebook, spec or dataset file that is a FIFO would block its opening until someone writes to it: each
    /// is refused at once, by name, as an empty file.</summary>
    [Fact]
    public void A_FIFO_given_as_notebook_spec_or_dataset_is_refused_at_once()
    {
        using var dir = new TempDir("fifo-inputs");
        string Fifo(string name)
        {
            var path = Path.Combine(dir.Path, name);
            using (var mk = System.Diagnostics.Process.Start("mkfifo", [path])!) mk.WaitForExit();
            return path;
        }
        var nb = DistillProcess.Run(["run", Fifo("blocked.ipynb"), "--out", Path.Combine(dir.Path, "out")]);
        Assert.Equal(2, nb.Exit);
        Assert.Contains("blocked.ipynb: the file is empty (or not a regular file, e.g. a FIFO)", nb.Err, StringComparison.Ordinal);
        var spec = DistillProcess.Run(["spec", "check", Fifo("spec.yaml")]);
        Assert.NotEqual(0, spec.Exit);
        Assert.Contains("spec.yaml line 1: the file is empty (or not a regular file, e.g. a FIFO)", spec.Err, StringComparison.Ordinal);
        var data = Path.Combine(dir.Path, "data", "fashion-mnist");
        Directory.CreateDirectory(data);
        foreach (var f in Directory.GetFiles(Distill.Data.DatasetCatalog.FashionMnist.Locate(Distill.Data.DatasetSearch.Default)!)) File.Copy(f, Path.Combine(data, Path.GetFileName(f)));
        File.Delete(Path.Combine(data, "t10k-labels-idx1-ubyte.gz"));
        Fifo(Path.Combine("data", "fashion-mnist", "t10k-labels-idx1-ubyte.gz"));
        var psi = DistillProcess.Start("train", "--model", "mlp-32", "--epochs", "1", "--train-size", "100", "--out", Path.Combine(dir.Path, "run"));
        psi.Environment["DISTILL_DATA"] = Path.Combine(dir.Path, "data");
        using var train = new DistillProcess.Running(psi);
        Assert.Equal(1, train.Exit(TimeSpan.FromMinutes(2)));
        Assert.Contains("t10k-labels-idx1-ubyte.gz: the file is empty (0 bytes, or not a regular file such as a FIFO)", train.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_command_answers_bad_input_with_one_error_line_and_no_stack_trace()
    {
        using var dir = new TempDir("bad-input");
        var file = Path.Combine(dir.Path, "a-file");
        File.WriteAllText(file, "");
        var nb = TestSupport.WriteNotebook(dir.Path, "ok.ipynb", ("Console.WriteLine(\"ran\");", null));
        string[][] cases =
        [
            ["train", "--model", "mlp-32", "--alpha", "5"],
            ["train", "--model", "mlp-32", "--lr", "NaN"],
            ["train", "--model", "mlp-32", "--lr", "Infinity"],
            ["train", "--model", "mlp-32", "--lr", "3.5e38"],
            ["train", "--model", "mlp-32", "--lr", "1e-320"],
            ["train", "--model", "mlp-32", "--clip", "1e39"],
            ["train", "--model", "mlp-32", "--weight-decay", "0,0005"],
            ["train", "--model", "mlp-32", "--teacher", "mlp-32", "--kd-temperature", "2,5"],
            ["run", nb, "--cell-timeout", "1,5"],
            ["train", "--model", "mlp-32", "--kd-temperature", "0"],
            ["train", "--model", "mlp-32", "--budget", "huge"],
            ["train", "--model", "mlp-32", "--seeds", "a,b"],
            ["train", "--recipe", "soft-targets", "--kd-temperature", "2"],
            ["train", "--recipe", "soft-targets", "--budget", "huge"],
            ["train", "--recipe", "nosuch"],
            ["train", "--model", "mlp-32", "--out", file],
            ["train", "--model", "mlp-32", "--epochs", "0"],
            ["train", "--model", "nosuch"],
            ["train", "--model", "mlp-32", "--dataset", "nosuch"],
            ["train", "--model", "mlp-32", "--resume"],
            ["train", "--model", "mlp-32", "--teacher-epochs", "5"],
            ["train", "--recipe", "born-again", "--teacher", "cnn"],
            ["train", "--model", "mlp-32", "--alpha", "0.5"],
            ["train", "--model", "mlp-32", "--force"],
            ["train", "--model", "mlp-32", "--schedule", "step:10", "--epochs", "2"],
            ["train", "--model", "mlp-32", "--teacher", "mlp-32", "--method", "at", "--set", "layers=stage1,stage1"],
            ["train", "--model", "mlp-32", "--teacher", "mlp-32", "--method", "kd-multi", "--set", "teachers=mlp-32,bogus-9"],
            ["train", "--recipe", "fitnets", "--budget", "smoke", "--model", "mlp-32"],
            ["run", Path.Combine(dir.Path, "missing.ipynb")],
            ["run", nb, "--out", file],
            ["run", nb, "-p", "x"],
            ["reproduce", "--notebooks", Path.Combine(dir.Path, "no-such")],
            ["reproduce", "--notebooks", dir.Path, "--jobs", "0"],
            ["reproduce", "--notebooks", dir.Path, "--jobs", "2", "--threads", "0"],
            ["reference", Path.Combine(dir.Path, "missing.json")],
            ["data", "install", "nosuch"],
            ["train", "--model", "mlp-32", "--epochs", "1", "--train-size", "64", "--test-size", "64", "--out", "/sys/kernel"],
            ["data", "install", "--mirror", "notaurl", "mnist"],
            ["data", "install", "--mirror", "ftp://example.org/m", "mnist"],
            ["data", "install", "--mirror", "", "mnist"],
            ["bench", "--smoke", "--only", "nosuch"],
            ["bench", "--smoke", "--only", " , "],
            ["reproduce", "--notebooks", dir.Path, "--only", ","],
        ];
        foreach (var c in cases)
        {
            var (exit, stdout, stderr) = DistillProcess.Run(c);
            var what = $"distill {string.Join(' ', c)} → {exit}\n{stderr}{stdout}";
            Assert.True(exit is 1 or 2, what);
            Assert.Single(stderr.Split('\n'), l => l.StartsWith("error: ", StringComparison.Ordinal));
            Assert.DoesNotContain("   at ", stderr + stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("Succeeded", stderr, StringComparison.Ordinal); // nothing ran before the refusal
        }
    }

    /// <summary>The invariant culture reads a comma as a thousands separator: --kd-temperature 2,5 trained at T = 25 and
    /// --weight-decay 0,0005 at 5, silently. Values float32 cannot hold failed after the data loaded, or trained at 0.</summary>
    [Fact]
    public void Decimal_commas_and_numbers_beyond_float32_are_refused_naming_the_option()
    {
        var comma = DistillProcess.Run(["train", "--model", "mlp-32", "--teacher", "mlp-32", "--kd-temperature", "2,5"]);
        Assert.Equal((2, "error: --kd-temperature 2,5: write the number with a decimal point (2.5), without commas: numbers are read the same in every locale."),
            (comma.Exit, comma.Err.Split('\n')[0]));
        var huge = DistillProcess.Run(["train", "--model", "mlp-32", "--lr", "3.5e38"]);
        Assert.Equal((1, "error: --lr 3.5E+38: beyond float32's largest number (3.4e38), and training computes in float32; give a number in float32's range."), (huge.Exit, huge.Err.Trim()));
        // Named as typed: 1e400 was echoed as "Infinity".
        Assert.Equal("error: --lr 1e400: the learning rate must be a finite positive number.", DistillProcess.Run(["train", "--model", "mlp-32", "--lr", "1e400"]).Err.Trim());
        Assert.StartsWith("error: --schedule 'bogus': an unknown schedule; expected constant, cosine,", DistillProcess.Run(["train", "--model", "mlp-32", "--schedule", "bogus"]).Err, StringComparison.Ordinal);
        var tiny = DistillProcess.Run(["train", "--model", "mlp-32", "--lr", "1e-320"]);
        Assert.StartsWith("error: --lr 1E-320: below float32's smallest (1.4e-45), so it rounds to 0", tiny.Err, StringComparison.Ordinal);
    }

    /// <summary>A symbolic link that loops is named as one by every command that meets it, not as a missing run.json,
    /// "a file", a permissions problem, or an unexpected "Too many levels of symbolic links".</summary>
    [Fact]
    public void A_symbolic_link_that_loops_is_named_as_such()
    {
        using var dir = new TempDir("link-loop");
        var loop = Path.Combine(dir.Path, "loop");
        File.CreateSymbolicLink(loop, "loop2");
        File.CreateSymbolicLink(Path.Combine(dir.Path, "loop2"), "loop");
        string[][] cases =
        [
            ["deploy", "bench", loop],
            ["deploy", "export", loop, "--out", Path.Combine(dir.Path, "x.onnx")],
            ["train", "--model", "mlp-32", "--out", loop],
            ["train", "--model", "mlp-32", "--out", Path.Combine(loop, "run")], // through it: was "loop is a file"
            ["data", "inspect", loop],
        ];
        foreach (var c in cases)
        {
            var (exit, stdout, stderr) = DistillProcess.Run(c);
            var what = $"distill {string.Join(' ', c)} → {exit}\n{stderr}{stdout}";
            Assert.True(exit is 1 or 2, what);
            var error = Assert.Single(stderr.Split('\n'), l => l.StartsWith("error: ", StringComparison.Ordinal));
            Assert.Contains("a symbolic link that loops", error, StringComparison.Ordinal);
            Assert.DoesNotContain("Nothing in this command", error, StringComparison.Ordinal);
        }
    }
}
