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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    try:
        args = build_parser(command).parse_args(argv)
        return int(args._run(args) or 0)
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
