"""Many candidates of one structure trained at once: one jitted, vmapped program per epoch.

:func:`fit_population` is :func:`~moorec.train.fit` for ``P`` models that share their structure
(same model class and shape-changing settings) and their static training settings (optimiser,
batch size, negative redraws, validation schedule). Everything else is a batched array with a
leading ``[P]`` axis: parameters, optimiser state (each candidate's learning rate injected with
``optax.inject_hyperparams``), the loss hyperparameters (L2, dropout, loss weights) and each
candidate's PRNG stream. A candidate is the same computation as under :func:`fit` with the same
seed: the same initial parameters, batches and negatives (except where two candidates share a
seed in a population of several seeds: see :class:`_EpochOrders`).

Early stopping is per candidate: a candidate whose patience ran out (or whose epochs are done, or
whose loss became non-finite) is *frozen*: the program still runs over it, but its parameters and
optimiser state no longer change, and its best validated parameters are what it returns.

With a :class:`jax.sharding.Mesh`, the candidate axis is sharded over the mesh's devices
(``PartitionSpec("pop")``) and the training data is replicated; the population is padded to a
multiple of the device count with frozen copies.

:func:`fit_population` is the epoch loop over these parts:

- :func:`_stack_population` checks the models and configs and builds a :class:`_Stacked`: the
  stacked parameters, rest of the state, optimiser state and hyperparameters, placed by a
  :class:`_Placement` (sharded over the mesh, or left as they are); its :meth:`_Stacked.step`
  runs one epoch (:func:`population_epoch`).
- :class:`_EpochOrders` draws each epoch's batch orders and PRNG keys.
- :class:`_Stopping` is the per-candidate early stopping: the ``active`` mask, each candidate's
  :class:`~moorec.train.loop.BestSoFar` and best parameters, histories and errors, and the
  :class:`MemberResult` of each.
- :class:`_LossReads` holds the epochs whose losses the host has not read yet, and times them.
- :func:`_results` builds the :class:`PopulationFit` and writes the kept parameters into the
  models.
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

from moorec import interrupt
from moorec.errors import ConfigError
from moorec.models.base import Recommender
from moorec.train.loop import BestSoFar, TrainConfig, epoch_body, kept_hparams, optimizer
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
STATIC_FIELDS = ("optimizer", "b1", "b2", "batch_size", "neg_rounds", "eval_every", "valid_metric")

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


class _Placement:
    """Where a population's arrays live: the candidate axis split over a mesh, or left as is.

    Args:
        mesh: a one-axis mesh named ``"pop"``, or ``None`` (one device: nothing is moved).
    """

    def __init__(self, mesh: jax.sharding.Mesh | None):
        self.mesh = mesh
        if mesh is not None:
            from jax.sharding import NamedSharding, PartitionSpec

            self._by_pop = NamedSharding(mesh, PartitionSpec("pop"))
            self._everywhere = NamedSharding(mesh, PartitionSpec())

    @property
    def n_devices(self) -> int:
        """Devices the candidates are split over (the population is padded to a multiple)."""
        return 1 if self.mesh is None else self.mesh.size

    def put(self, x: Any) -> Any:
        """``x`` (leading axis ``[P]``) split over the mesh's devices."""
        return x if self.mesh is None else jax.device_put(x, self._by_pop)

    def replicate(self, x: Any) -> Any:
        """``x`` (shared by every candidate) copied to every device of the mesh."""
        return x if self.mesh is None else jax.device_put(x, self._everywhere)

    def mask(self, host: np.ndarray | Sequence[bool]) -> jax.Array:
        """A ``[P]`` bool mask on the device, from a private copy of ``host``.

        The transfer may happen after this returns (JAX on the CPU copies asynchronously),
        while the caller goes on changing its array in place: what is sent is a copy that
        nothing mutates.
        """
        return self.put(jnp.asarray(np.array(host, dtype=bool)))


