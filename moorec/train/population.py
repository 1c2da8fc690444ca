"""Many candidates of one structure trained at once: one jitted, vmapped program per epoch.

:func:`fit_population` is :func:`~moorec.train.fit` for ``P`` models that share their structure
(same model class and shape-changing settings) and their static training settings (optimiser,
batch size, negative redraws, validation schedule). Everything else is a batched array with a
leading ``[P]`` axis: parameters, optimiser state (each candidate's learning rate injected with
``optax.inject_hyperparams``), the loss hyperparameters (L2, dropout, loss weights) and each
candidate's PRNG stream. A candidate is the same computation as under :func:`fit` with the same
seed: the same initial parameters, batches and negatives.

Early stopping is per candidate: a candidate whose patience ran out (or whose epochs are done, or
whose loss became non-finite) is *frozen*: the program still runs over it, but its parameters and
optimiser state no longer change, and its best validated parameters are what it returns.

With a :class:`jax.sharding.Mesh`, the candidate axis is sharded over the mesh's devices
(``PartitionSpec("pop")``) and the training data is replicated; the population is padded to a
multiple of the device count with frozen copies.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from moorec.errors import ConfigError
from moorec.models.base import Recommender
from moorec.train.loop import TrainConfig, epoch_body, kept_hparams, optimizer
from moorec.train.sampling import SAMPLERS, epoch_order

__all__ = [
    "MemberResult",
    "PopulationFit",
    "fit_population",
    "population_epoch",
    "stack",
    "unstack",
]

# Settings that shape the compiled program: every candidate of one population shares them.
STATIC_FIELDS = ("optimizer", "batch_size", "neg_rounds", "eval_every", "valid_metric")

# Epochs the device may run ahead of the host's reading of their losses (when no validation
# is due sooner): bounds the work spent on a candidate whose loss has turned non-finite.
SYNC_EVERY = 10


def stack(trees: Sequence[Any]) -> Any:
    """Pytrees of equal structure stacked on a new leading axis."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def unstack(tree: Any, i: int) -> Any:
    """Member ``i`` of a stacked pytree."""
    return jax.tree.map(lambda x: x[i], tree)


def _same(trees: Sequence[Any]) -> bool:
    first = jax.tree.leaves(trees[0])
    for t in trees[1:]:
        leaves = jax.tree.leaves(t)
        if len(leaves) != len(first):
            return False
        for a, b in zip(first, leaves, strict=True):
            if a is b:
                continue
            if jnp.issubdtype(getattr(a, "dtype", None), jax.dtypes.prng_key):
                a, b = jax.random.key_data(a), jax.random.key_data(b)
            if np.shape(a) != np.shape(b) or not np.array_equal(np.asarray(a), np.asarray(b)):
                return False
    return True


@functools.partial(
    jax.jit,
    static_argnames=(
        "graphdef",
        "tx",
        "sampler",
        "neg_rounds",
        "rest_axis",
        "order_axis",
        "batched_hparams",
    ),
    donate_argnames=("opt_state",),
)
def population_epoch(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    rest: nnx.State,
    opt_state: optax.OptState,
    data,
    order: jax.Array,
    weight: jax.Array,
    keys: jax.Array,
    hparams: dict[str, jax.Array],
    active: jax.Array,
    *,
    tx: optax.GradientTransformation,
    sampler,
    neg_rounds: int,
    rest_axis: int | None,
    order_axis: int | None,
    batched_hparams: tuple[str, ...] | None = None,
) -> tuple[nnx.State, optax.OptState, jax.Array]:
    """One epoch of every candidate (:func:`~moorec.train.loop.epoch_body` under ``jax.vmap``).

    Args:
        graphdef: the shared model structure.
        params: ``[P, ...]`` stacked trainable state.
        rest: the rest of the state, stacked (``rest_axis=0``) or shared (``None``).
        opt_state: ``[P, ...]`` stacked optimiser state (learning rates ``[P]`` inside).
        data: the training set on the device (shared).
        order: ``[n_batches, B]`` (shared, ``order_axis=None``: every candidate has the same
            seed) or ``[P, n_batches, B]``.
        weight: like ``order``, float32.
        keys: this epoch's PRNG key (shared, ``order_axis=None``) or ``[P]`` keys.
        hparams: name -> ``[P]`` float32 for the names in ``batched_hparams``, a scalar shared
            by every candidate for the others.
        active: ``[P]`` bool; inactive candidates keep their parameters and state.
        tx: the optimiser (static).
        sampler: the sampler class (static).
        neg_rounds: negative redraw rounds (static).
        rest_axis: ``0`` or ``None`` (static).
        order_axis: ``0`` or ``None`` (static).
        batched_hparams: names of the per-candidate hyperparameters (static; default all);
            the others are scalars shared by every candidate.

    Returns:
        ``(params, opt_state, losses)``, ``losses`` ``[P, n_batches]``.
    """

    def one(p, r, o, od, w, k, hp, act):
        new_p, new_o, losses = epoch_body(
            graphdef, p, r, o, data, od, w, k, hp, tx=tx, sampler=sampler, neg_rounds=neg_rounds
        )
        keep = functools.partial(jax.tree.map, lambda n, old: jnp.where(act, n, old))
        return keep(new_p, p), keep(new_o, o), losses

    # Shared orders come with shared keys (one seed for all): the batches and negatives then
    # do not depend on the candidate, and vmap computes them once for the whole population.
    batched = tuple(hparams) if batched_hparams is None else batched_hparams
    hp_axes = {n: (0 if n in batched else None) for n in hparams}
    axes = (0, rest_axis, 0, order_axis, order_axis, order_axis, hp_axes, 0)
    return jax.vmap(one, in_axes=axes)(
        params, rest, opt_state, order, weight, keys, hparams, active
    )


