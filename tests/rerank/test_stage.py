"""The Reranker stage: settings and their checks, side information on a hand-computed case,
item embeddings of every registered model, and apply() against moorec.rerank.rerank."""

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest
from _fakes import SMALL_ZOO
from flax import nnx

import moorec.rerank as rr
from moorec.data import Interactions, ItemFeatures
from moorec.errors import ConfigError, UnknownNameError
from moorec.models import Recommender, create
from moorec.rerank import Reranker, RerankInputs, as_reranker, item_embeddings

# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------


def test_defaults_and_settings_round_trip():
    r = Reranker("mmr")
    assert r.settings() == {
        "method": "mmr",
        "weight": 0.5,
        "candidates": 100,
        "similarity": "jaccard",
        "variant": "binary",
        "head_share": 0.2,
    }
    s = Reranker("xquad", weight=0.25, candidates=40, variant="smooth", head_share=0.1)
    assert Reranker.from_settings(json.loads(json.dumps(s.settings()))) == s
    assert r.active and not Reranker("none").active


def test_values_are_normalised():
    r = Reranker("dpp", weight=1, candidates=50.0, head_share=np.float32(0.5))
    assert r.weight == 1.0 and isinstance(r.weight, float)
    assert r.candidates == 50 and isinstance(r.candidates, int)
    assert r.head_share == 0.5 and isinstance(r.head_share, float)


def test_what_each_method_reads():
    assert Reranker("mmr").needs_categories and not Reranker("mmr").needs_embeddings
    emb = Reranker("dpp", similarity="embedding")
    assert emb.needs_embeddings and not emb.needs_categories
    assert Reranker("calibration").needs_categories and Reranker("calibration").needs_history
    xq = Reranker("xquad")
    assert xq.needs_history and not xq.needs_categories and not xq.needs_embeddings


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(
        UnknownNameError,
        match=r"unknown re-ranker 'mmx'; valid choices: calibration, dpp, mmr, none, xquad",
    ):
        Reranker("mmx")
    with pytest.raises(UnknownNameError, match=r"similarity 'dot'; valid choices: cosine"):
        Reranker("mmr", similarity="dot")
    with pytest.raises(UnknownNameError, match=r"variant 'soft'; valid choices: binary, smooth"):
        Reranker("xquad", variant="soft")


@pytest.mark.parametrize("weight", [-0.1, 1.5, math.nan, math.inf, True, "0.5"])
def test_a_weight_outside_the_unit_interval_is_refused(weight):
    with pytest.raises(ConfigError, match=r"weight must be a number in \[0, 1\], got"):
        Reranker("mmr", weight=weight)


def test_bad_candidates_and_head_share_are_refused():
    for n in (0, -3, 2.5, True, "10"):
        with pytest.raises(ConfigError, match=r"candidates must be a positive integer"):
            Reranker("mmr", candidates=n)
    with pytest.raises(ConfigError, match=r"head_share must be a number in \[0, 1\], got 1.2"):
        Reranker("xquad", head_share=1.2)


def test_from_settings_refuses_unknown_keys_and_needs_a_method():
    with pytest.raises(
        UnknownNameError,
        match=r"unknown re-ranker setting 'lam'; valid choices: candidates, head_share, "
        r"method, similarity, variant, weight",
    ):
        Reranker.from_settings({"method": "mmr", "lam": 0.3})
    with pytest.raises(ConfigError, match=r"need a method .*got keys \['weight'\]"):
        Reranker.from_settings({"weight": 0.3})
    with pytest.raises(ConfigError, match=r"must be a mapping, got list"):
        Reranker.from_settings(["mmr"])


def test_as_reranker_accepts_every_form():
    assert as_reranker(None) is None
    assert as_reranker(None, weight=None) is None  # None overrides are ignored
    assert as_reranker("dpp") == Reranker("dpp")
    r = Reranker("mmr", weight=0.2)
    assert as_reranker(r) is r
    assert as_reranker(r, weight=0.9) == Reranker("mmr", weight=0.9)
    assert as_reranker({"method": "xquad", "weight": 0.1}, weight=0.4) == Reranker(
        "xquad", weight=0.4
    )
    assert as_reranker("calibration", candidates=30).candidates == 30


def test_as_reranker_errors():
    with pytest.raises(ConfigError, match=r"settings \['weight'\] given without a re-ranker"):
        as_reranker(None, weight=0.3)
    with pytest.raises(ConfigError, match=r"must be None, a method name, .* got int"):
        as_reranker(3)
    with pytest.raises(UnknownNameError, match=r"unknown re-ranker setting 'lam'"):
        as_reranker("mmr", lam=0.3)
    with pytest.raises(UnknownNameError, match=r"unknown re-ranker 'mmx'"):
        as_reranker({"method": "mmx"})


