"""The backward pass as an ordered list of chain-rule steps, each written out.

``backprop_steps(root)`` lists what ``root.backward()`` does, one edge at a
time, in the engine's own order (``toposort(root)`` reversed):

    grad(parent) += d node/d parent * grad(node)

with every number written out, and the local derivative as a rule
(``step.rule``: ``d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5``). The
step-through (:mod:`chaingrad.viz.stepthrough`) draws these steps.

Gradients are computed apart from ``.grad``, starting from zero as if every
``.grad`` had just been zeroed: ``.grad`` is never read or changed, and
``backward()`` need not have been called. Memory grows linearly with the
number of steps (nothing is copied per step), and ``backprop_steps`` refuses
graphs above ``max_steps`` before doing any work.
>>> from chaingrad import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b; c.label = "c"
>>> for step in backprop_steps(c):
...     print(step.text)
grad(a) += dc/da * grad(c) = -3 * 1 = -3, so grad(a) = 0 - 3 = -3
grad(b) += dc/db * grad(c) = 2 * 1 = 2, so grad(b) = 0 + 2 = 2
>>> backprop_steps(c)[0].rule
'd(a·b)/da = b = −3'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chaingrad.engine import Value

from .drawing import GraphDrawing
from .rules import DOT, local_rule
from .text import derivative

MAX_LISTED_STEPS = 10_000  # backprop_steps: about 1 KB each


@dataclass(frozen=True)
class BackpropStep:
    """One chain-rule step: ``grad(parent) += local * upstream``.

    ``node`` is the Value whose gradient (``upstream``, already final) flows
    back to its ``slot``-th parent ``parent``; ``local`` is
    ``d node / d parent``. ``before``/``after`` are the parent's accumulated
    gradient around this step; ``final`` says no later step adds to it.
    ``text`` writes the step out, ``rule`` the local derivative
    (``d tanh(n)/dn = 1 − tanh(n)² = 1 − 0.7071² = 0.5``). Positions are
    topological (node ids ``n<i>``).
    """

    number: int
    node: Value
    node_position: int
    parent: Value
    parent_position: int
    slot: int
    local: float
    upstream: float
    contribution: float
    before: float
    after: float
    text: str
    rule: str = ""
    final: bool = False


def check_max_steps(drawing: GraphDrawing, max_steps: int | None, who: str) -> None:
    """Refuse, before any work, a graph with more backward steps (edges) than ``max_steps``."""
    if max_steps is None:
        return
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"{who}: max_steps must be a positive int or None, got {max_steps!r}")
    if drawing.edge_count > max_steps:
        raise ValueError(
            f"{who}: this graph has {drawing.edge_count:,} backward steps, more than "
            f"max_steps={max_steps:,}; step through a smaller graph (or pass a larger max_steps)"
        )


def iter_steps(drawing: GraphDrawing) -> Iterator[BackpropStep]:
    """The steps one at a time, with only the running gradients held (linear memory)."""
    order = drawing.order
    index = drawing.index
    fmt = drawing.fmt
    grads: dict[Value, float] = {drawing.root: 1.0}
    pending = [0] * len(order)  # uses of each node not yet passed back
    for node in order:
        for parent in node._parents:
            pending[index[parent]] += 1
    count = 0
    for node in reversed(order):
        parents = node._parents
        if not parents:
            continue
        # Same loop as the engine's backward: the node's gradient is final here.
        upstream = grads.get(node, 0.0)
        i = index[node]
        out_name = drawing.full_name(i)
        rule_names = None
        for slot, (parent, local) in enumerate(zip(parents, node._local_grads)):
            p = index[parent]
            before = grads.get(parent, 0.0)
            contribution = local * upstream
            after = before + contribution
            grads[parent] = after
            pending[p] -= 1
            in_name = drawing.full_name(p)
            sign = "-" if contribution < 0 else "+"
            text = (
                f"grad({in_name}) += {derivative(out_name, in_name)} * grad({out_name}) = "
                f"{fmt(local)} * {fmt(upstream)} = {fmt(contribution)}, "
                f"so grad({in_name}) = {fmt(before)} {sign} {fmt(abs(contribution))} = {fmt(after)}"
            )
            if rule_names is None:
                rule_names = drawing.rule_names(node)
            rule = local_rule(node, slot, rule_names, drawing.precision, in_name)
            count += 1
            yield BackpropStep(
                count,
                node,
                i,
                parent,
                p,
                slot,
                local,
                upstream,
                contribution,
                before,
                after,
                text,
                rule,
                pending[p] == 0,
            )


def backprop_steps(
    root: Value,
    *,
    max_steps: int | None = MAX_LISTED_STEPS,
    model: Any = None,
    precision: int = 4,
) -> list[BackpropStep]:
    """The backward pass from ``root`` as chain-rule steps, in the engine's order.

    A graph with more than ``max_steps`` edges is refused at once (None: no
    limit; each step takes about 1 KB). ``model`` names parameters by their
    path (``layers.0.neurons.1.w.0``).

    >>> from chaingrad import Value
    >>> x = Value(3.0, label="x")
    >>> [s.after for s in backprop_steps(x * x)]   # a * a: two edges, gradients add
    [3.0, 6.0]
    """
    drawing = GraphDrawing(root, model=model, precision=precision)
    check_max_steps(drawing, max_steps, "backprop_steps")
    return list(iter_steps(drawing))


def _minus(text: str) -> str:
    return text.replace("-", "\N{MINUS SIGN}")


def _factor(text: str) -> str:
    """A number as the second factor of a product: ``(−4.882)``, so ``· −`` never appears."""
    return f"({_minus(text)})" if text.startswith("-") else text


def caption_of(step: BackpropStep, total: int, drawing: GraphDrawing, rank: int | None) -> str:
    """Two lines: the chain-rule step with its numbers, then the local rule."""
    out_name = drawing.full_name(step.node_position)
    in_name = drawing.full_name(step.parent_position)
    fmt = drawing.fmt
    d = derivative(out_name, in_name)
    sign = "\N{MINUS SIGN}" if step.contribution < 0 else "+"
    final = f" (final, #{rank})" if step.final and rank is not None else ""
    first = (
        f"step {step.number} of {total}: grad({in_name}) += {d} {DOT} grad({out_name}) = "
        f"{_minus(fmt(step.local))} {DOT} {_factor(fmt(step.upstream))} = "
        f"{_minus(fmt(step.contribution))}, so grad({in_name}) = {_minus(fmt(step.before))} "
        f"{sign} {fmt(abs(step.contribution))} = {_minus(fmt(step.after))}{final}"
    )
    rule = step.rule
    if rule.startswith(f"{d} = "):  # the node's name is its expression: say it once
        rule = rule[len(d) + 3 :]
    return f"{first}\nwhere {d} = {rule}"
