"""Bad TOML search configs: each refused before any work, by the CLI and by the Python API.

Every config below differs from a valid one (synthetic data, a tiny BPR search) in one place.
The CLI must exit with 2 and print one ``moorec: error:`` line naming the bad value, without a
traceback, and leave no run folder; :func:`moorec.search.run_config` must raise the same error.
None of these configs trains: the refusal comes before the data are even generated.
"""

from __future__ import annotations

import pytest

import moorec
import moorec.cli
from moorec.errors import ConfigError, UnknownNameError

BASE = {
    "data": """
[data]
dataset = "synthetic-shop"

[data.options]
n_users = 40
n_items = 30
n_interactions = 400
n_categories = 4
""",
    "model": """
[model]
name = "bpr"
""",
    "fixed": """
[fixed]
epochs = 2
dim = 8
batch_size = 128
""",
    "search": """
[search]
algorithm = "nsga2"
pop_size = 4
generations = 1
seed = 0
objectives = ["ndcg@10", "ild@10", "latency_ms"]
""",
    "reference": "",
    "space": """
[space]
lr = { type = "logreal", low = 1e-3, high = 1e-1 }
""",
}


def _config(**parts: str) -> str:
    """The base config with some of its sections replaced (``name=text``) or extended."""
    sections = {**BASE, **{k: v for k, v in parts.items() if k in BASE}}
    extra = [v for k, v in parts.items() if k not in BASE]
    return "\n".join([*sections.values(), *extra])


SEARCH = BASE["search"]


def _search(**lines: str) -> str:
    """The [search] table with keys replaced or added (``key=TOML value``)."""
    keep = [ln for ln in SEARCH.strip().splitlines()[1:] if ln.split(" = ")[0] not in lines]
    return "\n".join(["[search]", *keep, *(f"{k} = {v}" for k, v in lines.items())])


