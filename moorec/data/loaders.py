"""Readers that turn interaction files into :class:`~moorec.data.interactions.Interactions`.

Formats:

* RecBole atomic files (``NAME.inter`` + optional ``NAME.item`` / ``NAME.user``), tab-separated
  with typed headers such as ``user_id:token item_id:token rating:float timestamp:float``
  (:func:`load_atomic`).
* MovieLens raw releases: ml-100k ``u.data`` / ``u.item`` / ``u.genre``
  (:func:`load_movielens_100k`) and ml-1m ``ratings.dat`` / ``movies.dat``
  (:func:`load_movielens_1m`).
* Generic delimited text (CSV, TSV, space-separated, ``::``) and Parquet (:func:`load_table`).

Every loader returns an ``Interactions`` built with :meth:`Interactions.from_raw`: dense ``int32``
indices assigned in sorted order of the raw ids (ids that all look like integers are compared as
integers, so item ``"10"`` comes after item ``"9"``). Item side information becomes an
:class:`~moorec.data.interactions.ItemFeatures` (multi-hot categories, titles, years). The
``log`` of the result says which files were read and how.

The text readers use only the standard library and NumPy; Parquet needs the optional ``pyarrow``
package (``pip install 'moorec[parquet]'``).
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from moorec.data.interactions import Interactions, ItemFeatures, align_item_features
from moorec.errors import (
    ColumnError,
    ConfigError,
    DataNotFoundError,
    EmptyDataError,
    MoorecError,
    UnknownNameError,
)

__all__ = [
    "MOVIELENS_GENRES",
    "load_atomic",
    "load_movielens_1m",
    "load_movielens_100k",
    "load_table",
]

#: The 19 genres of MovieLens 100K in the order of its ``u.genre`` file (ml-1m uses the same
#: names without ``"unknown"``). Loaders order MovieLens genres this way, whatever the format.
MOVIELENS_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

ROLES = ("user", "item", "rating", "timestamp")

# Column names recognised when a table with a header is loaded without an explicit mapping
# (compared case-insensitively, after dropping a RecBole ``:type`` suffix).
_AUTO_NAMES = {
    "user": ("user_id", "user", "userid", "uid", "reviewerid", "customer_id", "visitorid"),
    "item": ("item_id", "item", "itemid", "iid", "movieid", "movie_id", "asin", "product_id"),
    "rating": ("rating", "score", "overall", "stars"),
    "timestamp": ("timestamp", "time", "ts", "unixreviewtime", "datetime"),
}

_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
_YEAR = re.compile(r"(\d{4})\s*$")


# ---------------------------------------------------------------------------------------------
# Generic delimited / Parquet tables
# ---------------------------------------------------------------------------------------------
def load_table(
    path: str | Path,
    columns: Mapping[str, str | int | None] | None = None,
    *,
    sep: str | None = None,
    header: bool = True,
    name: str | None = None,
    encoding: str = "utf-8",
    time_from_order: bool = True,
) -> Interactions:
    r"""Load interactions from a delimited text file or a Parquet file.

    Args:
        path: ``.csv`` / ``.tsv`` / ``.txt`` / ``.dat`` (any delimited text) or ``.parquet``.
        columns: which column holds what: ``{"user": ..., "item": ..., "rating": ...,
            "timestamp": ...}``; each value is a column name (needs a header; a RecBole typed
            name such as ``"user_id:token"`` also matches ``"user_id"``) or a 0-based position
            (``int``). ``user`` and ``item`` are required, ``rating`` and ``timestamp`` optional
            (``None`` or left out: not loaded). When ``columns`` is ``None``, a header is
            searched for usual names (``user_id``/``userId``/``user``, ``item_id``/``movieId``/
            ``item``, ``rating``, ``timestamp``); without a header, column 0 is the user and
            column 1 the item.
        sep: field separator of text files. ``None`` guesses it: ``","`` for ``.csv``,
            ``"\t"`` for ``.tsv``, otherwise from the first line (tab, then ``"::"``, ``","``,
            ``"|"``, ``";"``, else runs of whitespace). ``" "`` means runs of whitespace.
        header: whether the first line of a text file names the columns (ignored for Parquet).
        name: data set name; defaults to the file name without suffix.
        encoding: text encoding of text files.
        time_from_order: when no ``timestamp`` column is given, set ``timestamps`` to the
            0-based row position (``float64``), so that the file order (e.g. each user's events
            written in time order) is kept as time order. The log says so. ``False`` leaves
            ``timestamps`` as ``None``.

    Returns:
        Interactions: ``users``/``items`` ``[n] int32`` over the ids that occur, ``ratings``
        ``[n] float32`` or ``None``, ``timestamps`` ``[n] float64`` or ``None``.

    Raises:
        DataNotFoundError: if ``path`` does not exist.
        EmptyDataError: if the file holds no data rows.
        ColumnError: if a requested column does not exist (the message lists the columns that
            do), a row is too short, or a rating / timestamp is not a number (the message gives
            the line number and the value).
        MoorecError: if a Parquet file is given and ``pyarrow`` is not installed.

    Example:
        >>> inter = load_table("Video.txt", {"user": 0, "item": 1}, sep=" ", header=False)
        ... # doctest: +SKIP
    """
    path = Path(path)
    _check_file(path)
    name = name or path.stem
    if path.suffix.lower() in (".parquet", ".pq"):
        table = _ParquetTable(path)
    else:
        table = _TextTable.read(path, sep=sep, header=header, encoding=encoding)
    spec = _resolve_columns(table, columns)
    users = table.ids(spec["user"], "user")
    items = table.ids(spec["item"], "item")
    ratings = table.numbers(spec["rating"], "rating") if spec["rating"] is not None else None
    log = [
        f"loaded {path} ({table.kind}): {table.n_rows:,} rows; columns "
        + ", ".join(f"{role}={table.label(c)}" for role, c in spec.items() if c is not None)
    ]
    if spec["timestamp"] is not None:
        timestamps = table.numbers(spec["timestamp"], "timestamp")
    elif time_from_order:
        timestamps = np.arange(table.n_rows, dtype=np.float64)
        log.append(
            "no timestamp column: timestamps set to the 0-based row position, "
            "so time order is the file order"
        )
    else:
        timestamps = None
    return Interactions.from_raw(users, items, ratings, timestamps, name=name, log=log)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise DataNotFoundError(f"expected a file, got the folder {path}")


class _TextTable:
    """Columns of a delimited text file, kept as lists of strings until converted."""

    kind = "text"

    def __init__(self, path, names, rows, first_line, blank_lines, sep_label):
        self.path = path
        self.names = names  # list[str] | None
        self.rows = rows  # list[list[str]]
        self.first_line = first_line  # 1-based line number of the first data row
        self.blank_lines = blank_lines  # sorted 1-based numbers of skipped blank lines
        self.kind = f"text, sep={sep_label}"

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @classmethod
    def read(
        cls, path: Path, *, sep: str | None, header: bool, encoding: str, quotes: bool = True
    ) -> _TextTable:
        try:
            text = path.read_text(encoding=encoding)
        except UnicodeDecodeError as e:
            raise ColumnError(
                f"{path} is not valid {encoding} text ({e.reason} at byte {e.start}); "
                "pass encoding=... (e.g. 'latin-1')"
            ) from None
        lines = text.splitlines()
        blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
        if blank:
            lines = [ln for ln in lines if ln.strip()]
        if not lines:
            raise EmptyDataError(f"{path} is empty: no lines to read")
        sep = _guess_sep(path, lines[0]) if sep is None else sep
        split = _splitter(sep, quoted=quotes and '"' in text)
        names = None
        first_line = 1
        if header:
            names = [f.strip() for f in split([lines[0]])[0]]
            lines = lines[1:]
            first_line = 2
            if not lines:
                raise EmptyDataError(f"{path} holds a header but no data rows")
        label = "whitespace" if sep == " " else repr(sep)
        return cls(path, names, split(lines), first_line, blank, label)

    def line_of(self, row: int) -> int:
        """1-based file line number of data row ``row`` (blank lines skipped)."""
        line = self.first_line + row
        for b in self.blank_lines:
            if b <= line:
                line += 1
            else:
                break
        return line

    def column_names(self) -> list[str]:
        if self.names is not None:
            return self.names
        return [str(j) for j in range(len(self.rows[0]))]

    def label(self, col: int) -> str:
        return repr(self.names[col]) if self.names is not None else str(col)

    def _column(self, col: int, role: str) -> list[str]:
        try:
            return [r[col] for r in self.rows]
        except IndexError:
            row = next(k for k, r in enumerate(self.rows) if len(r) <= col)
            raise ColumnError(
                f"{self.path}, line {self.line_of(row)}: the {role} column "
                f"({self.label(col)}, position {col}) is missing: the line has "
                f"{len(self.rows[row])} field(s): {self.rows[row]!r}"
            ) from None

    def ids(self, col: int, role: str) -> np.ndarray:
        return _as_ids(np.asarray([v.strip() for v in self._column(col, role)]))

    def numbers(self, col: int, role: str) -> np.ndarray:
        values = self._column(col, role)
        try:
            return np.asarray(values).astype(np.float64)
        except ValueError:
            for k, v in enumerate(values):
                try:
                    float(v)
                except ValueError:
                    raise ColumnError(
                        f"{self.path}, line {self.line_of(k)}: {role} column "
                        f"{self.label(col)} must hold numbers, got {v!r}"
                    ) from None
            raise  # pragma: no cover - astype and float() disagree


class _ParquetTable:
    """Columns of a Parquet file, read lazily with pyarrow."""

    kind = "parquet"

    def __init__(self, path: Path):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise MoorecError(
                f"reading {path} needs pyarrow, which is not installed; "
                "install it with: pip install 'moorec[parquet]'"
            ) from None
        self.path = path
        self._pq = pq
        self.meta = pq.read_schema(path)
        self.names = list(self.meta.names)
        self.n_rows = pq.ParquetFile(path).metadata.num_rows
        if self.n_rows == 0:
            raise EmptyDataError(f"{path} holds no rows")

    def column_names(self) -> list[str]:
        return self.names

    def label(self, col: int) -> str:
        return repr(self.names[col])

    def _read(self, col: int):
        return self._pq.read_table(self.path, columns=[self.names[col]]).column(0)

    def ids(self, col: int, role: str) -> np.ndarray:
        values = self._read(col).to_numpy(zero_copy_only=False)
        if values.dtype == object:
            values = values.astype(str)
        return _as_ids(values)

    def numbers(self, col: int, role: str) -> np.ndarray:
        import pyarrow as pa

        chunked = self._read(col)
        if pa.types.is_timestamp(chunked.type) or pa.types.is_date(chunked.type):
            chunked = chunked.cast(pa.timestamp("s")).cast(pa.int64())
        if pa.types.is_integer(chunked.type) or pa.types.is_floating(chunked.type):
            return chunked.to_numpy(zero_copy_only=False).astype(np.float64)
        values = chunked.to_numpy(zero_copy_only=False)
        for k, v in enumerate(values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise ColumnError(
                    f"{self.path}, row {k}: {role} column {self.label(col)} must hold numbers, "
                    f"got {v!r} (column type {chunked.type})"
                ) from None
        return values.astype(np.float64)


def _guess_sep(path: Path, first_line: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return ","
    if suffix == ".tsv":
        return "\t"
    for candidate in ("\t", "::", ",", "|", ";"):
        if candidate in first_line:
            return candidate
    return " "


def _splitter(sep: str, *, quoted: bool):
    if sep == " ":
        return lambda lines: [ln.split() for ln in lines]
    if len(sep) == 1 and quoted:
        return lambda lines: list(csv.reader(lines, delimiter=sep))
    return lambda lines: [ln.split(sep) for ln in lines]


def _resolve_columns(
    table, columns: Mapping[str, str | int | None] | None
) -> dict[str, int | None]:
    """Map each role to a 0-based column position (or ``None``)."""
    names = table.column_names()
    has_names = getattr(table, "names", None) is not None
    if columns is None:
        if not has_names:
            return {"user": 0, "item": 1, "rating": None, "timestamp": None}
        folded = [_bare(n).lower() for n in names]
        spec: dict[str, int | None] = {}
        for role, candidates in _AUTO_NAMES.items():
            hit = next((folded.index(c) for c in candidates if c in folded), None)
            spec[role] = hit
        for role in ("user", "item"):
            if spec[role] is None:
                raise ColumnError(
                    f"{table.path}: found no {role} column among {names}; "
                    f"pass columns={{'user': ..., 'item': ...}} (usual names: "
                    f"{', '.join(_AUTO_NAMES[role])})"
                )
        return spec
    for role in columns:
        if role not in ROLES:
            raise UnknownNameError("column role", role, ROLES)
    spec = {}
    for role in ROLES:
        want = columns.get(role)
        if want is None:
            if role in ("user", "item"):
                raise ColumnError(f"columns must map {role!r} to a column; got {dict(columns)}")
            spec[role] = None
            continue
        if isinstance(want, bool) or not isinstance(want, int | str):
            raise ConfigError(
                f"columns[{role!r}] must be a column name (str) or position (int), got {want!r}"
            )
        if isinstance(want, int):
            if not 0 <= want < len(names):
                raise ColumnError(
                    f"{table.path}: {role} column position {want} is out of range; the file has "
                    f"{len(names)} column(s): {names}"
                )
            spec[role] = want
            continue
        if not has_names:
            raise ColumnError(
                f"{table.path}: {role} column {want!r} is given by name but the file is read "
                f"without a header (header=False); give a 0-based position (0..{len(names) - 1})"
            )
        if want in names:
            spec[role] = names.index(want)
        elif want in (bare := [_bare(n) for n in names]):
            spec[role] = bare.index(want)
        else:
            raise ColumnError(
                f"{table.path}: no column named {want!r} (asked for {role}); "
                f"columns: {', '.join(names)}"
            )
    return spec


def _bare(field: str) -> str:
    """``"user_id:token"`` -> ``"user_id"``."""
    return field.split(":", 1)[0].strip()


def _as_ids(values: np.ndarray) -> np.ndarray:
    """Return ``values`` as int64 when every id looks like an integer, else as str."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.all(np.mod(values, 1) == 0):
        return values.astype(np.int64)
    values = values.astype(str)
    try:
        return values.astype(np.int64)
    except (ValueError, OverflowError):
        return values


