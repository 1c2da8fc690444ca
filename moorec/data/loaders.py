"""Readers that turn interaction files into :class:`~moorec.data.interactions.Interactions`.

Formats:

* RecBole atomic files (``NAME.inter`` + optional ``NAME.item`` / ``NAME.user``), tab-separated
  with typed headers such as ``user_id:token item_id:token rating:float timestamp:float``
  (:func:`load_atomic`).
* MovieLens raw releases: ml-100k ``u.data`` / ``u.item`` / ``u.genre``
  (:func:`load_movielens_100k`) and ml-1m ``ratings.dat`` / ``movies.dat``
  (:func:`load_movielens_1m`).
* Generic delimited text (CSV, TSV, space-separated, ``::``) and Parquet (:func:`load_table`),
  optionally with a category column; item categories from a second table
  (:func:`load_categories`).
* Any of these by path, the format found from the file or folder (:func:`load_path`, used by
  ``moorec train --dataset PATH``).

Every loader returns an ``Interactions`` built with :meth:`Interactions.from_raw`: dense ``int32``
indices assigned in sorted order of the raw ids (ids that all look like integers are compared as
integers, so item ``"10"`` comes after item ``"9"``; when one of them does not fit in int64,
all are kept as text and the log says so). Item side information becomes an
:class:`~moorec.data.interactions.ItemFeatures` (multi-hot categories, titles, years). The
``log`` of the result says which files were read and how.

Malformed input is refused, never skipped: a line with more or fewer fields than the header, an
empty id, a rating or timestamp that is not a finite number, a repeated column name, a header
that looks like data, a binary file, or a file that is a single column because it was split at
the wrong separator each raise a :class:`~moorec.errors.DataError` subclass naming the file, the
line and the value.

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
    DataError,
    DataNotFoundError,
    EmptyDataError,
    MoorecError,
    UnknownNameError,
)

__all__ = [
    "MOVIELENS_GENRES",
    "load_atomic",
    "load_categories",
    "load_movielens_1m",
    "load_movielens_100k",
    "load_path",
    "load_table",
    "parse_columns",
    "parse_sep",
]

#: The 19 genres of MovieLens 100K in the order of its ``u.genre`` file (ml-1m uses the same
#: names without ``"unknown"``). Loaders order MovieLens genres this way, whatever the format.
MOVIELENS_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

ROLES = ("user", "item", "rating", "timestamp")
#: Roles of :func:`load_table`'s ``columns``: :data:`ROLES` and an optional item category column.
TABLE_ROLES = (*ROLES, "category")
#: Roles of :func:`load_categories`'s ``columns``.
CATEGORY_ROLES = ("item", "category")

# Column names recognised when a table with a header is loaded without an explicit mapping
# (compared case-insensitively, after dropping a RecBole ``:type`` suffix).
_AUTO_NAMES = {
    "user": ("user_id", "user", "userid", "uid", "reviewerid", "customer_id", "visitorid"),
    "item": ("item_id", "item", "itemid", "iid", "movieid", "movie_id", "asin", "product_id"),
    "rating": ("rating", "score", "overall", "stars"),
    "timestamp": ("timestamp", "time", "ts", "unixreviewtime", "datetime"),
}
_CATEGORY_AUTO_NAMES = {
    "item": _AUTO_NAMES["item"],
    "category": ("category", "categories", "genre", "genres", "class", "categories_seq"),
}

# Separators a single-column first line is searched for (a file split at the wrong one).
_SEP_CANDIDATES = ("\t", "::", ";", ",", "|", " ")
# Leading bytes of binary formats that are sometimes given in place of a text table.
_MAGIC = (
    (b"PAR1", "a Parquet file (name it *.parquet)"),
    (b"PK\x03\x04", "a zip archive (unpack it first)"),
    (b"\x1f\x8b", "a gzip file (decompress it first)"),
)
_INT64_MAX = np.iinfo(np.int64).max

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
    category_sep: str | None = "|",
) -> Interactions:
    r"""Load interactions from a delimited text file or a Parquet file.

    Args:
        path: ``.csv`` / ``.tsv`` / ``.txt`` / ``.dat`` (any delimited text) or ``.parquet``.
        columns: which column holds what: ``{"user": ..., "item": ..., "rating": ...,
            "timestamp": ...}``; each value is a column name (needs a header; a RecBole typed
            name such as ``"user_id:token"`` also matches ``"user_id"``) or a 0-based position
            (``int``). ``user`` and ``item`` are required, ``rating`` and ``timestamp`` optional
            (``None`` or left out: not loaded). ``"category"`` names an optional column of item
            categories (several in one field separated by ``category_sep``; an item's
            categories are the union over its rows), which becomes ``item_features``. When
            ``columns`` is ``None``, a header is
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
        category_sep: separator of several categories in one field of the ``category``
            column; ``None``: each field is one category. Parquet list columns need none.

    Returns:
        Interactions: ``users``/``items`` ``[n] int32`` over the ids that occur, ``ratings``
        ``[n] float32`` or ``None``, ``timestamps`` ``[n] float64`` or ``None``,
        ``item_features`` (categories only) when a ``category`` column is given, else ``None``.

    Raises:
        DataNotFoundError: if ``path`` does not exist.
        EmptyDataError: if the file holds no data rows.
        ColumnError: if a requested column does not exist (the message lists the columns that
            do), two roles share a column, the header repeats a name or holds only numbers, a
            line has more or fewer fields than the header, an id is empty, a rating /
            timestamp is not a finite number, or the first line is a single field that holds
            another separator (the message gives the line number and the value).
        DataError: if the file is binary (a NUL byte, a zip / gzip / Parquet signature) or an
            unreadable Parquet file.
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
    _check_category_sep(category_sep)
    spec = _resolve_columns(table, columns)
    users = table.ids(spec["user"], "user")
    items = table.ids(spec["item"], "item")
    ratings = table.numbers(spec["rating"], "rating") if spec["rating"] is not None else None
    log = [
        f"loaded {path} ({table.kind}): {table.n_rows:,} rows; columns "
        + ", ".join(f"{role}={table.label(c)}" for role, c in spec.items() if c is not None)
    ]
    features = None
    if spec["category"] is not None:
        features = _category_features(items, table.cells(spec["category"], "category"),
                                      category_sep)  # fmt: skip
        feats = features["features"]
        log.append(
            f"item categories from column {table.label(spec['category'])}: "
            f"{len(feats.category_names)} categories, {int(feats.categories.any(1).sum()):,} "
            f"of {feats.n_items:,} items have at least one"
        )
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
    log += table.notes
    return Interactions.from_raw(
        users, items, ratings, timestamps, item_features=features, name=name, log=log
    )


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
        self.notes: list[str] = []  # log lines about how values were read

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @classmethod
    def read(
        cls, path: Path, *, sep: str | None, header: bool, encoding: str, quotes: bool = True
    ) -> _TextTable:
        text = _decode(path, encoding)
        lines = text.splitlines()
        blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
        if blank:
            lines = [ln for ln in lines if ln.strip()]
        if not lines:
            raise EmptyDataError(f"{path} is empty: no lines to read")
        if sep is None:
            sep = _guess_sep(path, lines[0])
        elif not isinstance(sep, str) or not sep:
            raise ConfigError(f"sep must be a non-empty string (or None to guess), got {sep!r}")
        split = _splitter(sep, quoted=quotes and '"' in text)
        rows = split(lines)
        label = "whitespace" if sep == " " else repr(sep)
        _check_single_column(path, rows[0], lines[0], sep, label)
        names = None
        first_line = 1
        if header:
            names = [f.strip() for f in rows[0]]
            _check_header(path, names, lines[0])
            rows = rows[1:]
            first_line = 2
            if not rows:
                raise EmptyDataError(f"{path} holds a header but no data rows")
        table = cls(path, names, rows, first_line, blank, label)
        table._check_widths()
        return table

    def _check_widths(self) -> None:
        """Refuse lines whose number of fields differs from the header's (or the first line's)."""
        width = len(self.names) if self.names is not None else len(self.rows[0])
        widths = np.fromiter(map(len, self.rows), dtype=np.int64, count=len(self.rows))
        bad = np.flatnonzero(widths != width)
        if not bad.size:
            return
        k = int(bad[0])
        ref = "the header has" if self.names is not None else f"line {self.line_of(0)} has"
        what = "an extra field" if widths[k] > width else "a missing field"
        more = f"; {bad.size:,} lines differ" if bad.size > 1 else ""
        raise ColumnError(
            f"{self.path}, line {self.line_of(k)}: {widths[k]} field(s) where {ref} {width} "
            f"(sep={self.kind.split('sep=', 1)[1]}): {what} in {self.rows[k]!r}{more}; every "
            "line must have the same fields"
        )

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

    def where(self, row: int) -> str:
        """``"<path>, line <n>"`` of data row ``row``."""
        return f"{self.path}, line {self.line_of(row)}"

    def cells(self, col: int, role: str) -> list[str]:
        """The stripped text of column ``col``."""
        return [v.strip() for v in self._column(col, role)]

    def ids(self, col: int, role: str) -> np.ndarray:
        return _checked_ids(self, np.asarray(self.cells(col, role)), role, col)

    def numbers(self, col: int, role: str) -> np.ndarray:
        values = self._column(col, role)
        try:
            numbers = np.asarray(values).astype(np.float64)
        except ValueError:
            for k, v in enumerate(values):
                try:
                    float(v)
                except ValueError:
                    raise ColumnError(
                        f"{self.where(k)}: {role} column {self.label(col)} must hold numbers, "
                        f"got {v!r}"
                    ) from None
            raise  # pragma: no cover - astype and float() disagree
        _check_finite(self, numbers, values, role, col)
        return numbers


