"""Atomic writes and the environment record."""

import hashlib
import json
import os
import stat

import pytest

from moorec.env import environment, source_digest
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


def test_source_digest_by_hand(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "b.py").write_bytes(b"x = 1\n")
    (tmp_path / "pkg" / "sub" / "a.py").write_bytes(b"y = 2\n")
    (tmp_path / "pkg" / "notes.txt").write_bytes(b"not code")
    want = hashlib.sha256(b"b.py\0x = 1\n\0sub/a.py\0y = 2\n\0").hexdigest()
    assert source_digest(tmp_path / "pkg") == want
    (tmp_path / "pkg" / "b.py").write_bytes(b"x = 3\n")  # one changed byte, another digest
    assert source_digest(tmp_path / "pkg") != want
    assert source_digest() == environment()["source_sha256"]  # this package, in the record


def test_environment_names_versions_and_device():
    env = environment()
    assert env["packages"]["jax"] and env["packages"]["numpy"]
    assert env["device"]["backend"] in ("cpu", "gpu", "tpu") and env["device"]["count"] >= 1
    assert env["machine"]["cpu_count"] >= 1
