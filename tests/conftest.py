"""Shared fixtures and the skip policy.

Tests marked ``realdata`` need the real data sets under ``$MOOREC_DATA`` (CI points it at
``../shared/datasets``). When they are missing the test is skipped with a message that says so.

Under CI (``CI`` set to anything but ``""``, ``0``, ``false`` or ``no``) a skip is a failure,
unless the test is marked ``device`` (it needs an accelerator, which CI does not have): a missing
data folder, optional extra (``text``: sentence-transformers) or tool (``pdflatex``) can never pass
unnoticed. ``.ci/run`` installs what those tests need.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _ci_skip_message(reason: str) -> str:
    return (
        f"skipped under CI: {reason}\n"
        "In CI only tests marked `device` (they need an accelerator) may skip; every other test "
        "must run: install what it needs in .ci/run (or run the suite with CI unset)."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI, turn the skip of a test not marked ``device`` into a failure."""
    report = yield
    optional = item.get_closest_marker("optional_path")
    if optional is not None and report.when == "call":
        report.user_properties.append(("optional_path", optional.args[0]))
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and _in_ci()
        and item.get_closest_marker("device") is None
    ):
        report.outcome = "failed"
        report.longrepr = _ci_skip_message(_skip_reason(report))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """Under CI, a module skipped as a whole (``allow_module_level``) fails too."""
    report = yield
    if report.skipped and _in_ci():
        report.outcome = "failed"
        report.longrepr = _ci_skip_message(_skip_reason(report))
    return report


def _data_root() -> Path | None:
    candidates = []
    if os.environ.get("MOOREC_DATA"):
        candidates.append(Path(os.environ["MOOREC_DATA"]))
    candidates.append(REPO.parent / "shared" / "datasets")
    for c in candidates:
        if (c / "ml-100k" / "ml-100k.inter").exists():
            return c
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder holding the real data sets (``ml-100k/``, ``amazon-video-games/``)."""
    root = _data_root()
    if root is None:
        msg = (
            "real data sets not found: set MOOREC_DATA to a folder holding ml-100k/ml-100k.inter "
            f"(looked in $MOOREC_DATA={os.environ.get('MOOREC_DATA')!r} and "
            f"{REPO.parent / 'shared' / 'datasets'})"
        )
        if _in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    return root


def planted_interactions(n_users: int = 120, n_items: int = 80, per_user: int = 15, seed: int = 0):
    """Interactions with planted structure: users and items in 4 groups, users mostly pick items
    of their own group, so a trained model must beat chance by a wide margin."""
    import numpy as np

    from moorec.data import Interactions, ItemFeatures

    rng = np.random.default_rng(seed)
    groups = 4
    user_group = np.arange(n_users) % groups
    item_group = np.arange(n_items) % groups
    users, items = [], []
    for u in range(n_users):
        own = np.flatnonzero(item_group == user_group[u])
        other = np.flatnonzero(item_group != user_group[u])
        n_own = int(per_user * 0.8)
        chosen = np.concatenate(
            [
                rng.choice(own, n_own, replace=False),
                rng.choice(other, per_user - n_own, replace=False),
            ]
        )
        users.extend([u] * per_user)
        items.extend(chosen.tolist())
    cats = np.zeros((n_items, groups + 1), dtype=bool)
    cats[np.arange(n_items), item_group] = True
    cats[::5, groups] = True  # a second category on some items
    feats = ItemFeatures(
        cats,
        tuple(f"g{g}" for g in range(groups + 1)),
        titles=np.array([f"item {i}" for i in range(n_items)], dtype=object),
    )
    users = np.asarray(users)
    return Interactions(
        users=users,
        items=np.asarray(items),
        n_users=n_users,
        n_items=n_items,
        timestamps=np.arange(len(users), dtype=np.float64),
        item_features=feats,
        name="planted",
    )


@pytest.fixture(scope="session")
def planted():
    return planted_interactions()


@pytest.fixture(scope="session")
def planted_split(planted):
    from moorec.split import random_ratio

    return random_ratio(planted, (0.8, 0.1, 0.1), seed=0)


def pytest_terminal_summary(terminalreporter):
    """Name the tests of optional paths (extras, system tools) and how each ended.

    They are the tests a machine without the extra or the tool would skip; the line shows that
    they ran (``.ci/run`` installs what they need).
    """
    seen = []
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            for key, value in getattr(report, "user_properties", ()):
                if key == "optional_path":
                    seen.append(f"{report.nodeid.split('::')[-1]} ({value}): {outcome}")
    if seen:
        terminalreporter.write_line("optional paths: " + "; ".join(sorted(seen)))
