"""The closed-form baselines (pop, itemknn, ease, rp3beta) against NumPy written from the papers.

Each model is checked on a hand-made data set against a brute-force reference built from its
paper's formula with plain loops; the blockwise top-k neighbourhoods against the dense matrix;
scoring paths against each other; the memory refusal; determinism; ``fit``'s one pass; the
executors; the search's handling of their settings; and, with the real data, the ml-100k
accuracy of the defaults through ``moorec train``.
"""

import json
import math
import resource

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from flax import nnx

import moorec as mr
import moorec.models.closed_form as closed_form
from moorec.data import Interactions
from moorec.errors import ConfigError, ResourceError, TrainingError, UnknownNameError
from moorec.executors import TrialSpec, make_executor, searchable_names
from moorec.executors.posthoc import StateCache
from moorec.models import count_params
from moorec.models.closed_form import binary_matrix, row_blocks
from moorec.models.ease import EASE
from moorec.models.neighbourhood import (
    ItemKNN,
    Pop,
    RP3beta,
    rp3beta_neighbours,
)
from moorec.models.persist import load, save
from moorec.objectives.latency import tie_order
from moorec.search import Integer, LogReal, Real, Space
from moorec.search.space import check_space_settings
from moorec.train import TrainConfig, fit
from moorec.train.population import fit_population

NAMES = ("pop", "itemknn", "ease", "rp3beta")

# 6 users x 5 items; user 5 has item 3 twice (a repeated interaction counts once in X).
HAND_USERS = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5]
HAND_ITEMS = [0, 1, 2, 0, 1, 1, 2, 3, 2, 3, 4, 0, 4, 3, 3]


@pytest.fixture
def hand():
    return Interactions(users=HAND_USERS, items=HAND_ITEMS, n_users=6, n_items=5)


def dense_x(train):
    """The 0/1 training matrix by hand."""
    x = np.zeros((train.n_users, train.n_items))
    x[train.users, train.items] = 1.0
    return x


def scores_of(model, users):
    return np.asarray(model.score(jnp.asarray(users, jnp.int32)))


def solved(cls, train, **kw):
    if cls is not Pop:  # the others score from the users' training items
        kw["train"] = train
    model = cls(train.n_users, train.n_items, **kw)
    model.solve(train)
    return model


# ----------------------------------------------------------------------------- by hand


def test_pop_scores_are_the_training_counts(hand):
    model = solved(Pop, hand)
    counts = [0] * 5
    for i in HAND_ITEMS:
        counts[i] += 1
    assert counts == [3, 3, 3, 4, 2]  # repeated interactions count each time
    np.testing.assert_array_equal(scores_of(model, [0, 3, 5]), np.tile(counts, (3, 1)))
    assert count_params(model) == 5


def test_pop_ties_rank_in_the_evaluators_order():
    """Items 0, 1, 2 tie; recommend ranks them in the seeded tie order, as the evaluator does."""
    train = Interactions(users=[0, 1, 2, 0, 1, 2, 3], items=[0, 1, 2, 5, 5, 5, 4], n_users=5,
                         n_items=6)  # fmt: skip
    model = solved(Pop, train)
    items, _ = mr.recommend(model, [4], k=5, exclude=train)
    order = list(tie_order(6, 0))
    counts = train.item_counts()
    want = sorted(range(6), key=lambda i: (-counts[i], order.index(i)))[:5]
    assert items[0].tolist() == want


def test_ease_b_is_the_closed_form(hand):
    lam = 2.0
    model = solved(EASE, hand, reg_weight=lam)
    x = dense_x(hand)
    g = x.T @ x
    p = np.linalg.inv(g + lam * np.eye(5))
    want = np.eye(5) - p @ np.diag(1.0 / np.diag(p))
    b = np.asarray(model.weight[...], np.float64)
    np.testing.assert_allclose(b, want, atol=1e-6)
    assert np.all(np.diag(b) == 0)
    # the optimality condition of Steck's derivation: off the diagonal,
    # (X^T X + lambda I) B - X^T X vanishes (the diagonal holds the Lagrange multipliers)
    grad = (g + lam * np.eye(5)) @ b - g
    np.testing.assert_allclose(grad - np.diag(np.diag(grad)), 0.0, atol=1e-5)
    np.testing.assert_allclose(scores_of(model, range(6)), x @ b, rtol=1e-5, atol=1e-6)
    assert count_params(model) == 25


