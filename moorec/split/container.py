"""The :class:`Split` container: train / valid / test parts over one index space."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from moorec.data.interactions import Interactions
from moorec.errors import SplitError, UnknownNameError

__all__ = ["PARTS", "Split"]

#: Names of the parts of a split, in order.
PARTS: tuple[str, ...] = ("train", "valid", "test")

# Which parts are excluded from ranking when a part is scored.
_KNOWN = {"valid": ("train",), "test": ("train", "valid")}


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """A data set cut into train, validation and test interactions.

    All three parts are :class:`~moorec.data.interactions.Interactions` over the *same* user and
    item index spaces as the data that was split (same ``n_users``, ``n_items``, ``user_ids``,
    ``item_ids`` and ``item_features``), so a model trained on ``train`` scores ``valid`` and
    ``test`` users and items without any re-mapping. A part may be empty (e.g. ``valid`` of a
    two-way split).

    Attributes:
        train: training interactions.
        valid: validation interactions (model selection, early stopping).
        test: test interactions (final figures).
        protocol: name of the protocol that made the split (``"random"``, ``"loo"``,
            ``"temporal"``).
        seed: seed of the random generator used, or ``None`` when the split is not random.
        report: what the split did: settings, ``n_interactions`` and ``n_users`` per part
            (``{"train": int, "valid": int, "test": int}``), counts of users handled specially,
            and ``notes``, a list of human-readable lines saying how they were handled.
        rows: ``{"train": [n_train] int64, "valid": ..., "test": ...}`` row indices of each
            part in the data that was split (in increasing order), or ``None`` when unknown.
            ``train.users == data.users[rows["train"]]`` and so on.

    Raises:
        SplitError: if the parts do not share one index space.
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: str
    seed: int | None = None
    report: dict[str, Any] = dataclasses.field(default_factory=dict)
    rows: dict[str, np.ndarray] | None = None

    def __post_init__(self):
        for name in PARTS[1:]:
            part = getattr(self, name)
            if (part.n_users, part.n_items) != (self.train.n_users, self.train.n_items):
                raise SplitError(
                    f"{name} part has {part.n_users} users x {part.n_items} items, but train has "
                    f"{self.train.n_users} x {self.train.n_items}; all parts must share one "
                    "index space"
                )

    # ------------------------------------------------------------------ views
    @property
    def n_users(self) -> int:
        """Size of the user index space shared by all parts."""
        return self.train.n_users

    @property
    def n_items(self) -> int:
        """Size of the item index space shared by all parts."""
        return self.train.n_items

    def parts(self) -> dict[str, Interactions]:
        """Return ``{"train": ..., "valid": ..., "test": ...}`` in that order."""
        return {name: getattr(self, name) for name in PARTS}

    def known(self, part: str) -> Interactions:
        """Interactions to exclude from the ranking when scoring ``part``.

        Items a user already interacted with in earlier parts are not candidates: when scoring
        ``"valid"`` the user's training items are removed from the ranking; when scoring
        ``"test"`` the training and validation items are (the RecBole full-ranking protocol).

        Args:
            part: ``"valid"`` or ``"test"``.

        Returns:
            ``train`` for ``"valid"``; ``train`` followed by ``valid`` (rows concatenated, index
            spaces unchanged) for ``"test"``.

        Raises:
            UnknownNameError: if ``part`` is not ``"valid"`` or ``"test"``.
        """
        if part not in _KNOWN:
            raise UnknownNameError("evaluated part", part, _KNOWN)
        names = _KNOWN[part]
        if len(names) == 1:
            return self.train
        return _concat([getattr(self, n) for n in names], log=f"known items for scoring {part}")

    def summary(self) -> str:
        """Return a human-readable, multi-line description of the split."""
        r = self.report
        settings = ", ".join(f"{k}={v}" for k, v in r.get("settings", {}).items())
        head = f"{self.protocol} split"
        if "data" in r:
            head += f" of {r['data']!r}"
        if settings:
            head += f" ({settings})"
        lines = [head]
        total = max(1, sum(len(p) for p in self.parts().values()))
        lines.append(f"  {'part':<6} {'interactions':>14} {'share':>7} {'users':>10}")
        for name, part in self.parts().items():
            users = int(np.count_nonzero(np.bincount(part.users, minlength=part.n_users)))
            lines.append(f"  {name:<6} {len(part):>14,} {len(part) / total:>7.1%} {users:>10,}")
        lines.append(f"  index space: {self.n_users:,} users x {self.n_items:,} items")
        for note in r.get("notes", ()):
            lines.append(f"  - {note}")
        return "\n".join(lines)

    def check(self) -> Split:
        """Verify that no interaction is in two parts and that all parts share one index space.

        With ``rows`` known, the row indices of the parts must be disjoint and match the part
        sizes. Without them, no ``(user, item, timestamp)`` triple (``(user, item)`` for data
        without timestamps) may occur in two different parts.

        Returns:
            ``self``, so that calls can be chained.

        Raises:
            SplitError: if a row (or triple) is in two parts, or the index spaces differ.
        """
        ref = self.train
        for name, part in self.parts().items():
            same = (
                part.n_users == ref.n_users
                and part.n_items == ref.n_items
                and np.array_equal(part.user_ids, ref.user_ids)
                and np.array_equal(part.item_ids, ref.item_ids)
            )
            if not same:
                raise SplitError(f"{name} part does not share the index space of train")
        if self.rows is not None:
            _check_rows(self.rows, {n: len(p) for n, p in self.parts().items()})
        else:
            _check_keys(self.parts())
        return self


