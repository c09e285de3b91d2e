using Distill.Data;
using System.Text.Json;
using Distill.Bench;
using Distill.Native;

namespace Distill.Tests.Bench;

/// <summary>Behaviour of the harness only (schema, plumbing, leak accounting); never timings.</summary>
public sealed class BenchTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("distill-bench-").FullName;

    public BenchTests() => TorchRuntime.Initialize();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static readonly BenchOptions Tiny = new()
    {
        Budget = TimingBudget.Smoke,
        Only = ["mlp-784-800-800-10-raw"],
        MemoryEpochs = 3,
        MemorySamples = 256,
    };

    [Fact]
    public void Smoke_run_writes_the_documented_json_schema()
    {
        var report = BenchRunner.Run(Tiny, TextWriter.Null);
        using var doc = JsonDocument.Parse(report.ToJson());
        var root = doc.RootElement;
        foreach (var key in new[] { "machine", "threads", "matmul_gflops", "cases", "overhead_pct", "rss_growth_pct", "leaked_tensors", "date" })
            Assert.True(root.TryGetProperty(key, out _), $"missing '{key}' in {root}");
        Assert.Equal(TorchRuntime.Threads, root.GetProperty("threads").GetInt32());
        Assert.True(root.GetProperty("matmul_gflops").GetDouble() > 0);
        Assert.Contains("cpu", root.GetProperty("machine").EnumerateObject().Select(p => p.Name));
        // The commit the library was built from, as every run record has it (the bench's JSON had none).
        Assert.Equal(Distill.Native.Git.BuildCommit, root.GetProperty("machine").GetProperty("commit").GetString());
        Assert.Contains($"commit {Distill.Native.Git.BuildCommit ?? "unknown"}", report.ToTable(), StringComparison.Ordinal);

        var cases = root.GetProperty("cases").EnumerateArray().ToList();
        // The GEMM limit always runs, plus the selected case.
        Assert.Equal(["gemm-1024", "mlp-784-800-800-10-raw"], cases.Select(c => c.GetProperty("name").GetString()));
        foreach (var c in cases)
        {
            foreach (var key in new[] { "name", "ours_ms", "peer_ms", "ratio", "ratio_low", "ratio_high", "ratio_noisy", "gflops", "rounds", "round_ms" })
                Assert.True(c.TryGetProperty(key, out _), $"case lacks '{key}': {c}");
            Assert.True(c.GetProperty("ours_ms").GetDouble() > 0);
            Assert.Equal(JsonValueKind.Null, c.GetProperty("peer_ms").ValueKind);
            Assert.Equal(2, c.GetProperty("steps").GetInt32());
        }
        // Raw loops dispose every step's tensors: nothing survives a step.
        Assert.Equal(0, report.Cases[1].LeakedTensorsPerStep);
        Assert.Equal(0, report.LeakedTensors);
        Assert.Equal(report, BenchReport.FromJson(report.ToJson()) with { Cases = report.Cases, Failed = report.Failed });
        Assert.Contains("mlp-784-800-800-10-raw", report.ToTable());
        // Page faults are counted per step on Linux (the first steps of a fresh case touch new memory).
        if (OperatingSystem.IsLinux()) Assert.All(report.Cases, c => Assert.True(c.PageFaultsPerStep >= 0, $"{c.Name}: {c.PageFaultsPerStep}"));
    }

    /// <summary>Listing the cases reads no dataset (a damaged Fashion-MNIST ended every run, --only gemm too); the data a
    /// case read is said in the report, the folder or the random images that stood in.</summary>
    [Fact]
    public void Listing_the_cases_reads_no_data_and_the_report_names_what_the_cases_read()
    {
        using var data = new BenchData();
        Assert.NotEmpty(BenchRunner.Cases(data));
        Assert.Null(data.FashionSource);
        Assert.Equal(60_000, data.Fashion.Train.Count);
        Assert.Equal($"Fashion-MNIST from {DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default)}", data.FashionSource);
        var report = BenchRunner.Run(Tiny with { Only = ["cnn-8-trainer"], MemoryEpochs = 0 }, TextWriter.Null);
        Assert.Equal(data.FashionSource, report.Data);
        Assert.Contains($"\ndata: {data.FashionSource}\n", report.ToTable().ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Equal(data.FashionSource, BenchReport.FromJson(report.ToJson()).Data);
        Assert.Null(BenchRunner.Run(Tiny with { MemoryEpochs = 0 }, TextWriter.Null).Data); // a raw step reads no dataset
    }

    /// <summary>A partial Fashion-MNIST fails the memory run that reads it, which is reported beside the cases measured:
    /// it ended the bench after every case, with no table and no JSON.</summary>
    [Fact]
    public void A_partial_fashion_mnist_fails_only_what_reads_it()
    {
        var data = Path.Combine(dir, "data", "fashion-mnist");
        Directory.CreateDirectory(data);
        File.Copy(DatasetCatalog.FashionMnist.Resolve(DatasetCatalog.FashionMnist.Locate(DatasetSearch.Default)!, IdxNames.TrainLabels), Path.Combine(data, IdxNames.TrainLabels));
        var json = Path.Combine(dir, "b.json");
        var (code, stdout, stderr) = Distill.Tests.Onboarding.Repo.RunCli(["bench", "--smoke", "--only", "gemm", "--json", json], env => env["DISTILL_DATA"] = Path.GetDirectoryName(data));
        Assert.True(code == 1, stderr);
        Assert.Contains("| gemm-1024 |", stdout, StringComparison.Ordinal);
        var report = BenchReport.FromJson(File.ReadAllText(json));
        Assert.Contains(report.Cases, c => c.Name == "gemm-1024");
        var failed = Assert.Single(report.Failed);
        Assert.Equal(BenchRunner.MemoryRun, failed.Case);
        Assert.Contains($"holds part of Fashion-MNIST", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Page_faults_are_read_past_a_command_name_with_spaces_and_parentheses()
    {
        Assert.Equal(4711, PageFaults.MinorFrom("123 (a b) c)) S 1 123 123 0 -1 4194560 4711 0 9 0 5 3 0 0 20 0 3 0 100"));
        Assert.Equal(-1, PageFaults.MinorFrom("garbage"));
        if (!OperatingSystem.IsLinux()) return;
        // 64 MiB of fresh anonymous pages straight from mmap, each first touch a minor fault. Not malloc: with the trim
        // threshold pinned at 128 MiB, a heap that earlier tests grew served 64 MiB from pages already touched (no
        // faults; seen once in a full run). Huge pages are declined, so a kernel with THP "always" faults 4 KiB pages too.
        long before = PageFaults.Minor();
        const int size = 64 << 20;
        var p = mmap(0, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        Assert.NotEqual(-1, p);
        try
        {
            _ = madvise(p, size, MadvNoHugePage);
            for (int i = 0; i < size; i += 4096) System.Runtime.InteropServices.Marshal.WriteByte(p, i, 1);
        }
        finally { _ = munmap(p, size); }
        Assert.True(PageFaults.Minor() - before >= size / 4096 / 2, "touching 64 MiB of fresh memory should fault its pages in");
    }

    const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MadvNoHugePage = 15;
    [System.Runtime.InteropServices.DllImport("libc.so.6")] static extern nint mmap(nint addr, nint length, int prot, int flags, int fd, nint offset);
    [System.Runtime.InteropServices.DllImport("libc.so.6")] static extern int munmap(nint addr, nint length);
    [System.Runtime.InteropServices.DllImport("libc.so.6")] static extern int madvise(nint addr, nint length, int advice);

    [Fact]
    public void A_missed_target_is_explained_by_the_cases_own_profile()
    {
        var missed = new BenchCaseResult("mlp", "d", OursMs: 10, 9, 12, 20, CpuMs: 13, 1000, 50, PctOfLimit: 40.4, 0, PeerMs: 6, Ratio: 1.6, null, null)
        { PeerTarget = "≥ 2× the peer", PeerVerdict = BenchReport.Text(Verdict.NotMet), PageFaultsPerStep = 2560 };
        var why = BenchReport.Evidence(missed, 2);
        Assert.Contains("1.30 of 2 threads busy", why);
        Assert.Contains("40 % of the GEMM limit", why);
        Assert.Contains("2560 page faults a step (10.0 MiB of fresh memory)", why);
        Assert.Contains("ours/peer 1.60", why);
        var report = new BenchReport("d", "c", new MachineInfo("cpu", 2, "os", "net", "ts", "lt", "mkl", "isa", "PASSIVE", null),
            2, 100, null, [missed with { Why = why }, missed with { Name = "met", Why = null }], null, null, null, 0, 1);
        var table = report.ToTable();
        Assert.Contains($"why mlp misses its target: {why}", table);
        Assert.DoesNotContain("why met", table);
    }

    [Fact]
    public void A_missed_target_says_how_close_the_step_is_to_its_own_gemms_and_the_ratio_they_alone_allow()
    {
        var step = new BenchCaseResult("mlp-raw", "d", OursMs: 8, 7, 9, 20, CpuMs: 13, 1000, 50, 50, 0, PeerMs: 10, Ratio: 0.8, null, null);
        var floor = new BenchCaseResult("mlp-gemms", "d", OursMs: 6, 5, 7, 20, CpuMs: 11, 1000, 60, 80, 0, null, null, "mlp-raw", -25) { Floor = true };
        Assert.Equal("its GEMMs alone (mlp-gemms: the same shapes back to back, nothing else) take 6.00 ms, 75 % of its step, " +
                     "so with every other op free ours/peer would still be 0.60", BenchReport.Floor(step, floor));
        Assert.DoesNotContain("ours/peer", BenchReport.Floor(step with { PeerMs = null }, floor));
        // Appended to a missed target's why only, and only from the floor of that very case.
        var other = floor with { Name = "other-gemms", Baseline = "other-raw" };
        var joined = BenchReport.WithFloors([step with { Why = "1.80 of 2 threads busy" }, step with { Name = "met" }, floor, other]);
        Assert.Equal($"1.80 of 2 threads busy; {BenchReport.Floor(step, floor)}", joined[0].Why);
        Assert.Null(joined[1].Why);
        Assert.Null(joined[2].Why);
        Assert.Equal("2 threads", BenchReport.WithFloors([step with { Why = "2 threads" }, other])[0].Why);
    }

    /// <summary>A bound of −0.02 % printed as "-+0.0" (.NET formats a negative number that rounds to zero with the
    /// positive section, then adds the minus): a zero section prints it as 0.0.</summary>
    [Fact]
    public void A_baseline_bound_that_rounds_to_zero_reads_0_0()
    {
        var c = new BenchCaseResult("method-dist-cnn", "d", 17.84, 17.59, 19.31, 20, 30, 1000, 30, 8, 0, null, null, "cnn-8-trainer", -3.34)
        { VsBaselineLowPct = -10.2, VsBaselineHighPct = -0.02, VsBaselineNoisy = false };
        var report = new BenchReport("d", "c", new MachineInfo("cpu", 2, "os", "net", "ts", "lt", "mkl", "isa", "PASSIVE", null), 2, 100, null, [c], null, null, null, 0, 1);
        Assert.Contains("| -3.3 % [-10.2, 0.0] vs cnn-8-trainer |", report.ToTable(), StringComparison.Ordinal);
        Assert.Contains("| +2.0 % [0.0, +4.1] vs cnn-8-trainer |", (report with { Cases = [c with { VsBaselinePct = 2.0, VsBaselineLowPct = 0.01, VsBaselineHighPct = 4.1 }] }).ToTable(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_gemms_floor_runs_in_its_raw_steps_rounds_and_leaks_nothing()
    {
        var report = BenchRunner.Run(Tiny with { Only = ["mlp-784-1200-1200-10-raw", "mlp-784-1200-1200-10-gemms"], MemoryEpochs = 0 }, TextWriter.Null);
        var floor = report.Cases.Single(c => c.Name == "mlp-784-1200-1200-10-gemms");
        Assert.True(floor.Floor);
        Assert.Equal("mlp-784-1200-1200-10-raw", floor.Baseline);          // measured in the raw step's rounds
        Assert.False(report.Cases.Single(c => c.Name == "mlp-784-1200-1200-10-raw").Floor);
        Assert.Equal(0, floor.LeakedTensorsPerStep);
    }

    [Fact]
    public void Trainer_cases_time_steps_leak_nothing_and_compare_with_their_baseline()
    {
        var report = BenchRunner.Run(Tiny with { Only = ["mlp-784-800-800-10-trainer", "kd-cached-mlp"], MemoryEpochs = 0 }, TextWriter.Null);
        var student = report.Cases.Single(c => c.Name == "mlp-784-800-800-10-trainer");
        var kd = report.Cases.Single(c => c.Name == "kd-cached-mlp");
        Assert.All(new[] { student, kd }, c =>
        {
            Assert.Equal(2, c.Steps);
            Assert.Equal(0, c.LeakedTensorsPerStep);
            Assert.True(c.Gflops > 0);
        });
        Assert.Equal("mlp-784-800-800-10-trainer", kd.Baseline);
        // Run in the same rounds: the median of the per-round ratios, not the ratio of the medians.
        Assert.Equal(2, kd.RoundMs.Count);
        Assert.Equal((RatioStats.Median([.. kd.RoundMs.Zip(student.RoundMs, (a, b) => a / b)]) - 1) * 100, kd.VsBaselinePct!.Value, 6);
        Assert.True(kd.VsBaselineLowPct <= kd.VsBaselinePct && kd.VsBaselinePct <= kd.VsBaselineHighPct);
        Assert.Null(report.OverheadPct);   // no trainer-vs-raw-loop pair was run
        Assert.Null(report.RssGrowthPct);
    }

    [Fact]
    public void Forward_flops_counted_by_hooks_match_the_formula()
    {
        var mlp = Flops.Forward(() => Distill.Models.ModelZoo.Create("mlp-1200-1200", 1, 10), [1, 28, 28]);
        Assert.Equal(2.0 * (784 * 1200 + 1200 * 1200 + 1200 * 10), mlp);
        // 3x3 conv 1->32 on 28x28 alone is 2·32·28·28·9 flops; the whole small CNN is more.
        var cnn = Flops.Forward(() => Distill.Models.ModelZoo.Create("cnn", 1, 10), [1, 28, 28]);
        double convs = 2.0 * 28 * 28 * 9 * (32 * 1 + 32 * 32) + 2.0 * 14 * 14 * 9 * 64 * 32;
        double fcs = 2.0 * (64 * 7 * 7 * 256 + 256 * 10);
        Assert.Equal(convs + fcs, cnn);
        // A training step: 3x forward minus the first layer's input gradient, as the exact MLP formula.
        Assert.Equal(Flops.LinearStackStep(1, [784, 1200, 1200, 10]),
            Flops.TrainingStep(() => Distill.Models.ModelZoo.Create("mlp-1200-1200", 1, 10), [1, 28, 28]));
    }

    [Fact]
    public void Leak_accounting_sees_a_step_that_keeps_a_tensor()
    {
        var kept = new List<TorchSharp.torch.Tensor>();
        var c = BenchCase.Stepped("leaky", "keeps a tensor per step", 1, null, () => new BenchStep(() => kept.Add(TorchSharp.torch.ones(2))));
        RoundsResult r;
        using (var side = c.Open()) r = Rounds.Interleave([side], TimingBudget.Smoke);
        Assert.Equal(2, r.Sides[0].Count);
        Assert.All(r.Sides[0], round => Assert.Equal(round.Ms.Count, round.LiveDelta));
        foreach (var k in kept) k.Dispose();
    }

    [Fact]
    public void Timing_reports_median_and_spread()
    {
        var t = Timing.From([5, 1, 4, 2, 3]);
        Assert.Equal(3, t.MedianMs);
        Assert.Equal(1.4, t.P10Ms, 9);
        Assert.Equal(4.6, t.P90Ms, 9);
    }

    [Fact]
    public void Peer_process_answers_setup_and_rounds_and_a_failing_peer_is_reported()
    {
        // A stand-in peer speaking bench_peer.py's protocol, echoing the thread count and OpenBLAS settings it was given.
        var script = Path.Combine(dir, "peer.sh");
        File.WriteAllText(script, """
            echo "peer started" >&2
            while read -r line; do
              case "$line" in
                *'"info"'*) echo "{\"torch\": \"fake with $OMP_NUM_THREADS threads, coretype '${OPENBLAS_CORETYPE:-}' l2 '${OPENBLAS_L2_SIZE:-}'\", \"blas\": \"libfake.so\", \"openblas_core\": \"Cooperlake\", \"openblas_threads\": 3, \"openblas_config\": null, \"torch_threads\": 3, \"parallel\": \"p\", \"build\": \"b\"}" ;;
                *'"setup"'*gemm-1024*) echo '{"key": "gemm-1024"}' ;;
                *'"setup"'*) echo '{"key": null}' ;;
                *'"run"'*) echo '{"ms": [10.0, 12.0]}' ;;
                *'"drop"'*) echo '{}' ;;
                *) exit 0 ;;
              esac
            done
            """);
        var log = new StringWriter();
        // The handicapping OpenBLAS settings are removed from the peer's environment only.
        var before = Peer.HandicapVariables.Select(v => (v, Environment.GetEnvironmentVariable(v))).ToList();
        Environment.SetEnvironmentVariable("OPENBLAS_CORETYPE", "Haswell");
        Environment.SetEnvironmentVariable("OPENBLAS_L2_SIZE", "512");
        PeerProcess peer;
        try { peer = Peer.Start(new PeerOptions("/bin/sh", script, null), 3, log); }
        finally
        {
            foreach (var (v, value) in before) Environment.SetEnvironmentVariable(v, value);
        }
        using (peer)
        {
            Assert.Equal("fake with 3 threads, coretype '' l2 ''", peer.Info.Torch);
            Assert.Equal("Cooperlake", peer.Info.OpenblasCore);
            Assert.Equal(3, peer.Info.OpenblasThreads);
            Assert.Null(peer.Info.OpenblasConfig);
            Assert.Equal("gemm-1024", peer.Setup("gemm-1024"));
            Assert.Null(peer.Setup("x"));
            using var side = new PeerSide(peer, "gemm-1024");
            Assert.Equal([10.0, 12.0], side.Run(2).Ms);
        }
        Assert.Contains("peer: peer started", log.ToString());

        File.WriteAllText(script, "echo 'Traceback: no module named torch' >&2; exit 1");
        var e = Assert.Throws<InvalidOperationException>(() => Peer.Start(new PeerOptions("/bin/sh", script, null), 1, TextWriter.Null));
        Assert.Contains("exit code 1", e.Message);
        File.WriteAllText(script, "read -r line; echo 'not json'; read -r line");
        var bad = Assert.Throws<InvalidOperationException>(() => Peer.Start(new PeerOptions("/bin/sh", script, null), 1, TextWriter.Null));
        Assert.Contains("not a JSON answer", bad.Message);
    }

    /// <summary>A case that threw ended the whole run with one error line: no table, no JSON, nothing of what had been
    /// measured.</summary>
    [Fact]
    public void A_failing_case_is_reported_and_the_others_are_still_measured()
    {
        var broken = BenchCase.Stepped("broken-case", "throws in its second step", 1, null, () =>
        {
            int steps = 0;
            return new BenchStep(() => { if (++steps == 2) throw new InvalidOperationException("step 2 broke"); });
        });
        var report = BenchRunner.Run(Tiny with { MemoryEpochs = 0, Only = [.. Tiny.Only, "broken-case"], ExtraCases = [broken] }, TextWriter.Null);
        Assert.Equal(["gemm-1024", "mlp-784-800-800-10-raw"], report.Cases.Select(c => c.Name));
        var failed = Assert.Single(report.Failed);
        Assert.Equal("broken-case", failed.Case);
        Assert.Contains("step 2 broke", failed.Error);
        Assert.False(report.Partial);
        using var doc = JsonDocument.Parse(report.ToJson());
        Assert.Equal("broken-case", doc.RootElement.GetProperty("failed")[0].GetProperty("case").GetString());
        Assert.False(doc.RootElement.GetProperty("partial").GetBoolean());
        Assert.Contains("FAILED broken-case: ", report.ToTable());
    }

    const string OpenBlasInfo = """{"torch": "fake", "blas": "libopenblasp.so", "openblas_core": "Haswell", "openblas_threads": 1, "openblas_config": null, "torch_threads": 1, "parallel": "p", "build": "b"}""";
    const string SetupAnswer = """{"key": "k"}""", InfoRequest = "*'\"info\"'*", SetupRequest = "*'\"setup\"'*", DropRequest = "*'\"drop\"'*";

    /// <summary>A fake peer: a shell script that answers each request line (one JSON object) by the first
    /// <paramref name="answers"/> pattern it matches, as a shell <c>case</c>.</summary>
    string FakePeer(string name, params (string Pattern, string Command)[] answers)
    {
        var script = Path.Combine(dir, name);
        File.WriteAllText(script, "while read -r line; do\n  case \"$line\" in\n" +
                                  string.Concat(answers.Select(a => $"    {a.Pattern}) {a.Command} ;;\n")) + "  esac\ndone\n");
        return script;
    }

    /// <summary>A shell command printing <paramref name="json"/> (single-quoted, its own quotes escaped).</summary>
    static string Echo(string json) => $"echo '{json.Replace("'", "'\\''", StringComparison.Ordinal)}'";

    /// <summary>A peer that died mid-run (kill -9 of its python) failed the run; now the group runs again without it, and
    /// so does the rest.</summary>
    [Fact]
    public void A_peer_that_dies_is_said_once_and_the_run_goes_on_without_it()
    {
        var script = FakePeer("dying-peer.sh", (InfoRequest, Echo(OpenBlasInfo)), (SetupRequest, Echo(SetupAnswer)), ("*", "kill -9 $$"));
        var log = new StringWriter();
        var report = BenchRunner.Run(Tiny with { MemoryEpochs = 0, Peer = new PeerOptions("/bin/sh", script, null) }, log);
        Assert.Equal(["gemm-1024", "mlp-784-800-800-10-raw"], report.Cases.Select(c => c.Name));
        Assert.Empty(report.Failed);
        Assert.All(report.Cases, c => Assert.Null(c.PeerMs));
        Assert.Single(log.ToString().Split('\n'), l => l.Contains("run without the peer", StringComparison.Ordinal));
    }

    /// <summary>A stop (SIGINT, SIGTERM) ends the run at the next round; what was measured is the report, marked partial.</summary>
    [Fact]
    public void A_stopped_run_reports_the_cases_measured_before()
    {
        using var stop = new CancellationTokenSource();
        var stopper = BenchCase.Stepped("stopper", "stops the run in its first step", 1, null, () => new BenchStep(stop.Cancel));
        var report = BenchRunner.Run(Tiny with { MemoryEpochs = 3, Only = [.. Tiny.Only, "stopper"], ExtraCases = [stopper] }, TextWriter.Null, stop.Token);
        Assert.True(report.Partial);
        Assert.Equal(["gemm-1024", "mlp-784-800-800-10-raw"], report.Cases.Select(c => c.Name));
        Assert.Empty(report.Failed);
        Assert.Null(report.RssGrowthPct); // the memory run did not start
        Assert.True(JsonDocument.Parse(report.ToJson()).RootElement.GetProperty("partial").GetBoolean());
    }

    /// <summary>Answers off the protocol were KeyNotFoundException, "No values" or "requires an element of type
    /// 'Object'", or worse, a run with "ratio": "Infinity" in the JSON: now an error naming the request, the answer and the fix.</summary>
    [Theory]
    [InlineData("info", "{\"ok\": 1}", "\"torch\" is missing")]
    [InlineData("info", "[1, 2]", "not a JSON object")]
    [InlineData("setup", "{\"key\": 3}", "\"key\" is missing or not a string or null")]
    [InlineData("run", "{\"steps\": 2}", "\"ms\" is not a list of 2 step times")]
    [InlineData("run", "{\"ms\": []}", "\"ms\" is not a list of 2 step times")]
    [InlineData("run", "5", "not a JSON object")]
    [InlineData("run", "{\"ms\": [0, 0]}", "\"ms\" is not a list of 2 step times")]
    [InlineData("run", "{\"ms\": [3.5]}", "\"ms\" is not a list of 2 step times")]
    [InlineData("run", "{\"ms\": [3.5, \"x\"]}", "\"ms\" is not a list of 2 step times")]
    public void A_peer_answer_off_the_protocol_is_named_with_the_request(string request, string answer, string problem)
    {
        string Answer(string cmd, string good) => Echo(cmd == request ? answer : good);
        var script = FakePeer($"peer-{request}.sh", (InfoRequest, Answer("info", OpenBlasInfo)), (SetupRequest, Answer("setup", SetupAnswer)),
            ("*'\"run\"'*", Answer("run", "{\"ms\": [1.5, 2.5]}")), (DropRequest, Echo("{}")), ("*", "exit 0"));
        var e = Assert.Throws<InvalidOperationException>(() =>
        {
            using var peer = Peer.Start(new PeerOptions("/bin/sh", script, null), 1, TextWriter.Null);
            var key = peer.Setup("gemm-1024")!;
            peer.Run(key, 2, untilIdle: false);
        });
        Assert.StartsWith("--peer: ", e.Message, StringComparison.Ordinal);
        Assert.Contains($"answered {{\"cmd\":\"{request}\"", e.Message, StringComparison.Ordinal);
        Assert.Contains($"with {answer}: {problem}", e.Message, StringComparison.Ordinal);
        Assert.Contains("bench/peer/bench_peer.py", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A peer whose torch fell back to the reference BLAS (GEMM 7 against our 294 GFLOP/s here) was a target
    /// met without a word: now a warning with the fix, and no verdict against it.</summary>
    [Fact]
    public void A_peer_on_the_reference_blas_is_warned_about_and_judges_nothing()
    {
        const string ReferenceBlasInfo = """{"torch": "fake", "blas": "libblas.so.3, liblapack.so.3", "openblas_core": null, "openblas_threads": null, "openblas_config": null, "torch_threads": 1, "parallel": "p", "build": "b"}""";
        var script = FakePeer("slow-peer.sh", (InfoRequest, Echo(ReferenceBlasInfo)), (SetupRequest, Echo(SetupAnswer)),
            ("*'\"run\"'*'\"steps\":1'*", Echo("{\"ms\": [500]}")), ("*'\"run\"'*", Echo("{\"ms\": [500, 500]}")), (DropRequest, Echo("{}")), ("*", "exit 0"));
        var log = new StringWriter();
        var report = BenchRunner.Run(Tiny with { MemoryEpochs = 0, Peer = new PeerOptions("/bin/sh", script, null) }, log);
        Assert.Contains("warning: the peer's torch runs on the reference BLAS (libblas.so.3, liblapack.so.3)", log.ToString());
        Assert.Contains("install libopenblas0-pthread", log.ToString());
        var raw = report.Cases.Single(c => c.Name == "mlp-784-800-800-10-raw");
        Assert.NotNull(raw.Ratio);
        Assert.Equal(BenchRunner.NoVerdictOnReferenceBlas, raw.PeerVerdict);
        Assert.Null(raw.Why);
        Assert.Contains(BenchRunner.NoVerdictOnReferenceBlas, report.ToTable());
    }

    [Fact]
    public void A_peer_python_without_torch_is_refused_before_anything_runs()
    {
        Assert.Contains("cannot run", Peer.Check(Path.Combine(dir, "no-such-python")));
        // /bin/sh stands in for a Python without torch: "-c 'import torch; ...'" fails.
        Assert.Contains("cannot import torch", Peer.Check("/bin/sh"));
        // Not a Python at all, and silent: "cannot import torch ()" said nothing.
        Assert.Contains("cannot import torch (it exited with code 1 and printed nothing)", Peer.Check("/bin/false"));
    }

    /// <summary>A header-less (earlier) numerics file is recognised by its exact value count, which Compute gives: any file
    /// of whole 4-byte values with a finite first one passed, and --save-numerics replaced notes, a README, an ONNX model.</summary>
    [Fact]
    public void Numerics_count_is_what_compute_gives_and_only_such_a_file_counts_as_an_earlier_one()
    {
        Assert.Equal(Numerics.Count, Numerics.Compute().Length);
        using var dir = new TempDir();
        var notes = dir.File("notes.txt");
        File.WriteAllText(notes, "my precious notes!!\n");
        Assert.False(Numerics.IsNumericsFile(notes));
        var old = dir.File("old.bin");
        File.WriteAllBytes(old, new byte[4L * Numerics.Count]);
        Assert.True(Numerics.IsNumericsFile(old));
    }

    [Fact]
    public void Numerics_compare_finds_the_largest_difference()
    {
        var a = new float[512 * 512 + 10];
        a.AsSpan().Fill(2f);
        var b = (float[])a.Clone();
        b[7] = 2.5f;                 // in the GEMM part
        b[^1] = 1f;                  // a loss
        var parts = Numerics.Compare(a, b);
        Assert.Equal(0.5, parts[0].MaxAbs, 6);
        Assert.Equal(0.5 / Math.Sqrt(512 * 512 * 4.0), parts[0].RelL2, 9);
        Assert.Equal(0, parts[1].MaxAbs);
        Assert.Equal(1, parts[2].MaxAbs, 6);
        Assert.Throws<InvalidDataException>(() => Numerics.Compare([1f], [1f, 2f]));
    }

    /// <summary>An empty or cut-short file was "made by a different version", and a file of random bytes of the right
    /// length compared as max |diff| NaN.</summary>
    [Fact]
    public void A_numerics_file_cut_short_damaged_or_of_garbage_is_named_so()
    {
        var values = Enumerable.Range(0, 512 * 512 + 10).Select(i => i * 0.5f).ToArray();
        string Written(string name, Func<byte[], byte[]> change)
        {
            var path = Path.Combine(dir, name);
            Numerics.Save(path, values);
            File.WriteAllBytes(path, change(File.ReadAllBytes(path)));
            return path;
        }
        string Refusal(string path) => Assert.Throws<InvalidDataException>(() => Numerics.Load(path, values.Length)).Message;

        Assert.Equal(values, Numerics.Load(Written("ok.bin", b => b), values.Length));
        Assert.Contains("the file is empty", Refusal(Written("empty.bin", _ => [])));
        Assert.Contains("cut short or damaged", Refusal(Written("cut.bin", b => b[..(b.Length / 2)])));
        Assert.Contains("checksum does not match", Refusal(Written("flipped.bin", b => { b[100] ^= 1; return b; })));
        var other = Written("other.bin", b => b);
        Assert.Contains("different version", Assert.Throws<InvalidDataException>(() => Numerics.Load(other, values.Length + 1)).Message);
        // The format before the header (bare floats) is still read; garbage of that length is not.
        Assert.Equal(values, Numerics.Load(Written("old.bin", b => b[12..^8]), values.Length));
        var garbage = new byte[values.Length * 4];
        new Random(1).NextBytes(garbage);
        Assert.Contains("not a finite number", Refusal(Written("garbage.bin", _ => garbage)));
    }

    /// <summary>A peer answering zero times made the ratio Infinity, written into the JSON as the string "Infinity".</summary>
    [Fact]
    public void The_json_report_holds_no_NaN_or_Infinity()
    {
        var c = new BenchCaseResult("c", "d", 1, 1, 1, 2, 1, double.PositiveInfinity, double.NaN, null, 0, 0, double.PositiveInfinity, null, null);
        var report = new BenchReport("d", "c", new MachineInfo("cpu", 2, "os", "net", "ts", "lt", "mkl", "isa", "PASSIVE", null),
            2, double.NaN, null, [c], null, null, null, 0, 1);
        var json = report.ToJson();
        Assert.DoesNotContain("NaN", json);
        Assert.DoesNotContain("Infinity", json);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("matmul_gflops").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("cases")[0].GetProperty("ratio").ValueKind);
    }

    [Fact]
    public void Training_flop_count_leaves_out_the_first_layers_input_gradient()
    {
        // 2 layers: first 2·B·in·out twice (forward, weight grad), second three times.
        Assert.Equal(2 * 2.0 * 4 * 3 * 5 + 3 * 2.0 * 4 * 5 * 2, Flops.LinearStackStep(4, [3, 5, 2]));
    }
}
