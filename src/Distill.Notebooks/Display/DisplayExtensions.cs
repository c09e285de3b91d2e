using Distill.Notebooks.Display;

#pragma warning disable IDE0130 // the kernel's Display() extension lives in namespace System so every cell sees it
namespace System;

/// <summary><c>x.Display()</c> and <c>"...".DisplayAs(mimeType)</c> as in Polyglot notebooks.</summary>
public static class NotebookDisplayExtensions
{
    public static DisplayedValue Display(this object? value, params string[] mimeTypes) => Displays.Show(value, mimeTypes);

    /// <summary>Shows the text as it is under <paramref name="mimeType"/> (and each additional one), e.g. markdown or HTML
    /// written by hand; a text/markdown output is rendered by the report as markdown cells are.</summary>
    public static DisplayedValue DisplayAs(this string value, string mimeType, params string[] additionalMimeTypes) =>
        Displays.ShowAs(value, [mimeType, .. additionalMimeTypes]);
}
