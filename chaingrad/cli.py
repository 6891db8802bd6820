"""The ``chaingrad`` command line: ``chaingrad demo`` and ``chaingrad graph``.

Each subcommand lives beside the code it drives and provides two functions:
``configure(parser)`` adds its arguments, ``run(args) -> int`` does the work.
They are imported only when the command line is parsed, so ``import chaingrad``
stays light. They report bad input by raising ``UsageError`` (``_usage.py``);
nothing imports this module.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from ._usage import UsageError

# name -> (module providing configure/run, one-line help)
SUBCOMMANDS = {
    "demo": ("chaingrad.nn.demo", "train micrograd's moons demo and write plots and the model"),
    "graph": ("chaingrad.viz.formula", "render the graph of a formula after backward"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        # argparse quotes the arguments it refuses: a newline (or bytes that are
        # not UTF-8) in one must not break the one-line promise
        message = " ".join(message.split()).encode("utf-8", "backslashreplace").decode()
        raise UsageError(f"{self.prog}: error: {message} (see --help)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; only ``command``'s module is imported and configured.

    Importing one subcommand's module only when it is chosen keeps the others'
    dependencies (and any breakage in them) out of its way.
    """
    return _build(command)[0]


def _build(command: str | None) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser | None]:
    """The full parser and ``command``'s own (None when it names no subcommand)."""
    chosen = None
    parser = _Parser(prog="chaingrad", description="chaingrad: scalar autodiff for learning.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"chaingrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            sub_parser.description = module.__doc__
            sub_parser.formatter_class = argparse.RawDescriptionHelpFormatter
            module.configure(sub_parser)
            sub_parser.set_defaults(_run=module.run)
            chosen = sub_parser
    return parser, chosen


def _shield_leading_dash(
    parser: argparse.ArgumentParser, argv: list[str]
) -> tuple[list[str], tuple[str, str] | None]:
    """``argv`` with a first positional argument that starts with ``-`` set aside.

    argparse reads ``chaingrad graph "-x*y" x=1`` as an unknown option ``-x*y``.
    Walking the arguments as argparse would, the first one that is neither an
    option of ``parser`` nor an option's value is the first positional: if it
    starts with ``-``, it is replaced by a placeholder and returned as
    ``(dest, text)`` to be put back after parsing. (``--`` still works too.)
    """
    positionals = [action for action in parser._actions if not action.option_strings]
    options = parser._option_string_actions
    i = 0
    while positionals and i < len(argv):
        token = argv[i]
        if token == "--" or not token.startswith("-") or token == "-":
            break
        name = token.split("=", 1)[0] if token.startswith("--") else token[:2]
        action = options.get(name)
        if action is None and token.startswith("--"):
            break  # an unknown or abbreviated long option: argparse's to judge
        if action is None:  # not an option: the first positional, starting with "-"
            return [*argv[:i], "placeholder", *argv[i + 1 :]], (positionals[0].dest, token)
        attached = "=" in token if token.startswith("--") else len(token) > 2
        i += 1 if action.nargs == 0 or attached else 2
    return argv, None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    try:
        parser, sub_parser = _build(command)
        shielded = None
        if sub_parser is not None and command is not None:
            at = argv.index(command) + 1
            rest, shielded = _shield_leading_dash(sub_parser, argv[at:])
            argv = argv[:at] + rest
        args = parser.parse_args(argv)
        if shielded is not None:
            setattr(args, *shielded)
        return int(args._run(args) or 0)
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
