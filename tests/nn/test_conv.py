"""Conv2d, Conv1d, pooling and Flatten: the equation, the graph's shape, torch, errors, training."""

from __future__ import annotations

import copy
import json
import math
import pickle
import random
import time

import pytest

from chaingrad import Constant, Value, gradcheck, no_grad, sum_of, toposort
from chaingrad.engine.scopes import record_scopes
from chaingrad.nn import (
    AvgPool1d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Flatten,
    Layer,
    Linear,
    MaxPool1d,
    MaxPool2d,
    ReLU,
    Sequential,
    StateDictError,
    Tanh,
    evaluate,
    fit,
)
from chaingrad.nn.optim import Adam, CosineLR


def image(channels, height, width, seed=0):
    rng = random.Random(seed)
    return [
        [[rng.uniform(-1, 1) for _ in range(width)] for _ in range(height)] for _ in range(channels)
    ]


def signal(channels, length, seed=0):
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(length)] for _ in range(channels)]


def data(nested):
    """The floats of nested lists of Values."""
    if isinstance(nested, Value):
        return nested.data
    return [data(item) for item in nested]


def pair(v):
    return v if isinstance(v, tuple) else (v, v)


def reference_conv2d(conv, x):
    """The docstring's equation, written out with explicit loops and bounds checks."""
    (kh, kw), (sh, sw) = conv.kernel_size, conv.stride
    if conv.padding == "same":
        (ph, ph_after), (pw, pw_after) = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in (kh, kw)]
    elif conv.padding == "valid":
        ph = ph_after = pw = pw_after = 0
    else:
        (ph, pw) = conv.padding
        ph_after, pw_after = ph, pw
    C, H, W = len(x), len(x[0]), len(x[0][0])
    out_h = (H + ph + ph_after - kh) // sh + 1
    out_w = (W + pw + pw_after - kw) // sw + 1

    def pixel(c, r, col):
        return x[c][r][col] if 0 <= r < H and 0 <= col < W else 0.0

    y = []
    for o in range(conv.out_channels):
        b = conv.bias[o].data if conv.bias is not None else 0.0
        y.append(
            [
                [
                    b
                    + sum(
                        conv.weight[o][c][u][v].data * pixel(c, i * sh + u - ph, j * sw + v - pw)
                        for c in range(C)
                        for u in range(kh)
                        for v in range(kw)
                    )
                    for j in range(out_w)
                ]
                for i in range(out_h)
            ]
        )
    return y


# --- the equation ---------------------------------------------------------------------------

CONV2D_CASES = [
    # (in, out, kernel, stride, padding, bias, input (c, h, w))
    (1, 1, 3, 1, 0, True, (1, 5, 5)),
    (2, 3, 2, 1, 0, True, (2, 4, 6)),
    (3, 2, (2, 3), (2, 1), (1, 2), True, (3, 5, 7)),
    (2, 4, 3, 2, 1, False, (2, 7, 6)),
    (1, 2, 4, "same", None, True, (1, 5, 6)),  # stride 1, even kernel: torch pads 1 then 2
    (2, 2, (3, 1), 1, "valid", True, (2, 3, 4)),
    (2, 1, 1, 3, 0, True, (2, 7, 5)),
    (1, 1, 5, 1, 2, True, (1, 1, 1)),  # a 1x1 image, all padding but the centre
]


def make_conv2d(case, seed=0):
    cin, cout, kernel, stride, padding, bias, _ = case
    if stride == "same":  # ("same" written in the stride column: padding, stride 1)
        return Conv2d(cin, cout, kernel, padding="same", bias=bias, seed=seed)
    return Conv2d(cin, cout, kernel, stride, padding, bias, seed=seed)


@pytest.mark.parametrize("case", CONV2D_CASES, ids=str)
def test_conv2d_computes_the_equation(case):
    conv = make_conv2d(case)
    x = image(*case[-1], seed=1)
    y = conv(x)
    expected = reference_conv2d(conv, x)
    assert len(y) == len(expected)
    for ours, theirs in zip(y, expected):
        assert [len(row) for row in ours] == [len(row) for row in theirs]
        for a, b in zip(ours, theirs):
            assert data(a) == pytest.approx(b, abs=1e-12)


