"""A synthetic shop: implicit interactions with category structure, prices and titles.

The generative model (:func:`synthetic_shop`):

* **Items.** Category shares ``s ~ Dirichlet(5, ..., 5)``; each item gets a main category drawn
  from ``s`` (every category gets at least one item) and, with probability ``secondary_rate``, a
  second one, so ``categories`` is multi-hot. Within its main category an item has a random
  popularity rank ``r = 1, 2, ...`` and weight ``r ** -popularity_exponent`` (Zipf). Prices are
  log-normal around a per-category level; titles read ``"<adjective> <noun> <model>"`` with
  nouns specific to the category, so they carry the category for text features (TF-IDF).
* **Users.** Each user has category preferences ``theta_u ~ Dirichlet(concentration * C * s)``;
  a small ``concentration`` makes them peaked (most users buy from one or two categories). The
  number of interactions of a user is ``min_per_user`` plus a multinomial share of the rest with
  log-normal (long-tailed) weights, so the total is ``n_interactions`` before duplicates.
* **Interactions.** Each interaction draws a category from ``theta_u``, then an item of that
  category by popularity (inverse-CDF sampling with ``np.searchsorted`` on per-user and
  per-category cumulative sums, vectorised over all interactions of a chunk of users).
* **No repeated pairs.** A draw that repeats an earlier (user, item) pair is redrawn (up to 6
  times from the user's preferences, then up to 4 times uniformly over all items); the few left
  after that are dropped and counted in the log.
* **Time.** Each user is active in a window of 5-25% of ``days`` that starts in the first 75%
  of the period; the user's interactions fall at uniform random times in it, in increasing
  order, as ``float64`` Unix seconds from ``start``.

Randomness comes from ``np.random.SeedSequence(seed).spawn(...)``: one generator per kind of
draw (items, counts, preferences, categories, items drawn, times, each redraw round), each
consumed in user order. Users are processed in chunks of ``chunk_size`` to bound memory, and since
each stream is read sequentially the result does not depend on ``chunk_size``.
"""

from __future__ import annotations

import numpy as np

from moorec.data.interactions import Interactions, ItemFeatures
from moorec.errors import ConfigError, check_positive_int

__all__ = ["CATEGORY_WORDS", "synthetic_shop"]

#: Category names with nouns used in item titles. Categories beyond these are named
#: ``"category-<k>"`` with the noun ``"item"``.
CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("electronics", ("headphones", "speaker", "charger", "camera", "monitor")),
    ("books", ("novel", "cookbook", "atlas", "biography", "guidebook")),
    ("kitchen", ("blender", "kettle", "frying pan", "knife set", "toaster")),
    ("garden", ("hose", "planter", "rake", "lantern", "seed kit")),
    ("toys", ("puzzle", "robot", "doll", "kite", "train set")),
    ("sports", ("yoga mat", "football", "racket", "dumbbell", "helmet")),
    ("beauty", ("serum", "lipstick", "shampoo", "perfume", "brush")),
    ("fashion", ("jacket", "scarf", "sneakers", "backpack", "belt")),
    ("home", ("lamp", "rug", "cushion", "wall clock", "mirror")),
    ("music", ("guitar", "keyboard", "ukulele", "drum pad", "microphone")),
    ("pets", ("leash", "cat tree", "dog bed", "aquarium", "feeder")),
    ("office", ("notebook", "desk chair", "stapler", "pen set", "planner")),
    ("games", ("board game", "controller", "card game", "console", "dice set")),
    ("outdoor", ("tent", "sleeping bag", "compass", "flashlight", "hiking pole")),
    ("baby", ("stroller", "bottle", "pacifier", "crib mobile", "onesie")),
    ("tools", ("drill", "wrench", "hammer", "screwdriver", "tape measure")),
    ("grocery", ("coffee", "tea", "olive oil", "granola", "chocolate")),
    ("health", ("vitamins", "thermometer", "first aid kit", "massager", "scale")),
    ("automotive", ("wiper", "car mat", "tyre gauge", "jump starter", "dash cam")),
    ("jewelry", ("ring", "necklace", "bracelet", "earrings", "watch")),
)

