"""The standard-library backend: the program as generated straight-line Python.

Each op becomes one line of Python on local variables (``v12 = v3 * v5``),
and the backward pass becomes the chain-rule lines in reverse order
(``g5 += v3 * g12``): no Value objects, no graph walk, no dictionary lookups.
The lines compute exactly what the engine computes -- the same float
expressions in the same order, or a call of the op's own ``forward`` for the
rarer ops -- so results (and errors such as ``log`` of a negative number)
are those of eager mode.

When the step is a batch of samples that each run the same computation (the
usual case: ``[model(x) for x in X]``), the lines are generated once for one
sample and run in a loop, so the code stays small however large the batch
(see :func:`find_samples`); otherwise the whole program is one function.

>>> from chaingrad import Value, jit
>>> w = Value(3.0)
>>> step = jit(lambda x: (w * x).relu(), params=[w], backend="python")
>>> step(2.0), w.grad
(6.0, 2.0)
>>> print(step.source.splitlines()[-1].strip())
return v1, [gp0], ()
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from chaingrad.engine import Op, ops

from .codegen import CHUNK_LINES, make_runner
from .program import CONST, OP, PARAM, Program

FREE, SHARED = -1, -2  # node regions besides sample indices >= 0


# --- the rules: how each op is written as Python ------------------------------------
#
# One table, keyed by op (a parametric op's family covers all its constants): a
# rule writes the line that computes a node and, for the backward pass, one
# term ``d node / d parent * g`` per parent. Every op without a rule here,
# a user's own op included, gets the generic rule: a call of its own forward,
# which returns the value and the local derivatives exactly as eager mode does
# (with its errors). The rules below only save that call for the most common ops.


class Site:
    """A node as its rule sees it: the names of its value, inputs and local derivatives."""

    def __init__(self, op: Op, out: str, args: list[str], local: str, ns: dict[str, Any]) -> None:
        self.op = op
        self.out = out  # the variable holding the node's value
        self.args = args  # its inputs (variables or number literals)
        self.local = local  # the generic rule's variable of local derivatives
        self.ns = ns  # the generated code's globals: a rule may put a function there


class Rule(NamedTuple):
    """``forward(site)``: the line computing the node; ``grads(site, g)``: one term per input.

    ``when(op)`` may decline an op of the family (the generic rule is used);
    ``finite_slopes``: the local derivatives are finite wherever the value is
    (so a gradient of 0 contributes exact zeros and may be skipped).
    """

    forward: Callable[[Site], str]
    grads: Callable[[Site, str], list[str]]
    when: Callable[[Op], bool] | None = None
    finite_slopes: bool = False


def _generic_forward(site: Site) -> str:
    fn = f"{site.op.name}_{id(site.op):x}"
    site.ns[fn] = site.op.forward
    return f"{site.out}, {site.local} = {fn}({', '.join(site.args)})"


def _generic_grads(site: Site, g: str) -> list[str]:
    return [f"{site.local}[{k}] * {g}" for k in range(len(site.args))]


GENERIC = Rule(_generic_forward, _generic_grads)

RULES: dict[Op, Rule] = {
    ops.ADD: Rule(lambda s: f"{s.out} = {s.args[0]} + {s.args[1]}", lambda s, g: [g, g]),
    ops.SUB: Rule(lambda s: f"{s.out} = {s.args[0]} - {s.args[1]}", lambda s, g: [g, f"-{g}"]),
    ops.MUL: Rule(
        lambda s: f"{s.out} = {s.args[0]} * {s.args[1]}",
        lambda s, g: [f"{s.args[1]} * {g}", f"{s.args[0]} * {g}"],
    ),
    ops.NEG: Rule(lambda s: f"{s.out} = -{s.args[0]}", lambda s, g: [f"-{g}"]),
    ops.SUM: Rule(
        lambda s: f"{s.out} = {' + '.join(s.args)}",
        lambda s, g: [g] * len(s.args),
        finite_slopes=True,
    ),
    # Ops called through their forward, but whose zero gradients may be skipped.
    ops.MAX: GENERIC._replace(finite_slopes=True),
    ops.TAKE: GENERIC._replace(finite_slopes=True),
    ops.LOGSUMEXP: GENERIC._replace(finite_slopes=True),
}


def _dot_forward(site: Site) -> str:
    n = len(site.args) // 2
    return f"{site.out} = {' + '.join(f'{site.args[k]} * {site.args[n + k]}' for k in range(n))}"


def _dot_grads(site: Site, g: str) -> list[str]:
    args, n = site.args, len(site.args) // 2
    return [f"{args[n + k]} * {g}" for k in range(n)] + [f"{args[k]} * {g}" for k in range(n)]


RULES[ops.DOT] = Rule(_dot_forward, _dot_grads, finite_slopes=True)


def _relu_grads(site: Site, g: str) -> list[str]:
    # The output tells the same as the input (> 0, <= 0 or nan), and is the value
    # the next op reads anyway, so the backward pass keeps one number, not two.
    a = site.out
    return [f"({g} if {a} > 0.0 else 0.0 * {g} if {a} <= 0.0 else nan * {g})"]


RULES[ops.RELU] = Rule(
    lambda s: f"{s.out} = 0.0 if {s.args[0]} <= 0.0 else {s.args[0]}",  # nan stays nan
    _relu_grads,
)


def _tanh_forward(site: Site) -> str:
    site.ns["tanh"] = math.tanh
    return f"{site.out} = tanh({site.args[0]})"


RULES[ops.TANH] = Rule(_tanh_forward, lambda s, g: [f"(1.0 - {s.out} * {s.out}) * {g}"])


def _small_whole_power(op: Op) -> bool:
    # x ** k for a whole k in 1..16 can raise nothing, so it is written as an expression.
    return op.param is not None and float(op.param).is_integer() and 1 <= op.param <= 16


def _power_grads(site: Site, g: str) -> list[str]:
    k = float(site.op.param)  # type: ignore[arg-type]
    slope = "1.0" if k == 1.0 else f"{k!r} * {site.args[0]} ** {k - 1.0!r}"
    return [f"{slope} * {g}"]


RULES[ops.POW_CONST] = Rule(
    lambda s: f"{s.out} = {s.args[0]} ** {float(s.op.param)!r}",  # type: ignore[arg-type]
    _power_grads,
    when=_small_whole_power,
)


def rule_for(op: Op) -> Rule:
    """The op's rule in this backend's table (by op, then by family), else the generic one."""
    rule = RULES.get(op) or RULES.get(op.family)
    if rule is None or (rule.when is not None and not rule.when(op)):
        return GENERIC
    return rule


class _Naming:
    """Variable names of nodes' values and gradients in one part of the generated code."""

    def __init__(self, program: Program, values: dict[int, str], grads: dict[int, str]) -> None:
        self.program = program
        self.values = values
        self.grads = grads

    def value(self, i: int) -> str:
        name = self.values.get(i)
        if name is not None:
            return name
        kind = self.program.kinds[i]
        if kind == OP:
            return f"v{i - self.program.first_op}"  # as in the program's listing
        if kind == PARAM:
            return f"p{i}"
        if kind == CONST:
            x = self.program.values[i]
            if math.isfinite(x):
                return repr(x)
            return "nan" if x != x else ("inf" if x > 0 else "(-inf)")
        raise AssertionError(f"no name for {kind} node {i}")

    def grad(self, i: int) -> str:
        name = self.grads.get(i)
        if name is not None:
            return name
        if self.program.kinds[i] == PARAM:
            return f"gp{i}"
        return f"g{i - self.program.first_op}"

    def local(self, i: int) -> str:
        """The local derivatives an op's own forward returned (ops not written inline)."""
        return f"L{i - self.program.first_op}"


