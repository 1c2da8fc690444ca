"""BPR-MF on ml-100k: seconds per epoch, seconds per full-ranking evaluation, compile times.

Protocol (RecBole's general-recommendation defaults): all 100k ratings as implicit feedback,
random 8:1:1 split per user, embedding 64, batch 2048, Adam lr 1e-3, one uniform negative per
positive, full ranking over the catalogue, early stopping after 10 epochs without a better
validation NDCG@10.

Baselines run in the same process: an epoch driven from Python (one jitted step per batch with
NumPy-drawn negatives) against moorec's fused epoch, and a NumPy full-ranking evaluation against
the jitted one.

With ``--peer recbole`` RecBole itself runs on the same machine in the same invocation (one job
at a time), BPR-MF early-stopped as above and NeuMF for ``--neumf-epochs`` epochs, both
validating every epoch; its per-epoch training and evaluation times come from its own log
lines. moorec trains the same two models through ``moorec.fit`` (validation every epoch, the
time of each epoch's row of the history) and the speed-up is RecBole's median (training +
evaluation) per epoch over moorec's median epoch with validation, first two epochs of each left
out (warm-up and compilation). ``--peer-python`` is a Python with RecBole 1.2.1 (default
``$MOOREC_RECBOLE_PYTHON``; ../shared/peers/recbole-venv.sh makes one). Without ``--peer`` the
RecBole figures quoted in ../shared/REFERENCES.md are printed beside moorec's, marked as quoted.

    python benchmarks/train_speed.py [--out benchmarks/results/train_speed.json] [--no-accuracy]
        [--peer recbole [--peer-python PATH]] [--neumf-epochs 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
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


PEER_CHILD = r"""
import json, logging, re, sys, time
import torch
import recbole.quick_start.quick_start as quick
from recbole.quick_start import run_recbole

root, model, epochs, stopping, ckpt = sys.argv[1:6]
times = {"train": [], "eval": []}
patterns = {"train": re.compile(r"training \[time: ([0-9.]+)s"),
            "eval": re.compile(r"evaluating \[time: ([0-9.]+)s")}


class Times(logging.Handler):
    def emit(self, record):
        message = record.getMessage()
        for key, pattern in patterns.items():
            found = pattern.search(message)
            if found:
                times[key].append(float(found.group(1)))


init_logger = quick.init_logger


def hooked(config):
    init_logger(config)
    logging.getLogger().addHandler(Times())


