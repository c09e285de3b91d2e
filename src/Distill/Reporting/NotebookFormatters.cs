using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive.Formatting;
using Distill.Experiments;
using Distill.Training;
using TorchSharp;

namespace Distill.Reporting;

/// <summary>
/// How charts, DataFrames and tensors display in a notebook, the same in the .NET Interactive kernel (registered by
/// <see cref="Notebook.Start"/>) and in <c>distill run</c> (registered by its runner): HTML, plus text/plain.
/// </summary>
public static class NotebookFormatters
{
    public const string Html = "text/html";
    public const string PlainText = "text/plain";

    /// <summary>Rows of a DataFrame shown before "… N more rows".</summary>
    public const int DataFrameRows = 20;

    /// <summary>Registers the formatters with Microsoft.DotNet.Interactive.Formatting (the kernel's own copy when it
    /// runs inside the kernel). Registering twice replaces, so it is safe to call again.</summary>
    public static void Register()
    {
        Formatter.Register<Figure>((f, w) => w.Write(f.ToHtml()), Html);
        Formatter.Register<Figure>((f, w) => w.Write(f.ToString()), PlainText);
        Formatter.Register<torch.Tensor>((t, w) => w.Write(TensorHtml(t)), Html);
        Formatter.Register<torch.Tensor>((t, w) => w.Write(TensorText(t)), PlainText);
        Formatter.Register<NotebookEnvironment>((e, w) => w.Write($"<pre class=\"distill-environment\">{Enc(e.ToString())}</pre>"), Html);
        Formatter.Register<NotebookEnvironment>((e, w) => w.Write(e.ToString()), PlainText);
        // Results a cell ends with: without these the kernel showed its property tree (74 KB for a recipe's result,
        // every epoch of every run), and what a researcher wants to see is the table.
        Formatter.Register<RunTable>((t, w) => w.Write(RunTableHtml(t)), Html);
        Formatter.Register<RunTable>((t, w) => w.Write(t.ToString()), PlainText);
        Formatter.Register<ExperimentResult>((r, w) => w.Write(RunTableHtml(r.Runs)), Html);
        Formatter.Register<ExperimentResult>((r, w) => w.Write(r.ToString()), PlainText);
        Formatter.Register<TrainResult>((r, w) => w.Write($"<pre class=\"distill-train-result\">{Enc(r.ToString())}</pre>"), Html);
        Formatter.Register<TrainResult>((r, w) => w.Write(r.ToString()), PlainText);
        RegisterDataFrameWhenPresent();
        RegisterPlotlyNetWhenPresent();
    }

    const string PlotlyNet = "Plotly.NET";
    static int plotlyNetHooked;

    /// <summary>A Plotly.NET chart a notebook of one's own draws: in the kernel (after <see cref="Notebook.Start"/> has
    /// bound Plotly.NET's FSharp.Core 10.1 to the kernel's 10.0) it built but showed the kernel's tree view of the
    /// object, since Plotly.NET.Interactive, which would format it, cannot load there. Shown instead as the library's
    /// own charts are (<see cref="Figure"/>), headless too. Bound by reflection, so the library does not reference
    /// Plotly.NET: registered now if a cell has loaded it, else when one does.</summary>
    static void RegisterPlotlyNetWhenPresent()
    {
        OnLoad(PlotlyNet, ref plotlyNetHooked, RegisterPlotlyNet);
        foreach (var loaded in AppDomain.CurrentDomain.GetAssemblies().Where(a => a.GetName().Name == PlotlyNet)) RegisterPlotlyNet(loaded);
    }

    static void RegisterPlotlyNet(System.Reflection.Assembly plotly)
    {
        // Only a nicer display: whatever goes wrong binding it (its FSharp.Core unbound, another version without these
        // members) must fail neither Start() nor the cell that loaded the package; the kernel's own display stays.
        try
        {
            var chart = plotly.GetType("Plotly.NET.GenericChart");
            var toJson = chart?.GetMethod("toFigureJson", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static, [chart]);
            if (chart is null || toJson?.ReturnType != typeof(string)) return;
            Figure Figure(object c) => Reporting.Figure.FromPlotlyJson((string)toJson.Invoke(null, [c])!);
            Formatter.Register(chart, (c, w) => w.Write(Figure(c).ToHtml()), Html);
            Formatter.Register(chart, (c, w) => w.Write(Figure(c).ToString()), PlainText);
        }
        catch (Exception e) when (e is not OutOfMemoryException) { }
    }