class _ParquetTable:
    """Columns of a Parquet file, read lazily with pyarrow."""

    kind = "parquet"

    def __init__(self, path: Path):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MoorecError(
                f"reading {path} needs pyarrow, which is not installed; "
                "install it with: pip install 'moorec[parquet]'"
            ) from None
        self.path = path
        self._pq = pq
        self.notes: list[str] = []
        try:
            self.meta = pq.read_schema(path)
            self.n_rows = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError, ValueError) as e:
            raise DataError(f"{path} is not a readable Parquet file: {e}") from None
        self.names = list(self.meta.names)
        _check_header(path, self.names, None)
        if self.n_rows == 0:
            raise EmptyDataError(f"{path} holds no rows")

    def column_names(self) -> list[str]:
        return self.names

    def label(self, col: int) -> str:
        return repr(self.names[col])

    def where(self, row: int) -> str:
        return f"{self.path}, row {row}"

    def _read(self, col: int):
        chunked = self._pq.read_table(self.path, columns=[self.names[col]]).column(0)
        return chunked

    def _nulls(self, chunked, col: int, role: str) -> None:
        if chunked.null_count:
            nulls = chunked.is_null().to_numpy(zero_copy_only=False)
            k = int(np.flatnonzero(nulls)[0])
            raise ColumnError(
                f"{self.where(k)}: {role} column {self.label(col)} is empty (null); "
                f"{chunked.null_count:,} row(s) are"
            )

    def cells(self, col: int, role: str) -> list:
        """The values of column ``col`` as Python objects (lists stay lists)."""
        return self._read(col).to_pylist()

    def ids(self, col: int, role: str) -> np.ndarray:
        chunked = self._read(col)
        self._nulls(chunked, col, role)
        values = chunked.to_numpy(zero_copy_only=False)
        if values.dtype == object:
            values = np.asarray([str(v).strip() for v in values])
        return _checked_ids(self, values, role, col)

    def numbers(self, col: int, role: str) -> np.ndarray:
        import pyarrow as pa

        chunked = self._read(col)
        self._nulls(chunked, col, role)
        if pa.types.is_timestamp(chunked.type) or pa.types.is_date(chunked.type):
            chunked = chunked.cast(pa.timestamp("s")).cast(pa.int64())
        if pa.types.is_integer(chunked.type) or pa.types.is_floating(chunked.type):
            numbers = chunked.to_numpy(zero_copy_only=False).astype(np.float64)
            _check_finite(self, numbers, numbers, role, col)
            return numbers
        values = chunked.to_numpy(zero_copy_only=False)
        for k, v in enumerate(values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise ColumnError(
                    f"{self.path}, row {k}: {role} column {self.label(col)} must hold numbers, "
                    f"got {v!r} (column type {chunked.type})"
                ) from None
        numbers = values.astype(np.float64)
        _check_finite(self, numbers, values, role, col)
        return numbers


def _decode(path: Path, encoding: str) -> str:
    """The text of ``path``; binary files and undecodable bytes are refused."""
    data = path.read_bytes()
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DataError(f"{path} is {what}, not a delimited text file")
    wide = any(tag in encoding.lower().replace("-", "") for tag in ("utf16", "utf32"))
    if not wide and (at := data.find(b"\x00")) >= 0:
        line = data.count(b"\n", 0, at) + 1
        raise DataError(
            f"{path}, line {line}: NUL byte at byte offset {at}; the "
            "file is binary, not delimited text (for UTF-16 text pass encoding='utf-16')"
        )
    try:
        return data.decode(encoding)
    except LookupError:
        raise ConfigError(f"unknown text encoding {encoding!r} (e.g. 'utf-8', 'latin-1')") from None
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ColumnError(
            f"{path} is not valid {encoding} text ({e.reason}: byte(s) {data[e.start : e.end]!r} "
            f"on line {line}, byte offset {e.start}); if it is text "
            "in another encoding, pass encoding=... (e.g. 'latin-1')"
        ) from None


def _check_header(path: Path, names: list[str], line: str | None) -> None:
    """Refuse repeated column names, and a text header that holds only numbers."""
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if name in seen:
            where = f"{path}, line 1" if line is not None else str(path)
            raise ColumnError(
                f"{where}: the header names column {name!r} twice (positions {seen[name]} and "
                f"{j}); column names must be unique"
            )
        seen[name] = j
    if line is not None and all(_is_number(n) for n in names):
        raise ColumnError(
            f"{path}, line 1: the header {line.strip()!r} holds only numbers, so it looks like a "
            "data line; for a file without a header pass header=False (moorec train: --no-header)"
        )


def _check_single_column(path: Path, first: list[str], line: str, sep: str, label: str) -> None:
    """Refuse a file whose first line is one field because it was split at the wrong ``sep``."""
    if len(first) != 1:
        return
    for other in _SEP_CANDIDATES:
        if other != sep and other in line.strip():
            shown = "' '" if other == " " else repr(other)
            raise ColumnError(
                f"{path}, line 1: split at sep={label} the line is a single field "
                f"{line.strip()!r}, but it contains {shown}; if the file is {shown}-separated "
                f"pass sep={shown} (moorec train: --sep {shown})"
            )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _empty_id_message(table, row: int, count: int, role: str, col: int) -> str:
    more = f" ({count:,} rows have an empty {role} id)" if count > 1 else ""
    return f"{table.where(row)}: empty {role} id in column {table.label(col)}{more}"


def _check_finite(table, numbers: np.ndarray, raw, role: str, col: int) -> None:
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        k = int(bad[0])
        more = f"; {bad.size:,} rows are not finite" if bad.size > 1 else ""
        raise ColumnError(
            f"{table.where(k)}: {role} column {table.label(col)} must hold finite numbers, "
            f"got {raw[k]!r}{more}"
        )


def _overflow_note(ids: np.ndarray, role: str, table, col: int) -> str | None:
    """A log line when integer-looking ids are kept as text because one exceeds int64."""
    if not ids[0].lstrip("+-").isdigit() or not np.all(np.char.isdigit(np.char.lstrip(ids, "+-"))):
        return None
    k = next((k for k, v in enumerate(ids.tolist()) if abs(int(v)) > _INT64_MAX), None)
    if k is None:
        return None
    return (
        f"{role} ids in column {table.label(col)} kept as text: {ids[k]} ({table.where(k)}) "
        "does not fit in int64, so ids are compared as text"
    )


def _checked_ids(table, values: np.ndarray, role: str, col: int) -> np.ndarray:
    """``[n]`` ids of a column: empty text ids refused, huge integer ids kept as text (noted)."""
    if values.dtype.kind == "U":
        empty = np.flatnonzero(values == "")
        if empty.size:
            raise ColumnError(_empty_id_message(table, int(empty[0]), empty.size, role, col))
    ids = _as_ids(values)
    if ids.dtype.kind == "U" and (note := _overflow_note(ids, role, table, col)):
        table.notes.append(note)
    return ids


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
    table,
    columns: Mapping[str, str | int | None] | None,
    *,
    roles: tuple[str, ...] = TABLE_ROLES,
    required: tuple[str, ...] = ("user", "item"),
    auto: Mapping[str, tuple[str, ...]] = _AUTO_NAMES,
) -> dict[str, int | None]:
    """Map each of ``roles`` to a 0-based column position (or ``None``)."""
    names = table.column_names()
    has_names = getattr(table, "names", None) is not None
    if columns is None:
        spec: dict[str, int | None] = dict.fromkeys(roles)
        if not has_names:
            spec.update({role: j for j, role in enumerate(required)})
            return spec
        folded = [_bare(n).lower() for n in names]
        for role, candidates in auto.items():
            spec[role] = next((folded.index(c) for c in candidates if c in folded), None)
        for role in required:
            if spec[role] is None:
                example = ", ".join(f"{r!r}: ..." for r in required)
                raise ColumnError(
                    f"{table.path}: found no {role} column among {names}; "
                    f"pass columns={{{example}}} (usual names: {', '.join(auto[role])})"
                )
        return spec
    if not isinstance(columns, Mapping):
        raise ConfigError(f"columns must be a mapping of role to column, got {columns!r}")
    for role in columns:
        if role not in roles:
            raise UnknownNameError("column role", role, roles)
    spec = {}
    for role in roles:
        want = columns.get(role)
        if want is None:
            if role in required:
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
        bare = [_bare(n) for n in names]
        if want in names:
            spec[role] = names.index(want)
        elif bare.count(want) == 1:
            spec[role] = bare.index(want)
        elif want in bare:
            hits = [names[j] for j, n in enumerate(bare) if n == want]
            raise ColumnError(
                f"{table.path}: column name {want!r} (asked for {role}) matches several "
                f"columns: {', '.join(hits)}; give the full name"
            )
        else:
            raise ColumnError(
                f"{table.path}: no column named {want!r} (asked for {role}); "
                f"columns: {', '.join(names)}"
            )
    taken: dict[int, str] = {}
    for role, col in spec.items():
        if col is not None and col in taken:
            raise ColumnError(
                f"{table.path}: columns map both {taken[col]} and {role} to column "
                f"{table.label(col)}; each role needs its own column"
            )
        if col is not None:
            taken[col] = role
    return spec


