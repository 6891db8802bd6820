"""The numpy backend: the program's nodes grouped into array operations.

Every node gets a slot in one float array ``V`` (its gradient the same slot
in ``GR``). Nodes at the same depth (*level*: one more than their deepest
parent) that run the same op are independent of each other, so one numpy
call computes the whole *group*: the 1,600 ReLUs of a hidden layer over a
batch of 100 are one ``np.maximum``. Slots are laid out so that a group's
operands are, where possible, plain slices of ``V`` (no copying), and:

* a group of ``dot`` nodes whose weight rows and input rows form a grid
  (every input row meets every weight row) is one matrix product
  ``X @ W.T`` -- a dense layer over a batch, and, for a convolution, the
  input rows are the image patches: the product *is* im2col;
* an operand repeated along the batch (a bias) is broadcast, and its
  gradient is a sum over that axis;
* gradients are scattered with plain ``+=`` when targets are distinct and
  with ``np.bincount`` only where they repeat; a group whose outputs feed one
  later group only gets its gradient from that group as a variable, without
  a trip through ``GR``;
* parameters are laid out in ``V`` as the groups read them (a weight matrix
  row by row, a layer's biases side by side), so those reads are slices.
* reductions of different lengths at one level (causal attention: position
  ``t`` sums ``t + 1`` scores) run as one *ragged* group, each row padded to
  the longest with a neutral operand (0 for ``sum`` and ``dot``, ``-inf`` for
  ``logsumexp`` and ``max``) read from two constant slots after the nodes'.

Each group's code comes from the op's rule in ``RULES`` (one table, keyed by
op); an op without one, a user's own op included, runs its own forward for
each member (the generic rule). The plan is emitted as Python source
(``step.source``) so it can be read.
Floating-point events the engine would report (``log`` of a negative, an
``exp`` that overflows, a division by zero) raise ``FloatingPointError``
here; the compiled step then reruns that call with the standard-library
backend, which raises the engine's own error or gives its exact result.

>>> from chaingrad import Value, jit, sum_of
>>> ws = [Value(0.1 * k) for k in range(4)]
>>> step = jit(lambda xs: sum_of([(w * x).tanh() for w, x in zip(ws, xs)]),
...            params=ws, backend="numpy")
>>> round(step([1.0, 2.0, 3.0, 4.0]), 6)
1.568079
"""

from __future__ import annotations

import itertools
import operator
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chaingrad.engine import Op, ops

from .codegen import make_runner
from .program import Program
from .python_backend import needs_grad

# --- the rules: how each op becomes array code ----------------------------------------
#
# One table, keyed by op (a parametric op's family covers all its constants).
# A rule emits the code of one group (nodes of one op at one level). Every op
# without a rule, a user's own op included, gets the generic rule: its own
# forward called member by member, the local derivatives it returns gathered
# into an array for the backward pass (right for any op, not fast). The rules
# below are the faster forms of the ops networks are made of.


class Rule:
    """How a group of nodes of one op is computed and differentiated."""

    def operand(self, arity: int, j: int) -> int:
        """Which operand of the group a node's parent ``j`` feeds (for handing gradients)."""
        return j

    def emit(self, backend: NumpyBackend, op: Op, nodes: list[int], start: int) -> int:
        """Emit the group's code; its nodes get slots from ``start``; returns the next free slot."""
        backend._place(nodes, start)
        self.emit_placed(backend, op, nodes, start)
        return start + len(nodes)

    def emit_placed(self, backend: NumpyBackend, op: Op, nodes: list[int], start: int) -> None:
        raise NotImplementedError


class Generic(Rule):
    """Any op: its own forward, member by member (correct, not fast)."""

    def operand(self, arity: int, j: int) -> int:
        return 0  # the members' operands are read as one matrix

    def emit_placed(self, backend: NumpyBackend, op: Op, nodes: list[int], start: int) -> None:
        backend._emit_generic(op, nodes, start)


GENERIC = Generic()


class Elementwise(Rule):
    """An op on aligned operands: a forward expression and one gradient term per input.

    ``{a}``, ``{b}``: the operands, ``{y}``: the result, ``{g}``: the upstream
    gradient. ``ufunc`` (``"np.tanh({a}"``) writes the result straight into V.
    """

    def __init__(self, forward: str, grads: tuple[str, ...], ufunc: str | None = None) -> None:
        self.forward = forward
        self.grads = grads
        self.ufunc = ufunc

    def emit_placed(self, backend: NumpyBackend, op: Op, nodes: list[int], start: int) -> None:
        backend._emit_elementwise(op, nodes, start, self)


class Family(Rule):
    """A parametric op: ``pick(op)`` gives the elementwise rule for its constant (or None)."""

    def __init__(self, pick: Callable[[Op], Elementwise | None]) -> None:
        self.pick = pick

    def emit_placed(self, backend: NumpyBackend, op: Op, nodes: list[int], start: int) -> None:
        (self.pick(op) or GENERIC).emit_placed(backend, op, nodes, start)


RULES: dict[Op, Rule] = {
    ops.ADD: Elementwise("{a} + {b}", ("{g}", "{g}"), "np.add({a}, {b}"),
    ops.SUB: Elementwise("{a} - {b}", ("{g}", "-{g}"), "np.subtract({a}, {b}"),
    ops.MUL: Elementwise("{a} * {b}", ("{b} * {g}", "{a} * {g}"), "np.multiply({a}, {b}"),
    ops.DIV: Elementwise("{a} / {b}", ("{g} / {b}", "-{y} / {b} * {g}"), "np.divide({a}, {b}"),
    ops.NEG: Elementwise("-{a}", ("-{g}",), "np.negative({a}"),
    ops.EXP: Elementwise("np.exp({a})", ("{y} * {g}",), "np.exp({a}"),
    ops.LOG: Elementwise("np.log({a})", ("{g} / {a}",), "np.log({a}"),
    ops.SQRT: Elementwise("np.sqrt({a})", ("0.5 / {y} * {g}",), "np.sqrt({a}"),
    ops.TANH: Elementwise("np.tanh({a})", ("(1.0 - {y} * {y}) * {g}",), "np.tanh({a}"),
    ops.SIGMOID: Elementwise("_sigmoid({a})", ("{y} * (1.0 - {y}) * {g}",)),
    ops.SOFTPLUS: Elementwise("_softplus({a})", ("_sigmoid({a}) * {g}",)),
    ops.RELU: Elementwise(
        "np.maximum({a}, 0.0)", ("np.heaviside({a}, 0.0) * {g}",), "np.maximum({a}, 0.0"
    ),
    ops.ABS: Elementwise("np.abs({a})", ("np.sign({a}) * {g}",), "np.absolute({a}"),
    ops.SIN: Elementwise("np.sin({a})", ("np.cos({a}) * {g}",), "np.sin({a}"),
    ops.COS: Elementwise("np.cos({a})", ("-np.sin({a}) * {g}",), "np.cos({a}"),
}


