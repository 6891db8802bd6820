"""chaingrad.viz.Explorer driven through its Python API (what its controls do)."""

from __future__ import annotations

import html
import math
import re
from typing import Any

import pytest

pytest.importorskip("anywidget")
from hypothesis import given, settings
from hypothesis import strategies as st

from chaingrad import Value
from chaingrad.nn import MLP
from chaingrad.viz import Explorer, dot_available

pytestmark = pytest.mark.skipif(not dot_available(), reason="Graphviz dot not installed")

B = 6.8813735870195432
START = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": B}


def neuron(x1: Any, w1: Any, x2: Any, w2: Any, b: Any) -> Any:
    return (x1 * w1 + x2 * w2 + b).tanh()


def fresh(values: dict[str, float]) -> tuple[dict[str, float], float]:
    """Gradients and output of a fresh chaingrad forward and backward at ``values``."""
    leaves = {name: Value(v) for name, v in values.items()}
    out = neuron(**leaves)
    out.backward()
    return {name: leaf.grad for name, leaf in leaves.items()}, out.data


def state(ex: Explorer) -> tuple[Any, ...]:
    return ex.values, ex.grads, ex.output, ex.view, ex.svg, ex.error == "" or ex.error


@pytest.fixture(scope="module")
def ex() -> Explorer:
    return Explorer(neuron, **START)


def test_the_lecture_neuron(ex: Explorer) -> None:
    ex.set(**START)
    assert ex.values == START
    assert ex.output == pytest.approx(math.sqrt(0.5))
    assert ex.grads == pytest.approx({"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5})


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(START)),
    value=st.floats(-5, 5, allow_nan=False),
    other=st.floats(-5, 5, allow_nan=False),
)
def test_set_equals_a_fresh_forward_and_backward(
    ex: Explorer, name: str, value: float, other: float
) -> None:
    ex.set(**START)
    ex.set(**{name: value}, x2=other) if name != "x2" else ex.set(x2=value)
    want = {**START, "x2": other, name: value} if name != "x2" else {**START, "x2": value}
    grads, output = fresh(want)
    assert ex.values == want
    assert ex.output == output  # the same arithmetic: equal, not close
    assert ex.grads == grads


def test_set_takes_a_dict_for_dotted_names(ex: Explorer) -> None:
    ex.set(**START)
    ex.set({"w1": -2.0, "b": 1.0})
    assert ex.values["w1"] == -2.0 and ex.values["b"] == 1.0
    assert ex.grads == fresh({**START, "w1": -2.0, "b": 1.0})[0]


def test_grads_match_pytorch_in_float64(ex: Explorer) -> None:
    torch = pytest.importorskip("torch")
    ex.set(x1=0.3, w1=-1.2, x2=2.0, w2=0.4, b=0.1)
    leaves = {
        n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in ex.values.items()
    }
    out = neuron(**leaves)
    out.backward()
    assert ex.output == pytest.approx(out.item(), rel=1e-12)
    for name, leaf in leaves.items():
        assert ex.grads[name] == pytest.approx(leaf.grad.item(), rel=1e-12, abs=1e-15)


