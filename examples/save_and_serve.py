"""Train a model, save it, load it back in a fresh state and serve recommendations from it.

Uses ml-100k when it can be found (``$MOOREC_DATA`` or the cache), else the synthetic shop.
The saved folder (``model.json`` + ``state.msgpack``, see docs/saving.md) loads without
training; the loaded model's scores and lists are the trained model's, bit for bit.

    python examples/save_and_serve.py [--model lightgcn] [--epochs 50] [--out saved] [--synthetic]
"""

import argparse
import tempfile
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import moorec as mr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lightgcn", choices=mr.models.available())
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--out", default=None, help="folder to save into (default: a temporary one)")
    p.add_argument("--synthetic", action="store_true", help="a small synthetic shop")
    args = p.parse_args()

    shop = {"n_users": 300, "n_items": 150, "n_interactions": 6000}
    data = mr.datasets.load_or_synthetic("ml-100k", synthetic=args.synthetic, shop=shop)
    print(data.summary())
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)

    # Train: the family's default settings, with a smaller embedding for a quick run.
    settings = {**mr.models.defaults(args.model)["model"], "dim": 32}
    result = mr.fit(split, args.model, epochs=args.epochs, seed=0, **settings)
    print(f"trained {args.model}: best epoch {result.best_epoch}, valid ndcg@10 "
          f"{result.best_valid:.4f}")  # fmt: skip

    # Save: the description records the family, the settings, the catalogue and the fingerprint
    # of the training interactions; the state is the whole nnx state.
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp()) / args.model
    folder = mr.models.save(result.model, out, settings=settings, data=split.train)
    desc = mr.models.describe(folder)
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"saved to {folder} ({size / 1024:.0f} KiB; {len(desc['state']['leaves'])} leaves; "
          f"data {desc['data']['fingerprint'][:19]}...)")  # fmt: skip

    # Load: rebuilt from the description, checked against the data it is given.
    model = mr.models.load(folder, data=split.train)
    users = jnp.arange(8, dtype=jnp.int32)
    history = None
    if model.uses_history:  # sequential models read each user's recent items
        from moorec.data.interactions import history_matrix

        history = jnp.asarray(history_matrix(split.train, np.arange(8), int(model.max_len)))

    def scores(m):
        return np.asarray(m.score(users) if history is None else m.score(users, history))

    same = np.array_equal(scores(model), scores(result.model))
    print(f"loaded: scores bit-identical to the trained model's: {same}")
    assert same

    # Other data is refused: the validation part has the same sizes but other interactions.
    try:
        mr.models.load(folder, data=split.valid)
    except mr.errors.CatalogueMismatchError as err:
        print(f"refused other data: {str(err)[:100]}...")

    # Serve: raw user ids in, raw item ids out, never an item the user already has.
    raw_users = [data.user_ids[0], data.user_ids[1], data.user_ids[2]]
    items, _ = mr.recommend(model, raw_users, k=5, exclude=split.train, raw=True)
    for user, row in zip(raw_users, items, strict=True):
        print(f"user {user}: top 5 {row.tolist()}")
    print(mr.evaluate(model, split, "test", ["ndcg@10", "recall@10", "coverage@10"]))


if __name__ == "__main__":
    main()