def _sigmoid(x: Any) -> Any:
    # Only ever exponentiate a non-positive number, as the engine does.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x: Any) -> Any:
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _power(op: Op) -> Elementwise:
    k = float(op.param)  # type: ignore[arg-type]
    if k == 0.0:
        return Elementwise("np.ones_like({a})", ("0.0 * {g}",))
    if k == 1.0:
        return Elementwise("{a} * 1.0", ("{g}",))
    if k == 2.0:
        return Elementwise("{a} * {a}", ("2.0 * {a} * {g}",), "np.multiply({a}, {a}")
    return Elementwise(f"{{a}} ** {k!r}", (f"{k!r} * {{a}} ** {k - 1.0!r} * {{g}}",))


def _leaky_relu(op: Op) -> Elementwise:
    alpha = float(op.param)  # type: ignore[arg-type]
    return Elementwise(
        f"np.where({{a}} > 0.0, {{a}}, {alpha!r} * {{a}})",
        (f"np.where({{a}} > 0.0, 1.0, {alpha!r}) * {{g}}",),
    )


RULES[ops.POW_CONST] = Family(_power)
RULES[ops.LEAKY_RELU] = Family(_leaky_relu)


class Reduction(Rule):
    """sum, logsumexp, max and take: one row of operands per member, reduced along it.

    ``forward(group)`` appends the lines computing ``group.y`` from the rows
    ``group.x`` and returns the variable of each row's chosen column (max,
    take) or None; ``backward(group, g, back)`` adds the rows' gradients.
    ``first`` is the first parent in the rows (take's index comes before).
    """

    def __init__(
        self,
        forward: Callable[[_Group], str | None],
        backward: Callable[[_Group, str, list[str]], None] | None = None,
        first: int = 0,
    ) -> None:
        self.forward = forward
        self.backward = backward
        self.first = first

    def operand(self, arity: int, j: int) -> int:
        return 0 if j >= self.first else 1 + j  # the rows, or what comes before them

    def emit_placed(self, backend: NumpyBackend, op: Op, nodes: list[int], start: int) -> None:
        backend._emit_reduction(op, nodes, start, self)


class _Group:
    """What a reduction rule writes with: the rows read, the result, the lines so far."""

    def __init__(
        self, backend: NumpyBackend, nodes: list[int], g_id: int, gather: _Gather, rows: str
    ) -> None:
        self.backend = backend
        self.code = backend.code
        self.nodes = nodes
        self.g_id = g_id
        self.gather = gather  # the rows' slots
        self.x = f"a{g_id}"
        self.y = f"y{g_id}"
        self.rows = rows  # an array 0..size-1, to pick one column per row
        self.chosen: str | None = None


def _sum_forward(group: _Group) -> str | None:
    group.code.forward.append(f"{group.y} = {group.x}.sum(1)")
    return None


def _sum_backward(group: _Group, g: str, back: list[str]) -> None:
    group.gather.add_grad(f"{g}[:, None]", back, full=False)


def _logsumexp_forward(group: _Group) -> str | None:
    x, y, m = group.x, group.y, f"m{group.g_id}"
    group.code.forward.append(f"{m} = {x}.max(1, keepdims=True)")
    group.code.forward.append(
        f"{y} = ({m} + np.log(np.exp({x} - {m}).sum(1, keepdims=True)))[:, 0]"
    )
    return None


def _logsumexp_backward(group: _Group, g: str, back: list[str]) -> None:
    group.backend._hand_over(group.g_id, 0, group.gather)
    group.gather.add_grad(f"np.exp({group.x} - {group.y}[:, None]) * {g}[:, None]", back)


def _max_forward(group: _Group) -> str | None:
    chosen = f"k{group.g_id}"
    group.code.forward.append(f"{chosen} = {group.x}.argmax(1)")
    group.code.forward.append(f"{group.y} = {group.x}[{group.rows}, {chosen}]")
    return chosen


def _take_forward(group: _Group) -> str | None:
    # The index is an input of the program, checked on every call.
    backend, code, g_id = group.backend, group.code, group.g_id
    size = len(group.nodes)
    index = _Gather(code, backend._operand_slots(group.nodes, 0), (size,), broadcast=False)
    chosen = f"k{g_id}"
    n = len(backend.program.parents[group.nodes[0]]) - 1
    f = code.forward
    f.append(f"i{g_id} = {index.read()}")
    f.append(f"{chosen} = i{g_id}.astype(np.int64)")
    f.append(
        f"if not (({chosen} == i{g_id}) & ({chosen} >= 0) & ({chosen} < {n})).all(): "
        f"_bad_index(i{g_id}, {n}, {code.array('NAMES', backend._index_names(group.nodes))})"
    )
    f.append(f"{group.y} = {group.x}[{group.rows}, {chosen}]")
    return chosen


RULES[ops.SUM] = Reduction(_sum_forward, _sum_backward)
RULES[ops.LOGSUMEXP] = Reduction(_logsumexp_forward, _logsumexp_backward)
RULES[ops.MAX] = Reduction(_max_forward)  # backward: the winner of each row gets it
RULES[ops.TAKE] = Reduction(_take_forward, first=1)


class Dot(Rule):
    """dot: a matrix product when weight and input rows form a grid (see the module)."""

    def operand(self, arity: int, j: int) -> int:
        return 0 if j < arity // 2 else 1  # the weights, or the inputs

    def emit(self, backend: NumpyBackend, op: Op, nodes: list[int], start: int) -> int:
        return backend._emit_dot(op, nodes, start)