@functools.partial(jax.jit, static_argnames=("tx",))
def _init_state(params: nnx.State, *, tx: optax.GradientTransformation) -> optax.OptState:
    """``[P, ...]`` optimiser states of stacked parameters, in one compiled program."""
    return jax.vmap(tx.init)(params)


@jax.jit
def _select(mask: jax.Array, new: Any, old: Any) -> Any:
    def pick(n, o):
        return jnp.where(mask.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)

    return jax.tree.map(pick, new, old)


@dataclasses.dataclass
class MemberResult:
    """One candidate's outcome in :func:`fit_population` (fields as in ``FitResult``).

    Attributes:
        model: the candidate's model holding its kept parameters (``None`` if it failed).
        best_epoch: 1-based epoch whose parameters were kept.
        best_valid: validation value at ``best_epoch`` (``nan`` without validation).
        history: one dict per epoch (``epoch``, ``loss``, ``seconds``, ``valid`` if validated).
        stopped_early: whether patience ran out before its ``epochs``.
        error: the :class:`~moorec.errors.TrainingError` that ended it, or ``None``.
    """

    model: Recommender | None
    best_epoch: int
    best_valid: float
    history: list[dict[str, float]]
    stopped_early: bool
    error: Exception | None = None


@dataclasses.dataclass
class PopulationFit:
    """What :func:`fit_population` returns.

    Attributes:
        members: one :class:`MemberResult` per model, in order.
        graphdef: the models' shared structure.
        params: ``[P, ...]`` kept parameters of every model, stacked (failed ones included).
        rest: the rest of the state, stacked (``rest_axis == 0``) or shared (``None``).
        rest_axis: ``0`` or ``None``.
    """

    members: list[MemberResult]
    graphdef: nnx.GraphDef
    params: Any
    rest: Any
    rest_axis: int | None