def test_conv1d_is_the_one_row_conv2d():
    conv1 = Conv1d(2, 3, 3, stride=2, padding=1, seed=4)
    conv2 = Conv2d(2, 3, (1, 3), stride=(1, 2), padding=(0, 1), seed=0)
    for o in range(3):
        conv2.bias[o].data = conv1.bias[o].data
        for c in range(2):
            for v in range(3):
                conv2.weight[o][c][0][v].data = conv1.weight[o][c][v].data
    x = signal(2, 9, seed=2)
    y1 = conv1(x)
    y2 = conv2([[row] for row in x])
    assert data(y1) == [data(channel[0]) for channel in y2]  # the same dots, bit for bit
    assert [len(ch) for ch in y1] == [5, 5, 5]  # (9 + 2 - 3) // 2 + 1


def test_pools_compute_max_and_mean_per_window_and_channel():
    x = [
        [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0]],
        [[-1.0, -2.0, 0.0, 0.0], [-3.0, -4.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]],
    ]
    assert data(MaxPool2d(2)(x)) == [[[6.0, 8.0]], [[-1.0, 1.0]]]  # last row dropped (floor)
    assert data(AvgPool2d(2)(x)) == [[[3.5, 5.5]], [[-2.5, 0.25]]]
    assert data(MaxPool2d(2, stride=1)(x))[0] == [[6.0, 7.0, 8.0], [10.0, 11.0, 12.0]]
    # padding: max pads with -inf (never wins), average with zeros that count
    assert data(MaxPool2d(3, stride=3, padding=1)(x))[1] == [[-1.0, 1.0]]
    assert data(AvgPool2d(3, stride=3, padding=1)(x))[0][0] == pytest.approx([14 / 9, 22 / 9])
    assert data(MaxPool1d(2)([[1.0, 3.0, 2.0, 0.0, 7.0]])) == [[3.0, 2.0]]
    assert data(AvgPool1d(3, stride=1)([[3.0, 0.0, 3.0, 6.0]])) == [[2.0, 3.0]]


def test_flatten_is_c_order_and_makes_no_nodes():
    x = [[[Value(c * 100 + h * 10 + w) for w in range(3)] for h in range(2)] for c in range(2)]
    flat = Flatten()(x)
    assert [v.data for v in flat] == [
        c * 100 + h * 10 + w for c in (0, 1) for h in (0, 1) for w in (0, 1, 2)
    ]
    assert flat[4] is x[0][1][1]  # the same Values, regrouped
    assert [v.data for v in Flatten()([[1, 2], [3, 4]])] == [1.0, 2.0, 3.0, 4.0]
    assert [v.data for v in Flatten()([5, 6])] == [5.0, 6.0]


def test_numpy_images_are_accepted():
    np = pytest.importorskip("numpy")
    conv = Conv2d(2, 1, 2, seed=0)
    x = image(2, 3, 3)
    assert data(conv(np.array(x))) == data(conv(x))
    assert data(Flatten()(np.array(x))) == [v for c in x for row in c for v in row]
    # A list of per-channel arrays too: [image] is how one 2-D array gets its channel axis.
    assert data(conv([np.array(c) for c in x])) == data(conv(x))


# --- the graph: one node per output, uniform dots, weight sharing ------------------------------


def test_each_conv_output_is_one_dot_of_the_same_shape():
    conv = Conv2d(2, 3, (2, 3), stride=(1, 2), padding=1, seed=0)
    x = [[[Value(v) for v in row] for row in channel] for channel in image(2, 4, 5)]
    y = conv(x)
    outputs = [v for channel in y for row in channel for v in row]
    assert len(outputs) == 3 * 5 * 3  # H_out = (4 + 2 - 2) + 1, W_out = (5 + 2 - 3) // 2 + 1
    n = 2 * 2 * 3 + 1  # weights of one filter and its bias
    for o, channel in enumerate(y):
        filter_o = [w for kernel in conv.weight[o] for row in kernel for w in row] + [conv.bias[o]]
        for v in (v for row in channel for v in row):
            assert v.op.name == "dot" and len(v.parents) == 2 * n
            assert all(a is b for a, b in zip(v.parents[:n], filter_o))  # the same weights
    # every padded position reads ONE shared zero; every bias reads ONE shared one
    constants = {id(p): p for v in outputs for p in v.parents if isinstance(p, Constant)}
    assert sorted(p.data for p in constants.values()) == [0.0, 1.0]
    ones = [v.parents[-1] for v in outputs]
    assert all(one is ones[0] and one.data == 1.0 for one in ones)
    # and nothing else: the graph is the inputs, the parameters, two constants and the dots
    graph = toposort(sum_of(outputs))
    assert len(graph) == 2 * 4 * 5 + len(conv.parameters()) + 2 + len(outputs) + 1


