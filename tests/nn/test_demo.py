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


# --- the output folder, a full disk, an interrupt -----------------------------------------


def test_demo_into_an_unwritable_folder_fails_before_training(tmp_path, capsys):
    from chaingrad.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    targets = [blocker / "sub"]  # a folder below a file can never be made
    if not (tmp_path / "ro").exists():
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        import os

        if os.geteuid() != 0:  # root writes anywhere
            targets.append(tmp_path / "ro" / "out")
    for target in targets:
        assert main(["demo", "-o", str(target), "--steps", "100000", "--samples", "10000"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""  # nothing trained: no progress, no step lines
        assert captured.err.count("\n") == 1
        assert f"chaingrad demo: error: cannot write to --output {str(target)!r}" in captured.err
    (tmp_path / "ro").chmod(0o700)


def test_demo_reports_a_failed_write_after_training_in_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    import errno

    from chaingrad.cli import main
    from chaingrad.nn import demo

    def disk_full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(demo, "write_atomically", disk_full)
    assert main(["demo", "-o", str(tmp_path / "out"), "--steps", "2", "--samples", "8"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert "decision_boundary.png" in err


def test_demo_interrupted_is_one_line(tmp_path, capsys, monkeypatch):
    from chaingrad.cli import main
    from chaingrad.nn import train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit", interrupted)
    assert main(["demo", "-o", str(tmp_path / "out"), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
