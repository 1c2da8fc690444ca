"""A closed-form trainer shared by the tests of run stores, tables, plots and the CLI."""

import math


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
