"""The run store: one folder per search run, written as it goes and read back as a :class:`Run`.

``RunStore`` writes (append-only JSON lines plus atomically written JSON files); ``load`` reads.
The folder format is described in ``docs/results.md``.
"""

from moorec.results.run import Run, load
from moorec.results.store import RunStore
from moorec.results.tables import pareto_latex, pareto_markdown

__all__ = ["Run", "RunStore", "load", "pareto_latex", "pareto_markdown"]
