"""Load a data set by name, clean it, and print what each step did.

Loads MovieLens 100K when a copy is found (``$MOOREC_DATA/ml-100k/`` or the user cache; no
download is attempted), else generates the synthetic shop. Run with
``python examples/load_data.py``.
"""

from __future__ import annotations

from moorec import datasets
from moorec.data.clean import drop_duplicates, implicit, k_core
from moorec.errors import DataNotFoundError


def main() -> None:
    print("known data sets:")
    for row in datasets.available():
        print(f"  {row['name']:<20}{row['where']}")
    print()

    try:
        data = datasets.load("ml-100k", download=False)
        threshold = 4  # ratings 4-5 count as positive feedback
    except DataNotFoundError as e:
        print(f"{e}\n-> using the synthetic shop instead\n")
        data = datasets.load("synthetic-shop", seed=0)
        threshold = None  # already implicit
    print(data.summary())

    data = drop_duplicates(data)
    data = implicit(data, threshold=threshold)
    data = k_core(data, user_k=5, item_k=5)
    print(data.summary())
    print()
    print("log:")
    for line in data.log:
        print(f"  {line}")
    if data.item_features is not None:
        feats = data.item_features
        print()
        print(f"{len(feats.category_names)} categories: {', '.join(feats.category_names)}")
        print(
            f"first item: {feats.titles[0]!r}, "
            f"categories {[feats.category_names[j] for j in feats.categories[0].nonzero()[0]]}"
        )


if __name__ == "__main__":
    main()