def test_without_bias_the_dots_are_weights_times_window_only():
    conv = Conv2d(1, 1, 2, bias=False, seed=0)
    y = conv(image(1, 3, 3))
    assert all(len(v.parents) == 8 for row in y[0] for v in row)
    assert conv.bias is None and len(conv.parameters()) == 4


def test_pool_nodes_one_per_window():
    x = [[[Value(v) for v in row] for row in channel] for channel in image(3, 6, 5)]
    y = MaxPool2d(2)(x)
    windows = [v for channel in y for row in channel for v in row]
    assert len(windows) == 3 * 3 * 2
    assert all(v.op.name == "max" and len(v.parents) == 4 for v in windows)
    # no other nodes (the last column is in no window: (5 - 2) // 2 + 1 = 2 windows of 2)
    assert len(toposort(sum_of(windows))) == 3 * 6 * 4 + len(windows) + 1
    avg = [v for channel in AvgPool2d(3, stride=2)(x) for row in channel for v in row]
    assert len(avg) == 3 * 2 * 2
    assert all(v.op.name == "dot" and len(v.parents) == 18 for v in avg)
    assert {p.data for v in avg for p in v.parents[:9]} == {1 / 9}


def test_max_pool_gradient_goes_to_the_winner_only():
    x = [[[Value(1.0), Value(5.0)], [Value(3.0), Value(5.0)]]]
    MaxPool2d(2)(x)[0][0][0].backward()
    assert [[v.grad for v in row] for row in x[0]] == [[0.0, 1.0], [0.0, 0.0]]  # first winner


def test_weight_gradient_is_summed_over_positions():
    # Weight sharing: dL/dw[o][c][u][v] = sum over (i, j) of dL/dy[o][i][j] * x[c][i+u][j+v].
    conv = Conv2d(1, 1, 2, seed=0)
    x = image(1, 4, 4, seed=3)
    y = conv(x)
    rng = random.Random(1)
    upstream = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(3)]
    loss = sum_of(upstream[i][j] * y[0][i][j] for i in range(3) for j in range(3))
    loss.backward()
    for u in range(2):
        for v in range(2):
            by_hand = sum(upstream[i][j] * x[0][i + u][j + v] for i in range(3) for j in range(3))
            assert conv.weight[0][0][u][v].grad == pytest.approx(by_hand, abs=1e-12)
    assert conv.bias[0].grad == pytest.approx(sum(map(sum, upstream)), abs=1e-12)


def test_no_grad_forward_records_nothing():
    conv = Conv2d(1, 2, 2, seed=0)
    with no_grad():
        y = conv(image(1, 3, 3))
    assert all(v.is_leaf for channel in y for row in channel for v in row)


def test_window_indices_are_built_once_per_input_size():
    conv = Conv2d(1, 1, 3, padding=1, seed=0)
    conv(image(1, 4, 4))
    first = conv._gathers
    cached = next(iter(first.values()))
    conv(image(1, 4, 4, seed=5))
    assert next(iter(conv._gathers.values())) is cached and len(conv._gathers) == 1
    y = conv(image(1, 6, 2))  # another size works and gets its own entry
    assert len(y[0]) == 6 and len(y[0][0]) == 2 and len(conv._gathers) == 2


# --- gradients: finite differences and torch ---------------------------------------------------


def _leaves_of(nested):
    if isinstance(nested, Value):
        return [nested]
    return [leaf for item in nested for leaf in _leaves_of(item)]


