"""Tests of moorec.data.loaders on small files written in the real formats."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from moorec.data.loaders import (
    MOVIELENS_GENRES,
    load_atomic,
    load_movielens_1m,
    load_movielens_100k,
    load_table,
)
from moorec.errors import (
    ColumnError,
    DataNotFoundError,
    EmptyDataError,
    MoorecError,
    UnknownNameError,
)


def pairs(inter):
    """Raw (user, item) ids of each row."""
    return list(
        zip(inter.user_ids[inter.users].tolist(), inter.item_ids[inter.items].tolist(), strict=True)
    )


# ------------------------------------------------------------------ RecBole atomic files
ATOMIC_INTER = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "10\t1\t4\t100\n"
    "2\t2\t3\t200\n"
    "10\t3\t5\t50\n"
    "9\t1\t1\t300\n"
)
ATOMIC_ITEM = (
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    "1\tToy Story\t1995\tAnimation Children's Comedy\n"
    "2\tHeat\t1995\tAction Crime Thriller\n"
    "3\tunkonwn\tunkonwn\tunknown\n"
    "4\tNever Rated\t1990\tSpace-Opera Drama\n"
)
ATOMIC_USER = "user_id:token\tage:token\tgender:token\n10\t24\tM\n2\t53\tF\n9\t23\tM\n"


@pytest.fixture
def atomic_dir(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "tiny.inter").write_text(ATOMIC_INTER)
    (folder / "tiny.item").write_text(ATOMIC_ITEM)
    (folder / "tiny.user").write_text(ATOMIC_USER)
    return folder


def test_atomic_interactions(atomic_dir):
    inter = load_atomic(atomic_dir)
    assert inter.name == "tiny"
    assert (inter.n_users, inter.n_items, len(inter)) == (3, 3, 4)
    # integer-looking ids are compared as integers: 2 < 9 < 10
    assert inter.user_ids.tolist() == [2, 9, 10]
    assert inter.users.tolist() == [2, 0, 2, 1]
    assert pairs(inter) == [(10, 1), (2, 2), (10, 3), (9, 1)]
    np.testing.assert_array_equal(inter.ratings, [4, 3, 5, 1])
    np.testing.assert_array_equal(inter.timestamps, [100, 200, 50, 300])
    assert inter.ratings.dtype == np.float32 and inter.timestamps.dtype == np.float64


def test_atomic_item_features(atomic_dir):
    feats = load_atomic(atomic_dir).item_features
    # every category of the .item file is a column (item 4, never rated, brings Drama and
    # Space-Opera): MovieLens genres in u.genre order, then other names sorted
    assert feats.category_names == (
        "unknown",
        "Action",
        "Animation",
        "Children's",
        "Comedy",
        "Crime",
        "Drama",
        "Thriller",
        "Space-Opera",
    )
    np.testing.assert_array_equal(
        feats.categories.astype(int),
        [[0, 0, 1, 1, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 1, 0, 1, 0], [1, 0, 0, 0, 0, 0, 0, 0, 0]],
    )
    assert feats.titles.tolist() == ["Toy Story", "Heat", "unkonwn"]
    np.testing.assert_array_equal(feats.year, [1995, 1995, np.nan])


def test_atomic_item_rows_follow_the_items_that_occur(atomic_dir):
    (atomic_dir / "tiny.inter").write_text(ATOMIC_INTER + "2\t4\t2\t400\n5\t77\t1\t1\n")
    inter = load_atomic(atomic_dir)
    assert inter.item_ids.tolist() == [1, 2, 3, 4, 77]
    feats = inter.item_features
    assert feats.categories[3].tolist() == [False] * 6 + [True, False, True]
    # item 77 has no row in tiny.item: no categories, empty title, unknown year
    assert not feats.categories[4].any() and feats.titles[4] == "" and np.isnan(feats.year[4])


def test_atomic_log_and_inter_path(atomic_dir):
    inter = load_atomic(atomic_dir / "tiny.inter")
    assert "4 interactions" in inter.log[0]
    assert any("tiny.item" in line and "3 items" not in line for line in inter.log)
    assert any("tiny.user (3 users; fields user_id, age, gender)" in line for line in inter.log)


def test_atomic_single_inter_file_under_other_folder_name(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "other.inter").write_text(ATOMIC_INTER)
    inter = load_atomic(folder)
    assert inter.name == "other" and inter.item_features is None


def test_atomic_missing_field(tmp_path):
    (tmp_path / "x.inter").write_text("uid:token\titem_id:token\n1\t2\n")
    with pytest.raises(ColumnError, match=r"no 'user_id' field; fields: uid:token, item_id:token"):
        load_atomic(tmp_path / "x.inter")


def test_atomic_missing_files(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"no such file: .*nope\.inter"):
        load_atomic(tmp_path / "nope.inter")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match=r"no empty\.inter in .*files there: none\)"):
        load_atomic(tmp_path / "empty")


def test_atomic_bad_rating_names_line(tmp_path):
    (tmp_path / "x.inter").write_text(
        "user_id:token\titem_id:token\trating:float\n1\t2\t5\n\n1\t3\tfive\n"
    )
    with pytest.raises(ColumnError, match=r"line 4: rating column 'rating:float' .*'five'"):
        load_atomic(tmp_path / "x.inter")


# ------------------------------------------------------------------ MovieLens raw files
def write_ml100k(folder, with_genre_file=True):
    """A three-movie MovieLens 100K release in the original formats."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
        "196\t302\t5\t881250950\n"
    )

    def flags(*on):
        return "|".join("1" if g in on else "0" for g in MOVIELENS_GENRES)

    (folder / "u.item").write_bytes(
        (
            f"242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya|{flags('Comedy')}\n"
            f"302|L.A. Confidential (1997)|01-Jan-1997||http://x|"
            f"{flags('Crime', 'Film-Noir', 'Mystery', 'Thriller')}\n"
            f"377|Misérables, Les (1995)|||http://x|{flags('Drama', 'Musical')}\n"
            f"999|unknown||||{flags('unknown')}\n"
        ).encode("latin-1")
    )
    if with_genre_file:
        (folder / "u.genre").write_text(
            "".join(f"{g}|{k}\n" for k, g in enumerate(MOVIELENS_GENRES)) + "\n"
        )
    return folder


