"""Playground: training, every control's Python twin, errors that change nothing, the views."""

from __future__ import annotations

import math
import time

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("anywidget")

from chaingrad.nn.layers import Dropout  # noqa: E402
from chaingrad.nn.optim import SGD, Adam  # noqa: E402
from chaingrad.viz import Playground  # noqa: E402
from chaingrad.viz.widgets.playground import (  # noqa: E402
    ACTIVATIONS,
    BOUNDARY_RESOLUTION,
    DATASETS,
    FEATURES,
    NEURON_RESOLUTION,
    make_dataset,
)


def weights(pg: Playground) -> list[float]:
    return [p.data for p in pg.model.parameters()]


def snapshot(pg: Playground) -> tuple:
    """Everything a refused change must leave as it was."""
    return (pg.settings, pg.steps, weights(pg), pg.loss_history, dict(pg.config), pg.points)


def test_moons_trains_to_95_percent_in_200_steps_with_the_loss_falling() -> None:
    pg = Playground(dataset="moons", hidden=[8, 8], activation="tanh", lr=0.1)
    pg.step(200)
    assert pg.steps == 200
    assert len(pg.loss_history) == 201  # step 0, then after every step
    assert pg.accuracy >= 0.95
    assert pg.val_accuracy >= 0.9
    first, last = pg.loss_history[:20], pg.loss_history[-20:]
    assert sum(last) / 20 < 0.5 * sum(first) / 20
    assert pg.loss_history[-1] < pg.loss_history[0]


def test_the_compiled_step_is_the_eager_step() -> None:
    """Same batches, same update: the jit step moves the weights as backward() would."""
    pg = Playground(hidden=[4, 3], l2=0.01, l1=0.001, batch_size=7)
    eager = Playground(hidden=[4, 3], l2=0.01, l1=0.001, batch_size=7)
    model, optimizer = eager._model, eager._optimizer
    for _ in range(6):
        idx = eager._next_batch()
        optimizer.zero_grad()
        loss = eager._objective(eager._X_train[idx].tolist(), eager._y_train[idx].tolist())
        loss.backward()
        optimizer.step()
    pg.step(6)
    assert weights(pg) == pytest.approx([p.data for p in model.parameters()], abs=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_pictures_compute_what_the_model_computes(activation: str) -> None:
    pg = Playground(hidden=[3, 2], activation=activation, dataset="circles")
    pg.step(5)
    X = pg.data[0][:10]
    expected = [1 / (1 + math.exp(-pg.model(list(x)).data)) for x in X]
    assert pg.predict_proba(X).tolist() == pytest.approx(expected, abs=1e-12)


def test_whole_set_loss_and_accuracy_are_the_models() -> None:
    from chaingrad.nn import functional as F

    pg = Playground(hidden=[5])
    pg.step(30)
    X, y, Xv, yv = pg.data
    logits = [pg.model(list(x)) for x in X]
    assert pg.loss_history[-1] == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, y.tolist()).data, abs=1e-12
    )
    assert pg.accuracy == sum((z.data > 0) == (t == 1) for z, t in zip(logits, y)) / len(y)
    val_logits = [pg.model(list(x)).data for x in Xv]
    assert pg.val_accuracy == sum((z > 0) == (t == 1) for z, t in zip(val_logits, yv)) / len(yv)


# ------------------------------------------------------------------ every control
@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_control_makes_that_dataset_and_starts_again(dataset: str) -> None:
    pg = Playground(dataset="moons" if dataset != "moons" else "xor")
    pg.step(10)
    pg.set(dataset=dataset)
    X, y = make_dataset(dataset, 200, 0.1, 0)
    assert np.array_equal(np.concatenate([pg.data[2], pg.data[0]]), X)
    assert np.array_equal(np.concatenate([pg.data[3], pg.data[1]]), y)
    assert set(y.tolist()) == {0, 1}
    assert pg.steps == 0 and len(pg.loss_history) == 1
    assert pg.config["dataset"] == dataset
    assert len(pg.points["train"]) == 3 * len(pg.data[0])


def test_xor_labels_are_the_quadrants() -> None:
    X, y = make_dataset("xor", 400, 0.0, 3)
    assert all((a * b > 0) == bool(t) for (a, b), t in zip(X, y))


