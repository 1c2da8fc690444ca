"""Paper style: colour-blind-safe colours, column widths, LaTeX-like fonts, saving to PDF and PNG.

Figures are sized for two-column papers (``WIDTHS``: 3.5 in for one column, 7.16 in for the
whole page width, as in the IEEE and ACM templates) and set in Computer Modern (matplotlib's
bundled ``cmr10``, with DejaVu Serif for the few glyphs it lacks, such as arrows) at 8-9 pt, so
they sit next to LaTeX body text without looking pasted in. TeX itself is used only when asked
(``usetex=True``), because it needs a LaTeX installation.

Example:
    >>> from moorec.plots import style
    >>> fig, ax = style.figure("single")
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> _ = ax.set_xlabel(style.label("ndcg@10", "max"))
    >>> [round(float(v), 2) for v in fig.get_size_inches()]
    [3.5, 2.16]
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moorec.errors import ConfigError, UnknownNameError, check_choice

__all__ = [
    "MARKERS",
    "PALETTE",
    "WIDTHS",
    "figure",
    "golden_height",
    "label",
    "paper_style",
    "save",
    "short_label",
    "style_of",
    "text",
]

#: Okabe and Ito's colour-blind-safe palette (Okabe & Ito 2008, "Color Universal Design"), in
#: the order used for successive series; yellow comes late because it is faint on white.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

#: Marker shapes used alongside :data:`PALETTE`, so series stay apart in greyscale print.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "<")

#: Figure widths in inches: one column and the full width of a two-column paper.
WIDTHS = {"single": 3.5, "double": 7.16}

_GOLDEN = (1 + 5**0.5) / 2

# Readable names of the objectives moorec knows (moorec.objectives.available()), and their units.
_NAMES = {
    "recall": "Recall",
    "ndcg": "NDCG",
    "hit": "Hit rate",
    "precision": "Precision",
    "mrr": "MRR",
    "map": "MAP",
    "ild": "ILD",
    "ild_cosine": "ILD (cosine)",
    "category_coverage": "category coverage",
    "coverage": "catalogue coverage",
    "gini": "Gini of exposure",
    "novelty": "novelty",
    "arp": "ARP",
    "aplt": "APLT",
    "latency_ms": "latency",
    "latency_p95_ms": "p95 latency",
    "params": "parameters",
    "trainable_params": "trainable parameters",
    "flops": "FLOPs per batch",
    "bytes_accessed": "bytes per batch",
    "hypervolume": "hypervolume",
    "igd_plus": "IGD+",
}
_UNITS = {"latency_ms": "ms", "latency_p95_ms": "ms", "novelty": "bits"}
_ARROWS = {"max": "↑", "min": "↓"}
# Arrows as math symbols (for TeX, and for mathtext where a label must be set in it).
_MATH_ARROWS = {
    "↑": r"\uparrow",
    "↓": r"\downarrow",
    "↗": r"\nearrow",
    "↖": r"\nwarrow",
    "↘": r"\searrow",
    "↙": r"\swarrow",
}
_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"$<$",
    ">": r"$>$",
    "|": r"$|$",
}
# cmr10 (TeX's OT1 encoding) has other glyphs at these ASCII positions: "_" prints as a dot
# accent, "<" as an inverted exclamation mark. Mathtext in the "cm" set draws them correctly.
_CMR10_MATHTEXT = {
    "_": r"\_",
    "<": "<",
    ">": ">",
    "{": r"\{",
    "}": r"\}",
    "|": "|",
    "\\": r"\backslash",
}


def paper_style(usetex: bool = False) -> dict[str, Any]:
    """Matplotlib settings (``rcParams``) for paper figures.

    Serif text in Computer Modern (``cmr10``, shipped with matplotlib; DejaVu Serif fills in
    missing glyphs) with mathtext in the ``cm`` set, 8 pt text and tick labels, 9 pt titles,
    thin lines, the :data:`PALETTE` colour cycle, TrueType fonts embedded in PDFs (some
    publishers reject Type 3 fonts) and tight bounding boxes when saving.

    Args:
        usetex: render text with LaTeX (``text.usetex``); needs ``latex`` on the ``PATH``.

    Returns:
        A dict to pass to ``matplotlib.rc_context`` or ``matplotlib.rcParams.update``.
    """
    from cycler import cycler

    rc: dict[str, Any] = {
        "font.family": ["cmr10", "DejaVu Serif"],
        "font.serif": ["cmr10", "Computer Modern Roman", "DejaVu Serif"],
        "mathtext.fontset": "cm",
        "axes.formatter.use_mathtext": True,  # cmr10 has no minus sign; mathtext does
        "axes.unicode_minus": True,
        "font.size": 8,
        "axes.labelsize": 8,
        "axes.titlesize": 9,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "legend.title_fontsize": 8,
        "figure.titlesize": 9,
        "axes.linewidth": 0.6,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.linewidth": 0.4,
        "grid.alpha": 0.35,
        "grid.color": "#9a9a9a",
        "axes.axisbelow": True,
        "axes.labelpad": 2.5,
        "axes.titlepad": 4.0,
        "axes.prop_cycle": cycler(color=list(PALETTE)),
        "lines.linewidth": 1.0,
        "lines.markersize": 3.5,
        "patch.linewidth": 0.5,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "xtick.minor.width": 0.4,
        "ytick.minor.width": 0.4,
        "xtick.major.size": 2.5,
        "ytick.major.size": 2.5,
        "xtick.major.pad": 2.0,
        "ytick.major.pad": 2.0,
        "legend.frameon": True,
        "legend.framealpha": 0.85,
        "legend.edgecolor": "none",
        "legend.borderpad": 0.3,
        "legend.handlelength": 1.6,
        "legend.handletextpad": 0.4,
        "legend.borderaxespad": 0.3,
        "legend.labelspacing": 0.3,
        "figure.dpi": 100,
        "savefig.dpi": 300,
        "savefig.bbox": "tight",
        "savefig.pad_inches": 0.02,
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "text.usetex": bool(usetex),
    }
    if usetex:
        rc["font.family"] = "serif"
        rc["font.serif"] = ["Computer Modern Roman"]
        rc["text.latex.preamble"] = r"\usepackage{amsmath}\usepackage{amssymb}"
    return rc


def _width_inches(width: str | float) -> float:
    if isinstance(width, str):
        return WIDTHS[check_choice("figure width", width, WIDTHS)]
    if isinstance(width, bool) or not isinstance(width, int | float) or not width > 0:
        raise ConfigError(
            f"width must be 'single', 'double' or a positive number of inches, got {width!r}"
        )
    return float(width)


def figure(
    width: str | float = "single",
    height: float | None = None,
    *,
    nrows: int = 1,
    ncols: int = 1,
    usetex: bool = False,
    projection: str | None = None,
):
    """A new figure in the paper style, with a grid of axes.

    The style (:func:`paper_style`) is applied while the figure and its axes are made, and is
    kept on the figure as ``fig.moorec_style``, so that the plotting functions of
    :mod:`moorec.plots` draw into these axes with the same fonts later.

    Args:
        width: ``"single"`` (3.5 in), ``"double"`` (7.16 in) or a width in inches.
        height: height in inches; by default each panel is as high as its width divided by
            the golden ratio.
        nrows: rows of panels.
        ncols: columns of panels.
        usetex: render text with LaTeX.
        projection: axes projection, e.g. ``"3d"``.

    Returns:
        ``(fig, ax)``: ``ax`` is one ``Axes`` for a single panel, else an ``[nrows, ncols]``
        (squeezed) array of them.

    Raises:
        UnknownNameError: ``width`` is an unknown name.
        ConfigError: a size or count is not positive.
    """
    import matplotlib.pyplot as plt

    w = _width_inches(width)
    for name, n in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{name} must be a positive integer, got {n!r}")
    if height is None:
        height = w / ncols / _GOLDEN * nrows
    elif isinstance(height, bool) or not isinstance(height, int | float) or not height > 0:
        raise ConfigError(f"height must be a positive number of inches, got {height!r}")
    rc = paper_style(usetex)
    with plt.rc_context(rc):
        subplot_kw = {} if projection is None else {"projection": projection}
        fig, ax = plt.subplots(
            nrows, ncols, figsize=(w, float(height)), layout="constrained", subplot_kw=subplot_kw
        )
    fig.moorec_style = rc
    return fig, ax


def style_of(fig) -> contextlib.AbstractContextManager:
    """A context that applies the style a figure was made with (see :func:`figure`), if any."""
    rc = getattr(fig, "moorec_style", None)
    if rc is None:
        return contextlib.nullcontext()
    import matplotlib as mpl

    return mpl.rc_context(rc)


def save(
    fig,
    path_without_suffix: str | os.PathLike,
    *,
    formats: Sequence[str] = ("pdf", "png"),
    dpi: int = 300,
) -> list[Path]:
    """Write a figure as vector PDF and PNG (or the given formats), creating folders.

    The figure is not closed (call ``matplotlib.pyplot.close(fig)`` when done with it).

    Args:
        fig: the ``Figure``.
        path_without_suffix: e.g. ``"figures/front"`` writes ``figures/front.pdf`` and
            ``figures/front.png``; a suffix that is one of ``formats`` is dropped.
        formats: file formats matplotlib can write (``"pdf"``, ``"png"``, ``"svg"``, ...).
        dpi: resolution of raster formats.

    Returns:
        The paths written, in the order of ``formats``.

    Raises:
        ConfigError: ``formats`` is empty or holds a format matplotlib cannot write.
    """
    if isinstance(formats, str):
        formats = (formats,)
    formats = [f.lower().lstrip(".") for f in formats]
    supported = fig.canvas.get_supported_filetypes()
    bad = [f for f in formats if f not in supported]
    if not formats or bad:
        raise ConfigError(
            f"formats must be one or more of {', '.join(sorted(supported))}; got {formats!r}"
        )
    base = Path(path_without_suffix)
    if base.suffix.lstrip(".").lower() in formats:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    # fontTools warns about the 1970 timestamps of matplotlib's bundled TeX fonts when it
    # subsets them into a PDF; the warning says nothing about the figure.
    fonttools = logging.getLogger("fontTools")
    level = fonttools.level
    fonttools.setLevel(max(level, logging.ERROR))
    try:
        with style_of(fig):
            for fmt in formats:
                path = base.with_name(f"{base.name}.{fmt}")
                metadata = {"CreationDate": None} if fmt == "pdf" else None  # reproducible
                fig.savefig(
                    path,
                    format=fmt,
                    dpi=dpi,
                    bbox_inches="tight",
                    pad_inches=0.02,
                    metadata=metadata,
                )
                paths.append(path)
    finally:
        fonttools.setLevel(level)
    return paths


def _split_key(key: str) -> tuple[str, str]:
    name, at, k = key.strip().partition("@")
    return name.strip().lower(), k.strip() if at else ""


def _name(key: str) -> str:
    name, k = _split_key(key)
    if name not in _NAMES:
        return key
    text = _NAMES[name]
    if not k:
        return text
    if text.endswith(")"):  # "ILD (cosine)" -> "ILD@10 (cosine)"
        head, _, tail = text.partition(" (")
        return f"{head}@{k} ({tail}"
    return f"{text}@{k}"


def _qualifiers(key: str, split: str | None, log: bool) -> list[str]:
    """What goes in brackets after an objective's name: unit, test split, log scale."""
    if split is not None and split not in ("valid", "test"):
        raise UnknownNameError("split", split, ("valid", "test"))
    out = []
    unit = _UNITS.get(_split_key(key)[0])
    if unit:
        out.append(unit)
    if split == "test":
        out.append("test")
    if log:
        out.append("log scale")
    return out


