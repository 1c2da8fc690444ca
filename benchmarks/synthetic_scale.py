"""Time the synthetic-shop generator (and the cleaning steps) at scale.

Generates ``--users`` x ``--items`` with ``--interactions`` draws (default 1M x 100k x 20M),
then runs ``drop_duplicates`` and ``k_core`` (``--k``, default 10) on the result. Prints
wall-clock seconds per step and the peak resident memory of the process, and writes them with a
description of the machine and package versions to ``--out`` as JSON.

Run:
    python benchmarks/synthetic_scale.py                       # full size
    python benchmarks/synthetic_scale.py --users 100000 --items 10000 --interactions 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from moorec.data.clean import drop_duplicates, k_core
from moorec.data.synthetic import synthetic_shop


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages * page_size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        info["memory_gib"] = None
    versions = {}
    for package in ("numpy", "moorec"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info["packages"] = versions
    return info


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=20_000_000)
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument("--chunk-size", type=int, default=100_000, help="users per chunk")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=10, help="k of the k-core (users and items)")
    parser.add_argument("--out", default="benchmarks/results/synthetic_scale.json")
    args = parser.parse_args(argv)

    baseline_rss = peak_rss_mib()
    t0 = time.perf_counter()
    inter = synthetic_shop(
        n_users=args.users, n_items=args.items, n_interactions=args.interactions,
        n_categories=args.categories, seed=args.seed, chunk_size=args.chunk_size,
    )  # fmt: skip
    t_generate = time.perf_counter() - t0
    rss_generate = peak_rss_mib()

    t0 = time.perf_counter()
    deduped = drop_duplicates(inter)
    t_dedupe = time.perf_counter() - t0

    t0 = time.perf_counter()
    core = k_core(deduped, user_k=args.k, item_k=args.k)
    t_kcore = time.perf_counter() - t0

    result = {
        "benchmark": "synthetic_scale",
        "args": vars(args),
        "result": {
            "n_users": inter.n_users,
            "n_items": inter.n_items,
            "n_interactions": len(inter),
            "k_core_interactions": len(core),
            "generate_s": round(t_generate, 3),
            "drop_duplicates_s": round(t_dedupe, 3),
            "k_core_s": round(t_kcore, 3),
            "peak_rss_mib_after_generate": round(rss_generate, 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "peak_rss_mib_at_start": round(baseline_rss, 1),
            "output_mib": round(
                (inter.users.nbytes + inter.items.nbytes + inter.timestamps.nbytes) / 2**20, 1
            ),
        },
        "log": list(core.log),
        "machine": machine(),
        "numpy_threads_note": "single-threaded NumPy code (sorting, searchsorted, bincount)",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    r = result["result"]
    print(inter.summary())
    print(
        f"generate        {r['generate_s']:8.2f} s   "
        f"(peak RSS {r['peak_rss_mib_after_generate']:,.0f} MiB)"
    )
    print(f"drop_duplicates {r['drop_duplicates_s']:8.2f} s")
    print(
        f"{f'k_core(k={args.k})':<16}{r['k_core_s']:8.2f} s   "
        f"-> {r['k_core_interactions']:,} interactions"
    )
    print(
        f"peak RSS        {r['peak_rss_mib']:8,.0f} MiB; output arrays {r['output_mib']:,.0f} MiB"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=_plain) + "\n")
    print(f"wrote {out}")
    return result


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    main()
