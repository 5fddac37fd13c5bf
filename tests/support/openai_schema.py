"""OpenAI's published API description as JSON Schemas, to hold the OpenAI surface's answers to it.

The description is the shared copy of OpenAI's OpenAPI document (``openai-openapi.yaml``,
beside the repository under ``shared/reference``); the parts this surface answers with (the
Files, Uploads and Batches paths and every schema they reach) are kept in
``openai_surface_spec.json`` so the tests run where the shared copy is not, and a test checks
that extract against the shared copy when it is there (``python -m tests.support.openai_schema``
writes it again).

Two relaxations, both OpenAI's own behaviour: a property the schema does not require may be
null (OpenAI's answers carry ``"failed_at": null`` and the like), and a list's ``first_id`` /
``last_id`` are null when the list is empty (required strings in the schema, null in OpenAI's
answers).
"""

from __future__ import annotations

import copy
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS31Validator

ROOT = Path(__file__).resolve().parents[2]
EXTRACT = Path(__file__).with_name("openai_surface_spec.json")
SURFACE_PATHS = (
    "/files", "/files/{file_id}", "/files/{file_id}/content",
    "/uploads", "/uploads/{upload_id}/parts", "/uploads/{upload_id}/complete", "/uploads/{upload_id}/cancel",
    "/batches", "/batches/{batch_id}", "/batches/{batch_id}/cancel",
)
EXTRA_SCHEMAS = ("ErrorResponse",)
_NULL_WHEN_EMPTY = ("first_id", "last_id")


def shared_spec_path() -> Path | None:
    candidates = [os.environ.get("OPENAI_OPENAPI_SPEC", "")]
    candidates += [str(parent / "shared" / "reference" / "openai-openapi.yaml") for parent in ROOT.parents]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[1])
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """The surface's paths (their responses) and every component schema they reach."""
    paths = {
        path: {method: {"responses": op.get("responses", {})} for method, op in spec["paths"][path].items()
               if method in ("get", "post", "delete")}
        for path in SURFACE_PATHS
    }
    schemas = spec["components"]["schemas"]
    wanted, todo = set(), set(EXTRA_SCHEMAS) | _refs(paths)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo |= _refs(schemas[name])
    return {"paths": paths, "components": {"schemas": {name: schemas[name] for name in sorted(wanted)}}}


def load_shared_extract() -> dict[str, Any] | None:
    path = shared_spec_path()
    if path is None:
        return None
    import yaml

    return extract(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def surface_spec() -> dict[str, Any]:
    return json.loads(EXTRACT.read_text(encoding="utf-8"))


def _relax(node: Any) -> Any:
    if isinstance(node, list):
        return [_relax(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _relax(v) for k, v in node.items()}
    properties = node.get("properties")
    if isinstance(properties, dict):
        required = set(node.get("required", []))
        for name, schema in properties.items():
            if name not in required or name in _NULL_WHEN_EMPTY:
                properties[name] = {"anyOf": [schema, {"type": "null"}]}
    return node


@cache
def _schemas() -> dict[str, Any]:
    return _relax(copy.deepcopy(surface_spec()["components"]["schemas"]))


def validate(schema_name: str, value: Any) -> None:
    """Raise jsonschema.ValidationError unless ``value`` is a valid ``schema_name``."""
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": {"schemas": _schemas()}}
    OAS31Validator(root).validate(value)
    if schema_name.startswith("List") and value.get("data"):
        assert value["first_id"] is not None and value["last_id"] is not None


def _template(path: str) -> str | None:
    for template in SURFACE_PATHS:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
            return template
    return None


def schema_for(method: str, path: str, status: int) -> str | None:
    """The schema OpenAI's description gives the answer to ``method path`` (a path under
    /openai/v1) with ``status``; None for an answer without a JSON body (a redirect)."""
    if status >= 400:
        return "ErrorResponse"
    if status in (301, 302, 303, 307, 308):
        return None
    template = _template(path)
    assert template, f"not a path of the OpenAI surface: {path}"
    responses = surface_spec()["paths"][template][method.lower()]["responses"]
    schema = responses["200"]["content"]["application/json"]["schema"]
    return schema["$ref"].rsplit("/", 1)[1] if "$ref" in schema else None


if __name__ == "__main__":
    shared = load_shared_extract()
    assert shared is not None, "no shared copy of openai-openapi.yaml found (set OPENAI_OPENAPI_SPEC)"
    EXTRACT.write_text(json.dumps(shared, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {EXTRACT} ({len(shared['components']['schemas'])} schemas)")
