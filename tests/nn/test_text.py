"""The names dataset ships inside the package (offline, from a wheel); the tokenizer round-trips."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import chaingrad
from chaingrad.nn.data import CharTokenizer, load_names

# sha256 of makemore's names.txt (commit 988aa59, the file microgpt downloads).
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
PACKAGE = Path(chaingrad.__file__).parent


def test_load_names_is_makemores_file_byte_for_byte():
    names = load_names()
    assert len(names) == 32033
    assert names[:3] == ["emma", "olivia", "ava"]
    assert hashlib.sha256("\n".join(names).encode()).hexdigest() == NAMES_SHA256
    assert set("".join(names)) == set("abcdefghijklmnopqrstuvwxyz")
    assert max(map(len, names)) == 15  # so 17 tokens with boundaries: microgpt's block_size 16


def test_load_names_returns_a_fresh_list_each_call():
    names = load_names()
    names.clear()
    assert len(load_names()) == 32033


def test_the_shipped_file_carries_its_attribution():
    notice = (PACKAGE / "nn" / "_data" / "README.md").read_text()
    assert "Andrej Karpathy" in notice and "MIT License" in notice
    assert "Copyright (c) 2022 Andrej Karpathy" in sys.modules["chaingrad.nn.text"].__doc__


def test_load_names_works_from_a_zipped_package_without_network(tmp_path):
    # A wheel is a zip file: importlib.resources must find the data inside one.
    archive = tmp_path / "chaingrad.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in PACKAGE.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                z.write(path, Path("chaingrad") / path.relative_to(PACKAGE))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import socket; socket.socket = None;"  # any network use would fail
        "import chaingrad.nn.data as d; n = d.load_names();"
        "print(d.__file__.startswith(sys.argv[1]), len(n))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(archive)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "32033"]


@pytest.mark.slow
def test_the_wheel_contains_the_names(tmp_path):
    pip = shutil.which("pip") or pytest.skip("pip not found")
    root = PACKAGE.parent
    if not (root / "pyproject.toml").exists():
        pytest.skip("not running from a source checkout")
    source = tmp_path / "src"
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info"))
    subprocess.run(
        [pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("chaingrad-*.whl")
    with zipfile.ZipFile(wheel) as z:
        data = z.read("chaingrad/nn/_data/names.txt.gz")
        assert "chaingrad/nn/_data/README.md" in z.namelist()
    assert hashlib.sha256(gzip.decompress(data)).hexdigest() == NAMES_SHA256


def test_tokenizer_for_names_has_27_ids_boundary_first():
    tok = CharTokenizer.from_texts(load_names())
    assert tok.vocab_size == 27
    assert tok.itos[0] == "." and tok.boundary_id == 0
    assert tok.itos[1:] == list("abcdefghijklmnopqrstuvwxyz")
    assert tok.encode("emma") == [5, 13, 13, 1]
    assert tok.encode("emma", boundary=True) == [0, 5, 13, 13, 1, 0]


@pytest.mark.parametrize("text", ["", "a", "zzyzx", "anna"])
def test_encode_decode_round_trip(text):
    tok = CharTokenizer("anzyx")
    assert tok.decode(tok.encode(text)) == text
    ids = tok.encode(text, boundary=True)
    assert tok.decode(ids) == text
    assert tok.encode(tok.decode(ids, boundary=True)) == ids


def test_custom_boundary():
    tok = CharTokenizer("ab", boundary="#")
    assert tok.itos == ["#", "a", "b"]
    assert tok.decode(tok.encode("ab", boundary=True), boundary=True) == "#ab#"


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda t: t.encode("abé"),
            "character 'é' at position 2 of 'abé' is not in the vocabulary 'abc'",
        ),
        (lambda t: t.decode([0, 4]), r"ids must be ints in \[0, 4\), got 4"),
        (lambda t: t.decode([-1]), r"got -1"),
        (lambda t: t.decode([1.0]), r"got 1.0"),
        (lambda t: t.decode([True]), r"got True"),
    ],
)
def test_bad_input_names_the_tokenizer_and_the_problem(call, message):
    with pytest.raises(ValueError, match=f"CharTokenizer.(en|de)code: .*{message}"):
        call(CharTokenizer("abc"))


def test_an_unknown_character_in_a_long_text_is_one_short_line():
    text = "abc" * 100_000 + "\n" + "Z" + "cab" * 100_000
    with pytest.raises(ValueError) as info:
        CharTokenizer("abc\n").encode(text)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200, message
    assert message.startswith("CharTokenizer.encode: character 'Z' at position 300001 of 'abcabc")


@pytest.mark.parametrize(
    "args, message",
    [
        (("ab", "ab"), "boundary must be one character"),
        (("a.",), r"the boundary '\.' is also one of the characters"),
        (("",), "needs at least one character"),
        ((["ab"],), "chars must be single characters"),
    ],
)
def test_bad_vocabulary(args, message):
    with pytest.raises(ValueError, match=message):
        CharTokenizer(*args)


def test_encode_wants_a_string():
    with pytest.raises(TypeError, match=r"CharTokenizer\.encode: expects a str, got list"):
        CharTokenizer("ab").encode(["a"])
