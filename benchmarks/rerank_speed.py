"""Re-ranking speed on ml-100k: jitted moorec.rerank against a per-user NumPy loop.

BPR-MF (embedding 64) trained briefly on ml-100k (random 8:1:1 per user, seed 0; quality is
irrelevant here) gives each validation user's top-``N`` = 100 candidates, training items
excluded. Each re-ranker (MMR and DPP with the Jaccard similarity of the items' genres,
calibration on the genres, Binary xQuAD over head and tail) re-ranks them into a top-``K`` = 10
list.

For one weight, the jitted ``moorec.rerank.rerank`` call over all validation users is timed
after warm-up (results fetched to NumPy), the median of ``--repeats`` calls; its compile time
is the first call's time less that median. The baseline is the way recommender libraries
implement these re-rankers: a Python loop over users, NumPy (float64) inside, the greedy
steps over the ``N`` candidates vectorised; it runs in the same process on the same inputs,
and the fraction of users whose two lists are identical is reported (float32 against float64
may flip near ties). "program" is the jitted per-chunk program alone (``rerank_chunk``, all
users in one chunk, inputs already on the device), without the public call's input checks,
padding and transfers. Both sides are timed in ``--runs`` alternating blocks, each after its
own warm-up; the speed-up is the median over the runs of each run's ratio of medians, with
its range beside it (on a shared machine a slow spell then costs one run of both sides, not
one side). Then each method sweeps 64 weights over all validation users in one call (one
program, the selection vmapped over the weights), timed the same way.

Targets: the jitted re-rankers at least 50x the NumPy loop; MMR over 64 weights under 1 s.

    python benchmarks/rerank_speed.py [--repeats 15] [--runs 5] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import data_root, median, save

import moorec as mr
import moorec.rerank as rr
from moorec.objectives.metrics import long_tail_mask
from moorec.rerank.kernels import CALIBRATION_SMOOTHING, DPP_EPS
from moorec.rerank.similarity import pack_categories

N, K, WEIGHT, SWEEP = 100, 10, 0.5, 64
SPEEDUP_TARGET, SWEEP_TARGET_SECONDS = 50.0, 1.0


# ---------------------------------------------------------------------------------------------
# per-user NumPy baselines (float64; one user at a time, the greedy steps vectorised over N)
# ---------------------------------------------------------------------------------------------
def np_relevance(s: np.ndarray) -> np.ndarray:
    span = s.max() - s.min()
    return (s - s.min()) / span if span > 0 else np.ones_like(s)


def np_jaccard(x: np.ndarray) -> np.ndarray:
    inter = x @ x.T
    size = x.sum(1)
    den = size[:, None] + size[None, :] - inter
    empty = size == 0
    sim = np.where(den > 0, inter / np.where(den > 0, den, 1.0), empty[:, None] & empty[None, :])
    np.fill_diagonal(sim, 1.0)
    return sim


def np_mmr(s, it, w, ctx):
    rel, sim = np_relevance(s), np_jaccard(ctx["cats"][it])
    chosen, maxsim, out = np.zeros(len(s), bool), np.zeros(len(s)), []
    for _ in range(K):
        val = (1.0 - w) * rel - w * maxsim
        val[chosen] = -np.inf
        i = int(np.argmax(val))
        chosen[i] = True
        maxsim = np.maximum(maxsim, sim[i])
        out.append(i)
    return out


def np_dpp(s, it, w, ctx):
    """Chen, Zhang and Zhou (NeurIPS 2018), Algorithm 1, with moorec's gain and stopping."""
    rel, sim = np_relevance(s), np_jaccard(ctx["cats"][it])
    theta = 1.0 - w
    n = len(s)
    chosen, c, d2, out, stopped = (
        np.zeros(n, bool),
        np.zeros((K, n)),
        np.diag(sim).copy(),
        [],
        False,
    )
    for t in range(K):
        eligible = ~chosen & ((d2 > DPP_EPS) | (w == 0))
        stopped = stopped or not eligible.any()
        if stopped:
            val = np.where(chosen, -np.inf, rel)
        else:
            val = np.where(eligible, theta * rel + w * np.log(np.maximum(d2, DPP_EPS)), -np.inf)
        i = int(np.argmax(val))
        if not stopped and d2[i] > DPP_EPS:
            e = (sim[i] - c[:t].T @ c[:t, i]) / np.sqrt(d2[i])
            c[t], d2 = e, d2 - e * e
        chosen[i] = True
        out.append(i)
    return out


def np_calibration(s, it, w, ctx, u):
    rel = np_relevance(s)
    x = ctx["cats"][it]
    size = x.sum(1, keepdims=True)
    pci = np.divide(x, size, out=np.zeros_like(x), where=size > 0)
    p = ctx["user_categories"][u]
    has = p > 0
    ph, a = p[has], CALIBRATION_SMOOTHING
    chosen, qsum, out = np.zeros(len(s), bool), np.zeros(x.shape[1]), []
    for t in range(K):
        q = (qsum[has] + pci[:, has]) / (t + 1.0)
        kl = (ph * (np.log(ph) - np.log((1 - a) * q + a * ph))).sum(1)
        val = (1.0 - w) * rel - w * kl
        val[chosen] = -np.inf
        i = int(np.argmax(val))
        chosen[i] = True
        qsum += pci[i]
        out.append(i)
    return out


