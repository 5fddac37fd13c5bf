"""Can a request body be written, unchanged, the way the lifecycle writes it (orjson)?

What orjson 3.13 does, measured (tests/unit/validation/test_writable_json.py pins each point):
- nesting: ``loads`` reads 1024 levels, ``dumps`` writes 254 and raises "Recursion limit
  reached" at 255. Bodies are written inside one of our objects, so they may nest
  ``MAX_BODY_DEPTH`` (250) levels, the body itself being level 1.
- integers: ``dumps`` writes -2**63 .. 2**64-1 and raises beyond; ``loads`` turns a
  literal beyond that range into a float without a word (18446744073709551616 ->
  1.8446744073709552e19), so an upload line must be re-read to find it.
- floats: NaN and +-Infinity (which Python's json reads, 1e400 as inf) are written as
  ``null``; ``loads`` refuses them.
- strings: a lone UTF-16 surrogate (``"\\ud800"``, in a value or a key) makes ``dumps``
  raise ("surrogates not allowed"); ``loads`` refuses it, Python's json reads it.

Inline bodies come from the API's reader (Python's json, NaN and friends kept as
NonFiniteNumber markers) and may hold all of the above; uploaded lines come from orjson
and may hold deep nesting and silently widened integers (re-read when a line has a run of
19 digits). Every request is checked by encoding it once with orjson inside three extra
lists (encode_request_line: fast, and exactly the bytes written); only a failure walks
the body (first_problem) to name the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import orjson

from batchrelay import constants as c

MIN_INT = -(2**63)
MAX_INT = 2**64 - 1
# Extra lists around a request line when encoding it: orjson then refuses a body nesting
# more than MAX_BODY_DEPTH levels (body + the line object + these = ORJSON_MAX_WRITE_DEPTH).
_PROBE_LISTS = c.ORJSON_MAX_WRITE_DEPTH - c.MAX_BODY_DEPTH - 1
assert _PROBE_LISTS >= 0, "MAX_BODY_DEPTH must leave room for the line object"
# An integer literal beyond 64 bits has at least 19 digits; shorter runs need no re-read.
# Found with translate and a substring search: several times faster than a regex.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_NINETEEN_DIGITS = b"0" * 19
_SURROGATE = re.compile("[\ud800-\udfff]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A field path longer than this keeps its first and last steps only.
_MAX_PATH_STEPS = 12

Path = list[str | int]


class NonFiniteNumber:
    """NaN, Infinity or a literal like 1e400, as the API's JSON reader keeps it (read_float).

    Python's json would make these floats, which orjson writes as ``null``; a marker makes
    the encoding fail instead, and first_problem names the field.
    """

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def read_float(text: str) -> float | NonFiniteNumber:
    """``parse_float`` for Python's json: finite floats as usual, the rest as markers."""
    value = float(text)
    return value if math.isfinite(value) else NonFiniteNumber(text)


def loads_marking_non_finite(text: str | bytes) -> Any:
    """Python's json (which reads lone surrogates, and integers of any size exactly), with
    NaN, Infinity and 1e400 as NonFiniteNumber markers. Raises what json.loads raises."""
    return json.loads(text, parse_float=read_float, parse_constant=NonFiniteNumber)


def has_lone_surrogate(text: str) -> bool:
    # isascii() is O(1) in CPython: only non-ASCII text is scanned.
    return not text.isascii() and _SURROGATE.search(text) is not None


def encode_request_line(custom_id: str, body: Any) -> bytes:
    """``{"custom_id", "body"}`` and a newline, as orjson writes it.

    Raises TypeError when orjson cannot write the body (a lone surrogate, an integer beyond
    64 bits, a NonFiniteNumber) or the body nests more than MAX_BODY_DEPTH levels: the
    fast check for every request (first_problem then explains the few that fail).
    """
    value: Any = {"custom_id": custom_id, "body": body}
    for _ in range(_PROBE_LISTS):
        value = [value]
    encoded = orjson.dumps(value)
    return encoded[_PROBE_LISTS : len(encoded) - _PROBE_LISTS] + b"\n"


