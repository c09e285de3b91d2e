using System.CommandLine;
using Distill.Data;
using Distill.Deploy;
using Distill.Native;

namespace Distill.Cli;

/// <summary>
/// `distill deploy`: export a trained checkpoint to ONNX (float32 or int8), check ONNX Runtime against TorchSharp, and
/// measure ONNX Runtime latency. Errors are one line (TrainCommand.Guard).
/// </summary>
static class DeployCommand
{
    public static Command Create()
    {
        var cmd = new Command("deploy", "Export a trained model to ONNX (float32 or int8), check it against TorchSharp, measure its latency.");
        cmd.Subcommands.Add(Export());
        cmd.Subcommands.Add(Check());
        cmd.Subcommands.Add(Bench());
        cmd.Subcommands.Add(Prune());
        return cmd;
    }

    static Argument<string> CheckpointArgument() =>
        new("CHECKPOINT") { Description = "The folder `distill train --out DIR` wrote, or its last.ckpt (run.json beside it names the model)." };

    static Command Export()
    {
        var checkpoint = CheckpointArgument();
        var output = new Option<string>("--out") { Description = "The .onnx file to write.", Required = true };
        var int8 = new Option<bool>("--int8") { Description = "Post-training int8: static QDQ with calibration for convolutional models, dynamic for MLPs." };
        var calibrate = new Option<int>("--calibrate") { Description = "Training images that calibrate the activation ranges (static int8, a conv model's; an MLP's int8 is dynamic and takes none).", DefaultValueFactory = _ => 256 };
        var method = new Option<string>("--calibration") { Description = "minmax or percentile (99.99th).", DefaultValueFactory = _ => "percentile" };
        var cmd = new Command("export", "Write a trained checkpoint as an ONNX model (opset 17; input \"input\" [batch, C, H, W] normalised images, output \"logits\").");
        foreach (var o in new Option[] { output, int8, calibrate, method }) cmd.Options.Add(o);
        cmd.Arguments.Add(checkpoint);
        cmd.SetAction(r => TrainCommand.Guard(signals => () =>
        {
            bool Given(Option o) => r.GetResult(o) is { Implicit: false };
            // Calibration steers static int8 only: without --int8 a given value would be silently ignored.
            if (!r.GetValue(int8))
                foreach (var o in new Option[] { calibrate, method })
                    if (Given(o)) throw new ArgumentException($"{o.Name} applies only with --int8 (static int8 calibration); add --int8, or remove {o.Name}.");
            var n = r.GetValue(calibrate);
            if (n < 1) throw new ArgumentException($"--calibrate {n}: calibration needs at least 1 training image (e.g. --calibrate 256).");
            var calibration = ParseMethod(r.GetValue(method)!);
            var path = r.GetValue(output)!;
            OnnxExport.CheckTarget(path);
            TorchRuntime.Initialize();
            using var trained = TrainedModel.Load(r.GetValue(checkpoint)!);
            if (trained.Unfinished is { } note) Console.WriteLine(note);
            OperationCanceledException Stopped(string what) => new($"export {what}: {path} was not written", signals.Token);
            string kind;
            Distill.Deploy.Onnx.ModelProto proto;
            if (!r.GetValue(int8)) (kind, proto) = ("float32", OnnxExport.Build(trained.Model, trained.ImageShape, metadata: trained.Metadata));
            else if (trained.Model is Models.Mlp)
            {
                // Dynamic quantization takes no calibration: a given value would be ignored, as without --int8.
                foreach (var o in new Option[] { calibrate, method })
                    if (Given(o))
                        throw new ArgumentException($"{o.Name} does not apply to {trained.Model.ZooName}: an MLP's int8 is dynamic quantization, which needs no calibration; remove {o.Name}.");
                (kind, proto) = ("int8 dynamic (MLP: no calibration)", Quantization.Dynamic(trained.Model, trained.ImageShape, trained.Metadata));
            }
            else
            {
                using var data = trained.LoadData();
                // CalibrationImages takes at most the whole split: a larger count asked for would be cut down unseen.
                // The default may be cut (a small dataset); the line below prints the count used.
                if (Given(calibrate) && n > data.Train.Count)
                    throw new ArgumentException($"--calibrate {n:N0}: {data.Name}'s training split holds {data.Train.Count:N0} images; give at most {data.Train.Count:N0} (e.g. --calibrate 256).");
                using var images = OnnxEvaluation.CalibrationImages(data, n);
                var used = images.shape[0];
                kind = $"int8 static QDQ, {calibration} ranges on {NumberText.Count(used, "training image")}";
                try { proto = Quantization.Static(trained.Model, trained.ImageShape, images, calibration, trained.Metadata, cancellation: signals.Token, progress: Console.Out); }
                catch (OperationCanceledException e) { throw Stopped(e.Message); }
            }
            // A signal stops the export before it writes: a model the user asked to stop is not left as if it had finished.
            if (signals.Token.IsCancellationRequested) throw Stopped("stopped");
            // Save checks the token once the bytes are written, before the rename: a signal during the write leaves
            // the target (an earlier export, or nothing) as it was.
            try { OnnxExport.Save(proto, path, signals.Token); }
            catch (OperationCanceledException) { throw Stopped("stopped"); }
            // The folder takes files (checked above) but the file itself cannot be replaced: immutable (chattr +i) or
            // otherwise protected. Said as that, not as an exception "nothing in this command expected".
            catch (UnauthorizedAccessException e) when (File.Exists(path))
            {
                throw new ArgumentException($"--out {path} exists and cannot be replaced ({e.Message.TrimEnd('.')}); " +
                                            "give another file, or make that one replaceable (e.g. chattr -i, or move it away) first.", e);
            }
            // A signal during the flush and rename came after the last check: the file is whole, but the command was
            // asked to stop, so it says so with the stop's exit code rather than as a finished export.
            if (signals.Token.IsCancellationRequested)
                throw new OperationCanceledException($"export stopped as it finished: {path} was written in full", signals.Token);
            Console.WriteLine($"{path}: {trained.Model.ZooName} {kind}, opset {OnnxGraph.Opset}, {new FileInfo(path).Length:N0} bytes");
            return 0;
        }));
        return cmd;
    }