def test_noise_control_scatters_the_points() -> None:
    pg = Playground(dataset="circles", noise=0.0)
    radii = np.hypot(*pg.data[0].T)
    assert np.allclose(np.sort(np.unique(np.round(radii, 9))), [0.5, 1.0])
    pg.set(noise=0.3)
    assert pg.settings.noise == 0.3
    radii = np.hypot(*pg.data[0].T)
    assert len(np.unique(np.round(radii, 9))) == len(radii)


def test_hidden_control_changes_the_network() -> None:
    pg = Playground(hidden=[8, 8])
    pg.set(hidden=[3, 5, 2])
    sizes = [len(layer.neurons) for layer in pg.model.layers]
    assert sizes == [3, 5, 2, 1]
    assert pg.network["columns"][1:] == [
        [f"layers.{k}.neurons.{i}" for i in range(n)] for k, n in enumerate(sizes)
    ]
    pg.set(hidden=[])  # no hidden layer: logistic regression, as TensorFlow Playground allows
    assert [len(layer.neurons) for layer in pg.model.layers] == [1]
    pg.step(5)


def test_features_control_chooses_the_inputs() -> None:
    """TensorFlow Playground's lesson: circles need no hidden layer given x1² and x2²."""
    pg = Playground(dataset="circles", hidden=[], noise=0.05)
    pg.step(300)
    assert pg.accuracy < 0.8  # a line cannot separate two rings
    pg.set(features=["x2^2", "x1^2"])
    assert pg.settings.features == ("x1^2", "x2^2")  # in the diagram's order
    assert len(pg.model.layers[0].neurons[0].w) == 2
    pg.step(300)
    assert pg.accuracy >= 0.97
    x = pg.data[0][0]
    n = pg.model.layers[0].neurons[0]
    z = n.w[0].data * x[0] ** 2 + n.w[1].data * x[1] ** 2 + n.b.data
    assert pg.predict_proba(pg.data[0][:1])[0] == pytest.approx(1 / (1 + math.exp(-z)))
    assert pg.network["features"] == ["x1^2", "x2^2"]
    assert pg.network["columns"][0] == list(FEATURES)
    dot = pg.neuron_graph(0, 0).source
    assert "x1^2" in dot and "x2^2" in dot and "x1</b>" in dot  # the features come from x1, x2


@pytest.mark.parametrize("feature", list(FEATURES))
def test_every_feature_trains_and_draws(feature: str) -> None:
    pg = Playground(features=["x1", feature] if feature != "x1" else ["x1"], hidden=[3])
    pg.step(3)
    X = pg.data[0][:5]
    expected = [1 / (1 + math.exp(-pg.model(row).data)) for row in pg._inputs(X).tolist()]
    assert pg.predict_proba(X).tolist() == pytest.approx(expected, abs=1e-12)
    pg.neuron_graph(1, 0)


def test_activation_control() -> None:
    pg = Playground(activation="tanh")
    pg.set(activation="relu")
    assert [layer.neurons[0].activation for layer in pg.model.layers] == ["relu", "relu", "linear"]


def test_learning_rate_control_keeps_training_from_the_same_weights() -> None:
    pg = Playground(lr=0.1)
    pg.step(10)
    before = weights(pg)
    pg.set(lr=0.03)
    assert weights(pg) == before and pg.steps == 10
    assert pg._optimizer.lr == 0.03
    pg.step(1)
    assert pg.steps == 11 and len(pg.loss_history) == 12


def test_lr_reaches_the_compiled_update() -> None:
    slow, fast = Playground(optimizer="sgd"), Playground(optimizer="sgd")
    slow.step(1)
    fast.step(1)  # both traced; now change one rate
    start = weights(slow)
    assert weights(fast) == start
    slow.set(lr=0.001)
    slow.step(1)
    fast.step(1)
    slow_move = np.abs(np.subtract(weights(slow), start)).sum()
    fast_move = np.abs(np.subtract(weights(fast), start)).sum()
    assert slow_move == pytest.approx(fast_move / 100, rel=1e-6)


