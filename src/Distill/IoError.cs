namespace Distill;

/// <summary>What an <see cref="IOException"/> reports, told by its error number: on Linux .NET puts the errno in
/// <see cref="Exception.HResult"/>, while the message text is the C library's and may be translated.</summary>
public static class IoError
{
    // Linux's numbers (asm-generic/errno-base.h).
    const int EWOULDBLOCK = 11;

    /// <summary>True when an exclusive open failed because another open file holds the lock (flock's EWOULDBLOCK),
    /// the one failure that means "in use": a full or read-only disk is not another run.</summary>
    public static bool IsLockConflict(IOException e) => e?.HResult == EWOULDBLOCK;
}
