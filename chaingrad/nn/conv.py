"""Convolution and pooling on one example, as PyTorch computes them: Conv2d, Conv1d, pools, Flatten.

An image is a nested list ``x[c][h][w]``: ``C`` channels (1 for grey, 3 for
RGB, ``out_channels`` after a convolution) of ``H`` rows of ``W`` numbers or
Values. There is no batch dimension: a model is called on one example at a
time. A 1-D signal is ``x[c][l]``.

**Convolution.** ``Conv2d`` slides ``O`` filters over the image. Filter ``o``
is one ``kh x kw`` kernel per input channel, ``weight[o][c][u][v]``, plus a bias
``bias[o]``. With stride ``s`` and zero padding ``p`` (positions outside the
image read 0; ``padding="same"`` pads so that the output is as large as the
input), output channel ``o`` at position ``(i, j)`` is::

    y[o][i][j] = bias[o] + sum over c, u, v of  weight[o][c][u][v] * x[c][i*s + u - p][j*s + v - p]

    shapes:  x[C][H][W]  ->  y[O][H_out][W_out],   H_out = (H + 2*p - kh) // s + 1
                                                    W_out = (W + 2*p - kw) // s + 1

The same filter is used at every position (*weight sharing*), so a weight's
gradient is the sum of its contributions from every output:
``dL/dweight[o][c][u][v] = sum over i, j of dL/dy[o][i][j] * x[c][i*s+u-p][j*s+v-p]``.
``Conv1d`` is the same with one spatial axis: ``y[o][i] = bias[o] + sum over
c, u of weight[o][c][u] * x[c][i*s + u - p]``.

**Pooling.** ``MaxPool2d`` (``AvgPool2d``) replaces each ``k x k`` window of a
channel by its largest value (its mean); windows move by ``stride``, which
defaults to the kernel size, so they do not overlap. Channels are pooled
separately: ``y[c][i][j] = max over u, v of x[c][i*s + u - p][j*s + v - p]``.
Max pooling's gradient goes to the window's winner only. ``Flatten`` turns
``x[c][h][w]`` into one vector in C order (channel, then row, then column), as
``torch.flatten`` does, so a ``Layer`` after it maps one to one onto an
``nn.Linear`` after ``nn.Flatten``.

**In the graph.** Each convolution output is ONE ``dot`` node over the filter
(bias included, as the weight of a constant input 1) and the window under it;
padded positions read one shared constant 0. Every output of a layer is
therefore a ``dot`` of the same length, with the same weights at every
position: the shape a compiler turns into one matrix product (im2col). Each max
pooling window is one ``max_of`` node and each average pooling window one ``dot``
with constant weights ``1/k``. Which input each window reads is worked out
once per input size and reused, so building the graph is a loop over ready
index lists.

**Initialisation** is PyTorch's default: every weight and bias is drawn from
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = in_channels * kh * kw``
(what ``kaiming_uniform_(a=sqrt(5))`` gives), from a seeded
``random.Random`` (``seed=``, see :mod:`chaingrad.nn.init`).

**PyTorch.** ``to_torch()`` gives ``nn.Conv2d``, ``nn.Conv1d``,
``nn.MaxPool2d``, ``nn.AvgPool2d``, ``nn.MaxPool1d``, ``nn.AvgPool1d`` and
``nn.Flatten``; they take one example, a ``(C, H, W)`` tensor (``(C, L)`` for
the 1-D ones), or a batch ``(B, C, H, W)``, and give each example's output.
In a ``Sequential`` after convolutions or pooling, ``Flatten`` exports as
``nn.Flatten(start_dim=-3)`` (``-2`` in 1-D): the example's dimensions are
flattened and a batch dimension in front is kept. A ``Flatten`` exported on
its own does not know where an example starts: it is ``nn.Flatten(start_dim=0)``,
one example.

>>> from chaingrad.nn import Conv2d
>>> conv = Conv2d(1, 2, kernel_size=2, seed=0)
>>> y = conv([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
>>> len(y), len(y[0]), len(y[0][0])          # 2 channels of 2 x 2
(2, 2, 2)
>>> y[0][0][0].op.name, len(y[0][0][0].parents)   # 4 weights + bias, 4 pixels + the 1
('dot', 10)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from chaingrad.engine import Constant, Value, dot, max_of

from ._checks import _describe, as_value_array, check_int
from ._memory import check_parameters
from .init import Seed, make_rng
from .module import Module

# A window reads its inputs out of the flat list of an image's pixels in one call.
Gather = Callable[[Sequence[Value]], tuple[Value, ...]]

Padding = tuple[int, ...] | str


# --- argument checks --------------------------------------------------------------------


def _ints(value: Any, n: int, what: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` as a tuple of ``n`` ints >= ``minimum``: an int is repeated, as in torch."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            wanted = "an (h, w) pair of ints" if n == 2 else "a 1-tuple"
            raise ValueError(f"{what} must be an int or {wanted}, got {value!r}")
        return tuple(check_int(v, what, minimum) for v in value)
    return (check_int(value, what, minimum),) * n


def _conv_padding(padding: Any, n: int, who: str, stride: tuple[int, ...]) -> Padding:
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(
                f"{who}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}"
            )
        if padding == "same" and stride != (1,) * n:
            raise ValueError(f"{who}: padding='same' needs stride 1, got stride {stride}")
        return padding
    return _ints(padding, n, f"{who}: padding", minimum=0)


def _pads(padding: Padding, kernel: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(before, after)`` zeros per spatial axis; 'same' puts an odd one after, as torch."""
    if padding == "same":
        return [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel]
    if isinstance(padding, str):  # "valid"
        return [(0, 0) for _ in kernel]
    return [(p, p) for p in padding]