def test_optimizer_control() -> None:
    pg = Playground(optimizer="sgd")
    assert type(pg._optimizer) is SGD and pg._optimizer.momentum == 0.0
    pg.set(optimizer="momentum")
    assert type(pg._optimizer) is SGD and pg._optimizer.momentum == 0.9
    pg.set(optimizer="adam")
    assert type(pg._optimizer) is Adam
    pg.step(20)
    assert pg.loss_history[-1] < pg.loss_history[0]


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_l1_l2_controls_shrink_the_weights(penalty: str) -> None:
    plain = Playground(dataset="xor")
    shrunk = Playground(dataset="xor")
    shrunk.set(**{penalty: 0.1})
    plain.step(150)
    shrunk.step(150)
    assert sum(abs(w) for w in weights(shrunk)) < 0.8 * sum(abs(w) for w in weights(plain))


def test_dropout_control_puts_dropout_between_the_layers() -> None:
    pg = Playground(hidden=[6, 6])
    pg.set(dropout=0.3)
    drops = [m for _, m in pg.model.named_modules() if isinstance(m, Dropout)]
    assert [d.p for d in drops] == [0.3, 0.3]
    pg.step(100)
    assert pg.loss_history[-1] < pg.loss_history[0]
    assert len(pg.network["columns"]) == 4


def test_batch_size_control() -> None:
    pg = Playground(batch_size=10)
    batches = [pg._next_batch() for _ in range(25)]
    assert {len(b) for b in batches} == {10}
    pg.set(batch_size=33)
    seen = [pg._next_batch() for _ in range(7)]
    assert {len(b) for b in seen} == {33}
    pg.step(3)
    assert pg.stats["epoch"] == pytest.approx(3 * 33 / 100)
    with pytest.raises(ValueError, match="batch_size 101 is more than the 100 training"):
        pg.set(batch_size=101)


def test_every_training_point_is_visited_once_per_pass() -> None:
    pg = Playground(batch_size=20)
    seen = np.concatenate([pg._next_batch() for _ in range(5)])
    assert sorted(seen.tolist()) == list(range(100))


def test_view_flags() -> None:
    pg = Playground()
    pg.set(show_test=True, discretize=True)
    assert pg.config["show_test"] is True and pg.config["discretize"] is True


def test_play_trains_in_the_background_and_pause_stops_it() -> None:
    pg = Playground()
    pg.play()
    assert pg.running
    deadline = time.time() + 20
    while pg.steps < 200 and time.time() < deadline:
        time.sleep(0.05)
    pg.pause()
    assert not pg.running
    stopped = pg.steps
    assert stopped >= 200
    time.sleep(0.2)
    assert pg.steps == stopped
    assert pg.stats["step"] == stopped  # the page was told
    assert pg.loss_history[-1] < pg.loss_history[0]


def test_speed_caps_steps_per_second_while_playing() -> None:
    pg = Playground(speed=40)
    pg.step(1)  # traced before the clock starts
    pg.play()
    time.sleep(1.0)
    pg.pause()
    assert 10 <= pg.steps - 1 <= 60


def test_a_long_step_updates_the_page_as_it_goes() -> None:
    pg = Playground()
    pg.step(1)
    seen: list[int] = []
    pg.observe(lambda change: seen.append(change["new"]["step"]), names="stats")
    started = time.perf_counter()
    pg.step(3000)
    took = time.perf_counter() - started
    assert seen[-1] == 3001
    assert seen == sorted(seen)
    assert len(seen) >= min(3, int(took / 0.15))  # about every 0.15 s, and at the end


def test_close_stops_training() -> None:
    pg = Playground()
    pg.play()
    pg.close()
    assert not pg.running
    stopped = pg.steps
    time.sleep(0.2)
    assert pg.steps == stopped


def test_set_while_playing_is_applied_between_steps() -> None:
    pg = Playground()
    pg.play()
    try:
        pg.set(hidden=[3])
        pg.set(lr=0.3)
    finally:
        pg.pause()
    assert [len(layer.neurons) for layer in pg.model.layers] == [3, 1]
    assert pg._optimizer.lr == 0.3


def test_reset_starts_from_the_seeded_weights() -> None:
    pg = Playground(seed=4)
    first = weights(pg)
    pg.step(30)
    assert weights(pg) != first
    pg.reset()
    assert weights(pg) == first
    assert pg.steps == 0 and len(pg.loss_history) == 1


def test_seed_control_draws_new_points() -> None:
    pg = Playground()
    before = pg.data[0].copy()
    pg.set(seed=1)
    assert not np.array_equal(before, pg.data[0])