@dataclasses.dataclass
class _Stacked:
    """A population's state, stacked on a leading ``[P]`` axis and placed on its devices.

    Attributes:
        graphdef: the candidates' shared structure.
        params: ``[P, ...]`` trainable state.
        rest: the rest of the state, stacked (``rest_axis == 0``) or shared (``None``).
        rest_axis: ``0`` or ``None``.
        opt_state: ``[P, ...]`` optimiser state, the learning rates ``[P]`` inside.
        hparams: name -> ``[P]`` float32 (the names in ``batched``) or a shared scalar.
        batched: the names of ``hparams`` that differ between candidates.
        data: the training set on the device, as the sampler built it (shared).
        sampler: the models' sampler class.
        tx: the shared optimiser.
        configs: ``P`` configs, the real candidates' then the padding's (copies of the first).
        n_real: candidates asked for; the others are padding.
        place: where the arrays live.
    """

    graphdef: nnx.GraphDef
    params: nnx.State
    rest: nnx.State
    rest_axis: int | None
    opt_state: optax.OptState
    hparams: dict[str, jax.Array]
    batched: tuple[str, ...]
    data: Any
    sampler: Any
    tx: optax.GradientTransformation
    configs: list[TrainConfig]
    n_real: int
    place: _Placement

    @property
    def size(self) -> int:
        """``P``: candidates, padding included."""
        return len(self.configs)

    def step(
        self,
        order: jax.Array,
        weight: jax.Array,
        keys: jax.Array,
        active: jax.Array,
        *,
        order_axis: int | None,
    ) -> jax.Array:
        """Run one epoch of every candidate (:func:`population_epoch`), updating the state.

        Args:
            order: ``[n_batches, B]`` rows per batch, or ``[P, n_batches, B]`` per candidate.
            weight: like ``order``, float32.
            keys: the epoch's PRNG key, or ``[P]`` keys.
            active: ``[P]`` bool on the device; inactive candidates keep their state.
            order_axis: ``None`` (shared orders and key) or ``0`` (per candidate).

        Returns:
            ``[P]`` mean training losses of the epoch (on the device, not yet read).
        """
        self.params, self.opt_state, losses = population_epoch(
            self.graphdef, self.params, self.rest, self.opt_state, self.data, order, weight,
            keys, self.hparams, active, tx=self.tx, sampler=self.sampler,
            neg_rounds=self.configs[0].neg_rounds, rest_axis=self.rest_axis,
            order_axis=order_axis, batched_hparams=self.batched,
        )  # fmt: skip
        return jnp.mean(losses, axis=1)


