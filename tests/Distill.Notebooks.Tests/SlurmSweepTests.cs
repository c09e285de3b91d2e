using System.Diagnostics;

namespace Distill.Notebooks.Tests;

/// <summary>
/// The Slurm path for real: a one-node cluster on this machine (<see cref="SlurmCluster"/>) runs the tiny spec as a
/// 4-task job array written and submitted by `distill sweep slurm --submit`; collect must give the numbers of the same
/// sweep run locally, bit for bit (both at one thread per run: the thread count is part of the result).
/// </summary>
public class SlurmSweepTests(SlurmCluster cluster) : IClassFixture<SlurmCluster>
{
    [Fact]
    public void A_Slurm_job_array_on_a_one_node_cluster_gives_the_numbers_of_a_local_sweep_bit_for_bit()
    {
        Assert.True(cluster.Missing is null, cluster.Missing);
        using var local = SweepTests.LocalTiny();
        using var dir = new TempDir("sweep-slurm");
        var psi = DistillProcess.Start("sweep", "slurm", SweepTests.Tiny, "--out", dir.Path, "--concurrent", "2", "--submit");
        psi.Environment["SLURM_CONF"] = cluster.Conf;
        string stdout;
        using (var p = Process.Start(psi)!)
        {
            stdout = p.StandardOutput.ReadToEnd();
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, stdout + err);
        }
        var script = File.ReadAllText(Path.Combine(dir.Path, "sweep.sbatch"));
        Assert.Contains("#SBATCH --array=0-3%2\n", script, StringComparison.Ordinal);
        Assert.Contains("#SBATCH --cpus-per-task=1\n", script, StringComparison.Ordinal);
        var job = System.Text.RegularExpressions.Regex.Match(stdout, @"submitted job (\d+)").Groups[1].Value;
        Assert.NotEmpty(job);
        cluster.Wait(job, TimeSpan.FromMinutes(5));
        Assert.Equal(4, Directory.GetFiles(Path.Combine(dir.Path, "slurm"), $"{job}_*.out").Length);
        var collect = SweepTests.Distill("sweep", "collect", dir.Path);
        Assert.True(collect.Exit == 0 && collect.Err.Length == 0, collect.Out + collect.Err + string.Concat(Directory.GetFiles(Path.Combine(dir.Path, "slurm")).Select(File.ReadAllText)));
        Assert.Equal(SweepTests.Runs(local.Path), SweepTests.Runs(dir.Path));
        Assert.Equal(SweepTests.Groups(local.Path), SweepTests.Groups(dir.Path));
    }
}
