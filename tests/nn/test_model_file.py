"""Model files (model_file.py): save and load, round trips, and hostile or careless use.

Every case ends with the right result or one clear error naming what was
wrong, and nothing is lost: a failed load leaves the model as it was, a failed
or killed save leaves the old file. Cases that could hang or exhaust memory
run in a child process under a memory cap and a timeout (tests/limits.py).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import socket
import stat
import subprocess
import sys
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaingrad.nn import (
    MLP,
    Neuron,
    StateDictError,
    model_file,
)
from chaingrad.nn._files import read_bounded
from tests.helpers import snapshot
from tests.limits import run_limited


def same_floats(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b)
    )


# --- round trips and bad files -------------------------------------------------------------------


def test_save_load_round_trip_is_exact(tmp_path):
    model = MLP(2, [5, 3], seed=3)
    # Awkward floats: repr round trip must be bit-exact.
    model.layers[0].neurons[0].w[0].data = 0.1 + 0.2
    model.layers[0].neurons[0].w[1].data = 5e-324
    model.layers[0].neurons[1].w[0].data = -1.7976931348623157e308
    path = tmp_path / "model.json"
    model.save(path)
    other = MLP(2, [5, 3], seed=4)
    assert other.load(path) is other
    assert snapshot(other) == snapshot(model)
    document = json.loads(path.read_text())
    assert document["format"] == "chaingrad.state_dict"
    assert document["version"] == 1
    assert document["model"] == "MLP"


def test_nan_and_infinity_round_trip(tmp_path):
    model = Neuron(3, seed=0)
    model.w[0].data = math.nan
    model.w[1].data = math.inf
    model.w[2].data = -math.inf
    model.save(tmp_path / "m.json")
    other = Neuron(3, seed=1).load(tmp_path / "m.json")
    assert math.isnan(other.w[0].data)
    assert other.w[1].data == math.inf and other.w[2].data == -math.inf


def test_save_accepts_str_paths_and_leaves_no_temp_files(tmp_path):
    Neuron(2).save(str(tmp_path / "n.json"))
    assert sorted(os.listdir(tmp_path)) == ["n.json"]


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    model = MLP(2, [3, 1], seed=0)
    model.save(path)
    original = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    model.layers[0].neurons[0].b.data = 42.0
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["model.json"]  # temp file cleaned up


def test_save_into_missing_folder_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        Neuron(2).save(tmp_path / "no" / "such" / "dir.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (b"{not json", "not a chaingrad model file"),
        (b"\xff\xfe\x00garbage", "not a chaingrad model file"),
        (b"[1, 2, 3]", 'no "format"'),
        (b'{"format": "something-else", "version": 1, "state": {}}', 'no "format"'),
        (b'{"format": "chaingrad.state_dict", "version": 99, "state": {}}', "version 99"),
        (b'{"format": "chaingrad.state_dict", "version": 1}', 'has no "state"'),
        (b'{"format": "chaingrad.state_dict", "version": 1, "state": {"w": [1]}}', "missing"),
        (b"[" * 100_000 + b"]" * 100_000, "not a chaingrad model file"),
    ],
)
def test_bad_files_are_clear_errors_and_change_nothing(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    model = MLP(2, [3, 1], seed=0)
    before = snapshot(model)
    with pytest.raises(StateDictError, match=message) as info:
        model.load(path)
    assert str(path) in str(info.value)
    assert snapshot(model) == before


def test_file_for_another_architecture_is_rejected(tmp_path):
    path = tmp_path / "big.json"
    MLP(2, [16, 16, 1]).save(path)
    small = MLP(2, [8, 1])
    before = snapshot(small)
    with pytest.raises(StateDictError, match=r"should be a list of 2 numbers|missing|unexpected"):
        small.load(path)
    assert snapshot(small) == before


def test_pickle_file_is_rejected_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.json"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(StateDictError):
        Neuron(2).load(path)
    assert not (tmp_path / "pwned").exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Neuron(2).load(tmp_path / "nope.json")


# --- saving: symlinks, modes, temporary files -------------------------------------------------


def test_save_through_a_symlink_writes_its_target(tmp_path):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    target = real_dir / "model.json"
    link = tmp_path / "current.json"
    link.symlink_to(os.path.relpath(target, tmp_path))  # dangling: the target is made
    model = Neuron(2, seed=0)
    model.save(link)
    assert link.is_symlink() and target.is_file()
    model.w[0].data = 7.5
    model.save(link)
    assert link.is_symlink()
    assert Neuron(2, seed=1).load(target).w[0].data == 7.5
    assert sorted(os.listdir(tmp_path)) == ["current.json", "store"]
    assert os.listdir(real_dir) == ["model.json"]


def test_new_file_gets_the_mode_open_would_and_an_old_file_keeps_its_own(tmp_path):
    old = os.umask(0o027)
    try:
        Neuron(2).save(tmp_path / "new.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o640
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o600)
    Neuron(2).save(kept)
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600


def test_save_never_touches_the_process_umask(tmp_path, monkeypatch):
    # Changing the umask to read it races with every other thread creating files.
    def forbidden(mask):
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", forbidden)
    Neuron(2).save(tmp_path / "a.json")
    Neuron(2).save(tmp_path / "a.json")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temp_name(name: str, pid: int, host: str | None = None) -> str:
    host = host or f"{zlib.crc32(socket.gethostname().encode()):08x}"
    return f".{name}.{pid}-{host}-0badf00d.chaingrad.tmp"


def test_save_removes_temporary_files_of_killed_saves_only(tmp_path):
    dead = tmp_path / _temp_name("m.json", _dead_pid())
    alive = tmp_path / _temp_name("m.json", os.getpid())  # a save running in this process
    remote = tmp_path / _temp_name("m.json", _dead_pid(), host="12345678")  # another machine
    other = tmp_path / _temp_name("other.json", _dead_pid())  # another file's
    for path in (dead, alive, remote, other):
        path.write_text("half a fi")
    Neuron(2).save(tmp_path / "m.json")
    assert sorted(os.listdir(tmp_path)) == sorted(["m.json", alive.name, remote.name, other.name])


KILLED_SAVE = """
import os, sys, time
from chaingrad.nn import MLP, _files
real_fsync = os.fsync

