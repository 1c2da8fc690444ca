"""SASRec with its paper's settings, scored by full ranking and by the paper's sampled protocol.

Kang and McAuley (ICDM 2018) train SASRec with ``dim=50``, 2 blocks, 1 head, a ReLU
feed-forward, item embeddings scaled by ``sqrt(d)``, dropout 0.5 (sparse data), BCE with one
negative per position that avoids the user's items, Adam with ``lr=1e-3`` and ``b2=0.98``,
batch 128 (``moorec.models.sasrec.PAPER_SETTINGS``), and rank the test item among 100 sampled
negatives. The model is trained under time-ordered leave-one-out with early stopping on
full-ranking validation NDCG@10, then scored on test both ways. Uses amazon-video-games when it
can be found (``$MOOREC_DATA`` or the cache), else the synthetic shop; ``--synthetic`` uses a
small synthetic shop and a small model. The full benchmark is
``benchmarks/sequential_quality.py``.

    python examples/sasrec_paper.py [--epochs 200] [--synthetic]
"""

import argparse
import warnings

import moorec as mr
from moorec.models.sasrec import PAPER_SETTINGS
from moorec.objectives.sampled import SampledMetricsWarning, sampled_evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--synthetic", action="store_true", help="use a small synthetic shop")
    args = p.parse_args()

    model = dict(PAPER_SETTINGS["model"])
    train = {**PAPER_SETTINGS["train"], "loss_weights": dict(PAPER_SETTINGS["hparams"])}
    if args.synthetic:
        data = mr.datasets.synthetic_shop(n_users=300, n_items=200, n_interactions=6000, seed=0)
        model.update(dim=16, ff_dim=16, max_len=10)
    else:
        try:
            data = mr.datasets.load("amazon-video-games", download=False)
        except mr.MoorecError as err:
            print(f"amazon-video-games not available ({err}); using the synthetic shop")
            data = mr.datasets.synthetic_shop(seed=0)
    print(data.summary())
    split = mr.split.leave_one_out(data, order="time")
    print("settings:", {**model, **train})
    result = mr.fit(split, "sasrec", epochs=args.epochs, eval_every=5, patience=4, seed=0,
                    **model, **train)  # fmt: skip
    print(
        f"best epoch {result.best_epoch} of {len(result.history)} "
        f"({result.train_seconds:.1f} s), valid ndcg@10 {result.best_valid:.4f}"
    )
    full = mr.evaluate(result.model, split, "test", ["hit@10", "ndcg@10"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampledMetricsWarning)
        sampled = sampled_evaluate(result.model, split, "test", n_negatives=100, seed=0)
    for key in ("hit@10", "ndcg@10"):
        print(f"  test {key:<8} full ranking {full[key]:.4f}   sampled-100 {sampled[key]:.4f}")


if __name__ == "__main__":
    main()
