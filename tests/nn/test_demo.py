"""`chaingrad demo`: trains, prints, writes plots and a loadable model; bad input is one line."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from chaingrad.cli import main
from chaingrad.nn import MLP


def test_demo_writes_plots_and_model(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    assert main(["demo", "--steps", "30", "--samples", "40", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "MLP(2, [16, 16, 1]) (337 parameters) on 40 moons points (seed 1337), 30 steps" in printed
    )
    assert "step   29  loss" in printed and "training accuracy" in printed
    for name in ("decision_boundary.png", "loss_curve.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = MLP(2, [16, 16, 1]).load(out / "model.json")
    assert json.loads((out / "model.json").read_text())["model"] == "MLP"
    assert model.num_parameters() == 337


def test_demo_is_deterministic_per_seed(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    args = ["demo", "--steps", "5", "--samples", "20", "--dataset", "circles"]
    main([*args, "-o", str(tmp_path / "a")])
    first = capsys.readouterr().out
    main([*args, "-o", str(tmp_path / "b")])
    second = capsys.readouterr().out
    strip = lambda text: [l for l in text.splitlines() if not l.startswith(("trained", "wrote"))]  # noqa: E731
    assert strip(first) == strip(second)
    assert (tmp_path / "a" / "model.json").read_text() == (
        tmp_path / "b" / "model.json"
    ).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "argument --steps: must be a whole number from 1 to 100000, got '0'"),
        (
            ["--steps", "ten"],
            "argument --steps: must be a whole number from 1 to 100000, got 'ten'",
        ),
        (["--steps", "1e9"], "argument --steps: must be a whole number from 1 to 100000"),
        (["--samples", "3"], "argument --samples: must be a whole number from 4 to 10000"),
        (["--samples", str(10**9)], "argument --samples: must be a whole number from 4 to 10000"),
        (["--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
        (["--noise", "-0.5"], "argument --noise: must be a number from 0 to 10"),
        (["--seed", "abc"], "argument --seed: must be a whole number"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, message, capsys):
    assert main(["demo", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_output_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["demo", "--output", str(target)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_missing_matplotlib_names_the_pip_command(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    assert main(["demo", "-o", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "matplotlib is not installed" in err and "pip install 'chaingrad[demo]'" in err
    assert not (tmp_path / "x").exists()


def test_help_documents_the_options():
    result = subprocess.run(
        [sys.executable, "-m", "chaingrad", "demo", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for option in ("--dataset", "--steps", "--seed", "--output", "--samples", "--noise"):
        assert option in result.stdout
    assert "moons" in result.stdout and "chaingrad-demo" in result.stdout
