"""Fixtures shared by the robustness tests: one small synthetic shop and its 8:1:1 split."""

import pytest

import moorec as mr


@pytest.fixture(scope="module")
def shop():
    return mr.datasets.synthetic_shop(n_users=60, n_items=40, n_interactions=900, seed=0)


@pytest.fixture(scope="module")
def split(shop):
    return mr.split.random_ratio(shop, (0.8, 0.1, 0.1), seed=0)
