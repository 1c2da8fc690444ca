"""Tests of moorec.data.registry: lookup order, downloads (file:// and a local HTTP server),
checksums, and the real data sets when present."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import os
import socket
import threading
import zipfile

import numpy as np
import pytest

from moorec import datasets
from moorec.data import registry
from moorec.data.loaders import MOVIELENS_GENRES, load_movielens_100k
from moorec.data.registry import (
    DatasetInfo,
    Layout,
    available,
    cache_root,
    dataset_info,
    load,
    locate,
    register,
    unregister,
)
from moorec.errors import (
    ChecksumError,
    ConfigError,
    DataNotFoundError,
    DownloadError,
    UnknownNameError,
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No MOOREC_DATA, a private cache, and a registry copy that tests may change."""
    monkeypatch.delenv("MOOREC_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("MOOREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def write_ml100k(folder, n_ratings=3):
    """A small MovieLens 100K release in the original formats, with ``n_ratings`` ratings."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{u}\t{1 + u % 2}\t{1 + u % 5}\t{881250949 + u}" for u in range(1, n_ratings + 1)]
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    flags = ["0"] * 19
    comedy = flags.copy()
    comedy[MOVIELENS_GENRES.index("Comedy")] = "1"
    drama = flags.copy()
    drama[MOVIELENS_GENRES.index("Drama")] = "1"
    (folder / "u.item").write_text(
        f"1|Toy Story (1995)|01-Jan-1995||url|{'|'.join(comedy)}\n"
        f"2|Heat (1995)|01-Jan-1995||url|{'|'.join(drama)}\n"
    )
    return folder


def make_zip(path, top="ml-100k", n_ratings=3):
    """Zip a small ml-100k release like GroupLens' archive (files under ``top/``)."""
    src = write_ml100k(path.parent / f"src-{path.stem}", n_ratings)
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, arcname=f"{top}/{f.name}" if top else f.name)
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


class CountingServer:
    """A static HTTP server on 127.0.0.1 that counts the requests it answers."""

    def __init__(self, folder):
        self.requests = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    srv = CountingServer(folder)
    srv.folder = folder
    yield srv
    srv.close()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/ml-100k.zip"


# ------------------------------------------------------------------ names and entries
def test_names_and_unknown_name():
    assert set(registry.names()) >= {"ml-100k", "ml-1m", "amazon-video-games", "synthetic-shop"}
    with pytest.raises(
        UnknownNameError,
        match=r"unknown data set 'ml-10m'; valid choices: "
        r"amazon-video-games, ml-100k, ml-1m, synthetic",
    ):
        load("ml-10m")


def test_public_module_reexports():
    assert datasets.load is load and datasets.available is available
    assert datasets.register is register and datasets.DatasetInfo is DatasetInfo
    assert set(datasets.__all__) >= {
        "load",
        "available",
        "synthetic_shop",
        "register",
        "DatasetInfo",
    }


def test_register_and_unregister(tmp_path):
    info = DatasetInfo("mine", layouts=(Layout("u.data", lambda p: load_movielens_100k(p.parent)),))
    register(info)
    assert dataset_info("mine") is info
    with pytest.raises(ConfigError, match=r"'mine' is already registered; pass overwrite=True"):
        register(info)
    register(dataclasses.replace(info, description="new"), overwrite=True)
    assert dataset_info("mine").description == "new"
    unregister("mine")
    with pytest.raises(UnknownNameError, match=r"unknown data set 'mine'"):
        dataset_info("mine")


def test_entry_validation():
    layout = Layout("u.data", load_movielens_100k)
    with pytest.raises(
        ConfigError,
        match=r"must be 'sha256:<64 hex digits>' or 'md5:<32 hex "
        r"digits>', got 'abc'",
    ):
        DatasetInfo("x", layouts=(layout,), url="file:///x", checksum="abc")
    with pytest.raises(ConfigError, match=r"data set name must be letters.*got 'a b'"):
        DatasetInfo("a b", layouts=(layout,))
    with pytest.raises(ConfigError, match=r"'x' needs layouts"):
        DatasetInfo("x")
    with pytest.raises(ConfigError, match=r"marker must be a plain file name, got 'a/u.data'"):
        Layout("a/u.data", load_movielens_100k)
    with pytest.raises(ConfigError, match=r"register\(\) takes a DatasetInfo, got dict"):
        register({"name": "x"})


