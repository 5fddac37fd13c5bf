"""Provider-safe custom ids.

Anthropic accepts custom ids matching ``^[a-zA-Z0-9_-]{1,64}$`` only. Safe ids are sent as
they are; any other id is replaced by ``h_`` + the first 60 hex digits of its SHA-256,
which is deterministic (a retry of the same request gets the same provider id) and fits
the pattern. A user id that already looks like a hashed id is hashed too, so a kept id can
never collide with the hash of a different id. The collector maps back through the chunk
input, which stores both ids; no reverse table is needed here.
"""

from __future__ import annotations

import hashlib
import re

ANTHROPIC_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
HASHED_ID = re.compile(r"^h_[0-9a-f]{60}$")


def hashed_custom_id(custom_id: str) -> str:
    return "h_" + hashlib.sha256(custom_id.encode("utf-8")).hexdigest()[:60]


def anthropic_custom_id(custom_id: str) -> str:
    if ANTHROPIC_CUSTOM_ID.match(custom_id) and not HASHED_ID.match(custom_id):
        return custom_id
    return hashed_custom_id(custom_id)
