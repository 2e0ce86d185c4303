"""Plots told in words: a `text/plain` formatter for matplotlib figures, in the kernel.

A plot reaches the model as `[image/png 640x480]`; with this formatter the figure's
`text/plain` says what it shows (`values.describe_value`: size, and per axes the title,
axis labels and what is drawn), and the loop's feedback quotes it beside the image's size.
The notebook still shows the image. Asked for by an exploration, which expects plots: it
starts pyplot where the code runs (its backend must start before the formatter is set).

    describe_figures(get_ipython())
"""

from __future__ import annotations

from typing import Any

from .values import describe_value

# Marks a figure's text/plain as this formatter's (feedback.describe_display looks for it).
FIGURE_TEXT_PREFIX = "matplotlib Figure"
# What an executor evaluates in a kernel to turn the descriptions on there.
DESCRIBE_FIGURES_EXPRESSION = (
    "__import__('jupyter_autocoder.executors.figures', fromlist=['figures'])"
    ".describe_figures(get_ipython())"
)


def describe_figures(shell: Any) -> bool:
    """From now on, figures displayed in `shell` carry their description as text/plain;
    False when matplotlib is not installed there."""
    try:
        from matplotlib import pyplot
    except ImportError:
        return False
    # Starts the inline backend now (at the first figure): when it starts, it takes every
    # formatter's printer for `Figure` away (matplotlib_inline's select_figure_formats).
    pyplot.close(pyplot.figure())
    _register(shell)
    if not getattr(shell, _HOOKED, False):
        # `%matplotlib inline` again would take it away again: put it back before each cell.
        shell.events.register("pre_run_cell", lambda *_: _register(shell))
        setattr(shell, _HOOKED, True)
    return True


_HOOKED = "_autocoder_describes_figures"


def _register(shell: Any) -> None:
    formatter = shell.display_formatter.formatters["text/plain"]
    formatter.for_type_by_name("matplotlib.figure", "Figure", _print_figure)


def _print_figure(figure: Any, printer: Any, cycle: bool) -> None:
    printer.text(describe_value(figure))
