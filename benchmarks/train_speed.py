"""BPR-MF on ml-100k: seconds per epoch, seconds per full-ranking evaluation, compile times.

Protocol (RecBole's general-recommendation defaults): all 100k ratings as implicit feedback,
random 8:1:1 split per user, embedding 64, batch 2048, Adam lr 1e-3, one uniform negative per
positive, full ranking over the catalogue, early stopping after 10 epochs without a better
validation NDCG@10.

Baselines run in the same process: an epoch driven from Python (one jitted step per batch with
NumPy-drawn negatives) against moorec's fused epoch, and a NumPy full-ranking evaluation against
the jitted one. RecBole 1.2.1 on a 2-core machine of the same kind took 0.42 s per epoch and
0.27 s per evaluation (../shared/REFERENCES.md); those figures are quoted, not rerun here.

    python benchmarks/train_speed.py [--out benchmarks/results/train_speed.json] [--no-accuracy]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _common import data_root, median, save, time_calls
from flax import nnx

import moorec as mr
from moorec.objectives import Evaluator
from moorec.train import PairData, TrainConfig, optimizer, train_epoch
from moorec.train.sampling import epoch_order

RECBOLE = {
    "epoch_seconds": 0.42,
    "eval_seconds": 0.27,
    "test_ndcg@10": 0.293,
    "test_recall@10": 0.247,
}


def load_ml100k():
    root = data_root()
    if root is None:
        raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")
    return mr.datasets.load("ml-100k", path=root / "ml-100k")


def python_loop_epoch(model, data, tx, params, opt_state, rng, batch_size):
    """Baseline: one jitted step per batch, negatives drawn with NumPy (no rejection)."""
    graphdef, _, rest = nnx.split(model, nnx.Param, ...)

    @jax.jit
    def step(p, o, u, i, j, w):
        def loss_fn(p):
            m = nnx.merge(graphdef, p, rest)
            batch = {"user": u, "pos": i, "neg": j, "weight": w, "pos_pop": pop[i]}
            return m.loss(batch, {"l2": jnp.float32(0), "pop_weight": jnp.float32(0)})

        loss, g = jax.value_and_grad(loss_fn)(p)
        up, o = tx.update(g, o, p)
        return optax.apply_updates(p, up), o, loss

    users, items = np.asarray(data.users), np.asarray(data.items)
    pop = data.item_pop

    def run():
        nonlocal params, opt_state
        order, weight = epoch_order(len(users), batch_size, rng)
        loss = None
        for b in range(order.shape[0]):
            rows = order[b]
            neg = rng.integers(0, data.n_items, batch_size, dtype=np.int32)
            params, opt_state, loss = step(
                params, opt_state, users[rows], items[rows], neg, weight[b]
            )
        return loss

    return run


def numpy_eval(model, ev: Evaluator, known_csr):
    """Baseline: the same full ranking in NumPy (matrix product, mask, argpartition)."""
    ue, ie = np.asarray(model.user_emb[...]), np.asarray(model.item_emb[...])
    indptr, indices = known_csr
    users = ev.users
    rows = np.repeat(np.arange(len(users)), indptr[users + 1] - indptr[users])
    cols = np.concatenate([indices[indptr[u] : indptr[u + 1]] for u in users])

    def run():
        s = ue[users] @ ie.T
        s[rows, cols] = -np.inf
        part = np.argpartition(-s, ev.k, axis=1)[:, : ev.k]
        order = np.take_along_axis(s, part, 1).argsort(1)[:, ::-1]
        return np.take_along_axis(part, order, 1)

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/train_speed.json")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-accuracy", action="store_true", help="skip the early-stopped fits")
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="seeds (split, init, sampling) of the early-stopped fits",
    )
    args = p.parse_args()

    data = load_ml100k()
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=args.seed)
    cfg = TrainConfig(seed=args.seed)
    model = mr.models.create("bpr", data.n_users, data.n_items, seed=args.seed, dim=64)
    pdata = PairData.from_interactions(split.train)
    tx = optimizer("adam")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt_state = tx.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.float32(cfg.lr)
    hp = cfg.hparams(model.hparam_names, model.hparam_defaults)
    rng = np.random.default_rng(args.seed)
    order, weight = epoch_order(len(pdata), cfg.batch_size, rng)
    key = jax.random.key(args.seed)

    t0 = time.perf_counter()
    train_epoch.lower(
        graphdef,
        params,
        rest,
        opt_state,
        pdata,
        order,
        weight,
        key,
        hp,
        tx=tx,
        neg_rounds=cfg.neg_rounds,
    ).compile()
    compile_epoch = time.perf_counter() - t0

    state = {"params": params, "opt": opt_state, "e": 0}

    def fused_epoch(neg_rounds: int):
        def run():
            state["e"] += 1
            o, w = epoch_order(len(pdata), cfg.batch_size, rng)
            state["params"], state["opt"], losses = train_epoch(
                graphdef,
                state["params"],
                rest,
                state["opt"],
                pdata,
                o,
                w,
                jax.random.fold_in(key, state["e"]),
                hp,
                tx=tx,
                neg_rounds=neg_rounds,
            )
            return losses

        return run

    rounds = cfg.neg_rounds
    epoch_times = time_calls(fused_epoch(rounds), args.repeats, warmup=2)
    no_rejection_times = time_calls(fused_epoch(0), args.repeats, warmup=2)
    base_params, base_opt = nnx.state(model, nnx.Param), tx.init(nnx.state(model, nnx.Param))
    base_opt.hyperparams["learning_rate"] = jnp.float32(cfg.lr)
    loop = python_loop_epoch(model, pdata, tx, base_params, base_opt, rng, cfg.batch_size)
    loop_times = time_calls(loop, max(5, args.repeats // 2), warmup=1)

    nnx.update(model, state["params"], rest)
    ev = Evaluator(split, "valid", ["ndcg@10"])
    t0 = time.perf_counter()
    ev.rank(model)
    compile_eval = time.perf_counter() - t0  # first call: compile + one run
    eval_rank_times = time_calls(lambda: ev.rank(model), args.repeats)
    eval_metric = ev.metric("ndcg@10")
    eval_times = time_calls(lambda: eval_metric(model), args.repeats)
    np_times = time_calls(numpy_eval(model, ev, mr.data.csr_by_user(split.train)), args.repeats)

    figures = {
        "dataset": data.summary(),
        "protocol": "RecBole general: random 8:1:1 per user, full ranking, dim 64, batch 2048",
        "epoch_seconds_median": median(epoch_times),
        "epoch_seconds_all": epoch_times,
        "epoch_compile_seconds": compile_epoch,
        "epoch_no_rejection_seconds_median": median(no_rejection_times),
        "neg_rounds": rounds,
        "baseline_python_loop_epoch_seconds_median": median(loop_times),
        "eval_seconds_median": median(eval_times),
        "eval_rank_only_seconds_median": median(eval_rank_times),
        "eval_first_call_seconds": compile_eval,
        "baseline_numpy_eval_seconds_median": median(np_times),
        "recbole_reference": RECBOLE,
        "speedup_vs_recbole": {
            "epoch": RECBOLE["epoch_seconds"] / median(epoch_times),
            "eval": RECBOLE["eval_seconds"] / median(eval_times),
        },
    }
    print(f"{data.summary()}")
    print(
        f"epoch (fused, jitted)       {median(epoch_times) * 1e3:8.1f} ms  "
        f"(compile {compile_epoch:.2f} s)"
    )
    print(f"epoch (fused, no redraws)   {median(no_rejection_times) * 1e3:8.1f} ms")
    print(
        f"epoch (python loop baseline){median(loop_times) * 1e3:8.1f} ms  "
        "(NumPy negatives, no redraws)"
    )
    print(
        f"full evaluation (NDCG@10)   {median(eval_times) * 1e3:8.1f} ms  "
        f"(ranking only {median(eval_rank_times) * 1e3:.1f} ms; first call {compile_eval:.2f} s)"
    )
    print(f"full evaluation (NumPy)     {median(np_times) * 1e3:8.1f} ms")
    print(
        f"vs RecBole 1.2.1 (0.42 s/epoch, 0.27 s/eval): "
        f"{figures['speedup_vs_recbole']['epoch']:.1f}x per epoch, "
        f"{figures['speedup_vs_recbole']['eval']:.1f}x per evaluation"
    )

    if not args.no_accuracy:
        runs = []
        for seed in args.seeds:
            sp = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=seed)
            t0 = time.perf_counter()
            result = mr.fit(sp, "bpr", dim=64, seed=seed)
            fit_seconds = time.perf_counter() - t0
            test = mr.evaluate(
                result.model, sp, "test", ["ndcg@10", "recall@10", "hit@10", "mrr@10"]
            )
            runs.append(
                {
                    "seed": seed,
                    "test": test,
                    "best_epoch": result.best_epoch,
                    "epochs_run": len(result.history),
                    "best_valid_ndcg@10": result.best_valid,
                    "fit_seconds": fit_seconds,
                }
            )
            print(
                f"seed {seed}: best epoch {result.best_epoch} of {len(result.history)}, "
                f"fit {fit_seconds:.1f} s; test "
                + ", ".join(f"{k} {v:.4f}" for k, v in test.items())
            )
        mean = {k: float(np.mean([r["test"][k] for r in runs])) for k in runs[0]["test"]}
        figures["accuracy"] = {"runs": runs, "mean_test": mean}
        print(
            "mean over seeds: "
            + ", ".join(f"{k} {v:.4f}" for k, v in mean.items())
            + f"  (RecBole 1.2.1: ndcg@10 {RECBOLE['test_ndcg@10']}, "
            f"recall@10 {RECBOLE['test_recall@10']})"
        )
    path = save(args.out, "train_speed", figures)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
