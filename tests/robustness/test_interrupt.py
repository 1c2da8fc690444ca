"""A Ctrl-C swallowed where Python cannot raise it (a gc callback) still stops training."""

import gc
import signal
import sys

import pytest

import moorec as mr
from moorec import interrupt
from moorec.train import TrainConfig, fit
from moorec.train.population import fit_population


def _swallowed_ctrl_c():
    """SIGINT delivered inside a gc callback: the interpreter drops the exception."""
    calls = []

    def callback(phase, info):
        if phase == "start" and not calls:
            calls.append(phase)
            signal.raise_signal(signal.SIGINT)  # the handler runs here, inside the callback

    gc.callbacks.append(callback)
    try:
        gc.collect()  # no KeyboardInterrupt reaches this frame
    finally:
        gc.callbacks.remove(callback)
    assert calls == ["start"]


def _build(train):
    return mr.models.create("bpr", train.n_users, train.n_items, seed=0, dim=8)


def test_a_ctrl_c_dropped_by_a_gc_callback_is_raised_at_the_next_epoch(planted_split, monkeypatch):
    train = planted_split.train
    epochs, reported = [], []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)  # what would be printed
    with interrupt.catch():
        _swallowed_ctrl_c()
        assert reported == []  # recorded, not printed as "Exception ignored in ..."
        assert interrupt.requested()
        with pytest.raises(KeyboardInterrupt):
            fit(
                _build(train), train, TrainConfig(epochs=50, batch_size=256), on_epoch=epochs.append
            )
    assert [row["epoch"] for row in epochs] == [1]  # stopped after the first epoch, not the 50th
    assert not interrupt.requested()  # leaving the block forgets it
    assert sys.unraisablehook == reported.append  # and restores the hook


def test_other_unraisable_exceptions_are_still_reported(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_type))

    class Broken:
        def __del__(self):
            raise ValueError("in a finaliser")

    with interrupt.catch():
        Broken()  # dropped at once: its __del__ raises where nothing can catch it
    assert reported == [ValueError]


def test_the_population_loop_also_checks(planted_split):
    train = planted_split.train
    cfgs = [TrainConfig(epochs=50, batch_size=256, seed=s) for s in (0, 1)]
    with interrupt.catch():
        _swallowed_ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            fit_population([_build(train) for _ in cfgs], train, cfgs)


def test_outside_catch_nothing_is_recorded_and_check_never_raises(planted_split):
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # Python's own handler: raised, not recorded
    assert not interrupt.requested()
    interrupt.check()
    train = planted_split.train
    assert len(fit(_build(train), train, TrainConfig(epochs=2, batch_size=256)).history) == 2


def test_catch_restores_the_handler_and_leaves_an_ignored_sigint_ignored():
    with interrupt.catch():
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a job started in the background
    try:
        with interrupt.catch():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)  # ignored: neither raised nor recorded
            assert not interrupt.requested()
    finally:
        signal.signal(signal.SIGINT, previous)