def _gradcheck_module(module, reshape, x):
    """gradcheck of a fixed random weighted sum of module(x), w.r.t. every input and parameter."""
    params = module.parameters()
    flat_x = _flat(x)
    point = flat_x + [p.data for p in params]

    def f(*leaves):
        xs, ps = leaves[: len(flat_x)], leaves[len(flat_x) :]
        _set_parameters(module, ps)
        outs = _leaves_of(module(reshape(list(xs))))
        rng = random.Random(7)  # the same weights at every call
        return sum_of(rng.uniform(-1, 1) * o for o in outs)

    try:
        return gradcheck(f, point)
    finally:
        _set_parameters(module, [Value(p.data) for p in params])


def _flat(nested):
    if isinstance(nested, (list, tuple)):
        return [v for item in nested for v in _flat(item)]
    return [nested]


def _set_parameters(module, values):
    """Put ``values`` in the parameter slots of a conv (weight, then bias), in order."""
    it = iter(values)
    if not hasattr(module, "weight"):
        return

    def fill(nested):
        for i, item in enumerate(nested):
            if isinstance(item, list):
                fill(item)
            else:
                nested[i] = next(it)

    fill(module.weight)
    if module.bias is not None:
        fill(module.bias)


def _reshaper(c, h, w):
    return lambda flat: [
        [flat[(k * h + i) * w : (k * h + i + 1) * w] for i in range(h)] for k in range(c)
    ]


@pytest.mark.parametrize(
    "module, shape",
    [
        (Conv2d(2, 2, 2, padding=1, seed=0), (2, 3, 3)),
        (Conv2d(1, 2, (1, 2), stride=(2, 1), bias=False, seed=1), (1, 3, 4)),
        (MaxPool2d(2, stride=1), (2, 3, 3)),
        (AvgPool2d(2, padding=1), (1, 3, 3)),
        (Flatten(), (2, 2, 2)),
    ],
    ids=["conv2d-pad", "conv2d-stride-nobias", "maxpool", "avgpool-pad", "flatten"],
)
def test_gradcheck_small_modules(module, shape):
    assert _gradcheck_module(module, _reshaper(*shape), image(*shape, seed=11))


def test_gradcheck_conv1d():
    conv = Conv1d(2, 2, 2, stride=2, padding=1, seed=0)
    x = signal(2, 5, seed=3)
    assert _gradcheck_module(conv, lambda flat: [flat[:5], flat[5:]], x)