def brute_cosine(x, shrink):
    """sim(i, j) = <x_i, x_j> / (||x_i|| ||x_j|| + shrink), zero diagonal, by loops."""
    n = x.shape[1]
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            dot = float(np.sum(x[:, i] * x[:, j]))
            if dot > 0:
                sim[i, j] = dot / (math.sqrt(x[:, i].sum()) * math.sqrt(x[:, j].sum()) + shrink)
    return sim


def brute_rp3(x, alpha, beta):
    """W[i, j] = sum_u (x_ui / deg i)^alpha (x_uj / deg u)^alpha / deg(j)^beta, by loops."""
    n_users, n = x.shape
    du, di = x.sum(axis=1), x.sum(axis=0)
    w = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            total = 0.0
            for u in range(n_users):
                if x[u, i] and x[u, j]:
                    total += (1.0 / di[i]) ** alpha * (1.0 / du[u]) ** alpha
            w[i, j] = total * di[j] ** -beta if total else 0.0
    return w


def top_k_by_column(w, k):
    """Keep the k largest positive entries of each column (ties: lower row first)."""
    out = np.zeros_like(w)
    for j in range(w.shape[1]):
        rows = sorted((i for i in range(w.shape[0]) if w[i, j] > 0), key=lambda i: (-w[i, j], i))
        for i in rows[:k]:
            out[i, j] = w[i, j]
    return out


@pytest.mark.parametrize("shrink", [0.0, 1.5])
@pytest.mark.parametrize("k", [1, 2, 10])
def test_itemknn_scores_are_the_shrunk_cosine_by_hand(hand, k, shrink):
    model = solved(ItemKNN, hand, k=k, shrink=shrink)
    x = dense_x(hand)
    w = top_k_by_column(brute_cosine(x, shrink), k)  # column j: the k neighbours of target j
    np.testing.assert_allclose(np.asarray(model.item_item()), w, rtol=1e-6)
    # score(u, j) = sum of sim(i, j) over the user's items i among j's neighbours
    want = np.array([[sum(w[i, j] for i in range(5) if x[u, i]) for j in range(5)]
                     for u in range(6)])  # fmt: skip
    np.testing.assert_allclose(scores_of(model, range(6)), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (0.5, 0.5), (1.3, 0.8)])
@pytest.mark.parametrize("k", [1, 2, 10])
def test_rp3beta_transitions_by_hand(hand, k, alpha, beta):
    model = solved(RP3beta, hand, k=k, alpha=alpha, beta=beta)
    x = dense_x(hand)
    w = top_k_by_column(brute_rp3(x, alpha, beta).T, k).T  # row i: the k targets of source i
    np.testing.assert_allclose(np.asarray(model.item_item()), w, rtol=1e-6)
    want = x @ w
    np.testing.assert_allclose(scores_of(model, range(6)), want, rtol=1e-6, atol=1e-7)


def test_p3_rows_are_transition_probabilities(hand):
    """alpha 1, beta 0: each row of W (plus the walk back to itself) is a distribution."""
    x = binary_matrix(hand)
    _, weight = rp3beta_neighbours(x, 10, alpha=1.0, beta=0.0)
    dense = dense_x(hand)
    back = [np.sum(dense[:, i] / dense.sum(axis=1)) / dense[:, i].sum() for i in range(5)]
    np.testing.assert_allclose(weight.sum(axis=1) + np.asarray(back), 1.0, rtol=1e-6)


# ----------------------------------------------------------------------------- sparse vs dense


