"""Fixtures for the registry database tests: a registry directory and an open database in it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.registry.database import RegistryDatabase


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    return tmp_path / "var" / "registry"


@pytest.fixture
def database(registry_dir: Path) -> Iterator[RegistryDatabase]:
    db = RegistryDatabase.open(registry_dir)
    yield db
    db.close()
