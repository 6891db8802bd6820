"""Drawing a compiled program (``chaingrad.jit``): its ops, or the groups a backend runs.

Two views of the same :class:`~chaingrad.compiled.program.Program`:

* ``view="ops"`` -- one box per op (``v3 = tanh``) and per leaf, named as in
  the program's listing: the traced step as a data-flow graph. For small
  programs (a neuron, a loss).
* ``view="groups"`` -- what the numpy backend executes: ops at the same
  depth running the same operation collapse into one box (``relu x 1,600``),
  dot groups that form a grid are labelled as the matrix product they become
  (``X[100x16] @ W[16x16].T``), and the leaves collapse to one box per
  argument, one for the parameters, one for the constants. A step over a long
  sequence is thousands of groups deep, more than dot can place in time (or at
  all): its consecutive groups merge into runs, so any program, however large,
  draws as at most ``max_boxes`` boxes.

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

from .layout import FONT, FONT_SIZE, LayoutModel
from .output import check_timeout
from .style import KIND_STYLES, make_digraph
from .summary import MAX_LAYOUT_NODES
from .text import html_escape, quote

TIMES = "\N{MULTIPLICATION SIGN}"
_KIND = {"param": "parameter", "input": "input", "const": "constant", "random": "constant"}
_VIEWS = ("auto", "ops", "groups")
DEFAULT_MAX_BOXES = 40  # boxes dot lays out in about a second, and a reader can follow


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


def _leaf_boxes(program: Any) -> tuple[list[str], dict[int, str]]:
    """One box for the parameters, one per argument, constants, random numbers."""
    lines = []
    box_of: dict[int, str] = {}
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
    return lines, box_of


def _run_label(
    program: Any, groups: list[tuple[Any, list[int]]], first: int, level: list[int]
) -> str:
    """A box standing for consecutive groups: which ones, how many ops of each kind."""
    ops: Counter[str] = Counter()
    for _op, nodes in groups:
        ops[program.op_label(nodes[0])] += len(nodes)
    low, high = level[groups[0][1][0]], level[groups[-1][1][0]]
    kinds = [f"{html_escape(name)} {TIMES} {_count(n)}" for name, n in ops.most_common(4)]
    if len(ops) > 4:
        kinds.append(f"{len(ops) - 4} more kinds")
    title = f"groups {first}..{first + len(groups) - 1} (depths {low}..{high})"
    return f"<<b>{title}</b>: {_count(sum(ops.values()))} ops<br/>{', '.join(kinds)}>"


def _groups_lines(program: Any, runs: int | None = None) -> tuple[list[str], int]:
    """Lines of the groups view, and how many group boxes it draws.

    With ``runs`` below the number of groups, consecutive groups (in the order
    the backend runs them, by depth) merge into ``runs`` boxes: a step over a
    long sequence is thousands of groups deep, more than dot can place.
    """
    lines, box_of = _leaf_boxes(program)
    groups = program.groups()
    size = 1 if runs is None or runs >= len(groups) else -(-len(groups) // runs)
    level = program.levels() if size > 1 else []
    edges: Counter[tuple[str, str]] = Counter()
    boxes = 0
    for start in range(0, len(groups), size):
        chunk = groups[start : start + size]
        box = f"g{boxes}"
        boxes += 1
        nodes = [i for _op, members in chunk for i in members]
        kind = "output" if program.output in nodes else "intermediate"
        if size == 1:
            label = _group_label(program, chunk[0][0], chunk[0][1])
        else:
            label = _run_label(program, chunk, start, level)
        lines.append(f"{box} [label={label} {_style(kind)}]")
        for i in nodes:
            box_of[i] = box
        for i in nodes:
            for p in program.parents[i]:
                if box_of[p] != box:
                    edges[(box_of[p], box)] += 1
    lines += [f"{a} -> {b}" for (a, b) in edges]
    return lines, boxes


def layout_nodes(lines: list[str]) -> int:
    """How many nodes dot must place for these lines, real and virtual (one per rank an
    edge crosses): what makes dot slow, and crash on a deep chain."""
    model = LayoutModel()
    box: dict[str, int] = {}
    edges = []
    for line in lines:
        name, _, rest = line.partition(" ")
        if rest.startswith("->"):
            edges.append((name, rest.split()[1]))
        elif name not in box:
            box[name] = model.add(1, 1)
    for a, b in edges:
        model.edge(box[a], box[b])
    rank = model.ranks()
    return len(box) + sum(max(0, abs(rank[box[a]] - rank[box[b]]) - 1) for a, b in edges)


def _parts(
    obj: Any, view: str, max_ops: int, rankdir: str, max_boxes: int | None
) -> tuple[str, list[str]]:
    """(the title as HTML, the body lines) of a program's drawing."""
    program = _program_of(obj)
    if view not in _VIEWS:
        raise ValueError(f"draw_program: view must be one of {_VIEWS}, got {view!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_program: rankdir must be one of LR, RL, TB, BT, got {rankdir!r}")
    if isinstance(max_ops, bool) or not isinstance(max_ops, int) or max_ops < 0:
        raise ValueError(f"draw_program: max_ops must be an int >= 0, got {max_ops!r}")
    if max_boxes is not None and (
        isinstance(max_boxes, bool) or not isinstance(max_boxes, int) or max_boxes < 3
    ):
        raise ValueError(f"draw_program: max_boxes must be an int >= 3 or None, got {max_boxes!r}")
    if view == "auto":
        view = "ops" if program.num_ops <= max_ops else "groups"
    title = html_escape(program.header())
    if view == "ops":
        body = _ops_lines(program)
        if max_boxes is None or layout_nodes(body) <= MAX_LAYOUT_NODES:
            return title, body
        title += f" (too many ops for dot to place one by one: {_count(program.num_ops)})"
    group_count = len(program.groups())
    leaves = len(_leaf_boxes(program)[0])
    runs = None if max_boxes is None else max(1, max_boxes - leaves)
    body, boxes = _groups_lines(program, runs)
    while max_boxes is not None and boxes > 1 and layout_nodes(body) > MAX_LAYOUT_NODES // 2:
        body, boxes = _groups_lines(program, max(1, boxes // 2))
    title += f" ({_count(program.num_ops)} ops in {_count(group_count)} groups"
    if boxes < group_count:
        title += f", drawn as {boxes} boxes of consecutive groups; max_boxes=None draws each"
    return title + ")", body


def program_dot(
    obj: Any,
    view: str = "auto",
    *,
    max_ops: int = 60,
    rankdir: str = "TB",
    max_boxes: int | None = DEFAULT_MAX_BOXES,
) -> str:
    """The DOT text of :func:`draw_program` (no graphviz package needed)."""
    title, body = _parts(obj, view, max_ops, rankdir, max_boxes)
    head = [
        "digraph program {",
        f'\tgraph [rankdir={rankdir} fontname="{FONT}" fontsize={FONT_SIZE} '
        f"label=<{title}> labelloc=t labeljust=l]",
        f'\tnode [shape=box fontname="{FONT}" fontsize={FONT_SIZE} margin=0.06 height=0.3]',
        "\tedge [arrowsize=0.7]",
    ]
    return "\n".join(head + ["\t" + line for line in body] + ["}"]) + "\n"


def draw_program(
    obj: Any,
    view: str = "auto",
    *,
    max_ops: int = 60,
    rankdir: str = "TB",
    max_boxes: int | None = DEFAULT_MAX_BOXES,
    timeout: float | None = None,
) -> Any:
    """A graphviz.Digraph of a compiled step's program (``view``: auto, ops or groups).

    ``obj`` is a ``chaingrad.jit`` step (its most recent program) or a Program.
    ``view="auto"`` draws one box per op up to ``max_ops`` ops, else the groups
    the numpy backend runs. At most ``max_boxes`` boxes are drawn (None: no
    limit): a step over a long sequence, thousands of groups deep, has its
    consecutive groups merged into runs, and an ``ops`` view too big for dot
    becomes the groups view; the title says so. Rendering runs ``dot`` for at
    most ``timeout`` seconds (default ``chaingrad.viz.output.DEFAULT_TIMEOUT``).
    """
    check_timeout(timeout, "draw_program")
    title, body = _parts(obj, view, max_ops, rankdir, max_boxes)
    hint = "draw fewer boxes (draw_program's max_boxes, e.g. max_boxes=20)"
    graph = make_digraph(body, rankdir, timeout=timeout, hint=hint)
    graph.graph_attr.update(label=f"<{title}>", labelloc="t", labeljust="l")
    return graph