def test_ml100k_raw(tmp_path):
    inter = load_movielens_100k(write_ml100k(tmp_path / "ml-100k"))
    assert inter.name == "ml-100k"
    assert (inter.n_users, inter.n_items, len(inter)) == (3, 3, 4)
    assert pairs(inter) == [(196, 242), (186, 302), (22, 377), (196, 302)]
    np.testing.assert_array_equal(inter.ratings, [3, 3, 1, 5])
    np.testing.assert_array_equal(inter.timestamps, [881250949, 891717742, 878887116, 881250950])
    feats = inter.item_features
    assert feats.category_names == MOVIELENS_GENRES
    assert feats.titles.tolist() == ["Kolya", "L.A. Confidential", "Misérables, Les"]
    # year from the release date; from the title when the date is empty
    np.testing.assert_array_equal(feats.year, [1997, 1997, 1995])
    on = [[feats.category_names[j] for j in np.flatnonzero(row)] for row in feats.categories]
    assert on == [["Comedy"], ["Crime", "Film-Noir", "Mystery", "Thriller"], ["Drama", "Musical"]]
    assert "u.data: 4 ratings" in inter.log[0]


def test_ml100k_raw_without_genre_file_uses_standard_names(tmp_path):
    inter = load_movielens_100k(write_ml100k(tmp_path / "m", with_genre_file=False))
    assert inter.item_features.category_names == MOVIELENS_GENRES
    assert len(MOVIELENS_GENRES) == 19


def test_ml100k_raw_bad_item_line(tmp_path):
    folder = write_ml100k(tmp_path / "m")
    (folder / "u.item").write_text("242|Kolya (1996)|24-Jan-1997||url|0|1\n")
    with pytest.raises(ColumnError, match=r"u\.item, line 1: expected 24 '\|'-separated fields"):
        load_movielens_100k(folder)


