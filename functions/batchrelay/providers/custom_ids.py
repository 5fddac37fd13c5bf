"""The ids a chunk sends to the provider: a chunk tag, then a provider-safe form of the user's id.

Every provider custom_id of a chunk starts with the chunk's tag (``chunk_id_tag``: ten
characters of a hash of the job and chunk ids) and ``_``. The tag proves whose a batch is:
a batch found after an interrupted create is adopted only once its requests are shown to
carry the chunk's tag (or, where the provider keeps it, the chunk's metadata), and the
collector uses only result lines whose ids are the chunk's own, so two tenants' equal
custom_ids, or two same-size sibling chunks, can never be mistaken for each other.

Anthropic accepts ``^[a-zA-Z0-9_-]{1,64}$`` only: after the 11-character tag prefix, a safe
id of at most 53 characters is sent as it is; any other id is replaced by ``h`` + the first
52 hex digits of its SHA-256 (deterministic: a retry of the same request gets the same id).
A user id that already looks like a hashed id is hashed too, so a kept id can never collide
with the hash of a different id. OpenAI accepts any string. The collector maps back through
the chunk input, which stores both ids; no reverse table is needed.
"""

from __future__ import annotations

import base64
import hashlib
import re

ID_TAG_LENGTH = 10
TAG_SEPARATOR = "_"
TAG_PREFIX_LENGTH = ID_TAG_LENGTH + len(TAG_SEPARATOR)
ANTHROPIC_MAX_ID = 64
ANTHROPIC_SAFE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_ANTHROPIC_ID_BUDGET = ANTHROPIC_MAX_ID - TAG_PREFIX_LENGTH
_HASH_DIGITS = _ANTHROPIC_ID_BUDGET - 1
HASHED_ID = re.compile(rf"^h[0-9a-f]{{{_HASH_DIGITS}}}$")
# A stand-in of a tag's length, for sizing a request line before its chunk is known.
PLACEHOLDER_TAG = "x" * ID_TAG_LENGTH


def chunk_id_tag(job_id: str, chunk_id: str) -> str:
    """Ten characters of [a-z2-7] that name a chunk (50 bits of SHA-256)."""
    digest = hashlib.sha256(f"{job_id}/{chunk_id}".encode()).digest()
    return base64.b32encode(digest).decode("ascii")[:ID_TAG_LENGTH].lower()


def tagged(tag: str, provider_id: str) -> str:
    return f"{tag}{TAG_SEPARATOR}{provider_id}"


def tag_of(provider_custom_id: str) -> str | None:
    """The chunk tag a provider custom_id carries, if it carries one."""
    if len(provider_custom_id) > TAG_PREFIX_LENGTH and provider_custom_id[ID_TAG_LENGTH] == TAG_SEPARATOR:
        return provider_custom_id[:ID_TAG_LENGTH]
    return None


def untagged(provider_custom_id: str) -> str:
    """A provider custom_id without its chunk tag (the id itself when it has none)."""
    return provider_custom_id[TAG_PREFIX_LENGTH:] if tag_of(provider_custom_id) else provider_custom_id


def anthropic_custom_id(custom_id: str, tag: str) -> str:
    if len(custom_id) <= _ANTHROPIC_ID_BUDGET and ANTHROPIC_SAFE_ID.match(custom_id) and not HASHED_ID.match(custom_id):
        return tagged(tag, custom_id)
    return tagged(tag, "h" + hashlib.sha256(custom_id.encode("utf-8")).hexdigest()[:_HASH_DIGITS])


def openai_custom_id(custom_id: str, tag: str) -> str:
    return tagged(tag, custom_id)