RULES[ops.DOT] = Dot()


def rule_for(op: Op) -> Rule:
    """The op's rule in this backend's table (by op, then by family), else the generic one."""
    return RULES.get(op) or RULES.get(op.family) or GENERIC


def _is_range(idx: np.ndarray) -> bool:
    return idx.size > 0 and bool(np.all(np.diff(idx.reshape(-1)) == 1))


class _Code:
    """Source lines plus the constant arrays they refer to by name."""

    def __init__(self) -> None:
        self.forward: list[str] = []
        self.backward: list[list[str]] = []  # per group, emitted in reverse group order
        self.arrays: dict[str, Any] = {}
        self.counter = 0
        self.pads: frozenset[int] = frozenset()  # the slots padding ragged rows

    def array(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.arrays)}"
        self.arrays[name] = value
        return name

    def name(self, prefix: str) -> str:
        """A fresh local variable name."""
        self.counter += 1
        return f"{prefix}{self.counter}"


class _Gather:
    """How a group reads one operand from ``V`` and adds its gradient back into ``GR``.

    ``idx`` is the slot of the operand for each member (any shape); ``shape`` the
    shape the group computes in. The cheapest form that is right is chosen:
    a slice, a broadcast row/column/scalar, or a fancy index (with bincount
    in the backward pass when slots repeat).
    """

    def __init__(
        self, code: _Code, idx: np.ndarray, shape: tuple[int, ...], broadcast: bool = True
    ) -> None:
        self.code = code
        self.shape = shape
        self.idx = idx.reshape(shape)
        # Set by the backend when these slots are exactly one earlier group's outputs and
        # this read is their only use: the gradient is handed over as a variable.
        self.forward_to: tuple[str, tuple[int, ...]] | None = None
        flat = self.idx.reshape(-1)
        self.kind = "fancy"
        self.unique = _unique_but_pads(flat, code.pads)
        if _is_range(flat):
            self.kind = "slice"
            self.start = int(flat[0])
            return
        if not broadcast:  # a matrix operand (matmul, row reductions) is read whole
            return
        if np.all(flat == flat[0]):
            self.kind = "scalar"
            self.start = int(flat[0])
            return
        if len(shape) == 2:
            rows, cols = shape
            if np.all(self.idx == self.idx[0]) and len(set(self.idx[0].tolist())) == cols:
                self.kind = "row"  # the same row for every row: broadcast along axis 0
                self.row = self.idx[0]
                return
            if np.all(self.idx == self.idx[:, :1]) and len(set(self.idx[:, 0].tolist())) == rows:
                self.kind = "column"
                self.row = self.idx[:, 0]
                return

    def read(self) -> str:
        code = self.code
        size = self.idx.size
        if self.kind == "slice":
            text = f"V[{self.start}:{self.start + size}]"
            return text if len(self.shape) == 1 else f"{text}.reshape{self.shape}"
        if self.kind == "scalar":
            return f"V[{self.start}]"
        if self.kind in ("row", "column"):
            row = self.row
            if _is_range(row):
                text = f"V[{int(row[0])}:{int(row[0]) + row.size}]"
            else:
                text = f"V[{code.array('I', row)}]"
            return text if self.kind == "row" else f"{text}[:, None]"
        return f"V[{code.array('I', self.idx)}]"

    def add_grad(self, contribution: str, out: list[str], full: bool = True) -> None:
        """Lines that add ``contribution`` into GR at these slots.

        ``full``: the contribution already has the group's shape (else it broadcasts to it).
        """
        size = self.idx.size
        code = self.code
        whole = f"({contribution})" if full else f"np.broadcast_to({contribution}, {self.shape})"
        if self.forward_to is not None and full:
            name, shape = self.forward_to
            reshape = "" if shape == self.shape else f".reshape{shape}"
            out.append(f"{name} = ({contribution}){reshape}")
            return
        if self.kind == "slice":
            target = f"GR[{self.start}:{self.start + size}]"
            if len(self.shape) == 1:
                out.append(f"{target} += {contribution}")
            else:  # add through a view shaped like the group: no copy
                view = code.name("t")
                out.append(f"{view} = {target}.reshape{self.shape}")
                out.append(f"{view} += {contribution}")
            return
        if self.kind == "scalar":
            out.append(f"GR[{self.start}] += {whole}.sum()")
            return
        if self.kind in ("row", "column"):
            row = self.row
            if _is_range(row):
                target = f"GR[{int(row[0])}:{int(row[0]) + row.size}]"
            else:
                target = f"GR[{code.array('I', row)}]"
            out.append(f"{target} += {whole}.sum({0 if self.kind == 'row' else 1})")
            return
        if self.unique:
            out.append(f"GR[{code.array('I', self.idx)}] += {contribution}")
            return
        slots, inverse = np.unique(self.idx.reshape(-1), return_inverse=True)
        u = code.array("U", slots)
        inv = code.array("J", inverse)
        out.append(f"GR[{u}] += np.bincount({inv}, {whole}.reshape(-1), minlength={slots.size})")


