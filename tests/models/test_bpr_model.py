"""BPR-MF: shapes, the loss by hand, the popularity-correlation regulariser."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError
from moorec.models import BPRMF, bpr_loss, count_params
from moorec.models.mf import (
    expected_intra_list_similarity,
    jaccard_similarity,
    popularity_correlation,
)
from moorec.train import TrainConfig


def test_shapes_and_params():
    m = BPRMF(5, 7, 3, rngs=nnx.Rngs(0))
    assert m.score(jnp.array([0, 4])).shape == (2, 7)
    assert count_params(m) == (5 + 7) * 3


def test_loss_by_hand():
    m = BPRMF(2, 3, 2, rngs=nnx.Rngs(0))
    m.user_emb[...] = jnp.array([[1.0, 0.0], [0.0, 2.0]])
    m.item_emb[...] = jnp.array([[1.0, 1.0], [0.0, 1.0], [2.0, 0.0]])
    batch = {
        "user": jnp.array([0, 1]),
        "pos": jnp.array([0, 1]),
        "neg": jnp.array([1, 2]),
        "weight": jnp.array([1.0, 1.0]),
        "pos_pop": jnp.array([1.0, 0.5]),
    }
    # user 0: pos 1, neg 0 -> softplus(-1); user 1: pos 2, neg 0 -> softplus(-2)
    bpr = (np.log1p(np.exp(-1.0)) + np.log1p(np.exp(-2.0))) / 2
    # L2: 0.5 * (|u|^2 + |i|^2 + |j|^2): user 0: 0.5*(1+2+1)=2; user 1: 0.5*(4+1+4)=4.5
    hp = {"l2": jnp.float32(0.1), "pop_weight": jnp.float32(0.0)}
    assert float(m.loss(batch, hp)) == pytest.approx(bpr + 0.1 * 3.25, rel=1e-6)
    # pos scores (1, 2) against popularity (1, 0.5): correlation -1, squared 1
    hp = {"l2": jnp.float32(0.0), "pop_weight": jnp.float32(0.3)}
    assert float(m.loss(batch, hp)) == pytest.approx(bpr + 0.3, rel=1e-5)
    assert float(bpr_loss(jnp.array([1.0]), jnp.array([1.0]), jnp.array([1.0]))) == (
        pytest.approx(np.log(2.0))
    )


def test_popularity_correlation_matches_numpy():
    rng = np.random.default_rng(0)
    for _ in range(5):
        s, p = rng.normal(size=50), rng.exponential(size=50)
        w = np.ones(50)
        w[40:] = 0.0  # padding rows are ignored
        got = float(popularity_correlation(jnp.asarray(s), jnp.asarray(p), jnp.asarray(w)))
        assert got == pytest.approx(np.corrcoef(s[:40], p[:40])[0, 1], rel=1e-4, abs=1e-6)


def test_pop_weight_lowers_recommended_popularity():
    data = mr.datasets.synthetic_shop(n_users=400, n_items=300, n_interactions=10000, seed=0)
    split = mr.split.random_ratio(data, seed=0)
    arp = {}
    for w in (0.0, 0.2):
        r = mr.fit(
            split,
            "bpr",
            dim=16,
            epochs=10,
            batch_size=512,
            lr=0.01,
            patience=0,
            loss_weights={"pop_weight": w},
        )
        arp[w] = mr.evaluate(r.model, split, "valid", ["arp@10"])["arp@10"]
    assert arp[0.2] < 0.95 * arp[0.0]


def test_unknown_loss_weight():
    with pytest.raises(ConfigError, match=r"loss_weights \['diversity'\] are not read"):
        TrainConfig(loss_weights={"diversity": 1.0}).hparams(("l2", "pop_weight"))


def test_hparam_values_and_their_arrays():
    cfg = TrainConfig(l2=1e-4, loss_weights={"pop_weight": 0.25})
    values = cfg.hparam_values(("l2", "pop_weight", "dropout"), {"dropout": 0.0, "pop_weight": 1})
    assert values == {"l2": 1e-4, "pop_weight": 0.25, "dropout": 0.0}
    assert all(type(v) is float for v in values.values())
    arrays = cfg.hparams(("l2", "pop_weight", "dropout"), {"dropout": 0.0})
    assert {n: a.dtype for n, a in arrays.items()} == dict.fromkeys(values, jnp.float32)
    assert float(arrays["l2"]) == pytest.approx(1e-4, rel=1e-7)
    with pytest.raises(ConfigError, match=r"needs hyperparameters \['dropout'\]"):
        TrainConfig().hparam_values(("l2", "dropout"))


def test_jaccard_similarity_and_expected_ils_by_hand():
    cats = jnp.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    sim = np.asarray(jaccard_similarity(cats))
    # items 0 and 1 share 1 of 3 categories; the empty item is similar to nothing
    np.testing.assert_allclose(sim, [[1, 1 / 3, 0], [1 / 3, 1, 0], [0, 0, 0]], rtol=1e-6)
    # equal scores: pi = 1/3 each; E[sim] = sum_ij sim_ij / 9 = (1 + 1 + 2/3) / 9
    got = expected_intra_list_similarity(jnp.zeros((1, 3)), jnp.asarray(sim))
    assert float(got[0]) == pytest.approx((2 + 2 / 3) / 9, rel=1e-6)
    # a very low temperature puts all mass on the top item: E[sim] = sim_00 = 1
    peaked = expected_intra_list_similarity(jnp.array([[2.0, 1.0, 0.0]]), jnp.asarray(sim), 1e-3)
    assert float(peaked[0]) == pytest.approx(1.0, abs=1e-6)


def test_div_weight_raises_intra_list_diversity(planted_split):
    ild = {}
    for w in (0.0, 1.0):
        r = mr.fit(
            planted_split,
            "bpr",
            dim=8,
            epochs=30,
            batch_size=128,
            lr=0.02,
            patience=0,
            loss_weights={"div_weight": w},
        )
        ild[w] = mr.evaluate(r.model, planted_split, "valid", ["ild@5"])["ild@5"]
    assert ild[1.0] > ild[0.0] + 0.05


def test_scores_in_a_tie_order_permute_the_item_table():
    """BPR-MF's score_in_order (rows of the item table permuted) is score()[:, order]."""
    import jax

    from moorec.models.base import Recommender

    model = BPRMF(7, 11, 5, rngs=nnx.Rngs(3))
    users = jnp.array([0, 6, 2, 2], jnp.int32)
    order = jnp.asarray(np.random.default_rng(1).permutation(11).astype(np.int32))
    full = np.asarray(model.score(users))
    # the same dot products, each of the same 5 terms: float32 rounding of a reordered GEMM
    np.testing.assert_allclose(
        np.asarray(model.score_in_order(users, order)), full[:, np.asarray(order)], rtol=1e-6,
        atol=1e-7,
    )  # fmt: skip
    # the generic path takes the columns of score()
    generic = Recommender.score_in_order(model, users, order)
    np.testing.assert_array_equal(np.asarray(generic), full[:, np.asarray(order)])
    assert jax.jit(model.score_in_order)(users, order).shape == (4, 11)