quick.init_logger = hooked
config = {
    "data_path": root, "epochs": int(epochs), "stopping_step": int(stopping), "eval_step": 1,
    "train_batch_size": 2048, "embedding_size": 64, "learning_rate": 1e-3,
    "metrics": ["Recall", "NDCG", "Hit", "MRR"], "topk": [10], "valid_metric": "NDCG@10",
    "device": "cpu", "use_gpu": False, "show_progress": False, "seed": 2020,
    "reproducibility": True, "save_dataset": False, "checkpoint_dir": ckpt,
}
t0 = time.perf_counter()
result = run_recbole(model=model, dataset="ml-100k", config_dict=config)
print(json.dumps({
    "model": model, "times": times, "seconds": time.perf_counter() - t0,
    "test": {k: float(v) for k, v in result["test_result"].items()},
    "best_valid_ndcg@10": float(result["best_valid_score"]),
    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
}))
"""


def run_peer(python: str, root, model: str, epochs: int, stopping: int) -> dict:
    """RecBole 1.2.1 training ``model`` on ml-100k in a child process (see the module doc)."""
    import tempfile

    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run(
            [python, "-c", PEER_CHILD, str(root), model, str(epochs), str(stopping), tmp],
            capture_output=True, text=True, env=env, cwd=tmp, check=False,
        )  # fmt: skip
    if res.returncode != 0:
        raise SystemExit(f"RecBole {model} failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    train, ev = out["times"]["train"][2:], out["times"]["eval"][2:]
    out["train_seconds_median"] = median(train)
    out["eval_seconds_median"] = median(ev)
    out["epoch_with_validation_seconds_median"] = median(
        [a + b for a, b in zip(train, ev, strict=False)]
    )
    return out


def matmul_gflops(repeats: int = 50) -> float:
    """GFLOP/s of the largest product of NeuMF's training step, ``[4096, 128] @ [128, 128]``."""
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(4096, 128)), jnp.float32)
    b = jnp.asarray(rng.normal(size=(128, 128)), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    return 2 * 4096 * 128 * 128 / median(time_calls(lambda: f(a, b), repeats, warmup=3)) / 1e9


def neumf_flops(split, dim: int = 64, layers=(128, 64)) -> dict:
    """Multiply-adds x 2 of NeuMF's dense layers: one epoch, one full-ranking validation.

    Training: every positive and its negative through ``[2 dim] -> layers -> [dim + last]``,
    forward and backward (twice the forward: the gradients of the weights and of the inputs).
    Validation: the first layer split into a user and an item projection (once each), the
    other layers on every (user, item) pair of the validated users (NeuMF.score).
    """
    sizes = (2 * dim, *layers)
    per_pair = sum(a * b for a, b in itertools.pairwise(sizes)) + dim + layers[-1]
    pairs = 2 * len(split.train)  # each positive and its negative
    users = len(np.unique(split.valid.users))
    rest = sum(a * b for a, b in itertools.pairwise(layers)) + dim + layers[-1]
    valid = users * split.n_items * rest + (users + split.n_items) * dim * layers[0]
    return {"epoch_flops": 2 * 3 * per_pair * pairs, "validation_flops": 2 * valid}


def moorec_epochs(split, name: str, epochs: int, patience: int, seed: int = 0, **settings) -> dict:
    """``moorec.fit`` of ``name`` validating every epoch: per-epoch seconds and test metrics."""
    t0 = time.perf_counter()
    result = mr.fit(split, name, dim=64, seed=seed, epochs=epochs, patience=patience, **settings)
    seconds = time.perf_counter() - t0
    rows = [h["seconds"] for h in result.history]
    test = mr.evaluate(result.model, split, "test", ["recall@10", "ndcg@10", "hit@10", "mrr@10"])
    return {
        "epoch_with_validation_seconds_median": median(rows[2:]),
        "epoch_seconds_all": rows,
        "first_epoch_seconds": rows[0],
        "epochs_run": len(rows),
        "best_epoch": result.best_epoch,
        "fit_seconds": seconds,
        "test": test,
    }


def peer_comparison(args, data) -> dict:
    """RecBole and moorec, BPR-MF and NeuMF, one after the other on this machine."""
    python = args.peer_python or os.environ.get("MOOREC_RECBOLE_PYTHON") or sys.executable
    probe = subprocess.run([python, "-c", "import recbole"], capture_output=True, check=False)
    if probe.returncode != 0:
        raise SystemExit(
            f"--peer recbole: {python} cannot import recbole; give --peer-python (a Python "
            "with RecBole 1.2.1, e.g. from ../shared/peers/recbole-venv.sh)"
        )
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    rows = {}
    # RecBole's train_batch_size counts rows after negative sampling for a pointwise model
    # (NeuMF: 1024 positives and their 1024 negatives per batch of 2048,
    # recbole/data/dataloader/general_dataloader.py) and positives for a pairwise one (BPR:
    # 2048 triples); moorec's batch_size counts positives.
    for name, peer_name, epochs, stopping, batch in (
        ("bpr", "BPR", 300, 10, 2048),
        ("neumf", "NeuMF", args.neumf_epochs, args.neumf_epochs, 1024),
    ):
        print(f"RecBole {peer_name} ...", flush=True)
        peer = run_peer(python, data_root(), peer_name, epochs, stopping)
        print(f"moorec {name} (batch_size {batch}) ...", flush=True)
        ours = moorec_epochs(split, name, epochs, stopping, batch_size=batch)
        speedup = (
            peer["epoch_with_validation_seconds_median"]
            / ours["epoch_with_validation_seconds_median"]
        )
        rows[name] = {"recbole": peer, "moorec": ours, "speedup_epoch_with_validation": speedup}
        if name == "neumf":
            arithmetic = neumf_flops(split)
            arithmetic["matmul_gflops_per_second"] = matmul_gflops()
            bound = (arithmetic["epoch_flops"] + arithmetic["validation_flops"]) / (
                arithmetic["matmul_gflops_per_second"] * 1e9
            )
            arithmetic["seconds_at_matmul_rate"] = bound
            arithmetic["speedup_bound"] = peer["epoch_with_validation_seconds_median"] / bound
            rows[name]["arithmetic"] = arithmetic
            print(
                f"  {'':6s} NeuMF arithmetic: {arithmetic['epoch_flops'] / 1e9:.1f} GFLOP per "
                f"epoch + {arithmetic['validation_flops'] / 1e9:.1f} per validation; at this "
                f"machine's {arithmetic['matmul_gflops_per_second']:.0f} GFLOP/s of one "
                f"[4096,128]x[128,128] product: {bound * 1e3:.0f} ms, at most "
                f"{arithmetic['speedup_bound']:.1f}x RecBole"
            )
        print(
            f"  {name:6s} RecBole {peer['train_seconds_median'] * 1e3:7.1f} ms train + "
            f"{peer['eval_seconds_median'] * 1e3:7.1f} ms eval per epoch "
            f"({len(peer['times']['train'])} epochs); moorec "
            f"{ours['epoch_with_validation_seconds_median'] * 1e3:7.1f} ms per epoch with "
            f"validation ({ours['epochs_run']} epochs): {speedup:.1f}x"
        )
        print(
            f"  {'':6s} test NDCG@10 RecBole {peer['test']['ndcg@10']:.4f}, moorec "
            f"{ours['test']['ndcg@10']:.4f}; Recall@10 {peer['test']['recall@10']:.4f} vs "
            f"{ours['test']['recall@10']:.4f}"
        )
    return rows


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
    p.add_argument("--peer", choices=["recbole"], help="run RecBole in this invocation")
    p.add_argument("--peer-python", help="a Python with RecBole 1.2.1 installed")
    p.add_argument("--neumf-epochs", type=int, default=10, help="epochs of the NeuMF pair")
    args = p.parse_args()

    data = load_ml100k()
    peer = peer_comparison(args, data) if args.peer else None
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=args.seed)
    cfg = TrainConfig(seed=args.seed)
    model = mr.models.create("bpr", data.n_users, data.n_items, seed=args.seed, dim=64)
    pdata = PairData.from_interactions(split.train)
    tx = optimizer("adam")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    opt_state = tx.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.float32(cfg.lr)
    hp = cfg.loss_hparams(model)  # what fit passes: switched-off terms left out
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
        "peer": peer,
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
        f"vs RecBole 1.2.1 quoted from ../shared/REFERENCES.md (0.42 s/epoch, 0.27 s/eval): "
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
