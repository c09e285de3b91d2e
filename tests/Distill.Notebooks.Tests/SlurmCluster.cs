using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Distill.Notebooks.Tests;

/// <summary>
/// A one-node Slurm cluster on this machine (the steps measured in the shared note slurm-single-node.md): munged
/// (reused when one already answers), then slurmctld and slurmd from a slurm.conf in a temp folder, on free ports so a
/// cluster someone else runs here is left alone. Needs root (or password-less sudo) and the Debian packages slurm-wlm and munge, which
/// ./setup.sh installs; without them the tests that use it fail saying so. Dispose stops only what this started.
/// Not root, it starts and stops the daemons through password-less sudo (the devcontainer's user).
/// </summary>
public sealed class SlurmCluster : IDisposable
{
    readonly List<string> pidFiles = [];
    readonly TempDir dir = new("slurm");

    /// <summary>Set for every Slurm command (sbatch, squeue, the CLI's --submit): the cluster's configuration.</summary>
    public string Conf { get; }

    /// <summary>Why the cluster could not start (then every test using it fails with this), or null.</summary>
    public string? Missing { get; }

    public SlurmCluster()
    {
        Conf = Path.Combine(dir.Path, "slurm.conf");
        var tools = new[] { "/usr/sbin/munged", "/usr/bin/munge", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/squeue", "/usr/bin/sinfo" };
        if (tools.FirstOrDefault(t => !File.Exists(t)) is { } absent)
        {
            Missing = $"{absent} is missing: install slurm-wlm and munge (./setup.sh does).";
            return;
        }
        // The daemons run as root (SlurmUser=root); a user with password-less sudo (the devcontainer's vscode) starts them
        // through it, and submits and waits as themself, as on a real cluster.
        if (AsRoot.Length > 0 && !Succeeds("sudo", "-n", "true"))
        {
            Missing = "the one-node Slurm cluster runs its daemons as root (SlurmUser=root); run the tests as root, as CI does, or as a user with password-less sudo.";
            return;
        }
        StartMunge();
        foreach (var sub in new[] { "state", "spool", "log" }) Directory.CreateDirectory(Path.Combine(dir.Path, sub));
        var host = Run("hostname", "-s").Trim();
        var memory = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var mib = long.Parse(memory, CultureInfo.InvariantCulture) / 1024 - 1024; // headroom, as the note advises
        File.WriteAllText(Conf, $"""
            ClusterName=distilltest
            SlurmctldHost={host}
            SlurmctldPort={FreePort()}
            SlurmdPort={FreePort()}
            SlurmUser=root
            SlurmdUser=root
            AuthType=auth/munge
            StateSaveLocation={dir.Path}/state
            SlurmdSpoolDir={dir.Path}/spool
            SlurmctldPidFile={dir.Path}/slurmctld.pid
            SlurmdPidFile={dir.Path}/slurmd.pid
            SlurmctldLogFile={dir.Path}/log/slurmctld.log
            SlurmdLogFile={dir.Path}/log/slurmd.log
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            JobAcctGatherType=jobacct_gather/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_Core
            ReturnToService=2
            SchedulerType=sched/backfill
            MpiDefault=none
            NodeName={host} CPUs={Environment.ProcessorCount} RealMemory={mib} State=UNKNOWN
            PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP

            """);
        // Both daemonise: the launcher exits at once and the daemon writes its pid file.
        foreach (var daemon in new[] { "slurmctld", "slurmd" })
        {
            Run([.. AsRoot, $"/usr/sbin/{daemon}", "-f", Conf]);
            pidFiles.Add(Path.Combine(dir.Path, $"{daemon}.pid"));
        }
        var clock = Stopwatch.StartNew();
        while (!Run("sinfo", "-h", "-o", "%t").Contains("idle", StringComparison.Ordinal))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
                throw new InvalidOperationException($"the test Slurm node is not idle after 60 s: {Run("sinfo")}\n{Log("slurmctld")}\n{Log("slurmd")}");
            Thread.Sleep(500);
        }
    }

    string Log(string daemon) => File.Exists(Path.Combine(dir.Path, "log", $"{daemon}.log")) ? File.ReadAllText(Path.Combine(dir.Path, "log", $"{daemon}.log")) : "";

    void StartMunge()
    {
        if (MungeWorks()) return; // someone's munged: use it, never stop it
        foreach (var d in new[] { "/run/munge", "/var/log/munge", "/var/lib/munge", "/etc/munge" })
        {
            Run([.. AsRoot, "mkdir", "-p", d]);
            Run([.. AsRoot, "chown", "munge:munge", d]);
        }
        // In one root shell: /etc/munge is the munge user's alone, so another user cannot even see whether the key exists.
        Run([.. AsRoot, "sh", "-c", "[ -e /etc/munge/munge.key ] || { head -c 1024 /dev/urandom > /etc/munge/munge.key && " +
                                    "chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key; }"]);
        Run([.. AsRoot, "runuser", "-u", "munge", "--", "/usr/sbin/munged"]);
        pidFiles.Add("/run/munge/munged.pid");
        if (!MungeWorks()) throw new InvalidOperationException("munged started but `munge -n | unmunge` fails; see /var/log/munge/munged.log");
    }

    /// <summary>The prefix that runs a command as root: none for root, password-less sudo otherwise.</summary>
    static readonly string[] AsRoot = Environment.UserName == "root" ? [] : ["sudo", "-n"];

    static bool Succeeds(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        p.WaitForExit();
        return p.ExitCode == 0;
    }

    /// <summary><see cref="Run(string, string[])"/> of <paramref name="command"/>[0] with the rest as its arguments.</summary>
    string Run(string[] command) => Run(command[0], command[1..]);

    static bool MungeWorks()
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", "munge -n | unmunge"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 && output.Contains("Success", StringComparison.Ordinal);
    }

    static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A command with this cluster's SLURM_CONF; its stdout (it must exit 0).</summary>
    public string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["SLURM_CONF"] = Conf;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        return stdout.Result;
    }

    /// <summary>Waits until the job has left the queue (accounting is off here, so squeue is the record).</summary>
    public void Wait(string jobId, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (Run("squeue", "-h", "-j", jobId).Trim().Length > 0)
        {
            Assert.True(clock.Elapsed < timeout, $"Slurm job {jobId} still queued after {timeout}: {Run("squeue")}");
            Thread.Sleep(500);
        }
    }

    public void Dispose()
    {
        // Daemons in reverse order of start (slurmd, slurmctld, then munged if this started it), each by its own pid.
        var pids = new List<string>();
        foreach (var file in Enumerable.Reverse(pidFiles).Where(File.Exists))
        {
            var pid = File.ReadAllText(file, Encoding.ASCII).Trim();
            string[] command = [.. AsRoot, "kill", "-TERM", pid]; // the daemons run as root
            using var kill = Process.Start(command[0], command[1..]);
            kill?.WaitForExit();
            pids.Add(pid);
        }
        // The folder goes once they have: slurmctld saves its state there as it stops.
        var clock = Stopwatch.StartNew();
        while (pids.Any(Running) && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(100);
        dir.Dispose();
    }

    /// <summary>Whether the process is alive (a zombie waiting for init is not).</summary>
    static bool Running(string pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[^1][0] != 'Z'; }
        catch (IOException) { return false; }
    }
}
