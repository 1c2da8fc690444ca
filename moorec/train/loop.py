"""The generic training loop: jitted epochs, validation, early stopping with the best state kept.

Every model trains through :func:`fit`. An epoch is one jitted program (``lax.scan`` over the
batches of a host-shuffled order, negatives drawn on the device). The functions that are jitted
are defined once at module level and take every per-candidate value (learning rate, L2, loss
weights) as an array, so training a second candidate with other values does not recompile.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from moorec import interrupt
from moorec.errors import ConfigError, TrainingError, UnknownNameError, check_positive_int
from moorec.models.base import Recommender
from moorec.train.sampling import SAMPLERS, PairSampler, epoch_order

__all__ = [
    "CLOSED_FORM_FIELDS",
    "BestSoFar",
    "FitResult",
    "FitState",
    "TrainConfig",
    "epoch_body",
    "fit",
    "fit_closed_form",
    "optimizer",
    "train_epoch",
]

OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad")

#: The optimisers that read ``TrainConfig.b1`` / ``b2`` (Adam's moment decay rates).
ADAM_LIKE = ("adam", "adamw")
ADAM_BETAS = (0.9, 0.999)  # optax's (and Kingma and Ba's) defaults

#: The ``TrainConfig`` fields a closed-form model's fit reads (it has no epochs, batches,
#: optimiser or loss): ``patience`` (0: no validation), ``valid_metric`` and ``seed``.
CLOSED_FORM_FIELDS = ("patience", "valid_metric", "seed")


def optimizer(
    name: str, b1: float = ADAM_BETAS[0], b2: float = ADAM_BETAS[1]
) -> optax.GradientTransformation:
    """The optax optimiser ``name`` with its learning rate injected as a state array.

    The same object is returned for the same arguments, so it can be a static argument of a
    jitted function; the learning rate lives in the optimiser state and changes without
    recompiling. ``b1`` and ``b2`` (Adam's and AdamW's decay rates of the first and second
    moment estimates) are part of the compiled program.

    Args:
        name: one of :data:`OPTIMIZERS`.
        b1: first-moment decay of ``adam`` / ``adamw`` (optax's default 0.9).
        b2: second-moment decay of ``adam`` / ``adamw`` (optax's default 0.999; the SASRec
            paper's code uses 0.98).

    Raises:
        UnknownNameError: for an unknown ``name``.
        ConfigError: for decay rates other than the defaults with an optimiser that has none.
    """
    return _optimizer(name, float(b1), float(b2))


@functools.cache
def _optimizer(name: str, b1: float, b2: float) -> optax.GradientTransformation:
    if name not in OPTIMIZERS:
        raise UnknownNameError("optimizer", name, OPTIMIZERS)
    factory = {
        "adam": optax.adam,
        "adamw": optax.adamw,
        "sgd": optax.sgd,
        "adagrad": optax.adagrad,
    }[name]
    if (b1, b2) == ADAM_BETAS:
        return optax.inject_hyperparams(factory)(learning_rate=1e-3)
    if name not in ADAM_LIKE:
        raise ConfigError(
            f"b1={b1!r}, b2={b2!r} are read only by optimizers {', '.join(ADAM_LIKE)}; "
            f"optimizer {name!r} has no moment decay rates"
        )

    def make(learning_rate):
        return factory(learning_rate, b1=b1, b2=b2)

    return optax.inject_hyperparams(make)(learning_rate=1e-3)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings. Defaults follow RecBole's general-recommendation defaults.

    Attributes:
        epochs: maximum number of epochs (RecBole: 300).
        batch_size: training rows per step (RecBole: 2048).
        lr: learning rate (RecBole: Adam, 1e-3).
        optimizer: one of ``adam``, ``adamw``, ``sgd``, ``adagrad``.
        b1: Adam's (and AdamW's) decay rate of the first-moment estimate (default 0.9).
        b2: Adam's (and AdamW's) decay rate of the second-moment estimate (default 0.999;
            Kang and McAuley's SASRec code uses 0.98). Both must stay at their defaults with
            ``sgd`` and ``adagrad``.
        l2: weight of the model's L2 term (see the model's ``loss``).
        patience: stop after this many validations without improvement (RecBole: 10);
            ``0`` turns early stopping off: exactly ``epochs`` epochs run, nothing is
            validated during training, and the last state is kept.
        eval_every: validate every this many epochs.
        valid_metric: key of the objective that early stopping maximises (or minimises, by
            its direction), e.g. ``"ndcg@10"``.
        neg_rounds: redraws of negatives that hit a training item.
        seed: root seed; initialisation, shuffling and negatives derive from it.
        loss_weights: extra named loss weights passed to the model as arrays, each a finite
            number >= 0.

    Raises:
        ConfigError: for a value out of its range or of the wrong type, naming it.
        UnknownNameError: for an unknown ``optimizer`` or ``valid_metric`` name.
    """

    epochs: int = 300
    batch_size: int = 2048
    lr: float = 1e-3
    optimizer: str = "adam"
    b1: float = ADAM_BETAS[0]
    b2: float = ADAM_BETAS[1]
    l2: float = 0.0
    patience: int = 10
    eval_every: int = 1
    valid_metric: str = "ndcg@10"
    neg_rounds: int = 4
    seed: int = 0
    loss_weights: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("eval_every", self.eval_every)
        if (
            isinstance(self.patience, bool)
            or not isinstance(self.patience, int)
            or self.patience < 0
        ):
            raise ConfigError(f"patience must be an integer >= 0, got {self.patience!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not (isinstance(self.l2, int | float) and math.isfinite(self.l2) and self.l2 >= 0):
            raise ConfigError(f"l2 must be a finite number >= 0, got {self.l2!r}")
        if self.optimizer not in OPTIMIZERS:
            raise UnknownNameError("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("b1", "b2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and 0.0 <= value < 1.0
            ):
                raise ConfigError(f"{name} must be a number in [0, 1), got {value!r}")
            object.__setattr__(self, name, float(value))
        if (self.b1, self.b2) != ADAM_BETAS and self.optimizer not in ADAM_LIKE:
            raise ConfigError(
                f"b1={self.b1!r}, b2={self.b2!r} are read only by optimizers "
                f"{', '.join(ADAM_LIKE)}; optimizer {self.optimizer!r} has none (leave them "
                f"at {ADAM_BETAS[0]} and {ADAM_BETAS[1]})"
            )
        if (
            isinstance(self.neg_rounds, bool)
            or not isinstance(self.neg_rounds, int)
            or self.neg_rounds < 0
        ):
            raise ConfigError(f"neg_rounds must be an integer >= 0, got {self.neg_rounds!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        if self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}")
        _check_valid_metric(self.valid_metric)
        if not isinstance(self.loss_weights, Mapping):
            raise ConfigError(
                f"loss_weights must be a mapping of names to numbers, got {self.loss_weights!r}"
            )
        for key, value in self.loss_weights.items():
            number = isinstance(value, int | float | np.integer | np.floating)
            if isinstance(value, bool) or not (number and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{key} must be a finite number >= 0, got {value!r}")
        object.__setattr__(self, "loss_weights", dict(self.loss_weights))

    def validates_at(self, epoch: int) -> bool:
        """Whether validation is due after ``epoch`` (1-based): every ``eval_every``, and last."""
        return epoch % self.eval_every == 0 or epoch == self.epochs

    def host_rng(self) -> np.random.Generator:
        """The NumPy generator of the host-side epoch orders, derived from ``seed``."""
        return np.random.default_rng(np.random.SeedSequence(self.seed).spawn(1)[0])

    def loss_error(self, loss: float, epoch: int) -> TrainingError:
        """The error of a non-finite ``loss`` at ``epoch``, naming this config's values."""
        return TrainingError(
            f"loss became {loss} at epoch {epoch} (lr={self.lr}, l2={self.l2}, "
            f"loss_weights={dict(self.loss_weights)})"
        )

    def hparams(
        self, names: tuple[str, ...], defaults: Mapping[str, float] | None = None
    ) -> dict[str, jax.Array]:
        """The float32 arrays a model's loss reads, by name (see :meth:`hparam_values`)."""
        values = self.hparam_values(names, defaults)
        return {n: jnp.asarray(v, jnp.float32) for n, v in values.items()}

    def hparam_values(
        self,
        names: tuple[str, ...],
        defaults: Mapping[str, float] | None = None,
        switches: tuple[str, ...] = (),
    ) -> dict[str, float]:
        """The values a model's loss reads, by name, as Python floats.

        Args:
            names: the model's ``hparam_names``.
            defaults: the model's ``hparam_defaults``, used where this config sets nothing.
            switches: the model's ``hparam_switches``: each must be a finite number >= 0
                (a ``dropout`` rate also below 1).

        Raises:
            ConfigError: if a name has no value, a switch is out of range, or
                ``loss_weights`` holds a name the model does not read.
        """
        unknown = sorted(set(self.loss_weights) - set(names))
        if unknown:
            raise ConfigError(
                f"loss_weights {unknown} are not read by this model; it reads {list(names)}"
            )
        values = {**(defaults or {}), "l2": self.l2, **self.loss_weights}
        missing = [n for n in names if n not in values]
        if missing:
            raise ConfigError(
                f"the model needs hyperparameters {missing}; give them in loss_weights "
                f"(given: {sorted(values)})"
            )
        out = {n: float(values[n]) for n in names}
        for n in switches:
            top = 1.0 if n == "dropout" else math.inf
            if not (0.0 <= out[n] < top):
                bound = "in [0, 1)" if n == "dropout" else "a finite number >= 0"
                raise ConfigError(f"{n} must be {bound}, got {values[n]!r}")
        return out

    def loss_hparams(self, model: Recommender) -> dict[str, jax.Array]:
        """The float32 arrays ``model.loss`` reads under this config.

        A name of ``model.hparam_switches`` whose value is 0 is left out, so its term is not
        in the compiled program (see :func:`kept_hparams`).
        """
        values = self.hparam_values(
            model.hparam_names, model.hparam_defaults, model.hparam_switches
        )
        keep = kept_hparams(model.hparam_names, model.hparam_switches, [values])
        return {n: jnp.asarray(values[n], jnp.float32) for n in keep}


def _check_valid_metric(key: object) -> None:
    """Refuse a ``valid_metric`` that is not a ranking or beyond-accuracy objective key."""
    # The objective names live in moorec.objectives, a later stage; imported here, at the
    # boundary check only, so that a bad key fails when the config is made.
    from moorec.objectives.base import parse

    if not isinstance(key, str):
        raise ConfigError(f"valid_metric must be an objective key such as 'ndcg@10', got {key!r}")
    if parse(key).kind == "system":
        raise ConfigError(
            f"valid_metric {key!r} is measured, not ranked, and cannot drive early stopping; "
            "use a ranking objective such as 'ndcg@10'"
        )


def kept_hparams(
    names: Sequence[str], switches: Sequence[str], rows: Sequence[Mapping[str, float]]
) -> tuple[str, ...]:
    """``names`` less the switches that are 0 in every one of ``rows`` (terms left out).

    Args:
        names: a model's ``hparam_names``.
        switches: its ``hparam_switches``.
        rows: the values of each candidate trained together (one row for a lone model).
    """
    return tuple(n for n in names if n not in switches or any(r[n] != 0 for r in rows))


@dataclasses.dataclass
class BestSoFar:
    """Early stopping of one training run: its best validation so far and the validations since.

    :func:`fit` keeps one; :func:`~moorec.train.population.fit_population` one per candidate.

    Attributes:
        maximize: whether larger validation values are better.
        score: the best value times ``sign`` (``-inf`` before the first validation).
        epoch: 1-based epoch of the best value (``0`` before the first validation).
        since: validations since the best one.
    """

    maximize: bool = True
    score: float = -math.inf
    epoch: int = 0
    since: int = 0

    @property
    def sign(self) -> float:
        """``1.0`` when larger values are better, ``-1.0`` when smaller ones are."""
        return 1.0 if self.maximize else -1.0

    @property
    def value(self) -> float:
        """The best validation value, ``nan`` before the first validation."""
        return self.sign * self.score if self.epoch else math.nan

    def offer(self, value: float, epoch: int) -> bool:
        """Record the validation ``value`` of ``epoch``; whether it is the best so far.

        Only a strictly better value is kept; any other one counts one more validation
        without improvement.
        """
        if self.sign * value > self.score:
            self.score, self.epoch, self.since = self.sign * value, epoch, 0
            return True
        self.since += 1
        return False

    def exhausted(self, patience: int) -> bool:
        """Whether ``patience`` validations have passed without improvement."""
        return self.since >= patience


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        model: the model holding the best validated parameters.
        best_epoch: 1-based epoch whose parameters were kept.
        best_valid: validation value of ``valid_metric`` at ``best_epoch`` (``nan`` when no
            validation ran).
        history: one dict per epoch: ``epoch``, ``loss``, ``seconds`` and, on validated
            epochs, ``valid`` (the metric value); a closed-form model's one row has no
            ``loss``.
        train_seconds: wall time of the whole fit, validation included.
        first_epoch_seconds: wall time of epoch 1, which includes compilation.
        stopped_early: whether patience ran out before ``epochs``.
        config: the settings used.
        state: where the fit stopped (:class:`FitState`), to continue it for more epochs
            (``fit(..., resume=state)``); kept only when ``fit(..., keep_state=True)``.
        continued_from: the epochs of the state this fit continued, or ``0``.
    """

    model: Recommender
    best_epoch: int
    best_valid: float
    history: list[dict[str, float]]
    train_seconds: float
    first_epoch_seconds: float
    stopped_early: bool
    config: TrainConfig
    state: FitState | None = None
    continued_from: int = 0


@dataclasses.dataclass
class FitState:
    """Where a :func:`fit` stopped: enough to continue it exactly for more epochs.

    Continuing a fit of ``e`` epochs to ``E`` gives the parameters, history and best epoch of a
    fit of ``E`` epochs from the start (the same epoch programs on the same inputs: the epoch
    orders continue the seeded host generator, the device keys are ``fold_in(seed, epoch)``,
    the optimiser state and early stopping carry on).

    Attributes:
        config: the settings of the fit (a continuation may change ``epochs`` only).
        params, rest: the last epoch's parameters and other state.
        opt_state: the optimiser state after the last epoch (a copy: epochs donate theirs).
        host_rng_state: the host generator's ``bit_generator.state`` after the last epoch.
        best: ``(params, rest)`` of the best validated epoch so far (the last without
            validation).
        best_so_far: the early-stopping record.
        history: the history rows so far.
        stopped_early: whether patience ran out (a continuation then trains nothing).
        first_epoch_seconds: the first epoch's wall time.
    """

    config: TrainConfig
    params: Any
    rest: Any
    opt_state: Any
    host_rng_state: dict
    best: tuple
    best_so_far: BestSoFar
    history: list[dict[str, float]]
    stopped_early: bool
    first_epoch_seconds: float

    @property
    def epochs(self) -> int:
        """Epochs trained so far."""
        return len(self.history)

    def continues(self, config: TrainConfig) -> bool:
        """Whether a fit with ``config`` is this one carried on for more epochs.

        True when ``config`` differs at most in ``epochs`` (not fewer than trained), and the
        validation schedule agrees: every epoch validated so far is one ``config`` validates
        too (``eval_every`` divides the epochs trained, or patience ran out).
        """
        if dataclasses.replace(self.config, epochs=config.epochs) != config:
            return False
        if config.epochs < self.epochs:
            return False
        if self.stopped_early or config.patience == 0 or self.epochs == config.epochs:
            return True
        return self.epochs % config.eval_every == 0


def epoch_body(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    rest: nnx.State,
    opt_state: optax.OptState,
    data,
    order: jax.Array,
    weight: jax.Array,
    key: jax.Array,
    hparams: Mapping[str, jax.Array],
    *,
    tx: optax.GradientTransformation,
    sampler=PairSampler,
    neg_rounds: int = 4,
) -> tuple[nnx.State, optax.OptState, jax.Array]:
    """One epoch of training: a ``lax.scan`` over the batches (see :func:`train_epoch`).

    Args:
        graphdef: the model's static structure (from ``nnx.split``).
        params: trainable state (``nnx.Param``).
        rest: the rest of the model's state.
        opt_state: optimiser state for ``params``.
        data: the training set on the device, as the sampler built it.
        order: ``[n_batches, B]`` int32 rows of ``data`` per batch.
        weight: ``[n_batches, B]`` float32, 0 on padding rows.
        key: PRNG key of this epoch (negatives, and ``batch["rng"]`` for dropout). Each batch
            also gets ``step``, the int32 count of optimiser updates made before it (the
            ``count`` of an ``optax.inject_hyperparams`` state), for schedules inside a loss.
        hparams: float32 scalars the model's loss reads.
        tx: the optimiser (static; from :func:`optimizer`).
        sampler: the model's sampler class (static; ``moorec.train.sampling.SAMPLERS``).
        neg_rounds: redraws of negatives that hit a training item (pairs sampler).

    Returns:
        ``(params, opt_state, losses)`` with ``losses`` ``[n_batches]`` float32.
    """

    def loss_fn(p, batch):
        model = nnx.merge(graphdef, p, rest)
        return model.loss(batch, hparams)

    def step(carry, inputs):
        p, o = carry
        rows, extra, w, k = inputs
        batch = sampler.batch(data, rows, extra, w, k)
        if hasattr(o, "count"):  # optimiser updates so far (schedules such as KL annealing)
            batch["step"] = o.count
        loss, grads = jax.value_and_grad(loss_fn)(p, batch)
        updates, o = tx.update(grads, o, p)
        return (optax.apply_updates(p, updates), o), loss

    key_epoch, key_steps = jax.random.split(key)
    extras = sampler.prepare(data, order, key_epoch, neg_rounds)
    keys = jax.random.split(key_steps, order.shape[0])
    (params, opt_state), losses = jax.lax.scan(
        step, (params, opt_state), (order, extras, weight, keys)
    )
    return params, opt_state, losses


train_epoch = functools.partial(
    jax.jit,
    static_argnames=("graphdef", "tx", "sampler", "neg_rounds"),
    donate_argnames=("opt_state",),
)(epoch_body)
"""One epoch of training as a single jitted program (:func:`epoch_body` under ``jax.jit``).

Static: ``graphdef``, ``tx``, ``sampler``, ``neg_rounds``; the optimiser state is donated.
"""


def fit(
    model: Recommender,
    train,
    config: TrainConfig | None = None,
    *,
    validate: Callable[[Recommender], float] | None = None,
    maximize: bool = True,
    progress: bool = False,
    on_epoch: Callable[[dict[str, float]], Any] | None = None,
    tx: optax.GradientTransformation | None = None,
    resume: FitState | None = None,
    keep_state: bool = False,
) -> FitResult:
    """Train ``model`` on ``train`` and keep the parameters that validate best.

    A closed-form model (``model.closed_form``: EASE, ItemKNN, RP3beta, popularity) is not
    trained by epochs: :func:`fit_closed_form` runs its one pass instead, and of ``config``
    only ``patience`` (0: no validation) and ``valid_metric`` matter.

    Args:
        model: a :class:`~moorec.models.Recommender` (modified in place and returned).
        train: the training :class:`~moorec.data.Interactions`.
        config: training settings (defaults: :class:`TrainConfig`).
        validate: function scoring the model on validation data (e.g. an
            :class:`~moorec.objectives.Evaluator` reduced to ``config.valid_metric``). Without
            it, or with ``config.patience == 0``, the model trains for ``config.epochs`` and
            the last state is kept.
        maximize: whether a larger ``validate`` value is better.
        progress: show a progress bar over epochs.
        on_epoch: called with each epoch's history row.
        tx: an optax transformation to train with instead of
            ``optimizer(config.optimizer, config.b1, config.b2)``
            (e.g. one that freezes the base of a parameter-efficient model); its learning rate
            must be injected (``optax.inject_hyperparams``), and it is a static argument of the
            jitted epoch, so build it once and reuse it.
        resume: continue this earlier fit (its :attr:`FitResult.state`) instead of starting
            from ``model``'s parameters; ``config`` may differ from the state's in ``epochs``
            only (:meth:`FitState.continues`). The result is that of a fit of
            ``config.epochs`` from the start; the history holds every epoch and
            ``train_seconds`` the time of this call.
        keep_state: return the :class:`FitState` in :attr:`FitResult.state`.

    Returns:
        A :class:`FitResult`.

    Raises:
        TrainingError: if the loss becomes NaN or infinite.
        ConfigError: for a ``resume`` state that ``config`` does not continue.
    """
    config = config or TrainConfig()
    if config.patience == 0:
        validate = None  # early stopping off: train every epoch, keep the last state
    if getattr(model, "closed_form", False):
        return fit_closed_form(model, train, config, validate=validate, on_epoch=on_epoch)
    if model.sampler not in SAMPLERS:
        raise UnknownNameError(f"sampler of {type(model).__name__}", model.sampler, SAMPLERS)
    sampler = SAMPLERS[model.sampler]
    if train.n_users != model.n_users or train.n_items != model.n_items:
        raise ConfigError(
            f"model is built for {model.n_users} users x {model.n_items} items, the data has "
            f"{train.n_users} x {train.n_items}"
        )
    t_start = time.perf_counter()
    data = sampler.data(train, max_len=getattr(model, "max_len", 50))
    if tx is None:
        tx = optimizer(config.optimizer, config.b1, config.b2)
    elif (config.b1, config.b2) != ADAM_BETAS:
        raise ConfigError(
            f"b1={config.b1!r}, b2={config.b2!r} belong to the optimizer fit builds; a given "
            "tx is used as it is: build it with these rates instead"
        )
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    hparams = config.loss_hparams(model)
    root = jax.random.key(config.seed)
    host_rng = config.host_rng()
    if resume is None:
        opt_state = tx.init(params)
        opt_state.hyperparams["learning_rate"] = jnp.asarray(config.lr, jnp.float32)
        best = (params, rest)
        best_so_far = BestSoFar(maximize)
        history: list[dict[str, float]] = []
        first_epoch_seconds = 0.0
        stopped_early = False
    else:
        if not resume.continues(config):
            raise ConfigError(
                f"a fit of {resume.epochs} epochs with {resume.config} is not continued by "
                f"{config}: only more epochs, under the same validation schedule"
            )
        params, rest = resume.params, resume.rest
        opt_state = jax.tree.map(jnp.copy, resume.opt_state)  # epochs donate their input
        host_rng.bit_generator.state = resume.host_rng_state
        best = resume.best
        best_so_far = dataclasses.replace(resume.best_so_far)
        history = [dict(h) for h in resume.history]
        first_epoch_seconds = resume.first_epoch_seconds
        stopped_early = resume.stopped_early
    start_epoch = len(history) + 1
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.epochs, desc=f"train {type(model).__name__}", unit="epoch")
    try:
        for epoch in range(start_epoch, 0 if stopped_early else config.epochs + 1):
            t0 = time.perf_counter()
            order, weight = epoch_order(sampler.n_rows(data), config.batch_size, host_rng)
            params, opt_state, losses = train_epoch(
                graphdef,
                params,
                rest,
                opt_state,
                data,
                order,
                weight,
                jax.random.fold_in(root, epoch),
                hparams,
                tx=tx,
                sampler=sampler,
                neg_rounds=config.neg_rounds,
            )
            loss = float(jnp.mean(losses))
            row: dict[str, float] = {"epoch": epoch, "loss": loss}
            if not math.isfinite(loss):
                raise config.loss_error(loss, epoch)
            if validate is not None and config.validates_at(epoch):
                nnx.update(model, params, rest)
                value = float(validate(model))
                row["valid"] = value
                if best_so_far.offer(value, epoch):
                    best = (params, rest)
            row["seconds"] = time.perf_counter() - t0
            if epoch == 1:
                first_epoch_seconds = row["seconds"]
            history.append(row)
            if on_epoch is not None:
                on_epoch(row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k in ("loss", "valid")})
            interrupt.check()  # a Ctrl-C swallowed by a callback during the epoch
            if validate is not None and best_so_far.exhausted(config.patience):
                stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
    if validate is None:
        best, best_epoch, best_valid = (params, rest), len(history), math.nan
    else:
        best_epoch, best_valid = best_so_far.epoch, best_so_far.value
    state = None
    if keep_state:
        state = FitState(
            config=config,
            params=params,
            rest=rest,
            opt_state=jax.tree.map(jnp.copy, opt_state),
            host_rng_state=copy.deepcopy(host_rng.bit_generator.state),
            best=best,
            best_so_far=dataclasses.replace(best_so_far),
            history=[dict(h) for h in history],
            stopped_early=stopped_early,
            first_epoch_seconds=first_epoch_seconds,
        )
    nnx.update(model, *best)
    return FitResult(
        model=model,
        best_epoch=best_epoch,
        best_valid=best_valid,
        history=history,
        train_seconds=time.perf_counter() - t_start,
        first_epoch_seconds=first_epoch_seconds,
        stopped_early=stopped_early,
        config=config,
        state=state,
        continued_from=0 if resume is None else resume.epochs,
    )


def fit_closed_form(
    model: Recommender,
    train,
    config: TrainConfig | None = None,
    *,
    validate: Callable[[Recommender], float] | None = None,
    on_epoch: Callable[[dict[str, float]], Any] | None = None,
) -> FitResult:
    """Compute a closed-form model (``model.closed_form``) in its one pass.

    Calls ``model.solve(train)`` once, times it, and validates the result once when
    ``validate`` is given (and ``config.patience`` is not 0). No epochs, batches or loss: the
    result reads as a fit of one epoch (``best_epoch`` 1, one history row ``{"epoch": 1,
    "seconds": ..., "valid": ...}`` without ``loss``, ``stopped_early`` false).

    Args:
        model: a closed-form :class:`~moorec.models.Recommender` (modified in place).
        train: the training :class:`~moorec.data.Interactions`.
        config: the settings; only ``patience`` and ``valid_metric`` are read.
        validate: function scoring the model on validation data, or ``None``.
        on_epoch: called with the history row.

    Returns:
        A :class:`FitResult`; ``train_seconds`` is the wall time of solving and validating,
        ``first_epoch_seconds`` that of solving alone.

    Raises:
        ConfigError: for a model that is not closed-form, or ``train`` over other index
            spaces than the model's.
    """
    config = config or TrainConfig()
    if not getattr(model, "closed_form", False):
        raise ConfigError(
            f"{type(model).__name__} is trained by epochs, not in closed form: use fit()"
        )
    if train.n_users != model.n_users or train.n_items != model.n_items:
        raise ConfigError(
            f"model is built for {model.n_users} users x {model.n_items} items, the data has "
            f"{train.n_users} x {train.n_items}"
        )
    if config.patience == 0:
        validate = None
    t_start = time.perf_counter()
    model.solve(train)
    row: dict[str, float] = {"epoch": 1, "seconds": time.perf_counter() - t_start}
    best_valid = math.nan
    if validate is not None:
        best_valid = row["valid"] = float(validate(model))
    history = [row]
    if on_epoch is not None:
        on_epoch(row)
    return FitResult(
        model=model,
        best_epoch=1,
        best_valid=best_valid,
        history=history,
        train_seconds=time.perf_counter() - t_start,
        first_epoch_seconds=row["seconds"],
        stopped_early=False,
        config=config,
    )
