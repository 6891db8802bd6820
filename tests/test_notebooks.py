"""The teaching notebooks: run, readable, and together a walk through the whole material.

* every notebook runs top to bottom, and so does the code of every exercise solution
  (run after the notebook, in the same kernel);
* it is committed without outputs, and with its ``FULL_RUN`` switch off;
* every picture it draws fits a 1,100 px notebook column with text at least 10 px
  tall as shown (see ``tests/notebook_drawings.py`` for how that is measured);
* notebooks 01-05 have exercises with solutions folded away;
* across the notebooks, every topic of the material is explained in prose and used
  in code (:data:`TOPICS`);
* **every number the prose quotes is what the code prints** (figures, below);
* **the headings follow one style** (below).

Figures: every decimal number (``0.54``), percentage (``97%``) and count of steps or
epochs (``30 steps``) in a markdown cell, and in the ``#`` comments of a solution's code,
must be accounted for in one of three ways (``tests/notebook_figures.py`` has the
details):

1. an executed output of the notebook prints it, or a more precise number that rounds to
   it (``0.5412`` for ``0.54``; a percentage only by a printed percentage);
2. the notebook's code has it as a literal: a setting (``lr=0.05``; ``test_size=0.4``
   for "40%"), or a value an ``assert`` in a code cell checks, which is how to quote a
   figure no cell prints at that precision (``assert abs(final - 0.54) < 0.005``);
3. the markdown cell lists it as not run-dependent in an HTML comment, invisible once
   rendered: ``<!-- fixed: 0.5 0.7071 -->``, for exact arithmetic and facts, never for a
   result of training. A listed figure the cell no longer contains fails too.

So when a change of code moves a number the prose quotes, the test names the cell and
the figure. Other integers ("16 units", "notebook 2") are not checked.

Headings (every notebook, :func:`heading_problems`):

* the first cell starts with the one level-1 heading, ``# N. Title``, where N is the
  file's number without its leading zero (``# 6. Convolution`` for ``06_...``, ``# 1b.
  Build your own Value`` for ``01b_...``);
* the sections are ``## 1. ...``, ``## 2. ...``, numbered in order, followed by
  ``## Summary`` and then ``## Exercises`` (unnumbered, last, in that order);
* ``###`` subsections are not numbered;
* if the introduction has a numbered list of what the notebook covers, it has one item
  per numbered section.

Each notebook is executed once per test session (the ``executed`` fixture) and the
result is shared by the tests that need outputs: notebooks are the slowest part of CI.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.notebook_drawings import (
    COLUMN_PX,
    FIGURE_MIME,
    PROBE,
    Drawing,
    drawings_in_output,
    image_width,
    measure_svg,
)
from tests.notebook_figures import unaccounted_figures

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]
# The lecture's notebooks, which must have exercises with folded-away solutions.
LECTURE = [p for p in NOTEBOOKS if re.match(r"0[1-5][a-z]?_", p.name)]

SOLUTION = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>(.*?)</details>", re.S)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def sources(notebook: dict[str, Any], cell_type: str) -> list[str]:
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in notebook["cells"]
        if c["cell_type"] == cell_type
    ]


def solution_code(notebook: dict[str, Any]) -> list[str]:
    """The Python blocks of every folded-away solution, in order."""
    return [
        block
        for text in sources(notebook, "markdown")
        for solution in SOLUTION.findall(text)
        for block in PYTHON_BLOCK.findall(solution)
    ]


# --- execution, once per notebook per session ---------------------------------------


@dataclass
class Executed:
    """A notebook after execution: its cells with outputs, and what each cell was."""

    cells: list[Any]
    origin: list[str] = field(default_factory=list)  # "probe", "cell 7", "solution 2"

    def describe(self, index: int) -> str:
        """Where a cell is, for a message: ``cell 7 ('draw_dot(o)')``."""
        lines = self.cells[index].source.strip().splitlines()
        return f"{self.origin[index]} ({lines[0][:60] if lines else ''!r})"

    def errors(self) -> list[str]:
        return [
            f"{self.describe(i)}: {output['ename']}: {output['evalue']}"
            for i, cell in enumerate(self.cells)
            for output in cell.get("outputs", [])
            if output.get("output_type") == "error"
        ]

    def drawings(self) -> list[tuple[str, Drawing]]:
        return [
            (self.describe(i), drawing)
            for i, cell in enumerate(self.cells)
            for output in cell.get("outputs", [])
            if output.get("output_type") in ("display_data", "execute_result")
            for drawing in drawings_in_output(output)
        ]


def execute(path: Path, workdir: Path) -> Executed:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(path, as_version=4)
    origin = [f"cell {i}" for i in range(len(notebook.cells))]
    # The probe first (it reports matplotlib figures' text sizes), solutions last.
    notebook.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    origin.insert(0, "probe")
    for k, code in enumerate(solution_code(read(path)), start=1):
        notebook.cells.append(nbformat.v4.new_code_cell(code))
        origin.append(f"solution {k}")
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,  # every error is reported by the test, with its cell
        resources={"metadata": {"path": str(workdir)}},  # files it writes land in tmp
    )
    env = dict(os.environ)
    # The kernel imports the chaingrad under test, and shows figures inline as Jupyter does.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client.execute(env=env)
    if os.environ.get(EXECUTED_DIR_VARIABLE):
        save_for_docs(notebook, origin, Path(os.environ[EXECUTED_DIR_VARIABLE]) / path.name)
    return Executed(notebook.cells, origin)


# CI sets this so the documentation build renders the notebooks this session executed
# instead of executing them all a second time (see .ci/run and docs/_ext).
EXECUTED_DIR_VARIABLE = "CHAINGRAD_EXECUTED_NOTEBOOKS"


def save_for_docs(notebook: Any, origin: list[str], target: Path) -> None:
    """The learner's cells with their outputs: no probe, no appended solutions."""
    nbformat = pytest.importorskip("nbformat")
    copy = nbformat.from_dict(notebook)
    copy.cells = [cell for cell, where in zip(copy.cells, origin) if where.startswith("cell ")]
    for cell in copy.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(FIGURE_MIME, None)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy, target)


