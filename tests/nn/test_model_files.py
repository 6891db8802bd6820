"""Model files and parameters under hostile and careless use.

Every case ends with the right result or one clear error naming what was
wrong, and nothing is lost: a failed load leaves the model as it was, a failed
or killed save leaves the old file. Cases that could hang or exhaust memory
run in a child process under a memory cap and a timeout (tests/limits.py).
"""

from __future__ import annotations

import copy
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

from chaingrad import Value
from chaingrad.nn import (
    MLP,
    Dropout,
    Layer,
    Module,
    Neuron,
    ReLU,
    Sequential,
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


def test_huge_numbers_in_a_state_dict_are_clear_errors():
    model = Neuron(2, seed=0)
    before = snapshot(model)
    for huge in (10**400, -(10**5000)):
        with pytest.raises(StateDictError, match=r"'w.0' is too large for a float: an integer"):
            model.load_state_dict({"w": [huge, 1.0], "b": 0.0})
    assert snapshot(model) == before
    model.load_state_dict({"w": [10**300, 1], "b": 0})  # large, but a float: fine
    assert model.w[0].data == 1e300


def test_a_key_written_twice_is_refused(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text(
        '{"format": "chaingrad.state_dict", "version": 1, "state": {"w": [1, 2], "b": 0, "b": 5}}'
    )
    with pytest.raises(StateDictError, match="the key 'b' appears twice"):
        Neuron(2).load(path)


# --- parameters the user cannot see -----------------------------------------------------------


class Hidden(Module):
    """Parameters in every place a user might put them."""

    def __init__(self) -> None:
        self.table = {"scale": Value(2.0), "shift": [Value(0.5), Value(-0.5)]}
        self.mixed = [Value(1.0), 3.0, "note", Neuron(1, seed=0), None]
        self.blocks = [[Layer(1, 1, seed=1)], [Layer(1, 1, seed=2)]]  # a list of lists of modules
        self.heads = {"a": Neuron(1, seed=3), "b": Neuron(1, seed=4)}
        self.config = {1: "int keys are fine when they hold no parameters", "lr": 0.1}
        self.loop: list = [Value(9.0)]
        self.loop.append(self.loop)  # a list holding itself

    def forward(self, x):
        return self.table["scale"] * x


def test_parameters_in_dicts_mixed_lists_and_nested_lists_are_found_and_named():
    model = Hidden()
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "table.scale",
        "table.shift.0",
        "table.shift.1",
        "mixed.0",
        "loop.0",  # the module's own parameters first, then its submodules' (as torch)
        "mixed.3.w.0",
        "mixed.3.b",
        "blocks.0.0.neurons.0.w.0",
        "blocks.0.0.neurons.0.b",
        "blocks.1.0.neurons.0.w.0",
        "blocks.1.0.neurons.0.b",
        "heads.a.w.0",
        "heads.a.b",
        "heads.b.w.0",
        "heads.b.b",
    ]
    assert model.num_parameters() == 15
    assert "blocks.1.0" in dict(model.named_modules())


def test_hidden_parameters_are_trained_and_saved(tmp_path):
    from chaingrad.nn.optim import SGD

    model = Hidden()
    opt = SGD(model, lr=0.1)
    loss = model(3.0) + model.table["shift"][0] * model.mixed[0]
    loss.backward()
    opt.step()
    assert model.table["scale"].data == pytest.approx(2.0 - 0.3)
    assert model.mixed[0].data == pytest.approx(1.0 - 0.05)
    model.save(tmp_path / "h.json")
    other = Hidden()
    other.load(tmp_path / "h.json")
    assert snapshot(other) == snapshot(model)
    state = json.loads((tmp_path / "h.json").read_text())["state"]
    assert state["table.shift"] == [model.table["shift"][0].data, -0.5] != [0.5, -0.5]
    assert state["mixed.0"] == model.mixed[0].data


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ({3: Value(1.0)}, "Bad.params: dict key 3 holds parameters or modules"),
        ({"a.b": [Value(1.0)]}, "dict key 'a.b' holds parameters"),
        ({"": Neuron(1)}, "dict key '' holds parameters"),
        ({Value(1.0), Value(2.0)}, "Bad.params: a set holds parameters or modules"),
        ([{"inner": frozenset({Neuron(1)})}], "Bad.params.0.inner: a set holds"),
    ],
)
def test_structures_that_cannot_name_their_parameters_are_refused(attribute, message):
    class Bad(Module):
        def __init__(self):
            self.params = attribute

    with pytest.raises(TypeError, match=message.replace(".", r"\.")):
        Bad().parameters()


# --- printing, pickling, copying --------------------------------------------------------------


def test_repr_of_a_module_that_contains_itself_or_nests_deeply():
    net = Sequential(ReLU())
    net.steps.append(net)
    assert repr(net).splitlines() == [
        "Sequential(",
        "  (steps.0): ReLU()",
        "  (steps.1): <Sequential: contains itself, shown above>",
        ")",
    ]
    deep = Sequential()
    for _ in range(3_000):  # far past the recursion limit
        deep = Sequential(deep)
    text = repr(deep)
    assert text.count("Sequential(") == 3_001 and text.endswith(")")
    assert repr(Hidden()).splitlines()[1] == "  (mixed.3): Neuron(1, activation='relu')"


def test_pickled_mlp_is_the_same_model_and_keeps_training_alike():
    from chaingrad.nn import fit
    from chaingrad.nn.data import make_moons
    from chaingrad.nn.optim import Adam

    X, y = make_moons(30, seed=0)
    model = Sequential(MLP(2, [8, 8], seed=0), Dropout(0.2, seed=1), MLP(8, [2], seed=2))
    fit(model, X, y, optimizer=Adam(model, lr=0.05), steps=3, progress=False)
    twin = pickle.loads(pickle.dumps(model))
    copied = copy.deepcopy(model)
    assert repr(twin) == repr(model)
    for other in (twin, copied):
        assert snapshot(other) == snapshot(model)
        assert not set(map(id, other.parameters())) & set(map(id, model.parameters()))
    histories = [
        fit(m, X, y, optimizer=Adam(m, lr=0.05), steps=5, progress=False).loss
        for m in (model, twin, copied)
    ]
    assert histories[0] == histories[1] == histories[2]  # same weights, same dropout stream


def test_pickling_a_model_with_its_loss_graph_keeps_them_wired():
    model = MLP(2, [4, 1], seed=0)
    loss = sum((model([x, -x]) ** 2 for x in (0.5, 1.5)), Value(0.0))
    model2, loss2 = pickle.loads(pickle.dumps((model, loss)))
    model2.zero_grad()
    loss2.backward()
    loss.backward()
    assert [p.grad for p in model2.parameters()] == [p.grad for p in model.parameters()]


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
