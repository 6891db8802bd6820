"""Text for language models: the names dataset shipped with chaingrad, and a character tokenizer.

``load_names()`` returns the 32,033 first names of Andrej Karpathy's makemore
(``names.txt``, MIT License, Copyright (c) 2022 Andrej Karpathy; compiled from
the US Social Security Administration's baby-name records), read from a copy
inside the package, so it works offline and from an installed wheel.

A :class:`CharTokenizer` turns each character into an integer id and back.
Like makemore and microgpt it has one extra *boundary* token (written ``.``,
id 0) that marks where a name starts and ends: a model reading
``. e m m a`` learns to predict ``e m m a .``, and sampling stops when it
produces the boundary again.

>>> from chaingrad.nn.data import CharTokenizer, load_names
>>> names = load_names()
>>> len(names), names[:3]
(32033, ['emma', 'olivia', 'ava'])
>>> tok = CharTokenizer.from_texts(names)
>>> tok.vocab_size
27
>>> tok.encode("emma", boundary=True)
[0, 5, 13, 13, 1, 0]
>>> tok.decode([0, 5, 13, 13, 1, 0])
'emma'
"""

from __future__ import annotations

import gzip
import numbers
from collections.abc import Iterable, Sequence
from importlib import resources

from ._checks import short_repr

_NAMES_FILE = "_data/names.txt.gz"


def load_names() -> list[str]:
    """The 32,033 lowercase first names of makemore's ``names.txt``, in file order.

    Read from ``chaingrad/nn/_data/names.txt.gz`` inside the package (nothing is
    downloaded). Source and license: ``chaingrad/nn/_data/README.md``. Each
    call returns a new list, so shuffling it in place is safe.

    >>> names = load_names()
    >>> names[-1], min(map(len, names)), max(map(len, names))
    ('zzyzx', 2, 15)
    """
    data = resources.files("chaingrad.nn").joinpath(_NAMES_FILE).read_bytes()
    return [line for line in gzip.decompress(data).decode("utf-8").split("\n") if line]


class CharTokenizer:
    """Characters to integer ids and back, with a boundary token at id 0.

    ``chars`` are the characters of the vocabulary (duplicates are ignored);
    they get ids 1, 2, ... in sorted order, and ``boundary`` (default ``"."``,
    as in makemore) gets id 0. :meth:`from_texts` collects the characters of a
    corpus.

    >>> tok = CharTokenizer("abc")
    >>> tok
    CharTokenizer(vocab_size=4, boundary='.', chars='abc')
    >>> tok.encode("cab"), tok.decode([3, 1, 2])
    ([3, 1, 2], 'cab')
    """

    def __init__(self, chars: Iterable[str], boundary: str = ".") -> None:
        if not isinstance(boundary, str) or len(boundary) != 1:
            raise ValueError(f"CharTokenizer: boundary must be one character, got {boundary!r}")
        distinct = set()
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"CharTokenizer: chars must be single characters, got {c!r}")
            distinct.add(c)
        if boundary in distinct:
            raise ValueError(
                f"CharTokenizer: the boundary {boundary!r} is also one of the characters; "
                "pick another boundary"
            )
        if not distinct:
            raise ValueError("CharTokenizer: needs at least one character")
        self.boundary = boundary
        self.boundary_id = 0
        # id -> character; the boundary first, as makemore's '.'
        self.itos: list[str] = [boundary, *sorted(distinct)]
        # character -> id
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], boundary: str = ".") -> CharTokenizer:
        """The tokenizer whose characters are every character used in ``texts``.

        >>> CharTokenizer.from_texts(["ab", "ba", "c"]).itos
        ['.', 'a', 'b', 'c']
        """
        return cls((c for text in texts for c in text), boundary)

    @property
    def vocab_size(self) -> int:
        """How many ids there are: the characters plus the boundary."""
        return len(self.itos)

    def encode(self, text: str, boundary: bool = False) -> list[int]:
        """The ids of ``text``'s characters; ``boundary=True`` adds the boundary id at both ends.

        The boundary character itself may appear in ``text`` (it encodes to 0),
        so ``encode(decode(ids, boundary=True))`` gives ``ids`` back.

        >>> CharTokenizer("ab").encode("ba", boundary=True)
        [0, 2, 1, 0]
        """
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expects a str, got {type(text).__name__}")
        stoi = self.stoi
        try:
            ids = [stoi[c] for c in text]
        except KeyError as missing:
            # One line, whatever the text: the character, where it is, and a glimpse of both.
            c = missing.args[0]
            where = f"position {text.index(c)} of {short_repr(text)}"
            vocabulary = short_repr("".join(self.itos[1:]), 60)
            raise ValueError(
                f"CharTokenizer.encode: character {c!r} at {where} is not in the "
                f"vocabulary {vocabulary}"
            ) from None
        return [0, *ids, 0] if boundary else ids

    def decode(self, ids: Sequence[int], boundary: bool = False) -> str:
        """The text of ``ids``; boundary tokens are left out unless ``boundary=True``.

        >>> tok = CharTokenizer("ab")
        >>> tok.decode([0, 1, 2, 0]), tok.decode([0, 1, 2, 0], boundary=True)
        ('ab', '.ab.')
        """
        n = len(self.itos)
        chars: list[str] = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < n:
                raise ValueError(f"CharTokenizer.decode: ids must be ints in [0, {n}), got {i!r}")
            if i != 0 or boundary:
                chars.append(self.itos[i])
        return "".join(chars)

    def __repr__(self) -> str:
        return (
            f"CharTokenizer(vocab_size={self.vocab_size}, boundary={self.boundary!r}, "
            f"chars={''.join(self.itos[1:])!r})"
        )
