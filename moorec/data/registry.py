"""Named data sets: where to find them, how to download and verify them, how to read them.

:func:`load` looks for a data set in this order and uses the first place that has it:

1. the ``path`` argument (a folder, or one of the data set's files);
2. ``$MOOREC_DATA/<name>/`` (``MOOREC_DATA`` may list several folders, separated by ``:``);
3. the user cache ``<cache>/<name>/``, where ``<cache>`` is the ``cache_dir`` argument, else
   ``$MOOREC_CACHE``, else ``$XDG_CACHE_HOME/moorec``, else ``~/.cache/moorec``;
4. a download from the data set's official address into the user cache.

In each folder (and its immediate subfolders, so an unpacked archive with a top-level folder is
found) the entry's :class:`Layout` s are tried in order: a layout is a marker file (e.g.
``u.data`` or ``ml-100k.inter``) plus the loader that reads it. Files with published checksums
are verified when loaded (``verify=True``). Downloads stream to a temporary file in the cache
folder, are verified against the registered checksum and only then renamed into place; archives
are unpacked into a temporary folder that is renamed into place when complete. An interrupted or
corrupt download therefore never leaves a file that looks complete.

Generated data sets (``synthetic-shop``) are built on the fly and never downloaded.

:func:`load_source` is what ``moorec train --dataset`` calls: a registered name as above, or
else a path to your own file or folder (:func:`~moorec.data.loaders.load_path`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

from moorec.data.clean import implicit
from moorec.data.interactions import Interactions
from moorec.data.loaders import (
    _attach_categories,
    _check_categories_options,
    _check_splittable,
    load_atomic,
    load_categories,
    load_movielens_1m,
    load_movielens_100k,
    load_path,
    load_table,
)
from moorec.data.synthetic import synthetic_shop
from moorec.errors import (
    ChecksumError,
    ConfigError,
    DataNotFoundError,
    DownloadError,
    UnknownNameError,
)

__all__ = [
    "DatasetInfo",
    "Layout",
    "available",
    "cache_root",
    "dataset_info",
    "load",
    "load_or_synthetic",
    "load_source",
    "locate",
    "names",
    "register",
    "unregister",
]

_HASHES = {"sha256": 64, "md5": 32}
_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class Layout:
    """One way a data set can lie in a folder.

    Attributes:
        marker: file name whose presence identifies the layout (``"u.data"``).
        loader: reads the data set; called with the marker file's path, returns Interactions.
        checksums: ``{file name: "sha256:<hex>" | "md5:<hex>"}`` for files next to the marker
            that are verified before loading when ``verify=True`` (files that are absent are
            skipped; the loader decides whether it needs them).
    """

    marker: str
    loader: Callable[[Path], Interactions]
    checksums: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not self.marker or Path(self.marker).name != self.marker:
            raise ConfigError(f"Layout marker must be a plain file name, got {self.marker!r}")
        for file, value in self.checksums.items():
            _parse_checksum(value, f"checksum of {file}")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """A registry entry.

    Attributes:
        name: the name given to :func:`load` (``"ml-100k"``).
        description: one line about the data.
        layouts: how the files may look on disk, tried in order.
        url: official download address (a ``.zip`` is unpacked), or ``None``. ``file://`` URLs
            work too.
        checksum: ``"sha256:<hex>"`` or ``"md5:<hex>"`` of the file at ``url``; a download is
            rejected when it does not match. ``None`` downloads without a check (with a warning).
        generator: for generated data sets, a function returning Interactions (keyword
            arguments of :func:`load` are passed to it); ``layouts`` and ``url`` stay empty.
        citation: where the data come from, to cite.
    """

    name: str
    description: str = ""
    layouts: tuple[Layout, ...] = ()
    url: str | None = None
    checksum: str | None = None
    generator: Callable[..., Interactions] | None = None
    citation: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9][\w.\-]*", self.name):
            raise ConfigError(
                f"data set name must be letters, digits, '-', '_' or '.', got {self.name!r}"
            )
        object.__setattr__(self, "layouts", tuple(self.layouts))
        if self.generator is None and not self.layouts:
            raise ConfigError(f"data set {self.name!r} needs layouts (or a generator)")
        if self.generator is not None and (self.layouts or self.url):
            raise ConfigError(f"generated data set {self.name!r} takes no layouts or url")
        if self.checksum is not None:
            _parse_checksum(self.checksum, f"checksum of {self.name!r}")

    @property
    def generated(self) -> bool:
        """Whether the data set is generated rather than read from files."""
        return self.generator is not None


# ---------------------------------------------------------------------------------------------
# Built-in entries
# ---------------------------------------------------------------------------------------------
def _load_video_games(path: Path) -> Interactions:
    return load_table(
        path, {"user": 0, "item": 1}, sep=" ", header=False, name="amazon-video-games"
    )


_REGISTRY: dict[str, DatasetInfo] = {}


def _builtin() -> list[DatasetInfo]:
    return [
        DatasetInfo(
            name="ml-100k",
            description="MovieLens 100K: 100,000 ratings (1-5) of 1,682 movies by 943 users, "
            "19 genres",
            layouts=(
                Layout(
                    "ml-100k.inter",
                    load_atomic,
                    # sha256 of RecBole's atomic files of MovieLens 100K (ml-100k.inter/.item/.user)
                    checksums={
                        "ml-100k.inter": "sha256:"
                        "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
                        "ml-100k.item": "sha256:"
                        "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
                        "ml-100k.user": "sha256:"
                        "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
                    },
                ),
                Layout("u.data", lambda p: load_movielens_100k(p.parent)),
            ),
            url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            # GroupLens publishes only an MD5 for its archives, in the sidecar file
            # https://files.grouplens.org/datasets/movielens/ml-100k.zip.md5; the same value is
            # listed by other loaders, e.g. torchtext's MovieLens100K and
            # eli-osherovich/papers_with_code datasets/movielens/dl_config.py.
            checksum="md5:0e33842e24a9c977be4e0107933c0723",
            citation="F. M. Harper and J. A. Konstan. The MovieLens Datasets: History and "
            "Context. ACM TiiS 5(4), 2015. https://grouplens.org/datasets/movielens/100k/",
        ),
        DatasetInfo(
            name="ml-1m",
            description="MovieLens 1M: 1,000,209 ratings (1-5) of 3,706 movies by 6,040 users, "
            "18 genres",
            layouts=(
                Layout("ml-1m.inter", load_atomic),
                Layout("ratings.dat", lambda p: load_movielens_1m(p.parent)),
            ),
            url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
            # MD5 from GroupLens' sidecar https://files.grouplens.org/datasets/movielens/ml-1m.zip.md5
            # (also in eli-osherovich/papers_with_code datasets/movielens/dl_config.py).
            checksum="md5:c4d9eecfca2ab87c1945afe126590906",
            citation="F. M. Harper and J. A. Konstan. The MovieLens Datasets: History and "
            "Context. ACM TiiS 5(4), 2015. https://grouplens.org/datasets/movielens/1m/",
        ),
        DatasetInfo(
            name="amazon-video-games",
            description="Amazon Video Games reviews as preprocessed for SASRec (reviews of "
            "users and items with at least 5 reviews in the raw data, one pass, so not a strict "
            "5-core): 287,107 implicit interactions, 31,013 users, 23,715 items, time-ordered "
            "per user",
            layouts=(
                Layout(
                    "Video.txt",
                    _load_video_games,
                    # sha256 of data/Video.txt in github.com/kang205/SASRec (master)
                    checksums={
                        "Video.txt": "sha256:"
                        "b7376fe24430743f411dc7f567285657b2adb3f74361cc7ba0aee94f3024b651"
                    },
                ),
                Layout("amazon-video-games.inter", load_atomic),
            ),
            url="https://raw.githubusercontent.com/kang205/SASRec/master/data/Video.txt",
            checksum="sha256:b7376fe24430743f411dc7f567285657b2adb3f74361cc7ba0aee94f3024b651",
            citation="W.-C. Kang and J. McAuley. Self-Attentive Sequential Recommendation. "
            "ICDM 2018; from the reviews of J. McAuley, C. Targett, Q. Shi and A. van den Hengel. "
            "Image-based Recommendations on Styles and Substitutes. SIGIR 2015.",
        ),
        DatasetInfo(
            name="synthetic-shop",
            description="generated shop: users with category preferences, Zipf-popular items "
            "with category, price and title (moorec.data.synthetic.synthetic_shop)",
            generator=synthetic_shop,
            citation="generated by moorec",
        ),
    ]


def register(info: DatasetInfo, *, overwrite: bool = False) -> DatasetInfo:
    """Add a data set to the registry, so that :func:`load` and :func:`available` know it.

    Args:
        info: the entry.
        overwrite: replace an entry of the same name (e.g. to point a built-in entry at a mirror
            with ``dataclasses.replace(dataset_info("ml-1m"), url=...)``).

    Returns:
        ``info``.

    Raises:
        ConfigError: if the name is taken and ``overwrite`` is false.

    Example:
        >>> register(DatasetInfo(  # doctest: +SKIP
        ...     "my-shop",
        ...     layouts=(Layout("events.csv", lambda p: load_table(p, {"user": "uid",
        ...                                                           "item": "sku"})),),
        ...     url="https://example.org/events.csv", checksum="sha256:..."))
    """
    if not isinstance(info, DatasetInfo):
        raise ConfigError(f"register() takes a DatasetInfo, got {type(info).__name__}")
    if info.name in _REGISTRY and not overwrite:
        raise ConfigError(
            f"data set {info.name!r} is already registered; pass overwrite=True to replace it"
        )
    _REGISTRY[info.name] = info
    return info


def unregister(name: str) -> None:
    """Remove a data set from the registry.

    Raises:
        UnknownNameError: if ``name`` is not registered.
    """
    dataset_info(name)
    del _REGISTRY[name]


def names() -> tuple[str, ...]:
    """The registered data set names, sorted."""
    return tuple(sorted(_REGISTRY))


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``.

    Raises:
        UnknownNameError: if ``name`` is not registered (the message lists the known names).
    """
    if name not in _REGISTRY:
        raise UnknownNameError("data set", name, _REGISTRY)
    return _REGISTRY[name]