    /// <summary>Calls <paramref name="register"/> whenever an assembly named <paramref name="name"/> loads; hooked once
    /// per <paramref name="hooked"/> flag, since <see cref="Register"/> runs on every Start and every runner notebook.</summary>
    static void OnLoad(string name, ref int hooked, Action<System.Reflection.Assembly> register)
    {
        if (Interlocked.Exchange(ref hooked, 1) == 0)
            AppDomain.CurrentDomain.AssemblyLoad += (_, e) => { if (e.LoadedAssembly.GetName().Name == name) register(e.LoadedAssembly); };
    }

    const string DataAnalysis = "Microsoft.Data.Analysis";
    static int dataFrameHooked;

    /// <summary>In the kernel, Microsoft.Data.Analysis resolves only when the notebook has its own
    /// <c>#r "nuget: Microsoft.Data.Analysis"</c>; a notebook without DataFrames need not have one. So the DataFrame
    /// formatters are registered now if the package resolves, else as soon as a later cell loads it. Naming
    /// <see cref="DataFrame"/> anywhere in <see cref="Register"/> itself would make the JIT load the assembly and fail
    /// the whole call (FileNotFoundException) before any formatter is registered.</summary>
    static void RegisterDataFrameWhenPresent()
    {
        OnLoad(DataAnalysis, ref dataFrameHooked, _ =>
        {
            // Never fail the cell that loaded the package: a version whose DataFrame does not bind keeps its own formatter.
            try { RegisterDataFrame(); }
            catch (Exception ex) when (ex is FileLoadException or FileNotFoundException or TypeLoadException or MissingMethodException) { }
        });
        try { System.Reflection.Assembly.Load(DataAnalysis); }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException) { return; }
        RegisterDataFrame();
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static void RegisterDataFrame()
    {
        Formatter.Register<DataFrame>((df, w) => w.Write(DataFrameHtml(df)), Html);
        Formatter.Register<DataFrame>((df, w) => w.Write(DataFrameText(df)), PlainText);
    }