def test_cache_root_precedence(monkeypatch, tmp_path):
    assert cache_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert cache_root() == tmp_path / "cache"
    monkeypatch.delenv("MOOREC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "moorec"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "moorec"


# ------------------------------------------------------------------ local lookup
def test_lookup_order(monkeypatch, tmp_path):
    explicit = write_ml100k(tmp_path / "explicit", n_ratings=2)
    env = write_ml100k(tmp_path / "env" / "ml-100k", n_ratings=4)
    write_ml100k(tmp_path / "cache" / "ml-100k" / "ml-100k", n_ratings=5)  # unpacked archive
    monkeypatch.setenv("MOOREC_DATA", str(tmp_path / "env"))

    by_path = load("ml-100k", path=explicit, download=False)
    assert len(by_path) == 2 and by_path.name == "ml-100k"
    assert by_path.log[0] == f"ml-100k: found at {explicit} (path argument)"
    # a file of the layout may be given directly too
    assert len(load("ml-100k", path=explicit / "u.data")) == 2

    by_env = load("ml-100k", download=False)
    assert len(by_env) == 4
    assert by_env.log[0] == f"ml-100k: found in {env} ($MOOREC_DATA)"

    monkeypatch.setenv(
        "MOOREC_DATA", os.pathsep.join([str(tmp_path / "none"), str(tmp_path / "env")])
    )
    assert len(load("ml-100k", download=False)) == 4

    monkeypatch.delenv("MOOREC_DATA")
    by_cache = load("ml-100k", download=False)
    assert len(by_cache) == 5
    assert by_cache.log[0] == f"ml-100k: found in {tmp_path / 'cache' / 'ml-100k'} (user cache)"
    assert by_cache.item_features.titles.tolist() == ["Toy Story", "Heat"]


def test_explicit_path_without_the_files(tmp_path):
    with pytest.raises(
        DataNotFoundError,
        match=r"'ml-100k' not found at .*empty: expected one "
        r"of the files ml-100k\.inter, u\.data",
    ):
        (tmp_path / "empty").mkdir()
        load("ml-100k", path=tmp_path / "empty")


def test_not_found_without_download(monkeypatch, tmp_path):
    monkeypatch.setenv("MOOREC_DATA", str(tmp_path / "env"))
    with pytest.raises(
        DataNotFoundError,
        match=r"'ml-1m' not found; searched .*env/ml-1m "
        r"\(\$MOOREC_DATA\); .*cache/ml-1m \(user cache\)"
        r"\. It was not downloaded \(download=False\)",
    ):
        load("ml-1m", download=False)


def test_local_copy_checksum(monkeypatch, tmp_path):
    folder = tmp_path / "env" / "ml-100k"
    folder.mkdir(parents=True)
    (folder / "ml-100k.inter").write_text("user_id:token\titem_id:token\n1\t2\n")
    monkeypatch.setenv("MOOREC_DATA", str(tmp_path / "env"))
    actual = hashlib.sha256((folder / "ml-100k.inter").read_bytes()).hexdigest()
    with pytest.raises(
        ChecksumError,
        match=rf"ml-100k\.inter does not match the registered sha256"
        rf" of 'ml-100k': expected 4edb74e2a811.*, actual "
        rf"{actual}\..*verify=False",
    ):
        load("ml-100k")
    inter = load("ml-100k", verify=False)
    assert len(inter) == 1
    assert "checksums not verified (verify=False)" in inter.log


def test_available(monkeypatch, tmp_path):
    write_ml100k(tmp_path / "env" / "ml-100k")
    monkeypatch.setenv("MOOREC_DATA", str(tmp_path / "env"))
    rows = {r["name"]: r for r in available()}
    assert rows["ml-100k"]["where"] == str(tmp_path / "env" / "ml-100k")
    assert rows["ml-1m"]["where"] == "not found"
    assert rows["ml-1m"]["url"] == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
    assert rows["synthetic-shop"]["where"] == "generated"
    assert [r["name"] for r in available()] == sorted(rows)
    assert locate("ml-100k") == tmp_path / "env" / "ml-100k" / "u.data"
    assert locate("ml-1m") is None


# ------------------------------------------------------------------ downloads
def test_download_file_url_then_cache(tmp_path):
    archive = tmp_path / "toy.zip"
    sha, _ = make_zip(archive, top=None, n_ratings=4)
    register(
        DatasetInfo(
            "toy-ml",
            layouts=(Layout("u.data", lambda p: load_movielens_100k(p.parent, name="toy-ml")),),
            url=archive.as_uri(),
            checksum=f"sha256:{sha}",
        )
    )
    first = load("toy-ml", progress=False)
    assert len(first) == 4 and first.name == "toy-ml"
    assert first.log[0] == f"toy-ml: downloaded {archive.as_uri()}, sha256 verified"
    cache = tmp_path / "cache" / "toy-ml"
    assert first.log[1] == f"toy-ml: unpacked toy.zip into {cache / 'toy'}"
    assert first.log[2] == f"toy-ml: found in {cache} (user cache)"
    # loose files in the archive are unpacked into a folder named after it; nothing else is left
    assert files_under(cache) == ["toy.zip", "toy/u.data", "toy/u.item"]

    archive.unlink()  # a second load must not need the address any more
    second = load("toy-ml")
    assert len(second) == 4
    assert second.log[0] == f"toy-ml: found in {cache} (user cache)"
    assert not any("downloaded" in line for line in second.log)


def test_download_over_http_with_official_layout(server, tmp_path):
    sha, md5 = make_zip(server.folder / "ml-100k.zip", top="ml-100k", n_ratings=6)
    url = f"{server.url}/ml-100k.zip"
    inter = load("ml-100k", url=url, checksum=f"md5:{md5}", progress=False)
    assert server.requests == ["/ml-100k.zip"]
    assert len(inter) == 6 and inter.n_items == 2
    assert inter.item_features.category_names == MOVIELENS_GENRES
    assert f"ml-100k: downloaded {url}, md5 verified" in inter.log
    cache = tmp_path / "cache" / "ml-100k"
    assert files_under(cache) == ["ml-100k.zip", "ml-100k/u.data", "ml-100k/u.item"]

    again = load("ml-100k", url=url, checksum=f"sha256:{sha}")
    assert server.requests == ["/ml-100k.zip"]  # served from the cache
    np.testing.assert_array_equal(again.users, inter.users)


def test_verified_archive_is_reused_when_unpacking_was_lost(tmp_path):
    archive = tmp_path / "ml-100k.zip"
    sha, _ = make_zip(archive)
    load("ml-100k", url=archive.as_uri(), checksum=f"sha256:{sha}")
    cache = tmp_path / "cache" / "ml-100k"
    for f in (cache / "ml-100k").iterdir():
        f.unlink()
    (cache / "ml-100k").rmdir()
    inter = load("ml-100k", url=closed_port_url(), checksum=f"sha256:{sha}")
    assert inter.log[0] == f"ml-100k: reusing verified {cache / 'ml-100k.zip'}"
    assert len(inter) == 3


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    sha, _ = make_zip(server.folder / "ml-100k.zip")
    wrong = "0" * 64
    with pytest.raises(
        ChecksumError,
        match=rf"download of 'ml-100k' from http://127\.0\.0\.1:"
        rf"\d+/ml-100k\.zip has the wrong sha256: expected "
        rf"{wrong}, actual {sha}; the file was deleted",
    ):
        load("ml-100k", url=f"{server.url}/ml-100k.zip", checksum=f"sha256:{wrong}")
    assert files_under(tmp_path / "cache") == []
    # the registered (official) checksum is kept when only the address is overridden
    with pytest.raises(ChecksumError, match=r"expected 0e33842e24a9c977be4e0107933c0723"):
        load("ml-100k", url=f"{server.url}/ml-100k.zip")
    assert files_under(tmp_path / "cache") == []


def test_no_network(tmp_path):
    url = closed_port_url()
    with pytest.raises(
        DownloadError,
        match=rf"could not download 'ml-100k' from {url}: .*"
        rf"Searched first: .*cache/ml-100k \(user cache\)",
    ):
        load("ml-100k", url=url)
    assert files_under(tmp_path / "cache") == []


def test_download_of_a_missing_address(server, tmp_path):
    with pytest.raises(
        DownloadError,
        match=r"could not download 'ml-1m' from .*/nope\.zip: "
        r"HTTP 404 File not found",
    ):
        load("ml-1m", url=f"{server.url}/nope.zip")
    assert files_under(tmp_path / "cache") == []


def test_interrupted_download_leaves_nothing(tmp_path):
    class Truncating(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"PK" * 100)  # then the connection closes early

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Truncating)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-100k.zip"
        with pytest.raises(
            DownloadError,
            match=r"could not download 'ml-100k' from .*"
            r"IncompleteRead",
        ):
            load("ml-100k", url=url)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert files_under(tmp_path / "cache") == []