def test_select_draws_a_neurons_graph_for_one_example() -> None:
    pytest.importorskip("graphviz")
    from chaingrad.viz import dot_available

    pg = Playground(hidden=[3, 2])
    pg.step(5)
    grads = [p.grad for p in pg.model.parameters()]
    pg.select(1, 1, example=4)
    assert pg.selected["name"] == "layers.1.neurons.1"
    assert pg.selected["example"] == 4
    assert pg.selected["point"] == pytest.approx(pg.data[0][4].tolist())
    dot = pg.neuron_graph(1, 1, example=4).source
    assert "layers.1.neurons.1" in dot and "layers.0.neurons.2" in dot
    assert "tanh" in dot
    assert [p.grad for p in pg.model.parameters()] == grads  # the model's grads untouched
    if dot_available():
        assert pg.selected["svg"].lstrip().startswith("<?xml") or "<svg" in pg.selected["svg"]
    pg.select(None)
    assert pg.selected == {}


def test_neuron_graph_grads_are_derivatives_of_that_neuron() -> None:
    pg = Playground(hidden=[2])
    pg.step(3)
    pg.neuron_graph(0, 1, example=0)  # draws after a backward from the neuron; check one grad
    layer = pg.model.layers[0].neurons[1]
    x = pg.data[0][0]
    z = layer.w[0].data * x[0] + layer.w[1].data * x[1] + layer.b.data
    # d tanh(z) / d w0 = (1 - tanh(z)^2) x0; the drawing's numbers come from a fresh graph
    dot = pg.neuron_graph(0, 1, example=0).source
    assert f"{(1 - math.tanh(z) ** 2) * x[0]:.4g}" in dot


# ------------------------------------------------------------------ bad input changes nothing
@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"dataset": "swirl"}, ValueError, "unknown dataset 'swirl'; choose one of moons"),
        ({"lr": "fast"}, TypeError, "lr must be a number, got 'fast'"),
        ({"lr": 0}, ValueError, "lr must be > 0"),
        ({"lr": float("nan")}, TypeError, "lr must be a number"),
        ({"noise": -1}, ValueError, "noise must be >= 0"),
        ({"hidden": 8}, TypeError, "hidden must be a list of layer widths"),
        ({"hidden": [8, 0]}, ValueError, r"hidden\[1\] must be in 1..8"),
        ({"hidden": [8] * 7}, ValueError, "at most 6"),
        ({"activation": "gelu"}, ValueError, "unknown activation 'gelu'"),
        ({"optimizer": "rmsprop"}, ValueError, "unknown optimizer 'rmsprop'"),
        ({"l2": -0.1}, ValueError, "l2 must be >= 0"),
        ({"dropout": 1.0}, ValueError, "dropout must be >= 0 and <= 0.9"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
        ({"show_test": 1}, TypeError, "show_test must be True or False"),
        ({"features": []}, ValueError, "features must name at least one input"),
        ({"features": ["x3"]}, ValueError, "unknown feature 'x3'"),
        ({"features": "x1"}, TypeError, "features must be a list"),
        ({"sped": 3}, TypeError, "unknown setting 'sped'"),
        ({"speed": -1}, ValueError, "speed must be in 0..1000000"),
        ({"lr": 0.3, "dataset": "nope"}, ValueError, "unknown dataset 'nope'"),
    ],
)
def test_a_bad_setting_is_one_error_and_changes_nothing(changes, error, message) -> None:
    pg = Playground()
    pg.step(5)
    before = snapshot(pg)
    with pytest.raises(error, match=message):
        pg.set(**changes)
    assert snapshot(pg) == before
    pg.step(1)  # and it still trains


def test_bad_constructor_arguments_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'spiral'"):
        Playground(dataset="spiral")
    with pytest.raises(TypeError, match=r"lr must be a number, got '0\.1'"):
        Playground(lr="0.1")
    with pytest.raises(TypeError, match="step count must be an int"):
        Playground().step("5")


def test_the_page_s_requests_do_what_the_python_api_does() -> None:
    pg = Playground()
    send = lambda **content: pg._on_message(pg, content, [])  # noqa: E731
    send(action="set", name="dataset", value="spirals")
    assert pg.settings.dataset == "spirals" and pg.error == ""
    send(action="step", count=3)
    assert pg.steps == 3
    before = snapshot(pg)
    send(action="set", name="lr", value="fast")
    assert pg.error == "Playground: lr must be a number, got 'fast'"
    assert snapshot(pg) == before
    revision = pg.revision
    send(action="set", name="lr", value=0.3)
    assert pg.error == "" and pg.settings.lr == 0.3 and pg.revision == revision + 1
    send(action="select", layer=0, index=1)
    assert pg.selected["name"] == "layers.0.neurons.1"
    send(action="reset")
    assert pg.steps == 0
    send(action="play")
    assert pg.running
    send(action="pause")
    assert not pg.running
    send(action="fly")
    assert "unknown request" in pg.error


