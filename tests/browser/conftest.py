"""A real JupyterLab page in headless Chromium, for the widgets' browser tests.

``lab`` starts one JupyterLab server for the session: on 127.0.0.1, a free
port, a random token, a temporary root folder and temporary Jupyter settings,
no browser of its own. ``page`` is a fresh Chromium tab at 1,300 x 900 px
(Playwright's Python API driving the system Chromium: Playwright's own browser
download is not needed). ``open_notebook(page, cells)`` writes a notebook of
those code cells, opens it, runs every cell and waits for the kernel to be
idle. Every wait is bounded; the server is stopped at the end of the session.

    def test_something(page, open_notebook):
        open_notebook(page, ["from chaingrad.viz import Explorer", "ex = Explorer(...)\\nex"])
        page.locator(".cg-explorer").wait_for()

The tests are marked ``browser`` (``pytest -m "not browser"`` leaves them out).
``start_lab`` and ``run_notebook`` are plain functions too (benchmarks/widgets.py
uses them).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHAINGRAD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH, HEIGHT = 1300, 900
START_TIMEOUT = 90  # s: JupyterLab's first start on a busy machine
KERNEL_TIMEOUT = 60  # s: a kernel to start, or a notebook's cells to run
UI_TIMEOUT = 30_000  # ms: anything on the page to appear


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@dataclass
class Lab:
    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str, token: str) -> bool:
    try:
        headers = {"Authorization": f"token {token}"}
        request = urllib.request.Request(f"{url}/api/status", headers=headers)
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class LabFailed(RuntimeError):
    """JupyterLab did not start (its log's tail is the message)."""


@contextmanager
def start_lab(base: Path) -> Iterator[Lab]:
    """Run JupyterLab on 127.0.0.1 (free port, random token, root ``base/notebooks``,
    settings under ``base``), importing this checkout's chaingrad; stopped on exit."""
    root = base / "notebooks"
    root.mkdir()
    # No "official Jupyter news?" prompt over the page.
    news = base / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for variable, folder in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        env[variable] = str(base / folder)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",  # CI containers run as root
        "--ServerApp.terminals_enabled=False",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={base / 'settings'}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = (base / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ready(url, token):
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (base / "server.log").read_text()[-3000:]
                raise LabFailed(f"JupyterLab did not start (exit {server.poll()}):\n{tail}")
            time.sleep(0.3)
        yield Lab(url, token, root)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    pytest.importorskip("jupyterlab")
    try:
        with start_lab(tmp_path_factory.mktemp("jupyterlab")) as server:
            yield server
    except LabFailed as failure:
        pytest.fail(str(failure))


# Per module, not per session: while Playwright's sync API is open, the main thread
# has a running event loop, and later tests calling asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set CHAINGRAD_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=UI_TIMEOUT
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    context.set_default_timeout(UI_TIMEOUT)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def write_notebook(path: Path, cells: list[str]) -> None:
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell{k}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for k, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


KERNEL_IDLE = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return Boolean(kernel && kernel.status === "idle");
}"""


RUN_ALL = """() => {
  window.__chaingradRun = "running";
  window.jupyterapp.commands.execute("notebook:run-all-cells").then(
    () => (window.__chaingradRun = "done"),
    (e) => (window.__chaingradRun = String(e)),
  );
}"""


def wait_idle(page: Any, timeout_s: float = KERNEL_TIMEOUT) -> None:
    """Wait until the open notebook's kernel is idle (started, or done running)."""
    page.wait_for_function(KERNEL_IDLE, timeout=timeout_s * 1000, polling=200)


_counter = iter(range(1_000_000))


def run_notebook(page: Any, lab: Lab, cells: list[str], name: str | None = None) -> Path:
    """Write a notebook of ``cells``, open it in ``page``, run every cell; its path."""
    path = lab.root / (name or f"test_{os.getpid()}_{next(_counter)}.ipynb")
    write_notebook(path, cells)
    # ?reset: a fresh workspace, with no tab of an earlier test restored beside it
    address = f"{lab.url}/lab/tree/{path.name}?reset&token={lab.token}"
    page.goto(address, wait_until="domcontentloaded")
    page.locator(".jp-Notebook").first.wait_for()
    wait_idle(page)
    # The command's promise settles when every cell has run.
    page.evaluate(RUN_ALL)
    page.wait_for_function(
        "window.__chaingradRun !== 'running'", timeout=KERNEL_TIMEOUT * 1000, polling=200
    )
    assert page.evaluate("window.__chaingradRun") == "done"
    wait_idle(page)
    return path


@pytest.fixture
def open_notebook(lab: Lab) -> Callable[..., Path]:
    """``open_notebook(page, cells, name=None)``: write, open and run a notebook; its path."""

    def run(page: Any, cells: list[str], name: str | None = None) -> Path:
        return run_notebook(page, lab, cells, name)

    return run
