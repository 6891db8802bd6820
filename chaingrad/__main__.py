"""``python -m chaingrad ...`` is the ``chaingrad`` command."""

from .cli import main

raise SystemExit(main())
