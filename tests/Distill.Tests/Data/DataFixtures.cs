using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Distill.Tests.Data;

/// <summary>Generated files in the real formats, with seeded content.</summary>
public static class Gen
{
    /// <summary>A uint8 IDX file: magic 0x0000_08_DD, big-endian int32 sizes, data.</summary>
    public static byte[] Idx(int[] shape, byte[] data, uint? magic = null)
    {
        var header = new byte[4 + 4 * shape.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header, magic ?? (0x0800u | (uint)shape.Length));
        for (int i = 0; i < shape.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), shape[i]);
        return [.. header, .. data];
    }

    public static byte[] Images(int n, int h = 28, int w = 28, int seed = 1) => Bytes(n * h * w, seed);

    public static byte[] Labels(int n, int classes = 10) => [.. Enumerable.Range(0, n).Select(i => (byte)(i % classes))];

    public static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>CIFAR records: label byte(s) then 3072 pixels; labels i mod classes, pixels seeded.</summary>
    public static byte[] CifarRecords(int n, int labelBytes, int seed = 1)
    {
        int size = labelBytes + 3072;
        var data = Bytes(n * size, seed);
        for (int i = 0; i < n; i++)
        {
            if (labelBytes == 1) data[i * size] = (byte)(i % 10);
            else { data[i * size] = (byte)(i % 20); data[i * size + 1] = (byte)(i % 100); }
        }
        return data;
    }

    /// <summary>A .tar.gz holding the files under one top-level folder, like the CIFAR tarballs.</summary>
    public static byte[] TarGz(string folder, IReadOnlyDictionary<string, byte[]> files)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, folder + "/"));
            foreach (var (name, bytes) in files)
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"{folder}/{name}") { DataStream = new MemoryStream(bytes) });
        }
        return ms.ToArray();
    }

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}

/// <summary>Serves byte arrays over HTTP on 127.0.0.1 at a random port; counts requests.</summary>
public sealed class LoopbackServer : IDisposable
{
    readonly HttpListener listener = new();
    readonly Dictionary<string, byte[]> files;
    int requests;

    public LoopbackServer(Dictionary<string, byte[]> files)
    {
        this.files = files;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}/";
        listener.Prefixes.Add(Url);
        listener.Start();
        new Thread(Serve) { IsBackground = true }.Start();
    }

    public string Url { get; }
    public int Requests => Volatile.Read(ref requests);

    void Serve()
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = listener.GetContext(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            Interlocked.Increment(ref requests);
            var path = ctx.Request.Url!.AbsolutePath.TrimStart('/');
            if (files.TryGetValue(path, out var body))
            {
                ctx.Response.ContentLength64 = body.Length;
                ctx.Response.OutputStream.Write(body);
            }
            else ctx.Response.StatusCode = 404;
            ctx.Response.Close();
        }
    }

    public void Dispose() => listener.Close();
}
