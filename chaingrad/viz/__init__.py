"""Seeing the graph: drawings, inline notebook display, and the backward pass step by step.

>>> from chaingrad import Value
>>> from chaingrad.viz import draw_dot, render, backprop_steps
>>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
>>> y = (x * w).tanh(); y.label = "y"
>>> y.backward()
>>> dot = draw_dot(y, params=[w], edge_labels=True)   # a graphviz.Digraph
>>> render(y, "y.svg")                                 # doctest: +SKIP
>>> print(backprop_steps(y)[0].text)  # doctest: +NORMALIZE_WHITESPACE
grad(x*w) += dy/d(x*w) * grad(y) = 2.458e-05 * 1 = 2.458e-05,
so grad(x*w) = 0 + 2.458e-05 = 2.458e-05
>>> backprop_steps(y)[0].rule
'd tanh(x*w)/d(x*w) = 1 − tanh(x*w)² = 1 − (−0.999988)² = 2.458e−05'

Importing chaingrad.viz loads the standard library only; graphviz and Pillow
are imported when something is drawn, anywidget when a widget (``Explorer``,
``Playground``) is used.
"""

from typing import Any

from .drawing import GraphDrawing
from .export import render, repr_mimebundle
from .gif import GifImage
from .graph import DEFAULT_MAX_NODES, DEFAULT_WIDTH, draw_dot
from .output import DotError, GraphvizNotFoundError, dot_available
from .program import draw_program
from .rules import local_rule
from .steps import BackpropStep, backprop_steps
from .stepthrough import StepThrough, step_through
from .text import format_number

__all__ = [
    "DEFAULT_MAX_NODES",
    "DEFAULT_WIDTH",
    "BackpropStep",
    "DotError",
    "Explorer",
    "GifImage",
    "GraphDrawing",
    "GraphvizNotFoundError",
    "Playground",
    "StepThrough",
    "backprop_steps",
    "dot_available",
    "draw_dot",
    "draw_program",
    "format_number",
    "local_rule",
    "render",
    "repr_mimebundle",
    "step_through",
]


def __getattr__(name: str) -> Any:
    # The notebook widgets import anywidget: only when one is asked for.
    import importlib

    widgets = importlib.import_module(f"{__name__}.widgets")
    if name in widgets.WIDGETS:
        return getattr(widgets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