# ---------------------------------------------------------------------------------------------
# RecBole atomic files
# ---------------------------------------------------------------------------------------------
_ATOMIC_ROLES = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}
_TITLE_FIELDS = ("movie_title", "title", "item_title", "name", "product_name")
_YEAR_FIELDS = ("release_year", "year")
_CATEGORY_FIELDS = ("class", "genre", "genres", "categories", "category", "categories_seq")
_PRICE_FIELDS = ("price",)


def load_atomic(
    folder_or_inter_path: str | Path, name: str | None = None, *, encoding: str = "utf-8"
) -> Interactions:
    """Load a data set in RecBole's atomic-file format.

    The folder holds ``NAME.inter`` and optionally ``NAME.item`` and ``NAME.user``, all
    tab-separated with a typed header line (``field:type``; types ``token``, ``token_seq``,
    ``float``, ``float_seq``). Standard fields are mapped by name: ``user_id``, ``item_id``,
    ``rating`` and ``timestamp`` in ``.inter``; in ``.item`` the title (``movie_title``/``title``),
    the year (``release_year``/``year``), the categories (``class``/``genre``/``categories``; a
    ``token_seq`` holds space-separated names, which become a multi-hot matrix) and ``price``.
    ``NAME.user`` is checked and reported in the log; moorec keeps no user features.

    Args:
        folder_or_inter_path: a folder holding ``NAME.inter``, or the ``.inter`` file itself.
        name: the ``NAME`` prefix; defaults to the ``.inter`` file's stem, or to the folder's
            name (or its only ``.inter`` file) when a folder is given.
        encoding: text encoding of the files.

    Returns:
        Interactions named ``NAME``. ``item_features.categories`` is ``[n_items, n_categories]``
        bool, with MovieLens genres in :data:`MOVIELENS_GENRES` order and other names sorted.

    Raises:
        DataNotFoundError: if the ``.inter`` file does not exist.
        ColumnError: if ``user_id`` / ``item_id`` are missing or a number is malformed.
        EmptyDataError: if ``.inter`` holds no rows.
    """
    inter_path, name = _find_inter(Path(folder_or_inter_path), name)
    folder = inter_path.parent
    table = _TextTable.read(inter_path, sep="\t", header=True, encoding=encoding, quotes=False)
    fields = {_bare(n): j for j, n in enumerate(table.names)}
    spec: dict[str, int | None] = {}
    for role, field in _ATOMIC_ROLES.items():
        spec[role] = fields.get(field)
        if spec[role] is None and role in ("user", "item"):
            raise ColumnError(f"{inter_path}: no {field!r} field; fields: {', '.join(table.names)}")
    users = table.ids(spec["user"], "user")
    items = table.ids(spec["item"], "item")
    ratings = None if spec["rating"] is None else table.numbers(spec["rating"], "rating")
    timestamps = (
        None if spec["timestamp"] is None else table.numbers(spec["timestamp"], "timestamp")
    )
    log = [f"loaded RecBole atomic {inter_path}: {table.n_rows:,} interactions"]
    features = None
    item_path = folder / f"{name}.item"
    if item_path.exists():
        features, line = _atomic_items(item_path, items.dtype, encoding)
        log.append(line)
    user_path = folder / f"{name}.user"
    if user_path.exists():
        utable = _TextTable.read(user_path, sep="\t", header=True, encoding=encoding, quotes=False)
        log.append(
            f"found {user_path} ({utable.n_rows:,} users; fields "
            f"{', '.join(_bare(n) for n in utable.names)}); user features are not used"
        )
    return Interactions.from_raw(
        users, items, ratings, timestamps, item_features=features, name=name, log=log
    )


