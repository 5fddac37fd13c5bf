"""Handlers import with no environment, and the API function never loads a provider SDK."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(p.stem for p in (ROOT / "functions" / "handlers").glob("*.py") if p.stem != "__init__")


def _run(code: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "functions")}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_every_function_has_a_handler():
    assert {"api", "submitter", "poller", "collector", "webhook"} <= set(HANDLERS)


@pytest.mark.parametrize("name", HANDLERS)
def test_handler_imports_without_any_environment(name):
    result = _run(f"import handlers.{name} as h; assert callable(h.handler)")
    assert result.returncode == 0, result.stderr


def test_api_function_never_imports_a_provider_sdk():
    result = _run(
        "import sys, handlers.api\n"
        "from batchrelay.api.app import app\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'anthropic'))\n"
        "assert not loaded, loaded\n"
    )
    assert result.returncode == 0, result.stderr
