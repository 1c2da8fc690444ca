"""Every script under examples/ runs to the end (smoke tests)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# Arguments that keep each example short in the test run.
ARGS = {
    "train_bpr.py": ["--epochs", "3", "--synthetic"],
    "baselines_ml100k.py": ["--synthetic"],
    "multvae_gru4rec.py": ["--synthetic", "--epochs", "3"],
    "sasrec_paper.py": ["--synthetic", "--epochs", "5"],
    "multi_fidelity.py": [
        "--synthetic",
        "--pop-size",
        "3",
        "--generations",
        "1",
        "--epochs",
        "3",
        "--out",
        "run",
    ],
    "optuna_peer.py": [
        "--synthetic",
        "--pop-size",
        "3",
        "--generations",
        "2",
        "--epochs",
        "2",
        "--algorithms",
        "nsga2",
        "optuna-tpe",
        "--out",
        "run",
    ],
    "warm_start.py": [
        "--synthetic",
        "--pop-size",
        "4",
        "--generations",
        "2",
        "--epochs",
        "2",
        "--out",
        "run",
    ],
    "nsga2_bpr_ml100k.py": [
        "--synthetic",
        "--pop-size",
        "4",
        "--generations",
        "2",
        "--max-epochs",
        "2",
        "--out",
        "run",
    ],
    "repeated_runs.py": [
        "--synthetic",
        "--seeds",
        "0-2",
        "--pop-size",
        "3",
        "--generations",
        "2",
        "--epochs",
        "2",
        "--out",
        "run",
    ],
    "paper_figures.py": ["--synthetic", "--out", "figs", "--runs-dir", "runs"],
    "save_and_serve.py": ["--synthetic", "--epochs", "2", "--out", "saved"],
    "population_executors.py": ["--synthetic", "--pop-size", "4", "--epochs", "2"],
    "two_level_search.py": [
        "--synthetic",
        "--pop-size",
        "4",
        "--generations",
        "2",
        "--max-epochs",
        "2",
        "--out",
        "run",
    ],
}


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "MOOREC_CACHE": str(tmp_path / "cache")}
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *ARGS.get(script, [])],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert out.stdout.strip(), "an example should print what it did"
