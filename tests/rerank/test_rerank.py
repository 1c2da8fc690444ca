"""Re-rankers against brute-force NumPy references written from the papers, per user."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import moorec.rerank as rr
from moorec.data.interactions import Interactions
from moorec.errors import ConfigError, UnknownNameError
from moorec.rerank.api import default_chunk_users
from moorec.rerank.kernels import ranked_scores
from moorec.rerank.similarity import category_slots, pack_categories

N_ITEMS, N, K = 60, 14, 5
TOL = 1e-3  # smallest greedy margin the references accept: far above float32 rounding (1e-7)
WEIGHTS = (0.2, 0.5, 0.8)


# ---------------------------------------------------------------------------------------------
# NumPy references (float64, one user at a time)
# ---------------------------------------------------------------------------------------------
def ref_rel(s):
    ok = np.isfinite(s)
    lo, hi = s[ok].min(), s[ok].max()
    return np.where(ok, (np.where(ok, s, lo) - lo) / (hi - lo), 0.0)


def ref_sim(a, b, feats, kind):
    x, y = feats[a].astype(float), feats[b].astype(float)
    if kind == "embedding":
        return float(x @ y / np.sqrt((x @ x) * (y @ y)))
    inter = float(np.sum(x * y))
    den = x.sum() + y.sum() - inter if kind == "jaccard" else np.sqrt(x.sum() * y.sum())
    if den == 0:
        return 1.0 if x.sum() == 0 and y.sum() == 0 else 0.0
    return inter / den


def ref_sim_matrix(items, feats, kind):
    n = len(items)
    return np.array(
        [[ref_sim(items[i], items[j], feats, kind) for j in range(n)] for i in range(n)]
    )


def greedy(objective, n, k, valid=None):
    """Greedy argmax of ``objective(chosen, i)``, ties to the lowest position; the valid
    candidates while any is left. Returns the list and the smallest margin over the steps that
    chose a valid candidate (exact ties among the invalid ones are broken by position)."""
    valid = np.ones(n, bool) if valid is None else valid
    chosen, margin = [], np.inf
    for _ in range(k):
        rest = [i for i in range(n) if i not in chosen and valid[i]]
        among_valid = bool(rest)
        rest = rest or [i for i in range(n) if i not in chosen]
        vals = np.array([objective(chosen, i) for i in rest])
        order = np.argsort(-vals, kind="stable")
        if among_valid and len(rest) > 1 and np.isfinite(vals[order[1]]):
            margin = min(margin, vals[order[0]] - vals[order[1]])
        chosen.append(rest[order[0]])
    return chosen, margin


def ref_mmr(scores, items, feats, kind, w, k):
    rel, sim = ref_rel(scores), ref_sim_matrix(items, feats, kind)

    def obj(chosen, i):
        penalty = max(sim[i, j] for j in chosen) if chosen else 0.0
        return (1 - w) * rel[i] - w * penalty

    return greedy(obj, len(scores), k, np.isfinite(scores))


def ref_dpp_naive(scores, items, feats, kind, w, k):
    """Greedy by log-determinants of L = diag(r) S diag(r), r = exp(alpha rel)."""
    theta = 1.0 - w
    alpha = theta / (2 * (1 - theta))
    r = np.exp(alpha * ref_rel(scores))
    big_l = r[:, None] * ref_sim_matrix(items, feats, kind) * r[None, :]

    sim = ref_sim_matrix(items, feats, kind)
    near = []

    def obj(chosen, i):
        idx = [*chosen, i]
        # conditional variance of i given the chosen items under S: det S_{Y+i} / det S_Y
        d2 = np.linalg.det(sim[np.ix_(idx, idx)]) / (
            np.linalg.det(sim[np.ix_(chosen, chosen)]) if chosen else 1.0
        )
        if d2 <= 1e-9:  # exactly singular (duplicate category sets): never added
            return -np.inf
        near.append(d2 < 1e-2)  # close to the fast version's eps: the row is not clear-cut
        sign, logdet = np.linalg.slogdet(big_l[np.ix_(idx, idx)])
        assert sign > 0
        return (1 - theta) * logdet  # the JAX gain's scale: margins comparable to TOL

    chosen, margin = greedy(obj, len(scores), k)
    return chosen, (0.0 if any(near) else margin)


def ref_dpp_fast(scores, items, feats, kind, w, k):
    """Chen, Zhang and Zhou (2018), Algorithm 1, on L itself."""
    theta = 1.0 - w
    r = np.exp(theta / (2 * (1 - theta)) * ref_rel(scores))
    big_l = r[:, None] * ref_sim_matrix(items, feats, kind) * r[None, :]
    n = len(scores)
    c, d2 = np.zeros((k, n)), np.diag(big_l).copy()
    j = int(np.argmax(np.log(d2)))
    out = [j]
    for t in range(k - 1):
        e = (big_l[j] - c[:t].T @ c[:t, j]) / np.sqrt(d2[j])
        c[t], d2 = e, d2 - e**2
        d2[out] = -np.inf
        j = int(np.argmax(np.where(d2 > 1e-9 * r**2, d2, -np.inf)))
        out.append(j)
    return out


def ref_calibration(scores, items, cats, p, lam, k, a=0.01):
    rel = ref_rel(scores)
    pci = cats[items].astype(float)
    pci = pci / np.maximum(pci.sum(1, keepdims=True), 1)

    def obj(chosen, i):
        idx = [*chosen, i]
        q = pci[idx].mean(0)
        qt = (1 - a) * q + a * p
        kl = sum(p[c] * np.log(p[c] / qt[c]) for c in range(len(p)) if p[c] > 0)
        return (1 - lam) * rel[idx].sum() - lam * kl

    return greedy(obj, len(scores), k, np.isfinite(scores))


def ref_xquad(scores, items, tail, pcu, lam, k, variant):
    rel = ref_rel(scores)
    groups = [~tail[items], tail[items]]  # P(i|head), P(i|tail) as indicators

    def obj(chosen, i):
        div = 0.0
        for c in range(2):
            if variant == "binary":
                cover = np.prod([1.0 - groups[c][j] for j in chosen])
            else:
                cover = 1.0 - np.mean([groups[c][j] for j in chosen]) if chosen else 1.0
            div += pcu[c] * groups[c][i] * cover
        return (1 - lam) * rel[i] + lam * div

    return greedy(obj, len(scores), k, np.isfinite(scores))


# ---------------------------------------------------------------------------------------------
# data: candidates in the model's order, margins asserted per user
# ---------------------------------------------------------------------------------------------
def candidates(rng, n_users=6):
    scores = -np.sort(-rng.normal(size=(n_users, N)), axis=1)
    items = np.stack([rng.permutation(N_ITEMS)[:N] for _ in range(n_users)])
    return scores, items


def with_margin(make, check, n_users=6, seed=0, tries=400):
    """Draw one user at a time until ``check`` (the reference's smallest margin) >= TOL."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(tries):
        row = make(rng)
        if check(row) >= TOL:
            rows.append(row)
            if len(rows) == n_users:
                return [np.stack(x) for x in zip(*rows, strict=True)]
    raise AssertionError("could not draw data with clear greedy margins")


def make_categories(n_cat, seed=1):
    c = np.random.default_rng(seed).random((N_ITEMS, n_cat)) < 0.3
    c[:3] = False  # a few items without category
    return c


@pytest.fixture(scope="module")
def cats():
    return make_categories(12)


@pytest.fixture(scope="module")
def wide_cats():
    return make_categories(40, seed=11)  # two category words


@pytest.fixture(scope="module")
def emb():
    return np.random.default_rng(2).normal(size=(N_ITEMS, 24))


def one_user(rng):
    return -np.sort(-rng.normal(size=N)), rng.permutation(N_ITEMS)[:N]


def with_invalid(rng, n_invalid=11):
    """A user with fewer valid candidates than K, the invalid ones anywhere in the list."""
    s, it = one_user(rng)
    s[rng.permutation(N)[:n_invalid]] = -np.inf
    return s, it


# ---------------------------------------------------------------------------------------------
# relevance
# ---------------------------------------------------------------------------------------------
def test_relevance_by_hand_and_candidate_major():
    inf = np.inf
    scores = np.array(
        [[3.0, 1.0, 2.0, -inf], [2.0, 2.0, 2.0, 2.0], [-inf, -inf, -inf, -inf], [0.0, -0.0, -2, 6]]
    )
    rel, valid = rr.relevance(scores)
    want = [[1.0, 0.0, 0.5, 0.0], [1.0] * 4, [0.0] * 4, [0.25, 0.25, 0.0, 1.0]]
    np.testing.assert_array_equal(rel, want)
    np.testing.assert_array_equal(valid, np.isfinite(scores))
    ranked = ranked_scores(scores)  # min and max on integer keys: the same values
    np.testing.assert_array_equal(ranked.rel, np.asarray(rel).T)
    np.testing.assert_array_equal(ranked.valid, np.asarray(valid).T)
    np.testing.assert_array_equal(ranked.n_valid, [3, 4, 0, 4])
    scores = np.random.default_rng(17).normal(size=(9, N)) * 10.0 ** np.arange(-4, 5)[:, None]
    np.testing.assert_array_equal(ranked_scores(scores).rel, rr.relevance(scores)[0].T)


# ---------------------------------------------------------------------------------------------
# each re-ranker against its reference
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["jaccard", "cosine", "embedding", "jaccard-40"])
@pytest.mark.parametrize("w", WEIGHTS)
def test_mmr_matches_reference(kind, w, cats, wide_cats, emb):
    feats = {"embedding": emb, "jaccard-40": wide_cats}.get(kind, cats)
    kind = kind.split("-")[0]
    scores, items = with_margin(one_user, lambda r: ref_mmr(*r, feats, kind, w, K)[1])
    side = {"embeddings": feats} if kind == "embedding" else {"categories": feats}
    got = rr.mmr(scores, items, w, k=K, similarity=kind, **side)
    for u in range(len(scores)):
        want, margin = ref_mmr(scores[u], items[u], feats, kind, w, K)
        assert margin >= TOL
        assert got.positions[u].tolist() == want
        assert got.items[u].tolist() == items[u][want].tolist()