def slow_fsync(fd):
    print("writing", flush=True)
    time.sleep(30)  # killed here, with the temporary file half done
    real_fsync(fd)

_files.os.fsync = slow_fsync
model = MLP(2, [3, 1], seed=int(sys.argv[1]))
model.save(sys.argv[2])
"""


def test_a_killed_save_keeps_the_old_file_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "model.json"
    MLP(2, [3, 1], seed=0).save(path)
    original = path.read_bytes()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for attempt in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_SAVE, str(attempt + 1), str(path)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert path.read_bytes() == original  # never half a file
    # Each killed save left its temporary file, and each next save removed the last one.
    leftovers = [name for name in os.listdir(tmp_path) if name != "model.json"]
    assert len(leftovers) == 1 and leftovers[0].endswith(".chaingrad.tmp")
    model = MLP(2, [3, 1], seed=9)
    model.save(path)
    assert os.listdir(tmp_path) == ["model.json"]
    assert snapshot(MLP(2, [3, 1], seed=0).load(path)) == snapshot(model)


@pytest.mark.parametrize("failing", ["open", "fsync", "replace"])
def test_a_save_that_fails_midway_keeps_the_old_file_and_leaves_nothing(
    tmp_path, monkeypatch, failing
):
    # The disk refusing at any stage (no permission to create, full at flush, the
    # rename refused) must leave the previous save intact and no temporary file;
    # simulated, so that it is tested as root too (root may write anywhere).
    path = tmp_path / "m.json"
    Neuron(2, seed=1).save(path)
    original = path.read_bytes()
    real = getattr(os, failing)
    calls = {"n": 0}

    def refuse(*args, **kwargs):
        calls["n"] += 1
        if failing == "open" and not str(args[0]).endswith(".tmp"):
            return real(*args, **kwargs)  # only the temporary file's creation fails
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, failing, refuse)
    with pytest.raises(PermissionError):
        Neuron(2, seed=2).save(path)
    monkeypatch.undo()
    assert calls["n"] >= 1
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.json"]


def test_save_errors_name_the_users_path_not_the_temporary_file(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for target, kind in (
        (folder, IsADirectoryError),  # a folder where the file should go
        (tmp_path / "missing" / "m.json", FileNotFoundError),
    ):
        with pytest.raises(kind) as info:
            Neuron(2).save(target)
        assert str(info.value).endswith(f": {str(target)!r}") and ".tmp" not in str(info.value)
    assert os.listdir(folder) == [] and sorted(os.listdir(tmp_path)) == ["folder"]


# --- loading: special files, sizes, numbers ---------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("os.mkfifo(path)", "a FIFO, not a regular file"),  # open() would block forever
        ("path = '/dev/zero'", "a character device, not a regular file"),  # never ends
        ("path = '/dev/urandom'", "a character device, not a regular file"),
        ("os.mkdir(path)", "a folder, not a regular file"),
        # 1 GiB (sparse, no disk used): refused before a byte is read
        ("open(path, 'wb').truncate(2**30)", "the file is 1.0 GiB, larger than a model file"),
    ],
)
def test_special_and_huge_files_fail_fast_under_a_memory_cap(tmp_path, make, message):
    if make.startswith("path = '/dev") and not os.path.exists(make.split("'")[1]):
        pytest.skip("no such device here")
    result = run_limited(
        f"""
        import os
        from chaingrad.nn import MLP, StateDictError
        path = {str(tmp_path / "model.json")!r}
        {make}
        model = MLP(2, [16, 16, 1])
        before = [p.data for p in model.parameters()]
        try:
            model.load(path)
        except StateDictError as error:
            print(error)
        assert [p.data for p in model.parameters()] == before
        """,
        memory_mb=256,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert message in result.stdout and result.stdout.count("\n") == 1


def test_the_size_limit_follows_the_model_and_fits_any_file_save_writes(tmp_path):
    model = MLP(8, [32, 32, 4], seed=0)
    for p in model.parameters():
        p.data = -1.7976931348623157e308  # the longest float repr there is
    path = tmp_path / "m.json"
    model.save(path)
    assert os.path.getsize(path) < model_file.file_size_limit(model) / 4
    # Re-indented by hand with a wide indent: still read.
    path.write_text(json.dumps(json.loads(path.read_text()), indent=12))
    assert snapshot(MLP(8, [32, 32, 4], seed=1).load(path)) == snapshot(model)
    # The same file is far too big to be a Neuron's: refused before it is parsed.
    path.write_text(" " * (model_file.file_size_limit(Neuron(2)) + 1))
    with pytest.raises(StateDictError, match=r"larger than a model file for this Neuron \(3 par"):
        Neuron(2).load(path)


def test_read_bounded_stops_at_the_limit_even_if_the_size_lies():
    # /proc files report size 0 and hold more: the read itself is bounded.
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("no /proc")
    with pytest.raises(ValueError, match="grew while it was read"):
        read_bounded("/proc/self/maps", 10, "a test file")


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("1" * 400, "the number 11111111111111111111...1111111111 (400 digits) is too large"),
        ("-" + "9" * 5000, "(5001 digits) is too large for a float"),  # past int()'s limit
        ("1e400", "the number 1e400 is too large for a float"),
        ("-2.5e999", "the number -2.5e999 is too large"),
    ],
)
def test_numbers_beyond_float_range_are_clear_errors(tmp_path, number, message):
    path = tmp_path / "big.json"
    text = '{"format": "chaingrad.state_dict", "version": 1, "state": {"w": [NUMBER, 1], "b": 0}}'
    path.write_text(text.replace("NUMBER", number))
    model = Neuron(2, seed=0)
    before = snapshot(model)
    with pytest.raises(StateDictError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model.load(path)
    assert snapshot(model) == before


def test_a_key_written_twice_is_refused(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text(
        '{"format": "chaingrad.state_dict", "version": 1, "state": {"w": [1, 2], "b": 0, "b": 5}}'
    )
    with pytest.raises(StateDictError, match="the key 'b' appears twice"):
        Neuron(2).load(path)


# --- fuzzing the model file -------------------------------------------------------------------

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**500), max_value=10**500)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _document(state):
    return {"format": "chaingrad.state_dict", "version": 1, "model": "MLP", "state": state}


def _expect_loaded_or_refused(model, write):
    """Load what ``write()`` made: either exactly the file's numbers, or an error and no change."""
    before = snapshot(model)
    try:
        model.load(write())
    except StateDictError as error:
        assert str(error).count("\n") == 0
        assert same_floats(snapshot(model), before)
        return False
    return True


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes(tmp_path, data):
    path = tmp_path / "fuzz.json"
    model = Neuron(2, seed=0)
    _expect_loaded_or_refused(model, lambda: (path.write_bytes(data), path)[1])


