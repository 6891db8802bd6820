"""A forward program run on many rows at once: one traced example, a whole batch per call.

``chaingrad.jit(fn, grad=False)`` traces ``fn`` on the numbers it is called
with; inference (``evaluate``, ``predict``) calls the same model on hundreds
of rows of one structure. Tracing a batch of them costs an eager pass over
every traced row. :class:`RowsBackend` instead compiles the program of ONE
example so that every slot of ``V`` holds a column of ``R`` numbers, one per
row: ``V`` is ``(slots, R)``, each group's numpy call works on ``(size, R)``
arrays (a dense layer over the whole batch is one ``W @ X`` with ``X`` of
shape ``(inputs, n, R)``), and a call returns the output and the extra
outputs of every row. Parameters and constants are the same in every column.

It runs forward programs only (``program.grad`` False, no random numbers).
The groups, slot layout and rules are the numpy backend's; only the shapes
gain the trailing row axis.

>>> from chaingrad import Value, jit
>>> from chaingrad.compiled.rows import RowsBackend
>>> w = Value(2.0)
>>> step = jit(lambda x: (w * x).tanh(), params=[w], grad=False, backend="numpy")
>>> _ = step(0.5)
>>> backend = RowsBackend(step.program)
>>> import numpy as np
>>> out, aux = backend.run([2.0], np.array([[0.5, 0.0, -1.0]]))
>>> [round(v, 6) for v in out.tolist()]
[0.761594, 0.0, -0.964028]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chaingrad.engine import Op, ops

from .numpy_backend import (
    RULES,
    Elementwise,
    NumpyBackend,
    Reduction,
    _Gather,
)
from .program import Program


class _RowGather(_Gather):
    """A group operand read from ``V`` of shape ``(slots, R)``: the group's shape plus ``R``."""

    params = 0  # slots below this hold parameters (the same in every column)

    def read(self) -> str:
        text = super().read()
        if self.kind == "slice" and len(self.shape) > 1:  # "V[a:b].reshape(r, c)": add R
            return text[:-1] + ", R)"
        return text  # a fancy index, a row, column or scalar: the row axis comes along

    def matrix(self) -> tuple[str, bool]:
        """(the operand as a matrix, whether it has the row axis): parameters read once."""
        flat = self.idx.reshape(-1)
        if int(flat.max()) < self.params:  # every slot a parameter: one column is enough
            if self.kind == "slice":
                a, b = self.start, self.start + self.idx.size
                return f"V[{a}:{b}, 0].reshape{self.shape}", False
            return f"V[{self.code.array('I', self.idx)}, 0]", False
        return self.read(), True


