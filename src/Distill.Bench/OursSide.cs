using System.Diagnostics;

namespace Distill.Bench;

/// <summary>
/// What a case's body reports to, on the case's own thread: <see cref="Ready"/> once its state is built,
/// <see cref="StepEnd"/> after every step. A step is timed from the end of the one before (or from the start of a
/// round) to its own end, so a trainer's step is timed between two of its <c>OnStepEnd</c> calls exactly as a raw loop's
/// step is between two calls. The clock pauses the body when the round's steps are done.
/// </summary>
public sealed class SideClock : IDisposable
{
    readonly SemaphoreSlim go = new(0), done = new(0);
    int want;
    bool skip, stop;
    List<double> ms = [], cpu = [];
    long start;
    double cpu0;

    /// <summary>Set-up is done: wait for the first round (or warm-up).</summary>
    public void Ready() => Pause();

    /// <summary>The next step is not timed: it includes set-up or an epoch's evaluation.</summary>
    public void SkipNext() => skip = true;

    public void StepEnd()
    {
        long now = Stopwatch.GetTimestamp();
        double c = CpuClock.ProcessMs();
        if (!skip)
        {
            ms.Add(Stopwatch.GetElapsedTime(start, now).TotalMilliseconds);
            cpu.Add(c - cpu0);
        }
        skip = false;
        if (ms.Count >= want) Pause();
        else Restart();
    }

    void Pause()
    {
        done.Release();
        go.Wait();
        if (stop) throw new StoppedException();
        Restart();
    }

    void Restart()
    {
        cpu0 = CpuClock.ProcessMs();
        start = Stopwatch.GetTimestamp();
    }

    internal void WaitPaused() => done.Wait();

    /// <summary>The body has returned or failed: wake whoever waits for a round.</summary>
    internal void Finished() => done.Release();

    internal (List<double> Ms, List<double> Cpu) Round(int steps)
    {
        (ms, cpu, want) = (new List<double>(steps), new List<double>(steps), steps);
        go.Release();
        done.Wait();
        return (ms, cpu);
    }

    internal void Stop()
    {
        stop = true;
        go.Release();
    }

    public void Dispose()
    {
        go.Dispose();
        done.Dispose();
    }

    internal sealed class StoppedException : Exception;
}

/// <summary>Our side of a comparison: the case's body on a thread of its own, run a round at a time. Every one of our
/// cases (raw loop and trainer alike) runs this way, so none has a thread the other has not.</summary>
sealed class OursSide : IRoundSide
{
    readonly SideClock clock = new();
    readonly Thread thread;
    Exception? error;
    bool finished;

    public string Name { get; }

    public OursSide(string name, Action<SideClock> body)
    {
        Name = name;
        thread = new Thread(() =>
        {
            try { body(clock); }
            catch (SideClock.StoppedException) { return; }
            catch (Exception e) { error = e; }
            finished = true;
            clock.Finished();
        }, 16 << 20) { Name = $"bench {name}", IsBackground = true };
        thread.Start();
        clock.WaitPaused();
        Check();
    }

    public RoundTimes Run(int steps)
    {
        Check();
        long live0 = BenchCase.LiveTensors(), faults0 = PageFaults.Minor();
        var (ms, cpu) = clock.Round(steps);
        long faults1 = PageFaults.Minor();
        Check();
        return new RoundTimes(ms, cpu, BenchCase.LiveTensors() - live0, faults0 < 0 || faults1 < 0 ? -1 : faults1 - faults0);
    }

    void Check()
    {
        if (error is not null) throw new InvalidOperationException($"bench case {Name} failed: {error.Message}", error);
        if (finished) throw new InvalidOperationException($"bench case {Name} stopped before its steps were done.");
    }

    public void Dispose()
    {
        if (!finished) clock.Stop();
        thread.Join();
        clock.Dispose();
    }
}