def _pool_args(
    who: str, n: int, kernel_size: Any, stride: Any, padding: Any
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    kernel = _ints(kernel_size, n, f"{who}: kernel_size")
    strides = kernel if stride is None else _ints(stride, n, f"{who}: stride")
    pads = _ints(padding, n, f"{who}: padding", minimum=0)
    if any(2 * p > k for p, k in zip(pads, kernel)):
        raise ValueError(
            f"{who}: padding must be at most half the kernel size, "
            f"got padding {_shown(pads)} with kernel_size {_shown(kernel)}"
        )
    return kernel, strides, pads


def _shown(sizes: tuple[int, ...]) -> int | tuple[int, ...]:
    return sizes[0] if len(sizes) == 1 else sizes


# --- where each window reads -------------------------------------------------------------


def _window_indices(
    channels: int,
    height: int,
    width: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: list[tuple[int, int]],
    pad_index: int,
) -> list[list[list[int]]]:
    """``windows[i][j]``: flat indices of ``x[c][i*s + u - p][j*s + v - p]`` in (c, u, v) order.

    The flat index of ``x[c][r][col]`` is ``c*H*W + r*W + col``; a position in
    the padding reads ``pad_index`` instead.
    """
    (kh, kw), (sh, sw) = kernel, stride
    (top, bottom), (left, right) = pads
    out_h = (height + top + bottom - kh) // sh + 1
    out_w = (width + left + right - kw) // sw + 1
    windows = []
    for i in range(out_h):
        row = []
        for j in range(out_w):
            window = []
            for c in range(channels):
                for u in range(kh):
                    r = i * sh + u - top
                    for v in range(kw):
                        col = j * sw + v - left
                        inside = 0 <= r < height and 0 <= col < width
                        window.append(c * height * width + r * width + col if inside else pad_index)
            row.append(window)
        windows.append(row)
    return windows


def _gather(indices: list[int]) -> Gather:
    """A function picking ``pixels[k]`` for each ``k`` in ``indices``, as one tuple."""
    if len(indices) == 1:  # itemgetter with one index returns the item, not a 1-tuple
        return _GatherOne(indices[0])
    return itemgetter(*indices)


class _GatherOne:
    """``pixels -> (pixels[k],)``: a 1x1 window (a class, not a lambda, so modules pickle)."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, pixels: Sequence[Value]) -> tuple[Value, ...]:
        return (pixels[self.k],)


def _image(x: Any, who: str, channels: int | None, rank: int) -> list[Any]:
    """``x`` as ``x[c][h][w]`` of Values (a 1-D ``x[c][l]`` becomes ``x[c][1][l]``)."""
    axes = "x[c][h][w]" if rank == 2 else "x[c][l]"
    image = as_value_array(x, (channels, *[None] * rank), who, axes)
    if not image:
        raise ValueError(f"{who} expects {axes} with at least one channel, got none")
    return image if rank == 2 else [[signal] for signal in image]


def _size(image: list[Any]) -> tuple[int, int]:
    height = len(image[0])
    return height, len(image[0][0]) if height else 0


def _check_fits(
    who: str, rank: int, size: tuple[int, int], kernel: tuple[int, ...], pads: list[Any]
) -> None:
    """A ValueError unless the (padded) input is at least as large as the kernel."""
    names = ("h", "w") if rank == 2 else ("l",)
    for name, n, k, (before, after) in zip(names, size[2 - rank :], kernel, pads):
        if n + before + after < k:
            axes = "x[c][h][w]" if rank == 2 else "x[c][l]"
            padded = f" plus padding {before + after}" if before + after else ""
            raise ValueError(
                f"{who} expects {axes} with {name} at least the kernel size {k}{padded}, "
                f"got {name} = {n}"
            )


# --- convolution ------------------------------------------------------------------------


class _Conv(Module):
    """What Conv2d and Conv1d share; a 1-D signal is computed as an image of one row."""

    _rank: int  # number of spatial axes

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...],
        padding: int | tuple[int, ...] | str,
        bias: bool,
        seed: Seed,
    ) -> None:
        who, n = type(self).__name__, self._rank
        self.in_channels = check_int(in_channels, f"{who}: in_channels")
        self.out_channels = check_int(out_channels, f"{who}: out_channels")
        self.kernel_size = _ints(kernel_size, n, f"{who}: kernel_size")
        self.stride = _ints(stride, n, f"{who}: stride")
        self.padding = _conv_padding(padding, n, who, self.stride)
        # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
        fan_in = self.in_channels * math.prod(self.kernel_size)
        check_parameters(who, self.out_channels * (fan_in + (1 if bias else 0)))
        bound = 1.0 / math.sqrt(fan_in)
        rng = make_rng(seed)

        def draw() -> Value:
            return Value(rng.uniform(-bound, bound))

        self.weight = [
            [_filled(self.kernel_size, draw) for _ in range(self.in_channels)]
            for _ in range(self.out_channels)
        ]
        self.bias = [draw() for _ in range(self.out_channels)] if bias else None
        self._gathers: dict[tuple[Any, ...], list[list[Gather]]] = {}

    def forward(self, x: Any) -> list[Any]:
        who = type(self).__name__
        image = _image(x, who, self.in_channels, self._rank)
        windows = self._windows(image)
        # Padding reads one shared 0; the bias is the weight of one shared 1.
        zero, one = Constant(0.0), Constant(1.0)
        pixels = [v for channel in image for row in channel for v in row]
        pixels += (zero, one)
        y = []
        for o in range(self.out_channels):
            filter_o = self._filter(o)
            y.append([[dot(filter_o, window(pixels)) for window in row] for row in windows])
        return y if self._rank == 2 else [channel[0] for channel in y]

    def _filter(self, o: int) -> list[Value]:
        """Filter ``o`` flat in (c, u, v) order, then its bias: the weights of each output's dot."""
        flat = [w for kernel in self.weight[o] for w in _leaves(kernel)]
        if self.bias is not None:
            flat.append(self.bias[o])
        return flat

    def _windows(self, image: list[Any]) -> list[list[Gather]]:
        """Per output position, the gather of its window (+ the 1 for the bias); cached per size."""
        size = _size(image)
        key = (size, self.kernel_size, self.stride, self.padding, self.bias is not None)
        gathers = self._gathers.get(key)
        if gathers is None:
            pads = _pads(self.padding, self.kernel_size)
            _check_fits(type(self).__name__, self._rank, size, self.kernel_size, pads)
            kernel, stride = _as_2d(self.kernel_size), _as_2d(self.stride)
            pads = [(0, 0)] * (2 - self._rank) + pads
            pad_index = self.in_channels * size[0] * size[1]  # where the 0 is; the 1 follows
            bias_index = [pad_index + 1] if self.bias is not None else []
            indices = _window_indices(self.in_channels, *size, kernel, stride, pads, pad_index)
            gathers = [[_gather(window + bias_index) for window in row] for row in indices]
            self._gathers[key] = gathers
        return gathers

    def torch_parameters(self) -> Iterator[tuple[str, Any]]:
        yield "weight", self.weight
        if self.bias is not None:
            yield "bias", self.bias

    def _torch_module_in(self, torch: Any, example_dims: int | None) -> tuple[Any, int | None]:
        return self._torch_module(torch), self._rank + 1  # (C, H, W) or (C, L) per example

    def _torch_module(self, torch: Any) -> Any:
        layer = getattr(torch.nn, type(self).__name__)
        return layer(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            bias=self.bias is not None,
        )

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}"
        if self.padding != "valid" and self.padding != (0,) * self._rank:
            text += f", padding={self.padding!r}"
        if self.bias is None:
            text += ", bias=False"
        return text


