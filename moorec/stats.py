"""Intervals and tests for results that are compared: runs of a study, models on one split.

Three questions, three tools:

* **How sure is one number?** :func:`interval`: mean, standard deviation and a bootstrap
  confidence interval of values over repeated runs (hypervolume or IGD+ of each run's front),
  from :func:`scipy.stats.bootstrap` (BCa by default, Efron 1987; or the percentile interval).
* **Are two studies different?** :func:`compare_runs`: the difference of mean values with a
  bootstrap interval, a two-sided Mann-Whitney U test and a permutation test over runs, and
  :func:`eaf_difference`: where in objective space one study's fronts attain more often
  (the empirical attainment function difference of moocore, López-Ibáñez et al. 2010).
* **Are two models (or two front points) different on one split?** :func:`paired`: per-user
  paired t-test and Wilcoxon signed-rank test (scipy), with effect sizes (Cohen's ``d_z`` and
  the matched-pairs rank-biserial correlation, Kerby 2014); :func:`holm` corrects the p-values
  of a whole table for multiple comparisons (Holm 1979), and :func:`significance_table` does
  both for every row and metric against a reference row.

Every function works on values already measured (per-run indicator values, per-user metric
values): nothing here trains or ranks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from moorec.errors import ConfigError, DataError

__all__ = [
    "INTERVAL_METHODS",
    "Interval",
    "PairedTest",
    "RunComparison",
    "compare_runs",
    "eaf_difference",
    "holm",
    "interval",
    "paired",
    "significance_table",
]

INTERVAL_METHODS = ("BCa", "percentile")


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ConfigError(f"level must be a number in (0, 1), e.g. 0.95; got {level!r}")
    return float(level)


def _check_method(method: str) -> str:
    if method not in INTERVAL_METHODS:
        raise ConfigError(f"unknown interval method {method!r}; choose from {INTERVAL_METHODS}")
    return method


def _values(name: str, values, least: int) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise DataError(f"{name} must be a 1-d sequence of numbers, got shape {x.shape}")
    if len(x) < least:
        raise DataError(f"{name} needs at least {least} values, got {len(x)}")
    if not np.isfinite(x).all():
        raise DataError(f"{name} holds a value that is not finite: {x[~np.isfinite(x)][:3]}")
    return x


@dataclasses.dataclass(frozen=True)
class Interval:
    """Mean of values with a bootstrap confidence interval.

    Attributes:
        mean: the sample mean.
        std: the sample standard deviation (``ddof=1``; 0 for one value).
        low: lower end of the interval.
        high: upper end of the interval.
        level: confidence level (e.g. 0.95).
        method: ``"BCa"`` or ``"percentile"``.
        n: number of values.
    """

    mean: float
    std: float
    low: float
    high: float
    level: float
    method: str
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4f} [{self.low:.4f}, {self.high:.4f}]"


def interval(
    values: Sequence[float],
    *,
    level: float = 0.95,
    method: str = "BCa",
    n_resamples: int = 9999,
    seed: int = 0,
) -> Interval:
    """Mean, standard deviation and a bootstrap interval of the mean of ``values``.

    Args:
        values: ``[R]`` values, e.g. the final hypervolume of each of ``R`` runs (``R >= 2``).
        level: confidence level.
        method: ``"BCa"`` (bias-corrected and accelerated, Efron 1987) or ``"percentile"``.
        n_resamples: bootstrap resamples.
        seed: seed of the resampling (same seed, same interval).

    Returns:
        An :class:`Interval`. Values that are all equal give the degenerate interval
        ``[mean, mean]``.

    Raises:
        ConfigError: for a level outside ``(0, 1)`` or an unknown method.
        DataError: for fewer than 2 values or a value that is not finite.
    """
    from scipy import stats

    level = _check_level(level)
    method = _check_method(method)
    x = _values("values", values, 2)
    mean, std = float(np.mean(x)), float(np.std(x, ddof=1))
    if np.all(x == x[0]):
        return Interval(mean, std, mean, mean, level, method, len(x))
    res = stats.bootstrap(
        (x,),
        np.mean,
        confidence_level=level,
        method=method,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return Interval(mean, std, float(ci.low), float(ci.high), level, method, len(x))


@dataclasses.dataclass(frozen=True)
class RunComparison:
    """Two studies compared over their runs (``a`` minus ``b``).

    Attributes:
        difference: ``mean(a) - mean(b)``.
        low: lower end of the bootstrap interval of the difference (runs resampled within each
            study).
        high: upper end of that interval.
        mann_whitney_p: two-sided p-value of the Mann-Whitney U test.
        permutation_p: two-sided p-value of the permutation test of the difference of means.
        level: confidence level of the interval.
        n_a: runs of ``a``.
        n_b: runs of ``b``.
    """

    difference: float
    low: float
    high: float
    mann_whitney_p: float
    permutation_p: float
    level: float
    n_a: int
    n_b: int


def compare_runs(
    a: Sequence[float],
    b: Sequence[float],
    *,
    level: float = 0.95,
    method: str = "BCa",
    n_resamples: int = 9999,
    seed: int = 0,
) -> RunComparison:
    """Difference of two studies' mean values over runs, with an interval and two tests.

    The runs of one study are independent of the other's (different search seeds), so the
    tests are unpaired: Mann-Whitney U (:func:`scipy.stats.mannwhitneyu`) and a permutation
    test of the difference of means (:func:`scipy.stats.permutation_test`, exact when the
    number of relabelings is at most ``n_resamples``).

    Args:
        a: ``[R_a]`` values of study ``a`` (e.g. final hypervolume per run), ``R_a >= 2``.
        b: ``[R_b]`` values of study ``b``, ``R_b >= 2``.
        level: confidence level of the interval.
        method: ``"BCa"`` or ``"percentile"``.
        n_resamples: bootstrap resamples and permutations.
        seed: seed of the resampling.

    Returns:
        A :class:`RunComparison`.

    Raises:
        ConfigError, DataError: as :func:`interval`.
    """
    from scipy import stats

    level = _check_level(level)
    method = _check_method(method)
    x, y = _values("a", a, 2), _values("b", b, 2)
    diff = float(np.mean(x) - np.mean(y))

    def statistic(u, v, axis=-1):
        return np.mean(u, axis=axis) - np.mean(v, axis=axis)

    rng = np.random.default_rng(seed)
    if np.all(x == x[0]) and np.all(y == y[0]):
        low = high = diff
    else:
        ci = stats.bootstrap(
            (x, y),
            statistic,
            confidence_level=level,
            method=method,
            n_resamples=n_resamples,
            rng=rng,
        ).confidence_interval
        low, high = float(ci.low), float(ci.high)
    mw = float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
    perm = stats.permutation_test(
        (x, y),
        statistic,
        permutation_type="independent",
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=rng,
    )
    return RunComparison(diff, low, high, mw, float(perm.pvalue), level, len(x), len(y))


@dataclasses.dataclass(frozen=True)
class PairedTest:
    """Per-user paired comparison of ``a`` against ``b`` on one metric (``a - b``).

    Attributes:
        n: users.
        mean_difference: mean over users of ``a - b``.
        t_statistic: paired t statistic (:func:`scipy.stats.ttest_rel`).
        t_p: its two-sided p-value.
        wilcoxon_statistic: Wilcoxon signed-rank statistic (:func:`scipy.stats.wilcoxon`,
            zero differences dropped).
        wilcoxon_p: its two-sided p-value.
        cohens_dz: ``mean(d) / std(d, ddof=1)`` of the differences ``d``.
        rank_biserial: matched-pairs rank-biserial correlation ``(R+ - R-) / (R+ + R-)``
            over the ranks of ``|d|`` (zeros dropped), in ``[-1, 1]``.
    """

    n: int
    mean_difference: float
    t_statistic: float
    t_p: float
    wilcoxon_statistic: float
    wilcoxon_p: float
    cohens_dz: float
    rank_biserial: float


def paired(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Paired t-test and Wilcoxon signed-rank test of per-user values of two models.

    Args:
        a: ``[U]`` per-user values of model (or front point) ``a``, user ``u`` at index ``u``.
        b: ``[U]`` per-user values of ``b`` for the same users in the same order.

    Returns:
        A :class:`PairedTest`. Where every difference is 0 both p-values are 1 and the effect
        sizes 0; where the differences are all equal and not 0 the t-test is undefined
        (``nan``) and the Wilcoxon test still answers.

    Raises:
        DataError: for different lengths, fewer than 2 users or a value that is not finite.
    """
    from scipy import stats

    x, y = _values("a", a, 2), _values("b", b, 2)
    if len(x) != len(y):
        raise DataError(f"paired values need the same users: {len(x)} against {len(y)}")
    d = x - y
    mean = float(np.mean(d))
    nz = d[d != 0]
    if len(nz) == 0:
        return PairedTest(len(d), 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0)
    sd = float(np.std(d, ddof=1))
    if sd > 0:
        t = stats.ttest_rel(x, y)
        t_stat, t_p, dz = float(t.statistic), float(t.pvalue), mean / sd
    else:
        t_stat = t_p = dz = math.nan
    w = stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
    ranks = stats.rankdata(np.abs(nz))
    r_plus, r_minus = float(ranks[nz > 0].sum()), float(ranks[nz < 0].sum())
    rb = (r_plus - r_minus) / (r_plus + r_minus)
    return PairedTest(len(d), mean, t_stat, t_p, float(w.statistic), float(w.pvalue), dz, rb)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (Holm 1979), in the order given.

    With the ``m`` p-values sorted ascending as ``p_(1) <= ... <= p_(m)``, the adjusted value of
    ``p_(i)`` is ``max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting where the adjusted value
    is at most ``alpha`` controls the family-wise error rate at ``alpha``. ``nan`` p-values
    (undefined tests) stay ``nan`` and do not count in ``m``.

    Args:
        pvalues: ``[m]`` p-values in ``[0, 1]``.

    Returns:
        ``[m]`` float64 adjusted p-values.

    Raises:
        DataError: for a p-value outside ``[0, 1]``.
    """
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise DataError(f"p-values must lie in [0, 1], got {p[ok][(p[ok] < 0) | (p[ok] > 1)]}")
    out = np.full_like(p, np.nan)
    idx = np.flatnonzero(ok)
    order = idx[np.argsort(p[idx], kind="stable")]
    m = len(order)
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def significance_table(
    per_user: Mapping[str, Mapping[str, Sequence[float]]],
    reference: str,
    *,
    test: str = "wilcoxon",
    alpha: float = 0.05,
) -> list[dict]:
    """Every row against a reference row, per metric, Holm-corrected over the whole table.

    Args:
        per_user: ``{row name: {metric key: [U] per-user values}}``; every row holds the same
            metrics over the same users.
        reference: the row the others are compared with.
        test: ``"wilcoxon"`` or ``"t"``: whose p-value is corrected and marked.
        alpha: family-wise error rate of the marks.

    Returns:
        One dict per row and metric (the reference's own rows have no test):
        ``{"row", "metric", "mean", "difference", "p", "p_holm", "significant", "effect"}``
        where ``effect`` is the rank-biserial correlation (Wilcoxon) or ``d_z`` (t).

    Raises:
        UnknownNameError: for a reference that is not a row.
        ConfigError: for an unknown test or an alpha outside ``(0, 1)``.
        DataError: for rows whose metrics or users differ.
    """
    from moorec.errors import UnknownNameError

    if reference not in per_user:
        raise UnknownNameError("reference row", reference, list(per_user))
    if test not in ("wilcoxon", "t"):
        raise ConfigError(f"unknown test {test!r}; choose from ('wilcoxon', 't')")
    _check_level(alpha)
    metrics = list(per_user[reference])
    rows, pvals = [], []
    for name, values in per_user.items():
        if list(values) != metrics:
            raise DataError(f"row {name!r} has metrics {list(values)}, the reference {metrics}")
        for key in metrics:
            v = np.asarray(values[key], dtype=np.float64)
            row = {"row": name, "metric": key, "mean": float(np.mean(v))}
            if name == reference:
                row.update(difference=0.0, p=None, p_holm=None, significant=False, effect=None)
            else:
                r = paired(v, per_user[reference][key])
                p = r.wilcoxon_p if test == "wilcoxon" else r.t_p
                effect = r.rank_biserial if test == "wilcoxon" else r.cohens_dz
                row.update(difference=r.mean_difference, p=p, effect=effect)
                pvals.append((len(rows), p))
            rows.append(row)
    adjusted = holm([p for _, p in pvals])
    for (i, _), q in zip(pvals, adjusted, strict=True):
        rows[i]["p_holm"] = None if math.isnan(q) else float(q)
        rows[i]["significant"] = bool(not math.isnan(q) and q <= alpha)
    return rows


def eaf_difference(
    fronts_a: Sequence[np.ndarray],
    fronts_b: Sequence[np.ndarray],
    maximize: Sequence[bool],
) -> np.ndarray:
    """Empirical attainment difference of two studies' fronts (two objectives).

    The EAF of a study gives, for each point of objective space, the fraction of its runs
    whose front attains (weakly dominates) it. The difference ``EAF_a - EAF_b`` is computed
    by :func:`moocore.eafdiff` and returned as rectangles of constant difference.

    Args:
        fronts_a: one ``[n_r, 2]`` array of objective values per run of study ``a``.
        fronts_b: the same for study ``b``.
        maximize: per objective, whether larger is better.

    Returns:
        ``[R, 5]`` float64: ``x_low, y_low, x_high, y_high, diff`` per rectangle, ``diff`` the
        fraction of ``a``'s runs minus the fraction of ``b``'s that attain it (positive where
        ``a`` is better; in ``[-1, 1]``). Swapping ``a`` and ``b`` negates ``diff``.

    Raises:
        DataError: for a front that is not ``[n, 2]`` with ``n >= 1``, or no runs.
        ConfigError: for ``maximize`` not of length 2.
    """
    import moocore

    if len(maximize) != 2:
        raise ConfigError(f"eaf_difference needs 2 objectives, got maximize={list(maximize)}")

    def stacked(name, fronts):
        if len(fronts) == 0:
            raise DataError(f"{name} holds no runs")
        parts = []
        for r, f in enumerate(fronts, start=1):
            f = np.asarray(f, dtype=np.float64)
            if f.ndim != 2 or f.shape[1] != 2 or len(f) == 0:
                raise DataError(f"{name}[{r - 1}] must be [n, 2] with n >= 1, got {f.shape}")
            parts.append(np.column_stack([f, np.full(len(f), r)]))
        return np.vstack(parts), len(fronts)

    x, n_a = stacked("fronts_a", fronts_a)
    y, n_b = stacked("fronts_b", fronts_b)
    if n_a != n_b:
        # moocore counts sets; equal weights need equal run counts.
        raise DataError(f"eaf_difference needs as many runs in each study: {n_a} against {n_b}")
    rect = moocore.eafdiff(x, y, maximise=[bool(m) for m in maximize], rectangles=True)
    out = np.asarray(rect, dtype=np.float64)
    out[:, 4] /= n_a
    return out