def fit_population(
    models: Sequence[Recommender],
    train,
    configs: Sequence[TrainConfig],
    *,
    validate: Callable[[nnx.GraphDef, Any, Any, int | None], np.ndarray] | None = None,
    maximize: bool = True,
    mesh: jax.sharding.Mesh | None = None,
    materialize: bool = True,
) -> PopulationFit:
    """Train ``P`` models of one structure together, each as :func:`~moorec.train.fit` would.

    The host reads the losses only when a validation is due and at the end (or every
    ``SYNC_EVERY`` epochs), so the device runs epoch after epoch without waiting for it; an
    epoch's ``seconds`` in the history is the wall time between two such reads divided by
    the epochs between them. A candidate whose loss turned non-finite may run a few more
    epochs before that is read; it fails all the same and its history ends at that epoch.

    Args:
        models: ``P`` freshly built models of one class and shape (modified in place). The
            same object may stand for several candidates that start from its state (it is
            split once); that needs ``materialize=False``.
        train: the training :class:`~moorec.data.Interactions`.
        configs: one :class:`~moorec.train.TrainConfig` per model; the fields in
            ``STATIC_FIELDS`` must agree; ``epochs``, ``patience``, ``lr``, ``l2``,
            ``loss_weights`` and ``seed`` may differ.
        validate: ``(graphdef, params, rest, rest_axis) -> [P]`` validation values of every
            candidate (e.g. an :class:`~moorec.objectives.Evaluator` ranking the population);
            used for candidates with ``patience > 0``.
        maximize: whether larger validation values are better.
        mesh: a one-axis mesh named ``"pop"`` to shard candidates over its devices.
        materialize: write each candidate's kept parameters back into its model (otherwise
            ``MemberResult.model`` is ``None`` and the stacked parameters are the result).

    Returns:
        A :class:`PopulationFit`.

    Raises:
        ConfigError: if the models differ in structure, the configs in a static field, or
            one model object stands for several candidates with ``materialize=True``.
    """
    n_real = len(models)
    if n_real == 0 or len(configs) != n_real:
        raise ConfigError(f"need one config per model, got {n_real} models, {len(configs)}")
    for f in STATIC_FIELDS:
        values = {repr(getattr(c, f)) for c in configs}
        if len(values) > 1:
            raise ConfigError(f"a population shares {f!r}; got {sorted(values)}")
    models, configs = list(models), list(configs)
    n_dev = 1 if mesh is None else mesh.size
    n_pad = -(-n_real // n_dev) * n_dev - n_real
    c0 = configs[0]
    split_of: dict[int, tuple] = {}
    for m in models:
        if id(m) not in split_of:
            split_of[id(m)] = nnx.split(m, nnx.Param, ...)
    if materialize and len(split_of) < n_real:
        raise ConfigError(
            "materialize=True writes each candidate's parameters into its own model: give "
            f"{n_real} distinct model objects, not {len(split_of)}"
        )
    splits = [split_of[id(m)] for m in models]
    graphdef = splits[0][0]
    if any(s[0] != graphdef for s in splits[1:]):
        raise ConfigError("a population's models must share their structure (class and shapes)")
    m0 = models[0]
    sampler = SAMPLERS[m0.sampler]
    data = sampler.data(train, max_len=getattr(m0, "max_len", 50))
    tx = optimizer(c0.optimizer)

    member_params = [s[1] for s in splits] + [splits[0][1]] * n_pad
    all_configs = configs + [c0] * n_pad
    params = stack(member_params)
    rests = [s[2] for s in splits]
    if _same(rests):
        rest, rest_axis = rests[0], None
    else:
        rest, rest_axis = stack(rests + [rests[0]] * n_pad), 0
    hp_rows = [
        c.hparam_values(m0.hparam_names, m0.hparam_defaults, m0.hparam_switches)
        for c in all_configs
    ]
    names = kept_hparams(m0.hparam_names, m0.hparam_switches, hp_rows)
    batched = tuple(n for n in names if any(h[n] != hp_rows[0][n] for h in hp_rows[1:]))
    hparams = {
        n: jnp.asarray([h[n] for h in hp_rows] if n in batched else hp_rows[0][n], jnp.float32)
        for n in names
    }
    seeds = [c.seed for c in all_configs]
    order_axis = None if len(set(seeds)) == 1 else 0
    # One host generator per distinct seed: candidates of one seed share its epoch orders.
    rngs = {c.seed: c.host_rng() for c in all_configs}

    put = replicate = lambda x: x
    if mesh is not None:
        from jax.sharding import NamedSharding, PartitionSpec

        by_pop = NamedSharding(mesh, PartitionSpec("pop"))
        everywhere = NamedSharding(mesh, PartitionSpec())

        def put(x):
            return jax.device_put(x, by_pop)

        def replicate(x):
            return jax.device_put(x, everywhere)

        params = put(params)
        hparams = {n: (put(v) if n in batched else replicate(v)) for n, v in hparams.items()}
        data = replicate(data)
        if rest_axis is None:
            rest = replicate(rest)
        else:
            rest = put(rest)
    opt_state = _init_state(params, tx=tx)
    opt_state.hyperparams["learning_rate"] = put(
        jnp.asarray([c.lr for c in all_configs], jnp.float32)
    )

    P = n_real + n_pad
    active = np.zeros(P, dtype=bool)
    active[:n_real] = True
    validated = [validate is not None and c.patience > 0 for c in all_configs]
    sign = 1.0 if maximize else -1.0
    best_value = [-math.inf] * P
    best_epoch = [0] * P
    since = [0] * P
    history: list[list[dict[str, float]]] = [[] for _ in range(P)]
    stopped = [False] * P
    errors: list[Exception | None] = [None] * P
    best_params = params
    n_rows = sampler.n_rows(data)
    if order_axis is None:
        root = jax.random.key(seeds[0])
    else:
        roots = put(jax.vmap(jax.random.key)(jnp.asarray(seeds, dtype=jnp.uint32)))
        fold = jax.vmap(jax.random.fold_in, in_axes=(0, None))
    max_epochs = max(c.epochs for c in configs)
    # Epochs dispatched whose losses the host has not read: (epoch, candidates run, [P] means).
    pending: list[tuple[int, np.ndarray, jax.Array]] = []
    t_mark = time.perf_counter()
    sent, active_dev = None, None

    def settle() -> list[list[dict[str, float]]]:
        """Read the pending losses; a non-finite one fails its candidate. Rows made, per epoch."""
        if not pending:
            return []
        means = np.asarray(jnp.stack([m for *_, m in pending]))
        made = []
        for (ep, ran, _), loss in zip(pending, means, strict=True):
            rows = []
            for i in np.flatnonzero(ran):
                if errors[i] is not None:
                    continue
                value = float(loss[i])
                if not math.isfinite(value):
                    errors[i] = all_configs[i].loss_error(value, ep)
                    active[i] = False
                    continue
                history[i].append({"epoch": ep, "loss": value})
                rows.append(history[i][-1])
            made.append(rows)
        pending.clear()
        return made

    def stamp(made: list[list[dict[str, float]]]) -> None:
        """Share the wall time since the last read among the epochs read now."""
        nonlocal t_mark
        now = time.perf_counter()
        per = (now - t_mark) / max(len(made), 1)
        t_mark = now
        for rows in made:
            for row in rows:
                row["seconds"] = per

    for epoch in range(1, max_epochs + 1):
        if not active.any():
            break
        if order_axis is None:
            order, weight = epoch_order(n_rows, c0.batch_size, rngs[seeds[0]])
            order, weight = replicate(order), replicate(weight)
            keys = jax.random.fold_in(root, epoch)
        else:
            pairs = [epoch_order(n_rows, c0.batch_size, rngs[s]) for s in seeds]
            order = put(np.stack([p[0] for p in pairs]))
            weight = put(np.stack([p[1] for p in pairs]))
            keys = put(fold(roots, epoch))
        if sent is None or not np.array_equal(sent, active):
            # A fresh host copy that nothing mutates: the transfer to the device may happen
            # after this returns, while `active` is changed in place by later epochs.
            sent = active.copy()
            active_dev = put(jnp.asarray(sent))
        params, opt_state, losses = population_epoch(
            graphdef, params, rest, opt_state, data, order, weight, keys, hparams, active_dev,
            tx=tx, sampler=sampler, neg_rounds=c0.neg_rounds, rest_axis=rest_axis,
            order_axis=order_axis, batched_hparams=batched,
        )  # fmt: skip
        ran = active.copy()
        pending.append((epoch, ran, jnp.mean(losses, axis=1)))
        wanted = [
            i for i in np.flatnonzero(ran) if validated[i] and all_configs[i].validates_at(epoch)
        ]
        last = not any(ran[i] and epoch < all_configs[i].epochs for i in range(P))
        read = bool(wanted) or last or len(pending) >= SYNC_EVERY
        made = settle() if read else []
        due = [i for i in wanted if errors[i] is None]  # none unless read
        if due:
            values = np.asarray(validate(graphdef, params, rest, rest_axis))
            improved = np.zeros(P, dtype=bool)
            for i in due:
                value = float(values[i])
                history[i][-1]["valid"] = value
                if sign * value > best_value[i]:
                    best_value[i], best_epoch[i], since[i] = sign * value, epoch, 0
                    improved[i] = True
                else:
                    since[i] += 1
            if improved.any():
                best_params = _select(put(jnp.asarray(improved)), params, best_params)
        if read:
            stamp(made)
        # Patience changes only at a validation; between reads only the epochs run out.
        for i in np.flatnonzero(active):
            c = all_configs[i]
            if validated[i] and since[i] >= c.patience:
                stopped[i], active[i] = True, False
            elif epoch >= c.epochs:
                active[i] = False
    stamp(settle())

    keep_best = put(jnp.asarray(validated))
    final = _select(keep_best, best_params, params)
    if n_pad:
        final = jax.tree.map(lambda x: x[:n_real], final)
        if rest_axis is not None:
            rest = jax.tree.map(lambda x: x[:n_real], rest)
    results = []
    for i in range(n_real):
        if errors[i] is not None:
            results.append(MemberResult(None, 0, math.nan, history[i], False, errors[i]))
            continue
        if materialize:
            r_i = rest if rest_axis is None else unstack(rest, i)
            nnx.update(models[i], unstack(final, i), r_i)
        results.append(
            MemberResult(
                model=models[i] if materialize else None,
                best_epoch=best_epoch[i] if validated[i] else len(history[i]),
                best_valid=sign * best_value[i] if validated[i] and best_epoch[i] else math.nan,
                history=history[i],
                stopped_early=stopped[i],
            )
        )
    return PopulationFit(results, graphdef, final, rest, rest_axis)
