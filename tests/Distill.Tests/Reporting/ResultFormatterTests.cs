using Distill.Experiments;
using Distill.Reporting;
using Distill.Training;
using Microsoft.DotNet.Interactive.Formatting;

namespace Distill.Tests.Reporting;

/// <summary>A cell that ends with a recipe's result, a run table or one training shows the runs' table, not the
/// kernel's property tree (74 KB for a recipe, every epoch of every run).</summary>
public class ResultFormatterTests
{
    public ResultFormatterTests() => NotebookFormatters.Register();

    static RunTable Table() => new RunTable()
        .Add(new RunRow("kd", 0, 90.0, 89.5, 3, 1234))
        .Add(new RunRow("kd", 1, 92.0, 91.5, 4, 1234))
        .Add(new RunRow("scratch", 0, 88.25, 88.0, 2, 1234, Warning: "diverged at epoch 2"));

    [Fact]
    public void A_run_table_shows_mean_and_std_per_run_and_flags_a_warning()
    {
        var html = Table().ToDisplayString("text/html");
        Assert.StartsWith("<table class=\"distill-runs\">", html, StringComparison.Ordinal);
        Assert.Contains("<td>kd</td><td>2</td><td>91.00 ± 1.41</td><td>90.50 ± 1.41</td><td>1234</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td>scratch <b title=\"diverged at epoch 2\">⚠</b></td><td>1</td><td>88.25 ± 0.00</td>", html, StringComparison.Ordinal);
        Assert.Contains("3 runs;", html, StringComparison.Ordinal);
        Assert.Equal(Table().ToString(), Table().ToDisplayString("text/plain"));
    }

    [Fact]
    public void A_recipes_result_shows_its_run_table_through_the_base_type()
    {
        var result = new BornAgainResult { Config = new BornAgainConfig() };
        foreach (var row in Table().Rows) result.Runs.Add(row);
        Assert.Equal(NotebookFormatters.RunTableHtml(result.Runs), result.ToDisplayString("text/html"));
        Assert.Equal("<p class=\"distill-runs\">no runs</p>", new RunTable().ToDisplayString("text/html"));
    }

    [Fact]
    public void One_training_shows_its_summary_line()
    {
        var r = new TrainResult
        {
            Name = "kd <T=4>", Seed = 2, Parameters = 10, Teacher = TeacherSource.None,
            History = [new EpochMetrics(1, 0.1, 0.5, [], 70.0, null, 80.0, 1.0, 100.0), new EpochMetrics(2, 0.1, 0.4, [], 75.0, null, 81.5, 1.0, 100.0)],
        };
        Assert.Equal("<pre class=\"distill-train-result\">kd &lt;T=4&gt; seed 2: best 81.50% (epoch 2), last 81.50%</pre>", r.ToDisplayString("text/html"));
    }
}
