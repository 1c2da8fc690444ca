"""Figures from run stores: every kind renders, counts match a brute-force front, steps go the
right way, attainment surfaces, paper style, and clear errors for bad input."""

from __future__ import annotations

import ast
import doctest
import itertools
import warnings
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import moocore
import numpy as np
import pytest

import moorec as mr
from moorec import plots
from moorec.errors import ConfigError, UnknownNameError
from moorec.plots import RunIncompleteWarning, style
from moorec.plots.common import _Objective
from moorec.search import knee_index

DIRECTIONS = {"ndcg@10": "max", "ild@10": "max", "latency_ms": "min"}


# ---------------------------------------------------------------------- shared checks
def brute_force_front(run, keys, split="valid"):
    """Non-dominated (values, trial ids) by direct pairwise comparison, natural directions."""
    rows, ids = [], []
    for t in run.trials():
        scores = t.get(split)
        if t["status"] != "ok" or t.get("feasible", True) is False or not scores:
            continue
        rows.append([scores[k] for k in keys])
        ids.append(t["trial"])
    v = np.array(rows, dtype=float).reshape(len(rows), len(keys))
    sign = np.array([1.0 if DIRECTIONS[k] == "max" else -1.0 for k in keys])
    g = v * sign  # larger is better in every column
    keep = [not np.any(np.all(g >= g[i], axis=1) & np.any(g > g[i], axis=1)) for i in range(len(g))]
    return v[keep], [i for i, k in zip(ids, keep) if k]