def _bare(field: str) -> str:
    """``"user_id:token"`` -> ``"user_id"``."""
    return field.split(":", 1)[0].strip()


def _as_ids(values: np.ndarray) -> np.ndarray:
    """Return ``values`` as int64 when every id looks like an integer, else as str."""
    if values.dtype.kind == "u" and values.size and values.max() > _INT64_MAX:
        return values.astype(str)  # uint64 ids beyond int64 would wrap around
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        if np.all(np.mod(values, 1) == 0) and np.all(np.abs(values) < 2.0**63):
            return values.astype(np.int64)
        return values.astype(str)
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
    log = [f"loaded RecBole atomic {inter_path}: {table.n_rows:,} interactions", *table.notes]
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
            except (ValueError, OverflowError):
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


# ---------------------------------------------------------------------------------------------
# Item categories, and your own data by path
# ---------------------------------------------------------------------------------------------
def _check_category_sep(category_sep: str | None) -> None:
    if category_sep is not None and (not isinstance(category_sep, str) or not category_sep):
        raise ConfigError(f"category_sep must be a non-empty string or None, got {category_sep!r}")


def _split_categories(cell, category_sep: str | None) -> list[str]:
    """One field of a category column -> its category names (a Parquet list stays a list)."""
    if cell is None:
        return []
    if isinstance(cell, list | tuple | np.ndarray):
        parts = [str(c) for c in cell if c is not None]
    elif category_sep is None:
        parts = [str(cell)]
    else:
        parts = str(cell).split(category_sep)
    return [c.strip() for c in parts if c.strip()]


