using Distill.Native;
using Distill.Reporting;
using TorchSharp;

namespace Distill.Tests.Reporting;

/// <summary>The tensor formatter shows what a tensor is even when it has no values to show.</summary>
public class TensorFormatterTests
{
    public TensorFormatterTests() => TorchRuntime.Initialize();

    /// <summary>A meta tensor has shape and dtype but no storage: the preview copied it out and the cell failed with
    /// "Cannot copy out of meta tensor; no data!". It shows its header, saying there is no data.</summary>
    [Fact]
    public void A_meta_tensor_shows_its_header_and_no_data()
    {
        using var t = torch.empty(2, 3, device: torch.META);
        Assert.Equal("tensor shape [2, 3], dtype Float32, device meta (no data)", NotebookFormatters.TensorText(t));
        var html = NotebookFormatters.TensorHtml(t);
        Assert.Contains("tensor shape [2, 3], dtype Float32, device meta (no data)", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<pre>", html, StringComparison.Ordinal);
    }

    /// <summary>A tensor displayed after its scope freed it failed inside the formatter with TorchSharp's "Tensor invalid
    /// -- empty handle": it says it was disposed, and how to keep one.</summary>
    [Fact]
    public void A_disposed_tensor_says_so_and_the_fix()
    {
        var t = torch.zeros(2, 3);
        t.Dispose();
        Assert.Equal(NotebookFormatters.DisposedTensor, NotebookFormatters.TensorText(t));
        Assert.Contains("disposed: its memory was freed", NotebookFormatters.TensorHtml(t), StringComparison.Ordinal);
    }

    /// <summary>A sparse COO tensor is previewed with its zeros, like a dense one: its header says it is sparse.</summary>
    [Fact]
    public void A_sparse_tensor_says_so_in_its_header()
    {
        using var indices = torch.tensor(new long[] { 0, 1, 1, 2 }).reshape(2, 2);
        using var values = torch.tensor(new float[] { 3, 4 });
        using var t = torch.sparse_coo_tensor(indices, values, [2, 3]);
        var text = NotebookFormatters.TensorText(t);
        Assert.StartsWith("tensor shape [2, 3], dtype Float32, device cpu, layout sparse_coo\n", text, StringComparison.Ordinal);
        Assert.Contains("4", text, StringComparison.Ordinal);
        using var dense = torch.zeros(2, 3);
        Assert.Equal("tensor shape [2, 3], dtype Float32, device cpu", NotebookFormatters.TensorHeader(dense));
    }
}