def _filled(shape: tuple[int, ...], draw: Callable[[], Value]) -> list[Any]:
    """A nested list of the given shape (1 or 2 axes: a kernel) of fresh draws."""
    if len(shape) == 1:
        return [draw() for _ in range(shape[0])]
    return [[draw() for _ in range(shape[1])] for _ in range(shape[0])]


def _leaves(kernel: list[Any]) -> list[Value]:
    """A kernel's Values in row order (``kernel[u]`` or ``kernel[u][v]``)."""
    return kernel if isinstance(kernel[0], Value) else [w for row in kernel for w in row]


def _as_2d(sizes: tuple[int, ...]) -> tuple[int, int]:
    return (1, sizes[0]) if len(sizes) == 1 else (sizes[0], sizes[1])


class Conv2d(_Conv):
    """2-D convolution: ``out_channels`` filters of ``in_channels x kh x kw`` slid over an image.

    ``y[o][i][j] = bias[o] + sum over c, u, v of weight[o][c][u][v] * x[c][i*s+u-p][j*s+v-p]``
    (see :mod:`chaingrad.nn.conv`). ``kernel_size``, ``stride`` and ``padding``
    are an int or an ``(h, w)`` pair; ``padding`` may also be ``"same"`` (output
    as large as the input; stride 1) or ``"valid"`` (none). Parameters are laid
    out as in ``torch.nn.Conv2d``: ``weight[o][c][u][v]`` and ``bias[o]``
    (``bias=False``: none), initialised from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``,
    ``fan_in = in_channels * kh * kw``, drawn from ``seed``. Each output is one
    ``dot`` node.

    >>> conv = Conv2d(3, 8, kernel_size=3, padding=1, seed=0)
    >>> conv
    Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    >>> image = [[[0.5] * 5 for _ in range(4)] for _ in range(3)]   # x[3][4][5]
    >>> y = conv(image)
    >>> len(y), len(y[0]), len(y[0][0])
    (8, 4, 5)
    >>> [name for name, _ in conv.named_parameters()][:2]
    ['weight.0.0.0.0', 'weight.0.0.0.1']
    """

    _rank = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        bias: bool = True,
        *,
        seed: Seed = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias, seed)