def gid_artists(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def n_points(ax, gid):
    return sum(len(a.get_offsets()) for a in gid_artists(ax, gid))


def assert_not_blank(png):
    img = matplotlib.image.imread(png)
    rgb = img[..., :3].reshape(-1, 3)
    ink = np.mean(np.any(rgb < 0.9, axis=1))
    colours = len(np.unique(np.round(rgb * 255).astype(np.uint8), axis=0))
    assert ink > 0.02, f"{png} is almost blank ({ink:.1%} ink)"
    assert colours > 8, f"{png} has only {colours} colours"


def step_line(ax):
    (line,) = gid_artists(ax, "moorec-step")
    return np.column_stack(line.get_data())


# ------------------------------------------------------------------------ every kind renders
KINDS = {
    "front": lambda r: plots.front(r["run2"], "ndcg@10", "ild@10"),
    "front_test": lambda r: plots.front(r["run3"], "ndcg@10", "latency_ms", split="test"),
    "fronts": lambda r: plots.fronts(
        [r["seed"]["nsga2"][0], r["seed"]["random"][0]], "ndcg@10", "ild@10"
    ),
    "front3d": lambda r: plots.front3d(r["run3"]),
    "scatter_matrix": lambda r: plots.scatter_matrix(r["run3"]),
    "pcp": lambda r: plots.parallel_coordinates(r["run3"]),
    "hv": lambda r: plots.hypervolume(r["seed"]["nsga2"] + r["seed"]["random"]),
    "hv_time": lambda r: plots.hypervolume(r["seed"]["nsga2"], x="time"),
    "attainment": lambda r: plots.attainment(
        {"NSGA-II": r["seed"]["nsga2"], "random": r["seed"]["random"]}, "ndcg@10", "ild@10"
    ),
}


@pytest.fixture(scope="module")
def runs(seed_runs, run2, run3):
    return {"seed": seed_runs, "run2": run2, "run3": run3}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_to_pdf_and_png(kind, runs, tmp_path):
    out = KINDS[kind](runs)
    fig = out if isinstance(out, plt.Figure) else out.figure
    paths = plots.save(fig, tmp_path / "figs" / kind, dpi=100)
    assert [p.name for p in paths] == [f"{kind}.pdf", f"{kind}.png"]
    assert paths[0].read_bytes()[:5] == b"%PDF-" and paths[0].stat().st_size > 2000
    assert_not_blank(paths[1])
    assert plt.fignum_exists(fig.number), "save must not close the figure"


# -------------------------------------------------------------------------------- 2-D front
@pytest.mark.parametrize(
    ("fixture", "x", "y"),
    [
        ("run2", "ndcg@10", "ild@10"),
        ("run3", "ndcg@10", "latency_ms"),
        ("run3", "latency_ms", "ild@10"),
        ("failed_run", "ild@10", "latency_ms"),
    ],
)
def test_front_plots_the_brute_force_non_dominated_set(fixture, x, y, request):
    run = request.getfixturevalue(fixture)
    ax = plots.front(run, x, y)
    expected, expected_ids = brute_force_front(run, [x, y])
    info = ax.moorec_front
    assert info["n_front"] == len(expected) == n_points(ax, "moorec-front")
    assert sorted(info["trials"]) == sorted(expected_ids)
    ok = [t for t in run.trials() if t["status"] == "ok"]
    assert info["n_trials"] == len(ok) == n_points(ax, "moorec-trials")
    assert info["n_failed"] == len(run.failed())
    assert (info["x"], info["y"], info["split"]) == (x, y, "valid")
    values, ids = plots.front_points(run, [x, y])
    assert ids == info["trials"] and np.all(np.diff(values[:, 0]) >= 0)
    np.testing.assert_allclose(values[np.argsort(ids)], expected[np.argsort(expected_ids)])


def test_axis_labels_name_the_objectives(run3):
    ax = plots.front(run3, "ndcg@10", "latency_ms")
    assert ax.get_xlabel() == "NDCG@10 (↑ better)"
    assert ax.get_ylabel() == "latency (ms, ↓ better)"
    better = gid_artists(ax, "moorec-better")
    assert len(better) == 1 and "better" in better[0].get_text() and "↘" in better[0].get_text()


def test_failed_trials_are_hidden_but_counted(failed_run):
    ax = plots.front(failed_run, "ndcg@10", "ild@10")
    failed = {t["trial"] for t in failed_run.failed()}
    assert ax.moorec_front["n_failed"] == len(failed) > 0
    assert n_points(ax, "moorec-trials") == len(failed_run.trials()) - len(failed)
    assert not failed & set(ax.moorec_front["trials"])


def knee_marker(ax):
    """The data point of the knee star (gid moorec-knee) and of its label's arrow."""
    (star,) = gid_artists(ax, "moorec-knee")
    (label,) = [t for t in ax.texts if t.get_gid() == "moorec-knee-label"]
    return np.asarray(star.get_offsets(), dtype=float).reshape(-1, 2), np.asarray(label.xy)


def trial_values(run, trial, keys, split="valid"):
    (t,) = [t for t in run.trials() if t["trial"] == trial]
    return np.array([t[split][k] for k in keys])


def test_knee_is_the_recorded_one(run2):
    ax = plots.front(run2, "ndcg@10", "ild@10")
    knee = run2.knee()["trial"]
    assert ax.moorec_front["knee"] == knee and ax.moorec_front["knee_method"] == "recorded"
    stars, arrow = knee_marker(ax)
    np.testing.assert_array_equal(stars, [trial_values(run2, knee, ["ndcg@10", "ild@10"])])
    np.testing.assert_array_equal(arrow, stars[0])
    # two objectives of a two-objective run: no projection, the title stays empty
    assert ax.moorec_front["projection"] is None and ax.get_legend().get_title().get_text() == ""
    assert not gid_artists(ax, "moorec-pareto-rest")
    ax = plots.front(run2, "ndcg@10", "ild@10", annotate_knee=False)
    assert ax.moorec_front["knee"] is None and n_points(ax, "moorec-knee") == 0


def test_projection_marks_the_recorded_knee_not_a_knee_of_its_own(run3):
    keys = ["ndcg@10", "ild@10"]
    recorded = run3.knee()["trial"]
    # the knee of the 2-D projection (ASF on the 2-D front) is another trial here: the case
    # in which a recomputed knee would disagree with front.json and the tables
    values, ids = plots.front_points(run3, keys)
    objectives = [_Objective(k, DIRECTIONS[k]) for k in keys]
    assert ids[knee_index(values, objectives, "asf")] != recorded
    assert recorded not in ids, "the recorded knee is dominated on these two objectives"
    ax = plots.front(run3, *keys)
    stars, arrow = knee_marker(ax)
    np.testing.assert_array_equal(stars, [trial_values(run3, recorded, keys)])
    np.testing.assert_array_equal(arrow, stars[0])
    assert ax.moorec_front["knee"] == recorded and ax.moorec_front["knee_method"] == "recorded"
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "2-D projection of a 3-objective front"
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[1] == f"Pareto front in 2-D ({len(ids)})"
    # every member of the run's Pareto set (the table's rows) is drawn: on the 2-D front or
    # as an open marker, and the knee is one of the open ones
    members = sorted(m["trial"] for m in run3.pareto_front())
    assert sorted(ax.moorec_front["pareto_set"]) == members
    rest = np.asarray(gid_artists(ax, "moorec-pareto-rest")[0].get_offsets())
    assert (
        len(rest) == len(members) - len(ids) and texts[2] == f"rest of the Pareto set ({len(rest)})"
    )
    assert np.any(np.all(rest == stars[0], axis=1))


def test_every_figure_of_a_run_marks_the_same_knee(run3):
    recorded = run3.knee()["trial"]
    for x, y in itertools.permutations(["ndcg@10", "ild@10", "latency_ms"], 2):
        ax = plots.front(run3, x, y)
        assert ax.moorec_front["knee"] == recorded, (x, y)
        np.testing.assert_array_equal(knee_marker(ax)[0], [trial_values(run3, recorded, [x, y])])
    assert plots.front3d(run3).moorec_front["knee"] == recorded
    assert plots.scatter_matrix(run3).moorec_front["knee"] == recorded
    assert plots.parallel_coordinates(run3).moorec_pcp["knee"] == recorded
    assert plots.parallel_coordinates(run3, split="test").moorec_pcp["knee"] == recorded
    assert plots.front(run3, "ndcg@10", "ild@10", split="test").moorec_front["knee"] == recorded


def test_test_split_uses_only_tested_trials(run3):
    ax = plots.front(run3, "ndcg@10", "ild@10", split="test")
    tested = [t for t in run3.trials() if t["test"] is not None]
    expected, _ = brute_force_front(run3, ["ndcg@10", "ild@10"], split="test")
    assert ax.moorec_front["split"] == "test"
    assert ax.moorec_front["n_trials"] == len(tested) == len(run3.pareto_front())
    assert ax.moorec_front["n_front"] == len(expected)
    assert "test" in ax.get_title()
    assert ax.get_xlabel() == "NDCG@10 (test, ↑ better)"
    assert ax.get_ylabel() == "ILD@10 (test, ↑ better)"


def test_test_split_figures_say_so_in_their_labels(run3, seed_runs):
    ax = plots.front(run3, "ndcg@10", "latency_ms", split="test")
    assert ax.get_ylabel() == "latency (ms, test, ↓ better)"
    assert plots.front(run3, "ndcg@10", "latency_ms").get_ylabel() == "latency (ms, ↓ better)"
    ax = plots.fronts(seed_runs["nsga2"][:2], "ndcg@10", "ild@10", split="test")
    assert ax.get_xlabel() == "NDCG@10 (test, ↑ better)"
    ax = plots.front3d(run3, split="test")
    assert ax.get_zlabel() == "latency (ms, test) ↓" and ax.get_xlabel() == "NDCG@10 (test) ↑"
    fig = plots.scatter_matrix(run3, split="test")
    assert all("test" in a.get_xlabel() for a in np.array(fig.axes).reshape(3, 3)[2])
    ax = plots.parallel_coordinates(run3, split="test")
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[:3] == ["NDCG@10 (test) ↑", "ILD@10 (test) ↑", "latency (ms, test) ↓"]
    ax = plots.attainment({"NSGA-II": seed_runs["nsga2"]}, "ndcg@10", "ild@10", split="test")
    assert ax.get_xlabel() == "NDCG@10 (test, ↑ better)"


def test_log_scaled_axes_say_so(run3):
    _, ax = plt.subplots()
    ax.set_yscale("log")
    plots.front(run3, "ndcg@10", "latency_ms", ax=ax)
    assert ax.get_ylabel() == "latency (ms, log scale, ↓ better)"
    assert ax.get_xlabel() == "NDCG@10 (↑ better)"
    ticks = [t.get_text() for t in plots.parallel_coordinates(run3).get_xticklabels()]
    assert ticks[3:] == ["x", "y", "lr (log scale)", "dim"]  # lr is a LogReal variable


# ------------------------------------------------------------------------------- step lines
def corner_checks(verts, dirs):
    """Every corner is weakly dominated by both neighbours (the staircase bounds the
    dominated region) and x never decreases."""
    sign = np.array([1.0 if d == "max" else -1.0 for d in dirs])
    assert len(verts) % 2 == 1
    assert np.all(np.diff(verts[:, 0]) >= 0)
    for i in range(1, len(verts) - 1, 2):
        corner = verts[i] * sign
        assert np.all(verts[i - 1] * sign >= corner) and np.all(verts[i + 1] * sign >= corner)


def test_step_line_max_max_goes_down_then_right(run2):
    ax = plots.front(run2, "ndcg@10", "ild@10")
    verts = step_line(ax)
    corner_checks(verts, ["max", "max"])
    assert np.all(np.diff(verts[:, 1]) <= 0)  # ild falls as ndcg rises
    for i in range(0, len(verts) - 2, 2):
        a, corner, b = verts[i], verts[i + 1], verts[i + 2]
        assert corner[0] == a[0] and corner[1] == b[1]  # vertical first: down, then right


def test_step_line_max_min_goes_up_then_right(run3):
    ax = plots.front(run3, "ndcg@10", "latency_ms")
    verts = step_line(ax)
    corner_checks(verts, ["max", "min"])
    assert np.all(np.diff(verts[:, 1]) >= 0)  # latency rises with ndcg along the front
    for i in range(0, len(verts) - 2, 2):
        a, corner, b = verts[i], verts[i + 1], verts[i + 2]
        assert corner[0] == a[0] and corner[1] == b[1]  # up at the left point, then right


def test_step_line_min_max_goes_right_then_up(run3):
    ax = plots.front(run3, "latency_ms", "ild@10")
    verts = step_line(ax)
    corner_checks(verts, ["min", "max"])
    for i in range(0, len(verts) - 2, 2):
        a, corner, b = verts[i], verts[i + 1], verts[i + 2]
        assert corner[0] == b[0] and corner[1] == a[1]  # horizontal first


def test_step_vertices_on_hand_made_points():
    pts = np.array([[2.0, 1.0], [1.0, 3.0], [3.0, 0.5]])
    np.testing.assert_array_equal(
        plots.step_vertices(pts, ["max", "max"]),
        [[1, 3], [1, 1], [2, 1], [2, 0.5], [3, 0.5]],
    )
    up = np.array([[1.0, 1.0], [2.0, 3.0]])
    np.testing.assert_array_equal(plots.step_vertices(up, ["min", "max"]), [[1, 1], [2, 1], [2, 3]])
    np.testing.assert_array_equal(plots.step_vertices(up, ["max", "min"]), [[1, 1], [1, 3], [2, 3]])
    assert plots.step_vertices(np.zeros((0, 2)), ["max", "min"]).shape == (0, 2)


# ------------------------------------------------------------------------------ other kinds
def test_fronts_overlay_counts_and_labels(seed_runs, run3):
    runs = [seed_runs["nsga2"][0], seed_runs["random"][1]]
    ax = plots.fronts(runs, "ndcg@10", "ild@10")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["NSGA-II (seed 0)", "random search (seed 1)"]
    assert ax.get_legend().get_title().get_text() == ""
    ax = plots.fronts([runs[0], run3], "ndcg@10", "ild@10")
    assert ax.get_legend().get_title().get_text() == "2-D projection of 2/3-objective fronts"
    for run, info in zip(runs, ax.moorec_fronts):
        assert info["n_front"] == len(brute_force_front(run, ["ndcg@10", "ild@10"])[0])
    assert n_points(ax, "moorec-front") == sum(i["n_front"] for i in ax.moorec_fronts)
    assert len(gid_artists(ax, "moorec-step")) == 2
    # equal labels share one legend entry and one colour
    ax = plots.fronts(seed_runs["nsga2"], "ndcg@10", "ild@10", labels=["NSGA-II"] * 3)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["NSGA-II"]
    assert len({tuple(line.get_color()) for line in gid_artists(ax, "moorec-step")}) == 1


def test_front3d_and_scatter_matrix_highlight_the_full_pareto_set(run3):
    expected, ids = brute_force_front(run3, ["ndcg@10", "ild@10", "latency_ms"])
    assert sorted(ids) == sorted(m["trial"] for m in run3.pareto_front())
    ax = plots.front3d(run3)
    assert ax.name == "3d" and ax.moorec_front["n_front"] == len(expected)
    assert n_points(ax, "moorec-front") == len(expected)
    assert "NDCG@10" in ax.get_xlabel() and "latency" in ax.get_zlabel()
    fig = plots.scatter_matrix(run3)
    assert fig.moorec_front["n_front"] == len(expected)
    axes = np.array(fig.axes).reshape(3, 3)
    for i, j in itertools.combinations(range(3), 2):
        lower = axes[j, i]
        assert n_points(lower, "moorec-front") == len(expected)
    assert "latency" in axes[2, 0].get_ylabel() and "ILD@10" in axes[2, 1].get_xlabel()


def test_parallel_coordinates_columns_and_highlight(run3):
    ax = plots.parallel_coordinates(run3)
    info = ax.moorec_pcp
    assert info["columns"] == [
        "ndcg@10",
        "ild@10",
        "latency_ms",
        "config.x",
        "config.y",
        "config.lr",
        "config.dim",
    ]
    segments = {g: gid_artists(ax, g)[0].get_segments() for g in ("moorec-front", "moorec-knee")}
    assert len(segments["moorec-front"]) + len(segments["moorec-knee"]) == info["n_front"]
    assert len(segments["moorec-knee"]) == 1 and info["knee"] == run3.knee()["trial"]
    every = np.concatenate([s[:, 1] for s in segments["moorec-front"]])
    assert np.nanmin(every) >= 0 and np.nanmax(every) <= 1
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[:3] == ["NDCG@10 ↑", "ILD@10 ↑", "latency (ms) ↓"] and ticks[-1] == "dim"
    ax = plots.parallel_coordinates(run3, ["latency_ms", "lr"])
    assert ax.moorec_pcp["columns"] == ["latency_ms", "config.lr"]


def test_hypervolume_curves_are_the_stored_history(seed_runs):
    runs = seed_runs["nsga2"]
    ax = plots.hypervolume(runs)
    lines = gid_artists(ax, "moorec-hypervolume")
    for line, run in zip(lines, runs):
        gens, hv = line.get_data()
        assert list(gens) == [g for g, _ in run.hypervolume_history()]
        assert list(hv) == [h for _, h in run.hypervolume_history()]
    assert ax.get_xlabel() == "generation" and "hypervolume" in ax.get_ylabel()
    ax = plots.hypervolume(runs[0], x="time")
    (line,) = gid_artists(ax, "moorec-hypervolume")
    seconds = line.get_xdata()
    assert np.all(np.diff(seconds) > 0)
    assert list(seconds) == [g["seconds"] for g in runs[0].generations()]


def test_wall_seconds_lays_resumed_sessions_end_to_end():
    gens = [{"seconds": 5.0}, {"seconds": 9.0}, {"seconds": 2.0}, {"seconds": 6.0}]
    np.testing.assert_allclose(plots.hv.wall_seconds(gens), [5, 9, 11, 15])


# ------------------------------------------------------------------------------- attainment
def test_attainment_of_identical_runs_is_their_front(run2):
    with pytest.warns(UserWarning, match=r"'same'.*share the search seed 0"):
        ax = plots.attainment({"same": [run2, run2, run2]}, "ndcg@10", "ild@10")
    front, _ = plots.front_points(run2, ["ndcg@10", "ild@10"])
    front = np.unique(front, axis=0)
    surfaces = ax.moorec_attainment["same"]
    assert sorted(surfaces) == [0.25, 0.5, 0.75]
    for pts in surfaces.values():
        np.testing.assert_allclose(np.unique(pts, axis=0), front)
    assert len(gid_artists(ax, "moorec-attainment-0.5")) == 1


def test_attainment_surfaces_are_moocore_eaf_and_nested(seed_runs):
    runs = seed_runs["random"]
    ax = plots.attainment({"random": runs}, "ndcg@10", "ild@10")
    surfaces = ax.moorec_attainment["random"]
    sets = [plots.front_points(r, ["ndcg@10", "ild@10"])[0] for r in runs]
    points = -np.concatenate(sets)  # both maximised: negate for moocore
    which = np.concatenate([np.full(len(s), i + 1) for i, s in enumerate(sets)])
    eaf = moocore.eaf(points, which, percentiles=[50])
    np.testing.assert_allclose(
        np.unique(surfaces[0.5], axis=0), np.unique(-eaf[:, :2], axis=0), rtol=0, atol=0
    )
    # what 75% of the runs attain, 25% attain too: each point of the 75% surface is weakly
    # dominated by a point of the 25% surface
    for p in surfaces[0.75]:
        assert np.any(np.all(surfaces[0.25] >= p, axis=1))
    # the drawn lines are staircases through the surface points
    (line,) = gid_artists(ax, "moorec-attainment-0.5")
    corner_checks(np.column_stack(line.get_data()), ["max", "max"])


# ----------------------------------------------------------------------------------- errors
def test_unknown_objective_lists_the_runs_objectives(run2):
    with pytest.raises(UnknownNameError, match=r"unknown objective 'ndgc@10'.*ild@10, ndcg@10"):
        plots.front(run2, "ndgc@10", "ild@10")
    with pytest.raises(UnknownNameError, match=r"'latency_ms'.*ild@10, ndcg@10"):
        plots.scatter_matrix(run2, ["ndcg@10", "latency_ms"])
    with pytest.raises(UnknownNameError, match=r"unknown column 'bogus'.*config.lr"):
        plots.parallel_coordinates(run2, ["ndcg@10", "bogus"])
    with pytest.raises(UnknownNameError, match=r"unknown split 'train'"):
        plots.front(run2, "ndcg@10", "ild@10", split="train")


def test_fewer_than_two_objectives_is_a_config_error(run2):
    with pytest.raises(ConfigError, match=r"distinct"):
        plots.front(run2, "ndcg@10", "ndcg@10")
    with pytest.raises(ConfigError, match=r"at least 2 objectives, got 1"):
        plots.scatter_matrix(run2, ["ndcg@10"])
    with pytest.raises(ConfigError, match=r"at least 2 objectives"):
        plots.front_points(run2, ["ild@10"])
    with pytest.raises(ConfigError, match=r"exactly 3 objectives, got 2"):
        plots.front3d(run2)


def test_attainment_refuses_runs_that_differ_in_more_than_the_seed(seed_runs, run2, longer_run):
    longer = longer_run
    with pytest.raises(
        ConfigError,
        match=(
            r"attainment group 'NSGA-II' pools runs whose configs differ in more than the "
            r"search seed: search.generations is 5 in .*nsga2-seed0, 6 in .*nsga2-seed1-longer"
        ),
    ):
        plots.attainment({"NSGA-II": [run2, longer]}, "ndcg@10", "ild@10")
    mixed = [seed_runs["nsga2"][0], seed_runs["random"][1]]
    with pytest.raises(ConfigError, match=r"search.algorithm is \"nsga2\" in .*, \"random\" in"):
        plots.attainment({"mixed": mixed}, "ndcg@10", "ild@10")
    # runs that differ in the seed alone are fine, and raise no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.attainment({"NSGA-II": seed_runs["nsga2"]}, "ndcg@10", "ild@10")


def test_config_differences_ignore_only_the_search_seed(seed_runs):
    from moorec.plots.attainment import config_differences

    assert config_differences(seed_runs["nsga2"]) == {}
    diff = config_differences([seed_runs["nsga2"][0], seed_runs["random"][0]])
    assert diff == {"search.algorithm": ["nsga2", "random"]}


def test_attainment_needs_two_runs_per_group(seed_runs):
    runs = seed_runs["nsga2"]
    with pytest.raises(ConfigError, match=r"at least 2 runs per group.*'solo' has 1"):
        plots.attainment({"NSGA-II": runs, "solo": runs[:1]}, "ndcg@10", "ild@10")
    with pytest.raises(ConfigError, match=r"levels must be numbers in \(0, 1\]"):
        plots.attainment({"NSGA-II": runs}, "ndcg@10", "ild@10", levels=(0.5, 1.5))
    with pytest.raises(ConfigError, match=r"at least one group"):
        plots.attainment({}, "ndcg@10", "ild@10")


def test_other_bad_arguments(run2, run3):
    with pytest.raises(UnknownNameError, match=r"unknown x 'epochs'.*generation, time"):
        plots.hypervolume(run2, x="epochs")
    with pytest.raises(ConfigError, match=r"2 labels for 1 runs"):
        plots.hypervolume([run2], labels=["a", "b"])
    with pytest.raises(ConfigError, match=r"3-D axes"):
        plots.front3d(run3, ax=plt.figure().add_subplot())
    with pytest.raises(ConfigError, match=r"empty figure"):
        plots.scatter_matrix(run3, fig=plt.subplots()[0])
    with pytest.raises(ConfigError, match=r"expected a moorec.results.Run"):
        plots.front(42, "ndcg@10", "ild@10")


def test_hypervolume_warns_when_reference_points_differ(run2, run3):
    with pytest.warns(UserWarning, match=r"reference points differ"):
        plots.hypervolume([run2, run3])


# --------------------------------------------------------------------------- incomplete run
def test_interrupted_run_plots_what_is_there_and_says_so(interrupted_run, tmp_path):
    run = interrupted_run
    with pytest.warns(RunIncompleteWarning, match=r"missing front.json.*19 trials"):
        ax = plots.front(run, "ndcg@10", "ild@10")
    expected, _ = brute_force_front(run, ["ndcg@10", "ild@10"])
    assert ax.moorec_front["n_trials"] == 19 and ax.moorec_front["n_front"] == len(expected)
    assert ax.moorec_front["knee_method"] == "asf"  # no front.json: no recorded knee
    assert not ax.moorec_front["complete"] and ax.moorec_front["missing"] == ["front.json"]
    assert_not_blank(plots.save(ax.figure, tmp_path / "front", formats=["png"])[0])
    with pytest.warns(RunIncompleteWarning, match=r"front.json"):
        ax = plots.hypervolume(str(run.path))  # a folder works as well as a Run
    assert ax.moorec_hypervolume[0]["n_generations"] == len(run.generations()) == 2
    for draw in (plots.scatter_matrix, plots.parallel_coordinates, plots.front3d):
        with pytest.warns(RunIncompleteWarning):
            draw(run)


def test_empty_run_folder_is_refused_but_its_hypervolume_drawn(tmp_path):
    store = mr.results.RunStore.create_or_resume(
        tmp_path / "r",
        {
            "config": {"search": {"algorithm": "nsga2"}},
            "config_hash": "h",
            "objectives": [
                {"key": "ndcg@10", "direction": "max"},
                {"key": "ild@10", "direction": "max"},
            ],
        },
    )
    message = rf"run {store.path} has no finished trial: no trial is recorded yet"
    with pytest.raises(ConfigError, match=message):
        plots.front(store.path, "ndcg@10", "ild@10")
    for draw in (plots.scatter_matrix, plots.parallel_coordinates):
        with pytest.raises(ConfigError, match=message):
            draw(store.path)
    with pytest.warns(RunIncompleteWarning, match=r"trials.jsonl.*0 trials"):
        ax = plots.hypervolume(store.path)
    assert ax.moorec_hypervolume[0]["n_generations"] == 0


def test_figures_draw_into_the_axes_they_are_given(run2, run3):
    _, (a, b) = plt.subplots(1, 2)
    assert plots.front(run2, "ndcg@10", "ild@10", ax=a) is a
    assert plots.hypervolume(run2, ax=b) is b
    sub = plt.figure(layout="constrained").subfigures(1, 2)
    assert plots.scatter_matrix(run3, fig=sub[1]) is sub[1] and len(sub[1].axes) == 9
    c = sub[0].add_subplot(projection="3d")
    assert plots.front3d(run3, ax=c) is c


# ------------------------------------------------------------------------------------ style
def test_labels_for_every_known_objective():
    for name in mr.objectives.available():
        system = mr.objectives.available("system")
        key = name if name in system else f"{name}@10"
        objective = mr.objectives.parse(key)
        text = style.label(key, objective.direction)
        assert ("↑ better" in text) == (objective.direction == "max")
        assert "_" not in text and text != key
    assert style.label("ild_cosine@5", "max") == "ILD@5 (cosine, ↑ better)"
    assert style.label("latency_p95_ms", "min") == "p95 latency (ms, ↓ better)"
    assert style.label("my_metric", "min") == "my_metric (↓ better)"
    assert style.label("ild_cosine@5", "max", split="test") == "ILD@5 (cosine, test, ↑ better)"
    assert style.label("ndcg@10", "max", split="valid") == "NDCG@10 (↑ better)"
    assert style.label("latency_ms", "min", split="test", log=True) == (
        "latency (ms, test, log scale, ↓ better)"
    )
    assert style.short_label("latency_ms", "min", split="test") == "latency (ms, test) ↓"
    assert style.short_label("lr", log=True) == "lr (log scale)"
    with pytest.raises(UnknownNameError, match=r"unknown split 'train'"):
        style.label("ndcg@10", "max", split="train")
    with pytest.raises(UnknownNameError, match=r"unknown direction 'up'"):
        style.label("ndcg@10", "up")


def test_paper_style_figure_and_save(tmp_path):
    rc = style.paper_style()
    assert rc["text.usetex"] is False and rc["pdf.fonttype"] == 42
    assert 8 <= rc["font.size"] <= 9 and rc["font.family"][0] == "cmr10"
    assert style.paper_style(usetex=True)["text.usetex"] is True
    assert len(style.PALETTE) >= 7 and len(set(style.PALETTE)) == len(style.PALETTE)
    fig, _ = style.figure("double")
    np.testing.assert_allclose(fig.get_size_inches(), [7.16, 7.16 / ((1 + 5**0.5) / 2)])
    fig, axes = style.figure(3.0, 2.0, nrows=1, ncols=2)
    assert axes.shape == (2,) and tuple(fig.get_size_inches()) == (3.0, 2.0)
    axes[0].plot([0, 1], [1, 0])
    paths = style.save(fig, tmp_path / "a" / "b.pdf", formats=("pdf", "png", "svg"))
    assert [p.name for p in paths] == ["b.pdf", "b.png", "b.svg"] and all(p.exists() for p in paths)
    with pytest.raises(UnknownNameError, match=r"unknown figure width 'triple'"):
        style.figure("triple")
    with pytest.raises(ConfigError, match=r"formats must be one or more of"):
        style.save(fig, tmp_path / "c", formats=["docx"])


def test_text_is_safe_for_the_paper_font():
    with plt.rc_context(style.paper_style()):
        assert style.text("div_weight") == r"div$\_$weight"
        assert style.text("NDCG@10 (↑ better)") == "NDCG@10 (↑ better)"
        assert style.text("$x_1$") == "$x_1$"
    with plt.rc_context(style.paper_style(usetex=True)):
        assert style.label("latency_ms", "min") == r"latency (ms, $\downarrow$ better)"
        assert style.text("50% a_b") == r"50\% a\_b"


def test_style_docstring_examples():
    failures, _ = doctest.testmod(style)
    assert failures == 0


def test_no_module_imports_pyplot_at_import_time():
    for path in Path(plots.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only; functions import it when they draw
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{a.name}" for a in node.names]
            assert not any("pyplot" in n for n in names), f"{path.name} imports pyplot"
