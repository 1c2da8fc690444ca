"""Studies: repeated runs with different search seeds, resumed run by run, summarised."""

import json

import numpy as np
import pytest
from _fakes import ClosedFormTrainer

from moorec.errors import ConfigError, DataNotFoundError, RunConfigMismatchError
from moorec.objectives import parse_all
from moorec.search import Real, Space
from moorec.search import study as st
from moorec.search.indicators import hypervolume, non_dominated

XY = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))
OBJECTIVES = ["ndcg@10", "ild@10"]


def _study(out, seeds="0-2", trainer=None, **kw):
    args = dict(
        out=out,
        seeds=seeds,
        trainer=trainer or ClosedFormTrainer(),
        pop_size=6,
        generations=3,
        progress=False,
    )
    args.update(kw)
    return st.run_study(None, XY, OBJECTIVES, **args)


def _lines(study):
    return [
        [
            (t["trial"], t["generation"], t["key"], t["status"], t["valid"], t["test"])
            for t in run.trials()
        ]
        for run in study.runs()
    ]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0-4", [0, 1, 2, 3, 4]),
        ("0,2,7", [0, 2, 7]),
        ("3", [3]),
        ("1-2,2,5", [1, 2, 5]),
        (4, [4]),
        ([2, 0], [2, 0]),
    ],
)
def test_parse_seeds(text, want):
    assert st.parse_seeds(text) == want


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0-", "is not a seed or a range"),
        ("4-1", "runs backwards"),
        ("a", "not a seed"),
        ([-1], r"integers >= 0, got \[-1\]"),
        ([], "at least one seed"),
        (True, "integers >= 0"),
        ([0.5], "got 0.5"),
    ],
)
def test_parse_seeds_refuses(text, match):
    with pytest.raises(ConfigError, match=match):
        st.parse_seeds(text)


def test_a_study_holds_one_run_per_seed(tmp_path):
    study = _study(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "study.json").read_text())
    assert meta == {
        "kind": "moorec-study",
        "seeds": [0, 1, 2],
        "runs": {"0": "seed_0", "1": "seed_1", "2": "seed_2"},
    }
    assert study.complete and study.seeds == [0, 1, 2]
    runs = study.runs()
    assert [r.manifest["seed"] for r in runs] == [0, 1, 2]
    assert len({json.dumps([t["config"] for t in r.trials()]) for r in runs}) == 3  # seeds differ
    # the same call again: nothing is redone
    trainer = ClosedFormTrainer()
    again = _study(tmp_path / "s", trainer=trainer)
    assert trainer.calls == 0 and _lines(again) == _lines(study)


def test_an_interrupted_study_resumes_run_by_run(tmp_path):
    full = _study(tmp_path / "full")
    per_run = [len(r.trials()) + len(r.pareto_front()) for r in full.runs()]  # trials + test
    stop = per_run[0] + 5  # the first run finished, the second interrupted after 5 calls
    with pytest.raises(KeyboardInterrupt):
        _study(tmp_path / "s", trainer=ClosedFormTrainer(stop_after=stop))
    part = st.load_study(tmp_path / "s")
    assert len(part.runs()) == 1 and len(part.runs(complete=False)) == 2
    trainer = ClosedFormTrainer()
    resumed = _study(tmp_path / "s", trainer=trainer)
    assert _lines(resumed) == _lines(full)
    assert trainer.calls == sum(per_run) - stop  # the first run and 5 trials not redone


def test_more_seeds_extend_a_study_and_seed_is_refused(tmp_path):
    _study(tmp_path / "s", seeds="0-1")
    trainer = ClosedFormTrainer()
    bigger = _study(tmp_path / "s", seeds="0-2", trainer=trainer)
    assert bigger.seeds == [0, 1, 2] and bigger.complete
    assert trainer.calls == len(bigger.runs()[2].trials()) + len(bigger.runs()[2].pareto_front())
    with pytest.raises(ConfigError, match="takes seeds=, not seed="):
        _study(tmp_path / "t", seed=3)
    assert not (tmp_path / "t").exists()
    with pytest.raises(ConfigError, match="pop_size"):
        _study(tmp_path / "u", pop_size=1)
    assert not (tmp_path / "u").exists()  # checked before anything is written
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("mine")
    with pytest.raises(RunConfigMismatchError, match="is not a study folder"):
        _study(tmp_path / "busy")
    with pytest.raises(DataNotFoundError, match=r"has no study\.json"):
        st.load_study(tmp_path / "busy")


def test_hypervolumes_curves_and_summary_match_each_run(tmp_path):
    study = _study(tmp_path / "s")
    bounds = st.shared_bounds([study])
    assert bounds == {"ndcg@10": [1.0, 0.0], "ild@10": [1.0, 0.0]}  # bounded: natural range
    objs = parse_all(OBJECTIVES)
    hv = st.hypervolumes(study, bounds)
    for run, value in zip(study.runs(), hv, strict=True):
        pts = np.array([[m["valid"][k] for k in OBJECTIVES] for m in run.pareto_front()])
        assert value == hypervolume(pts[non_dominated(pts, objs)], objs, bounds)
    test_hv = st.hypervolumes(study, bounds, part="test")
    assert np.all(test_hv < hv)  # the fake's test scores are the valid ones minus 0.01
    curves, seconds = st.hypervolume_curves(study, bounds)
    assert curves.shape == seconds.shape == (3, 3)
    assert np.all(np.diff(curves, axis=1) >= 0)  # the archive only grows
    np.testing.assert_array_equal(curves[:, -1], hv)  # the last generation's is the front's
    s = st.summarize(study, bounds, reference_front=st.union_front([study]))
    assert s["runs"] == 3 and s["hypervolume_values"] == hv.tolist()
    assert s["hypervolume"].mean == pytest.approx(hv.mean(), abs=1e-15)
    assert s["hypervolume"].low <= s["hypervolume"].mean <= s["hypervolume"].high
    assert min(s["igd_plus_values"]) >= 0.0
    same = st.compare(study, study, bounds)
    assert same["comparison"].difference == 0.0
    assert np.all(same["eaf_difference"][:, 4] == 0.0)


def test_two_studies_compared(tmp_path):
    good = _study(tmp_path / "good")
    bad = _study(tmp_path / "bad", generations=1, pop_size=2)  # far fewer trials
    bounds = st.shared_bounds([good, bad])
    out = st.compare(good, bad, bounds)
    c = out["comparison"]
    want = st.hypervolumes(good, bounds).mean() - st.hypervolumes(bad, bounds).mean()
    assert c.difference == pytest.approx(want, abs=1e-15) and c.difference > 0
    back = st.compare(bad, good, bounds)
    assert back["comparison"].difference == pytest.approx(-c.difference, abs=1e-15)
    assert (out["eaf_difference"][:, 4] >= 0).any()


def test_front_hypervolume_by_hand():
    from moorec.search.indicators import front_hypervolume

    objs = parse_all(OBJECTIVES)
    bounds = {"ndcg@10": [1.0, 0.0], "ild@10": [1.0, 0.0]}
    # both maximised from 0: (0.5, 0.5) dominates (0.4, 0.4); the NaN row is left out
    pts = [[0.5, 0.5], [0.4, 0.4], [float("nan"), 1.0]]
    assert front_hypervolume(pts, objs, bounds) == pytest.approx(0.25, abs=1e-12)
    # a second corner adds the rectangle it alone dominates: 0.25 + 0.2 * 0.3
    pts.append([0.2, 0.8])
    assert front_hypervolume(pts, objs, bounds) == pytest.approx(0.31, abs=1e-12)
    assert front_hypervolume([], objs, bounds) == 0.0
