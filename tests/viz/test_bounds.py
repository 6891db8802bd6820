"""Drawing has bounds: dot's time, chain-rule step lists and GIF memory (issue 10).

Cases that used to take minutes or gigabytes run here in a child process with
an address-space limit (RLIMIT_AS) and a timeout, so a regression fails fast
instead of taking the machine down.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaingrad import Value, sum_of
from chaingrad.viz import StepThrough, draw_dot, render
from chaingrad.viz.output import DotError
from tests.helpers import one_line
from tests.limits import run_limited as run_capped

from .helpers import needs_dot, svg_nodes, tanh_chain

ROOT = Path(__file__).resolve().parents[2]
GiB = 1024**3


def run_limited(code: str, memory: int, timeout: float) -> str:
    """Run ``code`` in a fresh interpreter with at most ``memory`` bytes of address space."""
    done = run_capped(code, memory_mb=memory // 2**20, timeout=timeout, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def product_of_one_leaf(factors: int) -> Value:
    x = Value(1.01, label="x")
    y = x
    for _ in range(factors - 1):
        y = y * x
    return y


# --- dot: guarded before it runs ------------------------------------------------


@needs_dot
def test_a_value_used_by_many_ops_is_summarized_before_dot_sees_it():
    # 61 factors of one leaf with edge labels took dot more than 280 s
    y = product_of_one_leaf(61)
    graph = draw_dot(y, edge_labels=True, timeout=60)
    assert "summarized" in graph.source
    assert "x is used 61 times" in graph.source
    svg = graph.pipe(format="svg")
    assert len(svg_nodes(svg)) <= 60


@needs_dot
def test_a_sum_of_300_terms_of_one_leaf_renders_instead_of_crashing_dot(tmp_path):
    # this overflowed dot's stack: "dot -Tsvg failed: -11"
    x = Value(1.0, label="x")
    y = x
    for _ in range(299):
        y = y + x
    for max_nodes in (500, 1000):  # over max_nodes, and under it: the layout guard
        graph = draw_dot(y, edge_labels=True, max_nodes=max_nodes)
        assert "summarized" in graph.source
        render(graph, tmp_path / f"sum{max_nodes}.svg", timeout=60)
    assert "its edges cross" in draw_dot(y, max_nodes=1000).source


def test_many_edges_between_few_values_are_summarized():
    x = Value(1.0, label="x")
    y = sum_of([x] * 2500)
    source = draw_dot(y).source
    assert "summarized" in source and "2500 edges, more than 4 * max_nodes=500" in source
    assert source.count("->") < 10


def test_the_guard_counts_what_makes_dot_slow():
    from chaingrad.viz.drawing import GraphDrawing
    from chaingrad.viz.summary import MAX_LAYOUT_NODES

    assert GraphDrawing(product_of_one_leaf(10)).layout_nodes() < 200
    assert GraphDrawing(product_of_one_leaf(61)).layout_nodes(edge_labels=True) > MAX_LAYOUT_NODES
    chain = Value(0.5)
    for _ in range(100):
        chain = (chain * 0.9 + 0.1).tanh()
    drawing = GraphDrawing(chain)
    assert len(drawing.order) == 501
    assert drawing.layout_nodes(edge_labels=True) < MAX_LAYOUT_NODES  # a long chain is fine
    # and so it is drawn in full when max_nodes allows
    assert "summarized" not in draw_dot(chain, max_nodes=600, width=None).source


def test_a_step_through_of_a_tangled_graph_is_refused_at_once():
    with pytest.raises(ValueError, match=r"cross .* ranks, too many for dot"):
        StepThrough(product_of_one_leaf(50))


# --- dot: timed out, crashed, failed -> one line ----------------------------------


@pytest.fixture
def fake_dot(tmp_path, monkeypatch):
    """Put a ``dot`` that does what the test says first on PATH."""

    def install(script: str) -> None:
        bin_dir = tmp_path / "fake-bin"
        bin_dir.mkdir(exist_ok=True)
        dot = bin_dir / "dot"
        dot.write_text("#!/bin/sh\n" + script + "\n")
        dot.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    return install


def test_a_slow_dot_is_stopped_after_the_timeout(fake_dot, tmp_path):
    import time

    fake_dot("exec sleep 60")
    y = Value(2.0, label="x") * 3
    target = tmp_path / "g.svg"
    target.write_text("old")
    start = time.perf_counter()
    with pytest.raises(DotError) as info:
        render(y, target, timeout=1)
    assert time.perf_counter() - start < 30
    message = one_line(info.value)
    assert "dot -Tsvg was stopped after 1 s" in message and "timeout=" in message
    assert target.read_text() == "old"  # nothing lost
    for action in (
        lambda: draw_dot(y, timeout=0.5).pipe(format="svg"),
        lambda: draw_dot(y, timeout=0.5)._repr_mimebundle_(),
        lambda: draw_dot(y, timeout=0.5).render(tmp_path / "h", format="svg"),
        lambda: StepThrough(y, timeout=0.5).save(tmp_path / "s.html"),
        lambda: StepThrough(y, timeout=0.5, rankdir="LR").gif_bytes(),
    ):
        with pytest.raises(DotError, match=r"stopped after 0\.5 s"):
            action()


def test_a_values_notebook_display_falls_back_to_text_when_dot_is_too_slow(fake_dot, monkeypatch):
    import importlib

    rendering = importlib.import_module("chaingrad.viz.output")
    fake_dot("exec sleep 60")
    monkeypatch.setattr(rendering, "DEFAULT_TIMEOUT", 0.5)
    y = Value(2.0, label="x") * 3
    assert y._repr_mimebundle_() == {"text/plain": repr(y)}


def test_a_crashing_dot_is_named_with_its_signal(fake_dot, tmp_path):
    fake_dot("kill -SEGV $$")
    with pytest.raises(DotError) as info:
        render(Value(1.0) * 2, tmp_path / "g.svg")
    message = one_line(info.value)
    assert "crashed with SIGSEGV" in message and "-11" not in message
    assert "max_nodes" in message


def test_dot_errors_are_its_last_line(fake_dot, tmp_path):
    fake_dot(
        'echo "Warning: something" >&2; echo "Error: <stdin>: syntax error in line 3" >&2; exit 1'
    )
    with pytest.raises(
        DotError, match="failed on the graph: Error: <stdin>: syntax error in line 3"
    ):
        render(Value(1.0) * 2, tmp_path / "g.svg")


def test_timeouts_are_checked():
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
            render(Value(1.0), "g.svg", timeout=bad)
    with pytest.raises(TypeError, match="timeout must be a number of seconds, got str"):
        draw_dot(Value(1.0), timeout="10")


def test_the_cli_reports_a_timeout_in_one_line(fake_dot, tmp_path):
    fake_dot("exec sleep 60")
    done = subprocess.run(
        [sys.executable, "-m", "chaingrad", "graph", "x*2", "x=1", "-o", str(tmp_path / "g.svg"),
         "--timeout", "1"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "stopped after 1 s" in done.stderr
    assert "Traceback" not in done.stderr


# --- memory: linear, with limits -------------------------------------------------


def test_backprop_steps_memory_grows_linearly():
    # Copying the gradient dict after every step took 1.25 GB for 4,000 additions
    # and 4.95 GB for 8,000; in 600 MB that fails at once.
    out = run_limited(
        """
        import tracemalloc
        from chaingrad import Value
        from chaingrad.viz import backprop_steps

        def peak(n):
            x = Value(1.0, label="x")
            y = x
            for _ in range(n):
                y = y + 1.0
            tracemalloc.start()
            steps = backprop_steps(y, max_steps=None)
            size = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert len(steps) == 2 * n
            return size

        small, large = peak(2000), peak(8000)
        print(small, large, large / small)
        """,
        memory=600 * 1024**2,
        timeout=240,
    )
    _small, large, ratio = out.split()
    assert float(ratio) < 5.5, out  # 4x the steps: ~4x the memory (quadratic would be 16x)
    assert int(large) < 40 * 1024**2, out  # 16,000 steps in well under 40 MB


def test_huge_graphs_are_refused_before_any_work():
    # the loss of MLP(64, [32, 32, 10]) on 40 samples was killed at 24 GB
    out = run_limited(
        """
        import time
        from chaingrad import Value, sum_of
        from chaingrad.nn import MLP
        from chaingrad.viz import StepThrough, backprop_steps, draw_dot

        model = MLP(64, [32, 32, 10], seed=0)
        loss = sum_of([sum_of(model([Value(0.01 * (i + k)) for i in range(64)]))
                       for k in range(40)])
        start = time.perf_counter()
        for make in (backprop_steps, StepThrough):
            try:
                make(loss)
            except ValueError as error:
                assert "more than max_steps" in str(error), error
            else:
                raise AssertionError(f"{make.__name__} accepted it")
        source = draw_dot(loss).source
        assert "summarized" in source
        print(f"{time.perf_counter() - start:.1f}")
        """,
        memory=3 * GiB,
        timeout=600,
    )
    assert float(out) < 120  # refused and summarized, not stepped through


@needs_dot
def test_gif_frames_are_streamed_in_bounded_memory():
    # 87 steps took 5.7 GB when every frame was held as a full-size RGB image. Here
    # holding every frame would take frames * width * height * 3 bytes; streaming
    # holds a few frames, whatever the number of steps.
    out = run_limited(
        """
        import resource
        from chaingrad import Value, sum_of
        from chaingrad.viz import StepThrough

        def peak_kib():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        a, b = Value(0.5, label="a"), Value(-1.5, label="b")
        st = StepThrough(sum_of([a, b] * 24))
        StepThrough(a * b).gif_bytes()  # imports Pillow and loads a font first
        before = peak_kib()
        data = st.gif_bytes(duration_ms=100, width=None)
        grown = (peak_kib() - before) * 1024
        from io import BytesIO
        from PIL import Image
        with Image.open(BytesIO(data)) as gif:
            print(len(st), gif.n_frames, gif.width * gif.height * 3, grown)
        """,
        memory=1 * GiB,
        timeout=600,
    )
    steps, frames, frame_bytes, grown = (int(v) for v in out.split())
    assert frames == steps == 49
    held_all = frames * frame_bytes  # what keeping every frame as RGB would take
    assert grown < held_all / 3, out  # a few frames, not all of them


@needs_dot
def test_an_unreadable_gif_is_refused_with_a_pointer_to_the_player():
    y = tanh_chain(20)
    st = StepThrough(y, rankdir="LR")
    with pytest.raises(ValueError, match=r"text below 10 px; save a \.html player instead"):
        st.gif_bytes()
    assert StepThrough(y).rankdir == "TB"  # which is why auto turns a chain


# --- draw_program: a compiled step over a long sequence (issue 17) ---------------------


@needs_dot
def test_draw_program_of_a_long_recurrent_step_is_summarized_and_dot_finishes():
    # 800 steps of h = tanh(w*h + u*x): 2,400 groups, one per depth. Drawn one box
    # each, dot ran past its 60 s limit (and crashed on longer chains).
    out = run_limited(
        """
        import time
        from chaingrad import Value, jit
        from chaingrad.viz import draw_program

        w, u = Value(0.5, label="w"), Value(0.3, label="u")

        def rnn(xs):
            h = Value(0.0)
            for x in xs:
                h = (w * h + u * x).tanh()
            return h

        step = jit(rnn, params=[w, u])
        step([0.1] * 800)
        for view in ("auto", "ops"):
            graph = draw_program(step, view, timeout=60)
            start = time.perf_counter()
            svg = graph.pipe(format="svg").decode()
            boxes = sum(1 for line in graph.body if "[label=" in line)
            print(view, boxes, round(time.perf_counter() - start, 1), "drawn as" in svg)
        """,
        memory=1 * GiB,
        timeout=240,
    )
    for line in out.split("\n")[:2]:
        _view, boxes, seconds, noted = line.split()
        assert int(boxes) <= 40, line
        assert float(seconds) < 20, line
        assert noted == "True", line  # the title says the groups were merged


def test_draw_program_errors_advise_its_own_options(fake_dot):
    from chaingrad import jit
    from chaingrad.viz import draw_program

    w = Value(0.5, label="w")
    step = jit(lambda x: (w * x).tanh(), params=[w])
    step(2.0)
    fake_dot("exec sleep 60")
    with pytest.raises(DotError) as info:
        draw_program(step, timeout=0.5).pipe(format="svg")
    message = one_line(info.value)
    assert "max_boxes" in message and "draw_program" in message and "max_nodes" not in message
    fake_dot("kill -SEGV $$")
    with pytest.raises(DotError, match=r"crashed with SIGSEGV.*draw_program's max_boxes"):
        draw_program(step).pipe(format="svg")
    with pytest.raises(ValueError, match="max_boxes must be an int >= 3 or None"):
        draw_program(step, max_boxes=1)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        draw_program(step, timeout=-1)