def test_download_without_checksum_warns(tmp_path):
    path = tmp_path / "events.txt"
    path.write_text("1 2\n1 3\n")
    register(
        DatasetInfo(
            "events",
            layouts=(Layout("events.txt", lambda p: datasets_table(p)),),
            url=path.as_uri(),
        )
    )
    with pytest.warns(UserWarning, match=r"no checksum registered for 'events'"):
        inter = load("events")
    assert len(inter) == 2
    assert "no checksum to verify" in inter.log[0]


def datasets_table(path):
    from moorec.data.loaders import load_table

    return load_table(path, header=False)


# ------------------------------------------------------------------ generated data sets
def test_generated_entry():
    inter = load("synthetic-shop", n_users=30, n_items=40, n_interactions=300, seed=3)
    assert inter.name == "synthetic-shop" and inter.n_users == 30
    assert inter.log[0] == "synthetic-shop: generated by moorec.data.synthetic.synthetic_shop"
    with pytest.raises(ConfigError, match=r"'synthetic-shop' is generated; it takes no path"):
        load("synthetic-shop", path="x")
    with pytest.raises(
        ConfigError,
        match=r"options \['n_users'\] apply only to generated data "
        r"sets \(synthetic-shop\)",
    ):
        load("ml-100k", n_users=3)