def may_hold_wide_integers(raw_line: bytes) -> bool:
    """Whether an upload line read by orjson may have had an integer widened to a float."""
    return _NINETEEN_DIGITS in raw_line.translate(_DIGITS_AS_ZERO)


def _children(value: dict[str, Any] | list[Any]) -> Iterator[tuple[str | int, Any]]:
    return iter(value.items()) if type(value) is dict else enumerate(value)


def _key_problem(mapping: dict[str, Any]) -> tuple[str, str] | None:
    for key in mapping:
        if type(key) is str and has_lone_surrogate(key):
            return key, "a key with a lone UTF-16 surrogate cannot be written as UTF-8"
    return None


def _scalar_problem(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        return "a lone UTF-16 surrogate cannot be written as UTF-8" if has_lone_surrogate(value) else None
    if kind is int:
        if MIN_INT <= value <= MAX_INT:
            return None
        digits = str(value) if abs(value).bit_length() < 256 else f"an integer of {len(str(abs(value)))} digits"
        return f"{digits} is outside the 64-bit range (-2**63 to 2**64-1) that can be sent"
    if kind is float:
        return None if math.isfinite(value) else f"{value} is not a finite number; JSON cannot carry NaN or Infinity"
    if kind is NonFiniteNumber:
        return f"{value.text} is not a finite number; JSON cannot carry NaN or Infinity"
    if value is None or kind is bool:
        return None
    return f"a {kind.__name__} is not a JSON value"


def first_problem(value: Any) -> tuple[Path, str] | None:
    """The first place (a path from ``value``, in document order) that cannot be written, and why.

    Iterative, so a body nesting 1024 levels costs no Python recursion. Slower than
    encode_request_line: used to explain a failure, not to check every request.
    """
    if type(value) not in (dict, list):
        problem = _scalar_problem(value)
        return ([], problem) if problem else None
    if type(value) is dict and (bad_key := _key_problem(value)):
        return [bad_key[0]], bad_key[1]
    path: Path = []
    stack = [_children(value)]
    while stack:
        for key, item in stack[-1]:
            kind = type(item)
            if kind is dict or kind is list:
                if len(stack) >= c.MAX_BODY_DEPTH:
                    return [*path, key], f"nesting deeper than {c.MAX_BODY_DEPTH} levels cannot be written"
                if kind is dict and (bad_key := _key_problem(item)):
                    return [*path, key, bad_key[0]], bad_key[1]
                path.append(key)
                stack.append(_children(item))
                break
            problem = _scalar_problem(item)
            if problem:
                return [*path, key], problem
        else:
            stack.pop()
            if path:
                path.pop()
    return None


def reread_body(raw_line: bytes) -> tuple[Path, str] | None:
    """Re-read an upload line's body with Python's json, where integers stay integers, and check it."""
    try:
        line = json.loads(raw_line)
    except (ValueError, RecursionError):  # more than 4300 digits: Python's int() refuses too
        return [], "an integer too long to read"
    return first_problem(line.get("body") if isinstance(line, dict) else None)


def format_path(prefix: str, path: Path) -> str:
    """("requests[2].body", ["messages", 0, "content"]) -> "requests[2].body.messages[0].content".

    Keys that are not plain names are quoted as JSON with non-ASCII escaped, so the path
    itself can always be written (a key may hold the very surrogate being reported).
    """
    if len(path) > _MAX_PATH_STEPS:
        half = _MAX_PATH_STEPS // 2
        steps = [*map(_step, path[:half]), "[...]", *map(_step, path[-half:])]
    else:
        steps = [_step(step) for step in path]
    return prefix + "".join(steps)


def _step(step: str | int) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    if _NAME.match(step):
        return f".{step}"
    return f"[{json.dumps(step[:64])}]"
