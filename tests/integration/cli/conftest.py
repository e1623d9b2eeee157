"""Fixtures for the CLI against real daemons: the suite's `grid_site`, under a shorter name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("shoal.registry.service")

from gridsupport import Site, crasher, sleeper

__all__ = ["Site", "crasher", "sleeper"]


@pytest.fixture
def site(grid_site: Site) -> Iterator[Site]:
    yield grid_site