# ------------------------------------------------------------------ real data
@pytest.mark.realdata
def test_real_ml100k_via_registry(data_root, monkeypatch):
    monkeypatch.setenv("MOOREC_DATA", str(data_root))
    inter = load("ml-100k", download=False)
    assert (inter.n_users, inter.n_items, len(inter)) == (943, 1682, 100_000)
    assert inter.ratings.min() == 1 and inter.ratings.max() == 5
    first = (
        inter.user_ids[inter.users[0]],
        inter.item_ids[inter.items[0]],
        inter.ratings[0],
        inter.timestamps[0],
    )
    assert first == (196, 242, 3, 881250949)
    assert inter.item_features.category_names == MOVIELENS_GENRES
    assert inter.log[0] == f"ml-100k: found in {data_root / 'ml-100k'} ($MOOREC_DATA)"
    assert inter.log[1] == (
        "verified checksums of ml-100k.inter (sha256), ml-100k.item (sha256), ml-100k.user (sha256)"
    )


@pytest.mark.realdata
def test_real_video_games_via_registry(data_root, monkeypatch):
    monkeypatch.setenv("MOOREC_DATA", str(data_root))
    inter = load("amazon-video-games", download=False)
    assert (inter.n_users, inter.n_items, len(inter)) == (31_013, 23_715, 287_107)
    assert inter.ratings is None
    assert "verified checksums of Video.txt (sha256)" in inter.log
    assert any("timestamps set to the 0-based row position" in line for line in inter.log)


def test_load_or_synthetic_finds_the_data_set_or_says_it_falls_back(tmp_path, monkeypatch, capsys):
    small = registry.load_or_synthetic("ml-100k", synthetic=True)
    assert (small.n_users, small.name) == (300, "synthetic-shop")  # registry.SMALL_SHOP
    assert capsys.readouterr().out == ""
    fallback = registry.load_or_synthetic("ml-100k")  # nowhere here, and never downloaded
    said = capsys.readouterr().out
    assert said.startswith("ml-100k not available (")
    assert said.endswith("; using the synthetic shop\n")
    assert fallback.n_users == 2000  # the generator's default size
    assert not (tmp_path / "cache" / "ml-100k").exists()
    write_ml100k(tmp_path / "env" / "ml-100k", n_ratings=4)
    monkeypatch.setenv("MOOREC_DATA", str(tmp_path / "env"))
    found = registry.load_or_synthetic("ml-100k")
    assert found.name == "ml-100k" and len(found) == 4 and capsys.readouterr().out == ""
