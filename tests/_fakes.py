"""Shared test helpers: a closed-form trainer for run stores, tables, plots and the CLI, a
predictable-sequence split for the sequential models, and small settings of every model."""

import math

# Small settings of every registered model, for tests that train each one on a toy split.
SMALL_ZOO = {
    "bpr": {"dim": 8},
    "neumf": {"dim": 8, "layers": (16, 8)},
    "lightgcn": {"dim": 8, "n_layers": 2},
    "two_tower": {"dim": 8},
    "sasrec": {"dim": 16, "n_blocks": 1, "n_heads": 2, "max_len": 8},
    "bert4rec": {"dim": 16, "n_blocks": 1, "n_heads": 2, "max_len": 8},
    "pop": {},
    "itemknn": {"k": 10, "shrink": 1.0},
    "ease": {"reg_weight": 10.0},
    "rp3beta": {"k": 10, "alpha": 1.0, "beta": 0.5},
    "multvae": {"dim": 8, "hidden": (16,)},
    "gru4rec": {"dim": 16, "hidden": (16,), "max_len": 8},
}


class ClosedFormTrainer:
    """Closed-form objectives in place of training.

    ndcg = 1 - x and ild = (1 - sqrt(x/g)) * g / 2 (g = 1 + y) trade off along y = 0;
    latency_ms = 1 + 3y + x (minimised). Trials with ``fail[0] < x < fail[1]`` fail like a NaN
    loss (``fail=None``: none fails). Calling after ``stop_after`` calls raises
    KeyboardInterrupt, which interrupts the search. Test scores are validation scores - 0.01.
    """

    def __init__(self, stop_after=None, fail=(0.45, 0.46)):
        self.calls, self.stop_after, self.fail = 0, stop_after, fail

    def __call__(self, cfg):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        x, y = cfg["x"], cfg["y"]
        if self.fail is not None and self.fail[0] < x < self.fail[1]:
            return {
                "status": "failed",
                "reason": "TrainingError: loss became nan at epoch 3",
                "valid": None,
                "train_seconds": 0.0,
                "eval_seconds": 0.0,
            }
        g = 1.0 + y
        valid = {
            "ndcg@10": 1.0 - x,
            "ild@10": (1.0 - math.sqrt(x / g)) * g / 2,
            "latency_ms": 1.0 + 3.0 * y + x,
        }
        return {
            "status": "ok",
            "reason": None,
            "valid": valid,
            "train_seconds": 0.01,
            "eval_seconds": 0.0,
        }

    def test(self, cfg):
        return {k: v - 0.01 for k, v in self(cfg)["valid"].items()}


def cycle_split(n_users=48, n_items=24, length=14, step=1, seed=0):
    """Users walk the cycle 0 -> step -> 2 step -> ... (mod n_items) from random starts.

    The next item is always (last item + step) mod n_items, which a sequential model can learn;
    the split is time-ordered leave-one-out.
    """
    import numpy as np

    import moorec as mr
    from moorec.data import Interactions

    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_items, n_users)
    users = np.repeat(np.arange(n_users), length)
    items = (starts[:, None] + step * np.arange(length)[None, :]).ravel() % n_items
    data = Interactions(
        users=users,
        items=items,
        n_users=n_users,
        n_items=n_items,
        timestamps=np.tile(np.arange(length, dtype=np.float64), n_users),
        name="cycle",
    )
    return mr.split.leave_one_out(data, order="time")
