"""Train the four closed-form baselines (pop, itemknn, ease, rp3beta) and print a table.

Each is solved in one pass with its family's default settings (``moorec.models.defaults``) on
RecBole's protocol (random 8:1:1 per user, seed 0) and scored by full ranking on validation and
test. Uses ml-100k when it can be found (``$MOOREC_DATA`` or the cache), else the synthetic shop.

    python examples/baselines_ml100k.py [--synthetic] [--models pop ease ...]
"""

import argparse

import moorec as mr

BASELINES = ("pop", "itemknn", "ease", "rp3beta")
KEYS = ("ndcg@10", "recall@10", "hit@10", "coverage@10", "params")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--synthetic", action="store_true", help="use a small synthetic shop")
    p.add_argument("--models", nargs="+", default=list(BASELINES), choices=BASELINES)
    args = p.parse_args()

    data = mr.datasets.load_or_synthetic("ml-100k", synthetic=args.synthetic)
    print(data.summary())
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)

    header = f"{'model':<9} {'settings':<32} {'valid ndcg@10':>13} " + " ".join(
        f"{'test ' + k:>16}" for k in KEYS
    )
    print(header + f" {'solve s':>8}")
    print("-" * (len(header) + 9))
    for name in args.models:
        settings = mr.models.defaults(name)["model"]
        result = mr.fit(split, name)  # one pass: best_epoch 1, one history row
        test = mr.evaluate(result.model, split, "test", KEYS)
        shown = ", ".join(f"{k}={v:g}" for k, v in settings.items()) or "-"
        cells = " ".join(
            f"{test[k]:>16.0f}" if k == "params" else f"{test[k]:>16.4f}" for k in KEYS
        )
        print(
            f"{name:<9} {shown:<32} {result.best_valid:>13.4f} {cells} "
            f"{result.history[0]['seconds']:>8.2f}"
        )


if __name__ == "__main__":
    main()