TORCH_CASES = [
    *[(f"Conv2d{case}", lambda case=case: make_conv2d(case), case[-1]) for case in CONV2D_CASES],
    ("Conv1d(3,2,3)", lambda: Conv1d(3, 2, 3, seed=1), (3, 8)),
    ("Conv1d(2,3,4,s2,p2,nobias)", lambda: Conv1d(2, 3, 4, 2, 2, bias=False, seed=2), (2, 9)),
    ("Conv1d(1,2,4,same)", lambda: Conv1d(1, 2, 4, padding="same", seed=3), (1, 6)),
    ("MaxPool2d(2)", lambda: MaxPool2d(2), (3, 5, 4)),
    ("MaxPool2d(3,s2,p1)", lambda: MaxPool2d(3, stride=2, padding=1), (2, 6, 7)),
    ("MaxPool2d((2,3),s(1,2))", lambda: MaxPool2d((2, 3), stride=(1, 2)), (2, 4, 7)),
    ("AvgPool2d(2)", lambda: AvgPool2d(2), (3, 5, 4)),
    ("AvgPool2d((3,2),s1,p(1,1))", lambda: AvgPool2d((3, 2), stride=1, padding=1), (2, 4, 5)),
    ("MaxPool1d(3,s2,p1)", lambda: MaxPool1d(3, stride=2, padding=1), (2, 8)),
    ("AvgPool1d(2)", lambda: AvgPool1d(2), (3, 7)),
    ("Flatten", lambda: Flatten(), (3, 2, 4)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's perf note
@pytest.mark.parametrize("name, make, shape", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_every_module_matches_its_torch_twin(name, make, shape):
    pytest.importorskip("torch")
    from tests.nn.torch_oracle import assert_matches_torch

    x = image(*shape, seed=5) if len(shape) == 3 else signal(*shape, seed=5)
    assert_matches_torch(make(), x)


def digits_cnn(seed=0):
    return Sequential(
        Conv2d(1, 8, 3, seed=seed),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Layer(72, 10, nonlin=False, init="lecun_normal", seed=seed),
    )


def test_the_digits_cnn_exports_whole_and_agrees_with_torch():
    torch = pytest.importorskip("torch")
    from tests.nn.torch_oracle import assert_matches_torch

    model = digits_cnn()
    assert_matches_torch(model, image(1, 8, 8, seed=2))
    twin = model.to_torch()
    kinds = [type(m).__name__ for m in twin]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    # The documented way to batches: map the single-example model over dimension 0.
    batch = [image(1, 8, 8, seed=s) for s in range(3)]
    out = torch.vmap(twin)(torch.tensor(batch, dtype=torch.float64))
    for row, x in zip(out.tolist(), batch):
        assert row == pytest.approx([v.data for v in model(x)], abs=1e-12)


def test_to_torch_keeps_config():
    torch = pytest.importorskip("torch")
    twin = Conv2d(2, 3, (2, 3), stride=(2, 1), padding=(1, 0), bias=False).to_torch()
    assert isinstance(twin, torch.nn.Conv2d) and twin.bias is None
    assert (twin.kernel_size, twin.stride, twin.padding) == ((2, 3), (2, 1), (1, 0))
    assert twin.weight.dtype == torch.float64
    pool = AvgPool2d(3, stride=2, padding=1).to_torch()
    config = (pool.kernel_size, pool.stride, pool.padding, pool.count_include_pad)
    assert config == ((3, 3), (2, 2), (1, 1), True)
    assert MaxPool1d(2).to_torch().stride == 2
    assert Conv1d(1, 1, 3, padding="same").to_torch().padding == "same"


# --- parameters: layout, initialisation, state ---------------------------------------------------


def test_parameters_are_laid_out_as_torch():
    conv = Conv2d(2, 3, (2, 4), seed=0)
    assert len(conv.weight) == 3 and len(conv.weight[0]) == 2
    assert len(conv.weight[0][0]) == 2 and len(conv.weight[0][0][0]) == 4
    names = [name for name, _ in conv.named_parameters()]
    assert names[:3] == ["weight.0.0.0.0", "weight.0.0.0.1", "weight.0.0.0.2"]
    assert names[-4:] == ["weight.2.1.1.3", "bias.0", "bias.1", "bias.2"]
    assert len(names) == 3 * 2 * 2 * 4 + 3
    assert list(conv.state_dict()) == ["weight", "bias"]
    assert [name for name, _ in Conv1d(1, 2, 3).named_parameters()][:2] == [
        "weight.0.0.0",
        "weight.0.0.1",
    ]


@pytest.mark.parametrize(
    "make, fan_in",
    [(lambda s: Conv2d(3, 64, (3, 5), seed=s), 45), (lambda s: Conv1d(4, 50, 7, seed=s), 28)],
)
def test_torch_default_initialisation(make, fan_in):
    conv = make(0)
    bound = 1 / math.sqrt(fan_in)
    weights = [p.data for name, p in conv.named_parameters() if name.startswith("weight")]
    biases = [b.data for b in conv.bias]
    for values in (weights, biases):
        assert max(abs(v) for v in values) <= bound
    # U(-a, a): mean 0, variance a^2 / 3; the largest is close to the bound
    mean = sum(weights) / len(weights)
    variance = sum(w * w for w in weights) / len(weights)
    assert abs(mean) < 0.05 * bound and variance == pytest.approx(bound**2 / 3, rel=0.1)
    assert max(abs(v) for v in weights) > 0.98 * bound


def test_seeded_and_the_global_rng_untouched():
    random.seed(0)
    state = random.getstate()
    a = Conv2d(2, 2, 3).state_dict()
    assert random.getstate() == state
    assert a == Conv2d(2, 2, 3).state_dict() == Conv2d(2, 2, 3, seed=1337).state_dict()
    assert Conv2d(2, 2, 3, seed=1).state_dict() != a
    rng = random.Random(0)
    assert Conv2d(1, 1, 2, seed=rng).state_dict() != Conv2d(1, 1, 2, seed=rng).state_dict()


def test_save_load_round_trip_and_bad_file_leaves_model_unchanged(tmp_path):
    model = digits_cnn(seed=3)
    x = image(1, 8, 8, seed=4)
    before = [v.data for v in model(x)]
    path = tmp_path / "cnn.json"
    model.save(path)
    other = digits_cnn(seed=9)
    assert [v.data for v in other(x)] != before
    other.load(path)
    assert [v.data for v in other(x)] == before  # exact: floats round-trip
    document = json.loads(path.read_text())
    assert list(document["state"])[:2] == ["steps.0.weight", "steps.0.bias"]
    document["state"]["steps.0.weight"][0][0] = [[0.0, 0.0]]  # a kernel row too short
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(
        StateDictError, match=r"'steps\.0\.weight\.0\.0' should be a list of 3 lists"
    ):
        other.load(bad)
    assert [v.data for v in other(x)] == before


def test_pickle_and_deepcopy_after_use():
    for module in (
        Conv2d(1, 1, 1, bias=False, seed=0),
        Conv1d(1, 2, 2),
        MaxPool2d(1),
        AvgPool1d(2),
    ):
        x = image(1, 2, 3) if not isinstance(module, (Conv1d, AvgPool1d)) else signal(1, 4)
        expected = data(module(x))  # fills the window cache
        for clone in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
            assert data(clone(x)) == expected


def test_repr_reads_like_torch():
    assert repr(Conv2d(1, 8, 3)) == "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(Conv1d(2, 4, 5, stride=2, padding=2, bias=False)) == (
        "Conv1d(2, 4, kernel_size=(5,), stride=(2,), padding=(2,), bias=False)"
    )
    assert repr(Conv2d(1, 1, 3, padding="same")) == (
        "Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), padding='same')"
    )
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2))"
    assert repr(AvgPool1d(3, 1, 1)) == "AvgPool1d(kernel_size=3, stride=1, padding=1)"
    assert repr(Flatten()) == "Flatten()"


