"""Item similarity on the fly: bit-packed category sets, category slots and the per-step rows
against the full candidate x candidate matrices (which are checked against a NumPy loop)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import moorec.rerank as rr
from moorec.errors import UnknownNameError
from moorec.rerank.similarity import (
    candidate_features,
    category_slots,
    gather_features,
    pack_categories,
    similarity_row,
    slots_from_words,
    tree_sum,
    words_from_slots,
)

N_ITEMS, U, N = 50, 5, 12


def ref_sim(x, y, kind):
    """One pair, from the definitions (float64)."""
    x, y = x.astype(float), y.astype(float)
    if kind == "embedding":
        nx, ny = np.sqrt(x @ x), np.sqrt(y @ y)
        if nx == 0 or ny == 0:
            return 1.0 if nx == ny else 0.0
        return float(x @ y / (nx * ny))
    inter, a, b = float(x @ y), x.sum(), y.sum()
    den = a + b - inter if kind == "jaccard" else np.sqrt(a * b)
    if den == 0:
        return 1.0 if a == 0 and b == 0 else 0.0
    return inter / den


def categories(n_cat, seed=0):
    c = np.random.default_rng(seed).random((N_ITEMS, n_cat)) < 0.25
    c[:4] = False  # items without category
    c[4, :] = True  # one with every category
    return c


def candidates(seed=1):
    rng = np.random.default_rng(seed)
    items = np.stack([rng.permutation(N_ITEMS)[:N] for _ in range(U)])
    items[0, :4] = [0, 1, 4, 5]  # two empty sets, the full set, in one user's list
    return items


def test_pack_categories_by_hand():
    cats = np.zeros((3, 40), bool)
    cats[0, [0, 3, 31]] = True
    cats[1, [32, 39]] = True  # second word only
    words = pack_categories(cats)
    assert words.dtype == np.uint32 and words.shape == (3, 2)
    assert words.tolist() == [[1 + 8 + 2**31, 0], [0, 1 + 2**7], [0, 0]]
    assert pack_categories(np.ones((2, 32))).tolist() == [[2**32 - 1]] * 2
    assert pack_categories(np.zeros((2, 0))).shape == (2, 1)  # at least one word


def test_category_slots_by_hand():
    cats = np.array([[0, 1, 0, 1, 1], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]], bool)
    slots = category_slots(cats)
    assert slots.dtype == np.int32
    assert slots.tolist() == [[1, 3, 4], [5, 5, 5], [0, 5, 5]]  # unused places hold C = 5
    assert category_slots(np.zeros((2, 3))).tolist() == [[3], [3]]  # at least one place


@pytest.mark.parametrize("n_cat", [12, 32, 70])
def test_slots_and_words_are_inverse(n_cat):
    cats = categories(n_cat, seed=n_cat)
    m = int(cats.sum(axis=1).max())
    words = pack_categories(cats).T  # [W, n_items]
    slots = np.asarray(slots_from_words(words, m))  # [M, n_items]
    unused = 32 * words.shape[0]
    want = category_slots(cats).T
    np.testing.assert_array_equal(slots, np.where(want == n_cat, unused, want))
    np.testing.assert_array_equal(words_from_slots(slots, n_cat), words)
    np.testing.assert_array_equal(words_from_slots(want, n_cat), words)  # C as unused, too


def test_tree_sum_adds_every_row():
    x = np.arange(7 * 3, dtype=np.float32).reshape(7, 3)
    np.testing.assert_array_equal(tree_sum(jnp.asarray(x)), x.sum(axis=0))
    np.testing.assert_array_equal(tree_sum(jnp.ones((1, 4))), np.ones(4))


@pytest.mark.parametrize("kind", ["jaccard", "cosine", "embedding"])
def test_candidate_similarity_matches_reference(kind):
    feats = np.random.default_rng(2).normal(size=(N_ITEMS, 8)) if kind == "embedding" else None
    if feats is not None:
        feats[:2] = 0  # zero embeddings
    else:
        feats = categories(12)
    items = candidates()
    got = np.asarray(rr.candidate_similarity(items, feats, kind))
    want = np.array(
        [[[ref_sim(feats[a], feats[b], kind) for b in row] for a in row] for row in items]
    )
    for u in range(U):
        np.fill_diagonal(want[u], 1.0)  # every item is similar to itself
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("n_cat", [12, 32, 70])  # one word, a full word, three words
@pytest.mark.parametrize("kind", ["jaccard", "cosine"])
def test_packed_rows_equal_candidate_similarity_exactly(kind, n_cat):
    # integer counts and the same float32 operations: equal to the last bit
    cats = categories(n_cat, seed=n_cat)
    items = candidates()
    full = np.asarray(rr.candidate_similarity(items, cats, kind))  # [U, N, N]
    cand = candidate_features(pack_categories(cats)[items], kind)
    assert cand.values.shape == (-(-n_cat // 32), N, U)
    for j in range(N):
        row = similarity_row(cand, jnp.full(U, j), kind)  # [N, U]
        np.testing.assert_array_equal(np.asarray(row).T, full[:, :, j])
    # a different candidate per user
    j = np.arange(U) % N
    row = np.asarray(similarity_row(cand, jnp.asarray(j), kind))
    np.testing.assert_array_equal(row.T, full[np.arange(U), :, j])


@pytest.mark.parametrize("kind", ["jaccard", "embedding"])
def test_gathered_from_the_catalogue_equals_candidate_features(kind):
    feats = pack_categories(categories(40)) if kind == "jaccard" else categories(9) * 0.5 - 0.1
    items = candidates()
    got = gather_features(feats, items.T, kind)
    want = candidate_features(np.asarray(feats)[items], kind)
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(got.size, want.size)


def test_embedding_rows_match_candidate_similarity():
    emb = np.random.default_rng(3).normal(size=(N_ITEMS, 16)).astype(np.float32)
    emb[:2] = 0
    items = candidates()
    items[1, :2] = [0, 1]
    full = np.asarray(rr.candidate_similarity(items, emb, "embedding"))
    cand = candidate_features(emb[items], "embedding")
    for j in range(N):
        row = np.asarray(similarity_row(cand, jnp.full(U, j), "embedding")).T
        np.testing.assert_allclose(row, full[:, :, j], atol=1e-6)  # normalised first: rounding
        assert (row[:, j] == 1.0).all()
    assert np.asarray(similarity_row(cand, jnp.full(U, 0), "embedding"))[1, 1] == 1.0  # both 0


def test_similarity_row_under_jit_and_vmap():
    cats = categories(12)
    items = candidates()
    cand = candidate_features(pack_categories(cats)[items], "jaccard")
    js = jnp.stack([jnp.full(U, j) for j in range(3)])
    rows = jax.jit(jax.vmap(lambda j: similarity_row(cand, j, "jaccard")))(js)
    for j in range(3):
        np.testing.assert_array_equal(rows[j], similarity_row(cand, js[j], "jaccard"))


def test_unknown_similarity():
    with pytest.raises(UnknownNameError, match=r"similarity 'dot'; valid choices: cosine"):
        rr.candidate_similarity(candidates(), categories(12), "dot")
    with pytest.raises(UnknownNameError, match=r"similarity 'dot'"):
        candidate_features(np.zeros((U, N, 1), np.uint32), "dot")
