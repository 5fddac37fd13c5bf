"""Fixtures for the end-to-end tests: one local stack subprocess per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack_process import RunningStack, start_stack, stop_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        assert stop_stack(running) == 0, running.log.read_text()[-4000:]
