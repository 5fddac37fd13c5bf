"""The OpenAI description the surface's answers are held to is the shared copy's, unchanged."""

from __future__ import annotations

import pytest

from tests.support.openai_schema import SURFACE_PATHS, load_shared_extract, surface_spec


def test_the_kept_extract_is_the_shared_descriptions():
    shared = load_shared_extract()
    if shared is None:
        pytest.skip("the shared copy of openai-openapi.yaml is not beside the repository")
    assert surface_spec() == shared, "run `python -m tests.support.openai_schema` to take the shared copy again"


def test_the_extract_covers_every_route_of_the_surface():
    assert set(surface_spec()["paths"]) == set(SURFACE_PATHS)
    schemas = set(surface_spec()["components"]["schemas"])
    assert {"Batch", "OpenAIFile", "Upload", "UploadPart", "ErrorResponse"} <= schemas