def np_xquad(s, it, w, ctx, u):
    rel = np_relevance(s)
    tail = ctx["tail"][it]
    member = np.stack([~tail, tail], 1).astype(np.float64)
    pcu = ctx["user_groups"][u]
    chosen, count, out = np.zeros(len(s), bool), np.zeros(2), []
    for _ in range(K):
        val = (1.0 - w) * rel + w * (member @ (pcu * (count == 0)))
        val[chosen] = -np.inf
        i = int(np.argmax(val))
        chosen[i] = True
        count += member[i]
        out.append(i)
    return out


NUMPY = {
    "mmr": lambda s, it, w, ctx, u: np_mmr(s, it, w, ctx),
    "dpp": lambda s, it, w, ctx, u: np_dpp(s, it, w, ctx),
    "calibration": np_calibration,
    "xquad": np_xquad,
}


def numpy_loop(method: str, scores: np.ndarray, items: np.ndarray, w: float, ctx: dict):
    one = NUMPY[method]
    return np.array([one(scores[u], items[u], w, ctx, u) for u in range(len(scores))])


def timed(fn, repeats: int) -> tuple[float, list[float], object]:
    """``(first call seconds, seconds of repeats later calls, last result)``."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return first, times, out


def program(method: str, scores, items, weights, kw: dict):
    """The jitted per-chunk program alone, all users in one chunk, inputs already on device."""
    extra = {}
    if method == "xquad":
        feats, side = jnp.asarray(kw["tail"], bool), jnp.asarray(kw["user_groups"])
    else:
        feats = jnp.asarray(pack_categories(kw["categories"]))  # as rr.rerank passes them
        side = None
        if method == "calibration":
            side = jnp.asarray(kw["user_categories"])
            extra["max_categories"] = int(np.asarray(kw["categories"]).sum(axis=1).max())
    args = (jnp.asarray(scores), jnp.asarray(items, jnp.int32), jnp.asarray(weights, jnp.float32))

    def run():
        out = rr.rerank_chunk(*args, feats, side, method=method, k=K, **extra)
        return jax.block_until_ready(out)

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15, help="timed calls per run and side")
    p.add_argument("--runs", type=int, default=5, help="alternating runs of both sides")
    p.add_argument("--out", default="benchmarks/results/rerank_speed.json")
    p.add_argument("--epochs", type=int, default=20, help="BPR-MF epochs (quality is irrelevant)")
    args = p.parse_args()

    root = data_root()
    if root is None:
        raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")
    data = mr.datasets.load("ml-100k", path=root / "ml-100k")
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    t0 = time.perf_counter()
    model = mr.fit(split, "bpr", dim=64, epochs=args.epochs, seed=0, progress=False).model
    fit_seconds = time.perf_counter() - t0
    users = np.unique(split.valid.users).astype(np.int32)
    items, scores = mr.recommend(model, users, k=N, exclude=split.train)
    if not np.isfinite(scores).all():
        raise SystemExit("a validation user has fewer than N unknown items")
    cats = data.item_features.categories
    tail = np.asarray(long_tail_mask(split.train.item_counts()))
    side = {
        "mmr": {"categories": cats},
        "dpp": {"categories": cats},
        "calibration": {
            "categories": cats,
            "user_categories": rr.history_category_distribution(split.train, users, cats),
        },
        "xquad": {"tail": tail, "user_groups": rr.history_group_share(split.train, users, tail)},
    }
    ctx = {
        "cats": cats.astype(np.float64),
        "tail": tail,
        "user_categories": side["calibration"]["user_categories"].astype(np.float64),
        "user_groups": side["xquad"]["user_groups"].astype(np.float64),
    }
    n_users = len(users)
    print(
        f"{data.summary()}; BPR-MF {args.epochs} epochs ({fit_seconds:.1f} s); "
        f"{n_users} validation users, N={N} candidates, K={K}, {cats.shape[1]} genres"
    )

    methods, sweeps = {}, {}
    head = f"{'method':<12}{'jitted u/s':>12}{'NumPy u/s':>11}{'speed-up':>10}"
    print(
        f"one weight (w = {WEIGHT}), {args.runs} runs of {args.repeats} calls; speed-up: "
        "median over the runs (range beside it)"
    )
    print(f"{head}{'per run':>14}{'compile s':>11}{'identical':>11}{'program u/s':>13}")
    # --runs blocks of each side, alternating: a slow spell of the machine then shows as one
    # slow run of both sides, not as a bias of one of them
    raw = {m: {"jit": [], "numpy": [], "program": [], "first": None} for m in rr.METHODS}
    for run in range(args.runs):
        for method in rr.METHODS:
            kw = side[method]
            first, times, got = timed(
                lambda m=method, kw=kw: rr.rerank(scores, items, WEIGHT, method=m, k=K, **kw),
                args.repeats,
            )
            _, np_times, want = timed(
                lambda m=method: numpy_loop(m, scores, items, WEIGHT, ctx),
                max(1, args.repeats // 2),
            )
            _, prog_times, _ = timed(
                program(method, scores, items, np.array([WEIGHT]), kw), args.repeats
            )
            r = raw[method]
            r["jit"].append(times)
            r["numpy"].append(np_times)
            r["program"].append(prog_times)
            if run == 0:
                r["first"] = first
                r["same"] = float(np.mean(np.all(got.positions == want, axis=1)))
    for method in rr.METHODS:
        r = raw[method]
        per_run = [median(n) / median(j) for n, j in zip(r["numpy"], r["jit"], strict=True)]
        times = [t for ts in r["jit"] for t in ts]
        np_times = [t for ts in r["numpy"] for t in ts]
        prog_times = [t for ts in r["program"] for t in ts]
        jit_s, np_s, prog_s = median(times), median(np_times), median(prog_times)
        speedup = median(per_run)
        same = r["same"]
        methods[method] = {
            "jitted_seconds_median": jit_s,
            "jitted_seconds_all": times,
            "jitted_users_per_second": n_users / jit_s,
            "first_call_seconds": r["first"],
            "compile_seconds": r["first"] - median(r["jit"][0]),
            "program_seconds_median": prog_s,
            "program_users_per_second": n_users / prog_s,
            "numpy_seconds_median": np_s,
            "numpy_seconds_all": np_times,
            "numpy_users_per_second": n_users / np_s,
            "speedup": speedup,
            "speedup_per_run": per_run,
            "speedup_target_met": speedup >= SPEEDUP_TARGET,
            "identical_list_fraction": same,
        }
        r = methods[method]
        print(
            f"{method:<12}{r['jitted_users_per_second']:>12,.0f}"
            f"{r['numpy_users_per_second']:>11,.0f}{r['speedup']:>9.1f}x"
            f"{min(per_run):>7.1f}-{max(per_run):<6.1f}"
            f"{r['compile_seconds']:>11.2f}{same:>11.3f}{r['program_users_per_second']:>13,.0f}"
        )

    weights = np.linspace(0.0, 1.0, SWEEP)
    print(f"{SWEEP} weights x {n_users} users in one call, median of {args.repeats} calls")
    for method in rr.METHODS:
        kw = side[method]
        first, times, got = timed(
            lambda m=method, kw=kw: rr.rerank(scores, items, weights, method=m, k=K, **kw),
            args.repeats,
        )
        s = median(times)
        per_weight = methods[method]["numpy_seconds_median"]
        sweeps[method] = {
            "seconds_median": s,
            "seconds_all": times,
            "first_call_seconds": first,
            "compile_seconds": first - s,
            "user_weight_lists_per_second": SWEEP * n_users / s,
            "numpy_loop_seconds_extrapolated": SWEEP * per_weight,
        }
        print(
            f"{method:<12}{s:8.3f} s  (compile {first - s:.2f} s; NumPy loop, "
            f"extrapolated from one weight: {SWEEP * per_weight:.1f} s)"
        )

    mmr_sweep = sweeps["mmr"]["seconds_median"]
    targets = {
        "jitted_speedup_at_least": SPEEDUP_TARGET,
        "speedup_met": {m: r["speedup_target_met"] for m, r in methods.items()},
        "speedup_margin": {m: r["speedup"] / SPEEDUP_TARGET for m, r in methods.items()},
        "mmr_sweep_seconds_under": SWEEP_TARGET_SECONDS,
        "mmr_sweep_met": mmr_sweep < SWEEP_TARGET_SECONDS,
        "mmr_sweep_margin": SWEEP_TARGET_SECONDS / mmr_sweep,
    }
    for m, r in methods.items():
        verdict = "met" if r["speedup_target_met"] else "not met"
        print(f"target >= {SPEEDUP_TARGET:.0f}x, {m}: {r['speedup']:.1f}x, {verdict}")
    verdict = "met" if targets["mmr_sweep_met"] else "not met"
    print(
        f"target MMR {SWEEP} weights < {SWEEP_TARGET_SECONDS:.0f} s: {mmr_sweep:.3f} s, {verdict} "
        f"({targets['mmr_sweep_margin']:.1f}x under)"
    )
    figures = {
        "dataset": data.summary(),
        "protocol": (
            "ml-100k random 8:1:1 per user (seed 0); BPR-MF dim 64; validation users' top-100 "
            "candidates, training items excluded; K=10; genres as categories (Jaccard for "
            "MMR/DPP); Binary xQuAD over the 20% head; NumPy baseline: Python loop over "
            "users, float64 NumPy inside"
        ),
        "n_users": n_users,
        "n_candidates": N,
        "k": K,
        "weight": WEIGHT,
        "repeats": args.repeats,
        "runs": args.runs,
        "bpr_epochs": args.epochs,
        "one_weight": methods,
        "sweep_weights": SWEEP,
        "sweep": sweeps,
        "targets": targets,
    }
    path = save(args.out, "rerank_speed", figures)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
