"""The package's layers point down only (the order is written in batchrelay/__init__.py).

Every import in every module of ``batchrelay``, including imports inside functions, is
checked: a module may import its own layer or a layer below it, never one above. Packages
on one level may use each other, but not in a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import batchrelay
from batchrelay import LAYERS

PACKAGE_DIR = Path(batchrelay.__file__).parent


def _level_of() -> dict[str, int]:
    return {name: index for index, level in enumerate(LAYERS) for name in level}


def _unit_of(module: Path) -> str:
    """The layer unit of a module: its top package under batchrelay, or its module name."""
    relative = module.relative_to(PACKAGE_DIR)
    return relative.parts[0].removesuffix(".py")


def _imports(module: Path) -> set[str]:
    """Units of batchrelay this module imports (absolute and relative imports)."""
    tree = ast.parse(module.read_text(), filename=str(module))
    package_parts = module.relative_to(PACKAGE_DIR.parent).with_suffix("").parts[:-1]
    units: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
                names = [target] if node.module else [f"{target}.{alias.name}" for alias in node.names]
            else:
                base_name = node.module or ""
                names = [base_name] if base_name != "batchrelay" else [f"batchrelay.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "batchrelay" and len(parts) > 1:
                units.add(parts[1])
    return units


def _modules() -> list[Path]:
    return [p for p in PACKAGE_DIR.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE_DIR]


def test_every_unit_has_a_layer():
    levels = _level_of()
    units = {_unit_of(module) for module in _modules()}
    assert units - set(levels) == set(), "add these to batchrelay.LAYERS"
    assert set(levels) - units == set(), "LAYERS names units that do not exist"


def test_imports_point_down_only():
    levels = _level_of()
    upward = []
    for module in _modules():
        unit = _unit_of(module)
        for target in _imports(module):
            if target in levels and levels[target] < levels[unit]:
                upward.append(f"{module.relative_to(PACKAGE_DIR)} ({unit}) imports {target}")
    assert upward == []


def test_units_on_one_level_form_no_cycle():
    levels = _level_of()
    edges: dict[str, set[str]] = defaultdict(set)
    for module in _modules():
        unit = _unit_of(module)
        for target in _imports(module):
            if target != unit and levels.get(target) == levels[unit]:
                edges[unit].add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(f"{a} -> {b}" for a in list(edges) for b in edges[a] if reaches(b, a, {b}))
    assert cycles == []
