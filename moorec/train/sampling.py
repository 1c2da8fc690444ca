"""Training batches: shuffled positives with negatives sampled on the device.

Four samplers (:data:`SAMPLERS`) turn a training set into batches: ``pairs`` (interactions,
with a negative each), ``sequences`` (each user's recent items in time order),
``sequences_neg`` (the same with a negative per position) and ``users`` (each user's whole
training row, for autoencoders).

The epoch order is a seeded host permutation (``numpy``): ``jax.random.permutation`` of 80k
indices costs about 34 ms on a 2-core CPU, more than the rest of a BPR epoch, while NumPy takes
about 1 ms. Negatives are drawn on the device inside the jitted epoch: uniform over the catalogue,
redrawn (a fixed number of rounds) where they hit one of the user's training items. Membership is
a lookup in a dense bool table for small catalogues and a binary search in the user's sorted item
list otherwise (millions of users).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from moorec.data.interactions import Interactions, history_matrix
from moorec.models.rows import dense_rows, user_csr

__all__ = [
    "DENSE_LIMIT",
    "SAMPLERS",
    "PairData",
    "PairSampler",
    "SequenceData",
    "SequenceNegativeSampler",
    "SequenceSampler",
    "UserData",
    "UserSampler",
    "epoch_order",
    "history_matrix",
    "is_known",
    "sample_negatives",
    "uniform_below",
]


#: Largest ``n_users * n_items`` for which membership uses a dense bool table (64 MiB).
DENSE_LIMIT = 1 << 26


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class PairData:
    """Device copies of a training set for pairwise (user, positive, negative) sampling.

    Attributes:
        users: ``[n]`` int32 user of each training interaction.
        items: ``[n]`` int32 item of each training interaction.
        indptr: ``[n_users + 1]`` int32 offsets into ``sorted_items``.
        sorted_items: ``[n]`` int32 training items grouped by user, ascending within a user.
        item_pop: ``[n_items]`` float32 training interactions per item, divided by the largest.
        item_cat: ``[n_items, C]`` float32 0/1 category rows (``C = 1`` and all zero when the
            data has no categories).
        dense: ``[n_users * n_items]`` bool membership table when the catalogue is small enough
            (``n_users * n_items <= DENSE_LIMIT``; one gather per test), else a ``[0]`` array and
            membership is a binary search in ``sorted_items``.
        n_items: catalogue size.
        max_degree: largest number of training items of one user.
    """

    users: jax.Array
    items: jax.Array
    indptr: jax.Array
    sorted_items: jax.Array
    item_pop: jax.Array
    item_cat: jax.Array
    dense: jax.Array
    n_items: int = dataclasses.field(metadata={"static": True})
    max_degree: int = dataclasses.field(metadata={"static": True})

    @classmethod
    def from_interactions(cls, train: Interactions) -> PairData:
        """Copy ``train`` to the device, with items sorted per user for membership tests."""
        member = _membership(train)
        pop = np.bincount(train.items, minlength=train.n_items).astype(np.float32)
        feats = train.item_features
        if feats is None or feats.categories.shape[1] == 0:
            cat = np.zeros((train.n_items, 1), dtype=np.float32)
        else:
            cat = feats.categories.astype(np.float32)
        return cls(
            item_cat=jnp.asarray(cat),
            item_pop=jnp.asarray(pop / max(float(pop.max(initial=0.0)), 1.0)),
            users=jnp.asarray(train.users),
            items=jnp.asarray(train.items),
            n_items=train.n_items,
            **member,
        )

    def __len__(self) -> int:
        return int(self.users.shape[0])


def _membership(train: Interactions) -> dict:
    """The membership arrays of :func:`is_known`, as :class:`PairData` documents them.

    Returns:
        ``indptr``, ``sorted_items`` and ``dense`` (device arrays) and ``max_degree``.
    """
    order = np.lexsort((train.items, train.users))
    counts = np.bincount(train.users, minlength=train.n_users)
    indptr = np.zeros(train.n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    if indptr[-1] >= np.iinfo(np.int32).max:
        raise ValueError("more than 2**31 training interactions are not supported")
    if train.n_users * train.n_items <= DENSE_LIMIT:
        dense = np.zeros(train.n_users * train.n_items, dtype=bool)
        dense[train.users.astype(np.int64) * train.n_items + train.items] = True
    else:
        dense = np.zeros(0, dtype=bool)
    return {
        "indptr": jnp.asarray(indptr.astype(np.int32)),
        "sorted_items": jnp.asarray(train.items[order]),
        "dense": jnp.asarray(dense),
        "max_degree": int(counts.max()) if counts.size else 0,
    }


def epoch_order(n: int, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A shuffled pass over ``n`` rows, padded to whole batches.

    Args:
        n: number of training rows.
        batch_size: rows per batch.
        rng: NumPy generator that draws the permutation.

    Returns:
        ``(order, weight)``: ``[n_batches, batch_size]`` int32 row indices and float32 weights,
        1 for real rows and 0 for the padding that fills the last batch.
    """
    n_batches = -(-n // batch_size)
    order = np.zeros(n_batches * batch_size, dtype=np.int32)
    order[:n] = rng.permutation(n)
    weight = np.zeros(n_batches * batch_size, dtype=np.float32)
    weight[:n] = 1.0
    return order.reshape(n_batches, batch_size), weight.reshape(n_batches, batch_size)


def is_known(data: PairData | SequenceData, users: jax.Array, items: jax.Array) -> jax.Array:
    """Whether each ``(users[b], items[b])`` is a training interaction.

    Args:
        data: training set on the device (its ``indptr``, ``sorted_items``, ``dense``,
            ``n_items`` and ``max_degree``).
        users: int32 users, any shape.
        items: int32 items, the shape of ``users``.

    Returns:
        bool, the shape of ``users``.
    """
    if data.dense.shape[0]:
        return data.dense[users * data.n_items + items]
    last = max(int(data.sorted_items.shape[0]) - 1, 0)
    lo = data.indptr[users]
    hi = data.indptr[users + 1]
    n_steps = max(1, int(np.ceil(np.log2(data.max_degree + 1))))

    def body(_, carry):
        lo, hi = carry
        mid = (lo + hi) // 2
        go_right = data.sorted_items[jnp.minimum(mid, last)] < items
        open_ = lo < hi
        lo = jnp.where(open_ & go_right, mid + 1, lo)
        hi = jnp.where(open_ & ~go_right, mid, hi)
        return lo, hi

    lo, _ = jax.lax.fori_loop(0, n_steps + 1, body, (lo, hi))
    end = data.indptr[users + 1]
    return (lo < end) & (data.sorted_items[jnp.minimum(lo, last)] == items)


def uniform_below(bits: jax.Array, n: int) -> jax.Array:
    """Map uniform 32-bit words to integers in ``[0, n)`` by multiply-shift.

    ``floor(bits * n / 2**32)``, the multiply-high of Lemire, "Fast Random Integer Generation in
    an Interval", ACM TOMACS 2019, without its rejection step: each value is drawn with
    probability ``floor(2**32 / n) / 2**32`` or ``ceil(2**32 / n) / 2**32``, a relative bias
    below ``n / 2**32`` (4e-4 for a million items). It costs one draw per integer, where
    ``jax.random.randint`` draws two, and is computed exactly in uint32 (no 64-bit integers
    under JAX's default precision).

    Args:
        bits: uint32 words, any shape (``jax.random.bits``).
        n: the bound, ``1 <= n < 2**31``.

    Returns:
        int32 integers in ``[0, n)``, the shape of ``bits``.
    """
    if not 1 <= n < 2**31:
        raise ValueError(f"n must lie in [1, 2**31), got {n}")
    mask = jnp.uint32(0xFFFF)
    xh, xl = bits >> 16, bits & mask
    nh, nl = jnp.uint32(n >> 16), jnp.uint32(n & 0xFFFF)
    cross_h, cross_l = xh * nl, xl * nh  # each < 2**32
    carry = ((xl * nl) >> 16) + (cross_h & mask) + (cross_l & mask)  # < 3 * 2**16
    high = xh * nh + (cross_h >> 16) + (cross_l >> 16) + (carry >> 16)
    return high.astype(jnp.int32)


def sample_negatives(
    data: PairData | SequenceData, users: jax.Array, key: jax.Array, rounds: int = 4
) -> jax.Array:
    """Uniform negatives that avoid the user's training items.

    All ``rounds + 1`` draws come from one ``jax.random.bits`` call, mapped to items by
    :func:`uniform_below`.

    Args:
        data: training set on the device.
        users: int32 users, any shape (one negative each).
        key: PRNG key.
        rounds: redraws for negatives that hit a training item. After them a draw that still
            hits one is kept; with density ``rho`` that happens with probability
            ``rho ** (rounds + 1)`` per row (6.3% density on ml-100k: about 1e-6).

    Returns:
        int32 item indices, the shape of ``users``.
    """
    draws = uniform_below(
        jax.random.bits(key, (rounds + 1, *users.shape), jnp.uint32), data.n_items
    )
    neg = draws[0]
    for r in range(rounds):
        neg = jnp.where(is_known(data, users, neg), draws[r + 1], neg)
    return neg


# ---------------------------------------------------------------------------------------------
# Samplers: how a model's training set becomes batches. Each is a class of static functions, so
# it can be a static argument of the jitted epoch (hashable, compiled once per sampler).
# ---------------------------------------------------------------------------------------------
DIV_ITEMS = 256
DIV_USERS = 256


class PairSampler:
    """Rows are training interactions; each batch adds a sampled negative per row.

    Batch: ``user``, ``pos``, ``neg`` ``[B]`` int32, ``pos_pop`` ``[B]`` float32, ``weight``
    ``[B]`` float32, ``rng``, and for list-level regularisers ``div_items`` ``[M]`` int32,
    ``div_cat`` ``[M, C]`` float32 and ``div_users`` (static int).
    """

    name = "pairs"

    @staticmethod
    def data(train: Interactions, **_) -> PairData:
        """Device copy of the training set."""
        return PairData.from_interactions(train)

    @staticmethod
    def n_rows(data: PairData) -> int:
        """Rows of one epoch."""
        return len(data)

    @staticmethod
    def prepare(data: PairData, order: jax.Array, key: jax.Array, neg_rounds: int) -> jax.Array:
        """Negatives of the whole epoch in one vectorised draw: ``[n_batches, B]`` int32."""
        negs = sample_negatives(data, data.users[order.reshape(-1)], key, neg_rounds)
        return negs.reshape(order.shape)

    @staticmethod
    def batch(
        data: PairData, rows: jax.Array, extra: jax.Array, weight: jax.Array, key: jax.Array
    ) -> dict:
        """The batch of ``rows`` (``[B]`` int32) with their negatives ``extra``."""
        k_div, k_model = jax.random.split(key)
        div_items = jax.random.randint(k_div, (DIV_ITEMS,), 0, data.n_items, dtype=jnp.int32)
        return {
            "user": data.users[rows],
            "pos": data.items[rows],
            "pos_pop": data.item_pop[data.items[rows]],
            "neg": extra,
            "weight": weight,
            "div_items": div_items,
            "div_cat": data.item_cat[div_items],
            "div_users": min(DIV_USERS, rows.shape[0]),
            "rng": k_model,
        }


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class SequenceData:
    """Each user's most recent training items in time order, for sequential models.

    Attributes:
        seqs: ``[n_users, max_len + 1]`` int32, the last ``max_len + 1`` training items of each
            user, oldest first, left-padded with ``-1``.
        users: ``[n]`` int32 users with at least two training items (the rows of an epoch).
        indptr, sorted_items, dense: every training item of each user, for the membership
            test of the negatives (as in :class:`PairData`).
        n_items: catalogue size.
        max_len: sequence length seen by the model.
        max_degree: largest number of training items of one user.
    """

    seqs: jax.Array
    users: jax.Array
    indptr: jax.Array
    sorted_items: jax.Array
    dense: jax.Array
    n_items: int = dataclasses.field(metadata={"static": True})
    max_len: int = dataclasses.field(metadata={"static": True})
    max_degree: int = dataclasses.field(metadata={"static": True})

    @classmethod
    def from_interactions(cls, train: Interactions, max_len: int = 50) -> SequenceData:
        """Sequences from ``train``, ordered by timestamp (ties and no timestamps: row order)."""
        seqs = history_matrix(train, np.arange(train.n_users), max_len + 1)
        counts = np.bincount(train.users, minlength=train.n_users)
        return cls(
            seqs=jnp.asarray(seqs),
            users=jnp.asarray(np.flatnonzero(counts >= 2).astype(np.int32)),
            n_items=train.n_items,
            max_len=int(max_len),
            **_membership(train),
        )

    def __len__(self) -> int:
        return int(self.users.shape[0])


class SequenceSampler:
    """Rows are users; each batch holds their recent training sequences.

    Batch: ``items`` ``[B, L + 1]`` int32 (the last ``L + 1`` training items, oldest first,
    ``-1`` padding; causal models read ``items[:, :-1]`` and predict ``items[:, 1:]``, masked
    models read the last ``L``), ``weight`` ``[B]`` float32 (0 for padding rows) and
    ``rng``. For models that score sampled negatives, :class:`SequenceNegativeSampler` adds
    them.
    """

    name = "sequences"

    @staticmethod
    def data(train: Interactions, max_len: int = 50, **_) -> SequenceData:
        """Device copy of the training sequences."""
        return SequenceData.from_interactions(train, max_len)

    @staticmethod
    def n_rows(data: SequenceData) -> int:
        """Rows of one epoch (users with at least two training items)."""
        return len(data)

    @staticmethod
    def prepare(data: SequenceData, order: jax.Array, key: jax.Array, neg_rounds: int):
        """Nothing to draw ahead: a ``[n_batches]`` int32 placeholder for the scan."""
        return jnp.zeros(order.shape[:1], jnp.int32)

    @staticmethod
    def batch(
        data: SequenceData, rows: jax.Array, extra: jax.Array, weight: jax.Array, key: jax.Array
    ) -> dict:
        """The sequences of the users at ``rows`` of ``data.users``."""
        return {"items": data.seqs[data.users[rows]], "weight": weight, "rng": key}


class SequenceNegativeSampler(SequenceSampler):
    """:class:`SequenceSampler` plus one sampled negative per position.

    Batch: as :class:`SequenceSampler`'s, plus ``neg`` ``[B, L + 1]`` int32, uniform over the
    catalogue and redrawn ``neg_rounds`` times where they hit one of the user's training
    items (any of them, not only the ``L + 1`` in the batch), as :func:`sample_negatives`
    does for pairs; Kang and McAuley's SASRec code draws its negatives so. The whole epoch's
    negatives are drawn in one vectorised call.
    """

    name = "sequences_neg"

    @staticmethod
    def prepare(data: SequenceData, order: jax.Array, key: jax.Array, neg_rounds: int):
        """Negatives for every position of the epoch: ``[n_batches, B, L + 1]`` int32."""
        users = data.users[order]
        users = jnp.broadcast_to(users[..., None], (*order.shape, data.max_len + 1))
        return sample_negatives(data, users, key, neg_rounds)

    @staticmethod
    def batch(
        data: SequenceData, rows: jax.Array, extra: jax.Array, weight: jax.Array, key: jax.Array
    ) -> dict:
        """The sequences of the users at ``rows`` of ``data.users`` and their negatives."""
        return {**SequenceSampler.batch(data, rows, extra, weight, key), "neg": extra}


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class UserData:
    """Each user's training row as CSR arrays, for models that read whole rows (autoencoders).

    Attributes:
        indptr: ``[n_users + 1]`` int32 offsets into ``indices``.
        indices: ``[nnz]`` int32 distinct training items of each user, ascending.
        users: ``[n]`` int32 users with at least one training item (the rows of an epoch).
        n_items: catalogue size.
        max_degree: most distinct training items of one user.
    """

    indptr: jax.Array
    indices: jax.Array
    users: jax.Array
    n_items: int = dataclasses.field(metadata={"static": True})
    max_degree: int = dataclasses.field(metadata={"static": True})

    @classmethod
    def from_interactions(cls, train: Interactions) -> UserData:
        """CSR rows of ``train`` on the device (``O(nnz)`` memory)."""
        indptr, indices = user_csr(train)
        degree = np.diff(indptr)
        return cls(
            indptr=jnp.asarray(indptr),
            indices=jnp.asarray(indices),
            users=jnp.asarray(np.flatnonzero(degree > 0).astype(np.int32)),
            n_items=train.n_items,
            max_degree=int(degree.max(initial=0)),
        )

    def __len__(self) -> int:
        return int(self.users.shape[0])


class UserSampler:
    """Rows are users; each batch holds their whole training rows, dense.

    Batch: ``user`` ``[B]`` int32, ``rows`` ``[B, n_items]`` float32 (1 on the user's
    training items, repeated interactions counted once), ``weight`` ``[B]`` float32 (0 for
    padding rows) and ``rng``. Only one batch's block is dense at a time (it is built inside
    the step by :func:`dense_rows`): ``B x n_items`` floats, plus ``B x max_degree`` indices.
    """

    name = "users"

    @staticmethod
    def data(train: Interactions, **_) -> UserData:
        """Device copy of the training rows (CSR)."""
        return UserData.from_interactions(train)

    @staticmethod
    def n_rows(data: UserData) -> int:
        """Rows of one epoch (users with at least one training item)."""
        return len(data)

    @staticmethod
    def prepare(data: UserData, order: jax.Array, key: jax.Array, neg_rounds: int) -> jax.Array:
        """Nothing to draw ahead: a ``[n_batches]`` int32 placeholder for the scan."""
        return jnp.zeros(order.shape[:1], jnp.int32)

    @staticmethod
    def batch(
        data: UserData, rows: jax.Array, extra: jax.Array, weight: jax.Array, key: jax.Array
    ) -> dict:
        """The training rows of the users at ``rows`` of ``data.users``."""
        users = data.users[rows]
        dense = dense_rows(data.indptr, data.indices, users, data.n_items, data.max_degree)
        return {"user": users, "rows": dense, "weight": weight, "rng": key}


SAMPLERS = {
    "pairs": PairSampler,
    "sequences": SequenceSampler,
    "sequences_neg": SequenceNegativeSampler,
    "users": UserSampler,
}
