using System.CommandLine;
using System.Globalization;
using Distill.Cli;

// A notebook run never waits for input: stdin becomes /dev/null before anything uses the console, which is when .NET
// decides whether Console.ReadKey() may read the terminal (see NotebookRunner.DetachConsoleInput).
if (args is ["run", ..]) Distill.Notebooks.NotebookRunner.DetachConsoleInput();
// Before anything can start a process (a cell's), which must not inherit the parent's PID as its own parent's.
CtrlC.TakeParent();
// A standard output or error closed at start is a pipe of the runtime's by now: nothing may be written to it.
ClosedStreams.Guard();
// A terminal that hangs up fails every write to it; the stop that SIGHUP starts must not die of one.
TerminalWriter.Install();

// distill's own code (option parsing, console numbers, every file it writes) runs under the invariant culture: with
// ICU on, the user's locale (LANG=de_DE.UTF-8) would otherwise read `--cell-timeout 1.5` as 15 and print 0.5 as "0,5".
// Only this flow is set (an AsyncLocal, inherited by the tasks and threads it starts); the process default stays the
// user's, which is what notebook cells run under, as in the kernel (CellThread).
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;
// Folders named by environment variables are made absolute against the folder distill started in, for this process
// and every process it starts: a notebook's cells run in the notebook's folder, where DISTILL_DATA=dd named notebooks/dd
// while `doctor` had read ./dd (and DISTILL_TEACHER_CACHE=tc put a cache inside notebooks/).
foreach (var variable in new[] { "DISTILL_DATA", "DISTILL_SYSTEM_DATA", "DISTILL_TEACHER_CACHE", "DISTILL_NUGET_CACHE", "DISTILL_NATIVE_DIR", "DISTILL_RESULTS" })
    if (Environment.GetEnvironmentVariable(variable) is { } value && value.Trim().Length > 0 && !Path.IsPathRooted(value) &&
        !(variable == "DISTILL_TEACHER_CACHE" && (value.Equals("off", StringComparison.OrdinalIgnoreCase) || value == "0")))
        Environment.SetEnvironmentVariable(variable, Path.GetFullPath(value));
