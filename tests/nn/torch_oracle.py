"""One check for every module against its ``to_torch()`` twin, in float64.

``assert_matches_torch(module, x, call)`` runs ``module`` on the nested list
``x`` (as Values) and ``call(torch_module, tensor_of_x)`` on the exported
module, then compares, to ``tol`` relative:

* the outputs, flattened in order (nested lists/tuples of Values against
  nested tuples of tensors);
* the gradient of a random weighted sum of the outputs with respect to every
  input number;
* the same gradient for every parameter, along ``module.torch_parameters()``
  (so a wrong weight layout in an export fails here, not silently later).
"""

from __future__ import annotations

import random
from typing import Any

from chaingrad import Value, dot
from tests.helpers import close


def flatten(obj: Any) -> list[Any]:
    """Leaves (Values or torch tensor elements) of nested lists/tuples/tensors, in order."""
    if isinstance(obj, Value):
        return [obj]
    if hasattr(obj, "reshape") and hasattr(obj, "dtype"):  # a tensor
        return list(obj.reshape(-1))
    return [leaf for item in obj for leaf in flatten(item)]


def to_values(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return [to_values(item) for item in x]
    return Value(float(x))


def assert_matches_torch(
    module: Any,
    x: Any,
    call: Any = lambda m, t: m(t),
    *,
    forward: Any = None,
    tol: float = 1e-9,
    seed: int = 0,
) -> None:
    """See the module docstring. ``forward(module, values)`` overrides ``module(values)``."""
    import torch

    twin = module.to_torch()
    values = to_values(x)
    out = forward(module, values) if forward else module(values)
    outs = flatten(out)
    tensor = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    t_outs = flatten(call(twin, tensor))
    assert len(outs) == len(t_outs), (len(outs), len(t_outs))
    for i, (a, b) in enumerate(zip(outs, t_outs)):
        assert close(a.data, b.item(), tol), f"output {i}: chaingrad {a.data}, torch {b.item()}"

    rng = random.Random(seed)
    weights = [rng.uniform(-1.0, 1.0) for _ in outs]
    dot(weights, outs).backward()
    t_loss = sum(w * t for w, t in zip(weights, t_outs))
    t_loss.backward()

    for i, (a, b) in enumerate(zip(flatten(values), flatten(tensor.grad))):
        assert close(a.grad, b.item(), tol), f"input grad {i}: {a.grad} vs torch {b.item()}"
    t_params = dict(twin.named_parameters())
    names = [name for name, _ in module.torch_parameters()]
    assert sorted(names) == sorted(t_params), (names, list(t_params))
    for name, tree in module.torch_parameters():
        ours = flatten(tree)
        theirs = flatten(t_params[name].grad)
        assert len(ours) == len(theirs), name
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert close(a.grad, b.item(), tol), f"{name}[{i}] grad: {a.grad} vs torch {b.item()}"


def assert_batch_matches_examples(
    module: Any, examples: list[Any], call: Any = lambda m, t: m(t), *, ids: bool = False
) -> None:
    """The exported module called once on the whole batch gives each example's output.

    ``examples`` are nested lists (one example each, as ``module`` takes them);
    ``call(torch_module, batch_tensor)`` returns the batched output, whose first
    dimension is the batch. Compared in float64 to 1e-9.
    """
    import torch

    twin = module.to_torch()
    dtype = torch.long if ids else torch.float64
    with torch.no_grad():
        out = call(twin, torch.tensor(examples, dtype=dtype))
    batched = out if isinstance(out, (list, tuple)) else [out]
    for b, example in enumerate(examples):
        ours = flatten(module(example))
        theirs = flatten([part[b] for part in batched])
        assert len(ours) == len(theirs), (b, len(ours), len(theirs))
        for i, (a, t) in enumerate(zip(ours, theirs)):
            assert close(a.data, t.item(), 1e-9), f"example {b}, output {i}: {a.data} vs {t.item()}"
