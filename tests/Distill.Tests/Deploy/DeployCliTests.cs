using Distill.Tests.Onboarding;
using Distill.Tests.Data;

namespace Distill.Tests.Deploy;

/// <summary>`distill deploy` end to end, as a user runs it on a `distill train --out` folder.</summary>
public class DeployCliTests(TrainedCnnRun run) : IClassFixture<TrainedCnnRun>
{
    [Fact]
    public void Export_check_and_bench_a_trained_checkpoint()
    {
        using var dir = new TempDir();
        var model = dir.File("cnn.onnx");
        var (code, stdout, stderr) = Cli("deploy", "export", run.Folder, "--out", model);
        Assert.True(code == 0, stderr);
        Assert.Matches(@"cnn\.onnx: cnn-8 float32, opset 17, [\d,]+ bytes", stdout);

        (code, stdout, stderr) = Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100");
        Assert.True(code == 0, stderr);
        Assert.Matches(@"predictions agree on 100\.0%", stdout);
        Assert.Matches(@"\n  model cnn-8 on fashion-mnist, seed \d+; trained with commit \S+ \(dirty build: [a-z ]+\), TorchSharp [\d.]+, libtorch [\d.]+", stdout);

        (code, stdout, stderr) = Cli("deploy", "bench", model, "--runs", "3");
        Assert.True(code == 0, stderr);
        foreach (var setting in new[] { "batch   1, 1 thread ", "batch   1, 2 threads", "batch  64, 1 thread ", "batch  64, 2 threads" })
            Assert.Matches($@"{setting}: p50 +[\d.]+ ms, p90 +[\d.]+ ms \(3 runs\)", stdout);
        Assert.Contains("\n  model cnn-8 on fashion-mnist, seed ", stdout, StringComparison.Ordinal);
        Assert.Contains("; exported with commit ", stdout, StringComparison.Ordinal);
        // Energy per image where powercap exists, else one line saying why not (this VM has none).
        Assert.True(Directory.Exists("/sys/class/powercap") ? stdout.Contains("µJ/image", StringComparison.Ordinal) || stdout.Contains("not readable", StringComparison.Ordinal)
            : stdout.Contains("power is not measurable here: /sys/class/powercap does not exist", StringComparison.Ordinal), stdout);
    }

