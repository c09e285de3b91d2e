using Distill.Sweeps;

namespace Distill.Tests.Sweeps;

/// <summary>A stop (Ctrl-C, SIGTERM) requested before a sweep's runs were all run is a stop, whenever it came: never a
/// sweep that returns as done (exit 0 marks a Slurm or Kubernetes task finished for good).</summary>
public class SweepStopTests
{
    const string Spec = """
        name: t
        dataset:
          name: fashion-mnist
          train_size: 300
        student:
          model: mlp-32
        epochs: 1
        loss:
          ce: 1
        grid:
          seed: [0, 1, 2]
        """;

    static readonly ExperimentSpec S = ExperimentSpec.Parse(Spec, "t.yaml");

    [Fact]
    public void A_stop_before_the_first_run_starts_is_a_stop_and_runs_nothing()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel(); // the signal came after the handler was installed, before the first run
        var ran = new List<int>();
        foreach (var keepGoing in new[] { true, false })
        {
            var e = Assert.ThrowsAny<OperationCanceledException>(() => SweepRunner.RunEach(S, keepGoing ? S.Runs : [S.Runs[1]], keepGoing,
                (run, _) => ran.Add(run.Index), (_, _) => { }, (_, _) => { }, cts.Token));
            Assert.Contains("sweep t: stopped", e.Message, StringComparison.Ordinal);
        }
        Assert.Empty(ran);
    }

    [Fact]
    public void A_stop_between_runs_is_a_stop_and_the_rest_are_not_run()
    {
        using var cts = new CancellationTokenSource();
        var ran = new List<int>();
        Assert.ThrowsAny<OperationCanceledException>(() => SweepRunner.RunEach(S, S.Runs, keepGoing: true,
            (run, _) => { ran.Add(run.Index); cts.Cancel(); }, (_, _) => { }, (_, _) => { }, cts.Token));
        Assert.Equal([0], ran);
    }

    /// <summary>Stopped mid-run without --jobs, only the run's own line was printed, not the sweep's that --jobs prints.</summary>
    [Fact]
    public void A_stop_during_a_run_names_the_run_and_the_sweep()
    {
        foreach (var keepGoing in new[] { true, false })
        {
            using var cts = new CancellationTokenSource();
            var e = Assert.ThrowsAny<OperationCanceledException>(() => SweepRunner.RunEach(S, S.Runs, keepGoing,
                (run, _) => { cts.Cancel(); throw new OperationCanceledException($"t[{run.Index}]: stopped at epoch 1", cts.Token); }, (_, _) => { }, (_, _) => { }, cts.Token));
            Assert.Equal("t[0]: stopped at epoch 1\nsweep t: stopped; `sweep run` again resumes the unfinished runs from their checkpoints", e.Message);
        }
    }

    /// <summary>Stopped while waiting for a run another process holds, the runtime's "The operation was canceled." was
    /// printed as the run's line, between the stop notice and the sweep's line. The other process is this one's second
    /// flock on the run's task lock (flocks of two opens conflict as two processes' do).</summary>
    [Fact]
    public void A_stop_while_waiting_for_a_run_held_elsewhere_is_the_sweeps_line_alone()
    {
        var dir = Directory.CreateTempSubdirectory("sweep-stop-wait-").FullName;
        try
        {
            Directory.CreateDirectory(SweepFolder.Run(dir, 0));
            using var held = Distill.Training.FolderLock.TryTake(Path.Combine(SweepFolder.Run(dir, 0), "task.lock"));
            Assert.NotNull(held);
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var e = Assert.ThrowsAny<OperationCanceledException>(() => SweepRunner.RunEach(S, [S.Runs[0]], keepGoing: false,
                (run, _) => SweepRunner.Run(S, run.Index, dir, TextWriter.Null, cts.Token, wait: true), (_, _) => { }, (_, _) => { }, cts.Token));
            Assert.Equal("sweep t: stopped; `sweep run` again resumes the unfinished runs from their checkpoints", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>A run stopped inside a sweep said "--resume continues from step 1", an option `sweep run` does not have
    /// (running it again resumes). A real run, stopped at its first step.</summary>
    [Fact]
    public void A_run_stopped_in_a_sweep_says_that_sweep_run_again_continues_it()
    {
        var dir = Directory.CreateTempSubdirectory("sweep-stop-advice-").FullName;
        try
        {
            using var cts = new CancellationTokenSource();
            cts.Cancel();
            var e = Assert.Throws<Distill.Training.TrainingStoppedException>(() => SweepRunner.Run(S, 0, dir, TextWriter.Null, cts.Token));
            Assert.Equal($"t[0]: stopped at epoch 1, step 1; its state at that step is checkpointed in {SweepFolder.Run(dir, 0)}: `sweep run` again continues from step 1", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Without_a_stop_every_run_runs_and_failures_are_counted()
    {
        var ran = new List<int>();
        var failed = SweepRunner.RunEach(S, S.Runs, keepGoing: true,
            (run, _) => { ran.Add(run.Index); if (run.Index == 1) throw new InvalidOperationException("boom"); }, (_, _) => { }, (_, _) => { }, CancellationToken.None);
        Assert.Equal([0, 1, 2], ran);
        Assert.Equal([1], failed);
    }
}
