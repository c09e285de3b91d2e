using Distill.Notebooks.Display;

#pragma warning disable IDE0130 // the kernel's Display() extension lives in namespace System so every cell sees it
namespace System;

/// <summary><c>x.Display()</c> as in Polyglot notebooks.</summary>
public static class NotebookDisplayExtensions
{
    public static DisplayedValue Display(this object? value, params string[] mimeTypes) => Displays.Show(value, mimeTypes);
}