@FUZZ
@given(entry=st.sampled_from(["w", "b", "x", "w.0"]), value=json_values)
def test_fuzz_entries_of_a_valid_file(tmp_path, entry, value):
    path = tmp_path / "fuzz.json"
    state = {"w": [0.25, -0.5], "b": 1.0, entry: value}
    model = Neuron(2, seed=0)
    loaded = _expect_loaded_or_refused(
        model, lambda: (path.write_text(json.dumps(_document(state))), path)[1]
    )
    if loaded:  # only a state of exactly the right shape and numbers can load
        assert entry in ("w", "b") and same_floats(
            snapshot(model), [*map(float, state["w"]), float(state["b"])]
        )


@FUZZ
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_fuzz_truncated_files(tmp_path, cut):
    path = tmp_path / "fuzz.json"
    full = tmp_path / "full.json"
    if not full.exists():
        MLP(2, [3, 1], seed=5).save(full)
    text = full.read_bytes()
    cut %= len(text) + 1
    model = MLP(2, [3, 1], seed=0)
    loaded = _expect_loaded_or_refused(model, lambda: (path.write_bytes(text[:cut]), path)[1])
    # Only the whole file (or the whole JSON without its trailing newline) loads.
    assert loaded == (cut >= len(text) - 1)


def _bits(x: float) -> tuple[bool, float, float]:
    """Equal bits up to nan sign and payload: -0.0 and 0.0 differ, every nan is the same."""
    if math.isnan(x):
        return (True, 0.0, 0.0)
    return (False, x, math.copysign(1.0, x))


