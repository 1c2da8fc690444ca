"""The :class:`Interactions` container and item side information.

Users and items are dense ``int32`` indices ``0..n_users-1`` and ``0..n_items-1``; the raw ids
they came from are kept in ``user_ids`` / ``item_ids`` so that results can be mapped back.
A split (``moorec.split``) produces several ``Interactions`` over the *same* index spaces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from moorec.errors import ColumnError, EmptyDataError

__all__ = [
    "Interactions",
    "ItemFeatures",
    "align_item_features",
    "csr_by_user",
    "csr_entries",
    "pad_width",
    "padded_rows",
]


@dataclasses.dataclass(frozen=True, eq=False)
class ItemFeatures:
    """Side information about items.

    Attributes:
        categories: ``[n_items, n_categories]`` bool multi-hot matrix (genres, shop categories).
        category_names: ``n_categories`` names, one per column of ``categories``.
        titles: ``[n_items]`` object array of ``str`` titles, or ``None``.
        price: ``[n_items]`` float32 prices, or ``None``.
        year: ``[n_items]`` float32 release years (``nan`` when unknown), or ``None``.
    """

    categories: np.ndarray
    category_names: tuple[str, ...]
    titles: np.ndarray | None = None
    price: np.ndarray | None = None
    year: np.ndarray | None = None

    def __post_init__(self):
        cats = np.asarray(self.categories, dtype=bool)
        if cats.ndim != 2 or cats.shape[1] != len(self.category_names):
            raise ColumnError(
                f"categories must be [n_items, {len(self.category_names)}] multi-hot, "
                f"got shape {cats.shape}"
            )
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "category_names", tuple(self.category_names))
        n = cats.shape[0]
        for field in ("titles", "price", "year"):
            value = getattr(self, field)
            if value is not None and len(value) != n:
                raise ColumnError(f"{field} has {len(value)} rows, expected n_items={n}")

    @property
    def n_items(self) -> int:
        """Number of items described."""
        return int(self.categories.shape[0])

    def take(self, items: np.ndarray) -> ItemFeatures:
        """Return the features of ``items`` (``[m]`` int indices), in that order."""
        items = np.asarray(items)
        return ItemFeatures(
            categories=self.categories[items],
            category_names=self.category_names,
            titles=None if self.titles is None else self.titles[items],
            price=None if self.price is None else self.price[items],
            year=None if self.year is None else self.year[items],
        )


@dataclasses.dataclass(frozen=True, eq=False)
class Interactions:
    """User-item interactions over dense index spaces.

    Attributes:
        users: ``[n]`` int32 user indices in ``[0, n_users)``.
        items: ``[n]`` int32 item indices in ``[0, n_items)``.
        n_users: size of the user index space.
        n_items: size of the item index space.
        ratings: ``[n]`` float32 ratings, or ``None`` for implicit data.
        timestamps: ``[n]`` float64 times (Unix seconds or any increasing order), or ``None``.
        user_ids: ``[n_users]`` raw user ids (index ``u`` came from ``user_ids[u]``).
        item_ids: ``[n_items]`` raw item ids.
        item_features: side information over the same ``n_items``, or ``None``.
        name: a short name of the data set.
        log: human-readable lines describing what loading and cleaning did.
    """

    users: np.ndarray
    items: np.ndarray
    n_users: int
    n_items: int
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    user_ids: np.ndarray | None = None
    item_ids: np.ndarray | None = None
    item_features: ItemFeatures | None = None
    name: str = "interactions"
    log: tuple[str, ...] = ()

    def __post_init__(self):
        users = np.asarray(self.users)
        items = np.asarray(self.items)
        for label, arr in (("users", users), ("items", items)):
            if arr.ndim != 1:
                raise ColumnError(f"{label} must be a 1-d index array, got shape {arr.shape}")
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise ColumnError(f"{label} must hold integer indices, got dtype {arr.dtype}")
        if users.shape != items.shape:
            raise ColumnError(
                f"users and items differ in length: {users.shape[0]} vs {items.shape[0]}"
            )
        object.__setattr__(self, "users", users.astype(np.int32, copy=False))
        object.__setattr__(self, "items", items.astype(np.int32, copy=False))
        object.__setattr__(self, "n_users", int(self.n_users))
        object.__setattr__(self, "n_items", int(self.n_items))
        if users.size:
            if users.min() < 0 or users.max() >= self.n_users:
                raise ColumnError(
                    f"user indices must lie in [0, {self.n_users}), "
                    f"got [{users.min()}, {users.max()}]"
                )
            if items.min() < 0 or items.max() >= self.n_items:
                raise ColumnError(
                    f"item indices must lie in [0, {self.n_items}), "
                    f"got [{items.min()}, {items.max()}]"
                )
        n = users.shape[0]
        if self.ratings is not None:
            r = np.asarray(self.ratings, dtype=np.float32)
            if r.shape != (n,):
                raise ColumnError(f"ratings has shape {r.shape}, expected ({n},)")
            object.__setattr__(self, "ratings", r)
        if self.timestamps is not None:
            t = np.asarray(self.timestamps, dtype=np.float64)
            if t.shape != (n,):
                raise ColumnError(f"timestamps has shape {t.shape}, expected ({n},)")
            object.__setattr__(self, "timestamps", t)
        if self.user_ids is None:
            object.__setattr__(self, "user_ids", np.arange(self.n_users))
        if self.item_ids is None:
            object.__setattr__(self, "item_ids", np.arange(self.n_items))
        if len(self.user_ids) != self.n_users:
            raise ColumnError(f"user_ids has {len(self.user_ids)} entries, n_users={self.n_users}")
        if len(self.item_ids) != self.n_items:
            raise ColumnError(f"item_ids has {len(self.item_ids)} entries, n_items={self.n_items}")
        if self.item_features is not None and self.item_features.n_items != self.n_items:
            raise ColumnError(
                f"item_features describe {self.item_features.n_items} items, n_items={self.n_items}"
            )
        object.__setattr__(self, "log", tuple(self.log))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_raw(
        cls,
        users: Sequence | np.ndarray,
        items: Sequence | np.ndarray,
        ratings: Sequence | np.ndarray | None = None,
        timestamps: Sequence | np.ndarray | None = None,
        *,
        item_features: dict | None = None,
        name: str = "interactions",
        log: Sequence[str] = (),
    ) -> Interactions:
        """Build from raw ids, assigning dense indices in sorted order of the raw ids.

        Args:
            users: ``[n]`` raw user ids (ints or strings).
            items: ``[n]`` raw item ids.
            ratings: optional ``[n]`` ratings.
            timestamps: optional ``[n]`` timestamps.
            item_features: optional ``{"item_ids": [m] raw ids, "features": ItemFeatures}``
                giving side information for ``m`` raw item ids; it is aligned to the items
                that occur (items without a row get no categories and an empty title).
            name: data set name.
            log: lines describing how the data were obtained.

        Returns:
            Interactions over the users and items that occur in the data.

        Raises:
            EmptyDataError: if there are no interactions.
        """
        users = np.asarray(users)
        items = np.asarray(items)
        if users.shape[0] == 0:
            raise EmptyDataError(f"data set {name!r} holds no interactions")
        user_ids, u = np.unique(users, return_inverse=True)
        item_ids, i = np.unique(items, return_inverse=True)
        feats = None
        if item_features is not None:
            feats = align_item_features(
                item_ids, item_features["item_ids"], item_features["features"]
            )
        return cls(
            users=u.astype(np.int32),
            items=i.astype(np.int32),
            n_users=len(user_ids),
            n_items=len(item_ids),
            ratings=None if ratings is None else np.asarray(ratings, dtype=np.float32),
            timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.float64),
            user_ids=user_ids,
            item_ids=item_ids,
            item_features=feats,
            name=name,
            log=tuple(log),
        )

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def density(self) -> float:
        """Share of the user x item matrix that holds an interaction."""
        return len(self) / max(1, self.n_users * self.n_items)

    def select(self, mask_or_index: np.ndarray, *, log: str | None = None) -> Interactions:
        """Keep the rows given by a ``[n]`` bool mask or an int index array.

        The index spaces are unchanged.
        """
        idx = np.asarray(mask_or_index)
        return dataclasses.replace(
            self,
            users=self.users[idx],
            items=self.items[idx],
            ratings=None if self.ratings is None else self.ratings[idx],
            timestamps=None if self.timestamps is None else self.timestamps[idx],
            log=self.log + ((log,) if log else ()),
        )

    def compact(self, *, log: str | None = None) -> Interactions:
        """Drop users and items without interactions and renumber both index spaces densely."""
        if len(self) == 0:
            raise EmptyDataError(f"data set {self.name!r} holds no interactions")
        keep_u, u = np.unique(self.users, return_inverse=True)
        keep_i, i = np.unique(self.items, return_inverse=True)
        return dataclasses.replace(
            self,
            users=u.astype(np.int32),
            items=i.astype(np.int32),
            n_users=len(keep_u),
            n_items=len(keep_i),
            user_ids=self.user_ids[keep_u],
            item_ids=self.item_ids[keep_i],
            item_features=None if self.item_features is None else self.item_features.take(keep_i),
            log=self.log + ((log,) if log else ()),
        )

    def user_counts(self) -> np.ndarray:
        """``[n_users]`` int64 number of interactions per user."""
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """``[n_items]`` int64 number of interactions per item."""
        return np.bincount(self.items, minlength=self.n_items)

    def fingerprint(self) -> str:
        """A digest naming these interactions: ``"sha256:<64 hex digits>"``.

        SHA-256 over, in this order: a format tag; ``n_users``, ``n_items``, the number of
        rows and which of ratings / timestamps are present; the rows sorted by (user, item,
        timestamp, rating), as little-endian ``users`` int32, ``items`` int32, ``ratings``
        float32 and ``timestamps`` float64 (the last two when present); and the raw id maps
        ``user_ids`` / ``item_ids`` (integers as int64, floats as float64, other ids as their
        ``str`` joined by NUL bytes). The same interactions in another row order have the same
        fingerprint; a row more or less, another index space or another id map give another.

        A saved model records the fingerprint of its training interactions, and
        :func:`moorec.models.load` refuses data whose fingerprint differs.

        Returns:
            ``"sha256:"`` followed by the hex digest.

        Example:
            >>> a = Interactions(users=[0, 1], items=[1, 0], n_users=2, n_items=2)
            >>> b = Interactions(users=[1, 0], items=[0, 1], n_users=2, n_items=2)
            >>> a.fingerprint() == b.fingerprint()
            True
        """
        import hashlib
        import json

        keys = [self.users, self.items]
        if self.timestamps is not None:
            keys.append(self.timestamps)
        if self.ratings is not None:
            keys.append(self.ratings)
        order = np.lexsort(keys[::-1])  # the last key is the primary one
        h = hashlib.sha256(b"moorec.interactions/1\0")
        header = {
            "n_users": self.n_users,
            "n_items": self.n_items,
            "rows": len(self),
            "ratings": self.ratings is not None,
            "timestamps": self.timestamps is not None,
        }
        h.update(json.dumps(header, sort_keys=True).encode() + b"\0")
        h.update(self.users[order].astype("<i4").tobytes())
        h.update(self.items[order].astype("<i4").tobytes())
        if self.ratings is not None:
            h.update(self.ratings[order].astype("<f4").tobytes())
        if self.timestamps is not None:
            h.update(self.timestamps[order].astype("<f8").tobytes())
        for ids in (self.user_ids, self.item_ids):
            h.update(b"\0ids\0" + _id_bytes(np.asarray(ids)))
        return f"sha256:{h.hexdigest()}"

    def summary(self) -> str:
        """One line: name, users, items, interactions, density."""
        return (
            f"{self.name}: {self.n_users:,} users x {self.n_items:,} items, "
            f"{len(self):,} interactions (density {self.density:.4%})"
        )


def _id_bytes(ids: np.ndarray) -> bytes:
    """The canonical bytes of a raw id map (see :meth:`Interactions.fingerprint`)."""
    if ids.dtype.kind in "iub":
        return b"int\0" + ids.astype("<i8").tobytes()
    if ids.dtype.kind == "f":
        return b"float\0" + ids.astype("<f8").tobytes()
    return b"str\0" + "\0".join(str(v) for v in ids.tolist()).encode("utf-8")


def csr_by_user(inter: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Group item indices by user.

    Args:
        inter: interactions.

    Returns:
        ``(indptr, indices)``: ``indptr`` is ``[n_users + 1]`` int64, the items of user ``u`` are
        ``indices[indptr[u]:indptr[u + 1]]`` (``int32``, in input order within a user).
    """
    order = np.argsort(inter.users, kind="stable")
    counts = np.bincount(inter.users, minlength=inter.n_users)
    indptr = np.zeros(inter.n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, inter.items[order]


def align_item_features(
    item_ids: np.ndarray, feature_ids: np.ndarray, features: ItemFeatures
) -> ItemFeatures:
    """Reorder ``features`` (given for raw ``feature_ids``) to the order of ``item_ids``.

    Items of ``item_ids`` without a feature row get no categories, an empty title and ``nan``
    price / year.
    """
    feature_ids = np.asarray(feature_ids)
    lookup = {k: j for j, k in enumerate(feature_ids.tolist())}
    rows = np.array([lookup.get(k, -1) for k in np.asarray(item_ids).tolist()], dtype=np.int64)
    have = rows >= 0
    n = len(item_ids)
    cats = np.zeros((n, len(features.category_names)), dtype=bool)
    cats[have] = features.categories[rows[have]]
    titles = price = year = None
    if features.titles is not None:
        titles = np.full(n, "", dtype=object)
        titles[have] = features.titles[rows[have]]
    if features.price is not None:
        price = np.full(n, np.nan, dtype=np.float32)
        price[have] = features.price[rows[have]]
    if features.year is not None:
        year = np.full(n, np.nan, dtype=np.float32)
        year[have] = features.year[rows[have]]
    return ItemFeatures(cats, features.category_names, titles, price, year)


def csr_entries(
    indptr: np.ndarray, indices: np.ndarray, users: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every entry of the CSR rows ``users``, in row order.

    Args:
        indptr: ``[n_users + 1]`` offsets (from :func:`csr_by_user`).
        indices: ``[nnz]`` item indices.
        users: ``[B]`` rows to take (repeats allowed).

    Returns:
        ``(rows, offsets, items)``, each ``[E]`` for the ``E`` entries of those rows: the
        position of the row in ``users`` (int64), the entry's place within its row (int64),
        and its item.
    """
    users = np.asarray(users, dtype=np.int64)
    counts = (indptr[users + 1] - indptr[users]).astype(np.int64)
    total = int(counts.sum())
    rows = np.repeat(np.arange(len(users), dtype=np.int64), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, offsets, indices[np.repeat(indptr[users], counts) + offsets]


def padded_rows(
    indptr: np.ndarray, indices: np.ndarray, users: np.ndarray, fill: int, width: int | None = None
) -> np.ndarray:
    """Rows of a CSR matrix as a dense padded matrix.

    Args:
        indptr: ``[n_users + 1]`` offsets (from :func:`csr_by_user`).
        indices: ``[nnz]`` item indices.
        users: ``[B]`` rows to take.
        fill: value of the padding.
        width: number of columns; by default the longest row rounded up to a power of two
            (at least 8), so that few distinct shapes reach a jitted function.

    Returns:
        ``[B, width]`` int32.
    """
    users = np.asarray(users, dtype=np.int64)
    if width is None:
        counts = indptr[users + 1] - indptr[users]
        width = pad_width(int(counts.max()) if len(users) else 0)
    out = np.full((len(users), width), fill, dtype=np.int32)
    rows, offsets, items = csr_entries(indptr, indices, users)
    out[rows, offsets] = items
    return out


def pad_width(longest: int) -> int:
    """Padded width for rows of up to ``longest`` entries: a power of two, at least 8."""
    return max(8, 1 << (max(int(longest), 1) - 1).bit_length())


def history_matrix(inter: Interactions, users: np.ndarray, length: int) -> np.ndarray:
    """Each user's last ``length`` items in time order, left-padded with ``-1``.

    Args:
        inter: interactions (ordered by ``timestamps`` when present, else by row order).
        users: ``[U]`` users.
        length: columns.

    Returns:
        ``[U, length]`` int32, most recent item last.
    """
    key = inter.timestamps if inter.timestamps is not None else np.arange(len(inter))
    order = np.lexsort((np.arange(len(inter)), key, inter.users))
    i_sorted = inter.items[order]
    counts = np.bincount(inter.users, minlength=inter.n_users)
    ends = np.cumsum(counts)
    users = np.asarray(users, dtype=np.int64)
    out = np.full((len(users), length), -1, dtype=np.int32)
    take = np.minimum(counts[users], length)
    rows = np.repeat(np.arange(len(users)), take)
    offsets = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
    src = np.repeat(ends[users] - take, take) + offsets
    out[rows, length - np.repeat(take, take) + offsets] = i_sorted[src]
    return out