def _stack_population(
    models: list[Recommender],
    train,
    configs: list[TrainConfig],
    place: _Placement,
    materialize: bool,
) -> _Stacked:
    """Check that ``models`` and ``configs`` form one population; stack and place its state.

    Raises:
        ConfigError: as :func:`fit_population` names.
    """
    n_real = len(models)
    if n_real == 0 or len(configs) != n_real:
        raise ConfigError(f"need one config per model, got {n_real} models, {len(configs)}")
    if any(getattr(m, "closed_form", False) for m in models):
        raise ConfigError(
            f"{type(models[0]).__name__} is computed in closed form (one pass, no epochs) and "
            "is not trained as a population: fit each model with moorec.train.fit"
        )
    for f in STATIC_FIELDS:
        values = {repr(getattr(c, f)) for c in configs}
        if len(values) > 1:
            raise ConfigError(f"a population shares {f!r}; got {sorted(values)}")
    n_pad = -(-n_real // place.n_devices) * place.n_devices - n_real
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
    tx = optimizer(c0.optimizer, c0.b1, c0.b2)

    all_configs = configs + [c0] * n_pad
    params = stack([s[1] for s in splits] + [splits[0][1]] * n_pad)
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

    if place.mesh is not None:
        params = place.put(params)
        hparams = {
            n: (place.put(v) if n in batched else place.replicate(v)) for n, v in hparams.items()
        }
        data = place.replicate(data)
        rest = place.replicate(rest) if rest_axis is None else place.put(rest)
    opt_state = _init_state(params, tx=tx)
    opt_state.hyperparams["learning_rate"] = place.put(
        jnp.asarray([c.lr for c in all_configs], jnp.float32)
    )
    return _Stacked(
        graphdef=graphdef,
        params=params,
        rest=rest,
        rest_axis=rest_axis,
        opt_state=opt_state,
        hparams=hparams,
        batched=batched,
        data=data,
        sampler=sampler,
        tx=tx,
        configs=all_configs,
        n_real=n_real,
        place=place,
    )


class _EpochOrders:
    """Each epoch's batch orders and PRNG keys, drawn as :func:`~moorec.train.fit` draws them.

    With one seed for the whole population the orders and the key are shared
    (``axis is None``) and drawn once per epoch; otherwise each candidate gets its own
    (``axis == 0``): one host generator per distinct seed, drawn from once per candidate per
    epoch in candidate order. (Two candidates of one seed in a population of several seeds,
    padding included, therefore get successive draws of that generator, not equal orders.)

    Args:
        configs: the ``P`` configs, padding included.
        n_rows: training rows of one epoch.
        place: where the arrays go.
    """

    def __init__(self, configs: Sequence[TrainConfig], n_rows: int, place: _Placement):
        self.n_rows, self.batch_size, self.place = n_rows, configs[0].batch_size, place
        self.seeds = [c.seed for c in configs]
        self.axis = None if len(set(self.seeds)) == 1 else 0
        self.rngs = {c.seed: c.host_rng() for c in configs}
        if self.axis is None:
            self.root = jax.random.key(self.seeds[0])
        else:
            seeds = jnp.asarray(self.seeds, dtype=jnp.uint32)
            self.roots = place.put(jax.vmap(jax.random.key)(seeds))
            self.fold = jax.vmap(jax.random.fold_in, in_axes=(0, None))

    def __call__(self, epoch: int) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(order, weight, keys)`` of 1-based ``epoch``, shared or ``[P, ...]`` per candidate."""
        place = self.place
        if self.axis is None:
            order, weight = epoch_order(self.n_rows, self.batch_size, self.rngs[self.seeds[0]])
            order, weight = place.replicate(order), place.replicate(weight)
            return order, weight, jax.random.fold_in(self.root, epoch)
        pairs = [epoch_order(self.n_rows, self.batch_size, self.rngs[s]) for s in self.seeds]
        order = place.put(np.stack([p[0] for p in pairs]))
        weight = place.put(np.stack([p[1] for p in pairs]))
        return order, weight, place.put(self.fold(self.roots, epoch))


class _Stopping:
    """Per-candidate early stopping: which candidates still train, and what each keeps.

    A candidate stops (is frozen) when its patience runs out, its epochs are done or its loss
    turns non-finite; :meth:`end_epoch` and :meth:`record_losses` change :attr:`active` in
    place, and :meth:`active_on_device` sends it when it has changed.

    Args:
        stacked: the population.
        validating: whether a validation function was given.
        maximize: whether larger validation values are better.

    Attributes:
        configs: the ``P`` configs, padding included.
        active: ``[P]`` bool, the candidates that still train (the padding never does).
        validated: per candidate, whether it is validated (``patience > 0`` and ``validate``).
        best: per candidate, its best validation so far.
        best_params: ``[P, ...]`` the parameters of each candidate's best validation so far.
        history: per candidate, one row per epoch whose loss was read.
        stopped: per candidate, whether its patience ran out.
        errors: per candidate, the error that failed it, or ``None``.
    """

    def __init__(self, stacked: _Stacked, validating: bool, maximize: bool):
        P = stacked.size
        self.configs, self.place = stacked.configs, stacked.place
        self.active = np.zeros(P, dtype=bool)
        self.active[: stacked.n_real] = True
        self.validated = [validating and c.patience > 0 for c in self.configs]
        self.best = [BestSoFar(maximize) for _ in range(P)]
        self.best_params = stacked.params
        self.history: list[list[dict[str, float]]] = [[] for _ in range(P)]
        self.stopped = [False] * P
        self.errors: list[Exception | None] = [None] * P
        self._sent: np.ndarray | None = None
        self._sent_dev: jax.Array | None = None

    def active_on_device(self) -> jax.Array:
        """:attr:`active` on the device; sent again only when it has changed."""
        if self._sent is None or not np.array_equal(self._sent, self.active):
            self._sent = self.active.copy()
            self._sent_dev = self.place.mask(self._sent)
        return self._sent_dev

    def wanted(self, epoch: int, ran: np.ndarray) -> list[int]:
        """The candidates that ran ``epoch`` and are validated after it (loss not yet read)."""
        return [
            i
            for i in np.flatnonzero(ran)
            if self.validated[i] and self.configs[i].validates_at(epoch)
        ]

    def last_epoch(self, epoch: int, ran: np.ndarray) -> bool:
        """Whether no candidate that ran ``epoch`` has another epoch to run."""
        return not any(ran[i] and epoch < self.configs[i].epochs for i in range(len(ran)))

    def record_losses(self, epoch: int, ran: np.ndarray, loss: np.ndarray) -> list[dict]:
        """Add ``epoch``'s ``[P]`` mean losses to the histories of the candidates that ran it.

        A non-finite loss fails its candidate (which stops); a failed one records nothing more.

        Returns:
            The history rows made.
        """
        rows = []
        for i in np.flatnonzero(ran):
            if self.errors[i] is not None:
                continue
            value = float(loss[i])
            if not math.isfinite(value):
                self.errors[i] = self.configs[i].loss_error(value, epoch)
                self.active[i] = False
                continue
            self.history[i].append({"epoch": epoch, "loss": value})
            rows.append(self.history[i][-1])
        return rows

    def record_validation(
        self, epoch: int, due: Sequence[int], values: np.ndarray, params: nnx.State
    ) -> None:
        """Record ``epoch``'s ``[P]`` validation ``values`` of the candidates ``due``.

        The candidates whose value is their best so far keep ``params``'s copy of theirs.
        """
        improved = np.zeros(len(self.configs), dtype=bool)
        for i in due:
            value = float(values[i])
            self.history[i][-1]["valid"] = value
            improved[i] = self.best[i].offer(value, epoch)
        if improved.any():
            self.best_params = _select(self.place.mask(improved), params, self.best_params)

    def end_epoch(self, epoch: int) -> None:
        """Stop the candidates whose patience ran out or whose epochs are done."""
        # Patience changes only at a validation; between reads only the epochs run out.
        for i in np.flatnonzero(self.active):
            c = self.configs[i]
            if self.validated[i] and self.best[i].exhausted(c.patience):
                self.stopped[i], self.active[i] = True, False
            elif epoch >= c.epochs:
                self.active[i] = False

    def kept(self, params: nnx.State) -> nnx.State:
        """``[P, ...]`` what each candidate returns: its best validated parameters, or its last."""
        return _select(self.place.mask(self.validated), self.best_params, params)

    def member(self, i: int, model: Recommender | None) -> MemberResult:
        """Candidate ``i``'s :class:`MemberResult`, holding ``model`` unless it failed."""
        if self.errors[i] is not None:
            return MemberResult(None, 0, math.nan, self.history[i], False, self.errors[i])
        best = self.best[i]
        return MemberResult(
            model=model,
            best_epoch=best.epoch if self.validated[i] else len(self.history[i]),
            best_valid=best.value if self.validated[i] else math.nan,
            history=self.history[i],
            stopped_early=self.stopped[i],
        )


class _LossReads:
    """The epochs whose losses the device computed and the host has not read yet.

    The host reads them only when it must (see :func:`fit_population`), so the device runs
    ahead; an epoch's ``seconds`` is the wall time between two reads divided by the epochs
    read.
    """

    def __init__(self):
        # (epoch, candidates run, [P] mean losses on the device)
        self.pending: list[tuple[int, np.ndarray, jax.Array]] = []
        self.t_mark = time.perf_counter()

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, epoch: int, ran: np.ndarray, means: jax.Array) -> None:
        """Note ``epoch``'s ``[P]`` mean losses, run by the candidates ``ran``."""
        self.pending.append((epoch, ran, means))

    def read(self, stopping: _Stopping) -> list[list[dict[str, float]]]:
        """Wait for the pending losses and record them in ``stopping``; rows made, per epoch."""
        if not self.pending:
            return []
        means = np.asarray(jnp.stack([m for *_, m in self.pending]))
        made = [
            stopping.record_losses(epoch, ran, loss)
            for (epoch, ran, _), loss in zip(self.pending, means, strict=True)
        ]
        self.pending.clear()
        return made

    def stamp(self, made: list[list[dict[str, float]]]) -> None:
        """Share the wall time since the last read among the epochs read now."""
        now = time.perf_counter()
        per = (now - self.t_mark) / max(len(made), 1)
        self.t_mark = now
        for rows in made:
            for row in rows:
                row["seconds"] = per


