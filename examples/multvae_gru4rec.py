"""Train MultVAE (random 8:1:1 split) and GRU4Rec (time-ordered leave-one-out), print objectives.

Each model trains with its family's defaults (``moorec.models.defaults(name)``) and early
stopping on validation NDCG@10, then is scored on test; GRU4Rec is also trained as a population
of three dropout rates in one vmapped program (``fit_population``), as the vectorized executor
of a search trains it. Uses ml-100k when it can be found (``$MOOREC_DATA`` or the cache), else
the synthetic shop; ``--synthetic`` uses a small synthetic shop and small models.

    python examples/multvae_gru4rec.py [--epochs 300] [--synthetic]
"""

import argparse

import moorec as mr
from moorec.objectives import Evaluator
from moorec.train import TrainConfig
from moorec.train.population import fit_population

KEYS = ["ndcg@10", "recall@10", "hit@10", "ild@10", "coverage@10", "params"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--synthetic", action="store_true", help="use a small synthetic shop")
    args = p.parse_args()

    small = {}
    if args.synthetic:
        data = mr.datasets.synthetic_shop(n_users=300, n_items=200, n_interactions=6000, seed=0)
        small = {
            "multvae": {"dim": 16, "hidden": (32,)},
            "gru4rec": {"dim": 16, "hidden": (16,), "max_len": 10},
        }
    else:
        try:
            data = mr.datasets.load("ml-100k", download=False)
        except mr.MoorecError as err:
            print(f"ml-100k not available ({err}); using the synthetic shop")
            data = mr.datasets.synthetic_shop(seed=0)
    print(data.summary())
    splits = {
        "random": mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0),
        "loo": mr.split.leave_one_out(data, order="time"),
    }
    for name in ("multvae", "gru4rec"):
        family = mr.models.defaults(name)
        split = splits[family["split"]]
        result = mr.fit(split, name, epochs=args.epochs, seed=0, **small.get(name, {}))
        print(
            f"{name} ({family['split']} split): best epoch {result.best_epoch} of "
            f"{len(result.history)} ({result.train_seconds:.1f} s), "
            f"valid ndcg@10 {result.best_valid:.4f}"
        )
        for key, value in mr.evaluate(result.model, split, "test", KEYS).items():
            print(f"  test {key:<12} {value:.4f}")

    # Three GRU4Rec candidates (dropout 0, 0.2, 0.4) trained together in one program.
    split = splits["loo"]
    settings = {**mr.models.defaults("gru4rec")["model"], **small.get("gru4rec", {})}
    train = {**mr.models.defaults("gru4rec")["train"], "epochs": args.epochs, "seed": 0}
    rates = (0.0, 0.2, 0.4)
    configs = [TrainConfig(**train, loss_weights={"dropout": r}) for r in rates]
    models = [
        mr.models.create("gru4rec", split.n_users, split.n_items, seed=0, **settings) for _ in rates
    ]
    ev = Evaluator(split, "valid", ["ndcg@10"])

    def validate(graphdef, params, rest, rest_axis):
        topk, hits = ev.rank_population(graphdef, params, rest, rest_axis=rest_axis, like=models[0])
        return [v["ndcg@10"] for v in ev.values_population(topk, hits)]

    out = fit_population(models, split.train, configs, validate=validate)
    for rate, member in zip(rates, out.members, strict=True):
        test = mr.evaluate(member.model, split, "test", ["ndcg@10", "hit@10"])
        print(
            f"gru4rec dropout {rate}: best epoch {member.best_epoch}, valid ndcg@10 "
            f"{member.best_valid:.4f}, test ndcg@10 {test['ndcg@10']:.4f} "
            f"hit@10 {test['hit@10']:.4f}"
        )


if __name__ == "__main__":
    main()
