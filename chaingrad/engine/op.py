"""What an op is, and ``op``: defining one is one decorated function.

An op is a forward on plain floats that returns its result *and* its local
derivatives, one per input, computed while the inputs are at hand::

    from chaingrad import Value, op

    @op("softsign", graph_grads=lambda out, x: (1 / (1 + abs(x)) ** 2,))
    def softsign(x):
        d = 1.0 + abs(x)
        return x / d, (1.0 / (d * d),)

    y = softsign(Value(0.5))        # a Value: y.op is softsign, y.local_grads == (4/9,)

``backward()`` only multiplies the stored local derivatives by the upstream
gradient (the chain rule), so no closure is kept per node. ``graph_grads``
is the same derivative written with Value operations (``out`` and the inputs
are Values); ``grad(..., create_graph=True)`` builds the gradient from it as
a graph of its own, to differentiate again. Pass ``graph_grads="constant"``
when the local derivatives are piecewise constant (``relu``, ``abs``,
``max``): forward's numbers are then exact to every order. Without
``graph_grads`` everything works but second derivatives, which say so.

The engine's own ops (``chaingrad/engine/ops.py``) are defined with this
decorator; the compiled backends, drawings and captions read an op's rule
from the Op itself or from their own table of faster or clearer rules, keyed
by the Op, with a generic rule for any op they do not know.

A keyword-only argument of the forward is a constant of the op, not an
input (``alpha`` of a leaky ReLU): each value gets an Op of its own
(``op.param``), made on first use and shared after.

>>> @op("cube", graph_grads=lambda out, x: (3 * x * x,))
... def cube(x):
...     return x**3, (3 * x * x,)
>>> cube.forward(2.0)
(8.0, (12.0,))
>>> cube(2.0).data, cube.arity
(8.0, 1)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

Forward = Callable[..., "tuple[float, tuple[float, ...]]"]
GraphGrads = Callable[..., "tuple[Any, ...]"]

_BOUND_LIMIT = 1024  # Ops remembered per parametric family (one per constant used)


class Op:
    """One primitive operation: its forward on floats and how it is differentiated.

    - ``name``: stable identifier (``"tanh"``, ``"pow_const"``), what programs list
    - ``symbol``: what a drawing shows in the op's ellipse (``"+"``, ``"**2"``)
    - ``arity``: number of inputs; None for any number (``sum``, ``dot``)
    - ``forward``: ``forward(*floats) -> (result, local_grads)``
    - ``graph_grads``: ``graph_grads(out, *inputs) -> local_grads`` on Values,
      ``"constant"`` (forward's numbers are exact), or None if not given
    - ``caption``: how a step-through writes each derivative (see :func:`op`), or None
    - ``param``: the constant of a parametric op (an exponent, a slope), else None
    - ``family``: the op this one is a member of (itself for an op without constant)

    Calling an op on Values or numbers records a node:

    >>> from chaingrad.engine import OPS, Value
    >>> OPS["tanh"](Value(0.5)).op is OPS["tanh"]
    True
    """

    def __init__(
        self,
        name: str,
        forward: Forward,
        graph_grads: GraphGrads | str | None = None,
        *,
        symbol: str | None = None,
        caption: Sequence[str] | str | None = None,
        arity: int | None = None,
        param: float | None = None,
        param_name: str | None = None,
        family: Op | None = None,
    ) -> None:
        self.name = name
        self.symbol = symbol if symbol is not None else name
        self.arity = arity
        self.forward = forward
        self.graph_grads = graph_grads
        self.caption = (caption,) if isinstance(caption, str) else caption
        self.param = param
        self.param_name = param_name  # the keyword a parametric family takes
        self.family = family if family is not None else self
        self._members: dict[float, Op] = {}
        self._default: Any = inspect.Parameter.empty  # the constant's default, if any
        self.__doc__ = getattr(forward, "__doc__", None)
        self.__wrapped__ = forward

    # --- applying it ------------------------------------------------------------------

    def __call__(self, *inputs: Any, **constant: float) -> Any:
        """Record this op on ``inputs`` (Values or numbers): a new Value."""
        if self.param_name is not None and self.param is None:
            return self.bind(**constant)(*inputs)
        if constant:
            raise TypeError(f"{self.name}() takes no keyword arguments, got {sorted(constant)}")
        if self.arity is not None and len(inputs) != self.arity:
            raise TypeError(
                f"{self.name}() takes {self.arity} input{'s' * (self.arity != 1)}, "
                f"got {len(inputs)}"
            )
        # value.py imports the engine's ops, so the node maker is found at call time
        from .value import apply

        return apply(self, inputs)

    def bind(self, value: float | None = None, /, **constant: float) -> Op:
        """The member of a parametric family for one constant: ``leaky_relu.bind(alpha=0.2)``."""
        family = self.family
        name = family.param_name
        if name is None:
            raise TypeError(f"op {self.name!r} has no constant to bind")
        if value is None:
            if set(constant) - {name}:
                raise TypeError(f"{self.name}() takes the constant {name}=, got {sorted(constant)}")
            if name not in constant:
                default = family._default
                if default is inspect.Parameter.empty:
                    raise TypeError(f"{self.name}() needs its constant {name}=")
                constant[name] = default
            value = constant[name]
        key = float(value)
        member = family._members.get(key)
        if member is None:
            if len(family._members) >= _BOUND_LIMIT:
                family._members.clear()
            member = family._member(key)
            family._members[key] = member
        return member

    def _member(self, value: float) -> Op:
        name = self.param_name
        assert name is not None
        forward, graph_grads = self.forward, self.graph_grads
        # functools.partial: the constant is passed by C code, no extra Python frame
        shown: float = int(value) if value.is_integer() else value

        bound_grads: GraphGrads | str | None = graph_grads
        if callable(graph_grads):
            bound_grads = functools.partial(graph_grads, **{name: value})

        symbol = self.symbol.format(**{name: shown}) if "{" in self.symbol else self.symbol
        return Op(
            self.name,
            functools.partial(forward, **{name: value}),
            bound_grads,
            symbol=symbol,
            caption=self.caption,
            arity=self.arity,
            param=value,
            param_name=name,
            family=self,
        )

    # --- reading it -------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"Op({self.name!r}, symbol={self.symbol!r})"

    def __str__(self) -> str:
        return self.symbol


def op(
    name: str,
    graph_grads: GraphGrads | str | None = None,
    *,
    symbol: str | None = None,
    caption: Sequence[str] | str | None = None,
) -> Callable[[Forward], Op]:
    """Decorator: define an op from its forward on floats.

    ``forward(*xs)`` takes one float per input (``*xs`` for any number of
    inputs) and returns ``(result, local_grads)``, ``local_grads[i]`` being
    ``d result / d xs[i]``. It raises a clear error for inputs outside its
    domain. A keyword-only argument is a constant of the op (see
    :meth:`Op.bind`); its default, if any, is used when a call leaves it out.

    ``graph_grads(out, *xs)`` is the derivative with Value operations (for
    ``grad(..., create_graph=True)``), or ``"constant"``. ``symbol`` is what a
    drawing shows (default: the name; a parametric op may write its constant
    as ``"LeakyReLU({alpha})"``). ``caption`` is how a step-through writes
    the derivative by each input, with the inputs' names as fields
    (``"1/(1 + |{x}|)²"``; ``{out}`` is the op's own expression); without it
    the caption is derived from ``graph_grads``.

    The decorated name is the :class:`Op`: calling it on Values or numbers
    records a node (``softsign(Value(0.5))``), ``.forward`` runs on floats.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"op: the name must be an identifier such as 'softsign', got {name!r}")
    if not (graph_grads is None or graph_grads == "constant" or callable(graph_grads)):
        raise TypeError(
            f"op {name!r}: graph_grads must be a function (out, *inputs) -> local gradients, "
            f"'constant' or None, got {graph_grads!r}"
        )
    if isinstance(caption, Sequence) and not isinstance(caption, str):
        caption = tuple(caption)

    def define(forward: Forward) -> Op:
        if not callable(forward):
            raise TypeError(f"op {name!r}: decorate a function, got {type(forward).__name__}")
        arity, constants = _signature(name, forward)
        param_name, default = constants[0] if constants else (None, None)
        defined = Op(
            name,
            forward,
            graph_grads,
            symbol=symbol,
            caption=caption,
            arity=arity,
            param_name=param_name,
        )
        defined._default = default
        return defined

    return define


def _signature(name: str, forward: Forward) -> tuple[int | None, list[tuple[str, Any]]]:
    """(number of inputs or None for ``*xs``, [(constant's name, default)])."""
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: any number of inputs
        return None, []
    arity: int | None = 0
    constants = []
    for p in parameters:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and arity is not None:
            arity += 1
        elif p.kind == p.VAR_POSITIONAL:
            arity = None
        elif p.kind == p.KEYWORD_ONLY:
            constants.append((p.name, p.default))
        elif p.kind == p.VAR_KEYWORD:
            raise TypeError(f"op {name!r}: the forward cannot take **kwargs; name its constant")
    if len(constants) > 1:
        raise TypeError(
            f"op {name!r}: the forward takes {len(constants)} keyword-only constants "
            f"({', '.join(c for c, _ in constants)}); an op has at most one"
        )
    return arity, constants