_ADJECTIVES = (
    "compact", "classic", "deluxe", "eco", "ergonomic", "foldable", "handmade", "heavy-duty",
    "lightweight", "modern", "portable", "premium", "rustic", "smart", "vintage", "wireless",
    "organic", "travel", "pro", "mini",
)  # fmt: skip
_PREF_ROUNDS = 6  # redraws of repeated pairs from the user's preferences
_UNIFORM_ROUNDS = 4  # then redraws uniformly over all items
_SECONDS_PER_DAY = 86_400.0
_TIME_BITS = 40  # resolution of a time inside a user's window: 2**-40 of its length
_TIME_STEPS = 1 << _TIME_BITS
_MAX_CHUNK = 1 << 22  # users per chunk, so that user << _TIME_BITS fits in an int64


def synthetic_shop(
    n_users: int = 2_000,
    n_items: int = 1_000,
    n_interactions: int = 50_000,
    n_categories: int = 10,
    *,
    seed: int = 0,
    chunk_size: int = 100_000,
    min_per_user: int = 5,
    concentration: float = 0.1,
    popularity_exponent: float = 1.0,
    secondary_rate: float = 0.15,
    start: float = 1_577_836_800.0,
    days: float = 365.0,
) -> Interactions:
    """Generate the ``synthetic-shop`` data set (implicit feedback, no ratings).

    The model is described in the module docstring. Memory is bounded by ``chunk_size`` users
    at a time plus the output (``users``/``items`` ``int32``, ``timestamps`` ``float64``); one
    million users, 100k items and 20M interactions take well under 2 GiB.

    Args:
        n_users: number of users (all of them occur in the result).
        n_items: number of items in the catalogue; items never drawn are removed.
        n_interactions: total number of draws (before the few repeated pairs that cannot be
            redrawn are dropped). Must be at least ``min_per_user * n_users``.
        n_categories: number of item categories (``<= n_items``).
        seed: random seed; the same arguments give identical arrays.
        chunk_size: users generated at once (memory bound; the result does not depend on it).
        min_per_user: minimum number of interactions per user.
        concentration: Dirichlet concentration per category of the user preferences; small
            values make users stick to few categories (strong, learnable structure).
        popularity_exponent: Zipf exponent of item popularity within a category (0: uniform).
        secondary_rate: probability that an item has a second category.
        start: Unix time (seconds) at which the period starts (default 2020-01-01 UTC).
        days: length of the period in days.

    Returns:
        Interactions named ``"synthetic-shop"``: ``users``/``items`` ``[n] int32``,
        ``ratings=None``, ``timestamps`` ``[n] float64`` (increasing within each user; rows are
        ordered by user, then time), ``item_features`` with ``categories``
        ``[n_items, n_categories]`` bool, ``titles`` ``[n_items]`` object, ``price``
        ``[n_items]`` float32; ``user_ids``/``item_ids`` are the generator's indices.

    Raises:
        ConfigError: if a setting is out of range.

    Example:
        >>> inter = synthetic_shop(n_users=100, n_items=50, n_interactions=1_000, seed=1)
        >>> inter.n_users, bool(inter.ratings is None)
        (100, True)
    """
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    n_interactions = check_positive_int("n_interactions", n_interactions)
    n_categories = check_positive_int("n_categories", n_categories)
    chunk_size = min(check_positive_int("chunk_size", chunk_size), _MAX_CHUNK)
    min_per_user = check_positive_int("min_per_user", min_per_user)
    if n_categories > n_items:
        raise ConfigError(f"n_categories ({n_categories}) must not exceed n_items ({n_items})")
    if min_per_user * 2 > n_items:
        raise ConfigError(
            f"min_per_user ({min_per_user}) must be at most half of n_items ({n_items})"
        )
    if n_interactions < min_per_user * n_users:
        raise ConfigError(
            f"n_interactions ({n_interactions:,}) must be at least min_per_user * n_users "
            f"({min_per_user} * {n_users:,} = {min_per_user * n_users:,})"
        )
    if n_interactions > n_users * n_items // 2:
        raise ConfigError(
            f"n_interactions ({n_interactions:,}) must be at most half of n_users * n_items "
            f"({n_users * n_items // 2:,}); the data would be too dense for distinct pairs"
        )
    if max(n_users, n_items, n_interactions) >= 2**31:
        raise ConfigError("n_users, n_items and n_interactions must each be below 2**31")
    for label, value, low in (("concentration", concentration, 0.0), ("days", days, 0.0)):
        if not np.isfinite(value) or value <= low:
            raise ConfigError(f"{label} must be a positive number, got {value!r}")
    if not np.isfinite(popularity_exponent) or popularity_exponent < 0:
        raise ConfigError(f"popularity_exponent must be >= 0, got {popularity_exponent!r}")
    if not 0.0 <= secondary_rate <= 1.0:
        raise ConfigError(f"secondary_rate must lie in [0, 1], got {secondary_rate!r}")

    streams = [
        np.random.default_rng(s)
        for s in np.random.SeedSequence(seed).spawn(7 + _PREF_ROUNDS + _UNIFORM_ROUNDS)
    ]
    item_rng, count_rng, pref_rng, cat_rng, pick_rng, window_rng, time_rng = streams[:7]
    redraw_rngs = streams[7:]

    catalog = _Catalog.make(item_rng, n_items, n_categories, popularity_exponent, secondary_rate)
    counts = _counts(count_rng, n_users, n_interactions, min_per_user, n_items)
    alpha = concentration * n_categories * catalog.share

    total = int(counts.sum())
    users = np.empty(total, dtype=np.int32)
    items = np.empty(total, dtype=np.int32)
    timestamps = np.empty(total, dtype=np.float64)
    filled = redrawn = 0
    for u0 in range(0, n_users, chunk_size):
        u1 = min(n_users, u0 + chunk_size)
        c = counts[u0:u1]
        m, n = u1 - u0, int(c.sum())
        row = np.repeat(np.arange(m, dtype=np.int64), c)
        theta = pref_rng.standard_gamma(alpha, size=(m, n_categories))
        pref_cum = _row_cumsum(theta)
        cats = _draw_categories(pref_cum, row, cat_rng.random(n))
        drawn = catalog.draw(cats, pick_rng.random(n))
        keep, n_redrawn = _redraw_repeats(drawn, row, pref_cum, catalog, redraw_rngs)
        redrawn += n_redrawn
        times = _times(window_rng, time_rng, c, start, days)
        k = int(keep.sum())
        users[filled : filled + k] = row[keep] + u0
        items[filled : filled + k] = drawn[keep]
        timestamps[filled : filled + k] = times[keep]
        filled += k
    dropped = total - filled
    users, items, timestamps = users[:filled], items[:filled], timestamps[:filled]
    present = np.bincount(items, minlength=n_items) > 0
    kept_items = np.flatnonzero(present)
    if len(kept_items) < n_items:
        items = (np.cumsum(present, dtype=np.int32) - 1)[items]
    log = (
        f"synthetic_shop(n_users={n_users}, n_items={n_items}, n_interactions={n_interactions}, "
        f"n_categories={n_categories}, seed={seed}, concentration={concentration}, "
        f"popularity_exponent={popularity_exponent}, min_per_user={min_per_user}): "
        f"{len(users):,} interactions; {redrawn:,} draws that repeated a (user, item) pair were "
        f"redrawn, {dropped:,} could not be and were dropped; "
        f"{n_items - len(kept_items):,} items never drawn were removed",
    )
    return Interactions(
        users=users,
        items=items,
        n_users=n_users,
        n_items=len(kept_items),
        timestamps=timestamps,
        user_ids=np.arange(n_users),
        item_ids=kept_items,
        item_features=catalog.features.take(kept_items),
        name="synthetic-shop",
        log=log,
    )