def _concat(parts: list[Interactions], *, log: str) -> Interactions:
    """Concatenate the rows of ``parts`` (same index space) into one ``Interactions``."""
    first = parts[0]

    def cat(field: str):
        values = [getattr(p, field) for p in parts]
        if any(v is None for v in values):
            return None
        return np.concatenate(values)

    return dataclasses.replace(
        first,
        users=np.concatenate([p.users for p in parts]),
        items=np.concatenate([p.items for p in parts]),
        ratings=cat("ratings"),
        timestamps=cat("timestamps"),
        log=(*first.log, log),
    )


def _check_rows(rows: dict[str, np.ndarray], sizes: dict[str, int]) -> None:
    for name in PARTS:
        if name not in rows:
            raise SplitError(f"rows has no entry for part {name!r}; it has {sorted(rows)}")
        if len(rows[name]) != sizes[name]:
            raise SplitError(
                f"rows[{name!r}] lists {len(rows[name])} rows but the part holds {sizes[name]}"
            )
    everything = np.concatenate([np.asarray(rows[n], dtype=np.int64) for n in PARTS])
    if everything.size == 0:
        return
    if everything.min() < 0:
        raise SplitError(f"rows hold a negative row index {everything.min()}")
    seen = np.bincount(everything)
    if seen.max() > 1:
        dup = np.flatnonzero(seen > 1)
        where = [n for n in PARTS if np.isin(dup[0], rows[n])]
        raise SplitError(
            f"{dup.size} input rows are in more than one part (leakage), e.g. row {dup[0]} "
            f"is in {' and '.join(where)}"
        )


def _check_keys(parts: dict[str, Interactions]) -> None:
    names = list(parts)
    label = np.concatenate(
        [np.full(len(p), i, dtype=np.int8) for i, p in enumerate(parts.values())]
    )
    if label.size == 0:
        return
    users = np.concatenate([p.users for p in parts.values()])
    items = np.concatenate([p.items for p in parts.values()])
    keys = [items, users]
    if all(p.timestamps is not None for p in parts.values()):
        keys.insert(0, np.concatenate([p.timestamps for p in parts.values()]))
    order = np.lexsort(keys)
    same = np.ones(order.size - 1, dtype=bool)
    for k in keys:
        ks = k[order]
        same &= ks[1:] == ks[:-1]
    lab = label[order]
    clash = np.flatnonzero(same & (lab[1:] != lab[:-1]))
    if clash.size:
        j = order[clash[0]]
        raise SplitError(
            f"{clash.size} interactions occur in two parts (leakage), e.g. user {users[j]} "
            f"item {items[j]} in {names[lab[clash[0]]]} and {names[lab[clash[0] + 1]]}"
        )