class Conv1d(_Conv):
    """1-D convolution over a signal ``x[c][l]``, with filters ``weight[o][c][u]``.

    ``y[o][i] = bias[o] + sum over c, u of weight[o][c][u] * x[c][i*s+u-p]``: a signal
    of length ``L`` with ``in_channels`` channels becomes
    ``out_channels`` signals of length ``(L + 2p - k) // s + 1``. Arguments,
    initialisation and layout as :class:`Conv2d` with one spatial axis
    (``weight[o][c][u]``, as ``torch.nn.Conv1d``).

    >>> conv = Conv1d(1, 1, kernel_size=2, bias=False, seed=0)
    >>> conv.weight[0][0][0].data, conv.weight[0][0][1].data = 1.0, -1.0   # a difference filter
    >>> [v.data for v in conv([[1.0, 4.0, 9.0, 16.0]])[0]]
    [-3.0, -5.0, -7.0]
    """

    _rank = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        bias: bool = True,
        *,
        seed: Seed = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias, seed)


# --- pooling ----------------------------------------------------------------------------


class _Pool(Module):
    """What the pools share: each channel's windows, reduced one by one by ``_reduce``."""

    _rank: int
    _pad_data: float  # what a padded position reads (-inf for max: it never wins)

    def __init__(
        self,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] | None = None,
        padding: int | tuple[int, ...] = 0,
    ) -> None:
        who, n = type(self).__name__, self._rank
        self.kernel_size, self.stride, self.padding = _pool_args(
            who, n, kernel_size, stride, padding
        )
        self._gathers: dict[tuple[Any, ...], list[list[Gather]]] = {}

    def _reducer(self) -> Callable[[tuple[Value, ...]], Value]:
        """The function making one window's output node (called once per forward)."""
        raise NotImplementedError

    def forward(self, x: Any) -> list[Any]:
        image = _image(x, type(self).__name__, None, self._rank)
        windows = self._windows(image)
        pad = Constant(self._pad_data)
        reduce = self._reducer()
        y = []
        for channel in image:
            pixels = [v for row in channel for v in row]
            pixels.append(pad)
            y.append([[reduce(window(pixels)) for window in row] for row in windows])
        return y if self._rank == 2 else [channel[0] for channel in y]

    def _windows(self, image: list[Any]) -> list[list[Gather]]:
        size = _size(image)
        key = (size, self.kernel_size, self.stride, self.padding)
        gathers = self._gathers.get(key)
        if gathers is None:
            pads = [(p, p) for p in self.padding]
            _check_fits(type(self).__name__, self._rank, size, self.kernel_size, pads)
            pads = [(0, 0)] * (2 - self._rank) + pads
            kernel, stride = _as_2d(self.kernel_size), _as_2d(self.stride)
            pad_index = size[0] * size[1]  # one channel at a time
            indices = _window_indices(1, *size, kernel, stride, pads, pad_index)
            gathers = [[_gather(window) for window in row] for row in indices]
            self._gathers[key] = gathers
        return gathers

    def _torch_module_in(self, torch: Any, example_dims: int | None) -> tuple[Any, int | None]:
        return self._torch_module(torch), self._rank + 1  # (C, H, W) or (C, L) per example

    def _torch_module(self, torch: Any) -> Any:
        pool = getattr(torch.nn, type(self).__name__)
        return pool(_shown(self.kernel_size), _shown(self.stride), _shown(self.padding))

    def extra_repr(self) -> str:
        text = f"kernel_size={_shown(self.kernel_size)}, stride={_shown(self.stride)}"
        if any(self.padding):
            text += f", padding={_shown(self.padding)}"
        return text