def _find_inter(path: Path, name: str | None) -> tuple[Path, str]:
    if path.suffix == ".inter":
        _check_file(path)
        return path, name or path.stem
    if not path.exists():
        raise DataNotFoundError(f"no such file or folder: {path}")
    if not path.is_dir():
        raise DataNotFoundError(f"expected a folder or a .inter file, got {path}")
    if name is None:
        name = path.name
        if not (path / f"{name}.inter").exists():
            found = sorted(path.glob("*.inter"))
            if len(found) == 1:
                name = found[0].stem
    inter = path / f"{name}.inter"
    if not inter.exists():
        present = ", ".join(p.name for p in sorted(path.glob("*.inter"))) or "none"
        raise DataNotFoundError(f"no {inter.name} in {path} (.inter files there: {present})")
    return inter, name


def _atomic_items(path: Path, id_dtype: np.dtype, encoding: str) -> tuple[dict, str]:
    table = _TextTable.read(path, sep="\t", header=True, encoding=encoding, quotes=False)
    typed = {_bare(n): (j, n.split(":", 1)[1] if ":" in n else "token")
             for j, n in enumerate(table.names)}  # fmt: skip
    if "item_id" not in typed:
        raise ColumnError(f"{path}: no 'item_id' field; fields: {', '.join(table.names)}")
    ids = _match_id_dtype(table.ids(typed["item_id"][0], "item"), id_dtype)

    def pick(candidates):
        return next((typed[c] for c in candidates if c in typed), None)

    titles = year = price = None
    if (t := pick(_TITLE_FIELDS)) is not None:
        titles = np.asarray([v.strip() for v in table._column(t[0], "title")], dtype=object)
    if (y := pick(_YEAR_FIELDS)) is not None:
        year = np.asarray([_parse_year(v) for v in table._column(y[0], "year")], np.float32)
    if (p := pick(_PRICE_FIELDS)) is not None:
        price = table.numbers(p[0], "price").astype(np.float32)
    lists: list[list[str]] = [[] for _ in range(table.n_rows)]
    if (c := pick(_CATEGORY_FIELDS)) is not None:
        raw = table._column(c[0], "category")
        if c[1].endswith("seq"):
            lists = [v.split() for v in raw]
        else:
            lists = [[v.strip()] if v.strip() else [] for v in raw]
    cats, names = _multi_hot(lists)
    keep = _valid_ids(ids)
    feats = ItemFeatures(
        cats[keep], names,
        None if titles is None else titles[keep],
        None if price is None else price[keep],
        None if year is None else year[keep],
    )  # fmt: skip
    line = f"item side information from {path}: {table.n_rows:,} items, {len(names)} categories"
    return {"item_ids": ids[keep], "features": feats}, line