class _Catalog:
    """Items with categories and popularity, plus the arrays used to sample them."""

    def __init__(self, features, share, main, by_cat, cat_start, flat_cum):
        self.features = features
        self.share = share  # [C] float64 category shares
        self.main = main  # [n_items] int64 main category
        self.by_cat = by_cat  # [n_items] items sorted by (main category, popularity rank)
        self.cat_start = cat_start  # [C + 1] offsets into by_cat
        self.flat_cum = flat_cum  # [n_items] category + normalised cumulative popularity

    @classmethod
    def make(cls, rng, n_items, n_cat, exponent, secondary_rate) -> _Catalog:
        share = rng.dirichlet(np.full(n_cat, 5.0))
        main = np.concatenate([np.arange(n_cat), rng.choice(n_cat, size=n_items - n_cat, p=share)])
        main = main[rng.permutation(n_items)]
        cats = np.zeros((n_items, n_cat), dtype=bool)
        cats[np.arange(n_items), main] = True
        if n_cat > 1:
            second = rng.random(n_items) < secondary_rate
            other = (main + rng.integers(1, n_cat, size=n_items)) % n_cat
            cats[np.flatnonzero(second), other[second]] = True
        # popularity: a random rank within the main category, Zipf weights
        by_cat = np.lexsort((rng.permutation(n_items), main))
        cat_start = np.zeros(n_cat + 1, dtype=np.int64)
        np.cumsum(np.bincount(main, minlength=n_cat), out=cat_start[1:])
        rank = np.arange(n_items) - cat_start[main[by_cat]] + 1
        weight = rank.astype(np.float64) ** -exponent
        flat_cum = _segment_cumsum(weight, cat_start) + main[by_cat]
        # prices: log-normal around a per-category level
        level = rng.uniform(np.log(5.0), np.log(300.0), size=n_cat)
        price = np.exp(level[main] + 0.4 * rng.standard_normal(n_items))
        price = np.maximum(np.round(price, 2), 0.5).astype(np.float32)
        names, nouns = _category_words(n_cat)
        adjective = rng.integers(len(_ADJECTIVES), size=n_items)
        noun = rng.integers(5, size=n_items)
        letter = rng.integers(26, size=n_items)
        number = rng.integers(100, 1000, size=n_items)
        titles = np.array(
            [
                f"{_ADJECTIVES[a]} {nouns[c][k % len(nouns[c])]} {chr(65 + x)}-{d}"
                for a, c, k, x, d in zip(
                    adjective.tolist(), main.tolist(), noun.tolist(), letter.tolist(),
                    number.tolist(), strict=True,
                )
            ],
            dtype=object,
        )  # fmt: skip
        features = ItemFeatures(cats, names, titles, price=price)
        return cls(features, share, main, by_cat, cat_start, flat_cum)

    def draw(self, cats: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Item of category ``cats[k]`` drawn by popularity with uniform ``u[k]``; ``[n]`` int64."""
        pos = np.searchsorted(self.flat_cum, cats + u, side="right")
        pos = np.clip(pos, self.cat_start[cats], self.cat_start[cats + 1] - 1)
        return self.by_cat[pos]


def _category_words(n_cat: int) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    names, nouns = [], []
    for c in range(n_cat):
        if c < len(CATEGORY_WORDS):
            names.append(CATEGORY_WORDS[c][0])
            nouns.append(CATEGORY_WORDS[c][1])
        else:
            names.append(f"category-{c + 1}")
            nouns.append(("item",))
    return tuple(names), nouns


def _segment_cumsum(weight: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Cumulative sums of ``weight`` restarted at each segment and scaled to end at 1."""
    total = np.cumsum(weight)
    before = np.concatenate([[0.0], total[start[1:-1] - 1]])
    seg = np.repeat(np.arange(len(start) - 1), np.diff(start))
    cum = total - before[seg]
    cum /= cum[start[1:] - 1][seg]
    cum[start[1:] - 1] = 1.0
    return cum


def _counts(rng, n_users, n_interactions, min_per_user, n_items) -> np.ndarray:
    """``[n_users]`` int64 interactions per user: the minimum plus a long-tailed share."""
    weight = rng.lognormal(0.0, 1.0, size=n_users)
    extra = rng.multinomial(n_interactions - min_per_user * n_users, weight / weight.sum())
    return np.minimum(min_per_user + extra, n_items // 2)


def _row_cumsum(theta: np.ndarray) -> np.ndarray:
    """Per-row cumulative sums scaled to end at exactly 1 (rows of zeros become uniform)."""
    total = theta.sum(axis=1, keepdims=True)
    theta = np.where(total > 0, theta, 1.0)
    cum = np.cumsum(theta, axis=1)
    cum /= cum[:, -1:]
    cum[:, -1] = 1.0
    return cum


def _draw_categories(pref_cum: np.ndarray, row: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Category of each interaction, drawn from its user's row of ``pref_cum``; ``[n]`` int64."""
    m, n_cat = pref_cum.shape
    flat = (pref_cum + np.arange(m)[:, None]).ravel()
    cat = np.searchsorted(flat, row + u, side="right") - row * n_cat
    return np.clip(cat, 0, n_cat - 1)


def _redraw_repeats(items, row, pref_cum, catalog, rngs) -> tuple[np.ndarray, int]:
    """Redraw, in place, the draws that repeat an earlier (user, item) pair.

    Returns a ``[n]`` bool mask of the draws to keep and the number of redrawn draws.
    """
    n_items = len(catalog.main)
    keys = row * n_items + items
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    repeat = np.zeros(len(keys), dtype=bool)
    repeat[1:] = sorted_keys[1:] == sorted_keys[:-1]
    taken = sorted_keys[~repeat]  # sorted distinct keys of the draws kept so far
    todo = np.sort(order[repeat])  # repeated draws, in interaction order
    n_redrawn = len(todo)
    for r, rng in enumerate(rngs):
        if len(todo) == 0:
            break
        u = rng.random((len(todo), 2))
        if r < _PREF_ROUNDS:
            new = catalog.draw(_draw_categories(pref_cum, row[todo], u[:, 0]), u[:, 1])
        else:
            new = np.minimum((u[:, 1] * n_items).astype(np.int64), n_items - 1)
        new_keys = row[todo] * n_items + new
        pos = np.minimum(np.searchsorted(taken, new_keys), len(taken) - 1)
        fresh = taken[pos] != new_keys
        first = np.zeros(len(todo), dtype=bool)
        first[np.unique(new_keys, return_index=True)[1]] = True
        ok = fresh & first
        items[todo[ok]] = new[ok]
        accepted = np.sort(new_keys[ok])
        taken = np.insert(taken, np.searchsorted(taken, accepted), accepted)
        todo = todo[~ok]
    keep = np.ones(len(keys), dtype=bool)
    keep[todo] = False
    return keep, n_redrawn


def _times(window_rng, time_rng, counts, start, days) -> np.ndarray:
    """``[sum(counts)]`` float64 times, increasing within each user, inside the user's window."""
    m = len(counts)
    span = days * _SECONDS_PER_DAY
    w = window_rng.random((m, 2))
    begin = start + 0.75 * span * w[:, 0]
    length = span * (0.05 + 0.20 * w[:, 1])
    owner = np.repeat(np.arange(m, dtype=np.int64), counts)
    # sort within each user with one int64 sort: the user in the high bits, a 40-bit
    # fixed-point uniform in the low bits (exact, so the order does not depend on the chunk)
    u = (time_rng.random(len(owner)) * _TIME_STEPS).astype(np.int64)
    u = np.sort((owner << _TIME_BITS) | u) & (_TIME_STEPS - 1)
    return begin[owner] + length[owner] * (u / _TIME_STEPS)
