"""Deterministic answers and error bodies in the providers' own shapes.

The same request body always gets the same answer (text derived from a hash of the
body, token counts from its length), so tests can assert on content across runs.
Every text answer contains an escaped carriage return and a raw U+2028 LINE SEPARATOR
(valid inside a JSON string): readers that split lines with ``str.splitlines`` instead of
on b"\\n" break on them, which is exactly what these answers are meant to catch.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any


def body_digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def input_tokens(body: Any) -> int:
    # Roughly a token per four characters of the serialized request, as a stand-in.
    return max(1, len(json.dumps(body, separators=(",", ":"))) // 4)


_FILLER = "The simulated model goes on writing plausible words for this request. "


def answer_text(digest: str, tokens: int | None = None) -> str:
    """The answer; with ``tokens``, padded to about four characters per token."""
    text = f"Simulated answer {digest[:12]}.\r\nSecond line\u2028after a line separator."
    if tokens:
        wanted = 4 * tokens - len(text) - 1
        text += " " + (_FILLER * (wanted // len(_FILLER) + 1))[: max(0, wanted)]
    return text


def output_tokens(digest: str, tokens: int | None = None) -> int:
    return tokens if tokens else 8 + int(digest[:4], 16) % 32


def _embedding(digest: str, dimensions: int = 8) -> list[float]:
    raw = [int(digest[i * 4 : i * 4 + 4], 16) / 65535 - 0.5 for i in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [round(v / norm, 6) for v in raw]


def openai_body(
    endpoint: str, body: dict[str, Any], *, model: str, created: int, request_id: str,
    answer_tokens: int | None = None,
) -> dict[str, Any]:
    """The response body the synchronous OpenAI endpoint would have returned."""
    digest = body_digest(body)
    model = str(body.get("model") or model)
    text = answer_text(digest, answer_tokens)
    prompt, completion = input_tokens(body), output_tokens(digest, answer_tokens)
    if endpoint == "/v1/embeddings":
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": _embedding(body_digest([digest, i]))}
                for i in range(count)
            ],
            "model": model,
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
        }
    if endpoint == "/v1/responses":
        return {
            "id": f"resp_{digest[:32]}",
            "object": "response",
            "created_at": created,
            "status": "completed",
            "model": model,
            "output": [
                {
                    "type": "message",
                    "id": f"msg_{digest[:32]}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "usage": {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            },
        }
    if endpoint == "/v1/completions":
        return {
            "id": f"cmpl-{digest[:29]}",
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }
    if endpoint == "/v1/moderations":
        return {
            "id": f"modr-{digest[:29]}",
            "model": model,
            "results": [{"flagged": False, "categories": {}, "category_scores": {}}],
        }
    return {
        "id": f"chatcmpl-{digest[:29]}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_sim",
    }


_OPENAI_ERRORS = {
    400: ("invalid_request_error", "invalid_value", "Invalid value for request (simulated permanent failure)."),
    429: ("rate_limit_error", "rate_limit_exceeded", "Rate limit reached (simulated)."),
}


def openai_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    if status >= 500:
        kind, code, default = "server_error", None, "The server had an error while processing your request (simulated)."
    else:
        fallback = ("invalid_request_error", None, "Invalid request (simulated).")
        kind, code, default = _OPENAI_ERRORS.get(status, fallback)
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


def anthropic_message(params: dict[str, Any], *, model: str, answer_tokens: int | None = None) -> dict[str, Any]:
    digest = body_digest(params)
    prompt, completion = input_tokens(params), output_tokens(digest, answer_tokens)
    return {
        "id": f"msg_{digest[:24]}",
        "type": "message",
        "role": "assistant",
        "model": str(params.get("model") or model),
        "content": [{"type": "text", "text": answer_text(digest, answer_tokens)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt,
            "output_tokens": completion,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "batch",
        },
    }


def anthropic_error_type(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        529: "overloaded_error",
    }.get(status, "api_error" if status >= 500 else "invalid_request_error")


def anthropic_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kind = anthropic_error_type(status)
    return {"type": "error", "error": {"type": kind, "message": message or f"Simulated {kind}."}}