# --- bad input, clear errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, x, message",
    [
        (
            Conv2d(3, 1, 2),
            image(2, 4, 4),
            r"Conv2d expects x\[c\]\[h\]\[w\] with c of length 3, got length 2",
        ),
        (
            Conv2d(1, 1, 2),
            [[[1.0, 2.0], [3.0]]],
            r"Conv2d expects x\[c\]\[h\]\[w\] to be rectangular: w has length 2",
        ),
        (
            Conv2d(1, 1, 3),
            image(1, 2, 5),
            r"Conv2d expects x\[c\]\[h\]\[w\] with h at least the kernel size 3, got h = 2",
        ),
        (
            Conv2d(1, 1, 3, padding=1),
            image(1, 5, 0),
            r"with w at least the kernel size 3 plus padding 2, got w = 0",
        ),
        (
            Conv2d(1, 1, 1),
            [[["a"]]],
            r"Conv2d expects x\[c\]\[h\]\[w\] to hold numbers or Values, got str 'a'",
        ),
        (
            Conv2d(1, 1, 1),
            [[1.0, 2.0]],
            r"Conv2d expects x\[c\]\[h\]\[w\]: a list along w, got float 1.0",
        ),
        (
            Conv1d(2, 1, 2),
            [[1.0, 2.0, 3.0]],
            r"Conv1d expects x\[c\]\[l\] with c of length 2, got length 1",
        ),
        (  # a digit image without its channel axis: the message says what to do
            Conv2d(1, 8, 3),
            image(1, 8, 6)[0],
            r"Conv2d expects x\[c\]\[h\]\[w\] with c of length 1, got length 8; x is 8 x 6, "
            r"one level short: is the c axis missing\? \(a single channel: pass \[x\]\)",
        ),
        (
            Conv1d(1, 1, 2),
            [1.0, 2.0, 3.0],
            r"with c of length 1, got length 3; x is a list of 3, one level short",
        ),
        (
            Conv1d(1, 1, 4),
            [[1.0, 2.0]],
            r"Conv1d expects x\[c\]\[l\] with l at least the kernel size 4, got l = 2",
        ),
        (
            MaxPool2d(3),
            image(2, 2, 5),
            r"MaxPool2d expects x\[c\]\[h\]\[w\] with h at least the kernel size 3, got h = 2",
        ),
        (
            MaxPool2d(2),
            [],
            r"MaxPool2d expects x\[c\]\[h\]\[w\] with at least one channel, got none",
        ),
        (
            AvgPool2d(2),
            [[1.0, 2.0]],
            r"AvgPool2d expects x\[c\]\[h\]\[w\]: a list along w, got float 1.0",
        ),
        (AvgPool1d(2), [[1.0], [2.0, 3.0]], r"AvgPool1d expects x\[c\]\[l\] to be rectangular"),
        (Flatten(), 3.0, r"Flatten expects a nested list of numbers, got float 3.0"),
        (Flatten(), [[1.0], [2.0, 3.0]], r"Flatten expects x\[c\]\[l\] to be rectangular"),
    ],
)
def test_bad_input_is_a_clear_value_error(module, x, message):
    with pytest.raises(ValueError, match=message):
        module(x)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Conv2d(0, 1, 3), r"Conv2d: in_channels must be a positive int, got 0"),
        (lambda: Conv2d(1, 2.0, 3), r"Conv2d: out_channels must be a positive int, got 2.0"),
        (lambda: Conv2d(1, 1, 0), r"Conv2d: kernel_size must be a positive int, got 0"),
        (
            lambda: Conv2d(1, 1, (2, 2, 2)),
            r"Conv2d: kernel_size must be an int or an \(h, w\) pair of ints, got \(2, 2, 2\)",
        ),
        (lambda: Conv2d(1, 1, 3, stride=0), r"Conv2d: stride must be a positive int, got 0"),
        (lambda: Conv2d(1, 1, 3, padding=-1), r"Conv2d: padding must be an int >= 0, got -1"),
        (
            lambda: Conv2d(1, 1, 3, padding="full"),
            r"Conv2d: padding must be an int, a tuple, 'same' or 'valid', got 'full'",
        ),
        (
            lambda: Conv2d(1, 1, 3, stride=2, padding="same"),
            r"Conv2d: padding='same' needs stride 1, got stride \(2, 2\)",
        ),
        (
            lambda: Conv1d(1, 1, (3, 3)),
            r"Conv1d: kernel_size must be an int or a 1-tuple, got \(3, 3\)",
        ),
        (lambda: Conv2d(1, 1, 3, seed="x"), r"seed must be None, an int or a random.Random"),
        (
            lambda: MaxPool2d(2, padding=2),
            r"MaxPool2d: padding must be at most half the kernel size, "
            r"got padding \(2, 2\) with kernel_size \(2, 2\)",
        ),
        (
            lambda: AvgPool1d(3, padding=2),
            r"AvgPool1d: padding must be at most half the kernel size, "
            r"got padding 2 with kernel_size 3",
        ),
        (lambda: MaxPool2d(2, stride=0), r"MaxPool2d: stride must be a positive int, got 0"),
    ],
)
def test_bad_construction_is_a_clear_error(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


# --- in a model: Sequential, clusters, training ------------------------------------------------


def test_record_scopes_tags_conv_and_pool_nodes_with_their_modules():
    model = digits_cnn()
    with record_scopes() as recorder:
        logits = model(image(1, 8, 8))
    graph = toposort(sum_of(logits))
    by_module = {}
    for node in graph:
        scope = recorder.scope_of(node)
        if scope:
            by_module.setdefault(type(scope[-1]).__name__, []).append(node)
    dots = [v for v in by_module["Conv2d"] if v.op is not None]
    assert len(dots) == 8 * 6 * 6 and all(v.op.name == "dot" for v in dots)
    assert len(by_module["MaxPool2d"]) == 8 * 3 * 3
    assert all(recorder.scope_of(v)[0] is model for v in dots)
    # its leaves: its parameters, the 64 pixels it turned into Values, the shared 1 of
    # the biases (no padding, so the shared 0 is read by no window)
    leaves = {v for v in by_module["Conv2d"] if v.op is None}
    pixels = leaves - set(model.steps[0].parameters())
    assert len(leaves) - len(pixels) == 8 * 9 + 8
    assert sorted((type(v).__name__, v.data) for v in pixels)[0] == ("Constant", 1.0)
    assert len(pixels) == 1 + 64


def test_clusters_in_the_drawing():
    pytest.importorskip("graphviz")
    from chaingrad.viz import draw_dot

    model = Sequential(Conv2d(1, 1, 2, seed=0), ReLU(), MaxPool2d(2), Flatten())
    with record_scopes() as recorder:
        (out,) = model(image(1, 3, 3))
    source = draw_dot(out, scopes=recorder, model=model).source
    for name in ("steps.0 (Conv2d)", "steps.1 (ReLU)", "steps.2 (MaxPool2d)"):
        assert name in source


def _digits_images(normalize=True):
    from chaingrad.nn.data import load_digits, train_test_split

    X, y = load_digits()
    images = [[[row[8 * i : 8 * i + 8] for i in range(8)]] for row in X]
    X_train, X_test, y_train, y_test = train_test_split(images, y, 0.2, seed=0)
    if normalize:  # one mean and std over all training pixels, as torchvision's Normalize
        pixels = [v for im in X_train for row in im[0] for v in row]
        mean = sum(pixels) / len(pixels)
        std = math.sqrt(sum((v - mean) ** 2 for v in pixels) / len(pixels))

        def scale(rows):
            return [[[[(v - mean) / std for v in row] for row in im[0]]] for im in rows]

        X_train, X_test = scale(X_train), scale(X_test)
    return X_train, X_test, y_train, y_test


def test_training_lowers_the_loss():
    pytest.importorskip("sklearn")
    X_train, X_test, y_train, y_test = _digits_images()
    model = digits_cnn()
    before = evaluate(model, X_test[:100], y_test[:100])
    optimizer = Adam(model, lr=0.05)
    history = fit(model, X_train[:240], y_train[:240], optimizer=optimizer, batch_size=16, seed=0)
    after = evaluate(model, X_test[:100], y_test[:100])
    assert len(history) == 15
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] > before["accuracy"] + 0.4


