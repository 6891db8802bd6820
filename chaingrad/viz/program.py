"""Drawing a compiled program (``chaingrad.jit``): its ops, or the groups a backend runs.

Two views of the same :class:`~chaingrad.compiled.program.Program`:

* ``view="ops"`` -- one box per op (``v3 = tanh``) and per leaf, named as in
  the program's listing: the traced step as a data-flow graph. For small
  programs (a neuron, a loss).
* ``view="groups"`` -- what the numpy backend executes: ops at the same
  depth running the same operation collapse into one box (``relu x 1,600``),
  dot groups that form a grid are labelled as the matrix product they become
  (``X[100x16] @ W[16x16].T``), and the leaves collapse to one box per
  argument, one for the parameters, one for the constants. Any program, however
  large, draws as a few dozen boxes.

``view="auto"`` picks ops up to ``max_ops`` ops, groups beyond.

>>> from chaingrad import Value, jit
>>> w = Value(0.5, label="w")
>>> step = jit(lambda x: (w * x).tanh(), params=[w])
>>> _ = step(2.0)
>>> print(program_dot(step.program).splitlines()[0])
digraph program {
>>> draw_program(step)          # a graphviz.Digraph   # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .layout import FONT, FONT_SIZE
from .style import KIND_STYLES, make_digraph
from .text import html_escape, quote

TIMES = "\N{MULTIPLICATION SIGN}"
_KIND = {"param": "parameter", "input": "input", "const": "constant", "random": "constant"}
_VIEWS = ("auto", "ops", "groups")


def _program_of(obj: Any) -> Any:
    program = getattr(obj, "program", obj)  # a compiled Step, or a Program
    if not hasattr(program, "groups") or not hasattr(program, "parents"):
        raise TypeError(
            f"draw_program: expected a chaingrad.jit step or a Program, got {type(obj).__name__}"
        )
    return program


def _style(kind: str) -> str:
    fill, border, style, width = KIND_STYLES[kind]
    return f'style="{style}" fillcolor="{fill}" color="{border}" penwidth={width}'


def _count(n: int) -> str:
    return f"{n:,}"


def _argument(name: str) -> str:
    """``X[3][1]`` -> ``X``: the argument an input number came from."""
    return re.split(r"[\[.]", name, maxsplit=1)[0]


def _ops_lines(program: Any) -> list[str]:
    lines = []
    used = {p for i in range(program.first_op, len(program)) for p in program.parents[i]}
    used.add(program.output)
    for i in range(program.first_op):
        if i not in used or program.kinds[i] == "const":
            continue  # constants are written into the op boxes, as in the listing
        kind = _KIND[program.kinds[i]]
        lines.append(f"n{i} [label={quote(program.ref(i))} {_style(kind)}]")
    for i in range(program.first_op, len(program)):
        kind = "output" if i == program.output else "intermediate"
        consts = [program.ref(p) for p in program.parents[i] if program.kinds[p] == "const"]
        extra = f"  ({', '.join(consts)})" if consts else ""
        label = f"{program.ref(i)} = {program.op_label(i)}{extra}"
        lines.append(f"n{i} [label={quote(label)} {_style(kind)}]")
        for p in dict.fromkeys(program.parents[i]):
            if program.kinds[p] != "const":
                lines.append(f"n{p} -> n{i}")
    return lines


def _group_label(program: Any, op: Any, nodes: list[int]) -> str:
    name = program.op_label(nodes[0])
    text = f"<b>{html_escape(name)}</b> {TIMES} {_count(len(nodes))}"
    if op.name == "dot":
        weights, inputs, n = program.dot_grid(nodes)
        if weights * inputs == len(nodes) and len(nodes) > 1:
            product = f"X[{inputs}{TIMES}{n}] @ W[{weights}{TIMES}{n}].T"
            text += f"<br/>matrix product {product}"
        else:
            text += f"<br/>{n} terms each"
    elif op.arity is None:
        text += f"<br/>{len(program.parents[nodes[0]])} inputs each"
    return f"<{text}>"


def _groups_lines(program: Any) -> list[str]:
    lines = []
    box_of: dict[int, str] = {}
    # Leaves: one box for the parameters, one per argument, constants, random numbers.
    leaves: dict[str, list[Any]] = {}  # key -> [box, title, kind, count]
    for i in range(program.first_op):
        kind = program.kinds[i]
        if kind == "input":
            title = _argument(program.names[i])
        else:
            title = {"param": "parameters", "random": "random numbers"}.get(kind, "constants")
        entry = leaves.setdefault(f"{kind}:{title}", [f"l{len(leaves)}", title, kind, 0])
        entry[3] += 1
        box_of[i] = entry[0]
    shapes = dict(part.split(": ", 1) for part in program.signature.split(", ") if ": " in part)
    for box, title, kind, count in leaves.values():
        size = f"{TIMES} {_count(count)}"
        if kind == "input" and title in shapes:
            size = html_escape(shapes[title])  # the argument's shape: float[100][2]
        label = f"<<b>{html_escape(title)}</b> {size}>"
        lines.append(f"{box} [label={label} {_style(_KIND[kind])}]")
    edges: Counter[tuple[str, str]] = Counter()
    for g, (op, nodes) in enumerate(program.groups()):
        box = f"g{g}"
        kind = "output" if program.output in nodes else "intermediate"
        lines.append(f"{box} [label={_group_label(program, op, nodes)} {_style(kind)}]")
        for i in nodes:
            box_of[i] = box
            for p in program.parents[i]:
                edges[(box_of[p], box)] += 1
    lines += [f"{a} -> {b}" for (a, b) in edges]
    return lines


def _parts(obj: Any, view: str, max_ops: int, rankdir: str) -> tuple[str, list[str]]:
    """(the title as HTML, the body lines) of a program's drawing."""
    program = _program_of(obj)
    if view not in _VIEWS:
        raise ValueError(f"draw_program: view must be one of {_VIEWS}, got {view!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_program: rankdir must be one of LR, RL, TB, BT, got {rankdir!r}")
    if view == "auto":
        view = "ops" if program.num_ops <= max_ops else "groups"
    body = _ops_lines(program) if view == "ops" else _groups_lines(program)
    title = html_escape(program.header())
    if view == "groups":
        title += f" ({_count(program.num_ops)} ops in {len(program.groups())} groups)"
    return title, body


def program_dot(obj: Any, view: str = "auto", *, max_ops: int = 60, rankdir: str = "TB") -> str:
    """The DOT text of :func:`draw_program` (no graphviz package needed)."""
    title, body = _parts(obj, view, max_ops, rankdir)
    head = [
        "digraph program {",
        f'\tgraph [rankdir={rankdir} fontname="{FONT}" fontsize={FONT_SIZE} '
        f"label=<{title}> labelloc=t labeljust=l]",
        f'\tnode [shape=box fontname="{FONT}" fontsize={FONT_SIZE} margin=0.06 height=0.3]',
        "\tedge [arrowsize=0.7]",
    ]
    return "\n".join(head + ["\t" + line for line in body] + ["}"]) + "\n"


def draw_program(obj: Any, view: str = "auto", *, max_ops: int = 60, rankdir: str = "TB") -> Any:
    """A graphviz.Digraph of a compiled step's program (``view``: auto, ops or groups).

    ``obj`` is a ``chaingrad.jit`` step (its most recent program) or a Program.
    """
    title, body = _parts(obj, view, max_ops, rankdir)
    graph = make_digraph(body, rankdir)
    graph.graph_attr.update(label=f"<{title}>", labelloc="t", labeljust="l")
    return graph