class NumpyBackend:
    """Runs a Program as grouped numpy calls: ``run(params, inputs, randoms)``.

    Returns ``(loss, gradients of the parameters, aux values)`` like the
    standard-library backend; ``FloatingPointError`` means "rerun exactly".
    """

    name = "numpy"

    def __init__(self, program: Program) -> None:
        self.program = program
        self.needed = needs_grad(program)
        self.code = _Code()
        self.slot = list(range(len(program)))  # node -> slot in V; ops assigned below
        # Two constant slots after the nodes' pad ragged rows: 0.0 and -inf.
        self.pad_slot = {0.0: len(program), -np.inf: len(program) + 1}
        self.code.pads = frozenset(self.pad_slot.values())
        self.groups = self._grouped(program)
        self._lay_out_params()
        self._find_sole_readers()
        self.gy_reads: dict[int, tuple[list[str], int, tuple[int, ...], int, int]] = {}
        self.gy_at: dict[tuple[int, int], int] = {}  # (first slot, size) -> group reading it
        self.source = self._generate()
        namespace: dict[str, Any] = {
            "np": np,
            "_sigmoid": _sigmoid,
            "_softplus": _softplus,
            "_bad_index": _bad_index,
            **self.code.arrays,
        }
        # Each line is a numpy call (about a microsecond): small chunks cost nothing here.
        self._run = make_runner(
            self.source, namespace, f"<chaingrad.jit numpy {program.signature}>", chunk_lines=4000
        )
        # Each thread reuses its own V and GR: every op slot of V is written by every call
        # (and the constants never change), so V needs no reset; GR is zeroed per call.
        self._buffers = threading.local()

    def run(
        self, params: list[float], inputs: list[float], randoms: list[float]
    ) -> tuple[float, Any, tuple[float, ...]]:
        buffers = self._buffers
        V = getattr(buffers, "V", None)
        if V is None:
            V = buffers.V = self.base.copy()
            buffers.GR = np.empty(V.size)
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            result: tuple[float, Any, tuple[float, ...]] = self._run(
                params, inputs, randoms, V, buffers.GR
            )
        return result

    # --- grouping ---------------------------------------------------------------------

    RAGGED = True  # merge reductions of different lengths at one level (padded rows)

    def _grouped(self, program: Program) -> list[tuple[Op, list[int]]]:
        """The program's groups, with ragged reductions merged where padding costs little."""
        leveled = program.leveled_groups()
        if not self.RAGGED:
            return [(op, nodes) for _, op, nodes in leveled]
        parents = program.parents
        out: list[tuple[Op, list[int]]] = []
        for _, run in itertools.groupby(leveled, key=operator.itemgetter(0)):
            same_level = list(run)
            lists: dict[Op, list[list[int]]] = {}
            for _, op, nodes in same_level:
                if op in _PAD and not (op is ops.DOT and _is_grid(nodes, program)):
                    lists.setdefault(op, []).append(nodes)
            ragged = {op: found for op, found in lists.items() if len(found) > 1}
            merged_in = {id(nodes) for found in ragged.values() for nodes in found}
            for _, op, nodes in same_level:
                if id(nodes) not in merged_in:
                    out.append((op, nodes))
                elif op in ragged:  # the merged groups run where the first of them would
                    out.extend((op, m) for m in _merge_ragged(ragged.pop(op), parents))
        return out

    def _find_sole_readers(self) -> None:
        """For each group: the (group, operand) that is the only reader of all its outputs."""
        program = self.program
        all_parents = program.parents
        group_of = np.full(len(all_parents), -1, dtype=np.int64)
        for g, (_, nodes) in enumerate(self.groups):
            group_of[nodes] = g
        readers: list[set[tuple[int, int]]] = [set() for _ in self.groups]
        uses = Counter(itertools.chain.from_iterable(all_parents[program.first_op :]))
        # Which groups each group reads, operand by operand: one array lookup per group
        # and arity (the parents as a matrix), not a Python step per edge.
        for g, (op, nodes) in enumerate(self.groups):
            operand = rule_for(op).operand
            parents_of = [all_parents[i] for i in nodes]
            arities = set(map(len, parents_of))
            for arity in arities:
                if arity == 0:
                    continue
                rows = parents_of
                if len(arities) > 1:  # a ragged group: its rows of this length
                    rows = [p for p in parents_of if len(p) == arity]
                read = group_of[np.array(rows, dtype=np.int64)]
                columns: dict[int, list[int]] = {}
                for j in range(arity):
                    columns.setdefault(operand(arity, j), []).append(j)
                for kind, js in columns.items():
                    part = read if len(js) == arity else read[:, js]
                    for q in np.unique(part).tolist():
                        if q >= 0:
                            readers[q].add((g, kind))
        for i in (program.output, *program.aux):
            uses[i] += 2  # returned: their gradient is seeded, not handed over
        self.sole_reader: dict[int, tuple[int, int]] = {}
        for g, (_, nodes) in enumerate(self.groups):
            if len(readers[g]) == 1 and all(uses[i] == 1 for i in nodes):
                self.sole_reader[g] = next(iter(readers[g]))

    def _read_gy(
        self, g_id: int, back: list[str], start: int, size: int, shape: tuple[int, ...]
    ) -> str:
        """The line reading group ``g_id``'s output gradient from GR (may be handed over)."""
        name = f"gy{g_id}"
        read = f"GR[{start}:{start + size}]"
        back.append(f"{name} = {read if len(shape) == 1 else f'{read}.reshape{shape}'}")
        self.gy_reads[g_id] = (back, len(back) - 1, tuple(shape), start, size)
        self.gy_at[(start, size)] = g_id
        return name

    def _hand_over(self, g_id: int, j: int, gather: _Gather) -> None:
        """If ``gather`` (operand ``j`` of group ``g_id``) is the only reader of an earlier
        group's outputs, in order, its gradient goes to that group as a variable, not via GR."""
        if gather.kind != "slice":
            return
        # One lookup by slot range (groups own disjoint slots): compile time stays linear.
        producer = self.gy_at.get((gather.start, gather.idx.size))
        if producer is not None and self.sole_reader.get(producer) == (g_id, j):
            back, line, shape, _, _ = self.gy_reads[producer]
            back[line] = ""  # the producer's gradient arrives as gy<producer>
            gather.forward_to = (f"gy{producer}", shape)

    def _lay_out_params(self) -> None:
        """Put parameters in V in the order the groups read them (a weight matrix row by
        row, a layer's biases side by side), so those reads are slices, not gathers."""
        program = self.program
        n_params = program.num_params
        order: list[int] = []
        placed = [False] * n_params

        def place(nodes: list[int]) -> None:
            for p in nodes:
                if p < n_params and not placed[p]:
                    placed[p] = True
                    order.append(p)

        parents = program.parents
        # Weight matrices of batched dot groups first (a single dot, such as an L2
        # penalty's over every parameter, must not decide the layout), then operand
        # columns of the other groups (biases), then whatever is left.
        for op, nodes in self.groups:
            if op is ops.DOT and len(nodes) > 1:
                n = len(parents[nodes[0]]) // 2
                for row in dict.fromkeys(tuple(parents[i][:n]) for i in nodes):
                    if all(p < n_params for p in row):
                        place(list(row))
        for op, nodes in self.groups:
            if op is not ops.DOT:
                for j in range(max(len(parents[i]) for i in nodes)):  # (ragged: the longest)
                    place([parents[i][j] for i in nodes if j < len(parents[i])])
        place(list(range(n_params)))
        for slot, p in enumerate(order):
            self.slot[p] = slot
        self.param_slots = [self.slot[k] for k in range(n_params)]

    # --- code -------------------------------------------------------------------------

    def _generate(self) -> str:
        program = self.program
        code = self.code
        lines = code.forward
        n_leaves = program.first_op
        base = np.array(program.values[:n_leaves] + [0.0] * program.num_ops + [0.0, -np.inf])
        self.base = base
        code.arrays["BASE"] = base
        next_slot = n_leaves
        for op, nodes in self.groups:
            next_slot = self._emit_group(op, nodes, next_slot)
        header = ["def run(P, X, R, V, GR):"]
        if program.num_params:
            if self.param_slots == list(range(program.num_params)):
                header.append(f"    V[0:{program.num_params}] = P")
            else:
                code.arrays["PSLOTS"] = np.array(self.param_slots, dtype=np.int64)
                header.append("    V[PSLOTS] = P")
        if program.num_inputs:
            first = program.num_params
            header.append(f"    V[{first}:{first + program.num_inputs}] = X")
        randoms = [i for _, ids, _ in program.random_blocks for i in ids]
        if randoms:
            header.append(f"    V[{randoms[0]}:{randoms[-1] + 1}] = R")
        body = ["    " + line for line in lines]
        back = ["    GR.fill(0.0)"]
        out_slot = self.slot[program.output]
        if self.needed[program.output]:
            back.append(f"    GR[{out_slot}] = 1.0")
        for group_lines in reversed(code.backward):
            back += ["    " + line for line in group_lines if line]
        aux = "".join(f"V[{self.slot[i]}], " for i in program.aux)
        if not program.num_params:
            grads = "[]"
        elif "PSLOTS" in code.arrays:
            grads = "GR[PSLOTS]"  # a fancy index: a copy
        else:
            grads = f"GR[0:{program.num_params}].copy()"  # GR is reused by the next call
        tail = [f"    return float(V[{out_slot}]), {grads}, ({aux})"]
        return "\n".join(header + body + back + tail) + "\n"

    def _emit_group(self, op: Op, nodes: list[int], start: int) -> int:
        return rule_for(op).emit(self, op, nodes, start)

    def _place(self, nodes: list[int], start: int) -> None:
        """Slots from ``start`` for a group, its members in the order of their operands'
        slots: chains of elementwise ops then read their operands as slices."""
        program = self.program
        nodes.sort(key=lambda i: tuple(self.slot[p] for p in program.parents[i]))
        for k, node in enumerate(nodes):
            self.slot[node] = start + k

    def _slots(
        self, nodes: list[int], first: int = 0, stop: int | None = None, pad: float = 0.0
    ) -> Any:
        """The V slots of parents ``first:stop`` of each member: one row per member (rows
        of a ragged group padded with the slot holding ``pad``)."""
        parents = self.program.parents
        slot_of = self.slot.__getitem__
        rows = [list(map(slot_of, parents[i][first:stop])) for i in nodes]
        width = max(map(len, rows), default=0)
        if any(len(row) != width for row in rows):
            filler = self.pad_slot[pad]
            rows = [row + [filler] * (width - len(row)) for row in rows]
        return np.array(rows, dtype=np.int64)

    def _needs(self, nodes: list[int], first: int = 0, stop: int | None = None) -> bool:
        """Does any member's parent in ``first:stop`` need a gradient?"""
        parents = self.program.parents
        return any(self.needed[p] for i in nodes for p in parents[i][first:stop])

    def _operand_slots(self, nodes: list[int], j: int) -> np.ndarray:
        parents = self.program.parents
        return np.array([self.slot[parents[i][j]] for i in nodes], dtype=np.int64)

    def _group_shape(self, columns: list[np.ndarray]) -> tuple[int, ...]:
        """(size,), or (rows, cols) when an operand repeats along a batch (a bias)."""
        size = columns[0].size
        for idx in columns:
            if _is_range(idx) or np.all(idx == idx[0]):
                continue
            distinct = len(set(idx.tolist()))
            if distinct == size or size % distinct:
                continue
            for shape in ((size // distinct, distinct), (distinct, size // distinct)):
                grid = idx.reshape(shape)
                if np.all(grid == grid[0]) or np.all(grid == grid[:, :1]):
                    return shape
        return (size,)

    def _emit_elementwise(self, op: Op, nodes: list[int], start: int, rule: Elementwise) -> None:
        program = self.program
        code = self.code
        forward, grads = rule.forward, rule.grads
        g_id = len(code.backward)
        columns = [self._operand_slots(nodes, j) for j in range(len(program.parents[nodes[0]]))]
        shape = self._group_shape(columns)
        gathers = [_Gather(code, idx, shape) for idx in columns]
        names = {}
        for j, gather in enumerate(gathers):
            name = f"a{g_id}_{j}"
            code.forward.append(f"{name} = {gather.read()}")
            names["ab"[j]] = name
        y = f"y{g_id}"
        size = len(nodes)
        target = f"V[{start}:{start + size}]"
        if len(shape) == 2:
            target += f".reshape{shape}"
        ufunc = rule.ufunc
        if ufunc is not None:
            code.forward.append(f"{y} = {ufunc.format(**names)}, out={target})")
        else:
            code.forward.append(f"{y} = {forward.format(**names, y=y, g='')}")
            if len(shape) == 1:
                code.forward.append(f"{target} = {y}")
            else:
                code.forward.append(
                    f"V[{start}:{start + size}] = np.broadcast_to({y}, {shape}).reshape(-1)"
                )
        back: list[str] = []
        if any(self.needed[i] for i in nodes):
            g = self._read_gy(g_id, back, start, size, shape)
            for j, gather in enumerate(gathers):
                if not self._needs(nodes, j, j + 1):
                    continue
                term = grads[j].format(**names, y=y, g=g)
                self._hand_over(g_id, j, gather)
                gather.add_grad(term, back)
        code.backward.append(back)

    def _emit_reduction(self, op: Op, nodes: list[int], start: int, rule: Reduction) -> None:
        """One row of operands per member, reduced by the rule."""
        code = self.code
        g_id = len(code.backward)
        size = len(nodes)
        matrix = self._slots(nodes, rule.first, pad=_PAD.get(op, 0.0))
        gather = _Gather(code, matrix, matrix.shape, broadcast=False)
        group = _Group(self, nodes, g_id, gather, code.array("ROWS", np.arange(size)))
        code.forward.append(f"{group.x} = {gather.read()}")
        chosen = rule.forward(group)
        code.forward.append(f"V[{start}:{start + size}] = {group.y}")
        back: list[str] = []
        if any(self.needed[i] for i in nodes):
            g = self._read_gy(g_id, back, start, size, (size,))
            if rule.backward is not None:
                rule.backward(group, g, back)
            else:
                self._scatter_chosen(gather, matrix, group.rows, chosen, g, back)
        code.backward.append(back)

    def _index_names(self, nodes: list[int]) -> list[str]:
        program = self.program
        names = []
        for i in nodes:
            index = program.parents[i][0]
            names.append(program.names[index] or f"node {index}")
        return names

    def _scatter_chosen(
        self, gather: _Gather, matrix: np.ndarray, rows: str, chosen: Any, g: str, back: list[str]
    ) -> None:
        """The winner of each row (max, take) gets the row's gradient."""
        code = self.code
        slots = code.array("S", matrix)
        flat = matrix.reshape(-1)
        if _unique_but_pads(flat, code.pads):
            back.append(f"GR[{slots}[{rows}, {chosen}]] += {g}")
            return
        distinct, inverse = np.unique(flat, return_inverse=True)
        local = code.array("J", inverse.reshape(matrix.shape))
        u = code.array("U", distinct)
        back.append(
            f"GR[{u}] += np.bincount({local}[{rows}, {chosen}], {g}, minlength={distinct.size})"
        )

    def _emit_dot(self, op: Op, nodes: list[int], start: int) -> int:
        """A group of dot nodes: a matrix product when weight and input rows form a grid."""
        program = self.program
        code = self.code
        g_id = len(code.backward)
        n = len(program.parents[nodes[0]]) // 2
        if any(len(program.parents[i]) != 2 * n for i in nodes):  # a ragged group
            halves = self._ragged_halves(nodes)
            done = self._emit_block_dot(nodes, start, *halves, padded=True)
            return done if done is not None else self._emit_batched_dot(nodes, start, n)
        w_rows: dict[tuple[int, ...], int] = {}
        x_rows: dict[tuple[int, ...], int] = {}
        pairs = []
        slot_of = self.slot.__getitem__
        for i in nodes:
            slots = tuple(map(slot_of, program.parents[i]))
            w = w_rows.setdefault(slots[:n], len(w_rows))
            x = x_rows.setdefault(slots[n:], len(x_rows))
            pairs.append((x, w))
        n_w, n_x = len(w_rows), len(x_rows)
        grid = len(set(pairs)) == len(pairs) and 2 * len(pairs) >= n_w * n_x
        f = code.forward
        back: list[str] = []
        size = len(nodes)
        if not grid:
            slot_rows = [tuple(map(slot_of, program.parents[i])) for i in nodes]
            done = self._emit_block_dot(
                nodes, start, [r[:n] for r in slot_rows], [r[n:] for r in slot_rows]
            )
            return done if done is not None else self._emit_batched_dot(nodes, start, n)
        # Rows in slot order, so a block of slots reads as a matrix without copying.
        w_order = sorted(w_rows, key=lambda row: row)
        x_order = sorted(x_rows, key=lambda row: row)
        w_rank = {w_rows[row]: r for r, row in enumerate(w_order)}
        x_rank = {x_rows[row]: r for r, row in enumerate(x_order)}
        ranked = sorted(
            zip(nodes, pairs), key=lambda item: (x_rank[item[1][0]], w_rank[item[1][1]])
        )
        for k, (node, _) in enumerate(ranked):
            self.slot[node] = start + k
        nodes[:] = [node for node, _ in ranked]
        cells = np.array([x_rank[x] * n_w + w_rank[w] for _, (x, w) in ranked], dtype=np.int64)
        W = _Gather(code, np.array(w_order, dtype=np.int64), (n_w, n), broadcast=False)
        X = _Gather(code, np.array(x_order, dtype=np.int64), (n_x, n), broadcast=False)
        wn, xn, y = f"w{g_id}", f"x{g_id}", f"y{g_id}"
        f.append(f"{wn} = {W.read()}")
        f.append(f"{xn} = {X.read()}")
        full = len(pairs) == n_w * n_x
        if full:
            f.append(f"{y} = V[{start}:{start + size}].reshape({n_x}, {n_w})")
            f.append(f"np.matmul({xn}, {wn}.T, out={y})")
        else:
            sel = code.array("SEL", cells)
            f.append(f"{y} = {xn} @ {wn}.T")
            f.append(f"V[{start}:{start + size}] = {y}.reshape(-1)[{sel}]")
        if any(self.needed[i] for i in nodes):
            g = f"gy{g_id}"
            if full:
                self._read_gy(g_id, back, start, size, (n_x, n_w))
            else:
                back.append(f"{g} = np.zeros({n_x * n_w})")
                back.append(f"{g}[{code.array('SEL', cells)}] = GR[{start}:{start + size}]")
                back.append(f"{g} = {g}.reshape({n_x}, {n_w})")
            if self._needs(nodes, 0, n):
                self._hand_over(g_id, 0, W)
                W.add_grad(f"{g}.T @ {xn}", back)
            if self._needs(nodes, n):
                self._hand_over(g_id, 1, X)
                X.add_grad(f"{g} @ {wn}", back)
        code.backward.append(back)
        return start + size

    def _ragged_halves(
        self, nodes: list[int]
    ) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
        """Each member's weight and input slots, all padded to the longest: the weights
        with the 0.0 slot, the inputs with the rest of the longest input row they begin
        (causal attention: position t's values are the first t + 1 of the last position's),
        else with the 0.0 slot. Every padded weight is 0, so what it meets adds nothing."""
        parents = self.program.parents
        slot_of = self.slot.__getitem__
        zero = self.pad_slot[0.0]
        halves = [len(parents[i]) // 2 for i in nodes]
        width = max(halves)
        ws = [tuple(map(slot_of, parents[i][:h])) for i, h in zip(nodes, halves)]
        xs = [tuple(map(slot_of, parents[i][h:])) for i, h in zip(nodes, halves)]
        longest: dict[tuple[int, ...], tuple[int, ...]] = {}  # a prefix -> the row it begins
        for row in sorted(set(xs), key=len, reverse=True):
            if len(row) == width:
                for k in range(1, width + 1):
                    longest.setdefault(row[:k], row)
        padded_w = [w + (zero,) * (width - len(w)) for w in ws]
        padded_x = [longest.get(x) or x + (zero,) * (width - len(x)) for x in xs]
        return padded_w, padded_x

    def _emit_block_dot(
        self,
        nodes: list[int],
        start: int,
        w_slots: list[tuple[int, ...]],
        x_slots: list[tuple[int, ...]],
        padded: bool = False,
    ) -> int | None:
        """Dot nodes that form several alike grids (the heads of an attention layer: head h's
        queries meet only head h's keys): one batched matrix product, or None.

        ``w_slots`` and ``x_slots`` are each member's weight and input slots, all of one
        width (a ragged group's padded by :meth:`_ragged_halves`)."""
        code = self.code
        g_id = len(code.backward)
        n = len(w_slots[0])
        w_ids: dict[tuple[int, ...], int] = {}
        x_ids: dict[tuple[int, ...], int] = {}
        pairs = [
            (x_ids.setdefault(x, len(x_ids)), w_ids.setdefault(w, len(w_ids)))
            for w, x in zip(w_slots, x_slots)
        ]
        if len(set(pairs)) != len(pairs):
            return None
        # One block is a plain grid: the caller's matrix product, unless the rows were padded.
        blocks = _blocks(pairs, len(x_ids), len(w_ids), 1 if padded else 2)
        if blocks is None:
            return None
        x_rows, w_rows = list(x_ids), list(w_ids)
        b_count = len(blocks)
        n_x, n_w = len(blocks[0][0]), len(blocks[0][1])
        # Within a block, rows in slot order; blocks in the order of their first row.
        blocks.sort(key=lambda block: min(x_rows[x] for x in block[0]))
        x_place: dict[int, tuple[int, int]] = {}
        w_place: dict[int, tuple[int, int]] = {}
        for b, (xs, ws) in enumerate(blocks):
            for r, x in enumerate(sorted(xs, key=x_rows.__getitem__)):
                x_place[x] = (b, r)
            for r, w in enumerate(sorted(ws, key=w_rows.__getitem__)):
                w_place[w] = (b, r)

        def cell(pair: tuple[int, int]) -> int:
            (b, xr), (_, wr) = x_place[pair[0]], w_place[pair[1]]
            return (b * n_x + xr) * n_w + wr

        ranked = sorted(zip(nodes, pairs), key=lambda item: cell(item[1]))
        for k, (node, _) in enumerate(ranked):
            self.slot[node] = start + k
        nodes[:] = [node for node, _ in ranked]
        cells = np.array([cell(pair) for _, pair in ranked], dtype=np.int64)
        IX = np.zeros((b_count, n_x, n), dtype=np.int64)
        IW = np.zeros((b_count, n_w, n), dtype=np.int64)
        for x, (b, r) in x_place.items():
            IX[b, r] = x_rows[x]
        for w, (b, r) in w_place.items():
            IW[b, r] = w_rows[w]
        W = _Gather(code, IW, IW.shape, broadcast=False)
        X = _Gather(code, IX, IX.shape, broadcast=False)
        wn, xn, y = f"w{g_id}", f"x{g_id}", f"y{g_id}"
        f = code.forward
        f.append(f"{wn} = {W.read()}")
        f.append(f"{xn} = {X.read()}")
        size = len(nodes)
        shape = (b_count, n_x, n_w)
        full = size == b_count * n_x * n_w
        if full:
            f.append(f"{y} = V[{start}:{start + size}].reshape{shape}")
            f.append(f"np.matmul({xn}, {wn}.transpose(0, 2, 1), out={y})")
        else:
            sel = code.array("SEL", cells)
            f.append(f"{y} = {xn} @ {wn}.transpose(0, 2, 1)")
            f.append(f"V[{start}:{start + size}] = {y}.reshape(-1)[{sel}]")
        back: list[str] = []
        if any(self.needed[i] for i in nodes):
            g = f"gy{g_id}"
            if full:
                self._read_gy(g_id, back, start, size, shape)
            else:
                back.append(f"{g} = np.zeros({b_count * n_x * n_w})")
                back.append(f"{g}[{code.array('SEL', cells)}] = GR[{start}:{start + size}]")
                back.append(f"{g} = {g}.reshape{shape}")
            parents = self.program.parents
            halves = [(parents[i], len(parents[i]) // 2) for i in nodes]
            if any(self.needed[p] for ps, h in halves for p in ps[:h]):
                self._hand_over(g_id, 0, W)
                W.add_grad(f"np.matmul({g}.transpose(0, 2, 1), {xn})", back)
            if any(self.needed[p] for ps, h in halves for p in ps[h:]):
                self._hand_over(g_id, 1, X)
                X.add_grad(f"{g} @ {wn}", back)
        code.backward.append(back)
        return start + size

    def _emit_batched_dot(self, nodes: list[int], start: int, n: int) -> int:
        """Dot nodes that share no grid: a row-wise product and sum."""
        program = self.program
        code = self.code
        g_id = len(code.backward)
        nodes.sort(key=lambda i: tuple(self.slot[p] for p in program.parents[i]))
        for k, node in enumerate(nodes):
            self.slot[node] = start + k
        size = len(nodes)
        parents = program.parents
        halves = [len(parents[i]) // 2 for i in nodes]
        if min(halves) != max(halves):  # ragged: each half padded with 0 to the longest
            slot, zero, n = self.slot, self.pad_slot[0.0], max(halves)
            w_m = np.full((size, n), zero, dtype=np.int64)
            x_m = np.full((size, n), zero, dtype=np.int64)
            for r, (i, h) in enumerate(zip(nodes, halves)):
                w_m[r, :h] = [slot[p] for p in parents[i][:h]]
                x_m[r, :h] = [slot[p] for p in parents[i][h:]]
            needs_w = any(self.needed[p] for i, h in zip(nodes, halves) for p in parents[i][:h])
            needs_x = any(self.needed[p] for i, h in zip(nodes, halves) for p in parents[i][h:])
        else:
            w_m, x_m = self._slots(nodes, 0, n), self._slots(nodes, n)
            needs_w, needs_x = self._needs(nodes, 0, n), self._needs(nodes, n)
        W = _Gather(code, w_m, (size, n), broadcast=False)
        X = _Gather(code, x_m, (size, n), broadcast=False)
        wn, xn, y = f"w{g_id}", f"x{g_id}", f"y{g_id}"
        f = code.forward
        f.append(f"{wn} = {W.read()}")
        f.append(f"{xn} = {X.read()}")
        f.append(f"{y} = np.einsum('ij,ij->i', {wn}, {xn})")
        f.append(f"V[{start}:{start + size}] = {y}")
        back: list[str] = []
        if any(self.needed[i] for i in nodes):
            g = self._read_gy(g_id, back, start, size, (size,))
            if needs_w:
                W.add_grad(f"{xn} * {g}[:, None]", back)
            if needs_x:
                X.add_grad(f"{wn} * {g}[:, None]", back)
        code.backward.append(back)
        return start + size

    def _emit_generic(self, op: Op, nodes: list[int], start: int) -> None:
        """Any other op: its own forward, member by member (correct, not fast)."""
        program = self.program
        code = self.code
        g_id = len(code.backward)
        size = len(nodes)
        arity = len(program.parents[nodes[0]])
        matrix = self._slots(nodes)
        gather = _Gather(code, matrix, matrix.shape, broadcast=False)
        fn = code.array("F", op.forward)
        x, y, local = f"a{g_id}", f"y{g_id}", f"L{g_id}"
        f = code.forward
        f.append(f"{x} = {gather.read()}.tolist()")
        f.append(f"{y}, {local} = zip(*[{fn}(*row) for row in {x}])")
        f.append(f"V[{start}:{start + size}] = {y}")
        back: list[str] = []
        if any(self.needed[i] for i in nodes):
            g = self._read_gy(g_id, back, start, size, (size,))
            back.append(f"{local}m = np.array({local}, dtype=float).reshape({size}, {arity})")
            gather.add_grad(f"{local}m * {g}[:, None]", back)
        code.backward.append(back)


# The ops whose groups may be ragged, and the operand that pads a row without changing it.
_PAD: dict[Op, float] = {ops.SUM: 0.0, ops.DOT: 0.0, ops.LOGSUMEXP: -np.inf, ops.MAX: -np.inf}
_RAGGED_WASTE = 2.0  # a merged group holds at most this many cells per real operand


def _unique_but_pads(flat: np.ndarray, pads: frozenset[int]) -> bool:
    """Are the slots distinct, apart from padding? Then ``GR[I] += x`` adds every real
    contribution (numpy keeps one of the repeated pad slot's: its gradient is never read)."""
    slots = flat.tolist()
    if pads:
        slots = [s for s in slots if s not in pads]
    return len(set(slots)) == len(slots)


def _is_grid(nodes: list[int], program: Program) -> bool:
    """Does this dot group form a matrix product (kept as it is, never padded)?"""
    n_w, n_x, _ = program.dot_grid(nodes)
    return len(nodes) > 1 and 2 * len(nodes) >= n_w * n_x


def _blocks(
    pairs: list[tuple[int, int]], n_x: int, n_w: int, least: int
) -> list[tuple[list[int], list[int]]] | None:
    """The (input rows, weight rows) of each connected block of the pairs, when there are
    at least ``least``, all of one shape and each at least half full (else None)."""
    parent = list(range(n_x + n_w))  # union-find over input rows, then weight rows

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for x, w in pairs:
        a, b = root(x), root(n_x + w)
        if a != b:
            parent[a] = b
    members: dict[int, tuple[list[int], list[int]]] = {}
    for x in range(n_x):
        members.setdefault(root(x), ([], []))[0].append(x)
    for w in range(n_w):
        members.setdefault(root(n_x + w), ([], []))[1].append(w)
    counts: dict[int, int] = {}
    for x, _ in pairs:
        counts[root(x)] = counts.get(root(x), 0) + 1
    blocks = list(members.values())
    shapes = {(len(xs), len(ws)) for xs, ws in blocks}
    if len(blocks) < least or len(shapes) != 1:
        return None
    ((rows, cols),) = shapes
    if any(2 * counts.get(key, 0) < rows * cols for key in members):
        return None
    return blocks


def _merge_ragged(groups: list[list[int]], parents: list[tuple[int, ...]]) -> list[list[int]]:
    """Groups of one op at one level, different lengths, merged into as few as padding
    allows: sorted by length, a group joins the current one while the padded cells stay
    within ``_RAGGED_WASTE`` times the real operands."""
    groups = sorted(groups, key=lambda nodes: len(parents[nodes[0]]))
    merged: list[list[int]] = []
    current: list[int] = []
    real = 0
    for nodes in groups:
        width = len(parents[nodes[0]])
        cells = width * (len(current) + len(nodes))  # the widest so far is this one
        if current and cells > _RAGGED_WASTE * (real + width * len(nodes)):
            merged.append(current)
            current, real = [], 0
        current = current + nodes
        real += width * len(nodes)
    if current:
        merged.append(current)
    return [sorted(nodes) for nodes in merged]


def _bad_index(values: np.ndarray, n: int, names: Sequence[str]) -> None:
    for value, name in zip(values.tolist(), names):
        k = int(value) if value == value and abs(value) != float("inf") else -1
        if k != value or not 0 <= k < n:
            raise ValueError(
                f"take: index {name} = {value!r} must be a whole number in [0, {n}) "
                "(a class label or token id out of range?)"
            )
    raise AssertionError("unreachable")