# (id, config text, error class, regex the message matches, text of the bad value it names)
CASES = [
    (
        "fixed-negative-epochs",
        _config(fixed="[fixed]\nepochs = -3\ndim = 8"),
        ConfigError,
        r"fixed setting epochs = -3: epochs must be a positive integer \(> 0\), got -3",
        "-3",
    ),
    (
        "fixed-zero-lr",
        _config(
            fixed="[fixed]\nepochs = 2\nlr = 0.0",
            space='[space]\npop_weight = { type = "real", low = 0.0, high = 1.0 }',
        ),
        ConfigError,
        r"fixed setting lr = 0\.0: lr must be a finite number > 0",
        "lr = 0.0",
    ),
    (
        "fixed-zero-dim",
        _config(fixed="[fixed]\nepochs = 2\ndim = 0"),
        ConfigError,
        r"fixed setting dim = 0: .*dim.* must be .*(> 0|>= 1)",
        "dim = 0",
    ),
    (
        "fixed-negative-loss-weight",
        _config(fixed="[fixed]\nepochs = 2\npop_weight = -1.0"),
        ConfigError,
        r"fixed setting pop_weight = -1\.0: pop_weight must be >= 0, got -1\.0",
        "-1.0",
    ),
    (
        "fixed-unknown-name",
        _config(fixed="[fixed]\nepocs = 3"),
        UnknownNameError,
        r"unknown fixed setting 'epocs'; valid choices: .*\bepochs\b.*\blr\b",
        "epocs",
    ),
    (
        "fixed-unknown-optimizer",
        _config(fixed='[fixed]\nepochs = 2\noptimizer = "adamm"'),
        UnknownNameError,
        r"unknown optimizer 'adamm'; valid choices: adagrad, adam, adamw, sgd",
        "adamm",
    ),
    (
        "space-unknown-name",
        _config(space='[space]\nfoo = { type = "real", low = 0.0, high = 1.0 }'),
        UnknownNameError,
        r"unknown search variable 'foo'; valid choices: .*\bdim\b.*\bpop_weight\b",
        "foo",
    ),
    (
        "space-epochs-below-one",
        _config(
            fixed="[fixed]\ndim = 8",
            space='[space]\nepochs = { type = "integer", low = -2, high = 3 }',
        ),
        ConfigError,
        r"search variable 'epochs' = Integer\(low=-2, high=3\) reaches -2, outside the valid "
        r"range of epochs: epochs must be a positive integer",
        "Integer(low=-2, high=3)",
    ),
    (
        "space-dropout-reaches-one",
        _config(space='[space]\ndropout = { type = "real", low = 0.0, high = 1.0 }'),
        ConfigError,
        r"search variable 'dropout' = Real\(low=0\.0, high=1\.0\) reaches 1\.0.*"
        r"dropout must be in \[0, 1\), got 1\.0",
        "Real(low=0.0, high=1.0)",
    ),
    (
        "space-real-for-integer-setting",
        _config(
            fixed="[fixed]\nepochs = 2",
            space='[space]\ndim = { type = "real", low = 4.0, high = 16.0 }',
        ),
        ConfigError,
        r"search variable 'dim' takes integers; search it with an Integer or a Choice, "
        r"got Real\(low=4\.0, high=16\.0\)",
        "Real(low=4.0, high=16.0)",
    ),
    (
        "space-choice-with-bad-option",
        _config(space='[space]\nlr = { type = "choice", options = [0.01, -0.1] }'),
        ConfigError,
        r"search variable 'lr' = Choice\(options=\(0\.01, -0\.1\)\) reaches -0\.1.*lr must be",
        "-0.1",
    ),
    (
        "space-variable-not-a-table",
        _config(space="[space]\nlr = 0.01"),
        ConfigError,
        r"variable 'lr' must be a table such as .*, got 0\.01",
        "0.01",
    ),
    (
        "reference-reversed",
        _config(reference="[reference]\nlatency_ms = [10.0, 0.0]"),
        ConfigError,
        r"reference latency_ms = \[10\.0, 0\.0\] is reversed: latency_ms is minimised, so its "
        r"ideal \(first\) must lie below its reference \(second\); did you mean \[0\.0, 10\.0\]",
        "[10.0, 0.0]",
    ),
    (
        "reference-reversed-max",
        _config(reference='[reference]\n"ndcg@10" = [0.0, 1.0]'),
        ConfigError,
        r"reference ndcg@10 = \[0\.0, 1\.0\] is reversed: ndcg@10 is maximised",
        "[0.0, 1.0]",
    ),
    (
        "reference-not-an-objective",
        _config(reference='[reference]\n"recall@20" = [1.0, 0.0]'),
        UnknownNameError,
        r"unknown reference key \(an objective of the search\) 'recall@20'; valid choices: "
        r"ild@10, latency_ms, ndcg@10",
        "recall@20",
    ),
    (
        "reference-not-a-pair",
        _config(reference="[reference]\nlatency_ms = [0.0, 5.0, 10.0]"),
        ConfigError,
        r"reference latency_ms must be \[ideal, reference\], two finite numbers, "
        r"got \[0\.0, 5\.0, 10\.0\]",
        "[0.0, 5.0, 10.0]",
    ),
    (
        "pop-size-zero",
        _config(search=_search(pop_size="0")),
        ConfigError,
        r"pop_size must be an integer >= 2, got 0",
        "got 0",
    ),
    (
        "generations-negative",
        _config(search=_search(generations="-1")),
        ConfigError,
        r"generations must be an integer >= 1, got -1",
        "-1",
    ),
    (
        "pop-size-a-string",
        _config(search=_search(pop_size='"8"')),
        ConfigError,
        r"search\.pop_size must be an integer, got '8'",
        "'8'",
    ),
    (
        "unknown-algorithm",
        _config(search=_search(algorithm='"nsga4"')),
        UnknownNameError,
        r"unknown algorithm 'nsga4'; valid choices: moead, nsga2, nsga3, optuna-gp, optuna-nsga2, "
        r"optuna-tpe, random, smsemoa",
        "nsga4",
    ),
    (
        "unknown-executor",
        _config(search=_search(executor='"gpu"')),
        UnknownNameError,
        r"unknown executor 'gpu'; valid choices: auto, dask, processes, sequential, vectorized",
        "gpu",
    ),
    (
        "unknown-objective",
        _config(search=_search(objectives='["ndcg@10", "ildd@10"]')),
        UnknownNameError,
        r"unknown objective 'ildd'",
        "ildd",
    ),
    (
        "one-objective",
        _config(search=_search(objectives='["ndcg@10"]')),
        ConfigError,
        r"needs at least 2 objectives, got \['ndcg@10'\]",
        "ndcg@10",
    ),
    (
        "constraint-malformed",
        _config(search=_search(constraints='["latency_ms < 5"]')),
        ConfigError,
        r"constraint 'latency_ms < 5' must look like 'latency_ms <= 2\.0'",
        "latency_ms < 5",
    ),
    (
        "constraint-unknown-key",
        _config(search=_search(constraints='["latncy_ms <= 5"]')),
        UnknownNameError,
        r"unknown objective 'latncy_ms'",
        "latncy_ms",
    ),
    (
        "constraints-a-string",
        _config(search=_search(constraints='"latency_ms <= 5"')),
        ConfigError,
        r"search\.constraints must be a list, got 'latency_ms <= 5'",
        "latency_ms <= 5",
    ),
    (
        "moead-with-constraints",
        _config(search=_search(algorithm='"moead"', constraints='["latency_ms <= 5"]')),
        ConfigError,
        r"moead does not support constraints in pymoo; use nsga2",
        "moead",
    ),
    (
        "knee-weights-wrong-length",
        _config(search=_search(knee_weights="[1.0]")),
        ConfigError,
        r"knee_weights must be 3 finite numbers >= 0 .*got \[1\.0\]",
        "[1.0]",
    ),
    (
        "unknown-knee",
        _config(search=_search(knee='"middle"')),
        UnknownNameError,
        r"unknown knee method 'middle'; valid choices: asf, pseudo-weights",
        "middle",
    ),
    (
        "negative-seed",
        _config(search=_search(seed="-1")),
        ConfigError,
        r"seed must be an integer >= 0, got -1",
        "-1",
    ),
    (
        "unknown-model",
        _config(model='[model]\nname = "bprr"'),
        UnknownNameError,
        r"unknown model 'bprr'; valid choices: .*\bbpr\b",
        "bprr",
    ),
    (
        "unknown-section",
        _config(extra="[searh]\npop_size = 4"),
        UnknownNameError,
        r"unknown config section 'searh'; valid choices: .*\bsearch\b",
        "searh",
    ),
    (
        "unknown-split-protocol",
        _config(extra='[split]\nprotocol = "randm"'),
        UnknownNameError,
        r"unknown split protocol 'randm'; valid choices: .*\brandom\b",
        "randm",
    ),
    (
        "unknown-data-set",
        _config(data='[data]\ndataset = "ml-100"'),
        UnknownNameError,
        r"unknown data set 'ml-100'; valid choices: .*\bml-100k\b",
        "ml-100",
    ),
]
IDS = [c[0] for c in CASES]