def _match_id_dtype(ids: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Give side-file ids the kind of the interaction ids (int ids stay int, else str)."""
    if dtype.kind == ids.dtype.kind:
        return ids
    if dtype.kind in "iu":  # side file has non-integer ids that cannot match: mark them
        out = np.full(len(ids), -1, dtype=np.int64)
        for k, v in enumerate(ids.tolist()):
            try:
                out[k] = int(v)
            except ValueError:
                pass
        return out
    return ids.astype(str)


def _valid_ids(ids: np.ndarray) -> np.ndarray:
    return ids >= 0 if ids.dtype.kind in "iu" else np.ones(len(ids), dtype=bool)


def _parse_year(value: str) -> float:
    m = _YEAR.search(value.strip())
    return float(m.group(1)) if m else np.nan


def _order_categories(names) -> tuple[str, ...]:
    """MovieLens genres in their standard order, then any other names sorted."""
    names = set(names)
    known = [g for g in MOVIELENS_GENRES if g in names]
    return tuple(known + sorted(names - set(known)))


def _multi_hot(lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, tuple[str, ...]]:
    """``[n_items][k]`` category names -> ``[n_items, n_categories]`` bool and the names."""
    names = _order_categories(c for row in lists for c in row)
    col = {c: j for j, c in enumerate(names)}
    cats = np.zeros((len(lists), len(names)), dtype=bool)
    rows = [i for i, row in enumerate(lists) for _ in row]
    cols = [col[c] for row in lists for c in row]
    cats[rows, cols] = True
    return cats, names


# ---------------------------------------------------------------------------------------------
# MovieLens raw releases
# ---------------------------------------------------------------------------------------------
def load_movielens_100k(folder: str | Path, *, name: str = "ml-100k") -> Interactions:
    """Load the raw MovieLens 100K release (the contents of GroupLens' ``ml-100k.zip``).

    Reads ``u.data`` (tab-separated ``user item rating timestamp``, no header) and, when present,
    ``u.item`` (``|``-separated, latin-1: ``id|title (year)|release date|video release date|
    IMDb URL|`` then 19 genre flags) with genre names from ``u.genre`` (else
    :data:`MOVIELENS_GENRES`). Titles lose their trailing ``" (year)"``; the year comes from the
    release date, else from the title.

    Args:
        folder: folder holding ``u.data`` (and ``u.item``, ``u.genre``).
        name: data set name.

    Returns:
        Interactions with ``ratings`` (1-5) and Unix ``timestamps``; ``item_features`` with the 19
        genres as ``categories`` ``[n_items, 19]`` bool, ``titles`` and ``year``.

    Raises:
        DataNotFoundError: if ``u.data`` is missing.
        ColumnError: if a line is malformed.
        EmptyDataError: if ``u.data`` is empty.
    """
    folder = Path(folder)
    data = folder / "u.data"
    inter = load_table(
        data, {"user": 0, "item": 1, "rating": 2, "timestamp": 3}, sep="\t", header=False,
        name=name,
    )  # fmt: skip
    log = [f"loaded MovieLens 100K {data}: {len(inter):,} ratings"]
    item_path = folder / "u.item"
    if not item_path.exists():
        return _with_log(inter, log)
    genre_path = folder / "u.genre"
    genres = MOVIELENS_GENRES
    if genre_path.exists():
        pairs = [ln.split("|") for ln in _lines(genre_path, "latin-1")]
        genres = tuple(p[0] for p in sorted(pairs, key=lambda p: int(p[1])))
    rows = [ln.split("|") for ln in _lines(item_path, "latin-1")]
    width = 5 + len(genres)
    for k, r in enumerate(rows):
        if len(r) != width:
            raise ColumnError(
                f"{item_path}, line {k + 1}: expected {width} '|'-separated fields "
                f"(5 + {len(genres)} genre flags), got {len(r)}"
            )
    ids = np.asarray([int(r[0]) for r in rows], dtype=np.int64)
    titles, years = zip(*(_split_title(r[1], r[2]) for r in rows), strict=True)
    try:
        flags = np.asarray([[int(f) for f in r[5:]] for r in rows], dtype=np.int8)
    except ValueError:
        raise ColumnError(f"{item_path}: genre flags must be 0 or 1") from None
    features = ItemFeatures(
        flags.astype(bool), genres, np.asarray(titles, dtype=object),
        year=np.asarray(years, dtype=np.float32),
    )  # fmt: skip
    log.append(f"item side information from {item_path}: {len(rows):,} items, "
               f"{len(genres)} genres")  # fmt: skip
    return _rebuild(inter, {"item_ids": ids, "features": features}, log)


def load_movielens_1m(folder: str | Path, *, name: str = "ml-1m") -> Interactions:
    """Load the raw MovieLens 1M release (the contents of GroupLens' ``ml-1m.zip``).

    Reads ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) and, when present,
    ``movies.dat`` (``MovieID::Title (Year)::Genre1|Genre2``, latin-1).

    Args:
        folder: folder holding ``ratings.dat`` (and ``movies.dat``).
        name: data set name.

    Returns:
        Interactions with ``ratings`` (1-5) and Unix ``timestamps``; ``item_features`` with the
        genres that occur (18 in the release) in :data:`MOVIELENS_GENRES` order, titles, years.

    Raises:
        DataNotFoundError: if ``ratings.dat`` is missing.
        ColumnError: if a line is malformed.
        EmptyDataError: if ``ratings.dat`` is empty.
    """
    folder = Path(folder)
    data = folder / "ratings.dat"
    inter = load_table(
        data, {"user": 0, "item": 1, "rating": 2, "timestamp": 3}, sep="::", header=False,
        name=name, encoding="latin-1",
    )  # fmt: skip
    log = [f"loaded MovieLens 1M {data}: {len(inter):,} ratings"]
    movies = folder / "movies.dat"
    if not movies.exists():
        return _with_log(inter, log)
    rows = [ln.split("::") for ln in _lines(movies, "latin-1")]
    for k, r in enumerate(rows):
        if len(r) != 3:
            raise ColumnError(
                f"{movies}, line {k + 1}: expected 'MovieID::Title::Genres', got {'::'.join(r)!r}"
            )
    ids = np.asarray([int(r[0]) for r in rows], dtype=np.int64)
    titles, years = zip(*(_split_title(r[1], "") for r in rows), strict=True)
    cats, names = _multi_hot([[g for g in r[2].split("|") if g] for r in rows])
    features = ItemFeatures(
        cats, names, np.asarray(titles, dtype=object), year=np.asarray(years, dtype=np.float32)
    )
    log.append(f"item side information from {movies}: {len(rows):,} items, {len(names)} genres")
    return _rebuild(inter, {"item_ids": ids, "features": features}, log)


def _lines(path: Path, encoding: str) -> list[str]:
    _check_file(path)
    return [ln for ln in path.read_text(encoding=encoding).splitlines() if ln.strip()]


def _split_title(title: str, release_date: str) -> tuple[str, float]:
    title = title.strip()
    m = _TITLE_YEAR.match(title)
    year = _parse_year(release_date) if release_date.strip() else np.nan
    if m:
        title = m.group(1)
        if np.isnan(year):
            year = float(m.group(2))
    return title, year


def _with_log(inter: Interactions, log: list[str]) -> Interactions:
    return dataclasses.replace(inter, log=tuple(log))


def _rebuild(inter: Interactions, item_features: dict, log: list[str]) -> Interactions:
    """Attach item side information (given for raw item ids) to ``inter``."""
    feats = align_item_features(inter.item_ids, item_features["item_ids"],
                                item_features["features"])  # fmt: skip
    return dataclasses.replace(inter, item_features=feats, log=tuple(log))