# ------------------------------------------------------------------ what the page gets
def test_the_pictures_have_one_map_per_node() -> None:
    pg = Playground(hidden=[4, 3])
    maps = pg.maps
    n_nodes = len(FEATURES) + 4 + 3 + 1
    assert len(maps) == BOUNDARY_RESOLUTION**2 + n_nodes * NEURON_RESOLUTION**2
    boundary = np.frombuffer(maps[: BOUNDARY_RESOLUTION**2], dtype=np.uint8) / 127.5 - 1
    grid = pg._grid(BOUNDARY_RESOLUTION)
    expected = 2 * pg.predict_proba(grid) - 1
    assert np.abs(boundary - expected).max() <= 1 / 127.5 + 1e-12
    # x1's map runs from orange (left) to blue (right); x2's from blue (top) to orange
    r = NEURON_RESOLUTION
    x1 = np.frombuffer(maps, dtype=np.uint8, count=r * r, offset=BOUNDARY_RESOLUTION**2)
    assert x1[0] < x1[r - 1]
    x2 = np.frombuffer(maps, dtype=np.uint8, count=r * r, offset=BOUNDARY_RESOLUTION**2 + r * r)
    assert x2[0] > x2[(r - 1) * r]


def test_curves_are_thinned_but_keep_the_ends() -> None:
    pg = Playground()
    pg.step(1000)
    curves = pg.curves
    assert len(curves["step"]) <= 310
    assert curves["step"][0] == 0 and curves["step"][-1] == 1000
    assert curves["train"][-1] == pytest.approx(pg.loss_history[-1], abs=1e-5)
    assert curves["val"][0] == pytest.approx(pg.val_loss_history[0], abs=1e-5)


def test_weights_sent_to_the_page_are_the_models() -> None:
    pg = Playground(hidden=[2])
    pg.step(4)
    layer = pg.model.layers[1]
    assert pg.weights[1]["w"] == [[w.data for w in n.w] for n in layer.neurons]
    assert pg.weights[0]["b"] == [n.b.data for n in pg.model.layers[0].neurons]


def test_static_picture_for_exports() -> None:
    pg = Playground(hidden=[3, 2], show_test=True)
    pg.step(40)
    html = pg._static_html()
    assert html.startswith('<div class="chaingrad-playground-static"><svg')
    assert "<script" not in html
    assert "step 40" in html
    assert html.count("<image") == 1 + (7 + 3 + 2 + 1)  # the boundary and every node's map
    assert html.count("<path") == 2 * 3 + 3 * 2 + 2 * 1  # one per weight
    assert html.count("<circle") >= 190  # training and held-out points (and the legend)
    assert f'training loss <tspan font-weight="600">{pg.loss_history[-1]:.3f}' in html
    assert pg._static_bundle()["text/html"] == f'<div class="chaingrad-static">{html}</div>'


def test_the_static_picture_follows_the_last_state() -> None:
    pg = Playground()
    updates: list[str] = []

    class Handle:
        def update(self, bundle: dict, raw: bool) -> None:
            updates.append(bundle["text/html"])

    pg._static_displays.append(Handle())
    pg.step(30)
    assert "step 30 " in updates[-1]
    pg.set(dataset="xor")
    assert "xor, step 0 " in updates[-1]
    pg.play()
    time.sleep(0.5)
    during = len(updates)
    time.sleep(0.5)
    assert len(updates) == during  # not resent at every refresh while playing
    pg.pause()
    assert f"step {pg.steps:,} " in updates[-1]


def test_png_encoder_writes_a_real_png() -> None:
    import base64
    import struct
    import zlib

    from chaingrad.viz.widgets.playground import _png

    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    data = base64.b64decode(_png(rgb).split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (3, 2)
    idat_length = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + idat_length])
    assert raw == b"\x00" + rgb[0].tobytes() + b"\x00" + rgb[1].tobytes()
