"""The Lambda package keeps local-only code, caches and the runtime's own SDK out."""

from __future__ import annotations

from pathlib import Path

from infra.bundling import copy_packages, remove_runtime_provided


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")


def test_copy_packages_ships_domain_code_and_handlers_only(tmp_path):
    # Given a functions/ tree with local-only code and caches
    source = tmp_path / "functions"
    for relative in (
        "batchrelay/__init__.py",
        "batchrelay/jobs/service.py",
        "batchrelay/simulator/server.py",
        "batchrelay/local/runtime.py",
        "batchrelay/cli/main.py",
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


def test_runtime_provided_sdk_is_removed(tmp_path):
    for relative in ("botocore/__init__.py", "botocore-1.0.dist-info/METADATA", "pydantic/__init__.py"):
        _touch(tmp_path / relative)
    remove_runtime_provided(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pydantic"]
