"""OpenAI's Files + Batches API under another provider's address: the built-in OpenAI
simulation (state.py), run again for another account.

``OpenAIShapedAccount`` is a ``Simulator`` whose OpenAI methods work on its own files and
batches, under its own provider name (``OpenAIShape``: endpoints, completion windows,
requests per batch, whether it keeps metadata), while everything the faults and the
simulation steer is the main simulator's: settings (failure rules, expiry, quota failures,
create errors, cut downloads), clock, lock, ids, the batch planner and the creation hook,
vanished batches. Its batches go into the main simulator's ledger (``ledger_entries``).

``openai_routes`` serves such an account's Files and Batches routes under a base path, in
OpenAI's wire format, so the openai SDK (``OpenAI`` or ``AzureOpenAI``) works unmodified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batchrelay_tools.simulator import plugins
from batchrelay_tools.simulator.ledger import LedgerBatch
from batchrelay_tools.simulator.state import ApiError, OpenAIShape, Simulator

# (request, plugin state, path groups) -> the account a request is for (raises ApiError)
AccountOf = Callable[[Any, Any, dict[str, str]], "OpenAIShapedAccount"]


def _shared(name: str) -> property:
    """An attribute read from, and written to, the main simulator."""
    return property(lambda self: getattr(self._main, name), lambda self, value: setattr(self._main, name, value))


class OpenAIShapedAccount(Simulator):
    """Another provider's account with OpenAI's Files + Batches API, inside the main simulator."""

    settings = _shared("settings")
    clock = _shared("clock")
    lock = _shared("lock")
    attempts = _shared("attempts")
    new_id = _shared("new_id")
    batch_planner = _shared("batch_planner")
    on_created = _shared("on_created")
    vanished = _shared("vanished")

    def __init__(self, main: Simulator, shape: OpenAIShape):  # not the dataclass's: the shared parts are main's
        self._main = main
        self.openai_shape = shape  # type: ignore[misc]
        self.files = {}
        self.deleted_files = {}
        self.files_created = 0
        self.openai_batches = {}
        self.anthropic_batches = {}
        self.extensions = {}
        self._seq = 0

    def all_batches(self) -> dict[str, Any]:
        """Every batch in one answer, in creation order: ``{"object": "list", "data"}``."""
        with self.lock:
            ordered = sorted((b for b in self.openai_batches.values() if b.id not in self.vanished),
                             key=lambda b: b.seq)
            return {"object": "list", "data": [self._openai_view(b) for b in ordered]}

    def ledger_entries(self) -> list[LedgerBatch]:
        with self.lock:
            return [self._ledger_openai(batch) for batch in self.openai_batches.values()]


# --------------------------------------------------------------------------- routes

def _upload(account_of: AccountOf) -> Callable[..., None]:
    def handler(request: Any, state: Any, body: bytes, **groups: str) -> None:
        from batchrelay_tools.simulator.server import _parse_multipart  # the server imports this package

        fields, files = _parse_multipart(request.headers.get("Content-Type", ""), body)
        if "file" not in files:
            raise ApiError(400, "Missing file field", param="file")
        filename, data = files["file"]
        account = account_of(request, state, groups)
        request.send_json(200, account.create_file(filename, fields.get("purpose", ""), data).to_api())
    return handler


def _file(account_of: AccountOf) -> Callable[..., None]:
    def handler(request: Any, state: Any, body: bytes, id: str, **groups: str) -> None:
        request.send_json(200, account_of(request, state, groups).get_file(id).to_api())
    return handler


def _file_content(account_of: AccountOf) -> Callable[..., None]:
    def handler(request: Any, state: Any, body: bytes, id: str, **groups: str) -> None:
        request.send_download(account_of(request, state, groups).get_file(id).data, "application/octet-stream")
    return handler


def _file_delete(account_of: AccountOf) -> Callable[..., None]:
    def handler(request: Any, state: Any, body: bytes, id: str, **groups: str) -> None:
        request.send_json(200, account_of(request, state, groups).delete_file(id))
    return handler


def _create(account_of: AccountOf) -> Callable[..., None]:
    def handler(request: Any, state: Any, body: bytes, **groups: str) -> None:
        account = account_of(request, state, groups)
        request.check_create_fault()
        request.send_json(200, account.create_openai_batch(request.json_body(body)))
    return handler


def _list(account_of: AccountOf, *, paged: bool) -> Callable[..., None]:
    def handler(request: Any, state: Any, body: bytes, **groups: str) -> None:
        account = account_of(request, state, groups)
        if not paged:
            request.send_json(200, account.all_batches())
            return
        limit = max(1, min(100, int(request.query.get("limit", 20))))
        request.send_json(200, account.list_openai_batches(request.query.get("after"), limit))
    return handler


def _get(account_of: AccountOf) -> Callable[..., None]:
    def handler(request: Any, state: Any, body: bytes, id: str, **groups: str) -> None:
        request.send_json(200, account_of(request, state, groups).get_openai_batch(id))
    return handler


def _cancel(account_of: AccountOf) -> Callable[..., None]:
    def handler(request: Any, state: Any, body: bytes, id: str, **groups: str) -> None:
        request.send_json(200, account_of(request, state, groups).cancel_openai_batch(id))
    return handler


def openai_routes(base: str, account_of: AccountOf, *, prefix: str, paged_list: bool = True
                  ) -> tuple[plugins.Route, ...]:
    """OpenAI's Files + Batches routes under ``base`` (after the plugin's ``prefix``).
    ``paged_list`` False: the list is every batch in one answer, oldest first (Groq's)."""
    return (
        plugins.route("POST", f"{base}/files", _upload(account_of), prefix=prefix),
        plugins.route("GET", f"{base}/files/{{id}}", _file(account_of), prefix=prefix),
        plugins.route("GET", f"{base}/files/{{id}}/content", _file_content(account_of), prefix=prefix),
        plugins.route("DELETE", f"{base}/files/{{id}}", _file_delete(account_of), prefix=prefix),
        plugins.route("POST", f"{base}/batches", _create(account_of), prefix=prefix),
        plugins.route("GET", f"{base}/batches", _list(account_of, paged=paged_list), prefix=prefix),
        plugins.route("GET", f"{base}/batches/{{id}}", _get(account_of), prefix=prefix),
        plugins.route("POST", f"{base}/batches/{{id}}/cancel", _cancel(account_of), prefix=prefix),
    )


def bearer_key(headers: dict[str, str]) -> bool:
    authorization = headers.get("authorization", "")
    return authorization.startswith("Bearer ") and len(authorization) > len("Bearer ")
