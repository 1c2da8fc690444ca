"""``moorec bench``: named multi-objective recommender problems, run as studies and reported.

A *problem* is data shipped with the package (``moorec/bench/problems/<name>.toml``): a search
config (data set, split, model family, fixed settings, space, objectives, budget) with a
``[problem]`` table (``name``, ``version``, ``description``) and a fixed ``[reference]`` for every
objective, so that hypervolumes are comparable across papers that cite the same problem and
version.

:func:`run` runs a problem once per algorithm and search seed (each algorithm a study, see
:mod:`moorec.search.study`) into one bench folder::

    DIR/
      bench.json      {"kind": "moorec-bench", "problem": ..., "version": ..., "algorithms": ...}
      nsga2/          a study folder: study.json, seed_0/, seed_1/, ...
      random/

:func:`report` reads a bench folder and writes a Markdown and a LaTeX table of hypervolume
(mean and bootstrap interval, on validation and test) per algorithm, marked where an algorithm
differs from the first one (two-sided Mann-Whitney U over runs, Holm-corrected over the
algorithms), the hypervolume-against-time curves with bands, and, for two-objective problems,
the empirical attainment difference of the first two algorithms.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from moorec.errors import ConfigError, DataNotFoundError, RunConfigMismatchError, UnknownNameError
from moorec.io import atomic_write_json, atomic_write_text

__all__ = ["BENCH_FILE", "describe", "list_problems", "problem", "report", "run"]

BENCH_FILE = "bench.json"
_KIND = "moorec-bench"


def _files() -> dict[str, Any]:
    folder = resources.files("moorec.bench") / "problems"
    return {p.name[: -len(".toml")]: p for p in folder.iterdir() if p.name.endswith(".toml")}


def list_problems() -> list[str]:
    """The names of the shipped problems, sorted."""
    return sorted(_files())


def problem(name: str) -> dict[str, Any]:
    """The config of problem ``name``: a search config plus its ``[problem]`` table.

    Raises:
        UnknownNameError: for a name that is not a shipped problem.
    """
    files = _files()
    if name not in files:
        raise UnknownNameError("bench problem", name, sorted(files))
    cfg = tomllib.loads(files[name].read_text(encoding="utf-8"))
    meta = cfg.get("problem", {})
    if meta.get("name") != name:  # a shipped file that disagrees with its name is a defect
        raise ConfigError(f"problem file {name}.toml names itself {meta.get('name')!r}")
    return cfg


def describe(name: str) -> dict[str, Any]:
    """``{"name", "version", "description", "dataset", "model", "objectives", "reference"}``."""
    cfg = problem(name)
    meta = cfg["problem"]
    return {
        "name": name,
        "version": meta["version"],
        "description": meta["description"],
        "dataset": cfg["data"]["dataset"],
        "model": cfg["model"]["name"],
        "objectives": list(cfg["search"]["objectives"]),
        "reference": {k: list(v) for k, v in cfg["reference"].items()},
        "budget": {k: cfg["search"][k] for k in ("pop_size", "generations")},
    }


def _search_config(cfg: dict[str, Any], algorithm: str) -> dict[str, Any]:
    out = {k: v for k, v in cfg.items() if k != "problem"}
    out["search"] = {**out["search"], "algorithm": algorithm}
    return out


def run(
    name: str,
    *,
    algorithms: Sequence[str],
    seeds,
    out: str | Path,
    executor: str | None = None,
    baselines: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Run problem ``name`` for every algorithm and search seed into the bench folder ``out``.

    Beside the searches, each of the problem's baselines (``[problem] baselines``: a model
    with its family's default settings, re-ranked by MMR over 21 weights, see
    :func:`moorec.search.baseline_front`) is stored in ``out/baseline-<model>/``: a searched
    front is only worth what it beats. Rerunning resumes (each study resumes run by run, a
    finished baseline is not redone); a folder made for another problem or version is
    refused.

    Args:
        name: a problem (:func:`list_problems`).
        algorithms: search algorithms (``nsga2``, ``random``, ``optuna-tpe``, ...).
        seeds: search seeds (``"0-4"``, ...).
        out: the bench folder.
        executor: overrides the problem's executor (default sequential).
        baselines: also store the problem's baseline fronts.
        progress: print progress.

    Returns:
        The contents of ``bench.json``.

    Raises:
        UnknownNameError: for an unknown problem or algorithm.
        ConfigError: for bad seeds or settings (checked before anything runs).
        RunConfigMismatchError: ``out`` holds a bench of another problem or version.
    """
    from moorec.search.algorithms import ALGORITHMS
    from moorec.search.config import check_config, run_baseline_config, run_study_config
    from moorec.search.study import parse_seeds

    cfg = problem(name)
    seeds = parse_seeds(seeds)
    algorithms = list(dict.fromkeys(algorithms))
    if not algorithms:
        raise ConfigError("give at least one algorithm, e.g. --algorithms nsga2 random")
    for a in algorithms:
        if a not in ALGORITHMS:
            raise UnknownNameError("algorithm", a, ALGORITHMS)
        check_config(_search_config(cfg, a))
    out = Path(out)
    file = out / BENCH_FILE
    extra = _baselines(cfg) if baselines else []
    meta = {
        "kind": _KIND,
        "problem": name,
        "version": cfg["problem"]["version"],
        "algorithms": algorithms,
        "seeds": seeds,
        "baselines": [b[0] for b in extra],
    }
    if file.is_file():
        old = json.loads(file.read_text(encoding="utf-8"))
        if (old.get("problem"), old.get("version")) != (name, meta["version"]):
            raise RunConfigMismatchError(
                f"{file} is a bench of {old.get('problem')!r} version {old.get('version')}, not "
                f"{name!r} version {meta['version']}; give another folder"
            )
        meta["algorithms"] = old["algorithms"] + [
            a for a in algorithms if a not in old["algorithms"]
        ]
        meta["seeds"] = old["seeds"] + [s for s in seeds if s not in old["seeds"]]
        done = old.get("baselines", [])
        meta["baselines"] = done + [b for b in meta["baselines"] if b not in done]
    elif out.exists() and any(out.iterdir()):
        raise RunConfigMismatchError(
            f"{str(out)!r} exists and is not a bench folder; give a new one"
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(file, meta)
    for a in algorithms:
        if progress:
            print(f"bench {name}: {a}, seeds {seeds}", flush=True)
        run_study_config(
            _search_config(cfg, a), out / a, seeds, progress=progress, executor=executor
        )
    for label, model, settings in extra:
        if progress:
            print(f"bench {name}: {label}", flush=True)
        run_baseline_config(
            _search_config(cfg, "nsga2"),
            out / label,
            model=model,
            settings=settings,
            progress=progress,
        )
    return meta


def _baselines(cfg: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(label, model, settings)`` of each ``[problem] baselines`` entry.

    An entry is a model name (``"ease"``) or a table ``{model = "bpr", settings = {...}}``
    whose settings replace some of the family defaults.
    """
    out = []
    for entry in cfg["problem"].get("baselines", []):
        if isinstance(entry, str):
            entry = {"model": entry}
        out.append((f"baseline-{entry['model']}", entry["model"], dict(entry.get("settings", {}))))
    return out


def _load(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    file = folder / BENCH_FILE
    if not file.is_file():
        raise DataNotFoundError(f"{str(folder)!r} is not a bench folder: it has no {BENCH_FILE}")
    meta = json.loads(file.read_text(encoding="utf-8"))
    if meta.get("kind") != _KIND:
        raise ConfigError(f"{file} is not a moorec bench file (kind {meta.get('kind')!r})")
    return meta, problem(meta["problem"])


def report(
    folder: str | Path,
    out: str | Path | None = None,
    *,
    level: float = 0.95,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """Tables and figures of a bench folder.

    Writes into ``out`` (default ``folder/report``): ``report.md`` (the table and what each
    mark means), ``table.tex``, ``report.json`` (every number), ``hv_time.png``/``.pdf``
    (validation hypervolume against wall-clock, median over runs with a min-max band) and, for
    two objectives, ``eaf_difference.png``/``.pdf`` (first two algorithms).

    Args:
        folder: a bench folder written by :func:`run`.
        out: where to write.
        level: confidence level of the intervals.
        alpha: family-wise error rate of the significance marks.
        seed: seed of the bootstrap.

    Returns:
        The contents of ``report.json``.

    Raises:
        DataNotFoundError: ``folder`` is not a bench folder, or an algorithm has no finished
            run.
    """
    from moorec.objectives import parse_all
    from moorec.plots.study import eaf_difference_figure, hv_time_figure
    from moorec.results.run import load as load_run
    from moorec.search.indicators import front_hypervolume
    from moorec.search.study import compare, front_values, load_study, summarize, union_front
    from moorec.stats import holm

    folder = Path(folder)
    meta, cfg = _load(folder)
    out = Path(out) if out is not None else folder / "report"
    studies = [load_study(folder / a, label=a) for a in meta["algorithms"]]
    for s in studies:
        if not s.runs():
            raise DataNotFoundError(f"algorithm {s.label!r} has no finished run in {s.path}")
    bounds = {k: [float(x) for x in v] for k, v in cfg["reference"].items()}
    objs = parse_all(cfg["search"]["objectives"])
    rows = []
    for part in ("valid", "test"):
        ref_front = union_front(studies, part)
        for s in studies:
            summ = summarize(
                s, bounds, part=part, reference_front=ref_front, level=level, seed=seed
            )
            rows.append({"algorithm": s.label, "part": part, **_plain(summ)})
    base = studies[0]
    tests = []
    for part in ("valid", "test"):
        for s in studies[1:]:
            c = compare(s, base, bounds, part=part, level=level, seed=seed)["comparison"]
            tests.append(
                {
                    "algorithm": s.label,
                    "against": base.label,
                    "part": part,
                    "difference": c.difference,
                    "low": c.low,
                    "high": c.high,
                    "mann_whitney_p": c.mann_whitney_p,
                    "permutation_p": c.permutation_p,
                }
            )
    lines = {}
    for label in meta.get("baselines", []):
        run = load_run(folder / label)
        for part in ("valid", "test"):
            hv = front_hypervolume(front_values(run, part), objs, bounds)
            rows.append(
                {
                    "algorithm": label,
                    "part": part,
                    "runs": 1,
                    "baseline": True,
                    "hv_mean": hv,
                    "hv_std": 0.0,
                    "hv_low": hv,
                    "hv_high": hv,
                    "hv_values": [hv],
                    "igd_mean": None,
                    "igd_low": None,
                    "igd_high": None,
                    "interval": None,
                }
            )
            if part == "valid":
                lines[label] = hv
    adjusted = holm([t["mann_whitney_p"] for t in tests]) if tests else []
    for t, q in zip(tests, adjusted, strict=True):
        t["p_holm"] = float(q)
        t["significant"] = bool(q <= alpha)
    out.mkdir(parents=True, exist_ok=True)
    figures = {"hv_time": hv_time_figure(studies, bounds, out / "hv_time", lines=lines)}
    if len(cfg["search"]["objectives"]) == 2 and len(studies) >= 2:
        figures["eaf_difference"] = eaf_difference_figure(
            studies[0], studies[1], out / "eaf_difference"
        )
    result = {
        "bench": meta,
        "problem": describe(meta["problem"]),
        "bounds": bounds,
        "level": level,
        "alpha": alpha,
        "rows": rows,
        "tests": tests,
        "figures": {k: [str(p) for p in v] for k, v in figures.items()},
    }
    atomic_write_json(out / "report.json", result)
    atomic_write_text(out / "report.md", _markdown(result))
    atomic_write_text(out / "table.tex", _latex(result))
    return result


def _plain(summary: dict[str, Any]) -> dict[str, Any]:
    hv, igd = summary["hypervolume"], summary["igd_plus"]
    return {
        "runs": summary["runs"],
        "hv_mean": hv.mean,
        "hv_std": hv.std,
        "hv_low": hv.low,
        "hv_high": hv.high,
        "hv_values": summary["hypervolume_values"],
        "igd_mean": None if igd is None else igd.mean,
        "igd_low": None if igd is None else igd.low,
        "igd_high": None if igd is None else igd.high,
        "interval": f"{hv.method} bootstrap, {hv.level:.0%}",
    }


def _mark(result, algorithm, part) -> str:
    for t in result["tests"]:
        if t["algorithm"] == algorithm and t["part"] == part and t["significant"]:
            return "+" if t["difference"] > 0 else "-"
    return ""


def _markdown(result: dict[str, Any]) -> str:
    p = result["problem"]
    lines = [
        f"# {p['name']} (version {p['version']})",
        "",
        p["description"],
        "",
        f"Hypervolume of each run's final front under the problem's reference "
        f"({', '.join(f'{k} {v}' for k, v in result['bounds'].items())}); mean over runs with a "
        f"{result['rows'][0]['interval']} interval; IGD+ against the union of every run's front.",
        "",
        "| algorithm | runs | valid HV | test HV | valid IGD+ | test IGD+ |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r["algorithm"], r["part"]): r for r in result["rows"]}
    for b in result["bench"].get("baselines", []):
        v, t = by[(b, "valid")], by[(b, "test")]
        lines.append(
            f"| {b} (one default model + MMR, 21 weights) | 1 | {v['hv_mean']:.4f} | "
            f"{t['hv_mean']:.4f} | | |"
        )
    for a in result["bench"]["algorithms"]:
        v, t = by[(a, "valid")], by[(a, "test")]
        lines.append(
            f"| {a} | {v['runs']} | {v['hv_mean']:.4f} [{v['hv_low']:.4f}, {v['hv_high']:.4f}]"
            f"{_mark(result, a, 'valid')} | {t['hv_mean']:.4f} [{t['hv_low']:.4f}, "
            f"{t['hv_high']:.4f}]{_mark(result, a, 'test')} | {v['igd_mean']:.4f} | "
            f"{t['igd_mean']:.4f} |"
        )
    first = result["bench"]["algorithms"][0]
    lines += [
        "",
        f"`+` / `-`: hypervolume above / below {first}'s, two-sided Mann-Whitney U over runs, "
        f"Holm-corrected over the {len(result['tests'])} comparisons, family-wise "
        f"alpha {result['alpha']}.",
        "",
        "| algorithm | part | HV difference to " + first + " | interval | MW p | Holm p |",
        "|---|---|---|---|---|---|",
    ]
    for t in result["tests"]:
        lines.append(
            f"| {t['algorithm']} | {t['part']} | {t['difference']:+.4f} | [{t['low']:+.4f}, "
            f"{t['high']:+.4f}] | {t['mann_whitney_p']:.4f} | {t['p_holm']:.4f} |"
        )
    pngs = {k: next(p for p in v if p.endswith(".png")) for k, v in result["figures"].items()}
    lines += ["", *(f"![{k}]({Path(v).name})" for k, v in pngs.items()), ""]
    return "\n".join(lines)


def _latex(result: dict[str, Any]) -> str:
    by = {(r["algorithm"], r["part"]): r for r in result["rows"]}
    lines = [
        "% " + result["problem"]["name"] + " version " + str(result["problem"]["version"]),
        r"\begin{tabular}{lrll}",
        r"\toprule",
        r"algorithm & runs & valid HV & test HV \\",
        r"\midrule",
    ]
    for b in result["bench"].get("baselines", []):
        name = b.replace("_", r"\_")
        lines.append(
            f"{name} & 1 & {by[(b, 'valid')]['hv_mean']:.4f} & "
            f"{by[(b, 'test')]['hv_mean']:.4f} \\\\"
        )
    for a in result["bench"]["algorithms"]:
        cells = []
        for part in ("valid", "test"):
            r = by[(a, part)]
            mark = {"+": r"$^{+}$", "-": r"$^{-}$", "": ""}[_mark(result, a, part)]
            cells.append(f"{r['hv_mean']:.4f} [{r['hv_low']:.4f}, {r['hv_high']:.4f}]{mark}")
        name = a.replace("_", r"\_")
        lines.append(f"{name} & {by[(a, 'valid')]['runs']} & {cells[0]} & {cells[1]} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