    static Command Check()
    {
        var checkpoint = CheckpointArgument();
        var onnx = new Option<string?>("--onnx") { Description = "An exported .onnx to check (default: export the checkpoint to a temporary file)." };
        var images = new Option<int>("--images") { Description = "Test images to compare on.", DefaultValueFactory = _ => 500 };
        var tolerance = new Option<double>("--tolerance") { Description = "Largest allowed |ONNX Runtime − TorchSharp| logit difference, at least 1e-6, relative to the image's largest |logit| when that is above 1 (float32 rounding grows with it); the default suits float32 exports, an int8 one needs far more (a failing check names a value above its difference; judge int8 by agreement and accuracy).", DefaultValueFactory = _ => 1e-4 };
        var cmd = new Command("check", "Run ONNX Runtime and TorchSharp on the same test images: largest logit difference, prediction agreement, accuracy.");
        foreach (var o in new Option[] { onnx, images, tolerance }) cmd.Options.Add(o);
        cmd.Arguments.Add(checkpoint);
        cmd.SetAction(r => TrainCommand.Guard(signals => () =>
        {
            var count = r.GetValue(images);
            if (count < 1) throw new ArgumentException($"--images {count}: compare on at least 1 test image.");
            var limit = r.GetValue(tolerance);
            // ONNX Runtime and libtorch sum in different orders, so a float32 export that is exact differs by ~1e-7: a
            // tolerance below that called a correct export "an exporter bug". One range, said alike for every value
            // outside it: -1 was told "≥ 0", and 0 then refused as "below float32's rounding".
            if (!(limit >= MinTolerance) || double.IsInfinity(limit))
                throw new ArgumentException($"--tolerance {limit}: give the largest allowed logit difference, a finite number of at least 1e-6 (ONNX Runtime and TorchSharp " +
                                            "add in different orders, so even an exact float32 export differs by about 1e-7); the default 1e-4 suits a float32 export, " +
                                            "an int8 one needs far more (its error line names a value above its difference).");
            // Before the checkpoint and data load.
            if (r.GetValue(onnx) is { } named && string.IsNullOrWhiteSpace(named))
                throw new ArgumentException($"--onnx '{named}': an empty path; give the .onnx file to check (`distill deploy export` writes one), or leave --onnx out to check a fresh export of the checkpoint.");
            TorchRuntime.Initialize();
            using var trained = TrainedModel.Load(r.GetValue(checkpoint)!);
            if (trained.Unfinished is { } note) Console.WriteLine(note);
            // NaN/Inf weights make NaN logits on both sides: said as what they are, not blamed on the exporter.
            if (OnnxExport.NonFinite(trained.Model) is { } bad)
                throw new InvalidDataException($"{trained.CheckpointPath}: the weights hold NaN/Inf ({bad}), so no export of it can match; " +
                                               "the run diverged or the checkpoint is damaged: check a checkpoint of a run that trained to finite weights.");
            using var data = trained.LoadData();
            // The comparison takes at most the whole test split: a larger count asked for would be cut down unseen.
            if (r.GetResult(images) is { Implicit: false } && count > data.Test.Count)
                throw new ArgumentException($"--images {count:N0}: {data.Name}'s test split holds {data.Test.Count:N0} images; give at most {data.Test.Count:N0} (e.g. --images 500).");
            // The check's own export goes to the temp folder: one that is missing, a file or not writable ($TMPDIR) failed
            // with .NET's words (and a missing one was created at the root), after the checkpoint had loaded.
            if (r.GetValue(onnx) is null && FilePaths.TempFolderProblem() is { } temp)
                throw new InvalidOperationException($"{temp}; the check exports the checkpoint there. Set TMPDIR to a folder you can write to, or pass --onnx FILE (an export of it).");
            var path = r.GetValue(onnx) ?? Path.Combine(Path.GetTempPath(), $"distill-check-{Environment.ProcessId}.onnx");
            try
            {
                if (r.GetValue(onnx) is null) OnnxExport.Save(OnnxExport.Build(trained.Model, trained.ImageShape), path);
                // A file changed since it was written is that, before anything else: an int8 one was blamed on int8
                // rounding instead, and passed with an int8 tolerance.
                if (OnnxExport.ChangedSinceSaved(path) is { } changed)
                    throw new InvalidDataException($"{changed}; export it again from {trained.CheckpointPath}.");
                using var runner = new OnnxRunner(path);
                // A file exported from another checkpoint is not an exporter bug: say which model it is.
                var recorded = OnnxExport.Recorded(path);
                if (recorded?.GetValueOrDefault("model") is { } model && model != trained.Model.ZooName)
                    throw new ArgumentException($"--onnx {path} was exported from a {model}, and {trained.CheckpointPath} holds a {trained.Model.ZooName}; " +
                                                "check a model against the checkpoint it was exported from.");
                if (recorded?.GetValueOrDefault("weights") is { } weights && weights != trained.WeightsDigest)
                    throw new ArgumentException($"--onnx {path} was exported from other weights of the {trained.Model.ZooName} than {trained.CheckpointPath} holds " +
                                                $"(weights sha256 {Short(weights)} there, {Short(trained.WeightsDigest)} here: another run, or this run before more training); " +
                                                "check a model against the checkpoint it was exported from, or export it again.");
                if (!runner.ImageShape.SequenceEqual(trained.ImageShape))
                    throw new ArgumentException($"--onnx {path} takes [{string.Join(", ", runner.ImageShape)}] images and {trained.CheckpointPath} was trained on [{string.Join(", ", trained.ImageShape)}]; " +
                                                "check a model against the checkpoint it was exported from.");
                if (runner.Classes is int k && k != data.NumClasses)
                    throw new ArgumentException($"--onnx {path} gives {NumberText.Count(k, "value")} per image and {trained.CheckpointPath} has {data.NumClasses} classes; " +
                                                "check a model against the checkpoint it was exported from.");
                using var test = data.Test.Images.narrow(0, 0, Math.Min(count, data.Test.Count));
                // A signal stops the comparison between batches (it waited for the end, then the watchdog ended the
                // process and left the temporary export behind): the finally below removes it.
                double diff, agreement, judged, ortAccuracy, torchAccuracy;
                try
                {
                    (diff, agreement, judged) = OnnxEvaluation.Compare(runner, trained.Model, data, test, signals.Token);
                    ortAccuracy = OnnxEvaluation.Accuracy(runner, data, data.Test, signals.Token);
                    if (signals.Token.IsCancellationRequested) throw new OperationCanceledException("stopped before TorchSharp's accuracy", signals.Token);
                    torchAccuracy = Training.Evaluation.Accuracy(trained.Model, data, data.Test, "cpu");
                    // That pass takes no token: a signal during it printed "Interrupted", then the full results and exit 0/1.
                    if (signals.Token.IsCancellationRequested) throw new OperationCanceledException("stopped during TorchSharp's accuracy", signals.Token);
                }
                catch (OperationCanceledException e) { throw new OperationCanceledException($"check {e.Message}: nothing compared", signals.Token); }
                // Float32 rounding is relative: logits of 3e5 (a long or diverging run) differ by 0.1 in an exact export,
                // which a fixed 1e-4 called an exporter bug. Judged against each image's largest |logit| above 1.
                var scaled = judged != diff;
                var relative = scaled ? ", relative to each image's largest |logit|," : "";
                Console.WriteLine($"{path} vs {trained.CheckpointPath} on {NumberText.Count(test.shape[0], "test image")}: max |ONNX Runtime − TorchSharp| = {diff:E2}" +
                                  (scaled ? $" ({judged:E2} relative to its image's largest |logit|)" : "") + $", predictions agree on {agreement:F1}%");
                diff = judged;
                if (r.GetValue(onnx) is not null && Provenance(path) is { } origin) Console.WriteLine($"  {origin}");
                Console.WriteLine($"test accuracy ({NumberText.Count(data.Test.Count, "image")}): ONNX Runtime {ortAccuracy:F2}%, TorchSharp {torchAccuracy:F2}%");
                if (!(diff <= limit)) // NaN logits compare false: a NaN difference fails too
                {
                    // The tolerance as given: rounded to one digit (E0), 0.0164 showed as 2E-002, above the difference it refused.
                    var given = limit.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
                    // A file that records no model may be another model, int8 or not: an int8 one agreeing on 30% was
                    // blamed on int8 rounding. Only a file `deploy export` wrote of these weights is judged as an export.
                    // It may still be one with its metadata removed (stripped by a tool): an int8 one then needs the int8
                    // tolerance, so that hint stays.
                    // The int8 hint names a value above the difference measured: a fixed "e.g. --tolerance 1" failed
                    // again on a trained cnn whose int8 logits differ by 1.24.
                    Console.Error.WriteLine(recorded?.GetValueOrDefault("model") is null
                        ? $"error: {path}: {(OnnxExport.IsQuantized(path) ? "an int8 model whose " : "")}logits{relative} differ from TorchSharp by {diff:E2} > --tolerance {given}" +
                          $"{(agreement < 90 ? $" and predictions agree on only {agreement:F1}%" : "")}; the file records no model (not written by `deploy export`, or its metadata was removed), " +
                          $"so it may be another model: check an export of {trained.CheckpointPath}" +
                          (OnnxExport.IsQuantized(path) ? $"{(Above(diff) is { } above ? $", or, if it is one, pass a --tolerance above that difference for int8 (e.g. --tolerance {above})" : "")}." : ".")
                        : OnnxExport.IsQuantized(path)
                        ? $"error: {path} is an int8 model: its logits{relative} differ from TorchSharp's float32 ones by {diff:E2} > --tolerance {given}, as int8 rounding makes them; " +
                          $"judge it by the agreement and accuracy above{(Above(diff) is { } over ? $", or pass a --tolerance above that difference for int8 (e.g. --tolerance {over})" : "")}."
                        // Only a file that records these weights' digest is judged an exporter bug: a file naming the model
                        // alone (another tool's, or an export from before the digest) was, though it held other weights.
                        : recorded.GetValueOrDefault("weights") is null
                        ? $"error: {path}: a float32 model whose logits{relative} differ from TorchSharp by {diff:E2} > --tolerance {given}" +
                          $"{(agreement < 90 ? $" and predictions agree on only {agreement:F1}%" : "")}; the file names a {recorded["model"]} but records no weights digest " +
                          $"(another tool's file, or an export from before distill recorded one), so it may hold other weights: export {trained.CheckpointPath} again and check that."
                        : $"error: {path}: a float32 model whose logits{relative} differ from TorchSharp by {diff:E2} > --tolerance {given}: an exporter bug (please report it with the run folder).");
                    return 1;
                }
                return 0;
            }
            finally
            {
                if (r.GetValue(onnx) is null) File.Delete(path);
            }
        }));
        return cmd;
    }