def label(key: str, direction: str, *, split: str | None = None, log: bool = False) -> str:
    """An axis label for an objective: its readable name, unit and better direction.

    Args:
        key: an objective key (``"ndcg@10"``, ``"latency_ms"``, ... see
            ``moorec.objectives.available()``), or ``"hypervolume"`` / ``"igd_plus"``. An
            unknown key is used as it is.
        direction: ``"max"`` or ``"min"``.
        split: ``"test"`` adds ``test`` (the axis shows test values); ``"valid"`` or ``None``
            add nothing.
        log: the axis is log-scaled; adds ``log scale``.

    Returns:
        E.g. ``"NDCG@10 (↑ better)"``, ``"latency (ms, ↓ better)"``, ``"NDCG@10 (test, ↑
        better)"``, ``"latency (ms, log scale, ↓ better)"``. Under ``text.usetex`` the arrows
        are TeX math and special characters are escaped.

    Raises:
        UnknownNameError: ``direction`` is not ``"max"`` or ``"min"``, or ``split`` is not
            ``"valid"``, ``"test"`` or ``None``.

    Example:
        >>> label("ild@10", "max"), label("latency_ms", "min")
        ('ILD@10 (↑ better)', 'latency (ms, ↓ better)')
        >>> label("ndcg@10", "max", split="test"), label("latency_ms", "min", log=True)
        ('NDCG@10 (test, ↑ better)', 'latency (ms, log scale, ↓ better)')
    """
    check_choice("direction", direction, _ARROWS)
    parts = [*_qualifiers(key, split, log), f"{_ARROWS[direction]} better"]
    name = _name(key)
    if name.endswith(")"):  # "ILD@10 (cosine)" -> "ILD@10 (cosine, ↑ better)"
        return text(f"{name[:-1]}, {', '.join(parts)})")
    return text(f"{name} ({', '.join(parts)})")


