"""Gemini test helpers, and the Gemini Batch API's shapes as Google publishes them.

The published shapes are copied from:
- the cookbook notebook google-gemini/cookbook ``quickstarts/Batch_mode.ipynb`` (request lines
  of an input file, lines of a results file, the embeddings input and results lines);
- the API reference ai.google.dev/api/batch-api (the JSON representations of Operation,
  GenerateContentBatch, BatchStats, GenerateContentBatchOutput, InlinedResponse and Status),
  filled in with the cookbook's values where the reference shows only types.

Tests parse them with google-genai's own models, so neither the simulator nor the adapter can
settle on a shape Google does not use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.genai import types

from batchrelay.providers.gemini_provider import GeminiProvider
from batchrelay_tools.simulator import SimulatorServer

# --- published shapes -------------------------------------------------------------------

# Batch_mode.ipynb, "Step 1: Prepare and upload the input File".
REQUEST_LINES: list[dict[str, Any]] = [
    {"key": "request_1", "request": {"contents": [{"parts": [{"text": "Explain how AI works in a few words"}]}]}},
    {"key": "request_2", "request": {"contents": [{"parts": [
        {"text": "Explain how quantum computing works in a few words"}]}]}},
]

# Batch_mode.ipynb, "Step 4: Retrieve and parse results" (the printed lines, re-joined).
RESULT_LINES: list[dict[str, Any]] = [
    {"response": {
        "responseId": "6VFkaIDwEPXVjMcP4-XW6Qo",
        "usageMetadata": {"totalTokenCount": 848, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],
                          "thoughtsTokenCount": 829, "candidatesTokenCount": 11, "promptTokenCount": 8},
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "AI learns patterns from data to make decisions or predictions."}]},
            "finishReason": "STOP", "index": 0}],
        "modelVersion": "gemini-3.7-flash"},
     "key": "request_1"},
    {"response": {
        "modelVersion": "gemini-3.7-flash",
        "candidates": [{"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [
            {"text": "Quantum computers use **qubits** that can be 0, 1, or both simultaneously."}]}}],
        "responseId": "7FFkaJK7EaWOjMcP-LvX2AQ",
        "usageMetadata": {"promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}], "candidatesTokenCount": 63,
                          "promptTokenCount": 9, "thoughtsTokenCount": 1180, "totalTokenCount": 1252}},
     "key": "request_2"},
]

# Batch_mode.ipynb, "Batch embeddings": the input lines and the printed results.
EMBED_REQUEST_LINES: list[dict[str, Any]] = [
    {"key": "request_1", "request": {"output_dimensionality": 3, "content": {"parts": [{"text": "1"}]}}},
    {"key": "request_2", "request": {"output_dimensionality": 4, "content": {"parts": [{"text": "2"}]}}},
]
EMBED_RESULT_LINES: list[dict[str, Any]] = [
    {"response": {"tokenCount": "1", "embedding": {"values": [-0.034119852, 0.0025719088, 0.017325249]}},
     "key": "request_1"},
    {"response": {"tokenCount": "1", "embedding": {"values": [0.020208105, -0.016668973, -0.011120025,
                                                              -0.063684635]}},
     "key": "request_2"},
]

# A results-file line for a request that failed: InlinedResponse's "error" (a google.rpc.Status:
# code, message) beside the key, as the reference describes the results file ("either a
# GenerateContentResponse or a status object") and the inline responses.
ERROR_LINE: dict[str, Any] = {"error": {"code": 13, "message": "Internal error encountered."}, "key": "request_3"}

# batches.get of the cookbook's file job once it succeeded: the reference's Operation, whose
# metadata is the GenerateContentBatch (batchStats' int64 counts are strings), with the
# cookbook's name, display name and results file.
BATCH_OPERATION: dict[str, Any] = {
    "name": "batches/o08hk76gv328ihxcssjsgwt3g6omtfysxi46",
    "metadata": {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
        "model": "models/gemini-3.8-flash",
        "displayName": "my-batch-job-from-file",
        "inputConfig": {"fileName": "files/p1mds9fl15bs"},
        "output": {"responsesFile": "files/batch-o08hk76gv328ihxcssjsgwt3g6omtfysxi46"},
        "createTime": "2025-07-01T21:19:34.123456Z",
        "endTime": "2025-07-01T21:24:08.654321Z",
        "updateTime": "2025-07-01T21:24:08.654321Z",
        "batchStats": {"requestCount": "2", "successfulRequestCount": "2"},
        "state": "BATCH_STATE_SUCCEEDED",
        "name": "batches/o08hk76gv328ihxcssjsgwt3g6omtfysxi46",
    },
    "done": True,
    "response": {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput",
        "responsesFile": "files/batch-o08hk76gv328ihxcssjsgwt3g6omtfysxi46",
    },
}


# --- parsing with the SDK's own models --------------------------------------------------


def sdk_batch_job(operation: dict[str, Any]) -> types.BatchJob:
    """A batches.get answer as the SDK reads it."""
    from google.genai import batches

    return types.BatchJob._from_response(response=batches._BatchJob_from_mldev(operation), kwargs={})


def sdk_response(response: dict[str, Any]) -> types.GenerateContentResponse:
    """A results line's ``response`` as the SDK reads a GenerateContentResponse."""
    from google.genai import models

    return types.GenerateContentResponse._from_response(
        response=models._GenerateContentResponse_from_mldev(response), kwargs={}
    )


def sdk_embedding(response: dict[str, Any]) -> types.SingleEmbedContentResponse:
    return types.SingleEmbedContentResponse.model_validate(response)


def sdk_status(error: dict[str, Any]) -> types.JobError:
    return types.JobError.model_validate(error)


# --- adapter and chunk files ------------------------------------------------------------

MODEL = "gemini-2.5-flash"


def make_gemini(server: SimulatorServer, **kwargs: Any) -> GeminiProvider:
    return GeminiProvider(api_key="sim-key", base_url=f"{server.base_url}/gemini",
                          max_retries=kwargs.pop("max_retries", 2), **kwargs)


def gemini_body(user_id: str, *, model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "contents": [{"role": "user", "parts": [{"text": f"Say hi to {user_id}"}]}], **extra}


def embed_body(user_id: str, *, model: str = "gemini-embedding-001") -> dict[str, Any]:
    return {"model": model, "content": {"parts": [{"text": f"text {user_id}"}]}, "outputDimensionality": 4}


def write_chunk(provider: GeminiProvider, path: Path, bodies: dict[str, dict[str, Any]], *, tag: str,
                endpoint: str = "generateContent") -> dict[str, str]:
    """A chunk's request lines as the planner writes them; returns provider id -> user id."""
    mapping: dict[str, str] = {}
    with path.open("w", encoding="utf-8") as handle:
        for user_id, body in bodies.items():
            key = provider.provider_custom_id(user_id, tag)
            mapping[key] = user_id
            handle.write(json.dumps(provider.request_line(key, body, endpoint)) + "\n")
    return mapping