// Errors name the flags alone: the library's settings (Force = true in TrainOptions) are for notebooks, not a prompt.
// Not in `run`, whose notebook cells run in this process and call the library as notebooks do.
Distill.ErrorText.CommandLine = args is not ["run", ..];
// Each command lives in its own file and is registered here.
var root = new RootCommand("distill: knowledge-distillation research on TorchSharp");
root.Subcommands.Add(DoctorCommand.Create());
root.Subcommands.Add(ReferenceCommand.Create());
root.Subcommands.Add(DataCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(MethodsCommand.Create());
root.Subcommands.Add(ReproduceCommand.Create());
root.Subcommands.Add(SpecCommand.Create());
root.Subcommands.Add(SweepCommand.Create());
root.Subcommands.Add(DeployCommand.Create());
PointDecimals(root);
BareRepeats(root);
OptionsAsValues(root);
// After `--` every token is an argument whatever it looks like (the parser's convention, and the way to pass a file
// named -x.ipynb): only what comes before the first `--` can be an unknown option.
UnknownOptions(root, "distill", args.TakeWhile(a => a != "--").ToHashSet(StringComparer.Ordinal));
// Every command reports the failures it expects as one `error:` line. Anything else reaching here is still one line
// (type and message, no stack trace, which tells a user nothing they can act on); DISTILL_TRACE=1 shows the trace for
// a bug report.
// An exception nobody catches on a background thread ends the process. While a notebook runs, its runner reports it
// against the running cell; later (a thread a cell started, throwing after its notebook finished) it is still one line
// and exit 1, not the runtime's stack trace and abort (134). What was written before it stands.
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
{
    if (Distill.Notebooks.NotebookRunner.HandlesUnhandledExceptions || Environment.GetEnvironmentVariable("DISTILL_TRACE") is "1" or "true") return;
    Console.Error.WriteLine($"error: {Distill.Notebooks.NotebookRunner.BackgroundFailure(e.ExceptionObject)}");
    Distill.Notebooks.NotebookRunner.EndProcess(1);
};
// Once the runtime stops waiting for foreground threads it raises ProcessExit (whose cell handlers take up to 5 s each):
// the process is ending then, and the grace period below has nothing left to cut short. Registered before any cell's.
var exiting = false;
AppDomain.CurrentDomain.ProcessExit += (_, _) => Volatile.Write(ref exiting, true);
var code = Dispatch();
// A cell abandoned mid-call into libtorch (a timeout, a signal) keeps running there, and a normal exit's C++ cleanup
// crashed under it (signal 11 or 134 in place of the documented 1, 130 or 143). The reports are written by now; ending
// at once also leaves out ProcessExit handlers, whose writes after a notebook are dropped anyway.
if (args is ["run", ..] && Distill.Notebooks.NotebookRunner.AbandonedACell)
    Distill.Notebooks.NotebookRunner.EndProcess(code);
// Returning from Main waits for every foreground thread a cell started: one that throws later still fails the run (the
// handler above, exit 1), but one that never ends (IsBackground = false, a loop) kept `distill run` alive after its
// reports were written and its result printed. So the wait is bounded: past it, the process ends with the run's code.
if (args is ["run", ..])
{
    var grace = TimeSpan.FromSeconds(10);
    new Thread(() =>
    {
        Thread.Sleep(grace);
        if (Volatile.Read(ref exiting)) return;
        Console.Error.WriteLine($"warning: a thread a cell started was still running {grace.TotalSeconds:0} s after the run ended; the process ends without it.");
        // At once, as for an abandoned cell: the thread may be inside libtorch, whose exit-time cleanup crashes under it.
        Distill.Notebooks.NotebookRunner.EndProcess(code);
    }) { IsBackground = true, Name = "distill run: end of the grace period" }.Start();
}
return code;

int Dispatch()
{
    try
    {
        // No response files: `-p @class=1` (a verbatim C# name) was read as the file 'class=1', and no one passes
        // distill's arguments through one.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        // A command line that does not parse is bad input (exit 2, as `run` and `reproduce` document): one `error:` line
        // naming every problem (two lines for `deploy export` with no arguments, where one is promised), and where the
        // options are listed, not the whole help text after it.
        if (parsed.Errors.Count > 0)
        {
            var path = new List<string>();
            for (var r = parsed.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult) path.Insert(0, r.Command.Name);
            path[0] = "distill";
            // A command that only groups others (distill, sweep, deploy) given none, or a name it lacks: the parser said
            // both "Required command was not provided" and "Unrecognized command or argument"; one line names the commands.
            if (parsed.CommandResult.Command is { Action: null, Subcommands.Count: > 0 } group)
            {
                var commands = string.Join(", ", group.Subcommands.Select(c => c.Name));
                var of = group == root ? "" : $" of `{string.Join(' ', path)}`";
                // A dash starts an option, not a command (`distill deploy --bogus`): said as an unknown option, followed by
                // where --help lists the options, as docs/deployment.md promises for one.
                if (parsed.UnmatchedTokens is [['-', ..] option, ..])
                {
                    Console.Error.WriteLine($"error: {option}: unknown option of `{string.Join(' ', path)}`; its commands are {commands}.");
                    Console.Error.WriteLine($"(`{string.Join(' ', path)} --help` lists the options)");
                    return 2;
                }
                Console.Error.WriteLine(parsed.UnmatchedTokens is [var given, ..] ? $"error: {given}: unknown command; the commands{of} are {commands}"
                                                                                   : $"error: give a command; the commands{of} are {commands}");
                return 2;
            }
            // The parser's messages end with a period, ours (the validators below) need not: each is made a sentence, or
            // two ran together ("unknown option of `distill methods` Option '--out' is required.").
            // An unknown option first, in one wording: a command without arguments (doctor) had the parser's "Unrecognized
            // command or argument '--bogus'", and the unknown option came after "Option '--out' is required" it explains.
            var unrecognized = new System.Text.RegularExpressions.Regex(@"^Unrecognized command or argument '(?<token>-[^']*)'\.?$");
            var messages = parsed.Errors.Select(e => unrecognized.Match(e.Message) is { Success: true } m ? $"{m.Groups["token"].Value}: unknown option of `{string.Join(' ', path)}`" : Unhandled.Readable(e.Message))
                .Distinct().OrderBy(m => m.Contains(": unknown option of `", StringComparison.Ordinal) ? 0 : 1);
            Console.Error.WriteLine($"error: {string.Join(" ", messages.Select(m => m.EndsWith('.') || m.EndsWith('?') ? m : m + "."))}");
            Console.Error.WriteLine($"(`{string.Join(' ', path)} --help` lists the options)");
            return 2;
        }
        // Usage named the assembly (`Usage: Distill.Cli train [options]`), which nobody types: the docs' and users'
        // name is distill. The parser's help builder is not public, so its text is taken and the name put right.
        if (parsed.Action is System.CommandLine.Help.HelpAction)
        {
            var help = new StringWriter();
            var helped = parsed.Invoke(new InvocationConfiguration { Output = help });
            Console.Out.Write(System.Text.RegularExpressions.Regex.Replace(help.ToString(),
                $@"(?m)^(\s+){System.Text.RegularExpressions.Regex.Escape(RootCommand.ExecutableName)}\b", "$1distill"));
            return helped;
        }
        return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }
    catch (Distill.Native.ThreadCountException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
    catch (Exception e)
    {
        // The trace is printed here, not by letting the exception end the process: the runtime's abort then hung in
        // libtorch's exit-time cleanup (`distill run` with a loaded module), and the trace never came.
        try
        {
            if (Environment.GetEnvironmentVariable("DISTILL_TRACE") is "1" or "true") Console.Error.WriteLine(e);
            Console.Error.WriteLine($"error: {Unhandled.Describe(e)}");
        }
        catch (IOException) { } // standard error itself is gone (a closed terminal): the exit code still says it
        return 1;
    }
}

// A number option's value is read with the invariant culture, where a comma groups thousands: --kd-temperature 2,5 was
// read as 25 and --weight-decay 0,0005 as 5, silently. Every command's decimal options refuse a comma instead.
static void PointDecimals(System.CommandLine.Command command) =>
    EveryOption(command, o => o.ValueType == typeof(double) || o.ValueType == typeof(double?), option => result =>
    {
        if (result.Tokens.FirstOrDefault(t => t.Value.Contains(',', StringComparison.Ordinal)) is { } token)
            result.AddError($"{option.Name} {token.Value}: write the number with a decimal point ({token.Value.Replace(',', '.')}), without commas: numbers are read the same in every locale");
    });

// Adds the validator <validate> makes for each option of <command> and its subcommands that <which> selects.
static void EveryOption(System.CommandLine.Command command, Func<System.CommandLine.Option, bool> which,
    Func<System.CommandLine.Option, Action<System.CommandLine.Parsing.OptionResult>> validate)
{
    foreach (var option in command.Options.Where(which)) option.Validators.Add(validate(option));
    foreach (var sub in command.Subcommands) EveryOption(sub, which, validate);
}

// An option that takes a value, given again without one (`--out A --out`, `-p seed=1 -p`), was dropped silently, while
// on its own it is refused: refused the same way whenever it appears.
static void BareRepeats(System.CommandLine.Command command) =>
    EveryOption(command, o => o.Arity.MinimumNumberOfValues > 0, option => result =>
    {
        if (result.IdentifierTokenCount > result.Tokens.Count)
            result.AddError($"{result.IdentifierToken?.Value ?? option.Name} is given {result.IdentifierTokenCount} times, {result.IdentifierTokenCount - result.Tokens.Count} of them without a value; give each one a value, or leave the bare one out");
    });

// An option given where a value belongs (`train --out --resume`, the folder forgotten) was taken as the value: a folder
// named --resume was created and a new run trained into it. No value of ours starts with "--"; a file or folder whose
// name does is written ./--name.
static void OptionsAsValues(System.CommandLine.Command command) =>
    // But `sweep slurm --sbatch`, whose values are sbatch's options (--sbatch=--account=myproj).
    EveryOption(command, o => o.Arity.MinimumNumberOfValues > 0 && o.Name != "--sbatch", option => result =>
    {
        if (result.Tokens.FirstOrDefault(t => t.Value is ['-', '-', _, ..]) is { } token)
            result.AddError($"{result.IdentifierToken?.Value ?? option.Name} {token.Value}: {token.Value} looks like an option, where {option.Name} needs a value; " +
                            $"give {option.Name} its value" + (option.ValueType == typeof(string) || option.ValueType == typeof(string[]) ? $" (a file or folder whose name starts with '--' is written ./{token.Value})" : ""));
    });

// An option a command lacks, before its arguments are filled, became an argument: `distill methods --json` looked up the
// method '--json'. A dash and a letter is no notebook, method or number; ./-name or `-- -name` passes a file named so.
// A validator sees token values, not their places, so a token counts as an option when its value is among
// <beforeDoubleDash>, the arguments before the first `--` (one given both before and after it is refused for the first).
static void UnknownOptions(System.CommandLine.Command command, string path, IReadOnlySet<string> beforeDoubleDash)
{
    foreach (var argument in command.Arguments)
        argument.Validators.Add(result =>
        {
            if (result.Tokens.FirstOrDefault(t => t.Value is ['-', var c, ..] && (char.IsLetter(c) || c == '-') && beforeDoubleDash.Contains(t.Value)) is { } token)
                result.AddError($"{token.Value}: unknown option of `{path}`");
        });
    foreach (var sub in command.Subcommands) UnknownOptions(sub, $"{path} {sub.Name}", beforeDoubleDash);
}