class RowsBackend(NumpyBackend):
    """A forward-only Program compiled with a row axis: ``run(params, X)`` for ``R`` rows.

    ``X`` is ``(num_inputs, R)``: column ``r`` holds row ``r``'s input numbers in
    the program's input order. Returns ``(output, aux)``: the loss node's ``R``
    numbers and one array of ``R`` per extra output.
    """

    name = "numpy-rows"
    RAGGED = False  # each group keeps one length (its rows are not padded)

    def __init__(self, program: Program) -> None:
        if program.grad:
            raise ValueError("RowsBackend runs forward-only programs (jit(..., grad=False))")
        if program.random_blocks:
            raise ValueError(
                "RowsBackend: the program draws random numbers (Dropout in train mode?)"
            )
        super().__init__(program)

    def _gather(self, idx: np.ndarray, shape: tuple[int, ...], broadcast: bool = True) -> Any:
        gather = _RowGather(self.code, idx, shape, broadcast)
        gather.params = self.program.num_params
        return gather

    def run(self, params: Sequence[float], inputs: Any) -> tuple[Any, tuple[Any, ...]]:  # type: ignore[override]
        rows = inputs.shape[1]
        V = np.empty((self.base.size, rows))
        V[:] = self.base[:, None]
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            result: tuple[Any, tuple[Any, ...]] = self._run(
                np.asarray(params, dtype=float), inputs, V, rows
            )
        return result

    # --- code ---------------------------------------------------------------------------

    def _generate(self) -> str:
        program = self.program
        code = self.code
        n_leaves = program.first_op
        base = np.array(program.values[:n_leaves] + [0.0] * program.num_ops)
        self.base = base
        next_slot = n_leaves
        for op, nodes in self.groups:
            next_slot = self._emit_group(op, nodes, next_slot)
        header = ["def run(P, X, V, R):"]
        if program.num_params:
            if self.param_slots == list(range(program.num_params)):
                header.append(f"    V[0:{program.num_params}] = P[:, None]")
            else:
                code.arrays["PSLOTS"] = np.array(self.param_slots, dtype=np.int64)
                header.append("    V[PSLOTS] = P[:, None]")
        if program.num_inputs:
            first = program.num_params
            header.append(f"    V[{first}:{first + program.num_inputs}] = X")
        body = ["    " + line for line in code.forward]
        aux = "".join(f"V[{self.slot[i]}], " for i in program.aux)
        tail = [f"    return V[{self.slot[program.output]}], ({aux})"]
        return "\n".join(header + body + tail) + "\n"

    def _emit_elementwise(self, op: Op, nodes: list[int], start: int, rule: Elementwise) -> None:
        program = self.program
        code = self.code
        g_id = len(code.backward)
        columns = [self._operand_slots(nodes, j) for j in range(len(program.parents[nodes[0]]))]
        shape = self._group_shape(columns)
        names = {}
        for j, idx in enumerate(columns):
            name = f"a{g_id}_{j}"
            code.forward.append(f"{name} = {self._gather(idx, shape).read()}")
            names["ab"[j]] = name
        y = f"y{g_id}"
        size = len(nodes)
        target = f"V[{start}:{start + size}]"
        if len(shape) == 2:
            target += f".reshape({shape[0]}, {shape[1]}, R)[...]"
        code.forward.append(f"{y} = {rule.forward.format(**names, y=y, g='')}")
        code.forward.append(f"{target} = {y}")
        code.backward.append([])

    def _emit_reduction(self, op: Op, nodes: list[int], start: int, rule: Reduction) -> None:
        code = self.code
        g_id = len(code.backward)
        size = len(nodes)
        matrix = self._slots(nodes, rule.first)
        x = f"a{g_id}"
        code.forward.append(f"{x} = {self._gather(matrix, matrix.shape, False).read()}")
        y = f"y{g_id}"
        if rule is RULES[ops.SUM]:
            code.forward.append(f"{y} = {x}.sum(1)")
        elif rule is RULES[ops.LOGSUMEXP]:
            m = f"m{g_id}"
            code.forward.append(f"{m} = {x}.max(1, keepdims=True)")
            code.forward.append(
                f"{y} = ({m} + np.log(np.exp({x} - {m}).sum(1, keepdims=True)))[:, 0]"
            )
        elif rule is RULES[ops.MAX]:
            code.forward.append(f"{y} = {x}.max(1)")
        elif rule is RULES[ops.TAKE]:
            n = len(self.program.parents[nodes[0]]) - 1
            index = self._gather(self._operand_slots(nodes, 0), (size,), False).read()
            i, k = f"i{g_id}", f"k{g_id}"
            names = code.array("NAMES", self._index_names(nodes))
            code.forward.append(f"{i} = {index}")
            code.forward.append(f"{k} = {i}.astype(np.int64)")
            code.forward.append(
                f"if not (({k} == {i}) & ({k} >= 0) & ({k} < {n})).all(): "
                f"_bad_index({i}.T.reshape(-1), {n}, {names} * R)"
            )
            code.forward.append(f"{y} = np.take_along_axis({x}, {k}[:, None], 1)[:, 0]")
        else:
            raise NotImplementedError(f"rows: no rule for {op.name}")
        code.forward.append(f"V[{start}:{start + size}] = {y}")
        code.backward.append([])

    def _emit_dot(self, op: Op, nodes: list[int], start: int) -> int:
        program = self.program
        code = self.code
        g_id = len(code.backward)
        n = len(program.parents[nodes[0]]) // 2
        w_rows: dict[tuple[int, ...], int] = {}
        x_rows: dict[tuple[int, ...], int] = {}
        pairs = []
        for i in nodes:
            slots = tuple(self.slot[p] for p in program.parents[i])
            w = w_rows.setdefault(slots[:n], len(w_rows))
            x = x_rows.setdefault(slots[n:], len(x_rows))
            pairs.append((x, w))
        n_w, n_x = len(w_rows), len(x_rows)
        grid = len(set(pairs)) == len(pairs) and 2 * len(pairs) >= n_w * n_x
        if not grid:
            return self._emit_batched_dot(nodes, start, n)
        w_order = sorted(w_rows)
        x_order = sorted(x_rows)
        w_rank = {w_rows[row]: r for r, row in enumerate(w_order)}
        x_rank = {x_rows[row]: r for r, row in enumerate(x_order)}
        ranked = sorted(
            zip(nodes, pairs), key=lambda item: (x_rank[item[1][0]], w_rank[item[1][1]])
        )
        for k, (node, _) in enumerate(ranked):
            self.slot[node] = start + k
        nodes[:] = [node for node, _ in ranked]
        cells = np.array([x_rank[x] * n_w + w_rank[w] for _, (x, w) in ranked], dtype=np.int64)
        W, w_rows_axis = self._gather(np.array(w_order, dtype=np.int64), (n_w, n), False).matrix()
        X, x_rows_axis = self._gather(np.array(x_order, dtype=np.int64), (n_x, n), False).matrix()
        wn, xn, y = f"w{g_id}", f"x{g_id}", f"y{g_id}"
        f = code.forward
        f.append(f"{wn} = {W}")
        f.append(f"{xn} = {X}")
        if w_rows_axis and x_rows_axis:
            f.append(f"{y} = np.einsum('xkr,wkr->xwr', {xn}, {wn})")
        elif x_rows_axis:  # a layer: the same weights for every row
            f.append(f"{y} = np.matmul({wn}, {xn})")
        elif w_rows_axis:
            f.append(f"{y} = np.einsum('xk,wkr->xwr', {xn}, {wn})")
        else:
            f.append(f"{y} = ({xn} @ {wn}.T)[:, :, None]")
        size = len(nodes)
        if len(pairs) == n_w * n_x:
            f.append(f"V[{start}:{start + size}] = {y}.reshape({size}, -1)")
        else:
            sel = code.array("SEL", cells)
            f.append(f"V[{start}:{start + size}] = {y}.reshape({n_x * n_w}, -1)[{sel}]")
        code.backward.append([])
        return start + size

    def _emit_batched_dot(self, nodes: list[int], start: int, n: int) -> int:
        program = self.program
        code = self.code
        g_id = len(code.backward)
        nodes.sort(key=lambda i: tuple(self.slot[p] for p in program.parents[i]))
        for k, node in enumerate(nodes):
            self.slot[node] = start + k
        size = len(nodes)
        W, w_axis = self._gather(self._slots(nodes, 0, n), (size, n), False).matrix()
        X, x_axis = self._gather(self._slots(nodes, n), (size, n), False).matrix()
        w, x = "r" if w_axis else "", "r" if x_axis else ""
        spec = f"ij{w},ij{x}->i{'r' if w_axis or x_axis else ''}"
        y = f"y{g_id}"
        code.forward.append(f"{y} = np.einsum('{spec}', {W}, {X})")
        code.forward.append(
            f"V[{start}:{start + size}] = {y}" + ("" if w_axis or x_axis else "[:, None]")
        )
        code.backward.append([])
        return start + size

    def _emit_generic(self, op: Op, nodes: list[int], start: int) -> None:
        code = self.code
        g_id = len(code.backward)
        size = len(nodes)
        matrix = self._slots(nodes)
        fn = code.array("F", op.forward)
        x, y = f"a{g_id}", f"y{g_id}"
        gather = self._gather(matrix, matrix.shape, False).read()
        code.forward.append(f"{x} = np.moveaxis({gather}, 2, 1).tolist()")
        code.forward.append(f"{y} = [[{fn}(*row)[0] for row in member] for member in {x}]")
        code.forward.append(f"V[{start}:{start + size}] = {y}")
        code.backward.append([])


