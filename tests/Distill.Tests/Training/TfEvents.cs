using System.Buffers.Binary;
using System.Text;

namespace Distill.Tests.Training;

/// <summary>
/// Reads the scalars of TensorBoard event files as (tag, step, value), independently of the writer: each record is a
/// little-endian u64 length, a u32 CRC, the Event protobuf and a u32 CRC; an Event holds its step (field 2) and a Summary
/// (field 5) of Values, each a tag (field 1) and a simple_value (field 2, float).
/// </summary>
static class TfEvents
{
    public static List<(string Tag, long Step, float Value)> Scalars(string dir)
    {
        var result = new List<(string, long, float)>();
        foreach (var file in Directory.GetFiles(dir, "events.out.tfevents.*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var bytes = File.ReadAllBytes(file);
            for (var at = 0; at < bytes.Length;)
            {
                var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at));
                var data = bytes.AsSpan(at + 12, length);
                at += 12 + length + 4;
                long step = 0;
                var values = new List<(string, float)>();
                foreach (var (field, _, payload) in Fields(data))
                    if (field == 2) step = (long)Varint(payload, out _);
                    else if (field == 5)
                        foreach (var (f, _, value) in Fields(payload.Span))
                            if (f == 1) values.Add(Value(value.Span));
                result.AddRange(values.Select(v => (v.Item1, step, v.Item2)));
            }
        }
        return result;
    }

    static (string Tag, float Value) Value(ReadOnlySpan<byte> value)
    {
        var (tag, number) = ("", float.NaN);
        foreach (var (f, _, payload) in Fields(value))
            if (f == 1) tag = Encoding.UTF8.GetString(payload.Span);
            else if (f == 2) number = BinaryPrimitives.ReadSingleLittleEndian(payload.Span);
        return (tag, number);
    }

    /// <summary>The fields of one protobuf message: number, wire type, and the raw bytes (varints as their bytes).</summary>
    static List<(int Field, int Wire, ReadOnlyMemory<byte> Payload)> Fields(ReadOnlySpan<byte> message)
    {
        var fields = new List<(int, int, ReadOnlyMemory<byte>)>();
        var bytes = message.ToArray();
        for (var at = 0; at < bytes.Length;)
        {
            var key = Varint(bytes.AsMemory(at), out var n);
            at += n;
            var (field, wire) = ((int)(key >> 3), (int)(key & 7));
            int size;
            if (wire == 2)
            {
                size = (int)Varint(bytes.AsMemory(at), out n);
                at += n;
            }
            else size = wire switch
            {
                0 => VarintLength(bytes, at),
                1 => 8,
                5 => 4,
                _ => throw new InvalidDataException($"protobuf wire type {wire} in a TensorBoard event"),
            };
            fields.Add((field, wire, bytes.AsMemory(at, size)));
            at += size;
        }
        return fields;
    }

    static int VarintLength(byte[] bytes, int at)
    {
        var n = 1;
        while ((bytes[at + n - 1] & 0x80) != 0) n++;
        return n;
    }

    static ulong Varint(ReadOnlyMemory<byte> bytes, out int length)
    {
        ulong v = 0;
        var span = bytes.Span;
        for (length = 0; ; length++)
        {
            v |= (ulong)(span[length] & 0x7f) << (7 * length);
            if ((span[length] & 0x80) == 0) { length++; return v; }
        }
    }
}
