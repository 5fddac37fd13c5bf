"""Find the functions' handlers (``functions/handlers/<name>.py``) the way Lambda would."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import batchrelay

Handler = Callable[[dict[str, Any], Any], Any]

# functions/ holds both the batchrelay package and the handlers package (Lambda's code root).
FUNCTIONS_DIR = Path(batchrelay.__file__).resolve().parents[1]


def ensure_functions_on_path() -> None:
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))


def load_handler(function: str) -> Handler:
    """``handlers.<function>.handler``, imported on first use."""
    ensure_functions_on_path()
    module = importlib.import_module(f"handlers.{function}")
    return module.handler
