"""The Lambda package keeps local-only code, caches and the runtime's own SDK out."""

from __future__ import annotations

import ast
from pathlib import Path

from infra import FUNCTIONS_DIR
from infra.bundling import PACKAGES, copy_packages, remove_runtime_provided


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


def test_copy_packages_ships_domain_code_and_handlers_only(tmp_path):
    # Given a functions/ tree with caches and build debris
    source = tmp_path / "functions"
    for relative in (
        "batchrelay/__init__.py",
        "batchrelay/jobs/service.py",
        "batchrelay/__pycache__/x.cpython-311.pyc",
        "batchrelay.egg-info/PKG-INFO",
        "handlers/api.py",
        "requirements.txt",
    ):
        _touch(source / relative)
    output = tmp_path / "out"

    # When the packages are copied
    copy_packages(source, output)

    # Then the domain code and the handlers ship, nothing else
    shipped = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    assert shipped == {"batchrelay/__init__.py", "batchrelay/jobs/service.py", "handlers/api.py"}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_lambda_asset_holds_no_local_only_code(tmp_path):
    # Given the real functions/ tree, copied as the bundler copies it
    copy_packages(FUNCTIONS_DIR, tmp_path)

    # Then it holds the two shipped packages and nothing of the local tools
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(PACKAGES)
    shipped = [p for p in tmp_path.rglob("*.py")]
    assert shipped, "nothing was copied"
    for module in shipped:
        relative = module.relative_to(tmp_path).as_posix()
        assert not relative.startswith(("batchrelay/local/", "batchrelay/simulator/", "batchrelay/cli/")), relative
        # and no shipped module imports them (the tools import batchrelay, never the reverse)
        local_imports = {name for name in _imported_modules(module) if name.split(".")[0] == "batchrelay_tools"}
        assert not local_imports, f"{relative} imports {local_imports}"


def test_runtime_provided_sdk_is_removed(tmp_path):
    for relative in ("botocore/__init__.py", "botocore-1.0.dist-info/METADATA", "pydantic/__init__.py"):
        _touch(tmp_path / relative)
    remove_runtime_provided(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pydantic"]