def _site(program: Program, names: _Naming, i: int, ns: dict[str, Any]) -> Site:
    op = program.ops[i]
    assert op is not None
    args = [names.value(p) for p in program.parents[i]]
    return Site(op, names.value(i), args, names.local(i), ns)


def _forward_line(program: Program, names: _Naming, i: int, ns: dict[str, Any]) -> str:
    site = _site(program, names, i, ns)
    return rule_for(site.op).forward(site)


def _grad_terms(program: Program, names: _Naming, i: int, g: str) -> list[str]:
    """``d node / d parent * g`` for each parent, computed as the engine's backward does."""
    site = _site(program, names, i, {})
    return rule_for(site.op).grads(site, g)


def needs_grad(program: Program) -> list[bool]:
    """For each node: does a parameter lie behind it (so its gradient is wanted)?"""
    if not program.grad:
        return [False] * len(program)  # forward only: no gradient is wanted anywhere
    needed = [kind == PARAM for kind in program.kinds]
    for i in range(program.first_op, len(program)):
        needed[i] = any(needed[p] for p in program.parents[i])
    return needed


class _Writer:
    """Collects lines of code at an indentation level."""

    def __init__(self, first: str) -> None:
        self.lines: list[str] = [first]
        self.indent = 1

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _emit_forward(
    program: Program, names: _Naming, nodes: Sequence[int], ns: dict[str, Any], out: _Writer
) -> None:
    for i in nodes:
        out(_forward_line(program, names, i, ns))