def _category_features(items: np.ndarray, cells: Sequence, category_sep: str | None) -> dict:
    """``[n]`` raw item ids and their category fields -> ``{"item_ids", "features"}``.

    An item's categories are the union over all its rows.
    """
    item_ids, inverse = np.unique(items, return_inverse=True)
    sets: list[set[str]] = [set() for _ in range(len(item_ids))]
    cache: dict = {}
    for k, cell in zip(inverse.tolist(), cells, strict=True):
        key = tuple(cell) if isinstance(cell, list) else cell
        if key not in cache:
            cache[key] = _split_categories(cell, category_sep)
        sets[k].update(cache[key])
    cats, names = _multi_hot([sorted(c) for c in sets])
    return {"item_ids": item_ids, "features": ItemFeatures(cats, names)}


def load_categories(
    path: str | Path,
    columns: Mapping[str, str | int] | None = None,
    *,
    sep: str | None = None,
    header: bool = True,
    category_sep: str | None = "|",
    encoding: str = "utf-8",
) -> tuple[np.ndarray, ItemFeatures]:
    """Read item categories from a table: one row per item, or one row per (item, category).

    Args:
        path: a delimited text file or a Parquet file, as for :func:`load_table`.
        columns: ``{"item": ..., "category": ...}``, column names or 0-based positions. ``None``
            looks for usual names (``item_id``/``item``/``movieId``/``asin``...;
            ``category``/``categories``/``genre``/``genres``/``class``); without a header,
            column 0 is the item and column 1 the category.
        sep: field separator (``None`` guesses it, as in :func:`load_table`).
        header: whether the first line names the columns.
        category_sep: separator of several categories in one field (``"Action|Comedy"``);
            ``None``: each field is one category. An item listed on several rows gets the
            union of their categories; an empty field adds none.
        encoding: text encoding.

    Returns:
        ``(item_ids, features)``: ``[m]`` raw item ids (int64 when they all look like integers,
        else str) and :class:`ItemFeatures` over those ``m`` items (``categories`` ``[m, C]``
        bool, ``category_names`` in :data:`MOVIELENS_GENRES` order, then sorted).

    Raises:
        DataNotFoundError: if ``path`` does not exist.
        ColumnError: for a missing column or a malformed line (as in :func:`load_table`).
        EmptyDataError: if the file holds no rows, or no category name at all.
    """
    path = Path(path)
    _check_file(path)
    _check_category_sep(category_sep)
    if path.suffix.lower() in (".parquet", ".pq"):
        table = _ParquetTable(path)
    else:
        table = _TextTable.read(path, sep=sep, header=header, encoding=encoding)
    spec = _resolve_columns(
        table, columns, roles=CATEGORY_ROLES, required=CATEGORY_ROLES, auto=_CATEGORY_AUTO_NAMES
    )
    items = table.ids(spec["item"], "item")
    found = _category_features(items, table.cells(spec["category"], "category"), category_sep)
    if not found["features"].category_names:
        raise EmptyDataError(
            f"{path}: the category column {table.label(spec['category'])} holds no category "
            f"names in its {table.n_rows:,} rows"
        )
    return found["item_ids"], found["features"]