# ---------------------------------------------------------------------------------------------
# prepare(): side information of a hand-computed case
# ---------------------------------------------------------------------------------------------
# Six items with categories {c0}, {c0, c1}, {c1}, {c2}, {}, {c2}; user 0 knows items 0, 1, 4,
# user 1 item 3, user 2 nothing.
CATS = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [0, 0, 1]], dtype=bool)


@pytest.fixture(scope="module")
def known():
    feats = ItemFeatures(CATS, ("c0", "c1", "c2"))
    return Interactions(
        users=np.array([0, 0, 0, 1]),
        items=np.array([0, 1, 4, 3]),
        n_users=3,
        n_items=6,
        item_features=feats,
        name="tiny",
    )


def test_calibration_inputs_by_hand(known):
    inputs = Reranker("calibration").prepare(known, [2, 0, 1])
    # p(c|u) over the categorised history: user 0 has (1,0,0) and (.5,.5,0) (item 4 has no
    # category), user 1 (0,0,1), user 2 no history.
    np.testing.assert_allclose(
        inputs.user_categories, [[0, 0, 0], [0.75, 0.25, 0], [0, 0, 1]], atol=1e-7
    )
    np.testing.assert_array_equal(inputs.categories, CATS)
    np.testing.assert_array_equal(inputs.users, [2, 0, 1])
    assert inputs.tail is None and inputs.user_groups is None and inputs.embeddings is None


def test_xquad_inputs_by_hand(known):
    inputs = Reranker("xquad", head_share=0.5).prepare(known, [2, 0, 1])
    # Counts 1,1,0,1,1,0: the head is the 3 most popular (ties by index): items 0, 1, 3.
    np.testing.assert_array_equal(inputs.tail, [False, False, True, False, True, True])
    # User 0 knows 0, 1 (head) and 4 (tail); user 1 knows 3 (head).
    np.testing.assert_allclose(inputs.user_groups, [[0, 0], [2 / 3, 1 / 3], [1, 0]], atol=1e-7)
    assert inputs.categories is None and inputs.user_categories is None


def test_xquad_head_from_given_popularity(known):
    pop = np.array([0, 0, 0, 0, 9, 8])
    inputs = Reranker("xquad", head_share=2 / 6).prepare(known, [0], popularity=pop)
    np.testing.assert_array_equal(inputs.tail, [True, True, True, True, False, False])
    np.testing.assert_allclose(inputs.user_groups, [[1 / 3, 2 / 3]], atol=1e-7)


def test_prepare_errors(known):
    bare = Interactions(users=known.users, items=known.items, n_users=3, n_items=6, name="bare")
    msg = r"'mmr' \(similarity 'jaccard'\) reads item categories, and data set 'bare' has none"
    with pytest.raises(ConfigError, match=msg + r"; use similarity='embedding'"):
        Reranker("mmr").prepare(bare, [0])
    with pytest.raises(ConfigError, match=r"'calibration' .* data set 'bare' has none"):
        Reranker("calibration").prepare(bare, [0])
    with pytest.raises(ConfigError, match=r"'xquad' reads each user's known items"):
        Reranker("xquad").prepare(None, [0])
    # Categories given directly need no interactions for MMR.
    assert Reranker("mmr").prepare(None, [0], categories=CATS).categories.shape == (6, 3)


# ---------------------------------------------------------------------------------------------
# item embeddings
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zoo(planted_split):
    s = planted_split
    return {
        name: create(name, s.n_users, s.n_items, seed=0, train=s.train, **kw)
        for name, kw in SMALL_ZOO.items()
    }


def test_item_embeddings_of_every_registered_model(zoo, planted_split):
    n_items = planted_split.n_items
    bpr, gcn, tt = zoo["bpr"], zoo["lightgcn"], zoo["two_tower"]
    np.testing.assert_array_equal(item_embeddings(bpr), np.asarray(bpr.item_emb[...]))
    np.testing.assert_array_equal(item_embeddings(gcn), np.asarray(gcn.embeddings()[1]))
    np.testing.assert_array_equal(item_embeddings(tt), np.asarray(tt.item_vectors()))
    for name in ("sasrec", "bert4rec"):
        m = zoo[name]
        np.testing.assert_array_equal(item_embeddings(m), np.asarray(m.item_table()))
    for name in ("bpr", "lightgcn", "two_tower", "sasrec", "bert4rec"):
        emb = item_embeddings(zoo[name])
        assert emb.shape == (n_items, SMALL_ZOO[name]["dim"]) and emb.dtype == np.float32
    assert item_embeddings(zoo["neumf"]) is None
    # BPR-MF scores are inner products with these embeddings.
    users = jnp.arange(3)
    np.testing.assert_allclose(
        np.asarray(bpr.score(users)),
        np.asarray(bpr.user_emb[...])[:3] @ item_embeddings(bpr).T,
        rtol=1e-5,
        atol=1e-6,
    )


