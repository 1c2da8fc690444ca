"""docs/config.md, the TOML reference, names every section and key config.py accepts."""

import re
from pathlib import Path

import pytest

from moorec.search.config import SECTIONS
from moorec.search.space import _TYPES as VARIABLE_TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_section_has_a_heading_and_an_example(section):
    text = _doc()
    assert f"\n## [{section}]\n" in text
    body = text.split(f"\n## [{section}]\n", 1)[1].split("\n## ", 1)[0]
    assert f"```toml\n[{section}]" in body, f"no example of [{section}]"


@pytest.mark.parametrize(
    ("section", "key"),
    [(s, k) for s, keys in sorted(SECTIONS.items()) if keys for k in keys],
)
def test_every_key_is_a_row_of_its_sections_table(section, key):
    body = _doc().split(f"\n## [{section}]\n", 1)[1].split("\n## ", 1)[0]
    assert re.search(rf"^\| `{re.escape(key)}` \|", body, re.M), f"[{section}] {key}"


def test_no_documented_key_is_unknown_to_the_config():
    """The tables list no key config.py would refuse (a renamed key fails here)."""
    text = _doc()
    for section, keys in SECTIONS.items():
        body = text.split(f"\n## [{section}]\n", 1)[1].split("\n## ", 1)[0]
        rows = re.findall(r"^\| `([^`]+)` \|", body, re.M)
        if keys is not None:
            assert set(rows) <= set(keys), (section, sorted(set(rows) - set(keys)))


def test_every_variable_type_is_documented():
    body = _doc().split("\n## [space]\n", 1)[1]
    for kind in VARIABLE_TYPES:
        assert f"`{kind}`" in body


def test_fixed_tables_cover_every_training_setting_and_bprs_settings():
    from moorec.executors.trial import TRAIN_FIELDS, searchable_names

    body = _doc().split("\n## [fixed]\n", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([^`]+)` \|", body, re.M))
    assert set(TRAIN_FIELDS) <= rows
    assert set(searchable_names("bpr")) - {"dim", "l2"} <= rows  # dim and l2 in the text
    assert "`dim` (integer, default `64`, `>= 1`)" in body
