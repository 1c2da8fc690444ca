"""Tests of moorec.data.synthetic.synthetic_shop."""

from __future__ import annotations

import numpy as np
import pytest

from moorec.data.synthetic import CATEGORY_WORDS, synthetic_shop
from moorec.errors import ConfigError

SMALL = {"n_users": 300, "n_items": 200, "n_interactions": 6_000, "n_categories": 6}


@pytest.fixture(scope="module")
def shop():
    return synthetic_shop()


def arrays(inter):
    return (
        inter.users,
        inter.items,
        inter.timestamps,
        inter.item_ids,
        inter.item_features.price,
        inter.item_features.categories,
    )


def test_defaults(shop):
    assert shop.name == "synthetic-shop"
    assert (shop.n_users, shop.n_items) == (2_000, 1_000)
    # the 50,000 draws lose only the few repeated pairs that could not be redrawn
    assert 49_900 <= len(shop) <= 50_000
    assert shop.ratings is None
    assert shop.users.dtype == np.int32 and shop.items.dtype == np.int32
    assert shop.timestamps.dtype == np.float64
    assert shop.user_counts().min() >= 5
    assert "synthetic_shop(n_users=2000, n_items=1000, n_interactions=50000" in shop.log[0]


def test_no_repeated_pairs(shop):
    keys = shop.users.astype(np.int64) * shop.n_items + shop.items
    assert len(np.unique(keys)) == len(keys)


def test_time_order(shop):
    assert np.all(np.diff(shop.users) >= 0)  # rows grouped by user
    same_user = np.diff(shop.users) == 0
    assert np.all(np.diff(shop.timestamps)[same_user] > 0)
    start = 1_577_836_800.0
    assert shop.timestamps.min() >= start
    assert shop.timestamps.max() <= start + 365 * 86_400


def test_item_features(shop):
    feats = shop.item_features
    assert feats.category_names == tuple(name for name, _ in CATEGORY_WORDS[:10])
    n_cats = feats.categories.sum(axis=1)
    assert n_cats.min() == 1 and n_cats.max() == 2
    assert 0.05 < np.mean(n_cats == 2) < 0.3  # secondary_rate = 0.15
    assert feats.price.dtype == np.float32 and feats.price.min() >= 0.5
    words = dict(CATEGORY_WORDS)
    for title, cats in zip(feats.titles[:50], feats.categories[:50], strict=True):
        adjective_noun_model = title.split(" ")
        assert len(adjective_noun_model) >= 3
        nouns = [n for j in np.flatnonzero(cats) for n in words[feats.category_names[j]]]
        assert any(noun in title for noun in nouns), title


def test_popularity_is_long_tailed(shop):
    counts = np.sort(shop.item_counts())[::-1]
    top_share = counts[: len(counts) // 10].sum() / counts.sum()
    assert top_share > 0.3  # the top 10% of items take well over 10% of the interactions


def test_same_seed_same_data_and_chunking_does_not_matter():
    a = synthetic_shop(**SMALL, seed=5)
    b = synthetic_shop(**SMALL, seed=5)
    c = synthetic_shop(**SMALL, seed=5, chunk_size=7)
    for x, y, z in zip(arrays(a), arrays(b), arrays(c), strict=True):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    assert a.item_features.titles.tolist() == c.item_features.titles.tolist()


def test_different_seed_different_data():
    a = synthetic_shop(**SMALL, seed=1)
    b = synthetic_shop(**SMALL, seed=2)
    assert not np.array_equal(a.items[:100], b.items[:100])
    assert a.item_features.titles.tolist() != b.item_features.titles.tolist()


def recall_at_10(scores, train, test):
    scores = np.where(train > 0, -np.inf, scores)
    top = np.argpartition(-scores, 10, axis=1)[:, :10]
    hits = np.take_along_axis(test, top, axis=1).sum(axis=1)
    n = test.sum(axis=1)
    return float(np.mean(hits[n > 0] / np.minimum(n[n > 0], 10)))


def test_structure_is_learnable(shop):
    """A recommender fit on training rows (the user's category profile x item popularity)
    beats global popularity by a wide margin on held-out rows."""
    held_out = np.random.default_rng(0).random(len(shop)) < 0.2
    train = np.zeros((shop.n_users, shop.n_items))
    train[shop.users[~held_out], shop.items[~held_out]] = 1
    test = np.zeros_like(train)
    test[shop.users[held_out], shop.items[held_out]] = 1
    popularity = train.sum(axis=0)
    cats = shop.item_features.categories.astype(float)
    profile = train @ cats
    profile /= profile.sum(axis=1, keepdims=True)
    pop_recall = recall_at_10(np.broadcast_to(popularity, train.shape), train, test)
    personal_recall = recall_at_10((profile @ cats.T) * popularity, train, test)
    assert personal_recall > 2 * pop_recall


def test_many_categories_get_generic_names():
    inter = synthetic_shop(n_users=50, n_items=60, n_interactions=500, n_categories=22)
    assert inter.item_features.category_names[-2:] == ("category-21", "category-22")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"n_users": 100, "n_interactions": 400},
            r"n_interactions \(400\) must be at least min_per_user \* n_users \(5 \* 100 = 500\)",
        ),
        ({"n_items": 5, "n_categories": 6}, r"n_categories \(6\) must not exceed n_items \(5\)"),
        (
            {"n_users": 10, "n_items": 20, "n_interactions": 150},
            r"n_interactions \(150\) must be at most half of n_users \* n_items \(100\)",
        ),
        ({"concentration": 0.0}, r"concentration must be a positive number, got 0.0"),
        ({"secondary_rate": 1.5}, r"secondary_rate must lie in \[0, 1\], got 1.5"),
        ({"n_users": 0}, r"n_users must be a positive integer \(> 0\), got 0"),
        ({"popularity_exponent": -1.0}, r"popularity_exponent must be >= 0, got -1.0"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        synthetic_shop(**kwargs)