    /// <summary>bench printed an .onnx's metadata as its origin where `check` refuses the file: a graph grafted from another
    /// model under an export's metadata. It times the graph with a note that the metadata is not of it; metadata with no
    /// graph digest to check is shown as unverified; a plain third-party file is timed as before (A_foreign_onnx_file...).</summary>
    [Fact]
    public void Bench_does_not_vouch_for_the_metadata_of_a_changed_graph()
    {
        using var dir = new TempDir();
        var model = dir.File("cnn.onnx");
        Assert.Equal(0, Cli("deploy", "export", run.Folder, "--out", model).Code);
        Distill.Deploy.Onnx.ModelProto proto;
        using (var f = File.OpenRead(model)) proto = Distill.Deploy.Onnx.ModelProto.Parser.ParseFrom(f);
        using (var mlp = Distill.Models.ModelZoo.Create("mlp-32", 1, 10)) proto.Graph = Distill.Deploy.OnnxExport.Build(mlp, [1, 28, 28]).Graph;
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto)); // not Save: the digest recorded stays the cnn's
        AssertOneError(Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "10"), $"error: {model} changed after it was written: its graph's sha256 is ");

        var (code, stdout, stderr) = Cli("deploy", "bench", model, "--runs", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains($"\n  note: {model} changed after it was written: its graph's sha256 is ", stdout, StringComparison.Ordinal);
        Assert.Contains("; its metadata (model, weights, runs) was written for that graph, not this one, so it is not shown", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("model cnn-8", stdout, StringComparison.Ordinal);
        Assert.Matches(@"batch   1, 1 thread : p50 +[\d.]+ ms, p90 +[\d.]+ ms \(2 runs\)", stdout);

        // The same metadata with no digest to check it by is shown, as unverified.
        proto.MetadataProps.Remove(proto.MetadataProps.Single(p => p.Key == Distill.Deploy.OnnxExport.GraphDigestKey));
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        (code, stdout, stderr) = Cli("deploy", "bench", model, "--runs", "2");
        Assert.True(code == 0, stderr);
        Assert.Matches(@"\n  model cnn-8 on fashion-mnist, seed \d+; .* \(unverified: the file records no graph_sha256 to check its graph against\)\n", stdout);
        Assert.DoesNotContain("note:", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Int8_export_with_calibration_writes_a_smaller_model()
    {
        using var dir = new TempDir();
        var model = dir.File("int8.onnx");
        var (code, stdout, stderr) = Cli("deploy", "export", run.Folder, "--out", model, "--int8", "--calibrate", "64", "--calibration", "minmax");
        Assert.True(code == 0, stderr);
        Assert.Contains("int8 static QDQ, MinMax ranges on 64 training images", stdout, StringComparison.Ordinal);
        Assert.True(Distill.Deploy.OnnxExport.IsQuantized(model));

        // Checked at the float32 tolerance, the int8 file is named as int8 (not "an exporter bug, or maybe int8").
        var failed = Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100");
        AssertOneError(failed, $"error: {model} is an int8 model: its logits, relative to each image's largest |logit|, differ from TorchSharp's float32 ones by ");
        // The tolerance it suggests is above the difference measured: "e.g. --tolerance 1" failed again by 1.24.
        var suggested = SuggestedTolerance(failed.Stderr);
        (code, _, stderr) = Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100", "--tolerance", suggested);
        Assert.True(code == 0, $"--tolerance {suggested}: {stderr}");
        // The tolerance as given (it was rounded to one digit: 0.0164 read "2E-002", above the difference it refused).
        var (_, _, precise) = Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100", "--tolerance", "0.0000164");
        Assert.Contains("> --tolerance 1.64E-05, as int8 rounding", precise, StringComparison.Ordinal);
        (code, _, stderr) = Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100", "--tolerance", "100");
        Assert.True(code == 0, stderr);
        // Changed after it was written, an int8 file is named so at any tolerance: it was blamed on int8 rounding, and
        // passed with an int8 one.
        Tamper(model);
        AssertOneError(Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100", "--tolerance", "100"), $"error: {model} changed after it was written: its graph's sha256 is ");
        var float32 = dir.File("float32.onnx");
        Assert.Equal(0, Cli("deploy", "export", run.Folder, "--out", float32).Code);
        Assert.False(Distill.Deploy.OnnxExport.IsQuantized(float32));
    }

    /// <summary>deploy check exports into the temp folder: TMPDIR naming a file or nothing failed in .NET's words (a
    /// missing one was created at the root). A profile went to the working folder, and failed after the timing where
    /// that cannot be written.</summary>
    [Fact]
    public void A_temp_folder_that_cannot_take_the_export_is_named_and_a_profile_needs_no_writable_working_folder()
    {
        using var dir = new TempDir();
        var file = dir.File("a-file");
        File.WriteAllText(file, "");
        foreach (var (tmp, why) in new[] { (file, "it is a file, or goes through one"), (Path.Combine(dir.Path, "none"), "no such folder") })
        {
            var (code, _, stderr) = Repo.RunCli(["deploy", "check", run.Folder], env => env["TMPDIR"] = tmp);
            Assert.Equal(1, code);
            Assert.Equal($"error: the temp folder {tmp}/ (TMPDIR) cannot take files ({why}); the check exports the checkpoint there. " +
                         "Set TMPDIR to a folder you can write to, or pass --onnx FILE (an export of it).", stderr.Trim());
        }
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "none")));

        var model = dir.File("cnn.onnx");
        Assert.Equal(0, Cli("deploy", "export", run.Folder, "--out", model).Code);
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "..", "..", "Distill.Cli",
            new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name, "Distill.Cli.dll"), "deploy", "bench", model, "--runs", "2", "--profile"])
            { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/proc" };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var err = p.StandardError.ReadToEnd(); // a few lines at most: read after stdout without filling its pipe
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)));
        Assert.True(p.ExitCode == 0, err);
        Assert.Contains("µs per run by operator", output, StringComparison.Ordinal);
    }

    /// <summary>An int8 file with distill's metadata stripped (another model's, as far as anyone can tell) was blamed on
    /// int8 rounding; like a float32 one it is named as possibly another model.</summary>
    [Fact]
    public void An_int8_file_that_records_no_model_may_be_another_model()
    {
        using var dir = new TempDir();
        var model = dir.File("int8.onnx");
        Assert.Equal(0, Cli("deploy", "export", run.Folder, "--out", model, "--int8", "--calibrate", "64").Code);
        Distill.Deploy.Onnx.ModelProto proto;
        using (var f = File.OpenRead(model)) proto = Distill.Deploy.Onnx.ModelProto.Parser.ParseFrom(f);
        proto.MetadataProps.Clear();
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var result = Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100");
        AssertOneError(result, $"error: {model}: an int8 model whose logits, relative to each image's largest |logit|, differ from TorchSharp by ");
        var stderr = result.Stderr;
        // Stripped metadata is no proof `deploy export` did not write it, and an int8 export of it needs the int8 tolerance:
        // one above the difference measured, which then passes.
        var suggested = SuggestedTolerance(stderr);
        Assert.EndsWith($"the file records no model (not written by `deploy export`, or its metadata was removed), so it may be another model: " +
                        $"check an export of {Path.Combine(run.Folder, "last.ckpt")}, or, if it is one, pass a --tolerance above that difference for int8 (e.g. --tolerance {suggested}).",
            stderr.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("int8 rounding", stderr, StringComparison.Ordinal);
        var (code, _, passed) = Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100", "--tolerance", suggested);
        Assert.True(code == 0, $"--tolerance {suggested}: {passed}");
    }

    /// <summary>The "(e.g. --tolerance T)" of a failed int8 check, checked to be the first round value (one significant
    /// digit) above the difference the line names.</summary>
    static string SuggestedTolerance(string stderr)
    {
        var m = System.Text.RegularExpressions.Regex.Match(stderr, @"by (?<diff>[\d.E+-]+) > --tolerance .*\(e\.g\. --tolerance (?<t>[\d.E+-]+)\)\.$");
        Assert.True(m.Success, stderr);
        var (diff, t) = (double.Parse(m.Groups["diff"].Value, System.Globalization.CultureInfo.InvariantCulture), double.Parse(m.Groups["t"].Value, System.Globalization.CultureInfo.InvariantCulture));
        var unit = Math.Pow(10, Math.Floor(Math.Log10(t)));
        var digit = t / unit;
        var below = Math.Round(digit) == 1 ? 0.9 * unit : (Math.Round(digit) - 1) * unit; // the round value before it
        // The difference is printed to 3 digits: within that, T is the first round value above it.
        Assert.True(Math.Abs(digit - Math.Round(digit)) < 1e-9 && t > diff * 0.995 && below <= diff * 1.005, $"{t} for a difference of {diff}: {stderr}");
        return m.Groups["t"].Value;
    }

    /// <summary>prune's --out was checked for writing only after the model loaded and was pruned (/proc/pr then failed
    /// in .NET's words), and an empty one said "The value cannot be an empty string": both are refused up front, by
    /// option, as the "holds another run" check is.</summary>
    [Fact]
    public void Prune_refuses_an_empty_or_unwritable_out_before_anything_loads()
    {
        foreach (var (outDir, error) in new[]
                 {
                     ("", "error: --out is empty; give the folder for the pruned run (e.g. --out runs/pruned)."),
                     ("/proc/pr", "error: --out /proc/pr: this folder cannot be written (this file system takes no new files); give a folder you can write to."),
                 })
        {
            var (code, stdout, stderr) = Cli("deploy", "prune", run.Folder, "--out", outDir, "--sparsity", "0.5");
            Assert.Equal(1, code);
            Assert.Equal(error, stderr.Trim());
            Assert.Equal("", stdout); // refused before the model is loaded and scored
        }
    }

    /// <summary>A prune that failed before its first checkpoint (a full disk: run.json, metrics.csv, tb/ but no last.ckpt)
    /// could not be retried ("holds another run"), and a stopped one was told "--resume continues", an option prune did
    /// not have. The same command with --resume now continues it, afresh without a checkpoint, and the refusal names it.</summary>
    [Fact]
    public void A_failed_prune_is_continued_by_the_same_command_with_resume()
    {
        using var dir = new TempDir();
        var outDir = dir.File("pruned");
        string[] prune = ["deploy", "prune", run.Folder, "--out", outDir, "--sparsity", "0.5", "--train-size", "300"];
        var (code, _, stderr) = Cli(prune);
        Assert.True(code == 0, stderr);
        File.Delete(Path.Combine(outDir, "last.ckpt")); // what a start that failed writing its checkpoint leaves
        (code, _, stderr) = Cli(prune);
        Assert.Equal(1, code);
        Assert.Contains($"error: --out {outDir} holds this run already (", stderr, StringComparison.Ordinal);
        Assert.Contains("Pass --resume to continue it", stderr, StringComparison.Ordinal);
        (code, var stdout, stderr) = Cli([.. prune, "--resume"]);
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "last.ckpt")), stdout);
        (code, stdout, stderr) = Cli([.. prune, "--resume"]); // finished: read back, not trained again
        Assert.True(code == 0, stderr);
        Assert.Contains($"resuming pruned from {Path.Combine(outDir, "last.ckpt")}: epoch 1 of 1 done", stdout, StringComparison.Ordinal);
        AssertOneError(Cli([.. prune, "--resume", "--force"]), "error: --resume continues the prune in --out and --force clears it; give one of them.");

        // Another checkpoint pruned with the same flags is another run, and said so before the model loads: its source was
        // recorded only after the scoring, so it was offered --resume, which then refused it after the slow work.
        var other = Path.Combine(dir.Path, "other");
        Directory.CreateDirectory(other);
        foreach (var f in Directory.GetFiles(run.Folder)) File.Copy(f, Path.Combine(other, Path.GetFileName(f)));
        string[] pruneOther = ["deploy", "prune", other, "--out", outDir, "--sparsity", "0.5", "--train-size", "300"];
        (code, stdout, stderr) = Cli(pruneOther);
        AssertOneError((code, stdout, stderr), $"error: --out {outDir} holds another run (");
        Assert.Contains("source", stderr, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        (code, stdout, stderr) = Cli([.. pruneOther, "--resume"]);
        AssertOneError((code, stdout, stderr), $"error: --resume {outDir}: the run there was started with other settings (");
        Assert.Equal("", stdout);
    }

    /// <summary>Messages that named no option or fix: an export over a file that cannot be replaced (immutable) was an
    /// UnauthorizedAccessException "nothing in this command expected"; `deploy export` with no arguments printed two
    /// `error:` lines.</summary>
    [Fact]
    public void Export_messages_name_the_file_and_the_fix_in_one_line()
    {
        var (code, _, stderr) = Cli("deploy", "export");
        Assert.Equal(2, code);
        Assert.Equal(["error: Option '--out' is required. Required argument missing for command: 'export'.", "(`distill deploy export --help` lists the options)"],
            stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        using var dir = new TempDir();
        var model = dir.File("ro.onnx");
        Assert.Equal(0, Cli("deploy", "export", run.Folder, "--out", model).Code);
        using (var chattr = System.Diagnostics.Process.Start("chattr", ["+i", model])!) chattr.WaitForExit();
        try
        {
            // chattr needs root and a file system with the flag: where it did not take, there is nothing to test.
            if (File.Exists(model) && CanReplace(model)) return;
            AssertOneError(Cli("deploy", "export", run.Folder, "--out", model),
                $"error: --out {model} exists and cannot be replaced (Access to the path '{model}' is denied); give another file, or make that one replaceable (e.g. chattr -i, or move it away) first.");
        }
        finally
        {
            using var undo = System.Diagnostics.Process.Start("chattr", ["-i", model])!;
            undo.WaitForExit();
        }
    }

    /// <summary>A missing dataset said "in these folders" of a list that reads as missing. Its own test: it sat after the
    /// chattr part above, whose early return (no root, overlayfs) skipped it. The CLI runs from outside the checkout, in a
    /// folder outside it, so a checkout whose data/ holds Fashion-MNIST does not find it there (DISTILL_DATA only adds a
    /// folder to the search).</summary>
    [Fact]
    public void A_missing_dataset_names_the_folders_searched()
    {
        using var dir = new TempDir();
        var program = Repo.CliOutsideRepo(dir.File("program"));
        var (empty, cwd) = (dir.File("empty"), dir.File("cwd"));
        Directory.CreateDirectory(empty);
        Directory.CreateDirectory(cwd);
        var result = Repo.RunCli(["deploy", "export", run.Folder, "--int8", "--out", dir.File("x.onnx")], env =>
        {
            env["DISTILL_SYSTEM_DATA"] = "";
            env["DISTILL_DATA"] = empty;
        }, workingDirectory: cwd, program: program);
        AssertOneError(result, $"error: {empty}/fashion-mnist, {cwd}/data/fashion-mnist: Fashion-MNIST not found: none of the 2 folders named holds its files " +
                               "(train-images-idx3-ubyte.gz, ");
    }

    /// <summary>Probed: with DISTILL_DATA at another copy of the dataset, export wrote that copy's mean and std into the
    /// file as the model's preprocessing, and check scored the model on images normalised with them, without a word.
    /// The run records its normalisation; export writes that, and what scores or calibrates on data refuses the copy.</summary>
    [Fact]
    public void Another_copy_of_the_dataset_is_refused_for_scoring_and_the_export_keeps_the_runs_normalisation()
    {
        using var dir = new TempDir();
        var copy = Directory.CreateDirectory(dir.File("data/fashion-mnist")).FullName;
        foreach (var (name, bytes) in new[]
                 {
                     ("train-images-idx3-ubyte", Gen.Idx([600, 28, 28], Gen.Images(600))), ("train-labels-idx1-ubyte", Gen.Idx([600], Gen.Labels(600))),
                     ("t10k-images-idx3-ubyte", Gen.Idx([200, 28, 28], Gen.Images(200, seed: 2))), ("t10k-labels-idx1-ubyte", Gen.Idx([200], Gen.Labels(200))),
                 })
            File.WriteAllBytes(Path.Combine(copy, name + ".gz"), Gen.Gzip(bytes));
        (int Code, string Stdout, string Stderr) WithCopy(params string[] args) => Repo.RunCli(args, env => env["DISTILL_DATA"] = dir.File("data"));
        var record = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(run.Folder, "run.json")))!;
        Assert.Matches(@"^0\.28\d+$", record["data_mean"]); // Fashion-MNIST's, one channel
        Assert.Matches(@"^0\.35\d+$", record["data_std"]);

        var model = dir.File("cnn.onnx");
        var (code, _, stderr) = WithCopy("deploy", "export", run.Folder, "--out", model);
        Assert.True(code == 0, stderr);
        Distill.Deploy.Onnx.ModelProto proto;
        using (var f = File.OpenRead(model)) proto = Distill.Deploy.Onnx.ModelProto.Parser.ParseFrom(f);
        Assert.Equal(record["data_mean"], proto.MetadataProps.Single(p => p.Key == "mean").Value);
        Assert.Equal(record["data_std"], proto.MetadataProps.Single(p => p.Key == "std").Value);

        var refusal = $"error: fashion-mnist read from {copy} is not the copy the run was trained on: its training images' mean 0.";
        AssertOneError(WithCopy("deploy", "check", run.Folder, "--onnx", model, "--images", "100"), refusal);
        AssertOneError(WithCopy("deploy", "export", run.Folder, "--int8", "--out", dir.File("int8.onnx")), refusal);
        Assert.False(File.Exists(dir.File("int8.onnx")));
        Assert.EndsWith($"Point DISTILL_DATA at the copy it read ({record["data"]}), or unset it if that is the system copy.",
            WithCopy("deploy", "check", run.Folder, "--onnx", model, "--images", "100").Stderr.Trim(), StringComparison.Ordinal);
    }

    static bool CanReplace(string file)
    {
        try { using var _ = File.OpenHandle(file, FileMode.Open, FileAccess.Write); return true; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>A weight changed in the file after export (bit rot, a hand edit) makes the logits disagree: named as the
    /// file having changed since it was written (its graph digest), not as an exporter bug.</summary>
    [Fact]
    public void A_file_changed_after_export_is_named_as_changed_not_as_an_exporter_bug()
    {
        using var dir = new TempDir();
        var model = dir.File("cnn.onnx");
        Assert.Equal(0, Cli("deploy", "export", run.Folder, "--out", model).Code);
        Assert.Null(Distill.Deploy.OnnxExport.ChangedSinceSaved(model));
        Tamper(model);
        Assert.StartsWith($"{model} changed after it was written", Distill.Deploy.OnnxExport.ChangedSinceSaved(model));
        AssertOneError(Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "100"), $"error: {model} changed after it was written: its graph's sha256 is ");
    }

    /// <summary>Changes the largest weight of an exported file in place, keeping the digest the export recorded.</summary>
    static void Tamper(string model)
    {
        Distill.Deploy.Onnx.ModelProto proto;
        using (var f = File.OpenRead(model)) proto = Distill.Deploy.Onnx.ModelProto.Parser.ParseFrom(f);
        var weight = proto.Graph.Initializer.OrderByDescending(t => t.RawData.Length + t.FloatData.Count * 4).First();
        if (weight.RawData.Length > 0)
        {
            var bytes = weight.RawData.ToByteArray();
            bytes[bytes.Length / 2 + 3] ^= 0x40; // a float's high exponent bit (an int8 weight's bit 6): far beyond any tolerance
            weight.RawData = Google.Protobuf.ByteString.CopyFrom(bytes);
        }
        else weight.FloatData[weight.FloatData.Count / 2] += 1000;
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto)); // not Save: the digest stays the export's
    }

    /// <summary>--calibrate (and --calibration) only steer static int8: given without --int8 they are refused, not
    /// ignored; a count beyond the training split is refused with the largest one, not cut down unseen; 1 image is
    /// singular.</summary>
    [Fact]
    public void Calibrate_is_refused_without_int8_or_beyond_the_training_split()
    {
        using var dir = new TempDir();
        var model = dir.File("m.onnx");
        AssertOneError(Cli("deploy", "export", run.Folder, "--out", model, "--calibrate", "64"),
            "error: --calibrate applies only with --int8 (static int8 calibration); add --int8, or remove --calibrate.");
        AssertOneError(Cli("deploy", "export", run.Folder, "--out", model, "--calibration", "minmax"),
            "error: --calibration applies only with --int8 (static int8 calibration); add --int8, or remove --calibration.");
        AssertOneError(Cli("deploy", "export", run.Folder, "--out", model, "--int8", "--calibrate", "60001"),
            "error: --calibrate 60,001: fashion-mnist's training split holds 60,000 images; give at most 60,000 (e.g. --calibrate 256).");
        AssertOneError(Cli("deploy", "export", "", "--out", model), "error: CHECKPOINT '': an empty path; give the folder `distill train --out DIR` wrote, or its last.ckpt.");
        Assert.False(File.Exists(model));
        // Every command names an empty path as one: prune and check --onnx had .NET's "The value cannot be an empty
        // string", bench ": no such file".
        AssertOneError(Cli("deploy", "prune", "", "--out", dir.File("p"), "--sparsity", "0.5"), "error: CHECKPOINT '': an empty path; give the folder `distill train --out DIR` wrote, or its last.ckpt.");
        AssertOneError(Cli("deploy", "check", run.Folder, "--onnx", ""), "error: --onnx '': an empty path; give the .onnx file to check");
        AssertOneError(Cli("deploy", "bench", " "), "error: MODEL ' ': an empty path; give the path of an .onnx file");

        var (code, stdout, stderr) = Cli("deploy", "export", run.Folder, "--out", model, "--int8", "--calibrate", "1", "--calibration", "minmax");
        Assert.True(code == 0, stderr);
        Assert.Contains("int8 static QDQ, MinMax ranges on 1 training image, opset", stdout, StringComparison.Ordinal);
        // Thousands in the format the errors above use ("60,001"): it was "on 59999 training images".
        (code, stdout, stderr) = Cli("deploy", "export", run.Folder, "--out", model, "--int8", "--calibrate", "1500", "--calibration", "minmax");
        Assert.True(code == 0, stderr);
        Assert.Contains("int8 static QDQ, MinMax ranges on 1,500 training images, opset", stdout, StringComparison.Ordinal);
        // Singular where it is one: it was "on 1 test images" and "(1 runs)".
        (code, stdout, stderr) = Cli("deploy", "check", run.Folder, "--onnx", model, "--images", "1", "--tolerance", "100");
        Assert.True(code == 0, stderr);
        Assert.Contains(" on 1 test image: max |ONNX Runtime − TorchSharp| = ", stdout, StringComparison.Ordinal);
        // Judged against the largest |logit| once it is above 1, as float32 rounding grows with it (a trained cnn's is).
        Assert.Matches(@"max \|ONNX Runtime − TorchSharp\| = \S+ \(\S+ relative to its image's largest \|logit\|\), predictions agree", stdout);
        Assert.Contains("test accuracy (10,000 images): ", stdout, StringComparison.Ordinal);
        (code, stdout, stderr) = Cli("deploy", "bench", model, "--runs", "1", "--profile");
        Assert.True(code == 0, stderr);
        Assert.Contains("ms (1 run)", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("1 runs", stdout, StringComparison.Ordinal);
        Assert.Contains("  profile, batch 1, 1 thread, 1 run (µs per run by operator):", stdout, StringComparison.Ordinal);
    }

    /// <summary>A checkpoint whose weights hold NaN (a run that diverged) is refused by export, naming the tensor, and by
    /// check as NaN/Inf weights: it exported with exit 0, and check then blamed "an exporter bug".</summary>
    [Fact]
    public void A_checkpoint_with_non_finite_weights_is_refused_by_export_and_check()
    {
        using var dir = new TempDir();
        var copy = Path.Combine(dir.Path, "nan");
        Directory.CreateDirectory(copy);
        foreach (var f in new[] { "run.json", "last.ckpt" }) File.Copy(Path.Combine(run.Folder, f), Path.Combine(copy, f));
        var ckpt = Path.Combine(copy, "last.ckpt");
        string key;
        using (var trained = Distill.Deploy.TrainedModel.Load(copy))
        using (var shuffle = new TorchSharp.torch.Generator(0))
        {
            key = trained.Model.state_dict().Keys.First(k => k.EndsWith("weight", StringComparison.Ordinal));
            using (TorchSharp.torch.no_grad()) trained.Model.state_dict()[key].view(-1)[0] = float.NaN;
            var sgd = Distill.Training.OptimizerSpec.Sgd().Create(trained.Model.parameters());
            Distill.Training.Checkpoint.Save(ckpt, Distill.Training.Checkpoint.ReadInfo(ckpt), trained.Model, [], [], sgd, shuffle);
        }
        var model = dir.File("nan.onnx");
        AssertOneError(Cli("deploy", "export", copy, "--out", model), $"error: cannot export cnn-8: its tensor '{key}' holds 1 NaN/Inf value of ");
        Assert.False(File.Exists(model));
        AssertOneError(Cli("deploy", "check", copy, "--images", "10"), $"error: {ckpt}: the weights hold NaN/Inf (its tensor '{key}' holds 1 NaN/Inf value of ");
    }

    /// <summary>Version 1 had no checksum, so a version-2 checkpoint with its version set to 1 skipped the check: a
    /// changed weight byte then exported (and resumed, and was reused from the teacher cache) without a word. Version 1
    /// is refused, as written by an old build and as relabelled alike, on one printable line naming the format.</summary>
    [Fact]
    public void A_version_1_checkpoint_real_or_relabelled_to_skip_its_checksum_is_refused()
    {
        using var dir = new TempDir();
        var v2 = File.ReadAllBytes(Path.Combine(run.Folder, "last.ckpt"));
        int i = 0;
        void SkipString() { int n = 0, shift = 0; byte b; do { b = v2[i++]; n |= (b & 0x7f) << shift; shift += 7; } while (b >= 0x80); i += n; }
        SkipString(); // magic
        var version = i;
        byte[] end = "\nEND-DISTILL-CKPT\n"u8.ToArray();
        // As an old build wrote it: no SHA-256 before the end marker.
        var old = new List<byte>(v2[..^(end.Length + 32)]);
        old.AddRange(end);
        old[version] = 1;
        // A version-2 file relabelled, one weight byte changed.
        var relabelled = (byte[])v2.Clone();
        relabelled[version] = 1;
        relabelled[v2.Length / 2] ^= 0x55;
        foreach (var (name, bytes) in new[] { ("old", old.ToArray()), ("relabelled", relabelled) })
        {
            var copy = Path.Combine(dir.Path, name);
            Directory.CreateDirectory(copy);
            File.Copy(Path.Combine(run.Folder, "run.json"), Path.Combine(copy, "run.json"));
            var ckpt = Path.Combine(copy, "last.ckpt");
            File.WriteAllBytes(ckpt, bytes);
            var (code, _, stderr) = Cli("deploy", "export", copy, "--out", dir.File($"{name}.onnx"));
            Assert.Equal(1, code);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"error: Checkpoint '{ckpt}' is not a Distill checkpoint this build can read (format version 1, written by a build from before checkpoints carried a checksum (2026-12-03)", line, StringComparison.Ordinal);
            Assert.False(File.Exists(dir.File($"{name}.onnx")));
        }
    }

    /// <summary>An MLP's int8 is dynamic, with no calibration: --calibrate and --calibration are refused there, not
    /// ignored; so is a --images count beyond the test split (it was cut to the split unseen).</summary>
    [Fact]
    public void Calibration_of_a_dynamic_int8_mlp_and_images_beyond_the_test_split_are_refused()
    {
        using var dir = new TempDir();
        var mlpRun = Path.Combine(dir.Path, "mlp");
        using (var mlp = Distill.Models.ModelZoo.Create("mlp-32", 1, 10))
            Distill.Training.Trainer.Train(mlp, Distill.Tests.Training.TinyData.FashionMnist2k, new Distill.Losses.Objective().Add(new Distill.Losses.CrossEntropyTerm()), new Distill.Training.TrainOptions
            {
                Epochs = 1, BatchSize = 64, Device = "cpu", OutDir = mlpRun, TensorBoard = false, Progress = false,
            });
        var model = dir.File("m.onnx");
        AssertOneError(Cli("deploy", "export", mlpRun, "--out", model, "--int8", "--calibrate", "10"),
            "error: --calibrate does not apply to mlp-32: an MLP's int8 is dynamic quantization, which needs no calibration; remove --calibrate.");
        AssertOneError(Cli("deploy", "export", mlpRun, "--out", model, "--int8", "--calibration", "minmax"),
            "error: --calibration does not apply to mlp-32");
        Assert.False(File.Exists(model));
        AssertOneError(Cli("deploy", "check", run.Folder, "--images", "20000"),
            "error: --images 20,000: fashion-mnist's test split holds 10,000 images; give at most 10,000 (e.g. --images 500).");
    }

    [Fact]
    public void Channel_pruning_writes_a_narrower_run_that_exports()
    {
        using var dir = new TempDir();
        var pruned = Path.Combine(dir.Path, "pruned");
        var (code, stdout, stderr) = Cli("deploy", "prune", run.Folder, "--out", pruned, "--channels", "0.5", "--train-size", "500");
        Assert.True(code == 0, stderr);
        Assert.Contains("cnn-4: ", stdout, StringComparison.Ordinal);
        Assert.Contains("\"model\": \"cnn-4\"", File.ReadAllText(Path.Combine(pruned, "run.json")), StringComparison.Ordinal);
        // The record says how the run was made: what was pruned, and from which checkpoint (file and weights).
        var record = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(pruned, "run.json"))).RootElement;
        string Setting(string key) => FindString(record, key) ?? throw new Xunit.Sdk.XunitException($"run.json has no {key}: {record}");
        var source = Path.Combine(run.Folder, "last.ckpt");
        Assert.Equal("channels 0.5 (L1)", Setting("pruning"));
        Assert.Equal(Path.GetFullPath(source), Setting("source"));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(source))), Setting("source_sha256"));
        Assert.Equal(64, Setting("source_weights").Length);
        (code, stdout, stderr) = Cli("deploy", "export", pruned, "--out", dir.File("thin.onnx"));
        Assert.True(code == 0, stderr);
        Assert.Contains("cnn-4 float32", stdout, StringComparison.Ordinal);
        AssertOneError(Cli("deploy", "prune", run.Folder, "--out", dir.File("other"), "--sparsity", "0.5", "--channels", "0.5"), "error: give one of --sparsity");
        AssertOneError(Cli("deploy", "prune", run.Folder, "--out", dir.File("other"), "--sparsity", "0.5", "--train-size", "60001"),
            "error: --train-size 60,001: fashion-mnist's training split holds 60,000 images; give 1 to 60,000");
        // Pruning again into the same folder is refused, and --force (which the refusal names) clears it.
        var refused = Cli("deploy", "prune", run.Folder, "--out", pruned, "--channels", "0.25", "--train-size", "500");
        AssertOneError(refused, $"error: --out {pruned} holds another run");
        Assert.Contains("Pass --force to clear", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("it differs in pruning: channels 0.5 (L1) → channels 0.25 (L1)", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("--resume", refused.Stderr, StringComparison.Ordinal); // another prune: --resume would be refused
        Assert.DoesNotContain("test accuracy", refused.Stdout, StringComparison.Ordinal); // refused before the model is scored
        (code, stdout, stderr) = Cli("deploy", "prune", run.Folder, "--out", pruned, "--channels", "0.25", "--train-size", "500", "--force");
        Assert.True(code == 0, stderr);
        Assert.Contains("\"model\": \"cnn-6\"", File.ReadAllText(Path.Combine(pruned, "run.json")), StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_input_is_one_error_line()
    {
        using var dir = new TempDir();
        var corrupt = dir.Write("corrupt.onnx", Distill.Tests.Data.Gen.Bytes(500, seed: 1));
        AssertOneError(Cli("deploy", "bench", corrupt), $"error: {corrupt}: ONNX Runtime cannot load this model");
        // A checkpoint, or its run folder, where an ONNX model is expected: export it first (not "Protobuf parsing failed").
        var ckpt = Path.Combine(run.Folder, "last.ckpt");
        AssertOneError(Cli("deploy", "bench", ckpt),
            $"error: {ckpt} is a distill checkpoint, not an ONNX model; export it first with `distill deploy export {ckpt} --out model.onnx`, and give model.onnx here.");
        AssertOneError(Cli("deploy", "bench", run.Folder),
            $"error: {run.Folder} is a run folder (its checkpoint {ckpt}), not an ONNX model; export it first with `distill deploy export {ckpt} --out model.onnx`");
        AssertOneError(Cli("deploy", "export", run.Folder, "--out", dir.File("x.onnx"), "--int8", "--calibrate", "0"),
            "error: --calibrate 0: calibration needs at least 1 training image");
        AssertOneError(Cli("deploy", "export", dir.Path, "--out", dir.File("x.onnx")), $"error: {Path.Combine(dir.Path, "last.ckpt")}: no such checkpoint");
        Assert.False(File.Exists(dir.File("x.onnx")));
        // A file that is no checkpoint is named as such (no advice to delete it); a distillation's folder names its runs.
        AssertOneError(Cli("deploy", "export", Path.Combine(run.Folder, "run.json"), "--out", dir.File("x.onnx")),
            $"error: '{Path.Combine(run.Folder, "run.json")}' is not a checkpoint: `distill train` writes them as last.ckpt");
        var distilled = Path.Combine(dir.Path, "kd");
        Directory.CreateDirectory(Path.Combine(distilled, "student"));
        File.Copy(Path.Combine(run.Folder, "last.ckpt"), Path.Combine(distilled, "student", "last.ckpt"));
        AssertOneError(Cli("deploy", "export", distilled, "--out", dir.File("x.onnx")),
            $"error: {distilled} holds a run in folders of its own, not one model; give one of them: {Path.Combine(distilled, "student")}.");
        // A recipe's folder (RUN/seedN) was "no such checkpoint; give the folder `distill train --out DIR` wrote", which it is.
        var recipe = Path.Combine(dir.Path, "recipe");
        foreach (var rel in new[] { Path.Combine("teacher", "seed0"), Path.Combine("kd", "seed1") })
        {
            Directory.CreateDirectory(Path.Combine(recipe, rel));
            File.Copy(Path.Combine(run.Folder, "last.ckpt"), Path.Combine(recipe, rel, "last.ckpt"));
        }
        AssertOneError(Cli("deploy", "check", recipe),
            $"error: {recipe} holds 2 runs in folders of its own, not one model; give one of them: {Path.Combine(recipe, "kd", "seed1")}, {Path.Combine(recipe, "teacher", "seed0")}.");
        // A run record edited to a model far too large to build, or to another model that builds, is named as edited (its
        // checkpoint's settings stamp is not its digest) before the model it names is built: it was "cannot build model"
        // with a fix (a smaller width) that was none.
        var huge = Path.Combine(dir.Path, "huge");
        Directory.CreateDirectory(huge);
        File.Copy(Path.Combine(run.Folder, "last.ckpt"), Path.Combine(huge, "last.ckpt"));
        File.WriteAllText(Path.Combine(huge, "run.json"), File.ReadAllText(Path.Combine(run.Folder, "run.json")).Replace("\"model\": \"cnn-8\"", "\"model\": \"cnn-99999999\"", StringComparison.Ordinal));
        var edited = $"error: {Path.Combine(huge, "last.ckpt")} was written by another run than the one {Path.Combine(huge, "run.json")} records (its settings digest ";
        AssertOneError(Cli("deploy", "export", huge, "--out", dir.File("x.onnx")), edited);
        File.WriteAllText(Path.Combine(huge, "run.json"), File.ReadAllText(Path.Combine(run.Folder, "run.json")).Replace("\"model\": \"cnn-8\"", "\"model\": \"mlp-32\"", StringComparison.Ordinal));
        AssertOneError(Cli("deploy", "export", huge, "--out", dir.File("x.onnx")), edited);
        // prune checks its options by flag before loading anything.
        AssertOneError(Cli("deploy", "prune", run.Folder, "--out", dir.File("p"), "--sparsity", "0.5", "--epochs", "0"), "error: --epochs 0: give a whole number of fine-tuning epochs");
        AssertOneError(Cli("deploy", "prune", run.Folder, "--out", dir.File("p"), "--sparsity", "0"), "error: --sparsity 0 prunes nothing; give the fraction of weights to set to zero, above 0 and below 1");
        AssertOneError(Cli("deploy", "prune", run.Folder, "--out", dir.File("p"), "--sparsity", "0.5", "--lr", "NaN"), "error: --lr NaN: the learning rate must be");
    }

    /// <summary>A checkpoint that `train --resume` would refuse as another run's (its stamp is not the digest of the
    /// run.json beside it, as when copied in from another run of the same model) is refused by every deploy command
    /// that loads one, not exported, checked or pruned as this run's weights.</summary>
    [Fact]
    public void A_checkpoint_from_another_run_is_refused_as_resume_refuses_it()
    {
        using var dir = new TempDir();
        var copied = Path.Combine(dir.Path, "copied");
        Directory.CreateDirectory(copied);
        File.Copy(Path.Combine(run.Folder, "last.ckpt"), Path.Combine(copied, "last.ckpt"));
        // The record of another run of the same model (seed 1): the checkpoint was stamped under seed 0's record.
        var record = File.ReadAllText(Path.Combine(run.Folder, "run.json"));
        Assert.Contains("\"seed\": \"0\"", record, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(copied, "run.json"), record.Replace("\"seed\": \"0\"", "\"seed\": \"1\"", StringComparison.Ordinal));
        var error = $"error: {Path.Combine(copied, "last.ckpt")} was written by another run than the one {Path.Combine(copied, "run.json")} records (its settings digest ";
        AssertOneError(Cli("deploy", "export", Path.Combine(copied, "last.ckpt"), "--out", dir.File("x.onnx")), error);
        Assert.False(File.Exists(dir.File("x.onnx")));
        AssertOneError(Cli("deploy", "check", copied, "--images", "10"), error);
        AssertOneError(Cli("deploy", "prune", copied, "--out", dir.File("p"), "--sparsity", "0.5", "--train-size", "100"), error);
        Assert.False(File.Exists(Path.Combine(dir.File("p"), "last.ckpt")));
    }

    /// <summary>The run being pruned survives: an --out that is its folder, or holds it, is refused even with --force;
    /// --force into another run's folder removes that run's files only, not a user's.</summary>
    [Fact]
    public void Prune_never_overwrites_the_run_it_prunes_and_force_clears_only_run_files()
    {
        using var dir = new TempDir();
        var parent = Path.Combine(dir.Path, "parent");
        var source = Path.Combine(parent, "source");
        Directory.CreateDirectory(source);
        foreach (var f in Directory.GetFiles(run.Folder)) File.Copy(f, Path.Combine(source, Path.GetFileName(f)));
        var before = File.ReadAllBytes(Path.Combine(source, "last.ckpt"));
        AssertOneError(Cli("deploy", "prune", source, "--out", source, "--sparsity", "0.5", "--force"), $"error: --out {source} is the run being pruned");
        AssertOneError(Cli("deploy", "prune", Path.Combine(source, "last.ckpt"), "--out", parent, "--sparsity", "0.5", "--force"), $"error: --out {parent} holds the run being pruned");
        // The same folders, spelled so that their strings differ: a trailing slash, a link to the run, a link to the
        // folder holding it, and a checkpoint given through a link from another folder.
        var link = Path.Combine(dir.Path, "link");
        Directory.CreateSymbolicLink(link, source);
        var parentLink = Path.Combine(dir.Path, "parent-link");
        Directory.CreateSymbolicLink(parentLink, parent);
        var elsewhere = Directory.CreateDirectory(Path.Combine(dir.Path, "elsewhere")).FullName;
        File.CreateSymbolicLink(Path.Combine(elsewhere, "last.ckpt"), Path.Combine(source, "last.ckpt"));
        foreach (var (checkpoint, output, verb) in new[]
                 {
                     (source, source + "/", "is"), (source, link, "is"), (Path.Combine(source, "last.ckpt"), link, "is"),
                     (Path.Combine(source, "last.ckpt"), link + "/", "is"), (source, parentLink, "holds"), (elsewhere, source, "is"),
                 })
            AssertOneError(Cli("deploy", "prune", checkpoint, "--out", output, "--sparsity", "0.5", "--force"), $"error: --out {output} {verb} the run being pruned");
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(source, "last.ckpt")));
        Assert.True(File.Exists(Path.Combine(source, "run.json")));

        var pruned = Path.Combine(dir.Path, "pruned");
        Assert.Equal(0, Cli("deploy", "prune", source, "--out", pruned, "--sparsity", "0.5", "--train-size", "300").Code);
        File.WriteAllText(Path.Combine(pruned, "notes.txt"), "mine");
        var (code, stdout, stderr) = Cli("deploy", "prune", source, "--out", pruned, "--sparsity", "0.9", "--train-size", "300", "--force");
        Assert.True(code == 0, stderr);
        Assert.Contains($"--force: cleared {pruned}", stdout, StringComparison.Ordinal);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(pruned, "notes.txt")));
        Assert.True(File.Exists(Path.Combine(pruned, "last.ckpt")));
    }

    /// <summary>A folder where a run's file should be, and a link loop, are said as what they are: not "no such
    /// checkpoint", "missing", or a link "that points nowhere" naming a link that exists.</summary>
    [Fact]
    public void A_folder_where_a_run_file_should_be_or_a_link_loop_is_named_as_such()
    {
        using var dir = new TempDir();
        var ckptFolder = Path.Combine(dir.Path, "ckpt-folder");
        Directory.CreateDirectory(Path.Combine(ckptFolder, "last.ckpt"));
        File.Copy(Path.Combine(run.Folder, "run.json"), Path.Combine(ckptFolder, "run.json"));
        var checkpoint = Path.Combine(ckptFolder, "last.ckpt");
        foreach (var given in new[] { ckptFolder, checkpoint })
            AssertOneError(Cli("deploy", "export", given, "--out", dir.File("x.onnx")),
                $"error: {checkpoint} is a folder, not a file: a checkpoint is the file `distill train` writes as last.ckpt; restore it, or give another run folder or checkpoint.");

        var recordFolder = Path.Combine(dir.Path, "record-folder");
        Directory.CreateDirectory(Path.Combine(recordFolder, "run.json"));
        File.Copy(Path.Combine(run.Folder, "last.ckpt"), Path.Combine(recordFolder, "last.ckpt"));
        AssertOneError(Cli("deploy", "export", recordFolder, "--out", dir.File("x.onnx")),
            $"error: {Path.Combine(recordFolder, "run.json")} is a folder, not a file: the run record beside a checkpoint is the file");

        var loop = Path.Combine(dir.Path, "loop");
        Directory.CreateDirectory(loop);
        File.Copy(Path.Combine(run.Folder, "run.json"), Path.Combine(loop, "run.json"));
        var link = Path.Combine(loop, "last.ckpt");
        File.CreateSymbolicLink(link, "a");
        File.CreateSymbolicLink(Path.Combine(loop, "a"), "last.ckpt");
        AssertOneError(Cli("deploy", "export", loop, "--out", dir.File("x.onnx")),
            $"error: '{link}' is a symbolic link that loops ({link} → a → last.ckpt). Point it at an existing checkpoint, or give the checkpoint itself.");
        Assert.False(File.Exists(dir.File("x.onnx")));
        // The same loop given as the model to check or time: named, not an unexpected "Too many levels of symbolic links".
        AssertOneError(Cli("deploy", "check", run.Folder, "--onnx", link), $"error: {link} is a symbolic link that loops ({link} → a → last.ckpt); point it at an .onnx file");
        AssertOneError(Cli("deploy", "bench", link), $"error: {link} is a symbolic link that loops");
    }

    /// <summary>An ONNX file someone else wrote (a Flatten of the image, no metadata): valid, but not logits of 10
    /// classes; with <paramref name="batch"/> its batch dimension is fixed; <paramref name="image"/> declares another
    /// [C, H, W] input (its output is then of symbolic size).</summary>
    internal static string Foreign(string path, long? batch, long[]? image = null, int outputType = 1)
    {
        static Distill.Deploy.Onnx.TensorShapeProto.Types.Dimension D(long v) => new() { DimValue = v };
        Distill.Deploy.Onnx.ValueInfoProto Info(string name, params Distill.Deploy.Onnx.TensorShapeProto.Types.Dimension[] dims) => new()
        {
            Name = name,
            Type = new() { TensorType = new() { ElemType = name == "out" ? outputType : 1, Shape = new() { Dim = { dims } } } },
        };
        Distill.Deploy.Onnx.TensorShapeProto.Types.Dimension First() => batch is long b ? D(b) : new() { DimParam = "N" };
        var graph = new Distill.Deploy.Onnx.GraphProto
        {
            Name = "foreign",
            Node = { new Distill.Deploy.Onnx.NodeProto { OpType = "Flatten", Input = { "input" }, Output = { outputType == 1 ? "out" : "flat" } } },
            Input = { Info("input", [First(), .. (image ?? [1, 28, 28]).Select(D)]) },
            Output = { Info("out", First(), image is null ? D(784) : new() { DimParam = "M" }) },
        };
        // Another element type out: the flattened image cast to it (an argmax's int64, say).
        if (outputType != 1)
            graph.Node.Add(new Distill.Deploy.Onnx.NodeProto { OpType = "Cast", Input = { "flat" }, Output = { "out" }, Attribute = { Distill.Deploy.OnnxGraph.Attr("to", outputType) } });
        Distill.Deploy.OnnxExport.Save(new Distill.Deploy.Onnx.ModelProto { IrVersion = 8, Graph = graph, OpsetImport = { new Distill.Deploy.Onnx.OperatorSetIdProto { Version = 17 } } }, path);
        return path;
    }

    [Fact]
    public void A_foreign_onnx_file_is_named_for_what_does_not_fit()
    {
        using var dir = new TempDir();
        var flatten = Foreign(dir.File("flatten.onnx"), null);
        AssertOneError(Cli("deploy", "check", run.Folder, "--onnx", flatten, "--images", "10"),
            $"error: --onnx {flatten} gives 784 values per image and {Path.Combine(run.Folder, "last.ckpt")} has 10 classes");
        // Where the values per image are known only once it runs (an output size the file leaves open), the comparison
        // names the file too, not "the ONNX model".
        using (var runner = new Distill.Deploy.OnnxRunner(flatten))
        using (var cnn = Distill.Models.ModelZoo.Create("cnn-8", 1, 10))
        {
            var data = Distill.Tests.Training.TinyData.FashionMnist2k;
            using var images = data.Test.Images.narrow(0, 0, 4);
            var e = Assert.Throws<InvalidDataException>(() => Distill.Deploy.OnnxEvaluation.Compare(runner, cnn, data, images));
            Assert.Equal($"{flatten} gives 784 values per image and the checkpoint's model 10 logits: it is not an export of this model; check a model against the checkpoint it was exported from.", e.Message);
        }
        AssertOneError(Cli("deploy", "export", "/dev/null", "--out", dir.File("x.onnx")),
            "error: /dev/null is not a run folder or a checkpoint: give the folder `distill train --out DIR` wrote, or its last.ckpt.");
        var fixedBatch = Foreign(dir.File("fixed.onnx"), 1);
        var (code, stdout, stderr) = Cli("deploy", "bench", fixedBatch, "--runs", "2");
        Assert.True(code == 0, stderr);
        Assert.Empty(stderr);
        Assert.Contains("its batch dimension is fixed at 1, so only that batch is timed", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("batch  64", stdout, StringComparison.Ordinal);
        AssertOneError(Cli("deploy", "bench", dir.Path), $"error: {dir.Path} is a folder; give the .onnx file");
        // A valid model whose declared input no run could be given: refused with its size, not an OverflowException.
        // Logits of another element type: named by type, where ONNX Runtime's "Requested type: System.Single does not
        // match the actual type: System.Int64" named no file.
        var int64 = Foreign(dir.File("int64.onnx"), null, outputType: 7);
        AssertOneError(Cli("deploy", "bench", int64, "--runs", "1"), $"error: {int64}: expected float32 images in and float32 logits out; its input input is float32 and its first output out int64.");
        AssertOneError(Cli("deploy", "check", run.Folder, "--onnx", int64, "--images", "4"), $"error: {int64}: expected float32 images in and float32 logits out");
        var huge = Foreign(dir.File("huge.onnx"), null, [10, 100_000, 100_000]);
        AssertOneError(Cli("deploy", "bench", huge), $"error: {huge}: its input [10, 100000, 100000] is 100,000,000,000 values per image");
        AssertOneError(Cli("deploy", "check", run.Folder, "--onnx", dir.Path), $"error: {dir.Path} is a folder; give the .onnx file");
        AssertOneError(Cli("deploy", "export", run.Folder, "--out", ""), "error: --out is empty; give the .onnx file to write");
        // A folder that takes no file (/proc, /sys even for root) is named before the export, not the hidden temp file.
        AssertOneError(Cli("deploy", "export", run.Folder, "--out", "/proc/x.onnx"), "error: --out /proc/x.onnx: the folder /proc cannot be written (this file system takes no new files)");
        AssertOneError(Cli("deploy", "export", run.Folder, "--out", "/sys/x.onnx"), "error: --out /sys/x.onnx: the folder /sys cannot be written (permission denied)");
        // A FIFO would block every open: refused by its size, before opening, as input and as target.
        var fifo = dir.File("fifo.onnx");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [fifo])!) mk.WaitForExit();
        AssertOneError(Cli("deploy", "bench", fifo), $"error: {fifo} is empty (or not a regular file, e.g. a FIFO)");
        AssertOneError(Cli("deploy", "export", run.Folder, "--out", fifo), $"error: --out {fifo} exists and is not an ONNX model");
    }

    /// <summary>A run record edited to another image shape than its dataset's is refused by name before any image
    /// reaches the model (a resnet, whose weights do not depend on the image size, loads either way).</summary>
    [Fact]
    public void A_run_record_whose_dataset_does_not_match_the_model_s_input_is_named()
    {
        using var dir = new TempDir();
        var r8 = Path.Combine(dir.Path, "r8");
        var (code, _, stderr) = Cli("train", "--model", "resnet8", "--train-size", "128", "--test-size", "100", "--epochs", "1", "--out", r8);
        Assert.True(code == 0, stderr);
        var record = Path.Combine(r8, "run.json");
        File.WriteAllText(record, File.ReadAllText(record).Replace("\"input\": \"1x28x28\"", "\"input\": \"1x32x32\"", StringComparison.Ordinal));
        Restamp(r8); // as if trained under the edited record: the stamp check alone would refuse it otherwise
        AssertOneError(Cli("deploy", "check", r8, "--images", "10"),
            $"error: {record} names dataset fashion-mnist, whose images are 1x28x28, but the model was trained on 1x32x32; restore the run.json");
    }

    [Fact]
    public void Export_writes_through_a_temp_file_of_its_own()
    {
        using var dir = new TempDir();
        var victim = dir.Write(".model.onnx.tmp", "a user's file"u8.ToArray());
        Assert.Equal(0, Cli("deploy", "export", run.Folder, "--out", dir.File("model.onnx")).Code);
        Assert.Equal("a user's file", File.ReadAllText(victim));
        Assert.Empty(Directory.GetFiles(dir.Path, ".model.onnx.*.tmp"));
    }

    /// <summary>A 250-byte file name is within the 255-byte limit; its temp file (the name plus a PID and random part)
    /// would not be, and must not make the export fail.</summary>
    [Fact]
    public void Export_to_a_file_name_near_the_length_limit_is_written()
    {
        using var dir = new TempDir();
        var model = dir.File(new string('m', 245) + ".onnx");
        var (code, stdout, stderr) = Cli("deploy", "export", run.Folder, "--out", model);
        Assert.True(code == 0, stderr);
        Assert.Contains("cnn-8 float32", stdout, StringComparison.Ordinal);
        Assert.Equal("cnn-8", Distill.Deploy.OnnxExport.Recorded(model)?.GetValueOrDefault("model"));
        Assert.Equal([model], Directory.GetFileSystemEntries(dir.Path)); // no temp file left
    }

    [Fact]
    public void Export_never_replaces_what_is_not_an_earlier_export_and_check_names_a_foreign_model()
    {
        using var dir = new TempDir();
        var copy = Path.Combine(dir.Path, "run");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(run.Folder)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var checkpoint = Path.Combine(copy, "last.ckpt");
        var bytes = File.ReadAllBytes(checkpoint);
        // The extension first: "move that one away" was the advice for the checkpoint being exported.
        AssertOneError(Cli("deploy", "export", copy, "--out", checkpoint), $"error: --out {checkpoint}: give a file name ending in .onnx (e.g. {Path.ChangeExtension(checkpoint, ".onnx")})");
        Assert.Equal(bytes, File.ReadAllBytes(checkpoint)); // the checkpoint is intact
        var renamed = Path.Combine(dir.Path, "ckpt.onnx");
        File.Copy(checkpoint, renamed);
        AssertOneError(Cli("deploy", "export", copy, "--out", renamed), $"error: --out {renamed} exists and is not an ONNX model");
        Assert.Equal(bytes, File.ReadAllBytes(renamed));
        AssertOneError(Cli("deploy", "export", copy, "--out", copy), $"error: --out {copy} is a folder");
        AssertOneError(Cli("deploy", "export", copy, "--out", Path.Combine(checkpoint, "m.onnx")), $"error: --out {Path.Combine(checkpoint, "m.onnx")}: {checkpoint} is a file");

        // An earlier export is replaced, as a user re-exporting expects.
        var model = dir.File("m.onnx");
        Assert.Equal(0, Cli("deploy", "export", copy, "--out", model).Code);
        Assert.Equal(0, Cli("deploy", "export", copy, "--out", model).Code);
        // Another tool's model is not, though its metadata holds a "model" entry as ours do.
        var foreign = dir.File("foreign.onnx");
        var proto = Distill.Deploy.OnnxExport.Build(Distill.Models.ModelZoo.Create("mlp-32", 1, 10), [1, 28, 28], metadata: new Dictionary<string, string> { ["model"] = "cnn-8" });
        proto.ProducerName = "pytorch";
        Distill.Deploy.OnnxExport.Save(proto, foreign);
        var foreignBytes = File.ReadAllBytes(foreign);
        AssertOneError(Cli("deploy", "export", copy, "--out", foreign), $"error: --out {foreign} exists and is not an ONNX model that `deploy export` wrote");
        Assert.Equal(foreignBytes, File.ReadAllBytes(foreign));
        // A link to nowhere is said to be one (it was "exists and is not an ONNX model").
        var dangling = dir.File("dangling.onnx");
        File.CreateSymbolicLink(dangling, Path.Combine(dir.Path, "nowhere", "m.onnx"));
        AssertOneError(Cli("deploy", "export", copy, "--out", dangling), $"error: --out {dangling} is a symbolic link that points nowhere");

        // One range, said alike for every value outside it: -1 was told "≥ 0", and 0 then "below float32's rounding".
        foreach (var bad in new[] { "NaN", "-1", "0", "5E-07", "Infinity" })
        {
            var refused = Cli("deploy", "check", copy, "--onnx", model, "--tolerance", bad);
            AssertOneError(refused, $"error: --tolerance {bad}: give the largest allowed logit difference, a finite number of at least 1e-6 (ONNX Runtime and TorchSharp " +
                                    "add in different orders, so even an exact float32 export differs by about 1e-7); the default 1e-4 suits a float32 export, " +
                                    "an int8 one needs far more (its error line names a value above its difference).");
        }
        // The bound itself is taken (the check may then fail on the difference, not refuse the value).
        Assert.DoesNotContain("error: --tolerance", Cli("deploy", "check", copy, "--onnx", model, "--images", "10", "--tolerance", "1e-6").Stderr, StringComparison.Ordinal);
        // A model exported from another architecture is named as such, not blamed on the exporter.
        var mlp = dir.File("mlp.onnx");
        Distill.Deploy.OnnxExport.Save(Distill.Deploy.OnnxExport.Build(Distill.Models.ModelZoo.Create("mlp-32", 1, 10), [1, 28, 28],
            metadata: new Dictionary<string, string> { ["model"] = "mlp-32" }), mlp);
        AssertOneError(Cli("deploy", "check", copy, "--onnx", mlp, "--images", "10"), $"error: --onnx {mlp} was exported from a mlp-32, and ");
        // So is one exported from other weights of the same architecture (another run's cnn-8).
        var other = dir.File("other.onnx");
        using (var cnn = Distill.Models.ModelZoo.Create("cnn-8", 1, 10))
            Distill.Deploy.OnnxExport.Save(Distill.Deploy.OnnxExport.Build(cnn, [1, 28, 28], metadata: new Dictionary<string, string>
                { ["model"] = "cnn-8", ["weights"] = Distill.Training.TensorDigest.Weights(cnn) }), other);
        AssertOneError(Cli("deploy", "check", copy, "--onnx", other, "--images", "10"), $"error: --onnx {other} was exported from other weights of the cnn-8 than ");
        // One that names the model but records no weights digest (another tool's, an older export) is not blamed on the
        // exporter either.
        var undigested = dir.File("undigested.onnx");
        using (var cnn = Distill.Models.ModelZoo.Create("cnn-8", 1, 10))
            Distill.Deploy.OnnxExport.Save(Distill.Deploy.OnnxExport.Build(cnn, [1, 28, 28], metadata: new Dictionary<string, string> { ["model"] = "cnn-8" }), undigested);
        var (undigestedCode, _, undigestedErr) = Cli("deploy", "check", copy, "--onnx", undigested, "--images", "10");
        Assert.Equal(1, undigestedCode);
        Assert.Contains("the file names a cnn-8 but records no weights digest", undigestedErr, StringComparison.Ordinal);
        Assert.DoesNotContain("exporter bug", undigestedErr, StringComparison.Ordinal);
        AssertOneError(Cli("deploy", "prune", copy, "--out", dir.File("p"), "--sparsity", "NaN"), "error: --sparsity NaN: give the fraction to prune, in (0, 1)");
        Assert.False(Directory.Exists(dir.File("p")));
    }

    /// <summary>A checkpoint that is not the end of its run (fewer epochs than run.json plans, or a run stopped inside an
    /// epoch) still exports, with one note saying whose weights these are; a finished run gets no note.</summary>
    [Fact]
    public void Export_of_an_unfinished_run_says_so()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = Cli("deploy", "export", run.Folder, "--out", dir.File("done.onnx"));
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("note:", stdout, StringComparison.Ordinal);

        // Killed after epoch 1 of 3: the record plans 3, the checkpoint has 1.
        var killed = Path.Combine(dir.Path, "killed");
        Directory.CreateDirectory(killed);
        foreach (var f in Directory.GetFiles(run.Folder)) File.Copy(f, Path.Combine(killed, Path.GetFileName(f)));
        var record = Path.Combine(killed, "run.json");
        File.WriteAllText(record, File.ReadAllText(record).Replace("\"epochs\": \"1\"", "\"epochs\": \"3\"", StringComparison.Ordinal));
        Restamp(killed); // a run planned for 3 epochs stamps its checkpoints with that record
        (code, stdout, stderr) = Cli("deploy", "export", killed, "--out", dir.File("killed.onnx"));
        Assert.True(code == 0, stderr);
        Assert.Contains($"note: {Path.Combine(killed, "last.ckpt")} is from a run that has not finished: 1 of the 3 epochs its run.json plans", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(dir.File("killed.onnx")));

        // Stopped inside epoch 1 (as Ctrl-C or SIGTERM stops it).
        var stopped = Path.Combine(dir.Path, "stopped");
        using var cancel = new CancellationTokenSource();
        using (var model = Distill.Models.ModelZoo.Create("mlp-32", 1, 10))
            Assert.ThrowsAny<OperationCanceledException>(() => Distill.Training.Trainer.Train(model, Distill.Tests.Training.TinyData.FashionMnist2k,
                new Distill.Losses.Objective().Add(new Distill.Losses.CrossEntropyTerm()),
                new Distill.Training.TrainOptions { Epochs = 2, BatchSize = 64, Device = "cpu", OutDir = stopped, TensorBoard = false, Progress = false,
                    Cancellation = cancel.Token, OnStepEnd = step => { if (step == 3) cancel.Cancel(); } }));
        (code, stdout, stderr) = Cli("deploy", "export", stopped, "--out", dir.File("stopped.onnx"));
        Assert.True(code == 0, stderr);
        Assert.Contains($"note: {Path.Combine(stopped, "last.ckpt")} is from a run stopped inside epoch 1 (after 0 of 2 epochs)", stdout, StringComparison.Ordinal);
    }

    /// <summary>A prune stopped before its last epoch was told to "finish the run (`distill train` with its options and
    /// --resume)", which `train` refuses (the run's settings are a prune's): the note gives the prune's own command with
    /// --resume, rebuilt from its record, and that command finishes it.</summary>
    [Fact]
    public void An_unfinished_prune_is_told_the_prune_command_that_finishes_it()
    {
        using var dir = new TempDir();
        var pruned = Path.Combine(dir.Path, "pruned");
        var (code, stdout, stderr) = Cli("deploy", "prune", run.Folder, "--out", pruned, "--sparsity", "0.5", "--train-size", "300", "--lr", "0.02");
        Assert.True(code == 0, stderr);
        // As if stopped after epoch 1 of 2 (a SIGTERM between epochs): the record plans 2, the checkpoint has 1.
        var record = Path.Combine(pruned, "run.json");
        File.WriteAllText(record, File.ReadAllText(record).Replace("\"epochs\": \"1\"", "\"epochs\": \"2\"", StringComparison.Ordinal));
        Restamp(pruned);
        (code, stdout, stderr) = Cli("deploy", "export", pruned, "--out", dir.File("p.onnx"));
        Assert.True(code == 0, stderr);
        var command = $"distill deploy prune {Path.GetFullPath(Path.Combine(run.Folder, "last.ckpt"))} --out {Path.GetFullPath(pruned)} --sparsity 0.5 --epochs 2 --train-size 300 --lr 0.02 --resume";
        Assert.Contains($"1 of the 2 epochs its run.json plans; these are its weights after epoch 1: finish the prune with `{command}` (the command that started it, with --resume) to deploy the trained model.",
            stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("distill train", stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = Cli(command.Split(' ')[1..]);
        Assert.True(code == 0, stderr);
        Assert.Contains($"resuming pruned from {Path.Combine(Path.GetFullPath(pruned), "last.ckpt")}: epoch 1 of 2 done", stdout, StringComparison.Ordinal);
        (code, stdout, stderr) = Cli("deploy", "export", pruned, "--out", dir.File("p.onnx"));
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("note:", stdout, StringComparison.Ordinal);
    }

    /// <summary>An --out that does not end in .onnx (a folder meant, or another format's name) is refused, and nothing
    /// is written there; .ONNX in capitals is an ONNX file name too.</summary>
    [Fact]
    public void Export_refuses_an_out_that_is_not_an_onnx_file_name()
    {
        using var dir = new TempDir();
        foreach (var (name, suggestion) in new[] { ("cnn.txt", "cnn.onnx"), ("cnn-int8", "cnn-int8.onnx"), ("model.pt", "model.onnx") })
        {
            var target = dir.File(name);
            AssertOneError(Cli("deploy", "export", run.Folder, "--out", target), $"error: --out {target}: give a file name ending in .onnx (e.g. {dir.File(suggestion)})");
            Assert.False(File.Exists(target));
        }
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
        Assert.Equal(0, Cli("deploy", "export", run.Folder, "--out", dir.File("CNN.ONNX")).Code);
    }

    /// <summary>What --channels cannot prune (a fraction that keeps no channel, a model that is not the small CNN) is
    /// refused by flag, with the largest fraction that works, before the test set is scored and before --out is made.</summary>
    [Fact]
    public void Prune_refuses_channels_it_cannot_remove_before_scoring_the_model()
    {
        using var dir = new TempDir();
        var target = dir.File("p");
        var (code, stdout, stderr) = Cli("deploy", "prune", run.Folder, "--out", target, "--channels", "0.99");
        AssertOneError((code, stdout, stderr), "error: --channels 0.99: for cnn-8, removing that fraction of its 8 channels per layer keeps round(8·(1 − 0.99)) = 0 of them; give at most 0.93.");
        Assert.DoesNotContain("test accuracy", stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
        // A fraction whose rounding keeps every channel fine-tuned the unpruned model and recorded it as pruned.
        (code, stdout, stderr) = Cli("deploy", "prune", run.Folder, "--out", target, "--channels", "0.05");
        AssertOneError((code, stdout, stderr), "error: --channels 0.05: for cnn-8, removing that fraction of its 8 channels per layer keeps round(8·(1 − 0.05)) = 8, all of them, so nothing would be pruned; give at least 0.07.");
        (code, stdout, stderr) = Cli("deploy", "prune", run.Folder, "--out", target, "--channels", "0");
        AssertOneError((code, stdout, stderr), "error: --channels 0: for cnn-8, removing that fraction of its 8 channels per layer keeps round(8·(1 − 0)) = 8, all of them, so nothing would be pruned; give at least 0.07.");
        Assert.False(Directory.Exists(target));
        for (var width = 2; width <= 64; width++)
        {
            var (largest, smallest) = (Distill.Deploy.Pruning.LargestChannelFraction(width), Distill.Deploy.Pruning.SmallestChannelFraction(width));
            Assert.True(Distill.Deploy.Pruning.Kept(width, largest) >= 1 && Distill.Deploy.Pruning.Kept(width, largest + 0.01) < 1, $"width {width}: {largest}");
            Assert.True(Distill.Deploy.Pruning.Kept(width, smallest) < width && Distill.Deploy.Pruning.Kept(width, smallest - 0.01) == width, $"width {width}: {smallest}");
            Assert.Null(Distill.Deploy.Pruning.ChannelFractionProblem(width, smallest));
            Assert.Null(Distill.Deploy.Pruning.ChannelFractionProblem(width, largest));
        }
        // One rule for halves (away from zero): 0.5 of cnn-5 keeps 3 and of cnn-3 keeps 2 (halves to even kept 2 and 2).
        Assert.Equal([3, 2, 16], new[] { (5, 0.5), (3, 0.5), (32, 0.5) }.Select(x => Distill.Deploy.Pruning.Kept(x.Item1, x.Item2)));
        Assert.Equal("it has 1 channel per layer, so channel pruning cannot remove one and keep one; prune its weights instead (unstructured pruning)",
            Distill.Deploy.Pruning.ChannelFractionProblem(1, 0.5));

        var mlp = Path.Combine(dir.Path, "mlp");
        using (var model = Distill.Models.ModelZoo.Create("mlp-32", 1, 10))
            Distill.Training.Trainer.Train(model, Distill.Tests.Training.TinyData.FashionMnist2k,
                new Distill.Losses.Objective().Add(new Distill.Losses.CrossEntropyTerm()),
                new Distill.Training.TrainOptions { Epochs = 1, BatchSize = 64, Device = "cpu", OutDir = mlp, TensorBoard = false, Progress = false });
        (code, stdout, stderr) = Cli("deploy", "prune", mlp, "--out", target, "--channels", "0.5");
        AssertOneError((code, stdout, stderr), "error: --channels prunes the small CNN (cnn, cnn-<width>), not mlp-32; use --sparsity");
        Assert.DoesNotContain("test accuracy", stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public void A_model_too_large_to_allocate_is_one_line_naming_it()
    {
        // Was a failure nothing expected: libtorch's "can't allocate memory" (with pages of C++ frames) and advice to
        // report a trace. The model's size is now known from its name and refused before libtorch sees it.
        var (code, _, stderr) = Cli("train", "--model", "cnn-100000", "--dataset", "fashion-mnist", "--train-size", "100", "--test-size", "100", "--epochs", "1");
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: Model 'cnn-100000' has 8,110,010,500,010 parameters", line, StringComparison.Ordinal);
        Assert.DoesNotContain("DISTILL_TRACE=1", line, StringComparison.Ordinal);
    }

    /// <summary>Stamps <paramref name="folder"/>'s checkpoint with its (edited) run.json, as a run started under that
    /// record would have: for tests of checks that come after the stamp check.</summary>
    static void Restamp(string folder)
    {
        var settings = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(folder, "run.json")))!;
        Distill.Training.Checkpoint.Restamp(Path.Combine(folder, "last.ckpt"), Distill.Training.RunFolder.Digest(settings));
    }

    /// <summary>A string property anywhere in a JSON document (run.json nests its settings).</summary>
    static string? FindString(System.Text.Json.JsonElement e, string key)
    {
        if (e.ValueKind == System.Text.Json.JsonValueKind.Object)
            foreach (var p in e.EnumerateObject())
                if (p.Name == key && p.Value.ValueKind == System.Text.Json.JsonValueKind.String) return p.Value.GetString();
                else if (FindString(p.Value, key) is { } found) return found;
        return null;
    }

    static void AssertOneError((int Code, string Stdout, string Stderr) r, string start)
    {
        Assert.Equal(1, r.Code);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.Stderr);
        Assert.StartsWith(start, lines[0], StringComparison.Ordinal);
    }

    static (int Code, string Stdout, string Stderr) Cli(params string[] args) => Repo.RunCli(args);
}