# ---------------------------------------------------------------------------------------------
# Where data sets lie
# ---------------------------------------------------------------------------------------------
def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The folder under which downloads are kept, one subfolder per data set.

    ``cache_dir`` if given, else ``$MOOREC_CACHE``, else ``$XDG_CACHE_HOME/moorec``, else
    ``~/.cache/moorec``.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("MOOREC_CACHE"):
        return Path(os.environ["MOOREC_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "moorec"
    return Path.home() / ".cache" / "moorec"


def _places(name: str, cache_dir) -> list[tuple[str, Path]]:
    """``(label, folder)`` searched for ``name`` after an explicit path, in order."""
    places = []
    for root in os.environ.get("MOOREC_DATA", "").split(os.pathsep):
        if root:
            places.append(("$MOOREC_DATA", Path(root).expanduser() / name))
    places.append(("user cache", cache_root(cache_dir) / name))
    return places


def _match(info: DatasetInfo, where: Path) -> tuple[Layout, Path] | None:
    """The first layout of ``info`` found at ``where`` (a folder or a marker file)."""
    if where.is_file():
        for layout in info.layouts:
            if where.name == layout.marker:
                return layout, where
        return None
    if not where.is_dir():
        return None
    subfolders = sorted(p for p in where.iterdir() if p.is_dir() and not p.name.startswith("."))
    for layout in info.layouts:
        for folder in (where, *subfolders):
            if (folder / layout.marker).is_file():
                return layout, folder / layout.marker
    return None


def locate(
    name: str, path: str | Path | None = None, *, cache_dir: str | Path | None = None
) -> Path | None:
    """Where :func:`load` would read ``name`` from, without downloading.

    Returns:
        The marker file found first in the lookup order, or ``None`` (also for generated sets).

    Raises:
        UnknownNameError: if ``name`` is not registered.
    """
    info = dataset_info(name)
    if info.generated:
        return None
    wheres = [Path(path).expanduser()] if path is not None else []
    wheres += [folder for _, folder in _places(name, cache_dir)]
    for where in wheres:
        if (hit := _match(info, where)) is not None:
            return hit[1]
    return None


def available(*, cache_dir: str | Path | None = None) -> list[dict[str, str]]:
    """Where each registered data set would be loaded from, without downloading anything.

    Returns:
        One ``dict`` per data set, in name order, with keys ``"name"``, ``"where"`` (the folder
        holding the files, ``"generated"`` for generated data sets, or ``"not found"``: then
        :func:`load` would download it from ``"url"``), ``"description"`` and ``"url"``
        (``""`` when there is none).
    """
    rows = []
    for name in names():
        info = dataset_info(name)
        if info.generated:
            where = "generated"
        else:
            hit = locate(name, cache_dir=cache_dir)
            where = "not found" if hit is None else str(hit.parent)
        rows.append(
            {"name": name, "where": where, "description": info.description, "url": info.url or ""}
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def load(
    name: str,
    path: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    download: bool = True,
    verify: bool = True,
    url: str | None = None,
    checksum: str | None = None,
    progress: bool | None = None,
    **options,
) -> Interactions:
    """Load a registered data set by name.

    Args:
        name: a registered name, e.g. ``"ml-100k"``, ``"ml-1m"``, ``"amazon-video-games"``,
            ``"synthetic-shop"`` (see :func:`names`).
        path: a folder holding the files, or one of the files; when given, only this place is
            searched.
        cache_dir: root of the download cache (default: see :func:`cache_root`).
        download: download into the cache when the data set is not found locally.
        verify: check files that have registered checksums before reading them.
        url: download from this address instead of the registered one (a mirror; ``file://``
            works). The registered checksum still applies unless ``checksum`` is given.
        checksum: ``"sha256:<hex>"`` or ``"md5:<hex>"`` expected for the download.
        progress: show a download progress bar; ``None`` shows it when stderr is a terminal.
        **options: for generated data sets, keyword arguments of the generator (e.g.
            ``n_users=...`` for ``synthetic-shop``).

    Returns:
        Interactions named ``name``; the first lines of its ``log`` say where the data came
        from and what was verified.

    Raises:
        UnknownNameError: if ``name`` is not registered.
        DataNotFoundError: if the data set is not at ``path``, or is found nowhere and
            ``download`` is false or the entry has no URL (the message lists the places).
        DownloadError: if the download fails (the message names the URL and the places
            searched).
        ChecksumError: if a downloaded or local file does not match its checksum (the message
            gives the expected and the actual value; a bad download is deleted).
        ConfigError: if ``options`` are given for a data set that is not generated.
    """
    info = dataset_info(name)
    if info.generated:
        if path is not None:
            raise ConfigError(f"data set {name!r} is generated; it takes no path (got {path!r})")
        inter = info.generator(**options)
        return dataclasses.replace(
            inter, name=name, log=(f"{name}: generated by {_qualname(info.generator)}", *inter.log)
        )
    if options:
        raise ConfigError(
            f"data set {name!r} is read from files; options {sorted(options)} apply only to "
            f"generated data sets ({', '.join(n for n in names() if _REGISTRY[n].generated)})"
        )
    if path is not None:
        where = Path(path).expanduser()
        hit = _match(info, where)
        if hit is None:
            raise DataNotFoundError(
                f"data set {name!r} not found at {where}: expected one of the files "
                f"{_markers(info)} there (or in a subfolder)"
            )
        return _read(info, *hit, f"found at {where} (path argument)", verify, [])
    places = _places(name, cache_dir)
    for label, folder in places:
        if (hit := _match(info, folder)) is not None:
            return _read(info, *hit, f"found in {folder} ({label})", verify, [])
    searched = "; ".join(f"{folder} ({label})" for label, folder in places)
    url = url or info.url
    if url is None or not download:
        why = "download=False" if url is not None else "it has no download address"
        raise DataNotFoundError(
            f"data set {name!r} not found; searched {searched}. It was not downloaded ({why}). "
            f"Put its files ({_markers(info)}) in one of those folders, set MOOREC_DATA to a "
            f"folder holding {name}/, or pass path=..."
        )
    dest = cache_root(cache_dir) / name
    log = _fetch(info, url, checksum or info.checksum, dest, progress, searched)
    hit = _match(info, dest)
    if hit is None:
        raise DownloadError(
            f"downloaded {url} into {dest}, but it holds none of the files {_markers(info)}"
        )
    return _read(info, *hit, f"found in {dest} (user cache)", verify, log)


#: The synthetic shop of a quick check (examples' ``--synthetic``, smoke tests).
SMALL_SHOP = {"n_users": 300, "n_items": 200, "n_interactions": 6000}


def load_or_synthetic(
    name: str = "ml-100k", *, synthetic: bool = False, shop: dict | None = None, seed: int = 0
) -> Interactions:
    """A named data set where it lies here, else the synthetic shop (what the examples run on).

    Args:
        name: a registered data set, found through ``$MOOREC_DATA`` or the cache; never
            downloaded here.
        synthetic: skip the search and return the synthetic shop with ``shop``'s options.
        shop: options of :func:`~moorec.data.synthetic.synthetic_shop` for ``synthetic=True``
            (default :data:`SMALL_SHOP`); a fallback shop has the generator's default size.
        seed: seed of the synthetic shop.

    Returns:
        The interactions. When ``name`` is not found, one line saying so is printed and the
        synthetic shop is returned.
    """
    from moorec.data.synthetic import synthetic_shop
    from moorec.errors import MoorecError

    if synthetic:
        return synthetic_shop(**(SMALL_SHOP if shop is None else shop), seed=seed)
    try:
        return load(name, download=False)
    except MoorecError as err:
        print(f"{name} not available ({err}); using the synthetic shop")
        return synthetic_shop(seed=seed)


def load_source(
    source: str | Path,
    path: str | Path | None = None,
    *,
    columns: Mapping[str, str | int | None] | None = None,
    sep: str | None = None,
    header: bool = True,
    categories: str | Path | None = None,
    category_columns: Mapping[str, str | int] | None = None,
    category_sep: str | None = "|",
    threshold: float | None = None,
) -> Interactions:
    """Load a registered data set by name, or your own data from a file or folder.

    A registered name (:func:`names`) is loaded with :func:`load` (``path`` as there); any other
    ``source`` must be an existing file or folder, read by
    :func:`~moorec.data.loaders.load_path` (RecBole atomic, MovieLens raw, CSV/TSV/Parquet).
    A name wins over a folder of the same name in the working directory (write ``./ml-100k``
    for the folder).

    Args:
        source: a registered name or a path.
        path: for a registered name, where its files are (see :func:`load`).
        columns: role -> column of a table file (see :func:`~moorec.data.loaders.load_table`).
        sep: field separator of a table file (and of ``categories``); ``None`` guesses.
        header: whether a table file's first line names its columns.
        categories: a table of item categories (:func:`~moorec.data.loaders.load_categories`);
            they replace the data's own categories.
        category_columns: ``{"item": ..., "category": ...}`` of ``categories``.
        category_sep: separator of several categories in one field.
        threshold: keep interactions rated ``>= threshold`` and drop the ratings
            (:func:`~moorec.data.clean.implicit`); ``None`` keeps every interaction.

    Returns:
        Interactions with at least 2 users and 2 items.

    Raises:
        UnknownNameError: if ``source`` is neither a registered name nor an existing path (the
            message lists the names); DataNotFoundError if it looks like a path.
        ConfigError: for table options with a registered name, or ``path`` with a file source.
        EmptyDataError: if no rating reaches ``threshold`` (the message names it).
        DataError: for a malformed file, or data with fewer than 2 users or 2 items.
    """
    source = str(source)
    if source in _REGISTRY:
        given = [opt for opt, on in (("columns", columns is not None), ("sep", sep is not None),
                                     ("header=False", not header)) if on]  # fmt: skip
        if given:
            raise ConfigError(
                f"the option(s) {', '.join(given)} are only for your own table files; "
                f"{source!r} is a registered data set read in its own format"
            )
        _check_categories_options(categories, category_columns)
        inter = load(source, path=path)
        if categories is not None:
            item_ids, features = load_categories(
                categories, category_columns, category_sep=category_sep
            )
            inter = _attach_categories(inter, Path(categories), item_ids, features)
    else:
        where = Path(source).expanduser()
        if not where.exists():
            if os.sep in source or "/" in source or where.suffix or source.startswith((".", "~")):
                raise DataNotFoundError(
                    f"no such file or folder: {source} (a data set is a registered name, "
                    f"{', '.join(names())}, or the path of a file or folder)"
                )
            raise UnknownNameError("data set (or path of a file or folder)", source, _REGISTRY)
        if path is not None:
            raise ConfigError(
                f"path={str(path)!r} applies to a registered data set name; {source!r} is "
                "already a path"
            )
        inter = load_path(
            where,
            columns,
            sep=sep,
            header=header,
            categories=categories,
            category_columns=category_columns,
            category_sep=category_sep,
        )
    if threshold is not None:
        inter = implicit(inter, threshold)
    _check_splittable(inter, source)
    return inter


def _read(
    info: DatasetInfo, layout: Layout, marker: Path, where: str, verify: bool, log: list[str]
) -> Interactions:
    log = [*log, f"{info.name}: {where}"]
    if verify and layout.checksums:
        checked = []
        for file, expected in layout.checksums.items():
            target = marker.parent / file
            if target.is_file():
                algo, want = _parse_checksum(expected, file)
                got = _digest(target, algo)
                if got != want:
                    raise ChecksumError(
                        f"{target} does not match the registered {algo} of {info.name!r}: "
                        f"expected {want}, actual {got}. The copy differs from the published "
                        "one: replace it with the published file, or delete it and rerun "
                        "without --data-path (Python: path=) so that moorec downloads a checked "
                        "copy into its cache; in Python, load(..., verify=False) reads it unchecked"
                    )
                checked.append(f"{file} ({algo})")
        if checked:
            log.append(f"verified checksums of {', '.join(checked)}")
    elif not verify and layout.checksums:
        log.append("checksums not verified (verify=False)")
    inter = layout.loader(marker)
    return dataclasses.replace(inter, name=info.name, log=(*log, *inter.log))


def _fetch(
    info: DatasetInfo, url: str, checksum: str | None, dest: Path, progress, searched: str
) -> list[str]:
    """Download ``url`` into ``dest`` (verified, atomic) and unpack it if it is a zip."""
    dest.mkdir(parents=True, exist_ok=True)
    filename = Path(urllib.parse.urlparse(url).path).name or info.name
    target = dest / filename
    log = []
    algo, want = _parse_checksum(checksum, "checksum") if checksum else ("sha256", None)
    if target.is_file() and want is not None and _digest(target, algo) == want:
        log.append(f"{info.name}: reusing verified {target}")
    else:
        target.unlink(missing_ok=True)
        got = _download(url, target, algo, want, info.name, progress, searched)
        if want is None:
            warnings.warn(
                f"no checksum registered for {info.name!r}: {url} was not verified",
                stacklevel=3,
            )
            log.append(f"{info.name}: downloaded {url} ({algo} {got}; no checksum to verify)")
        else:
            log.append(f"{info.name}: downloaded {url}, {algo} verified")
    if zipfile.is_zipfile(target):
        log.append(f"{info.name}: unpacked {target.name} into {_unzip(target, dest)}")
    return log


def _download(
    url: str, target: Path, algo: str, want: str | None, label: str, progress, searched: str
) -> str:
    """Stream ``url`` to a temporary file; if its digest is ``want``, rename it to ``target``.

    Returns the digest. Nothing is left behind on failure.
    """
    from tqdm.auto import tqdm

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    digest = hashlib.new(algo)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    size = response.headers.get("Content-Length")
                    with tqdm(
                        total=int(size) if size else None, unit="B", unit_scale=True,
                        desc=f"downloading {label}",
                        disable=None if progress is None else not progress,
                    ) as bar:  # fmt: skip
                        received = 0
                        while chunk := response.read(_CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            bar.update(len(chunk))
                            received += len(chunk)
                if size and received != int(size):
                    raise http.client.IncompleteRead(b"", int(size) - received)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
                if isinstance(e, urllib.error.HTTPError):
                    reason = f"HTTP {e.code} {e.reason}"
                else:
                    reason = getattr(e, "reason", None) or repr(e)
                raise DownloadError(
                    f"could not download {label!r} from {url}: {reason}. Searched first: "
                    f"{searched}. To use a copy you already have, put its files in one of "
                    "those folders, set MOOREC_DATA, or pass path=..."
                ) from e
        got = digest.hexdigest()
        if want is not None and got != want:
            raise ChecksumError(
                f"download of {label!r} from {url} has the wrong {algo}: expected {want}, "
                f"actual {got}; the file was deleted. Retry, or check the address"
            )
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return got


def _unzip(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` into ``dest`` through a temporary folder renamed when complete."""
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except (zipfile.BadZipFile, OSError) as e:
            raise DownloadError(f"could not unpack {archive}: {e}") from e
        entries = [p for p in tmp.iterdir() if p.name != "__MACOSX"]
        if len(entries) == 1 and entries[0].is_dir():
            source, final = entries[0], dest / entries[0].name
        else:
            source, final = tmp, dest / archive.stem
        if final.exists():
            shutil.rmtree(final)
        os.rename(source, final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _parse_checksum(value: str, what: str) -> tuple[str, str]:
    algo, _, hexdigest = str(value).partition(":")
    if algo not in _HASHES or not re.fullmatch(rf"[0-9a-f]{{{_HASHES.get(algo, 0)}}}", hexdigest):
        raise ConfigError(
            f"{what} must be 'sha256:<64 hex digits>' or 'md5:<32 hex digits>', got {value!r}"
        )
    return algo, hexdigest


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _markers(info: DatasetInfo) -> str:
    return ", ".join(layout.marker for layout in info.layouts)


def _qualname(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


for _info in _builtin():
    register(_info)
