"""What ran where: machine, accelerator and package versions, for results and benchmarks."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["environment", "git_commit", "source_digest"]

PACKAGES = ("moorec", "jax", "jaxlib", "flax", "optax", "pymoo", "numpy", "matplotlib")


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """The git commit of the checkout holding ``path`` (default: this package), or ``None``."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def source_digest(root: str | os.PathLike | None = None) -> str:
    """SHA-256 over the ``.py`` files under ``root`` (default: this package), in path order.

    Each file adds its path relative to ``root`` (POSIX form), a NUL byte, its bytes and a NUL
    byte. It names the code that ran even where ``git_commit`` cannot (uncommitted changes, a
    copy of the tree without its repository): compute it again on a checkout to compare.
    """
    base = Path(root) if root else Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(base.rglob("*.py"), key=lambda p: p.relative_to(base).as_posix()):
        h.update(path.relative_to(base).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def environment() -> dict:
    """Machine, Python, JAX devices and package versions as a JSON-ready dict."""
    import jax

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    devices = jax.devices()
    mem = _memory_gib()
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "memory_gib": None if mem is None else round(mem, 1),
        },
        "python": platform.python_version(),
        "device": {
            "backend": jax.default_backend(),
            "count": len(devices),
            "kind": devices[0].device_kind if devices else None,
        },
        "packages": versions,
        "git_commit": git_commit(),
        "source_sha256": source_digest(),
    }