    /// <summary>The smallest --tolerance check takes: float32 rounding alone makes ~1e-7.</summary>
    const double MinTolerance = 1e-6;

    /// <summary>A round tolerance above a measured logit difference: its first significant digit raised by one (1.24 → 2,
    /// 0.027 → 0.03, 2 → 3); null for a difference that is not a finite positive number (NaN logits pass no tolerance).</summary>
    static string? Above(double difference)
    {
        if (!double.IsFinite(difference) || difference <= 0) return null;
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var exponent = (int)Math.Floor(Math.Log10(difference));
        // Written as digit·10^exponent and read back as the user's --tolerance will be, so it is above the difference
        // as the check compares them (0.3 is a hair below a float32 difference of 0.3).
        for (var digit = (int)Math.Floor(difference / Math.Pow(10, exponent)) + 1; ; digit++)
        {
            var value = double.Parse($"{digit}E{exponent}", invariant);
            if (value > difference && value >= MinTolerance) return value.ToString("G3", invariant);
        }
    }

    /// <summary>What an exported file records of its run (`deploy export` writes it): the model, its seed and the builds
    /// that trained and exported it, so a latency copied out of the terminal says what it is of. Null for another file.</summary>
    static string? Provenance(string onnxPath) =>
        OnnxExport.Recorded(onnxPath) is { } r && r.GetValueOrDefault("model") is { } model
            ? $"model {model} on {r.GetValueOrDefault("dataset", "?")}, seed {r.GetValueOrDefault("seed", "?")}; trained with {r.GetValueOrDefault("trained_with", "?")}; " +
              $"exported with {r.GetValueOrDefault("exported_with", "?")}"
            : null;