def _attach_categories(inter: Interactions, path: Path, item_ids, features) -> Interactions:
    """Replace ``inter``'s item features by ``features`` (given for raw ``item_ids``)."""
    if inter.item_ids.dtype.kind != np.asarray(item_ids).dtype.kind:
        data_ids, file_ids = inter.item_ids.astype(str), np.asarray(item_ids).astype(str)
    else:
        data_ids, file_ids = inter.item_ids, np.asarray(item_ids)
    aligned = align_item_features(data_ids, file_ids, features)
    have = int(aligned.categories.any(1).sum())
    if have == 0:
        raise DataError(
            f"none of the {inter.n_items:,} items of {inter.name!r} has a category in {path}: "
            f"item ids there look like {file_ids[:3].tolist()}, in the data like "
            f"{data_ids[:3].tolist()}; check the item column (category columns)"
        )
    unused = int(np.isin(file_ids, data_ids, invert=True).sum())
    line = (
        f"item categories from {path}: {len(features.category_names)} categories; {have:,} of "
        f"{inter.n_items:,} items have at least one; {unused:,} items of the file do not occur "
        "in the data"
    )
    if inter.item_features is not None:
        line += "; they replace the categories the data came with"
    return dataclasses.replace(inter, item_features=aligned, log=(*inter.log, line))


