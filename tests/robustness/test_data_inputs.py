"""Malformed data files through `moorec train --dataset PATH` and through the Python loader.

Each case is refused with a DataError subclass (or, for a bad option, a ConfigError) whose
message names the file, the line or row, and the bad value; on the command line that is one
`moorec: error:` line on stderr, exit code 2, no traceback and no output folder.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from moorec.cli import main
from moorec.data.loaders import load_path, parse_columns, parse_sep
from moorec.data.registry import load_source
from moorec.errors import (
    ColumnError,
    ConfigError,
    DataError,
    DataNotFoundError,
    EmptyDataError,
    UnknownNameError,
)

# a valid table: 2 users, 3 items, ratings 2-5 (lines 2-5 of the file)
GOOD = "u,i,t,r\nu1,i1,1,4\nu1,i2,2,5\nu2,i1,3,3\nu2,i3,4,2\n"
COLS = "user=u,item=i,time=t,rating=r"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"


@dataclasses.dataclass
class Case:
    """One malformed input: files to write, CLI arguments, and the expected refusal."""

    id: str
    files: dict  # file name -> str or bytes; the first is --dataset
    cli: list  # options after --dataset FILE
    error: type
    match: str  # regex the message must match (Python and CLI)
    py: dict = dataclasses.field(default_factory=dict)  # load_source keyword arguments
    parquet: bool = False


def _py(cli: list) -> dict:
    """load_source keyword arguments that mirror ``cli``."""
    out, args = {}, list(cli)
    while args:
        flag, value = args.pop(0), None
        if flag != "--no-header":
            value = args.pop(0)
        if flag == "--columns":
            out["columns"] = parse_columns(value)
        elif flag == "--category-columns":
            out["category_columns"] = parse_columns(value, ("item", "category"))
        elif flag == "--sep":
            out["sep"] = parse_sep(value)
        elif flag == "--no-header":
            out["header"] = False
        elif flag == "--categories":
            out["categories"] = value
        elif flag == "--threshold":
            out["threshold"] = float(value)
    return out


CASES = [
    Case(
        "nan_rating",
        {"nan.csv": GOOD + "u2,i2,5,nan\n"},
        ["--columns", COLS],
        ColumnError,
        r"nan\.csv, line 6: rating column 'r' must hold finite numbers, got 'nan'",
    ),
    Case(
        "infinite_rating",
        {"inf.csv": GOOD + "u2,i2,5,inf\n"},
        ["--columns", COLS],
        ColumnError,
        r"inf\.csv, line 6: rating column 'r' must hold finite numbers, got 'inf'",
    ),
    Case(
        "non_numeric_rating",
        {"words.csv": GOOD + "u2,i2,5,good\n"},
        ["--columns", COLS],
        ColumnError,
        r"words\.csv, line 6: rating column 'r' must hold numbers, got 'good'",
    ),
    Case(
        "nan_timestamp",
        {"time.csv": "u,i,t\nu1,i1,1\nu2,i2,NaN\nu2,i1,3\n"},
        ["--columns", "user=u,item=i,time=t"],
        ColumnError,
        r"time\.csv, line 3: timestamp column 't' must hold finite numbers, got 'NaN'",
    ),
    Case(
        "ragged_rows",
        {"ragged.csv": "u,i,t,r\nu1,i1,1,4\nu1,i2\nu2,i1,3,3\nu2,i3,4\n"},
        ["--columns", "user=u,item=i"],
        ColumnError,
        r"ragged\.csv, line 3: 2 field\(s\) where the header has 4 \(sep=','\): a missing "
        r"field in \['u1', 'i2'\]; 2 lines differ",
    ),
    Case(
        "extra_field",
        {"extra.csv": GOOD + "u2,i2,5,3,oops\n"},
        ["--columns", COLS],
        ColumnError,
        r"extra\.csv, line 6: 5 field\(s\) where the header has 4 \(sep=','\): an extra "
        r"field in \['u2', 'i2', '5', '3', 'oops'\]",
    ),
    Case(
        "empty_user_id",
        {"anon.csv": GOOD + ",i2,5,3\n"},
        ["--columns", COLS],
        ColumnError,
        r"anon\.csv, line 6: empty user id in column 'u'",
    ),
    Case(
        "empty_item_id",
        {"noitem.tsv": "u\ti\nu1\ti1\nu2\t \nu2\ti1\n"},
        ["--columns", "user=u,item=i"],
        ColumnError,
        r"noitem\.tsv, line 3: empty item id in column 'i'",
    ),
    Case(
        "semicolon_csv_read_as_comma",
        {"semi.csv": GOOD.replace(",", ";")},
        ["--columns", COLS],
        ColumnError,
        r"semi\.csv, line 1: split at sep=',' the line is a single field 'u;i;t;r', but it "
        r"contains ';'; if the file is ';'-separated pass sep=';' \(moorec train: --sep ';'\)",
    ),
    Case(
        "binary_garbage",
        {"garbage.csv": PNG},
        ["--columns", COLS],
        DataError,
        r"garbage\.csv, line 3: NUL byte at byte offset 8; the file is binary",
    ),
    Case(
        "zip_named_csv",
        {"archive.csv": b"PK\x03\x04\x14\x00\x00\x00"},
        [],
        DataError,
        r"archive\.csv is a zip archive \(unpack it first\), not a delimited text file",
    ),
    Case(
        "header_only",
        {"header.csv": "u,i,t,r\n"},
        ["--columns", COLS],
        EmptyDataError,
        r"header\.csv holds a header but no data rows",
    ),
    Case(
        "single_user",
        {"alone.csv": "u,i,t\nu1,i1,1\nu1,i2,2\nu1,i3,3\n"},
        ["--columns", "user=u,item=i,time=t"],
        DataError,
        r"alone\.csv holds a single user \(user id 'u1', 3 interaction\(s\)\); a train/valid/"
        r"test split needs at least 2 users and 2 items",
    ),
    Case(
        "single_item",
        {"one_item.csv": "u,i\nu1,7\nu2,7\nu3,7\n"},
        ["--columns", "user=u,item=i"],
        DataError,
        r"one_item\.csv holds a single item \(item id 7, 3 interaction\(s\)\); a train/valid/"
        r"test split needs at least 2 users and 2 items",
    ),
    Case(
        "duplicate_headers",
        {"twice.csv": "u,i,u,r\nu1,i1,x,4\nu2,i2,y,5\n"},
        ["--columns", "user=u,item=i"],
        ColumnError,
        r"twice\.csv, line 1: the header names column 'u' twice \(positions 0 and 2\)",
    ),
    Case(
        "all_ratings_below_threshold",
        {"low.csv": GOOD},
        ["--columns", COLS, "--threshold", "6"],
        EmptyDataError,
        r"implicit\(threshold=6\.0\) removed every interaction of 'low': no rating reaches the "
        r"threshold 6 \(ratings lie in \[2, 5\]\)",
    ),
    Case(
        "threshold_without_ratings",
        {"clicks.csv": "u,i\nu1,i1\nu2,i2\n"},
        ["--columns", "user=u,item=i", "--threshold", "4"],
        ConfigError,
        r"implicit\(threshold=4\.0\) needs ratings, but data set 'clicks' has none",
    ),
    Case(
        "numeric_header_is_data",
        {"Video.txt": "1 6393\n1 13504\n2 5\n"},
        ["--columns", "user=0,item=1", "--sep", "space"],
        ColumnError,
        r"Video\.txt, line 1: the header '1 6393' holds only numbers, so it looks like a data "
        r"line; .*--no-header",
    ),
    Case(
        "unknown_column_role",
        {"roles.csv": GOOD},
        ["--columns", "user=u,item=i,price=r"],
        UnknownNameError,
        r"unknown column role in --columns 'price'; valid choices: category, item, rating, "
        r"timestamp, user",
    ),
    Case(
        "column_pair_without_equals",
        {"pairs.csv": GOOD},
        ["--columns", "user=u,item"],
        ConfigError,
        r"--columns takes ROLE=COLUMN pairs separated by commas \(e\.g\. user=u,item=i,time=t\), "
        r"got 'item' in 'user=u,item'",
    ),
    Case(
        "same_column_twice",
        {"same.csv": GOOD},
        ["--columns", "user=u,item=u"],
        ColumnError,
        r"same\.csv: columns map both user and item to column 'u'",
    ),
    Case(
        "misnamed_column",
        {"names.csv": GOOD},
        ["--columns", "user=user_id,item=i"],
        ColumnError,
        r"names\.csv: no column named 'user_id' \(asked for user\); columns: u, i, t, r",
    ),
    Case(
        "categories_ragged",
        {"data.csv": GOOD, "cats.csv": "i,c\ni1,a\ni2,b,c\n"},
        ["--columns", COLS, "--categories", "{dir}/cats.csv"],
        ColumnError,
        r"cats\.csv, line 3: 3 field\(s\) where the header has 2 \(sep=','\): an extra field",
    ),
    Case(
        "categories_match_no_item",
        {"data.csv": GOOD, "cats.csv": "item,category\n1,a\n2,b\n"},
        ["--columns", COLS, "--categories", "{dir}/cats.csv"],
        DataError,
        r"none of the 3 items of 'data' has a category in .*cats\.csv: item ids there look "
        r"like \['1', '2'\], in the data like \['i1', 'i2', 'i3'\]",
    ),
    Case(
        "categories_empty",
        {"data.csv": GOOD, "cats.csv": "item,category\ni1,\ni2, \n"},
        ["--columns", COLS, "--categories", "{dir}/cats.csv"],
        EmptyDataError,
        r"cats\.csv: the category column 'category' holds no category names in its 2 rows",
    ),
    Case(
        "garbage_parquet",
        {"broken.parquet": b"PAR1 this is not really parquet"},
        [],
        DataError,
        r"broken\.parquet is not a readable Parquet file",
        parquet=True,
    ),
    Case(
        "null_user_in_parquet",
        {"nulls.parquet": None},  # written in the test with pyarrow
        ["--columns", "user=u,item=i"],
        ColumnError,
        r"nulls\.parquet, row 1: user column 'u' is empty \(null\); 1 row\(s\) are",
        parquet=True,
    ),
    Case(
        "columns_for_atomic_folder",
        {"shop/shop.inter": "user_id:token\titem_id:token\n1\t2\n2\t3\n"},
        ["--columns", "user=user_id,item=item_id"],
        ConfigError,
        r"shop is read as RecBole atomic files, whose columns are fixed; the option\(s\) columns "
        r"are only for a CSV/TSV/Parquet table file",
    ),
    Case(
        "missing_categories_file",
        {"data.csv": GOOD},
        ["--columns", COLS, "--categories", "{dir}/absent.csv"],
        DataNotFoundError,
        r"no such categories file: .*absent\.csv",
    ),
    Case(
        "missing_file",
        {},
        [],
        DataNotFoundError,
        r"no such file or folder: .*missing\.csv \(a data set is a registered name, "
        r".*ml-100k.*, or the path of a file or folder\)",
    ),
]


def _write(case: Case, folder: Path) -> Path:
    """Write the case's files under ``folder``; return the --dataset path."""
    if case.parquet:
        pytest.importorskip("pyarrow")
    if not case.files:
        return folder / "missing.csv"
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"u": ["a", None, "b"], "i": [1, 2, 3]}), path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    first = folder / next(iter(case.files))
    return first.parent if "/" in next(iter(case.files)) else first