def _results(
    stacked: _Stacked, stopping: _Stopping, models: list[Recommender], materialize: bool
) -> PopulationFit:
    """The :class:`PopulationFit`: the kept parameters, padding dropped, and every member."""
    final = stopping.kept(stacked.params)
    rest, n_real = stacked.rest, stacked.n_real
    if stacked.size > n_real:
        final = jax.tree.map(lambda x: x[:n_real], final)
        if stacked.rest_axis is not None:
            rest = jax.tree.map(lambda x: x[:n_real], rest)
    members = []
    for i in range(n_real):
        if materialize and stopping.errors[i] is None:
            r_i = rest if stacked.rest_axis is None else unstack(rest, i)
            nnx.update(models[i], unstack(final, i), r_i)
        members.append(stopping.member(i, models[i] if materialize else None))
    return PopulationFit(members, stacked.graphdef, final, rest, stacked.rest_axis)


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
        ConfigError: if the models differ in structure, the configs in a static field, one
            model object stands for several candidates with ``materialize=True``, or the
            models are closed-form (``closed_form``: fit each with ``moorec.train.fit``).
    """
    models, configs = list(models), list(configs)
    place = _Placement(mesh)
    pop = _stack_population(models, train, configs, place, materialize)
    stopping = _Stopping(pop, validate is not None, maximize)
    orders = _EpochOrders(pop.configs, pop.sampler.n_rows(pop.data), place)
    losses = _LossReads()
    for epoch in range(1, max(c.epochs for c in configs) + 1):
        interrupt.check()  # a Ctrl-C swallowed by a callback during the last epoch
        if not stopping.active.any():
            break
        order, weight, keys = orders(epoch)
        active = stopping.active_on_device()
        means = pop.step(order, weight, keys, active, order_axis=orders.axis)
        ran = stopping.active.copy()
        losses.add(epoch, ran, means)
        wanted = stopping.wanted(epoch, ran)
        read = bool(wanted) or stopping.last_epoch(epoch, ran) or len(losses) >= SYNC_EVERY
        made = losses.read(stopping) if read else []
        due = [i for i in wanted if stopping.errors[i] is None]  # none unless read
        if due:
            values = np.asarray(validate(pop.graphdef, pop.params, pop.rest, pop.rest_axis))
            stopping.record_validation(epoch, due, values, pop.params)
        if read:
            losses.stamp(made)
        stopping.end_epoch(epoch)
    losses.stamp(losses.read(stopping))
    return _results(pop, stopping, models, materialize)