@pytest.mark.parametrize("kind", ["embedding", "jaccard", "cosine-40"])
@pytest.mark.parametrize("w", WEIGHTS)
def test_dpp_matches_naive_log_determinant_greedy(kind, w, cats, wide_cats, emb):
    feats = {"embedding": emb, "cosine-40": wide_cats}.get(kind, cats)
    kind = kind.split("-")[0]

    def check(row):
        return ref_dpp_naive(*row, feats, kind, w, K)[1]

    scores, items = with_margin(one_user, check)
    side = {"embeddings": feats} if kind == "embedding" else {"categories": feats}
    got = rr.dpp(scores, items, w, k=K, similarity=kind, **side)
    for u in range(len(scores)):
        want, margin = ref_dpp_naive(scores[u], items[u], feats, kind, w, K)
        assert margin >= TOL
        assert got.positions[u].tolist() == want
        assert ref_dpp_fast(scores[u], items[u], feats, kind, w, K) == want


def test_dpp_fills_by_relevance_when_the_kernel_is_exhausted():
    # three distinct category sets, two candidates each in turn: after three items every
    # candidate duplicates a chosen one (d^2 = 0), and the rest is filled by relevance
    cats = np.zeros((N_ITEMS, 3), bool)
    cats[np.arange(N_ITEMS), (np.arange(N_ITEMS) // 2) % 3] = True
    scores = -np.sort(-np.random.default_rng(4).normal(size=(1, N)), axis=1)
    items = np.arange(N)[None]
    got = rr.dpp(scores, items, 1.0, k=6, categories=cats).positions[0].tolist()
    assert got == [0, 2, 4, 1, 3, 5]
    got = rr.dpp(scores, items, 0.5, k=6, categories=cats).positions[0].tolist()
    assert got[:3] == [0, 2, 4] and got[3:] == [1, 3, 5]


@pytest.mark.parametrize("n_cat", [12, 40])
@pytest.mark.parametrize("lam", WEIGHTS)
def test_calibration_matches_reference(lam, n_cat, cats, wide_cats):
    c = cats if n_cat == 12 else wide_cats

    def make(rng):
        s, it = one_user(rng)
        p = rng.dirichlet(np.ones(n_cat) * 0.5)
        p[rng.random(n_cat) < 0.3] = 0  # categories the user never saw
        return s, it, p / p.sum()

    def check(row):
        return ref_calibration(row[0], row[1], c, row[2], lam, K)[1]

    scores, items, p = with_margin(make, check)
    got = rr.calibration(scores, items, lam, k=K, categories=c, user_categories=p)
    for u in range(len(scores)):
        want, margin = ref_calibration(scores[u], items[u], c, p[u], lam, K)
        assert margin >= TOL
        assert got.positions[u].tolist() == want


def test_calibration_without_history_is_the_relevance_order(cats):
    scores, items = candidates(np.random.default_rng(12), 3)
    p = np.zeros((3, cats.shape[1]), np.float32)
    got = rr.calibration(scores, items, 0.7, k=K, categories=cats, user_categories=p)
    np.testing.assert_array_equal(got.positions, np.tile(np.arange(K), (3, 1)))


@pytest.mark.parametrize("variant", ["binary", "smooth"])
@pytest.mark.parametrize("lam", WEIGHTS)
def test_xquad_matches_reference(variant, lam):
    tail = np.random.default_rng(5).random(N_ITEMS) < 0.7

    def make(rng):
        s, it = one_user(rng)
        share = rng.uniform(0.1, 0.9)
        return s, it, np.array([1 - share, share])

    def check(row):
        return ref_xquad(row[0], row[1], tail, row[2], lam, K, variant)[1]

    scores, items, pcu = with_margin(make, check)
    got = rr.xquad(scores, items, lam, k=K, tail=tail, user_groups=pcu, variant=variant)
    for u in range(len(scores)):
        want, margin = ref_xquad(scores[u], items[u], tail, pcu[u], lam, K, variant)
        assert margin >= TOL
        assert got.positions[u].tolist() == want


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("method", rr.METHODS)
def test_short_lists_are_the_references_first_choices(method, k, cats):
    # k = 1 is the last step alone (no loop step), k = 2 one loop step and the last one; the
    # greedy's first k choices do not depend on the list length, so they are the K-item
    # reference's first k (its margins cover every step)
    w = 0.5
    tail = np.random.default_rng(5).random(N_ITEMS) < 0.7

    def make(rng):
        s, it = one_user(rng)
        if method == "calibration":
            return s, it, rng.dirichlet(np.ones(cats.shape[1]))
        if method == "xquad":
            return s, it, np.array([0.4, 0.6])
        return s, it

    def ref(row):
        if method == "mmr":
            return ref_mmr(*row, cats, "jaccard", w, K)
        if method == "dpp":
            return ref_dpp_naive(*row, cats, "jaccard", w, K)
        if method == "calibration":
            return ref_calibration(row[0], row[1], cats, row[2], w, K)
        return ref_xquad(row[0], row[1], tail, row[2], w, K, "binary")

    rows = with_margin(make, lambda r: ref(r)[1])
    side = {
        "mmr": {"categories": cats},
        "dpp": {"categories": cats},
        "calibration": {"categories": cats, "user_categories": rows[-1]},
        "xquad": {"tail": tail, "user_groups": rows[-1]},
    }[method]
    got = rr.rerank(rows[0], rows[1], w, method=method, k=k, **side)
    assert got.positions.shape == (len(rows[0]), k)
    for u in range(len(rows[0])):
        assert got.positions[u].tolist() == ref(tuple(r[u] for r in rows))[0][:k]


def test_invalid_candidates_only_when_no_valid_one_is_left(cats):
    # three valid candidates for K = 5: the greedy value still orders the invalid ones
    # (relevance 0), exact ties among them by position
    w, tail = 0.5, np.random.default_rng(5).random(N_ITEMS) < 0.5
    scores, items = with_margin(with_invalid, lambda r: ref_mmr(*r, cats, "jaccard", w, K)[1])
    rng = np.random.default_rng(13)
    p = rng.dirichlet(np.ones(cats.shape[1]), size=len(scores))
    pcu = np.tile([[0.3, 0.7]], (len(scores), 1))
    got = {
        "mmr": rr.mmr(scores, items, w, k=K, categories=cats),
        "calibration": rr.calibration(scores, items, w, k=K, categories=cats, user_categories=p),
        "xquad": rr.xquad(scores, items, w, k=K, tail=tail, user_groups=pcu),
        "dpp": rr.dpp(scores, items, w, k=K, categories=cats),
    }
    for u in range(len(scores)):
        valid = np.flatnonzero(np.isfinite(scores[u]))
        invalid = np.flatnonzero(~np.isfinite(scores[u]))
        want = ref_mmr(scores[u], items[u], cats, "jaccard", w, K)[0]
        assert got["mmr"].positions[u].tolist() == want
        want = ref_calibration(scores[u], items[u], cats, p[u], w, K)[0]
        assert got["calibration"].positions[u].tolist() == want
        want = ref_xquad(scores[u], items[u], tail, pcu[u], w, K, "binary")[0]
        assert got["xquad"].positions[u].tolist() == want
        # DPP: the valid candidates, then (all relevance 0) the invalid ones by position
        pos = got["dpp"].positions[u]
        assert sorted(pos[:3].tolist()) == valid.tolist()
        assert pos[3:].tolist() == invalid[:2].tolist()


# ---------------------------------------------------------------------------------------------
# the identity end, sweeps, chunks, compilation
# ---------------------------------------------------------------------------------------------
def side_inputs(method, n_users, rng):
    cats = rng.random((N_ITEMS, 3)) < 0.5  # few categories: many duplicates and ties
    if method in ("mmr", "dpp"):
        return {"categories": cats}
    if method == "calibration":
        return {"categories": cats, "user_categories": rng.dirichlet(np.ones(3), size=n_users)}
    return {
        "tail": rng.random(N_ITEMS) < 0.8,
        "user_groups": np.tile([[0.2, 0.8]], (n_users, 1)),
    }


@pytest.mark.parametrize("method", rr.METHODS)
def test_weight_zero_is_the_models_top_k(method):
    rng = np.random.default_rng(6)
    scores, items = candidates(rng, 9)
    scores[:, 3:6] = scores[:, 3:4]  # tied scores keep the model's order
    scores[0, -2:] = -np.inf  # a user with fewer valid candidates
    got = rr.rerank(scores, items, 0.0, method=method, k=K, **side_inputs(method, 9, rng))
    np.testing.assert_array_equal(got.positions, np.tile(np.arange(K), (9, 1)))
    np.testing.assert_array_equal(got.items, items[:, :K])


@pytest.mark.parametrize(
    ("method", "similarity"),
    [("mmr", "jaccard"), ("mmr", "embedding"), ("dpp", "cosine"), ("dpp", "embedding"),
     ("calibration", None), ("xquad", "binary"), ("xquad", "smooth")],
)  # fmt: skip
def test_sweep_equals_loop_over_weights(method, similarity):
    # Exact equality: the sweep runs the same selection, jax.vmap-ed over the weights, and every
    # floating-point sum in the kernels has a fixed order (explicit adds, integer counts, exact
    # min/max), so the batch axis changes no rounding.
    rng = np.random.default_rng(7)
    scores, items = candidates(rng, 7)
    side = side_inputs(method, 7, rng)
    if similarity == "embedding":
        side = {"embeddings": rng.normal(size=(N_ITEMS, 6)), "similarity": "embedding"}
    elif method == "xquad":
        side["variant"] = similarity
    elif similarity:
        side["similarity"] = similarity
    ws = np.linspace(0, 1, 5)
    swept = rr.rerank(scores, items, ws, method=method, k=K, chunk_users=3, **side)
    assert swept.items.shape == (5, 7, K)
    for j, w in enumerate(ws):
        one = rr.rerank(scores, items, float(w), method=method, k=K, **side)
        np.testing.assert_array_equal(swept.positions[j], one.positions)
        np.testing.assert_array_equal(swept.items[j], one.items)


def kernel_inputs(method, scores, items, cats):
    """``(kernel, its side-information arguments)`` for the kernels called directly."""
    rng = np.random.default_rng(14)
    if method in ("mmr", "dpp"):
        select = rr.mmr_select if method == "mmr" else rr.dpp_select
        return select, (jnp.asarray(pack_categories(cats)[items]),)
    if method == "calibration":
        p = rng.dirichlet(np.ones(cats.shape[1]), size=len(items)).astype(np.float32)
        return rr.calibration_select, (jnp.asarray(category_slots(cats)[items]), jnp.asarray(p))
    tail = rng.random(N_ITEMS) < 0.6
    groups = np.tile([[0.4, 0.6]], (len(items), 1)).astype(np.float32)
    return rr.xquad_select, (jnp.asarray(tail[items]), jnp.asarray(groups))


@pytest.mark.parametrize("method", rr.METHODS)
def test_vmapped_kernel_equals_loop(method, cats):
    # the kernels called directly: jax.vmap over the weight gives each single-weight result
    # exactly (the same operations, in the same order, on a batch axis)
    scores, items = candidates(np.random.default_rng(8), 5)
    rel, valid = rr.relevance(scores)
    select, side = kernel_inputs(method, scores, items, cats)
    ws = jnp.linspace(0, 1, 6)
    one = jax.jit(lambda w: select(rel, *side, w, k=K, valid=valid))
    swept = jax.jit(jax.vmap(one))(ws)
    assert swept.shape == (6, 5, K)
    for j in range(len(ws)):
        np.testing.assert_array_equal(swept[j], one(ws[j]))


@pytest.mark.parametrize("method", rr.METHODS)
def test_chunks_equal_one_chunk(method):
    rng = np.random.default_rng(15)
    scores, items = candidates(rng, 11)
    side = side_inputs(method, 11, rng)
    whole = rr.rerank(scores, items, [0.3, 0.9], method=method, k=K, **side)
    for chunk in (1, 4):  # 11 chunks, and 3 of 4 users (the last padded by one)
        parts = rr.rerank(scores, items, [0.3, 0.9], method=method, k=K, chunk_users=chunk,
                          **side)  # fmt: skip
        np.testing.assert_array_equal(parts.positions, whole.positions)
    tiny = rr.rerank(scores, items, [0.3, 0.9], method=method, k=K, memory_mb=1e-3, **side)
    np.testing.assert_array_equal(tiny.positions, whole.positions)


def test_changing_weights_does_not_recompile(cats):
    scores, items = candidates(np.random.default_rng(9), 4)
    rr.mmr(scores, items, [0.1, 0.2, 0.3], k=K, categories=cats)
    before = rr.rerank_chunk._cache_size()
    for ws in ([0.4, 0.5, 0.6], [0.0, 0.9, 1.0], [0.33, 0.66, 0.99]):
        rr.mmr(scores, items, ws, k=K, categories=cats)
    assert rr.rerank_chunk._cache_size() == before

    rel, _ = rr.relevance(scores)
    words = jnp.asarray(pack_categories(cats)[items])
    for select in (rr.mmr_select, rr.dpp_select):
        kernel = jax.jit(select, static_argnames=("k", "similarity"))
        for w in (0.1, 0.5, 0.9):
            kernel(rel, words, jnp.float32(w), k=K, similarity="cosine")
        assert kernel._cache_size() == 1


@pytest.mark.parametrize("method", ["mmr", "dpp"])
@pytest.mark.parametrize("similarity", ["jaccard", "embedding"])
def test_no_candidate_by_candidate_array(method, similarity, cats, emb):
    # the similarity is computed one row per step: no array in the program has two axes of
    # length N (N = 14 differs from every other length here)
    scores, items = candidates(np.random.default_rng(16), 6)
    feats = pack_categories(cats) if similarity == "jaccard" else emb.astype(np.float32)

    def program(s, it, w):
        return rr.rerank_chunk(s, it, w, feats, method=method, k=K, similarity=similarity)

    ws = np.array([0.2, 0.7], np.float32)
    jaxpr = jax.make_jaxpr(program)(scores.astype(np.float32), items.astype(np.int32), ws)
    shapes = re.findall(r"\[([\d,]+)\]", str(jaxpr))
    assert shapes  # the program's arrays are in the text
    assert not [sh for sh in shapes if sh.split(",").count(str(N)) > 1]


def test_default_chunk_has_no_n_squared_term():
    # per user and weight, MMR keeps a few N-vectors: the budget scales as 1 / N, not 1 / N^2
    a = default_chunk_users("mmr", 100, 10, 1, 1, 64.0)
    b = default_chunk_users("mmr", 1000, 10, 1, 1, 64.0)
    assert 9 <= a / b <= 11
    # DPP adds K x N Cholesky rows per weight
    assert default_chunk_users("dpp", 100, 10, 8, 1, 64.0) < default_chunk_users(
        "mmr", 100, 10, 8, 1, 64.0
    )


# ---------------------------------------------------------------------------------------------
# history helpers
# ---------------------------------------------------------------------------------------------
def test_history_helpers():
    known = Interactions(
        users=np.array([0, 0, 0, 1], np.int32),
        items=np.array([0, 1, 2, 2], np.int32),
        n_users=3,
        n_items=4,
    )
    cats = np.array([[1, 0], [1, 1], [0, 0], [0, 1]], bool)
    p = rr.history_category_distribution(known, [0, 1, 2], cats)
    np.testing.assert_allclose(p, [[0.75, 0.25], [0, 0], [0, 0]])
    tail = np.array([False, True, True, True])
    g = rr.history_group_share(known, [0, 1, 2], tail)
    np.testing.assert_allclose(g, [[1 / 3, 2 / 3], [0, 1], [0, 0]])


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
def call_with(kwargs, cats):
    scores, items = candidates(np.random.default_rng(10), 3)
    kwargs = dict(kwargs)
    args = {"weights": 0.5, "method": "mmr", "k": K, "categories": cats}
    if "items_shape" in kwargs:
        items = items[:, : kwargs.pop("items_shape")[1]]
    if "categories_rows" in kwargs:
        args["categories"] = cats[: kwargs.pop("categories_rows")]
    args.update(kwargs)
    if args["method"] == "xquad":
        args.update(tail=np.zeros(N_ITEMS, bool), user_groups=np.ones((3, 2)))
    return rr.rerank(scores, items, **args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": 1.5}, r"\[0, 1\], got 1\.5"),
        ({"weights": [0.2, -0.1]}, r"got -0\.1"),
        ({"k": N + 1}, rf"k={N + 1} is larger than the N={N}"),
        ({"k": 0}, r"k must be a positive integer"),
        ({"items_shape": (3, N - 1)}, r"got \(3, 14\) and \(3, 13\)"),
        ({"categories": None}, r"categories is required"),
        ({"categories_rows": 10}, r"categories has 10 rows"),
        ({"chunk_users": 0}, r"chunk_users must be a positive integer"),
        ({"method": "calibration", "user_categories": np.ones((2, 12))}, r"\(3, 12\), got"),
        ({"method": "calibration", "user_categories": -np.ones((3, 12))}, r">= 0, got -1\.0"),
    ],
)
def test_bad_input_raises_config_error(kwargs, match, cats):
    with pytest.raises(ConfigError, match=match):
        call_with(kwargs, cats)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"similarity": "euclid"}, r"re-ranking similarity 'euclid'; valid choices: cosine, "),
        ({"method": "bogus"}, r"re-ranker 'bogus'; valid choices: calibration, dpp, mmr, xquad"),
        ({"method": "xquad", "variant": "hard"}, r"xQuAD variant 'hard'; .*binary, smooth"),
    ],
)
def test_unknown_names_raise_unknown_name_error(kwargs, match, cats):
    with pytest.raises(UnknownNameError, match=match):
        call_with(kwargs, cats)