def _check_categories_options(categories, category_columns) -> None:
    """Refuse category columns without a categories file, and a missing categories file."""
    if category_columns is not None and categories is None:
        raise ConfigError(
            "category_columns are given but no categories file (categories=PATH; "
            "moorec train: --categories PATH)"
        )
    if categories is not None and not Path(categories).expanduser().is_file():
        raise DataNotFoundError(f"no such categories file: {categories}")


def _check_splittable(inter: Interactions, source) -> None:
    """Refuse data with fewer than 2 users or 2 items: no split can be made of it."""
    for role, n, ids in (("user", inter.n_users, inter.user_ids),
                         ("item", inter.n_items, inter.item_ids)):  # fmt: skip
        if n < 2:
            raise DataError(
                f"{source} holds a single {role} ({role} id {ids[:1].tolist()[0]!r}, "
                f"{len(inter):,} "
                "interaction(s)); a train/valid/test split needs at least 2 users and 2 items"
            )


def _detect(path: Path) -> tuple[str, Path]:
    """``(format, what to read)`` of a data file or folder given by path."""
    if path.is_dir():
        if any(path.glob("*.inter")):
            return "RecBole atomic", path
        for marker, kind in (("u.data", "MovieLens 100K"), ("ratings.dat", "MovieLens 1M")):
            if (path / marker).is_file():
                return kind, path / marker
        raise DataNotFoundError(
            f"{path} is a folder without a known data layout: expected NAME.inter (RecBole "
            "atomic), u.data (MovieLens 100K) or ratings.dat (MovieLens 1M); for a CSV/TSV/"
            "Parquet table give the file itself"
        )
    suffix = path.suffix.lower()
    if suffix == ".inter":
        return "RecBole atomic", path
    if suffix in (".item", ".user"):
        raise ConfigError(
            f"{path} is a RecBole {suffix} side file; give the NAME.inter file or its folder"
        )
    if path.name == "u.data":
        return "MovieLens 100K", path
    if path.name == "ratings.dat":
        return "MovieLens 1M", path
    return "table", path


