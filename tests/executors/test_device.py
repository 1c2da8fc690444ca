"""Checks that need an accelerator (run by benchmarks/gpu_check.sh on a GPU machine).

Marked ``device``; on a machine without a GPU or TPU they are skipped and say so.
"""

import jax
import numpy as np
import pytest

from moorec.executors import TrialSpec, choose, make_executor

pytestmark = [
    pytest.mark.device,
    pytest.mark.skipif(
        jax.default_backend() == "cpu",
        reason="needs an accelerator: JAX's default backend here is cpu",
    ),
]

KEYS = ("ndcg@10", "recall@10", "ild@10", "params")


@pytest.fixture(scope="module")
def spec(planted_split):
    fixed = {"epochs": 6, "batch_size": 256, "valid_metric": "ndcg@10"}
    return TrialSpec(planted_split, "bpr", KEYS, fixed, 0)


CONFIGS = [
    {"lr": 1e-2, "dim": 16, "patience": 0},
    {"lr": 3e-2, "dim": 16, "patience": 2},
    {"lr": 1e-3, "dim": 16, "patience": 1},
    {"lr": 1e-2, "dim": 8, "patience": 0, "l2": 1e-4},
    {"lr": 1e30, "dim": 8, "patience": 0},
]


def test_auto_picks_vectorized_on_an_accelerator():
    name, reason = choose(True)
    assert name == "vectorized", reason
    assert choose(False)[0] != "vectorized"


def test_vectorized_matches_sequential_on_the_device(spec):
    with make_executor("sequential") as seq:
        seq.start(spec)
        ref = seq.map(CONFIGS)
    with make_executor("vectorized", max_batch=2) as vec:
        vec.start(spec)
        got = vec.map(CONFIGS)
        batches = list(vec.batches)
    assert [r["status"] for r in ref] == ["ok", "ok", "ok", "ok", "failed"]
    assert [r["status"] for r in got] == [r["status"] for r in ref]
    for a, b in zip(ref[:4], got[:4], strict=True):
        assert a["best_epoch"] == b["best_epoch"]
        assert a["epochs_run"] == b["epochs_run"]
        for k in KEYS:
            assert b["valid"][k] == pytest.approx(a["valid"][k], abs=1e-4), k
    # dim 16 (3 candidates, max_batch 2) -> 2 batches; dim 8 -> 1 batch
    assert sorted(b["candidates"] for b in batches) == [1, 2, 2]


def test_memory_planning_uses_the_device(spec):
    from moorec.executors.vectorized import device_memory_bytes

    free = device_memory_bytes(jax.devices()[0])
    assert free > 2**28
    with make_executor("vectorized") as vec:
        vec.start(spec)
        cfg, kw = spec.settings({"dim": 16})
        assert vec.batch_limit(spec.create(kw), cfg) > 64
        rec = vec.map([{"dim": 16, "patience": 0}])[0]
    assert rec["status"] == "ok"
    assert np.isfinite(rec["valid"]["ndcg@10"])