# A node with at least this many gradient contributions skips them when its own
# gradient is 0 (a dead ReLU upstream, a max's loser, a take's other rows); only
# for ops whose local derivatives are finite wherever their value is.
SKIP_ZERO_GRADIENT = 4


def _emit_backward(
    program: Program,
    names: _Naming,
    nodes: Sequence[int],
    needed: list[bool],
    assigned: set[int],
    out: _Writer,
) -> None:
    """Chain-rule lines for ``nodes`` in reverse order.

    ``assigned`` holds the nodes whose gradient variable exists; a node's
    variable is created by its first contribution (``g5 = ...``) and grown by
    the next ones (``g5 += ...``), in the order the engine's backward adds them.

    A node with many contributions runs them only when its gradient is not 0:
    with a gradient of 0 and a finite value (so every operand is finite: a
    non-finite operand makes the value inf or nan), each contribution would be
    ``operand * 0``, a zero, so skipping them changes no number. Variables the
    skipped lines would have created are set to 0.
    """
    for i in reversed(nodes):
        if i not in assigned:
            continue  # nothing after it reaches the loss
        terms = _grad_terms(program, names, i, names.grad(i))
        lines = []
        created = []
        for parent, term in zip(program.parents[i], terms):
            if not needed[parent]:
                continue  # inputs and constants need no gradient
            if parent in assigned:
                lines.append(f"{names.grad(parent)} += {term}")
            else:
                lines.append(f"{names.grad(parent)} = {term}")
                assigned.add(parent)
                created.append(parent)
        op = program.ops[i]
        if len(lines) < SKIP_ZERO_GRADIENT or op is None or not rule_for(op).finite_slopes:
            for line in lines:
                out(line)
            continue
        g, v = names.grad(i), names.value(i)
        out(f"if {g} != 0.0 or {v} - {v} != 0.0:")
        for line in lines:
            out("    " + line)
        if created:
            out("else:")
            for parent in created:
                out(f"    {names.grad(parent)} = 0.0")


def regions(program: Program, sample_of_slot: Sequence[int | None]) -> list[int]:
    """Each node's region: a sample index, FREE (no sample's input behind it) or SHARED.

    ``sample_of_slot[j]`` is the sample that the call's number ``j`` belongs to
    (its first index in a batched argument), or None. A node takes the sample
    of its parents; one reading two samples is SHARED (a batch mean). Constant
    and random leaves (and parameter-free nodes) that only one sample uses
    join that sample.
    """
    n = len(program)
    region = [FREE] * n
    first_input = program.num_params
    for j, slot in enumerate(program.input_slots):
        sample = sample_of_slot[slot]
        region[first_input + j] = FREE if sample is None else sample
    parents = program.parents
    for i in range(program.first_op, n):
        r = FREE
        for p in parents[i]:
            rp = region[p]
            if rp in (FREE, r):
                continue
            if r == FREE:
                r = rp
            else:
                r = SHARED
                break
        region[i] = r
    has_params = needs_grad(program)
    consumers: list[list[int]] = [[] for _ in range(n)]
    for i in range(program.first_op, n):
        for p in parents[i]:
            consumers[p].append(i)
    returned = {program.output, *program.aux}
    # Consumers have larger indices, so going down sees each one's final region.
    for i in range(n - 1, -1, -1):
        if region[i] != FREE or has_params[i] or i in returned or not consumers[i]:
            continue
        used_by = {region[c] for c in consumers[i]}
        if len(used_by) == 1:
            only = used_by.pop()
            if only >= 0:
                region[i] = only
    return region


class PythonBackend:
    """Runs a Program as generated Python: ``run(params, inputs, randoms)``.

    Returns ``(loss, gradients of the parameters, aux values)``.
    """

    name = "python"

    def __init__(
        self, program: Program, sample_of_slot: Sequence[int | None] | None = None
    ) -> None:
        self.program = program
        namespace: dict[str, Any] = {"nan": math.nan, "inf": math.inf}
        template = None
        if sample_of_slot is not None:
            template = _Template.find(program, sample_of_slot)
            if template is not None and len(template.samples[0]) > CHUNK_LINES:
                template = None  # one sample's code would be one huge block: run it flat
        self.samples = len(template.samples) if template is not None else 0
        if template is not None:
            self.source = template.generate(namespace)
        else:
            self.source = _generate_flat(program, namespace)
        self._run: Callable[..., Any] = make_runner(
            self.source, namespace, f"<chaingrad.jit {program.signature}>"
        )

    def run(
        self, params: list[float], inputs: list[float], randoms: list[float]
    ) -> tuple[float, list[float], tuple[float, ...]]:
        result: tuple[float, list[float], tuple[float, ...]] = self._run(params, inputs, randoms)
        return result