def load_path(
    path: str | Path,
    columns: Mapping[str, str | int | None] | None = None,
    *,
    sep: str | None = None,
    header: bool = True,
    categories: str | Path | None = None,
    category_columns: Mapping[str, str | int] | None = None,
    category_sep: str | None = "|",
    name: str | None = None,
    encoding: str = "utf-8",
) -> Interactions:
    """Load your own data from a file or folder, finding the format from the path.

    * a folder holding ``NAME.inter`` (or a ``.inter`` file): RecBole atomic files, with
      ``NAME.item`` categories (:func:`load_atomic`);
    * a folder holding ``u.data`` / ``ratings.dat`` (or that file): the MovieLens 100K / 1M
      raw release (:func:`load_movielens_100k`, :func:`load_movielens_1m`); a file so named is
      read as a plain table instead when ``columns``, ``sep`` or ``header=False`` is given;
    * any other file: a CSV/TSV/Parquet table (:func:`load_table`) with ``columns``, ``sep``,
      ``header`` and, for a category column, ``category_sep``.

    Args:
        path: the file or folder.
        columns: role -> column of a table (see :func:`load_table`; ``"category"`` included).
        sep: field separator of a table (and of the categories file); ``None`` guesses.
        header: whether a table's first line names its columns.
        categories: a second table of item categories (:func:`load_categories`); they replace
            any categories the data came with.
        category_columns: ``{"item": ..., "category": ...}`` of the categories file.
        category_sep: separator of several categories in one field (default ``"|"``).
        name: data set name; defaults to the file's stem (the folder's name for a folder).
        encoding: text encoding of text files.

    Returns:
        Interactions with ``item_features`` when categories were found.

    Raises:
        DataNotFoundError: if ``path`` does not exist or a folder holds no known layout.
        ConfigError: if table options are given for a RecBole atomic path or a folder, or
            ``category_columns`` without ``categories``.
        DataError: if the data hold fewer than 2 users or 2 items (no split can be made), no
            item of the data has a category in ``categories``, or a file is malformed (see
            :func:`load_table`).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataNotFoundError(f"no such file or folder: {path}")
    as_table = columns is not None or sep is not None or not header
    kind, target = _detect(path)
    if kind.startswith("MovieLens") and path.is_file() and as_table:
        kind = "table"
    if kind != "table" and as_table:
        given = [opt for opt, on in (("columns", columns is not None), ("sep", sep is not None),
                                     ("header=False", not header)) if on]  # fmt: skip
        raise ConfigError(
            f"{path} is read as {kind} files, whose columns are fixed; the option(s) "
            f"{', '.join(given)} are only for a CSV/TSV/Parquet table file"
        )
    _check_categories_options(categories, category_columns)
    if kind == "RecBole atomic":
        inter = load_atomic(target, encoding=encoding)
    elif kind == "MovieLens 100K":
        inter = load_movielens_100k(target.parent, name=target.parent.name)
    elif kind == "MovieLens 1M":
        inter = load_movielens_1m(target.parent, name=target.parent.name)
    else:
        inter = load_table(target, columns, sep=sep, header=header, encoding=encoding,
                           category_sep=category_sep)  # fmt: skip
    if name is not None:
        inter = dataclasses.replace(inter, name=name)
    if categories is not None:
        item_ids, features = load_categories(
            categories, category_columns, sep=sep, category_sep=category_sep, encoding=encoding
        )
        inter = _attach_categories(inter, Path(categories), item_ids, features)
    _check_splittable(inter, path)
    return inter


def parse_columns(
    text: str | None, roles: Sequence[str] = TABLE_ROLES, *, option: str = "--columns"
) -> dict[str, str | int] | None:
    """Parse ``"user=u,item=i,time=t"`` into a ``columns`` mapping.

    A value of digits is a 0-based position, anything else a column name. ``time`` and ``ts``
    stand for ``timestamp``, ``categories`` for ``category``.

    Args:
        text: ``ROLE=COLUMN`` pairs separated by commas, or ``None``.
        roles: the valid roles.
        option: the option's name, for messages.

    Returns:
        ``{role: name or position}``, or ``None`` when ``text`` is ``None``.

    Raises:
        ConfigError: if a pair is not ``ROLE=COLUMN`` or a role is given twice.
        UnknownNameError: if a role is not one of ``roles``.
    """
    if text is None:
        return None
    aliases = {"time": "timestamp", "ts": "timestamp", "categories": "category"}
    out: dict[str, str | int] = {}
    for pair in text.split(","):
        key, eq, value = (part.strip() for part in pair.partition("="))
        if not eq or not key or not value:
            raise ConfigError(
                f"{option} takes ROLE=COLUMN pairs separated by commas (e.g. "
                f"user=u,item=i,time=t), got {pair.strip()!r} in {text!r}"
            )
        role = aliases.get(key.lower(), key.lower())
        if role not in roles:
            raise UnknownNameError(f"column role in {option}", key, roles)
        if role in out:
            raise ConfigError(f"{option} gives the {role} column twice: {text!r}")
        out[role] = int(value) if value.isdigit() else value
    return out


def parse_sep(text: str | None) -> str | None:
    r"""A field separator given on the command line, as :func:`load_table` takes it.

    ``\t`` and ``tab`` mean a tab, ``space`` and ``whitespace`` mean runs of whitespace
    (``" "``); anything else is taken as it is; ``None`` stays ``None`` (guess).
    """
    if text is None:
        return None
    named = {"\\t": "\t", "tab": "\t", "space": " ", "whitespace": " "}
    return named.get(text.lower() if text.isalpha() else text, text)
