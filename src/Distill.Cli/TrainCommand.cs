using System.CommandLine;
using Distill.Data;
using Distill.Experiments;
using Distill.Losses;
using Distill.Methods;
using Distill.Models;
using Distill.Training;

namespace Distill.Cli;

/// <summary>
/// `distill train`: one model (optionally taught by a teacher trained first) or one of the four recipes, through the
/// library's Trainer. Per-epoch lines on stdout; CSV, TensorBoard and checkpoints under --out.
/// </summary>
static class TrainCommand
{
    /// <summary>The recipes `train` runs: all but 07's, which deploys what 05 trained.</summary>
    static readonly string[] Recipes = [.. RecipeNames.All.Select(r => r.Name).Where(n => n != "deployment")];

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"Student model: {ModelZoo.NamesHelp} (recipes: overrides the recipe's student)." };
        var dataset = new Option<string?>("--dataset") { Description = "fashion-mnist (the default), mnist-digits, mnist, cifar10, cifar100 (recipes: default the budget's dataset)." };
        var epochs = new Option<int?>("--epochs") { Description = "Student epochs (default 10; recipes: the budget's)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the student's initialisation and shuffling.", DefaultValueFactory = _ => 0 };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 128 };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd (Nesterov momentum 0.9) or adam.", DefaultValueFactory = _ => "sgd" };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (default: sgd 0.05, adam 0.001)." };
        var wd = new Option<double>("--weight-decay") { DefaultValueFactory = _ => 5e-4 };
        var schedule = new Option<string>("--schedule") { Description = "constant, cosine, step:EVERY[:GAMMA], multistep:E1,E2[:GAMMA].", DefaultValueFactory = _ => "cosine" };
        var warmup = new Option<double>("--warmup") { Description = "Linear learning-rate warmup, in epochs.", DefaultValueFactory = _ => 0 };
        var clip = new Option<double?>("--clip") { Description = "Clip the gradients' global L2 norm." };
        var augment = new Option<string>("--augment") { Description = "none or crop-flip (pad 4, random crop, horizontal flip).", DefaultValueFactory = _ => "none" };
        var trainSize = new Option<int?>("--train-size") { Description = "Student training (transfer) images, a seeded random subset (default: all)." };
        var testSize = new Option<int?>("--test-size") { Description = "Test images evaluated every epoch (default: all)." };
        var validation = new Option<int>("--validation") { Description = "Training images held out for validation (best epoch chosen on them).", DefaultValueFactory = _ => 0 };
        var teacher = new Option<string?>("--teacher") { Description = "Train this teacher first, then distil it into the student (e.g. cnn)." };
        var teacherEpochs = new Option<int?>("--teacher-epochs") { Description = $"Teacher epochs (default {TrainOptions.DefaultTeacherEpochs})." };
        var teacherTrainSize = new Option<int?>("--teacher-train-size") { Description = "Teacher training images (default: all)." };
        var temperature = new Option<double>("--kd-temperature") { Description = "Distillation temperature T.", DefaultValueFactory = _ => 4 };
        var alpha = new Option<double>("--alpha") { Description = "Soft-target weight α: (1 − α)·CE + α·T²·KL.", DefaultValueFactory = _ => 0.9 };
        var outDir = new Option<string?>("--out") { Description = "Folder for metrics.csv, TensorBoard events (tb/) and checkpoints (last.ckpt)." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoints in --out (a finished run is read back, not retrained)." };
        var recipe = new Option<string?>("--recipe") { Description = $"Run a whole recipe instead: {string.Join(", ", Recipes)}." };
        var recipeFile = new Option<string?>("--recipe-file") { Description = "Run a recipe with the settings of an edited recipe file (a copy of experiments/recipes/NN-NAME.yaml): the recipe it is named after, or --recipe NAME." };
        var budget = new Option<string>("--budget") { Description = "Recipe budget: smoke, quick or full.", DefaultValueFactory = _ => "quick" };
        var seeds = new Option<string?>("--seeds") { Description = "Recipe seeds, e.g. 0,1,2 (default: the budget's)." };
        var force = new Option<bool>("--force") { Description = "Clear an --out folder that holds another run instead of refusing it." };
        var method = new Option<string?>("--method") { Description = "Train with a catalogue method (distill methods), e.g. dkd, at, crd; default: kd with --teacher, cross-entropy without." };
        var set = new Option<string[]>("--set") { Description = "A method parameter, key=value (repeatable), e.g. --set temperature=8 --set beta=2.", AllowMultipleArgumentsPerToken = false };

        var cmd = new Command("train", "Train a model (optionally distilled from a teacher) or run a recipe; prints per-epoch accuracy.");
        foreach (var o in new Option[] { model, dataset, epochs, seed, device, batch, optimizer, lr, wd, schedule, warmup, clip, augment, trainSize, testSize,
                     validation, teacher, teacherEpochs, teacherTrainSize, temperature, alpha, outDir, resume, recipe, recipeFile, budget, seeds, force, method, set })
            cmd.Options.Add(o);

        // Options a mode does not use are an error, never silently ignored.
        Option[] recipeIgnores = [temperature, alpha, lr, optimizer, wd, schedule, warmup, clip, augment, batch, validation, seed, method, set];
        Option[] plainIgnores = [budget, seeds];

        cmd.SetAction(r => Guard(signals => () =>
        {
            bool Given(Option o) => r.GetResult(o) is { Implicit: false };
            var fileOfRecipe = r.GetValue(recipeFile);
            // The recipe named, else the one the file is named after (02-fitnets.yaml, or fitnets.yaml, is fitnets').
            // Either of a recipe's names (04-born-again is born-again), as spec check takes them.
            var chosen = r.GetValue(recipe) is string givenRecipe ? RecipeNames.Find(givenRecipe) : null;
            var recipeName = r.GetValue(recipe) is string asked ? chosen?.Name ?? asked
                : fileOfRecipe is null ? null : RecipeNamedAfter(fileOfRecipe);
            if (fileOfRecipe is not null && chosen is not null) RecipeNames.CheckMatches(chosen, fileOfRecipe, "--recipe-file");
            var isRecipe = recipeName is not null;
            foreach (var o in isRecipe ? recipeIgnores : plainIgnores)
                if (Given(o))
                    throw new ArgumentException(isRecipe
                        ? $"{o.Name} does not apply to --recipe (the recipe sets it for each run); remove it, or train one model without --recipe."
                        : $"{o.Name} applies only with --recipe; remove it, or add --recipe NAME.");
            if (!isRecipe && r.GetValue(teacher) is null)
            {
                // --kd-temperature and --alpha set the soft targets of a teacher: without one they changed nothing (with
                // --method they are refused below, naming the method's own parameters). A method that trains its own
                // teachers (kd-multi) takes the teacher's epochs and train size for them; one that takes no teacher was
                // told to add --teacher, which it then refused.
                var named = r.GetValue(method) is string n0 ? MethodCatalogue.TryFind(n0) : null;
                Option[] teacherOnly = named is null ? [teacherEpochs, teacherTrainSize, temperature, alpha] : named.TrainsOwnTeachers ? [] : [teacherEpochs, teacherTrainSize];
                foreach (var o in teacherOnly.Where(Given))
                    throw new ArgumentException(named is { NeedsTeacher: false }
                        ? $"{o.Name} sets how the teacher trains, and --method {named.Name} trains none; remove it."
                        : $"{o.Name} applies only with --teacher; add --teacher MODEL, or remove it.");
            }
            if (Given(force) && r.GetValue(outDir) is null)
                throw new ArgumentException("--force clears the --out folder, and there is none; add --out DIR, or remove --force.");
            // Born-again's generation 0 is its teacher, of the student's architecture: no teacher settings to give.
            if (isRecipe && string.Equals(recipeName, "born-again", StringComparison.OrdinalIgnoreCase))
                foreach (var o in new Option[] { teacher, teacherEpochs, teacherTrainSize })
                    if (Given(o)) throw new ArgumentException($"{o.Name} does not apply to --recipe born-again (generation 0, a --model trained from scratch, is the teacher); remove it.");
            // One spelling of each model (" MLP-032" → "mlp-32"): run names, run records and cache keys compare names as
            // text, so "mlp-32 " made a run named with a trailing space and a teacher cached apart from mlp-32's.
            var studentArg = r.GetValue(model) is string given ? ModelZoo.Canonical(given) : null;
            var teacherArg = r.GetValue(teacher) is string givenTeacher ? ModelZoo.Canonical(givenTeacher) : null;
            // Before anything loads: the dataset was read and printed first, as if training were under way.
            if (!isRecipe && studentArg is null) throw new ArgumentException("--model is required (e.g. --model mlp-800-800), unless --recipe is given.");
            if (r.GetValue(method) is not null && (Given(temperature) || Given(alpha)))
                throw new ArgumentException("--kd-temperature and --alpha are plain KD's; with --method give the method's own parameters, e.g. --set temperature=8 (see `distill methods NAME`).");
            if (r.GetValue(method) is null && r.GetValue(set) is { Length: > 0 })
                throw new ArgumentException("--set applies to --method; add --method NAME (see `distill methods`).");
            var choice = r.GetValue(method) is string m ? MethodCatalogue.Choose(m, r.GetValue(set) ?? []) : null;
            if (choice is not null && !isRecipe)
            {
                if (choice.Method.NeedsTeacher && teacherArg is null)
                    throw new ArgumentException($"--method {choice.Method.Name} distils from a teacher; add --teacher MODEL (e.g. --teacher cnn).");
                if (!choice.Method.NeedsTeacher && teacherArg is not null)
                    throw new ArgumentException($"--method {choice.Method.Name} takes no --teacher; remove it (see `distill methods {choice.Method.Name}`).");
                // Every distillation term off: the run trained scratch's weights, bit for bit, under the method's name.
                // Said rather than refused, as a spec accepts it beside the cross-entropy (a grid may include 0).
                if (choice.Method.AddsNothing(choice.Settings) is { } off)
                    Console.Error.WriteLine($"warning: {choice.Method.Name} with {off} adds no distillation term: this run trains {studentArg} on its cross-entropy alone, " +
                                            $"as --method scratch does{(teacherArg is null ? "" : $" (its teacher, {teacherArg}, teaches nothing)")}; give {string.Join(" or ", choice.Method.TermWeights)} above 0 to distil.");
            }
            // A teacher trained before the student: --teacher's, or those of a method that trains its own (kd-multi).
            var trainsTeachers = teacherArg is not null || choice?.Method.TrainsOwnTeachers == true;
            // + 0.0 turns −0 into 0, as --set does: recorded as "-0", it refused the same run's --resume given 0.
            double temp = r.GetValue(temperature), a = r.GetValue(alpha) + 0.0;
            if (!double.IsFinite(a) || a < 0 || a > 1) throw new ArgumentException($"--alpha {a}: the soft-target weight must be in [0, 1].");
            // As --method kd --set alpha=0 says it: the same run.
            if (a == 0 && teacherArg is not null && choice is null)
                Console.Error.WriteLine($"warning: --alpha 0 adds no distillation term: this run trains {studentArg} on its cross-entropy alone, as --method scratch does " +
                                        $"(its teacher, {teacherArg}, teaches nothing); give --alpha above 0 to distil.");
            if (!(temp >= MethodParameter.MinTemperature && temp <= MethodParameter.MaxTemperature))
                throw new ArgumentException($"--kd-temperature {temp}: the temperature must be in [{MethodParameter.MinTemperature}, {MethodParameter.MaxTemperature}] (the range of KD's loss).");
            // Named as typed: 1e400 read back as "Infinity".
            if (r.GetValue(lr) is double rate && (!double.IsFinite(rate) || rate <= 0))
                throw new ArgumentException($"--lr {(r.GetResult(lr)?.Tokens is [.., var typed] ? typed.Value : $"{rate}")}: the learning rate must be a finite positive number.");
            // Checked here, by flag, before any data loads (the library would name its own properties instead).
            foreach (var (flag, value) in new[] { ("--epochs", r.GetValue(epochs)), ("--teacher-epochs", r.GetValue(teacherEpochs)), ("--batch-size", (int?)r.GetValue(batch)),
                         ("--train-size", r.GetValue(trainSize)), ("--test-size", r.GetValue(testSize)), ("--teacher-train-size", r.GetValue(teacherTrainSize)) })
                if (value < 1) throw new ArgumentException($"{flag} {value}: give a whole number of at least 1.");
            if (r.GetValue(validation) < 0) throw new ArgumentException($"--validation {r.GetValue(validation)}: give the number of training images to hold out, 0 or more.");
            if (!(r.GetValue(warmup) >= 0) || double.IsInfinity(r.GetValue(warmup))) throw new ArgumentException($"--warmup {r.GetValue(warmup)}: give the warm-up length in epochs, 0 or more.");
            // A warm-up as long as the run or longer never reaches --lr: the whole run trains at a fraction of the rate asked for.
            foreach (var (flag, runEpochs) in new[] { ("--epochs", (int?)(r.GetValue(epochs) ?? 10)), ("--teacher-epochs", !trainsTeachers ? null : r.GetValue(teacherEpochs) ?? TrainOptions.DefaultTeacherEpochs) })
                if (runEpochs is int n && r.GetValue(warmup) > n)
                    throw new ArgumentException($"--warmup {r.GetValue(warmup)}: the warm-up is longer than the {NumberText.Count(n, "epoch")} of {flag}, so the learning rate would never reach --lr; warm up for at most {NumberText.Count(n, "epoch")}.");
            if (r.GetValue(clip) is double c0 && !(c0 > 0 && double.IsFinite(c0))) throw new ArgumentException($"--clip {c0}: give the largest gradient norm, a finite number above 0 (or leave --clip out).");
            if (!(r.GetValue(wd) >= 0) || double.IsInfinity(r.GetValue(wd))) throw new ArgumentException($"--weight-decay {r.GetValue(wd)}: give a finite number, 0 or more.");
            // The optimizer and the clipping compute in float32: 3.5e38 failed there with libtorch's "cannot be converted to
            // type float without overflow" after the data loaded, and 1e-320 became 0, a run that learned nothing.
            foreach (var (flag, value) in new[] { ("--lr", r.GetValue(lr)), ("--weight-decay", (double?)r.GetValue(wd)), ("--clip", r.GetValue(clip)), ("--alpha", a) })
                if (value is double v && (v > float.MaxValue || (v > 0 && (float)v == 0)))
                    throw new ArgumentException($"--{flag.TrimStart('-')} {v}: {(v > float.MaxValue ? "beyond float32's largest number (3.4e38)" : "below float32's smallest (1.4e-45), so it rounds to 0")}, and training computes in float32; give a number in float32's range.");
            if (r.GetValue(outDir) is "") throw new ArgumentException("--out \"\": give a folder name (it is created when missing), or leave --out out to write no files.");
            if (r.GetValue(outDir) is string o0 && FilePaths.OutFolderProblem(o0) is { } outProblem) throw new ArgumentException(outProblem); // a file, or a link that loops
            if (r.GetValue(resume) && r.GetValue(force)) throw new ArgumentException("--resume and --force contradict each other: --resume continues the run in --out, --force clears it.");
            if (r.GetValue(trainSize) is int ts && r.GetValue(validation) >= ts)
                throw new ArgumentException($"--validation {r.GetValue(validation)}: holding out that many of the {ts} --train-size images leaves none to train on; hold out fewer than {ts}.");
            // The teacher holds out the same images from its own set: the library's error named TrainOptions.ValidationCount.
            if (trainsTeachers && r.GetValue(teacherTrainSize) is int tts && r.GetValue(validation) >= tts)
                throw new ArgumentException($"--validation {r.GetValue(validation)}: the teacher holds out as many of its {tts} --teacher-train-size images, which leaves it none to train on; " +
                                            $"hold out fewer than {tts}, or give a larger --teacher-train-size.");
            var opt = Parse(r.GetValue(optimizer)!, r.GetValue(lr), r.GetValue(wd) + 0.0);
            LrSchedule lrSchedule;
            try { lrSchedule = LrSchedule.Parse(r.GetValue(schedule)!); }
            catch (ArgumentException e) { throw new ArgumentException($"--schedule {e.Message}", e); }
            // A step (or milestone) at or past the run's end never changes the rate: the run trains at a constant --lr,
            // which is not what was asked for (as a warm-up longer than the run is refused above).
            foreach (var (flag, runEpochs) in new[] { ("--epochs", (int?)(r.GetValue(epochs) ?? 10)), ("--teacher-epochs", !trainsTeachers ? null : r.GetValue(teacherEpochs) ?? TrainOptions.DefaultTeacherEpochs) })
                if (runEpochs is int n && lrSchedule.EpochsNeeded > n)
                    throw new ArgumentException($"--schedule {r.GetValue(schedule)}: it changes the learning rate at the start of epoch {lrSchedule.EpochsNeeded}, " +
                                                $"which the {NumberText.Count(n, "epoch")} of {flag} never {(n == 1 ? "reaches" : "reach")}; give steps within {NumberText.Count(n, "epoch")}, or use constant or cosine.");
            var common = new TrainOptions
            {
                Seed = r.GetValue(seed),
                BatchSize = r.GetValue(batch),
                Device = r.GetValue(device)!,
                Optimizer = opt,
                Schedule = lrSchedule,
                WarmupEpochs = r.GetValue(warmup) + 0.0,
                ClipGradNorm = r.GetValue(clip),
                Augment = ParseAugment(r.GetValue(augment)!),
                ValidationCount = r.GetValue(validation),
                Resume = r.GetValue(resume),
                Force = r.GetValue(force),
                Log = Console.Out,
                Cancellation = signals.Token,
                // What the trainer cannot see but the results depend on, checked again on --resume.
                Settings = new Dictionary<string, string>
                {
                    ["kd_temperature"] = $"{temp}", ["alpha"] = $"{a}", ["teacher_model"] = teacherArg ?? "none",
                    ["method"] = choice?.Record ?? "default",
                    ["teacher_epochs"] = $"{r.GetValue(teacherEpochs)}", ["teacher_train_size"] = $"{r.GetValue(teacherTrainSize)}",
                },
            };
            if (common.Resume && r.GetValue(outDir) is null) throw new ArgumentException("--resume needs --out DIR (the folder holding the checkpoints).");
            // The last cheap checks, before --out is claimed (a recipe's recipe.txt written, with --force other runs
            // cleared) and data loads: a bad recipe name or budget left a recipe.txt naming it.
            var recipeRun = isRecipe ? CheckRecipe(recipeName!, r.GetValue(budget)!, r.GetValue(seeds)) : default;
            if (r.GetValue(dataset) is string datasetName) DatasetCatalog.Get(datasetName);
            RecipeConfig? recipeConfig = null;
            if (isRecipe)
            {
                // The flags change the budget's settings after its file was checked: checked again by the same rules (a
                // schedule past --epochs, a negative seed), each error named by the flag that caused it.
                var loaded = ForRecipe(recipeName!, recipeRun.Budget, fileOfRecipe);
                recipeConfig = loaded with
                {
                    Seeds = recipeRun.Seeds ?? loaded.Seeds,
                    Dataset = r.GetValue(dataset) ?? loaded.Dataset,
                    Student = studentArg ?? loaded.Student,
                    Teacher = teacherArg ?? loaded.Teacher,
                    StudentEpochs = r.GetValue(epochs) ?? loaded.StudentEpochs,
                    TeacherEpochs = r.GetValue(teacherEpochs) ?? loaded.TeacherEpochs,
                    TransferSize = r.GetValue(trainSize) ?? loaded.TransferSize,
                    TeacherTrainSize = r.GetValue(teacherTrainSize) ?? loaded.TeacherTrainSize,
                    TestSize = r.GetValue(testSize) ?? loaded.TestSize,
                };
                var flags = new (string Key, Option Flag, object? Value)[] { ("seeds", seeds, recipeRun.Seeds is null ? null : r.GetValue(seeds)),
                    ("dataset", dataset, r.GetValue(dataset)), ("student", model, studentArg), ("teacher", teacher, teacherArg),
                    ("student_epochs", epochs, r.GetValue(epochs)), ("teacher_epochs", teacherEpochs, r.GetValue(teacherEpochs)),
                    ("transfer_size", trainSize, r.GetValue(trainSize)), ("teacher_train_size", teacherTrainSize, r.GetValue(teacherTrainSize)),
                    ("test_size", testSize, r.GetValue(testSize)) };
                recipeConfig.CheckOverrides(flags.Where(f => f.Value is not null).ToDictionary(f => f.Key, f => $"{f.Flag.Name} {f.Value}"));
            }
            // A method that trains its own teachers (kd-multi) writes teacher-N-*/ and student/ without --teacher:
            // its folder was refused to its own --resume as "another run".
            Func<string, bool> writes = isRecipe ? Trainer.RecipeRunFolder : !trainsTeachers ? rel => rel.Length == 0 : Trainer.DistillationRunFolder;
            // An --out holding another run is refused before the dataset loads, as it was before the load moved ahead of
            // the claim: without --force the claim only checks, and writes nothing (--force clears, so it waits for the
            // load, as recipe.txt does).
            if (r.GetValue(outDir) is string checkedOut && !common.Force) Trainer.ClaimOut(checkedOut, writes, force: false, common.Resume, Console.Out);
            // Loaded (and the sizes and models checked against it) before --out is claimed: a dataset not installed, or
            // --device cuda without CUDA, was found only after a recipe's recipe.txt or a run's folder had been written.
            using var data = Load(recipeConfig?.Dataset ?? r.GetValue(dataset) ?? "fashion-mnist", common);
            CheckSizes(data, r.GetValue(trainSize), r.GetValue(testSize), r.GetValue(teacherTrainSize));
            var studentName = recipeConfig?.Student ?? studentArg!; // a run without --recipe was refused above without --model
            // Both sized before anything trains: a student too large to train here is refused now, not after its teacher.
            foreach (var sized in new[] { studentName, recipeConfig?.Teacher ?? teacherArg }.OfType<string>()) ModelZoo.CheckFits(sized, data);
            // Each kind of command writes its own layout under --out (a plain run the folder itself, a distillation
            // teacher/ and student/, a recipe RUN/seedN): another kind's runs there are refused, as another run of the
            // same kind is, rather than left to be mixed with this one's.
            if (r.GetValue(outDir) is string claimed)
            {
                Trainer.ClaimOut(claimed, writes, common.Force, common.Resume, Console.Out);
                if (recipeName is not null) Trainer.ClaimForRecipe(claimed, recipeName.ToLowerInvariant(), common.Force, common.Resume, Console.Out);
            }
            if (recipeConfig is not null)
                return RunRecipe(recipeName!, recipeConfig, data, common, r.GetValue(outDir), fileOfRecipe);
            // The whole split is the default's subset (Subset takes all of it, in order): recorded as the default, so a
            // --resume that spelled it out (or left it out) is not refused as a changed setting.
            if (r.GetValue(teacherTrainSize) == data.Train.Count)
                common = common with { Settings = new Dictionary<string, string>(common.Settings) { ["teacher_train_size"] = "" } };

            var outRoot = r.GetValue(outDir);
            // The student's folder judges this command's options before any teacher trains: kd-multi given other teachers
            // trained them into --out before the student's folder refused the command, and a refused --resume had
            // already added a resume to teacher/run.json.
            var studentOptions = common with
            {
                Name = choice is not null ? $"{studentName} ({choice.Label})" : teacherArg is null ? studentName : $"{studentName} (kd)",
                Epochs = r.GetValue(epochs) ?? 10,
                OutDir = outRoot is null ? null : trainsTeachers ? Path.Combine(outRoot, "student") : outRoot,
            };
            if (trainsTeachers && studentOptions.OutDir is { } studentDir) Trainer.CheckOptions(studentDir, studentOptions);
            DistillModel? teacherModel = null;
            var extraTeachers = new List<DistillModel>();
            ImageDataset? teacherSet = null;
            var objective = new Objective().Add(new CrossEntropyTerm());
            try
            {
                DistillModel TrainTeacher(string teacherName, string folder)
                {
                    teacherSet ??= data.Subset(r.GetValue(teacherTrainSize), r.GetValue(testSize));
                    var model = Build(teacherName, data, common.Seed);
                    // Trained once per setting: the next command with the same teacher options reuses it.
                    var t = TeacherStore.TrainOrReuse(model, teacherSet, common with
                    {
                        // The student's method and KD settings are not the teacher's: recorded in the teacher's run.json
                        // they made a --resume with another student setting blame the teacher's folder.
                        Settings = common.Settings.Where(kv => kv.Key.StartsWith("teacher_", StringComparison.Ordinal)).ToDictionary(),
                        Name = folder,
                        Epochs = r.GetValue(teacherEpochs) ?? TrainOptions.DefaultTeacherEpochs,
                        OutDir = outRoot is null ? null : Path.Combine(outRoot, folder),
                    });
                    Console.WriteLine($"{folder} {teacherName}: {t}");
                    return model;
                }
                using var transfer = data.Subset(r.GetValue(trainSize), r.GetValue(testSize));
                // Checked before any teacher trains (the trainer would find it only when the student starts).
                if (common.ValidationCount >= transfer.Train.Count)
                    throw new ArgumentException($"--validation {common.ValidationCount}: holding out that many of the {transfer.Train.Count:N0} training images leaves none to train on; hold out fewer than {transfer.Train.Count}.");
                // The method's objective first: a missing layer or a bad setting fails before any teacher trains.
                if (choice is not null)
                {
                    using (TorchSharp.torch.manual_seed(common.Seed)) { } // a method's own modules (regressors, heads) start from the seed
                    var setup = new MethodSetup(studentName, teacherArg, transfer, common.BatchSize)
                    {
                        Seed = common.Seed,
                        ValidationCount = common.ValidationCount,
                        Epochs = studentOptions.Epochs,
                        TrainedTeacher = given =>
                        {
                            var name = ModelZoo.Canonical(given);
                            var extra = TrainTeacher(name, $"teacher-{extraTeachers.Count + 1}-{name}");
                            extraTeachers.Add(extra);
                            return extra;
                        },
                    };
                    objective = choice.Build(setup);
                    if (choice.Method.Caution(choice.Settings, setup) is { } caution) Console.Error.WriteLine($"warning: {caution}");
                }
                if (teacherArg is string teacherName)
                {
                    teacherModel = TrainTeacher(teacherName, "teacher");
                    if (choice is null) objective = new Objective().Add(new CrossEntropyTerm(), 1 - a).Add(new KdTerm(temp), a);
                }
                using var student = Build(studentName, data, common.Seed);
                var result = Trainer.Train(student, transfer, objective, studentOptions, teacherModel);
                Console.WriteLine($"{result}; {result.Parameters:N0} parameters; weights sha256 {result.WeightsSha256}");
                if (result.Warning is { } warning) Console.Error.WriteLine($"warning: {warning} (flagged in metrics.csv)");
                return 0;
            }
            finally
            {
                teacherModel?.Dispose();
                foreach (var t in extraTeachers) t.Dispose();
                teacherSet?.Dispose();
            }
        }));
        return cmd;
    }

    static int[] ParseSeeds(string seeds)
    {
        try { return RecipeParameters.ParseSeeds(seeds); }
        catch (ArgumentException e) { throw new ArgumentException($"--{ErrorText.WithoutParameter(e)}", e); }
    }

    /// <summary>Subset sizes larger than the loaded split, named by their flag (the subset's own error names none).</summary>
    static void CheckSizes(ImageDataset data, int? trainSize, int? testSize, int? teacherTrainSize)
    {
        foreach (var (flag, size, split, count) in new[] { ("--train-size", trainSize, "training", data.Train.Count), ("--test-size", testSize, "test", data.Test.Count),
                     ("--teacher-train-size", teacherTrainSize, "training", data.Train.Count) })
            if (size > count)
                throw new ArgumentException($"{flag} {size}: {data.Name} has {count:N0} {split} images; give at most {count}, or leave {flag} out to use them all.");
    }

    static ImageDataset Load(string dataset, TrainOptions common)
    {
        var data = Datasets.Load(dataset);
        Console.WriteLine($"{data.Name} (from {data.Source}): {data.Train.Count:N0} train / {data.Test.Count:N0} test images, {data.NumClasses} classes; " +
                          $"device {Native.TorchRuntime.ResolveDevice(common.Device)}, {NumberText.Count(Native.TorchRuntime.Threads, "thread")}");
        if (data.Warning is { } warning) Console.Error.WriteLine($"warning: {warning}");
        return data;
    }

    /// <summary>A recipe's name, budget and seeds (null: the budget's), each refused by its flag.</summary>
    static (Budget Budget, int[]? Seeds) CheckRecipe(string name, string budgetName, string? seedList)
    {
        if (name == "deployment")
            throw new ArgumentException("the deployment recipe (07) deploys what 05 trained, which `train` does not do; run notebooks/07-deployment.ipynb (`distill run`), or see `distill deploy`.");
        if (!Recipes.Contains(name.ToLowerInvariant())) throw new ArgumentException($"--recipe {name}: expected one of {string.Join(", ", Recipes)}.");
        Budget budget;
        try { budget = Budgets.Parse(budgetName); }
        catch (ArgumentException e) { throw new ArgumentException(NotebookArgs.BadBudget(budgetName), e); }
        // An empty --seeds keeps the budget's seeds, as an empty seeds parameter does in the notebooks.
        return (budget, string.IsNullOrWhiteSpace(seedList) ? null : ParseSeeds(seedList));
    }

    /// <summary>The recipe <paramref name="name"/> (checked by <see cref="CheckRecipe"/>) at <paramref name="budget"/>, from
    /// its built-in file or from <paramref name="file"/>, an edited copy (checked as the built-in one is).</summary>
    static RecipeConfig ForRecipe(string name, Budget budget, string? file)
    {
        name = name.ToLowerInvariant();
        T Load<T>(T defaults) where T : RecipeConfig => file is null
            ? RecipeFile.Load(RecipeNames.Find(name)!.File, budget, defaults)
            : RecipeFile.FromFile(file, budget, defaults);
        return name switch
        {
            "soft-targets" => Load(new SoftTargetsConfig()),
            "fitnets" => Load(new FitNetsConfig()),
            "attention" => Load(new AttentionTransferConfig()),
            "born-again" => Load(new BornAgainConfig()),
            "comparison" => Load(new ComparisonConfig()),
            "beyond-kd" => Load(new BeyondKdConfig()),
            _ => throw new System.Diagnostics.UnreachableException(), // CheckRecipe refused it
        };
    }

    /// <summary>The recipe a recipe file is named after: its built-in file's name (02-fitnets.yaml) or the recipe's
    /// (fitnets.yaml); any other name needs --recipe, since its keys alone may fit more than one recipe.</summary>
    static string RecipeNamedAfter(string file)
    {
        // What is wrong with the path first: a missing file was told its name names no recipe.
        RecipeFile.CheckReadable(file);
        return RecipeNames.NamedAfter(file)?.Name
            ?? throw new ArgumentException($"--recipe-file {file}: its name names no recipe; add --recipe NAME, one of {string.Join(", ", Recipes)} (or name the file after its recipe, e.g. 02-fitnets.yaml).");
    }

    /// <summary>Runs <paramref name="config"/> (the flags applied and checked) on <paramref name="data"/>, its dataset:
    /// the budget's (the full budgets name the papers' datasets) unless --dataset said otherwise.</summary>
    static int RunRecipe(string name, RecipeConfig config, ImageDataset data, TrainOptions common, string? outDir, string? file)
    {
        var budget = config.Budget;
        var run = config with
        {
            Device = common.Device,
            OutDir = outDir,
            Resume = common.Resume,
            Force = common.Force,
            Cancellation = common.Cancellation,
            Log = Console.Out,
        };
        ExperimentResult result = run switch
        {
            SoftTargetsConfig c => SoftTargets.Run(data, c),
            FitNetsConfig c => FitNets.Run(data, c),
            AttentionTransferConfig c => AttentionTransfer.Run(data, c),
            BornAgainConfig c => BornAgain.Run(data, c),
            ComparisonConfig c => Comparison.Run(data, c),
            BeyondKdConfig c => BeyondKd.Run(data, c),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
        Console.WriteLine();
        Console.WriteLine($"{name} ({budget.ToString().ToLowerInvariant()}{(file is null ? "" : $" section of {file}")}), test accuracy %, mean ± std over seeds:");
        foreach (var s in result.Runs.Summary())
            Console.WriteLine($"  {s.Name,-28} best {s.Best,-15} last {s.Last,-15} ({s.Runs} seed{(s.Runs == 1 ? "" : "s")}, {s.Parameters:N0} params)");
        return 0;
    }

    static DistillModel Build(string name, ImageDataset data, int seed)
    {
        using (TorchSharp.torch.manual_seed(seed)) { }
        return ModelZoo.Create(name, data.Channels, data.NumClasses, new ModelOptions { ImageSize = data.Height });
    }

    static OptimizerSpec Parse(string name, double? lr, double wd) => name.ToLowerInvariant() switch
    {
        "sgd" => OptimizerSpec.Sgd(lr ?? 0.05, weightDecay: wd),
        "adam" => OptimizerSpec.Adam(lr ?? 1e-3, weightDecay: wd),
        _ => throw new ArgumentException($"--optimizer {name}: expected sgd or adam."),
    };

    static Augmentation ParseAugment(string name) => name.ToLowerInvariant() switch
    {
        "none" => Augmentation.None,
        "crop-flip" => Augmentation.Cifar,
        _ => throw new ArgumentException($"--augment {name}: expected none or crop-flip."),
    };

    /// <summary>Bad input, bad files and diverging runs become one line on stderr and exit code 1, never a stack trace.
    /// Ctrl-C or SIGTERM stop training at the next step: one line says what was kept; exit 130 or 143. Every command that
    /// trains or deploys (train, sweep, spec, deploy) goes through it.</summary>
    internal static int Guard(Func<CtrlC, Func<int>> action)
    {
        using var signals = new CtrlC(Console.Error);
        try
        {
            var code = action(signals)();
            // A stop that came during the last step or the final evaluation, which check for it no more: the work is
            // done and written, said so, and the exit is still the stop's (130/143, as documented and as the
            // "Interrupted" line led the caller to expect); a sweep reads the finished run back on its next pass.
            if (code == 0 && signals.Token.IsCancellationRequested)
            {
                Console.Error.WriteLine("It had finished when the stop came: what it wrote is complete.");
                return signals.ExitCode;
            }
            return code;
        }
        catch (OperationCanceledException e) when (e is TrainingStoppedException || signals.Token.IsCancellationRequested)
        {
            Console.Error.WriteLine(e.Message);
            return signals.ExitCode;
        }
        catch (Exception e) when (e is DatasetException or ArgumentException or InvalidDataException or InvalidOperationException
                                      or NonFiniteLossException or FileNotFoundException or FormatException)
        {
            Console.Error.WriteLine($"error: {Unhandled.Line(e)}");
            return 1;
        }
    }
}
