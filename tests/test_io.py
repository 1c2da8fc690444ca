"""Atomic writes and the environment record."""

import json
import os
import stat

import pytest

from moorec.env import environment
from moorec.io import atomic_write_json, atomic_write_text


class Boom:
    pass


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "a.json"
    atomic_write_json(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    atomic_write_text(path, "second\n")
    assert path.read_text() == "second\n"
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode & 0o044, "readable by group/others like a normal file, not 0600"
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"x": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"x": Boom()})
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_environment_names_versions_and_device():
    env = environment()
    assert env["packages"]["jax"] and env["packages"]["numpy"]
    assert env["device"]["backend"] in ("cpu", "gpu", "tpu") and env["device"]["count"] >= 1
    assert env["machine"]["cpu_count"] >= 1
