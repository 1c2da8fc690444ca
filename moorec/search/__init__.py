"""Multi-objective search over recommender models with pymoo, stored in a run folder."""

from moorec.search.algorithms import ALGORITHMS, make_algorithm
from moorec.search.baseline import baseline_front
from moorec.search.config import load_config, run_config
from moorec.search.indicators import hypervolume, igd_plus, knee_index, non_dominated, normalize
from moorec.search.problem import Constraint, RecProblem, parse_constraint, to_minimization
from moorec.search.runner import pareto_table, search, searchable_names
from moorec.search.space import Choice, Integer, LogReal, Real, Space, Variable, config_key
from moorec.search.study import Study, load_study, run_study

__all__ = [
    "ALGORITHMS",
    "Choice",
    "Constraint",
    "Integer",
    "LogReal",
    "Real",
    "RecProblem",
    "Space",
    "Study",
    "Variable",
    "baseline_front",
    "config_key",
    "hypervolume",
    "igd_plus",
    "knee_index",
    "load_config",
    "load_study",
    "make_algorithm",
    "non_dominated",
    "normalize",
    "pareto_table",
    "parse_constraint",
    "run_config",
    "run_study",
    "search",
    "searchable_names",
    "to_minimization",
]
