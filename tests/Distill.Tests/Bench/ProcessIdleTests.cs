using System.Diagnostics;
using Distill.Bench;

namespace Distill.Tests.Bench;

/// <summary>The bench waits for the peer's spinning threads to stop before our next round (<see cref="ProcessIdle"/>).</summary>
public sealed class ProcessIdleTests
{
    static Process Start(string script)
    {
        var psi = new ProcessStartInfo("/bin/bash") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        return Process.Start(psi)!;
    }

    /// <summary>Longer than the bench's 30 ms, so a busy test machine that leaves the spinning shell without a core for
    /// a while does not end the wait early (at 150 ms the give-up test once returned after 0.36 s under a loaded run).</summary>
    static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(400);

    [Fact]
    public void Waits_while_the_process_spins_and_returns_soon_after_it_sleeps()
    {
        // Busy for 0.6 s (bash's own loop on its clock, no child processes), then asleep.
        using var p = Start("end=$((${EPOCHREALTIME/./} + 600000)); while (( ${EPOCHREALTIME/./} < end )); do :; done; exec sleep 10");
        try
        {
            var waited = ProcessIdle.Wait(p.Id, TimeSpan.FromSeconds(5), Quiet);
            Assert.InRange(waited.TotalSeconds, 0.4, 3);
            // Asleep now: the next wait is the quiet window alone.
            Assert.InRange(ProcessIdle.Wait(p.Id, TimeSpan.FromSeconds(5), Quiet).TotalSeconds, 0.39, 1.5);
        }
        finally { p.Kill(); p.WaitForExit(); }
    }

    [Fact]
    public void Gives_up_at_the_limit_and_returns_at_once_for_a_process_that_is_gone()
    {
        using var p = Start("while :; do :; done");
        try { Assert.InRange(ProcessIdle.Wait(p.Id, TimeSpan.FromSeconds(1), Quiet).TotalSeconds, 1, 3); }
        finally { p.Kill(); p.WaitForExit(); }
        Assert.True(ProcessIdle.Wait(p.Id, TimeSpan.FromSeconds(5)).TotalSeconds < 0.2);
    }
}
