"""Shared fixtures: one prepared tiny dataset per test session (generated world, ordinary pipeline)."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Path of a prepared dataset at `--scale tiny` (seed 0)."""
    from benchmark.prepare import prepare_default

    root = tmp_path_factory.mktemp("tiny")
    return prepare_default(out=root / "data", raw=root / "raw", scale="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_labels(tiny_data):
    """The sealed answers of `tiny_data` (its labels folder, `<data>.labels` beside it)."""
    from benchmark.data.labels import default_labels_dir

    return default_labels_dir(tiny_data)