class Table(Recommender):
    """Scores from a fixed table; item embeddings only when given."""

    def __init__(self, table, emb=None):
        self.n_users, self.n_items = table.shape
        self.table = nnx.Param(jnp.asarray(table, jnp.float32))
        self.emb = None if emb is None else nnx.Param(jnp.asarray(emb, jnp.float32))

    def score(self, users, history=None):
        return self.table[...][users]


class TableWithEmbeddings(Table):
    def item_embeddings(self):
        return self.emb[...]


def test_other_models_give_embeddings_through_a_method(known):
    emb = np.arange(12, dtype=np.float32).reshape(6, 2)
    m = TableWithEmbeddings(np.zeros((3, 6)), emb)
    np.testing.assert_array_equal(item_embeddings(m), emb)
    inputs = Reranker("mmr", similarity="embedding").prepare(known, [0], model=m)
    np.testing.assert_array_equal(inputs.embeddings, emb)
    assert item_embeddings(Table(np.zeros((3, 6)))) is None


def test_embedding_similarity_on_a_model_without_embeddings_is_refused(zoo, known):
    r = Reranker("dpp", similarity="embedding")
    with pytest.raises(ConfigError, match=r"model NeuMF has none; use similarity='jaccard'"):
        r.prepare(known, [0], model=zoo["neumf"])
    with pytest.raises(ConfigError, match=r"model Table has none"):
        r.with_model(r.prepare(known, [0]), Table(np.zeros((3, 6))))
    with pytest.raises(ConfigError, match=r"reads the model's item embeddings, and the inputs"):
        r.apply(np.zeros((1, 6)), np.arange(6)[None], r.prepare(known, [0]), k=2)


# ---------------------------------------------------------------------------------------------
# apply()
# ---------------------------------------------------------------------------------------------


def candidates(n_users=5, n=8, n_items=6 * 4, seed=0):
    rng = np.random.default_rng(seed)
    items = np.stack([rng.permutation(n_items)[:n] for _ in range(n_users)]).astype(np.int32)
    scores = -np.sort(-rng.normal(size=(n_users, n)), axis=1).astype(np.float32)
    return items, scores


def test_apply_is_rerank_with_the_settings():
    cats = np.random.default_rng(1).random((24, 4)) < 0.4
    items, scores = candidates()
    inputs = RerankInputs(users=np.arange(5, dtype=np.int32), categories=cats)
    r = Reranker("dpp", weight=0.6, similarity="cosine", candidates=8)
    got = r.apply(scores, items, inputs, k=4)
    ref = rr.rerank(scores, items, 0.6, method="dpp", k=4, categories=cats, similarity="cosine")
    np.testing.assert_array_equal(got.items, ref.items)
    np.testing.assert_array_equal(got.positions, ref.positions)
    sweep = r.apply(scores, items, inputs, [0.0, 0.6], k=4)
    assert sweep.items.shape == (2, 5, 4)
    np.testing.assert_array_equal(sweep.items[0], items[:, :4])  # weight 0: the model's order
    np.testing.assert_array_equal(sweep.items[1], ref.items)


def test_method_none_keeps_the_first_k():
    items, scores = candidates()
    inputs = RerankInputs(users=np.arange(5, dtype=np.int32))
    one = Reranker("none").apply(scores, items, inputs, k=3)
    np.testing.assert_array_equal(one.items, items[:, :3])
    np.testing.assert_array_equal(one.positions, np.tile(np.arange(3), (5, 1)))
    many = Reranker("none").apply(scores, items, inputs, [0.1, 0.9], k=3)
    assert many.items.shape == (2, 5, 3)
    np.testing.assert_array_equal(many.items[1], items[:, :3])
    with pytest.raises(ConfigError, match=r"weight must be a number in \[0, 1\], got 2.0"):
        Reranker("none").apply(scores, items, inputs, [0.1, 2.0], k=3)
    with pytest.raises(ConfigError, match=r"k=9 must lie in \[1, N=8\]"):
        Reranker("none").apply(scores, items, inputs, k=9)


def test_apply_refuses_rows_that_do_not_match_the_inputs():
    items, scores = candidates()
    inputs = RerankInputs(users=np.arange(4, dtype=np.int32), categories=np.ones((24, 2), bool))
    with pytest.raises(ConfigError, match=r"U=4 users of the prepared inputs, got shape \(5, 8\)"):
        Reranker("mmr").apply(scores, items, inputs, k=3)