# --- a forward-only step mapped over rows -------------------------------------------------

ROWS_BYTES = 32 * 2**20  # the most V may take per call; more rows run in several calls


class _Mapped:
    """One row structure of a step's ``map``: its program, compiled with a row axis."""

    def __init__(self, program: Program, watch: Any) -> None:
        self.program = program
        self.backend = RowsBackend(program)
        self.holds = watch.holds
        self.checks = watch.checks
        self.assigned = watch.assigned  # modules the traced call left state in

    def run(self, rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(losses, aux arrays) for ``rows``, a (count, numbers per row) float array."""
        program = self.program
        params = [p.data for p in program.params]
        inputs = rows[:, program.input_slots].T if program.num_inputs else np.empty((0, len(rows)))
        per_call = max(1, ROWS_BYTES // (8 * max(1, self.backend.base.size)))
        losses, auxes = [], []
        for start in range(0, len(rows), per_call):
            loss, aux = self.backend.run(
                params, np.ascontiguousarray(inputs[:, start : start + per_call])
            )
            losses.append(loss)
            auxes.append(aux)
        aux_arrays = [np.concatenate([a[k] for a in auxes]) for k in range(len(program.aux))]
        return np.concatenate(losses), aux_arrays


def row_structure(key: Any) -> tuple[Any, int, list[int]] | None:
    """(one row's key, the number of rows, numbers per row of each argument) of a batch key.

    A batch is every positional argument a list of ``n`` alike items (row ``r``
    is item ``r`` of each); None for anything else (keywords, differing rows).
    """
    from .inputs import _count

    positional, named = key
    if named or not positional:
        return None
    count: int | None = None
    items: list[Any] = []
    for part in positional:
        tag = part if isinstance(part, str) else part[0].removeprefix("T")
        if tag == "R":
            n, item = int(part[1]), part[2]
        elif tag in ("F", "I"):
            n, item = int(part[1]), tag.lower()
        else:
            return None
        if count is None:
            count = n
        elif n != count:
            return None
        items.append(item)
    assert count is not None
    return (tuple(items), ()), count, [_count(item) for item in items]


def row_matrix(numbers: Any, count: int, widths: list[int]) -> np.ndarray:
    """The flat numbers of a batch (argument after argument) as one row per example."""
    flat = np.asarray(numbers, dtype=float)
    blocks, start = [], 0
    for width in widths:
        blocks.append(flat[start : start + count * width].reshape(count, width))
        start += count * width
    return blocks[0] if len(blocks) == 1 else np.hstack(blocks)