@pytest.fixture(scope="session")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Executed]:
    cache: dict[Path, Executed] = {}

    def get(path: Path) -> Executed:
        if path not in cache:
            cache[path] = execute(path, tmp_path_factory.mktemp(path.stem))
        return cache[path]

    return get


# --- the files ------------------------------------------------------------------------


def test_there_are_notebooks():
    assert len(LECTURE) == 6, [p.name for p in LECTURE]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_without_outputs(path):
    for cell in read(path)["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_full_run_switch_is_committed_off(path):
    """Long runs are opt-in: CI and a learner's first run use the small settings."""
    code = "\n".join(sources(read(path), "code"))
    for value in re.findall(r"^FULL_RUN\s*=\s*(.+?)\s*(?:#.*)?$", code, flags=re.M):
        assert value == "False", f"{path.name}: FULL_RUN = {value}"


@pytest.mark.parametrize("path", LECTURE, ids=[p.name for p in LECTURE])
def test_notebook_has_exercises_with_folded_solutions(path):
    markdown = sources(read(path), "markdown")
    solutions = [s for text in markdown for s in SOLUTION.findall(text)]
    assert len(solutions) >= 3, f"{path.name}: {len(solutions)} exercise solutions"
    assert any(PYTHON_BLOCK.search(s) for s in solutions), f"{path.name}: no solution code"
    for text in markdown:
        assert "<details open" not in text, f"{path.name}: a solution is unfolded"
        # Markdown inside an HTML block renders (in JupyterLab and nbconvert) only after
        # a blank line; without it the code would show as raw text.
        for block in re.findall(r"<summary>.*?</summary>(.{0,2})", text, flags=re.S):
            assert block == "\n\n", f"{path.name}: no blank line after <summary>"


# --- execution --------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_and_its_solutions_run_top_to_bottom(path, executed):
    assert not executed(path).errors()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_drawings_fit_the_column(path, executed):
    drawings = executed(path).drawings()
    code = "\n".join(sources(read(path), "code"))
    if re.search(r"draw_dot\(|StepThrough\(|step_through\(|plt\.|plot_\w+\(", code):
        assert drawings, f"{path.name} draws, but no picture was found in its outputs"
    problems = [
        f"{origin}, {drawing.kind}: {problem}"
        for origin, drawing in drawings
        for problem in drawing.problems()
    ]
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_figure_in_the_prose_is_what_the_code_prints(path, executed):
    notebook = read(path)
    run = executed(path)
    outputs = [
        output
        for cell, where in zip(run.cells, run.origin)
        if where != "probe"
        for output in cell.get("outputs", [])
    ]
    code = sources(notebook, "code") + solution_code(notebook)
    problems = unaccounted_figures(sources(notebook, "markdown"), code, outputs)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def fake_notebook_figures(prose: str, printed: str, code: str = "") -> list[str]:
    """The figure check on a notebook of one markdown cell, one code cell, one output."""
    output = {"output_type": "stream", "name": "stdout", "text": printed}
    return unaccounted_figures([prose], [code], [output])


def test_figure_check_accepts_printed_rounded_and_listed_figures():
    printed = "step 40  loss 0.541237  accuracy 97%\nlr 0.1: 1,000 steps\n"
    assert fake_notebook_figures("The loss settles at 0.54 (0.5412 exactly).", printed) == []
    assert fake_notebook_figures("Accuracy 97% after 1,000 steps.", printed) == []
    assert fake_notebook_figures("We keep 40% apart, lr 0.05.", "", "split(0.4); lr=0.05") == []
    assert fake_notebook_figures("<!-- fixed: 0.25 -->\nAt most $0.25$.", "") == []
    asserted = "assert abs(history.loss[-1] - 2.41) < 0.005"
    assert fake_notebook_figures("It ends near 2.41.", "", asserted) == []
    # version numbers and other integers are no figures; signs do not matter
    assert fake_notebook_figures("micrograd 0.1.0 has 16 units, see notebook 2.", "") == []
    assert fake_notebook_figures("2.27x faster than torch", "ratio 2.271") == []
    assert len(fake_notebook_figures("2.27x faster than torch", "ratio 2.4")) == 1
    assert fake_notebook_figures("The gradient is $-1.5$.", "grad 1.5") == []
    # fenced code is not prose, but a solution's comments are
    solution = "```python\nprint(f(2.5))   # 6.25\n```"
    assert len(fake_notebook_figures(solution, "")) == 1
    assert fake_notebook_figures(solution, "6.25") == []


def test_figure_check_fails_on_a_drifted_figure():
    printed = "loss 2.4255 against the bigram's 2.4505; accuracy 96%\n"
    problems = fake_notebook_figures("about 2.41 against 2.46, 97% right", printed)
    assert [p.split("'")[1] for p in problems] == ["2.41", "2.46", "97%"]
    assert problems[0].startswith("markdown cell 0: '2.41' is printed by no output")
    # more digits than printed must agree too: 2.4255 rounds to 2.426, not to 2.427
    assert fake_notebook_figures("loss 2.426", printed) == []
    assert len(fake_notebook_figures("loss 2.427", printed)) == 1
    # the FULL_RUN intro that says 300 steps while the code runs 1000
    assert len(fake_notebook_figures("Trains for 300 steps.", "", "steps=1000")) == 1
    # a stale list of fixed figures
    stale = fake_notebook_figures("<!-- fixed: 0.25 -->\nAt most $0.2$.", "")
    assert any("0.25 --> is not in the cell" in p for p in stale)


# --- headings -------------------------------------------------------------------------


def heading_problems(name: str, markdown: list[str]) -> list[str]:
    """How a notebook's headings stray from the one style (module docstring)."""
    number = re.match(r"0*(\d+[a-z]?)_", name)
    expected_title = rf"# {number.group(1) if number else '?'}\. \S"
    headings = [
        line
        for text in markdown
        for line in re.sub(r"```.*?```", " ", text, flags=re.S).splitlines()
        if re.match(r"#+ ", line)
    ]
    problems = []
    first = markdown[0].lstrip().splitlines()[0] if markdown and markdown[0].strip() else ""
    if not re.match(expected_title, first):
        problems.append(f"the first cell should start with '# {number and number.group(1)}. Title'")
    titles = [h for h in headings if h.startswith("# ")]
    if len(titles) != 1:
        problems.append(f"{len(titles)} level-1 headings, one expected: {titles}")
    sections = [h for h in headings if h.startswith("## ")]
    numbered = [h for h in sections if re.match(r"## \d+\. \S", h)]
    others = [h.strip() for h in sections if h not in numbered]
    if others != ["## Summary", "## Exercises"]:
        problems.append(f"unnumbered sections {others}, expected ['## Summary', '## Exercises']")
    if sections[-2:] != ["## Summary", "## Exercises"]:
        problems.append("'## Summary' and '## Exercises' should be the last two sections")
    found = [int(re.match(r"## (\d+)", h).group(1)) for h in numbered]  # type: ignore[union-attr]
    if found != list(range(1, len(found) + 1)):
        problems.append(f"sections numbered {found}, expected 1 to {len(found)}")
    problems += [f"numbered subsection {h!r}" for h in headings if re.match(r"###+ \d", h)]
    intro = re.sub(r"```.*?```", " ", markdown[0], flags=re.S) if markdown else ""
    items = re.findall(r"^\d+\. ", intro, flags=re.M)
    if items and len(items) != len(numbered):
        problems.append(
            f"the introduction lists {len(items)} parts, the notebook has {len(numbered)} sections"
        )
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_headings_follow_one_style(path):
    problems = heading_problems(path.name, sources(read(path), "markdown"))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_heading_check_can_fail():
    name = "06_convolution.ipynb"
    intro = "# 6. Convolution\n\n1. By hand.\n2. Pooling."
    good = [intro, "## 1. By hand", "## 2. Pooling\n### A tie", "## Summary", "## Exercises"]
    assert heading_problems(name, good) == []
    assert heading_problems("01b_value.ipynb", ["# 1b. Build it", *good[1:]]) == []
    assert len(heading_problems("09_compiled.ipynb", good)) == 1  # '# 6.' in notebook 9
    assert len(heading_problems(name, [*good[:-1], "## Exercise"])) == 2
    assert len(heading_problems(name, [good[0], good[2], good[1], *good[3:]])) == 1
    assert len(heading_problems(name, [good[0] + "\n3. More.", *good[1:]])) == 1
    assert len(heading_problems(name, [*good[:3], "### 2.1 Numbered", *good[3:]])) == 1


# --- the measuring itself ------------------------------------------------------------------


def svg(width: str, view_width: float, font_size: float, scale: float = 1.0) -> str:
    return (
        f'<svg width="{width}" height="100pt" viewBox="0.00 0.00 {view_width} 100.00">'
        f'<g class="graph" transform="scale({scale} {scale}) rotate(0) translate(4 96)">'
        f'<g class="node"><text font-size="{font_size}">x1</text>'
        f'<text font-size="{font_size + 4}">data 2.0000</text></g></g></svg>'
    )


def test_measure_svg_at_natural_size():
    drawing = measure_svg(svg("600pt", 600.0, 11.0))
    assert drawing.width_px == pytest.approx(800.0)  # 1 pt = 4/3 px
    assert drawing.text_px == pytest.approx(11.0 * 4 / 3)
    assert drawing.smallest_text == "x1"
    assert drawing.problems() == []


def test_measure_svg_wider_than_the_column_is_shrunk():
    drawing = measure_svg(svg("2200pt", 2200.0, 14.0))
    assert drawing.width_px == pytest.approx(2200 * 4 / 3)
    assert drawing.text_px == pytest.approx(14.0 * 4 / 3 * COLUMN_PX / (2200 * 4 / 3))
    assert len(drawing.problems()) == 2  # too wide, and text under 10 px


def test_measure_svg_follows_group_scale_and_viewbox():
    # Graphviz's size= attribute scales the drawing inside the viewBox.
    drawing = measure_svg(svg("300pt", 600.0, 14.0, scale=0.5))
    assert drawing.text_px == pytest.approx(14.0 * 0.5 * (400 / 600))
    assert drawing.problems() == ["text 'x1' is 4.7 px tall as shown (at least 10 px needed)"]


def test_measure_svg_in_html_and_image_widths():
    html = f"<div><p>player</p>{svg('600pt', 600.0, 6.0)}&nbsp;{svg('600pt', 600.0, 12.0)}</div>"
    output = {"output_type": "display_data", "data": {"text/html": html}}
    drawings = drawings_in_output(output)
    assert [round(d.text_px, 1) for d in drawings] == [8.0, 16.0]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (1234).to_bytes(4, "big") + bytes(8)
    assert image_width(png, "image/png") == 1234
    assert image_width(b"GIF89a" + (700).to_bytes(2, "little") + bytes(4), "image/gif") == 700


# --- topics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A topic is covered when one notebook explains it in prose and uses it in code."""

    name: str
    prose: str  # regex on markdown, outside code spans and blocks (case-insensitive)
    code: str | Callable[[list[str]], bool]  # regex on a code cell, or a test of all cells
    needs: str | None = None  # required once a notebook with this prefix exists

    def covered_by(self, markdown: str, code_cells: list[str]) -> bool:
        if not re.search(self.prose, markdown, flags=re.I):
            return False
        if callable(self.code):
            return self.code(code_cells)
        return any(re.search(self.code, cell) for cell in code_cells)


def shows_zero_grad_bug_and_fix(cells: list[str]) -> bool:
    """A training loop that never zeroes the gradients, and one that does."""
    zeroing = re.compile(r"zero_grad\(\)|\.grad\s*=\s*0")
    loops = [
        cell
        for cell in cells
        if re.search(r"^\s*for\b", cell, flags=re.M)
        and ".backward()" in cell
        and re.search(r"\.data\s*-=|\.step\(\)", cell)  # it updates parameters
    ]
    return any(not zeroing.search(c) for c in loops) and any(zeroing.search(c) for c in loops)


TOPICS = [
    Topic("derivative by nudging", r"\bnudg", r"\)\s*/\s*h\b|/\s*\(2 \* h\)"),
    Topic("neuron", r"\bneuron\b", r"\bNeuron\("),
    Topic("sigmoid", r"\bsigmoid\b", r"\.sigmoid\(\)|\bsigmoid\(|activation=\"sigmoid\""),
    Topic("tanh", r"\btanh\b", r"\.tanh\(\)|activation=\"tanh\""),
    Topic("leaky ReLU", r"\bleaky ReLU\b", r"\bleaky_relu\b|\bLeakyReLU\("),
    Topic("softmax", r"\bsoftmax\b", r"\bsoftmax\("),
    Topic("MSE", r"\bmean squared error\b", r"\bmse_loss\(|loss=\"mse\""),
    Topic("cross-entropy", r"\bcross-entropy\b", r"\bcross_entropy\b"),
    Topic("chain rule", r"\bchain rule\b", r"\.grad\s*\+?=[^\n]*\*\s*\w+\.grad\b"),
    Topic("gradient descent", r"\bgradient descent\b", r"\.data\s*-=[^\n]*\.grad\b"),
    Topic("learning rate", r"\blearning rate\b", r"\blr\s*=|\blearning_rate\b"),
    Topic("batch size", r"\bbatch size\b", r"\bbatch_size\s*="),
    Topic("epochs", r"\bepochs?\b", r"\bepochs\s*="),
    Topic("L1", r"\bL1\b", r"\bl1\s*=|[\"']l1[\"']\s*:|\bl1_penalty\("),
    Topic("L2", r"\bL2\b", r"\bl2\s*=|[\"']l2[\"']\s*:|\bl2_penalty\(|\bweight_decay\s*="),
    Topic("dropout", r"\bdropout\b", r"\bDropout\("),
    Topic("the zero_grad bug", r"\bforg[eo]t\w*\b[^.]*\bzero", shows_zero_grad_bug_and_fix),
    Topic("convolution", r"\bconvolution", r"\bConv[12]d\(", needs="06_"),
    Topic("LSTM/GRU", r"\b(LSTM|GRU)\b", r"\b(LSTM|GRU)(Cell)?\(", needs="07_"),
    Topic("attention", r"\battention\b", r"\b\w*Attention\(|\bGPT\(", needs="08_"),
]


def prose_of(notebook: dict[str, Any]) -> str:
    text = "\n".join(sources(notebook, "markdown"))
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", " ", text)


def test_every_topic_is_explained_in_prose_and_used_in_code():
    notebooks = [(p.name, prose_of(read(p)), sources(read(p), "code")) for p in NOTEBOOKS]
    required = [
        t for t in TOPICS if t.needs is None or any(p.name.startswith(t.needs) for p in NOTEBOOKS)
    ]
    missing = [
        t.name
        for t in required
        if not any(t.covered_by(prose, code) for _, prose, code in notebooks)
    ]
    assert not missing, f"topics not both explained and used in one notebook: {missing}"


def test_topic_check_can_fail():
    nudging = TOPICS[0]
    assert nudging.covered_by("Nudge x a little.", ["(f(x + h) - f(x)) / h"])
    assert not nudging.covered_by("Nudge x a little.", ["print(x)"])  # prose only
    assert not nudging.covered_by("The slope.", ["(f(x + h) - f(x)) / h"])  # code only
    bug = TOPICS[16]
    loop = "for k in range(3):\n    loss = f()\n    loss.backward()\n    opt.step()\n"
    fixed = "for k in range(3):\n    model.zero_grad()\n    f().backward()\n    opt.step()\n"
    assert bug.covered_by("If you forget to zero the gradients", [loop, fixed])
    assert not bug.covered_by("If you forget to zero the gradients", [fixed])
