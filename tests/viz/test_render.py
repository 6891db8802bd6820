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


# --- writing files: symlinks followed, errors naming the target ------------------


def test_render_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.dot"
    target.write_text("old")
    link = tmp_path / "link.dot"
    link.symlink_to(target)
    y = Value(2.0, label="x") * 3
    assert render(y, link) == link
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text().startswith("digraph chaingrad")
    # a dangling link: its target is created, the link stays
    dangling = tmp_path / "dangling.dot"
    dangling.symlink_to(tmp_path / "made.dot")
    render(y, dangling)
    assert dangling.is_symlink() and (tmp_path / "made.dot").read_text().startswith("digraph")
    # a link to a link to a file
    chain = tmp_path / "chain.dot"
    chain.symlink_to(link)
    render(y * 2, chain)
    assert chain.is_symlink() and link.is_symlink() and "digraph" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "chain.dot", "dangling.dot", "link.dot", "made.dot", "real.dot"
    ]  # fmt: skip


def test_step_through_save_follows_symlinks_too(tmp_path):
    from chaingrad.viz.output import write_atomic

    target = tmp_path / "real.html"
    target.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    write_atomic(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_write_errors_name_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    import errno
    import os

    from chaingrad.viz.output import write_atomic

    target = tmp_path / "g.svg"
    target.write_text("old")
    real_replace = os.replace

    def failing_replace(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError) as info:
        write_atomic(target, b"new")
    message = str(info.value)
    assert "g.svg" in message and ".tmp" not in message and "cross-device" in message
    assert info.value.errno == errno.EXDEV
    monkeypatch.setattr(os, "replace", real_replace)
    assert target.read_text() == "old"  # nothing lost
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]  # no temporary file left
    # a directory in the way, and a parent that is a file
    (tmp_path / "d.svg").mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot write '.*d\.svg': it is a directory"):
        write_atomic(tmp_path / "d.svg", b"x")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_atomic(tmp_path / "g.svg" / "h.svg", b"x")


def test_a_system_directory_refusal_names_the_target(tmp_path):
    import sys

    from chaingrad.viz.output import write_atomic

    if not sys.platform.startswith("linux"):
        pytest.skip("/proc exists on Linux only")
    with pytest.raises(OSError) as info:
        write_atomic("/proc/chaingrad-graph.svg", b"x")
    assert "/proc/chaingrad-graph.svg" in str(info.value) and ".tmp" not in str(info.value)


def test_existing_file_keeps_its_permissions(tmp_path):
    import stat

    from chaingrad.viz.output import write_atomic

    target = tmp_path / "g.dot"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_bytes() == b"new"
