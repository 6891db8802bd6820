"""The wheel stands alone: the whole package with its types and data, nothing else.

``python -m build`` makes the wheel users install. It must hold every file of
``chaingrad/`` (the ``py.typed`` marker, data such as the names list), and no
tests, notebooks or benchmarks. The slow test installs it with its ``demo``
extra into a fresh virtual environment far from this source tree and runs
``chaingrad demo`` there, as a user would.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LEAKS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


def package_files() -> set[str]:
    """Every file under chaingrad/ a checkout has, as a path inside the wheel."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "chaingrad").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def build_wheel(outdir: Path, isolated: bool) -> Path:
    command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(ROOT)]
    if not isolated:
        command.insert(3, "--no-isolation")  # the installed setuptools: no download
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = outdir.glob("chaingrad-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("build", "setuptools"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[test]')")
    return build_wheel(tmp_path_factory.mktemp("wheel"), isolated=False)


def test_wheel_holds_the_whole_package_with_its_types(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "chaingrad/py.typed" in names
    missing = package_files() - names
    assert not missing, f"files of chaingrad/ left out of the wheel: {sorted(missing)}"


def test_wheel_holds_nothing_but_the_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"chaingrad"}
    assert not [n for n in names if n.endswith((".pyc", ".ipynb"))]


def test_wheel_declares_the_command_and_needs_nothing_to_import(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "chaingrad = chaingrad.cli:main" in entry_points
    assert "Provides-Extra: demo" in metadata
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requirements and all("extra ==" in line for line in requirements), (
        "import chaingrad needs the standard library only: every requirement is in an extra"
    )


@pytest.mark.slow
def test_wheel_runs_the_demo_from_a_fresh_venv(tmp_path: Path) -> None:
    """Build as a user does (isolated), install with [demo] away from the source, run it."""
    wheel = build_wheel(tmp_path / "dist", isolated=True)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Nothing of this checkout may leak in: with PYTHONPATH pointing here, pip
    # would take chaingrad as installed already and Python would import it from here.
    clean_env = {k: v for k, v in os.environ.items() if k not in LEAKS}
    clean_env.update(PATH=f"{env_dir / 'bin'}:{os.environ.get('PATH', '')}", MPLBACKEND="Agg")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()

    def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
        args = [str(part) for part in command]
        result = subprocess.run(
            args, cwd=workdir, env=clean_env, capture_output=True, text=True, timeout=900
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result

    run(python, "-m", "pip", "install", "-q", f"{wheel}[demo]")
    where = run(python, "-c", "import chaingrad; print(chaingrad.__file__)")
    assert str(env_dir) in where.stdout, where.stdout  # the installed copy, not this checkout
    demo = run(env_dir / "bin" / "chaingrad", "demo", "--steps", "20", "--no-progress")
    out = workdir / "chaingrad-demo"
    for name in ("decision_boundary.png", "loss_curve.png", "model.json"):
        assert (out / name).stat().st_size > 0, name
    assert "accuracy" in demo.stdout
