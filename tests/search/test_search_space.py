"""Search variables, spaces, the problem adapter's signs and constraints, algorithms."""

import math

import numpy as np
import pytest
from pymoo.core.mixed import MixedVariableSampling

from moorec.errors import ConfigError, UnknownNameError
from moorec.objectives import parse_all
from moorec.search import (
    Choice,
    Integer,
    LogReal,
    Real,
    RecProblem,
    Space,
    make_algorithm,
    parse_constraint,
    to_minimization,
)
from moorec.search.space import variable_from_dict


def _space():
    return Space(
        lr=LogReal(1e-4, 1e-1), l2=Real(0.0, 0.5), epochs=Integer(2, 9), dim=Choice([8, 16, 32])
    )


def test_encode_decode_round_trip():
    space = _space()
    cfg = {"lr": 3e-3, "l2": 0.25, "epochs": 5, "dim": 16}
    x = space.encode(cfg)
    assert x["lr"] == pytest.approx(math.log10(3e-3))
    back = space.decode(x)
    assert back["lr"] == pytest.approx(3e-3, rel=1e-12)
    assert back == {**cfg, "lr": back["lr"]}
    assert isinstance(back["epochs"], int) and isinstance(back["dim"], int)


def test_pymoo_samples_decode_inside_bounds():
    space = _space()
    problem = RecProblem(space, parse_all(["ndcg@10", "ild@10"]), [], lambda cs: [])
    pop = MixedVariableSampling().do(problem, 200, random_state=np.random.default_rng(0))
    configs = [space.decode(x) for x in pop.get("X")]
    lrs = np.array([c["lr"] for c in configs])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    # log-uniform: about a third of the draws per decade
    assert 0.2 < np.mean(lrs < 1e-3) < 0.5
    assert {c["dim"] for c in configs} == {8, 16, 32}
    assert all(2 <= c["epochs"] <= 9 and isinstance(c["epochs"], int) for c in configs)


def test_space_dict_round_trip():
    space = _space()
    again = Space.from_dict(space.to_dict())
    assert again.to_dict() == space.to_dict()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Real(1.0, 0.5), r"inverted: low=1.0 > high=0.5; did you swap"),
        (lambda: Real(0.3, 0.3), r"empty: low == high == 0.3"),
        (lambda: LogReal(0.0, 1.0), r"LogReal bounds must be > 0, got low=0.0"),
        (lambda: Integer(1, 2.5), r"Integer high must be an int, got 2.5"),
        (lambda: Choice([]), r"at least one option"),
        (lambda: Real(0, float("inf")), r"Real high must be a finite number, got inf"),
        (lambda: Space(), r"at least one variable"),
    ],
)
def test_bad_variables(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_unknown_variable_type_and_name():
    with pytest.raises(UnknownNameError, match=r"unknown variable type of 'lr' 'log'.*logreal"):
        variable_from_dict("lr", {"type": "log", "low": 1, "high": 2})
    with pytest.raises(UnknownNameError, match=r"unknown search variable 'lrr'.*lr"):
        Space(lrr=Real(0, 1)).check_names(["lr", "l2"])


def test_adapter_flips_signs_only_for_max():
    objs = parse_all(["ndcg@10", "latency_ms", "ild@10"])
    vals = np.array([[0.3, 2.0, 0.5]])
    np.testing.assert_array_equal(to_minimization(vals, objs), [[-0.3, 2.0, -0.5]])


def test_adapter_objectives_constraints_and_failures():
    space = Space(w=Real(0.0, 1.0))
    objs = parse_all(["ndcg@10", "latency_ms"])
    cons = [parse_constraint("latency_ms <= 2.0"), parse_constraint("recall@20 >= 0.2")]

    def evaluate(configs):
        out = []
        for c in configs:
            if c["w"] > 0.9:
                out.append({"status": "failed", "valid": None})
            else:
                out.append(
                    {
                        "status": "ok",
                        "valid": {
                            "ndcg@10": c["w"],
                            "latency_ms": 1 + 2 * c["w"],
                            "recall@20": c["w"],
                        },
                    }
                )
        return out

    problem = RecProblem(space, objs, cons, evaluate)
    X = np.array([{"w": 0.1}, {"w": 0.6}, {"w": 0.95}], dtype=object)
    out = problem.evaluate(X, return_as_dictionary=True)
    np.testing.assert_allclose(out["F"][:2], [[-0.1, 1.2], [-0.6, 2.2]])
    assert np.all(out["F"][2] >= 1e29)
    # latency <= 2: g = lat - 2; recall >= 0.2: g = 0.2 - recall; failure flag last
    np.testing.assert_allclose(out["G"][0], [-0.8, 0.1, -1.0])
    np.testing.assert_allclose(out["G"][1], [0.2, -0.4, -1.0])
    assert np.all(out["G"][2] > 0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("latency < 2", "must look like"),
        ("latncy_ms <= 2", r"unknown objective 'latncy_ms'"),
        ("recall@0 >= 0.1", "cutoff k"),
    ],
)
def test_bad_constraints(text, match):
    with pytest.raises((ConfigError, UnknownNameError), match=match):
        parse_constraint(text)


def test_algorithm_choices():
    for name in ("nsga2", "nsga3", "smsemoa", "random"):
        assert make_algorithm(name, 8, 2) is not None
    with pytest.raises(UnknownNameError, match=r"unknown algorithm 'nsga'.*moead, nsga2"):
        make_algorithm("nsga", 8, 2)
    with pytest.raises(ConfigError, match=r"pop_size must be an integer >= 2, got 1"):
        make_algorithm("nsga2", 1, 2)
    with pytest.raises(
        ConfigError, match=r"moead searches real variables only; \['epochs', 'dim'\]"
    ):
        make_algorithm("moead", 8, 2, _space())


def test_knee_by_asf_on_the_fronts_own_range():
    from moorec.search import knee_index

    objs = parse_all(["ndcg@10", "ild@10"])
    front = np.array([[0.2, 0.8], [0.15, 0.9], [0.05, 0.95]])
    # normalised to the front's range: (0, 1), (1/3, 1/3), (1, 0); ASF = max -> the middle
    assert knee_index(front, objs) == 1
    # a weight on NDCG moves the choice to the accurate end
    assert knee_index(front, objs, weights=[10.0, 1.0]) == 0
    assert knee_index(front, objs, "pseudo-weights", weights=[0.5, 0.5]) in (0, 1, 2)
    with pytest.raises(UnknownNameError, match=r"unknown knee method 'elbow'"):
        knee_index(front, objs, "elbow")
