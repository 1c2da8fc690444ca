"""Saving and loading trained models: round trips, refusals, atomic writes, fingerprints."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _fakes import SMALL_ZOO
from flax import nnx

import moorec as mr
import moorec.models.persist as persist
from moorec.data import Interactions
from moorec.data.interactions import history_matrix
from moorec.errors import (
    CatalogueMismatchError,
    ConfigError,
    CorruptModelError,
    IncompatibleModelError,
    ModelNotFoundError,
    SavedModelError,
    UnknownNameError,
)

USERS = np.arange(12, dtype=np.int32)


@pytest.fixture(scope="module")
def split():
    shop = mr.datasets.synthetic_shop(n_users=60, n_items=40, n_interactions=900, seed=0)
    return mr.split.random_ratio(shop, (0.8, 0.1, 0.1), seed=0)


def build(name, split, seed=0, **extra):
    assert name in SMALL_ZOO, f"give {name!r} small settings in tests/_fakes.py SMALL_ZOO"
    settings = {**SMALL_ZOO[name], **extra}
    model = mr.models.create(
        name, split.n_users, split.n_items, seed=seed, train=split.train, **settings
    )
    return model, settings


def scramble(model, seed=0):
    """Every float leaf of the state replaced by random numbers (a state no init gives)."""
    rng = np.random.default_rng(seed)
    state = nnx.state(model)
    leaves, treedef = jax.tree.flatten(state)
    new = [
        jnp.asarray(rng.normal(size=x.shape), x.dtype)
        if jnp.issubdtype(x.dtype, jnp.floating)
        else x
        for x in leaves
    ]
    nnx.update(model, jax.tree.unflatten(treedef, new))
    return model


def scores(model, split):
    if model.uses_history:
        hist = history_matrix(split.train, USERS, int(model.max_len))
        return np.asarray(model.score(jnp.asarray(USERS), jnp.asarray(hist)))
    return np.asarray(model.score(jnp.asarray(USERS)))


def leaves(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model))]


@pytest.mark.parametrize("name", mr.models.available())
def test_round_trip_is_bit_identical_for_every_family(name, split, tmp_path):
    model, settings = build(name, split, seed=1)
    scramble(model)
    folder = mr.models.save(model, tmp_path / name, settings=settings, data=split.train)
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "state.msgpack"]
    loaded = mr.models.load(folder, data=split.train)
    assert type(loaded) is type(model)
    for a, b in zip(leaves(model), leaves(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(scores(loaded, split), scores(model, split))
    # the state came from the file: a model built afresh scores otherwise
    fresh, _ = build(name, split, seed=0)
    assert not np.array_equal(scores(fresh, split), scores(model, split))
    desc = mr.models.describe(folder)
    assert desc["family"] == name and (desc["n_users"], desc["n_items"]) == (60, 40)
    assert desc["data"]["fingerprint"] == split.train.fingerprint()
    assert desc["data"]["interactions"] == len(split.train)
    assert desc["versions"]["moorec"] == mr.__version__
    state = nnx.to_flat_state(nnx.state(model))
    assert [tuple(leaf["path"]) for leaf in desc["state"]["leaves"]] == [p for p, _ in state]


def test_a_split_is_accepted_as_data_and_data_is_optional_for_most_families(split, tmp_path):
    model, settings = build("bpr", split, seed=3)
    mr.models.save(model, tmp_path / "a", settings=settings)  # no fingerprint
    assert mr.models.describe(tmp_path / "a")["data"] is None
    np.testing.assert_array_equal(
        scores(mr.models.load(tmp_path / "a"), split), scores(model, split)
    )
    mr.models.save(model, tmp_path / "b", settings=settings, data=split)
    loaded = mr.models.load(tmp_path / "b", data=split)
    np.testing.assert_array_equal(scores(loaded, split), scores(model, split))


def test_saving_again_replaces_the_saved_model(split, tmp_path):
    first, settings = build("bpr", split, seed=1)
    second, _ = build("bpr", split, seed=2)
    mr.models.save(first, tmp_path / "m", settings=settings, data=split.train)
    mr.models.save(second, tmp_path / "m", settings=settings, data=split.train)
    loaded = mr.models.load(tmp_path / "m", data=split.train)
    np.testing.assert_array_equal(scores(loaded, split), scores(second, split))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"], "no temporary folder left"


# -- the catalogue ------------------------------------------------------------------------------


def other_split(n_users=60, n_items=40, seed=0):
    shop = mr.datasets.synthetic_shop(
        n_users=n_users, n_items=n_items, n_interactions=900, seed=seed
    )
    return mr.split.random_ratio(shop, (0.8, 0.1, 0.1), seed=seed)


def test_loading_against_another_catalogue_is_refused(split, tmp_path):
    model, settings = build("bpr", split)
    mr.models.save(model, tmp_path / "m", settings=settings, data=split.train)
    more_items = other_split(n_items=41)
    assert more_items.n_items == 41
    with pytest.raises(CatalogueMismatchError, match=r"60 users x 40 items.*60 users x 41 items"):
        mr.models.load(tmp_path / "m", data=more_items.train)
    fewer_users = other_split(n_users=59)
    with pytest.raises(CatalogueMismatchError, match=r"60 users x 40 items.*59 users x 40 items"):
        mr.models.load(tmp_path / "m", data=fewer_users.train)
    # the same sizes, other interactions: the fingerprint differs
    reshuffled = mr.split.random_ratio(split.train, (0.9, 0.05, 0.05), seed=1)
    assert (reshuffled.n_users, reshuffled.n_items) == (60, 40)
    with pytest.raises(CatalogueMismatchError, match=r"other interactions.*fingerprint sha256:"):
        mr.models.load(tmp_path / "m", data=reshuffled.train)
    with pytest.raises(CatalogueMismatchError, match=r"other interactions"):
        mr.models.load(tmp_path / "m", data=split.valid)
    # saving refuses data of other sizes too
    with pytest.raises(CatalogueMismatchError, match=r"41 items"):
        mr.models.save(model, tmp_path / "x", settings=settings, data=more_items.train)
    assert not (tmp_path / "x").exists()


def test_a_family_built_from_data_needs_it(split, tmp_path):
    model, settings = build("lightgcn", split)
    with pytest.raises(ConfigError, match=r"'lightgcn' is built from its training interactions"):
        mr.models.save(model, tmp_path / "g", settings=settings)
    mr.models.save(model, tmp_path / "g", settings=settings, data=split.train)
    count = f"{len(split.train):,} interactions, 60 users x 40 items"
    with pytest.raises(ConfigError, match=rf"data=split\.train .*{count}"):
        mr.models.load(tmp_path / "g")


def test_fingerprint_names_the_interactions():
    a = Interactions(users=[0, 1, 1], items=[2, 0, 1], n_users=2, n_items=3)
    permuted = Interactions(users=[1, 0, 1], items=[1, 2, 0], n_users=2, n_items=3)
    assert a.fingerprint() == permuted.fingerprint()
    assert a.fingerprint().startswith("sha256:") and len(a.fingerprint()) == 7 + 64
    others = [
        Interactions(users=[0, 1], items=[2, 0], n_users=2, n_items=3),  # a row less
        Interactions(users=[0, 1, 1], items=[2, 0, 1], n_users=2, n_items=4),  # another catalogue
        Interactions(users=[0, 1, 1], items=[2, 0, 1], n_users=2, n_items=3, ratings=[1, 2, 3]),
        dataclasses.replace(a, item_ids=np.array(["a", "b", "c"])),  # another id map
    ]
    assert len({a.fingerprint(), *(o.fingerprint() for o in others)}) == 1 + len(others)


# -- the description and the files ---------------------------------------------------------------


@pytest.fixture
def saved(split, tmp_path):
    model, settings = build("neumf", split)
    return mr.models.save(model, tmp_path / "m", settings=settings, data=split.train)


def edit(folder, change):
    desc = json.loads((folder / "model.json").read_text())
    change(desc)
    (folder / "model.json").write_text(json.dumps(desc))


def test_a_missing_model_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"no saved model at .*nowhere.*no such folder"):
        mr.models.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"holds no model\.json"):
        mr.models.load(tmp_path / "empty")


def test_a_corrupt_description_is_refused(saved, split):
    text = (saved / "model.json").read_text()
    (saved / "model.json").write_text(text[: len(text) // 2])
    with pytest.raises(CorruptModelError, match=r"model\.json is not valid JSON"):
        mr.models.load(saved, data=split.train)
    (saved / "model.json").write_text(text)
    edit(saved, lambda d: d.pop("n_items"))
    with pytest.raises(CorruptModelError, match=r"'n_items' must be an int, missing"):
        mr.models.load(saved, data=split.train)
    (saved / "model.json").write_text(text)
    edit(saved, lambda d: d.update(format="something else"))
    with pytest.raises(CorruptModelError, match=r"not a moorec model description"):
        mr.models.load(saved, data=split.train)
    (saved / "model.json").write_text(text)
    edit(saved, lambda d: d["state"]["leaves"][0].update(shape="big"))
    with pytest.raises(CorruptModelError, match=r"state\.leaves\[0\]\.shape"):
        mr.models.load(saved, data=split.train)
    (saved / "model.json").write_text(text)
    edit(saved, lambda d: d.update(family="nope"))
    with pytest.raises(UnknownNameError, match=r"model family .* 'nope'; valid choices: .*bpr"):
        mr.models.load(saved, data=split.train)
    (saved / "model.json").write_text(text)
    edit(saved, lambda d: d.update(version=persist.FORMAT_VERSION + 1))
    with pytest.raises(IncompatibleModelError, match=r"newer moorec"):
        mr.models.load(saved, data=split.train)
    (saved / "model.json").write_text(text)
    edit(saved, lambda d: d["settings"].update(dim=16))  # settings that build another shape
    with pytest.raises(IncompatibleModelError, match=r"does not fit .*\[40, 8\] float32"):
        mr.models.load(saved, data=split.train)
    (saved / "model.json").write_text(text)
    edit(saved, lambda d: d["settings"].update(n_layer=2))
    with pytest.raises(IncompatibleModelError, match=r"settings no longer build .*'n_layer'"):
        mr.models.load(saved, data=split.train)
    (saved / "model.json").write_text(text)
    mr.models.load(saved, data=split.train)  # as saved, it loads


def test_a_corrupt_or_missing_state_is_refused(saved, split):
    blob = (saved / "state.msgpack").read_bytes()
    damaged = bytearray(blob)
    damaged[len(damaged) // 2] ^= 0xFF
    (saved / "state.msgpack").write_bytes(bytes(damaged))
    with pytest.raises(CorruptModelError, match=r"state\.msgpack was changed or damaged"):
        mr.models.load(saved, data=split.train)
    (saved / "state.msgpack").write_bytes(b"\x00not msgpack")
    edit(saved, lambda d: d["state"].update(sha256=persist.hashlib.sha256(b"\x00not msgpack")
                                                  .hexdigest()))  # fmt: skip
    with pytest.raises(CorruptModelError, match=r"not a msgpack state|does not hold one array"):
        mr.models.load(saved, data=split.train)
    (saved / "state.msgpack").unlink()
    with pytest.raises(CorruptModelError, match=r"state\.msgpack is missing"):
        mr.models.load(saved, data=split.train)


# -- what save refuses, and atomicity ------------------------------------------------------------


def test_save_refuses_settings_that_do_not_rebuild_the_model(split, tmp_path):
    model, _ = build("bpr", split)  # dim 8; BPR's default is 64
    with pytest.raises(
        ConfigError, match=r"do not rebuild this BPRMF: leaf 'item_emb' is \[40, 8\]"
    ):
        mr.models.save(model, tmp_path / "m")
    with pytest.raises(ConfigError, match=r"JSON description cannot hold"):
        mr.models.save(model, tmp_path / "m", settings={"dim": 8}, info={"x": object()})
    with pytest.raises(ConfigError, match=r"data must be the training Interactions"):
        mr.models.save(model, tmp_path / "m", settings={"dim": 8}, data=[1, 2])
    assert not (tmp_path / "m").exists()


def test_save_refuses_a_file_or_a_folder_of_other_files(split, tmp_path):
    model, settings = build("bpr", split)
    (tmp_path / "file").write_text("x")
    with pytest.raises(SavedModelError, match=r"is an existing file"):
        mr.models.save(model, tmp_path / "file", settings=settings)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SavedModelError, match=r"holds files other than a saved model"):
        mr.models.save(model, tmp_path / "other", settings=settings)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    mr.models.save(model, tmp_path / "empty", settings=settings)  # an empty folder is taken
    assert (tmp_path / "empty" / "model.json").is_file()


def test_an_interrupted_save_leaves_no_folder_and_keeps_the_old_model(split, tmp_path, monkeypatch):
    model, settings = build("bpr", split, seed=1)
    other, _ = build("bpr", split, seed=2)

    def fail(path):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(persist, "_fsync_dir", fail)  # after both files are written
        with pytest.raises(KeyboardInterrupt):
            mr.models.save(model, tmp_path / "new", settings=settings, data=split.train)
    assert list(tmp_path.iterdir()) == [], "no folder, no temporary folder"
    mr.models.save(model, tmp_path / "kept", settings=settings, data=split.train)
    before = {p.name: p.read_bytes() for p in (tmp_path / "kept").iterdir()}
    with monkeypatch.context() as m:
        m.setattr(persist, "_fsync_dir", fail)
        with pytest.raises(KeyboardInterrupt):
            mr.models.save(other, tmp_path / "kept", settings=settings, data=split.train)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "kept").iterdir()} == before
    loaded = mr.models.load(tmp_path / "kept", data=split.train)
    np.testing.assert_array_equal(scores(loaded, split), scores(model, split))


def test_the_state_file_is_plain_msgpack_without_pickle(saved):
    import msgpack

    blob = (saved / "state.msgpack").read_bytes()
    raw = msgpack.unpackb(blob, raw=False, ext_hook=lambda code, data: ("ext", code))
    assert sorted(raw) == sorted(
        "/".join(map(str, leaf["path"])) for leaf in mr.models.describe(saved)["state"]["leaves"]
    )
    assert set(raw.values()) == {("ext", 1)}  # flax's ndarray extension: dtype, shape, bytes
    assert b"pickle" not in blob


class Keyed(mr.models.Recommender):
    """A toy family whose state holds PRNG keys and counts (an ``nnx.Rngs`` and a dropout)."""

    def __init__(self, n_users, n_items, dim=4, *, rngs):
        self.n_users, self.n_items = n_users, n_items
        self.user_emb = nnx.Param(jax.random.normal(rngs.params(), (n_users, dim)))
        self.item_emb = nnx.Param(jax.random.normal(rngs.params(), (n_items, dim)))
        self.stream = nnx.Rngs(noise=7)

    def score(self, users, history=None):
        noise = jax.random.uniform(self.stream.noise.key.get_value(), (self.n_items,))
        return self.user_emb[users] @ self.item_emb.T + noise


def test_prng_keys_in_the_state_round_trip(split, tmp_path, monkeypatch):
    from moorec.models.registry import _MODELS

    monkeypatch.setitem(_MODELS, "keyed", Keyed)
    model = mr.models.create("keyed", split.n_users, split.n_items, seed=1, dim=4)
    model.stream.noise()  # advance the stream: its key and count differ from a fresh one's
    model.stream.noise()
    mr.models.save(model, tmp_path / "k", settings={"dim": 4})
    desc = mr.models.describe(tmp_path / "k")
    assert {leaf["dtype"] for leaf in desc["state"]["leaves"]} >= {"key<fry>", "uint32"}
    loaded = mr.models.load(tmp_path / "k")
    assert int(loaded.stream.noise.count.get_value()) == 2
    np.testing.assert_array_equal(
        jax.random.key_data(loaded.stream.noise.key.get_value()),
        jax.random.key_data(model.stream.noise.key.get_value()),
    )
    np.testing.assert_array_equal(scores(loaded, split), scores(model, split))
