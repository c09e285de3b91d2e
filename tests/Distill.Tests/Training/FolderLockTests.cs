using Distill.Training;

namespace Distill.Tests.Training;

public class FolderLockTests
{
    /// <summary>Any IOException used to mean "in use by another run (PID )": a full disk sent the user waiting for a
    /// run that did not exist, and the lock stayed held by a stream left to the finalizer.</summary>
    [Fact]
    public void A_full_disk_is_thrown_as_it_is_and_leaves_the_lock_free_and_only_a_held_lock_is_in_use()
    {
        var dir = Directory.CreateTempSubdirectory("folderlock").FullName;
        try
        {
            var path = Path.Combine(dir, "run.lock");
            File.CreateSymbolicLink(path + ".pid", "/dev/full"); // every write to it fails with ENOSPC, as on a full disk
            var e = Assert.Throws<IOException>(() => FolderLock.TryTake(path));
            Assert.Equal($"No space left on device : '{path}.pid'", e.Message);

            File.Delete(path + ".pid");
            File.WriteAllText(path + ".pid", "");
            Assert.Equal("unknown", FolderLock.Holder(path)); // not "(PID )"
            using var held = FolderLock.TryTake(path); // released by the failure, not by the finalizer
            Assert.NotNull(held);
            Assert.Null(FolderLock.TryTake(path)); // a lock that is held is the one "in use"
            Assert.Equal($"{Environment.ProcessId}", FolderLock.Holder(path));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