class _MaxPool(_Pool):
    _pad_data = -math.inf

    def _reducer(self) -> Callable[[tuple[Value, ...]], Value]:
        # One node per window: the winner is picked by the op, again at every
        # replay, never by a Python comparison frozen into the graph.
        return max_of


class _AvgPool(_Pool):
    _pad_data = 0.0

    def _reducer(self) -> Callable[[tuple[Value, ...]], Value]:
        # One dot per window with constant weights 1/k, shared by every window
        # of this call; padded zeros count in k (torch's count_include_pad=True).
        k = math.prod(self.kernel_size)
        weights = (Constant(1.0 / k),) * k
        return lambda window: dot(weights, window)


class MaxPool2d(_MaxPool):
    """The largest value of each ``kernel_size`` window of each channel of ``x[c][h][w]``.

    ``stride`` defaults to ``kernel_size`` (windows side by side, as torch);
    ``padding`` (at most half the kernel) adds borders that never win. Each
    window is one ``max_of`` node: the gradient goes to the window's largest
    input (the first one on a tie, as torch). No parameters.

    >>> pool = MaxPool2d(2)
    >>> y = pool([[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]])
    >>> [[v.data for v in row] for row in y[0]]
    [[4.0, 5.0]]
    """

    _rank = 2


class AvgPool2d(_AvgPool):
    """The mean of each ``kernel_size`` window of each channel of ``x[c][h][w]``.

    ``stride`` defaults to ``kernel_size``; with ``padding`` the padded zeros
    count in the mean (torch's ``count_include_pad=True``). Each window is one
    ``dot`` node with constant weights ``1/k``. No parameters.

    >>> pool = AvgPool2d(2)
    >>> y = pool([[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]])
    >>> [[v.data for v in row] for row in y[0]]
    [[2.5, 1.75]]
    """

    _rank = 2