def _write(tmp_path, text: str):
    path = tmp_path / "search.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_base_config_is_valid(tmp_path):
    """The cases differ from a config that passes every check (so each fails for its reason)."""
    from moorec.search.config import search_settings
    from moorec.search.runner import check_search

    cfg = moorec.search.load_config(_write(tmp_path, _config()))
    checked = check_search(cfg["space"], **search_settings(cfg))
    assert [o.key for o in checked.objectives] == ["ndcg@10", "ild@10", "latency_ms"]
    assert checked.fixed == {"epochs": 2, "dim": 8, "batch_size": 128}


@pytest.mark.parametrize(("name", "text", "error", "match", "value"), CASES, ids=IDS)
def test_cli_refuses_with_one_line(tmp_path, capsys, name, text, error, match, value):
    cfg = _write(tmp_path, text)
    out = tmp_path / "run"
    code = moorec.cli.main(["search", str(cfg), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("moorec: error: ")
    assert value in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()


@pytest.mark.parametrize(("name", "text", "error", "match", "value"), CASES, ids=IDS)
def test_python_api_refuses_with_the_same_error(tmp_path, name, text, error, match, value):
    out = tmp_path / "run"
    with pytest.raises(error, match=match):
        cfg = moorec.search.load_config(_write(tmp_path, text))
        moorec.search.run_config(cfg, out, progress=False)
    assert not out.exists()
