"""The error a ``chaingrad`` subcommand raises for bad command-line input.

Defined apart from ``cli.py`` so the subcommands (``nn/demo.py``,
``viz/formula.py``) can raise it without importing the command line: ``cli``
sits on top and nothing imports it. ``cli.main`` prints it as one line and
exits with status 2.

>>> str(UsageError("chaingrad demo: error: --steps must be a whole number"))
'chaingrad demo: error: --steps must be a whole number'
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""
