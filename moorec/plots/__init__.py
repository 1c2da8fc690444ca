"""Figures from a run folder: Pareto fronts, attainment surfaces, hypervolume, paper style.

Every figure is made from what :func:`moorec.results.load` reads, never by searching again, so
it can be remade and restyled at any time. Each function takes an optional ``ax`` (or ``fig``),
returns it, and never calls ``plt.show()``; :func:`style.save <moorec.plots.style.save>`
writes vector PDF plus PNG. Values keep each objective's natural direction.
"""

from moorec.plots import style
from moorec.plots.attainment import attainment, attainment_surfaces
from moorec.plots.common import RunIncompleteWarning, front_points, step_vertices
from moorec.plots.front import front, front3d, fronts, scatter_matrix
from moorec.plots.hv import hypervolume
from moorec.plots.pcp import parallel_coordinates
from moorec.plots.report import report
from moorec.plots.style import PALETTE, WIDTHS, figure, label, paper_style, save

__all__ = [
    "PALETTE",
    "WIDTHS",
    "RunIncompleteWarning",
    "attainment",
    "attainment_surfaces",
    "figure",
    "front",
    "front3d",
    "front_points",
    "fronts",
    "hypervolume",
    "label",
    "paper_style",
    "parallel_coordinates",
    "report",
    "save",
    "scatter_matrix",
    "step_vertices",
    "style",
]