def short_label(
    key: str, direction: str | None = None, *, split: str | None = None, log: bool = False
) -> str:
    """A compact label for crowded axes: ``"NDCG@10 ↑"``, ``"latency (ms) ↓"``, ``"lr"``.

    Args:
        key: an objective key or any other column name (used as it is).
        direction: ``"max"``, ``"min"`` or ``None`` (no arrow, e.g. a decision variable).
        split: ``"test"`` adds ``test`` (``"NDCG@10 (test) ↑"``); ``"valid"`` or ``None`` add
            nothing.
        log: the axis is log-scaled (``"lr (log scale)"``).

    Returns:
        The label.
    """
    if direction is not None and direction not in _ARROWS:
        raise UnknownNameError("direction", direction, _ARROWS)
    name = _name(key)
    parts = _qualifiers(key, split, log)
    if not parts:
        out = name
    elif name.endswith(")"):
        out = f"{name[:-1]}, {', '.join(parts)})"
    else:
        out = f"{name} ({', '.join(parts)})"
    if direction is not None:
        out = f"{out} {_ARROWS[direction]}"
    return text(out)


def text(s: str) -> str:
    r"""Make a string print as written in the current style.

    Under ``text.usetex`` LaTeX's special characters are escaped and arrows become math. With
    the default ``cmr10`` font, the characters it draws as other glyphs (``_ < > { } | \``)
    are set in mathtext, which draws them correctly; strings that already hold mathtext
    (``$...$``) are left alone. Every label moorec draws passes through here; use it for
    labels of your own in the paper style too.

    Args:
        s: the text as it should read.

    Returns:
        The string to give matplotlib.

    Example:
        >>> import matplotlib as mpl
        >>> with mpl.rc_context(paper_style()):
        ...     text("div_weight")
        'div$\\_$weight'
    """
    import matplotlib as mpl

    s = str(s)
    if mpl.rcParams["text.usetex"]:
        return "".join(
            f"${_MATH_ARROWS[c]}$" if c in _MATH_ARROWS else _TEX_ESCAPES.get(c, c) for c in s
        )
    family = list(mpl.rcParams["font.family"])
    first = family[0] if family else ""
    if first == "serif":
        first = (list(mpl.rcParams["font.serif"]) or [""])[0]
    if first != "cmr10" or "$" in s or not any(c in _CMR10_MATHTEXT for c in s):
        return s
    if any(ord(c) > 127 and c not in _MATH_ARROWS for c in s):
        return s  # mathtext has no fallback font for these; keep them, at the cost of "_"
    return "".join(
        f"${_CMR10_MATHTEXT[c]}$"
        if c in _CMR10_MATHTEXT
        else f"${_MATH_ARROWS[c]}$"
        if c in _MATH_ARROWS
        else c
        for c in s
    )


def golden_height(width: str | float, rows: float = 1.0) -> float:
    """Height in inches of ``rows`` golden-ratio panels of the given width."""
    return _width_inches(width) / _GOLDEN * rows