    public static string DataFrameHtml(DataFrame df)
    {
        var sb = new StringBuilder("<table class=\"distill-dataframe\"><thead><tr><th></th>");
        foreach (var c in df.Columns)
            sb.Append(CultureInfo.InvariantCulture, $"<th title=\"{Enc(c.DataType.Name)}\">{Enc(c.Name)}</th>");
        sb.Append("</tr></thead><tbody>");
        long shown = Math.Min(df.Rows.Count, DataFrameRows);
        for (long r = 0; r < shown; r++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td><i>{r}</i></td>");
            foreach (var c in df.Columns) sb.Append(CultureInfo.InvariantCulture, $"<td>{Enc(Cell(c[r]))}</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (df.Rows.Count > shown) sb.Append(CultureInfo.InvariantCulture, $"<p>… {df.Rows.Count - shown} more rows</p>");
        sb.Append(CultureInfo.InvariantCulture, $"<p class=\"distill-shape\">{df.Rows.Count} rows × {df.Columns.Count} columns</p>");
        return sb.ToString();
    }

    /// <summary>The DataFrame as aligned text (DataFrame.ToString pads to a fixed width, so long values run into the next
    /// column): each column as wide as its longest shown value, two spaces between columns, numbers right-aligned.</summary>
    public static string DataFrameText(DataFrame df)
    {
        long shown = Math.Min(df.Rows.Count, DataFrameRows);
        var columns = df.Columns.Select(c =>
        {
            var cells = new List<string> { c.Name };
            for (long r = 0; r < shown; r++) cells.Add(Cell(c[r]));
            return (Cells: cells, Width: cells.Max(x => x.Length), Right: c.DataType != typeof(string) && c.DataType != typeof(bool));
        }).ToList();
        var sb = new StringBuilder();
        for (var line = 0; line <= shown; line++)
        {
            sb.Append(string.Join("  ", columns.Select(c => c.Right ? c.Cells[line].PadLeft(c.Width) : c.Cells[line].PadRight(c.Width))).TrimEnd());
            sb.Append('\n');
        }
        if (df.Rows.Count > shown) sb.Append(CultureInfo.InvariantCulture, $"… {df.Rows.Count - shown} more rows\n");
        sb.Append(CultureInfo.InvariantCulture, $"{df.Rows.Count} rows × {df.Columns.Count} columns");
        return sb.ToString();
    }

    static string Cell(object? v) => v switch
    {
        null => "null",
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    /// <summary>Mean ± std per run name, as <see cref="RunTable.Summary"/> gives it; built without a DataFrame, which the
    /// kernel has only when the notebook references Microsoft.Data.Analysis. A warning a run raised (divergence) is
    /// shown beside its name.</summary>
    public static string RunTableHtml(RunTable table)
    {
        if (table.Rows.Count == 0) return "<p class=\"distill-runs\">no runs</p>";
        var sb = new StringBuilder("<table class=\"distill-runs\"><thead><tr><th>run</th><th>seeds</th>"
            + "<th>best acc % (mean ± std)</th><th>last acc % (mean ± std)</th><th>params</th></tr></thead><tbody>");
        foreach (var s in table.Summary())
        {
            var warning = table.Rows.FirstOrDefault(r => r.Name == s.Name && r.Warning is not null)?.Warning;
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{Enc(s.Name)}{(warning is null ? "" : $" <b title=\"{Enc(warning)}\">⚠</b>")}</td>"
                + $"<td>{s.Runs}</td><td>{s.Best}</td><td>{s.Last}</td><td>{s.Parameters}</td></tr>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"</tbody></table><p class=\"distill-shape\">{table.Rows.Count} run{(table.Rows.Count == 1 ? "" : "s")}; one row per run: <code>.ToDataFrame()</code></p>");
        return sb.ToString();
    }

    /// <summary>Shape, dtype, device; the layout when it is not the usual dense one (a sparse COO tensor is previewed
    /// with its zeros, as dense, so the header says what it is); "no data" for a meta tensor, which has none to show.</summary>
    public static string TensorHeader(torch.Tensor t) =>
        $"tensor shape [{string.Join(", ", t.shape)}], dtype {t.dtype}, device {t.device}"
        + (t.is_sparse ? ", layout sparse_coo" : "") + (t.requires_grad ? ", requires_grad" : "") + (t.is_meta ? " (no data)" : "");

    /// <summary>Values in numpy style; TorchSharp summarizes big tensors (edge items and "...") by itself. A meta tensor
    /// has no values (copying one out throws "Cannot copy out of meta tensor; no data!"): empty, the header says so.</summary>
    public static string TensorPreview(torch.Tensor t)
    {
        if (t.is_meta) return "";
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var cpu = t.device_type == DeviceType.CPU ? t.detach() : t.detach().cpu();
        return cpu.ToString(TensorStringStyle.Numpy, "g4", 100, CultureInfo.InvariantCulture, "\n");
    }

    /// <summary>What a disposed tensor shows: TorchSharp's own "Tensor invalid -- empty handle" came from inside the
    /// formatter and said neither what happened nor the fix.</summary>
    public const string DisposedTensor = "tensor (disposed: its memory was freed by a `using` or a DisposeScope; to keep it, " +
                                         "call .DetachFromDisposeScope() or .MoveToOuterDisposeScope() on it inside the scope)";

    public static string TensorText(torch.Tensor t) => t.IsInvalid ? DisposedTensor : t.is_meta ? TensorHeader(t) : TensorHeader(t) + "\n" + TensorPreview(t);

    public static string TensorHtml(torch.Tensor t) => t.IsInvalid ? $"<div class=\"distill-tensor\"><code>{Enc(DisposedTensor)}</code></div>" :
        $"<div class=\"distill-tensor\"><div><code>{Enc(TensorHeader(t))}</code></div>"
        + (t.is_meta ? "" : $"<pre>{Enc(TensorPreview(t))}</pre>") + "</div>";

    static string Enc(string s) => WebUtility.HtmlEncode(s);
}