def _unpack(out: _Writer, names: Sequence[str], source: str) -> None:
    if names:
        out(f"{', '.join(names)}, = {source}")


def _leaf_values(program: Program) -> dict[int, str]:
    names = {k: f"p{k}" for k in range(program.num_params)}
    first_input = program.num_params
    names.update({first_input + j: f"x{j}" for j in range(program.num_inputs)})
    for _, ids, _ in program.random_blocks:
        names.update({i: f"r{i}" for i in ids})
    return names


def _random_ids(program: Program) -> list[int]:
    return [i for _, ids, _ in program.random_blocks for i in ids]


def _generate_flat(program: Program, ns: dict[str, Any]) -> str:
    """The whole program as one function."""
    names = _Naming(program, _leaf_values(program), {})
    out = _Writer("def run(P, X, R):")
    _unpack(out, [f"p{k}" for k in range(program.num_params)], "P")
    _unpack(out, [f"x{j}" for j in range(program.num_inputs)], "X")
    _unpack(out, [f"r{i}" for i in _random_ids(program)], "R")
    ops = list(range(program.first_op, len(program)))
    _emit_forward(program, names, ops, ns, out)
    needed = needs_grad(program)
    assigned: set[int] = set()
    if needed[program.output]:
        out(f"{names.grad(program.output)} = 1.0")
        assigned.add(program.output)
    _emit_backward(program, names, ops, needed, assigned, out)
    grads = [names.grad(k) if k in assigned else "0.0" for k in range(program.num_params)]
    aux = "".join(f"{names.value(i)}, " for i in program.aux)
    out(f"return {names.value(program.output)}, [{', '.join(grads)}], ({aux})")
    return out.text()