@FUZZ
@given(numbers=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=13, max_size=13))
def test_fuzz_round_trip_is_bit_exact(tmp_path, numbers):
    model = MLP(2, [3, 1], seed=0)
    for p, x in zip(model.parameters(), numbers):
        p.data = x
    model.save(tmp_path / "rt.json")
    other = MLP(2, [3, 1], seed=1).load(tmp_path / "rt.json")
    assert [_bits(x) for x in snapshot(other)] == [_bits(x) for x in numbers]


def test_concurrent_saves_and_loads_never_see_half_a_file(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "m.json"
    models = [MLP(2, [8, 1], seed=s) for s in range(4)]
    models[0].save(path)
    valid = {tuple(snapshot(m)) for m in models}

    def save(i):
        for _ in range(10):
            models[i % 4].save(path)

    def load(_):
        seen = []
        for _ in range(20):
            seen.append(tuple(snapshot(MLP(2, [8, 1]).load(path))))
        return seen

    with ThreadPoolExecutor(6) as pool:
        savers = [pool.submit(save, i) for i in range(3)]
        loaders = [pool.submit(load, i) for i in range(3)]
        for future in savers:
            future.result()
        for future in loaders:
            assert set(future.result()) <= valid
    assert os.listdir(tmp_path) == ["m.json"]