def test_nudge_slopes_are_the_gradients(ex: Explorer) -> None:
    ex.set(x1=0.7, w1=-0.4, x2=-1.1, w2=0.9, b=0.2)
    slopes, grads = ex.slopes, ex.grads
    for name in START:
        assert slopes[name] == pytest.approx(grads[name], abs=1e-6)
    ex.nudge = True
    try:
        shown = {leaf["name"]: float(leaf["slope"]) for leaf in ex.view["leaves"]}
    finally:
        ex.nudge = False
    for name in START:
        assert shown[name] == pytest.approx(grads[name], rel=1e-3, abs=1e-6)
    assert all("slope" not in leaf for leaf in ex.view["leaves"])


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"w9": 1.0}, ValueError, "no leaf named 'w9'; the leaves are x1, w1, x2, w2, b"),
        ({"w1": "2"}, TypeError, "w1 must be a real number, got str '2'"),
        ({"w1": None}, TypeError, "w1 must be a real number, got NoneType None"),
        ({"w1": True}, TypeError, "w1 must be a real number, got bool True"),
        ({"w1": math.nan}, ValueError, "w1 must be finite, got nan"),
        ({"w1": 1.0, "b": math.inf}, ValueError, "b must be finite, got inf"),
    ],
)
def test_bad_set_is_one_clear_error_and_changes_nothing(
    ex: Explorer, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    ex.set(**START)
    before = state(ex)
    with pytest.raises(error, match=re.escape(message)):
        ex.set(changes)
    assert state(ex) == before


def test_a_pass_that_fails_changes_nothing() -> None:
    ex = Explorer(lambda x, y: (x * y).log(), x=2.0, y=3.0)
    before = state(ex)
    with pytest.raises(ValueError, match="log"):
        ex.set(y=-1.0)  # log of a negative
    assert state(ex) == before


def test_requests_from_the_page_report_errors_and_keep_the_state(ex: Explorer) -> None:
    ex.set(**START)
    before = state(ex)
    revision = ex.revision
    ex._on_message(ex, {"action": "set", "values": {"w1": "abc"}}, [])
    assert ex.error == "Explorer.set: w1 must be a real number, got str 'abc'"
    assert ex.revision == revision + 1  # the page redraws from the kernel's state
    assert state(ex)[:5] == before[:5]
    ex._on_message(ex, {"action": "set", "values": {"w1": -2.0}}, [])
    assert ex.error == ""
    assert ex.values["w1"] == -2.0
    ex._on_message(ex, {"action": "fly"}, [])
    assert "unknown request" in ex.error


@pytest.mark.parametrize(
    ("function", "values", "message"),
    [
        (
            neuron,
            {**START, "w3": 1.0},
            "the function takes (x1, w1, x2, w2, b); no argument named w3",
        ),
        (neuron, {"x1": 1.0}, "no value for w1, x2, w2, b"),
        (lambda *xs: xs[0], {"x": 1.0}, "must be plain named ones"),
        (lambda: Value(1.0), {}, "takes no arguments"),
        (lambda x: x.data, {"x": 1.0}, "must return one Value (the output to explore), got float"),
        (42, {"x": 1.0}, "the first argument must be a function"),
        (lambda x: x, {"x": "one"}, "x must be a real number, got str 'one'"),
    ],
)
def test_bad_construction_is_one_clear_error(function: Any, values: Any, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        Explorer(function, **values)


def test_the_picture_has_a_box_per_value_and_the_view_fills_it(ex: Explorer) -> None:
    ex.set(**START)
    view = ex.view
    for key in view["nodes"]:
        assert f'id="{key}"' in ex.svg
    for key in view["ops"]:
        assert f'id="{key}"' in ex.svg
    for key in view["edges"]:
        assert f'id="{key}"' in ex.svg
    assert len(view["steps"]) == len(view["edges"]) == 9  # one chain-rule step per edge
    leaves = {leaf["name"]: leaf for leaf in view["leaves"]}
    assert leaves["x1"]["grad"] == "-1.5" and leaves["w1"]["value"] == -3.0
    assert leaves["w1"]["min"] <= -3.0 <= leaves["w1"]["max"]
    # hovering the tanh op shows its rule with the numbers, an edge its factor
    tanh_op = view["ops"][f"o{len(view['nodes']) - 1}"]
    # (whatever the viz names an unlabelled node: n8, or its expression)
    assert re.search(r"= 1 − tanh\(.+\)² = 1 − 0\.7071² = 0\.5$", tanh_op)
    assert re.search(
        r"grad\(x1\) \+= d.+/dx1 \* grad\(.+\) = -3 \* 0\.5 = -1\.5,",
        view["edges"]["e2_0"]["hover"],
    )
    # the box texts the page writes follow set()
    ex.set(w1=-2.0)
    assert ex.view["nodes"]["n1"]["data"] == "-2"


def test_a_value_outside_its_slider_widens_the_range(ex: Explorer) -> None:
    ex.set(w1=50.0)
    w1 = next(leaf for leaf in ex.view["leaves"] if leaf["name"] == "w1")
    assert w1["min"] <= 50.0 <= w1["max"]
    ex.set(**START)


def test_backward_steps_clamp(ex: Explorer) -> None:
    ex.mode = "backward"
    ex.step = 99
    assert ex.step == len(ex.view["steps"])
    ex.step = -3
    assert ex.step == 0
    ex.mode = "live"
    with pytest.raises(Exception, match="backward"):
        ex.mode = "sideways"


def test_a_branch_on_data_lays_the_graph_out_again() -> None:
    ex = Explorer(lambda x: x * x if x.data > 0 else x.exp(), x=1.0)
    square = ex.svg
    ex.set(x=-1.0)
    assert ex.svg != square and ex.output == pytest.approx(math.exp(-1.0))
    assert ex.grads["x"] == pytest.approx(math.exp(-1.0))


def test_static_picture_follows_the_last_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Displayed, a widget shows its live view, then a picture for pages without one
    (exports); each change redraws the picture."""
    import IPython.display

    shown: list[dict[str, Any]] = []

    class Handle:
        def update(self, data: dict[str, str], raw: bool = False) -> None:
            shown.append({"update": True, **data})

    def display(data: Any, metadata: Any = None, raw: bool = False, display_id: Any = None):
        shown.append(dict(data))
        return Handle() if display_id else None

    monkeypatch.setattr(IPython.display, "display", display)
    ex = Explorer(neuron, **START)
    ex._ipython_display_()
    live, picture = shown
    assert "application/vnd.jupyter.widget-view+json" in live and "text/html" not in live
    text = html.unescape(picture["text/html"])
    assert text.startswith('<div class="chaingrad-static">')
    assert "<svg" in text and "<script" not in text
    assert "data -3" in text and "grad -1.5" in text
    ex.set(w1=-2.0)
    update = shown[-1]
    assert update["update"]
    text = html.unescape(update["text/html"])
    assert "data -2" in text and "grad 0.02498" in text  # w1's box and x1's grad
    assert "data -3" not in text and "grad -1.5" not in text
    assert "×-2" in text  # x1's edge factor is w1 now
    assert "xlink:title" not in text  # no tooltip with stale numbers


def test_from_model_names_parameters_by_path_and_groups_them_per_layer() -> None:
    model = MLP(2, [3, 1], seed=0)
    x = [0.5, -1.0]
    ex = Explorer.from_model(model, x)
    names = [name for name, _ in model.named_parameters()]
    assert list(ex.values) == ["x[0]", "x[1]", *names]
    groups = {leaf["name"]: leaf["group"] for leaf in ex.view["leaves"]}
    assert groups["x[0]"] == "input"
    assert groups["layers.0.neurons.2.w.1"] == "layers.0"
    assert groups["layers.1.neurons.0.b"] == "layers.1"
    assert "cluster" in ex.svg  # one box per module

    name = "layers.0.neurons.1.w.0"
    ex.set({name: 0.25, "x[1]": 2.0})
    params = dict(model.named_parameters())
    assert params[name].data == 0.25
    model.zero_grad()
    out = model([0.5, 2.0])
    out.backward()
    assert ex.output == out.data
    assert ex.grads == {
        "x[0]": pytest.approx(ex.grads["x[0]"]),
        "x[1]": pytest.approx(ex.grads["x[1]"]),
        **{n: p.grad for n, p in model.named_parameters()},
    }
    for n, slope in ex.slopes.items():
        assert slope == pytest.approx(ex.grads[n], abs=1e-6)

    before = {n: p.data for n, p in model.named_parameters()}
    with pytest.raises(TypeError, match="must be a real number"):
        ex.set({name: 1.0, "layers.1.neurons.0.b": "x"})
    assert {n: p.data for n, p in model.named_parameters()} == before


def test_from_model_refuses_what_it_cannot_explore() -> None:
    with pytest.raises(TypeError, match="expected a chaingrad Module, got int"):
        Explorer.from_model(3, [1.0])
    with pytest.raises(TypeError, match="must return one Value"):
        Explorer.from_model(MLP(2, [2], seed=0), [1.0, 2.0])  # two outputs


def test_importing_chaingrad_viz_does_not_import_anywidget() -> None:
    import subprocess
    import sys

    code = "import sys, chaingrad.viz; print('anywidget' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