def random_train(n_users, n_items, per_user, seed, skew=1.1):
    """Users draw ``per_user`` items from a Zipf-like popularity (repeats dropped)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** skew
    p = p[rng.permutation(n_items)]
    p /= p.sum()
    items = rng.choice(n_items, size=(n_users, per_user), p=p)
    users = np.repeat(np.arange(n_users), per_user)
    return Interactions(users=users, items=items.ravel(), n_users=n_users, n_items=n_items)


@pytest.mark.parametrize("cls", [ItemKNN, RP3beta])
def test_top_k_of_every_item_is_the_dense_matrix(cls, monkeypatch):
    """k >= n_items keeps everything: the lists are the full matrix, built in any blocks."""
    train = random_train(40, 30, 6, seed=1)
    x = dense_x(train)
    full = brute_cosine(x, 2.0) if cls is ItemKNN else brute_rp3(x, 0.8, 0.4)
    kw = {"shrink": 2.0} if cls is ItemKNN else {"alpha": 0.8, "beta": 0.4}
    model = solved(cls, train, k=100, **kw)
    assert model.neighbours.shape == (30, 29)
    np.testing.assert_allclose(np.asarray(model.item_item()), full, rtol=1e-6)
    monkeypatch.setattr(closed_form, "BLOCK_ENTRIES", 30)  # one row per block
    assert len(list(row_blocks(30, 30))) == 30
    blocky = solved(cls, train, k=100, **kw)
    np.testing.assert_array_equal(np.asarray(blocky.weights[...]), np.asarray(model.weights[...]))
    np.testing.assert_array_equal(
        np.asarray(blocky.neighbours[...]), np.asarray(model.neighbours[...])
    )


@pytest.mark.parametrize("cls", [ItemKNN, RP3beta])
def test_sparse_scoring_equals_dense_scoring(cls):
    train = random_train(50, 40, 8, seed=2)
    model = solved(cls, train, k=7)
    users = np.arange(50)
    assert model.dense_scoring
    dense = scores_of(model, users)
    model.dense_scoring = False  # the path of catalogues above DENSE_SCORING_ITEMS
    sparse = scores_of(model, users)
    np.testing.assert_allclose(sparse, dense, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dense, dense_x(train) @ np.asarray(model.item_item()), rtol=1e-5,
                               atol=1e-6)  # fmt: skip


def _check_rows_against_brute_force(model, train, items):
    """The kept lists of a few items against their column computed directly."""
    x = binary_matrix(train)
    xc = x.tocsc()
    deg_i = np.diff(xc.indptr).astype(np.float64)
    deg_u = np.diff(x.indptr).astype(np.float64)
    nbr, w = np.asarray(model.neighbours[...]), np.asarray(model.weights[...])
    for a in items:
        users = xc.indices[xc.indptr[a] : xc.indptr[a + 1]]
        if isinstance(model, ItemKNN):
            dots = np.asarray(x[users].sum(axis=0)).ravel()
            full = dots / (np.sqrt(deg_i[a]) * np.sqrt(deg_i) + model.shrink)
        else:
            walk = (x[users].multiply(((1.0 / deg_u[users]) ** model.alpha)[:, None])).sum(axis=0)
            full = np.asarray(walk).ravel() * (1.0 / max(deg_i[a], 1.0)) ** model.alpha
            penalty = np.zeros_like(deg_i)
            penalty[deg_i > 0] = deg_i[deg_i > 0] ** -model.beta
            full = full * penalty
        full[a] = 0.0
        best = np.sort(full[full > 0])[::-1][: w.shape[1]]
        kept = w[a][w[a] > 0]
        np.testing.assert_allclose(kept, best, rtol=1e-5)
        np.testing.assert_allclose(full[nbr[a][w[a] > 0]], kept, rtol=1e-5)


@pytest.mark.parametrize("cls", [ItemKNN, RP3beta])
def test_blockwise_neighbourhoods_at_20k_items(cls):
    train = random_train(4000, 20_000, 25, seed=3)
    model = cls(train.n_users, train.n_items, k=50, train=train)
    model.solve(train)
    assert model.neighbours.shape == (20_000, 50) and not model.dense_scoring
    _check_rows_against_brute_force(model, train, [0, 7, 123, 19_999])
    scores = scores_of(model, np.arange(8))
    assert scores.shape == (8, 20_000) and np.all(np.isfinite(scores))
    x = binary_matrix(train)[:8].toarray()
    nbr, wt = np.asarray(model.neighbours[...]), np.asarray(model.weights[...])
    own = np.repeat(np.arange(20_000), 50)
    rows, cols = (nbr.ravel(), own) if cls is ItemKNN else (own, nbr.ravel())
    w = sp.csr_matrix((wt.ravel(), (rows, cols)), shape=(20_000, 20_000))
    np.testing.assert_allclose(scores, np.asarray(x @ w), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [ItemKNN, RP3beta])
def test_blockwise_neighbourhoods_at_100k_items(cls):
    """100k items (a dense item-item float32 matrix would be 40 GB): lists of O(n k) only."""
    train = random_train(50_000, 100_000, 20, seed=4)
    model = cls(train.n_users, train.n_items, k=100, train=train)
    model.solve(train)
    assert model.weights.shape == (100_000, 100)
    _check_rows_against_brute_force(model, train, [0, 50_000, 99_999])
    scores = scores_of(model, np.arange(4))
    assert scores.shape == (4, 100_000) and np.all(np.isfinite(scores))
    # the whole test process stayed far below a 24 GiB machine (measured: about 0.7 GiB)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss: KiB
    assert peak_gib < 4, peak_gib


# ----------------------------------------------------------------------------- memory


def test_ease_refuses_a_catalogue_above_the_memory_limit(monkeypatch, hand):
    monkeypatch.setenv("MOOREC_MAX_DENSE_GB", "1")
    with pytest.raises(
        ResourceError,
        match=r"ease over 20,000 items needs about 5\.96 GiB .* above the limit of 1\.00 GiB; "
        r"use a smaller catalogue .*itemknn or rp3beta.*MOOREC_MAX_DENSE_GB",
    ):
        EASE(10, 20_000, train=Interactions(users=[0], items=[0], n_users=10, n_items=20_000))
    monkeypatch.delenv("MOOREC_MAX_DENSE_GB")
    with pytest.raises(ResourceError, match=r"ease over 100,000 items .* above the limit of 8"):
        EASE(10, 100_000)  # checked before anything else, train included
    monkeypatch.setenv("MOOREC_MAX_DENSE_GB", "0.000001")
    with pytest.raises(ResourceError, match=r"itemknn over 5 items .* neighbour lists"):
        ItemKNN(6, 5, train=hand)
    monkeypatch.setenv("MOOREC_MAX_DENSE_GB", "lots")
    with pytest.raises(ConfigError, match=r"MOOREC_MAX_DENSE_GB must be a positive .*'lots'"):
        EASE(6, 5, train=hand)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "settings", "match"),
    [
        ("itemknn", {"k": 0}, r"setting 'k' of model 'itemknn' must be a positive integer"),
        ("itemknn", {"k": 2.5}, r"'k' .* must be a positive integer, got 2\.5"),
        ("itemknn", {"shrink": -1.0}, r"'shrink' .* must be a finite number >= 0, got -1\.0"),
        ("rp3beta", {"alpha": float("nan")}, r"'alpha' .* finite number >= 0, got nan"),
        ("rp3beta", {"beta": "high"}, r"'beta' .* finite number >= 0, got 'high'"),
        ("ease", {"reg_weight": 0}, r"'reg_weight' .* must be a finite number > 0, got 0"),
    ],
)
def test_bad_settings_are_refused(hand, name, settings, match):
    with pytest.raises(ConfigError, match=match):
        mr.models.create(name, 6, 5, train=hand, **settings)


def test_bad_input_to_the_classes(hand):
    with pytest.raises(ConfigError, match=r"shrink must be a finite number >= 0, got -2"):
        ItemKNN(6, 5, shrink=-2, train=hand)
    with pytest.raises(ConfigError, match=r"reg_weight must be a finite number > 0, got 0\.0"):
        EASE(6, 5, reg_weight=0.0, train=hand)
    with pytest.raises(ConfigError, match=r"ease is computed from the training interactions"):
        EASE(6, 5)
    with pytest.raises(ConfigError, match=r"train has 6 users x 5 items, .* 6 x 7"):
        RP3beta(6, 7, train=hand)
    with pytest.raises(UnknownNameError, match=r"setting of model 'ease' 'lambda'.*reg_weight"):
        mr.models.create("ease", 6, 5, train=hand, **{"lambda": 1.0})
    model = solved(Pop, hand)
    with pytest.raises(TrainingError, match=r"closed form and has no training loss"):
        model.loss({}, {})


# ----------------------------------------------------------------------------- fit


@pytest.mark.parametrize("name", NAMES)
def test_fit_reports_one_pass(planted_split, name):
    result = mr.fit(planted_split, name)
    assert result.best_epoch == 1 and not result.stopped_early
    (row,) = result.history
    assert set(row) == {"epoch", "seconds", "valid"} and row["epoch"] == 1
    assert result.best_valid == row["valid"]
    if name != "pop":
        assert row["valid"] > 0.2  # planted groups: well above chance
    assert result.train_seconds >= result.first_epoch_seconds == row["seconds"] > 0
    # patience 0: solved, not validated
    quiet = fit(mr.models.create(name, planted_split.n_users, planted_split.n_items,
                                 train=planted_split.train),
                planted_split.train, TrainConfig(patience=0))  # fmt: skip
    assert math.isnan(quiet.best_valid) and set(quiet.history[0]) == {"epoch", "seconds"}
    a = mr.evaluate(result.model, planted_split, "test", ["ndcg@10"])
    b = mr.evaluate(quiet.model, planted_split, "test", ["ndcg@10"])
    assert a == b


def test_fit_is_deterministic_and_seed_free(planted_split):
    for name in NAMES:
        states = [
            jax.tree.leaves(nnx.state(mr.fit(planted_split, name, seed=s).model)) for s in (0, 0, 5)
        ]
        for a, b, c in zip(*states, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            np.testing.assert_array_equal(np.asarray(a), np.asarray(c))


def test_fit_refuses_training_settings_that_do_nothing(planted_split):
    with pytest.raises(
        ConfigError, match=r"'ease' is computed in closed form .*\['epochs', 'lr'\]"
    ):
        mr.fit(planted_split, "ease", epochs=5, lr=0.1)
    assert mr.models.defaults("ease") == {
        "split": "random",
        "train": {},
        "model": {"reg_weight": 350.0},
    }
    with pytest.raises(ConfigError, match=r"closed form .* fit each model with"):
        model = mr.models.create("pop", planted_split.n_users, planted_split.n_items)
        fit_population([model], planted_split.train, [TrainConfig()])


def test_no_validation_part_is_no_warning():
    data = random_train(30, 20, 6, seed=5)
    split = mr.split.random_ratio(data, (0.9, 0.1), seed=0)  # no validation part
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = mr.fit(split, "itemknn", k=5)
    assert math.isnan(result.best_valid)


# ----------------------------------------------------------------------------- state, reranking


@pytest.mark.parametrize("name", NAMES)
def test_state_cache_round_trip_and_reranking(planted_split, tmp_path, name):
    model = mr.fit(planted_split, name).model
    cache = StateCache(tmp_path)
    cache.put("key", model, {"train_seconds": 0.1, "best_epoch": 1, "epochs_run": 1})

    def fresh():
        return mr.models.create(name, planted_split.n_users, planted_split.n_items,
                                train=planted_split.train)  # fmt: skip

    back, _ = StateCache(tmp_path).get("key", fresh)
    users = np.arange(planted_split.n_users)
    np.testing.assert_array_equal(scores_of(back, users), scores_of(model, users))
    values = mr.evaluate(back, planted_split, "valid", ["ndcg@10", "ild@10"], rerank="mmr",
                         rerank_weight=0.5)  # fmt: skip
    assert set(values) == {"ndcg@10", "ild@10"}
    items, _ = mr.recommend(back, [0, 1, 1], k=5, exclude=planted_split.train)
    assert items.shape == (3, 5) and items[1].tolist() == items[2].tolist()


@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_score_the_same(planted_split, tmp_path, name):
    settings = {"k": 7} if name in ("itemknn", "rp3beta") else {}
    model = mr.fit(planted_split, name, **settings).model
    save(model, tmp_path / name, settings=settings, data=planted_split.train)
    back = load(tmp_path / name, data=planted_split.train)
    users = np.arange(planted_split.n_users)
    np.testing.assert_array_equal(scores_of(back, users), scores_of(model, users))


# ----------------------------------------------------------------------------- search


def test_settings_are_search_variables(planted_split, tmp_path):
    assert set(searchable_names("rp3beta")) >= {"k", "alpha", "beta", "patience"}
    assert "lr" not in searchable_names("ease") and "epochs" not in searchable_names("itemknn")
    check_space_settings("itemknn", Space(k=Integer(5, 50), shrink=Real(0.0, 100.0)), {})
    check_space_settings("ease", Space(reg_weight=LogReal(1.0, 1e4)), {})
    with pytest.raises(ConfigError, match=r"search variable 'k' takes integers"):
        check_space_settings("itemknn", Space(k=Real(5.0, 50.0)), {})
    with pytest.raises(ConfigError, match=r"'shrink' .* reaches -1\.0"):
        check_space_settings("itemknn", Space(shrink=Real(-1.0, 10.0)), {})
    with pytest.raises(UnknownNameError, match=r"'lr'"):
        mr.search.search(planted_split, Space(lr=LogReal(1e-3, 1e-1)), ["ndcg@10", "params"],
                         model="ease", out=tmp_path / "run", progress=False)  # fmt: skip


def test_a_search_over_rp3beta_settings(planted_split, tmp_path):
    space = Space(k=Integer(2, 40), beta=Real(0.0, 1.0))
    run = mr.search.search(planted_split, space, ["ndcg@10", "coverage@10"], model="rp3beta",
                           out=tmp_path / "run", pop_size=4, generations=2, seed=0,
                           progress=False)  # fmt: skip
    trials = run.trials()
    assert len(trials) >= 8 and all(t["status"] == "ok" for t in trials)
    assert len({(t["config"]["k"], t["config"]["beta"]) for t in trials}) > 1
    assert {t["best_epoch"] for t in trials} == {1}
    assert run.pareto_front()


CONFIGS = [{"reg_weight": 1.0}, {"reg_weight": 30.0}, {"reg_weight": 30.0, "rerank": "mmr",
                                                       "rerank_weight": 0.3}]  # fmt: skip


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_every_executor_gives_the_sequential_records(planted_split):
    spec = TrialSpec(planted_split, "ease", ("ndcg@10", "ild@10", "params"), {}, 0)
    with make_executor("sequential") as ex:
        ex.start(spec)
        want = ex.map(CONFIGS)
    assert [r["status"] for r in want] == ["ok"] * 3
    assert want[0]["valid"] != want[1]["valid"] != want[2]["valid"]
    assert want[0]["valid"]["params"] == planted_split.n_items**2
    for name, options in [("vectorized", {}), ("auto", {}), ("processes", {"workers": 2}),
                          ("dask", {"n_workers": 1})]:  # fmt: skip
        with make_executor(name, **options) as ex:
            ex.start(spec)
            got = ex.map(CONFIGS)
        for rec, ref in zip(got, want, strict=True):
            assert rec["status"] == "ok", (name, rec.get("reason"))
            assert rec["valid"] == ref["valid"], name
            assert (rec["best_epoch"], rec["epochs_run"]) == (1, 1)


# ----------------------------------------------------------------------------- real data

TARGETS = {"ease": 0.32, "itemknn": 0.28, "rp3beta": 0.28, "pop": 0.0}


@pytest.mark.realdata
def test_ml100k_targets_through_moorec_train(data_root, tmp_path):
    from moorec.cli import main

    for name, target in TARGETS.items():
        out = tmp_path / name
        argv = ["train", "--dataset", "ml-100k", "--data-path", str(data_root / "ml-100k"),
                "--model", name, "--seed", "0", "--no-progress", "--out", str(out),
                "--objectives", "ndcg@10", "hit@10"]  # fmt: skip
        assert main(argv) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["epochs_run"] == 1 and metrics["best_epoch"] == 1
        assert metrics["config"]["model_settings"] == mr.models.defaults(name)["model"]
        assert metrics["test"]["ndcg@10"] >= target, (name, metrics["test"])