    static Command Bench()
    {
        var file = new Argument<string>("MODEL") { Description = "An .onnx file (`distill deploy export` writes one)." };
        var runs = new Option<int>("--runs") { Description = "Timed runs per setting, after 5 warm-up runs.", DefaultValueFactory = _ => 100 };
        var profile = new Option<bool>("--profile") { Description = "Also print ONNX Runtime's profile of batch-1 runs: time per operator type it ran." };
        var cmd = new Command("bench", "ONNX Runtime CPU latency at batch 1 and 64, with 1 and 2 threads: p50 and p90.");
        cmd.Options.Add(runs);
        cmd.Options.Add(profile);
        cmd.Arguments.Add(file);
        cmd.SetAction(r => TrainCommand.Guard(signals => () =>
        {
            var path = r.GetValue(file)!;
            var n = r.GetValue(runs);
            if (n < 1) throw new ArgumentException($"--runs {n}: time at least 1 run.");
            int[] batches;
            using (var probe = new OnnxRunner(path)) // a folder, or a file ONNX Runtime cannot load, is named here, once
            {
                batches = probe.FixedBatch is int b ? [b] : [1, 64];
                probe.CheckInputSize(batches.Max()); // before any setting is timed, not at the batch that cannot be given
            }
            Console.WriteLine($"{path}: {new FileInfo(path).Length:N0} bytes; ONNX Runtime CPU, {Environment.ProcessorCount} cores" +
                              (batches.Length == 1 ? $"; its batch dimension is fixed at {batches[0]}, so only that batch is timed" : ""));
            // The metadata says what the file is only while its graph is the one exported: `check` refuses a file whose
            // graph changed (one grafted from another model), and bench printed that file's metadata as its origin. The
            // file is still timed (a latency is of the graph as it is, as for any ONNX file), under a note instead.
            if (OnnxExport.ChangedSinceSaved(path) is { } changed)
                Console.WriteLine($"  note: {changed}; its metadata (model, weights, runs) was written for that graph, not this one, so it is not shown: " +
                                  "the timings below are of the graph as it is now. Export the model again for a file that says what it is.");
            else if (Provenance(path) is { } origin)
                Console.WriteLine($"  {origin}" + (OnnxExport.Recorded(path)?.ContainsKey(OnnxExport.GraphDigestKey) == true ? ""
                    : $" (unverified: the file records no {OnnxExport.GraphDigestKey} to check its graph against)"));
            foreach (var batch in batches)
                foreach (var threads in new[] { 1, 2 })
                {
                    var timed = Latency.Measure(path, batch, threads, n, cancellation: signals.Token);
                    Console.WriteLine($"  {timed}");
                    // A signal stops the timing between runs: what was timed is printed; the settings after it are not run.
                    if (signals.Token.IsCancellationRequested)
                        throw new OperationCanceledException($"bench stopped after {timed.Runs:N0} of {NumberText.Count(n, "run")} at batch {batch}, {threads} thread{(threads == 1 ? "" : "s")}; " +
                                                             "the line above is of those runs, the settings after it were not timed", signals.Token);
                }
            if (Energy.Unavailable() is { } why) Console.WriteLine($"  {why}");
            if (r.GetValue(profile))
            {
                Console.WriteLine($"  profile, batch 1, 1 thread, {NumberText.Count(n, "run")} (µs per run by operator):");
                foreach (var (op, us, nodes) in OnnxProfile.ByOperator(path, n, signals.Token))
                    Console.WriteLine($"    {op,-28} {(double)us / n,9:F1} µs  ({nodes} node{(nodes == 1 ? "" : "s")})");
            }
            return 0;
        }));
        return cmd;
    }

