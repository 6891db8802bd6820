"""The traced program: one flat list of nodes in topological order.

A :class:`Program` is what ``chaingrad.jit`` records from one run of a step.
Node ``i`` is either a *leaf* -- a ``param`` (read from its Value at every
call, its gradient added back), an ``input`` (a number from the call's
arguments), a ``random`` number (redrawn at every call, see
:func:`~chaingrad.compiled.tracing.random_leaves`) or a ``const`` (a number
written in the code, like the 2 in ``x * 2``) -- or an *op* of the engine's
rule table applied to earlier nodes (``parents[i]`` are their indices). Leaves
come first (parameters, inputs, random numbers, constants), then the ops in
an order where every node follows its parents. Backends execute this format;
printing it gives a listing that reads like code:

>>> from chaingrad import Value, jit
>>> w = Value(0.5, label="w")
>>> step = jit(lambda x, y: ((w * x - y) ** 2).tanh(), params=[w])
>>> step(2.0, 0.0)
0.7615941559557649
>>> print(step.program)
program(x: float, y: float) -> v3
  params: w
  v0 = mul(w, x)
  v1 = sub(v0, y)
  v2 = pow_const[2](v1)
  v3 = tanh(v2)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from chaingrad.engine import Op, Value
from chaingrad.engine.autodiff import toposort
from chaingrad.engine.closures import ClosureOp

from .tracing import Trace, TracingError

PARAM, INPUT, RANDOM, CONST, OP = "param", "input", "random", "const", "op"

RandomBlock = tuple[Callable[[int], list[float]], list[int], str]


class Program:
    """A traced step: nodes in topological order with their ops, parents and leaf kinds.

    Attributes (index ``i`` is a node):

    ``ops[i]``        the :class:`~chaingrad.engine.ops.Op`, or None for a leaf
    ``parents[i]``    indices of the op's inputs, in order (empty for a leaf)
    ``kinds[i]``      ``"param"``, ``"input"``, ``"random"``, ``"const"`` or ``"op"``
    ``values[i]``     the number the node held in the traced call
    ``names[i]``      a leaf's name (``x[3][1]``, ``layers.0.neurons.2.w[1]``); ``""`` for ops
    ``params``        the parameter Values; parameter ``k`` is node ``k``
    ``input_slots``   for input node ``num_params + j``, its position among the call's numbers
    ``random_blocks`` ``(draw, node indices, label)``: redrawn in this order at every call
    ``output``        the loss node; ``aux`` the nodes of any extra outputs
    """

    def __init__(self) -> None:
        self.ops: list[Op | None] = []
        self.parents: list[tuple[int, ...]] = []
        self.kinds: list[str] = []
        self.values: list[float] = []
        self.names: list[str] = []
        self.params: list[Value] = []
        self.input_slots: list[int] = []
        self.input_is_int: list[bool] = []
        self.random_blocks: list[RandomBlock] = []
        self.output = -1
        self.aux: list[int] = []
        self.signature = ""
        self.aux_structure: Any = None  # nesting of the extra outputs (None: loss only)
        self.grad = True  # False: a forward-only program (no backward pass is generated)
        self._first_op = 0  # set by build(): the leaves come first

    # --- sizes ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def num_params(self) -> int:
        return len(self.params)

    @property
    def num_inputs(self) -> int:
        return len(self.input_slots)

    @property
    def first_op(self) -> int:
        """Index of the first op node (every node before it is a leaf)."""
        return self._first_op

    @property
    def num_ops(self) -> int:
        return len(self.ops) - self._first_op

    @property
    def num_edges(self) -> int:
        return sum(map(len, self.parents))

    def levels(self) -> list[int]:
        """Each node's depth: 0 for leaves, else one more than its deepest parent."""
        level = [0] * len(self.ops)
        parents = self.parents
        depth = level.__getitem__
        for i in range(self.first_op, len(self.ops)):
            ps = parents[i]
            level[i] = 1 + max(map(depth, ps)) if ps else 1
        return level

    def groups(self) -> list[tuple[Op, list[int]]]:
        """Op nodes that could run as one array operation: same level, op and arity.

        Nodes at one level never depend on each other, so each group is one
        vectorised call (the numpy backend runs them in this order).
        """
        return [(op, nodes) for _, op, nodes in self.leveled_groups()]

    def leveled_groups(self) -> list[tuple[int, Op, list[int]]]:
        """:meth:`groups` with the level of each: ``(level, op, nodes)``, in run order."""
        level = self.levels()
        groups: dict[tuple[int, int, int], list[int]] = {}
        ops: dict[int, Op] = {}
        for i in range(self.first_op, len(self.ops)):
            op = self.ops[i]
            assert op is not None
            key = (level[i], id(op), len(self.parents[i]))
            groups.setdefault(key, []).append(i)
            ops[id(op)] = op
        ordered = sorted(groups.items(), key=lambda item: (item[0][0], item[1][0]))
        return [(key[0], ops[key[1]], nodes) for key, nodes in ordered]

    def dot_grid(self, nodes: Sequence[int]) -> tuple[int, int, int]:
        """(distinct weight rows, distinct input rows, n) of a group of dot nodes.

        When every input row meets every weight row the group is the matrix
        product ``X @ W.T`` of an (inputs x n) and a (weights x n) matrix.
        """
        n = len(self.parents[nodes[0]]) // 2
        weights = {self.parents[i][:n] for i in nodes}
        inputs = {self.parents[i][n:] for i in nodes}
        return len(weights), len(inputs), n

    def op_counts(self) -> Counter[str]:
        """How many nodes of each op name: ``Counter({'dot': 1600, 'add': 1617, ...})``."""
        return Counter(op.name for op in self.ops if op is not None)

    # --- reading it -------------------------------------------------------------------

    def op_label(self, i: int) -> str:
        """``add``, ``pow_const[2]``, ``leaky_relu[0.01]``: the op of node ``i`` as listed."""
        op = self.ops[i]
        if op is None:
            return self.kinds[i]
        if op.param is None:
            return op.name
        shown = int(op.param) if float(op.param).is_integer() else op.param
        return f"{op.name}[{shown}]"

    def ref(self, i: int) -> str:
        """How node ``i`` appears as an argument: its name, a constant's number, or ``v<k>``."""
        kind = self.kinds[i]
        if kind == CONST:
            return _number(self.values[i])
        if kind == OP:
            return f"v{i - self.first_op}"
        return self.names[i]

    def line(self, i: int, width: int = 100) -> str:
        """The listing line of op node ``i``: ``v7 = dot(w[0..15], v0..v15)``."""
        refs = [self.ref(p) for p in self.parents[i]]
        op = self.ops[i]
        if op is not None and op.name == "dot":  # weights, then inputs
            half = len(refs) // 2
            shown = f"[{', '.join(_compress(refs[:half]))}], [{', '.join(_compress(refs[half:]))}]"
        else:
            shown = ", ".join(_compress(refs))
        text = f"{self.ref(i)} = {self.op_label(i)}({shown})"
        if len(text) > width:
            cut = text[: width - 30].rsplit(", ", 1)[0]
            text = f"{cut}, ... ({len(self.parents[i])} inputs))"
        return text

    def header(self) -> str:
        outputs = self.ref(self.output)
        if self.aux:
            outputs += f", aux: {len(self.aux)} values"
        return f"program({self.signature}) -> {outputs}"

    def listing(self, max_lines: int | None = 60) -> str:
        """The program as text, one line per op; ``max_lines=None`` shows every op."""
        lines = [self.header()]
        params = _compress([self.names[k] for k in range(self.num_params)])
        if params:
            shown = ", ".join(params)
            if len(shown) > 96:
                shown = f"{len(self.params)} values: {shown[:80].rsplit(', ', 1)[0]}, ..."
            lines.append(f"  params: {shown}")
        draws: Counter[str] = Counter()
        for _, nodes, label in self.random_blocks:
            draws[label] += len(nodes)
        for label, count in draws.items():
            lines.append(f"  random: {count} numbers from {label}, redrawn at every call")
        ops = range(self.first_op, len(self.ops))
        if max_lines is not None and len(ops) > max_lines:
            head = max(1, max_lines * 2 // 3)
            tail = max(1, max_lines - head)
            counts = ", ".join(f"{n:,} {name}" for name, n in self.op_counts().most_common())
            lines.append(f"  {len(ops):,} ops ({counts}); the first {head} and last {tail}:")
            lines += ["  " + self.line(i) for i in ops[:head]]
            lines.append(f"  ... {len(ops) - head - tail:,} more ops ...")
            lines += ["  " + self.line(i) for i in ops[-tail:]]
        else:
            lines += ["  " + self.line(i) for i in ops]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.listing()

    def __repr__(self) -> str:
        return (
            f"<Program({self.signature}): {self.num_ops:,} ops, {self.num_edges:,} edges, "
            f"{self.num_params} params, {self.num_inputs} inputs>"
        )


def _number(x: float) -> str:
    return repr(x)


_NUMBERED = re.compile(r"^v(\d+)$")
# name[i] followed by any already-compressed suffix: w[2], w[2][0..2], w[2][0..2][0..2]
_INDEXED = re.compile(r"^(.*?)\[(\d+)\]((?:\[\d+\.\.\d+\])*)$")


def _compress(refs: Sequence[str]) -> list[str]:
    """Runs of consecutive names as ranges, innermost index first, then the outer ones.

    ``x[0][0], x[0][1]`` -> ``x[0][0..1]``; ``w[0][0], w[0][1], w[1][0], w[1][1]`` ->
    ``w[0..1][0..1]``; ``v3, v4, v5`` -> ``v3..v5``.
    """
    items = list(refs)
    while True:
        merged = _compress_once(items)
        if len(merged) == len(items):
            return merged
        items = merged


def _compress_once(refs: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(refs):
        start = _split(refs[i])
        j = i
        if start is not None:
            key, first, _ = start
            while j + 1 < len(refs):
                nxt = _split(refs[j + 1])
                if nxt is None or nxt[0] != key or nxt[1] != first + (j + 1 - i):
                    break
                j += 1
        shortest = 3 if start is not None and start[0] == ("v", "") else 2
        if start is not None and j - i + 1 >= shortest:
            out.append(start[2](first, first + j - i))
        else:
            out.extend(refs[i : j + 1])
        i = j + 1
    return out


def _split(ref: str) -> tuple[tuple[str, str], int, Callable[[int, int], str]] | None:
    """(what must match for a run, the index that counts, how a run is written)."""
    match = _NUMBERED.match(ref)
    if match:
        return ("v", ""), int(match.group(1)), lambda a, b: f"v{a}..v{b}"
    match = _INDEXED.match(ref)
    if match:
        base, suffix = match.group(1), match.group(3)
        return (base, suffix), int(match.group(2)), lambda a, b: f"{base}[{a}..{b}]{suffix}"
    return None


def parameter_names(params: Sequence[Value], named: dict[Value, str] | None) -> list[str]:
    """Display names: a Module's dotted names with list indices in brackets (``weight.0.2``
    shown as ``weight[0][2]``), labels, or ``p<k>``."""
    names = []
    for k, p in enumerate(params):
        name = (named or {}).get(p) or p.label or f"p{k}"
        head, indices = re.match(r"^(.*?)((?:\.\d+)*)$", name).groups()  # type: ignore[union-attr]
        names.append(head + "".join(f"[{i}]" for i in indices.split(".")[1:]))
    return names


def build(
    roots: Sequence[Value],
    trace: Trace,
    params: Sequence[Value],
    param_names: Sequence[str],
    inputs: dict[Value, int],
    input_names: Sequence[str],
    input_is_int: Sequence[bool],
    signature: str,
) -> Program:
    """Turn the graph behind ``roots`` (loss first, then extra outputs) into a Program.

    ``params`` are the declared parameters (in order), ``inputs`` maps each input
    leaf Value to its position among the call's numbers. Leaves made before the
    trace that are not declared parameters are *captured*: treated as parameters
    (read at every call, gradients added), since that is what eager code does
    with them. A computed Value made before the trace is refused: eager code
    would keep its number (and its graph) from back then, a replay would not.
    """
    order: list[Value] = []
    seen: set[Value] = set()
    for root in roots:
        if root in seen:  # an ancestor of an earlier root: its own ancestors are listed too
            continue
        for node in toposort(root):
            if node not in seen:
                seen.add(node)
                order.append(node)

    created = trace.created
    param_index = {p: k for k, p in enumerate(params)}
    random_nodes = {leaf for _, leaves, _ in trace.random_blocks for leaf in leaves}
    used_params: list[Value] = []
    captured: list[Value] = []
    used_inputs: list[Value] = []
    consts: list[Value] = []
    op_nodes: list[Value] = []
    for node in order:
        if node._parents:
            if id(node) not in created:
                raise TracingError(
                    "chaingrad.jit: the step uses a Value that was computed before the trace "
                    f"({node!r}, made by {node._rule.name if node._rule else '?'}); its number "
                    "and graph come from outside the step, so a replay could not recompute "
                    "it. Compute it inside the jitted function, or pass its number as an input."
                )
            if isinstance(node._rule, ClosureOp):
                raise TracingError(
                    f"chaingrad.jit: the step uses an op made micrograd's way ({node!r}, "
                    f"op {node._rule.symbol!r}: Value(data, _children, _op) with a _backward "
                    "closure); a closure gives numbers for one call and no forward to replay. "
                    "Define the op with chaingrad.op, which compiles as it is."
                )
            op_nodes.append(node)
        elif node in inputs:
            used_inputs.append(node)
        elif node in param_index:
            used_params.append(node)
        elif node in random_nodes:
            continue  # laid out per block below
        elif id(node) in created:
            consts.append(node)
        else:
            captured.append(node)

    used_params.sort(key=param_index.__getitem__)
    used_inputs.sort(key=inputs.__getitem__)
    index: dict[Value, int] = {}
    program = Program()
    program.signature = signature

    def add_leaf(node: Value, kind: str, name: str) -> None:
        index[node] = len(program.ops)
        program.ops.append(None)
        program.parents.append(())
        program.kinds.append(kind)
        program.values.append(node.data)
        program.names.append(name)

    for node in used_params:
        add_leaf(node, PARAM, param_names[param_index[node]])
    for k, node in enumerate(captured):
        add_leaf(node, PARAM, re.sub(r"\W", "_", node.label) or f"captured{k}")
    program.params = used_params + captured
    for node in used_inputs:
        slot = inputs[node]
        add_leaf(node, INPUT, input_names[slot])
        program.input_slots.append(slot)
        program.input_is_int.append(input_is_int[slot])
    for block, (draw, leaves, label) in enumerate(trace.random_blocks):
        ids = []
        for j, leaf in enumerate(leaves):
            ids.append(len(program.ops))
            add_leaf(leaf, RANDOM, f"r{block}[{j}]")
        program.random_blocks.append((draw, ids, label))
    for node in consts:
        add_leaf(node, CONST, "")
    program._first_op = len(program.ops)
    position = index.__getitem__
    for node in op_nodes:
        index[node] = len(program.ops)
        program.ops.append(node._rule)
        program.parents.append(tuple(map(position, node._parents)))
        program.kinds.append(OP)
        program.values.append(node.data)
        program.names.append("")
    program.output = index[roots[0]]
    program.aux = [index[root] for root in roots[1:]]
    return program