def _args(case: Case, folder: Path) -> list:
    return [a.replace("{dir}", str(folder)) for a in case.cli]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_python_loader_refuses(case, tmp_path):
    source = _write(case, tmp_path)
    with pytest.raises(case.error, match=case.match):
        load_source(source, **_py(_args(case, tmp_path)))  # _py parses --columns too


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_refuses_with_one_line(case, tmp_path, capsys):
    source = _write(case, tmp_path)
    out = tmp_path / "run"
    argv = ["train", "--dataset", str(source), *_args(case, tmp_path)]
    code = main([*argv, "--out", str(out), "--epochs", "1", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("moorec: error: ")
    assert re.search(case.match, lines[0]), lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists(), "nothing may be written for a refused input"
    assert "best epoch" not in captured.out, "refused before any training"


def test_at_least_twelve_distinct_data_refusals():
    data_errors = [c for c in CASES if issubclass(c.error, DataError)]
    assert len(data_errors) >= 12
    assert len({c.id for c in CASES}) == len(CASES)


def test_semicolon_file_loads_with_the_hinted_separator(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text(GOOD.replace(",", ";"))
    inter = load_path(path, parse_columns(COLS), sep=";")
    assert (inter.n_users, inter.n_items, len(inter)) == (2, 3, 4)
    assert inter.ratings.tolist() == [4, 5, 3, 2]


def test_ids_too_large_for_int64_are_kept_exactly_as_text(tmp_path):
    """Integer-looking ids beyond int64 are neither wrapped nor refused: all ids stay text."""
    big = "99999999999999999999"
    path = tmp_path / "big.csv"
    path.write_text(f"u,i\n1,5\n{big},5\n2,9223372036854775807\n")
    inter = load_path(path, {"user": "u", "item": "i"})
    assert inter.user_ids.tolist() == ["1", "2", big]  # compared as text
    assert inter.item_ids.tolist() == [5, 9223372036854775807]  # fits: stays an integer
    assert any(
        f"user ids in column 'u' kept as text: {big} (" in line and "line 3" in line
        for line in inter.log
    ), inter.log


def test_parquet_uint64_ids_beyond_int64_do_not_wrap(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "big.parquet"
    big = 2**64 - 1
    pq.write_table(
        pa.table({"u": pa.array([1, big, 1], pa.uint64()), "i": pa.array([1, 2, 2])}), path
    )
    inter = load_path(path, {"user": "u", "item": "i"})
    assert inter.user_ids.tolist() == ["1", str(big)]  # not -1 (a wrapped uint64)