    static Command Prune()
    {
        var checkpoint = CheckpointArgument();
        var output = new Option<string>("--out") { Description = "The run folder for the pruned, fine-tuned model (export it from there).", Required = true };
        var sparsity = new Option<double?>("--sparsity") { Description = "Global magnitude pruning: the fraction of conv and linear weights set to zero, e.g. 0.5 or 0.9." };
        var channels = new Option<double?>("--channels") { Description = "L1 channel pruning of a cnn: the fraction of channels removed from every layer, e.g. 0.5." };
        var epochs = new Option<int>("--epochs") { Description = "Fine-tuning epochs after pruning.", DefaultValueFactory = _ => 1 };
        var trainSize = new Option<int?>("--train-size") { Description = "Fine-tune on this many training images (default: all)." };
        var lr = new Option<double>("--lr") { Description = "SGD learning rate of the fine-tuning (cosine schedule).", DefaultValueFactory = _ => 0.01 };
        var force = new Option<bool>("--force") { Description = "Clear an --out folder that holds another run instead of refusing it." };
        var resume = new Option<bool>("--resume") { Description = "Continue the prune in --out that was stopped or failed (the same command again, with --resume): from its last checkpoint, or afresh when it has none." };
        var cmd = new Command("prune", "Prune a trained checkpoint (global magnitude or L1 channels) and fine-tune it into a new run folder.");
        foreach (var o in new Option[] { output, sparsity, channels, epochs, trainSize, lr, force, resume }) cmd.Options.Add(o);
        cmd.Arguments.Add(checkpoint);
        cmd.SetAction(r => TrainCommand.Guard(signals => () =>
        {
            if ((r.GetValue(sparsity) is null) == (r.GetValue(channels) is null))
                throw new ArgumentException("give one of --sparsity S (unstructured, global magnitude) or --channels F (structured, cnn only).");
            foreach (var (name, value) in new[] { ("--sparsity", r.GetValue(sparsity)), ("--channels", r.GetValue(channels)) })
                if (value is double f && !(f is >= 0 and < 1)) // NaN fails both comparisons
                    throw new ArgumentException($"{name} {f}: give the fraction to prune, in {(name == "--sparsity" ? "(0, 1)" : "[0, 1)")} (e.g. 0.5).");
            // A run that prunes nothing was written and recorded as "pruned" (--channels 0 is refused below, naming its least).
            if (r.GetValue(sparsity) is 0.0)
                throw new ArgumentException("--sparsity 0 prunes nothing; give the fraction of weights to set to zero, above 0 and below 1 (e.g. 0.5).");
            // Checked by flag before the model loads and the test set is scored (the trainer would name its own properties).
            if (r.GetValue(epochs) < 1) throw new ArgumentException($"--epochs {r.GetValue(epochs)}: give a whole number of fine-tuning epochs, at least 1.");
            if (!(r.GetValue(lr) > 0) || double.IsInfinity(r.GetValue(lr))) throw new ArgumentException($"--lr {r.GetValue(lr)}: the learning rate must be a finite positive number.");
            if (r.GetValue(trainSize) is < 1) throw new ArgumentException($"--train-size {r.GetValue(trainSize)}: give a whole number of at least 1.");
            // Said by option, as `export --out ""` is: Path.GetFullPath's words named neither.
            if (string.IsNullOrWhiteSpace(r.GetValue(output)))
                throw new ArgumentException("--out is empty; give the folder for the pruned run (e.g. --out runs/pruned).");
            var outDir = Path.GetFullPath(r.GetValue(output)!);
            // Before the model loads and is pruned (the trainer found it only then, in .NET's words for /proc).
            if (FilePaths.Unwritable(r.GetValue(output)!) is { } unwritable) throw new ArgumentException(unwritable + ".");
            if (File.Exists(outDir)) throw new ArgumentException($"--out {r.GetValue(output)}: this is a file; give a folder for the pruned run (it is created when missing).");
            // The run being pruned must survive: its own folder, or one holding it, would be overwritten (and --force
            // clears it). Compared as real paths: "RUN/" or a link to RUN is RUN. Its folder is the one given (or the
            // checkpoint's), and also where its checkpoint really is when that is a link into another run.
            var given = r.GetValue(checkpoint)!;
            var file = TrainedModel.CheckpointFile(given);
            foreach (var source in new[] { Path.GetDirectoryName(Path.GetFullPath(file))!, Path.GetDirectoryName(FilePaths.Canonical(file))! }.Distinct())
                if (FilePaths.IsOrIsInside(source, outDir))
                    throw new ArgumentException($"--out {r.GetValue(output)} {(FilePaths.IsOrIsInside(outDir, source) ? "is" : "holds")} the run being pruned ({source}); " +
                                                "writing the pruned run there would replace it. Give another folder.");
            // A stopped or failed prune is continued by the same command with --resume, which its stop message and the
            // refusal below name: without it, a folder with no checkpoint (a failed start) could be neither resumed nor retried.
            if (r.GetValue(resume) && r.GetValue(force))
                throw new ArgumentException("--resume continues the prune in --out and --force clears it; give one of them.");
            // The pruned run's record says what was pruned, how much, and from which checkpoint (its file and the
            // weights in it, taken before pruning changes them): without them it cannot be told how it was made.
            var settings = new Dictionary<string, string>
            {
                ["pruning"] = r.GetValue(sparsity) is double sp
                    ? $"sparsity {sp.ToString(System.Globalization.CultureInfo.InvariantCulture)} (global magnitude)"
                    : $"channels {r.GetValue(channels)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)} (L1)",
            };
            // The source is known before the model loads, and hashing it is quick next to scoring: recorded now, the
            // check below tells a prune of another checkpoint from this one. Added after the load, it was first offered
            // --resume and then, after the scoring and pruning, refused as "started with other settings".
            if (File.Exists(file))
            {
                settings["source"] = Path.GetFullPath(file);
                settings["source_sha256"] = FileSha256(file);
            }
            var options = new Training.TrainOptions
            {
                Name = "pruned", Epochs = r.GetValue(epochs), Device = "cpu", OutDir = r.GetValue(output), Cancellation = signals.Token, Log = Console.Out,
                Force = r.GetValue(force), Resume = r.GetValue(resume), Optimizer = Training.OptimizerSpec.Sgd(r.GetValue(lr)), Settings = settings,
            };
            // The trainer refuses it too, with the same words, but only after the model is scored and pruned. The settings
            // known now decide whether --resume is offered (the same prune) or the difference is named (another one).
            Training.Trainer.CheckOptions(outDir, options);
            if (!r.GetValue(force) && !r.GetValue(resume) && Training.Trainer.HeldRunError(r.GetValue(output)!) is { } held) throw new ArgumentException(held);
            // Before the model loads and the test set is scored: --force into a folder a run is writing found the lock only after.
            if (Training.Trainer.InUseError(r.GetValue(output)!) is { } busy) throw new InvalidOperationException(busy);
            TorchRuntime.Initialize();
            using var trained = TrainedModel.Load(r.GetValue(checkpoint)!);
            if (trained.Unfinished is { } note) Console.WriteLine(note);
            // Checked before the test set is scored (minutes for a large model): what --channels cannot prune.
            if (r.GetValue(channels) is double fraction)
            {
                if (trained.Model is not Models.SmallCnn small)
                    throw new ArgumentException($"--channels prunes the small CNN (cnn, cnn-<width>), not {trained.Model.ZooName}; use --sparsity for other models.");
                if (Pruning.ChannelFractionProblem(Pruning.Width(small), fraction) is { } problem)
                    throw new ArgumentException($"--channels {fraction}: for {trained.Model.ZooName}, {problem}.");
            }
            // A global threshold above some layer's largest weight empties that layer: refused, as --channels is.
            // Compared exactly (a bound rounded to 4 digits refused values between it and the true one); the bound shown
            // is the example, a fixed one could itself be above it.
            if (r.GetValue(sparsity) is double pruned)
            {
                var limit = Pruning.LargestSparsity(trained.Model);
                if (!limit.Allows(pruned))
                    throw new ArgumentException($"--sparsity {pruned}: pruning that fraction of {trained.Model.ZooName}'s weights leaves its layer {limit.Layer} no weight at all " +
                                                $"(the global threshold passes its largest one); give at most {limit.Shown}.");
                if (!limit.PrunesAny(pruned))
                    throw new ArgumentException($"--sparsity {pruned}: that fraction of {trained.Model.ZooName}'s {limit.Total:N0} prunable weights is less than one weight, so nothing would be pruned; give at least {limit.Least}.");
            }
            using var full = trained.LoadData();
            if (r.GetValue(trainSize) is int n && n > full.Train.Count)
                throw new ArgumentException($"--train-size {n:N0}: {full.Name}'s training split holds {full.Train.Count:N0} images; give 1 to {full.Train.Count:N0}, or leave it out for all.");
            using var data = full.Subset(r.GetValue(trainSize));
            // The weights' digest needs the loaded model; source and source_sha256 are set above (a missing file has
            // none, and Load refused it).
            settings["source_weights"] = trained.WeightsDigest;
            double Accuracy(Models.DistillModel m) => Training.Evaluation.Accuracy(m, data, data.Test, "cpu");
            Console.WriteLine($"{trained.Model.ZooName}: {trained.Model.ParameterCount:N0} parameters, test accuracy {Accuracy(trained.Model):F2}%");
            if (r.GetValue(sparsity) is double s)
            {
                var masks = Pruning.GlobalMagnitude(trained.Model, s);
                Console.WriteLine($"pruned {100 * Pruning.Sparsity(masks):F1}% of conv/linear weights: test accuracy {Accuracy(trained.Model):F2}% before fine-tuning");
                Console.WriteLine(Pruning.FineTune(trained.Model, masks, data, options));
                return 0;
            }
            var cnn = (Models.SmallCnn)trained.Model; // checked above
            using var thin = Pruning.Channels(cnn, r.GetValue(channels)!.Value, (int)trained.ImageShape[1]);
            Console.WriteLine($"{thin.ZooName}: {thin.ParameterCount:N0} parameters, test accuracy {Accuracy(thin):F2}% before fine-tuning");
            Console.WriteLine(Training.Trainer.Train(thin, data, new Losses.Objective().Add(new Losses.CrossEntropyTerm()), options));
            return 0;
        }));
        return cmd;
    }

    static string FileSha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }

    static string Short(string digest) => digest.Length > 12 ? digest[..12] + "…" : digest;

    static CalibrationMethod ParseMethod(string name) => name.ToLowerInvariant() switch
    {
        "minmax" => CalibrationMethod.MinMax,
        "percentile" => CalibrationMethod.Percentile,
        _ => throw new ArgumentException($"--calibration {name}: expected minmax or percentile."),
    };
}