@pytest.mark.slow
def test_digits_cnn_reaches_95_percent_in_5_epochs_of_adam():
    pytest.importorskip("sklearn")
    X_train, X_test, y_train, y_test = _digits_images()
    model = digits_cnn()
    optimizer = Adam(model, lr=0.02)
    steps = 5 * math.ceil(len(X_train) / 16)
    start = time.perf_counter()
    fit(
        model,
        X_train,
        y_train,
        optimizer=optimizer,
        schedule=CosineLR(optimizer, steps),
        epochs=5,
        batch_size=16,
        seed=0,
    )
    seconds = time.perf_counter() - start
    result = evaluate(model, X_test, y_test)
    print(f"digits CNN: test accuracy {result['accuracy']:.4f} after 5 epochs in {seconds:.0f} s")
    assert result["accuracy"] >= 0.95


# --- the export takes batches ---------------------------------------------------------------


def small_cnn(seed=0):
    return Sequential(
        Conv2d(1, 3, 3, padding=1, seed=seed),
        ReLU(),
        MaxPool2d(2),
        Conv2d(3, 2, 2, seed=seed + 1),
        Flatten(),
        Layer(2 * 3 * 3, 5, nonlin=False, seed=seed + 2),
    )


def test_the_exported_cnn_takes_a_batch_and_gives_each_examples_output():
    torch = pytest.importorskip("torch")
    from .torch_oracle import assert_batch_matches_examples

    model = small_cnn()
    rng = random.Random(0)
    images = [[[[rng.uniform(-1, 1) for _ in range(8)] for _ in range(8)]] for _ in range(6)]
    assert_batch_matches_examples(model, images)  # (6, 1, 8, 8) -> (6, 5)
    twin = model.to_torch()
    assert twin(torch.tensor(images, dtype=torch.float64)).shape == (6, 5)
    one = twin(torch.tensor(images[0], dtype=torch.float64))  # (1, 8, 8): unbatched still works
    assert one.shape == (5,)
    assert [round(v, 9) for v in one.tolist()] == [round(v.data, 9) for v in model(images[0])]


def test_the_exported_1d_cnn_takes_a_batch():
    pytest.importorskip("torch")
    from .torch_oracle import assert_batch_matches_examples

    model = Sequential(Conv1d(2, 3, 3, seed=0), Tanh(), AvgPool1d(2), Flatten(), Linear(27, 2))
    rng = random.Random(1)
    signals = [[[rng.uniform(-1, 1) for _ in range(20)] for _ in range(2)] for _ in range(4)]
    assert_batch_matches_examples(model, signals)


def test_a_flatten_exported_alone_flattens_one_example():
    torch = pytest.importorskip("torch")
    twin = Flatten().to_torch()
    assert twin(torch.zeros(2, 3, 4)).shape == (24,)
