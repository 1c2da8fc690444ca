"""Split a small hand-made data set three ways and print what each split did.

Run with ``python examples/split_data.py``.
"""

from __future__ import annotations

import numpy as np

from moorec.data.interactions import Interactions
from moorec.split import leave_one_out, random_ratio, split, temporal


def make_data(n_users: int = 200, n_items: int = 300, seed: int = 0) -> Interactions:
    """Interactions with a long-tailed number of interactions per user (1 to ~60)."""
    rng = np.random.default_rng(seed)
    per_user = np.minimum(rng.geometric(0.06, size=n_users), 60)
    per_user[:5] = [1, 1, 2, 2, 3]  # a few very small users, to show how they are handled
    users = np.repeat(np.arange(n_users), per_user)
    popularity = 1.0 / np.arange(1, n_items + 1)
    items = rng.choice(n_items, size=users.size, p=popularity / popularity.sum())
    timestamps = 1.6e9 + rng.uniform(0, 3.0e7, size=users.size)  # about a year, in seconds
    ratings = rng.integers(1, 6, size=users.size)
    return Interactions(
        users, items, n_users, n_items, ratings=ratings, timestamps=timestamps, name="toy"
    )


def main() -> None:
    data = make_data()
    print(data.summary())
    print()

    by_ratio = random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    print(by_ratio.summary())
    print()

    by_time = leave_one_out(data, order="time", min_interactions=3, small_users="train")
    print(by_time.summary())
    print()

    cut = temporal(data, (0.8, 0.1, 0.1))
    print(cut.summary())
    print(f"  cold users in test: {cut.report['cold_users']['test']}")
    print()

    # the dispatcher takes the protocol by name, e.g. from a config file
    again = split(data, "random", ratios=(0.8, 0.1, 0.1), seed=0)
    same = all(np.array_equal(again.rows[p], by_ratio.rows[p]) for p in again.rows)
    print(f"same seed gives the same split: {same}")
    # items to exclude from the ranking when scoring the test part: train + valid
    print(f"known when scoring test: {len(by_ratio.known('test')):,} interactions")


if __name__ == "__main__":
    main()
