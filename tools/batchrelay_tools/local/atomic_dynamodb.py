"""Give the emulator DynamoDB's per-item atomicity.

DynamoDB checks a write's condition and applies the write in one atomic step. moto checks
and writes in two steps without a lock, so two threads (the poller and the OpenAI webhook
racing to end one chunk, say) can both pass the same condition. Local mode and the tests
that race threads run moto's writes under one lock, as the real service would behave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


def serialize_dynamodb_writes() -> Callable[[], None]:
    """Patch moto's DynamoDB backend so writes run one at a time; returns the undo."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in _WRITES}
    for name, original in originals.items():

        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)

    def undo() -> None:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)

    return undo
