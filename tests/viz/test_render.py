"""render() to files, inline display, and the one clear error when dot is missing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from chaingrad import Value
from chaingrad.viz import GraphvizNotFoundError, draw_dot, render

from .helpers import needs_dot, neuron, svg_nodes


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A PATH on which no Graphviz program can be found."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


@needs_dot
@pytest.mark.parametrize(
    ("name", "magic"), [("g.svg", b"<?xml"), ("g.png", b"\x89PNG"), ("g.pdf", b"%PDF")]
)
def test_render_picks_the_format_from_the_extension_and_leaves_nothing_else(tmp_path, name, magic):
    g = neuron()
    g["o"].backward()
    out = render(g["o"], tmp_path / name, edge_labels=True)
    assert out == tmp_path / name
    assert out.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no stray .gv file
    if name.endswith(".svg"):
        assert len([n for n in svg_nodes(out.read_bytes()) if n.startswith("n")]) == 10


def test_render_dot_text_and_ready_graphs(tmp_path):
    g = neuron()
    graph = draw_dot(g["o"])
    out = render(graph, tmp_path / "g.dot")
    assert out.read_text() == graph.source
    assert render(g["o"], tmp_path / "h.gv").read_text() == graph.source


def test_render_refuses_unknown_extensions_and_missing_directories(tmp_path):
    x = Value(1.0)
    with pytest.raises(ValueError, match=r"cannot tell the format of .*g\.jpg.*\.svg"):
        render(x, tmp_path / "g.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        render(x, tmp_path / "missing" / "g.dot")
    with pytest.raises(TypeError, match="expected a Value or a graphviz graph"):
        render("x", tmp_path / "g.dot")
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_render_keeps_an_existing_file_when_drawing_fails(tmp_path, monkeypatch):
    target = tmp_path / "g.svg"
    target.write_text("old")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(GraphvizNotFoundError):
        render(Value(1.0) * 2, target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]


def test_missing_dot_is_one_clear_error_with_install_commands(no_dot, tmp_path):
    y = Value(2.0, label="x") * 3
    for action in (
        lambda: render(y, tmp_path / "g.svg"),
        lambda: draw_dot(y).pipe(format="svg"),
        lambda: draw_dot(y).render(tmp_path / "g", format="svg"),
        lambda: draw_dot(y)._repr_mimebundle_(),
    ):
        with pytest.raises(GraphvizNotFoundError) as info:
            action()
        message = str(info.value)
        assert "'dot'" in message
        for hint in ("apt install graphviz", "brew install graphviz", "conda install"):
            assert hint in message


@needs_dot
def test_value_shows_its_graph_inline():
    g = neuron()
    g["o"].backward()
    bundle = g["o"]._repr_mimebundle_()
    assert bundle["text/plain"] == repr(g["o"])
    svg = bundle["image/svg+xml"]
    assert ET.fromstring(svg.encode()).tag.endswith("svg")
    assert len([n for n in svg_nodes(svg.encode()) if n.startswith("n")]) == 10
    assert "image/svg+xml" not in g["o"]._repr_mimebundle_(exclude={"image/svg+xml"})
    assert set(g["o"]._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}


def test_value_display_falls_back_to_text_without_dot(no_dot):
    v = Value(2.0, label="x") * 3
    assert v._repr_mimebundle_() == {"text/plain": repr(v)}


@needs_dot
def test_huge_value_displays_a_summary_inline():
    x = Value(1.0, label="x")
    y = x
    for _ in range(5000):
        y = y * 0.999
    svg = y._repr_mimebundle_()["image/svg+xml"]
    assert "summarized: 10001 values" in svg
