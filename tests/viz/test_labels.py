"""Any label draws safely: control characters, markup, scripts, non-str values (issue 10)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from chaingrad import Value
from chaingrad.viz import StepThrough, draw_dot
from chaingrad.viz.text import safe_text

from .helpers import needs_dot, svg_nodes, svg_text

HOSTILE = [
    "nul\x00byte",
    "ctrl\x01\x02\x7f",
    "esc\x1b[31mred",
    "new\nline\ttab\rreturn",
    "<!--<script>",
    "</script><script>document.title='pwned'</script>",
    '"quotes" & <b>tags</b> \\ backslash \\N \\G \\l',
    "line\u2028separator\u2029para",
    "lone \udcff surrogate",
    "bidi \u202e override",
    "wide 漢字 and emoji 🙂",
    "x" * 5000,
    "]; n0 -> n1; [",
    "{ } subgraph cluster_x {",
]


def labelled_graph(labels):
    values = [Value(float(k + 1), label=label) for k, label in enumerate(labels)]
    out = values[0]
    for v in values[1:]:
        out = out + v
    out.label = labels[-1]
    return out


def test_safe_text_escapes_what_dot_and_svg_cannot_hold():
    assert safe_text("a\x00b") == "a\\x00b"
    assert safe_text("\x1b[31m") == "\\x1b[31m"
    assert safe_text("lone \udcff") == "lone \\udcff"
    assert safe_text("a\u2028b") == "a\\u2028b"
    assert safe_text(123) == "123" and safe_text(None) == "None"
    assert len(safe_text("x" * 5000)) == 40 and safe_text("x" * 5000).endswith("…")

    class Weird:
        def __str__(self):
            raise RuntimeError("no")

    assert safe_text(Weird()) == "<Weird>"


def test_a_label_that_is_not_a_string_is_refused_when_made_and_drawn_when_set():
    with pytest.raises(TypeError, match="label must be a str, got int"):
        Value(1.0, label=123)
    v = Value(1.0)
    v.label = 123  # set later, past the constructor: still drawn, as text
    y = v * 2
    assert "<b>123</b>" in draw_dot(y).source
    assert any(c.startswith("step 1 of 2: grad(123) +=") for c in StepThrough(y).captions)


@needs_dot
def test_hostile_labels_make_valid_dot_and_svg():
    graph = draw_dot(labelled_graph(HOSTILE), edge_labels=True, number_backward=True)
    svg = graph.pipe(format="svg")
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg")
    text = " ".join(svg_text(node) for node in svg_nodes(svg).values())
    assert "nul\\x00byte" in text and "esc\\x1b[31mred" in text
    assert "<!--<script>" in text  # shown as text, escaped in the file
    assert b"<script" not in svg and b"<!--<script" not in svg


@needs_dot
def test_hostile_labels_in_the_player_cannot_stop_its_script(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    st = StepThrough(labelled_graph(HOSTILE[:-3]))
    page = st.to_html(element_id="player")
    assert page.count("<script") == 1 and page.count("</script>") == 1
    assert "<!--" not in page.split("<script>")[1]  # the data cannot open a comment
    if chromium is None:
        pytest.skip("chromium not installed")
    path = tmp_path / "hostile.html"
    path.write_text(page + "<script>document.querySelector('#player .cg-last').click();</script>")
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
         path.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    last = len(st) - 1
    assert f'data-current="{last}"' in dom  # the script ran, and the buttons work
    assert dom.count("<li ") == len(st)  # the step list was built
    assert "<title>chaingrad: backprop step by step</title>" in dom  # no label ran as script


def test_fuzzed_labels_always_make_valid_dot():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from chaingrad.viz.output import dot_available, pipe

    if not dot_available():
        pytest.skip("Graphviz 'dot' not installed")

    @settings(max_examples=LABEL_CASES, deadline=None)
    @given(st.lists(st.text(max_size=30), min_size=2, max_size=4))
    def check(labels):
        svg = pipe(draw_dot(labelled_graph(labels), edge_labels=True).source, "svg", 30)
        ET.fromstring(svg)

    check()


LABEL_CASES = 60