class _Template:
    """A batch program as: parameter-only code, one sample's code in a loop, the shared rest."""

    def __init__(self, program: Program, region: list[int], samples: list[list[int]]) -> None:
        self.program = program
        self.region = region
        self.samples = samples  # each sample's node ids, in program order

    @classmethod
    def find(cls, program: Program, sample_of_slot: Sequence[int | None]) -> _Template | None:
        """The template split, or None when the samples do not all run the same code."""
        region = regions(program, sample_of_slot)
        count = max(region, default=-1) + 1
        if count < 2 or region[program.output] >= 0:
            return None
        samples: list[list[int]] = [[] for _ in range(count)]
        for i, r in enumerate(region):
            if r >= 0:
                samples[r].append(i)
        if sum(len(s) for s in samples) < len(program) // 2:
            return None  # mostly shared work: one function does as well
        template = cls(program, region, samples)
        shape = template._shape(0)
        if any(template._shape(k) != shape for k in range(1, count)):
            return None
        return template

    def _shape(self, k: int) -> list[Any]:
        """Sample ``k``'s code, with its own nodes named by position: equal for twins."""
        program = self.program
        position = {node: j for j, node in enumerate(self.samples[k])}
        shape: list[Any] = []
        for node in self.samples[k]:
            if program.kinds[node] != OP:
                shape.append(program.kinds[node])
                continue
            refs = tuple(position.get(p, ~p) for p in program.parents[node])
            shape.append((program.ops[node], refs))
        return shape

    def generate(self, ns: dict[str, Any]) -> str:
        program = self.program
        region = self.region
        first = self.samples[0]
        position = {node: j for j, node in enumerate(first)}
        needed = needs_grad(program)
        ops = range(program.first_op, len(program))
        pre = [i for i in ops if region[i] == FREE]
        post = [i for i in ops if region[i] == SHARED]
        body = [i for i in first if program.kinds[i] == OP]
        slots = [i for i in first if program.kinds[i] != OP]

        # Each sample's slot leaves (inputs, random numbers, constants), gathered from
        # the list L = params + inputs + randoms + constants by one itemgetter.
        where = {**{k: k for k in range(program.num_params)}}
        base = program.num_params
        where.update({base + j: base + j for j in range(program.num_inputs)})
        base += program.num_inputs
        for i in _random_ids(program):
            where[i] = base
            base += 1
        consts: list[float] = []
        getters = []
        for nodes in self.samples:
            picks = []
            for node0 in slots:
                node = nodes[position[node0]]
                if program.kinds[node] == CONST:
                    where[node] = base + len(consts)
                    consts.append(program.values[node])
                picks.append(where[node])
            getters.append(_getter(picks))
        ns["GETS"] = getters
        ns["CONSTS"] = consts

        # Exports: positions whose node some shared code reads (or that are returned).
        read_outside = {p for i in post for p in program.parents[i]} | set(program.aux)
        exports = sorted(
            {j for nodes in self.samples for j, node in enumerate(nodes) if node in read_outside}
        )
        outer_values = _leaf_values(program)
        outer_grads: dict[int, str] = {}
        for k, nodes in enumerate(self.samples):
            for e, j in enumerate(exports):
                outer_values[nodes[j]] = f"e{k}_{e}"
                outer_grads[nodes[j]] = f"ge{k}_{e}"
        outer = _Naming(program, outer_values, outer_grads)
        inner_values = _leaf_values(program)
        inner_values.update({node0: f"s{j}" for j, node0 in enumerate(slots)})
        inner = _Naming(program, inner_values, {})

        out = _Writer("def run(P, X, R):")
        _unpack(out, [f"p{k}" for k in range(program.num_params)], "P")
        _unpack(out, [f"x{j}" for j in range(program.num_inputs)], "X")
        _unpack(out, [f"r{i}" for i in _random_ids(program)], "R")
        out("L = [*P, *X, *R, *CONSTS]")
        _emit_forward(program, outer, pre, ns, out)

        # Forward: sample 0's code, run for each sample in turn.
        back = _Writer("")
        back.indent = 2
        body_assigned = set(range(program.num_params)) | {i for i in pre if needed[i]}
        export_nodes = [first[j] for j in exports]
        body_assigned |= {node for node in export_nodes if needed[node]}
        _emit_backward(program, inner, body, needed, body_assigned, back)
        backward_text = "\n".join(back.lines[1:])
        local = {inner.value(i) for i in body} | {inner.local(i) for i in body}
        local |= {f"s{j}" for j in range(len(slots))}
        saved = [name for name in _names_in(backward_text) if name in local]

        out("E = []")
        out("SAVED = []")
        out("for get in GETS:")
        out.indent += 1
        _unpack(out, [f"s{j}" for j in range(len(slots))], "get(L)")
        _emit_forward(program, inner, body, ns, out)
        out(f"E.append(({''.join(inner.value(n) + ', ' for n in export_nodes)}))")
        out(f"SAVED.append(({''.join(name + ', ' for name in saved)}))")
        out.indent -= 1
        if exports:
            rows = ", ".join(
                "(" + "".join(f"e{k}_{e}, " for e in range(len(exports))) + ")"
                for k in range(len(self.samples))
            )
            out(f"[{rows}] = E")
        _emit_forward(program, outer, post, ns, out)

        # Backward: the shared code, then each sample (looped), then parameter-only code.
        for k in range(program.num_params):
            out(f"gp{k} = 0.0")
        for i in pre:
            if needed[i]:
                out(f"{outer.grad(i)} = 0.0")
        assigned = set(range(program.num_params)) | {i for i in pre if needed[i]}
        for k, nodes in enumerate(self.samples):
            for e, j in enumerate(exports):
                if needed[nodes[j]]:
                    out(f"ge{k}_{e} = 0.0")
                    assigned.add(nodes[j])
        if needed[program.output]:
            out(f"{outer.grad(program.output)} = 1.0")
            assigned.add(program.output)
        _emit_backward(program, outer, post, needed, assigned, out)
        grad_rows = ", ".join(
            "("
            + "".join(
                (f"ge{k}_{e}" if needed[nodes[j]] else "0.0") + ", " for e, j in enumerate(exports)
            )
            + ")"
            for k, nodes in enumerate(self.samples)
        )
        saved_names = "".join(name + ", " for name in saved)
        export_grads = "".join(f"{inner.grad(n)}, " for n in export_nodes)
        out(f"for ({saved_names}), ({export_grads}) in zip(SAVED, [{grad_rows}]):")
        if backward_text.strip():
            out.lines.append(backward_text)
        else:
            out("    pass")
        _emit_backward(program, outer, pre, needed, assigned, out)
        grads = ", ".join(f"gp{k}" for k in range(program.num_params))
        aux = "".join(f"{outer.value(i)}, " for i in program.aux)
        out(f"return {outer.value(program.output)}, [{grads}], ({aux})")
        return out.text()


_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")


def _names_in(text: str) -> list[str]:
    """Identifiers in ``text``, each once, in order of first appearance."""
    return list(dict.fromkeys(_IDENTIFIER.findall(text)))


def _getter(positions: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    if len(positions) == 1:
        only = positions[0]
        return lambda values: (values[only],)
    return operator.itemgetter(*positions)
