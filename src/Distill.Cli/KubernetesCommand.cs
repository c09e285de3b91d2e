using System.CommandLine;
using Distill.Sweeps;
using k8s;
using k8s.Models;

namespace Distill.Cli;

/// <summary>
/// `distill sweep k8s SPEC --image IMG`: a ConfigMap holding the spec and an Indexed Job running it, one pod per run
/// (Kubernetes sets JOB_COMPLETION_INDEX, which `sweep run` reads). Built from the KubernetesClient models, so field
/// names and types are the API's own. Output and datasets live on persistent volume claims that every pod mounts.
/// </summary>
static partial class KubernetesCommand
{
    public const string SpecMount = "/spec", SweepMount = "/sweep", DataMount = "/data";

    /// <summary>The most an object's annotations may hold, in bytes (the API server's limit, 256 KiB). `kubectl apply`
    /// (client-side, as the docs say to run it) records the whole ConfigMap, the spec's text within it, as JSON in its
    /// last-applied-configuration annotation, so this and not the ConfigMap's own 1 MiB is the limit a spec meets.</summary>
    public const int MaxAnnotationBytes = 256 * 1024;

    /// <summary>CPUs beyond those of all but the largest nodes (two 128-core sockets), above which --cpus is warned of.</summary>
    const int LargeNodeCpus = 256;

