"""A graphviz.Digraph whose every ``dot`` run is bounded in time and fails in one line.

``draw_dot``, the step-through frames and ``draw_program`` return this class:
``pipe``, ``render``, ``view`` and the notebook display run ``dot`` through
:func:`chaingrad.viz.output.pipe` (at most ``timeout`` seconds; a missing,
crashing or slow ``dot`` is one :class:`~chaingrad.viz.output.DotError`).
Importing this module imports graphviz, so the rest of ``chaingrad.viz``
imports it only when something is drawn.

>>> from chaingrad import Value
>>> from chaingrad.viz import draw_dot
>>> graph = draw_dot(Value(2.0, label="x") * 3, timeout=5)
>>> isinstance(graph, Digraph), graph.timeout
(True, 5)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

try:
    import graphviz
except ImportError:
    raise ImportError(
        "chaingrad.viz needs the 'graphviz' Python package: pip install 'chaingrad[viz]' "
        "(and the Graphviz 'dot' program: apt install graphviz / brew install graphviz / "
        "conda install -c conda-forge graphviz)"
    ) from None

from . import output


class Digraph(graphviz.Digraph):
    """graphviz.Digraph from chaingrad.viz.draw_dot: ``dot`` runs at most ``timeout``
    seconds, and a missing, crashing or slow ``dot`` is one clear error."""

    timeout: float | None = None
    # what a failed or slow dot run advises, in the options of the function that drew it
    hint: str = output.SUMMARIZE_HINT
    what: str = "the graph"

    def pipe(
        self,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: Any = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> Any:
        if renderer or formatter or neato_no_op or (engine and engine != "dot"):
            return super().pipe(
                format,
                renderer,
                formatter,
                neato_no_op,
                quiet,
                engine=engine,
                encoding=encoding,
            )
        data = output.pipe(self.source, format or self.format, self.timeout, self.what, self.hint)
        return data.decode(encoding) if encoding else data

    def render(
        self,
        filename: Any = None,
        directory: Any = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: Any = None,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        outfile: Any = None,
        engine: str | None = None,
        raise_if_result_exists: bool = False,
        overwrite_source: bool = False,
    ) -> str:
        if renderer or formatter or neato_no_op or (engine and engine != "dot"):
            try:
                return str(
                    super().render(
                        filename,
                        directory,
                        view,
                        cleanup,
                        format,
                        renderer,
                        formatter,
                        neato_no_op,
                        quiet,
                        quiet_view,
                        outfile=outfile,
                        engine=engine,
                        raise_if_result_exists=raise_if_result_exists,
                        overwrite_source=overwrite_source,
                    )
                )
            except graphviz.ExecutableNotFound:
                output.require_dot()
                raise
        # graphviz's own semantics: save the source, write the picture beside it
        # (FILE.gv.svg), or to outfile with the format taken from its extension.
        if outfile is not None:
            outfile = Path(outfile)
            if format is None:
                format = outfile.suffix.lstrip(".").lower() or self.format
            if directory is None:
                outfile = Path(self.directory or ".", outfile)
            if filename is None:
                filename = outfile.with_suffix(".gv").name
                directory = str(outfile.parent)
        format = format or self.format
        data = output.pipe(self.source, format, self.timeout, self.what, self.hint)
        filepath = self.save(filename, directory=directory)
        rendered = str(outfile) if outfile is not None else f"{filepath}.{format}"
        if raise_if_result_exists and os.path.exists(rendered):
            raise FileExistsError(f"output file exists: {rendered!r}")
        output.write_atomic(rendered, data)
        if cleanup:
            os.remove(filepath)
        if view or quiet_view:
            self._view(rendered, format=format, quiet=quiet_view)
        return rendered
