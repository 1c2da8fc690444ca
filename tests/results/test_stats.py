"""moorec.stats: intervals, tests and corrections against scipy and hand-computed values."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from moorec import stats
from moorec.errors import ConfigError, DataError, UnknownNameError


# ----------------------------------------------------------------------------- intervals
@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_bootstrap_interval_covers_a_known_mean_about_95_percent_of_the_time(method):
    # 400 samples of 20 values from N(0.2, 0.05^2), a hypervolume-like spread over runs.
    # The binomial standard deviation of a coverage of 0.95 over 400 repetitions is 0.011;
    # bootstrap intervals of the mean undercover a little at n = 20 (about 0.93 for normal
    # data, Efron and Tibshirani 1993, table 14.2), so the bound is 0.95 - 0.02 - 3 * 0.011
    # below and 0.95 + 3 * 0.011 above.
    rng = np.random.default_rng(0)
    hits = 0
    reps = 400
    for r in range(reps):
        x = rng.normal(0.2, 0.05, size=20)
        ci = stats.interval(x, method=method, n_resamples=999, seed=r)
        hits += ci.low <= 0.2 <= ci.high
    assert 0.897 <= hits / reps <= 0.983, hits / reps


def test_interval_fields_and_determinism():
    x = [0.21, 0.19, 0.2, 0.23, 0.18]
    a = stats.interval(x, seed=3)
    assert a == stats.interval(x, seed=3)  # same seed, same interval
    assert a.mean == pytest.approx(np.mean(x), abs=1e-15)
    assert a.std == pytest.approx(np.std(x, ddof=1), abs=1e-15)
    assert a.low < a.mean < a.high and (a.n, a.level, a.method) == (5, 0.95, "BCa")
    ref = sps.bootstrap(
        (np.array(x),), np.mean, n_resamples=9999, method="BCa", rng=np.random.default_rng(3)
    ).confidence_interval
    assert (a.low, a.high) == (ref.low, ref.high)
    same = stats.interval([0.3, 0.3, 0.3])
    assert (same.low, same.high, same.std) == (0.3, 0.3, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"values": [1.0]}, DataError, "at least 2 values, got 1"),
        ({"values": [1.0, float("nan")]}, DataError, "not finite"),
        ({"values": [[1.0, 2.0]]}, DataError, "1-d sequence"),
        ({"values": [1.0, 2.0], "level": 95}, ConfigError, r"level must be a number in \(0, 1\)"),
        ({"values": [1.0, 2.0], "method": "bca"}, ConfigError, r"choose from \('BCa', 'perc"),
    ],
)
def test_interval_refuses_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        stats.interval(**kwargs)


# --------------------------------------------------------------------- studies compared
def test_compare_runs_difference_interval_and_tests():
    a = [0.25, 0.26, 0.24, 0.255, 0.245]
    b = [0.20, 0.21, 0.19, 0.205, 0.195]
    c = stats.compare_runs(a, b, seed=0)
    assert c.difference == pytest.approx(0.05, abs=1e-12)
    assert c.low <= c.difference <= c.high and c.low > 0  # every a above every b
    # Mann-Whitney's exact two-sided p for 5 against 5 with no overlap: 2 / C(10, 5)
    assert c.mann_whitney_p == pytest.approx(2 / math.comb(10, 5), rel=1e-12)
    assert c.mann_whitney_p == sps.mannwhitneyu(a, b, alternative="two-sided").pvalue
    # 252 relabelings <= 9999: the permutation test is exact, the same two extremes
    assert c.permutation_p == pytest.approx(2 / 252, rel=1e-9)
    same = stats.compare_runs(a, a)
    assert same.difference == 0.0 and same.mann_whitney_p == pytest.approx(1.0)
    assert same.permutation_p == pytest.approx(1.0)


# ---------------------------------------------------------------------- paired, per user
# Multiples of 1/8, exact in binary: equal differences are equal floats, so ties are ties.
A = np.array([5, 2, 8, 0, 4, 6, 3, 7, 1, 8]) / 8
B = np.array([4, 3, 5, 0, 1, 7, 1, 6, 2, 4]) / 8


def test_paired_equals_scipy_and_hand_effect_sizes():
    r = stats.paired(A, B)
    t = sps.ttest_rel(A, B)
    w = sps.wilcoxon(A, B, zero_method="wilcox")
    assert (r.t_statistic, r.t_p) == (t.statistic, t.pvalue)
    assert (r.wilcoxon_statistic, r.wilcoxon_p) == (w.statistic, w.pvalue)
    d = A - B
    assert r.n == 10 and r.mean_difference == pytest.approx(d.mean(), abs=1e-15)
    assert r.cohens_dz == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    # By hand, in eighths: nonzero d = 1 -1 3 3 -1 2 1 -1 4; |d| ranks (ties averaged):
    # the five 1s -> 3 each; 2 -> 6; 3, 3 -> 7.5; 4 -> 9 (sum 45).
    # R- = 3 * 3 = 9 (the three -1s), R+ = 45 - 9 = 36; r = (36 - 9) / 45 = 0.6.
    assert r.rank_biserial == pytest.approx(0.6, rel=1e-12)
    back = stats.paired(B, A)
    assert back.rank_biserial == pytest.approx(-r.rank_biserial, rel=1e-12)
    assert back.wilcoxon_p == pytest.approx(r.wilcoxon_p, rel=1e-12)


def test_paired_degenerate_differences():
    same = stats.paired(A, A)
    assert (same.t_p, same.wilcoxon_p, same.cohens_dz, same.rank_biserial) == (1, 1, 0, 0)
    shifted = stats.paired(A + 0.25, A)
    assert math.isnan(shifted.t_p) and shifted.rank_biserial == 1.0
    assert shifted.wilcoxon_p == sps.wilcoxon(A + 0.25, A).pvalue


def test_paired_refuses_different_users():
    with pytest.raises(DataError, match="same users: 10 against 9"):
        stats.paired(A, B[:9])


# ---------------------------------------------------------------------------- Holm
def test_holm_by_hand():
    # sorted: .005 * 4 = .02; .01 * 3 = .03; .03 * 2 = .06; .04 * 1 = .04 -> max(.06, .04)
    got = stats.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    np.testing.assert_array_equal(stats.holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    got = stats.holm([0.02, float("nan"), 0.01])  # nan is not a comparison
    np.testing.assert_allclose(got[[0, 2]], [0.02, 0.02], rtol=1e-12)
    assert math.isnan(got[1])
    with pytest.raises(DataError, match=r"must lie in \[0, 1\]"):
        stats.holm([0.2, 1.5])


def test_significance_table_marks_and_corrects_over_the_table():
    rng = np.random.default_rng(1)
    ref = rng.uniform(0, 1, size=200)
    rows = {
        "ref": {"ndcg@10": ref, "ild@10": ref},
        "better": {"ndcg@10": ref + rng.uniform(0.05, 0.15, 200), "ild@10": ref},
        "noise": {"ndcg@10": ref + rng.normal(0, 0.01, 200), "ild@10": ref},
    }
    table = stats.significance_table(rows, "ref")
    by = {(r["row"], r["metric"]): r for r in table}
    assert len(table) == 6 and by[("ref", "ndcg@10")]["p"] is None
    assert by[("better", "ndcg@10")]["significant"]
    assert not by[("better", "ild@10")]["significant"]  # identical values: p = 1
    tested = [r for r in table if r["p"] is not None]
    np.testing.assert_allclose(
        [r["p_holm"] for r in tested], stats.holm([r["p"] for r in tested]), rtol=1e-12
    )
    with pytest.raises(UnknownNameError, match="reference row"):
        stats.significance_table(rows, "nope")
    with pytest.raises(ConfigError, match="unknown test 'z'"):
        stats.significance_table(rows, "ref", test="z")


# ------------------------------------------------------------------ attainment difference
def test_eaf_difference_by_hand_and_symmetric():
    # One run each, both objectives maximised: a's front (0.5, 0.5) attains the region below
    # it; b's (0.4, 0.4) a part of that. Where only a attains: +1 (all of a's runs, none of b's).
    rect = stats.eaf_difference([np.array([[0.5, 0.5]])], [np.array([[0.4, 0.4]])], [True, True])
    assert rect.shape[1] == 5
    assert set(rect[:, 4]) <= {1.0, 0.0}
    assert (rect[:, 4] == 1.0).any()
    for x0, y0, x1, y1, diff in rect:
        if diff == 1.0:  # inside a's attained region and outside b's
            hi_x, hi_y = max(x0, x1), max(y0, y1)
            assert hi_x <= 0.5 and hi_y <= 0.5 and (hi_x > 0.4 or hi_y > 0.4)
    rng = np.random.default_rng(0)
    fa = [rng.uniform(0, 1, size=(4, 2)) for _ in range(3)]
    fb = [rng.uniform(0, 1, size=(5, 2)) for _ in range(3)]
    ab = stats.eaf_difference(fa, fb, [True, False])
    ba = stats.eaf_difference(fb, fa, [True, False])

    def as_set(r):
        return {tuple(np.round(row, 12)) for row in r}

    assert as_set(ab[:, :4]) == as_set(ba[:, :4])
    swapped = ba.copy()
    swapped[:, 4] *= -1
    assert as_set(ab) == as_set(swapped)
    assert np.all(np.abs(ab[:, 4]) <= 1.0)


def test_eaf_difference_refuses_bad_fronts():
    with pytest.raises(DataError, match=r"fronts_a\[0\] must be \[n, 2\]"):
        stats.eaf_difference([np.zeros((2, 3))], [np.zeros((1, 2))], [True, True])
    with pytest.raises(DataError, match="as many runs in each study: 1 against 2"):
        stats.eaf_difference([np.zeros((1, 2))], [np.zeros((1, 2))] * 2, [True, True])
    with pytest.raises(ConfigError, match="needs 2 objectives"):
        stats.eaf_difference([np.zeros((1, 2))], [np.zeros((1, 2))], [True])