def test_ml1m_raw(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
    )
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "3::Café au lait (1993)::Comedy\n".encode("latin-1")
    )
    inter = load_movielens_1m(folder)
    assert inter.name == "ml-1m"
    assert pairs(inter) == [(1, 1193), (1, 661), (2, 1193)]
    np.testing.assert_array_equal(inter.ratings, [5, 3, 4])
    np.testing.assert_array_equal(inter.timestamps, [978300760, 978302109, 978298413])
    feats = inter.item_features
    # genres of movies.dat in MovieLens order (Comedy comes from the unrated movie 3)
    assert feats.category_names == ("Animation", "Children's", "Comedy", "Drama", "Musical")
    assert feats.titles.tolist() == ["James and the Giant Peach", "One Flew Over the Cuckoo's Nest"]
    np.testing.assert_array_equal(feats.year, [1996, 1975])
    np.testing.assert_array_equal(feats.categories.astype(int), [[1, 1, 0, 0, 1], [0, 0, 0, 1, 0]])


def test_ml1m_missing_ratings(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"no such file: .*ratings\.dat"):
        load_movielens_1m(tmp_path)


# ------------------------------------------------------------------ generic tables
def test_csv_by_name_with_quotes(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text('who,what,stars,when,note\n"b",x1,4.5,20,"a, b"\na,x2,3,10,\nb,x2,1,30,z\n')
    inter = load_table(
        path, {"user": "who", "item": "what", "rating": "stars", "timestamp": "when"}
    )
    assert inter.name == "events"
    assert inter.user_ids.tolist() == ["a", "b"]
    assert pairs(inter) == [("b", "x1"), ("a", "x2"), ("b", "x2")]
    np.testing.assert_array_equal(inter.ratings, [4.5, 3, 1])
    np.testing.assert_array_equal(inter.timestamps, [20, 10, 30])
    assert "columns user='who', item='what', rating='stars', timestamp='when'" in inter.log[0]


def test_table_auto_columns_and_typed_names(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("userId\tmovieId\trating\ttimestamp\n1\t10\t4\t5\n2\t10\t2\t6\n")
    inter = load_table(path)
    assert pairs(inter) == [(1, 10), (2, 10)]
    np.testing.assert_array_equal(inter.ratings, [4, 2])
    typed = tmp_path / "typed.txt"
    typed.write_text("user_id:token\titem_id:token\n7\t8\n")
    assert pairs(load_table(typed, {"user": "user_id", "item": "item_id"})) == [(7, 8)]


def test_whitespace_no_header_keeps_line_order_as_time(tmp_path):
    path = tmp_path / "Video.txt"
    path.write_text("1 6393\n1 13504\n2 5\n\n2 6393\n")
    inter = load_table(path, {"user": 0, "item": 1}, sep=" ", header=False)
    assert pairs(inter) == [(1, 6393), (1, 13504), (2, 5), (2, 6393)]
    np.testing.assert_array_equal(inter.timestamps, [0, 1, 2, 3])
    assert inter.ratings is None
    assert "timestamps set to the 0-based row position" in inter.log[1]
    assert load_table(path, header=False, time_from_order=False).timestamps is None


def test_separator_guess(tmp_path):
    path = tmp_path / "r.dat"
    path.write_text("1::2::3.5::4\n")
    inter = load_table(path, {"user": 0, "item": 1, "rating": 2, "timestamp": 3}, header=False)
    assert pairs(inter) == [(1, 2)] and inter.ratings[0] == 3.5
    assert "sep='::'" in inter.log[0]


def test_table_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"no such file: .*missing\.csv"):
        load_table(tmp_path / "missing.csv")


def test_table_misnamed_column(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("user,item,rating\n1,2,3\n")
    with pytest.raises(
        ColumnError,
        match=r"no column named 'usr' \(asked for user\); "
        r"columns: user, item, rating",
    ):
        load_table(path, {"user": "usr", "item": "item"})
    with pytest.raises(ColumnError, match=r"position 5 is out of range; the file has 3 column"):
        load_table(path, {"user": 0, "item": 5})
    with pytest.raises(ColumnError, match=r"found no item column among \['user', 'rating'\]"):
        (tmp_path / "b.csv").write_text("user,rating\n1,3\n")
        load_table(tmp_path / "b.csv")
    with pytest.raises(UnknownNameError, match=r"unknown column role 'price'"):
        load_table(path, {"user": 0, "item": 1, "price": 2})
    with pytest.raises(ColumnError, match=r"columns must map 'item' to a column"):
        load_table(path, {"user": 0})


def test_table_name_without_header(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("1 2\n")
    with pytest.raises(ColumnError, match=r"given by name but the file is read without a header"):
        load_table(path, {"user": "user", "item": 1}, header=False)


def test_table_non_numeric_values(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("user,item,rating,timestamp\n1,2,3,10\n\n1,3,4,eleven\n")
    with pytest.raises(
        ColumnError,
        match=r"a\.csv, line 4: timestamp column 'timestamp' must "
        r"hold numbers, got 'eleven'",
    ):
        load_table(path, {"user": 0, "item": 1, "timestamp": 3})
    path.write_text("user,item,rating\n1,2,good\n")
    with pytest.raises(ColumnError, match=r"line 2: rating column 'rating' .*'good'"):
        load_table(path, {"user": 0, "item": 1, "rating": 2})


def test_table_short_row(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("1 2 3\n4 5\n")
    # every line must have as many fields as the first, whether or not the column is used
    for cols in ({"user": 0, "item": 1, "rating": 2}, {"user": 0, "item": 1}):
        with pytest.raises(
            ColumnError, match=r"a\.txt, line 2: 2 field\(s\) where line 1 has 3 \(sep=whitespace\)"
        ):
            load_table(path, cols, header=False)


def test_table_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(EmptyDataError, match=r"empty\.csv is empty"):
        load_table(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("\n  \n")
    with pytest.raises(EmptyDataError, match=r"blank\.csv is empty"):
        load_table(blank)
    header_only = tmp_path / "h.csv"
    header_only.write_text("user,item\n")
    with pytest.raises(EmptyDataError, match=r"h\.csv holds a header but no data rows"):
        load_table(header_only)


def test_table_wrong_encoding(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("1 café\n".encode("latin-1"))
    with pytest.raises(ColumnError, match=r"not valid utf-8 text .* pass encoding="):
        load_table(path, header=False)
    assert pairs(load_table(path, header=False, encoding="latin-1")) == [(1, "café")]


# ------------------------------------------------------------------ Parquet
def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "events.parquet"
    table = pa.table(
        {
            "uid": ["u2", "u1", "u2"],
            "sku": [7, 7, 9],
            "stars": [5.0, 4.0, 1.0],
            "ts": pa.array([3, 1, 2], pa.int64()),
        }
    )
    pq.write_table(table, path)
    inter = load_table(path, {"user": "uid", "item": "sku", "rating": "stars", "timestamp": 3})
    assert pairs(inter) == [("u2", 7), ("u1", 7), ("u2", 9)]
    np.testing.assert_array_equal(inter.ratings, [5, 4, 1])
    np.testing.assert_array_equal(inter.timestamps, [3, 1, 2])
    assert "(parquet)" in inter.log[0]
    with pytest.raises(
        ColumnError,
        match=r"no column named 'user' \(asked for user\); "
        r"columns: uid, sku, stars, ts",
    ):
        load_table(path, {"user": "user", "item": "sku"})
    pq.write_table(pa.table({"u": [1], "i": [2], "r": ["bad"]}), tmp_path / "bad.parquet")
    with pytest.raises(ColumnError, match=r"row 0: rating column 'r' must hold numbers, got 'bad'"):
        load_table(tmp_path / "bad.parquet", {"user": "u", "item": "i", "rating": "r"})


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MoorecError, match=r"needs pyarrow.*pip install 'moorec\[parquet\]'"):
        load_table(path)


# ------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_real_ml100k_atomic(data_root):
    inter = load_atomic(data_root / "ml-100k")
    assert (inter.n_users, inter.n_items, len(inter)) == (943, 1682, 100_000)
    assert inter.ratings.min() == 1 and inter.ratings.max() == 5
    assert pairs(inter)[0] == (196, 242)
    assert (inter.ratings[0], inter.timestamps[0]) == (3, 881250949)
    feats = inter.item_features
    # 19 distinct genres occur in the class field, "unknown" included
    assert feats.category_names == MOVIELENS_GENRES
    counts = dict(zip(feats.category_names, feats.categories.sum(0).tolist(), strict=True))
    assert (counts["Drama"], counts["Comedy"], counts["unknown"], counts["Fantasy"]) == (
        725,
        505,
        2,
        22,
    )
    toy = int(np.flatnonzero(inter.item_ids == 1)[0])
    assert feats.titles[toy] == "Toy Story" and feats.year[toy] == 1995
    assert [feats.category_names[j] for j in np.flatnonzero(feats.categories[toy])] == [
        "Animation",
        "Children's",
        "Comedy",
    ]


@pytest.mark.realdata
def test_real_video_games(data_root):
    inter = load_table(
        data_root / "amazon-video-games" / "Video.txt",
        {"user": 0, "item": 1},
        sep=" ",
        header=False,
    )
    assert (inter.n_users, inter.n_items, len(inter)) == (31_013, 23_715, 287_107)
    assert pairs(inter)[:2] == [(1, 6393), (1, 13504)]
    np.testing.assert_array_equal(inter.timestamps[:3], [0, 1, 2])


@pytest.mark.realdata
def test_real_ml100k_raw_format_matches_atomic(data_root, tmp_path):
    """Written back in the raw u.data / u.item format, ml-100k loads to the same arrays."""
    atomic = load_atomic(data_root / "ml-100k")
    raw = tmp_path / "ml-100k"
    raw.mkdir()
    users = atomic.user_ids[atomic.users]
    items = atomic.item_ids[atomic.items]
    (raw / "u.data").write_text(
        "".join(
            f"{u}\t{i}\t{int(r)}\t{int(t)}\n"
            for u, i, r, t in zip(users, items, atomic.ratings, atomic.timestamps, strict=True)
        )
    )
    feats = atomic.item_features
    lines = []
    for k, item in enumerate(atomic.item_ids):
        year = "" if np.isnan(feats.year[k]) else f"01-Jan-{int(feats.year[k])}"
        flags = "|".join(str(int(f)) for f in feats.categories[k])
        lines.append(f"{item}|{feats.titles[k]} ({year[-4:] or '0000'})|{year}||url|{flags}")
    (raw / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    again = load_movielens_100k(raw)
    for field in ("users", "items", "ratings", "timestamps", "user_ids", "item_ids"):
        np.testing.assert_array_equal(getattr(again, field), getattr(atomic, field))
    assert again.item_features.category_names == feats.category_names
    np.testing.assert_array_equal(again.item_features.categories, feats.categories)
    np.testing.assert_array_equal(again.item_features.titles, feats.titles)


@pytest.mark.realdata
def test_real_video_games_is_not_a_strict_5_core(data_root):
    """The figures docs/data.md gives for Video.txt (SASRec's one-pass filter, not a k-core)."""
    from moorec.data.clean import drop_duplicates, k_core

    inter = load_table(
        data_root / "amazon-video-games" / "Video.txt", {"user": 0, "item": 1}, sep=" ",
        header=False,
    )  # fmt: skip
    users, items = inter.user_counts(), inter.item_counts()
    assert int((users < 5).sum()) == 1_672 and int((items < 5).sum()) == 11_604
    assert np.bincount(users)[1:5].tolist() == [30, 82, 272, 1_288]
    assert int(np.bincount(items)[1]) == 3_376 and users.min() == items.min() == 1
    assert len(drop_duplicates(inter)) == len(inter)  # no repeated (user, item) pair
    core = k_core(inter, 5, 5)
    assert (core.n_users, core.n_items, len(core)) == (24_303, 10_672, 231_780)
    assert core.log[-1].endswith("in 12 rounds")
