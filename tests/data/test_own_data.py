"""Your own data by path: load_path, load_categories, load_source, and `moorec train` on them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import moorec as mr
from moorec.cli import main
from moorec.data.loaders import (
    load_atomic,
    load_categories,
    load_path,
    load_table,
    parse_columns,
    parse_sep,
)
from moorec.data.registry import load, load_source
from moorec.errors import ConfigError, DataNotFoundError, UnknownNameError


def pairs(inter):
    return list(
        zip(inter.user_ids[inter.users].tolist(), inter.item_ids[inter.items].tolist(), strict=True)
    )


def cats_of(inter):
    """Raw item id -> sorted category names."""
    f = inter.item_features
    return {
        iid: sorted(f.category_names[j] for j in np.flatnonzero(f.categories[k]))
        for k, iid in enumerate(inter.item_ids.tolist())
    }


INTER = "user_id:token\titem_id:token\trating:float\n1\t10\t4\n2\t10\t3\n2\t11\t5\n"
ITEM = "item_id:token\tclass:token_seq\n10\tDrama\n11\tComedy Drama\n"


# ------------------------------------------------------------------ formats found from the path
def test_atomic_folder_and_inter_file(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "shop.inter").write_text(INTER)
    (folder / "shop.item").write_text(ITEM)
    for given in (folder, folder / "shop.inter"):
        inter = load_path(given)
        assert pairs(inter) == [(1, 10), (2, 10), (2, 11)]
        assert inter.ratings.tolist() == [4, 3, 5]
        assert cats_of(inter) == {10: ["Drama"], 11: ["Comedy", "Drama"]}
    with pytest.raises(ConfigError, match=r"shop\.item is a RecBole \.item side file"):
        load_path(folder / "shop.item")


def test_movielens_raw_folder_and_file(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("1\t5\t3\t100\n2\t5\t4\t200\n2\t6\t1\t300\n")
    flags = ["0"] * 19
    comedy = flags.copy()
    comedy[5] = "1"  # MOVIELENS_GENRES[5] == "Comedy"
    (folder / "u.item").write_text(
        f"5|Five (1995)|01-Jan-1995||url|{'|'.join(comedy)}\n6|Six (1996)|||url|{'|'.join(flags)}\n"
    )
    for given in (folder, folder / "u.data"):
        inter = load_path(given)
        assert inter.name == "ml"
        assert pairs(inter) == [(1, 5), (2, 5), (2, 6)]
        assert inter.timestamps.tolist() == [100, 200, 300]
        assert cats_of(inter) == {5: ["Comedy"], 6: []}
    # a file named u.data with table options is read as a plain table
    table = load_path(folder / "u.data", {"user": 0, "item": 1}, sep="\t", header=False)
    assert pairs(table) == [(1, 5), (2, 5), (2, 6)] and table.item_features is None


def test_tables_csv_tsv_parquet(tmp_path):
    csv = tmp_path / "events.csv"
    csv.write_text("who,what,when\na,x,3\nb,x,1\nb,y,2\n")
    inter = load_path(csv, parse_columns("user=who,item=what,time=when"))
    assert pairs(inter) == [("a", "x"), ("b", "x"), ("b", "y")]
    assert inter.timestamps.tolist() == [3, 1, 2] and inter.name == "events"
    tsv = tmp_path / "events.tsv"
    tsv.write_text("user_id\titem_id\trating\n1\t2\t5\n3\t4\t1\n")
    assert pairs(load_path(tsv)) == [(1, 2), (3, 4)]
    txt = tmp_path / "Video.txt"
    txt.write_text("1 6393\n1 13504\n2 5\n")
    video = load_path(txt, parse_columns("user=0,item=1"), sep=parse_sep("space"), header=False)
    assert pairs(video) == [(1, 6393), (1, 13504), (2, 5)]
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"u": ["a", "b"], "i": [1, 2], "g": [["x", "y"], ["y"]]}),
                   tmp_path / "e.parquet")  # fmt: skip
    par = load_path(tmp_path / "e.parquet", {"user": "u", "item": "i", "category": "g"})
    assert pairs(par) == [("a", 1), ("b", 2)]
    assert cats_of(par) == {1: ["x", "y"], 2: ["y"]}  # list columns need no separator


def test_folder_without_layout_and_missing_path(tmp_path):
    (tmp_path / "notes.csv").write_text("u,i\n1,2\n")
    with pytest.raises(DataNotFoundError, match=r"is a folder without a known data layout"):
        load_path(tmp_path)
    with pytest.raises(DataNotFoundError, match=r"no such file or folder: .*nope"):
        load_path(tmp_path / "nope")


# ------------------------------------------------------------------ categories
def test_categories_file_one_row_per_item_or_per_pair(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("u,i\n1,10\n1,11\n2,12\n2,10\n")
    per_item = tmp_path / "items.csv"
    per_item.write_text("item,genres\n10,Action|Drama\n11,Drama\n99,Horror\n")
    inter = load_path(data, {"user": "u", "item": "i"}, categories=per_item)
    # item 12 has no row: no category; item 99 is not in the data; Horror is still a column
    assert cats_of(inter) == {10: ["Action", "Drama"], 11: ["Drama"], 12: []}
    assert inter.item_features.category_names == ("Action", "Drama", "Horror")
    assert any(
        "3 categories; 2 of 3 items have at least one; 1 items of the file do not occur" in line
        for line in inter.log
    ), inter.log
    per_pair = tmp_path / "pairs.tsv"
    per_pair.write_text("sku\tcat\n10\tb\n10\ta\n12\tc\n12\t\n")
    again = load_path(
        data,
        {"user": "u", "item": "i"},
        categories=per_pair,
        category_columns=parse_columns("item=sku,category=cat", ("item", "category")),
        category_sep=None,
    )
    assert cats_of(again) == {10: ["a", "b"], 11: [], 12: ["c"]}


def test_load_categories_returns_ids_and_multi_hot(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("7 x;y\n8 y\n")
    ids, feats = load_categories(path, sep=" ", header=False, category_sep=";")
    assert ids.tolist() == [7, 8]
    assert feats.category_names == ("x", "y")
    np.testing.assert_array_equal(feats.categories, [[True, True], [False, True]])


def test_category_column_in_the_data_file(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text("u,i,c\n1,a,books\n2,a,books|kids\n2,b,\n1,c,tools\n")
    inter = load_table(path, {"user": "u", "item": "i", "category": "c"})
    assert cats_of(inter) == {"a": ["books", "kids"], "b": [], "c": ["tools"]}
    assert "item categories from column 'c': 3 categories, 2 of 3 items" in inter.log[1]


def test_categories_file_replaces_atomic_categories(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "shop.inter").write_text(INTER)
    (folder / "shop.item").write_text(ITEM)
    (tmp_path / "mine.csv").write_text("item_id,category\n10,new\n")
    inter = load_path(folder, categories=tmp_path / "mine.csv")
    assert cats_of(inter) == {10: ["new"], 11: []}
    assert "they replace the categories the data came with" in inter.log[-1]
    assert load_atomic(folder).item_features.category_names == ("Comedy", "Drama")


# ------------------------------------------------------------------ names and paths
def test_load_source_names_and_paths(tmp_path):
    shop = load_source("synthetic-shop")
    assert shop.name == "synthetic-shop" and shop.item_features is not None
    path = tmp_path / "d.csv"
    path.write_text("u,i,r\n1,2,5\n2,3,1\n2,2,4\n1,3,5\n")
    kept = load_source(str(path), columns={"user": "u", "item": "i", "rating": "r"}, threshold=4)
    assert pairs(kept) == [(1, 2), (2, 2), (1, 3)] and kept.ratings is None
    with pytest.raises(
        ConfigError, match=r"option\(s\) columns are only for your own table files; 'ml-100k'"
    ):
        load_source("ml-100k", columns={"user": 0, "item": 1})
    with pytest.raises(DataNotFoundError, match=r"no such categories file: .*nope\.csv"):
        load_source("ml-100k", categories=tmp_path / "nope.csv")  # checked before loading
    with pytest.raises(ConfigError, match=r"category_columns are given but no categories file"):
        load_source(str(path), category_columns={"item": 0, "category": 1})
    with pytest.raises(ConfigError, match=r"path='x' applies to a registered data set name"):
        load_source(str(path), path="x")
    with pytest.raises(UnknownNameError, match=r"unknown data set .*'shop'; valid choices: "):
        load_source("shop")


def test_parse_columns_and_sep():
    assert parse_columns("user=u, item=2,time=t,rating=r") == {
        "user": "u",
        "item": 2,
        "timestamp": "t",
        "rating": "r",
    }
    assert parse_columns(None) is None
    with pytest.raises(ConfigError, match=r"gives the user column twice"):
        parse_columns("user=a,user=b")
    with pytest.raises(UnknownNameError, match=r"unknown column role in --category-columns 'u'"):
        parse_columns("u=1", ("item", "category"), option="--category-columns")
    assert [parse_sep(s) for s in ("\\t", "tab", "space", ";", None)] == [
        "\t",
        "\t",
        " ",
        ";",
        None,
    ]


@pytest.mark.realdata
def test_real_data_by_path_equals_by_name(data_root, monkeypatch):
    monkeypatch.setenv("MOOREC_DATA", str(data_root))
    for name, given, options in (
        ("ml-100k", data_root / "ml-100k", {}),
        ("amazon-video-games", data_root / "amazon-video-games" / "Video.txt",
         {"columns": {"user": 0, "item": 1}, "sep": " ", "header": False}),
    ):  # fmt: skip
        by_name, by_path = load(name), load_path(given, **options)
        for field in ("users", "items", "user_ids", "item_ids", "timestamps"):
            np.testing.assert_array_equal(getattr(by_path, field), getattr(by_name, field))
    assert load_path(data_root / "ml-100k").item_features.categories.shape == (1682, 19)


# ------------------------------------------------------------------ the command line
@pytest.fixture(scope="module")
def shop_files(tmp_path_factory):
    """A synthetic shop written as a CSV (string user ids) and a categories CSV."""
    folder = tmp_path_factory.mktemp("own")
    shop = mr.datasets.synthetic_shop(
        n_users=60, n_items=40, n_interactions=900, n_categories=4, seed=0
    )
    users = shop.user_ids[shop.users]
    items = shop.item_ids[shop.items]
    rows = "".join(
        f"user{u},{i},{int(t)}\n" for u, i, t in zip(users, items, shop.timestamps, strict=True)
    )
    (folder / "shop.csv").write_text("u,i,t\n" + rows)
    feats = shop.item_features
    lines = [
        f"{iid},{'|'.join(feats.category_names[j] for j in np.flatnonzero(feats.categories[k]))}"
        for k, iid in enumerate(shop.item_ids.tolist())
    ]
    (folder / "cats.csv").write_text("i,c\n" + "\n".join(lines) + "\n")
    return folder, shop


def test_cli_trains_on_a_csv(shop_files, tmp_path, capsys):
    folder, shop = shop_files
    out = tmp_path / "run"
    argv = ["train", "--dataset", str(folder / "shop.csv"), "--columns", "user=u,item=i,time=t"]
    code = main([*argv, "--out", str(out), "--epochs", "2", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["dataset"] == "shop"
    assert metrics["data"]["summary"].startswith(
        f"shop: {shop.n_users} users x {shop.n_items} items, {len(shop)} interactions"
    )
    assert metrics["epochs_run"] == 2
    assert 0 <= metrics["test"]["ndcg@10"] <= 1
    assert "ild@10" not in metrics["test"], "no categories given: ild@10 cannot be computed"


def test_cli_with_a_categories_file_reports_ild(shop_files, tmp_path, monkeypatch):
    folder, shop = shop_files
    import moorec.api

    trained = {}
    real_fit = moorec.api.fit

    def spy(split, *args, **kwargs):
        trained["split"] = split
        trained["result"] = real_fit(split, *args, **kwargs)
        return trained["result"]

    monkeypatch.setattr(moorec.api, "fit", spy)
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--dataset",
            str(folder / "shop.csv"),
            "--columns",
            "user=u,item=i,time=t",
            "--categories",
            str(folder / "cats.csv"),
            "--category-columns",
            "item=i,category=c",
            "--out",
            str(out),
            "--epochs",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    ild = metrics["test"]["ild@10"]
    assert isinstance(ild, float) and math.isfinite(ild) and 0.0 <= ild <= 1.0
    assert 0.0 < metrics["test"]["category_coverage@10"] <= 1.0
    # the categories reached the data exactly as the generator made them
    split = trained["split"]
    assert cats_of(split.train) == cats_of(shop)
    # and the reported figure is what moorec.evaluate gives for the same model and split
    again = mr.evaluate(trained["result"].model, split, "test", ["ild@10"])
    assert again["ild@10"] == pytest.approx(ild, abs=1e-6)