    public static Command Create(Argument<string> spec)
    {
        var image = new Option<string>("--image") { Description = "Container image with distill on PATH (and libtorch).", Required = true };
        var parallelism = new Option<int>("--parallelism") { Description = "Pods running at once.", DefaultValueFactory = _ => 4 };
        var cpus = new Option<int>("--cpus") { Description = "CPUs per pod (requested and limit; also its libtorch threads).", DefaultValueFactory = _ => 1 };
        var memory = new Option<string>("--memory") { Description = "Memory per pod (requested and limit).", DefaultValueFactory = _ => "4Gi" };
        var outClaim = new Option<string>("--output-claim") { Description = "PersistentVolumeClaim for the sweep folder (ReadWriteMany).", DefaultValueFactory = _ => "distill-sweeps" };
        var dataClaim = new Option<string>("--data-claim") { Description = "PersistentVolumeClaim holding the datasets (mounted read-only as $DISTILL_DATA).", DefaultValueFactory = _ => "distill-datasets" };
        var retries = new Option<int>("--retries") { Description = "Retries per index (a preempted pod resumes from its checkpoint).", DefaultValueFactory = _ => 3 };
        var file = new Option<string?>("--out") { Description = "Write the manifest here (default: stdout)." };
        var cmd = new Command("k8s", "Write a Kubernetes Indexed Job manifest (and the spec's ConfigMap): one pod per run.")
            { spec, image, parallelism, cpus, memory, outClaim, dataClaim, retries, file };
        cmd.SetAction(r => TrainCommand.Guard(_ => () =>
        {
            var s = ExperimentSpec.Load(r.GetValue(spec)!).RefuseIdleKey();
            foreach (var (o, v) in new[] { (parallelism, r.GetValue(parallelism)), (cpus, r.GetValue(cpus)) })
                if (v < 1) throw new ArgumentException($"{o.Name} {v}: give at least 1.");
            // As `sweep slurm --cpus-per-task`: no node has more, so the pod would never be scheduled, and each run would
            // ask libtorch for that many threads.
            if (r.GetValue(cpus) > 1024) throw new ArgumentException($"--cpus {r.GetValue(cpus)}: give 1 to 1024 (the CPUs of one node that one pod uses).");
            // Up to 1024 is accepted (such nodes exist), but a pod is scheduled only on a node with that many CPUs free:
            // on a cluster of smaller nodes its pods stay Pending, and the Job with them, without an error.
            if (r.GetValue(cpus) > LargeNodeCpus)
                Console.Error.WriteLine($"warning: --cpus {r.GetValue(cpus)}: each pod requests {r.GetValue(cpus)} CPUs and is scheduled only on a node with that many free " +
                                        $"(few have more than {LargeNodeCpus}); on smaller nodes the pods stay Pending. Give the CPUs one run should use on one of your nodes.");
            if (r.GetValue(retries) < 0) throw new ArgumentException($"--retries {r.GetValue(retries)}: give 0 or more.");
            CheckOptions(r.GetValue(image)!, r.GetValue(memory)!, r.GetValue(outClaim)!, r.GetValue(dataClaim)!);
            // Compared as resolved paths: `--out ./s.yaml` or a link to the spec would overwrite it with the manifest too.
            if (r.GetValue(file) is string target && FilePaths.SameFile(target, r.GetValue(spec)!))
                throw new ArgumentException($"--out {target}: this is the spec {r.GetValue(spec)} itself, which the manifest would overwrite; give another file, e.g. job.yaml.");
            var (map, job) = Build(s, r.GetValue(image)!, r.GetValue(parallelism), r.GetValue(cpus), r.GetValue(memory)!, r.GetValue(outClaim)!,
                r.GetValue(dataClaim)!, r.GetValue(retries));
            var yaml = string.Join("---\n", new object[] { map, job }.Select(o => KubernetesYaml.Serialize(o).TrimEnd('\n') + "\n"));
            if (r.GetValue(file) is string path)
            {
                if (Directory.Exists(path))
                    throw new ArgumentException($"--out {path}: this is a folder; give the manifest's file name, e.g. {Path.Combine(path, "job.yaml")}.");
                if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } parent && !Directory.Exists(parent))
                    throw new ArgumentException($"--out {path}: there is no folder {parent}; create it first, or give a file in a folder that exists.");
                // Only a manifest this command wrote is replaced: `--out` pointed at a sweep's plan.json or an ONNX export
                // destroyed it (as `deploy export` refuses a file it did not write).
                if (File.Exists(path) && !IsManifest(path))
                    throw new ArgumentException($"--out {path} exists and is not a manifest that `sweep k8s` wrote; writing would replace it. " +
                                                "Give another --out, or move it away first.");
                // Atomic: a failed write (disk full) leaves the old manifest whole, not half of the new one.
                try { Distill.Training.AtomicFile.WriteAllText(path, yaml); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new ArgumentException($"--out {path}: cannot write it ({e.Message}); give a file you can write to.", e);
                }
                Console.WriteLine($"wrote {path}: Job {job.Metadata.Name}, {s.Runs.Count} index{(s.Runs.Count == 1 ? "" : "es")}; kubectl apply -f {path}");
            }
            else Console.Write(yaml);
            return 0;
        }));
        return cmd;
    }

    /// <summary>The most a manifest this command writes can take, with room to spare: the ConfigMap's JSON is at most
    /// <see cref="MaxAnnotationBytes"/>, its YAML about as much, and the Job a few KiB. A larger file is not one, and is
    /// not read whole to find that out.</summary>
    const long MaxManifestBytes = 4 * MaxAnnotationBytes;

    /// <summary>Whether <paramref name="path"/> holds what <see cref="Build"/> gives, as written: a ConfigMap and then a
    /// Job, both with the labels this command sets (app.kubernetes.io/name: distill and distill/sweep). Recognised by
    /// content, not by name, so a user's own job.yaml or any other file is never taken for one.</summary>
    internal static bool IsManifest(string path)
    {
        try
        {
            if (new FileInfo(path).Length > MaxManifestBytes) return false;
            var objects = KubernetesYaml.LoadAllFromString(File.ReadAllText(path));
            static bool Ours(V1ObjectMeta? m) => m?.Labels is { } l && l.TryGetValue("app.kubernetes.io/name", out var app) && app == "distill"
                                                 && l.ContainsKey("distill/sweep");
            return objects.Count == 2 && objects[0] is V1ConfigMap map && objects[1] is V1Job job && Ours(map.Metadata) && Ours(job.Metadata);
        }
        // Not YAML, not Kubernetes objects, or not readable: not a manifest this command wrote.
        catch (Exception) { return false; }
    }

    /// <summary>The values Kubernetes would refuse only at `kubectl apply` (or the client library with a raw conversion
    /// error, for a memory size), each refused here naming its option.</summary>
    static void CheckOptions(string image, string memory, string outClaim, string dataClaim)
    {
        if (string.IsNullOrWhiteSpace(image) || image.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new ArgumentException($"--image '{image}': not an image name; give the container image with distill on PATH, e.g. registry.example/distill:1.");
        if (ImageProblem(image) is { } problem)
            throw new ArgumentException($"--image '{image}': not an image name: {problem}; give the container image with distill on PATH, e.g. registry.example/distill:1.");
        // A positive quantity in bytes: a number with an optional binary (Ki ... Ei) or decimal (k, M ... E) suffix.
        if (!MemoryQuantity().IsMatch(memory) || !memory.Any(c => c is >= '1' and <= '9'))
            throw new ArgumentException($"--memory {memory}: not a memory size; give a positive Kubernetes quantity, e.g. 4Gi or 512Mi.");
        // The .NET runtime and libtorch alone take more than this before the first step: a pod limited below it is
        // OOM-killed at start on every retry (a bare number is bytes, so `--memory 4` meant 4 GiB is four bytes).
        if (MemoryBytes(memory) < MinMemoryBytes)
            throw new ArgumentException($"--memory {memory}: under 64Mi, too little for distill to start (the pod would be killed for memory); " +
                                        "give e.g. 4Gi or 512Mi (a number without a suffix is bytes).");
        // Kubernetes holds a quantity's bytes in 64 bits: a larger one was written as 9223372036854775807 without a word.
        if (MemoryBytes(memory) >= 9223372036854775808.0)
            throw new ArgumentException($"--memory {memory}: more than Kubernetes can hold (under 8Ei, 2^63 bytes), and far more than any node has; " +
                                        "give the memory one pod needs, e.g. 4Gi or 512Mi.");
        foreach (var (option, claim) in new[] { ("--output-claim", outClaim), ("--data-claim", dataClaim) })
            if (claim.Length > 253 || !ClaimName().IsMatch(claim))
                throw new ArgumentException($"{option} {claim}: not a PersistentVolumeClaim name; give a DNS-1123 name (lower-case letters, digits, '-' and '.', " +
                                            "starting and ending with a letter or digit, at most 253 characters), e.g. distill-sweeps.");
    }

    /// <summary>What makes <paramref name="image"/> no image reference by the grammar the kubelet parses it with (the
    /// OCI distribution reference: [HOST[:PORT]/]PATH[:TAG][@DIGEST]), as words, or null. The pod of an image it refuses
    /// stays in InvalidImageName, and the Job waits for it forever instead of failing.</summary>
    internal static string? ImageProblem(string image)
    {
        var name = image;
        if (name.IndexOf('@', StringComparison.Ordinal) is var at and >= 0)
        {
            if (!ImageDigest().IsMatch(name[(at + 1)..]))
                return $"the digest '{name[(at + 1)..]}' is not sha256: and 64 lower-case hex digits (or sha512: and 128)";
            name = name[..at];
        }
        // A ':' after the last '/' starts the tag; one before it is a registry's port.
        if (name.LastIndexOf(':') is var colon and >= 0 && colon > name.LastIndexOf('/'))
        {
            if (!ImageTag().IsMatch(name[(colon + 1)..]))
                return $"the tag '{name[(colon + 1)..]}' is not 1 to 128 letters, digits, '_', '.' and '-' starting with a letter, digit or '_'";
            name = name[..colon];
        }
        if (name.Length is 0 or > 255) return $"the name '{name}' {(name.Length == 0 ? "is empty" : "is over 255 characters")}";
        var parts = name.Split('/');
        // As the reference parser decides: the first of several parts is the registry when it has a '.' or ':' (a host
        // name or a port), an upper-case letter (which a path may not hold), or is localhost.
        if (parts.Length > 1 && (parts[0].Any(c => c is '.' or ':' || char.IsAsciiLetterUpper(c)) || parts[0] == "localhost"))
        {
            if (!ImageRegistry().IsMatch(parts[0]))
                return $"the registry '{parts[0]}' is not a host name (letters, digits, '-' and '.') with an optional :PORT";
            parts = parts[1..];
        }
        return parts.FirstOrDefault(p => !ImagePathPart().IsMatch(p)) is { } bad
            ? $"the path part '{bad}' is not lower-case letters and digits separated by '.', '_', '__' or '-'"
            : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})\z")]
    private static partial System.Text.RegularExpressions.Regex ImageDigest();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\z")]
    private static partial System.Text.RegularExpressions.Regex ImageTag();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]+)?\z")]
    private static partial System.Text.RegularExpressions.Regex ImageRegistry();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*\z")]
    private static partial System.Text.RegularExpressions.Regex ImagePathPart();

    const double MinMemoryBytes = 64.0 * 1024 * 1024;

    /// <summary>The bytes of a quantity <see cref="MemoryQuantity"/> matched, as a double (a quantity of 10^30 bytes
    /// does not overflow it; the checks need only its size).</summary>
    static double MemoryBytes(string memory)
    {
        var digits = memory.TrimEnd('i', 'k', 'K', 'M', 'G', 'T', 'P', 'E');
        var suffix = memory[digits.Length..];
        var (b, power) = suffix.EndsWith('i') ? (1024.0, "KMGTPE".IndexOf(suffix[0], StringComparison.Ordinal) + 1)
            : (1000.0, suffix.Length == 0 ? 0 : "kMGTPE".IndexOf(suffix[0], StringComparison.Ordinal) + 1);
        return double.Parse(digits, System.Globalization.CultureInfo.InvariantCulture) * Math.Pow(b, power);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[kMGTPE])?$")]
    private static partial System.Text.RegularExpressions.Regex MemoryQuantity();

    [System.Text.RegularExpressions.GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial System.Text.RegularExpressions.Regex ClaimName();

    /// <summary>
    /// The Job's (and ConfigMap's, and label's) name: distill-NAME-HASH8, a DNS-1123 label (lower-case alphanumerics and
    /// '-', starting and ending with one of the former) of at most 63 characters, and short enough that an index pod's
    /// hostname, NAME-INDEX, is one too. A long spec name is cut, not the spec hash, so two specs still get two names.
    /// </summary>
    internal static string JobName(ExperimentSpec s)
    {
        var suffix = $"-{s.Hash[..8]}";
        var budget = 63 - "distill-".Length - suffix.Length - $"-{s.Runs.Count - 1}".Length;
        var name = string.Concat(s.Name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')).Trim('-');
        name = name.Length > budget ? name[..budget].TrimEnd('-') : name;
        return name.Length == 0 ? $"distill{suffix}" : $"distill-{name}{suffix}";
    }

    public static (V1ConfigMap Spec, V1Job Job) Build(ExperimentSpec s, string image, int parallelism, int cpus, string memory, string outClaim,
        string dataClaim, int retries)
    {
        var name = JobName(s);
        var labels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = "distill", ["distill/sweep"] = name };
        var map = new V1ConfigMap
        {
            ApiVersion = "v1", Kind = "ConfigMap",
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
            Data = new Dictionary<string, string> { [SweepFolder.SpecFile] = s.Text },
        };
        // `kubectl apply` would be refused for a ConfigMap whose JSON does not fit in an annotation (MaxAnnotationBytes):
        // refused here, before the manifest is written.
        var size = System.Text.Encoding.UTF8.GetByteCount(KubernetesJson.Serialize(map));
        if (size > MaxAnnotationBytes)
            throw new ArgumentException($"spec {s.File}: its ConfigMap takes {size:N0} bytes as JSON, which `kubectl apply` records in an annotation, " +
                                        $"over Kubernetes' limit of {MaxAnnotationBytes:N0} bytes (256 KiB) for annotations, so the cluster would refuse it; " +
                                        "make the spec smaller (comments count too), or run the sweep with `sweep slurm` or `sweep run`.");
        // A nameless spec is named after its file, as `sweep run` of the original names it: the pods read the copy under
        // that file's name, so they plan and label the runs alike (as "spec", they were another sweep's runs). A name:
        // line written into the copy would change its hash, making it another spec than the local one.
        var specFile = s.Nameless ? Path.GetFileName(s.File) : SweepFolder.SpecFile;
        // Kubernetes refuses a ConfigMap item path that starts with ".." (validateLocalNonReservedPath): `kubectl apply`
        // would fail on a manifest written without a word.
        if (specFile.StartsWith("..", StringComparison.Ordinal))
            throw new ArgumentException($"spec {s.File} has no name: line, so the pods read it under its file name, and Kubernetes refuses a ConfigMap item path " +
                                        $"that starts with '..' ({specFile}); add a name: line to the spec, or rename the file.");
        var resources = new Dictionary<string, ResourceQuantity> { ["cpu"] = new($"{cpus}"), ["memory"] = new(memory) };
        var job = new V1Job
        {
            ApiVersion = "batch/v1", Kind = "Job",
            Metadata = new V1ObjectMeta { Name = name, Labels = labels },
            Spec = new V1JobSpec
            {
                CompletionMode = "Indexed",
                Completions = s.Runs.Count,
                Parallelism = Math.Min(parallelism, s.Runs.Count),
                // Retries count per index, so one run that keeps failing does not use up the others' retries.
                BackoffLimitPerIndex = retries,
                PodFailurePolicy = new V1PodFailurePolicy
                {
                    Rules =
                    [
                        // Preemption or eviction is not the run's fault: retry without counting it (the new pod resumes).
                        new V1PodFailurePolicyRule
                        {
                            Action = "Ignore",
                            OnPodConditions = [new V1PodFailurePolicyOnPodConditionsPattern { Type = "DisruptionTarget", Status = "True" }],
                        },
                        // Exit 1 is bad input or a failed run (e.g. a NaN loss): deterministic, so retrying cannot help.
                        new V1PodFailurePolicyRule
                        {
                            Action = "FailIndex",
                            OnExitCodes = new V1PodFailurePolicyOnExitCodesRequirement { ContainerName = "run", OperatorProperty = "In", Values = [1] },
                        },
                    ],
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec
                    {
                        // Never: a failed or preempted pod is replaced by a new one for the same index (per-index
                        // backoff requires it), which resumes from the checkpoint on the output volume.
                        RestartPolicy = "Never",
                        // SIGTERM makes distill checkpoint at the next step; give it time before SIGKILL.
                        TerminationGracePeriodSeconds = 120,
                        Containers =
                        [
                            new V1Container
                            {
                                Name = "run",
                                Image = image,
                                Command = ["distill"],
                                Args = ["sweep", "run", $"{SpecMount}/{specFile}", "--out", $"{SweepMount}/{name}"],
                                Env =
                                [
                                    new V1EnvVar { Name = "DISTILL_THREADS", Value = $"{cpus}" },
                                    new V1EnvVar { Name = "DISTILL_DATA", Value = DataMount },
                                ],
                                Resources = new V1ResourceRequirements { Requests = resources, Limits = resources },
                                VolumeMounts =
                                [
                                    new V1VolumeMount { Name = "spec", MountPath = SpecMount, ReadOnlyProperty = true },
                                    new V1VolumeMount { Name = "sweep", MountPath = SweepMount },
                                    new V1VolumeMount { Name = "datasets", MountPath = DataMount, ReadOnlyProperty = true },
                                ],
                            },
                        ],
                        Volumes =
                        [
                            new V1Volume
                            {
                                Name = "spec",
                                ConfigMap = new V1ConfigMapVolumeSource
                                {
                                    Name = name, Items = specFile == SweepFolder.SpecFile ? null : [new V1KeyToPath { Key = SweepFolder.SpecFile, Path = specFile }],
                                },
                            },
                            new V1Volume { Name = "sweep", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = outClaim } },
                            new V1Volume { Name = "datasets", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = dataClaim, ReadOnlyProperty = true } },
                        ],
                    },
                },
            },
        };
        return (map, job);
    }
}