class MaxPool1d(_MaxPool):
    """:class:`MaxPool2d` along a signal ``x[c][l]``: the largest of each window of ``kernel_size``.

    >>> [v.data for v in MaxPool1d(2)([[1.0, 3.0, 2.0, 0.0, 7.0]])[0]]
    [3.0, 2.0]
    """

    _rank = 1


class AvgPool1d(_AvgPool):
    """:class:`AvgPool2d` along a signal ``x[c][l]``: the mean of each window of ``kernel_size``.

    >>> [v.data for v in AvgPool1d(2)([[1.0, 3.0, 2.0, 0.0, 7.0]])[0]]
    [2.0, 1.0]
    """

    _rank = 1


# --- from feature maps to a vector ---------------------------------------------------------


_AXES = {1: "x[i]", 2: "x[c][l]", 3: "x[c][h][w]"}


class Flatten(Module):
    """All the numbers of ``x`` as one list, in C order: ``x[c][h][w]`` is item ``c*H*W + h*W + w``.

    That is ``torch.flatten``'s order, so ``Flatten()`` then ``Layer(C*H*W, n)``
    maps one to one onto ``nn.Flatten`` then ``nn.Linear``. Makes no nodes:
    it only regroups the Values (numbers become Values). In a ``Sequential``
    after convolutions or pooling, ``to_torch()`` gives
    ``nn.Flatten(start_dim=-3)`` (``-2`` after 1-D layers), which takes one
    example ``(C, H, W)`` or a batch ``(B, C, H, W)``; on its own it is
    ``nn.Flatten(start_dim=0)``, which flattens a single example like this module.

    >>> [v.data for v in Flatten()([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])]
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    """

    def forward(self, x: Any) -> list[Value]:
        if hasattr(x, "tolist") and not isinstance(x, Value):
            x = x.tolist()  # a numpy array
        # The nesting depth, read down the first items; as_value_array checks the rest.
        depth, item = 0, x
        while isinstance(item, (list, tuple)):
            depth += 1
            if not item:
                break
            item = item[0]
        if depth == 0:
            raise ValueError(f"Flatten expects a nested list of numbers, got {_describe(x)}")
        axes = _AXES.get(depth) or "x" + "".join(f"[d{k}]" for k in range(depth))
        flat = as_value_array(x, [None] * depth, "Flatten", axes)
        for _ in range(depth - 1):
            flat = [v for sub in flat for v in sub]
        return flat

    def _torch_module(self, torch: Any) -> Any:
        return torch.nn.Flatten(start_dim=0)

    def _torch_module_in(self, torch: Any, example_dims: int | None) -> tuple[Any, int | None]:
        if example_dims is None:  # alone, or after a module that does not say
            return self._torch_module(torch), 1
        # The last example_dims dimensions are one example; any in front are a batch.
        return torch.nn.Flatten(start_dim=-example_dims), 1
